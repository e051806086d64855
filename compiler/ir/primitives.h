// The primitive table (DESIGN §2): one entry per mask primitive, with its direct predicate (used
// by the reference) and its definition in mask text (from which the interval form is derived).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "attncc/mask_expr.h"

namespace attncc {

struct PrimitiveInfo {
  std::string_view name;
  std::vector<std::string_view> parameters;  ///< argument names used in `definition`; arity
  std::vector<int64_t> minimum;              ///< smallest valid value of each argument
  std::string_view definition;               ///< mask text over i, j, Lq, Lk and `parameters`
  std::string_view summary;                  ///< one line for --help and docs
  /// M(i, j) written directly from the DESIGN table; `arguments` has `parameters.size()` values.
  bool (*predicate)(int64_t i, int64_t j, int64_t query_length, int64_t key_length,
                    const int64_t* arguments);
};

/// Every primitive, in documentation order.
std::span<const PrimitiveInfo> primitive_table();

/// The entry named `name`, or nullptr.
const PrimitiveInfo* find_primitive(std::string_view name);

/// The primitive node's definition with its arguments substituted (a tree with no primitives).
PredicatePtr expand_primitive(const Predicate& primitive);

/// The whole tree with every primitive replaced by its expansion.
PredicatePtr expand_primitives(const PredicatePtr& predicate);

}  // namespace attncc
