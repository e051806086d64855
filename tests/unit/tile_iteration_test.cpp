// Tile iteration from the interval form, checked element by element against the mask predicate:
// no FULL tile holds a masked element, no unvisited tile an attended one, the backward's query
// tiles cover every attended element; plus hand-counted tiles of causal at 4096 x 4096.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "attncc/error.h"
#include "attncc/interval_form.h"
#include "attncc/mask_text.h"
#include "support/random_inputs.h"
#include "support/random_masks.h"

namespace attncc {
namespace {

struct TileShape {
  int64_t rows;
  int64_t columns;
};

const std::vector<TileShape> kTileShapes = {{16, 16},  {32, 32}, {64, 64},  {128, 128},
                                            {128, 64}, {64, 16}, {16, 128}, {7, 5}};

// (Lq, Lk) pairs: empty and 1-token documents, ragged lengths, Lq > Lk and Lq < Lk.
const std::vector<std::pair<int64_t, int64_t>> kLengths = {
    {0, 50}, {50, 0}, {1, 1}, {1, 300}, {300, 1}, {37, 501}, {257, 100}, {100, 257}, {200, 200}};

// M(i, j) of a whole document, row-major.
struct Truth {
  int64_t rows = 0;
  int64_t columns = 0;
  std::vector<char> attended;

  Truth(const Predicate& mask, const MaskContext& context)
      : rows(context.query_length), columns(context.key_length) {
    attended.resize(static_cast<size_t>(rows * columns));
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < columns; ++j) {
        attended[static_cast<size_t>(i * columns + j)] = evaluate(mask, context, i, j);
      }
    }
  }

  // Number of attended elements in rows [i0, i1] x columns [j0, j1] (clamped to the document).
  int64_t count(int64_t i0, int64_t i1, int64_t j0, int64_t j1) const {
    int64_t total = 0;
    for (int64_t i = std::max<int64_t>(i0, 0); i <= std::min(i1, rows - 1); ++i) {
      for (int64_t j = std::max<int64_t>(j0, 0); j <= std::min(j1, columns - 1); ++j) {
        total += attended[static_cast<size_t>(i * columns + j)];
      }
    }
    return total;
  }
};

int64_t tiles_of(int64_t length, int64_t tile) { return (length + tile - 1) / tile; }

bool contains(const std::vector<TileRange>& ranges, int64_t tile) {
  return std::any_of(ranges.begin(), ranges.end(), [&](const TileRange& range) {
    return range.first <= tile && tile <= range.last;
  });
}

std::string where(const std::string& mask, const MaskContext& context, TileShape tile,
                  int64_t query_tile, int64_t key_tile) {
  return "mask " + mask + ", Lq " + std::to_string(context.query_length) + ", Lk " +
         std::to_string(context.key_length) + ", tiles " + std::to_string(tile.rows) + "x" +
         std::to_string(tile.columns) + ", query tile " + std::to_string(query_tile) +
         ", key tile " + std::to_string(key_tile);
}

// Checks the three tile functions against the truth for every tile of the document. `precise`:
// the form is one exact unconditional interval whose rows' intervals are contiguous, so FULL and
// visited are exact too (FULL iff every element attended, visited iff any).
void check_document(const std::string& text, const PredicatePtr& mask, const IntervalForm& form,
                    const MaskContext& context, bool precise) {
  Truth truth(*mask, context);
  for (TileShape tile : kTileShapes) {
    int64_t query_tiles = tiles_of(context.query_length, tile.rows);
    int64_t key_tiles = tiles_of(context.key_length, tile.columns);
    std::vector<std::vector<int64_t>> attended_in(static_cast<size_t>(key_tiles));
    for (int64_t q = 0; q < query_tiles; ++q) {
      int64_t i0 = q * tile.rows;
      int64_t i1 = i0 + tile.rows - 1;
      std::vector<TileRange> visited = key_tiles_to_visit(form, context, i0, i1, tile.columns);
      for (size_t r = 0; r < visited.size(); ++r) {
        ASSERT_FALSE(visited[r].empty()) << text;
        ASSERT_GE(visited[r].first, 0) << text;
        ASSERT_LT(visited[r].last, key_tiles) << text;
        if (r > 0) {
          ASSERT_GT(visited[r].first, visited[r - 1].last + 1) << "not merged: " << text;
        }
      }
      for (int64_t k = 0; k < key_tiles; ++k) {
        int64_t j0 = k * tile.columns;
        int64_t j1 = j0 + tile.columns - 1;
        int64_t attended = truth.count(i0, i1, j0, j1);
        int64_t elements = (std::min(i1, context.query_length - 1) - i0 + 1) *
                           (std::min(j1, context.key_length - 1) - j0 + 1);
        bool visits = contains(visited, k);
        TileClass kind = classify_tile(form, context, i0, i1, j0, j1);
        std::string at = where(text, context, tile, q, k);
        if (attended > 0) attended_in[static_cast<size_t>(k)].push_back(q);
        EXPECT_FALSE(kind == TileClass::kFull && attended != elements)
            << "FULL tile masked: " << at;
        EXPECT_FALSE(!visits && attended > 0) << "skipped tile attended: " << at;
        EXPECT_EQ(kind == TileClass::kSkipped, !visits) << at;
        if (precise) {
          EXPECT_EQ(kind == TileClass::kFull, attended == elements) << at;
          EXPECT_EQ(visits, attended > 0) << at;
        }
      }
    }
    for (int64_t k = 0; k < key_tiles; ++k) {
      int64_t j0 = k * tile.columns;
      TileRange reaching =
          query_tiles_reaching(form, context, j0, j0 + tile.columns - 1, tile.rows);
      const std::vector<int64_t>& needed = attended_in[static_cast<size_t>(k)];
      for (int64_t q : needed) {
        EXPECT_TRUE(reaching.first <= q && q <= reaching.last)
            << "query tile not reached: " << where(text, context, tile, q, k);
      }
      if (precise && !needed.empty()) {
        EXPECT_EQ(reaching.first, needed.front()) << where(text, context, tile, -1, k);
        EXPECT_EQ(reaching.last, needed.back()) << where(text, context, tile, -1, k);
      }
      if (needed.empty() && precise) {
        EXPECT_TRUE(reaching.empty());
      }
    }
  }
}

void check_mask(const std::string& text, bool precise, MaskContext parameters = {}) {
  PredicatePtr mask = parse_mask(text);
  IntervalForm form = build_interval_form(mask);
  if (precise) {
    ASSERT_TRUE(form.exact() && form.intervals.size() == 1) << text;
  }
  for (auto [query_length, key_length] : kLengths) {
    MaskContext context = parameters;
    context.query_length = query_length;
    context.key_length = key_length;
    check_document(text, mask, form, context, precise);
  }
}

TEST(TileIteration, SingleIntervalMasksArePrecise) {
  MaskContext parameters;
  parameters.parameters = {{"p", 70}, {"c", 24}};
  for (const char* mask : {"full", "causal", "causal_br", "window(37, 5)", "window_br(20, 0)",
                           "window(0, 0)", "prefix(50)", "prefix($p[doc])", "chunk(40)", "chunk(1)",
                           "sink(4)", "chunk(128) & causal"}) {
    check_mask(mask, /*precise=*/true, parameters);
  }
}

TEST(TileIteration, OtherMasksAreSound) {
  MaskContext parameters;
  parameters.parameters = {{"c", 24}, {"l", 9}, {"r", -1}, {"x", 3}};
  for (const char* mask :
       {"sink(4) | window(64, 0)", "chunk($c)", "window($l, $r)", "!window(10, 10)", "j != i",
        "causal & (i - j) % 2 == 0", "j >= 100 - i | causal", "i >= 30 & causal | i < 3",
        "$x > 5 | window(3, 3)", "2 * j <= i + 7", "(j + 3) / 5 == i / 7", "window_br(-1, 17)"}) {
    check_mask(mask, /*precise=*/false, parameters);
  }
}

TEST(TileIteration, RandomMasksAreSound) {
  uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);
  for (int trial = 0; trial < 60; ++trial) {
    testing::RandomMaskBuilder builder(random);
    PredicatePtr mask = builder.tree(static_cast<int>(random.integer(1, 4)));
    IntervalForm form = build_interval_form(mask);
    MaskContext context = builder.context();
    context.query_length = testing::random_length(random, 200);
    context.key_length = testing::random_length(random, 200);
    std::string text = print_mask(*mask) + " (form: " + print_interval_form(form) + ")";
    check_document(text, mask, form, context, /*precise=*/false);
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(TileIteration, EmptyDocumentsHaveNoTiles) {
  IntervalForm form = build_interval_form(parse_mask("full"));
  for (auto [query_length, key_length] : {std::pair<int64_t, int64_t>{0, 0}, {0, 10}, {10, 0}}) {
    MaskContext context{query_length, key_length, {}};
    EXPECT_TRUE(key_tiles_to_visit(form, context, 0, 63, 64).empty());
    EXPECT_EQ(classify_tile(form, context, 0, 63, 0, 63), TileClass::kSkipped);
    EXPECT_TRUE(query_tiles_reaching(form, context, 0, 63, 64).empty());
  }
  // A 1-token document: one tile, FULL for `full` and for `causal`.
  MaskContext one{1, 1, {}};
  EXPECT_EQ(classify_tile(form, one, 0, 127, 0, 63), TileClass::kFull);
  IntervalForm causal = build_interval_form(parse_mask("causal"));
  EXPECT_EQ(classify_tile(causal, one, 0, 127, 0, 63), TileClass::kFull);
  std::vector<TileRange> visited = key_tiles_to_visit(causal, one, 0, 127, 64);
  ASSERT_EQ(visited.size(), 1u);
  EXPECT_EQ(visited[0].first, 0);
  EXPECT_EQ(visited[0].last, 0);
  // Rows past Lq are ignored: a query tile that starts past the end visits nothing.
  EXPECT_TRUE(key_tiles_to_visit(causal, MaskContext{10, 10, {}}, 16, 31, 16).empty());
}

// Row conditions are evaluated per row of the tile: rows where they fail neither visit nor reach.
TEST(TileIteration, RowConditionsTrimTheRows) {
  IntervalForm form = build_interval_form(parse_mask("i >= 100 & causal"));
  MaskContext context{256, 256, {}};
  EXPECT_TRUE(key_tiles_to_visit(form, context, 0, 63, 64).empty());
  std::vector<TileRange> visited = key_tiles_to_visit(form, context, 64, 127, 64);
  ASSERT_EQ(visited.size(), 1u);
  EXPECT_EQ(visited[0].last, 1);  // hi(127) = 127
  EXPECT_EQ(classify_tile(form, context, 64, 127, 0, 63), TileClass::kPartial);  // rows 64..99
  EXPECT_EQ(classify_tile(form, context, 128, 191, 0, 63), TileClass::kFull);
  TileRange reaching = query_tiles_reaching(form, context, 0, 63, 64);
  EXPECT_EQ(reaching.first, 1);  // row 100
  EXPECT_EQ(reaching.last, 3);
  // A row-independent condition that fails removes the interval everywhere.
  IntervalForm off = build_interval_form(parse_mask("$x > 0 & causal"));
  MaskContext negative{256, 256, {{"x", -1}}};
  EXPECT_TRUE(key_tiles_to_visit(off, negative, 0, 255, 64).empty());
  EXPECT_TRUE(query_tiles_reaching(off, negative, 0, 255, 64).empty());
}

TEST(TileIteration, TileSizesMustBePositive) {
  IntervalForm form = build_interval_form(parse_mask("causal"));
  MaskContext context{10, 10, {}};
  EXPECT_THROW(key_tiles_to_visit(form, context, 0, 9, 0), Error);
  EXPECT_THROW(query_tiles_reaching(form, context, 0, 9, -4), Error);
}

// Causal at 4096 x 4096 with 128-row query tiles and 64-column key tiles: 32 x 64 = 2048 tiles.
// Query tile q (rows 128q .. 128q + 127) visits key tiles 0 .. 2q + 1 (hi(i1) = 128q + 127):
// 2q + 2 tiles, of which 0 .. 2q - 1 are FULL (64t + 63 <= 128q) and 2q, 2q + 1 PARTIAL (the
// diagonal crosses them). Visited: sum(2q + 2) = 1056 (51.6%); FULL: sum(2q) = 992; PARTIAL: 64.
TEST(TileIteration, CausalVisitsAboutHalfOfTheTiles) {
  IntervalForm form = build_interval_form(parse_mask("causal"));
  MaskContext context{4096, 4096, {}};
  int64_t visited = 0, full = 0, partial = 0, skipped = 0;
  for (int64_t q = 0; q < 32; ++q) {
    for (const TileRange& range : key_tiles_to_visit(form, context, 128 * q, 128 * q + 127, 64)) {
      visited += range.last - range.first + 1;
    }
    for (int64_t k = 0; k < 64; ++k) {
      switch (classify_tile(form, context, 128 * q, 128 * q + 127, 64 * k, 64 * k + 63)) {
        case TileClass::kFull:
          ++full;
          break;
        case TileClass::kPartial:
          ++partial;
          break;
        case TileClass::kSkipped:
          ++skipped;
          break;
      }
    }
  }
  EXPECT_EQ(visited, 1056);
  EXPECT_EQ(full, 992);
  EXPECT_EQ(partial, 64);
  EXPECT_EQ(skipped, 2048 - 1056);
  // Backward: key tile k (columns 64k ..) is reached by rows i >= 64k, query tiles k/2 .. 31.
  for (int64_t k : {0, 1, 2, 17, 63}) {
    TileRange reaching = query_tiles_reaching(form, context, 64 * k, 64 * k + 63, 128);
    EXPECT_EQ(reaching.first, k / 2) << k;
    EXPECT_EQ(reaching.last, 31) << k;
  }
}

}  // namespace
}  // namespace attncc
