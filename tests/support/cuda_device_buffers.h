// Test support for the CUDA backend: runs a pass on host buffers by copying every given tensor
// to device memory (through attncc's own driver API binding), calling the kernel on the default
// stream and copying every tensor back, so the conformance checks read the device's results.
#pragma once

#include <string>

#include "attncc/runtime.h"

namespace attncc::testing {

/// Why CUDA tests cannot run here ("" when a device is usable): no libcuda, cuInit failure or no
/// device, in the driver binding's words.
std::string cuda_unavailable_reason();

/// A PassRunner (backend_cases.h) for Backend::kCuda on device 0: uploads, runs, synchronises
/// (so device errors surface in this call), downloads. Throws what the kernel throws.
void run_pass_on_cuda_device(const Kernel& kernel, const AttentionArguments& host, bool backward);

}  // namespace attncc::testing
