// Mask terms and predicates as C++ expressions (see cxx_expression.h).
#include "compiler/emit/cxx_expression.h"

#include "attncc/error.h"

namespace attncc {

std::string term_to_cxx(const Term& term, const ParameterSlots& slots) {
  auto operand = [&](size_t index) { return term_to_cxx(*term.operands[index], slots); };
  switch (term.kind) {
    case TermKind::kConstant: return "kernel_int(" + std::to_string(term.value) + "LL)";
    case TermKind::kQueryIndex: return "i";
    case TermKind::kKeyIndex: return "j";
    case TermKind::kQueryLength: return "d.query_length";
    case TermKind::kKeyLength: return "d.key_length";
    case TermKind::kParameter:
    case TermKind::kDocumentParameter: {
      auto slot = slots.find(term.name);
      ATTNCC_ASSERT(slot != slots.end(), "mask parameter without a slot");
      return "d.parameters[" + std::to_string(slot->second) + "]";
    }
    case TermKind::kNegate: return "(-" + operand(0) + ")";
    case TermKind::kAdd: return "(" + operand(0) + " + " + operand(1) + ")";
    case TermKind::kSubtract: return "(" + operand(0) + " - " + operand(1) + ")";
    case TermKind::kMultiply: return "(" + operand(0) + " * " + operand(1) + ")";
    case TermKind::kFloorDivide: return "attncc::floor_div(" + operand(0) + ", " + operand(1) + ")";
    case TermKind::kFloorModulo: return "attncc::floor_mod(" + operand(0) + ", " + operand(1) + ")";
    case TermKind::kMinimum: return "attncc::min_int(" + operand(0) + ", " + operand(1) + ")";
    case TermKind::kMaximum: return "attncc::max_int(" + operand(0) + ", " + operand(1) + ")";
  }
  internal_error(__FILE__, __LINE__, "unknown term kind");
}

std::string predicate_to_cxx(const Predicate& predicate, const ParameterSlots& slots) {
  auto joined = [&](const char* separator) {
    std::string text = "(";
    for (size_t index = 0; index < predicate.operands.size(); ++index) {
      if (index > 0) text += separator;
      text += predicate_to_cxx(*predicate.operands[index], slots);
    }
    return text + ")";
  };
  switch (predicate.kind) {
    case PredicateKind::kTrue: return "true";
    case PredicateKind::kFalse: return "false";
    case PredicateKind::kPrimitive:
      internal_error(__FILE__, __LINE__, "primitives must be expanded before lowering");
    case PredicateKind::kCompare: {
      static const char* const kOperators[] = {" < ", " <= ", " > ", " >= ", " == ", " != "};
      return "(" + term_to_cxx(*predicate.terms[0], slots) +
             kOperators[static_cast<int>(predicate.comparison)] +
             term_to_cxx(*predicate.terms[1], slots) + ")";
    }
    case PredicateKind::kAnd: return joined(" && ");
    case PredicateKind::kOr: return joined(" || ");
    case PredicateKind::kNot: return "(!" + predicate_to_cxx(*predicate.operands[0], slots) + ")";
  }
  internal_error(__FILE__, __LINE__, "unknown predicate kind");
}

}  // namespace attncc
