// The `check` pass on masks (see check_mask.h): what parses but cannot mean anything.
#include "compiler/passes/check_mask.h"

#include <cstdio>
#include <string>

#include "attncc/mask_text.h"
#include "compiler/ir/primitives.h"
#include "compiler/passes/term_range.h"

namespace attncc {
namespace {

struct MaskChecker {
  std::string_view file;
  std::string_view source;

  [[noreturn]] void fail(const MaskSpan& span, const std::string& message,
                         const std::string& hint = {}) const {
    throw located_error(ErrorCode::kInvalidMask, {std::string(file), span.line, span.column},
                        source, message, hint);
  }

  // A term is a compile-time constant if it names no variable and no parameter.
  static bool is_constant(const Term& term) {
    if (term.kind >= TermKind::kQueryIndex && term.kind <= TermKind::kDocumentParameter) {
      return false;
    }
    for (const TermPtr& operand : term.operands) {
      if (!is_constant(*operand)) return false;
    }
    return true;
  }

  // Returns the term's range, built from its operands' (each term is visited once); operands
  // are checked first, so the innermost term that can overflow is the one reported.
  TermRange check_term(const Term& term, int64_t limit = kTermMagnitudeLimit) const {
    TermRange operands[2];
    for (size_t index = 0; index < term.operands.size() && index < 2; ++index) {
      operands[index] = check_term(*term.operands[index]);
    }
    if ((term.kind == TermKind::kFloorDivide || term.kind == TermKind::kFloorModulo) &&
        is_constant(*term.operands[1]) && evaluate(*term.operands[1], {}, 0, 0) == 0) {
      fail(term.operands[1]->span,
           std::string(term.kind == TermKind::kFloorDivide ? "division" : "modulo") +
               " by zero");
    }
    TermRange range = term_range(term, operands);
    if (range.low < -__int128{limit} || range.high > limit) fail_range(term, range, limit);
    return range;
  }

  [[noreturn]] void fail_range(const Term& outside, const TermRange& range, int64_t limit) const {
    const std::string bound = limit == kTermMagnitudeLimit ? "2^62" : "2^61";
    const std::string what = limit == kTermMagnitudeLimit ? "mask terms" : "primitive arguments";
    const std::string hint =
        "use smaller constants: a window or prefix longer than any document can be -1 "
        "(unbounded) or 2147483647";
    if (outside.kind == TermKind::kConstant) {
      fail(outside.span,
           "the constant " + std::to_string(outside.value) + " is outside +-" + bound +
               ", the range of " + what + " (so that no integer arithmetic overflows)",
           hint);
    }
    auto text = [](__int128 value) {
      if (value >= INT64_MIN && value <= INT64_MAX) {
        return std::to_string(static_cast<int64_t>(value));
      }
      char approximate[32];  // beyond int64: 3 significant digits
      std::snprintf(approximate, sizeof approximate, "%.3Le", static_cast<long double>(value));
      return std::string(approximate);
    };
    fail(outside.span,
         "'" + print_term(outside) + "' can reach values in [" + text(range.low) + ", " +
             text(range.high) + "] (documents of up to 2^31 - 1 tokens, int32 parameters), " +
             "outside +-" + bound + ", the range of " + what +
             " (so that no integer arithmetic overflows)",
         hint);
  }

  void check_primitive(const Predicate& node) const {
    const PrimitiveInfo* info = find_primitive(node.primitive);
    ATTNCC_ASSERT(info != nullptr, "the parser lets only known primitives through");
    for (size_t index = 0; index < node.arguments.size(); ++index) {
      const Term& argument = *node.arguments[index];
      check_term(argument, kArgumentMagnitudeLimit);
      if (mentions(argument, TermKind::kQueryIndex) || mentions(argument, TermKind::kKeyIndex)) {
        fail(argument.span,
             "argument '" + std::string(info->parameters[index]) + "' of " +
                 std::string(info->name) + " must not depend on i or j",
             "write the condition as an atom instead, e.g. 'j >= i - 128'");
      }
      if (is_constant(argument)) {
        int64_t value = evaluate(argument, {}, 0, 0);
        if (value < info->minimum[index]) {
          std::string hint;
          if (info->minimum[index] == -1) hint = "-1 means unbounded on that side";
          fail(argument.span,
               "argument '" + std::string(info->parameters[index]) + "' of " +
                   std::string(info->name) + " must be >= " +
                   std::to_string(info->minimum[index]) + "; got " + std::to_string(value),
               hint);
        }
      }
    }
  }

  void check(const Predicate& node) const {
    switch (node.kind) {
      case PredicateKind::kPrimitive: check_primitive(node); break;
      case PredicateKind::kCompare:
        for (const TermPtr& term : node.terms) check_term(*term);
        break;
      default:
        for (const PredicatePtr& operand : node.operands) check(*operand);
    }
  }
};

}  // namespace

void check_mask(const Predicate& mask, std::string_view file, std::string_view source) {
  MaskChecker{file, source}.check(mask);
  // Parameter kinds: the same name as scalar and per document is an error located by
  // collect_parameters.
  try {
    collect_parameters(mask, source);
  } catch (const Error& error) {
    // collect_parameters names "<mask>"; re-locate with the real file name.
    std::string message = error.what();
    if (message.rfind("<mask>", 0) == 0) message.replace(0, 6, std::string(file));
    throw Error(error.code(), message);
  }
}

}  // namespace attncc
