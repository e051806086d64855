// Specs around random masks, and their cases (see random_mask_specs.h).
#include "support/random_mask_specs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "attncc/error.h"
#include "attncc/mask_text.h"
#include "templates/cuda/cuda_params.h"

namespace attncc::testing {
namespace {

template <typename T, size_t N>
const T& pick(TestRandom& random, const T (&choices)[N]) {
  return choices[static_cast<size_t>(random.integer(0, static_cast<int64_t>(N) - 1))];
}

}  // namespace

int random_mask_count(int default_count) {
  const char* count = std::getenv("ATTNCC_RANDOM_MASKS");
  return count != nullptr ? std::max(1, std::atoi(count)) : default_count;
}

uint64_t random_mask_seed(uint64_t run_seed, int index) {
  return run_seed ^ (0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(index + 1));
}

// Head dim 256 is left out: it costs the emulator too much for a sweep.
Spec random_mask_spec(TestRandom& random, RandomMaskBuilder& builder, bool cuda) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    PredicatePtr mask = builder.tree(static_cast<int>(random.integer(1, 4)));
    nlohmann::json object;
    object["name"] = "random_mask";
    object["layout"] = pick(random, {"dense", "varlen", "doc_packed"});
    object["dtype"] = cuda ? pick(random, {"bf16", "fp16"}) : pick(random, {"fp32", "bf16", "fp16"});
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
      // The builder makes a third of its arguments parameters; the CUDA kernels take at most
      // kMaxMaskParameters (a documented limit, an error at compile time).
      if (!cuda || spec.parameters.size() <= static_cast<size_t>(cuda::kMaxMaskParameters)) {
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
  throw std::runtime_error("no usable random mask in 50 draws");
}

std::vector<BackendCase> random_mask_cases(const Spec& spec, const RandomMaskBuilder& builder,
                                           TestRandom& random) {
  std::vector<BackendCase> cases = backend_cases(spec, random);
  cases.push_back(random_backend_case(spec, random, 200));
  // backend_cases' 0 / length / random values could leave a primitive's range.
  for (BackendCase& test_case : cases) {
    for (const auto& [name, per_document] : spec.parameters) {
      auto [minimum, maximum] = builder.parameter_range(name);
      for (int64_t& value : test_case.inputs.parameters.at(name)) {
        value = random.integer(minimum, maximum);
      }
    }
    if (!spec.parameters.empty()) test_case.description += " (values redrawn in the mask's ranges)";
  }
  return cases;
}

}  // namespace attncc::testing
