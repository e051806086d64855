// The emulator's primitives, each against a plain implementation written from the PTX ISA tables
// of KERNELS.md §1-3 (not from the emulator's code): mma.m16n8k16 on random fragments against a
// matrix product, ldmatrix x1/x2/x4 with and without .trans on a known matrix, shuffles and votes,
// cp.async visibility, and the errors (shared memory out of bounds or misaligned, divergent
// barriers and collectives). Kernels are plain C++ functions over templates/cuda/ptx.h, run
// through emulation::run_launch (emulated_jit_test.cpp compiles one with the in-process Clang).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
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
using emulation::Dim3;

ThreadPool& pool() {
  static ThreadPool instance(2);
  return instance;
}

void launch(emulation::EntryPoint entry, const void* params, Dim3 grid, Dim3 block,
            unsigned shared_bytes, uint64_t seed = 1, const char* name = "test_kernel") {
  emulation::LaunchConfiguration configuration;
  configuration.kernel_name = name;
  configuration.entry = entry;
  configuration.grid = grid;
  configuration.block = block;
  configuration.shared_bytes = shared_bytes;
  configuration.params = params;
  configuration.seed = seed;
  emulation::run_launch(configuration, pool());
}

// The message of the Error a launch throws ("" when it succeeds).
std::string launch_error(emulation::EntryPoint entry, const void* params, Dim3 grid, Dim3 block,
                         unsigned shared_bytes, uint64_t seed = 1) {
  try {
    launch(entry, params, grid, block, shared_bytes, seed);
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInternal) << error.what();
    return error.what();
  }
  return "";
}

uint16_t bits_of(float value, bool bfloat16_input) {
  return bfloat16_input ? from_float<bfloat16>(value).bits : from_float<float16>(value).bits;
}
double value_of(uint16_t bits, bool bfloat16_input) {
  return bfloat16_input ? to_float(bfloat16{bits}) : to_float(float16{bits});
}

// ---- mma.m16n8k16 ------------------------------------------------------------------------------

struct MmaParams {
  const uint32* a;  // [32 lanes][4]
  const uint32* b;  // [32][2]
  float* c;         // [32][4], in: C, out: D
  bool bfloat16_input;
};

void mma_kernel(const void* raw) {
  const auto& params = *static_cast<const MmaParams*>(raw);
  const int lane = cuda::lane_index();
  uint32 a[4], b[2];
  float accumulator[4];
  for (int r = 0; r < 4; ++r) a[r] = params.a[lane * 4 + r];
  for (int r = 0; r < 2; ++r) b[r] = params.b[lane * 2 + r];
  for (int i = 0; i < 4; ++i) accumulator[i] = params.c[lane * 4 + i];
  if (params.bfloat16_input) {
    cuda::mma_m16n8k16<bfloat16>(accumulator, a, b);
  } else {
    cuda::mma_m16n8k16<float16>(accumulator, a, b);
  }
  for (int i = 0; i < 4; ++i) params.c[lane * 4 + i] = accumulator[i];
}

// Fragments from the PTX element table (KERNELS.md §1, "operand / element / row / col"), not
// from the per-register restatement the emulator uses.
void check_mma(bool bfloat16_input, uint32_t seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  uint16_t a[16][16], b[16][8];
  float c[16][8];
  for (auto& row : a) for (auto& element : row) element = bits_of(normal(random), bfloat16_input);
  for (auto& row : b) for (auto& element : row) element = bits_of(normal(random), bfloat16_input);
  for (auto& row : c) for (float& element : row) element = normal(random);
  std::vector<uint32> a_fragments(32 * 4), b_fragments(32 * 2);
  std::vector<float> accumulators(32 * 4);
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane & 3;
    for (int i = 0; i < 8; ++i) {  // a_i
      const int row = (i == 0 || i == 1 || i == 4 || i == 5) ? g : g + 8;
      const int col = i < 4 ? 2 * t + (i & 1) : 2 * t + (i & 1) + 8;
      a_fragments[lane * 4 + i / 2] |= uint32(a[row][col]) << (16 * (i % 2));
    }
    for (int i = 0; i < 4; ++i) {  // b_i
      const int row = i < 2 ? 2 * t + (i & 1) : 2 * t + (i & 1) + 8;
      b_fragments[lane * 2 + i / 2] |= uint32(b[row][g]) << (16 * (i % 2));
    }
    for (int i = 0; i < 4; ++i) accumulators[lane * 4 + i] = c[i < 2 ? g : g + 8][2 * t + (i & 1)];
  }
  std::vector<float> poisoned = accumulators;
  MmaParams params{a_fragments.data(), b_fragments.data(), accumulators.data(), bfloat16_input};
  launch(&mma_kernel, &params, {1, 1, 1}, {32, 1, 1}, 0);
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane & 3;
    for (int i = 0; i < 4; ++i) {
      const int row = i < 2 ? g : g + 8, col = 2 * t + (i & 1);
      double expected = c[row][col], magnitude = std::fabs(c[row][col]);
      for (int k = 0; k < 16; ++k) {
        const double product = value_of(a[row][k], bfloat16_input) * value_of(b[k][col], bfloat16_input);
        expected += product;
        magnitude += std::fabs(product);
      }
      // 16 fp32 additions of exact products: a few units of 2^-24 of the magnitude.
      EXPECT_NEAR(accumulators[lane * 4 + i], expected, 1e-6 * magnitude + 1e-30)
          << "lane " << lane << " c" << i << " (row " << row << ", col " << col << ")";
    }
  }
}

TEST(EmulatedMma, Bfloat16MatchesMatrixProduct) {
  for (uint32_t seed = 1; seed <= 5; ++seed) check_mma(true, seed);
}

TEST(EmulatedMma, Float16MatchesMatrixProduct) {
  for (uint32_t seed = 11; seed <= 15; ++seed) check_mma(false, seed);
}

// ---- ldmatrix ------------------------------------------------------------------------------------

struct LdmatrixParams {
  const uint16_t* matrices;  // [4][8][8] row-major, element (j, r, c)
  int count;
  bool transpose;
  uint32* out;               // [32][4]
};

// Row r of matrix j lives at shared row slot (5 * (8j + r) + 3) % 32: rows scattered, so a lane
// that used another lane's address would fetch the wrong row.
unsigned row_slot(int matrix, int row) { return unsigned((5 * (8 * matrix + row) + 3) % 32); }

void ldmatrix_kernel(const void* raw) {
  const auto& params = *static_cast<const LdmatrixParams*>(raw);
  const int lane = cuda::lane_index();
  // Lane l stores row l (matrix l >> 3, row l & 7) to its slot: 8 elements = 4 words.
  const int matrix = lane >> 3, row = lane & 7;
  for (int word = 0; word < 4; ++word) {
    const uint16_t* element = params.matrices + (matrix * 8 + row) * 8 + 2 * word;
    cuda::shared_store_u32(row_slot(matrix, row) * 16 + 4 * word,
                           uint32(element[0]) | (uint32(element[1]) << 16));
  }
  cuda::sync_threads();
  const uint32 offset = row_slot(matrix, row) * 16;
  uint32 fragment[4] = {0, 0, 0, 0};
  if (params.count == 1) {
    uint32 one[1];
    params.transpose ? cuda::ldmatrix_x1_trans(one, offset) : cuda::ldmatrix_x1(one, offset);
    fragment[0] = one[0];
  } else if (params.count == 2) {
    uint32 two[2];
    params.transpose ? cuda::ldmatrix_x2_trans(two, offset) : cuda::ldmatrix_x2(two, offset);
    fragment[0] = two[0];
    fragment[1] = two[1];
  } else {
    params.transpose ? cuda::ldmatrix_x4_trans(fragment, offset) : cuda::ldmatrix_x4(fragment, offset);
  }
  for (int j = 0; j < 4; ++j) params.out[lane * 4 + j] = fragment[j];
}

TEST(EmulatedLdmatrix, EveryCountWithAndWithoutTransposeMatchesThePtxLaneMap) {
  std::vector<uint16_t> matrices(4 * 8 * 8);
  for (size_t index = 0; index < matrices.size(); ++index) matrices[index] = uint16_t(1000 + index);
  for (int count : {1, 2, 4}) {
    for (bool transpose : {false, true}) {
      std::vector<uint32> out(32 * 4, 0xdeadbeefu);
      LdmatrixParams params{matrices.data(), count, transpose, out.data()};
      launch(&ldmatrix_kernel, &params, {1, 1, 1}, {32, 1, 1}, 512);
      for (int lane = 0; lane < 32; ++lane) {
        for (int j = 0; j < count; ++j) {
          // KERNELS.md §2: no .trans -> M[l >> 2][2 (l & 3) + h]; .trans -> M[2 (l & 3) + h][l >> 2].
          uint16_t halves[2];
          for (int h = 0; h < 2; ++h) {
            const int row = transpose ? 2 * (lane & 3) + h : lane >> 2;
            const int col = transpose ? lane >> 2 : 2 * (lane & 3) + h;
            halves[h] = matrices[size_t((j * 8 + row) * 8 + col)];
          }
          EXPECT_EQ(out[lane * 4 + j], uint32(halves[0]) | (uint32(halves[1]) << 16))
              << "x" << count << (transpose ? ".trans" : "") << " lane " << lane << " reg " << j;
        }
      }
    }
  }
}

// ---- shuffles and votes -------------------------------------------------------------------------

struct ShuffleParams {
  int* out;  // [threads][16]
};

void shuffle_kernel(const void* raw) {
  const auto& params = *static_cast<const ShuffleParams*>(raw);
  const int thread = int(threadIdx.x), lane = thread & 31;
  const int value = 100 * thread;
  int* out = params.out + thread * 16;
  for (int bit = 0; bit < 5; ++bit) out[bit] = __shfl_xor_sync(0xffffffffu, value, 1 << bit);
  out[5] = __shfl_sync(0xffffffffu, value, (lane * 7) % 32);
  out[6] = __shfl_down_sync(0xffffffffu, value, 3);
  out[7] = __shfl_up_sync(0xffffffffu, value, 2);
  out[8] = __shfl_xor_sync(0xffffffffu, value, 4, 8);   // within 8-lane segments
  out[9] = __shfl_down_sync(0xffffffffu, value, 5, 8);  // own value past the segment end
  out[10] = int(__ballot_sync(0xffffffffu, lane % 3 == 0));
  out[11] = __any_sync(0xffffffffu, lane == 17);
  out[12] = __all_sync(0xffffffffu, lane < 31);
  out[13] = int(cuda::shfl_xor(float(value) + 0.5f, 16) - 0.5f);
  out[14] = int(__shfl_xor_sync(0xffffffffu, (long long)value << 20, 1) >> 20);
  out[15] = __all_sync(0xffffffffu, 1);
}

TEST(EmulatedShuffle, ShufflesAndVotesFollowCudaSemantics) {
  const int threads = 64;
  std::vector<int> out(threads * 16, -1);
  ShuffleParams params{out.data()};
  launch(&shuffle_kernel, &params, {1, 1, 1}, {threads, 1, 1}, 0);
  unsigned ballot = 0;
  for (int lane = 0; lane < 32; lane += 3) ballot |= 1u << lane;
  for (int thread = 0; thread < threads; ++thread) {
    const int lane = thread & 31, base = thread - lane;
    const int* row = out.data() + thread * 16;
    auto value = [&](int source_lane) { return 100 * (base + source_lane); };
    for (int bit = 0; bit < 5; ++bit) EXPECT_EQ(row[bit], value(lane ^ (1 << bit))) << thread;
    EXPECT_EQ(row[5], value((lane * 7) % 32)) << thread;
    EXPECT_EQ(row[6], value(lane + 3 < 32 ? lane + 3 : lane)) << thread;
    EXPECT_EQ(row[7], value(lane >= 2 ? lane - 2 : lane)) << thread;
    EXPECT_EQ(row[8], value(lane ^ 4)) << thread;
    EXPECT_EQ(row[9], value((lane & 7) + 5 < 8 ? lane + 5 : lane)) << thread;
    EXPECT_EQ(unsigned(row[10]), ballot) << thread;
    EXPECT_EQ(row[11], 1) << thread;
    EXPECT_EQ(row[12], 0) << thread;
    EXPECT_EQ(row[13], value(lane ^ 16)) << thread;
    EXPECT_EQ(row[14], value(lane ^ 1)) << thread;
    EXPECT_EQ(row[15], 1) << thread;
  }
}

// ---- cp.async -------------------------------------------------------------------------------------

struct CopyParams {
  const uint32* source;  // [threads][8] (two 16-byte chunks per thread)
  uint32* observed;      // [threads][kObserved]
};

constexpr int kObserved = 8;

void cp_async_kernel(const void* raw) {
  const auto& params = *static_cast<const CopyParams*>(raw);
  const int thread = int(threadIdx.x);
  const uint32 first = uint32(thread) * 32, second = first + 16;
  uint32* observed = params.observed + thread * kObserved;
  cuda::cp_async_16(first, params.source + thread * 8, true);
  cuda::cp_async_commit();
  cuda::cp_async_16(second, params.source + thread * 8 + 4, true);
  cuda::cp_async_commit();
  observed[0] = cuda::shared_load_u32(first);   // in flight
  cuda::cp_async_wait<1>();                       // the first group landed, the second not
  observed[1] = cuda::shared_load_u32(first);
  observed[2] = cuda::shared_load_u32(second);
  cuda::cp_async_wait<0>();
  observed[3] = cuda::shared_load_u32(second);
  cuda::cp_async_16(first, params.source, false);  // zero fill, lands at the next wait
  cuda::cp_async_commit();
  cuda::cp_async_wait<0>();
  observed[4] = cuda::shared_load_u32(first + 12);
  // 4 bytes from a source that is not 16-byte aligned into the second word of the chunk.
  cuda::cp_async_4(first + 4, params.source + thread * 8 + 1);
  cuda::cp_async_commit();
  observed[5] = cuda::shared_load_u32(first + 4);  // in flight
  cuda::cp_async_wait<0>();
  observed[6] = cuda::shared_load_u32(first + 4);
  observed[7] = cuda::shared_load_u32(first + 8);  // untouched: still the zero fill
}

TEST(EmulatedCpAsync, DestinationHoldsNanUntilTheWaitOfItsGroup) {
  const int threads = 64;
  std::vector<uint32> source(threads * 8);
  for (size_t index = 0; index < source.size(); ++index) source[index] = uint32(0x10000 + index);
  std::vector<uint32> observed(threads * kObserved, 0);
  CopyParams params{source.data(), observed.data()};
  launch(&cp_async_kernel, &params, {1, 1, 1}, {threads, 1, 1}, threads * 32);
  for (int thread = 0; thread < threads; ++thread) {
    const uint32* row = observed.data() + thread * kObserved;
    EXPECT_EQ(row[0], 0x7fc07fc0u) << thread;
    EXPECT_TRUE(std::isnan(bits_to_float(row[0])));
    EXPECT_EQ(row[1], source[thread * 8]) << thread;
    EXPECT_EQ(row[2], 0x7fc07fc0u) << thread;
    EXPECT_EQ(row[3], source[thread * 8 + 4]) << thread;
    EXPECT_EQ(row[4], 0u) << thread;
    EXPECT_EQ(row[5], 0x7fc07fc0u) << thread;
    EXPECT_EQ(row[6], source[thread * 8 + 1]) << thread;
    EXPECT_EQ(row[7], 0u) << thread;
  }
}

// ---- errors ---------------------------------------------------------------------------------------

struct ErrorParams {
  int variant;
  const void* source;
};

void faulty_kernel(const void* raw) {
  const auto& params = *static_cast<const ErrorParams*>(raw);
  const int thread = int(threadIdx.x), lane = thread & 31;
  switch (params.variant) {
    case 0:  // out of bounds: thread 37 stores just past the 256 bytes
      cuda::shared_store_u32(thread == 37 ? 256 : 4 * uint32(thread % 64), 1);
      break;
    case 1: {  // misaligned ldmatrix row address in lane 3
      uint32 fragment[4];
      cuda::ldmatrix_x4(fragment, lane == 3 ? 24 : 16 * uint32(lane % 8));
      break;
    }
    case 2:  // barrier inside a branch only warps 0 and 1 take
      if (thread < 64) cuda::sync_threads();
      break;
    case 3:  // a shuffle only half of warp 1 reaches (the other half goes on and exits)
      if (thread < 48) (void)cuda::shfl_xor(1.0f, 1);
      break;
    case 4:  // divergent collectives: lanes 0-15 shuffle while 16-31 vote
      if (lane < 16) {
        (void)cuda::shfl_xor(1.0f, 1);
      } else {
        (void)__ballot_sync(0xffffffffu, 1);
      }
      break;
    case 5:  // misaligned cp.async source
      cuda::cp_async_16(16 * uint32(thread % 16), static_cast<const char*>(params.source) + 4, true);
      break;
    case 6:  // a lane of warp 2 waits at __syncthreads while its warp shuffles
      if (thread == 70) {
        cuda::sync_threads();
      } else {
        (void)cuda::shfl_xor(1.0f, 1);
        cuda::sync_threads();
      }
      break;
    default: break;
  }
}

TEST(EmulatedErrors, SharedStoreOutOfBoundsNamesKernelBlockThreadAndOffset) {
  ErrorParams params{0, nullptr};
  std::string message = launch_error(&faulty_kernel, &params, {3, 2, 1}, {128, 1, 1}, 256);
  EXPECT_NE(message.find("kernel test_kernel"), std::string::npos) << message;
  EXPECT_NE(message.find("block ("), std::string::npos) << message;
  EXPECT_NE(message.find("thread (37, 0, 0) (warp 1, lane 5)"), std::string::npos) << message;
  EXPECT_NE(message.find("at shared byte offset 256 is outside the 256 bytes"), std::string::npos)
      << message;
  EXPECT_NE(message.find("emulation seed 1"), std::string::npos) << message;
}

TEST(EmulatedErrors, MisalignedLdmatrixAddressIsReported) {
  ErrorParams params{1, nullptr};
  std::string message = launch_error(&faulty_kernel, &params, {1, 1, 1}, {32, 1, 1}, 1024);
  EXPECT_NE(message.find("misaligned ldmatrix row address: shared byte offset 24"), std::string::npos)
      << message;
  EXPECT_NE(message.find("lane 3"), std::string::npos) << message;
}

TEST(EmulatedErrors, BarrierReachedByPartOfTheBlockIsReportedNotAHang) {
  ErrorParams params{2, nullptr};
  std::string message = launch_error(&faulty_kernel, &params, {1, 1, 1}, {128, 1, 1}, 0);
  EXPECT_NE(message.find("__syncthreads"), std::string::npos) << message;
}

TEST(EmulatedErrors, ShuffleReachedByHalfAWarpIsReported) {
  ErrorParams params{3, nullptr};
  std::string message = launch_error(&faulty_kernel, &params, {1, 1, 1}, {64, 1, 1}, 0);
  EXPECT_NE(message.find("__shfl_xor_sync"), std::string::npos) << message;
  EXPECT_NE(message.find("exited"), std::string::npos) << message;
}

TEST(EmulatedErrors, DivergentCollectivesAreReported) {
  ErrorParams params{4, nullptr};
  std::string message = launch_error(&faulty_kernel, &params, {1, 1, 1}, {32, 1, 1}, 0);
  EXPECT_NE(message.find("divergence"), std::string::npos) << message;
}

TEST(EmulatedErrors, MisalignedCpAsyncSourceIsReported) {
  alignas(16) static const unsigned char source[64] = {};
  ErrorParams params{5, source};
  std::string message = launch_error(&faulty_kernel, &params, {1, 1, 1}, {32, 1, 1}, 256);
  EXPECT_NE(message.find("misaligned cp.async source"), std::string::npos) << message;
}

TEST(EmulatedErrors, LaneAtBarrierWhileItsWarpShufflesIsReported) {
  ErrorParams params{6, nullptr};
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    std::string message = launch_error(&faulty_kernel, &params, {1, 1, 1}, {96, 1, 1}, 0, seed);
    EXPECT_NE(message.find("divergence"), std::string::npos) << message;
  }
}

TEST(EmulatedErrors, LaunchesTheGpuWouldRefuseAreArgumentErrors) {
  ErrorParams params{-1, nullptr};
  for (auto [block, shared] : {std::pair<Dim3, unsigned>{{2048, 1, 1}, 0},
                               {{128, 1, 1}, emulation::kMaxSharedBytes + 1}}) {
    try {
      launch(&faulty_kernel, &params, {1, 1, 1}, block, shared);
      ADD_FAILURE() << "launch accepted";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument) << error.what();
    }
  }
}

// ---- blocks, atomics, indices ---------------------------------------------------------------------

struct GridParams {
  float* sum;
  int* index_errors;
};

void grid_kernel(const void* raw) {
  const auto& params = *static_cast<const GridParams*>(raw);
  const unsigned linear_block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  if (blockDim.x != 8 || blockDim.y != 4 || gridDim.z != 3) atomicAdd(params.index_errors, 1);
  if (threadIdx.x >= 8 || threadIdx.y >= 4) atomicAdd(params.index_errors, 1);
  cuda::atomic_add(params.sum, float(linear_block));
}

TEST(EmulatedLaunch, EveryThreadOfEveryBlockRunsWithItsIndices) {
  float sum = 0;
  int index_errors = 0;
  GridParams params{&sum, &index_errors};
  launch(&grid_kernel, &params, {5, 2, 3}, {8, 4, 1}, 0);
  EXPECT_EQ(index_errors, 0);
  // Each of the 30 blocks adds its index once per thread (32 threads).
  EXPECT_EQ(sum, 32.0f * (29.0f * 30.0f / 2.0f));
}

}  // namespace
}  // namespace attncc
