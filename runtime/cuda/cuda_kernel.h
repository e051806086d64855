// The CUDA backend's kernel: the spec's binary (bundle, disk cache or NVRTC), loaded per device
// with the driver API and launched on the caller's stream in the launch plan's order.
#pragma once

#include <memory>
#include <string>

#include "compiler/emit/cuda_lowering_options.h"
#include "runtime/cache/disk_cache.h"
#include "runtime/cuda/cuda_binary.h"
#include "runtime/cuda/cuda_bundle.h"
#include "runtime/kernel_implementation.h"

namespace attncc {

/// Builds the CUDA kernel of `spec` for device 0's architecture (the binary from `bundle`, else
/// `disk`, else NVRTC); `warpgroup_forward`: the wgmma forward asked for, which it gets where
/// the device is sm_90a and the head dims fit (cuda_lowering_options). Throws
/// Error(kUnsupported) without a driver or device, or without NVRTC when no bundle or cache
/// entry has the kernel.
std::shared_ptr<const KernelImplementation> build_cuda_kernel(
    const Spec& spec, const CudaBundle* bundle, DiskCache* disk, RuntimeCounters& counters,
    WarpgroupForward warpgroup_forward = WarpgroupForward::kOff);

/// The CUDA target of device `ordinal` (cuda_target_for_device of its compute capability).
CudaTarget cuda_device_target(int ordinal);

}  // namespace attncc
