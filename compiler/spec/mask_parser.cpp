// Mask text -> tree: a hand-written lexer and recursive-descent parser (grammar in docs/MASK.md),
// first stage of the pipeline (DESIGN §3); every error is located at line:col of the text.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "attncc/error.h"
#include "attncc/mask_text.h"
#include "compiler/ir/primitives.h"

namespace attncc {
namespace {

// Trees deeper than this are rejected: every later stage (check, canonicalise, print, the
// interval form, evaluation, even the destructors of the shared nodes) recurses over the tree,
// and a long chain such as `i + i + ... + i` builds depth without any parenthesis.
constexpr int kMaxDepth = 200;
// Bound on the parser's own recursion (parentheses and prefix operators), so that hostile input
// cannot exhaust the stack. Higher than kMaxDepth because the printer spends up to 3 levels per
// tree level (`-(`, `!(`: the operator, the parenthesis, the inner expression) and whatever it
// prints for a tree the parser accepted must parse back.
constexpr int kMaxSyntaxDepth = 4 * kMaxDepth;
// 2^63: the magnitude of the most negative int64, reachable only as `-9223372036854775808`.
constexpr uint64_t kMaxMagnitude = uint64_t{1} << 63;
// Operands quoted in messages are cut to this many characters.
constexpr size_t kMaxQuoted = 40;

enum class TokenKind {
  kEnd,
  kInvalid,  ///< a lexical error, reported when the parser reaches it (errors in text order)
  kInteger,
  kIdentifier,
  kParameter,  ///< `$name`
  kLeftParen,
  kRightParen,
  kLeftBracket,
  kRightBracket,
  kComma,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kPercent,
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
  kEqual,
  kNotEqual,
  kAnd,
  kOr,
  kNot,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  size_t begin = 0;  ///< byte offset in the text
  size_t end = 0;
  uint64_t value = 0;      ///< kInteger: magnitude (saturates past kMaxMagnitude)
  bool too_large = false;  ///< kInteger: did not fit in 64 bits unsigned
  std::string message;     ///< kInvalid
  std::string hint;        ///< kInvalid
};

bool is_identifier_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_identifier_char(char c) { return is_identifier_start(c) || is_digit(c); }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string quote_character(char c) {
  auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x20 && byte < 0x7f) return std::string("'") + c + "'";
  const char* digits = "0123456789abcdef";
  return std::string("byte 0x") + digits[byte >> 4] + digits[byte & 15];
}

std::vector<Token> lex(std::string_view text) {
  std::vector<Token> tokens;
  size_t at = 0;
  while (true) {
    while (at < text.size() && is_space(text[at])) ++at;
    Token token;
    token.begin = at;
    if (at == text.size()) {
      token.end = at;
      tokens.push_back(token);
      return tokens;
    }
    char c = text[at];
    char next = at + 1 < text.size() ? text[at + 1] : '\0';
    auto single = [&](TokenKind kind, size_t length) {
      token.kind = kind;
      at += length;
    };
    if (is_digit(c)) {
      token.kind = TokenKind::kInteger;
      while (at < text.size() && is_digit(text[at])) {
        auto digit = static_cast<uint64_t>(text[at] - '0');
        if (token.value > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
          token.too_large = true;
        } else {
          token.value = token.value * 10 + digit;
        }
        ++at;
      }
      if (at < text.size() && is_identifier_char(text[at])) {
        while (at < text.size() && is_identifier_char(text[at])) ++at;
        token.kind = TokenKind::kInvalid;
        token.message = "invalid integer literal '" +
                        std::string(text.substr(token.begin, at - token.begin)) + "'";
        token.hint = "integer literals are decimal digits only";
      }
    } else if (is_identifier_start(c)) {
      token.kind = TokenKind::kIdentifier;
      while (at < text.size() && is_identifier_char(text[at])) ++at;
    } else if (c == '$') {
      ++at;
      if (at < text.size() && is_identifier_start(text[at])) {
        token.kind = TokenKind::kParameter;
        while (at < text.size() && is_identifier_char(text[at])) ++at;
      } else {
        token.kind = TokenKind::kInvalid;
        token.message = "expected a parameter name after '$', got " +
                        (at < text.size() ? quote_character(text[at]) : std::string("end of mask"));
        token.hint = "parameters are written $name or $name[doc]";
      }
    } else {
      switch (c) {
        case '(': single(TokenKind::kLeftParen, 1); break;
        case ')': single(TokenKind::kRightParen, 1); break;
        case '[': single(TokenKind::kLeftBracket, 1); break;
        case ']': single(TokenKind::kRightBracket, 1); break;
        case ',': single(TokenKind::kComma, 1); break;
        case '+': single(TokenKind::kPlus, 1); break;
        case '-': single(TokenKind::kMinus, 1); break;
        case '*': single(TokenKind::kStar, 1); break;
        case '/': single(TokenKind::kSlash, 1); break;
        case '%': single(TokenKind::kPercent, 1); break;
        case '<':
          single(next == '=' ? TokenKind::kLessEqual : TokenKind::kLess, next == '=' ? 2 : 1);
          break;
        case '>':
          single(next == '=' ? TokenKind::kGreaterEqual : TokenKind::kGreater, next == '=' ? 2 : 1);
          break;
        case '!':
          single(next == '=' ? TokenKind::kNotEqual : TokenKind::kNot, next == '=' ? 2 : 1);
          break;
        case '=':
          if (next == '=') {
            single(TokenKind::kEqual, 2);
          } else {
            single(TokenKind::kInvalid, 1);
            token.message = "unexpected '='";
            token.hint = "compare with '=='";
          }
          break;
        case '&':
        case '|':
          if (next == c) {
            single(TokenKind::kInvalid, 2);
            token.message = std::string("unexpected '") + c + c + "'";
            token.hint = std::string("write a single '") + c + "'";
          } else {
            single(c == '&' ? TokenKind::kAnd : TokenKind::kOr, 1);
          }
          break;
        default:
          single(TokenKind::kInvalid, 1);
          token.message = "unexpected character " + quote_character(c);
          break;
      }
    }
    token.end = at;
    tokens.push_back(std::move(token));
  }
}

bool is_comparison(TokenKind kind) {
  return kind == TokenKind::kLess || kind == TokenKind::kLessEqual || kind == TokenKind::kGreater ||
         kind == TokenKind::kGreaterEqual || kind == TokenKind::kEqual ||
         kind == TokenKind::kNotEqual;
}

Comparison comparison_of(TokenKind kind) {
  switch (kind) {
    case TokenKind::kLess: return Comparison::kLess;
    case TokenKind::kLessEqual: return Comparison::kLessEqual;
    case TokenKind::kGreater: return Comparison::kGreater;
    case TokenKind::kGreaterEqual: return Comparison::kGreaterEqual;
    case TokenKind::kEqual: return Comparison::kEqual;
    case TokenKind::kNotEqual: return Comparison::kNotEqual;
    default: break;
  }
  internal_error(__FILE__, __LINE__, "not a comparison token");
}

// Optimal string alignment distance (Levenshtein plus adjacent transpositions), so that
// `casual` is one edit from `causal`.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t x = 0; x <= a.size(); ++x) d[x][0] = x;
  for (size_t y = 0; y <= b.size(); ++y) d[0][y] = y;
  for (size_t x = 1; x <= a.size(); ++x) {
    for (size_t y = 1; y <= b.size(); ++y) {
      size_t cost = a[x - 1] == b[y - 1] ? 0 : 1;
      d[x][y] = std::min({d[x - 1][y] + 1, d[x][y - 1] + 1, d[x - 1][y - 1] + cost});
      if (x > 1 && y > 1 && a[x - 1] == b[y - 2] && a[x - 2] == b[y - 1]) {
        d[x][y] = std::min(d[x][y], d[x - 2][y - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// A parsed operand: the grammar lets `(` open either a predicate or a term, so every level
// returns whichever it found and the operator that consumes it checks the type.
struct Operand {
  TermPtr term;
  PredicatePtr predicate;
  size_t begin = 0;  ///< text range, parentheses included
  size_t end = 0;
  int depth = 1;  ///< height of the tree (a leaf is 1); parentheses add nothing
};

class Parser {
 public:
  Parser(std::string_view text, const SourceLocation& origin, const MaskParseOptions& options)
      : text_(text), origin_(origin), options_(options), tokens_(lex(text)) {
    if (origin_.line < 1) origin_.line = 1;
    if (origin_.column < 1) origin_.column = 1;
    line_starts_.push_back(0);
    for (size_t at = 0; at < text.size(); ++at) {
      if (text[at] == '\n') line_starts_.push_back(at + 1);
    }
  }

  PredicatePtr parse() {
    if (peek().kind == TokenKind::kEnd) {
      fail(peek().begin, "empty mask", "write a predicate such as 'causal' or 'full'");
    }
    Operand mask = parse_or();
    const Token& rest = peek();
    if (rest.kind != TokenKind::kEnd) {
      fail(rest.begin, "expected end of mask, got " + describe(rest),
           rest.kind == TokenKind::kRightParen ? "this ')' has no matching '('"
                                               : "combine predicates with '&' or '|'");
    }
    if (!mask.predicate) {
      fail(mask.begin, "expected a predicate, got integer term " + quote(mask),
           "compare terms with < <= > >= == != (e.g. 'j <= i')");
    }
    return mask.predicate;
  }

 private:
  // Scope guard for the recursion depth.
  class Nest {
   public:
    Nest(Parser& parser, size_t offset) : parser_(parser) {
      if (++parser_.depth_ > kMaxSyntaxDepth) {
        parser_.fail(offset, "mask nests deeper than " + std::to_string(kMaxDepth) + " levels",
                     "split it or remove redundant parentheses");
      }
    }
    ~Nest() { --parser_.depth_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

   private:
    Parser& parser_;
  };

  const Token& peek(size_t ahead = 0) {
    size_t index = std::min(position_ + ahead, tokens_.size() - 1);
    const Token& token = tokens_[index];
    if (token.kind == TokenKind::kInvalid) fail(token.begin, token.message, token.hint);
    return token;
  }

  Token take() {
    Token token = peek();
    if (position_ + 1 < tokens_.size()) ++position_;
    return token;
  }

  // Line and column, as reported, of a byte offset in the text.
  std::pair<int, int> where(size_t offset) const {
    auto after = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line_index = static_cast<size_t>(after - line_starts_.begin()) - 1;
    int column = static_cast<int>(offset - line_starts_[line_index]) + 1;
    if (line_index == 0) column += origin_.column - 1;
    return {origin_.line + static_cast<int>(line_index), column};
  }

  std::string position_text(size_t offset) const {
    auto [line, column] = where(offset);
    return std::to_string(line) + ":" + std::to_string(column);
  }

  MaskSpan span(size_t begin, size_t end) const {
    auto [line, column] = where(begin);
    return {line, column, static_cast<int>(end - begin)};
  }

  [[noreturn]] void fail(size_t offset, const std::string& message,
                         const std::string& hint = {}) const {
    auto [line, column] = where(offset);
    // The excerpt is taken in the caller's coordinates: from the whole file when given, else
    // from the text padded so that its first character sits at origin line:column.
    std::string source;
    if (!options_.source.empty()) {
      source = options_.source;
    } else {
      source.assign(static_cast<size_t>(origin_.line - 1), '\n');
      source.append(static_cast<size_t>(origin_.column - 1), ' ');
      source.append(text_);
    }
    throw located_error(ErrorCode::kInvalidMask, {origin_.file, line, column}, source, message,
                        hint);
  }

  std::string describe(const Token& token) const {
    if (token.kind == TokenKind::kEnd) return "end of mask";
    return "'" + std::string(text_.substr(token.begin, token.end - token.begin)) + "'";
  }

  std::string quote(const Operand& operand) const {
    std::string_view source = text_.substr(operand.begin, operand.end - operand.begin);
    std::string shown(source.substr(0, kMaxQuoted));
    std::replace(shown.begin(), shown.end(), '\n', ' ');
    if (source.size() > kMaxQuoted) shown += "...";
    return "'" + shown + "'";
  }

  // `context` completes "expected a predicate ...", e.g. "on the left of '&'".
  PredicatePtr require_predicate(const Operand& operand, const std::string& context) {
    if (!operand.predicate) {
      fail(operand.begin,
           "expected a predicate " + context + ", got integer term " + quote(operand),
           "compare terms with < <= > >= == != to make a predicate (e.g. 'j <= i')");
    }
    return operand.predicate;
  }

  TermPtr require_term(const Operand& operand, const std::string& context) {
    if (!operand.term) {
      fail(operand.begin,
           "expected an integer term " + context + ", got predicate " + quote(operand));
    }
    return operand.term;
  }

  Operand term(TermPtr node, size_t begin, size_t end, int depth = 1) {
    return {std::move(node), nullptr, begin, end, depth};
  }
  Operand predicate(PredicatePtr node, size_t begin, size_t end, int depth = 1) {
    return {nullptr, std::move(node), begin, end, depth};
  }

  // Depth of a node over children at most `child_depth` deep; fails at `offset` past kMaxDepth.
  int deeper(size_t offset, int child_depth) const {
    if (child_depth + 1 > kMaxDepth) {
      fail(offset, "mask nests deeper than " + std::to_string(kMaxDepth) + " levels",
           "simplify it; each operator of a chain such as 'a + b + c' adds a level");
    }
    return child_depth + 1;
  }

  std::string operator_text(const Token& token) const {
    return "'" + std::string(text_.substr(token.begin, token.end - token.begin)) + "'";
  }

  Operand parse_logical(TokenKind token_kind, PredicateKind kind) {
    bool is_or = kind == PredicateKind::kOr;
    Operand first = is_or ? parse_logical(TokenKind::kAnd, PredicateKind::kAnd) : parse_not();
    if (peek().kind != token_kind) return first;
    std::vector<PredicatePtr> operands;
    size_t end = first.end;
    int depth = first.depth;
    while (peek().kind == token_kind) {
      Token op = take();
      if (operands.empty())
        operands.push_back(require_predicate(first, "on the left of " + operator_text(op)));
      Operand next = is_or ? parse_logical(TokenKind::kAnd, PredicateKind::kAnd) : parse_not();
      operands.push_back(require_predicate(next, "on the right of " + operator_text(op)));
      end = next.end;
      depth = std::max(depth, next.depth);
    }
    return predicate(make_logical(kind, std::move(operands), span(first.begin, end)), first.begin,
                     end, deeper(first.begin, depth));
  }

  Operand parse_or() {
    Nest nest(*this, peek().begin);
    return parse_logical(TokenKind::kOr, PredicateKind::kOr);
  }

  Operand parse_not() {
    if (peek().kind != TokenKind::kNot) return parse_comparison();
    Token op = take();
    Nest nest(*this, op.begin);
    Operand operand = parse_not();
    PredicatePtr inner = require_predicate(operand, "after '!'");
    return predicate(make_logical(PredicateKind::kNot, {inner}, span(op.begin, operand.end)),
                     op.begin, operand.end, deeper(op.begin, operand.depth));
  }

  Operand parse_comparison() {
    Operand lhs = parse_additive();
    if (!is_comparison(peek().kind)) return lhs;
    Token op = take();
    TermPtr left = require_term(lhs, "on the left of " + operator_text(op));
    Operand rhs = parse_additive();
    TermPtr right = require_term(rhs, "on the right of " + operator_text(op));
    if (is_comparison(peek().kind)) {
      fail(peek().begin,
           "expected '&', '|', ')' or end of mask after comparison '" +
               std::string(text_.substr(lhs.begin, rhs.end - lhs.begin)) + "', got " +
               describe(peek()),
           "comparisons do not chain; write 'a <= b & b <= c'");
    }
    return predicate(make_compare(comparison_of(op.kind), left, right, span(lhs.begin, rhs.end)),
                     lhs.begin, rhs.end, deeper(lhs.begin, std::max(lhs.depth, rhs.depth)));
  }

  Operand parse_additive() {
    Operand lhs = parse_multiplicative();
    while (peek().kind == TokenKind::kPlus || peek().kind == TokenKind::kMinus) {
      Token op = take();
      TermPtr left = require_term(lhs, "on the left of " + operator_text(op));
      Operand rhs = parse_multiplicative();
      TermPtr right = require_term(rhs, "on the right of " + operator_text(op));
      TermKind kind = op.kind == TokenKind::kPlus ? TermKind::kAdd : TermKind::kSubtract;
      lhs = term(make_binary(kind, left, right, span(lhs.begin, rhs.end)), lhs.begin, rhs.end,
                 deeper(op.begin, std::max(lhs.depth, rhs.depth)));
    }
    return lhs;
  }

  Operand parse_multiplicative() {
    Operand lhs = parse_unary();
    while (peek().kind == TokenKind::kStar || peek().kind == TokenKind::kSlash ||
           peek().kind == TokenKind::kPercent) {
      Token op = take();
      TermPtr left = require_term(lhs, "on the left of " + operator_text(op));
      Operand rhs = parse_unary();
      TermPtr right = require_term(rhs, "on the right of " + operator_text(op));
      TermKind kind = op.kind == TokenKind::kStar    ? TermKind::kMultiply
                      : op.kind == TokenKind::kSlash ? TermKind::kFloorDivide
                                                     : TermKind::kFloorModulo;
      lhs = term(make_binary(kind, left, right, span(lhs.begin, rhs.end)), lhs.begin, rhs.end,
                 deeper(op.begin, std::max(lhs.depth, rhs.depth)));
    }
    return lhs;
  }

  // `-` directly before an integer literal is part of the literal (a negative constant), so that
  // every int64 has a spelling (-9223372036854775808) and printed constants read back unchanged;
  // `-` before anything else, `(1)` included, is kNegate.
  Operand parse_unary() {
    if (peek().kind != TokenKind::kMinus) return parse_atom();
    Token op = take();
    if (peek().kind == TokenKind::kInteger) {
      Token literal = take();
      if (literal.too_large || literal.value > kMaxMagnitude) {
        fail(op.begin,
             "integer literal '" + std::string(text_.substr(op.begin, literal.end - op.begin)) +
                 "' does not fit in 64 bits",
             "the smallest value is -9223372036854775808");
      }
      // Two's complement negation of the magnitude; exact for 2^63 as well.
      auto value = static_cast<int64_t>(~literal.value + 1);
      return term(make_constant(value, span(op.begin, literal.end)), op.begin, literal.end);
    }
    Nest nest(*this, op.begin);
    Operand operand = parse_unary();
    TermPtr inner = require_term(operand, "after '-'");
    return term(make_unary(TermKind::kNegate, inner, span(op.begin, operand.end)), op.begin,
                operand.end, deeper(op.begin, operand.depth));
  }

  // Arguments of `name(...)`; the '(' is the current token. Each must be a term. `depth` is set
  // to the deepest argument's depth (0 without arguments).
  std::vector<TermPtr> parse_arguments(const Token& name, size_t& end, int& depth) {
    depth = 0;
    Token open = take();
    std::vector<TermPtr> arguments;
    std::string callee = describe(name);
    if (peek().kind != TokenKind::kRightParen) {
      while (true) {
        Operand argument = parse_or();
        arguments.push_back(require_term(
            argument, "as argument " + std::to_string(arguments.size() + 1) + " of " + callee));
        depth = std::max(depth, argument.depth);
        if (peek().kind == TokenKind::kComma) {
          take();
          continue;
        }
        if (peek().kind == TokenKind::kRightParen) break;
        fail(peek().begin, "expected ',' or ')' in the arguments of " + callee + " opened at " +
                               position_text(open.begin) + ", got " + describe(peek()));
      }
    }
    end = take().end;
    return arguments;
  }

  std::string arity_text(size_t count) const {
    if (count == 0) return "no arguments";
    if (count == 1) return "1 argument";
    return std::to_string(count) + " arguments";
  }

  Operand parse_atom() {
    const Token& token = peek();
    switch (token.kind) {
      case TokenKind::kInteger: {
        Token literal = take();
        if (literal.too_large || literal.value > kMaxMagnitude - 1) {
          fail(literal.begin, "integer literal " + describe(literal) + " does not fit in 64 bits",
               "the largest value is 9223372036854775807");
        }
        return term(
            make_constant(static_cast<int64_t>(literal.value), span(literal.begin, literal.end)),
            literal.begin, literal.end);
      }
      case TokenKind::kParameter: return parse_parameter();
      case TokenKind::kLeftParen: {
        Token open = take();
        Nest nest(*this, open.begin);
        Operand inner = parse_or();
        if (peek().kind != TokenKind::kRightParen) {
          fail(peek().begin, "expected ')' to close '(' at " + position_text(open.begin) +
                                 ", got " + describe(peek()));
        }
        Token close = take();
        inner.begin = open.begin;
        inner.end = close.end;
        return inner;
      }
      case TokenKind::kIdentifier: return parse_name();
      default: break;
    }
    fail(token.begin, "expected " + expected_operand() + ", got " + describe(token));
  }

  // What the token before the current one calls for, for "expected X, got Y".
  std::string expected_operand() const {
    if (position_ == 0) return "a predicate";
    const Token& previous = tokens_[position_ - 1];
    std::string after = " after " + operator_text(previous);
    switch (previous.kind) {
      case TokenKind::kAnd:
      case TokenKind::kOr:
      case TokenKind::kNot: return "a predicate" + after;
      case TokenKind::kLeftParen:
      case TokenKind::kComma: return "a term or predicate" + after;
      default: return "an integer term" + after;
    }
  }

  Operand parse_parameter() {
    Token name = take();
    std::string identifier(text_.substr(name.begin + 1, name.end - name.begin - 1));
    if (peek().kind != TokenKind::kLeftBracket) {
      return term(make_parameter(identifier, false, span(name.begin, name.end)), name.begin,
                  name.end);
    }
    take();
    const Token& index = peek();
    if (index.kind != TokenKind::kIdentifier ||
        text_.substr(index.begin, index.end - index.begin) != "doc") {
      fail(index.begin,
           "expected 'doc' as the index of $" + identifier + ", got " + describe(index),
           "per-document parameters are written $" + identifier + "[doc]");
    }
    take();
    if (peek().kind != TokenKind::kRightBracket) {
      fail(peek().begin, "expected ']' after '$" + identifier + "[doc', got " + describe(peek()));
    }
    size_t end = take().end;
    return term(make_parameter(identifier, true, span(name.begin, end)), name.begin, end);
  }

  Operand parse_name() {
    Token name = take();
    std::string_view word = text_.substr(name.begin, name.end - name.begin);
    MaskSpan here = span(name.begin, name.end);
    if (word == "i") return term(make_variable(TermKind::kQueryIndex, here), name.begin, name.end);
    if (word == "j") return term(make_variable(TermKind::kKeyIndex, here), name.begin, name.end);
    if (word == "Lq")
      return term(make_variable(TermKind::kQueryLength, here), name.begin, name.end);
    if (word == "Lk") return term(make_variable(TermKind::kKeyLength, here), name.begin, name.end);
    if (word == "true" || word == "false") {
      return predicate(make_boolean(word == "true", here), name.begin, name.end);
    }
    if (word == "min" || word == "max") {
      if (peek().kind != TokenKind::kLeftParen) {
        fail(peek().begin,
             "expected '(' after '" + std::string(word) + "', got " + describe(peek()),
             "write " + std::string(word) + "(a, b)");
      }
      size_t end = 0;
      int depth = 0;
      std::vector<TermPtr> arguments = parse_arguments(name, end, depth);
      if (arguments.size() != 2) {
        fail(name.begin, "'" + std::string(word) + "' takes 2 arguments, got " +
                             std::to_string(arguments.size()));
      }
      TermKind kind = word == "min" ? TermKind::kMinimum : TermKind::kMaximum;
      return term(make_binary(kind, arguments[0], arguments[1], span(name.begin, end)), name.begin,
                  end, deeper(name.begin, depth));
    }
    for (std::string_view placeholder : options_.placeholders) {
      if (word == placeholder) {
        return term(make_parameter(std::string(word), false, here), name.begin, name.end);
      }
    }
    if (const PrimitiveInfo* info = find_primitive(word)) return parse_primitive(name, *info);
    unknown_name(name);
  }

  Operand parse_primitive(const Token& name, const PrimitiveInfo& info) {
    std::string word(text_.substr(name.begin, name.end - name.begin));
    std::string signature = word;
    if (!info.parameters.empty()) {
      signature += "(";
      for (size_t index = 0; index < info.parameters.size(); ++index) {
        if (index > 0) signature += ", ";
        signature += info.parameters[index];
      }
      signature += ")";
    }
    std::vector<TermPtr> arguments;
    size_t end = name.end;
    int depth = 0;
    if (peek().kind == TokenKind::kLeftParen) {
      arguments = parse_arguments(name, end, depth);
    } else if (!info.parameters.empty()) {
      fail(peek().begin,
           "expected '(' after '" + word + "', which takes " + arity_text(info.parameters.size()) +
               ", got " + describe(peek()),
           "write " + signature);
    }
    if (arguments.size() != info.parameters.size()) {
      fail(name.begin,
           "'" + word + "' takes " + arity_text(info.parameters.size()) + ", got " +
               std::to_string(arguments.size()),
           "write " + signature);
    }
    return predicate(make_primitive(word, std::move(arguments), span(name.begin, end)), name.begin,
                     end, deeper(name.begin, depth));
  }

  [[noreturn]] void unknown_name(const Token& name) {
    std::string_view word = text_.substr(name.begin, name.end - name.begin);
    bool called = peek().kind == TokenKind::kLeftParen;
    std::string message =
        std::string(called ? "unknown primitive '" : "unknown name '") + std::string(word) + "'";
    if (word == "doc") {
      fail(name.begin, message, "'doc' is only valid as an index, as in $name[doc]");
    }
    std::vector<std::string_view> candidates;
    for (const PrimitiveInfo& info : primitive_table()) candidates.push_back(info.name);
    for (std::string_view builtin : {"i", "j", "Lq", "Lk", "min", "max", "true", "false"}) {
      candidates.push_back(builtin);
    }
    for (std::string_view placeholder : options_.placeholders) candidates.push_back(placeholder);
    std::string_view best;
    size_t best_distance = std::numeric_limits<size_t>::max();
    for (std::string_view candidate : candidates) {
      size_t distance = edit_distance(word, candidate);
      if (distance < best_distance) {
        best = candidate;
        best_distance = distance;
      }
    }
    // Only a close name is a useful guess; otherwise list what exists.
    if (best_distance <= std::max<size_t>(1, word.size() / 2)) {
      fail(name.begin, message, "did you mean '" + std::string(best) + "'?");
    }
    std::string names;
    for (const PrimitiveInfo& info : primitive_table()) {
      names += names.empty() ? "" : ", ";
      names += info.name;
    }
    fail(name.begin, message,
         "names are i, j, Lq, Lk, $param, $param[doc], min, max, true, false and the primitives " +
             names);
  }

  std::string_view text_;
  SourceLocation origin_;
  const MaskParseOptions& options_;
  std::vector<Token> tokens_;
  std::vector<size_t> line_starts_;
  size_t position_ = 0;
  int depth_ = 0;
};

}  // namespace

PredicatePtr parse_mask(std::string_view text, const SourceLocation& origin,
                        const MaskParseOptions& options) {
  return Parser(text, origin, options).parse();
}

}  // namespace attncc
