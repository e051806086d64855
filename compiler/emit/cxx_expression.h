// Mask terms and predicates as C++ expressions over the kernel-side names (i, j, the
// DocumentView d), shared by the CPU and CUDA lowerings.
#pragma once

#include <map>
#include <string>

#include "attncc/mask_expr.h"

namespace attncc {

/// Slot of each mask parameter in WorkItem::parameters / DocumentView::parameters: the spec's
/// parameters in name order (scalars and per-document values alike).
using ParameterSlots = std::map<std::string, int>;

/// C++ for `term` (kernel_int arithmetic; floor division through attncc::floor_div).
std::string term_to_cxx(const Term& term, const ParameterSlots& slots);

/// C++ bool expression for a predicate with no primitives left (expand_primitives first).
std::string predicate_to_cxx(const Predicate& predicate, const ParameterSlots& slots);

}  // namespace attncc
