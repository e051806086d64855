// The monotonicity proof of interval bounds (DESIGN §3): structural sign analysis showing a bound
// is non-decreasing in i, which the tile iteration needs to evaluate bounds at tile corners only.
#include "attncc/error.h"
#include "attncc/mask_text.h"
#include "compiler/passes/interval_algebra.h"

namespace attncc::inf {
namespace {

// Which ways a term can move as i grows (both true: it does not depend on i).
struct Direction {
  bool non_decreasing = false;
  bool non_increasing = false;
};

Direction flipped(Direction direction) {
  return {direction.non_increasing, direction.non_decreasing};
}

Direction both_ways(Direction a, Direction b) {
  return {a.non_decreasing && b.non_decreasing, a.non_increasing && b.non_increasing};
}

// What is known of a row-independent term's sign.
enum class Sign { kUnknown, kPositive, kNonNegative, kZero, kNonPositive, kNegative };

bool at_least_zero(Sign sign) {
  return sign == Sign::kPositive || sign == Sign::kNonNegative || sign == Sign::kZero;
}
bool at_most_zero(Sign sign) {
  return sign == Sign::kNegative || sign == Sign::kNonPositive || sign == Sign::kZero;
}

Sign sign_of_constant(int64_t value) {
  return value > 0 ? Sign::kPositive : value < 0 ? Sign::kNegative : Sign::kZero;
}

// A fact `term <sign>` from a row-independent conjunct of the row condition (`$c > 0`).
struct Fact {
  TermPtr term;
  Sign sign;
};

// `t op k` (k a constant) as a sign of t, if it gives one.
Sign sign_from_bound(Comparison comparison, int64_t k) {
  switch (comparison) {
    case Comparison::kGreater:
      return k >= 0 ? Sign::kPositive : k >= -1 ? Sign::kNonNegative : Sign::kUnknown;
    case Comparison::kGreaterEqual:
      return k >= 1 ? Sign::kPositive : k >= 0 ? Sign::kNonNegative : Sign::kUnknown;
    case Comparison::kLess:
      return k <= 0 ? Sign::kNegative : k <= 1 ? Sign::kNonPositive : Sign::kUnknown;
    case Comparison::kLessEqual:
      return k <= -1 ? Sign::kNegative : k <= 0 ? Sign::kNonPositive : Sign::kUnknown;
    case Comparison::kEqual:
      return sign_of_constant(k);
    case Comparison::kNotEqual:
      return Sign::kUnknown;
  }
  return Sign::kUnknown;
}

Comparison mirrored(Comparison comparison) {
  switch (comparison) {
    case Comparison::kLess:
      return Comparison::kGreater;
    case Comparison::kLessEqual:
      return Comparison::kGreaterEqual;
    case Comparison::kGreater:
      return Comparison::kLess;
    case Comparison::kGreaterEqual:
      return Comparison::kLessEqual;
    default:
      return comparison;
  }
}

void collect_facts(const PredicatePtr& condition, std::vector<Fact>& facts) {
  if (!condition) return;
  if (condition->kind == PredicateKind::kAnd) {
    for (const PredicatePtr& operand : condition->operands) collect_facts(operand, facts);
    return;
  }
  // Only row-independent facts are usable: the tile API skips an interval on every row when
  // such a conjunct is false, so the proof may assume it.
  if (condition->kind != PredicateKind::kCompare || mentions(*condition, TermKind::kQueryIndex) ||
      mentions(*condition, TermKind::kKeyIndex)) {
    return;
  }
  auto left = to_affine(condition->terms[0]);
  auto right = to_affine(condition->terms[1]);
  if (!left || !right) return;
  if (right->is_constant() && !left->is_constant()) {
    Sign sign = sign_from_bound(condition->comparison, right->constant);
    if (sign != Sign::kUnknown) facts.push_back({simplify_term(condition->terms[0]), sign});
  } else if (left->is_constant() && !right->is_constant()) {
    Sign sign = sign_from_bound(mirrored(condition->comparison), left->constant);
    if (sign != Sign::kUnknown) facts.push_back({simplify_term(condition->terms[1]), sign});
  }
}

Sign sign_of(const Term& term, const std::vector<Fact>& facts) {
  for (const Fact& fact : facts) {
    if (same_term(*fact.term, term)) return fact.sign;
  }
  switch (term.kind) {
    case TermKind::kConstant:
      return sign_of_constant(term.value);
    case TermKind::kQueryLength:
    case TermKind::kKeyLength:
      return Sign::kNonNegative;
    case TermKind::kNegate: {
      Sign inner = sign_of(*term.operands[0], facts);
      switch (inner) {
        case Sign::kPositive:
          return Sign::kNegative;
        case Sign::kNonNegative:
          return Sign::kNonPositive;
        case Sign::kNonPositive:
          return Sign::kNonNegative;
        case Sign::kNegative:
          return Sign::kPositive;
        default:
          return inner;
      }
    }
    case TermKind::kMultiply: {
      Sign a = sign_of(*term.operands[0], facts);
      Sign b = sign_of(*term.operands[1], facts);
      if (a == Sign::kUnknown || b == Sign::kUnknown) return Sign::kUnknown;
      if (a == Sign::kZero || b == Sign::kZero) return Sign::kZero;
      bool same = at_least_zero(a) == at_least_zero(b);
      bool strict = (a == Sign::kPositive || a == Sign::kNegative) &&
                    (b == Sign::kPositive || b == Sign::kNegative);
      if (same) return strict ? Sign::kPositive : Sign::kNonNegative;
      return strict ? Sign::kNegative : Sign::kNonPositive;
    }
    default:
      return Sign::kUnknown;
  }
}

// `optimistic`: a row-independent factor or divisor of unknown sign is assumed to have the sign
// that makes the bound monotone (the proof is then redone once the row condition is final).
Direction direction_of(const Term& term, const std::vector<Fact>& facts, bool optimistic) {
  if (!mentions(term, TermKind::kQueryIndex)) return {true, true};
  if (mentions(term, TermKind::kKeyIndex)) return {};
  switch (term.kind) {
    case TermKind::kQueryIndex:
      return {true, false};
    case TermKind::kNegate:
      return flipped(direction_of(*term.operands[0], facts, optimistic));
    case TermKind::kAdd:
      return both_ways(direction_of(*term.operands[0], facts, optimistic),
                       direction_of(*term.operands[1], facts, optimistic));
    case TermKind::kSubtract:
      return both_ways(direction_of(*term.operands[0], facts, optimistic),
                       flipped(direction_of(*term.operands[1], facts, optimistic)));
    case TermKind::kMinimum:
    case TermKind::kMaximum:
      return both_ways(direction_of(*term.operands[0], facts, optimistic),
                       direction_of(*term.operands[1], facts, optimistic));
    case TermKind::kMultiply: {
      // One factor must be row-independent with a known sign; it scales the other.
      for (int fixed = 0; fixed < 2; ++fixed) {
        const Term& factor = *term.operands[fixed];
        if (mentions(factor, TermKind::kQueryIndex)) continue;
        Sign sign = sign_of(factor, facts);
        Direction other = direction_of(*term.operands[1 - fixed], facts, optimistic);
        if (sign == Sign::kZero) return {true, true};
        if (at_least_zero(sign)) return other;
        if (at_most_zero(sign)) return flipped(other);
        if (optimistic) return other;
      }
      return {};
    }
    case TermKind::kFloorDivide: {
      // Floor division by a fixed positive (negative) number keeps (flips) the order.
      const Term& divisor = *term.operands[1];
      if (mentions(divisor, TermKind::kQueryIndex)) return {};
      Sign sign = sign_of(divisor, facts);
      Direction numerator = direction_of(*term.operands[0], facts, optimistic);
      if (sign == Sign::kPositive) return numerator;
      if (sign == Sign::kNegative) return flipped(numerator);
      return optimistic ? numerator : Direction{};
    }
    default:
      return {};
  }
}

}  // namespace

bool is_non_decreasing(const Term& bound, const PredicatePtr& row_condition, bool optimistic) {
  std::vector<Fact> facts;
  collect_facts(row_condition, facts);
  return direction_of(bound, facts, optimistic).non_decreasing;
}

void enforce_monotone(Interval& interval, std::string_view origin, std::vector<std::string>& notes,
                      bool defer_unknown_signs) {
  for (bool lower : {true, false}) {
    TermPtr& bound = lower ? interval.lower : interval.upper;
    if (!bound || is_non_decreasing(*bound, interval.row_condition, defer_unknown_signs)) continue;
    add_note(notes, std::string(lower ? "lower" : "upper") + " bound `" + print_term(*bound) +
                        "` of " + std::string(origin) +
                        " is not provably non-decreasing in i: widened to " +
                        (lower ? "-inf" : "+inf") + ", a superset evaluated per element");
    bound = nullptr;
    interval.exact = false;
  }
}

void add_note(std::vector<std::string>& notes, std::string note) {
  for (const std::string& existing : notes) {
    if (existing == note) return;
  }
  notes.push_back(std::move(note));
}

}  // namespace attncc::inf
