// Lowering to the CUDA backend (see lower_to_cuda.h): the spec becomes constants (Config, with
// the tile shapes of templates/cuda/launch_shape.h) and the Mask struct shared with the CPU
// lowering; templates/cuda/ holds all the logic.
#include "compiler/emit/lower_to_cuda.h"

#include "attncc/error.h"
#include "compiler/emit/forward_tile_choice.h"
#include "compiler/emit/mask_struct.h"
#include "cuda/cuda_params.h"
#include "cuda/launch_shape.h"

namespace attncc {
namespace {

// Throws kUnsupported for what the CUDA kernels cannot run.
void check_cuda_support(const Spec& spec) {
  if (spec.dtype == DType::kFloat32) {
    throw user_error(ErrorCode::kUnsupported, "dtype",
                     "fp32 is not supported by the CUDA backend (its kernels use bf16/fp16 "
                     "tensor-core instructions)",
                     "use dtype bf16 or fp16, or run the fp32 spec on the CPU backend");
  }
  for (int dim : {spec.head_dim, spec.head_dim_v}) {
    if (dim != 32 && dim != 64 && dim != 96 && dim != 128 && dim != 256) {
      throw user_error(ErrorCode::kUnsupported, dim == spec.head_dim ? "head_dim" : "head_dim_v",
                       "is " + std::to_string(dim) +
                           "; the CUDA backend supports 32, 64, 96, 128 and 256",
                       "pad the head dimension up to the next supported size");
    }
  }
  if (spec.parameters.size() > static_cast<size_t>(cuda::kMaxMaskParameters)) {
    throw user_error(ErrorCode::kUnsupported, "mask",
                     "has " + std::to_string(spec.parameters.size()) +
                         " run-time parameters; the CUDA backend supports at most " +
                         std::to_string(cuda::kMaxMaskParameters),
                     "bake constant parameters into the mask text as integer literals");
  }
}

std::string constant(const char* type, const char* name, long long value) {
  return std::string("  static constexpr ") + type + " " + name + " = " + std::to_string(value) +
         ";\n";
}

std::string constant(const char* name, bool value) {
  return std::string("  static constexpr bool ") + name + " = " + (value ? "true" : "false") +
         ";\n";
}

}  // namespace

std::string cuda_entry_prefix(const Spec& spec) { return "attncc_" + spec_hash(spec); }

std::string lower_to_cuda(const Spec& spec, const IntervalForm& form,
                          const CudaLoweringOptions& options) {
  check_cuda_support(spec);
  const cuda::TileShape forward = cuda_forward_tile_shape(spec, form, options);
  const int forward_blocks_per_sm =
      options.warpgroup_mma_forward
          ? cuda::warpgroup_forward_blocks_per_sm(forward_mask_is_light(spec, form),
                                                  spec.has_score_mods(), spec.head_dim_v,
                                                  forward.key_stages)
          : 1;
  const cuda::TileShape key_value = cuda_backward_key_value_tile_shape(spec, options);
  const cuda::TileShape query = cuda_backward_query_tile_shape(spec, options);
  std::string text;
  text += generated_banner(spec, form, "CUDA");
  text += "#include \"cuda/attention_cuda.h\"\n\nnamespace attncc_generated {\n";
  text += "using attncc::DocumentView;\nusing attncc::kernel_int;\n\n";
  text += "struct Config {\n";
  text += "  using Element = " + element_type_name(spec.dtype) + ";\n";
  text += constant("int", "kHeadDim", spec.head_dim);
  text += constant("int", "kHeadDimV", spec.head_dim_v);
  text += constant("int", "kForwardTileQ", forward.tile_q);
  text += constant("int", "kForwardTileK", forward.tile_k);
  text += constant("int", "kForwardWarps", forward.warps);
  text += constant("int", "kForwardThreads", 32 * forward.warps);
  text += constant("kForwardWgmma", options.warpgroup_mma_forward);
  text += constant("int", "kForwardKeyStages", forward.key_stages);
  text += constant("int", "kForwardBlocksPerSm", forward_blocks_per_sm);
  text += constant("int", "kBackwardKeyValueTileQ", key_value.tile_q);
  text += constant("int", "kBackwardKeyValueTileK", key_value.tile_k);
  text += constant("kBackwardWgmma", options.warpgroup_mma_backward);
  text += constant("int", "kBackwardQueryTileQ", query.tile_q);
  text += constant("int", "kBackwardQueryTileK", query.tile_k);
  text += constant("int", "kBackwardWarps", key_value.warps);  // both kernels (launch_shape.h)
  text += constant("int", "kBackwardThreads", 32 * key_value.warps);
  text += constant("kSoftcap", spec.softcap > 0);
  text += constant("kAlibi", spec.alibi);
  text += constant("int", "kParameterCount", static_cast<long long>(spec.parameters.size()));
  text += "};\n\n";
  text += emit_mask_struct(spec, form, /*host_device=*/true);
  text += "\n}  // namespace attncc_generated\n\n";
  text += "ATTNCC_CUDA_ENTRY_POINTS(" + cuda_entry_prefix(spec) +
          ", attncc_generated::Config, attncc_generated::Mask)\n";
  return text;
}

}  // namespace attncc
