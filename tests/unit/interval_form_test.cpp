// Hand-worked interval forms (DESIGN §3): each primitive, compositions, opaque atoms and bounds
// whose monotonicity cannot be proved.
#include "attncc/interval_form.h"

#include <gtest/gtest.h>

#include <string>

#include "attncc/mask_text.h"

namespace attncc {
namespace {

IntervalForm form_of(std::string_view mask) { return build_interval_form(parse_mask(mask)); }

std::string text_of(std::string_view mask) { return print_interval_form(form_of(mask)); }

bool has_note_containing(const IntervalForm& form, std::string_view needle) {
  for (const std::string& note : form.notes) {
    if (note.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(IntervalForm, Primitives) {
  EXPECT_EQ(text_of("full"), "[-inf, +inf] exact\n");
  EXPECT_EQ(text_of("causal"), "[-inf, i] exact\n");
  EXPECT_EQ(text_of("causal_br"), "[-inf, i + Lk - Lq] exact\n");
  EXPECT_EQ(text_of("window(256, 0)"), "[i - 256, i] exact\n");
  EXPECT_EQ(text_of("window(3, 5)"), "[i - 3, i + 5] exact\n");
  EXPECT_EQ(text_of("window(-1, -1)"), "[-inf, +inf] exact\n");
  EXPECT_EQ(text_of("window_br(256, 0)"), "[i + Lk - Lq - 256, i + Lk - Lq] exact\n");
  EXPECT_EQ(text_of("sink(4)"), "[-inf, 3] exact\n");
  EXPECT_EQ(text_of("chunk(64)"), "[64 * (i / 64), 64 * (i / 64) + 63] exact\n");
  EXPECT_EQ(text_of("chunk(1)"), "[i, i] exact\n");
}

TEST(IntervalForm, WindowUnboundedLeftIsCausal) {
  EXPECT_EQ(text_of("window(-1, 0)"), text_of("causal"));
  EXPECT_EQ(text_of("window_br(-1, 0)"), text_of("causal_br"));
}

TEST(IntervalForm, PrefixIsOneIntervalWithMax) {
  // DESIGN §3: `|` merges intervals with equal lower bounds, so prefix is one interval.
  IntervalForm literal = form_of("prefix(100)");
  ASSERT_EQ(literal.intervals.size(), 1u);
  EXPECT_EQ(print_interval_form(literal), "[-inf, max(99, i)] exact\n");
  EXPECT_EQ(text_of("prefix($p[doc])"), "[-inf, max($p[doc] - 1, i)] exact\n");
  EXPECT_EQ(text_of("prefix(0)"), "[-inf, max(-1, i)] exact\n");
}

TEST(IntervalForm, ParameterWindowSplitsOnTheUnboundedCases) {
  EXPECT_EQ(text_of("window($l, $r)"),
            "[-inf, +inf] if $l < 0 & $r < 0 exact\n"
            "[-inf, i + $r] if $l < 0 exact\n"
            "[i - $l, +inf] if $r < 0 exact\n"
            "[i - $l, i + $r] exact\n");
}

TEST(IntervalForm, ParameterChunkIsSolvedForEachSignOfTheDivisor) {
  // A run-time divisor is split by sign so each case is exact (x / 0 == 0 by definition).
  IntervalForm form = form_of("chunk($c)");
  EXPECT_TRUE(form.exact());
  EXPECT_EQ(print_interval_form(form),
            "[i / $c * $c, i / $c * $c + $c - 1] if $c > 0 exact\n"
            "[-inf, +inf] if $c == 0 & i / $c == 0 exact\n"
            "[i / $c * $c + $c + 1, i / $c * $c] if $c < 0 exact\n");
  // Literal negative divisor: floor(j / -4) == -1 <=> 1 <= j <= 4.
  EXPECT_EQ(text_of("j / -4 == -1"), "[1, 4] exact\n");
}

TEST(IntervalForm, Compositions) {
  EXPECT_EQ(text_of("sink(4) | window(1024, 0)"), "[-inf, 3] exact\n[i - 1024, i] exact\n");
  EXPECT_EQ(text_of("chunk(128) & causal"),
            "[128 * (i / 128), min(128 * (i / 128) + 127, i)] exact\n");
  EXPECT_EQ(text_of("j >= i - 128 & j <= i & j < Lk - 16"), "[i - 128, min(i, Lk - 17)] exact\n");
  EXPECT_EQ(text_of("causal & window(8, 0)"), "[i - 8, i] exact\n");
  EXPECT_EQ(text_of("causal | window(-1, 4)"), "[-inf, i + 4] exact\n");
  EXPECT_EQ(text_of("!causal"), "[i + 1, +inf] exact\n");
  EXPECT_EQ(text_of("causal & !causal"), "empty\n");
  EXPECT_EQ(text_of("!full"), "empty\n");
  EXPECT_EQ(text_of("false | causal"), "[-inf, i] exact\n");
  EXPECT_EQ(text_of("!window(2, 3)"), "[-inf, i - 3] exact\n[i + 4, +inf] exact\n");
}

TEST(IntervalForm, AtomsSolvedForJ) {
  EXPECT_EQ(text_of("j != i"), "[i + 1, +inf] exact\n[-inf, i - 1] exact\n");
  EXPECT_EQ(text_of("2 * j <= i"), "[-inf, i / 2] exact\n");
  EXPECT_EQ(text_of("3 * j >= i"), "[(i + 2) / 3, +inf] exact\n");
  EXPECT_EQ(text_of("i - j >= 0"), "[-inf, i] exact\n");
  EXPECT_EQ(text_of("j - j + i >= 5"), "[-inf, +inf] if i - 5 >= 0 exact\n");
  EXPECT_EQ(text_of("(j - i) / 4 == 0"), "[i, i + 3] exact\n");
  EXPECT_EQ(text_of("i >= 5"), "[-inf, +inf] if i >= 5 exact\n");
  EXPECT_EQ(text_of("$x > 0 & causal"), "[-inf, i] if $x > 0 exact\n");
  EXPECT_EQ(text_of("1 < 0"), "empty\n");
  EXPECT_EQ(text_of("0 < 1"), "[-inf, +inf] exact\n");
}

TEST(IntervalForm, OpaqueAtomsAreInexactWithANote) {
  IntervalForm form = form_of("(i - j) % 2 == 0");
  EXPECT_FALSE(form.exact());
  EXPECT_EQ(print_interval_form(form), "[-inf, +inf] superset\n");
  ASSERT_EQ(form.notes.size(), 1u);
  EXPECT_TRUE(has_note_containing(form, "(i - j) % 2 == 0")) << form.notes[0];

  // Causal still bounds the superset, and FULL tiles are impossible only where it is opaque.
  IntervalForm strided = form_of("causal & (i - j) % 2 == 0");
  EXPECT_EQ(print_interval_form(strided), "[-inf, i] superset\n");

  for (const char* mask : {"j * j <= i", "j * $s <= i", "min(j, i) >= 3", "j / $c <= i / 2 + j"}) {
    IntervalForm opaque = form_of(mask);
    EXPECT_FALSE(opaque.exact()) << mask;
    EXPECT_FALSE(opaque.notes.empty()) << mask;
  }
}

TEST(IntervalForm, NonMonotoneBoundsAreWidened) {
  IntervalForm negative = form_of("j >= -i");
  EXPECT_EQ(print_interval_form(negative), "[-inf, +inf] superset\n");
  EXPECT_TRUE(has_note_containing(negative, "-i")) << negative.notes.front();

  IntervalForm unknown_sign = form_of("j <= i * $s");
  EXPECT_EQ(print_interval_form(unknown_sign), "[-inf, +inf] superset\n");
  EXPECT_TRUE(has_note_containing(unknown_sign, "not provably non-decreasing"));

  // Only the bound that fails is widened.
  EXPECT_EQ(text_of("j >= i - 4 & j <= 10 - i"), "[i - 4, +inf] superset\n");
  // A known sign makes the product monotone.
  EXPECT_EQ(text_of("j <= i * 3"), "[-inf, 3 * i] exact\n");
  EXPECT_EQ(text_of("j <= i * $s & $s >= 0"), "[-inf, i * $s] if $s >= 0 exact\n");
  // The complement of a superset is only known to be inside everything.
  EXPECT_EQ(text_of("!(j >= -i)"), "[-inf, +inf] superset\n");
}

TEST(IntervalForm, TooManyIntervalsBecomeTheirHull) {
  // Nine disjoint single keys: more than kMaxIntervals.
  IntervalForm form =
      form_of("j == 1 | j == 3 | j == 5 | j == 7 | j == 9 | j == 11 | j == 13 | j == 15 | j == 17");
  EXPECT_EQ(print_interval_form(form), "[1, 17] superset\n");
  EXPECT_TRUE(has_note_containing(form, "exceed the limit"));
  IntervalForm eight =
      form_of("j == 1 | j == 3 | j == 5 | j == 7 | j == 9 | j == 11 | j == 13 | j == 15");
  EXPECT_EQ(eight.intervals.size(), 8u);
  EXPECT_TRUE(eight.exact());
}

TEST(IntervalForm, BoundsEvaluate) {
  IntervalForm form = form_of("window_br(2, 1)");
  ASSERT_EQ(form.intervals.size(), 1u);
  MaskContext context{10, 30, {}};
  EXPECT_EQ(lower_bound_at(form.intervals[0], context, 5), 5 + 20 - 2);
  EXPECT_EQ(upper_bound_at(form.intervals[0], context, 5), 5 + 20 + 1);
  IntervalForm unbounded = form_of("full");
  EXPECT_EQ(lower_bound_at(unbounded.intervals[0], context, 0), INT64_MIN / 2);
  EXPECT_EQ(upper_bound_at(unbounded.intervals[0], context, 0), INT64_MAX / 2);
}

}  // namespace
}  // namespace attncc
