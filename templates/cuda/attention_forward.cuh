// CUDA forward kernel (FlashAttention-2, KERNELS.md §3, §5, §7) and the padding fill. One block
// = (query tile, document, query head); warps split the query rows; Q, K, V live in swizzled
// shared memory (tile_copy.cuh), operands come by ldmatrix, products by mma.m16n8k16 with fp32
// accumulators; online softmax in exp2. Only the key tiles of the interval-form visit list
// (common/tile_iteration.h) are loaded; FULL tiles skip the per-element mask.
#pragma once

#include "common/tile_iteration.h"
#include "cuda/cuda_params.h"
#include "cuda/document.cuh"
#include "cuda/launch_shape.h"
#include "cuda/ptx.h"
#include "cuda/tile_copy.cuh"

namespace attncc::cuda {

constexpr float kLog2E = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

/// tanh through one ex2 (relative error ~1e-7 where tanh.approx has ~5e-4, which soft-capped
/// logits of magnitude 30-50 would turn into visible errors): 1 - 2 / (e^(2x) + 1), exact at
/// the saturated ends (e^(2x) = inf gives 1, 0 gives -1). The backward uses it too, so its
/// chain rule sees the same tanh as the forward.
ATTNCC_DEVICE float softcap_tanh(float x) {
  return 1.0f - 2.0f / (fast_exp2(x * (2.0f * kLog2E)) + 1.0f);
}

/// The logit of a raw score q.k in log2 units, before the mask: scale, then softcap
/// s = cap * tanh(s / cap), then ALiBi slope * (j - i - (Lk - Lq)) (the CPU template's and the
/// reference's order), times log2(e). Without score mods this is one multiply by
/// scale * log2(e) (KERNELS.md §5.2; multiplying before subtracting the max avoids the FFMA
/// residual of §8.3).
template <typename Config>
ATTNCC_DEVICE float logit_log2(float raw, const AttentionParams& attention, float scale_log2,
                               float alibi_slope, kernel_int alibi_offset) {
  if constexpr (!Config::kSoftcap && !Config::kAlibi) {
    (void)attention;
    (void)alibi_slope;
    (void)alibi_offset;
    return raw * scale_log2;
  } else {
    (void)scale_log2;
    float s = raw * attention.scale;
    if constexpr (Config::kSoftcap) s = attention.softcap * softcap_tanh(s / attention.softcap);
    if constexpr (Config::kAlibi) s += alibi_slope * float(alibi_offset);
    return s * kLog2E;
  }
}

/// Stores two adjacent 16-bit elements (column even, so the 4 bytes are aligned).
template <typename Element>
ATTNCC_DEVICE void store_pair(Element* destination, float low, float high) {
  *reinterpret_cast<uint32*>(destination) = pack_pair<Element>(low, high);
}

/// The A fragment of keys [16q, 16q + 16) of P (an m16 tile's S accumulators after the
/// softmax, as mma.m16n8k16 C fragments) in 16-bit elements: the C and A layouts line up
/// (KERNELS.md §5.4), for mma.sync and for wgmma's A from registers alike.
template <typename Element, int kNTiles>
ATTNCC_DEVICE void pack_p_fragment(const float (&s)[kNTiles][4], int q, uint32 (&a)[4]) {
  a[0] = pack_pair<Element>(s[2 * q][0], s[2 * q][1]);
  a[1] = pack_pair<Element>(s[2 * q][2], s[2 * q][3]);
  a[2] = pack_pair<Element>(s[2 * q + 1][0], s[2 * q + 1][1]);
  a[3] = pack_pair<Element>(s[2 * q + 1][2], s[2 * q + 1][3]);
}

/// D[64 x 8 kBlocks] (=, then +=) A B^T over kDepth columns, A and B K-major SharedTiles (both
/// 16-bit, [rows][kDepth]): A's 64 rows start at a_rows, B's at b_rows, each inside the first of
/// its 64-column pages, which are `a_page_bytes` / `b_page_bytes` apart; a k16 step is 32 bytes
/// into a page. Issued, neither fenced nor committed (the caller batches).
template <typename Element, int kDepth, int kBlocks>
ATTNCC_DEVICE void wgmma_k_major_product(float (&d)[kBlocks][4], uint32 a_rows,
                                         uint32 a_page_bytes, uint32 b_rows,
                                         uint32 b_page_bytes) {
#pragma unroll
  for (int kk = 0; kk < kDepth / 16; ++kk) {
    const uint32 page = uint32(kk / 4), step = uint32(kk % 4) * 32u;
    wgmma_m64k16_ss<Element, 8 * kBlocks>(
        d, wgmma_descriptor(a_rows + page * a_page_bytes + step, 16u, 1024u),
        wgmma_descriptor(b_rows + page * b_page_bytes + step, 16u, 1024u), kk > 0);
  }
}

/// D[64 x 8 kBlocks] += A B over 16 kSteps rows of B: A from registers (kSteps A fragments), B
/// an N-major SharedTile at `b_tile` ([16 kSteps rows][8 kBlocks columns], 16 rows 2048 bytes
/// into each 64-column page, pages `b_page_bytes` apart). Issued, neither fenced nor committed.
template <typename Element, int kSteps, int kBlocks>
ATTNCC_DEVICE void wgmma_n_major_product(float (&d)[kBlocks][4], const uint32 (&a)[kSteps][4],
                                         uint32 b_tile, uint32 b_page_bytes) {
#pragma unroll
  for (int q = 0; q < kSteps; ++q) {
    wgmma_m64k16_rs<Element, 8 * kBlocks>(
        d, a[q], wgmma_descriptor(b_tile + uint32(q) * 16u * 128u, b_page_bytes, 1024u));
  }
}

ATTNCC_DEVICE float* lse_address(float* base, const AttentionParams& attention, kernel_int batch,
                                 int head, kernel_int row) {
  return base + (batch * attention.heads_q + head) * attention.query_rows + row;
}

/// The forward's dynamic shared memory: the Q tile, then kForwardKeyStages K tiles and as many V
/// tiles (stage s of K at kKBase + s * KTile::kBytes). (Checked at class scope: launch_shape.h's
/// constexpr functions are host functions to nvcc.)
template <typename Config>
struct ForwardSharedLayout {
  using QTile = SharedTile<Config::kForwardTileQ, Config::kHeadDim>;
  using KTile = SharedTile<Config::kForwardTileK, Config::kHeadDim>;
  using VTile = SharedTile<Config::kForwardTileK, Config::kHeadDimV>;
  static constexpr uint32 kStages = uint32(Config::kForwardKeyStages);
  static constexpr uint32 kQBase = 0;
  static constexpr uint32 kKBase = kQBase + QTile::kBytes;
  static constexpr uint32 kVBase = kKBase + kStages * KTile::kBytes;
  static_assert(kVBase + kStages * VTile::kBytes ==
                    forward_shared_bytes(Config::kHeadDim, Config::kHeadDimV,
                                         Config::kForwardKeyStages),
                "the shared layout must match launch_shape.h");
  static_assert(kKBase % 1024 == 0 && kVBase % 1024 == 0, "swizzled tiles need 1024-byte bases");
};

/// Moves (range, key_tile) to the next key tile of the visit list; false past its end.
template <int kIntervals>
ATTNCC_DEVICE bool advance_key_tile(const TileRanges<kIntervals>& ranges, int& range,
                                    kernel_int& key_tile) {
  if (key_tile < ranges.last[range]) {
    ++key_tile;
    return true;
  }
  if (range + 1 < ranges.count) {
    ++range;
    key_tile = ranges.first[range];
    return true;
  }
  return false;
}

/// Forward of one (query tile counted from the document's end, document, query head blockIdx.z),
/// the tile and document of block x from grid_tile; false (nothing done) when the document has
/// no such tile (for_each_grid_x).
/// Per row r owned by a lane (rows g and g + 8 of each of the warp's m16 tiles), over the key
/// tiles visited so far: row_max = max logit in log2 units (-inf: none attended), row_sum = this
/// lane's part of sum exp2(x - row_max) (the quad's four parts add up at the end), acc_o = sum
/// exp2(x - row_max) * v over this lane's columns. Rows no key reaches end with row_sum = 0:
/// O = 0, LSE = -inf (DESIGN §2; FA2 writes +inf there, we follow the contract).
template <typename Config, typename Mask>
ATTNCC_DEVICE bool forward(const CudaAttentionParams& params, kernel_int x) {
  using Element = typename Config::Element;
  constexpr int kTileQ = Config::kForwardTileQ;
  constexpr int kTileK = Config::kForwardTileK;
  constexpr int kWarps = Config::kForwardWarps;
  constexpr int kThreads = Config::kForwardThreads;
  constexpr int kHeadDim = Config::kHeadDim;
  constexpr int kHeadDimV = Config::kHeadDimV;
  constexpr int kRowsPerWarp = kTileQ / kWarps;
  constexpr int kMTiles = kRowsPerWarp / 16;  // m16 tiles per warp
  constexpr int kNTiles = kTileK / 8;         // n8 tiles of S
  constexpr int kOTiles = kHeadDimV / 8;      // n8 tiles of O
  static_assert(kRowsPerWarp % 16 == 0 && kTileK % 16 == 0, "tiles must be whole mma tiles");
  static_assert(kThreads == 32 * kWarps, "one warp is 32 threads");
  // Warpgroup MMAs (sm_90a; the emulation runs them too): each warp's 16 rows are its quarter
  // of its warpgroup's 64, so the fragments below are the mma.sync ones with kMTiles = 1.
  constexpr bool kWgmma = Config::kForwardWgmma;
  static_assert(!kWgmma || kWgmmaAvailable, "Config::kForwardWgmma needs an sm_90a target");
  // Two K/V stages: the wgmma forward's overlapped schedule (below); one: the others.
  constexpr bool kWgmmaOverlap = Config::kForwardKeyStages == 2;
  static_assert(Config::kForwardKeyStages == 1 || (kWgmma && Config::kForwardKeyStages == 2),
                "two K/V stages are the overlapped wgmma forward's (launch_shape.h)");
  static_assert(!kWgmma || (kMTiles == 1 && kWarps % 4 == 0 && kTileK == 64 &&
                            kHeadDim % 64 == 0 && (kHeadDimV == 64 || kHeadDimV == 128)),
                "the wgmma forward takes 16 rows per warp, 64-key tiles and head dims of 64 "
                "or 128 (launch_shape.h: forward_warpgroup_mma_fits)");
  using Layout = ForwardSharedLayout<Config>;
  using QTile = typename Layout::QTile;
  using KTile = typename Layout::KTile;
  using VTile = typename Layout::VTile;
  constexpr uint32 kQBase = Layout::kQBase;
  constexpr uint32 kKBase = Layout::kKBase;
  constexpr uint32 kVBase = Layout::kVBase;

  const AttentionParams& attention = params.attention;
  const GridTile at = grid_tile(params, x, kTileQ, /*key_side=*/false);
  const kernel_int tile = at.tile;
  const DocumentBlock document = locate_document(params, at.document);
  const kernel_int tiles = (document.query_length + kTileQ - 1) / kTileQ;
  if (tile >= tiles) return false;  // past the document (or the row: grid_tile)
  // The document's last query tile first: under causal, prefix-LM and bottom-right masks the
  // rows further down attend more keys, so the longest blocks start first and the grid ends on
  // short ones (FA3 schedules longest-first too); the result of any mask is unchanged.
  const kernel_int i0 = (tiles - 1 - tile) * kTileQ;
  // An inconsistent document has no keys: its rows get O = 0, LSE = -inf, nothing is read.
  const DocumentView view{document.query_length, document.consistent ? document.key_length : 0,
                          document.parameters};
  const kernel_int rows = min_int(kTileQ, view.query_length - i0);
  const kernel_int i1 = i0 + rows - 1;
  const int head = int(blockIdx.z);
  const int kv_head = head / (attention.heads_q / attention.heads_kv);
  const int thread = int(threadIdx.x);
  const int lane = lane_index();
  const int warp_row0 = warp_index() * kRowsPerWarp;
  const int quad_row = lane >> 2;        // g: rows g and g + 8 of an m16 tile
  const int quad_column = 2 * (lane & 3);  // 2t: columns 2t, 2t + 1 of an n8 tile
  const float minus_infinity = negative_infinity();
  const float scale_log2 = attention.scale * kLog2E;
  const float alibi_slope = Config::kAlibi ? attention.alibi_slopes[head] : 0.0f;

  float acc_o[kMTiles][kOTiles][4];
  float row_max[kMTiles][2];
  float row_sum[kMTiles][2];
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      row_max[mt][half] = minus_infinity;
      row_sum[mt][half] = 0.0f;
    }
#pragma unroll
    for (int ot = 0; ot < kOTiles; ++ot) {
#pragma unroll
      for (int c = 0; c < 4; ++c) acc_o[mt][ot][c] = 0.0f;
    }
  }

  const TileRanges<Mask::kIntervalCount> ranges =
      key_tiles_to_visit<Mask>(view, i0, i1, kTileK);

  // Logits of an S tile in log2 units; -inf where masked or past the document end. A FULL tile
  // of kTileK keys needs no per-element test.
  auto mask_scores = [&](float (&acc_s)[kMTiles][kNTiles][4], kernel_int j0, kernel_int columns) {
    const bool full = tile_is_full<Mask>(view, i0, i1, j0, j0 + columns - 1);
    const bool masked_tile = !full || columns < kTileK;
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const kernel_int i = i0 + warp_row0 + 16 * mt + quad_row + 8 * half;
        const kernel_int alibi_base = j0 - i - (view.key_length - view.query_length);
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt) {
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            float& score = acc_s[mt][nt][2 * half + e];
            score = logit_log2<Config>(score, attention, scale_log2, alibi_slope,
                                       alibi_base + 8 * nt + quad_column + e);
          }
        }
        if (masked_tile) {
          TileRowRanges<Mask> row_ranges;
          row_ranges.set(view, i, j0, columns);
#pragma unroll
          for (int nt = 0; nt < kNTiles; ++nt) {
#pragma unroll
            for (int e = 0; e < 2; ++e) {
              if (!tile_attends<Mask>(row_ranges, view, i, j0, 8 * nt + quad_column + e,
                                      columns, full)) {
                acc_s[mt][nt][2 * half + e] = minus_infinity;
              }
            }
          }
        }
      }
    }
  };

  // O's row `half` of m16 tile `mt` (this lane's columns) times a softmax factor alpha.
  auto rescale_o_row = [&](int mt, int half, float alpha) {
#pragma unroll
    for (int ot = 0; ot < kOTiles; ++ot) {
      acc_o[mt][ot][2 * half] *= alpha;
      acc_o[mt][ot][2 * half + 1] *= alpha;
    }
  };

  // Online softmax (KERNELS.md §5.3, §5.6) of an S tile of logits: the quad holds a row, so
  // xor 1 and 2 reduce it. Turns the logits into P in place, updates row_max and row_sum, and
  // gives per row the factor alpha by which O must be scaled before this tile's P V is added;
  // `rescale_now` (a constant at each call) scales O at once, row by row, as FA2 does: holding
  // every alpha until after the loop spilled 20 B on sm_80 (strided_opaque d64).
  auto online_softmax = [&](float (&acc_s)[kMTiles][kNTiles][4], float (&alpha)[kMTiles][2],
                            bool rescale_now) {
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        // max_nan (ptx.h): a NaN score must reach O and LSE, as on the CPU backend, instead of
        // vanishing from the row max as it would with max.f32.
        float tile_max = minus_infinity;
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt) {
          tile_max = max_nan(tile_max, acc_s[mt][nt][2 * half]);
          tile_max = max_nan(tile_max, acc_s[mt][nt][2 * half + 1]);
        }
        tile_max = max_nan(tile_max, shfl_xor(tile_max, 1));
        tile_max = max_nan(tile_max, shfl_xor(tile_max, 2));
        const float new_max = max_nan(row_max[mt][half], tile_max);
        // Nothing attended yet: subtract 0, not -inf (-inf - -inf is NaN); p and alpha are 0.
        const float subtrahend = new_max == minus_infinity ? 0.0f : new_max;
        alpha[mt][half] = fast_exp2(row_max[mt][half] - subtrahend);
        row_max[mt][half] = new_max;
        float sum = 0.0f;
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt) {
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            float& score = acc_s[mt][nt][2 * half + e];
            score = fast_exp2(score - subtrahend);
            sum += score;
          }
        }
        row_sum[mt][half] = row_sum[mt][half] * alpha[mt][half] + sum;
        if (rescale_now) rescale_o_row(mt, half, alpha[mt][half]);
      }
    }
  };
  auto rescale_o = [&](const float (&alpha)[kMTiles][2]) {
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
      for (int half = 0; half < 2; ++half) rescale_o_row(mt, half, alpha[mt][half]);
    }
  };

  // The wgmma products (sm_90a, and the emulation). S = Q K^T: Q and K are K-major
  // 128B-swizzled operands (tile_copy.cuh); a k16 step is 32 bytes into a 64-column page, the
  // warpgroup's 64 rows start 64 x 128 bytes into Q's page. Issued, not waited for.
  // (Both only exist in the wgmma forward: the instructions are instantiated for its shapes.)
  auto issue_scores_wgmma = [&](float (&acc_s)[kMTiles][kNTiles][4], uint32 k_base) {
    if constexpr (kWgmma) {
      const uint32 q_rows = uint32(warp_index() / 4) * 64u * 128u;
      wgmma_k_major_product<Element, kHeadDim>(acc_s[0], kQBase + q_rows,
                                               QTile::kRowCount * 128u, k_base,
                                               KTile::kRowCount * 128u);
      wgmma_commit();
    }
  };
  // O += P V: V is the N-major B operand, 16 keys are 2048 bytes into each page, the leading
  // offset steps from one 64-column page of V to the next. P comes from registers (the S
  // accumulators packed: pack_p_fragment). Issued, not waited for.
  auto issue_values_wgmma = [&](const uint32 (&p)[kTileK / 16][4], uint32 v_base) {
    if constexpr (kWgmma) {
      wgmma_n_major_product<Element>(acc_o[0], p, v_base, VTile::kRowCount * 128u);
      wgmma_commit();
    }
  };

  if (ranges.count > 0) {
    const kernel_int batch = document.batch;
    const kernel_int key_start = document.key_start;
    int range = 0;
    kernel_int key_tile = ranges.first[0];
    load_tile_async<kTileQ, kHeadDim, kThreads, Element>(
        kQBase, attention.q, batch, document.query_start + i0, head, rows, thread);
    load_tile_async<kTileK, kHeadDim, kThreads, Element>(
        kKBase, attention.k, batch, key_start + key_tile * kTileK, kv_head,
        min_int(kTileK, view.key_length - key_tile * kTileK), thread);
    cp_async_commit();
    if constexpr (kWgmmaOverlap) {
      // FA3's intra-warpgroup overlap: key tile t's scores S_t = Q K_t^T are issued together
      // with tile t - 1's O += P_{t-1} V_{t-1}, and S_t's mask and softmax run while the
      // tensor cores do that product. So K and V have two stages each: tile t's K and V live
      // in stage t % 2, and the loads issued at the top of step t (K_{t+1}, V_t) land while
      // step t computes. A stage is reloaded only after the barrier that follows every
      // warpgroup's wait for the products that read it (S_{t-1}, P_{t-2} V_{t-2}).
      uint32 p[kTileK / 16][4] = {};  // P_{t-1}: none before the first tile
      uint32 stage = 0;
      bool first = true;
      kernel_int next_tile = key_tile;  // (range, next_tile): the visit list one tile ahead
      bool has_next = advance_key_tile(ranges, range, next_tile);
      for (;;) {
        const kernel_int j0 = key_tile * kTileK;
        const kernel_int columns = min_int(kTileK, view.key_length - j0);
        cp_async_wait<0>();
        fence_proxy_async();  // the tensor cores read Q, K_t and V_{t-1} directly
        sync_threads();       // they landed for everyone; every warpgroup is done with step t-1
        if (has_next) {
          load_tile_async<kTileK, kHeadDim, kThreads, Element>(
              kKBase + (stage ^ 1u) * KTile::kBytes, attention.k, batch,
              key_start + next_tile * kTileK, kv_head,
              min_int(kTileK, view.key_length - next_tile * kTileK), thread);
        }
        load_tile_async<kTileK, kHeadDimV, kThreads, Element>(
            kVBase + stage * VTile::kBytes, attention.v, batch, key_start + j0, kv_head, columns,
            thread);
        cp_async_commit();

        float acc_s[kMTiles][kNTiles][4];
        float alpha[kMTiles][2];
        // Pins acc_o's rescale and the P fragments before the fence (as CUTLASS's
        // warpgroup_fence_operand): register writes the compiler sank past it would make
        // ptxas add a warpgroup.arrive. S needs no zeros: its first k step does not accumulate.
        wgmma_fence_operand(acc_o[0]);
        wgmma_fence_operand(p);
        wgmma_fence();
        issue_scores_wgmma(acc_s, kKBase + stage * KTile::kBytes);
        if (first) {
          wgmma_wait<0>();
        } else {
          // A fence of its own: ptxas injects one (C7519) where a branch separates the products
          // from the fence above.
          wgmma_fence();
          issue_values_wgmma(p, kVBase + (stage ^ 1u) * VTile::kBytes);
          wgmma_wait<1>();  // S_t is done; P_{t-1} V_{t-1} may still run
        }
        wgmma_fence_operand(acc_s[0]);
        mask_scores(acc_s, j0, columns);
        online_softmax(acc_s, alpha, /*rescale_now=*/false);  // O is in flight
        wgmma_wait<0>();
        wgmma_fence_operand(acc_o[0]);
        wgmma_fence_operand(p);  // read by P_{t-1} V_{t-1} until here
        rescale_o(alpha);
#pragma unroll
        for (int q = 0; q < kTileK / 16; ++q) pack_p_fragment<Element>(acc_s[0], q, p[q]);
        if (!has_next) break;
        key_tile = next_tile;
        has_next = advance_key_tile(ranges, range, next_tile);
        stage ^= 1u;
        first = false;
      }
      // The last tile's O += P V.
      cp_async_wait<0>();
      fence_proxy_async();
      sync_threads();
      wgmma_fence_operand(acc_o[0]);
      wgmma_fence();
      issue_values_wgmma(p, kVBase + stage * VTile::kBytes);
      wgmma_wait<0>();
      wgmma_fence_operand(acc_o[0]);
    } else {
      for (;;) {
        const kernel_int j0 = key_tile * kTileK;
        const kernel_int columns = min_int(kTileK, view.key_length - j0);
        cp_async_wait<0>();
        if constexpr (kWgmma) fence_proxy_async();  // the tensor cores read K and Q directly
        sync_threads();  // K (and Q) landed for everyone; every warp is done with the old V
        load_tile_async<kTileK, kHeadDimV, kThreads, Element>(kVBase, attention.v, batch,
                                                              key_start + j0, kv_head, columns,
                                                              thread);
        cp_async_commit();

        // S = Q K^T for the warp's rows, raw (unscaled) scores in fp32.
        float acc_s[kMTiles][kNTiles][4];
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
          for (int nt = 0; nt < kNTiles; ++nt) {
#pragma unroll
            for (int c = 0; c < 4; ++c) acc_s[mt][nt][c] = 0.0f;
          }
        }
        if constexpr (kWgmma) {
          // Pins the zeroed accumulators before the fence (as CUTLASS's
          // warpgroup_fence_operand): register writes the compiler sank past it would make
          // ptxas add a warpgroup.arrive.
          wgmma_fence_operand(acc_s[0]);
          wgmma_fence();
          issue_scores_wgmma(acc_s, kKBase);
          wgmma_wait<0>();
          wgmma_fence_operand(acc_s[0]);
        } else {
          // Q and K blocks from the lane's addresses (tile_copy.cuh: an XOR and immediates per
          // block, set up per key tile from an opaque lane so that nothing is held across
          // tiles), where at most 64 O accumulators per thread and no softcap or ALiBi leave
          // registers for them: with 128 (4 warps at d128) the addresses spilled 88-108 bytes,
          // and softcap with ALiBi at d64 16 bytes (sm_90a), so those recompute each offset.
          constexpr bool kLaneAddresses =
              kMTiles * kOTiles <= 16 && !Config::kSoftcap && !Config::kAlibi;
          RowLaneAddresses<QTile> q_lanes{};
          RowLaneAddresses<KTile> k_lanes{};
          if constexpr (kLaneAddresses) {
            const int step_lane = int(opaque(uint32(lane)));
            q_lanes = row_lane_addresses<QTile>(kQBase, warp_row0 + (step_lane & 15),
                                                8 * (step_lane >> 4));
            k_lanes = row_lane_addresses<KTile>(kKBase, (step_lane & 7) + 8 * (step_lane >> 4),
                                                8 * ((step_lane >> 3) & 1));
          }
#pragma unroll
          for (int kk = 0; kk < kHeadDim / 16; ++kk) {
            uint32 a[kMTiles][4];
#pragma unroll
            for (int mt = 0; mt < kMTiles; ++mt) {
              ldmatrix_x4(a[mt], kLaneAddresses ? q_lanes.at(16 * mt, 16 * kk)
                                                : ldmatrix_a_offset<QTile>(
                                                      kQBase, warp_row0 + 16 * mt, 16 * kk, lane));
            }
#pragma unroll
            for (int np = 0; np < kNTiles / 2; ++np) {
              uint32 b[4];
              ldmatrix_x4(b, kLaneAddresses
                                 ? k_lanes.at(16 * np, 16 * kk)
                                 : ldmatrix_b_offset<KTile>(kKBase, 16 * np, 16 * kk, lane));
              const uint32 b_low[2] = {b[0], b[1]};
              const uint32 b_high[2] = {b[2], b[3]};
#pragma unroll
              for (int mt = 0; mt < kMTiles; ++mt) {
                mma_m16n8k16<Element>(acc_s[mt][2 * np], a[mt], b_low);
                mma_m16n8k16<Element>(acc_s[mt][2 * np + 1], a[mt], b_high);
              }
            }
          }
        }

        cp_async_wait<0>();
        if constexpr (kWgmma) fence_proxy_async();  // the tensor cores read V directly
        sync_threads();  // V landed for everyone; every warp is done with K
        // Advance the visit list and prefetch the next K while this tile's softmax and P V
        // run. The ranges stay in local memory (one cached load per tile): at d128 this loop
        // sits at 255 registers, and holding the range end in a register spilled accumulators
        // instead. (advance_key_tile's equivalent code spilled 20 B here on sm_80:
        // strided_opaque d64 sits at 254 registers.)
        bool has_next = true;
        if (key_tile < ranges.last[range]) {
          ++key_tile;
        } else if (range + 1 < ranges.count) {
          ++range;
          key_tile = ranges.first[range];
        } else {
          has_next = false;
        }
        if (has_next) {
          load_tile_async<kTileK, kHeadDim, kThreads, Element>(
              kKBase, attention.k, batch, key_start + key_tile * kTileK, kv_head,
              min_int(kTileK, view.key_length - key_tile * kTileK), thread);
          cp_async_commit();
        }

        float alpha[kMTiles][2];
        mask_scores(acc_s, j0, columns);
        online_softmax(acc_s, alpha, /*rescale_now=*/true);

        // O += P V: P goes from the S accumulators straight into A fragments (KERNELS.md §5.4).
        if constexpr (kWgmma) {
          // Every P fragment is packed before the fence: packed between the MMAs, ptxas inserts
          // a warpgroup.arrive before each (C7519).
          uint32 p[kTileK / 16][4];
#pragma unroll
          for (int q = 0; q < kTileK / 16; ++q) pack_p_fragment<Element>(acc_s[0], q, p[q]);
          wgmma_fence_operand(acc_o[0]);  // the alpha rescale stays before the fence
          wgmma_fence();                   // after the alpha rescale of acc_o and the P fragments
          issue_values_wgmma(p, kVBase);
          wgmma_wait<0>();
          wgmma_fence_operand(acc_o[0]);
        } else {
#pragma unroll
          for (int q = 0; q < kTileK / 16; ++q) {
            uint32 a[kMTiles][4];
#pragma unroll
            for (int mt = 0; mt < kMTiles; ++mt) pack_p_fragment<Element>(acc_s[mt], q, a[mt]);
#pragma unroll
            for (int dp = 0; dp < kHeadDimV / 16; ++dp) {
              uint32 b[4];
              ldmatrix_x4_trans(b, ldmatrix_a_offset<VTile>(kVBase, 16 * q, 16 * dp, lane));
              const uint32 b_low[2] = {b[0], b[1]};
              const uint32 b_high[2] = {b[2], b[3]};
#pragma unroll
              for (int mt = 0; mt < kMTiles; ++mt) {
                mma_m16n8k16<Element>(acc_o[mt][2 * dp], a[mt], b_low);
                mma_m16n8k16<Element>(acc_o[mt][2 * dp + 1], a[mt], b_high);
              }
            }
          }
        }
        if (!has_next) break;
      }
    }
  }

  // Epilogue: O = acc_o / l, LSE = ln 2 * (row_max + log2 l); l = 0 (no key attended) gives
  // O = 0 and LSE = -inf; a NaN l (NaN input) stays NaN.
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float l = row_sum[mt][half];
      l += shfl_xor(l, 1);
      l += shfl_xor(l, 2);
      const int row = warp_row0 + 16 * mt + quad_row + 8 * half;
      if (row >= rows) continue;
      const bool empty = l == 0.0f;
      const float inverse = empty ? 0.0f : 1.0f / l;
      const kernel_int sequence_row = document.query_start + i0 + row;
      Element* out = static_cast<Element*>(attention.o.data) +
                     document.batch * attention.o.stride_batch +
                     sequence_row * attention.o.stride_row +
                     kernel_int(head) * attention.o.stride_head;
#pragma unroll
      for (int ot = 0; ot < kOTiles; ++ot) {
        store_pair<Element>(out + 8 * ot + quad_column, acc_o[mt][ot][2 * half] * inverse,
                            acc_o[mt][ot][2 * half + 1] * inverse);
      }
      if (attention.lse != nullptr && (lane & 3) == 0) {
        *lse_address(attention.lse, attention, document.batch, head, sequence_row) =
            empty ? minus_infinity : kLn2 * (row_max[mt][half] + fast_log2(l));
      }
    }
  }
  return true;
}

/// Writes the rows that belong to no document (DESIGN §1 "Coverage"), rows [64x, 64x + 64) for
/// x = `row_block`; false when that is past the sequence. Grid (row blocks of
/// kRowsPerElementwiseBlock over max(query_rows, key_rows), batch, passes), kElementwiseThreads
/// threads. gridDim.z == 1: the forward fill, O = 0 and LSE = -inf on Q rows outside every
/// document. gridDim.z == 2: the backward fill, blockIdx.z 0 writes dQ = 0 on such Q rows and
/// blockIdx.z 1 dK = dV = 0 on such K/V rows; nothing when params.attention.accumulate (rows
/// nobody attends are left unchanged, DESIGN §5).
template <typename Config, typename Mask>
ATTNCC_DEVICE bool fill_padding(const CudaAttentionParams& params, kernel_int row_block) {
  using Element = typename Config::Element;
  const AttentionParams& attention = params.attention;
  const bool forward_fill = gridDim.z == 1;
  if (!forward_fill && attention.accumulate) return false;
  const bool query_side = forward_fill || blockIdx.z == 0;
  const kernel_int batch = kernel_int(blockIdx.y);
  if (forward_fill && row_block == 0) check_documents_without_rows(params, batch);
  const kernel_int sequence_rows = query_side ? attention.query_rows : params.key_rows;
  const kernel_int first = row_block * kRowsPerElementwiseBlock;
  if (first >= sequence_rows) return false;
  const kernel_int last = min_int(first + kRowsPerElementwiseBlock, sequence_rows);
  const int thread = int(threadIdx.x);
  const int heads = query_side ? attention.heads_q : attention.heads_kv;
  // Each (tensor, width) to clear on this side: O (Dv) or dQ (D); dK (D) and dV (Dv).
  const TensorAddress* tensors[2];
  int widths[2];
  int tensor_count = 0;
  if (forward_fill) {
    tensors[tensor_count] = &attention.o;
    widths[tensor_count++] = Config::kHeadDimV;
  } else if (query_side) {
    tensors[tensor_count] = &attention.dq;
    widths[tensor_count++] = Config::kHeadDim;
  } else {
    tensors[tensor_count] = &attention.dk;
    widths[tensor_count++] = Config::kHeadDim;
    tensors[tensor_count] = &attention.dv;
    widths[tensor_count++] = Config::kHeadDimV;
  }
  for (kernel_int row = first; row < last; ++row) {
    if (row_in_document(params, query_side, batch, row)) continue;  // uniform over the block
    for (int which = 0; which < tensor_count; ++which) {
      const TensorAddress& tensor = *tensors[which];
      const int pairs_per_head = widths[which] / 2;
      for (int index = thread; index < heads * pairs_per_head; index += kElementwiseThreads) {
        const int head = index / pairs_per_head;
        const int pair = index % pairs_per_head;
        Element* destination = static_cast<Element*>(tensor.data) + batch * tensor.stride_batch +
                               row * tensor.stride_row + kernel_int(head) * tensor.stride_head +
                               2 * pair;
        *reinterpret_cast<uint32*>(destination) = 0u;
      }
    }
    if (forward_fill && attention.lse != nullptr) {
      for (int head = thread; head < heads; head += kElementwiseThreads) {
        *lse_address(attention.lse, attention, batch, head, row) = negative_infinity();
      }
    }
  }
  return true;
}

}  // namespace attncc::cuda
