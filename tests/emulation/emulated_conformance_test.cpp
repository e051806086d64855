// The CUDA kernels, run on the SIMT emulator (backend cuda-emulated), against the float64
// reference: every spec in specs/ x {fp16, bf16} x head dims {64, 128}, forward and backward, on
// the edge-biased cases of backend_cases.h (documents up to 150 tokens: sentinels, 1-token
// documents, Lq != Lk, GQA 4:1) with the GPU tolerance (relative error < 2e-2, no NaN, every
// poisoned output written, dK/dV exactly 0 for keys nobody attends). Labels gpu and emulated:
// this is the GPU suite without a GPU. Adding a spec file adds tests.
#include <gtest/gtest.h>

#include <filesystem>
#include <ostream>

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

// Names the variant in test listings (ctest shows the parameter of each discovered test).
void PrintTo(const Variant& variant, std::ostream* out) {
  *out << std::filesystem::path(variant.spec_path).filename().string() << " "
       << dtype_name(variant.dtype) << " d" << variant.head_dim;
}

std::vector<Variant> all_variants() {
  std::vector<Variant> variants;
  for (const std::string& path : testing::list_files(testing::source_path("specs"), "json")) {
    for (DType dtype : {DType::kFloat16, DType::kBFloat16}) {
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

// One runtime per test process. The disk cache (a directory of this suite's own) keeps reruns
// from compiling the kernels again; results do not depend on it.
Runtime& test_runtime() {
  static Runtime runtime([] {
    RuntimeOptions options;
    options.backend = Backend::kCudaEmulated;
    options.cache_dir =
        (std::filesystem::temp_directory_path() / "attncc-emulated-conformance-cache").string();
    return options;
  }());
  return runtime;
}

class EmulatedCudaBackend : public ::testing::TestWithParam<Variant> {};

TEST_P(EmulatedCudaBackend, MatchesTheReferenceOnEdgeCases) {
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

INSTANTIATE_TEST_SUITE_P(Specs, EmulatedCudaBackend, ::testing::ValuesIn(all_variants()),
                         variant_name);

}  // namespace
}  // namespace attncc
