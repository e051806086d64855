// Seeds and random tensors for the randomised tests.
#include "support/random_inputs.h"

#include <cstdlib>
#include <string>

namespace attncc::testing {

uint64_t test_seed() {
  if (const char* fixed = std::getenv("ATTNCC_TEST_SEED")) {
    return std::strtoull(fixed, nullptr, 10);
  }
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

std::string seed_trace(uint64_t seed) {
  return "seed " + std::to_string(seed) + " (rerun with ATTNCC_TEST_SEED=" +
         std::to_string(seed) + ")";
}

int64_t TestRandom::integer(int64_t low, int64_t high) {
  return std::uniform_int_distribution<int64_t>(low, high)(engine_);
}

double TestRandom::real(double low, double high) {
  return std::uniform_real_distribution<double>(low, high)(engine_);
}

std::vector<double> TestRandom::normal(int64_t count, double scale) {
  std::normal_distribution<double> distribution(0.0, scale);
  std::vector<double> values(static_cast<size_t>(count));
  for (double& value : values) value = distribution(engine_);
  return values;
}

int64_t tensor_rows(const LayoutShape& shape, bool query) {
  int64_t rows = query ? shape.query_rows : shape.key_rows;
  return shape.layout == Layout::kVarlen ? rows : shape.batch * rows;
}

void fill_random_tensors(ReferenceInputs& inputs, int64_t head_dim, int64_t head_dim_v,
                         bool backward, bool alibi, TestRandom& random) {
  int64_t q_rows = tensor_rows(inputs.shape, true);
  int64_t k_rows = tensor_rows(inputs.shape, false);
  inputs.q = random.normal(q_rows * inputs.heads_q * head_dim);
  inputs.k = random.normal(k_rows * inputs.heads_kv * head_dim);
  inputs.v = random.normal(k_rows * inputs.heads_kv * head_dim_v);
  inputs.d_o = backward ? random.normal(q_rows * inputs.heads_q * head_dim_v)
                        : std::vector<double>{};
  inputs.alibi_slopes.clear();
  if (alibi) {
    for (int64_t h = 0; h < inputs.heads_q; ++h) inputs.alibi_slopes.push_back(random.real(0.05, 0.5));
  }
}

}  // namespace attncc::testing
