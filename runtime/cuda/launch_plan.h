// Host side of a CUDA call, shared by the real CUDA backend (runtime/cuda/) and the emulated one
// (runtime/emulation/): from a spec and a call's arguments, the kernel parameter block and the
// ordered list of kernel launches (grid, block, dynamic shared memory from
// templates/cuda/launch_shape.h), plus the workspaces the executor allocates. Reads tensor
// shapes and pointers only, never the contents of offset arrays (DESIGN §5 "sync-free launches").
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "attncc/runtime.h"
#include "attncc/spec.h"
#include "compiler/emit/cuda_lowering_options.h"
#include "templates/cuda/cuda_params.h"
#include "templates/cuda/launch_shape.h"

namespace attncc {

struct LaunchDimensions {
  unsigned x = 1, y = 1, z = 1;
};

/// One kernel launch: the entry point is "<cuda_entry_prefix(spec)>_<kernel_suffix(kind)>".
struct CudaLaunch {
  cuda::KernelKind kind = cuda::kKernelForward;
  LaunchDimensions grid;
  LaunchDimensions block;
  unsigned shared_bytes = 0;  ///< dynamic shared memory

  const char* suffix() const { return cuda::kernel_suffix(kind); }
};

/// Device memory the executor allocates for one call (0 bytes = not needed).
struct CudaWorkspaceSizes {
  size_t delta_bytes = 0;           ///< backward: float [batch, heads_q, query_rows], like LSE
  size_t dq_accumulator_bytes = 0;  ///< backward: float [batch * query_rows, heads_q, head_dim]
  size_t status_bytes = sizeof(cuda::DeviceStatus);  ///< zeroed before the first launch
};

/// What one forward or backward call runs. `params.attention.delta`, `params.dq_accumulator` and
/// `params.status` stay null until bind_workspace.
struct CudaLaunchPlan {
  cuda::CudaAttentionParams params{};
  std::vector<CudaLaunch> launches;  ///< in order; each waits for the previous one (one stream)
  CudaWorkspaceSizes workspace;
};

/// Forward: fill_padding (O = 0, LSE = -inf outside every document), then forward. `arguments`
/// must have passed validation for the spec (shapes, dtypes); offsets are passed through as
/// device pointers. Throws Error(kUnsupported) for an fp32 spec, more than
/// cuda::kMaxMaskParameters mask parameters or a grid beyond CUDA's limits, and
/// Error(kInvalidArgument) for a non-contiguous offset or parameter array.
CudaLaunchPlan plan_cuda_forward(const Spec& spec, const AttentionArguments& arguments);

/// The same with the spec's forward tile shape given: cuda_forward_tile_shape(spec)
/// (compiler/emit/forward_tile_choice.h) builds the interval form, a few microseconds a kernel
/// spends once at creation rather than at every call.
CudaLaunchPlan plan_cuda_forward(const Spec& spec, const cuda::TileShape& forward_shape,
                                 const AttentionArguments& arguments);

/// Backward: fill_padding of dQ, dK, dV outside every document (skipped with accumulate),
/// backward_preprocess (delta, zeroed dQ accumulator), backward_key_value, backward_query
/// (deterministic only: dQ without atomics), backward_convert_query. `lowering` must be the one
/// the kernels were compiled with (the wgmma key/value and query kernels have their own tiles).
/// Throws like the forward, and Error(kInvalidArgument) for a spec compiled without a backward.
CudaLaunchPlan plan_cuda_backward(const Spec& spec, const AttentionArguments& arguments,
                                  bool deterministic, const CudaLoweringOptions& lowering = {});

/// Stores the workspace pointers (sizes per plan.workspace) into the parameter block.
void bind_workspace(CudaLaunchPlan& plan, float* delta, float* dq_accumulator,
                    cuda::DeviceStatus* status);

/// Zeroed host memory for a plan's delta and dQ accumulator, 256-byte aligned as device
/// allocations are (the element-wise kernels access the accumulator 16 bytes at a time): the
/// cuda-emulated backend's "device memory", and the tests'. A pointer is null for 0 bytes.
class HostWorkspaces {
 public:
  explicit HostWorkspaces(const CudaWorkspaceSizes& sizes);
  float* delta() const { return delta_.get(); }
  float* dq_accumulator() const { return dq_accumulator_.get(); }

  struct Release {  // frees what the constructor allocated
    void operator()(float* memory) const { ::operator delete[](memory, std::align_val_t{256}); }
  };

 private:
  std::unique_ptr<float[], Release> delta_;
  std::unique_ptr<float[], Release> dq_accumulator_;
};

/// "forward grid (2, 3, 8) block (128, 1, 1) shared 49152 B", for logs and error messages.
std::string describe(const CudaLaunch& launch);

}  // namespace attncc
