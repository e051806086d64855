// The canonicalise pass: hand-worked canonical forms, then properties on random trees
// (same meaning by brute-force evaluation, idempotence, stable through print/parse, invariants).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "attncc/mask_text.h"
#include "compiler/ir/primitives.h"

namespace attncc {
namespace {

std::string canonical_text(const std::string& text) {
  return print_mask(*canonicalise(parse_mask(text)));
}

TEST(Canonicalise, SortsFlattensAndDropsDuplicates) {
  EXPECT_EQ(canonical_text("window(256, 0) & causal"), "causal & window(256, 0)");
  EXPECT_EQ(canonical_text("sink(4) | causal | sink(4)"), "causal | sink(4)");
  EXPECT_EQ(canonical_text("causal & (full & (sink(4) & causal))"), "causal & full & sink(4)");
  EXPECT_EQ(canonical_text("(sink(1) | (causal | sink(1))) | full"), "causal | full | sink(1)");
  // Different operators do not flatten into each other.
  EXPECT_EQ(canonical_text("(sink(4) | full) & causal"), "causal & (full | sink(4))");
  EXPECT_EQ(canonical_text("sink(4) | full & causal"), "causal & full | sink(4)");
  // Flattening also sees through operands that collapse to one of the same kind.
  EXPECT_EQ(canonical_text("causal & (sink(4) & (full | false))"), "causal & full & sink(4)");
  // Masks that differ only in spelling become one text.
  EXPECT_EQ(canonical_text("sink(4)|window(1024,0)"),
            canonical_text("window(1024, 0) | sink(4) |\n sink(4)"));
}

TEST(Canonicalise, OrientsComparisons) {
  EXPECT_EQ(canonical_text("i >= j"), "j <= i");
  EXPECT_EQ(canonical_text("i < j"), "j > i");
  EXPECT_EQ(canonical_text("i == j"), "j == i");
  EXPECT_EQ(canonical_text("i != j + 1"), "j + 1 != i");
  EXPECT_EQ(canonical_text("i - 128 <= j"), "j >= i - 128");
  EXPECT_EQ(canonical_text("3 > i"), "i < 3");
  EXPECT_EQ(canonical_text("Lq > i"), "i < Lq");
  EXPECT_EQ(canonical_text("Lk - 16 > j"), "j < Lk - 16");
  EXPECT_EQ(canonical_text("i / 4 == j / 4"), "j / 4 == i / 4");
  // Both sides (or neither side) mention j: left as written.
  EXPECT_EQ(canonical_text("(i + j) / 4 == j / 4"), "(i + j) / 4 == j / 4");
  EXPECT_EQ(canonical_text("i + j < j * 2"), "i + j < j * 2");
  EXPECT_EQ(canonical_text("Lk > Lq"), "Lk > Lq");
  // Orientation looks at the folded terms: j * 0 is 0 and mentions nothing.
  EXPECT_EQ(canonical_text("j * 0 < i"), "i > 0");
}

TEST(Canonicalise, FoldsConstants) {
  EXPECT_EQ(canonical_text("j < 2 + 3 * 4"), "j < 14");
  EXPECT_EQ(canonical_text("j < -7 / 2"), "j < -4");  // floor(-3.5)
  EXPECT_EQ(canonical_text("j < -7 % 3"), "j < 2");   // -7 - 3 * -3
  EXPECT_EQ(canonical_text("j < 7 % -3"), "j < -2");  // 7 - (-3) * -3
  EXPECT_EQ(canonical_text("j < -(5)"), "j < -5");
  EXPECT_EQ(canonical_text("j < -(-(5))"), "j < 5");
  EXPECT_EQ(canonical_text("j < min(3, 5) + max(-1, -2)"), "j < 2");
  EXPECT_EQ(canonical_text("j <= i + (Lk - Lk) * 0 + (2 - 2)"), "j <= i");
  EXPECT_EQ(canonical_text("window(1 + 1, -(1))"), "window(2, -1)");
  EXPECT_EQ(canonical_text("prefix($p[doc] + 0)"), "prefix($p[doc])");
  // Floor semantics at the int64 limits, where the int64 intermediates would overflow.
  EXPECT_EQ(canonical_text("j < 1 % -9223372036854775808"), "j < -9223372036854775807");
  EXPECT_EQ(canonical_text("j < 1 / -9223372036854775808"), "j < -1");
  EXPECT_EQ(canonical_text("j < -1 / -9223372036854775808"), "j < 0");
  EXPECT_EQ(canonical_text("j < -1 % -9223372036854775808"), "j < -1");
  EXPECT_EQ(canonical_text("j < 9223372036854775807 / -1"), "j < -9223372036854775807");
  // Division and modulo by zero stay for `check` to report.
  EXPECT_EQ(canonical_text("j < 5 / 0"), "j < 5 / 0");
  EXPECT_EQ(canonical_text("j < 5 % (1 - 1)"), "j < 5 % 0");
  EXPECT_EQ(canonical_text("j < i / 0"), "j < i / 0");
  // Results that do not fit in 64 bits are not folded.
  EXPECT_EQ(canonical_text("j < 9223372036854775807 + 1"), "j < 9223372036854775807 + 1");
  EXPECT_EQ(canonical_text("j < -9223372036854775808 / -1"), "j < -9223372036854775808 / -1");
  EXPECT_EQ(canonical_text("j < -9223372036854775808 % -1"), "j < -9223372036854775808 % -1");
  EXPECT_EQ(canonical_text("j < -(-9223372036854775808)"), "j < -(-9223372036854775808)");
  EXPECT_EQ(canonical_text("j < 4611686018427387904 * 2"), "j < 4611686018427387904 * 2");
}

TEST(Canonicalise, SimplifiesIdentities) {
  EXPECT_EQ(canonical_text("j < i + 0"), "j < i");
  EXPECT_EQ(canonical_text("j < 0 + i"), "j < i");
  EXPECT_EQ(canonical_text("j < i - 0"), "j < i");
  EXPECT_EQ(canonical_text("j < 0 - i"), "j < 0 - i");
  EXPECT_EQ(canonical_text("j < i * 1"), "j < i");
  EXPECT_EQ(canonical_text("j < 1 * i"), "j < i");
  EXPECT_EQ(canonical_text("j < i / 1"), "j < i");
  EXPECT_EQ(canonical_text("j < --i"), "j < i");
  EXPECT_EQ(canonical_text("j < Lk * 0"), "j < 0");
  EXPECT_EQ(canonical_text("j < i % 1"), "j < 0");
  // A parameter is never dropped: the kernel's parameter list must not depend on spelling.
  EXPECT_EQ(canonical_text("j < $p * 0"), "j < $p * 0");
  EXPECT_EQ(canonical_text("j < 0 * $p[doc]"), "j < 0 * $p[doc]");
  EXPECT_EQ(canonical_text("j < $p % 1"), "j < $p % 1");
}

TEST(Canonicalise, SimplifiesBooleans) {
  EXPECT_EQ(canonical_text("2 < 3"), "true");
  EXPECT_EQ(canonical_text("causal & 3 < 2"), "false");
  EXPECT_EQ(canonical_text("causal | 1 == 1"), "true");
  EXPECT_EQ(canonical_text("causal & 1 == 1"), "causal");
  EXPECT_EQ(canonical_text("causal | false"), "causal");
  EXPECT_EQ(canonical_text("true & true"), "true");
  EXPECT_EQ(canonical_text("false | false"), "false");
  EXPECT_EQ(canonical_text("!true"), "false");
  EXPECT_EQ(canonical_text("!(1 > 2)"), "true");
  EXPECT_EQ(canonical_text("!!causal"), "causal");
  EXPECT_EQ(canonical_text("!!!causal"), "!causal");
  EXPECT_EQ(canonical_text("!(causal & true)"), "!causal");
  EXPECT_EQ(canonical_text("!(i > j)"), "!(j < i)");
  // Sugar stays sugar: primitives are not expanded, not even `full`.
  EXPECT_EQ(canonical_text("full"), "full");
  EXPECT_EQ(canonical_text("causal_br & window_br(256, 0)"), "causal_br & window_br(256, 0)");
}

TEST(Canonicalise, KeepsSpansOfKeptNodes) {
  PredicatePtr mask = canonicalise(parse_mask("window(256, 0) & causal", {"x.json", 3, 10}));
  ASSERT_EQ(mask->kind, PredicateKind::kAnd);
  const Predicate& window = *mask->operands[1];
  EXPECT_EQ(window.primitive, "window");
  EXPECT_EQ(window.span.line, 3);
  EXPECT_EQ(window.span.column, 10);
  // A folded constant takes the span of the subterm it replaces.
  PredicatePtr folded = canonicalise(parse_mask("j < 5 / 0 + (2 - 1)"));
  EXPECT_EQ(folded->terms[1]->operands[1]->span.column, 14);  // spans exclude parentheses
  EXPECT_EQ(folded->terms[1]->operands[0]->span.column, 5);
}

// Random trees of depth <= 4 over every node kind; `extreme` adds the int64 limits as constants
// (for structural properties only: evaluating them would overflow).
class TreeGenerator {
 public:
  TreeGenerator(uint32_t seed, bool extreme) : random_(seed), extreme_(extreme) {}

  PredicatePtr predicate(int depth) {
    int choice = pick(depth <= 1 ? 4 : 8);
    switch (choice) {
      case 0: return make_boolean(pick(2) == 0);
      case 1: {
        const auto table = primitive_table();
        const PrimitiveInfo& info =
            table[static_cast<size_t>(pick(static_cast<int>(table.size())))];
        std::vector<TermPtr> arguments;
        for (size_t index = 0; index < info.parameters.size(); ++index) {
          arguments.push_back(term(depth - 1));
        }
        return make_primitive(std::string(info.name), arguments);
      }
      case 2:
      case 3:
        return make_compare(static_cast<Comparison>(pick(6)), term(depth - 1), term(depth - 1));
      case 4: return make_logical(PredicateKind::kNot, {predicate(depth - 1)});
      default: {
        std::vector<PredicatePtr> operands;
        int count = 2 + pick(3);
        for (int index = 0; index < count; ++index) {
          // Repeats make duplicates common enough to exercise their removal.
          operands.push_back(index > 0 && pick(4) == 0 ? operands.front() : predicate(depth - 1));
        }
        return make_logical(choice % 2 == 0 ? PredicateKind::kAnd : PredicateKind::kOr, operands);
      }
    }
  }

  TermPtr term(int depth) {
    int choice = pick(depth <= 1 ? 8 : 16);
    switch (choice) {
      case 0:
      case 1: {
        static const int64_t kSmall[] = {0, 1, -1, 2, 3, -7};
        static const int64_t kExtreme[] = {std::numeric_limits<int64_t>::min(),
                                           std::numeric_limits<int64_t>::max()};
        if (extreme_ && pick(3) == 0) return make_constant(kExtreme[pick(2)]);
        return make_constant(kSmall[pick(6)]);
      }
      case 2: return make_variable(TermKind::kQueryIndex);
      case 3: return make_variable(TermKind::kKeyIndex);
      case 4: return make_variable(TermKind::kQueryLength);
      case 5: return make_variable(TermKind::kKeyLength);
      case 6: return make_parameter("p", false);
      case 7: return make_parameter("q", true);
      case 8: return make_unary(TermKind::kNegate, term(depth - 1));
      default: {
        static const TermKind kBinary[] = {TermKind::kAdd,         TermKind::kSubtract,
                                           TermKind::kMultiply,    TermKind::kFloorDivide,
                                           TermKind::kFloorModulo, TermKind::kMinimum,
                                           TermKind::kMaximum};
        return make_binary(kBinary[choice - 9], term(depth - 1), term(depth - 1));
      }
    }
  }

  int pick(int count) { return std::uniform_int_distribution<int>(0, count - 1)(random_); }

 private:
  std::mt19937 random_;
  bool extreme_;
};

// Whether a binary node of two constants has a representable value that canonicalise should
// have folded; computed in 128 bits, independently of the pass.
bool foldable(TermKind kind, int64_t a, int64_t b) {
  __int128 wide_a = a;
  __int128 wide_b = b;
  __int128 result = 0;
  switch (kind) {
    case TermKind::kAdd: result = wide_a + wide_b; break;
    case TermKind::kSubtract: result = wide_a - wide_b; break;
    case TermKind::kMultiply: result = wide_a * wide_b; break;
    case TermKind::kFloorDivide:
    case TermKind::kFloorModulo:
      if (b == 0) return false;
      result = wide_a / wide_b;  // the floor differs by at most 1, only the magnitude matters
      break;
    default: return true;  // min, max
  }
  return result >= std::numeric_limits<int64_t>::min() &&
         result <= std::numeric_limits<int64_t>::max() &&
         !(a == std::numeric_limits<int64_t>::min() && b == -1);
}

void expect_canonical_term(const Term& term, const std::string& where) {
  for (const TermPtr& operand : term.operands) expect_canonical_term(*operand, where);
  if (term.kind == TermKind::kNegate) {
    const Term& operand = *term.operands[0];
    EXPECT_NE(operand.kind, TermKind::kNegate) << where;
    if (operand.kind == TermKind::kConstant) {
      EXPECT_EQ(operand.value, std::numeric_limits<int64_t>::min()) << where;
    }
  } else if (term.operands.size() == 2) {
    const Term& a = *term.operands[0];
    const Term& b = *term.operands[1];
    if (a.kind == TermKind::kConstant && b.kind == TermKind::kConstant) {
      EXPECT_FALSE(foldable(term.kind, a.value, b.value)) << "unfolded constants in " << where;
    }
    bool add_zero = (term.kind == TermKind::kAdd || term.kind == TermKind::kSubtract) &&
                    b.kind == TermKind::kConstant && b.value == 0;
    bool times_one = (term.kind == TermKind::kMultiply || term.kind == TermKind::kFloorDivide) &&
                     b.kind == TermKind::kConstant && b.value == 1;
    EXPECT_FALSE(add_zero || times_one) << "identity left in " << where;
  }
}

// The documented shape of a canonical tree.
void expect_canonical(const Predicate& predicate, const std::string& where) {
  switch (predicate.kind) {
    case PredicateKind::kAnd:
    case PredicateKind::kOr: {
      ASSERT_GE(predicate.operands.size(), 2u) << where;
      for (size_t index = 0; index < predicate.operands.size(); ++index) {
        const Predicate& operand = *predicate.operands[index];
        EXPECT_NE(operand.kind, predicate.kind) << "not flat: " << where;
        EXPECT_NE(operand.kind, PredicateKind::kTrue) << where;
        EXPECT_NE(operand.kind, PredicateKind::kFalse) << where;
        if (index > 0) {
          EXPECT_LT(print_mask(*predicate.operands[index - 1]), print_mask(operand))
              << "unsorted or duplicated: " << where;
        }
        expect_canonical(operand, where);
      }
      break;
    }
    case PredicateKind::kNot: {
      PredicateKind inner = predicate.operands[0]->kind;
      EXPECT_TRUE(inner != PredicateKind::kNot && inner != PredicateKind::kTrue &&
                  inner != PredicateKind::kFalse)
          << where;
      expect_canonical(*predicate.operands[0], where);
      break;
    }
    case PredicateKind::kCompare: {
      const Term& lhs = *predicate.terms[0];
      const Term& rhs = *predicate.terms[1];
      EXPECT_FALSE(lhs.kind == TermKind::kConstant && rhs.kind == TermKind::kConstant) << where;
      bool lhs_j = mentions(lhs, TermKind::kKeyIndex);
      bool rhs_j = mentions(rhs, TermKind::kKeyIndex);
      EXPECT_FALSE(rhs_j && !lhs_j) << "j on the right: " << where;
      if (!lhs_j && !rhs_j) {
        EXPECT_FALSE(mentions(rhs, TermKind::kQueryIndex) && !mentions(lhs, TermKind::kQueryIndex))
            << "i on the right: " << where;
      }
      expect_canonical_term(lhs, where);
      expect_canonical_term(rhs, where);
      break;
    }
    case PredicateKind::kPrimitive:
      for (const TermPtr& argument : predicate.arguments) expect_canonical_term(*argument, where);
      break;
    default: break;
  }
}

// Same value of `a` and `b` at every (i, j) of a few random documents.
void expect_same_meaning(const Predicate& a, const Predicate& b, TreeGenerator& random,
                         const std::string& where) {
  for (int trial = 0; trial < 3; ++trial) {
    MaskContext context;
    context.query_length = 1 + random.pick(8);
    context.key_length = 1 + random.pick(8);
    context.parameters["p"] = random.pick(9) - 3;
    context.parameters["q"] = random.pick(9) - 3;
    for (int64_t i = 0; i < context.query_length; ++i) {
      for (int64_t j = 0; j < context.key_length; ++j) {
        ASSERT_EQ(evaluate(a, context, i, j), evaluate(b, context, i, j))
            << where << " at i=" << i << " j=" << j << " Lq=" << context.query_length
            << " Lk=" << context.key_length << " p=" << context.parameters["p"]
            << " q=" << context.parameters["q"];
      }
    }
  }
}

// Reverses every &/| operand list and wraps every comparison in `!!` and `& true`.
PredicatePtr respelled(const PredicatePtr& predicate) {
  switch (predicate->kind) {
    case PredicateKind::kAnd:
    case PredicateKind::kOr: {
      std::vector<PredicatePtr> operands;
      for (auto it = predicate->operands.rbegin(); it != predicate->operands.rend(); ++it) {
        operands.push_back(respelled(*it));
      }
      operands.push_back(operands.front());
      return make_logical(predicate->kind, operands);
    }
    case PredicateKind::kNot:
      return make_logical(PredicateKind::kNot, {respelled(predicate->operands[0])});
    case PredicateKind::kCompare: {
      PredicatePtr twice =
          make_logical(PredicateKind::kNot, {make_logical(PredicateKind::kNot, {predicate})});
      return make_logical(PredicateKind::kAnd, {twice, make_boolean(true)});
    }
    default: return predicate;
  }
}

void check_random_trees(uint32_t seed, int count, bool extreme) {
  TreeGenerator generator(seed, extreme);
  for (int index = 0; index < count; ++index) {
    PredicatePtr tree = generator.predicate(4);
    std::string where = "seed " + std::to_string(seed) + " tree " + std::to_string(index) + ": " +
                        print_mask(*tree);
    PredicatePtr canonical = canonicalise(tree);
    std::string printed = print_mask(*canonical);
    where += "\ncanonical: " + printed;
    ASSERT_TRUE(same_predicate(*canonicalise(canonical), *canonical))
        << "not idempotent: " << where;
    PredicatePtr reparsed = parse_mask(printed);
    ASSERT_TRUE(same_predicate(*reparsed, *canonical)) << "does not read back: " << where;
    ASSERT_TRUE(same_predicate(*canonicalise(reparsed), *canonical)) << where;
    expect_canonical(*canonical, where);
    ASSERT_EQ(print_mask(*canonicalise(respelled(tree))), printed)
        << "respelled differs: " << where;
    if (!extreme) expect_same_meaning(*tree, *canonical, generator, where);
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(Canonicalise, RandomTreesFixedSeeds) {
  for (uint32_t seed = 1; seed <= 3; ++seed) check_random_trees(seed, 1000, false);
  for (uint32_t seed = 11; seed <= 12; ++seed) check_random_trees(seed, 1000, true);
}

TEST(Canonicalise, RandomTreesFreshSeed) {
  uint32_t seed = std::random_device{}();
  check_random_trees(seed, 1000, false);
  check_random_trees(seed, 500, true);
}

}  // namespace
}  // namespace attncc
