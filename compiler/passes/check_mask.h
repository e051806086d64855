// The `check` pass on masks: argument ranges of primitives, row-independent arguments,
// division by zero, parameter kinds. Runs after parse, before canonicalise.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "attncc/error.h"
#include "attncc/mask_expr.h"

namespace attncc {

/// Throws Error(kInvalidMask) located at the offending node if the mask is ill-formed.
/// `file` names the text in errors; `source` is the text the nodes' spans (line:col) refer to
/// (the spec file, or the mask text itself), used for the excerpt.
void check_mask(const Predicate& mask, std::string_view file, std::string_view source);

}  // namespace attncc
