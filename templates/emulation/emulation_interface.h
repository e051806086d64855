// The C interface between CUDA kernels compiled as host C++ (templates/emulation/cuda_emulation.h)
// and the SIMT emulator that runs them (runtime/emulation/). Plain C declarations, no system
// headers: the JIT resolves these names to the emulator's functions (JitOptions::host_symbols),
// and a test executable that includes the kernels directly links them from the library.
//
// Every function acts for the emulated thread (fiber) that calls it. None returns to the kernel
// after an error: the emulator records the error, abandons the launch and throws from its
// launcher, so kernels need no error paths.
#pragma once

extern "C" {

struct attncc_emulation_dim3 {
  unsigned x, y, z;
};

/// What threadIdx, blockIdx, blockDim and gridDim read.
struct attncc_emulation_thread {
  attncc_emulation_dim3 thread_index;
  attncc_emulation_dim3 block_index;
  attncc_emulation_dim3 block_dim;
  attncc_emulation_dim3 grid_dim;
};

/// Modes of attncc_emulation_shuffle (PTX shfl.sync .idx/.up/.down/.bfly).
enum attncc_emulation_shuffle_mode {
  attncc_shuffle_index = 0,
  attncc_shuffle_up = 1,
  attncc_shuffle_down = 2,
  attncc_shuffle_xor = 3
};
/// Modes of attncc_emulation_vote.
enum attncc_emulation_vote_mode { attncc_vote_any = 0, attncc_vote_all = 1, attncc_vote_ballot = 2 };

const attncc_emulation_thread* attncc_emulation_current_thread() noexcept;

/// __syncthreads: every thread of the block must arrive.
void attncc_emulation_sync_threads() noexcept;
/// __syncwarp(mask): the lanes of `mask` meet.
void attncc_emulation_sync_warp(unsigned mask) noexcept;
/// One 32-bit shfl.sync among the lanes of `mask`; `operand` is the source lane, delta or lane mask.
unsigned attncc_emulation_shuffle(unsigned mask, unsigned value, int mode, int operand,
                                  int width) noexcept;
/// vote.sync among the lanes of `mask`: any/all give 0 or 1, ballot the lane bit mask.
unsigned attncc_emulation_vote(unsigned mask, int mode, int predicate) noexcept;

/// Every shared-memory access below also names the template line that issued it (`file` and
/// `line` of the caller of ptx.h's function), for the bank-conflict record
/// (runtime/emulation/shared_banks.h); `file` must outlive the launch (a string literal).

/// ldmatrix.sync.aligned.m8n8.x{count}{.trans}.shared.b16: fragment[0..count) of this lane.
void attncc_emulation_ldmatrix(unsigned* fragment, int count, int transpose, unsigned offset,
                               const char* file, int line) noexcept;
/// mma.sync.aligned.m16n8k16.row.col.f32.{bf16|f16}: accumulator[4] += A(a[4]) * B(b[2]).
void attncc_emulation_mma_m16n8k16(float* accumulator, const unsigned* a, const unsigned* b,
                                   int bfloat16) noexcept;

/// wgmma.mma_async.sync.aligned.m64n{n}k16.f32.{bf16|f16} (n 64 or 128): every lane of the warp
/// (one quarter of the warpgroup) issues it with the same descriptors and flags. A is the
/// 64 x 16 matrix of `descriptor_a` (K-major, 128-byte swizzle; M-major with transpose_a) when
/// `a` is null, else the lanes' registers (the warp's 16 rows); B is n x 16 K-major or, with
/// transpose_b, 16 x n N-major. The product lands at the warp's wgmma_wait that retires its
/// group: shared memory is read then, and the accumulators hold NaN until then. accumulate 0:
/// D = A B, else D += A B.
void attncc_emulation_wgmma(float* accumulator, int n, const unsigned* a,
                            unsigned long long descriptor_a, unsigned long long descriptor_b,
                            int transpose_a, int transpose_b, int bfloat16,
                            int accumulate) noexcept;
/// wgmma.fence, commit_group and wait_group (at most `pending` groups left in flight).
void attncc_emulation_wgmma_fence() noexcept;
/// fence.proxy.async.shared::cta: the calling thread's shared writes so far become visible to
/// wgmma's operand reads (which fail on bytes a thread wrote and has not fenced).
void attncc_emulation_fence_proxy_async() noexcept;
void attncc_emulation_wgmma_commit() noexcept;
void attncc_emulation_wgmma_wait(int pending) noexcept;

/// cp.async.cg 16 bytes global -> shared (zero-fill when !valid), commit_group, wait_group.
void attncc_emulation_cp_async_16(unsigned offset, const void* source, int valid,
                                  const char* file, int line) noexcept;
/// cp.async.ca 4 bytes global -> shared (4-byte aligned both sides).
void attncc_emulation_cp_async_4(unsigned offset, const void* source, const char* file,
                                 int line) noexcept;
void attncc_emulation_cp_async_commit() noexcept;
void attncc_emulation_cp_async_wait(int pending) noexcept;

/// Dynamic shared memory at byte `offset`, checked against the launch's size and alignment.
unsigned attncc_emulation_shared_load_u32(unsigned offset, const char* file, int line) noexcept;
void attncc_emulation_shared_store_u32(unsigned offset, unsigned value, const char* file,
                                       int line) noexcept;
void attncc_emulation_shared_store_u128(unsigned offset, unsigned x, unsigned y, unsigned z,
                                        unsigned w, const char* file, int line) noexcept;

}  // extern "C"
