// The emulator's warpgroup MMA (wgmma) against plain matrix products: operands are written into
// shared memory in the layout the kernels use (SharedTile of tile_copy.cuh, the 128-byte
// swizzle), described the way the forward describes them (wgmma_descriptor), and multiplied by
// ptx.h's wgmma functions (the ss form K-major and with both operands transposed, as the
// backward's dQ = dS K reads them; the rs form); the expected D comes from the matrices
// themselves. A descriptor
// pointing at the wrong bytes, a wrong page or k step, a wrong accumulator or A-register lane map
// all show as wrong elements. Also: accumulators read NaN until the wait that retires their
// group, and a missing wgmma.fence, a missing fence.proxy.async after writing the operands, or a
// thread exiting with MMAs in flight is an error.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "attncc/error.h"
#include "cuda/ptx.h"
#include "cuda/tile_copy.cuh"
#include "runtime/emulation/emulator.h"
#include "runtime/thread_pool.h"

namespace attncc {
namespace {

using cuda::uint32;
using cuda::uint64;

ThreadPool& pool() {
  static ThreadPool instance(2);
  return instance;
}

constexpr int kRows = 128;  // two warpgroups of 64 rows
constexpr int kDepth = 128;  // K of the ss product: two 64-column pages
constexpr int kColumns = 64;  // N of the ss product (key tile)
constexpr int kKeys = 16;     // K of the rs product
constexpr int kWidth = 128;   // N of the rs product (head_dim_v): two pages

using ATile = cuda::SharedTile<kRows, kDepth>;     // Q: K-major
using BTile = cuda::SharedTile<kColumns, kDepth>;  // K: K-major
using VTile = cuda::SharedTile<kKeys, kWidth>;     // V: N-major
constexpr uint32 kABase = 0;
constexpr uint32 kBBase = kABase + ATile::kBytes;
constexpr uint32 kVBase = kBBase + BTile::kBytes;
constexpr uint32 kSharedBytes = kVBase + VTile::kBytes;

struct WgmmaParams {
  const uint16_t* a;  // [kRows][kDepth]
  const uint16_t* b;  // [kColumns][kDepth]: S = A B^T
  const uint16_t* v;  // [kKeys][kWidth]
  const uint16_t* p;  // [kRows][kKeys]: the rs product's A, from registers
  float* s;           // [kRows][kColumns] out
  float* o;           // [kRows][kWidth] in (C) and out
  float* x;           // [kRows][64] out: warpgroup w's V[:, page w]^T V[:, page 1 - w]
  float* early;       // [threads]: an accumulator read between issue and wait
  int variant;  // 0 correct; 1 no wgmma.fence; 2 exit with MMAs in flight; 3 no proxy fence
};

// Each thread stores 16-bit pairs of `matrix` ([rows][width]) into a SharedTile.
template <typename Tile>
void store_tile(uint32 base, const uint16_t* matrix, int thread, int threads) {
  for (int index = thread; index < Tile::kRowCount * Tile::kWidthCount / 2; index += threads) {
    const int row = index / (Tile::kWidthCount / 2), column = 2 * (index % (Tile::kWidthCount / 2));
    const uint32 offset = base + Tile::chunk_offset(row, column & ~7) + uint32(column & 7) * 2u;
    cuda::shared_store_u32(offset, uint32(matrix[row * Tile::kWidthCount + column]) |
                                       uint32(matrix[row * Tile::kWidthCount + column + 1]) << 16);
  }
}

template <typename Element>
void wgmma_kernel(const void* raw) {
  const auto& params = *static_cast<const WgmmaParams*>(raw);
  const int thread = int(threadIdx.x), threads = int(blockDim.x);
  store_tile<ATile>(kABase, params.a, thread, threads);
  store_tile<BTile>(kBBase, params.b, thread, threads);
  store_tile<VTile>(kVBase, params.v, thread, threads);
  if (params.variant != 3) cuda::fence_proxy_async();
  cuda::sync_threads();
  const int lane = cuda::lane_index(), warp = cuda::warp_index();
  const int g = lane >> 2, t = lane & 3;
  const int row0 = 16 * warp;  // the warp's rows: warpgroup warp / 4, quarter warp % 4

  // S = A B^T: K-major operands, k steps of 32 bytes within a page.
  float s[kColumns / 8][4];
  if (params.variant != 1) cuda::wgmma_fence();
  for (int kk = 0; kk < kDepth / 16; ++kk) {
    const uint32 page = uint32(kk / 4), step = uint32(kk % 4) * 32u;
    cuda::wgmma_m64k16_ss<Element, kColumns>(
        s,
        cuda::wgmma_descriptor(kABase + page * kRows * 128u + uint32(warp / 4) * 64u * 128u + step,
                               16u, 1024u),
        cuda::wgmma_descriptor(kBBase + page * kColumns * 128u + step, 16u, 1024u), kk > 0);
  }
  cuda::wgmma_commit();
  params.early[thread] = s[0][0];
  if (params.variant == 2) return;
  cuda::wgmma_wait<0>();
  cuda::wgmma_fence_operand(s);
  for (int block = 0; block < kColumns / 8; ++block) {
    for (int c = 0; c < 4; ++c) {
      params.s[(row0 + g + 8 * (c >> 1)) * kColumns + 8 * block + 2 * t + (c & 1)] = s[block][c];
    }
  }

  // O += P V: A from registers in the mma.m16n8k16 layout, V N-major over two pages.
  float o[kWidth / 8][4];
  for (int block = 0; block < kWidth / 8; ++block) {
    for (int c = 0; c < 4; ++c) {
      o[block][c] = params.o[(row0 + g + 8 * (c >> 1)) * kWidth + 8 * block + 2 * t + (c & 1)];
    }
  }
  uint32 a[4];
  for (int r = 0; r < 4; ++r) {
    const int row = row0 + g + 8 * (r & 1), column = 2 * t + 8 * (r >> 1);
    a[r] = uint32(params.p[row * kKeys + column]) | uint32(params.p[row * kKeys + column + 1]) << 16;
  }
  cuda::wgmma_fence();
  cuda::wgmma_m64k16_rs<Element, kWidth>(o, a,
                                         cuda::wgmma_descriptor(kVBase, kKeys * 128u, 1024u));
  cuda::wgmma_commit();
  cuda::wgmma_wait<0>();
  cuda::wgmma_fence_operand(o);
  for (int block = 0; block < kWidth / 8; ++block) {
    for (int c = 0; c < 4; ++c) {
      params.o[(row0 + g + 8 * (c >> 1)) * kWidth + 8 * block + 2 * t + (c & 1)] = o[block][c];
    }
  }

  // X = A B with A M-major (V's page w as [k][m]) and B N-major (V's other page as [k][n]).
  float x[8][4];
  const uint32 page = uint32(warp / 4);
  cuda::wgmma_fence();
  cuda::wgmma_m64k16_ss_mn_major<Element, 64>(
      x, cuda::wgmma_descriptor(kVBase + page * kKeys * 128u, kKeys * 128u, 1024u),
      cuda::wgmma_descriptor(kVBase + (1u - page) * kKeys * 128u, kKeys * 128u, 1024u), false);
  cuda::wgmma_commit();
  cuda::wgmma_wait<0>();
  cuda::wgmma_fence_operand(x);
  for (int block = 0; block < 8; ++block) {
    for (int c = 0; c < 4; ++c) {
      params.x[(row0 + g + 8 * (c >> 1)) * 64 + 8 * block + 2 * t + (c & 1)] = x[block][c];
    }
  }
}

uint16_t bits_of(float value, bool bfloat16_input) {
  return bfloat16_input ? from_float<bfloat16>(value).bits : from_float<float16>(value).bits;
}
double value_of(uint16_t bits, bool bfloat16_input) {
  return bfloat16_input ? to_float(bfloat16{bits}) : to_float(float16{bits});
}

struct Matrices {
  std::vector<uint16_t> a, b, v, p;
  std::vector<float> c;
};

Matrices random_matrices(bool bfloat16_input, uint32_t seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto draw = [&](size_t count) {
    std::vector<uint16_t> values(count);
    for (uint16_t& value : values) value = bits_of(normal(random), bfloat16_input);
    return values;
  };
  Matrices matrices{draw(kRows * kDepth), draw(kColumns * kDepth), draw(kKeys * kWidth),
                    draw(kRows * kKeys), std::vector<float>(kRows * kWidth)};
  for (float& value : matrices.c) value = normal(random);
  return matrices;
}

std::string run(const Matrices& matrices, bool bfloat16_input, int variant,
                std::vector<float>& s, std::vector<float>& o, std::vector<float>& early,
                std::vector<float>* x = nullptr) {
  std::vector<float> x_storage;
  if (x == nullptr) x = &x_storage;
  s.assign(kRows * kColumns, std::nanf(""));
  o = matrices.c;
  x->assign(kRows * 64, std::nanf(""));
  early.assign(kRows * 2, 0.0f);
  WgmmaParams params{matrices.a.data(), matrices.b.data(), matrices.v.data(), matrices.p.data(),
                     s.data(), o.data(), x->data(), early.data(), variant};
  emulation::LaunchConfiguration configuration;
  configuration.kernel_name = "wgmma_kernel";
  configuration.entry = bfloat16_input ? &wgmma_kernel<bfloat16> : &wgmma_kernel<float16>;
  configuration.grid = {1, 1, 1};
  configuration.block = {kRows * 2, 1, 1};  // 8 warps, 16 rows each
  configuration.shared_bytes = kSharedBytes;
  configuration.params = &params;
  configuration.seed = 3;
  try {
    emulation::run_launch(configuration, pool());
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

void check_products(bool bfloat16_input, uint32_t seed) {
  const Matrices matrices = random_matrices(bfloat16_input, seed);
  std::vector<float> s, o, early, x;
  ASSERT_EQ(run(matrices, bfloat16_input, 0, s, o, early, &x), "");
  int wrong = 0;
  for (int row = 0; row < kRows; ++row) {
    const int page = row / 64;
    for (int column = 0; column < 64; ++column) {
      double expected = 0, magnitude = 0;
      for (int k = 0; k < kKeys; ++k) {
        const double product =
            value_of(matrices.v[k * kWidth + 64 * page + row % 64], bfloat16_input) *
            value_of(matrices.v[k * kWidth + 64 * (1 - page) + column], bfloat16_input);
        expected += product;
        magnitude += std::fabs(product);
      }
      const float actual = x[row * 64 + column];
      if (!(std::fabs(actual - expected) <= 1e-5 * magnitude + 1e-6) && ++wrong <= 5) {
        ADD_FAILURE() << "X[" << row << "][" << column << "] = " << actual << ", expected "
                      << expected;
      }
    }
    for (int column = 0; column < kColumns; ++column) {
      double expected = 0, magnitude = 0;
      for (int k = 0; k < kDepth; ++k) {
        const double product = value_of(matrices.a[row * kDepth + k], bfloat16_input) *
                               value_of(matrices.b[column * kDepth + k], bfloat16_input);
        expected += product;
        magnitude += std::fabs(product);
      }
      const float actual = s[row * kColumns + column];
      if (!(std::fabs(actual - expected) <= 1e-5 * magnitude + 1e-6) && ++wrong <= 5) {
        ADD_FAILURE() << "S[" << row << "][" << column << "] = " << actual << ", expected "
                      << expected;
      }
    }
    for (int column = 0; column < kWidth; ++column) {
      double expected = matrices.c[row * kWidth + column];
      double magnitude = std::fabs(expected);
      for (int k = 0; k < kKeys; ++k) {
        const double product = value_of(matrices.p[row * kKeys + k], bfloat16_input) *
                               value_of(matrices.v[k * kWidth + column], bfloat16_input);
        expected += product;
        magnitude += std::fabs(product);
      }
      const float actual = o[row * kWidth + column];
      if (!(std::fabs(actual - expected) <= 1e-5 * magnitude + 1e-6) && ++wrong <= 10) {
        ADD_FAILURE() << "O[" << row << "][" << column << "] = " << actual << ", expected "
                      << expected;
      }
    }
  }
  EXPECT_EQ(wrong, 0);
  // Read between commit and wait: the GPU gives no defined value; the emulation gives NaN.
  for (float value : early) EXPECT_TRUE(std::isnan(value));
}

TEST(EmulatedWgmma, Bfloat16ProductsFromSwizzledTilesMatchMatrixProducts) {
  check_products(true, 17);
}

TEST(EmulatedWgmma, Float16ProductsFromSwizzledTilesMatchMatrixProducts) {
  check_products(false, 18);
}

TEST(EmulatedWgmma, MissingFenceIsReported) {
  const Matrices matrices = random_matrices(true, 19);
  std::vector<float> s, o, early;
  EXPECT_NE(run(matrices, true, 1, s, o, early).find("without a wgmma.fence"), std::string::npos);
}

TEST(EmulatedWgmma, OperandsWrittenWithoutAProxyFenceAreReported) {
  const Matrices matrices = random_matrices(true, 21);
  std::vector<float> s, o, early;
  EXPECT_NE(run(matrices, true, 3, s, o, early).find("without a fence.proxy.async"),
            std::string::npos);
}

TEST(EmulatedWgmma, ExitWithMmasInFlightIsReported) {
  const Matrices matrices = random_matrices(true, 20);
  std::vector<float> s, o, early;
  EXPECT_NE(run(matrices, true, 2, s, o, early).find("in flight"), std::string::npos);
}

}  // namespace
}  // namespace attncc
