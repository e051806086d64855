// Tile iteration from the interval form, kernel side (DESIGN §3): which key tiles a query tile
// visits, which tiles need no per-element mask, and per-row attended ranges. The generated Mask
// supplies monotone bounds lower(t, i) / upper(t, i) and row conditions; see lower_to_cpu.cpp.
#pragma once

#include "common/numeric.h"

namespace attncc {

/// Inclusive ranges of key tiles, sorted and disjoint; at most one per interval.
template <int kCapacity>
struct TileRanges {
  kernel_int first[kCapacity > 0 ? kCapacity : 1];
  kernel_int last[kCapacity > 0 ? kCapacity : 1];
  int count = 0;
};

/// Whether interval t's row condition holds on some (every = false) / every (every = true) row
/// of [i0, i1]; rows are few (one tile), and row conditions are rare and cheap.
template <typename Mask>
ATTNCC_HOST_DEVICE inline bool row_condition_over(int t, const DocumentView& document,
                                                  kernel_int i0, kernel_int i1, bool every) {
  if (!Mask::has_row_condition(t)) return true;
  for (kernel_int i = i0; i <= i1; ++i) {
    bool holds = Mask::row_condition(t, i, document);
    if (every && !holds) return false;
    if (!every && holds) return true;
  }
  return every;
}

/// Interval t's attended columns over query rows [i0, i1] (inside [0, Lq)): [lower(i0),
/// upper(i1)] clamped to [0, Lk), when its row condition holds on some row of the tile and the
/// range is not empty (else false).
template <typename Mask>
ATTNCC_HOST_DEVICE inline bool interval_columns(int t, const DocumentView& document,
                                                kernel_int i0, kernel_int i1, kernel_int& lo,
                                                kernel_int& hi) {
  if (!row_condition_over<Mask>(t, document, i0, i1, false)) return false;
  lo = max_int(Mask::lower(t, i0, document), 0);
  hi = min_int(Mask::upper(t, i1, document), document.key_length - 1);
  return lo <= hi;
}

/// Key tiles that query rows [i0, i1] (inside [0, Lq)) visit: for every interval whose row
/// condition holds somewhere in the tile, columns [lower(i0), upper(i1)] clamped to [0, Lk).
/// Monotone bounds make this the exact hull of the attended columns of the tile's rows.
template <typename Mask>
ATTNCC_HOST_DEVICE inline TileRanges<Mask::kIntervalCount> key_tiles_to_visit(
    const DocumentView& document, kernel_int i0, kernel_int i1, kernel_int tile_k) {
  TileRanges<Mask::kIntervalCount> ranges;
  for (int t = 0; t < Mask::kIntervalCount; ++t) {
    kernel_int lo;
    kernel_int hi;
    if (!interval_columns<Mask>(t, document, i0, i1, lo, hi)) continue;
    kernel_int first = lo / tile_k;
    kernel_int last = hi / tile_k;
    // Insert keeping ranges sorted by first tile, then merge overlapping or adjacent ones.
    // (One interval needs no shifting; spelling that out also spares GCC's -Warray-bounds a
    // subscript it cannot bound.)
    int at = ranges.count;
    if constexpr (Mask::kIntervalCount > 1) {
      while (at > 0 && ranges.first[at - 1] > first) {
        ranges.first[at] = ranges.first[at - 1];
        ranges.last[at] = ranges.last[at - 1];
        --at;
      }
    }
    ranges.first[at] = first;
    ranges.last[at] = last;
    ++ranges.count;
  }
  // One range needs no merging (and, with no index computed at run time, a GPU kernel keeps
  // the ranges of a one-interval mask in registers).
  if constexpr (Mask::kIntervalCount > 1) {
    int merged = 0;
    for (int index = 0; index < ranges.count; ++index) {
      if (merged > 0 && ranges.first[index] <= ranges.last[merged - 1] + 1) {
        ranges.last[merged - 1] = max_int(ranges.last[merged - 1], ranges.last[index]);
      } else {
        ranges.first[merged] = ranges.first[index];
        ranges.last[merged] = ranges.last[index];
        ++merged;
      }
    }
    ranges.count = merged;
  }
  return ranges;
}

/// Whether query rows [i0, i1] visit the key tile of columns [j0, j1] (a whole tile, inside
/// [0, Lk)), i.e. whether key_tiles_to_visit lists it, without building the ranges: the backward
/// asks this of every query tile that may reach a key tile, and GPU arrays indexed at run time
/// would live in local memory. The overlap test needs no division either.
template <typename Mask>
ATTNCC_HOST_DEVICE inline bool visits_key_tile(const DocumentView& document, kernel_int i0,
                                               kernel_int i1, kernel_int j0, kernel_int j1) {
  bool visited = false;
  for (int t = 0; t < Mask::kIntervalCount; ++t) {
    kernel_int lo;
    kernel_int hi;
    if (interval_columns<Mask>(t, document, i0, i1, lo, hi)) visited |= lo <= j1 && j0 <= hi;
  }
  return visited;
}

/// Query tiles (of `tile_q` rows) whose rows may reach key columns [j0, j1] (inside [0, Lk)): the
/// hull over intervals of [first tile whose last row has upper >= j0, last tile whose first row
/// has lower <= j1], by binary search on the monotone bounds (row conditions ignored, so a
/// superset; callers confirm each tile with key_tiles_to_visit). first > last: none.
template <typename Mask>
ATTNCC_HOST_DEVICE inline void query_tiles_reaching(const DocumentView& document, kernel_int j0,
                                                    kernel_int j1, kernel_int tile_q,
                                                    kernel_int& first, kernel_int& last) {
  const kernel_int tiles = (document.query_length + tile_q - 1) / tile_q;
  first = tiles;
  last = -1;
  for (int t = 0; t < Mask::kIntervalCount; ++t) {
    // Smallest tile whose last row reaches j0 (upper is non-decreasing in i).
    kernel_int low = 0, high = tiles;
    while (low < high) {
      kernel_int middle = low + (high - low) / 2;
      kernel_int last_row = min_int(middle * tile_q + tile_q - 1, document.query_length - 1);
      if (Mask::upper(t, last_row, document) >= j0) {
        high = middle;
      } else {
        low = middle + 1;
      }
    }
    const kernel_int interval_first = low;
    // Smallest tile whose first row starts past j1 (lower is non-decreasing), minus one.
    low = interval_first;
    high = tiles;
    while (low < high) {
      kernel_int middle = low + (high - low) / 2;
      if (Mask::lower(t, middle * tile_q, document) > j1) {
        high = middle;
      } else {
        low = middle + 1;
      }
    }
    const kernel_int interval_last = low - 1;
    if (interval_first > interval_last) continue;
    first = min_int(first, interval_first);
    last = max_int(last, interval_last);
  }
}

/// FULL tile: one exact interval covers every (i, j) of [i0, i1] x [j0, j1] on every row, so
/// the per-element mask can be skipped.
template <typename Mask>
ATTNCC_HOST_DEVICE inline bool tile_is_full(const DocumentView& document, kernel_int i0,
                                            kernel_int i1, kernel_int j0, kernel_int j1) {
  for (int t = 0; t < Mask::kIntervalCount; ++t) {
    if (!Mask::interval_exact(t)) continue;
    if (Mask::lower(t, i1, document) <= j0 && Mask::upper(t, i0, document) >= j1 &&
        row_condition_over<Mask>(t, document, i0, i1, true)) {
      return true;
    }
  }
  return false;
}

/// Attended columns of row i as up to kIntervalCount ranges [lo, hi] (for exact masks the union
/// is exactly M(i, .); lo > hi = empty). Used to mask PARTIAL tiles without evaluating the
/// predicate per element.
template <typename Mask>
struct RowRanges {
  kernel_int lo[Mask::kIntervalCount > 0 ? Mask::kIntervalCount : 1];
  kernel_int hi[Mask::kIntervalCount > 0 ? Mask::kIntervalCount : 1];

  ATTNCC_HOST_DEVICE RowRanges(const DocumentView& document, kernel_int i) {
    for (int t = 0; t < Mask::kIntervalCount; ++t) {
      bool on = Mask::row_condition(t, i, document);
      lo[t] = on ? Mask::lower(t, i, document) : kUnboundedAbove;
      hi[t] = on ? Mask::upper(t, i, document) : kUnboundedBelow;
    }
  }
  ATTNCC_HOST_DEVICE bool contains(kernel_int j) const {
    bool inside = false;
    for (int t = 0; t < Mask::kIntervalCount; ++t) inside |= (lo[t] <= j) & (j <= hi[t]);
    return inside;
  }
};

/// Row i's attended columns of one key tile [j0, j0 + columns) as 32-bit tile-local ranges
/// [lo, hi] (lo in [0, columns], hi in [-1, columns); lo > hi = empty), for exact masks; the
/// GPU kernels test every element of a tile against them (tile_attends), and 32-bit compares
/// against constant column indices leave registers to the accumulators that 64-bit column
/// numbers would take. Non-exact masks keep nothing here: tile_attends asks the predicate.
template <typename Mask>
struct TileRowRanges {
  int lo[Mask::kIntervalCount > 0 ? Mask::kIntervalCount : 1];
  int hi[Mask::kIntervalCount > 0 ? Mask::kIntervalCount : 1];

  ATTNCC_HOST_DEVICE void set(const DocumentView& document, kernel_int i, kernel_int j0,
                              kernel_int columns) {
    if constexpr (Mask::kExact) {
      for (int t = 0; t < Mask::kIntervalCount; ++t) {
        const bool on = Mask::row_condition(t, i, document);
        // Clamped into [0, columns] and [-1, columns - 1] in 64 bits first, so unbounded ends
        // (kUnboundedAbove/Below) and far columns fit an int.
        lo[t] = on ? int(min_int(max_int(Mask::lower(t, i, document) - j0, 0), columns)) : 1;
        hi[t] = on ? int(max_int(min_int(Mask::upper(t, i, document) - j0, columns - 1), -1)) : 0;
      }
    } else {
      (void)document;
      (void)i;
      (void)j0;
      (void)columns;
    }
  }
  ATTNCC_HOST_DEVICE bool contains(int column) const {
    bool inside = false;
    for (int t = 0; t < Mask::kIntervalCount; ++t) inside |= (lo[t] <= column) & (column <= hi[t]);
    return inside;
  }
};

/// M(i, j0 + column) inside key tile [j0, j0 + columns) of a GPU kernel, false past the
/// document's last key: `ranges` set for row i and this tile; `full` = tile_is_full (non-exact
/// masks then skip the predicate).
template <typename Mask>
ATTNCC_HOST_DEVICE inline bool tile_attends(const TileRowRanges<Mask>& ranges,
                                            const DocumentView& document, kernel_int i,
                                            kernel_int j0, int column, kernel_int columns,
                                            bool full) {
  if constexpr (Mask::kExact) {
    (void)document;
    (void)i;
    (void)j0;
    (void)columns;
    (void)full;
    return ranges.contains(column);
  } else {
    (void)ranges;
    return column < columns && (full || Mask::attends(i, j0 + column, document));
  }
}

/// M(i, j) for a PARTIAL tile: through the row ranges when the form is exact, else the predicate.
template <typename Mask>
ATTNCC_HOST_DEVICE inline bool attends(const RowRanges<Mask>& ranges, const DocumentView& document,
                                       kernel_int i, kernel_int j) {
  if constexpr (Mask::kExact) {
    return ranges.contains(j);
  } else {
    return Mask::attends(i, j, document);
  }
}

}  // namespace attncc
