// The CUDA kernels, run on the SIMT emulator (backend cuda-emulated), against the float64
// reference: every spec in specs/ x {fp16, bf16} x head dims {64, 128}, forward and backward, on
// the edge-biased cases of backend_cases.h (documents up to 150 tokens: sentinels, 1-token
// documents, Lq != Lk, GQA 4:1) with the GPU tolerance (relative error < 2e-2, no NaN, every
// poisoned output written, dK/dV exactly 0 for keys nobody attends). Labels gpu and emulated:
// this is the GPU suite without a GPU. Adding a spec file adds tests.
#include <gtest/gtest.h>

#include "attncc/runtime.h"
#include "support/backend_cases.h"
#include "support/emulated_kernels.h"
#include "support/spec_variants.h"

namespace attncc {
namespace {

class EmulatedCudaBackend : public ::testing::TestWithParam<testing::SpecVariant> {};

TEST_P(EmulatedCudaBackend, MatchesTheReferenceOnEdgeCases) {
  const testing::SpecVariant& variant = GetParam();
  Spec spec = testing::with_dtype_and_head_dim(Spec::load(variant.spec_path), variant.dtype,
                                               variant.head_dim);
  Kernel kernel = testing::emulated_test_runtime("emulated-conformance").get(spec);
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);
  for (const testing::BackendCase& test_case : testing::backend_cases(spec, random)) {
    testing::check_backend_case(kernel, test_case);
  }
}

INSTANTIATE_TEST_SUITE_P(Specs, EmulatedCudaBackend,
                         ::testing::ValuesIn(testing::spec_variants({DType::kFloat16,
                                                                     DType::kBFloat16},
                                                                    {64, 128})),
                         testing::spec_variant_name);

}  // namespace
}  // namespace attncc
