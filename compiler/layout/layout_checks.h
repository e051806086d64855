// Checks shared by the per-layout validators in compiler/layout/: the error shape every
// offset violation uses, and the size checks all layouts make.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attncc/error.h"

namespace attncc::layout_detail {

/// The kInvalidArgument error of an offset violation: `where: error: message; hint`.
Error layout_error(std::string_view where, std::string_view message, std::string_view hint = {});

/// Throws unless `value >= 0`; `meaning` says what the size is (e.g. "Sq, the query length").
void check_nonnegative(std::string_view name, int64_t value, std::string_view meaning);

/// Throws unless `values` is empty; `name` is the array, `layout` the layout that ignores it.
void check_unused(std::string_view name, const std::vector<int64_t>& values,
                  std::string_view layout);

/// `name[index]` as text.
std::string element_name(std::string_view name, int64_t index);

}  // namespace attncc::layout_detail
