// The kernels' query_tiles_reaching (templates/common/tile_iteration.h), which the CUDA backward
// uses to find the query tiles of a key tile, against brute force over the kernels' own
// key_tiles_to_visit: every query tile that visits a key tile lies in the range (soundness), and
// for one-interval masks the range ends are such tiles (no wasted binary-search slack). Also
// visits_key_tile, the backward's per-pair test, against the same visit lists.
#include <gtest/gtest.h>

#include <random>

#include "common/tile_iteration.h"

namespace attncc {
namespace {

// Hand-written Mask structs in the shape the lowering emits (compiler/emit/mask_struct.cpp).
struct CausalBottomRight {  // j <= i + Lk - Lq
  static constexpr int kIntervalCount = 1;
  static constexpr bool kExact = true;
  static bool interval_exact(int) { return true; }
  static bool has_row_condition(int) { return false; }
  static kernel_int lower(int, kernel_int, const DocumentView&) { return kUnboundedBelow; }
  static kernel_int upper(int, kernel_int i, const DocumentView& d) {
    return i + d.key_length - d.query_length;
  }
  static bool row_condition(int, kernel_int, const DocumentView&) { return true; }
  static bool attends(kernel_int i, kernel_int j, const DocumentView& d) {
    return j <= upper(0, i, d);
  }
};

struct Window {  // i - 37 <= j <= i + 5
  static constexpr int kIntervalCount = 1;
  static constexpr bool kExact = true;
  static bool interval_exact(int) { return true; }
  static bool has_row_condition(int) { return false; }
  static kernel_int lower(int, kernel_int i, const DocumentView&) { return i - 37; }
  static kernel_int upper(int, kernel_int i, const DocumentView&) { return i + 5; }
  static bool row_condition(int, kernel_int, const DocumentView&) { return true; }
  static bool attends(kernel_int i, kernel_int j, const DocumentView& d) {
    return lower(0, i, d) <= j && j <= upper(0, i, d);
  }
};

struct SinkOrWindow {  // sink(4) | window(20, 0): two intervals
  static constexpr int kIntervalCount = 2;
  static constexpr bool kExact = true;
  static bool interval_exact(int) { return true; }
  static bool has_row_condition(int) { return false; }
  static kernel_int lower(int t, kernel_int i, const DocumentView&) { return t == 0 ? 0 : i - 20; }
  static kernel_int upper(int t, kernel_int i, const DocumentView&) { return t == 0 ? 3 : i; }
  static bool row_condition(int, kernel_int, const DocumentView&) { return true; }
  static bool attends(kernel_int i, kernel_int j, const DocumentView&) {
    return j < 4 || (i - 20 <= j && j <= i);
  }
};

struct Prefix {  // prefix($p): [0, max(p - 1, i)]
  static constexpr int kIntervalCount = 1;
  static constexpr bool kExact = true;
  static bool interval_exact(int) { return true; }
  static bool has_row_condition(int) { return false; }
  static kernel_int lower(int, kernel_int, const DocumentView&) { return 0; }
  static kernel_int upper(int, kernel_int i, const DocumentView& d) {
    return max_int(d.parameters[0] - 1, i);
  }
  static bool row_condition(int, kernel_int, const DocumentView&) { return true; }
  static bool attends(kernel_int i, kernel_int j, const DocumentView& d) {
    return j <= upper(0, i, d);
  }
};

struct SinkOrEveryThirdRowWindow {  // sink(4) | (i % 3 == 0 & window(10, 0)): a row condition
  static constexpr int kIntervalCount = 2;
  static constexpr bool kExact = true;
  static bool interval_exact(int) { return true; }
  static bool has_row_condition(int t) { return t == 1; }
  static kernel_int lower(int t, kernel_int i, const DocumentView&) { return t == 0 ? 0 : i - 10; }
  static kernel_int upper(int t, kernel_int i, const DocumentView&) { return t == 0 ? 3 : i; }
  static bool row_condition(int t, kernel_int i, const DocumentView&) {
    return t == 0 || i % 3 == 0;
  }
  static bool attends(kernel_int i, kernel_int j, const DocumentView&) {
    return j < 4 || (i % 3 == 0 && i - 10 <= j && j <= i);
  }
};

bool visits(const DocumentView& document, kernel_int query_tile, kernel_int key_tile,
            kernel_int tile_q, kernel_int tile_k, auto key_tiles) {
  const kernel_int i0 = query_tile * tile_q;
  const kernel_int i1 = min_int(i0 + tile_q, document.query_length) - 1;
  const auto ranges = key_tiles(document, i0, i1, tile_k);
  for (int range = 0; range < ranges.count; ++range) {
    if (ranges.first[range] <= key_tile && key_tile <= ranges.last[range]) return true;
  }
  return false;
}

template <typename Mask>
void check_random_documents(bool tight, int seed) {
  std::mt19937 generator(seed);
  std::uniform_int_distribution<int> length(0, 300);
  const kernel_int tile_sizes[] = {16, 32, 64};
  for (int round = 0; round < 300; ++round) {
    const kernel_int parameters[1] = {length(generator) / 2};
    const DocumentView document{length(generator), length(generator), parameters};
    const kernel_int tile_q = tile_sizes[round % 3];
    const kernel_int tile_k = tile_sizes[(round / 3) % 3];
    const kernel_int query_tiles = (document.query_length + tile_q - 1) / tile_q;
    const kernel_int key_tiles = (document.key_length + tile_k - 1) / tile_k;
    for (kernel_int key_tile = 0; key_tile < key_tiles; ++key_tile) {
      const kernel_int j0 = key_tile * tile_k;
      const kernel_int j1 = min_int(j0 + tile_k, document.key_length) - 1;
      kernel_int first = 0;
      kernel_int last = 0;
      query_tiles_reaching<Mask>(document, j0, j1, tile_q, first, last);
      auto key_tiles_of = [](const DocumentView& view, kernel_int i0, kernel_int i1,
                             kernel_int tile) { return key_tiles_to_visit<Mask>(view, i0, i1, tile); };
      SCOPED_TRACE(::testing::Message() << "Lq " << document.query_length << " Lk "
                                        << document.key_length << " p " << parameters[0]
                                        << " tiles " << tile_q << "x" << tile_k << " key tile "
                                        << key_tile << " range [" << first << ", " << last << "]");
      for (kernel_int query_tile = 0; query_tile < query_tiles; ++query_tile) {
        if (visits(document, query_tile, key_tile, tile_q, tile_k, key_tiles_of)) {
          ASSERT_LE(first, query_tile);
          ASSERT_GE(last, query_tile);
        }
      }
      if (tight && first <= last) {
        EXPECT_TRUE(visits(document, first, key_tile, tile_q, tile_k, key_tiles_of));
        EXPECT_TRUE(visits(document, last, key_tile, tile_q, tile_k, key_tiles_of));
      }
    }
  }
}

// visits_key_tile (the backward's test of one pair) answers as key_tiles_to_visit's ranges do.
template <typename Mask>
void check_pair_test_matches_ranges(int seed) {
  std::mt19937 generator(seed);
  std::uniform_int_distribution<int> length(0, 300);
  const kernel_int tile_sizes[] = {16, 32, 64, 128};
  int visited_pairs = 0;
  for (int round = 0; round < 200; ++round) {
    const kernel_int parameters[1] = {length(generator) / 2};
    const DocumentView document{length(generator), length(generator), parameters};
    const kernel_int tile_q = tile_sizes[round % 4];
    const kernel_int tile_k = tile_sizes[(round / 4) % 4];
    auto key_tiles_of = [](const DocumentView& view, kernel_int i0, kernel_int i1,
                           kernel_int tile) { return key_tiles_to_visit<Mask>(view, i0, i1, tile); };
    for (kernel_int i0 = 0; i0 < document.query_length; i0 += tile_q) {
      const kernel_int i1 = min_int(i0 + tile_q, document.query_length) - 1;
      for (kernel_int j0 = 0; j0 < document.key_length; j0 += tile_k) {
        const kernel_int j1 = min_int(j0 + tile_k, document.key_length) - 1;
        const bool expected = visits(document, i0 / tile_q, j0 / tile_k, tile_q, tile_k,
                                     key_tiles_of);
        ASSERT_EQ(visits_key_tile<Mask>(document, i0, i1, j0, j1), expected)
            << "Lq " << document.query_length << " Lk " << document.key_length << " p "
            << parameters[0] << " rows [" << i0 << ", " << i1 << "] keys [" << j0 << ", " << j1
            << "]";
        visited_pairs += expected;
      }
    }
  }
  EXPECT_GT(visited_pairs, 0);
}

TEST(KernelQueryTiles, PairTestMatchesTheVisitLists) {
  check_pair_test_matches_ranges<CausalBottomRight>(5);
  check_pair_test_matches_ranges<Window>(6);
  check_pair_test_matches_ranges<Prefix>(7);
  check_pair_test_matches_ranges<SinkOrWindow>(8);
  check_pair_test_matches_ranges<SinkOrEveryThirdRowWindow>(9);
}

TEST(KernelQueryTiles, CausalBottomRight) { check_random_documents<CausalBottomRight>(true, 1); }
TEST(KernelQueryTiles, Window) { check_random_documents<Window>(true, 2); }
TEST(KernelQueryTiles, Prefix) { check_random_documents<Prefix>(true, 3); }
TEST(KernelQueryTiles, SinkOrWindowIsSound) { check_random_documents<SinkOrWindow>(false, 4); }

TEST(KernelQueryTiles, NoQueryRowsGiveAnEmptyRange) {
  const DocumentView document{0, 100, nullptr};
  kernel_int first = 0;
  kernel_int last = 0;
  query_tiles_reaching<Window>(document, 0, 63, 64, first, last);
  EXPECT_GT(first, last);
}

}  // namespace
}  // namespace attncc
