// Which forward tile shape of templates/cuda/launch_shape.h a spec gets: at d96/d128 the
// 4-warp shape (FA2's) fits the register file only when the mask adds little arithmetic per
// element, a property of the spec's interval form decided here on the host. The lowering
// (Config), the launch plan (block size) and the tests all ask this one function.
#pragma once

#include "attncc/interval_form.h"
#include "attncc/spec.h"
#include "compiler/emit/cuda_lowering_options.h"
#include "cuda/launch_shape.h"

namespace attncc {

/// True when the forward's per-element mask and score work is light: no ALiBi, an exact form
/// of at most one interval on every row, and bounds that are sums of i, Lq, Lk and constants
/// (no run-time parameters, min/max, division or modulo). Measured with NVRTC 13.0 on sm_80 and
/// sm_90a: every such spec in specs/ compiles to 128 x 64 on 4 warps at d128 within 255
/// registers without spills; each other spec there spills 8-96 B (docs/PERFORMANCE.md).
bool forward_mask_is_light(const Spec& spec, const IntervalForm& form);

/// launch_shape.h's forward tile shape for the spec (builds the interval form: a few
/// microseconds): kWarpgroupForwardShape with the wgmma forward, else forward_tile_shape.
cuda::TileShape cuda_forward_tile_shape(const Spec& spec, const CudaLoweringOptions& options = {});
/// The same with the spec's interval form given (the lowering has it already).
cuda::TileShape cuda_forward_tile_shape(const Spec& spec, const IntervalForm& form,
                                        const CudaLoweringOptions& options);

/// launch_shape.h's backward key/value tiles and dynamic shared memory for the spec: the wgmma
/// kernel's (kWarpgroupBackwardKeyValueShape) when `options` asks for it, else the mma.sync
/// kernel's (backward_key_value_tile_shape).
cuda::TileShape cuda_backward_key_value_tile_shape(const Spec& spec,
                                                   const CudaLoweringOptions& options = {});
unsigned cuda_backward_key_value_shared_bytes(const Spec& spec,
                                              const CudaLoweringOptions& options = {});

/// The same for the deterministic query kernel: kWarpgroupBackwardQueryShape with the wgmma
/// backward, else backward_query_tile_shape.
cuda::TileShape cuda_backward_query_tile_shape(const Spec& spec,
                                               const CudaLoweringOptions& options = {});
unsigned cuda_backward_query_shared_bytes(const Spec& spec,
                                          const CudaLoweringOptions& options = {});

}  // namespace attncc
