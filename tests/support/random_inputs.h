// Test helpers for randomised tests: a per-run seed (printed on failure, fixed by
// ATTNCC_TEST_SEED) and random float64 tensors for the reference.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "attncc/reference.h"

namespace attncc::testing {

/// Seed of this run: ATTNCC_TEST_SEED if set (to replay a failure), else fresh from the OS.
uint64_t test_seed();

/// "seed N (rerun with ATTNCC_TEST_SEED=N)", for SCOPED_TRACE.
std::string seed_trace(uint64_t seed);

/// A seeded random source with the few draws the tests need.
class TestRandom {
 public:
  explicit TestRandom(uint64_t seed) : engine_(seed) {}
  /// Uniform integer in [low, high].
  int64_t integer(int64_t low, int64_t high);
  /// Uniform real in [low, high).
  double real(double low, double high);
  /// `count` standard normal values times `scale`.
  std::vector<double> normal(int64_t count, double scale = 1.0);

 private:
  std::mt19937_64 engine_;
};

/// Fills q, k, v (and d_o when `backward`) of `inputs` with normal values sized for its shape
/// and heads, D = head_dim and Dv = head_dim_v; slopes in [0.05, 0.5] when `alibi`.
void fill_random_tensors(ReferenceInputs& inputs, int64_t head_dim, int64_t head_dim_v,
                         bool backward, bool alibi, TestRandom& random);

/// Rows of the Q (query) or K/V tensors, batch included (B * Sq for dense, Tq for varlen).
int64_t tensor_rows(const LayoutShape& shape, bool query);

}  // namespace attncc::testing
