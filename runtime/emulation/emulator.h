// The SIMT emulator behind the cuda-emulated backend: runs a CUDA kernel compiled as host C++
// (templates/emulation/cuda_emulation.h) block by block. A block's threads are cooperative
// fibers on one OS thread, switched at every barrier and warp collective, in an order shuffled
// from a seed; blocks spread over a ThreadPool. Warp collectives are computed from all lanes'
// operands per the PTX fragment layouts; shared memory accesses are bounds- and
// alignment-checked; cp.async data lands only at its wait (NaN until then); divergent
// collectives and barriers are errors, never hangs. See docs/EMULATION.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "runtime/thread_pool.h"

namespace attncc::emulation {

/// An entry point of a kernel compiled for the emulation: run once per emulated thread.
using EntryPoint = void (*)(const void* params);

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

struct LaunchConfiguration {
  std::string kernel_name;  ///< entry-point name, for error messages
  EntryPoint entry = nullptr;
  Dim3 grid;
  Dim3 block;
  unsigned shared_bytes = 0;     ///< dynamic shared memory per block
  const void* params = nullptr;  ///< what each thread's entry(params) receives
  uint64_t seed = 0;             ///< thread-order seed (see launch_seed)
};

/// Largest dynamic shared memory of a block (sm_90's 227 KB opt-in), threads per block, and
/// grid extents in y and z, as on the GPU.
constexpr unsigned kMaxSharedBytes = 227u * 1024u;
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxGridYZ = 65535;

/// Runs every block of the launch and returns when all finished. A kernel bug the emulation
/// detects (shared memory out of bounds or misaligned, divergent warp collective, barrier not
/// reached by every thread, misaligned cp.async source) stops the launch and throws
/// Error(kInternal) naming the kernel, the block, the thread, what happened and the seed.
/// Throws Error(kInvalidArgument) for a configuration the GPU would refuse.
void run_launch(const LaunchConfiguration& launch, ThreadPool& pool);

/// The thread-order seed of the launch_index-th launch of a call: $ATTNCC_EMULATION_SEED when
/// set (every launch then uses it, so a printed seed replays its schedule), else a fixed value
/// per index.
uint64_t launch_seed(uint64_t launch_index);

/// The emulator's C interface (templates/emulation/emulation_interface.h) by name, for
/// JitOptions::host_symbols of a kernel compiled with the in-process Clang.
std::map<std::string, void*> host_symbols();

}  // namespace attncc::emulation
