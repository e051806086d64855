// The mask expression tree: integer terms and boolean predicates over a query row i and a key
// column j of one document (DESIGN §2). Produced by parse_mask, consumed by every later stage.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace attncc {

/// Position of a node in the mask text (1-based); line 0 = synthesised by the compiler.
struct MaskSpan {
  int line = 0;
  int column = 0;
  int length = 0;
};

enum class TermKind {
  kConstant,           ///< integer literal, `value`
  kQueryIndex,         ///< i: row inside the document, [0, Lq)
  kKeyIndex,           ///< j: column inside the document, [0, Lk)
  kQueryLength,        ///< Lq of the current document
  kKeyLength,          ///< Lk of the current document
  kParameter,          ///< `$name`: run-time int scalar
  kDocumentParameter,  ///< `$name[doc]`: run-time int32 per document
  kNegate,             ///< -a
  kAdd,                ///< a + b
  kSubtract,           ///< a - b
  kMultiply,           ///< a * b
  kFloorDivide,        ///< a / b, rounding toward -infinity; x / 0 evaluates to 0
  kFloorModulo,        ///< a % b, sign of b (a - b * floor(a / b)); x % 0 evaluates to x
  kMinimum,            ///< min(a, b)
  kMaximum,            ///< max(a, b)
};

struct Term;
using TermPtr = std::shared_ptr<const Term>;

/// Integer term. Immutable and shared; build with the make_* helpers below.
struct Term {
  TermKind kind = TermKind::kConstant;
  int64_t value = 0;              ///< kConstant
  std::string name;               ///< kParameter / kDocumentParameter, without the '$'
  std::vector<TermPtr> operands;  ///< 1 for kNegate, 2 for binary kinds
  MaskSpan span;
};

enum class PredicateKind {
  kTrue,
  kFalse,
  kPrimitive,  ///< a named primitive of the primitive table with `arguments`
  kCompare,    ///< terms[0] <comparison> terms[1]
  kAnd,        ///< n-ary, operands.size() >= 2
  kOr,         ///< n-ary, operands.size() >= 2
  kNot,        ///< operands.size() == 1
};

enum class Comparison { kLess, kLessEqual, kGreater, kGreaterEqual, kEqual, kNotEqual };

struct Predicate;
using PredicatePtr = std::shared_ptr<const Predicate>;

/// Boolean node of a mask. Immutable and shared.
struct Predicate {
  PredicateKind kind = PredicateKind::kTrue;
  std::string primitive;             ///< kPrimitive: name in the primitive table
  std::vector<TermPtr> arguments;    ///< kPrimitive: its arguments, in order
  Comparison comparison = Comparison::kEqual;  ///< kCompare
  std::vector<TermPtr> terms;        ///< kCompare: exactly two
  std::vector<PredicatePtr> operands;  ///< kAnd / kOr / kNot
  MaskSpan span;
};

// Builders (span defaults to "synthesised").
TermPtr make_constant(int64_t value, MaskSpan span = {});
TermPtr make_variable(TermKind kind, MaskSpan span = {});  ///< kQueryIndex .. kKeyLength
TermPtr make_parameter(std::string name, bool per_document, MaskSpan span = {});
TermPtr make_unary(TermKind kind, TermPtr operand, MaskSpan span = {});
TermPtr make_binary(TermKind kind, TermPtr lhs, TermPtr rhs, MaskSpan span = {});
PredicatePtr make_boolean(bool value, MaskSpan span = {});
PredicatePtr make_primitive(std::string name, std::vector<TermPtr> arguments, MaskSpan span = {});
PredicatePtr make_compare(Comparison comparison, TermPtr lhs, TermPtr rhs, MaskSpan span = {});
PredicatePtr make_logical(PredicateKind kind, std::vector<PredicatePtr> operands,
                          MaskSpan span = {});  ///< kAnd / kOr / kNot

/// Values a mask is evaluated with for one document: its lengths and every parameter, with
/// per-document parameters already resolved to this document's entry.
struct MaskContext {
  int64_t query_length = 0;  ///< Lq
  int64_t key_length = 0;    ///< Lk
  std::map<std::string, int64_t, std::less<>> parameters;  ///< name (no '$') -> value
};

/// Value of `term` at (i, j). Throws kInvalidArgument if a parameter is missing from `context`.
int64_t evaluate(const Term& term, const MaskContext& context, int64_t i, int64_t j);

/// M(i, j) straight from the tree (primitives through their predicate in the primitive table);
/// this is the oracle's path and never goes through the interval form.
bool evaluate(const Predicate& predicate, const MaskContext& context, int64_t i, int64_t j);

/// Floor division / modulo with the semantics of TermKind (x / 0 = 0, x % 0 = x).
int64_t floor_divide(int64_t a, int64_t b);
int64_t floor_modulo(int64_t a, int64_t b);

/// Whether a term (or predicate) mentions j, respectively i.
bool mentions(const Term& term, TermKind variable);
bool mentions(const Predicate& predicate, TermKind variable);

/// Parameters a mask uses: name -> per_document. Throws kInvalidMask (with the position) if one
/// name is used both as a scalar and per document.
std::map<std::string, bool> collect_parameters(const Predicate& predicate,
                                               std::string_view mask_text = {});

/// Structural equality (spans ignored).
bool same_term(const Term& a, const Term& b);
bool same_predicate(const Predicate& a, const Predicate& b);

}  // namespace attncc
