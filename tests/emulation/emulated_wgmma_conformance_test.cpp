// The sm_90a kernels through warpgroup MMAs (RuntimeOptions::cuda_warpgroup_mma), run on the SIMT
// emulator against the float64 reference on the edge cases of the conformance suite: every spec in
// specs/ in bf16 at head dims 64 and 128, forward and backward (the wgmma key/value kernel, atomic
// dQ; softcap at d128 keeps the mma.sync backward), and the mixed head dims 128/64 and 64/128 (the
// other instruction widths), with the overlapped forward schedule; the serial one
// ($ATTNCC_CUDA_WGMMA=serial) on the specs whose visit lists differ most, forward only; and the
// deterministic backward (the wgmma key/value kernel and the wgmma dQ pass). The products'
// emulation itself is checked against matrix products in emulated_wgmma_test.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "attncc/runtime.h"
#include "compiler/emit/cuda_lowering_options.h"
#include "runtime/environment.h"
#include "support/backend_cases.h"
#include "support/emulated_kernels.h"
#include "support/spec_variants.h"
#include "support/files.h"
#include "support/random_inputs.h"

namespace attncc {
namespace {

Runtime& wgmma_runtime() { return testing::emulated_test_runtime("emulated-wgmma", true); }

// With `backward`, the spec's backward too (deterministic as `deterministic`), which must then
// take the wgmma key/value kernel unless softcap at a head dim above 64 keeps mma.sync.
void check_kernels(const Spec& loaded, int head_dim, int head_dim_v, bool backward,
                   Runtime& runtime = wgmma_runtime(), bool deterministic = false) {
  Spec spec = testing::with_dtype_and_head_dim(loaded, DType::kBFloat16, head_dim, head_dim_v);
  spec.backward = backward;
  spec.deterministic = deterministic;
  const WarpgroupForward request = requested_warpgroup_forward(true);
  const CudaLoweringOptions lowering = cuda_lowering_options(spec, request, true);
  ASSERT_TRUE(lowering.warpgroup_mma_forward)
      << "the wgmma forward must apply to d" << head_dim << "/" << head_dim_v;
  const bool softcap_keeps_mma_sync = spec.softcap > 0 && (head_dim > 64 || head_dim_v > 64);
  ASSERT_EQ(lowering.warpgroup_mma_backward, !softcap_keeps_mma_sync)
      << "the wgmma backward applies to d" << head_dim << "/" << head_dim_v
      << " unless softcap is on above d64";
  Kernel kernel = runtime.get(spec);
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);
  for (const testing::BackendCase& test_case : testing::backend_cases(spec, random)) {
    testing::check_backend_case(kernel, test_case);
  }
}

class EmulatedWgmmaKernels : public ::testing::TestWithParam<testing::SpecVariant> {};

TEST_P(EmulatedWgmmaKernels, MatchesTheReferenceOnEdgeCases) {
  const testing::SpecVariant& variant = GetParam();
  check_kernels(Spec::load(variant.spec_path), variant.head_dim, variant.head_dim,
                /*backward=*/true);
}

INSTANTIATE_TEST_SUITE_P(Specs, EmulatedWgmmaKernels,
                         ::testing::ValuesIn(testing::spec_variants({DType::kBFloat16}, {64, 128})),
                         testing::spec_variant_name);

TEST(EmulatedWgmmaKernels, MixedHeadDimsMatchTheReference) {
  for (const char* name : {"causal.json", "doc_packed_sentinels.json", "prefix_lm_docs.json"}) {
    SCOPED_TRACE(name);
    const Spec spec = Spec::load(testing::source_path("specs") + "/" + name);
    check_kernels(spec, 128, 64, /*backward=*/true);
    check_kernels(spec, 64, 128, /*backward=*/true);
  }
}

// The deterministic backward: dK, dV from the wgmma key/value kernel without atomics, dQ from
// the wgmma query kernel (128-row query tiles: in a document shorter than 65 rows the second
// warpgroup's rows are all past its end).
TEST(EmulatedWgmmaKernels, DeterministicBackwardMatchesTheReference) {
  for (const char* name : {"causal.json", "doc_packed_sentinels.json", "gqa_8to1.json"}) {
    SCOPED_TRACE(name);
    const Spec spec = Spec::load(testing::source_path("specs") + "/" + name);
    check_kernels(spec, 64, 64, /*backward=*/true, wgmma_runtime(), /*deterministic=*/true);
    check_kernels(spec, 128, 128, /*backward=*/true, wgmma_runtime(), /*deterministic=*/true);
  }
}

// The serial schedule: one K and one V stage, each product waited for at once.
TEST(EmulatedWgmmaKernels, SerialScheduleMatchesTheReference) {
  setenv("ATTNCC_CUDA_WGMMA", "serial", 1);
  struct Unset {
    ~Unset() { unsetenv("ATTNCC_CUDA_WGMMA"); }
  } unset;
  ASSERT_FALSE(cuda_lowering_options(Spec::load(testing::source_path("specs") + "/causal.json"),
                                     requested_warpgroup_forward(true), true)
                   .warpgroup_overlap);
  RuntimeOptions options;
  options.backend = Backend::kCudaEmulated;
  options.cuda_warpgroup_mma = true;
  options.cache_dir =
      (std::filesystem::temp_directory_path() / "attncc-emulated-wgmma-serial-cache").string();
  Runtime runtime(options);
  for (const char* name : {"causal.json", "doc_packed_sentinels.json", "prefix_lm_docs.json",
                           "window.json"}) {
    SCOPED_TRACE(name);
    const Spec spec = Spec::load(testing::source_path("specs") + "/" + name);
    check_kernels(spec, 64, 64, /*backward=*/false, runtime);
    check_kernels(spec, 128, 128, /*backward=*/false, runtime);
  }
}

}  // namespace
}  // namespace attncc
