// Tile sizes, threads and shared memory of every CUDA kernel, as constexpr functions of the head
// dims: the one source of truth read by the lowering (compiler/emit/lower_to_cuda.cpp writes the
// Config from it), by the kernels (static_asserts against their own layout) and by the host
// runtime (grids, block sizes, dynamic shared memory; runtime/cuda/launch_plan.cpp). Plain C++,
// no system headers.
#pragma once

namespace attncc::cuda {

/// Kernels of one spec; the entry point of kernel k is "<prefix>_<kernel_suffix(k)>".
///
/// Launch order and grids (runtime/cuda/launch_plan.cpp; blockIdx = (x, y, z)):
/// forward:  fill_padding, forward.  backward: fill_padding (left out with accumulate),
///           backward_preprocess, backward_key_value, backward_query (deterministic only),
///           backward_convert_query.
/// Per-document kernels (forward, backward_*) run blocks of tiles of a document: block x,
/// y maps to a document and its tile by grid_tile (document.cuh). Dense and varlen: y is the
/// document (Document::index order) and x the tile, over ceil(max length / tile rows) tiles;
/// tiles past the document's length exit at once. Doc-packed: y is the batch row and x
/// numbers the tiles of the row's documents in slot order, over min(ceil(rows / tile rows) +
/// max_documents, max_documents * ceil(max length / tile rows)) tiles, which bounds a row's
/// tiles: no block exists for the tiles short documents and sentinels lack.
/// - forward:             tiles of tile_q query rows (forward_tile_shape), query head z; a
///                        document's tiles are taken from its last (longest first under causal
///                        masks).
/// - backward_key_value:  tiles of tile_k key rows (backward_key_value_tile_shape), key/value
///                        head z (all query heads of its GQA group).
/// - backward_query:      tiles of tile_q query rows (backward_query_tile_shape), query head z.
/// - backward_preprocess, backward_convert_query: kRowsPerElementwiseBlock query rows, query
///                        head z, kElementwiseThreads threads.
/// - fill_padding:        (ceil(rows / kRowsPerElementwiseBlock), batch, passes),
///                        kElementwiseThreads threads: rows [64x, 64x + 64) of batch row y,
///                        every head. Forward: passes = 1, rows = query_rows: O = 0 and
///                        LSE = -inf on rows outside every document. Backward: passes = 2,
///                        rows = max(query_rows, key_rows): z = 0 dQ = 0 on such Q rows, z = 1
///                        dK = dV = 0 on such K/V rows.
/// The max lengths are the caller's AttentionArguments::max_seqlen_q / _k, else the sequence
/// rows; every per-document kernel also takes the x indices x + gridDim.x, ... that its row or
/// document needs (for_each_grid_x in document.cuh), so a bound that is too small costs time.
/// Dynamic shared memory: forward_shared_bytes (forward), backward_key_value_shared_bytes and
/// backward_query_shared_bytes, 0 for the element-wise kernels.
enum KernelKind : int {
  kKernelForward = 0,          // grid (query tiles, documents or batch rows, heads_q)
  kKernelFillPadding,          // rows outside every document: O = 0, LSE = -inf / grads = 0
  kKernelBackwardPreprocess,   // delta = rowsum(dO * O); zero the dQ accumulator
  kKernelBackwardKeyValue,     // dK, dV per key tile (and dQ by fp32 atomics unless deterministic)
  kKernelBackwardQuery,        // deterministic mode: dQ per query tile, no atomics
  kKernelBackwardConvertQuery, // dQ accumulator * scale -> dq (element type), accumulate-aware
  kKernelCount
};

constexpr const char* kernel_suffix(KernelKind kind) {
  switch (kind) {
    case kKernelForward: return "forward";
    case kKernelFillPadding: return "fill_padding";
    case kKernelBackwardPreprocess: return "backward_preprocess";
    case kKernelBackwardKeyValue: return "backward_key_value";
    case kKernelBackwardQuery: return "backward_query";
    case kKernelBackwardConvertQuery: return "backward_convert_query";
    default: return "unknown";
  }
}

struct TileShape {
  int tile_q;          // query rows per block
  int tile_k;          // key rows per block / per step
  int warps;           // threads = 32 * warps
  int key_stages = 1;  // forward: K and V tiles in shared memory (2: the overlapped wgmma forward)
};

/// Forward tiles (FA2 sm_80 choices, KERNELS.md §6.5, bounded by the 0-spill rule). FA2 runs
/// 4 warps of 32 query rows (each K/V fragment read from shared memory feeds two m16 tiles) and
/// found 8 warps 18-28% slower at d64/d128. Up to d64 that fits: 128 x 64 on 4 warps, 230-250
/// registers without spills for every spec. At d96/d128, 4 warps of 32 rows hold up to 128 O
/// and 64 S accumulators per thread. Masks with little per-element arithmetic (`light_mask`,
/// decided on the host by compiler/emit/forward_tile_choice.h: causal, windows, bottom-right
/// alignment, softcap) fit 255 registers at 128/128 and whenever head_dim_v is at most 64.
/// ALiBi, prefix-LM parameters, chunk, unions and opaque predicates spill at either key tile
/// width, and so do light masks at 96/96 (bottom-right alignment on sm_80), at head_dim_v 96 or
/// 128 above head_dim and at 128/96 (softcap on sm_90a), on sm_80 or sm_90a (ptxas, NVRTC
/// 13.0): those keep 8 warps of 16 rows. Both shapes at a head dim have the same tiles (only
/// the warps differ), so shared memory depends on the head dims alone.
constexpr TileShape forward_tile_shape(int head_dim, int head_dim_v, bool light_mask) {
  return (head_dim > 128 || head_dim_v > 128) ? TileShape{64, 32, 4}
         : (head_dim <= 64 && head_dim_v <= 64) ? TileShape{128, 64, 4}
         : (light_mask && (head_dim_v <= 64 || (head_dim == 128 && head_dim_v == 128)))
             ? TileShape{128, 64, 4}
             : TileShape{128, 64, 8};
}

/// The sm_90a forward through warpgroup MMAs (wgmma, ptx.h): two warpgroups of 64 query rows,
/// 16 per warp, over 64-key tiles. Q, K and V must be whole 64-column pages of the 128-byte
/// swizzle (the ISA's 128B-swizzle atoms), and the P V product's N (head_dim_v) an instruction
/// width the templates instantiate: head dims 64 and 128. The tiles are those of
/// forward_tile_shape. The overlapped schedule (FA3's intra-warpgroup overlap: a tile's softmax
/// runs while the previous tile's P V product does) keeps two K and two V tiles, 96 KB at d128;
/// the serial one (each product waited for at once) one of each, as the mma.sync forward.
constexpr bool forward_warpgroup_mma_fits(int head_dim, int head_dim_v) {
  return (head_dim == 64 || head_dim == 128) && (head_dim_v == 64 || head_dim_v == 128);
}
constexpr TileShape kWarpgroupForwardShape{128, 64, 8, 2};
constexpr TileShape kWarpgroupSerialForwardShape{128, 64, 8, 1};

/// Blocks per SM the wgmma forward is compiled for (__launch_bounds__'s minimum, which caps
/// registers at 65536 / (256 x blocks)). Two blocks of two warpgroups let one block's softmax
/// and barriers overlap the other's tensor-core work, which one block, whose warpgroups meet at
/// two barriers per key tile, cannot do by itself (unmeasured: docs/PERFORMANCE.md). At 128
/// registers, light masks without score mods compile without spills at d64 and d128 (NVRTC
/// 13.0, sm_90a: 123-128 registers); softcap spilled 8 B and prefix-LM 4 B at d128, so those,
/// ALiBi and every heavy mask keep one block (146-241 registers). The overlapped schedule holds
/// the next S tile and the P fragments while O's product runs: at head_dim_v 128 it spilled
/// 96 B at two blocks (causal), so there it takes one.
constexpr int warpgroup_forward_blocks_per_sm(bool light_mask, bool score_mods, int head_dim_v,
                                              int key_stages) {
  if (!light_mask || score_mods) return 1;
  return key_stages == 2 && head_dim_v > 64 ? 1 : 2;
}

/// Both forward shapes of a head dim have the same tiles (the comment above relies on it).
constexpr bool forward_tiles_independent_of_mask() {
  const int dims[] = {32, 64, 96, 128, 256};
  for (int head_dim : dims) {
    for (int head_dim_v : dims) {
      const TileShape light = forward_tile_shape(head_dim, head_dim_v, true);
      const TileShape heavy = forward_tile_shape(head_dim, head_dim_v, false);
      if (light.tile_q != heavy.tile_q || light.tile_k != heavy.tile_k) return false;
      if (forward_warpgroup_mma_fits(head_dim, head_dim_v) &&
          (kWarpgroupForwardShape.tile_q != light.tile_q ||
           kWarpgroupForwardShape.tile_k != light.tile_k ||
           kWarpgroupSerialForwardShape.tile_q != light.tile_q ||
           kWarpgroupSerialForwardShape.tile_k != light.tile_k)) {
        return false;
      }
    }
  }
  return true;
}
static_assert(forward_tiles_independent_of_mask(),
              "forward_shared_bytes ignores the mask and the instruction");

/// Backward key/value kernel tiles: a key tile accumulates its dK, dV over every query tile
/// that reaches it, and each (query tile, key tile) step loads the query tile's Q and dO and
/// adds its dS K to the fp32 dQ accumulator by atomics. Both costs scale with query rows x
/// head dim per key tile, so the wider the key tile, the less of them per FLOP. Where both head
/// dims are at most 64 and there are no score mods (`score_mods`: softcap or ALiBi), 64 query
/// rows x 128 keys: 160 MMAs per warp and step, and the step's fixed costs (barriers, mask
/// setup, the visit test, loop control) paid half as often per MMA as at 32 x 128 (8.3 against
/// 12.0 instructions per HMMA, causal d64 on sm_90a); with softcap and ALiBi it spilled 20
/// bytes on sm_80 (ptxas 13.0). At head dims 64 and 128 otherwise, 32 x 128: the same 160 MMAs
/// per step as 64 x 64 with half the Q/dO bytes and atomics, in 99 KB (64 x 128 spilled 4-12
/// bytes at d128). The 32-row query tiles split dQ's columns four ways per 16-row group, which
/// head dim 96 does not divide into whole 16-column blocks (nor 32, which 64 x 128 covers
/// without score mods), and 64 x 128 at d96 needs 104.5 KB: those keep 64 x 64. dK, dV stay in
/// registers: 16 keys x head dim per warp.
constexpr TileShape backward_key_value_tile_shape(int head_dim, int head_dim_v, bool score_mods) {
  return (head_dim > 128 || head_dim_v > 128)                 ? TileShape{32, 32, 4}
         : (head_dim <= 64 && head_dim_v <= 64 && !score_mods) ? TileShape{64, 128, 8}
         : head_dim % 64 == 0                                 ? TileShape{32, 128, 8}
                                                              : TileShape{64, 64, 8};
}

/// The sm_90a backward key/value kernel through warpgroup MMAs (FA3's dK/dV loop; attention_
/// backward_wgmma.cuh): 128-key tiles, 64 per warpgroup, over 64-row query tiles. Each step
/// computes S^T = K Q^T and dP^T = V dO^T with the keys as the MMA's M, so that P^T and dS^T
/// feed dV += P^T dO and dK += dS^T Q straight from registers, and dQ = dS K from dS^T in
/// shared memory. Head dims 64 and 128 (whole 64-column swizzle pages, and the rs form's N).
/// A warpgroup holds dK and dV (64 keys x head dims) and S^T, dP^T (64 x 64) in registers: at
/// d128 that is 192 fp32 registers per thread, and every spec in specs/ compiles to 255 without
/// spills except softcap's, which spilled 16 B (44 B with ALiBi; NVRTC 13.0): softcap at head
/// dims above 64 keeps the mma.sync kernel. The same choice takes the deterministic query
/// kernel to wgmma (kWarpgroupBackwardQueryShape).
constexpr bool backward_warpgroup_mma_fits(int head_dim, int head_dim_v, bool softcap) {
  return forward_warpgroup_mma_fits(head_dim, head_dim_v) &&
         !(softcap && (head_dim > 64 || head_dim_v > 64));
}
constexpr TileShape kWarpgroupBackwardKeyValueShape{64, 128, 8};

/// The sm_90a deterministic query kernel through warpgroup MMAs (attention_backward_wgmma.cuh),
/// with the wgmma key/value kernel: two warpgroups of 64 query rows over 64-key tiles, as the
/// wgmma forward. Each step computes S = Q K^T and dP = dO V^T (ss, all four K-major), and
/// dQ += dS K with dS from registers (rs, K N-major), so dS never goes through shared memory;
/// K and V have two stages, the next tile's loading while this one computes.
constexpr TileShape kWarpgroupBackwardQueryShape{128, 64, 8};

/// Deterministic backward query kernel tiles: a query tile's dQ over the key tiles it visits,
/// loading each key tile's K and V at every step; 64 x 64 (32 rows x 128 keys would double the
/// K, V bytes per MMA).
constexpr TileShape backward_query_tile_shape(int head_dim, int head_dim_v) {
  return (head_dim > 128 || head_dim_v > 128) ? TileShape{32, 32, 4} : TileShape{64, 64, 8};
}

/// Both backward kernels run the same threads (attention_cuda.h declares one count).
constexpr bool backward_kernels_share_threads() {
  const int dims[] = {32, 64, 96, 128, 256};
  for (int head_dim : dims) {
    for (int head_dim_v : dims) {
      const bool score_mod_choices[] = {false, true};
      for (bool score_mods : score_mod_choices) {
        if (backward_key_value_tile_shape(head_dim, head_dim_v, score_mods).warps !=
            backward_query_tile_shape(head_dim, head_dim_v).warps) {
          return false;
        }
      }
    }
  }
  return true;
}
static_assert(backward_kernels_share_threads(), "the backward kernels must share a block size");

/// Blocks per SM that the deterministic backward query kernel is compiled for (its
/// __launch_bounds__; every other kernel asks for one): on mma.sync two at head dims <= 64
/// without softcap or ALiBi, where it fits the 128 registers per thread that two 256-thread
/// blocks on an SM leave without spilling (softcap with ALiBi at d32 spilled 12 bytes); on
/// wgmma (`warpgroup_mma`) one.
constexpr int backward_query_blocks_per_sm(int head_dim, int head_dim_v, bool score_mods,
                                           bool warpgroup_mma) {
  if (warpgroup_mma) return 1;
  return head_dim <= 64 && head_dim_v <= 64 && !score_mods ? 2 : 1;
}

/// Rows per block of the element-wise kernels (fill padding, preprocess, convert dQ).
constexpr int kRowsPerElementwiseBlock = 64;
constexpr int kElementwiseThreads = 128;

/// Bytes of one [rows][width] 16-bit tile in shared memory (rows padded to whole 8-row swizzle
/// atoms by construction of the tile sizes).
constexpr unsigned tile_bytes(int rows, int width) { return unsigned(rows) * unsigned(width) * 2u; }

/// Dynamic shared memory of the forward kernel: Q tile, `key_stages` K and as many V tiles
/// (every forward shape of the head dims has the same tiles: forward_tiles_independent_of_mask).
constexpr unsigned forward_shared_bytes(int head_dim, int head_dim_v, int key_stages = 1) {
  TileShape shape = forward_tile_shape(head_dim, head_dim_v, /*light_mask=*/true);
  const unsigned key_and_value =
      tile_bytes(shape.tile_k, head_dim) + tile_bytes(shape.tile_k, head_dim_v);
  return tile_bytes(shape.tile_q, head_dim) + unsigned(key_stages) * key_and_value;
}

/// Query-side buffers of a backward kernel with `shape` tiles: the key/value kernel takes two
/// (the next query tile's Q, dO, LSE and delta load while this one computes) where they fit in
/// 99 KB, the most a block gets on sm_86/89; one otherwise (d128: 96.25 KB with one, 112.25 KB
/// with two; d256). The query kernel loads its one query tile once: one.
constexpr int backward_query_buffers(TileShape shape, int head_dim, int head_dim_v,
                                     bool key_value_kernel) {
  if (!key_value_kernel) return 1;
  const unsigned query_side = tile_bytes(shape.tile_q, head_dim) +
                              tile_bytes(shape.tile_q, head_dim_v) +
                              2u * 4u * unsigned(shape.tile_q);
  const unsigned rest = tile_bytes(shape.tile_k, head_dim) + tile_bytes(shape.tile_k, head_dim_v) +
                        2u * tile_bytes(shape.tile_q, shape.tile_k);
  return 2u * query_side + rest <= 99u * 1024u ? 2 : 1;
}

/// Dynamic shared memory of a backward kernel with `shape` tiles: the query-side buffers (Q and
/// dO tiles, LSE and delta of the query tile), K, V, P and dS tiles.
constexpr unsigned backward_shared_bytes(TileShape shape, int head_dim, int head_dim_v,
                                         bool key_value_kernel) {
  const unsigned buffers =
      unsigned(backward_query_buffers(shape, head_dim, head_dim_v, key_value_kernel));
  return buffers * (tile_bytes(shape.tile_q, head_dim) + tile_bytes(shape.tile_q, head_dim_v)) +
         tile_bytes(shape.tile_k, head_dim) + tile_bytes(shape.tile_k, head_dim_v) +
         2u * tile_bytes(shape.tile_q, shape.tile_k) + buffers * 2u * 4u * unsigned(shape.tile_q);
}

constexpr unsigned backward_key_value_shared_bytes(int head_dim, int head_dim_v,
                                                   bool score_mods) {
  return backward_shared_bytes(backward_key_value_tile_shape(head_dim, head_dim_v, score_mods),
                               head_dim, head_dim_v, /*key_value_kernel=*/true);
}

constexpr unsigned backward_query_shared_bytes(int head_dim, int head_dim_v) {
  return backward_shared_bytes(backward_query_tile_shape(head_dim, head_dim_v), head_dim,
                               head_dim_v, /*key_value_kernel=*/false);
}

/// Dynamic shared memory of the wgmma key/value kernel: two query-side buffers (Q, dO tiles,
/// LSE and delta), K, V and dS^T ([key][query]): 81 KB at d64, 145 KB at d128 (sm_90a gives
/// a block up to 227 KB).
constexpr unsigned warpgroup_backward_key_value_shared_bytes(int head_dim, int head_dim_v) {
  const TileShape shape = kWarpgroupBackwardKeyValueShape;
  const unsigned query_side = tile_bytes(shape.tile_q, head_dim) +
                              tile_bytes(shape.tile_q, head_dim_v) +
                              2u * 4u * unsigned(shape.tile_q);
  return 2u * query_side + tile_bytes(shape.tile_k, head_dim) +
         tile_bytes(shape.tile_k, head_dim_v) + tile_bytes(shape.tile_k, shape.tile_q);
}

/// Dynamic shared memory of the wgmma query kernel: Q and dO tiles, two stages of K and V, the
/// query rows' LSE and delta: 129 KB at d128, 65 KB at d64.
constexpr unsigned warpgroup_backward_query_shared_bytes(int head_dim, int head_dim_v) {
  const TileShape shape = kWarpgroupBackwardQueryShape;
  return tile_bytes(shape.tile_q, head_dim) + tile_bytes(shape.tile_q, head_dim_v) +
         2u * (tile_bytes(shape.tile_k, head_dim) + tile_bytes(shape.tile_k, head_dim_v)) +
         2u * 4u * unsigned(shape.tile_q);
}

/// Every backward kernel fits the 99 KB a block may have on sm_86/89.
constexpr bool backward_shared_memory_fits() {
  const int dims[] = {32, 64, 96, 128, 256};
  for (int head_dim : dims) {
    for (int head_dim_v : dims) {
      if (backward_key_value_shared_bytes(head_dim, head_dim_v, false) > 99u * 1024u ||
          backward_key_value_shared_bytes(head_dim, head_dim_v, true) > 99u * 1024u ||
          backward_query_shared_bytes(head_dim, head_dim_v) > 99u * 1024u) {
        return false;
      }
    }
  }
  return true;
}
static_assert(backward_shared_memory_fits(), "a backward kernel exceeds 99 KB of shared memory");

}  // namespace attncc::cuda
