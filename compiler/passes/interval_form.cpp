// build_interval_form (the `analyse` step of DESIGN §3): the mask, primitives expanded, as a union
// of intervals of j per row i with monotone bounds; plus its printer and bound evaluation.
#include "attncc/interval_form.h"

#include <algorithm>
#include <string>

#include "attncc/error.h"
#include "attncc/mask_text.h"
#include "compiler/ir/primitives.h"
#include "compiler/passes/interval_algebra.h"
#include "compiler/passes/term_range.h"

namespace attncc {
namespace {

inf::IntervalSet build(const PredicatePtr& predicate, std::vector<std::string>& notes) {
  switch (predicate->kind) {
    case PredicateKind::kTrue:
      return {Interval{}};
    case PredicateKind::kFalse:
      return {};
    case PredicateKind::kPrimitive:
      return build(expand_primitive(*predicate), notes);
    case PredicateKind::kCompare:
      return inf::solve_atom(predicate, notes);
    case PredicateKind::kAnd:
    case PredicateKind::kOr: {
      inf::IntervalSet result = build(predicate->operands.front(), notes);
      for (size_t index = 1; index < predicate->operands.size(); ++index) {
        inf::IntervalSet operand = build(predicate->operands[index], notes);
        result = predicate->kind == PredicateKind::kAnd
                     ? inf::intersect_sets(result, operand, notes)
                     : inf::unite_sets(result, operand, notes);
      }
      return result;
    }
    case PredicateKind::kNot: {
      inf::IntervalSet operand = build(predicate->operands[0], notes);
      bool inexact = std::any_of(operand.begin(), operand.end(),
                                 [](const Interval& interval) { return !interval.exact; });
      if (inexact) {
        inf::add_note(
            notes, "`" + print_mask(*predicate) +
                       "` negates a superset: exact only outside it, evaluated per element inside");
      }
      return inf::complement_set(operand, notes);
    }
  }
  internal_error(__FILE__, __LINE__, "unknown predicate kind");
}

int64_t bound_at(const TermPtr& bound, const MaskContext& context, int64_t i, int64_t unbounded) {
  if (!bound) return unbounded;
  return evaluate(*bound, context, i, 0);
}

// Whether some term of `predicate` (a row condition) can leave +-kTermMagnitudeLimit.
bool predicate_may_overflow(const Predicate& predicate) {
  for (const std::vector<TermPtr>* terms : {&predicate.terms, &predicate.arguments}) {
    for (const TermPtr& term : *terms) {
      const Term* outside = nullptr;
      term_range_within(*term, kTermMagnitudeLimit, &outside);
      if (outside != nullptr) return true;
    }
  }
  for (const PredicatePtr& operand : predicate.operands) {
    if (predicate_may_overflow(*operand)) return true;
  }
  return false;
}

// The check pass keeps the mask's own terms within +-2^62, but solving an atom sums the
// constants of both sides (j - c <= i + c gives j <= i + 2c), which can approach 2^63; the
// kernels subtract tile offsets from bounds. A bound or row condition that can leave +-2^62 is
// dropped (unbounded, every row) and the interval marked a superset: still sound, evaluated per
// element, and no kernel arithmetic on it can overflow.
void drop_bounds_that_may_overflow(Interval& interval, std::vector<std::string>& notes) {
  for (TermPtr* bound : {&interval.lower, &interval.upper}) {
    if (!*bound) continue;
    const Term* outside = nullptr;
    term_range_within(**bound, kTermMagnitudeLimit, &outside);
    if (outside == nullptr) continue;
    notes.push_back("bound `" + print_term(**bound) +
                    "` can leave +-2^62: widened to unbounded, a superset evaluated per element");
    bound->reset();
    interval.exact = false;
  }
  if (interval.row_condition && predicate_may_overflow(*interval.row_condition)) {
    notes.push_back("row condition `" + print_mask(*interval.row_condition) +
                    "` can leave +-2^62: dropped, a superset evaluated per element");
    interval.row_condition.reset();
    interval.exact = false;
  }
}

}  // namespace

bool IntervalForm::exact() const {
  return std::all_of(intervals.begin(), intervals.end(),
                     [](const Interval& interval) { return interval.exact; });
}

IntervalForm build_interval_form(const PredicatePtr& mask) {
  ATTNCC_ASSERT(mask != nullptr, "build_interval_form needs a mask");
  IntervalForm form;
  form.intervals = build(expand_primitives(mask), form.notes);
  // Every step keeps bounds monotone (solve_atom proves them; max, min, +-1 preserve it), but
  // a hull may drop the row condition a proof relied on: re-prove against the final conditions.
  for (Interval& interval : form.intervals) {
    drop_bounds_that_may_overflow(interval, form.notes);
    inf::enforce_monotone(interval, "the interval form", form.notes);
    ATTNCC_ASSERT(
        !interval.row_condition || !mentions(*interval.row_condition, TermKind::kKeyIndex),
        "a row condition mentions j");
  }
  return form;
}

std::string print_interval_form(const IntervalForm& form) {
  if (form.intervals.empty()) return "empty\n";
  std::string text;
  for (const Interval& interval : form.intervals) {
    text += "[";
    text += interval.lower ? print_term(*interval.lower) : "-inf";
    text += ", ";
    text += interval.upper ? print_term(*interval.upper) : "+inf";
    text += "]";
    if (interval.row_condition) text += " if " + print_mask(*interval.row_condition);
    text += interval.exact ? " exact\n" : " superset\n";
  }
  return text;
}

int64_t lower_bound_at(const Interval& interval, const MaskContext& context, int64_t i) {
  return bound_at(interval.lower, context, i, INT64_MIN / 2);
}

int64_t upper_bound_at(const Interval& interval, const MaskContext& context, int64_t i) {
  return bound_at(interval.upper, context, i, INT64_MAX / 2);
}

}  // namespace attncc
