// Test helpers for files: reading, listing the spec library, the source tree root.
#pragma once

#include <string>
#include <vector>

namespace attncc::testing {

/// Absolute path of a file in the source tree (ATTNCC_SOURCE_DIR + "/" + relative).
std::string source_path(const std::string& relative);

/// Whole file as a string; fails the current test (ADD_FAILURE) and returns "" if unreadable.
std::string read_text_file(const std::string& path);

/// Sorted paths of `directory/*.<extension>` (not recursive).
std::vector<std::string> list_files(const std::string& directory, const std::string& extension);

}  // namespace attncc::testing
