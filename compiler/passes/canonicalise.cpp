// The canonicalise pass (DESIGN §3, after check): one spelling per meaning, so the printed
// canonical mask can be hashed; primitives are kept as written (sugar stays sugar).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "attncc/error.h"
#include "attncc/mask_text.h"

namespace attncc {
namespace {

bool is_constant(const TermPtr& term, int64_t value) {
  return term->kind == TermKind::kConstant && term->value == value;
}

bool mentions_parameter(const Term& term) {
  if (term.kind == TermKind::kParameter || term.kind == TermKind::kDocumentParameter) return true;
  return std::any_of(term.operands.begin(), term.operands.end(),
                     [](const TermPtr& operand) { return mentions_parameter(*operand); });
}

// The value of `kind` applied to two constants, with evaluate's semantics; nullopt when the
// result is not representable (folding must not turn an overflow into a different value) or the
// operation divides by zero (left in place so that `check` can report it).
std::optional<int64_t> fold(TermKind kind, int64_t a, int64_t b) {
  int64_t result = 0;
  switch (kind) {
    case TermKind::kAdd:
      if (__builtin_add_overflow(a, b, &result)) return std::nullopt;
      return result;
    case TermKind::kSubtract:
      if (__builtin_sub_overflow(a, b, &result)) return std::nullopt;
      return result;
    case TermKind::kMultiply:
      if (__builtin_mul_overflow(a, b, &result)) return std::nullopt;
      return result;
    case TermKind::kFloorDivide:
    case TermKind::kFloorModulo: {
      if (b == 0) return std::nullopt;
      // In 128 bits: the int64 intermediates overflow for INT64_MIN / -1 and for b = INT64_MIN
      // (floor_modulo's b * quotient). A quotient outside int64 (INT64_MIN / -1) is not folded,
      // for % as well, so both stay what the user wrote.
      __int128 quotient = static_cast<__int128>(a) / b;
      __int128 remainder = static_cast<__int128>(a) % b;
      if (remainder != 0 && ((remainder < 0) != (b < 0))) {
        --quotient;
        remainder += b;
      }
      if (quotient < std::numeric_limits<int64_t>::min() ||
          quotient > std::numeric_limits<int64_t>::max()) {
        return std::nullopt;
      }
      return static_cast<int64_t>(kind == TermKind::kFloorDivide ? quotient : remainder);
    }
    case TermKind::kMinimum: return std::min(a, b);
    case TermKind::kMaximum: return std::max(a, b);
    default: break;
  }
  internal_error(__FILE__, __LINE__, "fold needs a binary term kind");
}

TermPtr with_operands(const Term& term, std::vector<TermPtr> operands) {
  auto copy = std::make_shared<Term>(term);
  copy->operands = std::move(operands);
  return copy;
}

TermPtr canonical_term(const TermPtr& term) {
  if (term->operands.empty()) return term;
  std::vector<TermPtr> operands;
  for (const TermPtr& operand : term->operands) operands.push_back(canonical_term(operand));

  if (term->kind == TermKind::kNegate) {
    const TermPtr& operand = operands[0];
    if (operand->kind == TermKind::kConstant &&
        operand->value != std::numeric_limits<int64_t>::min()) {
      return make_constant(-operand->value, term->span);
    }
    if (operand->kind == TermKind::kNegate) return operand->operands[0];  // --x = x
    return with_operands(*term, std::move(operands));
  }

  const TermPtr& lhs = operands[0];
  const TermPtr& rhs = operands[1];
  if (lhs->kind == TermKind::kConstant && rhs->kind == TermKind::kConstant) {
    if (std::optional<int64_t> value = fold(term->kind, lhs->value, rhs->value)) {
      return make_constant(*value, term->span);
    }
  }
  // Identities that hold for every int64 under evaluate's semantics. Absorbing zeros
  // (0 * x, x % 1) only drop a subterm that names no parameter, so the parameters a kernel
  // needs never depend on the spelling of the mask.
  switch (term->kind) {
    case TermKind::kAdd:
      if (is_constant(rhs, 0)) return lhs;
      if (is_constant(lhs, 0)) return rhs;
      break;
    case TermKind::kSubtract:
      if (is_constant(rhs, 0)) return lhs;
      break;
    case TermKind::kMultiply:
      if (is_constant(rhs, 1)) return lhs;
      if (is_constant(lhs, 1)) return rhs;
      if (is_constant(lhs, 0) && !mentions_parameter(*rhs)) return lhs;
      if (is_constant(rhs, 0) && !mentions_parameter(*lhs)) return rhs;
      break;
    case TermKind::kFloorDivide:
      if (is_constant(rhs, 1)) return lhs;
      break;
    case TermKind::kFloorModulo:
      if (is_constant(rhs, 1) && !mentions_parameter(*lhs)) return make_constant(0, term->span);
      break;
    default: break;
  }
  return with_operands(*term, std::move(operands));
}

bool compare(Comparison comparison, int64_t a, int64_t b) {
  switch (comparison) {
    case Comparison::kLess: return a < b;
    case Comparison::kLessEqual: return a <= b;
    case Comparison::kGreater: return a > b;
    case Comparison::kGreaterEqual: return a >= b;
    case Comparison::kEqual: return a == b;
    case Comparison::kNotEqual: return a != b;
  }
  internal_error(__FILE__, __LINE__, "unknown comparison");
}

// `a op b` == `b mirrored(op) a`.
Comparison mirrored(Comparison comparison) {
  switch (comparison) {
    case Comparison::kLess: return Comparison::kGreater;
    case Comparison::kLessEqual: return Comparison::kGreaterEqual;
    case Comparison::kGreater: return Comparison::kLess;
    case Comparison::kGreaterEqual: return Comparison::kLessEqual;
    case Comparison::kEqual:
    case Comparison::kNotEqual: return comparison;
  }
  internal_error(__FILE__, __LINE__, "unknown comparison");
}

PredicatePtr canonical_compare(const Predicate& predicate) {
  TermPtr lhs = canonical_term(predicate.terms[0]);
  TermPtr rhs = canonical_term(predicate.terms[1]);
  if (lhs->kind == TermKind::kConstant && rhs->kind == TermKind::kConstant) {
    return make_boolean(compare(predicate.comparison, lhs->value, rhs->value), predicate.span);
  }
  // j on the left (the interval form solves for j), else i; a side that has both stays put.
  bool swap = false;
  bool lhs_j = mentions(*lhs, TermKind::kKeyIndex);
  bool rhs_j = mentions(*rhs, TermKind::kKeyIndex);
  if (lhs_j != rhs_j) {
    swap = rhs_j;
  } else if (!lhs_j) {
    swap = !mentions(*lhs, TermKind::kQueryIndex) && mentions(*rhs, TermKind::kQueryIndex);
  }
  Comparison comparison = predicate.comparison;
  if (swap) {
    std::swap(lhs, rhs);
    comparison = mirrored(comparison);
  }
  return make_compare(comparison, std::move(lhs), std::move(rhs), predicate.span);
}

PredicatePtr canonical(const PredicatePtr& predicate);

PredicatePtr canonical_logical(const Predicate& predicate) {
  bool is_and = predicate.kind == PredicateKind::kAnd;
  // Identity and absorbing element of the operator: true/false for &, false/true for |.
  PredicateKind identity = is_and ? PredicateKind::kTrue : PredicateKind::kFalse;
  PredicateKind absorbing = is_and ? PredicateKind::kFalse : PredicateKind::kTrue;
  std::vector<std::pair<std::string, PredicatePtr>> keyed;
  auto add = [&](const PredicatePtr& operand) {
    keyed.emplace_back(print_mask(*operand), operand);
  };
  for (const PredicatePtr& original : predicate.operands) {
    PredicatePtr operand = canonical(original);
    if (operand->kind == absorbing) return make_boolean(!is_and, predicate.span);
    if (operand->kind == identity) continue;
    // Canonical operands are already flat, so one level of splicing flattens the whole chain.
    if (operand->kind == predicate.kind) {
      for (const PredicatePtr& inner : operand->operands) add(inner);
    } else {
      add(operand);
    }
  }
  // Printed text identifies the tree (the printer is injective), so it both orders and dedups.
  std::sort(keyed.begin(), keyed.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  keyed.erase(std::unique(keyed.begin(), keyed.end(),
                          [](const auto& a, const auto& b) { return a.first == b.first; }),
              keyed.end());
  if (keyed.empty()) return make_boolean(is_and, predicate.span);
  if (keyed.size() == 1) return keyed.front().second;
  std::vector<PredicatePtr> operands;
  for (auto& [text, operand] : keyed) operands.push_back(std::move(operand));
  return make_logical(predicate.kind, std::move(operands), predicate.span);
}

PredicatePtr canonical(const PredicatePtr& predicate) {
  switch (predicate->kind) {
    case PredicateKind::kTrue:
    case PredicateKind::kFalse: return predicate;
    case PredicateKind::kPrimitive: {
      auto copy = std::make_shared<Predicate>(*predicate);
      for (TermPtr& argument : copy->arguments) argument = canonical_term(argument);
      return copy;
    }
    case PredicateKind::kCompare: return canonical_compare(*predicate);
    case PredicateKind::kNot: {
      PredicatePtr operand = canonical(predicate->operands[0]);
      if (operand->kind == PredicateKind::kTrue) return make_boolean(false, predicate->span);
      if (operand->kind == PredicateKind::kFalse) return make_boolean(true, predicate->span);
      if (operand->kind == PredicateKind::kNot) return operand->operands[0];  // !!x = x
      return make_logical(PredicateKind::kNot, {operand}, predicate->span);
    }
    case PredicateKind::kAnd:
    case PredicateKind::kOr: return canonical_logical(*predicate);
  }
  internal_error(__FILE__, __LINE__, "unknown predicate kind");
}

}  // namespace

PredicatePtr canonicalise(const PredicatePtr& predicate) {
  ATTNCC_ASSERT(predicate != nullptr, "canonicalise needs a mask");
  return canonical(predicate);
}

}  // namespace attncc
