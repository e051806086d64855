// Embedded templates (runtime/embedded_templates): the table holds exactly the files under
// templates/ in the source tree, byte for byte.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "runtime/embedded_templates.h"
#include "support/files.h"

namespace attncc {
namespace {

// Paths (relative to templates/, '/'-separated) of the files in the tree, as the build embeds.
std::set<std::string> files_in_tree(const std::filesystem::path& root) {
  std::set<std::string> paths;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || name.front() == '.' || name.back() == '~') continue;
    paths.insert(entry.path().lexically_relative(root).generic_string());
  }
  return paths;
}

TEST(EmbeddedTemplates, MatchTheSourceTreeByteForByte) {
  std::filesystem::path root = testing::source_path("templates");
  std::set<std::string> expected = files_in_tree(root);
  ASSERT_FALSE(expected.empty()) << root;
  std::set<std::string> embedded;
  for (const EmbeddedFile& file : embedded_templates()) {
    embedded.insert(std::string(file.path));
    EXPECT_EQ(file.contents, testing::read_text_file((root / file.path).string())) << file.path;
  }
  EXPECT_EQ(embedded, expected) << "rebuild to re-embed templates/";
}

TEST(EmbeddedTemplates, FindByPath) {
  std::filesystem::path root = testing::source_path("templates");
  for (const std::string& path : files_in_tree(root)) {
    const EmbeddedFile* file = find_embedded_template(path);
    ASSERT_NE(file, nullptr) << path;
    EXPECT_EQ(file->path, path);
    EXPECT_EQ(find_embedded_template("/" + path), nullptr) << "paths are relative: " << path;
  }
  EXPECT_EQ(find_embedded_template("common/no_such_file.h"), nullptr);
}

}  // namespace
}  // namespace attncc
