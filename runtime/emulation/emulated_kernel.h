// The cuda-emulated backend's kernel: the generated CUDA translation unit (lower_to_cuda)
// compiled as host C++ by the in-process Clang against templates/emulation/, cached on disk like
// a CPU kernel, and run launch by launch (runtime/cuda/launch_plan.h) on the SIMT emulator with
// host buffers.
#pragma once

#include <memory>

#include "compiler/emit/cuda_lowering_options.h"
#include "runtime/cache/disk_cache.h"
#include "runtime/kernel_implementation.h"
#include "runtime/thread_pool.h"

namespace attncc {

/// Builds (or loads from `disk`) the emulated CUDA kernels of `spec`; `warpgroup_forward`: the
/// sm_90a wgmma forward asked for, which it gets where the head dims fit
/// (cuda_lowering_options). Throws Error (kUnsupported for specs the CUDA backend cannot run);
/// with ATTNCC_ASSERT_NO_COMPILE=1 a needed compile throws instead of running.
std::shared_ptr<const KernelImplementation> build_emulated_cuda_kernel(
    const Spec& spec, DiskCache* disk, ThreadPool& pool, RuntimeCounters& counters,
    WarpgroupForward warpgroup_forward = WarpgroupForward::kOff);

}  // namespace attncc
