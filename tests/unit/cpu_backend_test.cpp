// The CPU backend against the float64 reference: every spec in specs/ x {fp32, bf16} x head dims
// {64, 128} on edge-biased random cases (backend_cases.h). Adding a spec file adds tests.
#include <gtest/gtest.h>

#include "attncc/runtime.h"
#include "support/backend_cases.h"
#include "support/spec_variants.h"

namespace attncc {
namespace {

// One runtime per test process, memory-only: these tests are about results, not caching.
Runtime& test_runtime() {
  static Runtime runtime([] {
    RuntimeOptions options;
    options.backend = Backend::kCpu;
    options.disk_cache = false;
    return options;
  }());
  return runtime;
}

class CpuBackend : public ::testing::TestWithParam<testing::SpecVariant> {};

TEST_P(CpuBackend, MatchesTheReferenceOnEdgeCases) {
  const testing::SpecVariant& variant = GetParam();
  Spec spec = testing::with_dtype_and_head_dim(Spec::load(variant.spec_path), variant.dtype,
                                               variant.head_dim);
  Kernel kernel = test_runtime().get(spec);
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);
  for (const testing::BackendCase& test_case : testing::backend_cases(spec, random)) {
    testing::check_backend_case(kernel, test_case);
  }
}

INSTANTIATE_TEST_SUITE_P(Specs, CpuBackend,
                         ::testing::ValuesIn(testing::spec_variants({DType::kFloat32, DType::kBFloat16},
                                                                    {64, 128})),
                         testing::spec_variant_name);

}  // namespace
}  // namespace attncc
