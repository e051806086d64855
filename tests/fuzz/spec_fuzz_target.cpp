// The front-end fuzz properties (see spec_fuzz_target.h). Every input is tried both as a JSON
// spec and as mask text: each fails fast on the other's syntax, and one corpus then feeds both.
#include "tests/fuzz/spec_fuzz_target.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <set>
#include <string>

#include "attncc/error.h"
#include "attncc/interval_form.h"
#include "attncc/mask_text.h"
#include "attncc/spec.h"
#include "compiler/ir/primitives.h"
#include "compiler/passes/check_mask.h"

namespace attncc::fuzz {
namespace {

// Long texts are cut in failure reports: the artifact file holds the whole input anyway.
constexpr size_t kMaxShown = 300;
// Upper bound on tree nodes times evaluation points for the meaning check, so one huge input
// cannot stall the fuzzer (inputs are short; this only guards the regression driver's inputs).
constexpr int64_t kMaxEvaluationWork = 4'000'000;

std::string shown(std::string_view text) {
  std::string out(text.substr(0, kMaxShown));
  if (text.size() > kMaxShown) out += "... (" + std::to_string(text.size()) + " bytes)";
  return "'" + out + "'";
}

enum class Outcome { kOk, kUserError, kFailed };

// Runs one stage. A user error with one of `user_codes` is an expected answer to a bad input;
// an internal error, another code, or any other exception is a failure, appended to `failures`.
Outcome run_stage(std::string_view stage, std::initializer_list<ErrorCode> user_codes,
                  std::string& failures, const std::function<void()>& body,
                  std::string* user_message = nullptr) {
  try {
    body();
    return Outcome::kOk;
  } catch (const Error& error) {
    bool expected = error.is_user_error() && std::find(user_codes.begin(), user_codes.end(),
                                                       error.code()) != user_codes.end();
    if (expected) {
      if (user_message != nullptr) *user_message = error.what();
      return Outcome::kUserError;
    }
    failures += std::string(stage) + ": " +
                (error.is_user_error() ? "user error of an unexpected code " +
                                             std::to_string(static_cast<int>(error.code()))
                                       : std::string("internal error")) +
                ": " + error.what() + "\n";
  } catch (const std::exception& error) {
    failures += std::string(stage) + ": exception other than attncc::Error: " + error.what() + "\n";
  } catch (...) {
    failures += std::string(stage) + ": non-standard exception\n";
  }
  return Outcome::kFailed;
}

// --- meaning: canonicalise must not change M(i, j) ---------------------------------------------

void collect_names(const Term& term, std::set<std::string>& names, int64_t& nodes) {
  ++nodes;
  if (term.kind == TermKind::kParameter || term.kind == TermKind::kDocumentParameter) {
    names.insert(term.name);
  }
  for (const TermPtr& operand : term.operands) collect_names(*operand, names, nodes);
}

void collect_names(const Predicate& predicate, std::set<std::string>& names, int64_t& nodes) {
  ++nodes;
  for (const TermPtr& term : predicate.arguments) collect_names(*term, names, nodes);
  for (const TermPtr& term : predicate.terms) collect_names(*term, names, nodes);
  for (const PredicatePtr& operand : predicate.operands) collect_names(*operand, names, nodes);
}

// Compares both trees on every (i, j) of a few small documents, with every parameter set to a
// small value. Primitives are expanded to their definitions first: evaluate() on terms wraps on
// overflow, so the comparison is defined for any constants the fuzzer writes, while the
// primitives' direct predicates are only meant for in-range arguments (the check pass and the
// run-time validation keep them there). Returns "" or the first point where they differ.
std::string first_difference(const PredicatePtr& original, const PredicatePtr& canonical) {
  std::set<std::string> names;
  int64_t nodes = 0;
  collect_names(*original, names, nodes);
  collect_names(*canonical, names, nodes);
  constexpr int64_t kPoints = 3 * 5 + 6 * 2 + 4 * 4;
  if (nodes * kPoints > kMaxEvaluationWork) return "";
  PredicatePtr lhs = expand_primitives(original);
  PredicatePtr rhs = expand_primitives(canonical);
  const int64_t shapes[][2] = {{3, 5}, {6, 2}, {4, 4}};
  const int64_t values[] = {2, 0, -3, 7, 1};
  for (size_t shape = 0; shape < std::size(shapes); ++shape) {
    MaskContext context{shapes[shape][0], shapes[shape][1], {}};
    size_t index = shape;
    for (const std::string& name : names) context.parameters[name] = values[index++ % 5];
    for (int64_t i = 0; i < context.query_length; ++i) {
      for (int64_t j = 0; j < context.key_length; ++j) {
        bool a = evaluate(*lhs, context, i, j);
        bool b = evaluate(*rhs, context, i, j);
        if (a != b) {
          return "Lq=" + std::to_string(context.query_length) +
                 " Lk=" + std::to_string(context.key_length) + " i=" + std::to_string(i) +
                 " j=" + std::to_string(j) + ": original " + (a ? "true" : "false") +
                 ", canonical " + (b ? "true" : "false");
        }
      }
    }
  }
  return "";
}

// --- mask text ---------------------------------------------------------------------------------

void check_mask_text(std::string_view text, std::string& failures) {
  const std::initializer_list<ErrorCode> mask_errors = {ErrorCode::kInvalidMask};
  PredicatePtr parsed;
  if (run_stage("parse_mask", mask_errors, failures, [&] { parsed = parse_mask(text); }) !=
      Outcome::kOk) {
    return;
  }
  // The check pass may reject the mask (a user error); the printer and canonicaliser must still
  // handle the tree, since they only assume what the parser guarantees.
  run_stage("check_mask", mask_errors, failures, [&] { check_mask(*parsed, "<mask>", text); });

  std::string printed;
  PredicatePtr reparsed;
  std::string why;
  Outcome outcome = run_stage("print_mask(parse_mask(x))", mask_errors, failures, [&] {
    printed = print_mask(*parsed);
    reparsed = parse_mask(printed);
  }, &why);
  if (outcome == Outcome::kUserError) {
    failures += "printed mask " + shown(printed) + " does not parse back: " + why + "\n";
  }
  if (outcome != Outcome::kOk) return;
  if (!same_predicate(*parsed, *reparsed)) {
    failures += "printed mask " + shown(printed) + " parses to another tree, printed " +
                shown(print_mask(*reparsed)) + "\n";
  }

  std::string canonical_text;
  PredicatePtr canonical;
  if (run_stage("canonicalise", mask_errors, failures, [&] {
        canonical = canonicalise(parsed);
        canonical_text = print_mask(*canonical);
      }) != Outcome::kOk) {
    return;
  }
  // The property of the brief: canonical(parse(print(x))) == canonical(x), as printed text.
  std::string via_print;
  if (run_stage("canonicalise(parse(print(x)))", mask_errors, failures,
                [&] { via_print = print_mask(*canonicalise(reparsed)); }) == Outcome::kOk &&
      via_print != canonical_text) {
    failures += "canonical(parse(print(x))) " + shown(via_print) + " != canonical(x) " +
                shown(canonical_text) + "\n";
  }
  // Canonical text is a hash key: it must read back, and be a fixed point of canonicalise.
  std::string again;
  outcome = run_stage("canonical(parse(canonical text))", mask_errors, failures, [&] {
    again = print_mask(*canonicalise(parse_mask(canonical_text)));
  }, &why);
  if (outcome == Outcome::kUserError) {
    failures += "canonical mask " + shown(canonical_text) + " does not parse back: " + why + "\n";
  } else if (outcome == Outcome::kOk && again != canonical_text) {
    failures += "canonicalise is not idempotent: " + shown(canonical_text) + " becomes " +
                shown(again) + "\n";
  }

  // The analysis `attncc check` and every compile run next: no internal error on any mask.
  run_stage("build_interval_form", {ErrorCode::kInvalidMask, ErrorCode::kUnsupported}, failures,
            [&] { (void)print_interval_form(build_interval_form(canonical)); });

  std::string difference;
  if (run_stage("meaning check", mask_errors, failures,
                [&] { difference = first_difference(parsed, canonical); }) == Outcome::kOk &&
      !difference.empty()) {
    failures += "canonical form " + shown(canonical_text) + " of " + shown(printed) +
                " means something else: " + difference + "\n";
  }
}

// --- JSON spec ---------------------------------------------------------------------------------

void check_spec_text(std::string_view text, std::string& failures) {
  const std::initializer_list<ErrorCode> spec_errors = {ErrorCode::kInvalidSpec,
                                                        ErrorCode::kInvalidMask};
  Spec spec;
  if (run_stage("Spec::parse", spec_errors, failures,
                [&] { spec = Spec::parse(text, "<fuzz>"); }) != Outcome::kOk) {
    return;
  }
  std::string canonical;
  std::string again;
  std::string why;
  Outcome outcome = run_stage("Spec::parse(canonical_text())", spec_errors, failures, [&] {
    canonical = spec.canonical_text();
    again = Spec::parse(canonical, "<canonical>").canonical_text();
  }, &why);
  if (outcome == Outcome::kUserError) {
    failures += "canonical spec text " + shown(canonical) + " is rejected: " + why + "\n";
  } else if (outcome == Outcome::kOk && again != canonical) {
    failures += "canonical spec text is not a fixed point: " + shown(canonical) + " becomes " +
                shown(again) + "\n";
  }
  // The spec's mask is the canonical form of its mask text, whichever path computes it.
  std::string direct;
  if (run_stage("canonical mask of the spec", spec_errors, failures, [&] {
        direct = print_mask(*canonicalise(parse_mask(spec.mask_text)));
      }) == Outcome::kOk &&
      direct != print_mask(*spec.mask)) {
    failures += "spec mask " + shown(print_mask(*spec.mask)) +
                " differs from the canonical form of its text " + shown(direct) + "\n";
  }
}

}  // namespace

std::string check_input(std::string_view input) {
  std::string failures;
  check_spec_text(input, failures);
  check_mask_text(input, failures);
  return failures;
}

}  // namespace attncc::fuzz
