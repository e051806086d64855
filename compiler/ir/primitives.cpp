// The primitive table. A new primitive is one entry here (plus its tests): the predicate is the
// DESIGN §2 definition written directly, the definition text is what the interval form solves.
#include "compiler/ir/primitives.h"

#include <array>
#include <mutex>
#include <string>
#include <unordered_map>

#include "attncc/error.h"
#include "attncc/mask_text.h"

namespace attncc {
namespace {

const std::array<PrimitiveInfo, 8> kPrimitives = {{
    {"full", {}, {}, "true", "every key of the document",
     [](int64_t, int64_t, int64_t, int64_t, const int64_t*) { return true; }},
    {"causal", {}, {}, "j <= i", "j <= i (top-left aligned, PyTorch is_causal)",
     [](int64_t i, int64_t j, int64_t, int64_t, const int64_t*) { return j <= i; }},
    {"causal_br", {}, {}, "j <= i + Lk - Lq",
     "j <= i + (Lk - Lq) (bottom-right aligned, FlashAttention causal)",
     [](int64_t i, int64_t j, int64_t lq, int64_t lk, const int64_t*) {
       return j <= i + (lk - lq);
     }},
    {"window", {"l", "r"}, {-1, -1}, "(l < 0 | j >= i - l) & (r < 0 | j <= i + r)",
     "i - l <= j <= i + r, top-left aligned; -1 = unbounded side",
     [](int64_t i, int64_t j, int64_t, int64_t, const int64_t* a) {
       return (a[0] < 0 || j >= i - a[0]) && (a[1] < 0 || j <= i + a[1]);
     }},
    {"window_br", {"l", "r"}, {-1, -1},
     "(l < 0 | j >= i + Lk - Lq - l) & (r < 0 | j <= i + Lk - Lq + r)",
     "i + (Lk - Lq) - l <= j <= i + (Lk - Lq) + r (FlashAttention window_size); -1 = unbounded",
     [](int64_t i, int64_t j, int64_t lq, int64_t lk, const int64_t* a) {
       int64_t diagonal = i + (lk - lq);
       return (a[0] < 0 || j >= diagonal - a[0]) && (a[1] < 0 || j <= diagonal + a[1]);
     }},
    {"prefix", {"p"}, {0}, "j < p | j <= i",
     "j < p or j <= i (prefix-LM: bidirectional over the first p keys, causal after)",
     [](int64_t i, int64_t j, int64_t, int64_t, const int64_t* a) { return j < a[0] || j <= i; }},
    {"chunk", {"c"}, {1}, "i / c == j / c", "i / c == j / c (chunked local attention)",
     [](int64_t i, int64_t j, int64_t, int64_t, const int64_t* a) {
       return floor_divide(i, a[0]) == floor_divide(j, a[0]);
     }},
    {"sink", {"n"}, {0}, "j < n", "j < n (attention-sink tokens)",
     [](int64_t, int64_t j, int64_t, int64_t, const int64_t* a) { return j < a[0]; }},
}};

TermPtr substitute(const TermPtr& term, const PrimitiveInfo& info,
                   const std::vector<TermPtr>& arguments) {
  if (term->kind == TermKind::kParameter) {
    for (size_t index = 0; index < info.parameters.size(); ++index) {
      if (term->name == info.parameters[index]) return arguments[index];
    }
    internal_error(__FILE__, __LINE__, "primitive definition names an unknown placeholder");
  }
  if (term->operands.empty()) return term;
  auto copy = std::make_shared<Term>(*term);
  for (TermPtr& operand : copy->operands) operand = substitute(operand, info, arguments);
  return copy;
}

PredicatePtr substitute(const PredicatePtr& predicate, const PrimitiveInfo& info,
                        const std::vector<TermPtr>& arguments) {
  auto copy = std::make_shared<Predicate>(*predicate);
  for (TermPtr& term : copy->terms) term = substitute(term, info, arguments);
  for (PredicatePtr& operand : copy->operands) operand = substitute(operand, info, arguments);
  return copy;
}

// Parsed definitions, built once; parse errors here are bugs in the table.
const PredicatePtr& definition_tree(const PrimitiveInfo& info) {
  static std::mutex mutex;
  static std::unordered_map<std::string_view, PredicatePtr> trees;
  std::lock_guard<std::mutex> lock(mutex);
  PredicatePtr& tree = trees[info.name];
  if (!tree) {
    MaskParseOptions options;
    options.placeholders = info.parameters;
    tree = parse_mask(info.definition, {"<primitive " + std::string(info.name) + ">", 1, 1},
                      options);
  }
  return tree;
}

}  // namespace

std::span<const PrimitiveInfo> primitive_table() { return kPrimitives; }

const PrimitiveInfo* find_primitive(std::string_view name) {
  for (const PrimitiveInfo& info : kPrimitives) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

PredicatePtr expand_primitive(const Predicate& primitive) {
  ATTNCC_ASSERT(primitive.kind == PredicateKind::kPrimitive, "expand_primitive needs a primitive");
  const PrimitiveInfo* info = find_primitive(primitive.primitive);
  ATTNCC_ASSERT(info != nullptr, "unknown primitive");
  ATTNCC_ASSERT(primitive.arguments.size() == info->parameters.size(), "primitive arity");
  return substitute(definition_tree(*info), *info, primitive.arguments);
}

PredicatePtr expand_primitives(const PredicatePtr& predicate) {
  if (predicate->kind == PredicateKind::kPrimitive) return expand_primitive(*predicate);
  if (predicate->operands.empty()) return predicate;
  auto copy = std::make_shared<Predicate>(*predicate);
  for (PredicatePtr& operand : copy->operands) operand = expand_primitives(operand);
  return copy;
}

}  // namespace attncc
