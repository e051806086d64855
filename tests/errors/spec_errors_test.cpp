// Every spec under specs/errors/ must be rejected with the message in its .expected file
// (file:line:col: error: ...; the expectation may stop early to leave out long tails).
#include <gtest/gtest.h>

#include <filesystem>

#include "attncc/spec.h"
#include "support/files.h"

namespace attncc {
namespace {

using testing::list_files;
using testing::read_text_file;
using testing::source_path;

TEST(SpecErrors, EveryRejectedSpecGivesItsMessage) {
  std::vector<std::string> specs = list_files(source_path("specs/errors"), "json");
  ASSERT_GE(specs.size(), 10u) << "specs/errors lost its cases";
  for (const std::string& path : specs) {
    SCOPED_TRACE(path);
    std::string expected = read_text_file(path.substr(0, path.size() - 5) + ".expected");
    while (!expected.empty() && expected.back() == '\n') expected.pop_back();
    ASSERT_FALSE(expected.empty()) << "missing .expected next to " << path;
    std::string file = std::filesystem::path(path).filename().string();
    try {
      Spec::parse(read_text_file(path), file);
      ADD_FAILURE() << "accepted a spec that must be rejected";
    } catch (const Error& error) {
      EXPECT_TRUE(error.is_user_error());
      std::string message = error.what();
      EXPECT_EQ(message.substr(0, expected.size()), expected) << "full message:\n" << message;
    }
  }
}

TEST(SpecErrors, ErrorsShowTheLineAndACaret) {
  try {
    Spec::parse("{\"layout\": \"dense\",\n \"dtype\": \"bf16\", \"head_dim\": 77, \"mask\": \"full\"}",
                "x.json");
    FAIL() << "head_dim 77 accepted";
  } catch (const Error& error) {
    std::string message = error.what();
    EXPECT_NE(message.find("x.json:2:31: error: head_dim must be one of"), std::string::npos)
        << message;
    // The excerpt repeats line 2 and puts a caret under column 31.
    EXPECT_NE(message.find("\n   \"dtype\": \"bf16\", \"head_dim\": 77, \"mask\": \"full\"}\n  " +
                           std::string(30, ' ') + "^"),
              std::string::npos)
        << message;
  }
}

TEST(SpecErrors, UnknownFieldFarFromAnyListsValidFields) {
  try {
    Spec::parse(R"j({"layout": "dense", "dtype": "bf16", "head_dim": 64, "mask": "full", "zzzzzzzzzzzz": 1})j");
    FAIL() << "unknown field accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("valid fields: name, description, layout"),
              std::string::npos)
        << error.what();
  }
}

TEST(SpecErrors, LoadOfMissingFileIsAnIoError) {
  try {
    Spec::load("/nonexistent/spec.json");
    FAIL() << "missing file accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(error.what()).find("/nonexistent/spec.json: error: cannot open"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace attncc
