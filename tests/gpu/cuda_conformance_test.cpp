// The CUDA backend on a real GPU against the float64 reference: the CPU backend's random
// edge-case suite (backend_cases.h: sentinels, 1-token documents, Lq != Lk, GQA, parameters at
// their extremes) for every spec in specs/ x {bf16, fp16} x head dims {64, 128}, outputs
// poisoned with NaN before each pass so unwritten elements fail, unattended dK/dV exactly 0.
// Label gpu; without a usable device each test reports GTEST_SKIP with the driver's reason. CI
// also runs a few variants on tests' fake driver (fake_driver.cuda_conformance): the CUDA
// backend's host path for real, the launches on the SIMT emulator.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "attncc/runtime.h"
#include "support/backend_cases.h"
#include "support/cuda_device_buffers.h"
#include "support/fake_cuda_device.h"
#include "support/parameter_clamp_case.h"
#include "support/spec_variants.h"

namespace attncc {
namespace {

// One runtime per test process; the disk cache stays on so reruns skip NVRTC.
Runtime& test_runtime() {
  static Runtime runtime([] {
    RuntimeOptions options;
    options.backend = Backend::kCuda;
    return options;
  }());
  return runtime;
}

class CudaConformance : public ::testing::TestWithParam<testing::SpecVariant> {};

TEST_P(CudaConformance, MatchesTheReferenceOnEdgeCases) {
  const std::string unavailable = testing::cuda_unavailable_reason();
  if (!unavailable.empty()) GTEST_SKIP() << "no usable CUDA device: " << unavailable;
  // Offsets a kernel finds inconsistent fail the call that passed them, not the next one.
  setenv("ATTNCC_VALIDATE", "1", 1);
  const testing::SpecVariant& variant = GetParam();
  Spec spec = testing::with_dtype_and_head_dim(Spec::load(variant.spec_path), variant.dtype,
                                               variant.head_dim);
  Kernel kernel = test_runtime().get(spec);
  testing::emulate_cuda_kernels_of(spec);  // only on the fake driver
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);
  for (const testing::BackendCase& test_case : testing::backend_cases(spec, random)) {
    testing::check_backend_case(kernel, test_case, testing::run_pass_on_cuda_device);
  }
}

// int64 mask parameters outside int32 reach the device unread by the host and are clamped into
// int32 by the kernels (MASK.md "Range"; on CI: the fake driver's and the emulator's tests).
TEST(CudaParameters, Int64ValuesOutsideInt32AreClampedByTheKernels) {
  const std::string unavailable = testing::cuda_unavailable_reason();
  if (!unavailable.empty()) GTEST_SKIP() << "no usable CUDA device: " << unavailable;
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);
  const testing::ParameterClampCase clamp = testing::parameter_clamp_case(random);
  Kernel kernel = test_runtime().get(clamp.spec);
  testing::emulate_cuda_kernels_of(clamp.spec);  // only on the fake driver
  auto runner = [&](const Kernel& used, const AttentionArguments& host, bool backward) {
    testing::run_pass_on_cuda_device(
        used, testing::with_int64_parameters(host, clamp.wide_values), backward);
  };
  testing::check_backend_case(kernel, clamp.test_case, runner);
}

INSTANTIATE_TEST_SUITE_P(Specs, CudaConformance,
                         ::testing::ValuesIn(testing::spec_variants({DType::kBFloat16,
                                                                     DType::kFloat16},
                                                                    {64, 128})),
                         testing::spec_variant_name);

}  // namespace
}  // namespace attncc
