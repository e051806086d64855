// Ranges of mask terms (compiler/passes/term_range.h) and the check pass's overflow rule: the
// bounds below are worked out by hand from the domain (i, j <= 2^31 - 2, Lq, Lk <= 2^31 - 1,
// parameters in int32), not read back from the code.
#include <gtest/gtest.h>

#include <string>

#include "attncc/error.h"
#include "attncc/interval_form.h"
#include "attncc/mask_text.h"
#include "compiler/passes/check_mask.h"
#include "compiler/passes/term_range.h"

namespace attncc {
namespace {

constexpr __int128 kTwoTo31 = __int128{1} << 31;
constexpr __int128 kTwoTo62 = __int128{1} << 62;

// The range of the left side of `text` (a comparison `TERM == 0`).
TermRange left_range(const std::string& text) {
  PredicatePtr mask = parse_mask(text + " == 0");
  const Term* outside = nullptr;
  return term_range_within(*mask->terms[0], kTermMagnitudeLimit, &outside);
}

bool accepted(const std::string& text) {
  PredicatePtr mask = parse_mask(text);
  try {
    check_mask(*mask, "<mask>", text);
    return true;
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidMask) << text;
    return false;
  }
}

TEST(TermRange, VariablesParametersAndArithmetic) {
  TermRange i = left_range("i");
  EXPECT_TRUE(i.low == 0 && i.high == kTwoTo31 - 2);
  TermRange length = left_range("Lk - Lq");
  EXPECT_TRUE(length.low == -(kTwoTo31 - 1) && length.high == kTwoTo31 - 1);
  TermRange scaled = left_range("-3 * j + 5");
  EXPECT_TRUE(scaled.low == -3 * (kTwoTo31 - 2) + 5 && scaled.high == 5);
  TermRange parameter = left_range("$p * $q[doc]");  // (-2^31)^2 is the largest product
  EXPECT_TRUE(parameter.low == -kTwoTo31 * (kTwoTo31 - 1) && parameter.high == kTwoTo62);
  TermRange quotient = left_range("(j - 7) / $d");  // |a / b| <= |a|, and a / 0 == 0
  EXPECT_TRUE(quotient.low == -(kTwoTo31 - 9) && quotient.high == kTwoTo31 - 9);  // j - 7 <= 2^31 - 9
  TermRange minimum = left_range("min(i, 10)");
  EXPECT_TRUE(minimum.low == 0 && minimum.high == 10);
}

TEST(TermRange, CheckRejectsWhatCanLeaveTwoToThe62) {
  EXPECT_TRUE(accepted("j <= i + 4611686016279904258"));       // i + that: at most 2^62
  EXPECT_FALSE(accepted("j <= i + 4611686016279904259"));
  EXPECT_TRUE(accepted("j <= 4611686018427387904"));           // exactly 2^62
  EXPECT_FALSE(accepted("j <= 4611686018427387905"));          // 2^62 + 1
  EXPECT_TRUE(accepted("j <= i * 2147483647"));                // (2^31 - 2)(2^31 - 1) < 2^62
  EXPECT_FALSE(accepted("j <= i * 2147483647 * 2"));
  EXPECT_TRUE(accepted("j <= $p * $p"));                       // at most 2^62
  EXPECT_FALSE(accepted("j <= $p * $p * $p"));
  EXPECT_TRUE(accepted("window(2305843009213693952, -1)"));    // 2^61
  EXPECT_FALSE(accepted("window(2305843009213693953, -1)"));
  EXPECT_FALSE(accepted("j >= -9223372036854775808"));
}

// Solving sums both sides' constants: each side below is within 2^62, the bound j <= i + 2c is
// not, so the interval form drops it (a superset evaluated per element) rather than hand the
// kernels a bound whose tile arithmetic could overflow.
TEST(TermRange, IntervalFormDropsABoundThatMayOverflow) {
  PredicatePtr mask = parse_mask("j - 4611686016279904258 <= i + 4611686016279904258");
  check_mask(*mask, "<mask>", "");
  IntervalForm form = build_interval_form(mask);
  ASSERT_EQ(form.intervals.size(), 1u);
  EXPECT_EQ(form.intervals[0].upper, nullptr) << print_interval_form(form);
  EXPECT_FALSE(form.intervals[0].exact);
  // Small constants keep the exact bound.
  IntervalForm small = build_interval_form(parse_mask("j - 5 <= i + 5"));
  ASSERT_EQ(small.intervals.size(), 1u);
  EXPECT_NE(small.intervals[0].upper, nullptr);
  EXPECT_TRUE(small.intervals[0].exact);
}

}  // namespace
}  // namespace attncc
