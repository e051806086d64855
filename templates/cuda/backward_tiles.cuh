// Warp-level GEMMs of the CUDA backward kernels (attention_backward.cuh) on swizzled shared
// tiles (tile_copy.cuh): the ldmatrix recipes of KERNELS.md §2.1 for the operand shapes of the
// five backward products (§6.2), each fed to mma.m16n8k16 in pairs of n8 tiles.
#pragma once

#include "cuda/ptx.h"
#include "cuda/tile_copy.cuh"

namespace attncc::cuda {

/// accumulator[n] += A * B for the two n8 tiles of one `.x4` B load (b[0..1], b[2..3]).
template <typename Element>
ATTNCC_DEVICE void mma_pair(float (&first)[4], float (&second)[4], const uint32 (&a)[4],
                            const uint32 (&b)[4]) {
  const uint32 b_first[2] = {b[0], b[1]};
  const uint32 b_second[2] = {b[2], b[3]};
  mma_m16n8k16<Element>(first, a, b_first);
  mma_m16n8k16<Element>(second, a, b_second);
}

/// Operand sources of warp_gemm.
enum OperandLayout : int {
  kRowMajor,   // A: rows [m0, m0+16) of a [m][k] tile; B: rows n0.. of a [n][k] tile (ldmatrix)
  kTransposed  // A: columns m0.. of a [k][m] tile; B: columns n0.. of a [k][n] tile (.trans)
};

/// accumulator[16 x 8*kTiles] += A[16 x kDepth] * B[kDepth x 8*kTiles] for one warp, the
/// reduction index running over [0, kDepth) of both tiles. TileA / TileB are SharedTile types;
/// m0, n0 and the tiles' bases are multiples of 16 rows or columns, and a transposed B's n0 a
/// multiple of 8 * kTiles (warp w of a split takes columns from w * 8 * kTiles).
///
/// Every ldmatrix address comes from the lane's addresses (tile_copy.cuh) set up once per call:
/// row-major operands step along a row (an XOR and an immediate per block), transposed ones
/// down fixed columns (an immediate per block, an XOR per column pair of B). The reduction
/// runs a 64-column page at a time, each page's four 16-deep steps unrolled.
template <typename Element, typename TileA, OperandLayout kLayoutA, typename TileB,
          OperandLayout kLayoutB, int kDepth, int kTiles>
ATTNCC_DEVICE void warp_gemm(float (&accumulator)[kTiles][4], uint32 tile_a, int m0,
                             uint32 tile_b, int n0) {
  static_assert(kTiles % 2 == 0 && kDepth % 16 == 0, "whole mma pairs");
  // A row-major operand's reduction runs along its whole width (its pages are the loop's).
  static_assert(kLayoutA != kRowMajor || TileA::kWidthCount == kDepth, "A spans the reduction");
  static_assert(kLayoutB != kRowMajor || TileB::kWidthCount == kDepth, "B spans the reduction");
  // Opaque: the addresses below depend only on the lane and the call's arguments, so ptxas
  // would keep those of every GEMM in registers across the kernels' loops over tiles.
  const int lane = int(opaque(uint32(lane_index())));
  // The KERNELS.md §2.1 recipes: A row-major = rows m0 + (lane & 15), columns k0 + 8 (lane >>
  // 4); A transposed = rows k0 + (lane & 7) + 8 (lane >> 4), columns m0 + 8 ((lane >> 3) & 1);
  // B row-major = rows n0 + (lane & 7) + 8 (lane >> 4), columns k0 + 8 ((lane >> 3) & 1); B
  // transposed = the A row-major recipe with (k0, n0) for (m0, k0).
  const int sixteen_rows = lane & 15;
  const int eight_rows = (lane & 7) + 8 * (lane >> 4);
  const int high_half = 8 * (lane >> 4);
  const int odd_matrix = 8 * ((lane >> 3) & 1);
  RowLaneAddresses<TileA> a_row{};
  ColumnLaneAddress<TileA> a_column{};
  if constexpr (kLayoutA == kRowMajor) {
    a_row = row_lane_addresses<TileA>(tile_a, m0 + sixteen_rows, high_half);
  } else {
    a_column = column_lane_address<TileA>(tile_a, eight_rows, m0 + odd_matrix);
  }
  // Transposed B in 64-column pages, the warp's 8 * kTiles columns from n0, a multiple of
  // their count (every caller's n0 is the warp's split times it), which either divides 64 or
  // is whole pages: each column pair's address is the first pair's XOR a constant plus a
  // constant (ColumnLaneAddress::pair_to_the_right), one origin for the call. Otherwise
  // (a 32-column tail page, 48 or 96 columns) transposed B keeps one origin per column pair,
  // unless that is more than 4 registers, when each ldmatrix computes its own.
  constexpr int kColumns = 8 * kTiles;
  constexpr bool kPairsByXor = kLayoutB == kTransposed && TileB::kWidthCount % 64 == 0 &&
                               (kColumns % 64 == 0 || 64 % kColumns == 0);
  constexpr bool kKeepColumnOrigins = !kPairsByXor && kTiles / 2 <= 4;
  RowLaneAddresses<TileB> b_row{};
  ColumnLaneAddress<TileB> b_columns[kPairsByXor ? 1 : kTiles / 2];
  if constexpr (kLayoutB == kRowMajor) {
    b_row = row_lane_addresses<TileB>(tile_b, n0 + eight_rows, odd_matrix);
  } else if constexpr (kPairsByXor) {
    b_columns[0] = column_lane_address<TileB>(tile_b, sixteen_rows, n0 + high_half);
  } else if constexpr (kKeepColumnOrigins) {
#pragma unroll
    for (int pair = 0; pair < kTiles / 2; ++pair) {
      b_columns[pair] =
          column_lane_address<TileB>(tile_b, sixteen_rows, n0 + 16 * pair + high_half);
    }
  }
  // The 16-deep steps of one 64-column page of the row-major operands, unrolled so that
  // their swizzle XORs are constants; the pages run in a loop (unrolling all of d256's 16
  // steps lets ptxas hoist enough ldmatrix to spill), then the 32-column tail page, if any.
  const auto step = [&](int page, int column0) {
    const int k0 = 64 * page + column0;
    uint32 a[4];
    if constexpr (kLayoutA == kRowMajor) {
      ldmatrix_x4(a, page < TileA::kFullPages ? a_row.in_full_page(page, 0, column0)
                                              : a_row.at(0, 64 * TileA::kFullPages + column0));
    } else {
      ldmatrix_x4_trans(a, a_column.at(k0));
    }
    const uint32 b_step = kPairsByXor ? b_columns[0].at(k0) : 0u;
#pragma unroll
    for (int n = 0; n < kTiles; n += 2) {
      uint32 b[4];
      if constexpr (kLayoutB == kRowMajor) {
        ldmatrix_x4(b, page < TileB::kFullPages
                           ? b_row.in_full_page(page, 8 * n, column0)
                           : b_row.at(8 * n, 64 * TileB::kFullPages + column0));
      } else if constexpr (kPairsByXor) {
        ldmatrix_x4_trans(b, ColumnLaneAddress<TileB>::pair_to_the_right(b_step, n / 2));
      } else if constexpr (kKeepColumnOrigins) {
        ldmatrix_x4_trans(b, b_columns[n / 2].at(k0));
      } else {
        ldmatrix_x4_trans(
            b, column_lane_address<TileB>(tile_b, sixteen_rows, n0 + 8 * n + high_half).at(k0));
      }
      mma_pair<Element>(accumulator[n], accumulator[n + 1], a, b);
    }
  };
  if constexpr (kLayoutA == kTransposed && kLayoutB == kTransposed && kTiles / 2 > 4) {
    // dK and dV over more than 64 columns per warp: unrolled, ptxas hoists enough ldmatrix to
    // spill (d256); both operands' addresses are an origin plus k0 rows, so a loop costs
    // nothing to address.
#pragma unroll 1
    for (int k0 = 0; k0 < kDepth; k0 += 16) step(k0 >> 6, k0 & 63);
  } else {
#pragma unroll 1
    for (int page = 0; page < kDepth / 64; ++page) {
#pragma unroll
      for (int column0 = 0; column0 < 64; column0 += 16) step(page, column0);
    }
#pragma unroll
    for (int column0 = 0; column0 < kDepth % 64; column0 += 16) step(kDepth / 64, column0);
  }
}

template <int kTiles>
ATTNCC_DEVICE void zero_fragments(float (&accumulator)[kTiles][4]) {
#pragma unroll
  for (int n = 0; n < kTiles; ++n) {
#pragma unroll
    for (int i = 0; i < 4; ++i) accumulator[n][i] = 0.0f;
  }
}

}  // namespace attncc::cuda
