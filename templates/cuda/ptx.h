// Every GPU-only operation the CUDA kernels use, as named functions (DESIGN §4): inline PTX when
// compiled for the device (__CUDA_ARCH__ defined, NVRTC or nvcc), and the SIMT emulation of
// templates/emulation/ when the same translation unit is compiled as host C++ (the
// cuda-emulated backend). Kernels use nothing else that is GPU-only besides the CUDA built-ins
// the emulation header also provides (threadIdx, blockIdx, blockDim, gridDim, __syncthreads,
// __shfl_xor_sync, atomicAdd, atomicCAS).
//
// Shared memory is addressed by 32-bit byte offsets from the start of the block's dynamic shared
// memory (the window every kernel gets, 1024-byte aligned so the 128-byte XOR swizzle of
// KERNELS.md §4 works on offsets). Every shared access goes through these functions, so the
// emulation can check each one against the launch's shared memory size.
//
// Fragment layouts are those of the PTX ISA (KERNELS.md §1, §2): lane = threadIdx.x & 31,
// g = lane >> 2, t = lane & 3.
#pragma once

#if defined(__CUDA_ARCH__)
#define ATTNCC_HOST_DEVICE __device__
#define ATTNCC_DEVICE __device__ __forceinline__
#else
#include "emulation/cuda_emulation.h"
#define ATTNCC_DEVICE inline
#endif

#include "common/numeric.h"

namespace attncc::cuda {

typedef kernel_uint32 uint32;
typedef unsigned long long uint64;

#if defined(__CUDA_ARCH__)

extern __shared__ __align__(1024) unsigned char dynamic_shared_memory[];

/// The .shared window address of byte `offset` of the dynamic shared memory.
ATTNCC_DEVICE uint32 shared_address(uint32 offset) {
  uint32 base;
  asm("{ .reg .u64 generic; cvta.to.shared.u64 generic, %1; cvt.u32.u64 %0, generic; }"
      : "=r"(base)
      : "l"(dynamic_shared_memory));
  return base + offset;
}

// ---- cp.async (KERNELS.md §3) --------------------------------------------------------------

/// Copies 16 bytes from global `source` to shared `offset` asynchronously; with `valid` false
/// the 16 bytes are zero-filled and nothing is read (src-size 0), but `source` must still be a
/// valid address (clamp it). Both addresses 16-byte aligned.
ATTNCC_DEVICE void cp_async_16(uint32 offset, const void* source, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(offset)),
               "l"(source), "r"(valid ? 16 : 0)
               : "memory");
}

/// Issues an asynchronous 4-byte copy global -> shared (both 4-byte aligned; .ca, since .cg
/// takes 16 bytes only): for fp32 rows whose start is not 16-byte aligned (LSE, delta).
ATTNCC_DEVICE void cp_async_4(uint32 offset, const void* source) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(shared_address(offset)),
               "l"(source)
               : "memory");
}

/// Closes this thread's outstanding cp.async into a group (an empty group when none).
ATTNCC_DEVICE void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

/// Waits until at most `kPending` of this thread's most recent groups are still in flight. The
/// data is then visible to this thread only: a __syncthreads must follow before others read it.
template <int kPending>
ATTNCC_DEVICE void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

// ---- ldmatrix (KERNELS.md §2): lane l supplies the row address of row (l & 7) of matrix
// (l >> 3); register j receives this lane's fragment of matrix j. -----------------------------

ATTNCC_DEVICE void ldmatrix_x1(uint32 (&fragment)[1], uint32 offset) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n"
               : "=r"(fragment[0])
               : "r"(shared_address(offset)));
}
ATTNCC_DEVICE void ldmatrix_x2(uint32 (&fragment)[2], uint32 offset) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(fragment[0]), "=r"(fragment[1])
               : "r"(shared_address(offset)));
}
ATTNCC_DEVICE void ldmatrix_x4(uint32 (&fragment)[4], uint32 offset) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(fragment[0]), "=r"(fragment[1]), "=r"(fragment[2]), "=r"(fragment[3])
               : "r"(shared_address(offset)));
}
ATTNCC_DEVICE void ldmatrix_x1_trans(uint32 (&fragment)[1], uint32 offset) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n"
               : "=r"(fragment[0])
               : "r"(shared_address(offset)));
}
ATTNCC_DEVICE void ldmatrix_x2_trans(uint32 (&fragment)[2], uint32 offset) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(fragment[0]), "=r"(fragment[1])
               : "r"(shared_address(offset)));
}
ATTNCC_DEVICE void ldmatrix_x4_trans(uint32 (&fragment)[4], uint32 offset) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(fragment[0]), "=r"(fragment[1]), "=r"(fragment[2]), "=r"(fragment[3])
               : "r"(shared_address(offset)));
}

// ---- mma.sync m16n8k16, fp32 accumulation: accumulator += A (16x16, row) * B (16x8, col) ----

template <typename Element>
ATTNCC_DEVICE void mma_m16n8k16(float (&accumulator)[4], const uint32 (&a)[4],
                                const uint32 (&b)[2]);

template <>
ATTNCC_DEVICE void mma_m16n8k16<bfloat16>(float (&accumulator)[4], const uint32 (&a)[4],
                                          const uint32 (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(accumulator[0]), "+f"(accumulator[1]), "+f"(accumulator[2]), "+f"(accumulator[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

template <>
ATTNCC_DEVICE void mma_m16n8k16<float16>(float (&accumulator)[4], const uint32 (&a)[4],
                                         const uint32 (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(accumulator[0]), "+f"(accumulator[1]), "+f"(accumulator[2]), "+f"(accumulator[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// ---- wgmma (sm_90a, PTX ISA 9.7.15): warpgroup MMA m64nNk16, fp32 accumulation -------------
// A warpgroup (4 consecutive warps, the first a multiple of 4) issues each instruction together;
// warp w of the group owns rows 16w..16w+15 of the 64, with the mma.m16n8 accumulator layout
// per n8 column block (d[n8][0..3]: rows g, g, g + 8, g + 8; columns 2t, 2t + 1). B (and A in
// the ss form) come from shared memory through descriptors (wgmma_descriptor); A in the rs form
// from registers, in the mma.m16n8k16 A fragment layout (so a P fragment packed from S
// accumulators feeds it as it feeds mma.sync: KERNELS.md §5.4). The products are asynchronous:
// fence before the first one, commit, wait, then wgmma_fence_operand before reading the
// accumulators.

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
constexpr bool kWgmmaAvailable = true;

/// wgmma.fence: orders this thread's earlier register writes (accumulators, A fragments) before
/// the warpgroup MMAs that follow.
ATTNCC_DEVICE void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
ATTNCC_DEVICE void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int kPending>
ATTNCC_DEVICE void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
}
/// Makes the accumulators' values come from after the wait: the compiler sees each register
/// written by the wgmma asm statement, so without this it could move their reads above the
/// wait_group (which names no registers).
template <int kBlocks>
ATTNCC_DEVICE void wgmma_fence_operand(float (&d)[kBlocks][4]) {
#pragma unroll
  for (int block = 0; block < kBlocks; ++block) {
#pragma unroll
    for (int c = 0; c < 4; ++c) asm volatile("" : "+f"(d[block][c])::"memory");
  }
}
/// The same for A fragments in registers: live, and unchanged, until after the wait that
/// retires the MMAs reading them.
template <int kBlocks>
ATTNCC_DEVICE void wgmma_fence_operand(uint32 (&a)[kBlocks][4]) {
#pragma unroll
  for (int block = 0; block < kBlocks; ++block) {
#pragma unroll
    for (int r = 0; r < 4; ++r) asm volatile("" : "+r"(a[block][r])::"memory");
  }
}
/// fence.proxy.async: shared memory written through the generic proxy (cp.async, st.shared)
/// becomes visible to the tensor cores' async proxy; each writing thread, before the barrier.
ATTNCC_DEVICE void fence_proxy_async() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

/// D[64 x N] (+)= A[64 x 16] B[16 x N], A and B K-major in shared memory.
template <typename Element, int kN>
ATTNCC_DEVICE void wgmma_m64k16_ss(float (&d)[kN / 8][4], uint64 a, uint64 b, bool accumulate);
/// D[64 x N] += A[64 x 16] B[16 x N], A from registers, B N-major (transposed) in shared memory.
template <typename Element, int kN>
ATTNCC_DEVICE void wgmma_m64k16_rs(float (&d)[kN / 8][4], const uint32 (&a)[4], uint64 b);
/// D[64 x N] (+)= A[64 x 16] B[16 x N], A M-major and B N-major in shared memory (both
/// transposed: the backward's dQ = dS K reads dS stored as [key][query] and K as [key][dim]).
template <typename Element, int kN>
ATTNCC_DEVICE void wgmma_m64k16_ss_mn_major(float (&d)[kN / 8][4], uint64 a, uint64 b,
                                            bool accumulate);

// The accumulator operands of an m64nNk16 product: N / 2 fp32 registers per thread, and their
// names in the instruction's text.
#define ATTNCC_WGMMA_N64_ACCUMULATORS                                                              \
      "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]),    \
      "+f"(d[1][2]), "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]),    \
      "+f"(d[3][0]), "+f"(d[3][1]), "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]),    \
      "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]), "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]),    \
      "+f"(d[6][0]), "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]), "+f"(d[7][0]), "+f"(d[7][1]),    \
      "+f"(d[7][2]), "+f"(d[7][3])
#define ATTNCC_WGMMA_N128_ACCUMULATORS                                                             \
      "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]),    \
      "+f"(d[1][2]), "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]),    \
      "+f"(d[3][0]), "+f"(d[3][1]), "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]),    \
      "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]), "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]),    \
      "+f"(d[6][0]), "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]), "+f"(d[7][0]), "+f"(d[7][1]),    \
      "+f"(d[7][2]), "+f"(d[7][3]), "+f"(d[8][0]), "+f"(d[8][1]), "+f"(d[8][2]), "+f"(d[8][3]),    \
      "+f"(d[9][0]), "+f"(d[9][1]), "+f"(d[9][2]), "+f"(d[9][3]), "+f"(d[10][0]), "+f"(d[10][1]),  \
      "+f"(d[10][2]), "+f"(d[10][3]), "+f"(d[11][0]), "+f"(d[11][1]), "+f"(d[11][2]),              \
      "+f"(d[11][3]), "+f"(d[12][0]), "+f"(d[12][1]), "+f"(d[12][2]), "+f"(d[12][3]),              \
      "+f"(d[13][0]), "+f"(d[13][1]), "+f"(d[13][2]), "+f"(d[13][3]), "+f"(d[14][0]),              \
      "+f"(d[14][1]), "+f"(d[14][2]), "+f"(d[14][3]), "+f"(d[15][0]), "+f"(d[15][1]),              \
      "+f"(d[15][2]), "+f"(d[15][3])
#define ATTNCC_WGMMA_N64_NAMES                                                                     \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"                         \
  " %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31},\n"
#define ATTNCC_WGMMA_N128_NAMES                                                                    \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"                         \
  " %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31,"               \
  " %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47,"               \
  " %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63},\n"

// The ss form at N = 64, K-major (S = Q K^T; the backward's S^T = K Q^T, dP^T = V dO^T) and both
// operands transposed (the backward's dQ = dS K), and the rs form at N = 64 and 128 (O += P V;
// dV += P^T dO, dK += dS^T Q), for one element type: PTX_TYPE is its PTX name ("bf16", "f16").
// The trailing immediates are scale-a, scale-b, then transpose-a and transpose-b (ss only).
#define ATTNCC_WGMMA_FORMS(ELEMENT, PTX_TYPE)                                                      \
template <>                                                                                        \
ATTNCC_DEVICE void wgmma_m64k16_ss<ELEMENT, 64>(float (&d)[8][4], uint64 a, uint64 b,              \
                                           bool accumulate) {                                      \
  asm volatile("{ .reg .pred p; setp.ne.b32 p, %34, 0;\n"                                          \
               "wgmma.mma_async.sync.aligned.m64n64k16.f32." PTX_TYPE "." PTX_TYPE "\n"            \
               ATTNCC_WGMMA_N64_NAMES "%32, %33, p, 1, 1, 0, 0; }\n"                               \
               : ATTNCC_WGMMA_N64_ACCUMULATORS                                                     \
               : "l"(a), "l"(b), "r"(int(accumulate)));                                            \
}                                                                                                  \
template <>                                                                                        \
ATTNCC_DEVICE void wgmma_m64k16_ss_mn_major<ELEMENT, 64>(float (&d)[8][4], uint64 a, uint64 b,     \
                                                    bool accumulate) {                             \
  asm volatile("{ .reg .pred p; setp.ne.b32 p, %34, 0;\n"                                          \
               "wgmma.mma_async.sync.aligned.m64n64k16.f32." PTX_TYPE "." PTX_TYPE "\n"            \
               ATTNCC_WGMMA_N64_NAMES "%32, %33, p, 1, 1, 1, 1; }\n"                               \
               : ATTNCC_WGMMA_N64_ACCUMULATORS                                                     \
               : "l"(a), "l"(b), "r"(int(accumulate)));                                            \
}                                                                                                  \
template <>                                                                                        \
ATTNCC_DEVICE void wgmma_m64k16_rs<ELEMENT, 64>(float (&d)[8][4], const uint32 (&a)[4],            \
                                           uint64 b) {                                             \
  asm volatile("{ .reg .pred p; setp.ne.b32 p, %37, 0;\n"                                          \
               "wgmma.mma_async.sync.aligned.m64n64k16.f32." PTX_TYPE "." PTX_TYPE "\n"            \
               ATTNCC_WGMMA_N64_NAMES "{%32, %33, %34, %35}, %36, p, 1, 1, 1; }\n"                 \
               : ATTNCC_WGMMA_N64_ACCUMULATORS                                                     \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1));                      \
}                                                                                                  \
template <>                                                                                        \
ATTNCC_DEVICE void wgmma_m64k16_rs<ELEMENT, 128>(float (&d)[16][4], const uint32 (&a)[4],          \
                                           uint64 b) {                                             \
  asm volatile("{ .reg .pred p; setp.ne.b32 p, %69, 0;\n"                                          \
               "wgmma.mma_async.sync.aligned.m64n128k16.f32." PTX_TYPE "." PTX_TYPE "\n"           \
               ATTNCC_WGMMA_N128_NAMES "{%64, %65, %66, %67}, %68, p, 1, 1, 1; }\n"                \
               : ATTNCC_WGMMA_N128_ACCUMULATORS                                                    \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1));                      \
}
ATTNCC_WGMMA_FORMS(bfloat16, "bf16")
ATTNCC_WGMMA_FORMS(float16, "f16")
#undef ATTNCC_WGMMA_FORMS
#undef ATTNCC_WGMMA_N64_ACCUMULATORS
#undef ATTNCC_WGMMA_N128_ACCUMULATORS
#undef ATTNCC_WGMMA_N64_NAMES
#undef ATTNCC_WGMMA_N128_NAMES

#else
// Other targets: stubs that trap, so that kernels whose wgmma branch is discarded (`if
// constexpr` on Config::kForwardWgmma, which the host sets for sm_90a alone) still compile; the
// forward static_asserts kWgmmaAvailable, so none of these is ever instantiated with a caller.
constexpr bool kWgmmaAvailable = false;
ATTNCC_DEVICE void wgmma_fence() { __trap(); }
ATTNCC_DEVICE void wgmma_commit() { __trap(); }
template <int kPending>
ATTNCC_DEVICE void wgmma_wait() {
  __trap();
}
template <int kBlocks>
ATTNCC_DEVICE void wgmma_fence_operand(float (&)[kBlocks][4]) {
  __trap();
}
template <int kBlocks>
ATTNCC_DEVICE void wgmma_fence_operand(uint32 (&)[kBlocks][4]) {
  __trap();
}
ATTNCC_DEVICE void fence_proxy_async() { __trap(); }
template <typename Element, int kN>
ATTNCC_DEVICE void wgmma_m64k16_ss(float (&)[kN / 8][4], uint64, uint64, bool) {
  __trap();
}
template <typename Element, int kN>
ATTNCC_DEVICE void wgmma_m64k16_rs(float (&)[kN / 8][4], const uint32 (&)[4], uint64) {
  __trap();
}
template <typename Element, int kN>
ATTNCC_DEVICE void wgmma_m64k16_ss_mn_major(float (&)[kN / 8][4], uint64, uint64, bool) {
  __trap();
}
#endif  // __CUDA_ARCH_FEAT_SM90_ALL

// ---- conversions: two fp32 values to one register of two 16-bit elements, round to nearest
// even; `low` goes to bits [15:0] (cvt puts its first source in the high half). ---------------

template <typename Element>
ATTNCC_DEVICE uint32 pack_pair(float low, float high);

template <>
ATTNCC_DEVICE uint32 pack_pair<bfloat16>(float low, float high) {
  uint32 packed;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(packed) : "f"(high), "f"(low));
  return packed;
}

template <>
ATTNCC_DEVICE uint32 pack_pair<float16>(float low, float high) {
  uint32 packed;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;\n" : "=r"(packed) : "f"(high), "f"(low));
  return packed;
}

// ---- plain shared-memory access (offsets naturally aligned to the access size) --------------

ATTNCC_DEVICE float shared_load_f32(uint32 offset) {
  float value;
  asm volatile("ld.shared.f32 %0, [%1];\n" : "=f"(value) : "r"(shared_address(offset)));
  return value;
}
ATTNCC_DEVICE void shared_store_f32(uint32 offset, float value) {
  asm volatile("st.shared.f32 [%0], %1;\n" ::"r"(shared_address(offset)), "f"(value) : "memory");
}
ATTNCC_DEVICE uint32 shared_load_u32(uint32 offset) {
  uint32 value;
  asm volatile("ld.shared.u32 %0, [%1];\n" : "=r"(value) : "r"(shared_address(offset)));
  return value;
}
ATTNCC_DEVICE void shared_store_u32(uint32 offset, uint32 value) {
  asm volatile("st.shared.u32 [%0], %1;\n" ::"r"(shared_address(offset)), "r"(value) : "memory");
}
/// 16 bytes; offset 16-byte aligned.
ATTNCC_DEVICE void shared_store_u128(uint32 offset, uint32 x, uint32 y, uint32 z, uint32 w) {
  asm volatile("st.shared.v4.u32 [%0], {%1, %2, %3, %4};\n" ::"r"(shared_address(offset)),
               "r"(x), "r"(y), "r"(z), "r"(w)
               : "memory");
}

// ---- math -----------------------------------------------------------------------------------

/// 2^x, ex2.approx (2 ulp; exp2(-inf) = +0, exp2(NaN) = NaN).
ATTNCC_DEVICE float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}
/// log2(x), lg2.approx (log2(0) = -inf).
ATTNCC_DEVICE float fast_log2(float x) {
  float y;
  asm("lg2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}
ATTNCC_DEVICE float fast_tanh(float x) {
  float y;
  asm("tanh.approx.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}
/// max(a, b), NaN if either is NaN (max.NaN.f32, sm_80: one FMNMX.NAN where the comparisons
/// spelled out in C++ take two or three instructions).
ATTNCC_DEVICE float max_nan(float a, float b) {
  float y;
  asm("max.NaN.f32 %0, %1, %2;\n" : "=f"(y) : "f"(a), "f"(b));
  return y;
}

/// `value` unchanged, but unknown to the compiler: an address computed from it is not loop
/// invariant, so ptxas recomputes it where used instead of keeping every such address of a
/// fully unrolled loop nest in registers across the kernel's outer loops (and then spilling).
ATTNCC_DEVICE uint32 opaque(uint32 value) {
  asm volatile("" : "+r"(value));
  return value;
}

#else  // host C++: the cuda-emulated backend (templates/emulation/cuda_emulation.h)

ATTNCC_DEVICE void cp_async_16(uint32 offset, const void* source, bool valid,
                               ATTNCC_EMULATION_SITE) {
  emulation::cp_async_16(offset, source, valid, site_file, site_line);
}
ATTNCC_DEVICE void cp_async_4(uint32 offset, const void* source, ATTNCC_EMULATION_SITE) {
  emulation::cp_async_4(offset, source, site_file, site_line);
}
ATTNCC_DEVICE void cp_async_commit() { emulation::cp_async_commit(); }
template <int kPending>
ATTNCC_DEVICE void cp_async_wait() {
  emulation::cp_async_wait(kPending);
}

ATTNCC_DEVICE void ldmatrix_x1(uint32 (&fragment)[1], uint32 offset, ATTNCC_EMULATION_SITE) {
  emulation::ldmatrix(fragment, 1, false, offset, site_file, site_line);
}
ATTNCC_DEVICE void ldmatrix_x2(uint32 (&fragment)[2], uint32 offset, ATTNCC_EMULATION_SITE) {
  emulation::ldmatrix(fragment, 2, false, offset, site_file, site_line);
}
ATTNCC_DEVICE void ldmatrix_x4(uint32 (&fragment)[4], uint32 offset, ATTNCC_EMULATION_SITE) {
  emulation::ldmatrix(fragment, 4, false, offset, site_file, site_line);
}
ATTNCC_DEVICE void ldmatrix_x1_trans(uint32 (&fragment)[1], uint32 offset,
                                     ATTNCC_EMULATION_SITE) {
  emulation::ldmatrix(fragment, 1, true, offset, site_file, site_line);
}
ATTNCC_DEVICE void ldmatrix_x2_trans(uint32 (&fragment)[2], uint32 offset,
                                     ATTNCC_EMULATION_SITE) {
  emulation::ldmatrix(fragment, 2, true, offset, site_file, site_line);
}
ATTNCC_DEVICE void ldmatrix_x4_trans(uint32 (&fragment)[4], uint32 offset,
                                     ATTNCC_EMULATION_SITE) {
  emulation::ldmatrix(fragment, 4, true, offset, site_file, site_line);
}

template <typename Element>
ATTNCC_DEVICE void mma_m16n8k16(float (&accumulator)[4], const uint32 (&a)[4],
                                const uint32 (&b)[2]) {
  emulation::mma_m16n8k16(accumulator, a, b, emulation::is_bfloat16<Element>);
}

template <typename Element>
ATTNCC_DEVICE uint32 pack_pair(float low, float high) {
  return uint32(from_float<Element>(low).bits) | (uint32(from_float<Element>(high).bits) << 16);
}

ATTNCC_DEVICE float shared_load_f32(uint32 offset, ATTNCC_EMULATION_SITE) {
  return bits_to_float(emulation::shared_load_u32(offset, site_file, site_line));
}
ATTNCC_DEVICE void shared_store_f32(uint32 offset, float value, ATTNCC_EMULATION_SITE) {
  emulation::shared_store_u32(offset, float_to_bits(value), site_file, site_line);
}
ATTNCC_DEVICE uint32 shared_load_u32(uint32 offset, ATTNCC_EMULATION_SITE) {
  return emulation::shared_load_u32(offset, site_file, site_line);
}
ATTNCC_DEVICE void shared_store_u32(uint32 offset, uint32 value, ATTNCC_EMULATION_SITE) {
  emulation::shared_store_u32(offset, value, site_file, site_line);
}
ATTNCC_DEVICE void shared_store_u128(uint32 offset, uint32 x, uint32 y, uint32 z, uint32 w,
                                     ATTNCC_EMULATION_SITE) {
  emulation::shared_store_u128(offset, x, y, z, w, site_file, site_line);
}

ATTNCC_DEVICE uint32 opaque(uint32 value) { return value; }

constexpr bool kWgmmaAvailable = true;

/// The emulated shared window starts at 0 (1024-byte aligned like the device's).
ATTNCC_DEVICE uint32 shared_address(uint32 offset) { return offset; }

ATTNCC_DEVICE void wgmma_fence() { emulation::wgmma_fence(); }
ATTNCC_DEVICE void wgmma_commit() { emulation::wgmma_commit(); }
template <int kPending>
ATTNCC_DEVICE void wgmma_wait() {
  emulation::wgmma_wait(kPending);
}
template <int kBlocks>
ATTNCC_DEVICE void wgmma_fence_operand(float (&)[kBlocks][4]) {}
template <int kBlocks>
ATTNCC_DEVICE void wgmma_fence_operand(uint32 (&)[kBlocks][4]) {}
ATTNCC_DEVICE void fence_proxy_async() { emulation::fence_proxy_async(); }

template <typename Element, int kN>
ATTNCC_DEVICE void wgmma_m64k16_ss(float (&d)[kN / 8][4], uint64 a, uint64 b, bool accumulate) {
  emulation::wgmma(&d[0][0], kN, nullptr, a, b, false, false, emulation::is_bfloat16<Element>,
                   accumulate);
}
template <typename Element, int kN>
ATTNCC_DEVICE void wgmma_m64k16_ss_mn_major(float (&d)[kN / 8][4], uint64 a, uint64 b,
                                            bool accumulate) {
  emulation::wgmma(&d[0][0], kN, nullptr, a, b, true, true, emulation::is_bfloat16<Element>,
                   accumulate);
}
template <typename Element, int kN>
ATTNCC_DEVICE void wgmma_m64k16_rs(float (&d)[kN / 8][4], const uint32 (&a)[4], uint64 b) {
  emulation::wgmma(&d[0][0], kN, a, 0, b, false, true, emulation::is_bfloat16<Element>, true);
}

ATTNCC_DEVICE float fast_exp2(float x) { return __builtin_exp2f(x); }
ATTNCC_DEVICE float fast_log2(float x) { return __builtin_log2f(x); }
ATTNCC_DEVICE float fast_tanh(float x) { return __builtin_tanhf(x); }
ATTNCC_DEVICE float max_nan(float a, float b) { return (a > b || a != a) ? a : b; }

#endif

/// A wgmma shared-memory matrix descriptor (PTX ISA "Matrix Descriptor Format") for an operand
/// in the 128-byte swizzle of SharedTile (tile_copy.cuh), whose 8-row x 128-byte atoms are the
/// ISA's 128B-swizzle atoms when the tile base is 1024-byte aligned (base offset 0). The
/// hardware swizzles absolute shared addresses, so this relies on the dynamic window itself
/// being 1024-byte aligned: `__align__(1024)` above, and no static shared memory in any kernel
/// (nvrtc_specs_test requires 0 B static for the wgmma forward). Start, leading and stride byte
/// offsets are encoded >> 4 in 14 bits each. K-major operands: stride = 1024 (from one 8-row
/// group to the next), leading unused (16); MN-major: leading = the bytes from one 64-element
/// column page to the next, stride = 1024 (from 8 K rows to the next 8).
ATTNCC_DEVICE uint64 wgmma_descriptor(uint32 offset, uint32 leading_bytes, uint32 stride_bytes) {
  return uint64((shared_address(offset) & 0x3ffffu) >> 4) |
         (uint64((leading_bytes >> 4) & 0x3fffu) << 16) |
         (uint64((stride_bytes >> 4) & 0x3fffu) << 32) | (uint64(1) << 62);
}

// ---- the same on both: CUDA built-ins the emulation also provides ---------------------------

ATTNCC_DEVICE float shfl_xor(float value, int lane_mask) {
  return __shfl_xor_sync(0xffffffffu, value, lane_mask);
}
ATTNCC_DEVICE void sync_threads() { __syncthreads(); }
/// fp32 atomic add to global memory (dQ accumulation).
ATTNCC_DEVICE void atomic_add(float* address, float value) { atomicAdd(address, value); }
/// Compare-and-swap on a global int, returning the old value (the device status flag: the
/// first block to find inconsistent offsets records them).
ATTNCC_DEVICE int atomic_compare_exchange(int* address, int expected, int desired) {
  return atomicCAS(address, expected, desired);
}

ATTNCC_DEVICE int lane_index() { return int(threadIdx.x) & 31; }
ATTNCC_DEVICE int warp_index() { return int(threadIdx.x) >> 5; }

}  // namespace attncc::cuda
