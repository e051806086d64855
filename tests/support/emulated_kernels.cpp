// Emulated CUDA kernels for tests (see emulated_kernels.h).
#include "support/emulated_kernels.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "attncc/interval_form.h"
#include "compiler/emit/lower_to_cuda.h"
#include "runtime/embedded_templates.h"
#include "runtime/emulation/emulator.h"

namespace attncc::testing {

Runtime& emulated_test_runtime(const std::string& suite, bool warpgroup_mma) {
  static Runtime runtime([&suite, warpgroup_mma] {
    RuntimeOptions options;
    options.backend = Backend::kCudaEmulated;
    options.cuda_warpgroup_mma = warpgroup_mma;
    options.cache_dir =
        (std::filesystem::temp_directory_path() / ("attncc-" + suite + "-cache")).string();
    return options;
  }());
  return runtime;
}

DeterministicMode::DeterministicMode(bool on) {
  setenv("ATTNCC_DETERMINISTIC", on ? "1" : "0", 1);
}
DeterministicMode::~DeterministicMode() { unsetenv("ATTNCC_DETERMINISTIC"); }

std::unique_ptr<JitModule> compile_emulated_kernels(const Spec& spec,
                                                    const std::vector<TemplatePatch>& patches,
                                                    const CudaLoweringOptions& lowering) {
  JitOptions options;
  for (const EmbeddedFile& file : embedded_templates()) {
    options.headers[std::string(file.path)] = std::string(file.contents);
  }
  options.host_symbols = emulation::host_symbols();
  options.optimization_level = 0;  // as the backend (runtime/emulation/emulated_kernel.cpp)
  for (const TemplatePatch& patch : patches) {
    auto found = options.headers.find(patch.path);
    const size_t at = found == options.headers.end() ? std::string::npos
                                                     : found->second.find(patch.from);
    if (at == std::string::npos) {
      ADD_FAILURE() << patch.path << " no longer contains '" << patch.from
                    << "': update the patch to the kernel's current code";
      return nullptr;
    }
    found->second.replace(at, patch.from.size(), patch.to);
  }
  return compile_cpp(lower_to_cuda(spec, build_interval_form(spec.mask), lowering), options);
}

void run_emulated_plan(const JitModule& module, const Spec& spec, const CudaLaunchPlan& plan,
                       ThreadPool& pool, uint64_t seed) {
  const std::string prefix = cuda_entry_prefix(spec);
  for (const CudaLaunch& launch : plan.launches) {
    emulation::LaunchConfiguration configuration;
    configuration.kernel_name = prefix + "_" + launch.suffix();
    configuration.entry = module.lookup_function<void(const void*)>(configuration.kernel_name);
    configuration.grid = {launch.grid.x, launch.grid.y, launch.grid.z};
    configuration.block = {launch.block.x, launch.block.y, launch.block.z};
    configuration.shared_bytes = launch.shared_bytes;
    configuration.params = &plan.params;
    configuration.seed = seed;
    emulation::run_launch(configuration, pool);
  }
}

void run_emulated_dense_forward(const JitModule& module, const Spec& spec, ThreadPool& pool,
                                uint64_t seed, const bfloat16* q, const bfloat16* k,
                                const bfloat16* v, bfloat16* o, float* lse, int64_t rows,
                                int64_t heads, int64_t dim) {
  const std::vector<int64_t> shape = {1, rows, heads, dim};
  AttentionArguments arguments;
  arguments.q = TensorRef::cpu(const_cast<bfloat16*>(q), ScalarType::kBFloat16, shape);
  arguments.k = TensorRef::cpu(const_cast<bfloat16*>(k), ScalarType::kBFloat16, shape);
  arguments.v = TensorRef::cpu(const_cast<bfloat16*>(v), ScalarType::kBFloat16, shape);
  arguments.o = TensorRef::cpu(o, ScalarType::kBFloat16, shape);
  arguments.lse = TensorRef::cpu(lse, ScalarType::kFloat32, {1, heads, rows});
  CudaLaunchPlan plan = plan_cuda_forward(spec, arguments);
  cuda::DeviceStatus status{};
  bind_workspace(plan, nullptr, nullptr, &status);
  run_emulated_plan(module, spec, plan, pool, seed);
}

void expect_intact_kernels_pass(const Spec& spec, const EmulatedRun& run,
                                const CudaLoweringOptions& lowering) {
  std::unique_ptr<JitModule> module = compile_emulated_kernels(spec, {}, lowering);
  ASSERT_NE(module, nullptr);
  for (uint64_t seed = 1; seed <= 3; ++seed) EXPECT_EQ(run(*module, seed), "") << "seed " << seed;
}

void expect_every_defect_fails(const Spec& spec, const std::vector<NamedPatch>& patches,
                               const EmulatedRun& run, const CudaLoweringOptions& lowering) {
  for (const NamedPatch& patch : patches) {
    SCOPED_TRACE(patch.name);
    std::unique_ptr<JitModule> module = compile_emulated_kernels(spec, {patch.change}, lowering);
    ASSERT_NE(module, nullptr);
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      EXPECT_NE(run(*module, seed), "") << "the defect went unnoticed, seed " << seed;
    }
  }
}

}  // namespace attncc::testing
