// Implementation choices of a CUDA lowering that the spec alone does not fix: what the target
// and the runtime's options allow (lower_to_cuda, the launch plans and the kernels' tile shapes
// all take the same value).
#pragma once

#include "attncc/spec.h"

namespace attncc {

struct CudaLoweringOptions {
  /// The forward through sm_90a warpgroup MMAs (wgmma) with launch_shape.h's
  /// kWarpgroupForwardShape, instead of mma.sync. The CUBIN then runs on sm_90a only.
  bool warpgroup_mma_forward = false;
};

/// The options for `spec` on a target: the wgmma forward when asked for (`warpgroup_mma`), the
/// target has it (sm_90a, or the emulation: `target_has_wgmma`) and the head dims fit
/// (launch_shape.h's forward_warpgroup_mma_fits: 64 and 128); otherwise none.
CudaLoweringOptions cuda_lowering_options(const Spec& spec, bool warpgroup_mma,
                                          bool target_has_wgmma);

}  // namespace attncc
