// Command-line parsing shared by the attncc subcommands: options with values, flags,
// positionals, generated --help, and errors that say what to type instead.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace attncc::cli {

struct OptionInfo {
  std::string name;         ///< without the leading "--"
  std::string value_name;   ///< empty = a flag without value
  std::string help;
  bool repeatable = false;
};

/// Description of one subcommand, used for parsing and for --help.
struct CommandInfo {
  std::string name;
  std::string usage;        ///< e.g. "attncc check SPEC..."
  std::string summary;      ///< one line
  std::string details;      ///< paragraphs after the options (examples, notes)
  std::vector<OptionInfo> options;
  int minimum_positionals = 0;
  int maximum_positionals = -1;  ///< -1 = unbounded
};

/// Result of parsing one subcommand's arguments.
struct ParsedArguments {
  std::vector<std::string> positionals;
  std::map<std::string, std::vector<std::string>> values;  ///< option -> values in order
  bool help = false;

  bool has(const std::string& option) const { return values.count(option) > 0; }
  std::optional<std::string> value(const std::string& option) const;
  std::vector<std::string> all(const std::string& option) const;
};

/// Parses `arguments` (after the subcommand name). Accepts `--name value`, `--name=value`,
/// flags, `-h`/`--help`, and `--` to end options. Throws attncc::Error(kInvalidArgument) with a
/// "did you mean" hint for unknown options and a pointer to --help.
ParsedArguments parse_arguments(const CommandInfo& command, const std::vector<std::string>& arguments);

/// The --help text of a subcommand.
std::string help_text(const CommandInfo& command);

/// Parses a non-negative integer option value; throws kInvalidArgument naming the option.
int64_t parse_count(const std::string& option, const std::string& text);

}  // namespace attncc::cli
