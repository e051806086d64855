// Implementation choices of a CUDA lowering that the spec alone does not fix: what the target
// and the runtime's options allow (lower_to_cuda, the launch plans and the kernels' tile shapes
// all take the same value).
#pragma once

#include "attncc/spec.h"

namespace attncc {

/// The forward a caller asks for where the target has warpgroup MMAs (sm_90a, the emulation).
enum class WarpgroupForward {
  kOff,         ///< mma.sync, as on every other target
  kOverlapped,  ///< wgmma, a tile's softmax overlapping the previous tile's P V (two K/V stages)
  kSerial,      ///< wgmma, each product waited for at once (one K/V stage): for comparison
};

struct CudaLoweringOptions {
  /// The forward through sm_90a warpgroup MMAs (wgmma) with launch_shape.h's
  /// kWarpgroupForwardShape, instead of mma.sync. The CUBIN then runs on sm_90a only.
  bool warpgroup_mma_forward = false;
  /// With warpgroup_mma_forward: the overlapped schedule (kWarpgroupForwardShape, two K/V
  /// stages), else the serial one (kWarpgroupSerialForwardShape).
  bool warpgroup_overlap = false;
  /// The backward key/value kernel through warpgroup MMAs (launch_shape.h's
  /// kWarpgroupBackwardKeyValueShape): asked for with the wgmma forward, either schedule.
  bool warpgroup_mma_backward = false;
};

/// The options for `spec` on a target: the wgmma forward and backward when asked for
/// (`request`), the target has them (sm_90a, or the emulation: `target_has_wgmma`) and the head
/// dims fit (launch_shape.h's forward_warpgroup_mma_fits, backward_warpgroup_mma_fits: 64 and
/// 128, the backward with softcap at 64 only); otherwise none.
CudaLoweringOptions cuda_lowering_options(const Spec& spec, WarpgroupForward request,
                                          bool target_has_wgmma);

}  // namespace attncc
