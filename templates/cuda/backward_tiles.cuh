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
/// reduction index running over [0, kDepth) of both tiles. TileA / TileB are SharedTile types.
template <typename Element, typename TileA, OperandLayout kLayoutA, typename TileB,
          OperandLayout kLayoutB, int kDepth, int kTiles>
ATTNCC_DEVICE void warp_gemm(float (&accumulator)[kTiles][4], uint32 tile_a, int m0,
                             uint32 tile_b, int n0) {
  static_assert(kTiles % 2 == 0 && kDepth % 16 == 0, "whole mma pairs");
  // Opaque: the ldmatrix addresses below depend only on the lane, so ptxas would keep those of
  // every GEMM in registers across the kernels' loops over tiles (spilling at d256).
  const int lane = int(opaque(uint32(lane_index())));
#pragma unroll 1
  for (int k0 = 0; k0 < kDepth; k0 += 16) {
    uint32 a[4];
    if constexpr (kLayoutA == kRowMajor) {
      ldmatrix_x4(a, ldmatrix_a_offset<TileA>(tile_a, m0, k0, lane));
    } else {
      ldmatrix_x4_trans(a, ldmatrix_a_transposed_offset<TileA>(tile_a, m0, k0, lane));
    }
#pragma unroll
    for (int n = 0; n < kTiles; n += 2) {
      uint32 b[4];
      if constexpr (kLayoutB == kRowMajor) {
        ldmatrix_x4(b, ldmatrix_b_offset<TileB>(tile_b, n0 + 8 * n, k0, lane));
      } else {
        // The [k][n] B recipe is the A recipe with (k0, n0) for (m0, k0).
        ldmatrix_x4_trans(b, ldmatrix_a_offset<TileB>(tile_b, k0, n0 + 8 * n, lane));
      }
      mma_pair<Element>(accumulator[n], accumulator[n + 1], a, b);
    }
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
