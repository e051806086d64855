// Affine view of integer terms and the small term simplifier of the interval form: bounds are
// collected into `constant + sum(coefficient * atom)` so equal bounds compare equal structurally.
#include <algorithm>

#include "attncc/error.h"
#include "compiler/passes/interval_algebra.h"

namespace attncc::inf {
namespace {

bool is_leaf_variable(TermKind kind) {
  return kind == TermKind::kQueryIndex || kind == TermKind::kKeyIndex ||
         kind == TermKind::kQueryLength || kind == TermKind::kKeyLength ||
         kind == TermKind::kParameter || kind == TermKind::kDocumentParameter;
}

AffineTerm atom_of(TermPtr term) {
  AffineTerm affine;
  affine.atoms.emplace_back(std::move(term), 1);
  return affine;
}

AffineTerm constant_of(int64_t value) {
  AffineTerm affine;
  affine.constant = value;
  return affine;
}

// c * atom with c > 0 as a term: `atom` for 1, `c * atom` otherwise.
TermPtr scaled_atom(const TermPtr& atom, int64_t magnitude) {
  if (magnitude == 1) return atom;
  return make_binary(TermKind::kMultiply, make_constant(magnitude), atom);
}

// The simplified operand of a non-affine operation: its affine form as a term when it has one.
TermPtr operand_term(const TermPtr& operand, const std::optional<AffineTerm>& affine) {
  return affine ? from_affine(*affine) : simplify_term(operand);
}

// Folds a division, modulo, min or max. Each operand is linearised once (re-linearising the
// simplified operands would make nested min/max chains exponential).
std::optional<AffineTerm> fold_nonlinear(const Term& term) {
  TermKind kind = term.kind;
  std::optional<AffineTerm> left = to_affine(term.operands[0]);
  std::optional<AffineTerm> right = to_affine(term.operands[1]);
  if (left && right && left->is_constant() && right->is_constant()) {
    int64_t a = left->constant;
    int64_t b = right->constant;
    switch (kind) {
      case TermKind::kFloorDivide:
        return constant_of(floor_divide(a, b));
      case TermKind::kFloorModulo:
        return constant_of(floor_modulo(a, b));
      case TermKind::kMinimum:
        return constant_of(std::min(a, b));
      case TermKind::kMaximum:
        return constant_of(std::max(a, b));
      default:
        break;
    }
  }
  if ((kind == TermKind::kMinimum || kind == TermKind::kMaximum) && left && right) {
    auto negated = scale_affine(*right, -1);
    auto difference = negated ? add_affine(*left, *negated) : std::nullopt;
    if (difference && difference->is_constant()) {
      bool take_left =
          kind == TermKind::kMaximum ? difference->constant >= 0 : difference->constant <= 0;
      return take_left ? left : right;
    }
  }
  if (kind == TermKind::kFloorDivide && right && right->is_constant() && left) {
    int64_t divisor = right->constant;
    if (divisor == 1) return left;
    // An exact division distributes: (4 * i + 8) / 4 == i + 2 for every i.
    bool divisible = divisor > 0 && left->constant % divisor == 0 &&
                     std::all_of(left->atoms.begin(), left->atoms.end(),
                                 [&](const auto& entry) { return entry.second % divisor == 0; });
    if (divisible) {
      AffineTerm quotient = *left;
      quotient.constant /= divisor;
      for (auto& entry : quotient.atoms) entry.second /= divisor;
      return quotient;
    }
  }
  if (kind == TermKind::kFloorModulo && right && right->is_constant() && right->constant == 1) {
    return constant_of(0);
  }
  return atom_of(make_binary(kind, operand_term(term.operands[0], left),
                             operand_term(term.operands[1], right)));
}

}  // namespace

std::optional<AffineTerm> add_affine(const AffineTerm& a, const AffineTerm& b) {
  AffineTerm sum = a;
  if (__builtin_add_overflow(sum.constant, b.constant, &sum.constant)) return std::nullopt;
  for (const auto& [atom, coefficient] : b.atoms) {
    auto found = std::find_if(sum.atoms.begin(), sum.atoms.end(),
                              [&](const auto& entry) { return same_term(*entry.first, *atom); });
    if (found == sum.atoms.end()) {
      sum.atoms.emplace_back(atom, coefficient);
      continue;
    }
    if (__builtin_add_overflow(found->second, coefficient, &found->second)) return std::nullopt;
    if (found->second == 0) sum.atoms.erase(found);
  }
  return sum;
}

std::optional<AffineTerm> scale_affine(const AffineTerm& a, int64_t factor) {
  if (factor == 0) return AffineTerm{};
  AffineTerm scaled = a;
  if (__builtin_mul_overflow(scaled.constant, factor, &scaled.constant)) return std::nullopt;
  for (auto& entry : scaled.atoms) {
    if (__builtin_mul_overflow(entry.second, factor, &entry.second)) return std::nullopt;
  }
  return scaled;
}

std::optional<AffineTerm> to_affine(const TermPtr& term) {
  ATTNCC_ASSERT(term != nullptr, "to_affine needs a term");
  if (term->kind == TermKind::kConstant) return constant_of(term->value);
  if (is_leaf_variable(term->kind)) return atom_of(term);
  if (term->kind == TermKind::kNegate) {
    auto operand = to_affine(term->operands[0]);
    if (!operand) return std::nullopt;
    return scale_affine(*operand, -1);
  }
  const TermPtr& lhs = term->operands[0];
  const TermPtr& rhs = term->operands[1];
  switch (term->kind) {
    case TermKind::kAdd:
    case TermKind::kSubtract: {
      auto left = to_affine(lhs);
      auto right = to_affine(rhs);
      if (!left || !right) return std::nullopt;
      if (term->kind == TermKind::kSubtract) {
        right = scale_affine(*right, -1);
        if (!right) return std::nullopt;
      }
      return add_affine(*left, *right);
    }
    case TermKind::kMultiply: {
      auto left = to_affine(lhs);
      auto right = to_affine(rhs);
      if (!left || !right) return std::nullopt;
      if (left->is_constant()) return scale_affine(*right, left->constant);
      if (right->is_constant()) return scale_affine(*left, right->constant);
      // j * (something varying) is not linear in j: the solver must see the failure.
      if (mentions(*term, TermKind::kKeyIndex)) return std::nullopt;
      return atom_of(make_binary(TermKind::kMultiply, from_affine(*left), from_affine(*right)));
    }
    default:
      return fold_nonlinear(*term);
  }
}

TermPtr from_affine(const AffineTerm& affine) {
  TermPtr result;
  // Positive atoms first so bounds read `i - 256`, `Lk - Lq + i` rather than `-256 + i`.
  for (bool positive : {true, false}) {
    for (const auto& [atom, coefficient] : affine.atoms) {
      if ((coefficient > 0) != positive) continue;
      // |coefficient| overflows only for INT64_MIN; keep it as a negative factor then.
      if (coefficient == INT64_MIN) {
        TermPtr product = make_binary(TermKind::kMultiply, make_constant(coefficient), atom);
        result = result ? make_binary(TermKind::kAdd, result, product) : product;
        continue;
      }
      TermPtr part = scaled_atom(atom, coefficient > 0 ? coefficient : -coefficient);
      if (!result) {
        result = positive ? part : make_unary(TermKind::kNegate, part);
      } else {
        result = make_binary(positive ? TermKind::kAdd : TermKind::kSubtract, result, part);
      }
    }
  }
  if (!result) return make_constant(affine.constant);
  if (affine.constant > 0 || affine.constant == INT64_MIN) {
    return make_binary(TermKind::kAdd, result, make_constant(affine.constant));
  }
  if (affine.constant < 0) {
    return make_binary(TermKind::kSubtract, result, make_constant(-affine.constant));
  }
  return result;
}

TermPtr simplify_term(const TermPtr& term) {
  if (auto affine = to_affine(term)) return from_affine(*affine);
  // Not affine (j * j, or an overflow): simplify what lies below.
  if (term->operands.empty()) return term;
  auto copy = std::make_shared<Term>(*term);
  for (TermPtr& operand : copy->operands) operand = simplify_term(operand);
  return copy;
}

std::optional<int64_t> constant_difference(const TermPtr& a, const TermPtr& b) {
  if (same_term(*a, *b)) return 0;
  auto left = to_affine(a);
  auto right = to_affine(b);
  if (!left || !right) return std::nullopt;
  auto negated = scale_affine(*right, -1);
  if (!negated) return std::nullopt;
  auto difference = add_affine(*left, *negated);
  if (!difference || !difference->is_constant()) return std::nullopt;
  return difference->constant;
}

namespace {

// max(max(x, y), y) == max(x, y): absorbs an operand already present one level down.
bool has_operand(const TermPtr& outer, TermKind kind, const TermPtr& operand) {
  return outer->kind == kind &&
         (same_term(*outer->operands[0], *operand) || same_term(*outer->operands[1], *operand));
}

TermPtr extreme_of(TermKind kind, const TermPtr& a, const TermPtr& b) {
  ATTNCC_ASSERT(a && b, "min/max of an unbounded side");
  if (std::optional<int64_t> difference = constant_difference(a, b)) {
    bool take_a = kind == TermKind::kMaximum ? *difference >= 0 : *difference <= 0;
    return take_a ? a : b;
  }
  if (has_operand(a, kind, b)) return a;
  if (has_operand(b, kind, a)) return b;
  return make_binary(kind, a, b);
}

}  // namespace

TermPtr maximum_of(const TermPtr& a, const TermPtr& b) {
  return extreme_of(TermKind::kMaximum, a, b);
}

TermPtr minimum_of(const TermPtr& a, const TermPtr& b) {
  return extreme_of(TermKind::kMinimum, a, b);
}

}  // namespace attncc::inf
