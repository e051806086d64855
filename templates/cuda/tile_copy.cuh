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
  static constexpr int kRowCount = kRows;
  static constexpr int kWidthCount = kWidth;

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
/// threads taking consecutive 16-byte chunks of a row (coalesced); a 32-column tail page is
/// distributed the same way on its own, after the full pages. Global addresses must be
/// 16-byte aligned: 16-byte aligned data and strides that are multiples of 8 elements (the
/// runtime checks this). Afterwards: cp_async_commit, cp_async_wait, sync_threads before
/// another thread reads the tile. kBranchOnWholeTiles: a tile with every row valid (all but a
/// document's last) skips the per-chunk row tests and clamped sources; the backward kernels
/// take it, the 4-warp forward, at 255 registers, spills with the second copy loop.
template <int kRows, int kWidth, int kThreads, typename Element, bool kBranchOnWholeTiles = false>
ATTNCC_DEVICE void load_tile_async(uint32 tile_base, const TensorAddress& tensor,
                                   kernel_int batch, kernel_int first_row, int head,
                                   kernel_int rows_valid, int thread) {
  if constexpr (kWidth % 64 == 32 && kWidth > 32) {
    // A tail page is copied on its own, after the full pages. Spread over one row-major chunk
    // order, 8 consecutive threads (one phase of a 16-byte shared write) would mix 128-byte rows
    // of a full page with 64-byte tail rows and hit the same banks: 1.33 wavefronts per phase at
    // d96 (tests/emulation/emulated_shared_banks_test.cpp). Per page, a phase is one 128-byte row
    // or two 64-byte rows, conflict-free, and each part takes the fast path below.
    constexpr int kFullWidth = kWidth - 32;
    load_tile_async<kRows, kFullWidth, kThreads, Element, kBranchOnWholeTiles>(
        tile_base, tensor, batch, first_row, head, rows_valid, thread);
    TensorAddress tail = tensor;
    tail.data = static_cast<Element*>(tensor.data) + kFullWidth;
    load_tile_async<kRows, 32, kThreads, Element, kBranchOnWholeTiles>(
        tile_base + SharedTile<kRows, kFullWidth>::kBytes, tail, batch, first_row, head,
        rows_valid, thread);
    return;
  }
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
    if (kBranchOnWholeTiles && rows_valid >= kRows) {
#pragma unroll
      for (int k = 0; k < kRows / kRowStep; ++k) {
        cp_async_16(offset0 + uint32(k * kRowStep) * row_bytes, source, true);
        source += step;
      }
      return;
    }
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

// ---- ldmatrix row addresses (KERNELS.md §2.1; lane l supplies one row of matrix l >> 3) ----

/// `.x4` A operand of a 16x16 block [m0, m0+16) x [k0, k0+16) of a row-major tile (Q for
/// S = Q K^T): registers a0..a3 in mma order. Also the `.x4.trans` B operand "k16 x two n8"
/// from a tile stored [k][n] (V for O += P V): m0 = k0 (the reduction row), k0 = n0 (the first
/// of the two n8 column tiles); registers {b0, b1} of columns n0..n0+7, then {b0, b1} of
/// n0+8..n0+15. (The backward's GEMMs use the lane addresses below, backward_tiles.cuh.)
template <typename Tile>
ATTNCC_DEVICE uint32 ldmatrix_a_offset(uint32 tile_base, int m0, int k0, int lane) {
  return tile_base + Tile::chunk_offset(m0 + (lane & 15), k0 + 8 * (lane >> 4));
}

/// One lane's ldmatrix addresses over 16x16 blocks of a tile, computed once per warp GEMM so
/// that each block costs at most one integer op, where recomputing chunk_offset from a row and
/// column costs about ten per ldmatrix (the backward GEMMs are issue-bound by them otherwise).
/// The swizzle XORs a row's low 3 bits (the lane's, for block origins row0 % 8 == 0) into
/// chunk bits 4-6 (4-5 on the 32-column tail page), which the 1024-byte tile base, whole rows
/// and whole pages never touch.
///
/// Blocks along a row (`at(row0, column0)`, column0 % 16 == 0, the lane's column 0 or 8):
/// column0's chunk is even, so the address is the lane's block-(0, 0) address XOR a constant
/// plus a constant.
template <typename Tile>
struct RowLaneAddresses {
  uint32 page_origin;  // the lane's chunk in the first full page
  uint32 tail_origin;  // the lane's chunk in the tail page (unused without one)

  ATTNCC_DEVICE uint32 at(int row0, int column0) const {
    const int page = column0 >> 6;
    if (page < Tile::kFullPages) return in_full_page(page, row0, column0 & 63);
    return (tail_origin ^ (uint32((column0 >> 3) & 3) << 4)) + uint32(row0) * 64u;
  }

  /// at(row0, 64 * page + column0) for a full page chosen at run time (column0 < 64).
  ATTNCC_DEVICE uint32 in_full_page(int page, int row0, int column0) const {
    return (page_origin ^ (uint32(column0 >> 3) << 4)) +
           uint32(page) * (uint32(Tile::kRowCount) * 128u) + uint32(row0) * 128u;
  }
};

template <typename Tile>
ATTNCC_DEVICE RowLaneAddresses<Tile> row_lane_addresses(uint32 tile_base, int lane_row,
                                                        int lane_column) {
  return {tile_base + Tile::chunk_offset(lane_row, lane_column),
          tile_base + Tile::chunk_offset(lane_row, 64 * Tile::kFullPages + lane_column)};
}

/// Blocks down a fixed column (`at(row0)`, row0 % 8 == 0, any run-time column): the address is
/// the lane's row-0 address plus row0 whole rows of the column's page.
template <typename Tile>
struct ColumnLaneAddress {
  uint32 origin;
  uint32 row_bytes;  // 128, or 64 on the tail page

  ATTNCC_DEVICE uint32 at(int row0) const {
    if constexpr (Tile::kWidthCount % 64 == 0) return origin + uint32(row0) * 128u;
    return origin + uint32(row0) * row_bytes;
  }

  /// From `address` (an at() of this column), the lane's address 16 * pair columns further
  /// right: the column chunk grows by 2 * pair, an XOR on bits 5-6 of the chunk address within
  /// a page and a whole page per 4 pairs. Requires full pages only, and that the chunk's bits
  /// 1-2 within its page and (pair & 3) share no set bit, with pair < 4 unless both are zero;
  /// e.g. a column 64c + 8h + 32w (h, w in {0, 1}) and pairs below 2 if w = 1. The rows'
  /// XOR and whole rows never touch those bits.
  ATTNCC_DEVICE static uint32 pair_to_the_right(uint32 address, int pair) {
    static_assert(Tile::kWidthCount % 64 == 0, "pages of 64 columns only");
    return (address ^ (uint32(pair & 3) << 5)) +
           uint32(pair >> 2) * (uint32(Tile::kRowCount) * 128u);
  }
};

template <typename Tile>
ATTNCC_DEVICE ColumnLaneAddress<Tile> column_lane_address(uint32 tile_base, int lane_row,
                                                          int column) {
  return {tile_base + Tile::chunk_offset(lane_row, column),
          (column >> 6) < Tile::kFullPages ? 128u : 64u};
}

/// `.x4` B operand "two n8 x k16" from a tile stored [n][k] (K for the forward's S = Q K^T):
/// registers {b0, b1} of n-tile n0, then {b0, b1} of n-tile n0 + 8, for k in [k0, k0 + 16).
template <typename Tile>
ATTNCC_DEVICE uint32 ldmatrix_b_offset(uint32 tile_base, int n0, int k0, int lane) {
  return tile_base +
         Tile::chunk_offset(n0 + (lane & 7) + 8 * (lane >> 4), k0 + 8 * ((lane >> 3) & 1));
}

}  // namespace attncc::cuda
