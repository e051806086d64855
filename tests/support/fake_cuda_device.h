// The CUDA backend on tests' fake driver (tests/fake_driver/): when ATTNCC_CUDA_DRIVER_LIBRARY
// names it, the Runtime's Backend::kCuda runs its real host path (NVRTC, module load, shared
// memory opt-in, stream-ordered workspaces, launches, the device-status ring) and the fake driver
// runs each launch of the spec's kernels on the SIMT emulator, compiled as the cuda-emulated
// backend compiles them. With a real driver these helpers do nothing.
#pragma once

#include "attncc/spec.h"
#include "compiler/emit/cuda_lowering_options.h"
#include "fake_driver/fake_cuda_driver.h"

namespace attncc::testing {

/// Whether attncc's driver binding uses the fake driver (ATTNCC_CUDA_DRIVER_LIBRARY is set and
/// the library it names is the fake one).
bool fake_cuda_driver_in_use();

/// With the fake driver: compiles `spec`'s CUDA kernels for the emulator (lowered with
/// `lowering`, which must be what the Runtime compiled for the device) and lets the fake driver
/// run launches of their entry points (once per spec). Nothing with a real driver.
void emulate_cuda_kernels_of(const Spec& spec, const CudaLoweringOptions& lowering = {});

/// The fake driver's counters (fake_cuda_driver.h); a test failure without the fake driver.
AttnccFakeCudaStats fake_cuda_stats();

/// A stream of the fake driver other than the legacy default one.
void* fake_cuda_stream();

/// The fake driver's next launch faults instead of running; fake_cuda_recover() clears the lost
/// context again (fake_cuda_driver.h).
void fake_cuda_fail_next_launch();
void fake_cuda_recover();

}  // namespace attncc::testing
