// polynomial_exp (templates/cpu/polynomial_exp.h), the CPU kernels' softmax exp, against exp in
// double: relative error over the whole range it promises, on a dense sweep of float bit patterns
// and on fresh random arguments, plus the special values the masking relies on.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "cpu/polynomial_exp.h"
#include "support/random_inputs.h"

namespace attncc {
namespace {

constexpr double kMaxRelativeError = 0x1p-23;  // promised in polynomial_exp.h (1 ulp)

double relative_error(float x) {
  const double expected = std::exp(double(x));
  return std::abs(double(polynomial_exp(x)) - expected) / expected;
}

TEST(PolynomialExp, IsAccurateOnEveryThousandthFloatOfItsRange) {
  // Every 1021st bit pattern from -87 to +88 (both signs, 2.1 million arguments, including
  // the tiny ones near 0 where e^x ~ 1 + x tests the low-order terms).
  double worst = 0;
  float worst_x = 0;
  for (float start : {-87.0f, 88.0f}) {
    const uint32_t last = std::bit_cast<uint32_t>(std::abs(start));
    for (uint32_t bits = 0; bits <= last; bits += 1021) {
      float x = std::bit_cast<float>(bits);
      if (start < 0) x = -x;
      const double error = relative_error(x);
      if (error > worst) {
        worst = error;
        worst_x = x;
      }
    }
  }
  EXPECT_LE(worst, kMaxRelativeError) << "at x = " << worst_x;
}

TEST(PolynomialExp, IsAccurateOnRandomSoftmaxArguments) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<float> softmax_argument(-87.0f, 0.0f);  // s - max
  std::uniform_real_distribution<float> near_zero(-1e-3f, 1e-3f);        // s - LSE rounding
  for (int n = 0; n < 200000; ++n) {
    for (float x : {softmax_argument(random), near_zero(random)}) {
      ASSERT_LE(relative_error(x), kMaxRelativeError) << "x = " << x;
    }
  }
}

TEST(PolynomialExp, KeepsTheSpecialValuesMaskingReliesOn) {
  const float infinity = std::numeric_limits<float>::infinity();
  EXPECT_EQ(polynomial_exp(-infinity), 0.0f);  // masked score: p = 0 exactly
  EXPECT_EQ(polynomial_exp(0.0f), 1.0f);       // the row maximum: p = 1 exactly
  EXPECT_EQ(polynomial_exp(-0.0f), 1.0f);
  EXPECT_TRUE(std::isnan(polynomial_exp(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(polynomial_exp(-std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(polynomial_exp(-87.5f), 0.0f);  // flushed, as promised
  EXPECT_EQ(polynomial_exp(-1000.0f), 0.0f);
  EXPECT_EQ(polynomial_exp(88.5f), infinity);
  EXPECT_EQ(polynomial_exp(infinity), infinity);
  EXPECT_GT(polynomial_exp(-87.0f), 0.0f);  // the edge of the range is not flushed
}

}  // namespace
}  // namespace attncc
