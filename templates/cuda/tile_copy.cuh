// Shared-memory tiles of 16-bit elements for the CUDA kernels: the swizzled layout (KERNELS.md
// §4), cp.async loads of a tile from a [batch, row, head, dim] tensor with zero-filled rows past
// the document end (§3), and the ldmatrix row addresses of the operand recipes (§2.1). Used by
// the forward and the backward kernels; every offset is a byte offset into the block's dynamic
// shared memory (ptx.h).
#pragma once

#include "common/attention_params.h"
#include "cuda/ptx.h"

namespace attncc::cuda {

/// A [kRows][kWidth] tile of 16-bit elements at some base offset. Columns are split into pages
/// of 64 (128-byte rows, the 8x8-chunk XOR swizzle of KERNELS.md §4) and, when kWidth % 64 ==
/// 32, a last page of 32 columns (64-byte rows, chunk ^= (row >> 1) & 3, equally conflict-free
/// for the 8 rows of an ldmatrix matrix). Pages are stored one after another, each [kRows] rows.
/// The XOR touches whole 16-byte chunks only, so every chunk address stays 16-byte aligned.
/// Requirements: kRows % 8 == 0, kWidth % 32 == 0, and a base that is a multiple of 1024 (the
/// swizzle is applied to offsets relative to the tile base; ptx.h aligns the window itself).
template <int kRows, int kWidth>
struct SharedTile {
  static_assert(kRows % 8 == 0, "tile rows must fill whole 8-row swizzle atoms");
  static_assert(kWidth % 32 == 0 && kWidth >= 32, "tile width must be a multiple of 32");
  static constexpr uint32 kBytes = uint32(kRows) * uint32(kWidth) * 2u;
  static constexpr int kFullPages = kWidth / 64;
  static constexpr int kChunksPerRow = kWidth / 8;

  /// Byte offset, relative to the tile base, of the 16-byte chunk holding columns
  /// [column, column + 8) of `row` (column % 8 == 0).
  ATTNCC_DEVICE static uint32 chunk_offset(int row, int column) {
    const int page = column >> 6;
    const int chunk = (column >> 3) & 7;
    if (page < kFullPages) {
      return uint32(page) * uint32(kRows) * 128u + uint32(row) * 128u +
             (uint32(chunk ^ (row & 7)) << 4);
    }
    // The 32-column tail page: 4 chunks of 16 bytes per 64-byte row.
    return uint32(kFullPages) * uint32(kRows) * 128u + uint32(row) * 64u +
           (uint32((chunk & 3) ^ ((row >> 1) & 3)) << 4);
  }
};

/// Issues (does not commit) this thread's share of the cp.async copies of `rows_valid` rows of
/// a [kRows][kWidth] tile: tile row r <- tensor row `first_row + r` of (batch, head); rows
/// r >= rows_valid are zero-filled (their source is clamped to the tile's first row, which
/// must exist: rows_valid >= 1). Chunk c of the tile goes to thread c % kThreads, consecutive
/// threads taking consecutive 16-byte chunks of a row (coalesced). Global addresses must be
/// 16-byte aligned: 16-byte aligned data and strides that are multiples of 8 elements (the
/// runtime checks this). Afterwards: cp_async_commit, cp_async_wait, sync_threads before
/// another thread reads the tile.
template <int kRows, int kWidth, int kThreads, typename Element>
ATTNCC_DEVICE void load_tile_async(uint32 tile_base, const TensorAddress& tensor,
                                   kernel_int batch, kernel_int first_row, int head,
                                   kernel_int rows_valid, int thread) {
  using Tile = SharedTile<kRows, kWidth>;
  constexpr int kChunks = kRows * Tile::kChunksPerRow;
  const Element* first = static_cast<const Element*>(tensor.data) + batch * tensor.stride_batch +
                         first_row * tensor.stride_row + kernel_int(head) * tensor.stride_head;
  constexpr int kRowStep = kThreads / Tile::kChunksPerRow;
  if constexpr (kThreads % Tile::kChunksPerRow == 0 && kRowStep % 8 == 0 && kRows % kRowStep == 0) {
    // Thread t copies column t % chunks-per-row of rows t / chunks-per-row + k * kRowStep: one
    // source pointer stepped by a row stride, and shared offsets that differ by immediates (the
    // swizzle repeats every 8 rows), instead of a 64-bit product per chunk. The thread index is
    // opaque so these few integer ops are redone at each load: hoisted, they would hold
    // registers across the kernels' key loops (4-warp forward: spills).
    const int copier = int(opaque(uint32(thread)));
    const int row0 = copier / Tile::kChunksPerRow;
    const int column = (copier % Tile::kChunksPerRow) * 8;
    const uint32 row_bytes = (column >> 6) < Tile::kFullPages ? 128u : 64u;
    const uint32 offset0 = tile_base + Tile::chunk_offset(row0, column);
    const Element* source = first + kernel_int(row0) * tensor.stride_row + column;
    const kernel_int step = kernel_int(kRowStep) * tensor.stride_row;
    // This thread's valid rows, counted from row0, in 32 bits: each chunk compares it with an
    // immediate (rather than keeping row0 + k * kRowStep of every chunk live in 64 bits).
    const int rows_left = int(min_int(max_int(rows_valid, 0), kRows)) - row0;
#pragma unroll
    for (int k = 0; k < kRows / kRowStep; ++k) {
      const bool valid = k * kRowStep < rows_left;
      cp_async_16(offset0 + uint32(k * kRowStep) * row_bytes, valid ? source : first + column,
                  valid);
      source += step;
    }
  } else {
#pragma unroll
    for (int chunk = thread; chunk < kChunks; chunk += kThreads) {
      const int row = chunk / Tile::kChunksPerRow;
      const int column = (chunk % Tile::kChunksPerRow) * 8;
      const bool valid = row < rows_valid;
      const Element* source = first + (valid ? kernel_int(row) * tensor.stride_row : 0) + column;
      cp_async_16(tile_base + Tile::chunk_offset(row, column), source, valid);
    }
  }
}

/// Writes zeros to this thread's share of a [kRows][kWidth] tile (same distribution as
/// load_tile_async); a barrier must follow before others read it.
template <int kRows, int kWidth, int kThreads>
ATTNCC_DEVICE void zero_tile(uint32 tile_base, int thread) {
  using Tile = SharedTile<kRows, kWidth>;
  constexpr int kChunks = kRows * Tile::kChunksPerRow;
#pragma unroll
  for (int chunk = thread; chunk < kChunks; chunk += kThreads) {
    const int row = chunk / Tile::kChunksPerRow;
    const int column = (chunk % Tile::kChunksPerRow) * 8;
    shared_store_u128(tile_base + Tile::chunk_offset(row, column), 0u, 0u, 0u, 0u);
  }
}

// ---- ldmatrix row addresses (KERNELS.md §2.1; lane l supplies one row of matrix l >> 3) ----

/// `.x4` A operand of a 16x16 block [m0, m0+16) x [k0, k0+16) of a row-major tile (Q for
/// S = Q K^T, dO for dP, dS for dQ): registers a0..a3 in mma order. Also the `.x4.trans` B
/// operand "k16 x two n8" from a tile stored [k][n] (V for O += P V; Q, dO, K in the
/// backward): m0 = k0 (the reduction row), k0 = n0 (the first of the two n8 column tiles);
/// registers {b0, b1} of columns n0..n0+7, then {b0, b1} of n0+8..n0+15.
template <typename Tile>
ATTNCC_DEVICE uint32 ldmatrix_a_offset(uint32 tile_base, int m0, int k0, int lane) {
  return tile_base + Tile::chunk_offset(m0 + (lane & 15), k0 + 8 * (lane >> 4));
}

/// `.x4` B operand "two n8 x k16" from a tile stored [n][k] (K for S = Q K^T, V for dP = dO V^T):
/// registers {b0, b1} of n-tile n0, then {b0, b1} of n-tile n0 + 8, for k in [k0, k0 + 16).
template <typename Tile>
ATTNCC_DEVICE uint32 ldmatrix_b_offset(uint32 tile_base, int n0, int k0, int lane) {
  return tile_base + Tile::chunk_offset(n0 + (lane & 7) + 8 * (lane >> 4), k0 + 8 * ((lane >> 3) & 1));
}

/// `.x4.trans` A operand of the transpose of a tile stored [k][m] (P^T for dV = P^T dO, dS^T
/// for dK = dS^T Q, from P[query][key]): registers a0..a3 of A^T[m0..m0+16) x [k0..k0+16), that
/// is of stored rows k0.. and stored columns m0.. (note the matrix order differs from the
/// plain A recipe: matrix 1 = next 8 stored columns, matrix 2 = next 8 stored rows).
template <typename Tile>
ATTNCC_DEVICE uint32 ldmatrix_a_transposed_offset(uint32 tile_base, int m0, int k0, int lane) {
  return tile_base +
         Tile::chunk_offset(k0 + (lane & 7) + 8 * (lane >> 4), m0 + 8 * ((lane >> 3) & 1));
}

}  // namespace attncc::cuda
