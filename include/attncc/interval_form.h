// Interval normal form (DESIGN §3): a mask as a union of intervals [lo_t(i), hi_t(i)] of key
// columns per query row, with bounds monotone in i, and the tile iteration derived from it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attncc/mask_expr.h"

namespace attncc {

/// One interval of attended keys of row i: lower(i) <= j <= upper(i), on the rows where
/// `row_condition` holds. Bounds are terms over i, Lq, Lk, parameters and constants only (no j),
/// monotone non-decreasing in i (proved when the form was built).
struct Interval {
  TermPtr lower;                 ///< nullptr = unbounded below
  TermPtr upper;                 ///< nullptr = unbounded above
  PredicatePtr row_condition;    ///< nullptr = every row; mentions no j
  /// true: (i, j) is attended iff it lies in the interval (given the row condition).
  /// false: the interval is only a superset; elements inside need M(i, j) evaluated.
  bool exact = true;
};

/// The mask as a union of intervals. Invariant (tested by brute force): if M(i, j) then (i, j)
/// lies in some interval; if (i, j) lies in an exact interval then M(i, j).
struct IntervalForm {
  std::vector<Interval> intervals;  ///< empty = nothing attended
  std::vector<std::string> notes;   ///< why parts are inexact (opaque atoms, failed proofs)

  /// No interval needs per-element evaluation: FULL tiles can exist.
  bool exact() const;
};

/// Builds the interval form of a (checked) mask: primitives expanded, atoms solved for j,
/// `&` intersects, `|` unions (merging intervals with equal lower or upper bound), `!`
/// complements. Atoms that cannot be solved for j become an inexact unbounded interval; bounds
/// whose monotonicity cannot be proved are widened to unbounded and marked inexact.
IntervalForm build_interval_form(const PredicatePtr& mask);

/// Text of the form, one interval per line: `[lo, hi] if cond (exact|superset)`.
std::string print_interval_form(const IntervalForm& form);

/// Value of a bound at row i; lower == nullptr gives INT64_MIN / 2, upper == nullptr INT64_MAX / 2.
int64_t lower_bound_at(const Interval& interval, const MaskContext& context, int64_t i);
int64_t upper_bound_at(const Interval& interval, const MaskContext& context, int64_t i);

enum class TileClass { kSkipped, kPartial, kFull };

/// Inclusive range of tile indices.
struct TileRange {
  int64_t first = 0;
  int64_t last = -1;  ///< last < first: empty
  bool empty() const { return last < first; }
};

/// Key tiles (of `tile_k` columns, tile t = columns [t*tile_k, (t+1)*tile_k) ∩ [0, Lk)) that
/// the query rows [i0, i1] must visit: the union over intervals of [lo(i0), hi(i1)], clamped to
/// [0, Lk), as sorted disjoint ranges. Rows outside [0, Lq) are ignored.
std::vector<TileRange> key_tiles_to_visit(const IntervalForm& form, const MaskContext& context,
                                          int64_t i0, int64_t i1, int64_t tile_k);

/// FULL if every (i, j) of rows [i0, i1] x columns [j0, j1] is attended by one exact interval
/// (no per-element mask needed); SKIPPED if no interval reaches the tile; else PARTIAL.
TileClass classify_tile(const IntervalForm& form, const MaskContext& context, int64_t i0,
                        int64_t i1, int64_t j0, int64_t j1);

/// For the backward: the query tiles (of `tile_q` rows) whose rows may attend into columns
/// [j0, j1]: a superset, found by binary search on the monotone bounds. Empty if none.
TileRange query_tiles_reaching(const IntervalForm& form, const MaskContext& context, int64_t j0,
                               int64_t j1, int64_t tile_q);

}  // namespace attncc
