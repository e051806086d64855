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

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attncc/mask_text.h"
#include "attncc/runtime.h"
#include "cuda/cuda_params.h"
#include "support/backend_cases.h"
#include "support/random_masks.h"

namespace attncc {
namespace {

int random_mask_count() {
  const char* count = std::getenv("ATTNCC_RANDOM_MASKS");
  return count != nullptr ? std::max(1, std::atoi(count)) : 12;
}

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

template <typename T, size_t N>
const T& pick(testing::TestRandom& random, const T (&choices)[N]) {
  return choices[static_cast<size_t>(random.integer(0, static_cast<int64_t>(N) - 1))];
}

// A spec around a random mask. The head dims are those of the CUDA templates (32, 64, 96, 128;
// 256 costs the emulator too much for a sweep) with Dv = D mostly, else 32 or 64.
Spec random_spec(Backend backend, testing::TestRandom& random, testing::RandomMaskBuilder& builder) {
  for (int attempt = 0;; ++attempt) {
    if (attempt == 50) throw std::runtime_error("no usable random mask in 50 draws");
    PredicatePtr mask = builder.tree(static_cast<int>(random.integer(1, 4)));
    nlohmann::json object;
    object["name"] = "random_mask";
    object["layout"] = pick(random, {"dense", "varlen", "doc_packed"});
    object["dtype"] = backend == Backend::kCpu ? pick(random, {"fp32", "bf16", "fp16"})
                                               : pick(random, {"bf16", "fp16"});
    const int head_dim = pick(random, {32, 64, 64, 96, 128});
    object["head_dim"] = head_dim;
    object["head_dim_v"] = random.integer(0, 3) == 0 ? pick(random, {32, 64}) : head_dim;
    object["mask"] = print_mask(*mask);
    if (random.integer(0, 3) == 0) object["softcap"] = pick(random, {5.0, 30.0});
    if (random.integer(0, 3) == 0) object["alibi"] = true;
    object["backward"] = true;
    object["deterministic"] = random.integer(0, 2) == 0;
    object["outputs"] = {"o", "lse"};
    try {
      Spec spec = Spec::parse(object.dump());
      // The CUDA kernels take at most kMaxMaskParameters (a documented limit, an error at
      // compile time); the builder draws a parameter for a third of its arguments.
      if (backend == Backend::kCpu ||
          spec.parameters.size() <= static_cast<size_t>(cuda::kMaxMaskParameters)) {
        return spec;
      }
    } catch (const Error& error) {
      // A drawn divisor of constant 0 is a spec error (`check` rejects it); draw again. Any
      // other rejection of a builder's mask is a bug of the builder or of the checker.
      const std::string what = error.what();
      if (what.find("zero") == std::string::npos) {
        ADD_FAILURE() << "random mask rejected: " << object.dump() << "\n" << what;
        throw;
      }
    }
  }
}

// Parameter values drawn per document (and per scalar) from the ranges the builder drew them
// from, instead of backend_cases' 0 / length / random, which may leave a primitive's range.
void draw_parameters(const Spec& spec, const testing::RandomMaskBuilder& builder,
                     testing::TestRandom& random, ReferenceInputs& inputs) {
  for (const auto& [name, per_document] : spec.parameters) {
    auto [minimum, maximum] = builder.parameter_range(name);
    for (int64_t& value : inputs.parameters.at(name)) value = random.integer(minimum, maximum);
  }
}

void check_random_mask(Backend backend, int index) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed) + ", mask " + std::to_string(index));
  testing::TestRandom random(seed ^ (0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(index + 1)));
  testing::RandomMaskBuilder builder(random);
  Spec spec = random_spec(backend, random, builder);
  SCOPED_TRACE("spec: " + spec.canonical_text());
  Kernel kernel = test_runtime(backend).get(spec);
  std::vector<testing::BackendCase> cases = testing::backend_cases(spec, random);
  cases.push_back(testing::random_backend_case(spec, random, 200));
  for (testing::BackendCase& test_case : cases) {
    draw_parameters(spec, builder, random, test_case.inputs);
    if (!spec.parameters.empty()) test_case.description += " (values redrawn in the mask's ranges)";
    testing::check_backend_case(kernel, test_case);
  }
}

class RandomMaskKernels : public ::testing::TestWithParam<int> {};

TEST_P(RandomMaskKernels, CpuMatchesTheReference) { check_random_mask(Backend::kCpu, GetParam()); }

TEST_P(RandomMaskKernels, EmulatedCudaMatchesTheReference) {
  check_random_mask(Backend::kCudaEmulated, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Masks, RandomMaskKernels, ::testing::Range(0, random_mask_count()));

}  // namespace
}  // namespace attncc
