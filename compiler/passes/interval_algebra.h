// Private header of the interval-form pass (DESIGN §3): affine terms, atoms solved for j, the
// algebra of interval sets and the monotonicity proof; used by interval_form.cpp and the tile API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attncc/interval_form.h"
#include "attncc/mask_expr.h"

namespace attncc::inf {

/// Most intervals a set keeps; more are replaced by their hull (a superset), so tile iteration
/// stays a handful of comparisons per tile.
inline constexpr size_t kMaxIntervals = 8;

/// Largest bound kept, in term nodes; a larger one (a deep nest of min/max from many `&`, `|`
/// and hulls) is widened to unbounded so the analysis stays fast on pathological masks. Bounds
/// of real masks have a handful of nodes.
inline constexpr size_t kMaxBoundNodes = 128;

/// A union of intervals (the working representation of IntervalForm::intervals).
using IntervalSet = std::vector<Interval>;

/// `constant + sum(coefficient * atom)`. Invariant: atoms are pairwise distinct (same_term), no
/// coefficient is 0, and no atom is itself a constant, a sum, a difference, a negation or a
/// product with a constant (those are folded into the coefficients).
struct AffineTerm {
  int64_t constant = 0;
  std::vector<std::pair<TermPtr, int64_t>> atoms;

  bool is_constant() const { return atoms.empty(); }
};

/// Linear view of a term; nullopt if a product of two non-constant factors mentions j, or a
/// coefficient overflows int64. Sub-terms that are not affine (i / 4, min(a, b), $s * i) become
/// atoms, with their operands simplified and constant operations folded.
std::optional<AffineTerm> to_affine(const TermPtr& term);

/// The term of an affine form: positive atoms first, constant last (`i + Lk - Lq - 256`).
TermPtr from_affine(const AffineTerm& affine);

/// Sum and scaled copy; nullopt on int64 overflow.
std::optional<AffineTerm> add_affine(const AffineTerm& a, const AffineTerm& b);
std::optional<AffineTerm> scale_affine(const AffineTerm& a, int64_t factor);

/// Same value for every (i, j), constants folded, affine parts collected (`i + 0` -> `i`).
TermPtr simplify_term(const TermPtr& term);

/// a - b when it is the same constant for every (i, j) (e.g. `i + 2` and `i - 1`: 3).
std::optional<int64_t> constant_difference(const TermPtr& a, const TermPtr& b);

/// max(a, b) / min(a, b), folded when one side is provably the larger (both non-null).
TermPtr maximum_of(const TermPtr& a, const TermPtr& b);
TermPtr minimum_of(const TermPtr& a, const TermPtr& b);

/// Row conditions: nullptr means "every row". and_conditions flattens, drops duplicates and
/// returns `false` for a conjunction holding an atom and its negation; negate_condition pushes
/// `!` into comparisons (`a < b` -> `a >= b`) and through `&`/`|` (De Morgan).
PredicatePtr and_conditions(const PredicatePtr& a, const PredicatePtr& b);
PredicatePtr negate_condition(const PredicatePtr& condition);
bool is_false(const PredicatePtr& condition);
bool same_condition(const PredicatePtr& a, const PredicatePtr& b);

/// The intervals of one comparison atom (DESIGN §3 "every atom is solved for j"): a bound on j,
/// a row condition, or, when j cannot be isolated, one unbounded inexact interval and a note.
IntervalSet solve_atom(const PredicatePtr& atom, std::vector<std::string>& notes);

/// Set algebra; every result is normalised (see normalise_set). Sound by construction: the
/// result contains the exact result, and its exact intervals lie inside it.
IntervalSet intersect_sets(const IntervalSet& a, const IntervalSet& b,
                           std::vector<std::string>& notes);
IntervalSet unite_sets(const IntervalSet& a, const IntervalSet& b, std::vector<std::string>& notes);
IntervalSet complement_set(const IntervalSet& set, std::vector<std::string>& notes);

/// Drops empty intervals, merges intervals with the same row condition and exactness whose lower
/// (or upper) bounds are equal, and replaces more than kMaxIntervals by their inexact hull.
IntervalSet normalise_set(IntervalSet set, std::vector<std::string>& notes);

/// Whether `bound` is provably non-decreasing in i on the rows where `row_condition` holds
/// (sign analysis; row-independent conjuncts of the condition such as `$c > 0` are facts).
/// `optimistic` assumes helpful signs for row-independent terms whose sign is unknown.
bool is_non_decreasing(const Term& bound, const PredicatePtr& row_condition,
                       bool optimistic = false);

/// Widens every bound of `interval` that is not provably non-decreasing (and marks it inexact),
/// with a note naming `origin`. The tile API relies on this: bounds it keeps are monotone.
/// With `defer_unknown_signs`, a bound that only lacks the sign of a row-independent term
/// (`i * $s`) is kept: a later `& $s >= 0` may supply it, and build_interval_form re-proves
/// every bound against the final row conditions without deferring. Widening late is sound
/// because set operations are pointwise; only the tile API needs monotone bounds.
void enforce_monotone(Interval& interval, std::string_view origin, std::vector<std::string>& notes,
                      bool defer_unknown_signs = false);

/// Appends `note` unless it is already there.
void add_note(std::vector<std::string>& notes, std::string note);

}  // namespace attncc::inf
