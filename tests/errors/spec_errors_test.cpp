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

TEST(SpecErrors, DeeplyNestedValuesAreNamedNotPrinted) {
  // The JSON parser accepts any depth; printing the value in the message recursed once per level
  // and overflowed the stack (fuzz regression tests/fuzz/regressions/deep_json_value_in_message).
  std::string deep = std::string(60000, '[') + std::string(60000, ']');
  try {
    Spec::parse(R"({"layout": "dense", "dtype": "bf16", "mask": "full", "head_dim": )" + deep +
                "}");
    FAIL() << "nested head_dim accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("head_dim must be an integer, one of 32, 64, 96, 128, "
                                             "256; got array"),
              std::string::npos)
        << std::string(error.what()).substr(0, 300);
  }
  // Shallow values are still shown, long ones cut.
  try {
    Spec::parse(R"({"layout": "dense", "dtype": "bf16", "mask": "full", "head_dim": 64,
                    "backward": [1, [2, 3]]})");
    FAIL() << "backward: [1, [2, 3]] accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("backward must be true or false; got [1,[2,3]]"),
              std::string::npos)
        << error.what();
  }
  try {
    Spec::parse(R"({"layout": "dense", "dtype": "bf16", "mask": "full", "head_dim": 64,
                    "outputs": [["o", "lse", "o", "lse", "o", "lse", "o", "lse", "o", "lse",
                                 "o", "lse"]]})");
    FAIL() << "nested outputs accepted";
  } catch (const Error& error) {
    // Cut after 60 characters.
    std::string shown = R"(["o","lse","o","lse","o","lse","o","lse","o","lse","o","lse"...)";
    EXPECT_NE(std::string(error.what()).find("unknown output '" + shown + "'"), std::string::npos)
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
