// attncc::Runtime: compiles specs into kernels (once per hash, cached in memory and on disk) and
// runs them; Kernel::forward / Kernel::backward validate every argument first (DESIGN §1, §5).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "attncc/spec.h"
#include "attncc/tensor.h"

namespace attncc {

enum class Backend {
  kAuto,          ///< CUDA when a device is present, else CPU
  kCpu,           ///< Clang/LLVM JIT for the host CPU
  kCuda,          ///< NVRTC + driver API
  kCudaEmulated,  ///< the CUDA kernels compiled for the host and run on an emulated GPU
};

std::string_view backend_name(Backend backend);  ///< "auto", "cpu", "cuda", "cuda-emulated"
/// Parses "auto", "cpu", "cuda", "cuda-emulated"; throws Error(kInvalidArgument) otherwise.
Backend parse_backend(std::string_view name);

/// How the CPU backend runs a forward. Both give the reference's results (tests check each);
/// O's last bits depend on the schedule and the parts.
enum class CpuForwardSchedule {
  /// kSplit where whole query tiles would leave threads idle (by the estimated wall time of
  /// plan_cpu_forward, runtime/cpu/cpu_launch.h), else kTiles.
  kAuto,
  /// One work item per (document, query head, query tile of 64 rows).
  kTiles,
  /// Each query tile's key tiles dealt over parts (snake order, as kFusedSplit), each part
  /// keeping its rows' running max, sum and fp32 output in scratch (parts x 64 x (Dv + 2)
  /// floats per query tile and head); a last pass merges the parts in order. For few query
  /// rows against many keys (decoding, chunked prefill). Forced, max(2, threads) parts.
  kSplit,
};

/// "auto", "tiles", "split".
std::string_view cpu_forward_schedule_name(CpuForwardSchedule schedule);
/// Parses "auto", "tiles", "split"; throws Error(kInvalidArgument) otherwise.
CpuForwardSchedule parse_cpu_forward_schedule(std::string_view name);

/// How the CPU backend runs a backward. All give the reference's results (tests check each);
/// they differ in speed, parallelism and scratch memory. Each is deterministic for a given
/// thread count; dQ's summation order, and so its last bits, depends on the schedule.
enum class CpuBackwardSchedule {
  /// The one with the least estimated wall time for the problem and thread count
  /// (plan_cpu_backward, runtime/cpu/cpu_launch.h: kFused where its items fill the threads,
  /// kFusedSplit where they would leave threads idle); kTwoPass where the others' scratch
  /// would pass 512 MiB, or where few key tiles leave nothing to split.
  kAuto,
  /// One work item per (document, key/value head): P and dS are computed once per attended tile
  /// (5 products per tile, against 7) and dQ is summed in fp32 scratch of
  /// group x (document rows rounded up to a query tile) x D floats per thread. Parallel over
  /// documents x key/value heads only (about 1.5x faster than kTwoPass on one thread).
  kFused,
  /// kFused with each document's key tiles dealt over parts (snake order: rounds of one tile
  /// per part, every other round reversed), so one long document keeps every thread busy;
  /// forced, max(2, threads) parts. Each part sums its partial dQ in its own scratch
  /// (parts x group x rows x D floats per document and key/value head, all live at once), and
  /// a last step adds the parts in order. Costs over kFused: a pass for the rows' dO.O sums
  /// and one for the sum of the parts.
  kFusedSplit,
  /// A dQ pass over query tiles, then a dK/dV pass over key tiles: parallel over tiles, no
  /// scratch beyond one float per query row and head.
  kTwoPass,
};

/// "auto", "fused", "fused-split", "two-pass".
std::string_view cpu_backward_schedule_name(CpuBackwardSchedule schedule);
/// Parses "auto", "fused", "fused-split", "two-pass"; throws Error(kInvalidArgument) otherwise.
CpuBackwardSchedule parse_cpu_backward_schedule(std::string_view name);

struct RuntimeOptions {
  Backend backend = Backend::kAuto;
  /// Disk cache directory; empty = $ATTNCC_CACHE_DIR, else $XDG_CACHE_HOME/attncc, else
  /// ~/.cache/attncc.
  std::string cache_dir;
  bool disk_cache = true;            ///< false = memory only
  int64_t disk_cache_max_bytes = int64_t{1} << 30;  ///< least-recently-used eviction above this
  int num_threads = 0;               ///< CPU worker threads; 0 = $ATTNCC_NUM_THREADS, else all cores
  CpuForwardSchedule cpu_forward = CpuForwardSchedule::kAuto;    ///< CPU backend only
  CpuBackwardSchedule cpu_backward = CpuBackwardSchedule::kAuto;  ///< CPU backend only
  /// CUDA: directory of an `attncc compile` bundle (kernels compiled ahead of time, read-only);
  /// kernels found there load without NVRTC. Empty = $ATTNCC_BUNDLE_DIR, else none.
  std::string bundle_dir;
  /// CUDA on sm_90a (H100, H200) and cuda-emulated: the forward and the backward's key/value and
  /// deterministic query kernels through warpgroup MMAs (wgmma) for head dims 64 and 128 (the
  /// backward with softcap at 64 only), instead of mma.sync, the forward with a key tile's softmax
  /// overlapping the previous tile's P V product. Experimental: checked on the emulator and by
  /// NVRTC, not yet timed or run on a GPU (docs/PERFORMANCE.md). Also on with $ATTNCC_CUDA_WGMMA=1;
  /// $ATTNCC_CUDA_WGMMA=serial gives the wgmma forward without the overlap (for comparison).
  bool cuda_warpgroup_mma = false;
};

/// Everything a forward or backward call reads and writes. Shapes per DESIGN §1 for the spec's
/// layout; tensors not used by the layout or the spec stay default (not given).
struct AttentionArguments {
  TensorRef q, k, v;  ///< inputs
  TensorRef o;        ///< forward output; backward input
  TensorRef lse;      ///< forward output (float32) if the spec outputs it; backward input
  TensorRef d_o;      ///< backward input: gradient of o
  TensorRef dq, dk, dv;  ///< backward outputs
  // Layout arrays (int32 or int64, on the tensors' device).
  TensorRef seqlens_q, seqlens_k;                        ///< dense, optional, [B]
  TensorRef cu_seqlens_q, cu_seqlens_k;                  ///< varlen, [N + 1]
  TensorRef cu_seqlens_q_padded, cu_seqlens_k_padded;    ///< varlen, optional, [N + 1]
  TensorRef cu_seq;                                      ///< doc_packed, [B, MAX_DOCS + 1]
  std::map<std::string, TensorRef> parameters;  ///< mask parameters by name (no '$'): [1] or [N]
  TensorRef alibi_slopes;                       ///< float32 [Hq], iff the spec has alibi
  /// Upper bounds of any document's Lq and Lk, in rows (FlashAttention's max_seqlen_q/k): the
  /// CUDA grids are sized from them, since the host never reads device offsets (DESIGN §5).
  /// 0 = the tensors' sequence rows (always safe, but with many short varlen documents most
  /// blocks have nothing to do; doc_packed grids count a row's tiles and need the bound less).
  /// A bound below a document's length costs time, never rows: a block then also takes the
  /// tiles the grid lacks. Larger than the sequence rows is clamped. The CPU backend reads the
  /// offsets and ignores these.
  int64_t max_seqlen_q = 0;
  int64_t max_seqlen_k = 0;
  /// Backward adds into dq/dk/dv instead of overwriting (rows nobody attends stay unchanged).
  bool accumulate = false;
};

/// Compile and run statistics of a Runtime, for tests and `attncc bench`.
struct RuntimeStats {
  int64_t compiles = 0;          ///< kernels built from source in this process
  int64_t disk_hits = 0;         ///< kernels loaded from the disk cache
  int64_t memory_hits = 0;       ///< Runtime::get answered from memory
  int64_t forward_launches = 0;  ///< forward kernel executions
  int64_t backward_launches = 0;
};

class KernelImplementation;

/// A compiled spec on one backend. Cheap to copy (shared); valid while its Runtime lives.
class Kernel {
 public:
  /// Validates the arguments (throws Error(kInvalidArgument) naming the argument, index, value
  /// and fix) and computes O and LSE. Every element of o and lse is written. `stream` is a
  /// CUstream (equivalently a cudaStream_t) for CUDA, nullptr = the legacy default stream; it is
  /// borrowed, not owned, and must belong to the primary context of the tensors' device. CUDA
  /// calls are asynchronous on that stream (they never synchronise; workspaces are
  /// stream-ordered allocations); offsets that a kernel finds inconsistent are reported by the
  /// next call on this kernel, or by this one when ATTNCC_VALIDATE=1. Ignored on the CPU.
  void forward(const AttentionArguments& arguments, void* stream = nullptr) const;
  /// Computes dq, dk, dv from q, k, v, o, lse, d_o (does not rerun the forward). Every element
  /// is written (or left unchanged where nothing attends when accumulate is set).
  void backward(const AttentionArguments& arguments, void* stream = nullptr) const;

  const Spec& spec() const;
  const std::string& hash() const;  ///< spec hash (the kernel's cache key adds backend and target)
  Backend backend() const;

  explicit Kernel(std::shared_ptr<const KernelImplementation> implementation);

 private:
  std::shared_ptr<const KernelImplementation> implementation_;
};

/// Owns compiled kernels. Thread-safe: concurrent get() calls for one spec compile it once.
class Runtime {
 public:
  explicit Runtime(RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// The kernel for `spec` on this runtime's backend: from memory, else from the disk cache,
  /// else compiled (and written to the disk cache). With ATTNCC_ASSERT_NO_COMPILE=1 in the
  /// environment a compile throws instead (to prove a cache hit). Throws Error.
  Kernel get(const Spec& spec);

  Backend backend() const;  ///< the resolved backend (never kAuto)
  RuntimeStats stats() const;
  const RuntimeOptions& options() const;

  class State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace attncc
