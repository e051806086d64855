// The backward key/value kernel on sm_90a warpgroup MMAs (wgmma, ptx.h): FlashAttention-3's dK/dV
// loop, run instead of backward_key_value_mma_sync when Config::kBackwardWgmma (launch_shape.h's
// kWarpgroupBackwardKeyValueShape). Same grid, same contract: dK, dV of one 128-key tile over
// every query tile and GQA query head reaching it; dQ += dS K by fp32 atomics into the
// accumulator (atomic mode).
//
// Warpgroup w (warps 4w..4w+3) owns keys [64w, 64w + 64) of the tile. The keys are the MMAs' M
// side, so each step computes the transposed products
//   S^T = K Q^T, dP^T = V dO^T      (ss: K, V, Q, dO all K-major in shared memory)
// and the element-wise P^T, dS^T land in the accumulator layout of rows = keys, which is the A
// fragment layout of the next products, taken from registers:
//   dV += P^T dO, dK += dS^T Q      (rs: dO and Q N-major)
// dS^T also goes to shared memory as [key][query], from where dQ = dS K reads it M-major (ss,
// both operands transposed): at d128 warpgroup w takes dQ's columns [64w, 64w + 64) over all 128
// keys, at d64 (one 64-column page) its own 64 keys over every column, both warpgroups adding
// to the accumulator.
//
// The deterministic mode's query kernel, backward_query_wgmma (kWarpgroupBackwardQueryShape),
// runs the forward's orientation instead: warpgroup w owns query rows [64w, 64w + 64) of a
// 128-row tile and, per 64-key tile, computes S = Q K^T and dP = dO V^T (ss, K-major), P and dS
// in the accumulators, and dQ += dS K with dS from registers (rs, K N-major).
#pragma once

#include "cuda/attention_backward.cuh"

namespace attncc::cuda {

/// Tiles and shared-memory map of the wgmma key/value kernel (byte offsets, every tile a
/// multiple of 1024 bytes): two query-side buffers (Q and dO tiles; buffer b at b *
/// kQueryBufferBytes), K, V, dS^T as a [key][query] 16-bit tile, then per buffer the query
/// rows' LSE and delta (b * kStatisticsBufferBytes further). The names are those
/// load_query_tile and load_key_tile read.
template <typename Config>
struct WarpgroupBackwardShape {
  static constexpr int kHeadDim = Config::kHeadDim;
  static constexpr int kHeadDimV = Config::kHeadDimV;
  static constexpr TileShape kTile = kWarpgroupBackwardKeyValueShape;
  static constexpr int kTileQ = kTile.tile_q;
  static constexpr int kTileK = kTile.tile_k;
  static constexpr int kThreads = 32 * kTile.warps;
  static_assert(Config::kBackwardKeyValueTileQ == kTileQ &&
                    Config::kBackwardKeyValueTileK == kTileK &&
                    Config::kBackwardThreads == kThreads,
                "the generated Config must use launch_shape.h's wgmma backward tiles");
  static_assert(kTileQ == 64 && kTileK == 128 && kThreads == 256,
                "two warpgroups of 64 keys over 64-row query tiles");
  static_assert(backward_warpgroup_mma_fits(kHeadDim, kHeadDimV, Config::kSoftcap),
                "head dims 64 and 128, softcap at 64 only (launch_shape.h)");

  using QueryTile = SharedTile<kTileQ, kHeadDim>;
  using OutputGradientTile = SharedTile<kTileQ, kHeadDimV>;
  using KeyTile = SharedTile<kTileK, kHeadDim>;
  using ValueTile = SharedTile<kTileK, kHeadDimV>;
  using ScoreGradientTile = SharedTile<kTileK, kTileQ>;  // dS^T, [key][query]

  static constexpr int kQueryBuffers = 2;
  static constexpr uint32 kQuery = 0;
  static constexpr uint32 kOutputGradient = kQuery + QueryTile::kBytes;
  static constexpr uint32 kQueryBufferBytes = QueryTile::kBytes + OutputGradientTile::kBytes;
  static constexpr uint32 kKey = uint32(kQueryBuffers) * kQueryBufferBytes;
  static constexpr uint32 kValue = kKey + KeyTile::kBytes;
  static constexpr uint32 kScoreGradients = kValue + ValueTile::kBytes;
  static constexpr uint32 kLse = kScoreGradients + ScoreGradientTile::kBytes;
  static constexpr uint32 kDelta = kLse + 4u * kTileQ;
  static constexpr uint32 kStatisticsBufferBytes = 8u * kTileQ;
  static_assert(kLse + uint32(kQueryBuffers) * kStatisticsBufferBytes ==
                    warpgroup_backward_key_value_shared_bytes(kHeadDim, kHeadDimV),
                "launch_shape.h's warpgroup_backward_key_value_shared_bytes must match this map");
  static_assert(kOutputGradient % 1024 == 0 && kKey % 1024 == 0 && kValue % 1024 == 0 &&
                    kScoreGradients % 1024 == 0,
                "swizzled tiles need 1024-byte bases");

  // dQ = dS K per warpgroup: at d128 a 64-column page over every key, at d64 every column over
  // the warpgroup's own keys.
  static constexpr bool kQueryGradientByColumns = kHeadDim == 128;
  static constexpr int kQueryGradientKeys = kQueryGradientByColumns ? kTileK : kTileK / 2;
};

/// accumulator (64 rows x 8 kBlocks columns) += A B over 16 kSteps rows of B: A the fp32
/// `source` (accumulators: P^T or dS^T in the key/value kernel, dS in the query kernel) packed
/// into `fragments`, which must stay unchanged until the wait that retires the product; B the
/// N-major [16 kSteps][column] tile at `b_tile` (dO, Q or K). Issued and committed, not waited
/// for. (A function, not a lambda in the kernel: a lambda templated on the accumulator's extent
/// crashed NVRTC 13.0.)
template <typename Element, int kBlocks, int kQueryBlocks, int kSteps>
ATTNCC_DEVICE void issue_gradient_product(float (&accumulator)[kBlocks][4],
                                          const float (&source)[kQueryBlocks][4],
                                          uint32 (&fragments)[kSteps][4], uint32 b_tile) {
  static_assert(kQueryBlocks == 2 * kSteps, "two n8 blocks per k16 step");
#pragma unroll
  for (int q = 0; q < kSteps; ++q) pack_p_fragment<Element>(source, q, fragments[q]);
  wgmma_fence();
  wgmma_n_major_product<Element>(accumulator, fragments, b_tile, uint32(16 * kSteps) * 128u);
  wgmma_commit();
}

/// Invariants over the query tiles and heads processed so far: dv = sum P^T dO, dk = sum dS^T Q
/// (unscaled), warpgroup w holding keys [64w, 64w + 64) x every column in fp32 wgmma
/// accumulators (warp 4w + q: keys 64w + 16q + [0, 16)).
template <typename Config, typename Mask>
ATTNCC_DEVICE bool backward_key_value_wgmma(const CudaAttentionParams& params, kernel_int x) {
  static_assert(kWgmmaAvailable, "Config::kBackwardWgmma needs an sm_90a target");
  using Shape = WarpgroupBackwardShape<Config>;
  using Element = typename Config::Element;
  constexpr int kHeadDim = Shape::kHeadDim;
  constexpr int kHeadDimV = Shape::kHeadDimV;
  constexpr int kTileQ = Shape::kTileQ;
  constexpr int kTileK = Shape::kTileK;
  constexpr int kQueryBlocks = kTileQ / 8;  // n8 blocks of S^T, dP^T and dQ
  constexpr int kQuerySteps = kTileQ / 16;  // k16 steps of dV, dK
  const GridTile at = grid_tile(params, x, kTileK, /*key_side=*/true);
  const DocumentBlock block_document = locate_document(params, at.document);
  const DocumentView document = block_document.view();
  const kernel_int j0 = at.tile * kTileK;
  if (j0 >= document.key_length) return false;
  const kernel_int columns = min_int(kTileK, document.key_length - j0);
  const kernel_int j1 = j0 + columns - 1;
  const int kv_head = int(blockIdx.z);
  const int group = params.attention.heads_q / params.attention.heads_kv;
  const VisitingQueryTiles<Mask> visiting(block_document, document, j0, j1, kTileQ);

  // Work items are (query tile, query head of the group); each item's Q, dO, LSE and delta
  // load into one buffer while the item before computes on the other.
  kernel_int query_tile = visiting.next(visiting.first);
  int member = 0;
  int buffer = 0;
  load_key_tile<Config, Shape>(params, block_document, kv_head, j0, columns);
  if (query_tile <= visiting.last) {
    load_query_tile<Config, Shape>(params, block_document, kv_head * group, query_tile * kTileQ,
                                   visiting.rows(query_tile), buffer);
  }
  cp_async_commit();

  const int warp = warp_index();
  const int lane = lane_index();
  const int g = lane >> 2;
  const int t = lane & 3;
  const int warpgroup = warp / 4;
  const int key_row0 = 64 * warpgroup + 16 * (warp % 4);  // the warp's 16 keys in the tile
  // The warpgroup's 64 key rows start 64 x 128 bytes into each page of K and V.
  const uint32 warpgroup_rows = uint32(warpgroup) * 64u * 128u;
  const float scale_log2 = params.attention.scale * kLog2E;
  float dk[kHeadDim / 8][4];
  float dv[kHeadDimV / 8][4];
  zero_fragments(dk);
  zero_fragments(dv);

  while (query_tile <= visiting.last) {
    const kernel_int i0 = query_tile * kTileQ;
    const kernel_int rows = visiting.rows(query_tile);
    const bool full = tile_is_full<Mask>(document, i0, i0 + rows - 1, j0, j1);
    const int head = kv_head * group + member;
    kernel_int next_tile;
    int next_member;
    visiting.next_item(query_tile, member, group, next_tile, next_member);
    cp_async_wait<0>();
    fence_proxy_async();  // the tensor cores read Q, dO (and K, V) directly
    // This item's tiles have landed, and every warpgroup's products of the item before, which
    // read the other buffer and dS^T, have retired (each waited for them).
    sync_threads();
    if (next_tile <= visiting.last) {
      load_query_tile<Config, Shape>(params, block_document, kv_head * group + next_member,
                                     next_tile * kTileQ, visiting.rows(next_tile), buffer ^ 1);
      cp_async_commit();
    }
    const uint32 tiles = uint32(buffer) * Shape::kQueryBufferBytes;
    const uint32 statistics = uint32(buffer) * Shape::kStatisticsBufferBytes;

    // S^T = K Q^T and dP^T = V dO^T: K-major operands, a k16 step 32 bytes into a 64-column
    // page (as the forward's S = Q K^T).
    float scores[kQueryBlocks][4];
    float gradients[kQueryBlocks][4];
    wgmma_fence();
    wgmma_k_major_product<Element, kHeadDim>(scores, Shape::kKey + warpgroup_rows,
                                             kTileK * 128u, tiles + Shape::kQuery,
                                             kTileQ * 128u);
    wgmma_commit();
    wgmma_k_major_product<Element, kHeadDimV>(gradients, Shape::kValue + warpgroup_rows,
                                              kTileK * 128u, tiles + Shape::kOutputGradient,
                                              kTileQ * 128u);
    wgmma_commit();

    // The lane's elements: keys key_row0 + g (+ 8 for e >= 2), queries 8n + 2t + (e & 1).
    // `row(query)` reads what the element needs of its query row (LSE, delta) once per row.
    [[maybe_unused]] const float slope =
        Config::kAlibi ? params.attention.alibi_slopes[head] : 0.0f;
    // ALiBi's j - i - (Lk - Lq) at this lane's first key and query 0 of the tile.
    [[maybe_unused]] const kernel_int alibi_base =
        j0 + key_row0 + g - i0 - (document.key_length - document.query_length);
    // On a PARTIAL tile (a FULL one of kTileK keys needs no test, as in the forward) the mask of
    // the lane's 32 elements becomes bits first, element (n, h, half) at bit 4n + 2h + half: a
    // rolled loop over the 16 query rows holds one row's ranges at a time, where the unrolled
    // element loop held them all (at 255 registers, window_br at d128 spilled 28 B).
    const bool masked_tile = !full || columns < kTileK;
    uint32 attended = ~0u;
    if (masked_tile) {
      attended = 0u;
#pragma unroll 1
      for (int r = 0; r < 2 * kQueryBlocks; ++r) {
        const kernel_int i = i0 + 8 * (r >> 1) + 2 * t + (r & 1);
        TileRowRanges<Mask> ranges{};
        ranges.set(document, i, j0, columns);
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          if (tile_attends<Mask>(ranges, document, i, j0, key_row0 + g + 8 * half, columns,
                                 full)) {
            attended |= 1u << (2 * r + half);
          }
        }
      }
    }
    const auto lane_elements = [&](auto row, auto element) {
#pragma unroll
      for (int n = 0; n < kQueryBlocks; ++n) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int query = 8 * n + 2 * t + h;
          const auto statistics_of_row = row(uint32(query));
#pragma unroll
          for (int half = 0; half < 2; ++half) {
            const bool masked = ((attended >> (4 * n + 2 * h + half)) & 1u) == 0u;
            element(n, 2 * half + h, masked, alibi_base + 8 * half - query, statistics_of_row);
          }
        }
      }
    };
    const auto lse_log2_of = [&](uint32 query) {
      return shared_load_f32(statistics + Shape::kLse + 4u * query) * kLog2E;
    };
    const auto delta_of = [&](uint32 query) {
      return shared_load_f32(statistics + Shape::kDelta + 4u * query);
    };

    // dV += P^T dO and dK += dS^T Q, A from registers (the accumulators packed, as the
    // forward's P), dO and Q N-major: 16 queries are 2048 bytes into each page, the leading
    // offset steps from one 64-column page to the next.
    uint32 probabilities[kQuerySteps][4];
    uint32 score_gradients[kQuerySteps][4];
    const auto issue_value_gradient = [&] {
      issue_gradient_product<Element>(dv, scores, probabilities, tiles + Shape::kOutputGradient);
    };
    const auto issue_key_gradient = [&] {
      issue_gradient_product<Element>(dk, gradients, score_gradients, tiles + Shape::kQuery);
    };

    if constexpr (!Config::kSoftcap) {
      // FA3's overlap inside the step: P^T from S^T while dP^T is still running, then dV's
      // product while dS^T is computed. The fp32 P stays in `scores` for dS.
      wgmma_wait<1>();
      wgmma_fence_operand(scores);
      lane_elements(lse_log2_of, [&](int n, int e, bool masked, kernel_int alibi_offset,
                                     float lse_log2) {
        scores[n][e] = probability_from_logit(
            logit_log2<Config>(scores[n][e], params.attention, scale_log2, slope, alibi_offset),
            masked, lse_log2);
      });
      issue_value_gradient();
      wgmma_wait<1>();  // dP^T; dV may still run
      wgmma_fence_operand(gradients);
      lane_elements(delta_of, [&](int n, int e, bool, kernel_int, float delta) {
        gradients[n][e] = gradient_from_probability(scores[n][e], gradients[n][e], delta);
      });
      issue_key_gradient();
    } else {
      // Softcap's chain rule needs each element's tanh next to its dP: one pass after both.
      wgmma_wait<0>();
      wgmma_fence_operand(scores);
      wgmma_fence_operand(gradients);
      struct RowStatistics {
        float lse_log2;
        float delta;
      };
      lane_elements(
          [&](uint32 query) { return RowStatistics{lse_log2_of(query), delta_of(query)}; },
          [&](int n, int e, bool masked, kernel_int alibi_offset, RowStatistics row) {
            score_to_gradient<Config>(scores[n][e], gradients[n][e], masked, row.lse_log2,
                                      row.delta, params.attention, scale_log2, slope,
                                      alibi_offset);
          });
      issue_value_gradient();
      issue_key_gradient();
    }

    if (!params.deterministic) {
      // dS^T to shared memory while those run: A fragment register r of step q holds key row g
      // (+ 8 for odd r), queries 16q + 8 (r >> 1) + 2t and the next.
#pragma unroll
      for (int q = 0; q < kQuerySteps; ++q) {
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          const uint32 offset =
              Shape::ScoreGradientTile::chunk_offset(key_row0 + g + 8 * (r & 1),
                                                     16 * q + 8 * (r >> 1)) +
              4u * uint32(t);
          shared_store_u32(Shape::kScoreGradients + offset, score_gradients[q][r]);
        }
      }
      fence_proxy_async();
      sync_threads();  // dS^T of both warpgroups is in shared memory

      // dQ = dS K: A = dS^T read M-major, B = K read N-major (16 keys are 2048 bytes into a
      // page of either).
      constexpr int kKeys = Shape::kQueryGradientKeys;
      const int first_key = Shape::kQueryGradientByColumns ? 0 : 64 * warpgroup;
      const int column0 = Shape::kQueryGradientByColumns ? 64 * warpgroup : 0;
      float dq[kQueryBlocks][4];
      wgmma_fence();
#pragma unroll
      for (int s = 0; s < kKeys / 16; ++s) {
        const uint32 key_rows = uint32(first_key + 16 * s) * 128u;
        wgmma_m64k16_ss_mn_major<Element, 64>(
            dq,
            wgmma_descriptor(Shape::kScoreGradients + key_rows, uint32(kTileK) * 128u, 1024u),
            wgmma_descriptor(Shape::kKey + uint32(column0 / 64) * kTileK * 128u + key_rows,
                             uint32(kTileK) * 128u, 1024u),
            s > 0);
      }
      wgmma_commit();
      wgmma_wait<0>();  // retires dV and dK too
      wgmma_fence_operand(dq);
      // Rows: the warp's 16 queries of the tile (warp % 4), as any m64 accumulator.
      const int query_row0 = 16 * (warp % 4);
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int r = query_row0 + g + 8 * half;
        if (r >= rows) continue;
        float* row = query_gradient_accumulator<Config>(params, block_document.batch,
                                                         block_document.query_start + i0 + r,
                                                         head) +
                     column0 + 2 * t;
#pragma unroll
        for (int n = 0; n < kQueryBlocks; ++n) {
          atomic_add(row + 8 * n, dq[n][2 * half]);
          atomic_add(row + 8 * n + 1, dq[n][2 * half + 1]);
        }
      }
    } else {
      wgmma_wait<0>();  // deterministic: backward_query computes dQ, nothing reads dS^T
    }
    wgmma_fence_operand(dk);
    wgmma_fence_operand(dv);
    wgmma_fence_operand(probabilities);  // read by the dV, dK products until the wait
    wgmma_fence_operand(score_gradients);
    query_tile = next_tile;
    member = next_member;
    buffer ^= 1;
  }
  cp_async_wait<0>();  // the K, V copies when no query tile reached the key tile

  // Keys nobody attends hold exact zeros here (every P and dS for them was 0).
  const kernel_int first_key = block_document.key_start + j0;
  const bool accumulate = params.attention.accumulate != 0;
  store_fragments<Element>(params.attention.dk, block_document.batch, first_key, kv_head,
                           key_row0, 0, columns, dk, params.attention.scale, accumulate);
  store_fragments<Element>(params.attention.dv, block_document.batch, first_key, kv_head,
                           key_row0, 0, columns, dv, 1.0f, accumulate);
  return true;
}

/// Shared-memory map of the wgmma query kernel (byte offsets, every tile a multiple of 1024
/// bytes): the Q and dO tiles, two stages of K and V (stage s kKeyStageBytes further), the query
/// rows' LSE and delta. The names are those load_query_tile and load_key_tile read.
template <typename Config>
struct WarpgroupBackwardQueryShape {
  static constexpr int kHeadDim = Config::kHeadDim;
  static constexpr int kHeadDimV = Config::kHeadDimV;
  static constexpr TileShape kTile = kWarpgroupBackwardQueryShape;
  static constexpr int kTileQ = kTile.tile_q;
  static constexpr int kTileK = kTile.tile_k;
  static constexpr int kThreads = 32 * kTile.warps;
  static_assert(Config::kBackwardQueryTileQ == kTileQ && Config::kBackwardQueryTileK == kTileK &&
                    Config::kBackwardThreads == kThreads,
                "the generated Config must use launch_shape.h's wgmma query tiles");
  static_assert(kTileQ == 128 && kTileK == 64 && kThreads == 256,
                "two warpgroups of 64 query rows over 64-key tiles");

  using QueryTile = SharedTile<kTileQ, kHeadDim>;
  using OutputGradientTile = SharedTile<kTileQ, kHeadDimV>;
  using KeyTile = SharedTile<kTileK, kHeadDim>;
  using ValueTile = SharedTile<kTileK, kHeadDimV>;

  static constexpr uint32 kQuery = 0;
  static constexpr uint32 kOutputGradient = kQuery + QueryTile::kBytes;
  static constexpr uint32 kQueryBufferBytes = QueryTile::kBytes + OutputGradientTile::kBytes;
  static constexpr uint32 kKey = kQueryBufferBytes;
  static constexpr uint32 kValue = kKey + KeyTile::kBytes;
  static constexpr uint32 kKeyStageBytes = KeyTile::kBytes + ValueTile::kBytes;
  static constexpr uint32 kLse = kKey + 2u * kKeyStageBytes;
  static constexpr uint32 kDelta = kLse + 4u * kTileQ;
  static constexpr uint32 kStatisticsBufferBytes = 8u * kTileQ;
  static_assert(kLse + kStatisticsBufferBytes ==
                    warpgroup_backward_query_shared_bytes(kHeadDim, kHeadDimV),
                "launch_shape.h's warpgroup_backward_query_shared_bytes must match this map");
  static_assert(kOutputGradient % 1024 == 0 && kKey % 1024 == 0 && kValue % 1024 == 0 &&
                    kKeyStageBytes % 1024 == 0,
                "swizzled tiles need 1024-byte bases");
};

/// Deterministic mode on warpgroup MMAs. Invariant: dq = sum over visited key tiles of dS K
/// (unscaled), warpgroup w holding query rows [64w, 64w + 64) x every column in fp32 wgmma
/// accumulators (warp 4w + q: rows 64w + 16q + [0, 16)).
template <typename Config, typename Mask>
ATTNCC_DEVICE bool backward_query_wgmma(const CudaAttentionParams& params, kernel_int x) {
  static_assert(kWgmmaAvailable, "Config::kBackwardWgmma needs an sm_90a target");
  using Shape = WarpgroupBackwardQueryShape<Config>;
  using Element = typename Config::Element;
  constexpr int kHeadDim = Shape::kHeadDim;
  constexpr int kHeadDimV = Shape::kHeadDimV;
  constexpr int kTileQ = Shape::kTileQ;
  constexpr int kTileK = Shape::kTileK;
  constexpr int kKeyBlocks = kTileK / 8;  // n8 blocks of S and dP
  constexpr int kKeySteps = kTileK / 16;  // k16 steps of dQ
  if (!params.deterministic) return false;
  const GridTile at = grid_tile(params, x, kTileQ, /*key_side=*/false);
  const DocumentBlock block_document = locate_document(params, at.document);
  const DocumentView document = block_document.view();
  const kernel_int i0 = at.tile * kTileQ;
  if (i0 >= document.query_length) return false;
  const kernel_int rows = min_int(kTileQ, document.query_length - i0);
  const kernel_int i1 = i0 + rows - 1;
  const int head = int(blockIdx.z);
  const int kv_head = head / (params.attention.heads_q / params.attention.heads_kv);

  const int warp = warp_index();
  const int g = lane_index() >> 2;
  const int warpgroup = warp / 4;
  const int row0 = 64 * warpgroup + 16 * (warp % 4);  // the warp's 16 query rows in the tile
  // The warpgroup's 64 query rows start 64 x 128 bytes into each page of Q and dO.
  const uint32 warpgroup_rows = uint32(warpgroup) * 64u * 128u;
  float dq[kHeadDim / 8][4];
  zero_fragments(dq);

  TileRanges<Mask::kIntervalCount> visits =
      key_tiles_to_visit<Mask>(document, i0, i1, kTileK);
  if (!block_document.consistent) visits.count = 0;  // read no K, V: dQ = 0
  int range = 0;
  kernel_int key_tile = visits.count > 0 ? visits.first[0] : 0;
  bool has_tile = visits.count > 0;
  const auto load_keys_and_values = [&](kernel_int tile, uint32 stage) {
    const kernel_int j0 = tile * kTileK;
    load_key_tile<Config, Shape>(params, block_document, kv_head, j0,
                                 min_int(kTileK, document.key_length - j0),
                                 stage * Shape::kKeyStageBytes);
  };
  load_query_tile<Config, Shape>(params, block_document, head, i0, rows, 0);
  if (has_tile) load_keys_and_values(key_tile, 0);
  cp_async_commit();

  // Key tile t lives in stage t % 2; tile t + 1 loads while t computes. A stage is reloaded
  // only after the barrier that follows every warpgroup's wait for the products of the step
  // that read it.
  uint32 stage = 0;
  while (has_tile) {
    const kernel_int j0 = key_tile * kTileK;
    const kernel_int columns = min_int(kTileK, document.key_length - j0);
    const bool full = tile_is_full<Mask>(document, i0, i1, j0, j0 + columns - 1);
    kernel_int next_tile = key_tile;
    has_tile = advance_key_tile(visits, range, next_tile);
    cp_async_wait<0>();
    fence_proxy_async();  // the tensor cores read Q, dO, K and V directly
    sync_threads();       // they landed for everyone; every warpgroup is done with step t - 1
    if (has_tile) {
      load_keys_and_values(next_tile, stage ^ 1u);
      cp_async_commit();
    }
    const uint32 keys = Shape::kKey + stage * Shape::kKeyStageBytes;
    const uint32 values = Shape::kValue + stage * Shape::kKeyStageBytes;

    // S = Q K^T and dP = dO V^T: K-major operands (as the forward's S), two groups.
    float scores[kKeyBlocks][4];
    float gradients[kKeyBlocks][4];
    wgmma_fence_operand(dq);
    wgmma_fence();
    wgmma_k_major_product<Element, kHeadDim>(scores, Shape::kQuery + warpgroup_rows,
                                             kTileQ * 128u, keys, kTileK * 128u);
    wgmma_commit();
    wgmma_k_major_product<Element, kHeadDimV>(gradients, Shape::kOutputGradient + warpgroup_rows,
                                              kTileQ * 128u, values, kTileK * 128u);
    wgmma_commit();
    float lse_log2[2];
    float delta[2];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const uint32 r = uint32(row0 + g + 8 * half);
      lse_log2[half] = shared_load_f32(Shape::kLse + 4u * r) * kLog2E;
      delta[half] = shared_load_f32(Shape::kDelta + 4u * r);
    }
    const kernel_int i_low = i0 + row0 + g;
    const bool masked_tile = !full || columns < kTileK;  // PARTIAL, or keys short of a tile
    if constexpr (!Config::kSoftcap) {
      // FA3's overlap inside the step, as in the key/value kernel: P from S while dP runs.
      const float scale_log2 = params.attention.scale * kLog2E;
      [[maybe_unused]] const float slope =
          Config::kAlibi ? params.attention.alibi_slopes[head] : 0.0f;
      wgmma_wait<1>();  // S is done; dP may still run
      wgmma_fence_operand(scores);
      for_each_fragment_element<Mask, kKeyBlocks>(
          document, i_low, j0, 0, columns, full, masked_tile,
          [&](int n, int e, bool masked, kernel_int alibi_offset) {
            scores[n][e] = probability_from_logit(
                logit_log2<Config>(scores[n][e], params.attention, scale_log2, slope,
                                   alibi_offset),
                masked, lse_log2[e >> 1]);
          });
      wgmma_wait<0>();
      wgmma_fence_operand(gradients);
#pragma unroll
      for (int n = 0; n < kKeyBlocks; ++n) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          gradients[n][e] = gradient_from_probability(scores[n][e], gradients[n][e], delta[e >> 1]);
        }
      }
    } else {
      // Softcap's chain rule needs each element's tanh next to its dP: one pass after both.
      wgmma_wait<0>();
      wgmma_fence_operand(scores);
      wgmma_fence_operand(gradients);
      fragment_score_gradients<Config, Mask>(scores, gradients, params.attention, document, head,
                                             i_low, j0, 0, columns, full, masked_tile, lse_log2,
                                             delta);
    }

    // dQ += dS K: dS packed into A fragments, K the N-major B (16 keys 2048 bytes into a page).
    uint32 score_gradients[kKeySteps][4];
    issue_gradient_product<Element>(dq, gradients, score_gradients, keys);
    wgmma_wait<0>();  // before the barrier after which this stage is reloaded
    wgmma_fence_operand(dq);
    wgmma_fence_operand(score_gradients);
    key_tile = next_tile;
    stage ^= 1u;
  }
  cp_async_wait<0>();  // the Q, dO copies when no key tile is visited

  store_fragments<Element>(params.attention.dq, block_document.batch,
                           block_document.query_start + i0, head, row0, 0, rows, dq,
                           params.attention.scale, params.attention.accumulate != 0);
  return true;
}

}  // namespace attncc::cuda
