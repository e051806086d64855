// The CPU backend against the float64 reference: every spec in specs/ x {fp32, bf16} x head dims
// {64, 128} on edge-biased random cases (backend_cases.h). Adding a spec file adds tests.
#include <gtest/gtest.h>

#include <filesystem>

#include "attncc/runtime.h"
#include "support/backend_cases.h"
#include "support/files.h"

namespace attncc {
namespace {

struct Variant {
  std::string spec_path;
  DType dtype;
  int head_dim;
};

std::vector<Variant> all_variants() {
  std::vector<Variant> variants;
  for (const std::string& path : testing::list_files(testing::source_path("specs"), "json")) {
    for (DType dtype : {DType::kFloat32, DType::kBFloat16}) {
      for (int head_dim : {64, 128}) variants.push_back({path, dtype, head_dim});
    }
  }
  return variants;
}

std::string variant_name(const ::testing::TestParamInfo<Variant>& info) {
  std::string name = std::filesystem::path(info.param.spec_path).stem().string() + "_" +
                     std::string(dtype_name(info.param.dtype)) + "_d" +
                     std::to_string(info.param.head_dim);
  for (char& character : name) {
    if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
  }
  return name;
}

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

class CpuBackend : public ::testing::TestWithParam<Variant> {};

TEST_P(CpuBackend, MatchesTheReferenceOnEdgeCases) {
  const Variant& variant = GetParam();
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

INSTANTIATE_TEST_SUITE_P(Specs, CpuBackend, ::testing::ValuesIn(all_variants()), variant_name);

}  // namespace
}  // namespace attncc
