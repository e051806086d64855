// The sm_90a forward through warpgroup MMAs (RuntimeOptions::cuda_warpgroup_mma), run on the
// SIMT emulator against the float64 reference on the edge cases of the conformance suite: every
// spec in specs/ in bf16 at head dims 64 and 128, and the mixed head dims 128/64 and 64/128
// (the P V product's other instruction width), with the overlapped schedule; the serial one
// ($ATTNCC_CUDA_WGMMA=serial) on the specs whose visit lists differ most. Forward only: the
// backward kernels do not change with the option (emulated_conformance_test runs them). The
// products' emulation itself is checked against matrix products in emulated_wgmma_test.
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

void check_forward(const Spec& loaded, int head_dim, int head_dim_v,
                   Runtime& runtime = wgmma_runtime()) {
  Spec spec = testing::with_dtype_and_head_dim(loaded, DType::kBFloat16, head_dim, head_dim_v);
  spec.backward = false;
  const WarpgroupForward request = requested_warpgroup_forward(true);
  ASSERT_TRUE(cuda_lowering_options(spec, request, true).warpgroup_mma_forward)
      << "the wgmma forward must apply to d" << head_dim << "/" << head_dim_v;
  Kernel kernel = runtime.get(spec);
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);
  for (const testing::BackendCase& test_case : testing::backend_cases(spec, random)) {
    testing::check_backend_case(kernel, test_case);
  }
}

class EmulatedWgmmaForward : public ::testing::TestWithParam<testing::SpecVariant> {};

TEST_P(EmulatedWgmmaForward, MatchesTheReferenceOnEdgeCases) {
  const testing::SpecVariant& variant = GetParam();
  check_forward(Spec::load(variant.spec_path), variant.head_dim, variant.head_dim);
}

INSTANTIATE_TEST_SUITE_P(Specs, EmulatedWgmmaForward,
                         ::testing::ValuesIn(testing::spec_variants({DType::kBFloat16}, {64, 128})),
                         testing::spec_variant_name);

TEST(EmulatedWgmmaForward, MixedHeadDimsMatchTheReference) {
  for (const char* name : {"causal.json", "doc_packed_sentinels.json", "prefix_lm_docs.json"}) {
    SCOPED_TRACE(name);
    const Spec spec = Spec::load(testing::source_path("specs") + "/" + name);
    check_forward(spec, 128, 64);
    check_forward(spec, 64, 128);
  }
}

// The serial schedule: one K and one V stage, each product waited for at once.
TEST(EmulatedWgmmaForward, SerialScheduleMatchesTheReference) {
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
    check_forward(spec, 64, 64, runtime);
    check_forward(spec, 128, 128, runtime);
  }
}

}  // namespace
}  // namespace attncc
