// The algebra of interval sets behind `&`, `|` and `!` in the interval form (DESIGN §3): pairwise
// intersection, union with merging of intervals that share a bound, complement, and the cap.
#include <algorithm>
#include <string>

#include "attncc/error.h"
#include "compiler/passes/interval_algebra.h"

namespace attncc::inf {
namespace {

void append_conjuncts(const PredicatePtr& condition, std::vector<PredicatePtr>& conjuncts) {
  if (condition->kind == PredicateKind::kAnd) {
    for (const PredicatePtr& operand : condition->operands) append_conjuncts(operand, conjuncts);
  } else if (condition->kind != PredicateKind::kTrue) {
    conjuncts.push_back(condition);
  }
}

Comparison negated(Comparison comparison) {
  switch (comparison) {
    case Comparison::kLess:
      return Comparison::kGreaterEqual;
    case Comparison::kLessEqual:
      return Comparison::kGreater;
    case Comparison::kGreater:
      return Comparison::kLessEqual;
    case Comparison::kGreaterEqual:
      return Comparison::kLess;
    case Comparison::kEqual:
      return Comparison::kNotEqual;
    case Comparison::kNotEqual:
      return Comparison::kEqual;
  }
  internal_error(__FILE__, __LINE__, "unknown comparison");
}

bool same_bound(const TermPtr& a, const TermPtr& b) {
  if (!a || !b) return !a && !b;
  return same_term(*a, *b);
}

// Null is the unbounded side: -inf for lower bounds, +inf for upper bounds.
TermPtr max_lower(const TermPtr& a, const TermPtr& b) {
  if (!a) return b;
  if (!b) return a;
  return maximum_of(a, b);
}
TermPtr min_upper(const TermPtr& a, const TermPtr& b) {
  if (!a) return b;
  if (!b) return a;
  return minimum_of(a, b);
}
TermPtr min_lower(const TermPtr& a, const TermPtr& b) {
  if (!a || !b) return nullptr;
  return minimum_of(a, b);
}
TermPtr max_upper(const TermPtr& a, const TermPtr& b) {
  if (!a || !b) return nullptr;
  return maximum_of(a, b);
}

bool statically_empty(const Interval& interval) {
  if (is_false(interval.row_condition)) return true;
  if (!interval.lower || !interval.upper) return false;
  std::optional<int64_t> width = constant_difference(interval.upper, interval.lower);
  return width && *width < 0;
}

bool covers_everything(const Interval& interval) {
  return interval.exact && !interval.row_condition && !interval.lower && !interval.upper;
}

// Merges `b` into `a` when their union is one interval of the same exactness; else false.
bool try_merge(Interval& a, const Interval& b) {
  if (!same_condition(a.row_condition, b.row_condition)) return false;
  bool same_lower = same_bound(a.lower, b.lower);
  bool same_upper = same_bound(a.upper, b.upper);
  if (same_lower && same_upper) {
    // Same region: an exact copy says every element is attended, which covers the other.
    a.exact = a.exact || b.exact;
    return true;
  }
  // Mixing exactness would turn an exact interval into a superset and lose FULL tiles.
  if (a.exact != b.exact) return false;
  if (same_lower) {
    a.upper = max_upper(a.upper, b.upper);  // [lo, h1] u [lo, h2] = [lo, max(h1, h2)]
    return true;
  }
  if (same_upper) {
    a.lower = min_lower(a.lower, b.lower);
    return true;
  }
  return false;
}

Interval hull_of(const IntervalSet& set) {
  Interval hull = set.front();
  for (const Interval& interval : set) {
    hull.lower = min_lower(hull.lower, interval.lower);
    hull.upper = max_upper(hull.upper, interval.upper);
    if (!same_condition(hull.row_condition, interval.row_condition)) hull.row_condition = nullptr;
  }
  hull.exact = false;
  return hull;
}

// Node count of a term, counting no further than `limit`.
size_t node_count(const Term& term, size_t limit) {
  size_t count = 1;
  for (const TermPtr& operand : term.operands) {
    if (count > limit) break;
    count += node_count(*operand, limit - count);
  }
  return count;
}

// Widens bounds over kMaxBoundNodes (a superset, so the interval becomes inexact).
void limit_bound_size(Interval& interval, std::vector<std::string>& notes) {
  for (TermPtr* bound : {&interval.lower, &interval.upper}) {
    if (!*bound || node_count(**bound, kMaxBoundNodes) <= kMaxBoundNodes) continue;
    add_note(notes, "a bound grew past " + std::to_string(kMaxBoundNodes) +
                        " nodes: widened to unbounded, a superset evaluated per element");
    *bound = nullptr;
    interval.exact = false;
  }
}

TermPtr shifted(const TermPtr& bound, int64_t delta) {
  return simplify_term(make_binary(TermKind::kAdd, bound, make_constant(delta)));
}

}  // namespace

bool is_false(const PredicatePtr& condition) {
  return condition && condition->kind == PredicateKind::kFalse;
}

bool same_condition(const PredicatePtr& a, const PredicatePtr& b) {
  if (!a || !b) return !a && !b;
  return same_predicate(*a, *b);
}

PredicatePtr and_conditions(const PredicatePtr& a, const PredicatePtr& b) {
  if (!a) return b;
  if (!b) return a;
  if (is_false(a) || is_false(b)) return make_boolean(false);
  std::vector<PredicatePtr> all;
  append_conjuncts(a, all);
  append_conjuncts(b, all);
  std::vector<PredicatePtr> kept;
  for (const PredicatePtr& conjunct : all) {
    bool duplicate = std::any_of(kept.begin(), kept.end(), [&](const PredicatePtr& other) {
      return same_predicate(*other, *conjunct);
    });
    if (duplicate) continue;
    PredicatePtr opposite = negate_condition(conjunct);
    bool contradiction = std::any_of(kept.begin(), kept.end(), [&](const PredicatePtr& other) {
      return same_predicate(*other, *opposite);
    });
    if (contradiction || conjunct->kind == PredicateKind::kFalse) return make_boolean(false);
    kept.push_back(conjunct);
  }
  if (kept.empty()) return nullptr;
  if (kept.size() == 1) return kept.front();
  return make_logical(PredicateKind::kAnd, kept);
}

PredicatePtr negate_condition(const PredicatePtr& condition) {
  if (!condition) return make_boolean(false);
  switch (condition->kind) {
    case PredicateKind::kTrue:
      return make_boolean(false);
    case PredicateKind::kFalse:
      return make_boolean(true);
    case PredicateKind::kCompare:
      return make_compare(negated(condition->comparison), condition->terms[0], condition->terms[1],
                          condition->span);
    case PredicateKind::kNot:
      return condition->operands[0];
    case PredicateKind::kAnd:
    case PredicateKind::kOr: {
      std::vector<PredicatePtr> operands;
      for (const PredicatePtr& operand : condition->operands) {
        operands.push_back(negate_condition(operand));
      }
      return make_logical(
          condition->kind == PredicateKind::kAnd ? PredicateKind::kOr : PredicateKind::kAnd,
          operands, condition->span);
    }
    case PredicateKind::kPrimitive:
      break;
  }
  return make_logical(PredicateKind::kNot, {condition}, condition->span);
}

IntervalSet normalise_set(IntervalSet set, std::vector<std::string>& notes) {
  for (Interval& interval : set) limit_bound_size(interval, notes);
  std::erase_if(set, statically_empty);
  for (size_t a = 0; a < set.size(); ++a) {
    for (size_t b = a + 1; b < set.size();) {
      if (try_merge(set[a], set[b])) {
        set.erase(set.begin() + static_cast<std::ptrdiff_t>(b));
        b = a + 1;  // a grew: earlier candidates may merge now
      } else {
        ++b;
      }
    }
  }
  auto everything = std::find_if(set.begin(), set.end(), covers_everything);
  if (everything != set.end()) return {*everything};
  if (set.size() > kMaxIntervals) {
    add_note(notes, std::to_string(set.size()) + " intervals exceed the limit of " +
                        std::to_string(kMaxIntervals) +
                        ": replaced by their hull, a superset evaluated per element");
    Interval hull = hull_of(set);
    limit_bound_size(hull, notes);
    return {hull};
  }
  return set;
}

IntervalSet intersect_sets(const IntervalSet& a, const IntervalSet& b,
                           std::vector<std::string>& notes) {
  IntervalSet result;
  for (const Interval& x : a) {
    for (const Interval& y : b) {
      Interval both;
      both.lower = max_lower(x.lower, y.lower);
      both.upper = min_upper(x.upper, y.upper);
      both.row_condition = and_conditions(x.row_condition, y.row_condition);
      both.exact = x.exact && y.exact;
      if (!statically_empty(both)) result.push_back(both);
    }
  }
  return normalise_set(std::move(result), notes);
}

IntervalSet unite_sets(const IntervalSet& a, const IntervalSet& b,
                       std::vector<std::string>& notes) {
  IntervalSet result = a;
  result.insert(result.end(), b.begin(), b.end());
  return normalise_set(std::move(result), notes);
}

IntervalSet complement_set(const IntervalSet& set, std::vector<std::string>& notes) {
  // !(C & lo <= j <= hi) = !C | (C & j <= lo - 1) | (C & j >= hi + 1); C is kept on the
  // bounded pieces (same set, since !C covers the rest) so the facts their bounds were proved
  // under stay with them. The complement of a union is the intersection of the complements.
  // An inexact interval X only bounds the attended part T of it (T inside X): the complement
  // of X is still exactly outside T, and on the rows of C anything else may be outside T too,
  // hence one more piece: every column, inexact, on the rows of C.
  IntervalSet result = {Interval{}};
  for (const Interval& interval : set) {
    IntervalSet pieces;
    if (interval.row_condition) {
      Interval other_rows;
      other_rows.row_condition = negate_condition(interval.row_condition);
      pieces.push_back(other_rows);
    }
    if (interval.lower) {
      Interval before;
      before.upper = shifted(interval.lower, -1);
      before.row_condition = interval.row_condition;
      pieces.push_back(before);
    }
    if (interval.upper) {
      Interval after;
      after.lower = shifted(interval.upper, 1);
      after.row_condition = interval.row_condition;
      pieces.push_back(after);
    }
    if (!interval.exact) {
      Interval unknown;
      unknown.row_condition = interval.row_condition;
      unknown.exact = false;
      pieces.push_back(unknown);
    }
    result = intersect_sets(result, normalise_set(std::move(pieces), notes), notes);
  }
  return result;
}

}  // namespace attncc::inf
