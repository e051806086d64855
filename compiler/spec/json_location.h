// Positions inside JSON spec text: nlohmann_json reports byte offsets only, so errors about a
// field are located by finding the field's key in the raw text.
#pragma once

#include <cstddef>
#include <string_view>

#include "attncc/error.h"

namespace attncc {

/// Line and column (1-based) of byte `offset` in `text`.
SourceLocation location_of_offset(std::string_view file, std::string_view text, size_t offset);

/// Location of the value of top-level key `key` (the first character after `"key":`), or of
/// the start of the text if the key is not found.
SourceLocation location_of_value(std::string_view file, std::string_view text,
                                 std::string_view key);

/// Location of the key `"key"` itself (its opening quote).
SourceLocation location_of_key(std::string_view file, std::string_view text, std::string_view key);

/// Levenshtein distance, for "did you mean" hints.
size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace attncc
