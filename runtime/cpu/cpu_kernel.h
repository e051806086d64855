// The CPU backend's kernel: generated C++ compiled by the in-process Clang, cached on disk as
// an object file, run over the runtime's thread pool.
#pragma once

#include <memory>
#include <string>

#include "runtime/cache/disk_cache.h"
#include "runtime/cpu/cpu_launch.h"
#include "runtime/kernel_implementation.h"
#include "runtime/thread_pool.h"

namespace attncc {

/// Everything about the CPU backend that a disk-cache key must cover besides the spec:
/// the template version, the embedded templates' hash, the compiler and the host CPU.
std::string cpu_cache_key(const Spec& spec, const std::string& source);

/// Builds (or loads from `disk`) the CPU kernel of `spec`. Throws Error; with
/// ATTNCC_ASSERT_NO_COMPILE=1 a needed compile throws instead of running.
std::shared_ptr<const KernelImplementation> build_cpu_kernel(const Spec& spec, DiskCache* disk,
                                                             ThreadPool& pool,
                                                             CpuSchedules schedules,
                                                             RuntimeCounters& counters);

}  // namespace attncc
