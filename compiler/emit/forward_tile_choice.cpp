// The forward's mask cost class (see forward_tile_choice.h).
#include "compiler/emit/forward_tile_choice.h"

namespace attncc {
namespace {

// A bound the kernel evaluates with a few integer adds: i, Lq, Lk, constants, their sums and
// differences, and multiples by a constant.
bool is_plain_affine(const TermPtr& term) {
  if (term == nullptr) return true;  // unbounded: nothing to evaluate
  switch (term->kind) {
    case TermKind::kConstant:
    case TermKind::kQueryIndex:
    case TermKind::kQueryLength:
    case TermKind::kKeyLength: return true;
    case TermKind::kNegate:
    case TermKind::kAdd:
    case TermKind::kSubtract:
      for (const TermPtr& operand : term->operands) {
        if (!is_plain_affine(operand)) return false;
      }
      return true;
    case TermKind::kMultiply:
      return (term->operands[0]->kind == TermKind::kConstant &&
              is_plain_affine(term->operands[1])) ||
             (term->operands[1]->kind == TermKind::kConstant &&
              is_plain_affine(term->operands[0]));
    default: return false;  // j, parameters, division, modulo, min, max
  }
}

}  // namespace

bool forward_mask_is_light(const Spec& spec, const IntervalForm& form) {
  if (spec.alibi || !form.exact() || form.intervals.size() > 1) return false;
  for (const Interval& interval : form.intervals) {
    if (interval.row_condition != nullptr || !is_plain_affine(interval.lower) ||
        !is_plain_affine(interval.upper)) {
      return false;
    }
  }
  return true;
}

CudaLoweringOptions cuda_lowering_options(const Spec& spec, WarpgroupForward request,
                                          bool target_has_wgmma) {
  CudaLoweringOptions options;
  options.warpgroup_mma_forward = request != WarpgroupForward::kOff && target_has_wgmma &&
                                  cuda::forward_warpgroup_mma_fits(spec.head_dim, spec.head_dim_v);
  options.warpgroup_overlap =
      options.warpgroup_mma_forward && request == WarpgroupForward::kOverlapped;
  options.warpgroup_mma_backward =
      request != WarpgroupForward::kOff && target_has_wgmma &&
      cuda::backward_warpgroup_mma_fits(spec.head_dim, spec.head_dim_v, spec.softcap > 0);
  return options;
}

cuda::TileShape cuda_backward_key_value_tile_shape(const Spec& spec,
                                                   const CudaLoweringOptions& options) {
  if (options.warpgroup_mma_backward) return cuda::kWarpgroupBackwardKeyValueShape;
  return cuda::backward_key_value_tile_shape(spec.head_dim, spec.head_dim_v,
                                             spec.has_score_mods());
}

unsigned cuda_backward_key_value_shared_bytes(const Spec& spec,
                                              const CudaLoweringOptions& options) {
  if (options.warpgroup_mma_backward) {
    return cuda::warpgroup_backward_key_value_shared_bytes(spec.head_dim, spec.head_dim_v);
  }
  return cuda::backward_key_value_shared_bytes(spec.head_dim, spec.head_dim_v,
                                               spec.has_score_mods());
}

cuda::TileShape cuda_backward_query_tile_shape(const Spec& spec,
                                               const CudaLoweringOptions& options) {
  if (options.warpgroup_mma_backward) return cuda::kWarpgroupBackwardQueryShape;
  return cuda::backward_query_tile_shape(spec.head_dim, spec.head_dim_v);
}

unsigned cuda_backward_query_shared_bytes(const Spec& spec, const CudaLoweringOptions& options) {
  if (options.warpgroup_mma_backward) {
    return cuda::warpgroup_backward_query_shared_bytes(spec.head_dim, spec.head_dim_v);
  }
  return cuda::backward_query_shared_bytes(spec.head_dim, spec.head_dim_v);
}

cuda::TileShape cuda_forward_tile_shape(const Spec& spec, const IntervalForm& form,
                                        const CudaLoweringOptions& options) {
  if (options.warpgroup_mma_forward) {
    return options.warpgroup_overlap ? cuda::kWarpgroupForwardShape
                                     : cuda::kWarpgroupSerialForwardShape;
  }
  return cuda::forward_tile_shape(spec.head_dim, spec.head_dim_v, forward_mask_is_light(spec, form));
}

cuda::TileShape cuda_forward_tile_shape(const Spec& spec, const CudaLoweringOptions& options) {
  return cuda_forward_tile_shape(spec, build_interval_form(spec.mask), options);
}

}  // namespace attncc
