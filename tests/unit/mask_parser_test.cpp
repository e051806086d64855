// parse_mask and print_mask: accepted syntax, precedence, spans, and the print/parse round trip
// on hand-written and randomly generated trees (errors are in tests/errors/mask_errors_test.cpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "attncc/mask_text.h"
#include "compiler/ir/primitives.h"

namespace attncc {
namespace {

TermPtr constant(int64_t value) { return make_constant(value); }
TermPtr var_i() { return make_variable(TermKind::kQueryIndex); }
TermPtr var_j() { return make_variable(TermKind::kKeyIndex); }
TermPtr binary(TermKind kind, TermPtr a, TermPtr b) { return make_binary(kind, a, b); }
PredicatePtr compare(Comparison c, TermPtr a, TermPtr b) { return make_compare(c, a, b); }
PredicatePtr primitive(const std::string& name, std::vector<TermPtr> arguments = {}) {
  return make_primitive(name, std::move(arguments));
}

// Asserts that `text` parses to `expected` (spans ignored).
void expect_tree(const std::string& text, const PredicatePtr& expected) {
  PredicatePtr parsed = parse_mask(text);
  EXPECT_TRUE(same_predicate(*parsed, *expected))
      << "text: " << text << "\nparsed as: " << print_mask(*parsed)
      << "\nexpected: " << print_mask(*expected);
}

bool at(const std::string& text, int64_t i, int64_t j, MaskContext context = {10, 12, {}}) {
  return evaluate(*parse_mask(text), context, i, j);
}

TEST(MaskParser, EveryPrimitive) {
  for (const PrimitiveInfo& info : primitive_table()) {
    std::string text(info.name);
    std::vector<TermPtr> arguments;
    if (!info.parameters.empty()) {
      text += "(";
      for (size_t index = 0; index < info.parameters.size(); ++index) {
        if (index > 0) text += ", ";
        text += std::to_string(index + 3);
        arguments.push_back(constant(static_cast<int64_t>(index + 3)));
      }
      text += ")";
    }
    SCOPED_TRACE(text);
    expect_tree(text, primitive(std::string(info.name), arguments));
    EXPECT_EQ(print_mask(*parse_mask(text)), text);
    if (info.parameters.empty()) {
      // Primitives without parameters may be called with empty parentheses.
      expect_tree(text + "()", primitive(std::string(info.name)));
      expect_tree(text + " ( ) ", primitive(std::string(info.name)));
    }
  }
}

TEST(MaskParser, Atoms) {
  expect_tree("true", make_boolean(true));
  expect_tree("false", make_boolean(false));
  expect_tree("i < j", compare(Comparison::kLess, var_i(), var_j()));
  expect_tree("Lq <= Lk", compare(Comparison::kLessEqual, make_variable(TermKind::kQueryLength),
                                  make_variable(TermKind::kKeyLength)));
  expect_tree("$p > $q[doc]",
              compare(Comparison::kGreater, make_parameter("p", false), make_parameter("q", true)));
  expect_tree("$p_2 >= 0",
              compare(Comparison::kGreaterEqual, make_parameter("p_2", false), constant(0)));
  expect_tree("min(i, 3) == max(j, Lk)",
              compare(Comparison::kEqual, binary(TermKind::kMinimum, var_i(), constant(3)),
                      binary(TermKind::kMaximum, var_j(), make_variable(TermKind::kKeyLength))));
  expect_tree("i != 007", compare(Comparison::kNotEqual, var_i(), constant(7)));
  expect_tree("prefix($p[doc])", primitive("prefix", {make_parameter("p", true)}));
  expect_tree("window(-1, 0)", primitive("window", {constant(-1), constant(0)}));
  expect_tree(
      "sink(min(4, $n))",
      primitive("sink", {binary(TermKind::kMinimum, constant(4), make_parameter("n", false))}));
}

TEST(MaskParser, ArithmeticPrecedence) {
  // i + j * 2: multiplication binds tighter; left associativity for - and /.
  expect_tree("i + j * 2 < 0", compare(Comparison::kLess,
                                       binary(TermKind::kAdd, var_i(),
                                              binary(TermKind::kMultiply, var_j(), constant(2))),
                                       constant(0)));
  expect_tree("i - j - 1 < 0",
              compare(Comparison::kLess,
                      binary(TermKind::kSubtract, binary(TermKind::kSubtract, var_i(), var_j()),
                             constant(1)),
                      constant(0)));
  expect_tree("i / 2 % 3 < 0",
              compare(Comparison::kLess,
                      binary(TermKind::kFloorModulo,
                             binary(TermKind::kFloorDivide, var_i(), constant(2)), constant(3)),
                      constant(0)));
  // Unary minus binds tighter than '/': -i / 2 is (-i) / 2, which differs from -(i / 2) for odd i.
  expect_tree("-i / 2 < 0", compare(Comparison::kLess,
                                    binary(TermKind::kFloorDivide,
                                           make_unary(TermKind::kNegate, var_i()), constant(2)),
                                    constant(0)));
  // Evaluated: i = 3, j = 5.
  EXPECT_TRUE(at("i + j * 2 == 13", 3, 5));
  EXPECT_TRUE(at("(i + j) * 2 == 16", 3, 5));
  EXPECT_TRUE(at("i - j - 1 == -3", 3, 5));
  EXPECT_TRUE(at("i - (j - 1) == -1", 3, 5));
  EXPECT_TRUE(at("-i / 2 == -2", 3, 5));  // floor(-1.5)
  EXPECT_TRUE(at("-(i / 2) == -1", 3, 5));
  EXPECT_TRUE(at("j % -3 == -1", 3, 5));  // sign of the divisor
  EXPECT_TRUE(at("i - -1 == 4", 3, 5));
  EXPECT_TRUE(at("2 * -j == -10", 3, 5));
}

TEST(MaskParser, BooleanPrecedence) {
  PredicatePtr a = primitive("causal");
  PredicatePtr b = primitive("full");
  PredicatePtr c = primitive("sink", {constant(4)});
  // & binds tighter than |; chains are one n-ary node.
  expect_tree("causal | full & sink(4)",
              make_logical(PredicateKind::kOr, {a, make_logical(PredicateKind::kAnd, {b, c})}));
  expect_tree("causal & full | sink(4)",
              make_logical(PredicateKind::kOr, {make_logical(PredicateKind::kAnd, {a, b}), c}));
  expect_tree("causal & full & sink(4)", make_logical(PredicateKind::kAnd, {a, b, c}));
  expect_tree("causal | full | sink(4)", make_logical(PredicateKind::kOr, {a, b, c}));
  // Parentheses keep nesting, even of the same operator.
  expect_tree("(causal & full) & sink(4)",
              make_logical(PredicateKind::kAnd, {make_logical(PredicateKind::kAnd, {a, b}), c}));
  // ! binds tighter than & but looser than comparison.
  expect_tree("!causal & full",
              make_logical(PredicateKind::kAnd, {make_logical(PredicateKind::kNot, {a}), b}));
  expect_tree("!i < j",
              make_logical(PredicateKind::kNot, {compare(Comparison::kLess, var_i(), var_j())}));
  expect_tree("!!causal",
              make_logical(PredicateKind::kNot, {make_logical(PredicateKind::kNot, {a})}));
  // A parenthesised term may be followed by an operator and a comparison.
  expect_tree("(i + 1) * 2 <= j",
              compare(Comparison::kLessEqual,
                      binary(TermKind::kMultiply, binary(TermKind::kAdd, var_i(), constant(1)),
                             constant(2)),
                      var_j()));
  expect_tree("((i)) < ((j))", compare(Comparison::kLess, var_i(), var_j()));
  expect_tree("((causal))", a);
  // Evaluated: sink(4) | causal at (i, j) = (2, 7): false | false; at (9, 3): true.
  EXPECT_FALSE(at("sink(4) | causal & j > 5", 2, 7));
  EXPECT_TRUE(at("sink(4) | causal & j > 5", 9, 6));
  EXPECT_TRUE(at("!causal & j > 5", 2, 7));
  EXPECT_FALSE(at("!(causal | j > 5)", 2, 7));
}

TEST(MaskParser, NegativeLiteralsAndNegation) {
  // `-` directly before a literal is part of it; anything else is kNegate.
  expect_tree("i > -5", compare(Comparison::kGreater, var_i(), constant(-5)));
  expect_tree("i > - 5", compare(Comparison::kGreater, var_i(), constant(-5)));
  expect_tree("i > -(5)",
              compare(Comparison::kGreater, var_i(), make_unary(TermKind::kNegate, constant(5))));
  expect_tree("i > --5",
              compare(Comparison::kGreater, var_i(), make_unary(TermKind::kNegate, constant(-5))));
  expect_tree("i > -j",
              compare(Comparison::kGreater, var_i(), make_unary(TermKind::kNegate, var_j())));
  expect_tree("i - -1 < j", compare(Comparison::kLess,
                                    binary(TermKind::kSubtract, var_i(), constant(-1)), var_j()));
  expect_tree("-9223372036854775808 < i",
              compare(Comparison::kLess, constant(std::numeric_limits<int64_t>::min()), var_i()));
  expect_tree(
      "9223372036854775807 > i",
      compare(Comparison::kGreater, constant(std::numeric_limits<int64_t>::max()), var_i()));
}

TEST(MaskParser, WhitespaceAndNewlines) {
  PredicatePtr expected =
      make_logical(PredicateKind::kAnd,
                   {primitive("causal"), primitive("window", {constant(256), constant(0)})});
  expect_tree("causal&window(256,0)", expected);
  expect_tree("  causal\n\t&  window (\n 256 ,\r\n 0 )\n", expected);
}

TEST(MaskParser, Placeholders) {
  MaskParseOptions options;
  options.placeholders = {"l", "r"};
  PredicatePtr parsed =
      parse_mask("(l < 0 | j >= i - l) & (r < 0 | j <= i + r)", {"<def>", 1, 1}, options);
  PredicatePtr l = compare(Comparison::kLess, make_parameter("l", false), constant(0));
  PredicatePtr lower = compare(Comparison::kGreaterEqual, var_j(),
                               binary(TermKind::kSubtract, var_i(), make_parameter("l", false)));
  PredicatePtr r = compare(Comparison::kLess, make_parameter("r", false), constant(0));
  PredicatePtr upper = compare(Comparison::kLessEqual, var_j(),
                               binary(TermKind::kAdd, var_i(), make_parameter("r", false)));
  PredicatePtr expected = make_logical(
      PredicateKind::kAnd,
      {make_logical(PredicateKind::kOr, {l, lower}), make_logical(PredicateKind::kOr, {r, upper})});
  EXPECT_TRUE(same_predicate(*parsed, *expected)) << print_mask(*parsed);
  // Without the option the same identifiers are unknown names.
  EXPECT_THROW(parse_mask("l < 0"), Error);
}

TEST(MaskParser, PrimitiveDefinitionsExpand) {
  // expand_primitive parses the table's definitions with placeholders; check each against the
  // table's own predicate over a small grid.
  for (const PrimitiveInfo& info : primitive_table()) {
    std::vector<TermPtr> arguments;
    std::vector<int64_t> values;
    for (size_t index = 0; index < info.parameters.size(); ++index) {
      values.push_back(static_cast<int64_t>(index) + 2);
      arguments.push_back(constant(values.back()));
    }
    PredicatePtr expanded = expand_primitive(*primitive(std::string(info.name), arguments));
    MaskContext context{7, 11, {}};
    for (int64_t i = 0; i < 7; ++i) {
      for (int64_t j = 0; j < 11; ++j) {
        ASSERT_EQ(evaluate(*expanded, context, i, j), info.predicate(i, j, 7, 11, values.data()))
            << info.name << " at " << i << ", " << j;
      }
    }
  }
}

TEST(MaskParser, Spans) {
  PredicatePtr mask = parse_mask("causal & window(256, 0)");
  ASSERT_EQ(mask->kind, PredicateKind::kAnd);
  EXPECT_EQ(mask->span.line, 1);
  EXPECT_EQ(mask->span.column, 1);
  EXPECT_EQ(mask->span.length, 23);
  const Predicate& window = *mask->operands[1];
  EXPECT_EQ(window.span.column, 10);
  EXPECT_EQ(window.span.length, 14);
  EXPECT_EQ(window.arguments[0]->span.column, 17);
  EXPECT_EQ(window.arguments[0]->span.length, 3);
  // Origin offsets the first line's columns; later lines restart at column 1.
  PredicatePtr shifted = parse_mask("sink(4) |\n  j >= -3", {"spec.json", 5, 12});
  ASSERT_EQ(shifted->kind, PredicateKind::kOr);
  EXPECT_EQ(shifted->operands[0]->span.line, 5);
  EXPECT_EQ(shifted->operands[0]->span.column, 12);
  const Predicate& second = *shifted->operands[1];
  EXPECT_EQ(second.span.line, 6);
  EXPECT_EQ(second.span.column, 3);
  EXPECT_EQ(second.span.length, 7);
  EXPECT_EQ(second.terms[1]->span.column, 8);  // "-3" including its sign
  EXPECT_EQ(second.terms[1]->span.length, 2);
}

TEST(MaskPrinter, MinimalParenthesesAndSpacing) {
  struct Case {
    const char* input;
    const char* printed;
  };
  const Case cases[] = {
      {"j<=i+Lk-Lq", "j <= i + Lk - Lq"},
      {"causal&window(256,0)", "causal & window(256, 0)"},
      {"!(causal|sink(4))", "!(causal | sink(4))"},
      {"((causal)) & ((full))", "causal & full"},
      {"(causal & full) | sink(4)", "causal & full | sink(4)"},
      {"causal & (full | sink(4))", "causal & (full | sink(4))"},
      {"(causal & full) & sink(4)", "(causal & full) & sink(4)"},
      {"causal | (full | sink(4))", "causal | (full | sink(4))"},
      {"!i < j", "!(i < j)"},
      {"!(!causal)", "!!causal"},
      {"(i + j) + 1 < (i - (j - 1))", "i + j + 1 < i - (j - 1)"},
      {"(i * j) / 2 < i * (j / 2)", "i * j / 2 < i * (j / 2)"},
      {"(i + j) * 2 < -(i + 1)", "(i + j) * 2 < -(i + 1)"},
      {"i - -1 < j", "i - -1 < j"},
      {"i > -(5)", "i > -(5)"},
      {"i > - - 5", "i > -(-5)"},
      {"i > -(-j)", "i > -(-j)"},
      {"(-i) / 2 < 0", "-i / 2 < 0"},
      {"-(i / 2) < 0", "-(i / 2) < 0"},
      {"i > -9223372036854775808", "i > -9223372036854775808"},
      {"$p[doc] < $q", "$p[doc] < $q"},
      {"min( i , max(j,1) ) < 0", "min(i, max(j, 1)) < 0"},
      {"causal()", "causal"},
      {"prefix($p[doc])", "prefix($p[doc])"},
  };
  for (const Case& c : cases) {
    PredicatePtr parsed = parse_mask(c.input);
    std::string printed = print_mask(*parsed);
    EXPECT_EQ(printed, c.printed) << "input: " << c.input;
    EXPECT_TRUE(same_predicate(*parse_mask(printed), *parsed)) << "input: " << c.input;
  }
}

TEST(MaskPrinter, Terms) {
  EXPECT_EQ(print_term(*binary(TermKind::kSubtract, var_i(), constant(-1))), "i - -1");
  EXPECT_EQ(print_term(*make_unary(TermKind::kNegate, constant(1))), "-(1)");
  EXPECT_EQ(print_term(*make_unary(TermKind::kNegate, make_unary(TermKind::kNegate, var_j()))),
            "-(-j)");
  EXPECT_EQ(print_term(*binary(TermKind::kSubtract, var_j(),
                               binary(TermKind::kAdd, var_i(), constant(2)))),
            "j - (i + 2)");
  EXPECT_EQ(print_term(*make_parameter("p", true)), "$p[doc]");
}

// Random trees of depth <= 4 covering every node kind, including the extreme constants.
class TreeGenerator {
 public:
  explicit TreeGenerator(uint32_t seed) : random_(seed) {}

  PredicatePtr predicate(int depth) {
    int choice = pick(depth <= 1 ? 4 : 7);
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
        int count = 2 + pick(2);
        for (int index = 0; index < count; ++index) operands.push_back(predicate(depth - 1));
        return make_logical(choice == 5 ? PredicateKind::kAnd : PredicateKind::kOr, operands);
      }
    }
  }

  TermPtr term(int depth) {
    int choice = pick(depth <= 1 ? 7 : 15);
    switch (choice) {
      case 0: {
        static const int64_t kSpecial[] = {0,
                                           1,
                                           -1,
                                           2,
                                           -7,
                                           256,
                                           std::numeric_limits<int64_t>::min(),
                                           std::numeric_limits<int64_t>::max()};
        return make_constant(kSpecial[pick(8)]);
      }
      case 1: return make_variable(TermKind::kQueryIndex);
      case 2: return make_variable(TermKind::kKeyIndex);
      case 3: return make_variable(TermKind::kQueryLength);
      case 4: return make_variable(TermKind::kKeyLength);
      case 5: return make_parameter("p", false);
      case 6: return make_parameter("q", true);
      case 7: return make_unary(TermKind::kNegate, term(depth - 1));
      default: {
        static const TermKind kBinary[] = {TermKind::kAdd,         TermKind::kSubtract,
                                           TermKind::kMultiply,    TermKind::kFloorDivide,
                                           TermKind::kFloorModulo, TermKind::kMinimum,
                                           TermKind::kMaximum,     TermKind::kAdd};
        return make_binary(kBinary[choice - 8], term(depth - 1), term(depth - 1));
      }
    }
  }

 private:
  int pick(int count) { return std::uniform_int_distribution<int>(0, count - 1)(random_); }
  std::mt19937 random_;
};

void expect_round_trip(uint32_t seed, int count) {
  TreeGenerator generator(seed);
  for (int index = 0; index < count; ++index) {
    PredicatePtr tree = generator.predicate(4);
    std::string printed = print_mask(*tree);
    PredicatePtr reparsed;
    try {
      reparsed = parse_mask(printed);
    } catch (const Error& error) {
      FAIL() << "seed " << seed << " tree " << index << ": printed text does not parse: " << printed
             << "\n"
             << error.what();
    }
    ASSERT_TRUE(same_predicate(*reparsed, *tree))
        << "seed " << seed << " tree " << index << ": " << printed << "\nreads back as "
        << print_mask(*reparsed);
    ASSERT_EQ(print_mask(*reparsed), printed) << "seed " << seed << " tree " << index;
  }
}

TEST(MaskPrinter, RoundTripRandomTreesFixedSeeds) {
  for (uint32_t seed = 1; seed <= 4; ++seed) expect_round_trip(seed, 1000);
}

TEST(MaskPrinter, RoundTripRandomTreesFreshSeed) {
  uint32_t seed = std::random_device{}();
  expect_round_trip(seed, 1000);
}

}  // namespace
}  // namespace attncc
