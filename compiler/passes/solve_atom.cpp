// Solving one comparison atom for j (DESIGN §3): `lhs op rhs` becomes a bound `j >= lo(i)` or
// `j <= hi(i)`, a row condition on i, or an opaque (inexact, unbounded) interval.
#include <string>

#include "attncc/error.h"
#include "attncc/mask_text.h"
#include "compiler/passes/interval_algebra.h"

namespace attncc::inf {
namespace {

// `lhs - rhs` split as `coefficient * X + rest` where X is j itself or a quotient
// `(j + offset) / divisor`; rest is free of j.
struct LinearInJ {
  int64_t coefficient = 0;
  AffineTerm rest;
  bool through_division = false;  ///< X = (j + offset) / divisor
  AffineTerm offset;
  TermPtr divisor;
};

// One constraint `coefficient * X + rest >= 0`.
struct Constraint {
  int64_t coefficient = 0;
  AffineTerm rest;
};

// X >= value (lower) or X <= value (upper).
struct Bound {
  bool lower = true;
  AffineTerm value;
};

IntervalSet opaque(const PredicatePtr& atom, std::string_view reason,
                   std::vector<std::string>& notes) {
  add_note(notes, "`" + print_mask(*atom) + "` cannot be solved for j (" + std::string(reason) +
                      "): a superset, evaluated per element");
  Interval interval;
  interval.exact = false;
  return {interval};
}

// A j-free atom: constant-folded when it mentions nothing that varies, else a row condition.
IntervalSet row_condition_set(const PredicatePtr& atom) {
  bool varies = false;
  for (TermKind kind : {TermKind::kQueryIndex, TermKind::kQueryLength, TermKind::kKeyLength,
                        TermKind::kParameter, TermKind::kDocumentParameter}) {
    varies = varies || mentions(*atom, kind);
  }
  if (!varies) {
    if (!evaluate(*atom, MaskContext{}, 0, 0)) return {};
    return {Interval{}};
  }
  Interval interval;
  interval.row_condition = atom;
  return {interval};
}

// `(j + offset) / divisor` with a divisor free of j: X of a LinearInJ.
bool match_division(const TermPtr& atom, LinearInJ& linear) {
  if (atom->kind != TermKind::kFloorDivide) return false;
  if (mentions(*atom->operands[1], TermKind::kKeyIndex)) return false;
  auto numerator = to_affine(atom->operands[0]);
  if (!numerator) return false;
  AffineTerm offset;
  offset.constant = numerator->constant;
  bool unit_j = false;
  for (const auto& [inner, coefficient] : numerator->atoms) {
    if (inner->kind == TermKind::kKeyIndex && coefficient == 1) {
      unit_j = true;
    } else if (mentions(*inner, TermKind::kKeyIndex)) {
      return false;
    } else {
      offset.atoms.emplace_back(inner, coefficient);
    }
  }
  if (!unit_j) return false;
  linear.through_division = true;
  linear.offset = offset;
  linear.divisor = simplify_term(atom->operands[1]);
  return true;
}

// Splits `lhs - rhs`; returns a reason when it is not of the solvable shape.
std::optional<std::string> split(const Predicate& atom, LinearInJ& linear) {
  auto difference = to_affine(make_binary(TermKind::kSubtract, atom.terms[0], atom.terms[1]));
  if (!difference) return "it is not linear in j";
  linear.rest.constant = difference->constant;
  for (const auto& [term, coefficient] : difference->atoms) {
    if (!mentions(*term, TermKind::kKeyIndex)) {
      linear.rest.atoms.emplace_back(term, coefficient);
      continue;
    }
    if (linear.coefficient != 0) return "j appears in more than one place";
    if (term->kind != TermKind::kKeyIndex && !match_division(term, linear)) {
      return "j appears inside " + print_term(*term);
    }
    linear.coefficient = coefficient;
  }
  return std::nullopt;
}

// `coefficient * X + rest >= 0` solved for X (integer X): ceil / floor by |coefficient|.
std::optional<Bound> solve(const Constraint& constraint) {
  int64_t a = constraint.coefficient;
  ATTNCC_ASSERT(a != 0 && a != INT64_MIN, "solving a constraint without X");
  if (a > 0) {
    // X >= ceil(-rest / a) = floor((-rest + a - 1) / a)
    auto numerator = scale_affine(constraint.rest, -1);
    if (!numerator) return std::nullopt;
    if (a == 1) return Bound{true, *numerator};
    auto shifted = add_affine(*numerator, AffineTerm{a - 1, {}});
    if (!shifted) return std::nullopt;
    auto quotient =
        to_affine(make_binary(TermKind::kFloorDivide, from_affine(*shifted), make_constant(a)));
    if (!quotient) return std::nullopt;
    return Bound{true, *quotient};
  }
  // -|a| X + rest >= 0  <=>  X <= floor(rest / |a|)
  if (a == -1) return Bound{false, constraint.rest};
  auto quotient = to_affine(
      make_binary(TermKind::kFloorDivide, from_affine(constraint.rest), make_constant(-a)));
  if (!quotient) return std::nullopt;
  return Bound{false, *quotient};
}

// The constraints (one conjunction per resulting interval) equivalent to `a X + f op 0`.
std::optional<std::vector<std::vector<Constraint>>> constraints_of(Comparison comparison, int64_t a,
                                                                   const AffineTerm& f) {
  auto negated = scale_affine(f, -1);
  auto minus_one = add_affine(f, AffineTerm{-1, {}});
  auto negated_minus_one = negated ? add_affine(*negated, AffineTerm{-1, {}}) : std::nullopt;
  if (!negated || !minus_one || !negated_minus_one || a == INT64_MIN) return std::nullopt;
  Constraint at_least{a, f};                 // aX + f >= 0
  Constraint above{a, *minus_one};           // aX + f > 0
  Constraint at_most{-a, *negated};          // aX + f <= 0
  Constraint below{-a, *negated_minus_one};  // aX + f < 0
  switch (comparison) {
    case Comparison::kGreaterEqual:
      return std::vector<std::vector<Constraint>>{{at_least}};
    case Comparison::kGreater:
      return std::vector<std::vector<Constraint>>{{above}};
    case Comparison::kLessEqual:
      return std::vector<std::vector<Constraint>>{{at_most}};
    case Comparison::kLess:
      return std::vector<std::vector<Constraint>>{{below}};
    case Comparison::kEqual:
      return std::vector<std::vector<Constraint>>{{at_least, at_most}};
    case Comparison::kNotEqual:
      return std::vector<std::vector<Constraint>>{{above}, {below}};
  }
  return std::nullopt;
}

// A bound on X = (j + offset) / d as a bound on j, for the sign of d on the rows considered:
//   d > 0: X >= L <=> j >= L * d - offset;  X <= U <=> j <= U * d + d - 1 - offset
//   d < 0: X >= L <=> j <= L * d - offset;  X <= U <=> j >= U * d + d + 1 - offset
std::optional<Bound> bound_on_j(const Bound& bound, const LinearInJ& linear, bool negative) {
  if (!linear.through_division) return bound;
  TermPtr product = make_binary(TermKind::kMultiply, from_affine(bound.value), linear.divisor);
  TermPtr shifted = bound.lower ? product
                                : make_binary(TermKind::kAdd,
                                              make_binary(TermKind::kAdd, product, linear.divisor),
                                              make_constant(negative ? 1 : -1));
  auto value = to_affine(make_binary(TermKind::kSubtract, shifted, from_affine(linear.offset)));
  if (!value) return std::nullopt;
  return Bound{bound.lower != negative, *value};
}

// The rows of one sign of the divisor of X: `condition` (nullptr = every row) and the sign.
struct DivisorCase {
  PredicatePtr condition;
  int sign = 1;
};

std::vector<DivisorCase> divisor_cases(const LinearInJ& linear) {
  if (!linear.through_division) return {{nullptr, 1}};
  auto divisor = to_affine(linear.divisor);
  if (divisor && divisor->is_constant()) {
    int64_t value = divisor->constant;
    return {{nullptr, value > 0 ? 1 : value < 0 ? -1 : 0}};
  }
  // A run-time divisor (chunk($c)): each sign on its own rows, so the proofs can use it.
  auto on = [&](Comparison comparison) {
    return make_compare(comparison, linear.divisor, make_constant(0));
  };
  return {{on(Comparison::kGreater), 1}, {on(Comparison::kEqual), 0}, {on(Comparison::kLess), -1}};
}

}  // namespace

IntervalSet solve_atom(const PredicatePtr& atom, std::vector<std::string>& notes) {
  ATTNCC_ASSERT(atom->kind == PredicateKind::kCompare && atom->terms.size() == 2,
                "solve_atom needs a comparison");
  if (!mentions(*atom, TermKind::kKeyIndex)) return row_condition_set(atom);

  LinearInJ linear;
  if (std::optional<std::string> reason = split(*atom, linear)) {
    return opaque(atom, *reason, notes);
  }
  if (linear.coefficient == 0) {
    // j cancels (`j - j + i >= 0`): a row condition on what is left.
    return row_condition_set(
        make_compare(atom->comparison, from_affine(linear.rest), make_constant(0), atom->span));
  }

  auto conjunctions = constraints_of(atom->comparison, linear.coefficient, linear.rest);
  if (!conjunctions) return opaque(atom, "a coefficient overflows", notes);
  std::string origin = "`" + print_mask(*atom) + "`";
  IntervalSet result;
  for (const DivisorCase& divisor : divisor_cases(linear)) {
    if (divisor.sign == 0) {
      // x / 0 == 0 (TermKind::kFloorDivide): X vanishes and `rest op 0` is a row condition.
      IntervalSet rows = row_condition_set(
          make_compare(atom->comparison, from_affine(linear.rest), make_constant(0), atom->span));
      for (Interval& interval : rows) {
        interval.row_condition = and_conditions(divisor.condition, interval.row_condition);
        result.push_back(interval);
      }
      continue;
    }
    for (const std::vector<Constraint>& conjunction : *conjunctions) {
      Interval interval;
      interval.row_condition = divisor.condition;
      for (const Constraint& constraint : conjunction) {
        std::optional<Bound> bound = solve(constraint);
        if (bound) bound = bound_on_j(*bound, linear, divisor.sign < 0);
        if (!bound) return opaque(atom, "a coefficient overflows", notes);
        (bound->lower ? interval.lower : interval.upper) = from_affine(bound->value);
      }
      enforce_monotone(interval, origin, notes, /*defer_unknown_signs=*/true);
      result.push_back(interval);
    }
  }
  return normalise_set(std::move(result), notes);
}

}  // namespace attncc::inf
