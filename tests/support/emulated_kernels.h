// The CUDA kernels of a spec compiled for the emulation exactly as the cuda-emulated backend
// compiles them, optionally with text patched into a template (defect-injection tests), and a
// launch plan run on the emulator: for tests that need more control than Kernel::forward gives
// (inconsistent offsets the host would reject, broken kernels).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "attncc/runtime.h"
#include "attncc/spec.h"
#include "compiler/emit/cuda_lowering_options.h"
#include "runtime/cuda/launch_plan.h"
#include "runtime/llvm/clang_jit.h"
#include "runtime/thread_pool.h"
#include "templates/common/numeric.h"

namespace attncc::testing {

/// The cuda-emulated Runtime of a test process, created at the first call (whose `suite` names
/// it and whose `warpgroup_mma` sets RuntimeOptions::cuda_warpgroup_mma; a process uses one
/// suite), with its disk cache in `<temp>/attncc-<suite>-cache`: reruns skip compiling the
/// kernels; results do not depend on it.
Runtime& emulated_test_runtime(const std::string& suite, bool warpgroup_mma = false);

/// Sets ATTNCC_DETERMINISTIC for its lifetime (the emulated backend reads the dQ mode from the
/// environment at each backward call) and unsets it after.
class DeterministicMode {
 public:
  explicit DeterministicMode(bool on);
  ~DeterministicMode();
  DeterministicMode(const DeterministicMode&) = delete;
  DeterministicMode& operator=(const DeterministicMode&) = delete;
};

/// Replaces the first occurrence of `from` by `to` in the embedded template `path`.
struct TemplatePatch {
  std::string path;  ///< e.g. "cuda/attention_forward.cuh"
  std::string from, to;
};

/// lower_to_cuda (with `lowering`) + the in-process Clang with the emulation's options. Returns
/// nullptr and adds a gtest failure when a patch's text is not in its template (the kernel
/// changed: update it).
std::unique_ptr<JitModule> compile_emulated_kernels(const Spec& spec,
                                                    const std::vector<TemplatePatch>& patches = {},
                                                    const CudaLoweringOptions& lowering = {});

/// Runs the launches of `plan` in order on the emulator (workspaces already bound), every launch
/// with `seed`. Throws the emulator's Error.
void run_emulated_plan(const JitModule& module, const Spec& spec, const CudaLaunchPlan& plan,
                       ThreadPool& pool, uint64_t seed);

/// Plans and runs the forward of a dense bf16 `spec` on the emulator over caller-owned buffers:
/// q, k, v and o [1, rows, heads, dim], lse [1, heads, rows]. Throws the emulator's Error.
void run_emulated_dense_forward(const JitModule& module, const Spec& spec, ThreadPool& pool,
                                uint64_t seed, const bfloat16* q, const bfloat16* k,
                                const bfloat16* v, bfloat16* o, float* lse, int64_t rows,
                                int64_t heads, int64_t dim);

/// A defect patched into the templates, named in the failure message.
struct NamedPatch {
  const char* name;
  TemplatePatch change;
};

/// One run of kernels compiled from a (possibly patched) module on the emulator with `seed`:
/// "" when the outputs match the float64 reference, else what went wrong.
using EmulatedRun = std::function<std::string(const JitModule& module, uint64_t seed)>;

/// Compiles the intact kernels of `spec` (with `lowering`) and expects `run` to pass on seeds
/// 1-3.
void expect_intact_kernels_pass(const Spec& spec, const EmulatedRun& run,
                                const CudaLoweringOptions& lowering = {});

/// Compiles the kernels with each patch in turn and expects `run` to fail on seeds 1-3.
void expect_every_defect_fails(const Spec& spec, const std::vector<NamedPatch>& patches,
                               const EmulatedRun& run, const CudaLoweringOptions& lowering = {});

}  // namespace attncc::testing
