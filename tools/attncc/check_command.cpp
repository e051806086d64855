// `attncc check SPEC...`: parse and check specs; print canonical form, hash and interval form.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attncc/interval_form.h"
#include "attncc/mask_text.h"
#include "attncc/spec.h"
#include "tools/attncc/commands.h"

namespace attncc::cli {

const CommandInfo kCheckCommand = {
    "check",
    "attncc check [--json] SPEC...",
    "Parse and check specs; print each one's canonical form, hash and interval form.",
    "The canonical form is what the hash covers: field order, whitespace, the order of\n"
    "'&'/'|' operands and duplicated operands do not change it; name and description are left\n"
    "out. The interval form lists, per query row i, the key columns attended as intervals\n"
    "[lo(i), hi(i)]; 'superset' intervals need the mask evaluated per element.\n\n"
    "Every spec is checked even after an error; the exit code is 1 if any spec was rejected.\n\n"
    "examples:\n"
    "  attncc check specs/*.json\n"
    "  attncc check --json specs/prefix_lm_docs.json\n",
    {{"json", "", "print one JSON object per spec (a JSON array) instead of text"}},
    1,
    -1,
};

namespace {

std::string indent_lines(const std::string& text, const std::string& indent) {
  std::istringstream lines(text);
  std::string result;
  bool first = true;
  for (std::string line; std::getline(lines, line);) {
    result += (first ? "" : "\n" + indent) + line;
    first = false;
  }
  return result;
}

}  // namespace

int run_check(const ParsedArguments& arguments) {
  bool as_json = arguments.has("json");
  nlohmann::json reports = nlohmann::json::array();
  int exit_code = 0;
  for (const std::string& path : arguments.positionals) {
    try {
      Spec spec = Spec::load(path);
      IntervalForm form = build_interval_form(spec.mask);
      std::string intervals = print_interval_form(form);
      if (as_json) {
        nlohmann::json report = {{"file", path},
                                 {"name", spec.name},
                                 {"canonical", nlohmann::json::parse(spec.canonical_text())},
                                 {"hash", spec_hash(spec)},
                                 {"mask", print_mask(*spec.mask)},
                                 {"interval_form", intervals},
                                 {"exact", form.exact()},
                                 {"notes", form.notes}};
        nlohmann::json parameters = nlohmann::json::object();
        for (const auto& [name, per_document] : spec.parameters) {
          parameters[name] = per_document ? "per_document" : "scalar";
        }
        report["parameters"] = parameters;
        reports.push_back(report);
        continue;
      }
      std::printf("%s: ok\n", path.c_str());
      if (!spec.name.empty()) std::printf("  name        %s\n", spec.name.c_str());
      std::printf("  hash        %s\n", spec_hash(spec).c_str());
      std::printf("  canonical   %s\n", spec.canonical_text().c_str());
      std::printf("  mask        %s\n", print_mask(*spec.mask).c_str());
      std::printf("  intervals   %s\n", indent_lines(intervals, "              ").c_str());
      for (const std::string& note : form.notes) std::printf("  note        %s\n", note.c_str());
      std::string parameters;
      for (const auto& [name, per_document] : spec.parameters) {
        parameters += (parameters.empty() ? "$" : ", $") + name + (per_document ? "[doc]" : "");
      }
      std::printf("  parameters  %s\n", parameters.empty() ? "(none)" : parameters.c_str());
    } catch (const Error& error) {
      if (!error.is_user_error()) throw;
      std::fprintf(stderr, "%s\n", error.what());
      exit_code = 1;
    }
  }
  if (as_json) std::printf("%s\n", reports.dump(2).c_str());
  return exit_code;
}

}  // namespace attncc::cli
