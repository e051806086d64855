// CUDA backward kernels (FlashAttention-2 style, KERNELS.md §6-8), run in this order:
//   backward_preprocess     grid (ceil(max_query_length / kRowsPerElementwiseBlock), documents,
//                           heads_q): delta = rowsum(dO * O) from the stored O; zeroes the fp32
//                           dQ accumulator rows (atomic mode)
//   backward_key_value      grid (ceil(max_key_length / tile_k), documents, heads_kv): dK, dV of
//                           one key tile over every query tile and GQA query head reaching it;
//                           dQ += dS K by fp32 atomics into the accumulator (atomic mode);
//                           on mma.sync here, on wgmma in attention_backward_wgmma.cuh
//   backward_query          grid (ceil(max_query_length / tile_q), documents, heads_q),
//                           deterministic mode only: dQ of one query tile, no atomics (on
//                           mma.sync here, on wgmma in attention_backward_wgmma.cuh)
//   backward_convert_query  grid as preprocess, atomic mode only: dq = accumulator * scale
// Each kernel returns at once in the mode it is not for, so a launch plan may launch all four.
// Each takes its grid x index as an argument and returns false when that is past its document
// (for_each_grid_x, document.cuh).
// Blocks whose tile starts past their document's end exit at once (grids come from host-side
// upper bounds, DESIGN §5).
#pragma once

#include "common/tile_iteration.h"
#include "cuda/attention_forward.cuh"
#include "cuda/backward_tiles.cuh"
#include "cuda/cuda_params.h"
#include "cuda/document.cuh"
#include "cuda/launch_shape.h"
#include "cuda/ptx.h"
#include "cuda/tile_copy.cuh"

namespace attncc::cuda {

/// Tiles, warp roles and shared-memory map of one backward kernel of one Config: the key/value
/// kernel (kKeyValueKernel) or the deterministic query kernel, which have their own tiles
/// (launch_shape.h).
template <typename Config, bool kKeyValueKernel>
struct BackwardShape {
  using Element = typename Config::Element;
  static constexpr int kHeadDim = Config::kHeadDim;
  static constexpr int kHeadDimV = Config::kHeadDimV;
  static constexpr TileShape kTile =
      kKeyValueKernel ? backward_key_value_tile_shape(kHeadDim, kHeadDimV,
                                                      Config::kSoftcap || Config::kAlibi)
                      : backward_query_tile_shape(kHeadDim, kHeadDimV);
  static constexpr int kTileQ = kTile.tile_q;
  static constexpr int kTileK = kTile.tile_k;
  static constexpr int kWarps = kTile.warps;
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kConfigTileQ =
      kKeyValueKernel ? Config::kBackwardKeyValueTileQ : Config::kBackwardQueryTileQ;
  static constexpr int kConfigTileK =
      kKeyValueKernel ? Config::kBackwardKeyValueTileK : Config::kBackwardQueryTileK;
  static_assert(kConfigTileQ == kTileQ && kConfigTileK == kTileK &&
                    Config::kBackwardThreads == kThreads,
                "the generated Config must use launch_shape.h's backward tiles");

  // S, dP, P, dS: warp w owns query rows 16 * (w % kQueryGroups) + [0, 16) and kScoreKeys keys
  // from kScoreKeys * (w / kQueryGroups).
  static constexpr int kQueryGroups = kTileQ / 16;
  static_assert(kWarps % kQueryGroups == 0, "whole 16-row groups per warp");
  static constexpr int kScoreKeys = kTileK / (kWarps / kQueryGroups);
  static constexpr int kScoreTiles = kScoreKeys / 8;
  // dQ: the same row group, columns kQueryColumns * (w / kQueryGroups) + [0, kQueryColumns).
  static constexpr int kQueryColumns = kHeadDim / (kWarps / kQueryGroups);
  // dK, dV: warp w owns keys 16 * (w % kKeyGroups) + [0, 16) and a 1 / kKeySplits share of the
  // columns.
  static constexpr int kKeyGroups = kTileK / 16;
  static_assert(kWarps % kKeyGroups == 0, "whole 16-key groups per warp");
  static constexpr int kKeySplits = kWarps / kKeyGroups;
  static constexpr int kKeyColumns = kHeadDim / kKeySplits;
  static constexpr int kValueColumns = kHeadDimV / kKeySplits;
  static_assert(kScoreKeys % 16 == 0 && kQueryColumns % 16 == 0 && kKeyColumns % 16 == 0 &&
                    kValueColumns % 16 == 0,
                "every warp tile is whole pairs of n8 mma tiles");

  using QueryTile = SharedTile<kTileQ, kHeadDim>;
  using OutputGradientTile = SharedTile<kTileQ, kHeadDimV>;
  using KeyTile = SharedTile<kTileK, kHeadDim>;
  using ValueTile = SharedTile<kTileK, kHeadDimV>;
  using ScoreTile = SharedTile<kTileQ, kTileK>;  // P and dS, [query][key]

  // Shared memory (byte offsets; every tile a multiple of 1024 bytes, so each starts aligned
  // for the swizzle): kQueryBuffers buffers of the query side (Q and dO tiles; buffer b at b *
  // kQueryBufferBytes), so that with two the key/value kernel loads the next query tile while
  // it computes on this one; the key tile's K and V; P and dS of the pair as [query][key]
  // 16-bit tiles; then per buffer the query rows' LSE and delta (b *
  // kStatisticsBufferBytes further).
  static constexpr int kQueryBuffers =
      backward_query_buffers(kTile, kHeadDim, kHeadDimV, kKeyValueKernel);
  static constexpr uint32 kQuery = 0;
  static constexpr uint32 kOutputGradient = kQuery + tile_bytes(kTileQ, kHeadDim);
  static constexpr uint32 kQueryBufferBytes =
      tile_bytes(kTileQ, kHeadDim) + tile_bytes(kTileQ, kHeadDimV);
  static constexpr uint32 kKey = uint32(kQueryBuffers) * kQueryBufferBytes;
  static constexpr uint32 kValue = kKey + tile_bytes(kTileK, kHeadDim);
  static constexpr uint32 kProbabilities = kValue + tile_bytes(kTileK, kHeadDimV);
  static constexpr uint32 kScoreGradients = kProbabilities + tile_bytes(kTileQ, kTileK);
  static constexpr uint32 kLse = kScoreGradients + tile_bytes(kTileQ, kTileK);
  static constexpr uint32 kDelta = kLse + 4u * kTileQ;
  static constexpr uint32 kStatisticsBufferBytes = 8u * kTileQ;
  static_assert(kLse + uint32(kQueryBuffers) * kStatisticsBufferBytes ==
                    backward_shared_bytes(kTile, kHeadDim, kHeadDimV, kKeyValueKernel),
                "launch_shape.h's backward_shared_bytes must match this map");
};

// ---- addressing ------------------------------------------------------------------------------

template <typename Element>
ATTNCC_DEVICE Element* tensor_row(const TensorAddress& tensor, kernel_int batch, kernel_int row,
                                  int head) {
  return static_cast<Element*>(tensor.data) + batch * tensor.stride_batch +
         row * tensor.stride_row + kernel_int(head) * tensor.stride_head;
}

/// The fp32 dQ accumulator is [batch * query_rows, heads_q, head_dim].
template <typename Config>
ATTNCC_DEVICE float* query_gradient_accumulator(const CudaAttentionParams& params,
                                                kernel_int batch, kernel_int row, int head) {
  return params.dq_accumulator +
         ((batch * params.attention.query_rows + row) * params.attention.heads_q + head) *
             Config::kHeadDim;
}

// ---- 16-byte chunks of rows (the element-wise kernels) -------------------------------------
// Tensor data and row strides are 16-byte aligned (DESIGN_NOTES "Alignment"; the runtime
// checks), the dQ accumulator's rows are head_dim floats in an allocation aligned at least as
// much, and head dims are multiples of 32: so a row is whole 16-byte chunks, and one access
// moves 16 bytes where element-wise ones moved 2 or 4.

struct alignas(16) Chunk16 {
  uint32 words[4];
};

/// Element 0 <= e < 8 of a chunk of 16-bit elements, as float.
template <typename Element>
ATTNCC_DEVICE float chunk_element(const Chunk16& chunk, int e) {
  return to_float(Element{kernel_uint16(chunk.words[e >> 1] >> (16 * (e & 1)))});
}

/// Lanes that share one row in backward_preprocess: a power of two, at most 32, covering a
/// row's chunks where it has no more than 32 (a lane takes every lanes-th chunk past that).
constexpr int preprocess_lanes_per_row(int head_dim_v) {
  const int chunks = head_dim_v / 8;
  return chunks > 16 ? 32 : chunks > 8 ? 16 : chunks > 4 ? 8 : 4;
}

// ---- pieces of the backward tile step -----------------------------------------------------

/// Starts the copies of one query tile's Q, dO, LSE and delta into query-side buffer `buffer`
/// (rows past `rows`: Q, dO zero, LSE = -inf so that their P is 0, delta 0, stored at once).
/// LSE and delta come by cp.async too: plain loads would stall the loading warp for a global
/// round trip before its next shared store, and the block's next barrier with it.
template <typename Config, typename Shape>
ATTNCC_DEVICE void load_query_tile(const CudaAttentionParams& params,
                                   const DocumentBlock& document, int head, kernel_int i0,
                                   kernel_int rows, int buffer) {
  using Element = typename Config::Element;
  const kernel_int first_row = document.query_start + i0;
  const int thread = int(threadIdx.x);
  const uint32 tiles = uint32(buffer) * Shape::kQueryBufferBytes;
  const uint32 statistics = uint32(buffer) * Shape::kStatisticsBufferBytes;
  load_tile_async<Shape::kTileQ, Shape::kHeadDim, Shape::kThreads, Element,
                  /*kBranchOnWholeTiles=*/true>(
      tiles + Shape::kQuery, params.attention.q, document.batch, first_row, head, rows, thread);
  load_tile_async<Shape::kTileQ, Shape::kHeadDimV, Shape::kThreads, Element,
                  /*kBranchOnWholeTiles=*/true>(
      tiles + Shape::kOutputGradient, params.attention.d_o, document.batch, first_row, head,
      rows, thread);
  static_assert(Shape::kThreads >= Shape::kTileQ, "one thread per query row's statistics");
  if (const int r = thread; r < Shape::kTileQ) {
    const uint32 lse = statistics + Shape::kLse + 4u * uint32(r);
    const uint32 delta = statistics + Shape::kDelta + 4u * uint32(r);
    if (r < rows) {
      cp_async_4(lse, lse_address(params.attention.lse, params.attention, document.batch, head,
                                  first_row + r));
      cp_async_4(delta, lse_address(params.attention.delta, params.attention, document.batch,
                                    head, first_row + r));
    } else {
      shared_store_f32(lse, negative_infinity());
      shared_store_f32(delta, 0.0f);
    }
  }
}

/// Starts the copies of one key tile's K (kLoadKeys) and V (kLoadValues), `stage` bytes past
/// the Shape's K and V tiles; keys past `columns` zero.
template <typename Config, typename Shape, bool kLoadKeys = true, bool kLoadValues = true>
ATTNCC_DEVICE void load_key_tile(const CudaAttentionParams& params,
                                 const DocumentBlock& document, int kv_head, kernel_int j0,
                                 kernel_int columns, uint32 stage = 0) {
  using Element = typename Config::Element;
  const kernel_int first_row = document.key_start + j0;
  const int thread = int(threadIdx.x);
  if constexpr (kLoadKeys) {
    load_tile_async<Shape::kTileK, Shape::kHeadDim, Shape::kThreads, Element,
                    /*kBranchOnWholeTiles=*/true>(
        Shape::kKey + stage, params.attention.k, document.batch, first_row, kv_head, columns,
        thread);
  }
  if constexpr (kLoadValues) {
    load_tile_async<Shape::kTileK, Shape::kHeadDimV, Shape::kThreads, Element,
                    /*kBranchOnWholeTiles=*/true>(
        Shape::kValue + stage, params.attention.v, document.batch, first_row, kv_head, columns,
        thread);
  }
}

/// P from a logit in log2 units: 0 exactly where `masked` or LSE = -inf (empty or padding rows).
ATTNCC_DEVICE float probability_from_logit(float exponent, bool masked, float lse_log2) {
  return (masked || lse_log2 == negative_infinity()) ? 0.0f : fast_exp2(exponent - lse_log2);
}
/// dS = P * (dP - delta) before softcap's chain rule, 0 wherever P = 0 even if dP is NaN.
ATTNCC_DEVICE float gradient_from_probability(float p, float dp, float delta) {
  return p == 0.0f ? 0.0f : p * (dp - delta);
}

/// One element of a backward tile: the raw score Q K^T becomes P = exp(score - LSE) with the
/// forward's score mods, and dP = dO V^T becomes dS = P * (dP - delta) (times 1 - tanh^2 with
/// softcap). P = 0 exactly where `masked` or LSE = -inf (empty or padding rows), and dS = 0
/// wherever P = 0, even if dP is NaN (as the CPU kernels). `alibi_offset` is ALiBi's
/// j - i - (Lk - Lq).
template <typename Config>
ATTNCC_DEVICE void score_to_gradient(float& score, float& gradient, bool masked, float lse_log2,
                                     float delta, const AttentionParams& attention,
                                     float scale_log2, float slope, kernel_int alibi_offset) {
  float exponent;  // score * log2(e)
  [[maybe_unused]] float tanh_value = 0.0f;
  if constexpr (Config::kSoftcap) {
    // logit_log2's steps, keeping tanh for the chain rule.
    tanh_value = softcap_tanh(score * attention.scale / attention.softcap);
    float mod = attention.softcap * tanh_value;
    if constexpr (Config::kAlibi) mod += slope * float(alibi_offset);
    exponent = mod * kLog2E;
  } else {
    exponent = logit_log2<Config>(score, attention, scale_log2, slope, alibi_offset);
  }
  const float p = probability_from_logit(exponent, masked, lse_log2);
  float ds = gradient_from_probability(p, gradient, delta);
  if constexpr (Config::kSoftcap) ds *= 1.0f - tanh_value * tanh_value;
  score = p;
  gradient = ds;
}

/// Visits the elements of a warp's [16 x 8 kTiles] accumulator tile with the queries as rows
/// (mma.sync m16n8 fragments, or a warp's share of a wgmma m64 accumulator): rows i_low (e < 2)
/// and i_low + 8 of the document, keys j0 + key0 + 8n + 2t + (e & 1).
/// `element(n, e, masked, alibi_offset)` gets ALiBi's j - i - (Lk - Lq) and whether the pair is
/// masked: `masked_tile` (a PARTIAL tile, or one short of its keys) tests each element against
/// the mask; a FULL tile of every key needs no per-element test (as in the forward), so the
/// loop comes in two versions and the tile picks one.
template <typename Mask, int kTiles, typename Element>
ATTNCC_DEVICE void for_each_fragment_element(const DocumentView& document, kernel_int i_low,
                                             kernel_int j0, int key0, kernel_int columns,
                                             bool full, bool masked_tile, Element element) {
  const int t = lane_index() & 3;
  // ALiBi's j - i - (Lk - Lq) at this lane's first element.
  const kernel_int alibi_base =
      j0 + key0 + 2 * t - i_low - (document.key_length - document.query_length);
  const auto visit = [&]<bool kMaskedTile>() {
    TileRowRanges<Mask> ranges[2]{};
    if constexpr (kMaskedTile) {
      ranges[0].set(document, i_low, j0, columns);
      ranges[1].set(document, i_low + 8, j0, columns);
    }
#pragma unroll
    for (int n = 0; n < kTiles; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int half = e >> 1;
        const int c = key0 + 8 * n + 2 * t + (e & 1);
        const bool masked = kMaskedTile && !tile_attends<Mask>(ranges[half], document,
                                                               i_low + 8 * half, j0, c, columns,
                                                               full);
        element(n, e, masked, alibi_base + 8 * n + (e & 1) - 8 * half);
      }
    }
  };
  if (masked_tile) {
    visit.template operator()<true>();
  } else {
    visit.template operator()<false>();
  }
}

/// P and dS in place of S and dP for a warp's accumulator tile with the queries as rows
/// (for_each_fragment_element); `lse_log2`, `delta` of its two rows.
template <typename Config, typename Mask, int kTiles>
ATTNCC_DEVICE void fragment_score_gradients(float (&scores)[kTiles][4],
                                            float (&gradients)[kTiles][4],
                                            const AttentionParams& attention,
                                            const DocumentView& document, int head,
                                            kernel_int i_low, kernel_int j0, int key0,
                                            kernel_int columns, bool full, bool masked_tile,
                                            const float (&lse_log2)[2], const float (&delta)[2]) {
  const float scale_log2 = attention.scale * kLog2E;
  [[maybe_unused]] const float slope = Config::kAlibi ? attention.alibi_slopes[head] : 0.0f;
  for_each_fragment_element<Mask, kTiles>(
      document, i_low, j0, key0, columns, full, masked_tile,
      [&](int n, int e, bool masked, kernel_int alibi_offset) {
        score_to_gradient<Config>(scores[n][e], gradients[n][e], masked, lse_log2[e >> 1],
                                  delta[e >> 1], attention, scale_log2, slope, alibi_offset);
      });
}

/// For the (query tile in query-side buffer `buffer`, key tile) pair in shared memory, this
/// warp's part of
/// dS = P * (dO V^T - delta) (times 1 - tanh^2 with softcap), P = exp(score - LSE) recomputed
/// from S = Q K^T with the forward's score mods and mask: dS (and P when kStoreProbabilities)
/// go to shared memory as 16-bit [query][key] tiles. P = 0 exactly for masked pairs, keys past
/// `columns`, rows with LSE = -inf (empty or padding rows), and dS = 0 wherever P = 0 (even if
/// dP is NaN), as the CPU kernels. dP = dO V^T comes first; `before_scores()` runs, on every
/// thread, between it and S = Q K^T (the query kernel waits for K there, its copy overlapping dP).
template <typename Config, typename Shape, typename Mask, bool kStoreProbabilities,
          typename BeforeScores>
ATTNCC_DEVICE void score_gradients(const CudaAttentionParams& params,
                                   const DocumentView& document, int head, kernel_int i0,
                                   kernel_int j0, kernel_int columns, bool full, int buffer,
                                   BeforeScores before_scores) {
  using Element = typename Config::Element;
  constexpr int kTiles = Shape::kScoreTiles;
  const uint32 tiles = uint32(buffer) * Shape::kQueryBufferBytes;
  const uint32 statistics = uint32(buffer) * Shape::kStatisticsBufferBytes;
  const int warp = warp_index();
  const int lane = lane_index();
  const int row0 = 16 * (warp % Shape::kQueryGroups);
  const int key0 = Shape::kScoreKeys * (warp / Shape::kQueryGroups);

  // dP first, then S: both live at once, and P, dS then overwrite them in place.
  float gradients[kTiles][4];
  zero_fragments(gradients);
  warp_gemm<Element, typename Shape::OutputGradientTile, kRowMajor, typename Shape::ValueTile,
            kRowMajor, Shape::kHeadDimV, kTiles>(
      gradients, tiles + Shape::kOutputGradient, row0, Shape::kValue, key0);
  before_scores();
  float scores[kTiles][4];
  zero_fragments(scores);
  warp_gemm<Element, typename Shape::QueryTile, kRowMajor, typename Shape::KeyTile, kRowMajor,
            Shape::kHeadDim, kTiles>(scores, tiles + Shape::kQuery, row0, Shape::kKey, key0);

  const int g = lane >> 2;
  const int t = lane & 3;
  float lse_log2[2];
  float delta[2];
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const uint32 r = uint32(row0 + g + 8 * half);
    lse_log2[half] = shared_load_f32(statistics + Shape::kLse + 4u * r) * kLog2E;
    delta[half] = shared_load_f32(statistics + Shape::kDelta + 4u * r);
  }
  fragment_score_gradients<Config, Mask>(scores, gradients, params.attention, document, head,
                                         i0 + row0 + g, j0, key0, columns, full,
                                         !full || columns < Shape::kTileK, lse_log2, delta);

  // Pairs lie inside one 16-byte chunk, so the swizzle moves them whole. The warp's keys
  // [key0, key0 + 8 kTiles) are one aligned run of chunks inside a page (key0 is a multiple of
  // 8 kTiles), so chunk n of the run is the lane's chunk XOR n (tile_copy.cuh's swizzle), and
  // row g + 8 is 8 whole rows further: no chunk_offset per store.
  static_assert(Shape::kScoreKeys == 8 * kTiles && 64 % Shape::kScoreKeys == 0,
                "a warp's keys are an aligned run of chunks within one page");
  constexpr uint32 kScoreRowBytes = Shape::kTileK % 64 == 0 ? 128u : 64u;
  const uint32 lane_offset = Shape::ScoreTile::chunk_offset(row0 + g, key0) + 4u * uint32(t);
#pragma unroll
  for (int n = 0; n < kTiles; ++n) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const uint32 offset = (lane_offset ^ (uint32(n) << 4)) + uint32(8 * half) * kScoreRowBytes;
      shared_store_u32(Shape::kScoreGradients + offset,
                       pack_pair<Element>(gradients[n][2 * half], gradients[n][2 * half + 1]));
      if constexpr (kStoreProbabilities) {
        shared_store_u32(Shape::kProbabilities + offset,
                         pack_pair<Element>(scores[n][2 * half], scores[n][2 * half + 1]));
      }
    }
  }
}

/// Writes a warp's [16 x 8*kTiles] fragment tile (rows row0 + ..., columns col0 + ...) times
/// `factor` into rows first_row + r of `tensor`, rows r < valid_rows only; adds to the stored
/// values when accumulating.
template <typename Element, int kTiles>
ATTNCC_DEVICE void store_fragments(const TensorAddress& tensor, kernel_int batch,
                                   kernel_int first_row, int head, int row0, int col0,
                                   kernel_int valid_rows, const float (&accumulator)[kTiles][4],
                                   float factor, bool accumulate) {
  const int lane = lane_index();
  const int g = lane >> 2;
  const int t = lane & 3;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int r = row0 + g + 8 * half;
    if (r >= valid_rows) continue;
    Element* row = tensor_row<Element>(tensor, batch, first_row + r, head) + col0 + 2 * t;
#pragma unroll
    for (int n = 0; n < kTiles; ++n) {
      Element* out = row + 8 * n;
      float low = accumulator[n][2 * half] * factor;
      float high = accumulator[n][2 * half + 1] * factor;
      if (accumulate) {
        low += to_float(out[0]);
        high += to_float(out[1]);
      }
      const uint32 packed = pack_pair<Element>(low, high);
      out[0].bits = kernel_uint16(packed & 0xffffu);
      out[1].bits = kernel_uint16(packed >> 16);
    }
  }
}

/// Atomic mode: dQ accumulator rows of the query tile += dS K (unscaled), this warp's rows and
/// columns, in chunks of 32 columns to keep registers for the dK, dV accumulators.
template <typename Config, typename Shape>
ATTNCC_DEVICE void add_query_gradient(const CudaAttentionParams& params,
                                      const DocumentBlock& document, int head, kernel_int i0,
                                      kernel_int rows) {
  using Element = typename Config::Element;
  constexpr int kChunk = Shape::kQueryColumns % 32 == 0 ? 32 : 16;
  const int warp = warp_index();
  const int lane = lane_index();
  const int row0 = 16 * (warp % Shape::kQueryGroups);
  const int col0 = Shape::kQueryColumns * (warp / Shape::kQueryGroups);
  const int g = lane >> 2;
  const int t = lane & 3;
#pragma unroll 1
  for (int chunk = col0; chunk < col0 + Shape::kQueryColumns; chunk += kChunk) {
    float accumulator[kChunk / 8][4];
    zero_fragments(accumulator);
    warp_gemm<Element, typename Shape::ScoreTile, kRowMajor, typename Shape::KeyTile, kTransposed,
              Shape::kTileK, kChunk / 8>(accumulator, Shape::kScoreGradients, row0, Shape::kKey,
                                         chunk);
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int r = row0 + g + 8 * half;
      if (r >= rows) continue;
      float* row = query_gradient_accumulator<Config>(params, document.batch,
                                                       document.query_start + i0 + r, head) +
                   chunk + 2 * t;
#pragma unroll
      for (int n = 0; n < kChunk / 8; ++n) {
        atomic_add(row + 8 * n, accumulator[n][2 * half]);
        atomic_add(row + 8 * n + 1, accumulator[n][2 * half + 1]);
      }
    }
  }
}

// ---- kernels -------------------------------------------------------------------------------

template <typename Config, typename Mask>
ATTNCC_DEVICE bool backward_preprocess(const CudaAttentionParams& params, kernel_int x) {
  using Element = typename Config::Element;
  if (x == 0) check_documents_without_rows(params, kernel_int(blockIdx.y));
  const GridTile at = grid_tile(params, x, kRowsPerElementwiseBlock, /*key_side=*/false);
  const DocumentBlock document = locate_document(params, at.document);
  const kernel_int i0 = at.tile * kRowsPerElementwiseBlock;
  if (i0 >= document.query_length) return false;
  const kernel_int rows = min_int(kRowsPerElementwiseBlock, document.query_length - i0);
  const int head = int(blockIdx.z);
  const kernel_int first_row = document.query_start + i0;
  // kLanesPerRow lanes per row, each a 16-byte chunk of O and dO at a time, then a butterfly
  // sum inside the lane group. Every lane of a warp runs every pass (the shuffles need them).
  constexpr int kChunks = Config::kHeadDimV / 8;
  constexpr int kLanesPerRow = preprocess_lanes_per_row(Config::kHeadDimV);
  constexpr int kRowsPerPass = kElementwiseThreads / kLanesPerRow;
  static_assert(Config::kHeadDimV % 8 == 0 && 32 % kLanesPerRow == 0, "whole chunks and groups");
  const int slot = int(threadIdx.x) / kLanesPerRow;
  const int lane_in_row = int(threadIdx.x) % kLanesPerRow;
  for (kernel_int pass = 0; pass < rows; pass += kRowsPerPass) {
    const kernel_int r = pass + slot;
    float sum = 0.0f;
    if (r < rows) {
      const Chunk16* o = reinterpret_cast<const Chunk16*>(
          tensor_row<Element>(params.attention.o, document.batch, first_row + r, head));
      const Chunk16* d_o = reinterpret_cast<const Chunk16*>(
          tensor_row<Element>(params.attention.d_o, document.batch, first_row + r, head));
      for (int c = lane_in_row; c < kChunks; c += kLanesPerRow) {
        const Chunk16 o_chunk = o[c];
        const Chunk16 d_o_chunk = d_o[c];
#pragma unroll
        for (int e = 0; e < 8; ++e) {
          sum += chunk_element<Element>(o_chunk, e) * chunk_element<Element>(d_o_chunk, e);
        }
      }
    }
#pragma unroll
    for (int mask = kLanesPerRow / 2; mask > 0; mask >>= 1) sum += shfl_xor(sum, mask);
    if (r < rows && lane_in_row == 0) {
      *lse_address(params.attention.delta, params.attention, document.batch, head,
                   first_row + r) = sum;
    }
  }
  if (params.deterministic) return true;
  constexpr int kQuads = Config::kHeadDim / 4;  // 16-byte groups of 4 floats per row
  for (kernel_int index = threadIdx.x; index < rows * kQuads; index += kElementwiseThreads) {
    const kernel_int r = index / kQuads;
    float* row = query_gradient_accumulator<Config>(params, document.batch, first_row + r, head);
    reinterpret_cast<Chunk16*>(row)[index % kQuads] = Chunk16{{0u, 0u, 0u, 0u}};
  }
  return true;
}

/// The query tiles of `tile_q` rows whose pairs with key tile [j0, j1] the forward visited, in
/// order (the reaching range is a superset); none when the document's offsets were inconsistent
/// (read no Q, dO: dK = dV = 0).
template <typename Mask>
struct VisitingQueryTiles {
  const DocumentView& document;
  kernel_int j0;
  kernel_int j1;
  int tile_q;
  kernel_int first;
  kernel_int last;

  ATTNCC_DEVICE VisitingQueryTiles(const DocumentBlock& block, const DocumentView& view,
                                   kernel_int key_first, kernel_int key_last, int tile_rows)
      : document(view), j0(key_first), j1(key_last), tile_q(tile_rows) {
    query_tiles_reaching<Mask>(document, j0, j1, tile_q, first, last);
    if (!block.consistent) last = first - 1;
  }
  /// The first visiting tile from `tile` on, or last + 1.
  ATTNCC_DEVICE kernel_int next(kernel_int tile) const {
    for (; tile <= last; ++tile) {
      const kernel_int i0 = tile * tile_q;
      const kernel_int i1 = min_int(i0 + tile_q, document.query_length) - 1;
      if (visits_key_tile<Mask>(document, i0, i1, j0, j1)) return tile;
    }
    return tile;
  }
  ATTNCC_DEVICE kernel_int rows(kernel_int tile) const {
    return min_int(kernel_int(tile_q), document.query_length - tile * tile_q);
  }
  /// The work item after (tile, member of the GQA group of `group` query heads): the next
  /// member on the same tile, else member 0 of the next visiting tile.
  ATTNCC_DEVICE void next_item(kernel_int tile, int member, int group, kernel_int& next_tile,
                               int& next_member) const {
    next_tile = tile;
    next_member = member + 1;
    if (next_member == group) {
      next_member = 0;
      next_tile = next(tile + 1);
    }
  }
};

/// Invariants over the query tiles and heads processed so far: dv = sum P^T dO, dk = sum dS^T Q
/// (unscaled), each warp holding its keys x columns share in fp32 fragments.
template <typename Config, typename Mask>
ATTNCC_DEVICE bool backward_key_value_mma_sync(const CudaAttentionParams& params, kernel_int x) {
  using Shape = BackwardShape<Config, /*kKeyValueKernel=*/true>;
  using Element = typename Config::Element;
  const GridTile at = grid_tile(params, x, Shape::kTileK, /*key_side=*/true);
  const kernel_int key_tile = at.tile;
  const DocumentBlock block_document = locate_document(params, at.document);
  const DocumentView document = block_document.view();
  const kernel_int j0 = key_tile * Shape::kTileK;
  if (j0 >= document.key_length) return false;
  const kernel_int columns = min_int(Shape::kTileK, document.key_length - j0);
  const kernel_int j1 = j0 + columns - 1;
  const int kv_head = int(blockIdx.z);
  const int group = params.attention.heads_q / params.attention.heads_kv;
  const VisitingQueryTiles<Mask> visiting(block_document, document, j0, j1, Shape::kTileQ);
  const kernel_int last_tile = visiting.last;
  auto tile_rows = [&](kernel_int tile) { return visiting.rows(tile); };

  // Work items are (query tile, query head of the group). With two query-side buffers each
  // item's Q, dO, LSE and delta load into one while the item before computes on the other;
  // with one they load once the item before is done with them, during its dQ product.
  kernel_int query_tile = visiting.next(visiting.first);
  int member = 0;
  int buffer = 0;
  load_key_tile<Config, Shape>(params, block_document, kv_head, j0, columns);
  if (query_tile <= last_tile) {
    load_query_tile<Config, Shape>(params, block_document, kv_head * group,
                                   query_tile * Shape::kTileQ, tile_rows(query_tile), buffer);
  }
  cp_async_commit();

  const int warp = warp_index();
  const int key_row0 = 16 * (warp % Shape::kKeyGroups);
  const int split = warp / Shape::kKeyGroups;
  float dk[Shape::kKeyColumns / 8][4];
  float dv[Shape::kValueColumns / 8][4];
  zero_fragments(dk);
  zero_fragments(dv);

  while (query_tile <= last_tile) {
    const kernel_int i0 = query_tile * Shape::kTileQ;
    const kernel_int rows = tile_rows(query_tile);
    const bool full = tile_is_full<Mask>(document, i0, i0 + rows - 1, j0, j1);
    const int head = kv_head * group + member;
    kernel_int next_tile;
    int next_member;
    visiting.next_item(query_tile, member, group, next_tile, next_member);
    cp_async_wait<0>();
    // This item's tiles have landed, and every warp is done with the other buffer, P and dS.
    sync_threads();
    if (Shape::kQueryBuffers == 2 && next_tile <= last_tile) {
      load_query_tile<Config, Shape>(params, block_document, kv_head * group + next_member,
                                     next_tile * Shape::kTileQ, tile_rows(next_tile),
                                     buffer ^ 1);
      cp_async_commit();
    }
    score_gradients<Config, Shape, Mask, true>(params, document, head, i0, j0, columns, full,
                                               buffer, [] {});
    sync_threads();  // P and dS of every warp are in shared memory
    const uint32 tiles = uint32(buffer) * Shape::kQueryBufferBytes;
    warp_gemm<Element, typename Shape::ScoreTile, kTransposed,
              typename Shape::OutputGradientTile, kTransposed, Shape::kTileQ,
              Shape::kValueColumns / 8>(dv, Shape::kProbabilities, key_row0,
                                        tiles + Shape::kOutputGradient,
                                        split * Shape::kValueColumns);
    warp_gemm<Element, typename Shape::ScoreTile, kTransposed, typename Shape::QueryTile,
              kTransposed, Shape::kTileQ, Shape::kKeyColumns / 8>(
        dk, Shape::kScoreGradients, key_row0, tiles + Shape::kQuery, split * Shape::kKeyColumns);
    if (Shape::kQueryBuffers == 1 && next_tile <= last_tile) {
      // Every warp is done with this item's Q, dO, LSE and delta (dQ below reads dS and K):
      // the next item's copies start now and overlap the dQ product and its atomics.
      sync_threads();
      load_query_tile<Config, Shape>(params, block_document, kv_head * group + next_member,
                                     next_tile * Shape::kTileQ, tile_rows(next_tile), buffer);
      cp_async_commit();
    }
    if (!params.deterministic) {
      add_query_gradient<Config, Shape>(params, block_document, head, i0, rows);
    }
    query_tile = next_tile;
    member = next_member;
    if (Shape::kQueryBuffers == 2) buffer ^= 1;
  }
  cp_async_wait<0>();  // the K, V copies when no query tile reached the key tile

  // Keys nobody attends hold exact zeros here (every P and dS for them was 0).
  const kernel_int first_key = block_document.key_start + j0;
  const bool accumulate = params.attention.accumulate != 0;
  store_fragments<Element>(params.attention.dk, block_document.batch, first_key, kv_head,
                           key_row0, split * Shape::kKeyColumns, columns, dk,
                           params.attention.scale, accumulate);
  store_fragments<Element>(params.attention.dv, block_document.batch, first_key, kv_head,
                           key_row0, split * Shape::kValueColumns, columns, dv, 1.0f,
                           accumulate);
  return true;
}

// The sm_90a key/value kernel (attention_backward_wgmma.cuh).
template <typename Config, typename Mask>
ATTNCC_DEVICE bool backward_key_value_wgmma(const CudaAttentionParams& params, kernel_int x);

/// The key/value kernel of the Config's instruction: warpgroup MMAs when the lowering chose them
/// (Config::kBackwardWgmma, sm_90a), else mma.sync.
template <typename Config, typename Mask>
ATTNCC_DEVICE bool backward_key_value(const CudaAttentionParams& params, kernel_int x) {
  if constexpr (Config::kBackwardWgmma) {
    return backward_key_value_wgmma<Config, Mask>(params, x);
  } else {
    return backward_key_value_mma_sync<Config, Mask>(params, x);
  }
}

/// Deterministic mode on mma.sync. Invariant: dq = sum over visited key tiles of dS K
/// (unscaled).
template <typename Config, typename Mask>
ATTNCC_DEVICE bool backward_query_mma_sync(const CudaAttentionParams& params, kernel_int x) {
  using Shape = BackwardShape<Config, /*kKeyValueKernel=*/false>;
  using Element = typename Config::Element;
  if (!params.deterministic) return false;
  const GridTile at = grid_tile(params, x, Shape::kTileQ, /*key_side=*/false);
  const DocumentBlock block_document = locate_document(params, at.document);
  const DocumentView document = block_document.view();
  const kernel_int i0 = at.tile * Shape::kTileQ;
  if (i0 >= document.query_length) return false;
  const kernel_int rows = min_int(Shape::kTileQ, document.query_length - i0);
  const kernel_int i1 = i0 + rows - 1;
  const int head = int(blockIdx.z);
  const int kv_head = head / (params.attention.heads_q / params.attention.heads_kv);

  const int warp = warp_index();
  const int row0 = 16 * (warp % Shape::kQueryGroups);
  const int col0 = Shape::kQueryColumns * (warp / Shape::kQueryGroups);
  float dq[Shape::kQueryColumns / 8][4];
  zero_fragments(dq);

  TileRanges<Mask::kIntervalCount> visits =
      key_tiles_to_visit<Mask>(document, i0, i1, Shape::kTileK);
  if (!block_document.consistent) visits.count = 0;  // read no K, V: dQ = 0
  // One K and one V buffer, their copies overlapping the products that do not read them: V of
  // the next key tile loads during this one's dQ = dS K, K during the next one's dP = dO V^T.
  // In registers: the loop's cp.async asm clobbers memory, where `visits` lives.
  int range = 0;
  kernel_int key_tile = visits.count > 0 ? visits.first[0] : 0;
  kernel_int range_last = visits.count > 0 ? visits.last[0] : -1;
  auto load_keys = [&](kernel_int tile) {
    const kernel_int j0 = tile * Shape::kTileK;
    load_key_tile<Config, Shape, /*kLoadKeys=*/true, /*kLoadValues=*/false>(
        params, block_document, kv_head, j0, min_int(Shape::kTileK, document.key_length - j0));
  };
  auto load_values = [&](kernel_int tile) {
    const kernel_int j0 = tile * Shape::kTileK;
    load_key_tile<Config, Shape, /*kLoadKeys=*/false, /*kLoadValues=*/true>(
        params, block_document, kv_head, j0, min_int(Shape::kTileK, document.key_length - j0));
  };
  load_query_tile<Config, Shape>(params, block_document, head, i0, rows, 0);
  if (key_tile <= range_last) load_values(key_tile);
  cp_async_commit();
  cp_async_wait<0>();  // Q, dO and the first V (or, with no key tile, the Q, dO copies)
  sync_threads();
  if (key_tile <= range_last) {
    load_keys(key_tile);
    cp_async_commit();
  }
  while (key_tile <= range_last) {
    const kernel_int j0 = key_tile * Shape::kTileK;
    const kernel_int columns = min_int(Shape::kTileK, document.key_length - j0);
    const bool full = tile_is_full<Mask>(document, i0, i1, j0, j0 + columns - 1);
    score_gradients<Config, Shape, Mask, false>(params, document, head, i0, j0, columns, full,
                                                0, [] {
                                                  cp_async_wait<0>();
                                                  sync_threads();  // K landed for every warp
                                                });
    // dS of every warp is in shared memory, and every warp is done with V (dP).
    sync_threads();
    if (key_tile < range_last) {
      ++key_tile;
    } else if (range + 1 < visits.count) {
      ++range;
      key_tile = visits.first[range];
      range_last = visits.last[range];
    } else {
      range_last = key_tile - 1;  // no next tile: the loop ends after this one
    }
    const bool has_next = key_tile <= range_last;
    if (has_next) {
      load_values(key_tile);
      cp_async_commit();
    }
    warp_gemm<Element, typename Shape::ScoreTile, kRowMajor, typename Shape::KeyTile,
              kTransposed, Shape::kTileK, Shape::kQueryColumns / 8>(
        dq, Shape::kScoreGradients, row0, Shape::kKey, col0);
    cp_async_wait<0>();  // the next V
    sync_threads();      // every warp is done with K and dS; the next V landed for everyone
    if (has_next) {
      load_keys(key_tile);
      cp_async_commit();
    }
  }
  store_fragments<Element>(params.attention.dq, block_document.batch,
                           block_document.query_start + i0, head, row0, col0, rows, dq,
                           params.attention.scale, params.attention.accumulate != 0);
  return true;
}

// The sm_90a query kernel (attention_backward_wgmma.cuh).
template <typename Config, typename Mask>
ATTNCC_DEVICE bool backward_query_wgmma(const CudaAttentionParams& params, kernel_int x);

/// The deterministic mode's query kernel of the Config's instruction, as backward_key_value.
template <typename Config, typename Mask>
ATTNCC_DEVICE bool backward_query(const CudaAttentionParams& params, kernel_int x) {
  if constexpr (Config::kBackwardWgmma) {
    return backward_query_wgmma<Config, Mask>(params, x);
  } else {
    return backward_query_mma_sync<Config, Mask>(params, x);
  }
}

template <typename Config, typename Mask>
ATTNCC_DEVICE bool backward_convert_query(const CudaAttentionParams& params, kernel_int x) {
  using Element = typename Config::Element;
  if (params.deterministic) return false;
  const GridTile at = grid_tile(params, x, kRowsPerElementwiseBlock, /*key_side=*/false);
  const DocumentBlock document = locate_document(params, at.document);
  const kernel_int i0 = at.tile * kRowsPerElementwiseBlock;
  if (i0 >= document.query_length) return false;
  const kernel_int rows = min_int(kRowsPerElementwiseBlock, document.query_length - i0);
  const int head = int(blockIdx.z);
  const kernel_int first_row = document.query_start + i0;
  const float scale = params.attention.scale;
  const bool accumulate = params.attention.accumulate != 0;
  // One 16-byte chunk of dq (8 elements) from two of the accumulator (8 floats) per step.
  constexpr int kChunks = Config::kHeadDim / 8;
  for (kernel_int index = threadIdx.x; index < rows * kChunks; index += kElementwiseThreads) {
    const kernel_int r = index / kChunks;
    const int c = int(index % kChunks);
    const Chunk16* accumulator = reinterpret_cast<const Chunk16*>(
        query_gradient_accumulator<Config>(params, document.batch, first_row + r, head));
    Chunk16* out = reinterpret_cast<Chunk16*>(
        tensor_row<Element>(params.attention.dq, document.batch, first_row + r, head));
    const Chunk16 low = accumulator[2 * c];
    const Chunk16 high = accumulator[2 * c + 1];
    float values[8];
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      values[e] = bits_to_float(low.words[e]) * scale;
      values[4 + e] = bits_to_float(high.words[e]) * scale;
    }
    if (accumulate) {
      const Chunk16 existing = out[c];
#pragma unroll
      for (int e = 0; e < 8; ++e) values[e] += chunk_element<Element>(existing, e);
    }
    Chunk16 result;
#pragma unroll
    for (int w = 0; w < 4; ++w) {
      result.words[w] = pack_pair<Element>(values[2 * w], values[2 * w + 1]);
    }
    out[c] = result;
  }
  return true;
}

}  // namespace attncc::cuda
