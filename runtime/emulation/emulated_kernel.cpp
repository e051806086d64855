// The cuda-emulated backend (see emulated_kernel.h): lower_to_cuda -> Clang (host C++, the
// emulation header instead of PTX) -> object file (disk cache) -> ORC -> one entry point per
// KernelKind, run over the emulator in the launch plan's order.
#include "runtime/emulation/emulated_kernel.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "attncc/interval_form.h"
#include "compiler/emit/forward_tile_choice.h"
#include "compiler/emit/lower_to_cuda.h"
#include "runtime/argument_validation.h"
#include "runtime/cpu/cpu_kernel.h"
#include "runtime/cuda/cuda_arguments.h"
#include "runtime/cuda/launch_plan.h"
#include "runtime/embedded_templates.h"
#include "runtime/emulation/emulator.h"
#include "runtime/environment.h"
#include "runtime/llvm/clang_jit.h"

namespace attncc {
namespace {

JitOptions emulation_jit_options() {
  JitOptions options;
  options.file_name = "generated_cuda.cpp";
  for (const EmbeddedFile& file : embedded_templates()) {
    options.headers[std::string(file.path)] = std::string(file.contents);
  }
  options.host_symbols = emulation::host_symbols();
  // Run time is the emulator's (fiber switches, collectives), not the kernels' own arithmetic:
  // for causal d128 bf16, -O0 compiles in 0.39 s against 2.5 s at -O1 (10 s at -O3), and runs a
  // 256-token forward in 400 ms against 300 ms (clang 19, the shared 2-core machine).
  options.optimization_level = 0;
  return options;
}

// The CPU key covers spec, source, templates, compiler and host; the prefix keeps the two
// backends' entries apart and names the optimisation level, which the CPU key leaves out.
std::string emulation_cache_key(const Spec& spec, const std::string& source,
                                const JitOptions& options) {
  return "cuda-emulated -O" + std::to_string(options.optimization_level) + " " +
         cpu_cache_key(spec, source);
}

// As the CUDA backend: the spec's "deterministic", or $ATTNCC_DETERMINISTIC=1, computes dQ in
// its own pass instead of by fp32 atomics.
bool deterministic_backward(const Spec& spec) {
  return spec.deterministic || environment_flag("ATTNCC_DETERMINISTIC");
}

class EmulatedCudaKernel final : public KernelImplementation {
 public:
  EmulatedCudaKernel(const Spec& spec, std::unique_ptr<JitModule> module,
                     const CudaLoweringOptions& lowering, ThreadPool& pool,
                     RuntimeCounters& counters)
      : KernelImplementation(spec, Backend::kCudaEmulated, counters),
        module_(std::move(module)),
        pool_(pool),
        prefix_(cuda_entry_prefix(spec_)),
        lowering_(lowering),
        forward_shape_(cuda_forward_tile_shape(spec_, lowering)) {
    for (int kind = 0; kind < cuda::kKernelCount; ++kind) {
      entries_[kind] = module_->lookup_function<void(const void*)>(
          prefix_ + "_" + cuda::kernel_suffix(static_cast<cuda::KernelKind>(kind)));
    }
  }

  // Host tensors, validated as for the CPU (offsets included: reading them is free here), plus
  // the CUDA kernels' own alignment needs, so a call that would fail on a GPU fails here too.
  void forward(const AttentionArguments& arguments, void*) const override {
    validate_arguments(spec_, arguments, Pass::kForward, DeviceKind::kCpu);
    check_cuda_alignment(spec_, arguments, /*backward=*/false);
    run(plan_cuda_forward(spec_, forward_shape_, arguments));
    counters_.forward_launches.fetch_add(1);
  }

  void backward(const AttentionArguments& arguments, void*) const override {
    validate_arguments(spec_, arguments, Pass::kBackward, DeviceKind::kCpu);
    check_cuda_alignment(spec_, arguments, /*backward=*/true);
    run(plan_cuda_backward(spec_, arguments, deterministic_backward(spec_), lowering_));
    counters_.backward_launches.fetch_add(1);
  }

 private:
  // The executor: host "device memory" for the workspaces, then every launch in order.
  void run(CudaLaunchPlan plan) const {
    const HostWorkspaces workspaces(plan.workspace);
    cuda::DeviceStatus status{};
    bind_workspace(plan, workspaces.delta(), workspaces.dq_accumulator(), &status);
    for (size_t index = 0; index < plan.launches.size(); ++index) {
      const CudaLaunch& launch = plan.launches[index];
      emulation::LaunchConfiguration configuration;
      configuration.kernel_name = prefix_ + "_" + launch.suffix();
      configuration.entry = entries_[launch.kind];
      configuration.grid = {launch.grid.x, launch.grid.y, launch.grid.z};
      configuration.block = {launch.block.x, launch.block.y, launch.block.z};
      configuration.shared_bytes = launch.shared_bytes;
      configuration.params = &plan.params;
      configuration.seed = emulation::launch_seed(index);
      emulation::run_launch(configuration, pool_);
    }
    if (status.error != 0) throw device_status_error(status);
  }

  std::unique_ptr<JitModule> module_;
  ThreadPool& pool_;
  std::string prefix_;
  CudaLoweringOptions lowering_;  // the backward's key/value tiles follow it
  cuda::TileShape forward_shape_;
  emulation::EntryPoint entries_[cuda::kKernelCount] = {};
};

}  // namespace

std::shared_ptr<const KernelImplementation> build_emulated_cuda_kernel(
    const Spec& spec, DiskCache* disk, ThreadPool& pool, RuntimeCounters& counters,
    WarpgroupForward warpgroup_forward) {
  const CudaLoweringOptions lowering =
      cuda_lowering_options(spec, warpgroup_forward, /*target_has_wgmma=*/true);
  const std::string source = lower_to_cuda(spec, build_interval_form(spec.mask), lowering);
  const JitOptions options = emulation_jit_options();
  const std::string key = emulation_cache_key(spec, source, options);
  if (disk != nullptr) {
    if (std::optional<std::string> object = disk->load(key)) {
      try {
        auto kernel = std::make_shared<EmulatedCudaKernel>(spec, load_object(*object, options),
                                                           lowering, pool, counters);
        counters.disk_hits.fetch_add(1);
        return kernel;
      } catch (const Error& error) {
        std::fprintf(stderr,
                     "attncc: warning: cached emulated CUDA kernel for spec %s did not load (%s); "
                     "rebuilding\n",
                     spec_hash(spec).c_str(), error.what());
      }
    }
  }
  if (no_compile_asserted()) {
    throw Error(ErrorCode::kInternal,
                "attncc: ATTNCC_ASSERT_NO_COMPILE=1 but the emulated CUDA kernel of spec " +
                    spec_hash(spec) + " is not in the cache (" +
                    (disk ? disk->directory() : std::string("no disk cache")) +
                    ") and would be compiled");
  }
  std::string object = compile_cpp_to_object(source, options);
  counters.compiles.fetch_add(1);
  if (disk != nullptr) disk->store(key, object);
  return std::make_shared<EmulatedCudaKernel>(spec, load_object(object, options), lowering, pool,
                                              counters);
}

}  // namespace attncc
