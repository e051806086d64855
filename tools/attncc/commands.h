// The attncc subcommands: each file tools/attncc/<name>_command.cpp defines one.
#pragma once

#include <string>
#include <vector>

#include "tools/attncc/command_line.h"

namespace attncc::cli {

/// A subcommand: its description and its entry point (returns the exit code; throws
/// attncc::Error on user errors, which main maps to exit 1).
struct Command {
  const CommandInfo* info;
  int (*run)(const ParsedArguments& arguments);
};

extern const CommandInfo kCheckCommand;
int run_check(const ParsedArguments& arguments);

extern const CommandInfo kExplainCommand;
int run_explain(const ParsedArguments& arguments);

extern const CommandInfo kEmitCommand;
int run_emit(const ParsedArguments& arguments);

extern const CommandInfo kBenchCommand;
int run_bench(const ParsedArguments& arguments);

extern const CommandInfo kTestgenCommand;
int run_testgen(const ParsedArguments& arguments);

extern const CommandInfo kRunCommand;
int run_run(const ParsedArguments& arguments);

extern const CommandInfo kDemoCommand;
int run_demo(const ParsedArguments& arguments);

extern const CommandInfo kCacheCommand;
int run_cache(const ParsedArguments& arguments);

extern const CommandInfo kCompileCommand;
int run_compile(const ParsedArguments& arguments);

}  // namespace attncc::cli
