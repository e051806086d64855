// Construction of attncc::Error messages: located (file:line:col + caret excerpt) and named.
#include "attncc/error.h"

#include <string>

namespace attncc {
namespace {

// The `line`-th line (1-based) of `source`, without its newline; empty if out of range.
std::string_view line_of(std::string_view source, int line) {
  size_t begin = 0;
  for (int current = 1; current < line; ++current) {
    size_t newline = source.find('\n', begin);
    if (newline == std::string_view::npos) return {};
    begin = newline + 1;
  }
  size_t end = source.find('\n', begin);
  return source.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
}

}  // namespace

Error located_error(ErrorCode code, const SourceLocation& where, std::string_view source,
                    std::string_view message, std::string_view hint) {
  std::string text = where.file.empty() ? std::string("<input>") : where.file;
  if (where.line > 0) {
    text += ":" + std::to_string(where.line);
    if (where.column > 0) text += ":" + std::to_string(where.column);
  }
  text += ": error: ";
  text += message;
  if (!hint.empty()) {
    text += "; ";
    text += hint;
  }
  std::string_view excerpt = where.line > 0 ? line_of(source, where.line) : std::string_view{};
  if (!excerpt.empty()) {
    text += "\n  ";
    text += excerpt;
    text += "\n  ";
    // Tabs stay tabs so the caret lines up under the column in a terminal.
    for (int column = 1; column < where.column && column <= static_cast<int>(excerpt.size());
         ++column) {
      text += excerpt[column - 1] == '\t' ? '\t' : ' ';
    }
    text += '^';
  }
  return Error(code, text);
}

Error user_error(ErrorCode code, std::string_view where, std::string_view message,
                 std::string_view hint) {
  std::string text(where);
  text += ": error: ";
  text += message;
  if (!hint.empty()) {
    text += "; ";
    text += hint;
  }
  return Error(code, text);
}

void internal_error(const char* file, int line, std::string_view message) {
  throw Error(ErrorCode::kInternal, std::string(file) + ":" + std::to_string(line) +
                                        ": internal error: " + std::string(message) +
                                        " (this is a bug in attncc; please report it)");
}

}  // namespace attncc
