// Pins the hash of every spec in specs/ (tests/golden/spec_hashes.txt), so an accidental change
// of parsing, canonicalisation or hashing is caught. After a deliberate change, review and
// rewrite the file with ATTNCC_UPDATE_GOLDENS=1.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "attncc/spec.h"
#include "support/files.h"

namespace attncc {
namespace {

TEST(GoldenSpecHashes, MatchThePinnedFile) {
  const std::string golden_path = testing::source_path("tests/golden/spec_hashes.txt");
  std::map<std::string, std::string> actual;
  for (const std::string& path : testing::list_files(testing::source_path("specs"), "json")) {
    Spec spec = Spec::load(path);
    actual[std::filesystem::path(path).filename().string()] = spec_hash(spec);
  }
  ASSERT_FALSE(actual.empty());

  const char* update = std::getenv("ATTNCC_UPDATE_GOLDENS");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream out(golden_path);
    out << "# spec file -> spec_hash (XXH3-128 of the canonical text); see spec_hashes_test.cpp\n";
    for (const auto& [file, hash] : actual) out << file << " " << hash << "\n";
    GTEST_SKIP() << "rewrote " << golden_path << "; review the diff before committing";
  }

  std::map<std::string, std::string> pinned;
  std::istringstream lines(testing::read_text_file(golden_path));
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string file, hash;
    fields >> file >> hash;
    pinned[file] = hash;
  }
  for (const auto& [file, hash] : actual) {
    auto found = pinned.find(file);
    if (found == pinned.end()) {
      ADD_FAILURE() << file << " has no pinned hash; add it with ATTNCC_UPDATE_GOLDENS=1";
    } else {
      EXPECT_EQ(hash, found->second) << file << ": the hash changed; if deliberate, rewrite "
                                     << "the goldens with ATTNCC_UPDATE_GOLDENS=1";
    }
  }
  for (const auto& [file, hash] : pinned) {
    EXPECT_TRUE(actual.count(file)) << file << " is pinned but no longer in specs/";
  }
}

}  // namespace
}  // namespace attncc
