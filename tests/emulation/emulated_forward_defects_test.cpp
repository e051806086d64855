// The real forward kernel (templates/cuda/attention_forward.cuh, lowered for a causal bf16 d64
// spec) under the emulation, intact and with one defect patched into its source: the first
// barrier after the K copy removed, the first cp.async wait removed, and a wrong fragment index
// (the two n8 halves of an ldmatrix.x4 of K swapped). The intact kernel matches the float64
// reference; each defect must make it fail (a wrong O or an emulator error), on several seeds.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "attncc/error.h"
#include "attncc/reference.h"
#include "support/emulated_kernels.h"
#include "runtime/thread_pool.h"
#include "templates/common/numeric.h"

namespace attncc {
namespace {

const std::vector<testing::NamedPatch> kPatches = {
    {"removed barrier",
     {"cuda/attention_forward.cuh", "sync_threads();  // K (and Q) landed for everyone",
      "/* removed */  // K (and Q) landed for everyone"}},
    // The mma.sync loop's first wait (the overlapped wgmma loop, earlier in the file, has its own).
    {"missing cp.async wait",
     {"cuda/attention_forward.cuh",
      "cp_async_wait<0>();\n        if constexpr (kWgmma) fence_proxy_async();  // the tensor cores "
      "read K and Q",
      "/* removed */\n        if constexpr (kWgmma) fence_proxy_async();  // the tensor cores "
      "read K and Q"}},
    {"wrong fragment index",
     {"cuda/attention_forward.cuh",
      "const uint32 b_low[2] = {b[0], b[1]};\n              const uint32 b_high[2] = {b[2], b[3]};",
      "const uint32 b_low[2] = {b[2], b[3]};\n              const uint32 b_high[2] = {b[0], b[1]};"}},
};

class EmulatedForwardDefects : public ::testing::Test {
 protected:
  const Spec spec_ = Spec::parse(
      R"({"name": "defects", "layout": "dense", "dtype": "bf16", "head_dim": 64, "mask": "causal"})");
  ThreadPool pool_{2};

  // Runs the forward on random bf16 inputs (dense B = 1, S = 200: two query tiles and four key
  // tiles, 2 heads); "" when O matches the float64 reference, else what went wrong.
  std::string run(const JitModule& module, uint64_t seed) {
    const int64_t rows = 200, heads = 2, dim = 64;
    std::mt19937_64 random(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    ReferenceInputs inputs;
    inputs.shape.layout = Layout::kDense;
    inputs.shape.batch = 1;
    inputs.shape.query_rows = rows;
    inputs.shape.key_rows = rows;
    inputs.heads_q = heads;
    inputs.heads_kv = heads;
    std::vector<bfloat16> q, k, v;
    for (auto [values, tensor] : {std::pair{&inputs.q, &q}, {&inputs.k, &k}, {&inputs.v, &v}}) {
      for (int64_t index = 0; index < rows * heads * dim; ++index) {
        tensor->push_back(from_float<bfloat16>(float(normal(random))));
        values->push_back(to_float(tensor->back()));
      }
    }
    std::vector<bfloat16> o(q.size(), bfloat16{0x7fc0});
    std::vector<float> lse(size_t(heads * rows), std::nanf(""));
    try {
      testing::run_emulated_dense_forward(module, spec_, pool_, seed, q.data(), k.data(), v.data(),
                                          o.data(), lse.data(), rows, heads, dim);
    } catch (const Error& error) {
      return error.what();
    }
    const ReferenceOutputs expected = reference_attention(spec_, inputs);
    double worst = 0, largest = 0;
    for (size_t index = 0; index < o.size(); ++index) {
      const double actual = to_float(o[index]);
      if (std::isnan(actual)) return "O[" + std::to_string(index) + "] is NaN";
      worst = std::max(worst, std::fabs(actual - expected.o[index]));
      largest = std::max(largest, std::fabs(expected.o[index]));
    }
    if (worst > 2e-2 * largest) {
      return "max |O - reference| = " + std::to_string(worst) + " of max |reference| " +
             std::to_string(largest);
    }
    return "";
  }
};

TEST_F(EmulatedForwardDefects, IntactKernelMatchesTheReference) {
  testing::expect_intact_kernels_pass(
      spec_, [this](const JitModule& module, uint64_t seed) { return run(module, seed); });
}

TEST_F(EmulatedForwardDefects, EveryDefectFailsOnEverySeed) {
  testing::expect_every_defect_fails(
      spec_, kPatches,
      [this](const JitModule& module, uint64_t seed) { return run(module, seed); });
}

}  // namespace
}  // namespace attncc
