// The CUDA forward kernel (templates/cuda/attention_forward.cuh) and the padding fill, run on the
// cuda-emulated backend against the float64 reference: every bf16/fp16-capable spec in specs/
// (fp32 specs run in bf16), forward only, at every head dim the CUDA target supports, on the
// edge-biased cases of backend_cases.h (sentinels, 1-token documents, Lq != Lk, GQA, padding).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "attncc/runtime.h"
#include "support/backend_cases.h"
#include "support/files.h"
#include "support/spec_variants.h"

namespace attncc {
namespace {

std::vector<testing::SpecVariant> all_variants() {
  std::vector<testing::SpecVariant> variants;
  for (const std::string& path : testing::list_files(testing::source_path("specs"), "json")) {
    variants.push_back({path, DType::kBFloat16, 64});
    variants.push_back({path, DType::kFloat16, 128});
  }
  // The other head dims (tile shapes and page layouts of their own) on a few masks.
  for (const char* name : {"causal", "prefix_lm_docs", "softcap_alibi", "doc_packed_sentinels"}) {
    for (int head_dim : {32, 96, 256}) {
      variants.push_back({testing::source_path("specs") + "/" + name + ".json",
                          DType::kBFloat16, head_dim});
    }
  }
  return variants;
}

// The spec without its backward, so check_backend_case checks the forward outputs only.
Spec forward_only(const Spec& spec) {
  nlohmann::json object = nlohmann::json::parse(spec.canonical_text());
  object["backward"] = false;
  Spec result = Spec::parse(object.dump(), spec.name + " (forward only)");
  result.name = spec.name;
  return result;
}

Runtime& test_runtime() {
  static Runtime runtime([] {
    RuntimeOptions options;
    options.backend = Backend::kCudaEmulated;
    options.disk_cache = false;
    return options;
  }());
  return runtime;
}

class CudaForwardEmulated : public ::testing::TestWithParam<testing::SpecVariant> {};

TEST_P(CudaForwardEmulated, MatchesTheReferenceOnEdgeCases) {
  const testing::SpecVariant& variant = GetParam();
  Spec spec = forward_only(testing::with_dtype_and_head_dim(Spec::load(variant.spec_path),
                                                            variant.dtype, variant.head_dim));
  Kernel kernel = test_runtime().get(spec);
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);
  for (const testing::BackendCase& test_case : testing::backend_cases(spec, random)) {
    SCOPED_TRACE(test_case.description);
    testing::check_backend_case(kernel, test_case);
  }
}

INSTANTIATE_TEST_SUITE_P(Specs, CudaForwardEmulated, ::testing::ValuesIn(all_variants()),
                         testing::spec_variant_name);

}  // namespace
}  // namespace attncc
