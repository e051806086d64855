// Command-line parsing shared by the attncc subcommands (see command_line.h).
#include "tools/attncc/command_line.h"

#include <algorithm>
#include <charconv>

#include "attncc/error.h"
#include "compiler/spec/json_location.h"

namespace attncc::cli {

std::optional<std::string> ParsedArguments::value(const std::string& option) const {
  auto found = values.find(option);
  if (found == values.end() || found->second.empty()) return std::nullopt;
  return found->second.back();
}

std::vector<std::string> ParsedArguments::all(const std::string& option) const {
  auto found = values.find(option);
  return found == values.end() ? std::vector<std::string>{} : found->second;
}

namespace {

const OptionInfo* find_option(const CommandInfo& command, const std::string& name) {
  for (const OptionInfo& option : command.options) {
    if (option.name == name) return &option;
  }
  return nullptr;
}

[[noreturn]] void fail(const CommandInfo& command, const std::string& message,
                       const std::string& hint = {}) {
  std::string full_hint = hint.empty() ? "" : hint + "; ";
  full_hint += "see 'attncc " + command.name + " --help'";
  throw user_error(ErrorCode::kInvalidArgument, "attncc " + command.name, message, full_hint);
}

}  // namespace

ParsedArguments parse_arguments(const CommandInfo& command,
                                const std::vector<std::string>& arguments) {
  ParsedArguments parsed;
  bool options_ended = false;
  for (size_t index = 0; index < arguments.size(); ++index) {
    const std::string& argument = arguments[index];
    if (options_ended || argument.size() < 2 || argument[0] != '-') {
      parsed.positionals.push_back(argument);
      continue;
    }
    if (argument == "--") {
      options_ended = true;
      continue;
    }
    if (argument == "-h" || argument == "--help") {
      parsed.help = true;
      continue;
    }
    if (argument.rfind("--", 0) != 0) {
      fail(command, "unknown option '" + argument + "'", "options are spelled --name");
    }
    std::string name = argument.substr(2);
    std::optional<std::string> inline_value;
    if (size_t equals = name.find('='); equals != std::string::npos) {
      inline_value = name.substr(equals + 1);
      name = name.substr(0, equals);
    }
    const OptionInfo* option = find_option(command, name);
    if (option == nullptr) {
      std::string nearest;
      size_t best = SIZE_MAX;
      for (const OptionInfo& candidate : command.options) {
        size_t distance = edit_distance(name, candidate.name);
        if (distance < best) {
          best = distance;
          nearest = candidate.name;
        }
      }
      fail(command, "unknown option '--" + name + "'",
           best <= 2 ? "did you mean '--" + nearest + "'?" : std::string());
    }
    if (option->value_name.empty()) {
      if (inline_value) fail(command, "option '--" + name + "' takes no value");
      parsed.values[name].push_back("");
      continue;
    }
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else if (index + 1 < arguments.size()) {
      value = arguments[++index];
    } else {
      fail(command, "option '--" + name + "' needs a value (" + option->value_name + ")");
    }
    if (!option->repeatable && parsed.values.count(name)) {
      fail(command, "option '--" + name + "' given twice");
    }
    parsed.values[name].push_back(value);
  }
  if (!parsed.help) {
    int count = static_cast<int>(parsed.positionals.size());
    if (count < command.minimum_positionals) {
      fail(command, "missing arguments", "usage: " + command.usage);
    }
    if (command.maximum_positionals >= 0 && count > command.maximum_positionals) {
      fail(command, "unexpected argument '" + parsed.positionals.back() + "'",
           "usage: " + command.usage);
    }
  }
  return parsed;
}

std::string help_text(const CommandInfo& command) {
  std::string text = "usage: " + command.usage + "\n\n" + command.summary + "\n";
  if (!command.options.empty()) {
    text += "\noptions:\n";
    size_t width = 0;
    auto label = [](const OptionInfo& option) {
      return "--" + option.name + (option.value_name.empty() ? "" : " " + option.value_name);
    };
    for (const OptionInfo& option : command.options) width = std::max(width, label(option).size());
    for (const OptionInfo& option : command.options) {
      std::string left = label(option);
      text += "  " + left + std::string(width - left.size() + 2, ' ') + option.help + "\n";
    }
    text += "  -h, --help" + std::string(width > 8 ? width - 8 : 2, ' ') + "show this help\n";
  }
  if (!command.details.empty()) text += "\n" + command.details;
  if (text.back() != '\n') text += '\n';
  return text;
}

int64_t parse_count(const std::string& option, const std::string& text) {
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) {
    throw user_error(ErrorCode::kInvalidArgument, "--" + option,
                     "expected a non-negative integer; got '" + text + "'");
  }
  return value;
}

}  // namespace attncc::cli
