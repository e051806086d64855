// Mask tree -> text with minimal parentheses; parse_mask reads the output back to the same tree,
// which is what makes the canonical text a sound hash key (DESIGN §3).
#include <string>

#include "attncc/error.h"
#include "attncc/mask_text.h"

namespace attncc {
namespace {

// Binding strength, loosest first; an operand that binds more loosely than its context needs
// parentheses.
enum TermLevel { kAdditive = 1, kMultiplicative = 2, kUnary = 3, kTermAtom = 4 };
enum PredicateLevel { kOrLevel = 1, kAndLevel = 2, kNotLevel = 3, kPredicateAtom = 4 };

int level_of(const Term& term) {
  switch (term.kind) {
    case TermKind::kAdd:
    case TermKind::kSubtract: return kAdditive;
    case TermKind::kMultiply:
    case TermKind::kFloorDivide:
    case TermKind::kFloorModulo: return kMultiplicative;
    case TermKind::kNegate: return kUnary;
    default: return kTermAtom;
  }
}

int level_of(const Predicate& predicate) {
  switch (predicate.kind) {
    case PredicateKind::kOr: return kOrLevel;
    case PredicateKind::kAnd: return kAndLevel;
    case PredicateKind::kNot: return kNotLevel;
    default: return kPredicateAtom;
  }
}

const char* operator_text(TermKind kind) {
  switch (kind) {
    case TermKind::kAdd: return " + ";
    case TermKind::kSubtract: return " - ";
    case TermKind::kMultiply: return " * ";
    case TermKind::kFloorDivide: return " / ";
    case TermKind::kFloorModulo: return " % ";
    default: break;
  }
  internal_error(__FILE__, __LINE__, "not a binary operator");
}

const char* operator_text(Comparison comparison) {
  switch (comparison) {
    case Comparison::kLess: return " < ";
    case Comparison::kLessEqual: return " <= ";
    case Comparison::kGreater: return " > ";
    case Comparison::kGreaterEqual: return " >= ";
    case Comparison::kEqual: return " == ";
    case Comparison::kNotEqual: return " != ";
  }
  internal_error(__FILE__, __LINE__, "unknown comparison");
}

void print(const Term& term, std::string& out);

void print_operand(const Term& operand, bool wrap, std::string& out) {
  if (wrap) out += '(';
  print(operand, out);
  if (wrap) out += ')';
}

void print(const Term& term, std::string& out) {
  switch (term.kind) {
    case TermKind::kConstant: out += std::to_string(term.value); return;
    case TermKind::kQueryIndex: out += 'i'; return;
    case TermKind::kKeyIndex: out += 'j'; return;
    case TermKind::kQueryLength: out += "Lq"; return;
    case TermKind::kKeyLength: out += "Lk"; return;
    case TermKind::kParameter: out += "$" + term.name; return;
    case TermKind::kDocumentParameter: out += "$" + term.name + "[doc]"; return;
    case TermKind::kNegate: {
      ATTNCC_ASSERT(term.operands.size() == 1, "negation has one operand");
      // The parser reads `-5` as the constant -5 and `--x` as two negations; wrapping constants
      // and negations keeps kNegate(5) as `-(5)` and kNegate(kNegate(x)) as `-(-x)`.
      const Term& operand = *term.operands[0];
      bool wrap = level_of(operand) < kTermAtom || operand.kind == TermKind::kConstant;
      out += '-';
      print_operand(operand, wrap, out);
      return;
    }
    case TermKind::kMinimum:
    case TermKind::kMaximum:
      ATTNCC_ASSERT(term.operands.size() == 2, "min/max has two operands");
      out += term.kind == TermKind::kMinimum ? "min(" : "max(";
      print(*term.operands[0], out);
      out += ", ";
      print(*term.operands[1], out);
      out += ')';
      return;
    case TermKind::kAdd:
    case TermKind::kSubtract:
    case TermKind::kMultiply:
    case TermKind::kFloorDivide:
    case TermKind::kFloorModulo: {
      ATTNCC_ASSERT(term.operands.size() == 2, "binary term has two operands");
      // Left-associative: the left operand may sit at this level, the right one must bind tighter.
      int level = level_of(term);
      print_operand(*term.operands[0], level_of(*term.operands[0]) < level, out);
      out += operator_text(term.kind);
      print_operand(*term.operands[1], level_of(*term.operands[1]) <= level, out);
      return;
    }
  }
  internal_error(__FILE__, __LINE__, "unknown term kind");
}

void print(const Predicate& predicate, std::string& out) {
  switch (predicate.kind) {
    case PredicateKind::kTrue: out += "true"; return;
    case PredicateKind::kFalse: out += "false"; return;
    case PredicateKind::kPrimitive:
      out += predicate.primitive;
      if (!predicate.arguments.empty()) {
        out += '(';
        for (size_t index = 0; index < predicate.arguments.size(); ++index) {
          if (index > 0) out += ", ";
          print(*predicate.arguments[index], out);
        }
        out += ')';
      }
      return;
    case PredicateKind::kCompare:
      ATTNCC_ASSERT(predicate.terms.size() == 2, "comparison has two terms");
      print(*predicate.terms[0], out);
      out += operator_text(predicate.comparison);
      print(*predicate.terms[1], out);
      return;
    case PredicateKind::kNot: {
      ATTNCC_ASSERT(predicate.operands.size() == 1, "negation has one operand");
      // `!j <= i` would parse the same, but reads as (!j) <= i: comparisons are wrapped too.
      const Predicate& operand = *predicate.operands[0];
      bool wrap = level_of(operand) < kNotLevel || operand.kind == PredicateKind::kCompare;
      out += '!';
      if (wrap) out += '(';
      print(operand, out);
      if (wrap) out += ')';
      return;
    }
    case PredicateKind::kAnd:
    case PredicateKind::kOr: {
      ATTNCC_ASSERT(predicate.operands.size() >= 2, "and/or has at least two operands");
      // The parser makes one n-ary node per chain, so a nested node of the same kind must keep
      // its parentheses to read back as nested.
      int level = level_of(predicate);
      const char* separator = predicate.kind == PredicateKind::kAnd ? " & " : " | ";
      for (size_t index = 0; index < predicate.operands.size(); ++index) {
        if (index > 0) out += separator;
        const Predicate& operand = *predicate.operands[index];
        bool wrap = level_of(operand) <= level;
        if (wrap) out += '(';
        print(operand, out);
        if (wrap) out += ')';
      }
      return;
    }
  }
  internal_error(__FILE__, __LINE__, "unknown predicate kind");
}

}  // namespace

std::string print_mask(const Predicate& predicate) {
  std::string out;
  print(predicate, out);
  return out;
}

std::string print_term(const Term& term) {
  std::string out;
  print(term, out);
  return out;
}

}  // namespace attncc
