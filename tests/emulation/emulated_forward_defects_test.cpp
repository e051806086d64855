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
#include "attncc/interval_form.h"
#include "attncc/reference.h"
#include "compiler/emit/lower_to_cuda.h"
#include "runtime/cuda/launch_plan.h"
#include "runtime/embedded_templates.h"
#include "runtime/emulation/emulator.h"
#include "runtime/llvm/clang_jit.h"
#include "runtime/thread_pool.h"
#include "templates/common/numeric.h"

namespace attncc {
namespace {

struct Patch {
  const char* name;
  std::string from, to;  // first occurrence in attention_forward.cuh
};

const Patch kPatches[] = {
    {"removed barrier", "sync_threads();  // K (and Q) landed for everyone",
     "/* removed */  // K (and Q) landed for everyone"},
    {"missing cp.async wait", "cp_async_wait<0>();", "/* removed */"},
    {"wrong fragment index",
     "const uint32 b_low[2] = {b[0], b[1]};\n          const uint32 b_high[2] = {b[2], b[3]};",
     "const uint32 b_low[2] = {b[2], b[3]};\n          const uint32 b_high[2] = {b[0], b[1]};"},
};

class EmulatedForwardDefects : public ::testing::Test {
 protected:
  const Spec spec_ = Spec::parse(
      R"({"name": "defects", "layout": "dense", "dtype": "bf16", "head_dim": 64, "mask": "causal"})");
  ThreadPool pool_{2};

  // The forward and fill_padding entry points of the spec's kernels, with `patch` applied to the
  // forward template (nullptr: intact). Fails the test if the patch no longer applies.
  std::unique_ptr<JitModule> compile(const Patch* patch) {
    JitOptions options;
    for (const EmbeddedFile& file : embedded_templates()) {
      options.headers[std::string(file.path)] = std::string(file.contents);
    }
    options.host_symbols = emulation::host_symbols();
    options.optimization_level = 0;
    if (patch != nullptr) {
      std::string& forward = options.headers.at("cuda/attention_forward.cuh");
      const size_t at = forward.find(patch->from);
      if (at == std::string::npos) {
        ADD_FAILURE() << "the forward kernel no longer contains the defect site of '" << patch->name
                      << "': update kPatches in this test to the kernel's current code";
        return nullptr;
      }
      forward.replace(at, patch->from.size(), patch->to);
    }
    return compile_cpp(lower_to_cuda(spec_, build_interval_form(spec_.mask)), options);
  }

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
    AttentionArguments arguments;
    arguments.q = TensorRef::cpu(q.data(), ScalarType::kBFloat16, {1, rows, heads, dim});
    arguments.k = TensorRef::cpu(k.data(), ScalarType::kBFloat16, {1, rows, heads, dim});
    arguments.v = TensorRef::cpu(v.data(), ScalarType::kBFloat16, {1, rows, heads, dim});
    arguments.o = TensorRef::cpu(o.data(), ScalarType::kBFloat16, {1, rows, heads, dim});
    arguments.lse = TensorRef::cpu(lse.data(), ScalarType::kFloat32, {1, heads, rows});
    CudaLaunchPlan plan = plan_cuda_forward(spec_, arguments);
    cuda::DeviceStatus status{};
    bind_workspace(plan, nullptr, nullptr, &status);
    const std::string prefix = cuda_entry_prefix(spec_);
    try {
      for (const CudaLaunch& launch : plan.launches) {
        emulation::LaunchConfiguration configuration;
        configuration.kernel_name = prefix + "_" + launch.suffix();
        configuration.entry = module.lookup_function<void(const void*)>(configuration.kernel_name);
        configuration.grid = {launch.grid.x, launch.grid.y, launch.grid.z};
        configuration.block = {launch.block.x, launch.block.y, launch.block.z};
        configuration.shared_bytes = launch.shared_bytes;
        configuration.params = &plan.params;
        configuration.seed = seed;
        emulation::run_launch(configuration, pool_);
      }
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
  std::unique_ptr<JitModule> module = compile(nullptr);
  ASSERT_NE(module, nullptr);
  for (uint64_t seed = 1; seed <= 3; ++seed) EXPECT_EQ(run(*module, seed), "") << "seed " << seed;
}

TEST_F(EmulatedForwardDefects, EveryDefectFailsOnEverySeed) {
  for (const Patch& patch : kPatches) {
    SCOPED_TRACE(patch.name);
    std::unique_ptr<JitModule> module = compile(&patch);
    ASSERT_NE(module, nullptr);
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      EXPECT_NE(run(*module, seed), "") << "the defect went unnoticed, seed " << seed;
    }
  }
}

}  // namespace
}  // namespace attncc
