// The CUDA kernels of a spec compiled for the emulation exactly as the cuda-emulated backend
// compiles them, optionally with text patched into a template (defect-injection tests), and a
// launch plan run on the emulator: for tests that need more control than Kernel::forward gives
// (inconsistent offsets the host would reject, broken kernels).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "attncc/spec.h"
#include "runtime/cuda/launch_plan.h"
#include "runtime/llvm/clang_jit.h"
#include "runtime/thread_pool.h"

namespace attncc::testing {

/// Replaces the first occurrence of `from` by `to` in the embedded template `path`.
struct TemplatePatch {
  std::string path;  ///< e.g. "cuda/attention_forward.cuh"
  std::string from, to;
};

/// lower_to_cuda + the in-process Clang with the emulation's options. Returns nullptr and adds
/// a gtest failure when a patch's text is not in its template (the kernel changed: update it).
std::unique_ptr<JitModule> compile_emulated_kernels(const Spec& spec,
                                                    const std::vector<TemplatePatch>& patches = {});

/// Runs the launches of `plan` in order on the emulator (workspaces already bound), every launch
/// with `seed`. Throws the emulator's Error.
void run_emulated_plan(const JitModule& module, const Spec& spec, const CudaLaunchPlan& plan,
                       ThreadPool& pool, uint64_t seed);

}  // namespace attncc::testing
