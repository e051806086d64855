// row_maximum (templates/cpu/attention_cpu.h), the forward's NaN-aware row max, against a plain
// scalar scan: NaN anywhere in the row must win, wherever it sits relative to the vector chunks
// (a row whose first chunk is all -inf and whose attended scores are NaN must not look empty).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu/attention_cpu.h"
#include "support/random_inputs.h"

namespace attncc {
namespace {

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

// The contract, written plainly: NaN if any score is NaN, else the largest score.
template <int kColumns>
float expected_maximum(const float (&s)[kColumns]) {
  if (std::any_of(s, s + kColumns, [](float x) { return std::isnan(x); })) return kNan;
  return *std::max_element(s, s + kColumns);
}

template <int kColumns>
void check_rows(testing::TestRandom& random) {
  auto column = [&random] { return static_cast<int>(random.integer(0, kColumns - 1)); };
  for (int trial = 0; trial < 2000; ++trial) {
    float s[kColumns];
    for (float& x : s) x = static_cast<float>(random.real(-10.0, 10.0));
    // A random prefix masked to -inf (a window whose first columns are out of reach), then
    // sometimes one NaN at a random column, sometimes all -inf.
    const int masked = column();
    std::fill(s, s + masked, kMinusInfinity);
    const int mode = trial % 4;
    if (mode == 1) s[column()] = kNan;
    if (mode == 2) std::fill(s, s + kColumns, kMinusInfinity);
    if (mode == 3) std::fill(s + masked, s + kColumns, kNan);
    const float got = cpu::row_maximum(s);
    const float expected = expected_maximum(s);
    if (std::isnan(expected)) {
      ASSERT_TRUE(std::isnan(got)) << "trial " << trial << ": " << got << ", masked " << masked;
    } else {
      ASSERT_EQ(got, expected) << "trial " << trial << ", masked " << masked;
    }
  }
}

TEST(CpuRowMaximum, NanAnywhereWinsInVectorWidths) {
  testing::TestRandom random(testing::test_seed());
  check_rows<64>(random);
  check_rows<128>(random);
}

TEST(CpuRowMaximum, NanAnywhereWinsInNarrowRows) {
  testing::TestRandom random(testing::test_seed());
  check_rows<4>(random);
}

}  // namespace
}  // namespace attncc
