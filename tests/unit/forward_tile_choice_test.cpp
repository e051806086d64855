// compiler/emit/forward_tile_choice: which masks get the 4-warp forward at d96/d128. The
// expectations are the classes measured with NVRTC (docs/PERFORMANCE.md): the masks of
// specs/ that fit 4 warps without spills are light, those that spill are not; the NVRTC
// matrix test (tests/cuda/nvrtc_specs_test.cpp) checks the spill side for every spec.
#include "compiler/emit/forward_tile_choice.h"

#include <gtest/gtest.h>

#include <string>

namespace attncc {
namespace {

Spec make_spec(const std::string& mask, int head_dim, const std::string& extra = "") {
  return Spec::parse(R"({"name": "t", "layout": "dense", "dtype": "bf16", "head_dim": )" +
                     std::to_string(head_dim) + R"(, "mask": ")" + mask + "\"" + extra + "}");
}

bool is_light(const std::string& mask, const std::string& extra = "") {
  const Spec spec = make_spec(mask, 128, extra);
  return forward_mask_is_light(spec, build_interval_form(spec.mask));
}

TEST(ForwardTileChoice, LightMasksAreSingleAffineIntervals) {
  EXPECT_TRUE(is_light("full"));
  EXPECT_TRUE(is_light("causal"));
  EXPECT_TRUE(is_light("causal_br"));
  EXPECT_TRUE(is_light("window(256, 0)"));
  EXPECT_TRUE(is_light("causal_br & window_br(256, 0)"));
  EXPECT_TRUE(is_light("j <= 2 * i + 3"));
  EXPECT_TRUE(is_light("causal", R"(, "softcap": 30.0)"));
}

TEST(ForwardTileChoice, MasksWithMoreArithmeticAreHeavy) {
  EXPECT_FALSE(is_light("causal", R"(, "alibi": true)"));            // per-element bias
  EXPECT_FALSE(is_light("prefix($prefix_len[doc])"));                // parameter, max
  EXPECT_FALSE(is_light("chunk(128) & causal"));                     // division, min
  EXPECT_FALSE(is_light("j >= i - 128 & j <= i & j < Lk - 16"));     // min of two bounds
  EXPECT_FALSE(is_light("sink(4) | window(1024, 0)"));               // two intervals
  EXPECT_FALSE(is_light("causal & (i - j) % 2 == 0"));               // per-element predicate
  EXPECT_FALSE(is_light("j <= i + $shift"));                         // run-time parameter
}

// Light masks get 4 warps at d96/d128 where NVRTC measured no spills for every light spec:
// 128/128, and head_dim_v at most 64 (docs/PERFORMANCE.md); heavy ones keep 8 warps there.
TEST(ForwardTileChoice, OnlyHeadDims96And128DependOnTheMask) {
  const int dims[] = {32, 64, 96, 128, 256};
  for (int head_dim : dims) {
    for (int head_dim_v : dims) {
      SCOPED_TRACE(std::to_string(head_dim) + " x " + std::to_string(head_dim_v));
      const std::string extra = R"(, "head_dim_v": )" + std::to_string(head_dim_v);
      const cuda::TileShape light = cuda_forward_tile_shape(make_spec("causal", head_dim, extra));
      const cuda::TileShape heavy =
          cuda_forward_tile_shape(make_spec("chunk(64) & causal", head_dim, extra));
      EXPECT_EQ(light.tile_q, heavy.tile_q);
      EXPECT_EQ(light.tile_k, heavy.tile_k);
      const bool wide = head_dim > 64 || head_dim_v > 64;
      const bool huge = head_dim > 128 || head_dim_v > 128;
      const bool fits = head_dim_v <= 64 || (head_dim == 128 && head_dim_v == 128);
      EXPECT_EQ(heavy.warps, wide && !huge ? 8 : 4);
      EXPECT_EQ(light.warps, wide && !huge && !fits ? 8 : 4);
    }
  }
}

}  // namespace
}  // namespace attncc
