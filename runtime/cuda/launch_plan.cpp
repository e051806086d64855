// Kernel parameter block and launch list of one CUDA call (see launch_plan.h). Grids are sized
// from host-side upper bounds (tensor extents), so blocks past a document's end exit at once.
#include "runtime/cuda/launch_plan.h"

#include <algorithm>
#include <cstdint>

#include "attncc/error.h"
#include "compiler/emit/forward_tile_choice.h"
#include "runtime/argument_validation.h"

namespace attncc {
namespace {

// CUDA's grid limits: x up to 2^31 - 1, y and z up to 65535.
constexpr int64_t kMaxGridX = 2147483647;
constexpr int64_t kMaxGridYZ = 65535;

int64_t ceil_divide(int64_t a, int64_t b) { return (a + b - 1) / b; }

LaunchDimensions grid_of(const char* kernel, int64_t x, int64_t y, int64_t z) {
  if (x > kMaxGridX || y > kMaxGridYZ || z > kMaxGridYZ) {
    throw user_error(ErrorCode::kUnsupported, std::string("cuda launch of ") + kernel,
                     "grid (" + std::to_string(x) + ", " + std::to_string(y) + ", " +
                         std::to_string(z) + ") exceeds CUDA's limits (2^31-1, 65535, 65535)",
                     "split the call into fewer documents or heads per call");
  }
  return {static_cast<unsigned>(x), static_cast<unsigned>(y), static_cast<unsigned>(z)};
}

// An int32/int64 array the kernels index directly: it must be contiguous.
cuda::OffsetArray offset_array(const char* name, const TensorRef& tensor) {
  if (!tensor.given()) return {nullptr, 4};
  if (tensor.dtype != ScalarType::kInt32 && tensor.dtype != ScalarType::kInt64) {
    throw user_error(ErrorCode::kInvalidArgument, name,
                     "dtype is " + std::string(scalar_type_name(tensor.dtype)) +
                         "; expected int32 (or int64)");
  }
  if (tensor.effective_strides() !=
      TensorRef::cpu(nullptr, tensor.dtype, tensor.shape).effective_strides()) {
    throw user_error(ErrorCode::kInvalidArgument, name,
                     "must be contiguous for the CUDA kernels, which index it directly",
                     "pass a contiguous array (e.g. .contiguous())");
  }
  return {tensor.data, static_cast<int>(scalar_type_size(tensor.dtype))};
}

void check_cuda_spec(const Spec& spec) {
  if (spec.dtype == DType::kFloat32) {
    throw user_error(ErrorCode::kUnsupported, "cuda backend",
                     "dtype fp32 has no CUDA kernels (tensor cores take fp16 or bf16)",
                     "use dtype fp16 or bf16, or the cpu backend");
  }
  if (spec.parameters.size() > static_cast<size_t>(cuda::kMaxMaskParameters)) {
    throw user_error(ErrorCode::kUnsupported, "cuda backend",
                     "the mask has " + std::to_string(spec.parameters.size()) +
                         " run-time parameters; the CUDA kernels take at most " +
                         std::to_string(cuda::kMaxMaskParameters),
                     "bake some parameters into the mask as literals");
  }
}

// Everything both passes share: tensors, layout, offsets, mask parameters.
CudaLaunchPlan common_plan(const Spec& spec, const AttentionArguments& arguments) {
  check_cuda_spec(spec);
  CudaLaunchPlan plan;
  cuda::CudaAttentionParams& params = plan.params;
  AttentionParams& attention = params.attention;
  const Layout layout = spec.layout;
  attention.q = tensor_address(arguments.q, layout);
  attention.k = tensor_address(arguments.k, layout);
  attention.v = tensor_address(arguments.v, layout);
  attention.o = tensor_address(arguments.o, layout);
  attention.lse = static_cast<float*>(arguments.lse.data);
  const size_t head_axis = layout == Layout::kVarlen ? 1 : 2;
  attention.heads_q = static_cast<int>(arguments.q.shape[head_axis]);
  attention.heads_kv = static_cast<int>(arguments.k.shape[head_axis]);
  attention.scale = static_cast<float>(spec.scale());
  attention.softcap = static_cast<float>(spec.softcap);
  attention.alibi_slopes = static_cast<const float*>(arguments.alibi_slopes.data);
  attention.accumulate = arguments.accumulate ? 1 : 0;

  switch (layout) {
    case Layout::kDense:
      params.layout = cuda::kLayoutDense;
      params.batch = arguments.q.shape[0];
      params.documents = params.batch;
      attention.query_rows = arguments.q.shape[1];
      params.key_rows = arguments.k.shape[1];
      params.seqlens_q = offset_array("seqlens_q", arguments.seqlens_q);
      params.seqlens_k = offset_array("seqlens_k", arguments.seqlens_k);
      break;
    case Layout::kVarlen:
      params.layout = cuda::kLayoutVarlen;
      params.batch = 1;
      params.documents = arguments.cu_seqlens_q.shape.empty() ? 0 : arguments.cu_seqlens_q.shape[0] - 1;
      attention.query_rows = arguments.q.shape[0];
      params.key_rows = arguments.k.shape[0];
      params.cu_seqlens_q = offset_array("cu_seqlens_q", arguments.cu_seqlens_q);
      params.cu_seqlens_k = offset_array("cu_seqlens_k", arguments.cu_seqlens_k);
      params.cu_seqlens_q_padded = offset_array("cu_seqlens_q_padded", arguments.cu_seqlens_q_padded);
      params.cu_seqlens_k_padded = offset_array("cu_seqlens_k_padded", arguments.cu_seqlens_k_padded);
      break;
    case Layout::kDocPacked:
      params.layout = cuda::kLayoutDocPacked;
      params.batch = arguments.q.shape[0];
      params.max_documents = arguments.cu_seq.shape.size() == 2 ? arguments.cu_seq.shape[1] - 1 : 0;
      params.documents = params.batch * params.max_documents;
      attention.query_rows = arguments.q.shape[1];
      params.key_rows = arguments.k.shape[1];
      params.cu_seq = offset_array("cu_seq", arguments.cu_seq);
      break;
  }
  // The caller's bounds of a document's lengths size the grids (0: the sequence extents, which
  // bound every document). The kernels loop over tiles past a bound that was too small.
  auto bound = [](int64_t hint, int64_t rows) { return hint > 0 && hint < rows ? hint : rows; };
  params.max_query_length = bound(arguments.max_seqlen_q, attention.query_rows);
  params.max_key_length = bound(arguments.max_seqlen_k, params.key_rows);

  int slot = 0;
  for (const auto& [name, per_document] : spec.parameters) {
    auto found = arguments.parameters.find(name);
    const std::string argument = "parameters[\"" + name + "\"]";
    if (found == arguments.parameters.end()) {
      throw user_error(ErrorCode::kInvalidArgument, argument, "is missing",
                       "the mask uses $" + name);
    }
    cuda::OffsetArray array = offset_array(argument.c_str(), found->second);
    params.parameters[slot++] = {array.data, array.element_bytes, per_document ? 1 : 0};
  }
  params.parameter_count = slot;
  return plan;
}

// The padding fill: blocks of kRowsPerElementwiseBlock rows of one batch row.
CudaLaunch elementwise_launch(cuda::KernelKind kind, int64_t rows, int64_t batch, int64_t heads) {
  CudaLaunch launch;
  launch.kind = kind;
  launch.grid = grid_of(cuda::kernel_suffix(kind), ceil_divide(rows, cuda::kRowsPerElementwiseBlock),
                        batch, heads);
  launch.block = {static_cast<unsigned>(cuda::kElementwiseThreads), 1, 1};
  return launch;
}

// A per-document kernel (launch_shape.h): blocks of `tile` rows of the query side (key side when
// `key_side`) of each document, `threads` threads. Dense and varlen: x covers the length bound,
// y the documents. Doc-packed: y is the batch row and x the tiles of its documents in slot order
// (grid_tile in document.cuh); their lengths add up to at most the row's tokens, so a row has at
// most ceil(rows / tile) + max_documents tiles, and at most max_documents tiles of the bound.
CudaLaunch document_launch(cuda::KernelKind kind, const cuda::CudaAttentionParams& params,
                           bool key_side, int tile, int64_t heads, int threads,
                           unsigned shared_bytes) {
  const int64_t bound = key_side ? params.max_key_length : params.max_query_length;
  int64_t x = ceil_divide(bound, tile);
  int64_t y = params.documents;
  if (params.layout == cuda::kLayoutDocPacked) {
    const int64_t rows = key_side ? params.key_rows : params.attention.query_rows;
    x = std::min(ceil_divide(rows, tile) + params.max_documents, params.max_documents * x);
    y = params.batch;
  }
  CudaLaunch launch;
  launch.kind = kind;
  launch.grid = grid_of(cuda::kernel_suffix(kind), x, y, heads);
  launch.block = {static_cast<unsigned>(threads), 1, 1};
  launch.shared_bytes = shared_bytes;
  return launch;
}

// A launch with an empty grid (no rows, no documents) is invalid in CUDA: leave it out.
void add(CudaLaunchPlan& plan, const CudaLaunch& launch) {
  if (launch.grid.x > 0 && launch.grid.y > 0 && launch.grid.z > 0) plan.launches.push_back(launch);
}

}  // namespace

CudaLaunchPlan plan_cuda_forward(const Spec& spec, const AttentionArguments& arguments) {
  return plan_cuda_forward(spec, cuda_forward_tile_shape(spec), arguments);
}

CudaLaunchPlan plan_cuda_forward(const Spec& spec, const cuda::TileShape& shape,
                                 const AttentionArguments& arguments) {
  CudaLaunchPlan plan = common_plan(spec, arguments);
  const cuda::CudaAttentionParams& params = plan.params;
  // gridDim.z == 1 tells fill_padding it fills O and LSE.
  add(plan, elementwise_launch(cuda::kKernelFillPadding, params.attention.query_rows,
                               params.batch, 1));
  add(plan, document_launch(cuda::kKernelForward, params, /*key_side=*/false, shape.tile_q,
                            params.attention.heads_q, 32 * shape.warps,
                            cuda::forward_shared_bytes(spec.head_dim, spec.head_dim_v,
                                                       shape.key_stages)));
  return plan;
}

CudaLaunchPlan plan_cuda_backward(const Spec& spec, const AttentionArguments& arguments,
                                  bool deterministic, const CudaLoweringOptions& lowering) {
  if (!spec.backward) {
    throw user_error(ErrorCode::kInvalidArgument, "Kernel::backward",
                     "the spec was compiled without a backward", "set \"backward\": true in the spec");
  }
  CudaLaunchPlan plan = common_plan(spec, arguments);
  cuda::CudaAttentionParams& params = plan.params;
  params.attention.d_o = tensor_address(arguments.d_o, spec.layout);
  params.attention.dq = tensor_address(arguments.dq, spec.layout);
  params.attention.dk = tensor_address(arguments.dk, spec.layout);
  params.attention.dv = tensor_address(arguments.dv, spec.layout);
  params.deterministic = deterministic ? 1 : 0;
  const int64_t query_rows = params.attention.query_rows;
  const int64_t heads_q = params.attention.heads_q;
  plan.workspace.delta_bytes = static_cast<size_t>(params.batch * heads_q * query_rows) * sizeof(float);
  plan.workspace.dq_accumulator_bytes =
      static_cast<size_t>(params.batch * query_rows * heads_q * spec.head_dim) * sizeof(float);

  // With accumulate the caller's gradients of rows nobody attends stay as they are.
  // gridDim.z == 2 tells fill_padding it fills dQ (z = 0) and dK, dV (z = 1).
  if (!arguments.accumulate) {
    const int64_t rows = query_rows > params.key_rows ? query_rows : params.key_rows;
    add(plan, elementwise_launch(cuda::kKernelFillPadding, rows, params.batch, 2));
  }
  add(plan, document_launch(cuda::kKernelBackwardPreprocess, params, /*key_side=*/false,
                            cuda::kRowsPerElementwiseBlock, heads_q, cuda::kElementwiseThreads, 0));
  const cuda::TileShape key_value = cuda_backward_key_value_tile_shape(spec, lowering);
  add(plan, document_launch(cuda::kKernelBackwardKeyValue, params, /*key_side=*/true,
                            key_value.tile_k, params.attention.heads_kv, 32 * key_value.warps,
                            cuda_backward_key_value_shared_bytes(spec, lowering)));
  if (deterministic) {
    const cuda::TileShape query = cuda_backward_query_tile_shape(spec, lowering);
    add(plan, document_launch(cuda::kKernelBackwardQuery, params, /*key_side=*/false,
                              query.tile_q, heads_q, 32 * query.warps,
                              cuda_backward_query_shared_bytes(spec, lowering)));
  }
  add(plan, document_launch(cuda::kKernelBackwardConvertQuery, params, /*key_side=*/false,
                            cuda::kRowsPerElementwiseBlock, heads_q, cuda::kElementwiseThreads, 0));
  return plan;
}

namespace {

std::unique_ptr<float[], HostWorkspaces::Release> zeroed_floats(size_t bytes) {
  if (bytes == 0) return nullptr;
  const size_t count = (bytes + sizeof(float) - 1) / sizeof(float);
  auto* memory =
      static_cast<float*>(::operator new[](count * sizeof(float), std::align_val_t{256}));
  std::fill(memory, memory + count, 0.0f);
  return std::unique_ptr<float[], HostWorkspaces::Release>(memory);
}

}  // namespace

HostWorkspaces::HostWorkspaces(const CudaWorkspaceSizes& sizes)
    : delta_(zeroed_floats(sizes.delta_bytes)),
      dq_accumulator_(zeroed_floats(sizes.dq_accumulator_bytes)) {}

void bind_workspace(CudaLaunchPlan& plan, float* delta, float* dq_accumulator,
                    cuda::DeviceStatus* status) {
  plan.params.attention.delta = delta;
  plan.params.dq_accumulator = dq_accumulator;
  plan.params.status = status;
}

std::string describe(const CudaLaunch& launch) {
  // Appended piece by piece: `"(" + std::to_string(...)` trips GCC 12's -Wrestrict false positive
  // (GCC PR 105329).
  auto dimensions = [](const LaunchDimensions& d) {
    std::string text = "(";
    text += std::to_string(d.x);
    text += ", ";
    text += std::to_string(d.y);
    text += ", ";
    text += std::to_string(d.z);
    text += ")";
    return text;
  };
  return std::string(launch.suffix()) + " grid " + dimensions(launch.grid) + " block " +
         dimensions(launch.block) + " shared " + std::to_string(launch.shared_bytes) + " B";
}

}  // namespace attncc
