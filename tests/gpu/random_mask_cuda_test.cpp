// Random masks on the CUDA backend: the masks, specs and cases of random_mask_kernels_test
// (tests/emulation/: CPU and cuda-emulated) compiled by NVRTC and run on a GPU against the
// float64 reference, forward and backward, outputs poisoned first. The emulator runs the same
// kernel source, but not the hardware's memory model, scheduling or tensor-core rounding; this
// is where masks nobody wrote meet those. Label gpu (tools/gpu_check.sh runs it); without a
// usable device each test reports GTEST_SKIP with the reason. CI runs a few on tests' fake driver
// (fake_driver.random_masks: the CUDA backend's host path, launches on the emulator).
// ATTNCC_RANDOM_MASKS=N runs N masks instead of 16.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "attncc/runtime.h"
#include "support/backend_cases.h"
#include "support/cuda_device_buffers.h"
#include "support/fake_cuda_device.h"
#include "support/random_mask_specs.h"

namespace attncc {
namespace {

// Memory cache only: every run draws new masks, so a disk cache would only grow.
Runtime& test_runtime() {
  static Runtime runtime([] {
    RuntimeOptions options;
    options.backend = Backend::kCuda;
    options.disk_cache = false;
    return options;
  }());
  return runtime;
}

class RandomMaskCuda : public ::testing::TestWithParam<int> {};

TEST_P(RandomMaskCuda, MatchesTheReference) {
  const std::string unavailable = testing::cuda_unavailable_reason();
  if (!unavailable.empty()) GTEST_SKIP() << "no usable CUDA device: " << unavailable;
  // Offsets a kernel finds inconsistent fail the call that passed them, not the next one.
  setenv("ATTNCC_VALIDATE", "1", 1);
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed) + ", mask " + std::to_string(GetParam()));
  testing::TestRandom random(testing::random_mask_seed(seed, GetParam()));
  testing::RandomMaskBuilder builder(random);
  Spec spec = testing::random_mask_spec(random, builder, /*cuda=*/true);
  SCOPED_TRACE("spec: " + spec.canonical_text());
  Kernel kernel = test_runtime().get(spec);
  testing::emulate_cuda_kernels_of(spec);  // only on the fake driver
  for (const testing::BackendCase& test_case : testing::random_mask_cases(spec, builder, random)) {
    testing::check_backend_case(kernel, test_case, testing::run_pass_on_cuda_device);
  }
}

INSTANTIATE_TEST_SUITE_P(Masks, RandomMaskCuda, ::testing::Range(0, testing::random_mask_count(16)));

}  // namespace
}  // namespace attncc
