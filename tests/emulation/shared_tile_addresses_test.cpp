// The per-lane ldmatrix addresses of templates/cuda/tile_copy.cuh (RowLaneAddresses,
// ColumnLaneAddress and its pair_to_the_right), which the backward's warp GEMMs use instead of recomputing the swizzle per
// ldmatrix: for every lane, every block origin the GEMMs can ask for and every tile shape the
// kernels use, each must equal the swizzled layout written out here from its definition
// (KERNELS.md §4: 64-column pages of 128-byte rows, chunk ^= row % 8; a 32-column tail page of
// 64-byte rows, chunk ^= (row / 2) % 4), at tile bases that are multiples of 1024 bytes.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "cuda/tile_copy.cuh"  // built with -Wno-unknown-pragmas (tests/CMakeLists.txt)

namespace attncc::cuda {
namespace {

/// Byte offset of the chunk holding (row, column) in a [rows][width] swizzled tile, from the
/// layout's definition.
uint32_t layout_offset(int rows, int width, int row, int column) {
  const int full_pages = width / 64;
  const int page = column / 64;
  if (page < full_pages) {
    const int chunk = (column % 64) / 8;
    return uint32_t(page * rows * 128 + row * 128 + ((chunk ^ (row % 8)) * 16));
  }
  const int chunk = (column % 64) / 8;
  return uint32_t(full_pages * rows * 128 + row * 64 + ((chunk ^ ((row / 2) % 4)) * 16));
}

template <int kRows, int kWidth>
void check_tile() {
  using Tile = SharedTile<kRows, kWidth>;
  const std::string shape = std::to_string(kRows) + "x" + std::to_string(kWidth);
  int checked = 0;
  for (uint32_t base : {0u, 1024u, 5u * 1024u}) {
    for (int lane = 0; lane < 32; ++lane) {
      // The GEMM recipes' lane rows (16 rows, or 8 + 8) and columns (0 or 8).
      for (int lane_row : {lane & 15, (lane & 7) + 8 * (lane >> 4)}) {
        for (int lane_column : {0, 8}) {
          // Row-major blocks: a run-time row origin folded into the lane's row, compile-time
          // style block origins (row0 % 8 == 0, column0 % 16 == 0).
          for (int m0 = 0; m0 + 16 <= kRows; m0 += 16) {
            const RowLaneAddresses<Tile> lanes =
                row_lane_addresses<Tile>(base, m0 + lane_row, lane_column);
            for (int row0 = 0; m0 + row0 + 16 <= kRows; row0 += 8) {
              for (int column0 = 0; column0 + 16 <= kWidth; column0 += 16) {
                const uint32_t expected = base + layout_offset(kRows, kWidth, m0 + lane_row + row0,
                                                               column0 + lane_column);
                ASSERT_EQ(lanes.at(row0, column0), expected)
                    << shape << " lane " << lane << " m0 " << m0 << " block (" << row0 << ", "
                    << column0 << ")";
                if (column0 / 64 < Tile::kFullPages) {
                  ASSERT_EQ(lanes.in_full_page(column0 / 64, row0, column0 % 64), expected)
                      << shape << " lane " << lane << " block (" << row0 << ", " << column0 << ")";
                }
                ++checked;
              }
            }
          }
          // Column blocks: any run-time column (a multiple of 8 plus the lane's), rows down it.
          for (int column = lane_column; column < kWidth; column += 16) {
            const ColumnLaneAddress<Tile> lanes = column_lane_address<Tile>(base, lane_row, column);
            for (int row0 = 0; lane_row + row0 < kRows; row0 += 8) {
              ASSERT_EQ(lanes.at(row0),
                        base + layout_offset(kRows, kWidth, lane_row + row0, column))
                  << shape << " lane " << lane << " column " << column << " row0 " << row0;
              ++checked;
            }
          }
          // Column pairs to the right (whole pages only): a warp's run of `span` columns from
          // n0, a multiple of span, where span divides 64 or is whole pages.
          if constexpr (kWidth % 64 == 0) {
            for (int span : {16, 32, 64, 128, 256}) {
              if (span > kWidth || (span % 64 != 0 && 64 % span != 0)) continue;
              for (int n0 = 0; n0 < kWidth; n0 += span) {
                const ColumnLaneAddress<Tile> lanes =
                    column_lane_address<Tile>(base, lane_row, n0 + lane_column);
                for (int row0 = 0; lane_row + row0 < kRows; row0 += 16) {
                  for (int pair = 0; pair < span / 16; ++pair) {
                    ASSERT_EQ(ColumnLaneAddress<Tile>::pair_to_the_right(lanes.at(row0), pair),
                              base + layout_offset(kRows, kWidth, lane_row + row0,
                                                   n0 + lane_column + 16 * pair))
                        << shape << " lane " << lane << " span " << span << " n0 " << n0
                        << " row0 " << row0 << " pair " << pair;
                    ++checked;
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 0) << shape;
}

// Every (rows, width) of a shared tile the kernels declare: the forward's Q/K/V tiles, the
// backward's query, key and score tiles, at head dims 32, 64, 96, 128 and 256.
TEST(SharedTileLaneAddresses, MatchTheSwizzledLayoutForEveryLaneAndBlock) {
  check_tile<64, 32>();
  check_tile<64, 64>();
  check_tile<64, 96>();
  check_tile<64, 128>();
  check_tile<128, 64>();
  check_tile<128, 128>();
  check_tile<32, 256>();
  check_tile<32, 32>();
  check_tile<64, 256>();
}

}  // namespace
}  // namespace attncc::cuda
