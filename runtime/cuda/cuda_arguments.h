// Checks of a call's arguments that only the CUDA kernels need, on top of validate_arguments:
// 16-byte alignment for cp.async and vector stores, and (with a driver) that every pointer is
// really device memory of the right GPU.
#pragma once

#include "attncc/error.h"
#include "attncc/runtime.h"
#include "attncc/spec.h"
#include "templates/cuda/cuda_params.h"

namespace attncc {

/// Every attention tensor the pass reads or writes (q, k, v, o and for the backward d_o, dq, dk,
/// dv) has a 16-byte aligned base pointer and batch, row and head strides that are multiples of
/// 8 elements (16 bytes), so every row the kernels copy with cp.async (or store as 16 bytes) is
/// 16-byte aligned. Throws Error(kInvalidArgument) naming the tensor and the fix. Needs no GPU.
void check_cuda_alignment(const Spec& spec, const AttentionArguments& arguments, bool backward);

/// Every tensor the pass uses (attention tensors, lse, offsets, mask parameters, ALiBi slopes)
/// points into device (or managed) memory of CUDA device `device_index`, as the driver reports
/// it: a host pointer passed as a CUDA tensor is an Error(kInvalidArgument), not a crash in a
/// kernel. Needs the driver (throws its kUnsupported error otherwise).
void check_cuda_pointers(const AttentionArguments& arguments, bool backward, int device_index);

/// The user error for a DeviceStatus whose error flag a kernel set: which document and the
/// offsets it read, and the fix.
Error device_status_error(const cuda::DeviceStatus& status);

}  // namespace attncc
