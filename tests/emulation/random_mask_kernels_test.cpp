// Random masks end to end. The interval soundness tests check the analysis on masks drawn by
// RandomMaskBuilder (primitives with literal, scalar or per-document arguments; affine, quotient,
// modulo, non-monotone and row-condition atoms; & | !); these compile the same kind of masks into
// kernels, with the CPU backend and with the CUDA kernels on the emulator, and run them forward
// and backward on the edge-biased cases of backend_cases.h (sentinels, 1-token documents,
// Lq != Lk, GQA, grid bounds below the documents) and on one random layout of documents up to
// 200 tokens, against the float64 reference. So they check everything after the analysis: visit
// lists, FULL/PARTIAL tile classification, the per-element mask code, the 4- or 8-warp forward
// choice, per-document parameter loads.
//
// Each test draws its spec (layout, dtype, head dims, softcap, ALiBi, dQ mode) and mask from the
// run's seed and its index; ATTNCC_RANDOM_MASKS=N runs N masks per backend instead of the CI's
// few (a longer hunt: `ATTNCC_RANDOM_MASKS=300 build/tests/random_mask_kernels_test`).
#include <gtest/gtest.h>

#include <string>

#include "attncc/runtime.h"
#include "support/backend_cases.h"
#include "support/random_mask_specs.h"

namespace attncc {
namespace {

// Memory caches only: every run draws new masks, so a disk cache would only grow.
Runtime& test_runtime(Backend backend) {
  auto make = [](Backend which) {
    RuntimeOptions options;
    options.backend = which;
    options.disk_cache = false;
    return options;
  };
  static Runtime cpu(make(Backend::kCpu));
  static Runtime emulated(make(Backend::kCudaEmulated));
  return backend == Backend::kCpu ? cpu : emulated;
}

void check_random_mask(Backend backend, int index) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed) + ", mask " + std::to_string(index));
  testing::TestRandom random(testing::random_mask_seed(seed, index));
  testing::RandomMaskBuilder builder(random);
  Spec spec = testing::random_mask_spec(random, builder, backend != Backend::kCpu);
  SCOPED_TRACE("spec: " + spec.canonical_text());
  Kernel kernel = test_runtime(backend).get(spec);
  for (const testing::BackendCase& test_case : testing::random_mask_cases(spec, builder, random)) {
    testing::check_backend_case(kernel, test_case);
  }
}

class RandomMaskKernels : public ::testing::TestWithParam<int> {};

TEST_P(RandomMaskKernels, CpuMatchesTheReference) { check_random_mask(Backend::kCpu, GetParam()); }

TEST_P(RandomMaskKernels, EmulatedCudaMatchesTheReference) {
  check_random_mask(Backend::kCudaEmulated, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Masks, RandomMaskKernels, ::testing::Range(0, testing::random_mask_count(12)));

}  // namespace
}  // namespace attncc
