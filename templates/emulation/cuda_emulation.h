// CUDA as host C++ for the cuda-emulated backend: the CUDA built-ins the kernels use
// (threadIdx, __syncthreads, warp shuffles and votes, atomics, a few math functions) and the
// attncc::emulation functions that templates/cuda/ptx.h calls instead of inline PTX. Included by
// ptx.h when __CUDA_ARCH__ is undefined; the generated CUDA translation unit then compiles with
// the in-process Clang (or any host compiler, for tests) and runs on the SIMT emulator of
// runtime/emulation/ (docs/EMULATION.md). No system headers: the JIT compiles hermetically.
#pragma once

#if defined(__CUDA_ARCH__)
#error "cuda_emulation.h emulates CUDA on the host; device compiles use the real built-ins"
#endif

#include "common/numeric.h"
#include "emulation/emulation_interface.h"

/// Kernels may test this to tell the emulation from NVRTC (which defines __CUDACC_RTC__).
#define ATTNCC_CUDA_EMULATION 1

// ---- declaration specifiers ------------------------------------------------------------------

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
// Static __shared__ arrays would need one copy per emulated block; the kernels address shared
// memory only through ptx.h's byte offsets into the dynamic window, which the emulator checks.
#define __shared__                                                                              \
  static_assert(false, "static __shared__ is not supported by the CUDA emulation: use the "     \
                       "dynamic shared memory through the offset functions of cuda/ptx.h");

// ---- thread and block indices ------------------------------------------------------------------

typedef attncc_emulation_dim3 uint3;
typedef attncc_emulation_dim3 dim3;

// Macros, not variables: each emulated thread is a fiber, and the emulator knows which one runs.
#define threadIdx (attncc_emulation_current_thread()->thread_index)
#define blockIdx (attncc_emulation_current_thread()->block_index)
#define blockDim (attncc_emulation_current_thread()->block_dim)
#define gridDim (attncc_emulation_current_thread()->grid_dim)
#define warpSize 32

// ---- barriers and warp collectives ---------------------------------------------------------------

inline void __syncthreads() { attncc_emulation_sync_threads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { attncc_emulation_sync_warp(mask); }

namespace attncc::emulation {

template <typename T>
inline T shuffle(unsigned mask, T value, int mode, int operand, int width) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "shuffles move 32- or 64-bit values");
  if constexpr (sizeof(T) == 4) {
    return __builtin_bit_cast(
        T, attncc_emulation_shuffle(mask, __builtin_bit_cast(unsigned, value), mode, operand, width));
  } else {
    // 64-bit shuffles are two 32-bit ones on the GPU too.
    unsigned long long bits = __builtin_bit_cast(unsigned long long, value);
    unsigned low = attncc_emulation_shuffle(mask, unsigned(bits), mode, operand, width);
    unsigned high = attncc_emulation_shuffle(mask, unsigned(bits >> 32), mode, operand, width);
    return __builtin_bit_cast(T, (static_cast<unsigned long long>(high) << 32) | low);
  }
}

}  // namespace attncc::emulation

#define ATTNCC_EMULATION_SHUFFLES(T)                                                            \
  inline T __shfl_sync(unsigned mask, T value, int source_lane, int width = 32) {              \
    return attncc::emulation::shuffle(mask, value, attncc_shuffle_index, source_lane, width);  \
  }                                                                                             \
  inline T __shfl_up_sync(unsigned mask, T value, unsigned delta, int width = 32) {            \
    return attncc::emulation::shuffle(mask, value, attncc_shuffle_up, int(delta), width);      \
  }                                                                                             \
  inline T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = 32) {          \
    return attncc::emulation::shuffle(mask, value, attncc_shuffle_down, int(delta), width);    \
  }                                                                                             \
  inline T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = 32) {            \
    return attncc::emulation::shuffle(mask, value, attncc_shuffle_xor, lane_mask, width);      \
  }
ATTNCC_EMULATION_SHUFFLES(int)
ATTNCC_EMULATION_SHUFFLES(unsigned)
ATTNCC_EMULATION_SHUFFLES(float)
ATTNCC_EMULATION_SHUFFLES(long long)
ATTNCC_EMULATION_SHUFFLES(unsigned long long)
ATTNCC_EMULATION_SHUFFLES(double)
#undef ATTNCC_EMULATION_SHUFFLES

inline int __any_sync(unsigned mask, int predicate) {
  return int(attncc_emulation_vote(mask, attncc_vote_any, predicate != 0));
}
inline int __all_sync(unsigned mask, int predicate) {
  return int(attncc_emulation_vote(mask, attncc_vote_all, predicate != 0));
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  return attncc_emulation_vote(mask, attncc_vote_ballot, predicate != 0);
}

// ---- atomics and fences on global memory: blocks run on several OS threads, so these are real
// atomics (relaxed, as CUDA's). ---------------------------------------------------------------------

template <typename T, typename Update>
inline T attncc_emulation_atomic_update(T* address, Update update) {
  T old;
  __atomic_load(address, &old, __ATOMIC_RELAXED);
  T desired = update(old);
  while (!__atomic_compare_exchange(address, &old, &desired, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED)) {
    desired = update(old);
  }
  return old;
}

inline float atomicAdd(float* address, float value) {
  return attncc_emulation_atomic_update(address, [value](float old) { return old + value; });
}
inline double atomicAdd(double* address, double value) {
  return attncc_emulation_atomic_update(address, [value](double old) { return old + value; });
}
inline int atomicAdd(int* address, int value) {
  return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
}
inline unsigned atomicAdd(unsigned* address, unsigned value) {
  return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
}
inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value) {
  return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
}
inline int atomicExch(int* address, int value) {
  return __atomic_exchange_n(address, value, __ATOMIC_RELAXED);
}
inline unsigned atomicExch(unsigned* address, unsigned value) {
  return __atomic_exchange_n(address, value, __ATOMIC_RELAXED);
}
inline float atomicExch(float* address, float value) {
  return attncc_emulation_atomic_update(address, [value](float) { return value; });
}
template <typename T>
inline T attncc_emulation_atomic_cas(T* address, T compare, T value) {
  __atomic_compare_exchange_n(address, &compare, value, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return compare;  // the old value either way
}
inline int atomicCAS(int* address, int compare, int value) {
  return attncc_emulation_atomic_cas(address, compare, value);
}
inline unsigned atomicCAS(unsigned* address, unsigned compare, unsigned value) {
  return attncc_emulation_atomic_cas(address, compare, value);
}
inline unsigned long long atomicCAS(unsigned long long* address, unsigned long long compare,
                                    unsigned long long value) {
  return attncc_emulation_atomic_cas(address, compare, value);
}
inline int atomicMax(int* address, int value) {
  return attncc_emulation_atomic_update(address, [value](int old) { return old > value ? old : value; });
}
inline unsigned atomicMax(unsigned* address, unsigned value) {
  return attncc_emulation_atomic_update(address,
                                        [value](unsigned old) { return old > value ? old : value; });
}
inline int atomicMin(int* address, int value) {
  return attncc_emulation_atomic_update(address, [value](int old) { return old < value ? old : value; });
}
inline unsigned atomicMin(unsigned* address, unsigned value) {
  return attncc_emulation_atomic_update(address,
                                        [value](unsigned old) { return old < value ? old : value; });
}
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// ---- the CUDA math and bit-cast functions NVRTC offers without headers (a common subset) -------

inline float __int_as_float(int value) { return __builtin_bit_cast(float, value); }
inline int __float_as_int(float value) { return __builtin_bit_cast(int, value); }
inline float __uint_as_float(unsigned value) { return __builtin_bit_cast(float, value); }
inline unsigned __float_as_uint(float value) { return __builtin_bit_cast(unsigned, value); }
inline float __fdividef(float x, float y) { return x / y; }
inline float rsqrtf(float x) { return 1.0f / __builtin_sqrtf(x); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return __builtin_fminf(a, b); }
inline float max(float a, float b) { return __builtin_fmaxf(a, b); }
// The C library's own functions (the JIT resolves them in the process): declared exactly as
// glibc does, so a test that also includes <cmath> sees one function.
extern "C" {
float expf(float) noexcept;
float exp2f(float) noexcept;
float logf(float) noexcept;
float log2f(float) noexcept;
float sqrtf(float) noexcept;
float tanhf(float) noexcept;
float fabsf(float) noexcept;
float fmaxf(float, float) noexcept;
float fminf(float, float) noexcept;
float fmaf(float, float, float) noexcept;
float floorf(float) noexcept;
float ceilf(float) noexcept;
}

// ---- what templates/cuda/ptx.h calls on the host -------------------------------------------------

namespace attncc::emulation {

/// The caller's template line, for the bank-conflict record: ptx.h's emulated shared-memory
/// functions end with these defaulted parameters, so they name the kernel code that called them.
#define ATTNCC_EMULATION_SITE const char *site_file = __builtin_FILE(), int site_line = __builtin_LINE()

inline void cp_async_16(unsigned offset, const void* source, bool valid, const char* file, int line) {
  attncc_emulation_cp_async_16(offset, source, valid ? 1 : 0, file, line);
}
inline void cp_async_4(unsigned offset, const void* source, const char* file, int line) {
  attncc_emulation_cp_async_4(offset, source, file, line);
}
inline void cp_async_commit() { attncc_emulation_cp_async_commit(); }
inline void cp_async_wait(int pending) { attncc_emulation_cp_async_wait(pending); }

template <int kRegisters>
inline void ldmatrix(unsigned (&fragment)[kRegisters], int count, bool transpose, unsigned offset,
                     const char* file, int line) {
  static_assert(kRegisters == 1 || kRegisters == 2 || kRegisters == 4, "ldmatrix loads x1, x2 or x4");
  attncc_emulation_ldmatrix(fragment, count < kRegisters ? count : kRegisters, transpose ? 1 : 0,
                            offset, file, line);
}

inline void mma_m16n8k16(float (&accumulator)[4], const unsigned (&a)[4], const unsigned (&b)[2],
                         bool bfloat16) {
  attncc_emulation_mma_m16n8k16(accumulator, a, b, bfloat16 ? 1 : 0);
}

/// wgmma (templates/cuda/ptx.h): `a` null for A in shared memory (descriptor_a), else this
/// lane's four A registers; transpose_a: A (in shared memory) is M-major; transpose_b: B is
/// N-major.
inline void wgmma(float* accumulator, int n, const unsigned* a, unsigned long long descriptor_a,
                  unsigned long long descriptor_b, bool transpose_a, bool transpose_b,
                  bool bfloat16, bool accumulate) {
  attncc_emulation_wgmma(accumulator, n, a, descriptor_a, descriptor_b, transpose_a ? 1 : 0,
                         transpose_b ? 1 : 0, bfloat16 ? 1 : 0, accumulate ? 1 : 0);
}
inline void wgmma_fence() { attncc_emulation_wgmma_fence(); }
inline void fence_proxy_async() { attncc_emulation_fence_proxy_async(); }
inline void wgmma_commit() { attncc_emulation_wgmma_commit(); }
inline void wgmma_wait(int pending) { attncc_emulation_wgmma_wait(pending); }

/// Which mma the element type selects: bf16 or (otherwise) fp16 inputs.
template <typename Element>
constexpr bool is_bfloat16 = false;
template <>
constexpr bool is_bfloat16<::attncc::bfloat16> = true;

inline unsigned shared_load_u32(unsigned offset, const char* file, int line) {
  return attncc_emulation_shared_load_u32(offset, file, line);
}
inline void shared_store_u32(unsigned offset, unsigned value, const char* file, int line) {
  attncc_emulation_shared_store_u32(offset, value, file, line);
}
inline void shared_store_u128(unsigned offset, unsigned x, unsigned y, unsigned z, unsigned w,
                              const char* file, int line) {
  attncc_emulation_shared_store_u128(offset, x, y, z, w, file, line);
}

}  // namespace attncc::emulation
