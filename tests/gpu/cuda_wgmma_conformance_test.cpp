// The experimental sm_90a kernels through warpgroup MMAs (RuntimeOptions::cuda_warpgroup_mma:
// the forward and the backward key/value kernel) on a real H100/H200 against the float64
// reference: the edge-case suite of cuda_conformance_test for every spec in specs/ in bf16 at
// head dims 64 and 128, forward and backward (atomic dQ). Label gpu; without a usable device,
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

class CudaWgmmaKernels : public ::testing::TestWithParam<testing::SpecVariant> {};

TEST_P(CudaWgmmaKernels, MatchesTheReferenceOnEdgeCases) {
  const std::string unavailable = testing::cuda_unavailable_reason();
  if (!unavailable.empty()) GTEST_SKIP() << "no usable CUDA device: " << unavailable;
  const std::string target = cuda_device_target(0).name;
  if (target != "sm_90a") {
    GTEST_SKIP() << "the wgmma kernels need an sm_90a device (H100, H200); device 0 is "
                 << target;
  }
  setenv("ATTNCC_VALIDATE", "1", 1);
  const testing::SpecVariant& variant = GetParam();
  Spec spec = testing::with_dtype_and_head_dim(Spec::load(variant.spec_path), variant.dtype,
                                               variant.head_dim);
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

INSTANTIATE_TEST_SUITE_P(Specs, CudaWgmmaKernels,
                         ::testing::ValuesIn(testing::spec_variants({DType::kBFloat16}, {64, 128})),
                         testing::spec_variant_name);

}  // namespace
}  // namespace attncc
