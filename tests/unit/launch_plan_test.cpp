// runtime/cuda/launch_plan: the parameter block and the launch list of a CUDA call, per layout,
// against values worked out by hand from launch_shape.h's documented grids.
#include "runtime/cuda/launch_plan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "attncc/error.h"
#include "compiler/emit/forward_tile_choice.h"
#include "runtime/cuda/cuda_binary.h"

namespace attncc {
namespace {

Spec make_spec(const std::string& layout, const std::string& mask, int head_dim,
               const std::string& dtype = "bf16") {
  return Spec::parse(R"({"name": "t", "layout": ")" + layout + R"(", "dtype": ")" + dtype +
                     R"(", "head_dim": )" + std::to_string(head_dim) + R"(, "mask": ")" + mask +
                     R"(", "backward": true})");
}

// Tensors are never read by the plan: fake, distinct, 16-byte aligned addresses suffice.
void* address(uintptr_t value) { return reinterpret_cast<void*>(value << 8); }

struct VarlenCall {
  std::vector<int32_t> cu_q{0, 100, 100, 300};
  std::vector<int64_t> cu_k{0, 50, 60, 500};
  std::vector<int32_t> prefix{5, 0, 7};
  AttentionArguments arguments;

  VarlenCall(int64_t heads_q, int64_t heads_kv, int head_dim) {
    arguments.q = TensorRef::cpu(address(1), ScalarType::kBFloat16, {300, heads_q, head_dim});
    arguments.k = TensorRef::cpu(address(2), ScalarType::kBFloat16, {500, heads_kv, head_dim});
    arguments.v = TensorRef::cpu(address(3), ScalarType::kBFloat16, {500, heads_kv, head_dim});
    arguments.o = TensorRef::cpu(address(4), ScalarType::kBFloat16, {300, heads_q, head_dim});
    arguments.lse = TensorRef::cpu(address(5), ScalarType::kFloat32, {heads_q, 300});
    arguments.d_o = TensorRef::cpu(address(6), ScalarType::kBFloat16, {300, heads_q, head_dim});
    arguments.dq = TensorRef::cpu(address(7), ScalarType::kBFloat16, {300, heads_q, head_dim});
    arguments.dk = TensorRef::cpu(address(8), ScalarType::kBFloat16, {500, heads_kv, head_dim});
    arguments.dv = TensorRef::cpu(address(9), ScalarType::kBFloat16, {500, heads_kv, head_dim});
    arguments.cu_seqlens_q = TensorRef::cpu(cu_q.data(), ScalarType::kInt32, {4});
    arguments.cu_seqlens_k = TensorRef::cpu(cu_k.data(), ScalarType::kInt64, {4});
    arguments.parameters["p"] = TensorRef::cpu(prefix.data(), ScalarType::kInt32, {3});
  }
};

void expect_launch(const CudaLaunch& launch, cuda::KernelKind kind, LaunchDimensions grid,
                   unsigned threads, unsigned shared_bytes) {
  SCOPED_TRACE(describe(launch));
  EXPECT_EQ(launch.kind, kind);
  EXPECT_EQ(launch.grid.x, grid.x);
  EXPECT_EQ(launch.grid.y, grid.y);
  EXPECT_EQ(launch.grid.z, grid.z);
  EXPECT_EQ(launch.block.x, threads);
  EXPECT_EQ(launch.block.y, 1u);
  EXPECT_EQ(launch.shared_bytes, shared_bytes);
}

TEST(LaunchPlan, VarlenForwardParamsAndGrids) {
  Spec spec = make_spec("varlen", "prefix($p[doc])", 128);
  VarlenCall call(8, 2, 128);
  CudaLaunchPlan plan = plan_cuda_forward(spec, call.arguments);
  const cuda::CudaAttentionParams& params = plan.params;
  EXPECT_EQ(params.layout, cuda::kLayoutVarlen);
  EXPECT_EQ(params.batch, 1);
  EXPECT_EQ(params.documents, 3);
  EXPECT_EQ(params.attention.query_rows, 300);
  EXPECT_EQ(params.key_rows, 500);
  EXPECT_EQ(params.max_query_length, 300);  // max_seqlen_q/k not given: the token counts
  EXPECT_EQ(params.max_key_length, 500);
  EXPECT_EQ(params.attention.heads_q, 8);
  EXPECT_EQ(params.attention.heads_kv, 2);
  EXPECT_EQ(params.attention.q.data, address(1));
  EXPECT_EQ(params.attention.q.stride_batch, 0);
  EXPECT_EQ(params.attention.q.stride_row, 8 * 128);
  EXPECT_EQ(params.attention.q.stride_head, 128);
  EXPECT_EQ(params.attention.lse, address(5));
  EXPECT_FLOAT_EQ(params.attention.scale, float(1.0 / std::sqrt(128.0)));
  // Offsets and parameters are passed as device pointers, never read.
  EXPECT_EQ(params.cu_seqlens_q.data, call.cu_q.data());
  EXPECT_EQ(params.cu_seqlens_q.element_bytes, 4);
  EXPECT_EQ(params.cu_seqlens_k.data, call.cu_k.data());
  EXPECT_EQ(params.cu_seqlens_k.element_bytes, 8);
  EXPECT_EQ(params.cu_seqlens_q_padded.data, nullptr);
  ASSERT_EQ(params.parameter_count, 1);
  EXPECT_EQ(params.parameters[0].data, call.prefix.data());
  EXPECT_EQ(params.parameters[0].per_document, 1);
  EXPECT_EQ(params.status, nullptr);  // bound by the executor

  const cuda::TileShape tiles = cuda::forward_tile_shape(128, 128, /*light_mask=*/false);
  ASSERT_EQ(plan.launches.size(), 2u);
  expect_launch(plan.launches[0], cuda::kKernelFillPadding, {5, 1, 1}, cuda::kElementwiseThreads, 0);
  expect_launch(plan.launches[1], cuda::kKernelForward,
                {unsigned((300 + tiles.tile_q - 1) / tiles.tile_q), 3, 8}, 32u * unsigned(tiles.warps),
                cuda::forward_shared_bytes(128, 128));
  EXPECT_EQ(plan.workspace.delta_bytes, 0u);
  EXPECT_EQ(plan.workspace.dq_accumulator_bytes, 0u);
}

// The wgmma forward: 8 warps over 128 x 64 tiles. The overlapped schedule keeps two K and two V
// tiles, bf16 at d128: Q 128 x 128 x 2 B = 32 KiB, plus 2 x (64 x 128 x 2 B) for each of K and
// V = 64 KiB; the serial one a single K and V tile (32 KiB). The kernel's opt-in size
// (dynamic_shared_bytes) must agree with the launch.
TEST(LaunchPlan, WarpgroupForwardSharedMemoryFollowsItsStages) {
  Spec spec = make_spec("varlen", "prefix($p[doc])", 128);
  VarlenCall call(8, 8, 128);
  const std::pair<WarpgroupForward, unsigned> expected[] = {
      {WarpgroupForward::kOverlapped, 96u * 1024u}, {WarpgroupForward::kSerial, 64u * 1024u}};
  for (const auto& [request, bytes] : expected) {
    const CudaLoweringOptions lowering = cuda_lowering_options(spec, request, true);
    ASSERT_TRUE(lowering.warpgroup_mma_forward);
    CudaLaunchPlan plan =
        plan_cuda_forward(spec, cuda_forward_tile_shape(spec, lowering), call.arguments);
    ASSERT_EQ(plan.launches.size(), 2u);
    expect_launch(plan.launches[1], cuda::kKernelForward, {3, 3, 8}, 256u, bytes);
    EXPECT_EQ(dynamic_shared_bytes(cuda::kKernelForward, spec, lowering), bytes);
  }
}

// The wgmma backward kernels, 8 warps each.
// - Key/value kernel: 128-key tiles (without max_seqlen_k the 500 key rows bound a document's
//   length: 4 tiles), key/value heads in z, two query-side buffers. bf16 at d128: 2 x (Q and dO
//   64 x 128 x 2 B = 16 KiB each, LSE and delta 2 x 64 x 4 B) + K, V 128 x 128 x 2 B = 32 KiB
//   each + dS^T 128 x 64 x 2 B = 16 KiB = 145 KiB; at d64 2 x 16.5 + 3 x 16 = 81 KiB.
// - Deterministic query kernel: 128-row query tiles (the 300 query rows: 3 tiles), query heads
//   in z. bf16 at d128: Q and dO 128 x 128 x 2 B = 32 KiB each + two stages of K and V
//   64 x 128 x 2 B = 16 KiB each + LSE and delta 2 x 128 x 4 B = 129 KiB; at d64
//   2 x 16 + 4 x 8 + 1 = 65 KiB.
// Softcap at d128 keeps the mma.sync kernels and their shared memory.
TEST(LaunchPlan, WarpgroupBackwardTilesAndSharedMemory) {
  struct Expected {
    int head_dim;
    unsigned key_value_bytes, query_bytes;
  };
  const Expected expected[] = {{128, 145u * 1024u, 129u * 1024u}, {64, 81u * 1024u, 65u * 1024u}};
  for (const Expected& e : expected) {
    SCOPED_TRACE(e.head_dim);
    Spec spec = make_spec("varlen", "prefix($p[doc])", e.head_dim);
    VarlenCall call(8, 2, e.head_dim);
    const CudaLoweringOptions lowering =
        cuda_lowering_options(spec, WarpgroupForward::kOverlapped, true);
    ASSERT_TRUE(lowering.warpgroup_mma_backward);
    for (bool deterministic : {false, true}) {
      SCOPED_TRACE(deterministic ? "deterministic" : "atomic dQ");
      CudaLaunchPlan plan = plan_cuda_backward(spec, call.arguments, deterministic, lowering);
      ASSERT_EQ(plan.launches.size(), deterministic ? 5u : 4u);
      expect_launch(plan.launches[2], cuda::kKernelBackwardKeyValue, {4, 3, 2}, 256u,
                    e.key_value_bytes);
      if (deterministic) {
        expect_launch(plan.launches[3], cuda::kKernelBackwardQuery, {3, 3, 8}, 256u,
                      e.query_bytes);
      }
    }
    EXPECT_EQ(dynamic_shared_bytes(cuda::kKernelBackwardKeyValue, spec, lowering),
              e.key_value_bytes);
    EXPECT_EQ(dynamic_shared_bytes(cuda::kKernelBackwardQuery, spec, lowering), e.query_bytes);
  }
  Spec softcap = make_spec("varlen", "prefix($p[doc])", 128);
  softcap.softcap = 30.0;
  const CudaLoweringOptions lowering =
      cuda_lowering_options(softcap, WarpgroupForward::kOverlapped, true);
  EXPECT_TRUE(lowering.warpgroup_mma_forward);
  EXPECT_FALSE(lowering.warpgroup_mma_backward);
  EXPECT_EQ(dynamic_shared_bytes(cuda::kKernelBackwardKeyValue, softcap, lowering),
            cuda::backward_key_value_shared_bytes(128, 128, /*score_mods=*/true));
  EXPECT_EQ(dynamic_shared_bytes(cuda::kKernelBackwardQuery, softcap, lowering),
            cuda::backward_query_shared_bytes(128, 128));
}

// max_seqlen_q/k size the per-document grids (the documents here: Lq 100, 0, 200; Lk 50, 10,
// 440); a bound above the token count is clamped to it; the element-wise fill keeps the rows.
TEST(LaunchPlan, GridBoundsSizeThePerDocumentGrids) {
  Spec spec = make_spec("varlen", "prefix($p[doc])", 64);
  VarlenCall call(4, 4, 64);
  call.arguments.max_seqlen_q = 200;
  call.arguments.max_seqlen_k = 100000;
  CudaLaunchPlan forward = plan_cuda_forward(spec, call.arguments);
  EXPECT_EQ(forward.params.max_query_length, 200);
  EXPECT_EQ(forward.params.max_key_length, 500);
  const cuda::TileShape tiles = cuda::forward_tile_shape(64, 64, /*light_mask=*/false);
  ASSERT_EQ(forward.launches.size(), 2u);
  expect_launch(forward.launches[0], cuda::kKernelFillPadding, {5, 1, 1}, cuda::kElementwiseThreads, 0);
  expect_launch(forward.launches[1], cuda::kKernelForward,
                {unsigned((200 + tiles.tile_q - 1) / tiles.tile_q), 3, 4}, 32u * unsigned(tiles.warps),
                cuda::forward_shared_bytes(64, 64));

  call.arguments.max_seqlen_q = 1;  // below a document's length: one tile in x, blocks loop
  call.arguments.max_seqlen_k = 1;
  CudaLaunchPlan backward = plan_cuda_backward(spec, call.arguments, /*deterministic=*/false);
  const cuda::TileShape backward_tiles = cuda::backward_key_value_tile_shape(64, 64, false);
  const unsigned shared = cuda::backward_key_value_shared_bytes(64, 64, false);
  ASSERT_EQ(backward.launches.size(), 4u);
  expect_launch(backward.launches[0], cuda::kKernelFillPadding, {8, 1, 2}, cuda::kElementwiseThreads, 0);
  expect_launch(backward.launches[1], cuda::kKernelBackwardPreprocess, {1, 3, 4},
                cuda::kElementwiseThreads, 0);
  expect_launch(backward.launches[2], cuda::kKernelBackwardKeyValue, {1, 3, 4},
                32u * unsigned(backward_tiles.warps), shared);
  expect_launch(backward.launches[3], cuda::kKernelBackwardConvertQuery, {1, 3, 4},
                cuda::kElementwiseThreads, 0);
}

TEST(LaunchPlan, BackwardLaunchOrderWorkspacesAndModes) {
  Spec spec = make_spec("varlen", "prefix($p[doc])", 64);
  VarlenCall call(4, 4, 64);
  const cuda::TileShape tiles = cuda::backward_key_value_tile_shape(64, 64, false);
  const unsigned threads = 32u * unsigned(tiles.warps);
  const unsigned shared = cuda::backward_key_value_shared_bytes(64, 64, false);
  const cuda::TileShape query_tiles = cuda::backward_query_tile_shape(64, 64);
  CudaLaunchPlan plan = plan_cuda_backward(spec, call.arguments, /*deterministic=*/false);
  EXPECT_EQ(plan.params.deterministic, 0);
  EXPECT_EQ(plan.params.attention.dk.data, address(8));
  EXPECT_EQ(plan.workspace.delta_bytes, 4u * 300u * 4u);
  EXPECT_EQ(plan.workspace.dq_accumulator_bytes, 300u * 4u * 64u * 4u);
  ASSERT_EQ(plan.launches.size(), 4u);
  // fill_padding covers max(Tq, Tk) rows, z = 2 passes (dQ rows, dK/dV rows).
  expect_launch(plan.launches[0], cuda::kKernelFillPadding, {8, 1, 2}, cuda::kElementwiseThreads, 0);
  expect_launch(plan.launches[1], cuda::kKernelBackwardPreprocess, {5, 3, 4},
                cuda::kElementwiseThreads, 0);
  expect_launch(plan.launches[2], cuda::kKernelBackwardKeyValue,
                {unsigned((500 + tiles.tile_k - 1) / tiles.tile_k), 3, 4}, threads, shared);
  expect_launch(plan.launches[3], cuda::kKernelBackwardConvertQuery, {5, 3, 4},
                cuda::kElementwiseThreads, 0);

  call.arguments.accumulate = true;
  plan = plan_cuda_backward(spec, call.arguments, /*deterministic=*/true);
  EXPECT_EQ(plan.params.deterministic, 1);
  EXPECT_EQ(plan.params.attention.accumulate, 1);
  ASSERT_EQ(plan.launches.size(), 4u);  // no fill_padding: accumulate leaves those rows alone
  EXPECT_EQ(plan.launches[0].kind, cuda::kKernelBackwardPreprocess);
  EXPECT_EQ(plan.launches[1].kind, cuda::kKernelBackwardKeyValue);
  expect_launch(plan.launches[2], cuda::kKernelBackwardQuery,
                {unsigned((300 + query_tiles.tile_q - 1) / query_tiles.tile_q), 3, 4},
                32u * unsigned(query_tiles.warps), cuda::backward_query_shared_bytes(64, 64));
  EXPECT_EQ(plan.launches[3].kind, cuda::kKernelBackwardConvertQuery);

  std::vector<float> delta(1), accumulator(1);
  cuda::DeviceStatus status{};
  bind_workspace(plan, delta.data(), accumulator.data(), &status);
  EXPECT_EQ(plan.params.attention.delta, delta.data());
  EXPECT_EQ(plan.params.dq_accumulator, accumulator.data());
  EXPECT_EQ(plan.params.status, &status);
}

TEST(LaunchPlan, DenseAndDocPackedDocumentsAndRows) {
  Spec dense = make_spec("dense", "causal", 64);
  std::vector<int32_t> seqlens{3, 70};
  AttentionArguments arguments;
  arguments.q = TensorRef::cpu(address(1), ScalarType::kBFloat16, {2, 70, 2, 64});
  arguments.k = TensorRef::cpu(address(2), ScalarType::kBFloat16, {2, 90, 2, 64});
  arguments.v = arguments.k;
  arguments.o = arguments.q;
  arguments.lse = TensorRef::cpu(address(5), ScalarType::kFloat32, {2, 2, 70});
  arguments.seqlens_q = TensorRef::cpu(seqlens.data(), ScalarType::kInt32, {2});
  CudaLaunchPlan plan = plan_cuda_forward(dense, arguments);
  EXPECT_EQ(plan.params.layout, cuda::kLayoutDense);
  EXPECT_EQ(plan.params.batch, 2);
  EXPECT_EQ(plan.params.documents, 2);
  EXPECT_EQ(plan.params.attention.q.stride_batch, 70 * 2 * 64);
  EXPECT_EQ(plan.params.max_query_length, 70);
  EXPECT_EQ(plan.params.max_key_length, 90);
  EXPECT_EQ(plan.params.seqlens_q.data, seqlens.data());
  EXPECT_EQ(plan.params.seqlens_k.data, nullptr);
  ASSERT_EQ(plan.launches.size(), 2u);
  EXPECT_EQ(plan.launches[0].grid.x, 2u);  // 70 rows in blocks of 64
  EXPECT_EQ(plan.launches[0].grid.y, 2u);

  Spec packed = make_spec("doc_packed", "causal", 64);
  std::vector<int32_t> cu_seq{0, 10, 40, 40, 0, 40, 40, 40};  // [2, MAX_DOCS + 1 = 4]
  AttentionArguments packed_arguments = arguments;
  packed_arguments.seqlens_q = {};
  packed_arguments.k = arguments.q;
  packed_arguments.v = arguments.q;
  packed_arguments.cu_seq = TensorRef::cpu(cu_seq.data(), ScalarType::kInt32, {2, 4});
  plan = plan_cuda_forward(packed, packed_arguments);
  EXPECT_EQ(plan.params.layout, cuda::kLayoutDocPacked);
  EXPECT_EQ(plan.params.max_documents, 3);
  EXPECT_EQ(plan.params.documents, 6);
  EXPECT_EQ(plan.params.cu_seq.data, cu_seq.data());
  // Doc-packed grids are (tiles of a batch row's documents, batch rows, heads): at most
  // min(ceil(rows / tile) + max_documents, max_documents * ceil(max length / tile)) tiles.
  // Forward tiles of 128 rows: min(1 + 3, 3 * 1) = 3.
  ASSERT_EQ(plan.launches.size(), 2u);
  EXPECT_EQ(plan.launches[1].grid.x, 3u);
  EXPECT_EQ(plan.launches[1].grid.y, 2u);
  EXPECT_EQ(plan.launches[1].grid.z, 2u);
  // Backward tiles of 64 rows (preprocess, convert): min(2 + 3, 3 * 2) = 5; the key/value
  // kernel's tiles of 128 keys at d64: min(1 + 3, 3 * 1) = 3.
  ASSERT_EQ(cuda::backward_key_value_tile_shape(64, 64, false).tile_k, 128);
  packed_arguments.d_o = packed_arguments.dq = packed_arguments.dk = packed_arguments.dv =
      arguments.q;
  CudaLaunchPlan backward = plan_cuda_backward(packed, packed_arguments, /*deterministic=*/false);
  ASSERT_EQ(backward.launches.size(), 4u);
  for (size_t index = 1; index < backward.launches.size(); ++index) {
    SCOPED_TRACE(describe(backward.launches[index]));
    EXPECT_EQ(backward.launches[index].grid.x,
              backward.launches[index].kind == cuda::kKernelBackwardKeyValue ? 3u : 5u);
    EXPECT_EQ(backward.launches[index].grid.y, 2u);
  }
  // max_seqlen 10: 3 * ceil(10 / 128) = 3 tiles per row.
  packed_arguments.max_seqlen_q = packed_arguments.max_seqlen_k = 10;
  backward = plan_cuda_backward(packed, packed_arguments, /*deterministic=*/false);
  EXPECT_EQ(backward.launches[2].grid.x, 3u);
}

TEST(LaunchPlan, EmptyGridsAreLeftOut) {
  Spec spec = make_spec("varlen", "causal", 64);
  std::vector<int32_t> cu{0};
  AttentionArguments arguments;
  arguments.q = TensorRef::cpu(address(1), ScalarType::kBFloat16, {0, 2, 64});
  arguments.k = arguments.q;
  arguments.v = arguments.q;
  arguments.o = arguments.q;
  arguments.lse = TensorRef::cpu(address(5), ScalarType::kFloat32, {2, 0});
  arguments.cu_seqlens_q = TensorRef::cpu(cu.data(), ScalarType::kInt32, {1});
  arguments.cu_seqlens_k = arguments.cu_seqlens_q;
  EXPECT_TRUE(plan_cuda_forward(spec, arguments).launches.empty());
}

TEST(LaunchPlan, RejectsWhatTheKernelsCannotTake) {
  VarlenCall call(2, 2, 64);
  try {
    plan_cuda_forward(make_spec("varlen", "prefix($p[doc])", 64, "fp32"), call.arguments);
    ADD_FAILURE() << "fp32 accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kUnsupported) << error.what();
  }
  // A strided offset array cannot be indexed directly by the kernels.
  std::vector<int32_t> strided{0, -1, 100, -1, 100, -1, 300};
  call.arguments.cu_seqlens_q = TensorRef::cpu(strided.data(), ScalarType::kInt32, {4});
  call.arguments.cu_seqlens_q.strides = {2};
  try {
    plan_cuda_forward(make_spec("varlen", "prefix($p[doc])", 64), call.arguments);
    ADD_FAILURE() << "strided cu_seqlens_q accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument) << error.what();
    EXPECT_NE(std::string(error.what()).find("cu_seqlens_q"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace attncc
