// Mask tree construction, direct evaluation (the oracle's path) and small structural queries.
#include "attncc/mask_expr.h"

#include <algorithm>
#include <string>

#include "attncc/error.h"
#include "compiler/ir/primitives.h"

namespace attncc {

TermPtr make_constant(int64_t value, MaskSpan span) {
  auto term = std::make_shared<Term>();
  term->kind = TermKind::kConstant;
  term->value = value;
  term->span = span;
  return term;
}

TermPtr make_variable(TermKind kind, MaskSpan span) {
  ATTNCC_ASSERT(kind == TermKind::kQueryIndex || kind == TermKind::kKeyIndex ||
                    kind == TermKind::kQueryLength || kind == TermKind::kKeyLength,
                "make_variable needs i, j, Lq or Lk");
  auto term = std::make_shared<Term>();
  term->kind = kind;
  term->span = span;
  return term;
}

TermPtr make_parameter(std::string name, bool per_document, MaskSpan span) {
  auto term = std::make_shared<Term>();
  term->kind = per_document ? TermKind::kDocumentParameter : TermKind::kParameter;
  term->name = std::move(name);
  term->span = span;
  return term;
}

TermPtr make_unary(TermKind kind, TermPtr operand, MaskSpan span) {
  ATTNCC_ASSERT(kind == TermKind::kNegate && operand, "make_unary needs kNegate and an operand");
  auto term = std::make_shared<Term>();
  term->kind = kind;
  term->operands = {std::move(operand)};
  term->span = span;
  return term;
}

TermPtr make_binary(TermKind kind, TermPtr lhs, TermPtr rhs, MaskSpan span) {
  ATTNCC_ASSERT(kind >= TermKind::kAdd && lhs && rhs, "make_binary needs a binary kind");
  auto term = std::make_shared<Term>();
  term->kind = kind;
  term->operands = {std::move(lhs), std::move(rhs)};
  term->span = span;
  return term;
}

PredicatePtr make_boolean(bool value, MaskSpan span) {
  auto predicate = std::make_shared<Predicate>();
  predicate->kind = value ? PredicateKind::kTrue : PredicateKind::kFalse;
  predicate->span = span;
  return predicate;
}

PredicatePtr make_primitive(std::string name, std::vector<TermPtr> arguments, MaskSpan span) {
  auto predicate = std::make_shared<Predicate>();
  predicate->kind = PredicateKind::kPrimitive;
  predicate->primitive = std::move(name);
  predicate->arguments = std::move(arguments);
  predicate->span = span;
  return predicate;
}

PredicatePtr make_compare(Comparison comparison, TermPtr lhs, TermPtr rhs, MaskSpan span) {
  auto predicate = std::make_shared<Predicate>();
  predicate->kind = PredicateKind::kCompare;
  predicate->comparison = comparison;
  predicate->terms = {std::move(lhs), std::move(rhs)};
  predicate->span = span;
  return predicate;
}

PredicatePtr make_logical(PredicateKind kind, std::vector<PredicatePtr> operands, MaskSpan span) {
  ATTNCC_ASSERT(kind == PredicateKind::kAnd || kind == PredicateKind::kOr ||
                    kind == PredicateKind::kNot,
                "make_logical needs kAnd, kOr or kNot");
  ATTNCC_ASSERT(kind == PredicateKind::kNot ? operands.size() == 1 : operands.size() >= 2,
                "wrong operand count for a logical node");
  auto predicate = std::make_shared<Predicate>();
  predicate->kind = kind;
  predicate->operands = std::move(operands);
  predicate->span = span;
  return predicate;
}

// In 128 bits: INT64_MIN / -1 and b * quotient would overflow int64 (undefined behaviour);
// results outside int64 wrap, as every other term arithmetic of the mask language does.
int64_t floor_divide(int64_t a, int64_t b) {
  if (b == 0) return 0;
  __int128 quotient = static_cast<__int128>(a) / b;
  if ((static_cast<__int128>(a) % b != 0) && ((a < 0) != (b < 0))) --quotient;
  return static_cast<int64_t>(quotient);
}

int64_t floor_modulo(int64_t a, int64_t b) {
  if (b == 0) return a;
  __int128 quotient = static_cast<__int128>(a) / b;
  if ((static_cast<__int128>(a) % b != 0) && ((a < 0) != (b < 0))) --quotient;
  return static_cast<int64_t>(static_cast<__int128>(a) - static_cast<__int128>(b) * quotient);
}

int64_t evaluate(const Term& term, const MaskContext& context, int64_t i, int64_t j) {
  auto operand = [&](size_t index) { return evaluate(*term.operands[index], context, i, j); };
  switch (term.kind) {
    case TermKind::kConstant: return term.value;
    case TermKind::kQueryIndex: return i;
    case TermKind::kKeyIndex: return j;
    case TermKind::kQueryLength: return context.query_length;
    case TermKind::kKeyLength: return context.key_length;
    case TermKind::kParameter:
    case TermKind::kDocumentParameter: {
      auto found = context.parameters.find(term.name);
      if (found == context.parameters.end()) {
        throw user_error(ErrorCode::kInvalidArgument, "$" + term.name,
                         "mask parameter has no value",
                         "pass it as a run-time parameter named '" + term.name + "'");
      }
      return found->second;
    }
    // Two's-complement wrap instead of signed overflow (undefined behaviour) on extreme values.
    case TermKind::kNegate: return static_cast<int64_t>(0 - static_cast<uint64_t>(operand(0)));
    case TermKind::kAdd:
      return static_cast<int64_t>(static_cast<uint64_t>(operand(0)) + static_cast<uint64_t>(operand(1)));
    case TermKind::kSubtract:
      return static_cast<int64_t>(static_cast<uint64_t>(operand(0)) - static_cast<uint64_t>(operand(1)));
    case TermKind::kMultiply:
      return static_cast<int64_t>(static_cast<uint64_t>(operand(0)) * static_cast<uint64_t>(operand(1)));
    case TermKind::kFloorDivide: return floor_divide(operand(0), operand(1));
    case TermKind::kFloorModulo: return floor_modulo(operand(0), operand(1));
    case TermKind::kMinimum: return std::min(operand(0), operand(1));
    case TermKind::kMaximum: return std::max(operand(0), operand(1));
  }
  internal_error(__FILE__, __LINE__, "unknown term kind");
}

bool evaluate(const Predicate& predicate, const MaskContext& context, int64_t i, int64_t j) {
  switch (predicate.kind) {
    case PredicateKind::kTrue: return true;
    case PredicateKind::kFalse: return false;
    case PredicateKind::kPrimitive: {
      const PrimitiveInfo* info = find_primitive(predicate.primitive);
      ATTNCC_ASSERT(info != nullptr, "unknown primitive survived parsing");
      ATTNCC_ASSERT(predicate.arguments.size() == info->parameters.size(),
                    "primitive arity not checked");
      int64_t arguments[8] = {};
      ATTNCC_ASSERT(predicate.arguments.size() <= 8, "primitive with more than 8 arguments");
      for (size_t index = 0; index < predicate.arguments.size(); ++index) {
        arguments[index] = evaluate(*predicate.arguments[index], context, i, j);
      }
      return info->predicate(i, j, context.query_length, context.key_length, arguments);
    }
    case PredicateKind::kCompare: {
      int64_t lhs = evaluate(*predicate.terms[0], context, i, j);
      int64_t rhs = evaluate(*predicate.terms[1], context, i, j);
      switch (predicate.comparison) {
        case Comparison::kLess: return lhs < rhs;
        case Comparison::kLessEqual: return lhs <= rhs;
        case Comparison::kGreater: return lhs > rhs;
        case Comparison::kGreaterEqual: return lhs >= rhs;
        case Comparison::kEqual: return lhs == rhs;
        case Comparison::kNotEqual: return lhs != rhs;
      }
      break;
    }
    case PredicateKind::kAnd:
      return std::all_of(predicate.operands.begin(), predicate.operands.end(),
                         [&](const PredicatePtr& p) { return evaluate(*p, context, i, j); });
    case PredicateKind::kOr:
      return std::any_of(predicate.operands.begin(), predicate.operands.end(),
                         [&](const PredicatePtr& p) { return evaluate(*p, context, i, j); });
    case PredicateKind::kNot: return !evaluate(*predicate.operands[0], context, i, j);
  }
  internal_error(__FILE__, __LINE__, "unknown predicate kind");
}

bool mentions(const Term& term, TermKind variable) {
  if (term.kind == variable) return true;
  return std::any_of(term.operands.begin(), term.operands.end(),
                     [&](const TermPtr& operand) { return mentions(*operand, variable); });
}

bool mentions(const Predicate& predicate, TermKind variable) {
  // Primitives are functions of (i, j) whatever their arguments are.
  if (predicate.kind == PredicateKind::kPrimitive &&
      (variable == TermKind::kQueryIndex || variable == TermKind::kKeyIndex) &&
      find_primitive(predicate.primitive) != nullptr &&
      mentions(*expand_primitive(predicate), variable)) {
    return true;
  }
  auto in_terms = [&](const std::vector<TermPtr>& terms) {
    return std::any_of(terms.begin(), terms.end(),
                       [&](const TermPtr& term) { return mentions(*term, variable); });
  };
  return in_terms(predicate.arguments) || in_terms(predicate.terms) ||
         std::any_of(predicate.operands.begin(), predicate.operands.end(),
                     [&](const PredicatePtr& operand) { return mentions(*operand, variable); });
}

namespace {

void collect(const Term& term, std::map<std::string, std::pair<bool, MaskSpan>>& found,
             std::string_view mask_text) {
  if (term.kind == TermKind::kParameter || term.kind == TermKind::kDocumentParameter) {
    bool per_document = term.kind == TermKind::kDocumentParameter;
    auto [entry, inserted] = found.emplace(term.name, std::make_pair(per_document, term.span));
    if (!inserted && entry->second.first != per_document) {
      throw located_error(
          ErrorCode::kInvalidMask, {"<mask>", term.span.line, term.span.column}, mask_text,
          "parameter $" + term.name + " is used both as a scalar and per document",
          "write $" + term.name + "[doc] everywhere or $" + term.name + " everywhere");
    }
  }
  for (const TermPtr& operand : term.operands) collect(*operand, found, mask_text);
}

void collect(const Predicate& predicate, std::map<std::string, std::pair<bool, MaskSpan>>& found,
             std::string_view mask_text) {
  for (const TermPtr& term : predicate.arguments) collect(*term, found, mask_text);
  for (const TermPtr& term : predicate.terms) collect(*term, found, mask_text);
  for (const PredicatePtr& operand : predicate.operands) collect(*operand, found, mask_text);
}

}  // namespace

std::map<std::string, bool> collect_parameters(const Predicate& predicate,
                                               std::string_view mask_text) {
  std::map<std::string, std::pair<bool, MaskSpan>> found;
  collect(predicate, found, mask_text);
  std::map<std::string, bool> result;
  for (const auto& [name, entry] : found) result[name] = entry.first;
  return result;
}

bool same_term(const Term& a, const Term& b) {
  if (a.kind != b.kind || a.value != b.value || a.name != b.name ||
      a.operands.size() != b.operands.size()) {
    return false;
  }
  for (size_t index = 0; index < a.operands.size(); ++index) {
    if (!same_term(*a.operands[index], *b.operands[index])) return false;
  }
  return true;
}

bool same_predicate(const Predicate& a, const Predicate& b) {
  if (a.kind != b.kind || a.primitive != b.primitive || a.comparison != b.comparison ||
      a.arguments.size() != b.arguments.size() || a.terms.size() != b.terms.size() ||
      a.operands.size() != b.operands.size()) {
    return false;
  }
  for (size_t index = 0; index < a.arguments.size(); ++index) {
    if (!same_term(*a.arguments[index], *b.arguments[index])) return false;
  }
  for (size_t index = 0; index < a.terms.size(); ++index) {
    if (!same_term(*a.terms[index], *b.terms[index])) return false;
  }
  for (size_t index = 0; index < a.operands.size(); ++index) {
    if (!same_predicate(*a.operands[index], *b.operands[index])) return false;
  }
  return true;
}

}  // namespace attncc
