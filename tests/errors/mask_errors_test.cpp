// Every class of bad mask text and the exact error parse_mask gives for it: code, line:col,
// message, hint and excerpt.
#include <gtest/gtest.h>

#include <string>

#include "attncc/mask_text.h"

namespace attncc {
namespace {

// The full what() of the error that parsing `text` raises ("" if it parses).
std::string error_of(const std::string& text, const SourceLocation& origin = {"<mask>", 1, 1},
                     const MaskParseOptions& options = {}) {
  try {
    parse_mask(text, origin, options);
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidMask) << text;
    return error.what();
  }
  ADD_FAILURE() << "parsed without error: " << text;
  return "";
}

// The first line of the error: `file:line:col: error: message; hint`.
std::string headline(const std::string& text, const SourceLocation& origin = {"<mask>", 1, 1}) {
  std::string message = error_of(text, origin);
  return message.substr(0, message.find('\n'));
}

TEST(MaskErrors, UnknownPrimitiveSuggestsNearestName) {
  EXPECT_EQ(error_of("casual & sink(4)"),
            "<mask>:1:1: error: unknown name 'casual'; did you mean 'causal'?\n"
            "  casual & sink(4)\n"
            "  ^");
  EXPECT_EQ(headline("sink(4) | windw(4, 0)"),
            "<mask>:1:11: error: unknown primitive 'windw'; did you mean 'window'?");
  EXPECT_EQ(headline("causal_bt"),
            "<mask>:1:1: error: unknown name 'causal_bt'; did you mean 'causal_br'?");
  // Names are case-sensitive.
  EXPECT_EQ(headline("Causal"), "<mask>:1:1: error: unknown name 'Causal'; did you mean 'causal'?");
  EXPECT_EQ(headline("j < lk"), "<mask>:1:5: error: unknown name 'lk'; did you mean 'Lk'?");
  EXPECT_EQ(headline("j < mn(i, 2)"),
            "<mask>:1:5: error: unknown primitive 'mn'; did you mean 'min'?");
  // Nothing close: list what exists.
  EXPECT_EQ(headline("xyzzy"),
            "<mask>:1:1: error: unknown name 'xyzzy'; names are i, j, Lq, Lk, $param, $param[doc], "
            "min, max, true, false and the primitives full, causal, causal_br, window, window_br, "
            "prefix, chunk, sink");
  EXPECT_EQ(headline("doc < 3"),
            "<mask>:1:1: error: unknown name 'doc'; 'doc' is only valid as an index, as in "
            "$name[doc]");
}

TEST(MaskErrors, WrongArity) {
  EXPECT_EQ(headline("window(1)"),
            "<mask>:1:1: error: 'window' takes 2 arguments, got 1; write window(l, r)");
  EXPECT_EQ(headline("causal & prefix(1, 2)"),
            "<mask>:1:10: error: 'prefix' takes 1 argument, got 2; write prefix(p)");
  EXPECT_EQ(headline("causal(0)"),
            "<mask>:1:1: error: 'causal' takes no arguments, got 1; write causal");
  EXPECT_EQ(headline("window() | full"),
            "<mask>:1:1: error: 'window' takes 2 arguments, got 0; write window(l, r)");
  EXPECT_EQ(headline("window & causal"),
            "<mask>:1:8: error: expected '(' after 'window', which takes 2 arguments, got '&'; "
            "write window(l, r)");
  EXPECT_EQ(headline("j < min(i)"), "<mask>:1:5: error: 'min' takes 2 arguments, got 1");
  EXPECT_EQ(headline("j < max"),
            "<mask>:1:8: error: expected '(' after 'max', got end of mask; "
            "write max(a, b)");
}

TEST(MaskErrors, UnbalancedParentheses) {
  EXPECT_EQ(error_of("causal & (full"),
            "<mask>:1:15: error: expected ')' to close '(' at 1:10, got end of mask\n"
            "  causal & (full\n"
            "                ^");
  EXPECT_EQ(headline("causal)"),
            "<mask>:1:7: error: expected end of mask, got ')'; this ')' has no matching '('");
  EXPECT_EQ(headline("((i + 1) < j"),
            "<mask>:1:13: error: expected ')' to close '(' at 1:1, got end of mask");
  EXPECT_EQ(headline("window(1, 2"),
            "<mask>:1:12: error: expected ',' or ')' in the arguments of 'window' opened at 1:7, "
            "got end of mask");
  EXPECT_EQ(headline("()"), "<mask>:1:2: error: expected a term or predicate after '(', got ')'");
}

TEST(MaskErrors, DocumentIndex) {
  EXPECT_EQ(error_of("prefix($p[x])"),
            "<mask>:1:11: error: expected 'doc' as the index of $p, got 'x'; per-document "
            "parameters are written $p[doc]\n"
            "  prefix($p[x])\n"
            "            ^");
  EXPECT_EQ(headline("prefix($p[0])"),
            "<mask>:1:11: error: expected 'doc' as the index of $p, got '0'; per-document "
            "parameters are written $p[doc]");
  EXPECT_EQ(headline("prefix($p[doc)"), "<mask>:1:14: error: expected ']' after '$p[doc', got ')'");
  EXPECT_EQ(headline("sink($)"),
            "<mask>:1:6: error: expected a parameter name after '$', got ')'; parameters are "
            "written $name or $name[doc]");
}

TEST(MaskErrors, BooleanTermConfusion) {
  EXPECT_EQ(headline("causal + 1"),
            "<mask>:1:1: error: expected an integer term on the left of '+', got predicate "
            "'causal'");
  EXPECT_EQ(headline("i & j"),
            "<mask>:1:1: error: expected a predicate on the left of '&', got integer term 'i'; "
            "compare terms with < <= > >= == != to make a predicate (e.g. 'j <= i')");
  EXPECT_EQ(headline("causal | j"),
            "<mask>:1:10: error: expected a predicate on the right of '|', got integer term 'j'; "
            "compare terms with < <= > >= == != to make a predicate (e.g. 'j <= i')");
  EXPECT_EQ(headline("!(i + 1)"),
            "<mask>:1:2: error: expected a predicate after '!', got integer term '(i + 1)'; "
            "compare terms with < <= > >= == != to make a predicate (e.g. 'j <= i')");
  EXPECT_EQ(headline("j < (i < 2)"),
            "<mask>:1:5: error: expected an integer term on the right of '<', got predicate "
            "'(i < 2)'");
  EXPECT_EQ(headline("sink(causal)"),
            "<mask>:1:6: error: expected an integer term as argument 1 of 'sink', got predicate "
            "'causal'");
  EXPECT_EQ(headline("j < -true"),
            "<mask>:1:6: error: expected an integer term after '-', got predicate 'true'");
  EXPECT_EQ(headline("j - i"),
            "<mask>:1:1: error: expected a predicate, got integer term 'j - i'; compare terms with "
            "< <= > >= == != (e.g. 'j <= i')");
  EXPECT_EQ(headline("i < j < 3"),
            "<mask>:1:7: error: expected '&', '|', ')' or end of mask after comparison 'i < j', "
            "got '<'; comparisons do not chain; write 'a <= b & b <= c'");
}

TEST(MaskErrors, EmptyAndTrailing) {
  EXPECT_EQ(headline(""),
            "<mask>:1:1: error: empty mask; write a predicate such as 'causal' or 'full'");
  EXPECT_EQ(headline("  \n "),
            "<mask>:2:2: error: empty mask; write a predicate such as 'causal' or 'full'");
  EXPECT_EQ(headline("causal causal"),
            "<mask>:1:8: error: expected end of mask, got 'causal'; combine predicates with '&' "
            "or '|'");
  EXPECT_EQ(headline("causal &"),
            "<mask>:1:9: error: expected a predicate after '&', got end of mask");
  EXPECT_EQ(headline("j <= i +"),
            "<mask>:1:9: error: expected an integer term after '+', got end of mask");
  EXPECT_EQ(headline("j <= , i"),
            "<mask>:1:6: error: expected an integer term after '<=', got ','");
  EXPECT_EQ(headline("| causal"), "<mask>:1:1: error: expected a predicate, got '|'");
}

TEST(MaskErrors, LexicalErrors) {
  EXPECT_EQ(headline("causal && full"), "<mask>:1:8: error: unexpected '&&'; write a single '&'");
  EXPECT_EQ(headline("causal || full"), "<mask>:1:8: error: unexpected '||'; write a single '|'");
  EXPECT_EQ(headline("i = j"), "<mask>:1:3: error: unexpected '='; compare with '=='");
  EXPECT_EQ(headline("j < 3x"),
            "<mask>:1:5: error: invalid integer literal '3x'; integer literals are decimal digits "
            "only");
  EXPECT_EQ(headline("causal # note"), "<mask>:1:8: error: unexpected character '#'");
  // Errors are reported in text order: the unknown name comes before the bad character.
  EXPECT_EQ(headline("casual & #"),
            "<mask>:1:1: error: unknown name 'casual'; did you mean 'causal'?");
}

TEST(MaskErrors, IntegerOverflow) {
  EXPECT_EQ(headline("j < 9223372036854775808"),
            "<mask>:1:5: error: integer literal '9223372036854775808' does not fit in 64 bits; "
            "the largest value is 9223372036854775807");
  EXPECT_EQ(headline("j < -9223372036854775809"),
            "<mask>:1:5: error: integer literal '-9223372036854775809' does not fit in 64 bits; "
            "the smallest value is -9223372036854775808");
  EXPECT_EQ(headline("j < 99999999999999999999999"),
            "<mask>:1:5: error: integer literal '99999999999999999999999' does not fit in 64 "
            "bits; the largest value is 9223372036854775807");
  // The most negative value is fine as a literal, but not its magnitude alone.
  EXPECT_NO_THROW(parse_mask("j > -9223372036854775808"));
  EXPECT_EQ(headline("j > -(9223372036854775808)"),
            "<mask>:1:7: error: integer literal '9223372036854775808' does not fit in 64 bits; "
            "the largest value is 9223372036854775807");
}

TEST(MaskErrors, MultiLineMask) {
  EXPECT_EQ(error_of("causal &\n  sink(4) |\n  windw(8, 0)"),
            "<mask>:3:3: error: unknown primitive 'windw'; did you mean 'window'?\n"
            "    windw(8, 0)\n"
            "    ^");
  EXPECT_EQ(error_of("causal &\n\tsink(4, 1)"),
            "<mask>:2:2: error: 'sink' takes 1 argument, got 2; write sink(n)\n"
            "  \tsink(4, 1)\n"
            "  \t^");
  EXPECT_EQ(headline("(causal\n & full\n"),
            "<mask>:3:1: error: expected ')' to close '(' at 1:1, got end of mask");
}

TEST(MaskErrors, OriginOffset) {
  // A mask whose first character sits at line 4, column 13 of a spec file: the first line's
  // columns are shifted, later lines are not; the excerpt is the mask placed at that column.
  SourceLocation origin{"specs/x.json", 4, 13};
  EXPECT_EQ(error_of("causal & casual", origin),
            "specs/x.json:4:22: error: unknown name 'casual'; did you mean 'causal'?\n"
            "              causal & casual\n"
            "                       ^");
  EXPECT_EQ(headline("causal &\n  (full", origin),
            "specs/x.json:5:8: error: expected ')' to close '(' at 5:3, got end of mask");
  // With the whole file as `source`, the excerpt is the file's line.
  std::string file = "{\n  \"mask\": \"causal & casual\"\n}\n";
  MaskParseOptions options;
  options.source = file;
  EXPECT_EQ(error_of("causal & casual", {"x.json", 2, 12}, options),
            "x.json:2:21: error: unknown name 'casual'; did you mean 'causal'?\n"
            "    \"mask\": \"causal & casual\"\n"
            "                      ^");
}

TEST(MaskErrors, DeepNestingIsAnErrorNotACrash) {
  std::string deep(100000, '(');
  std::string message = headline(deep + "causal");
  EXPECT_NE(message.find("error: mask nests deeper than 200 levels"), std::string::npos) << message;
  std::string negations(100000, '!');
  EXPECT_NE(headline(negations + "causal").find("nests deeper"), std::string::npos);
  std::string minuses(100000, '-');
  EXPECT_NE(headline("j < " + minuses + "i").find("nests deeper"), std::string::npos);
}

TEST(MaskErrors, LongOperatorChainIsAnErrorNotACrash) {
  // No parenthesis, yet `i + i + ... + i` is a tree as deep as the chain is long; every later
  // stage recurses over it (this one overflowed the stack in check_mask; fuzz regression
  // tests/fuzz/regressions/operator_chain_stack_overflow).
  std::string chain = "i";
  for (int index = 0; index < 20000; ++index) chain += " + i";
  // Reported at the 200th '+' (column 4 * 200 + 3).
  EXPECT_EQ(headline("j < " + chain),
            "<mask>:1:803: error: mask nests deeper than 200 levels; simplify it; each operator "
            "of a chain such as 'a + b + c' adds a level");
  // A chain of & or | is one n-ary node, however long.
  std::string conjunction = "causal";
  for (int index = 0; index < 20000; ++index) {
    conjunction += " & sink(" + std::to_string(index) + ")";
  }
  EXPECT_NO_THROW(parse_mask(conjunction));
}

TEST(MaskErrors, EveryAcceptedMaskPrintsToTextThatParsesBack) {
  // The printer spends more syntax than the input on these (`-(-(i))`, `!(j < i)`); the parser
  // bounds the tree, not the syntax, so its own output always reads back (fuzz regressions
  // negation_chain_print_too_deep, not_compare_print_too_deep).
  for (const std::string& text : {"j < " + std::string(190, '-') + "i",
                                  std::string(190, '!') + "j < i",
                                  std::string(95, '(') + "causal" + std::string(95, ')')}) {
    PredicatePtr mask = parse_mask(text);
    std::string printed = print_mask(*mask);
    PredicatePtr reparsed;
    ASSERT_NO_THROW(reparsed = parse_mask(printed)) << printed;
    EXPECT_TRUE(same_predicate(*mask, *reparsed)) << printed;
  }
}

}  // namespace
}  // namespace attncc
