// Brute-force soundness of the interval form against the direct predicate (the oracle path):
// M(i, j) implies membership, membership in an exact interval implies M(i, j), for every primitive
// and for random compositions of primitives and atoms, over random ragged shapes and parameters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "attncc/interval_form.h"
#include "attncc/mask_text.h"
#include "compiler/ir/primitives.h"
#include "support/random_inputs.h"
#include "support/random_masks.h"

namespace attncc {
namespace {

// One interval on one row: whether its row condition holds and its bounds there.
struct RowInterval {
  bool active = false;
  int64_t lower = 0;
  int64_t upper = -1;
  bool exact = false;
};

// Checks every (i, j) of the document; returns the first violation, or "" if none. With
// `require_exact`, M must equal the union and every interval active on some row must be exact.
std::string check_every_element(const PredicatePtr& mask, const IntervalForm& form,
                                const MaskContext& context, bool require_exact) {
  std::vector<RowInterval> row(form.intervals.size());
  for (int64_t i = 0; i < context.query_length; ++i) {
    for (size_t index = 0; index < form.intervals.size(); ++index) {
      const Interval& interval = form.intervals[index];
      row[index].active =
          !interval.row_condition || evaluate(*interval.row_condition, context, i, 0);
      row[index].lower = lower_bound_at(interval, context, i);
      row[index].upper = upper_bound_at(interval, context, i);
      row[index].exact = interval.exact;
    }
    for (int64_t j = 0; j < context.key_length; ++j) {
      bool attended = evaluate(*mask, context, i, j);
      bool inside = false;
      bool inside_exact = false;
      for (const RowInterval& interval : row) {
        if (!interval.active || j < interval.lower || j > interval.upper) continue;
        inside = true;
        inside_exact = inside_exact || interval.exact;
        if (require_exact && !interval.exact) {
          return "inexact interval active at (" + std::to_string(i) + ", " + std::to_string(j) +
                 ")";
        }
      }
      if (attended == inside && (inside_exact || !attended)) continue;
      std::string where = " at (i, j) = (" + std::to_string(i) + ", " + std::to_string(j) + ")";
      if (attended && !inside) return "attended but in no interval" + where;
      if (inside_exact && !attended) return "in an exact interval but masked" + where;
      if (form.exact() && inside != attended) return "exact form differs" + where;
      if (require_exact) return "exact primitive differs" + where;
    }
  }
  return "";
}

std::string describe(const PredicatePtr& mask, const IntervalForm& form,
                     const MaskContext& context) {
  std::string text = "mask: " + print_mask(*mask) +
                     "\nLq = " + std::to_string(context.query_length) +
                     ", Lk = " + std::to_string(context.key_length) + "\n";
  for (const auto& [name, value] : context.parameters) {
    text += "$" + name + " = " + std::to_string(value) + "\n";
  }
  return text + "form:\n" + print_interval_form(form);
}

// Every primitive alone, arguments literal or run-time, comes out exact (STYLE: Lq = 37, Lk = 501).
TEST(IntervalSoundness, EachPrimitiveIsExact) {
  testing::TestRandom random(20240611);
  for (const PrimitiveInfo& info : primitive_table()) {
    for (int trial = 0; trial < 40; ++trial) {
      testing::RandomMaskBuilder builder(random);
      int64_t smallest = info.minimum.empty() ? 0 : info.minimum.front();
      PredicatePtr mask = builder.primitive(info, trial < 20 ? smallest + 8 : 600);
      MaskContext& context = builder.context();
      context.query_length = 37;
      context.key_length = 501;
      IntervalForm form = build_interval_form(mask);
      bool literal =
          std::all_of(mask->arguments.begin(), mask->arguments.end(),
                      [](const TermPtr& term) { return term->kind == TermKind::kConstant; });
      if (literal) {
        EXPECT_TRUE(form.exact()) << describe(mask, form, context);
      }
      std::string failure = check_every_element(mask, form, context, /*require_exact=*/true);
      ASSERT_EQ(failure, "") << describe(mask, form, context);
    }
  }
}

// A mask nested 40 deep: the cap on intervals and on bound size keep the form small (and the
// analysis fast), and it stays sound.
TEST(IntervalSoundness, DeepMasksStayBoundedAndSound) {
  const char* leaves[] = {"window(5, 3)",     "prefix($p)", "chunk(16)", "!sink(3)",
                          "(i - j) % 3 == 0", "j >= i - 7", "causal_br"};
  std::string text = "causal";
  for (int depth = 0; depth < 40; ++depth) {
    text = (depth % 3 == 0 ? "!(" : "(") + text + (depth % 2 ? ") & " : ") | ") + leaves[depth % 7];
  }
  PredicatePtr mask = parse_mask(text);
  IntervalForm form = build_interval_form(mask);
  EXPECT_LE(form.intervals.size(), 8u);
  for (const Interval& interval : form.intervals) {
    for (const TermPtr& bound : {interval.lower, interval.upper}) {
      if (bound) {
        EXPECT_LE(print_term(*bound).size(), 2000u) << print_term(*bound);
      }
    }
  }
  MaskContext context{45, 40, {{"p", 9}}};
  EXPECT_EQ(check_every_element(mask, form, context, /*require_exact=*/false), "")
      << describe(mask, form, context);
}

void check_random_masks(uint64_t seed, int count) {
  testing::TestRandom random(seed);
  for (int trial = 0; trial < count; ++trial) {
    testing::RandomMaskBuilder builder(random);
    PredicatePtr mask = builder.tree(static_cast<int>(random.integer(1, 4)));
    IntervalForm form = build_interval_form(mask);
    MaskContext& context = builder.context();
    for (int shape = 0; shape < 3; ++shape) {
      // Each mask meets an empty or 1-token document on one side at least once.
      context.query_length = shape == 0 ? random.integer(0, 1) : testing::random_length(random);
      context.key_length = shape == 1 ? random.integer(0, 1) : testing::random_length(random);
      std::string failure = check_every_element(mask, form, context, /*require_exact=*/false);
      ASSERT_EQ(failure, "") << "trial " << trial << "\n" << describe(mask, form, context);
    }
  }
}

TEST(IntervalSoundness, RandomCompositionsFixedSeed) {
  SCOPED_TRACE(testing::seed_trace(7));
  check_random_masks(7, 400);
}

TEST(IntervalSoundness, RandomCompositionsFreshSeed) {
  uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  check_random_masks(seed, 150);
}

}  // namespace
}  // namespace attncc
