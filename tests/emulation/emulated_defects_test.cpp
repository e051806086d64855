// Proof that the emulation catches the bugs it exists for (issue 8 item 5): a small tile GEMM
// written like the real kernels (cp.async into shared memory, wait, barrier, ldmatrix, mma)
// passes against a float64 product, and each of three defects, a removed barrier, a missing
// cp.async wait and a wrong fragment index, makes it fail, on every seed tried.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "attncc/error.h"
#include "cuda/ptx.h"
#include "runtime/emulation/emulator.h"
#include "runtime/thread_pool.h"

namespace attncc {
namespace {

using cuda::uint32;

enum class Defect { kNone, kNoBarrier, kNoWait, kWrongFragment };

// C (16 x 16, fp32) = A (16 x 16, row-major) * B^T, with B stored key-major [n][k] like K in
// S = Q K^T. Two warps: warp w stores columns [8w, 8w + 8). Each of the 64 threads copies one
// 16-byte chunk, even threads of the A tile and odd threads of the B tile, as the real kernels
// spread a tile's copies over the block: every warp reads chunks the other warp copied, so
// without the barrier the warp the emulator runs first reads chunks not yet copied.
struct GemmParams {
  const bfloat16* a;  // [16][16]
  const bfloat16* b;  // [16][16], [n][k]
  float* c;           // [16][16]
  Defect defect;
};

constexpr uint32 kTileBytes = 16 * 16 * 2;  // one 16 x 16 bf16 tile, rows of 32 bytes

void gemm_kernel(const void* raw) {
  const auto& params = *static_cast<const GemmParams*>(raw);
  const int thread = int(threadIdx.x), lane = cuda::lane_index(), warp = cuda::warp_index();
  {
    const int chunk = thread / 2, row = chunk / 2, half = chunk % 2;
    const bool copies_a = thread % 2 == 0;
    const bfloat16* source = (copies_a ? params.a : params.b) + row * 16 + half * 8;
    const uint32 tile = copies_a ? 0 : kTileBytes;
    cuda::cp_async_16(tile + uint32(row * 32 + half * 16), source, true);
    cuda::cp_async_commit();
  }
  if (params.defect != Defect::kNoWait) cuda::cp_async_wait<0>();
  if (params.defect != Defect::kNoBarrier) cuda::sync_threads();

  // A fragments (KERNELS.md §2.1): lane l supplies row (l & 15), column 8 (l >> 4); the defect
  // takes the A^T order (matrix 1 = next 8 columns), which swaps the two off-diagonal quadrants.
  const int a_row = params.defect == Defect::kWrongFragment ? (lane & 7) + 8 * (lane >> 4) : lane & 15;
  const int a_column = params.defect == Defect::kWrongFragment ? 8 * ((lane >> 3) & 1) : 8 * (lane >> 4);
  uint32 a[4];
  cuda::ldmatrix_x4(a, uint32(a_row * 32 + a_column * 2));
  // B fragments of n8 tile j from B[n][k]: lane l supplies n = 8j + (l & 7), k = 8 ((l >> 3) & 1).
  // Both warps compute both n8 tiles (so each reads every chunk of the block's copies) and
  // warp w stores tile w.
  float accumulator[2][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}};
  for (int tile = 0; tile < 2; ++tile) {
    uint32 b[2];
    const int b_row = 8 * tile + (lane & 7), b_column = 8 * ((lane >> 3) & 1);
    cuda::ldmatrix_x2(b, kTileBytes + uint32(b_row * 32 + b_column * 2));
    cuda::mma_m16n8k16<bfloat16>(accumulator[tile], a, b);
  }
  const int g = lane >> 2, t = lane & 3;
  for (int i = 0; i < 4; ++i) {
    params.c[(g + 8 * (i >> 1)) * 16 + 8 * warp + 2 * t + (i & 1)] = accumulator[warp][i];
  }
}

// Runs the kernel on random inputs; "" when C matches the float64 product, else what differed
// (or the emulator's error).
std::string run_gemm(Defect defect, uint64_t seed, ThreadPool& pool) {
  std::mt19937_64 random(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  alignas(16) bfloat16 a[256], b[256];
  for (bfloat16& value : a) value = from_float<bfloat16>(normal(random));
  for (bfloat16& value : b) value = from_float<bfloat16>(normal(random));
  std::vector<float> c(256, std::nanf(""));
  GemmParams params{a, b, c.data(), defect};
  emulation::LaunchConfiguration launch;
  launch.kernel_name = "gemm_test";
  launch.entry = &gemm_kernel;
  launch.block = {64, 1, 1};
  launch.shared_bytes = 2 * kTileBytes;
  launch.params = &params;
  launch.seed = seed;
  try {
    emulation::run_launch(launch, pool);
  } catch (const Error& error) {
    return error.what();
  }
  for (int row = 0; row < 16; ++row) {
    for (int column = 0; column < 16; ++column) {
      double expected = 0, magnitude = 0;
      for (int k = 0; k < 16; ++k) {
        const double product = double(to_float(a[row * 16 + k])) * to_float(b[column * 16 + k]);
        expected += product;
        magnitude += std::fabs(product);
      }
      const float actual = c[size_t(row * 16 + column)];
      if (!(std::fabs(actual - expected) <= 1e-5 * magnitude + 1e-30)) {
        return "C[" + std::to_string(row) + "][" + std::to_string(column) + "] = " +
               std::to_string(actual) + ", expected " + std::to_string(expected);
      }
    }
  }
  return "";
}

class EmulatedDefects : public ::testing::Test {
 protected:
  ThreadPool pool_{2};
};

TEST_F(EmulatedDefects, CorrectKernelMatchesTheProductOnEverySeed) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    EXPECT_EQ(run_gemm(Defect::kNone, seed, pool_), "") << "seed " << seed;
  }
}

TEST_F(EmulatedDefects, RemovedBarrierFails) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::string failure = run_gemm(Defect::kNoBarrier, seed, pool_);
    EXPECT_NE(failure, "") << "seed " << seed;
  }
}

TEST_F(EmulatedDefects, MissingCpAsyncWaitFails) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::string failure = run_gemm(Defect::kNoWait, seed, pool_);
    // The destination still holds the in-flight NaN when ldmatrix reads it.
    EXPECT_NE(failure.find("nan"), std::string::npos) << "seed " << seed << ": " << failure;
  }
}

TEST_F(EmulatedDefects, WrongFragmentIndexFails) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::string failure = run_gemm(Defect::kWrongFragment, seed, pool_);
    EXPECT_NE(failure, "") << "seed " << seed;
    EXPECT_EQ(failure.find("nan"), std::string::npos) << "a wrong value, not missing data: " << failure;
  }
}

}  // namespace
}  // namespace attncc
