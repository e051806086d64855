// Spec parsing, defaults, canonical text and the hash properties of DESIGN §3: equal for specs
// that differ only in spelling, different for specs that differ in meaning.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "attncc/spec.h"
#include "support/files.h"

namespace attncc {
namespace {

Spec parse(const std::string& json) { return Spec::parse(json, "<test>"); }

TEST(Spec, ParsesFieldsAndDefaults) {
  Spec spec = parse(R"j({"name": "x", "layout": "varlen", "dtype": "fp16", "head_dim": 64,
                        "mask": "prefix($prefix_len[doc])"})j");
  EXPECT_EQ(spec.name, "x");
  EXPECT_EQ(spec.layout, Layout::kVarlen);
  EXPECT_EQ(spec.dtype, DType::kFloat16);
  EXPECT_EQ(spec.head_dim, 64);
  EXPECT_EQ(spec.head_dim_v, 64);  // defaults to head_dim
  EXPECT_FALSE(spec.softmax_scale.has_value());
  EXPECT_DOUBLE_EQ(spec.scale(), 0.125);  // 1 / sqrt(64)
  EXPECT_EQ(spec.softcap, 0.0);
  EXPECT_FALSE(spec.alibi);
  EXPECT_TRUE(spec.output_lse);
  EXPECT_FALSE(spec.backward);
  ASSERT_EQ(spec.parameters.size(), 1u);
  EXPECT_TRUE(spec.parameters.at("prefix_len"));  // per document
}

TEST(Spec, ExplicitOptions) {
  Spec spec = parse(R"j({"layout": "dense", "dtype": "fp32", "head_dim": 128, "head_dim_v": 64,
                        "mask": "causal", "softmax_scale": 0.5, "softcap": 30, "alibi": true,
                        "outputs": ["o"], "deterministic": true})j");
  EXPECT_EQ(spec.head_dim_v, 64);
  EXPECT_DOUBLE_EQ(spec.scale(), 0.5);
  EXPECT_DOUBLE_EQ(spec.softcap, 30.0);
  EXPECT_TRUE(spec.alibi);
  EXPECT_FALSE(spec.output_lse);
  EXPECT_TRUE(spec.deterministic);
}

TEST(Spec, CanonicalTextIsASpecWithTheSameCanonicalText) {
  for (const std::string& path : testing::list_files(testing::source_path("specs"), "json")) {
    SCOPED_TRACE(path);
    Spec spec = Spec::load(path);
    Spec again = parse(spec.canonical_text());
    EXPECT_EQ(again.canonical_text(), spec.canonical_text());
    EXPECT_EQ(spec_hash(again), spec_hash(spec));
  }
}

TEST(SpecHash, IsThirtyTwoHexDigits) {
  std::string hash = spec_hash(parse(R"j({"layout": "dense", "dtype": "bf16", "head_dim": 64, "mask": "full"})j"));
  ASSERT_EQ(hash.size(), 32u);
  EXPECT_EQ(hash.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(SpecHash, KnownXxh3Vector) {
  // XXH3-128 of the empty input, from the xxHash reference (xxhsum -H2 /dev/null).
  EXPECT_EQ(hash128_hex(""), "99aa06d3014798d86001c324468d497f");
}

TEST(SpecHash, EqualForFieldOrderWhitespaceOperandOrderDuplicatesAndNames) {
  std::string base = R"j({"layout": "varlen", "dtype": "bf16", "head_dim": 128,
                         "mask": "causal_br & window_br(256, 0) & sink(4)", "backward": true})j";
  std::vector<std::string> same = {
      R"j({"backward": true, "mask": "sink(4) & causal_br & window_br(256, 0)", "head_dim": 128,
          "dtype": "bf16", "layout": "varlen"})j",
      "{\"layout\":\"varlen\",\"dtype\":\"bf16\",\"head_dim\":128,\n\t\"mask\":\"  window_br( 256 ,0 )&causal_br&sink(4)  \",\"backward\":true}",
      R"j({"layout": "varlen", "dtype": "bf16", "head_dim": 128,
          "mask": "causal_br & (window_br(256, 0) & sink(4)) & causal_br", "backward": true})j",
      R"j({"name": "other", "description": "names do not change meaning", "layout": "varlen",
          "dtype": "bf16", "head_dim": 128, "head_dim_v": 128, "softmax_scale": "default",
          "outputs": ["lse", "o"], "mask": "causal_br & window_br(256, 0) & sink(4)",
          "backward": true})j",
  };
  std::string expected = spec_hash(parse(base));
  for (const std::string& json : same) {
    SCOPED_TRACE(json);
    EXPECT_EQ(spec_hash(parse(json)), expected);
  }
  // An explicit scale equal to the default is the default.
  EXPECT_EQ(spec_hash(parse(R"j({"layout": "dense", "dtype": "bf16", "head_dim": 64, "mask": "full", "softmax_scale": 0.125})j")),
            spec_hash(parse(R"j({"layout": "dense", "dtype": "bf16", "head_dim": 64, "mask": "full"})j")));
}

TEST(SpecHash, DifferentForDifferentMeaning) {
  std::string base = R"j({"layout": "varlen", "dtype": "bf16", "head_dim": 128, "mask": "causal_br & window_br(256, 0)"})j";
  std::vector<std::pair<std::string, std::string>> edits = {
      {"\"varlen\"", "\"dense\""},       {"\"bf16\"", "\"fp16\""},
      {"128", "64"},                     {"window_br(256, 0)", "window_br(255, 0)"},
      {"window_br(256, 0)", "window_br(0, 256)"},
      {"causal_br", "causal"},           {"\"mask\"", "\"softcap\": 30, \"mask\""},
      {"\"mask\"", "\"alibi\": true, \"mask\""}, {"\"mask\"", "\"backward\": true, \"mask\""},
      {"\"mask\"", "\"softmax_scale\": 0.1, \"mask\""},
      {"\"mask\"", "\"head_dim_v\": 64, \"mask\""},
      {"\"mask\"", "\"deterministic\": true, \"mask\""},
      {"\"mask\"", "\"outputs\": [\"o\"], \"mask\""},
      {"causal_br & window_br(256, 0)", "causal_br | window_br(256, 0)"},
      {"causal_br & window_br(256, 0)", "!causal_br & window_br(256, 0)"},
  };
  std::set<std::string> hashes = {spec_hash(parse(base))};
  for (const auto& [from, to] : edits) {
    std::string edited = base;
    edited.replace(edited.find(from), from.size(), to);
    SCOPED_TRACE(edited);
    EXPECT_TRUE(hashes.insert(spec_hash(parse(edited))).second) << "hash collides with another spec";
  }
}

TEST(SpecHash, SpecLibraryHashesAreDistinct) {
  std::set<std::string> hashes;
  for (const std::string& path : testing::list_files(testing::source_path("specs"), "json")) {
    EXPECT_TRUE(hashes.insert(spec_hash(Spec::load(path))).second) << path;
  }
}

}  // namespace
}  // namespace attncc
