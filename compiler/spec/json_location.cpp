// Positions inside JSON spec text (see json_location.h).
#include "compiler/spec/json_location.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace attncc {

SourceLocation location_of_offset(std::string_view file, std::string_view text, size_t offset) {
  SourceLocation location{std::string(file), 1, 1};
  offset = std::min(offset, text.size());
  for (size_t index = 0; index < offset; ++index) {
    if (text[index] == '\n') {
      ++location.line;
      location.column = 1;
    } else {
      ++location.column;
    }
  }
  return location;
}

namespace {

// Byte offset of `"key"` used as an object key (followed by ':'), or npos.
size_t find_key(std::string_view text, std::string_view key) {
  std::string quoted = "\"" + std::string(key) + "\"";
  for (size_t at = text.find(quoted); at != std::string_view::npos;
       at = text.find(quoted, at + 1)) {
    size_t after = at + quoted.size();
    while (after < text.size() && std::isspace(static_cast<unsigned char>(text[after]))) ++after;
    if (after < text.size() && text[after] == ':') return at;
  }
  return std::string_view::npos;
}

}  // namespace

SourceLocation location_of_key(std::string_view file, std::string_view text,
                               std::string_view key) {
  size_t at = find_key(text, key);
  return location_of_offset(file, text, at == std::string_view::npos ? 0 : at);
}

SourceLocation location_of_value(std::string_view file, std::string_view text,
                                 std::string_view key) {
  size_t at = find_key(text, key);
  if (at == std::string_view::npos) return location_of_offset(file, text, 0);
  size_t value = text.find(':', at) + 1;
  while (value < text.size() && std::isspace(static_cast<unsigned char>(text[value]))) ++value;
  return location_of_offset(file, text, value);
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> previous(b.size() + 1), current(b.size() + 1);
  for (size_t column = 0; column <= b.size(); ++column) previous[column] = column;
  for (size_t row = 1; row <= a.size(); ++row) {
    current[0] = row;
    for (size_t column = 1; column <= b.size(); ++column) {
      size_t substitution = previous[column - 1] + (a[row - 1] == b[column - 1] ? 0 : 1);
      current[column] = std::min({previous[column] + 1, current[column - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

}  // namespace attncc
