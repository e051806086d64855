// Tile iteration from the interval form (DESIGN §3): which key tiles a query tile visits, which
// tiles need no per-element mask, and (backward) which query tiles reach a key tile.
#include <algorithm>

#include "attncc/error.h"
#include "attncc/interval_form.h"

namespace attncc {
namespace {

// Inclusive range of rows or columns; last < first is empty.
struct Span {
  int64_t first = 0;
  int64_t last = -1;
  bool empty() const { return last < first; }
};

Span clamped(int64_t first, int64_t last, int64_t length) {
  return {std::max<int64_t>(first, 0), std::min<int64_t>(last, length - 1)};
}

void require_positive(int64_t tile, const char* name) {
  if (tile <= 0) {
    throw user_error(ErrorCode::kInvalidArgument, name,
                     "tile size must be positive; got " + std::to_string(tile));
  }
}

bool holds(const Interval& interval, const MaskContext& context, int64_t i) {
  return !interval.row_condition || evaluate(*interval.row_condition, context, i, 0);
}

// The first and last rows of `rows` where the interval's row condition holds (empty if none).
// A row-independent condition is evaluated once.
Span rows_where(const Interval& interval, const MaskContext& context, Span rows) {
  if (rows.empty() || !interval.row_condition) return rows;
  if (!mentions(*interval.row_condition, TermKind::kQueryIndex)) {
    return holds(interval, context, rows.first) ? rows : Span{};
  }
  while (!rows.empty() && !holds(interval, context, rows.first)) ++rows.first;
  while (!rows.empty() && !holds(interval, context, rows.last)) --rows.last;
  return rows;
}

bool holds_on_all(const Interval& interval, const MaskContext& context, Span rows) {
  if (!interval.row_condition) return true;
  if (!mentions(*interval.row_condition, TermKind::kQueryIndex)) {
    return holds(interval, context, rows.first);
  }
  for (int64_t i = rows.first; i <= rows.last; ++i) {
    if (!holds(interval, context, i)) return false;
  }
  return true;
}

// Columns the interval may attend from rows `rows`, clamped to [0, Lk): by monotonicity the
// union over rows r of [lo(r), hi(r)] lies inside [lo(first), hi(last)].
Span columns_reached(const Interval& interval, const MaskContext& context, Span rows) {
  Span active = rows_where(interval, context, rows);
  if (active.empty()) return {};
  return clamped(lower_bound_at(interval, context, active.first),
                 upper_bound_at(interval, context, active.last), context.key_length);
}

// Smallest row in `rows` with predicate true, assuming false...false true...true; else last+1.
template <typename Test>
int64_t first_row_where(Span rows, Test&& predicate) {
  int64_t low = rows.first;
  int64_t high = rows.last + 1;
  while (low < high) {
    int64_t middle = low + (high - low) / 2;
    if (predicate(middle)) {
      high = middle;
    } else {
      low = middle + 1;
    }
  }
  return low;
}

}  // namespace

std::vector<TileRange> key_tiles_to_visit(const IntervalForm& form, const MaskContext& context,
                                          int64_t i0, int64_t i1, int64_t tile_k) {
  require_positive(tile_k, "tile_k");
  Span rows = clamped(i0, i1, context.query_length);
  std::vector<TileRange> ranges;
  if (rows.empty() || context.key_length <= 0) return ranges;
  for (const Interval& interval : form.intervals) {
    Span columns = columns_reached(interval, context, rows);
    if (columns.empty()) continue;
    ranges.push_back({columns.first / tile_k, columns.last / tile_k});
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const TileRange& a, const TileRange& b) { return a.first < b.first; });
  std::vector<TileRange> merged;
  for (const TileRange& range : ranges) {
    if (!merged.empty() && range.first <= merged.back().last + 1) {
      merged.back().last = std::max(merged.back().last, range.last);
    } else {
      merged.push_back(range);
    }
  }
  return merged;
}

TileClass classify_tile(const IntervalForm& form, const MaskContext& context, int64_t i0,
                        int64_t i1, int64_t j0, int64_t j1) {
  Span rows = clamped(i0, i1, context.query_length);
  Span columns = clamped(j0, j1, context.key_length);
  if (rows.empty() || columns.empty()) return TileClass::kSkipped;
  // FULL: lo(r) <= lo(i1) <= j0 and hi(r) >= hi(i0) >= j1 for every row r of the tile.
  for (const Interval& interval : form.intervals) {
    if (interval.exact && holds_on_all(interval, context, rows) &&
        lower_bound_at(interval, context, rows.last) <= columns.first &&
        upper_bound_at(interval, context, rows.first) >= columns.last) {
      return TileClass::kFull;
    }
  }
  for (const Interval& interval : form.intervals) {
    Span reached = columns_reached(interval, context, rows);
    if (!reached.empty() && reached.first <= columns.last && reached.last >= columns.first) {
      return TileClass::kPartial;
    }
  }
  return TileClass::kSkipped;
}

TileRange query_tiles_reaching(const IntervalForm& form, const MaskContext& context, int64_t j0,
                               int64_t j1, int64_t tile_q) {
  require_positive(tile_q, "tile_q");
  Span columns = clamped(j0, j1, context.key_length);
  Span all_rows = clamped(0, context.query_length - 1, context.query_length);
  TileRange result;
  if (columns.empty() || all_rows.empty()) return result;
  Span reaching;
  for (const Interval& interval : form.intervals) {
    // Row r reaches the columns iff hi(r) >= j0 and lo(r) <= j1; both bounds are non-decreasing,
    // so the rows form [first r with hi(r) >= j0, last r with lo(r) <= j1].
    Span rows;
    rows.first = first_row_where(
        all_rows, [&](int64_t i) { return upper_bound_at(interval, context, i) >= columns.first; });
    rows.last = first_row_where(all_rows,
                                [&](int64_t i) {
                                  return lower_bound_at(interval, context, i) > columns.last;
                                }) -
                1;
    rows = rows_where(interval, context, rows);
    if (rows.empty()) continue;
    if (reaching.empty()) {
      reaching = rows;
    } else {
      reaching = {std::min(reaching.first, rows.first), std::max(reaching.last, rows.last)};
    }
  }
  if (reaching.empty()) return result;
  return {reaching.first / tile_q, reaching.last / tile_q};
}

}  // namespace attncc
