// Brute-force soundness of the interval form against the direct predicate (the oracle path):
// M(i, j) implies membership, membership in an exact interval implies M(i, j), for every primitive
// and for random compositions of primitives and atoms, over random ragged shapes and parameters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>

#include "attncc/interval_form.h"
#include "attncc/mask_text.h"
#include "compiler/ir/primitives.h"

namespace attncc {
namespace {

using Random = std::mt19937_64;

int64_t uniform(Random& random, int64_t low, int64_t high) {
  return std::uniform_int_distribution<int64_t>(low, high)(random);
}

TermPtr i_term() { return make_variable(TermKind::kQueryIndex); }
TermPtr j_term() { return make_variable(TermKind::kKeyIndex); }

// Parameters of the random masks; scalars and per-document arrays never share a name.
struct ParameterPool {
  MaskContext context;
  int next = 0;

  // An argument >= minimum: a literal, a `$aN` scalar or a `$dN[doc]` entry.
  TermPtr argument(Random& random, int64_t minimum, int64_t maximum) {
    int64_t value = uniform(random, minimum, maximum);
    switch (uniform(random, 0, 2)) {
      case 0:
        return make_constant(value);
      case 1: {
        std::string name = "a" + std::to_string(next++);
        context.parameters[name] = value;
        return make_parameter(name, false);
      }
      default: {
        std::string name = "d" + std::to_string(next++);
        context.parameters[name] = value;
        return make_parameter(name, true);
      }
    }
  }
};

// Largest useful argument of each primitive (windows and prefixes past the lengths included).
int64_t argument_maximum(std::string_view primitive) {
  if (primitive == "chunk") return 70;
  if (primitive == "sink") return 40;
  return 320;
}

PredicatePtr random_primitive(Random& random, ParameterPool& pool) {
  auto table = primitive_table();
  const PrimitiveInfo& info = table[static_cast<size_t>(uniform(random, 0, table.size() - 1))];
  std::vector<TermPtr> arguments;
  for (int64_t minimum : info.minimum) {
    // Small values often: the interesting cases are near the diagonal and near -1 / 0.
    int64_t maximum = uniform(random, 0, 1) ? minimum + 6 : argument_maximum(info.name);
    arguments.push_back(pool.argument(random, minimum, maximum));
  }
  return make_primitive(std::string(info.name), arguments);
}

// a*j op b*i + c*Lq + d*Lk + e (+ a parameter), or one of a few atoms the solver cannot isolate
// or whose bounds it cannot prove monotone.
PredicatePtr random_atom(Random& random, ParameterPool& pool) {
  auto comparison = static_cast<Comparison>(uniform(random, 0, 5));
  auto scaled = [&](int64_t factor, TermPtr term) {
    return factor == 1 ? term : make_binary(TermKind::kMultiply, make_constant(factor), term);
  };
  switch (uniform(random, 0, 9)) {
    case 0:
      return make_compare(
          Comparison::kEqual,
          make_binary(TermKind::kFloorModulo, make_binary(TermKind::kSubtract, i_term(), j_term()),
                      make_constant(uniform(random, 2, 5))),
          make_constant(0));
    case 1:  // j * j: not linear
      return make_compare(
          comparison, make_binary(TermKind::kMultiply, j_term(), j_term()),
          make_binary(TermKind::kAdd, i_term(), make_constant(uniform(random, 0, 50))));
    case 2:  // a non-monotone bound
      return make_compare(
          comparison, j_term(),
          make_binary(TermKind::kSubtract, make_constant(uniform(random, 0, 300)), i_term()));
    case 3:  // a row condition
      return make_compare(comparison, i_term(), pool.argument(random, 0, 60));
    case 4: {  // a quotient of j
      TermPtr quotient =
          make_binary(TermKind::kFloorDivide,
                      make_binary(TermKind::kAdd, j_term(), make_constant(uniform(random, -5, 5))),
                      pool.argument(random, 1, 9));
      return make_compare(
          comparison, quotient,
          make_binary(TermKind::kFloorDivide, i_term(), make_constant(uniform(random, 1, 9))));
    }
    case 5:  // a parameter of unknown sign times i
      return make_compare(comparison, j_term(),
                          make_binary(TermKind::kMultiply, i_term(), pool.argument(random, -2, 2)));
    default: {
      int64_t a = uniform(random, -3, 3);
      if (a == 0) a = 1;
      TermPtr rhs = scaled(uniform(random, 0, 2), i_term());
      if (uniform(random, 0, 2) == 0) {
        rhs = make_binary(
            TermKind::kAdd, rhs,
            make_variable(uniform(random, 0, 1) ? TermKind::kKeyLength : TermKind::kQueryLength));
      }
      rhs = make_binary(TermKind::kAdd, rhs, pool.argument(random, -40, 40));
      return make_compare(comparison, scaled(a, j_term()), rhs);
    }
  }
}

PredicatePtr random_tree(Random& random, ParameterPool& pool, int& leaves) {
  int choice = leaves <= 1 ? 0 : static_cast<int>(uniform(random, 0, 5));
  if (choice <= 1 || leaves <= 1) {
    --leaves;
    return uniform(random, 0, 2) == 0 ? random_atom(random, pool) : random_primitive(random, pool);
  }
  if (choice == 2) return make_logical(PredicateKind::kNot, {random_tree(random, pool, leaves)});
  std::vector<PredicatePtr> operands;
  operands.push_back(random_tree(random, pool, leaves));
  operands.push_back(random_tree(random, pool, leaves));
  return make_logical(choice <= 3 ? PredicateKind::kAnd : PredicateKind::kOr, operands);
}

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

int64_t random_length(Random& random) {
  switch (uniform(random, 0, 5)) {
    case 0:
      return 0;
    case 1:
      return 1;
    default:
      return uniform(random, 0, 300);
  }
}

// Every primitive alone, arguments literal or run-time, comes out exact (STYLE: Lq = 37, Lk = 501).
TEST(IntervalSoundness, EachPrimitiveIsExact) {
  Random random(20240611);
  for (const PrimitiveInfo& info : primitive_table()) {
    for (int trial = 0; trial < 40; ++trial) {
      ParameterPool pool;
      pool.context.query_length = 37;
      pool.context.key_length = 501;
      std::vector<TermPtr> arguments;
      for (int64_t minimum : info.minimum) {
        arguments.push_back(pool.argument(random, minimum, trial < 20 ? minimum + 8 : 600));
      }
      PredicatePtr mask = make_primitive(std::string(info.name), arguments);
      IntervalForm form = build_interval_form(mask);
      bool literal = std::all_of(arguments.begin(), arguments.end(), [](const TermPtr& term) {
        return term->kind == TermKind::kConstant;
      });
      if (literal) {
        EXPECT_TRUE(form.exact()) << describe(mask, form, pool.context);
      }
      std::string failure = check_every_element(mask, form, pool.context, /*require_exact=*/true);
      ASSERT_EQ(failure, "") << describe(mask, form, pool.context);
    }
  }
}

void check_random_masks(uint64_t seed, int count) {
  Random random(seed);
  for (int trial = 0; trial < count; ++trial) {
    ParameterPool pool;
    int leaves = static_cast<int>(uniform(random, 1, 4));
    PredicatePtr mask = random_tree(random, pool, leaves);
    IntervalForm form = build_interval_form(mask);
    for (int shape = 0; shape < 3; ++shape) {
      pool.context.query_length = shape == 0 ? uniform(random, 0, 1) : random_length(random);
      pool.context.key_length = shape == 1 ? uniform(random, 0, 1) : random_length(random);
      std::string failure = check_every_element(mask, form, pool.context, /*require_exact=*/false);
      ASSERT_EQ(failure, "") << "seed " << seed << ", trial " << trial << "\n"
                             << describe(mask, form, pool.context);
    }
  }
}

TEST(IntervalSoundness, RandomCompositionsFixedSeed) { check_random_masks(7, 400); }

TEST(IntervalSoundness, RandomCompositionsFreshSeed) {
  uint64_t seed = std::random_device{}();
  SCOPED_TRACE("fresh seed " + std::to_string(seed) + " (rerun with check_random_masks(seed))");
  check_random_masks(seed, 150);
}

}  // namespace
}  // namespace attncc
