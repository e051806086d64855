// attncc command-line interface: finds the subcommand, parses its arguments, maps errors to
// exit codes (0 ok, 1 user error, 2 internal error).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "attncc/error.h"
#include "compiler/spec/json_location.h"
#include "tools/attncc/commands.h"

namespace attncc::cli {
namespace {

const Command kCommands[] = {
    {&kDemoCommand, run_demo},
    {&kCheckCommand, run_check},
    {&kExplainCommand, run_explain},
    {&kEmitCommand, run_emit},
    {&kCompileCommand, run_compile},
    {&kBenchCommand, run_bench},
    {&kTestgenCommand, run_testgen},
    {&kRunCommand, run_run},
    {&kCacheCommand, run_cache},
};

void print_overview() {
  std::printf(
      "usage: attncc <command> [options]\n\n"
      "attncc compiles attention masks written once in a small DSL into forward and backward\n"
      "kernels that are correct at every edge (packed documents, sentinels, prefix-LM,\n"
      "bottom-right alignment).\n\ncommands:\n");
  for (const Command& command : kCommands) {
    std::printf("  %-10s %s\n", command.info->name.c_str(), command.info->summary.c_str());
  }
  std::printf(
      "\n'attncc <command> --help' explains a command. Specs are JSON files (see specs/ and\n"
      "docs/MASK.md for the mask language).\n");
}

int main_with_errors(int argc, char** argv) {
  std::vector<std::string> arguments(argv + 1, argv + argc);
  if (arguments.empty() || arguments[0] == "-h" || arguments[0] == "--help" ||
      arguments[0] == "help") {
    if (arguments.size() >= 2) arguments = {arguments[1], "--help"};
    else {
      print_overview();
      return arguments.empty() ? 1 : 0;
    }
  }
  if (arguments[0] == "--version") {
    std::printf("attncc 0.1.0\n");
    return 0;
  }
  for (const Command& command : kCommands) {
    if (command.info->name != arguments[0]) continue;
    ParsedArguments parsed =
        parse_arguments(*command.info, {arguments.begin() + 1, arguments.end()});
    if (parsed.help) {
      std::fputs(help_text(*command.info).c_str(), stdout);
      return 0;
    }
    return command.run(parsed);
  }
  std::string hint;
  for (const Command& command : kCommands) {
    if (edit_distance(arguments[0], command.info->name) <= 2) {
      hint = "did you mean '" + command.info->name + "'?; ";
    }
  }
  throw user_error(ErrorCode::kInvalidArgument, "attncc",
                   "unknown command '" + arguments[0] + "'", hint + "run 'attncc --help'");
}

}  // namespace
}  // namespace attncc::cli

int main(int argc, char** argv) {
  try {
    return attncc::cli::main_with_errors(argc, argv);
  } catch (const attncc::Error& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return error.is_user_error() ? 1 : 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "attncc: internal error: %s (this is a bug in attncc; please report it)\n",
                 error.what());
    return 2;
  }
}
