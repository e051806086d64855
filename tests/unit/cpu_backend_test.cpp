// The CPU backend against the float64 reference: every spec in specs/ x {fp32, bf16} x head dims
// {64, 128} on edge-biased random cases (backend_cases.h), with each forward and backward
// schedule. Adding a spec file adds tests.
#include <gtest/gtest.h>

#include <filesystem>

#include "attncc/runtime.h"
#include "support/backend_cases.h"
#include "support/spec_variants.h"

namespace attncc {
namespace {

// One runtime per backward schedule; all read the kernel from this suite's disk cache, so each
// kernel is compiled once. The split one splits the forward too, on 3 threads, so 3 parts: the
// cases' short documents (1-3 key tiles) then have parts with one key tile and parts with none.
Runtime& test_runtime(CpuBackwardSchedule schedule) {
  auto make = [](CpuForwardSchedule forward, CpuBackwardSchedule backward, int threads) {
    RuntimeOptions options;
    options.backend = Backend::kCpu;
    options.cache_dir =
        (std::filesystem::temp_directory_path() / "attncc-cpu_backend-cache").string();
    options.cpu_forward = forward;
    options.cpu_backward = backward;
    options.num_threads = threads;
    return options;
  };
  static Runtime fused(make(CpuForwardSchedule::kTiles, CpuBackwardSchedule::kFused, 0));
  static Runtime fused_split(make(CpuForwardSchedule::kSplit, CpuBackwardSchedule::kFusedSplit, 3));
  static Runtime two_pass(make(CpuForwardSchedule::kTiles, CpuBackwardSchedule::kTwoPass, 0));
  switch (schedule) {
    case CpuBackwardSchedule::kFused: return fused;
    case CpuBackwardSchedule::kFusedSplit: return fused_split;
    default: return two_pass;
  }
}

class CpuBackend : public ::testing::TestWithParam<testing::SpecVariant> {};

// Every case under each backward schedule: the fused one (one item per document and key/value
// head, dQ summed in scratch), the split one (a document's key tiles dealt over parts, each
// with its own dQ scratch, then summed; its forward splits each query tile's key tiles the
// same way and merges the parts) and the two-pass one (a dQ pass, then a dK/dV pass).
TEST_P(CpuBackend, MatchesTheReferenceOnEdgeCases) {
  const testing::SpecVariant& variant = GetParam();
  Spec spec = testing::with_dtype_and_head_dim(Spec::load(variant.spec_path), variant.dtype,
                                               variant.head_dim);
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);
  const std::vector<testing::BackendCase> cases = testing::backend_cases(spec, random);
  for (CpuBackwardSchedule schedule :
       {CpuBackwardSchedule::kFused, CpuBackwardSchedule::kFusedSplit,
        CpuBackwardSchedule::kTwoPass}) {
    SCOPED_TRACE("backward schedule " + std::string(cpu_backward_schedule_name(schedule)));
    Kernel kernel = test_runtime(schedule).get(spec);
    for (const testing::BackendCase& test_case : cases) {
      testing::check_backend_case(kernel, test_case);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Specs, CpuBackend,
                         ::testing::ValuesIn(testing::spec_variants({DType::kFloat32, DType::kBFloat16},
                                                                    {64, 128})),
                         testing::spec_variant_name);

}  // namespace
}  // namespace attncc
