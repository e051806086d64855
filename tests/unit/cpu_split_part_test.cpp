// split_part (templates/cpu/attention_cpu.h), how the split forward and the split fused backward
// deal the key tiles an item visits over its parts: every round of `parts` tiles gives each part
// exactly one, and on causal work (key tile j meets n - j query tiles) the parts end up with the
// same work.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "cpu/attention_cpu.h"

namespace attncc {
namespace {

using cpu::split_part;

TEST(SplitPart, EachRoundGivesEveryPartOneOfItsTiles) {
  for (int parts = 1; parts <= 17; ++parts) {
    for (kernel_int round = 0; round < 9; ++round) {
      std::vector<int> tiles_of_part(parts, 0);
      for (kernel_int index = round * parts; index < (round + 1) * parts; ++index) {
        const int part = split_part(index, parts);
        ASSERT_GE(part, 0) << "parts " << parts << " index " << index;
        ASSERT_LT(part, parts) << "parts " << parts << " index " << index;
        ++tiles_of_part[part];
      }
      EXPECT_TRUE(std::all_of(tiles_of_part.begin(), tiles_of_part.end(),
                              [](int count) { return count == 1; }))
          << "parts " << parts << " round " << round;
    }
  }
}

// Query tiles each part meets on a causal document of `tiles` key tiles (and as many query
// tiles): key tile j is visited by the n - j query tiles from j on.
std::vector<long long> causal_work_per_part(int tiles, int parts) {
  std::vector<long long> work(parts, 0);
  for (int tile = 0; tile < tiles; ++tile) work[split_part(tile, parts)] += tiles - tile;
  return work;
}

TEST(SplitPart, CausalWorkIsEvenOverEveryTwoRounds) {
  // 32 tiles, 8 parts (4 rounds): 528 tile pairs, 66 each. Dealing tile t to part t mod 8 would
  // give part 0 tiles 0, 8, 16, 24: 32 + 24 + 16 + 8 = 80.
  EXPECT_EQ(causal_work_per_part(32, 8), std::vector<long long>(8, 66));
  // 32 tiles, 2 parts: 264 each (t mod 2: 272 and 256).
  EXPECT_EQ(causal_work_per_part(32, 2), std::vector<long long>(2, 264));
  for (int parts = 2; parts <= 16; ++parts) {
    for (int pairs_of_rounds = 1; pairs_of_rounds <= 4; ++pairs_of_rounds) {
      const int tiles = 2 * parts * pairs_of_rounds;
      const std::vector<long long> work = causal_work_per_part(tiles, parts);
      const long long total = static_cast<long long>(tiles) * (tiles + 1) / 2;
      EXPECT_EQ(std::accumulate(work.begin(), work.end(), 0LL), total);
      EXPECT_EQ(*std::max_element(work.begin(), work.end()), total / parts)
          << tiles << " tiles, " << parts << " parts";
    }
  }
}

TEST(SplitPart, AnyTileCountStaysWithinOneTileOfEven) {
  // The unpaired last round(s) can leave a part at most one tile's work (<= tiles) ahead.
  for (int parts = 2; parts <= 16; ++parts) {
    for (int tiles = 0; tiles <= 70; ++tiles) {
      const std::vector<long long> work = causal_work_per_part(tiles, parts);
      const auto [lightest, heaviest] = std::minmax_element(work.begin(), work.end());
      EXPECT_LE(*heaviest - *lightest, tiles) << tiles << " tiles, " << parts << " parts";
    }
  }
}

}  // namespace
}  // namespace attncc
