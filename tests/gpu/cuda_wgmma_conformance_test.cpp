// The experimental sm_90a kernels through warpgroup MMAs (RuntimeOptions::cuda_warpgroup_mma:
// the forward and the backward key/value kernel) on a real H100/H200 against the float64
// reference: the edge-case suite of cuda_conformance_test for every spec in specs/ in bf16 at
// head dims 64 and 128, forward and backward (atomic dQ), and the deterministic backward (the
// wgmma dQ kernel) on a few specs. Label gpu; without a usable device,
// or on a device that is not compute capability 9.0, each test reports GTEST_SKIP with the
// reason. CI runs the same kernels on the emulator
// (tests/emulation/emulated_wgmma_conformance_test.cpp), and a few variants of this suite
// through the CUDA host path on the fake driver (fake_driver.cuda_wgmma_conformance: the sm_90a
// CUBIN from NVRTC, its 8-warp launches run on the emulator).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "attncc/runtime.h"
#include "runtime/cuda/cuda_kernel.h"
#include "support/backend_cases.h"
#include "support/cuda_device_buffers.h"
#include "support/fake_cuda_device.h"
#include "support/files.h"
#include "support/random_inputs.h"
#include "support/spec_variants.h"

namespace attncc {
namespace {

Runtime& wgmma_runtime() {
  static Runtime runtime([] {
    RuntimeOptions options;
    options.backend = Backend::kCuda;
    options.cuda_warpgroup_mma = true;
    return options;
  }());
  return runtime;
}

// "" when the device runs the wgmma kernels, else why the test skips.
std::string skip_reason() {
  const std::string unavailable = testing::cuda_unavailable_reason();
  if (!unavailable.empty()) return "no usable CUDA device: " + unavailable;
  const std::string target = cuda_device_target(0).name;
  if (target != "sm_90a") {
    return "the wgmma kernels need an sm_90a device (H100, H200); device 0 is " + target;
  }
  return "";
}

// The forward and the backward of `spec` (deterministic as the spec says) on the edge cases.
void check_on_device(Spec spec) {
  setenv("ATTNCC_VALIDATE", "1", 1);
  spec.backward = true;
  Kernel kernel = wgmma_runtime().get(spec);
  testing::emulate_cuda_kernels_of(  // fake only
      spec, cuda_lowering_options(spec, WarpgroupForward::kOverlapped, true));
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);
  for (const testing::BackendCase& test_case : testing::backend_cases(spec, random)) {
    testing::check_backend_case(kernel, test_case, testing::run_pass_on_cuda_device);
  }
}

class CudaWgmmaKernels : public ::testing::TestWithParam<testing::SpecVariant> {};

TEST_P(CudaWgmmaKernels, MatchesTheReferenceOnEdgeCases) {
  if (const std::string reason = skip_reason(); !reason.empty()) GTEST_SKIP() << reason;
  const testing::SpecVariant& variant = GetParam();
  check_on_device(testing::with_dtype_and_head_dim(Spec::load(variant.spec_path), variant.dtype,
                                                   variant.head_dim));
}

// Deterministic mode: dK, dV from the wgmma key/value kernel, dQ from the wgmma query kernel.
TEST(CudaWgmmaKernels, DeterministicBackwardMatchesTheReference) {
  if (const std::string reason = skip_reason(); !reason.empty()) GTEST_SKIP() << reason;
  for (const char* name : {"causal.json", "doc_packed_sentinels.json", "gqa_8to1.json"}) {
    for (int head_dim : {64, 128}) {
      SCOPED_TRACE(std::string(name) + " d" + std::to_string(head_dim));
      Spec spec = testing::with_dtype_and_head_dim(
          Spec::load(testing::source_path("specs") + "/" + name), DType::kBFloat16, head_dim);
      spec.deterministic = true;
      check_on_device(spec);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Specs, CudaWgmmaKernels,
                         ::testing::ValuesIn(testing::spec_variants({DType::kBFloat16}, {64, 128})),
                         testing::spec_variant_name);

}  // namespace
}  // namespace attncc
