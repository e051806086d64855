// attncc::Error: the one exception type of the library; user errors and internal errors are
// different codes, and every message says what was wrong, where, and how to fix it.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace attncc {

/// What kind of failure an Error reports; the CLI maps user errors to exit 1, internal to exit 2.
enum class ErrorCode {
  kInvalidSpec,      ///< a spec field is missing, unknown or has a bad value
  kInvalidMask,      ///< mask text does not parse or does not check
  kInvalidArgument,  ///< a run-time argument (tensor, offsets, parameter) is wrong
  kUnsupported,      ///< well-formed but not supported (head dim, dtype on a backend)
  kIo,               ///< a file could not be read or written
  kInternal,         ///< a broken invariant inside attncc: a bug, please report it
};

/// Exception thrown by every attncc entry point. `what()` is the full one-line-or-more message
/// in the form `where: error: what; hint` (the CLI prints it as is).
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }
  bool is_user_error() const { return code_ != ErrorCode::kInternal; }

 private:
  ErrorCode code_;
};

/// Where in a text (a spec file or mask text) an error was found; 1-based line and column.
struct SourceLocation {
  std::string file;  ///< file name, or "<mask>" / "<spec>" for in-memory text
  int line = 0;      ///< 0 = unknown
  int column = 0;
};

/// Builds a user error located in a text: `file:line:col: error: message` followed by the
/// offending line and a caret under the column, then `hint: ...` when a hint is given.
/// `source` is the whole text the location refers to (may be empty: no excerpt).
Error located_error(ErrorCode code, const SourceLocation& where, std::string_view source,
                    std::string_view message, std::string_view hint = {});

/// Builds a user error about a named thing (argument, spec field):
/// `where: error: message; hint`.
Error user_error(ErrorCode code, std::string_view where, std::string_view message,
                 std::string_view hint = {});

/// Throws kInternal naming the file and line; for invariants that only a bug can break.
[[noreturn]] void internal_error(const char* file, int line, std::string_view message);

}  // namespace attncc

/// Internal invariant check: throws attncc::Error(kInternal) naming file and line; never aborts.
#define ATTNCC_ASSERT(condition, message)                                   \
  do {                                                                      \
    if (!(condition)) ::attncc::internal_error(__FILE__, __LINE__, message); \
  } while (0)
