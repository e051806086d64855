// The SIMT emulator (see emulator.h): block scheduling over fibers, barriers, warp collectives,
// checked shared memory and cp.async. The C interface at the end is what kernels call.
#include "runtime/emulation/emulator.h"

#include <atomic>
#include <cstdarg>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "attncc/error.h"
#include "runtime/emulation/fiber.h"
#include "runtime/emulation/shared_banks.h"
#include "templates/common/numeric.h"
#include "templates/emulation/emulation_interface.h"

namespace attncc::emulation {
namespace {

// Shared memory bytes nobody wrote (0xff: NaN in fp32, fp16 and bf16) and in-flight cp.async
// destinations (0x7fc0 per 16-bit half: a quiet NaN in bf16 and, as a word, in fp32).
constexpr unsigned char kUninitialisedByte = 0xff;
constexpr uint16_t kInFlightHalf = 0x7fc0;

enum class ThreadState { kReady, kAtBarrier, kAtCollective, kExited };

enum class CollectiveKind {
  kNone,
  kShuffle,
  kVote,
  kSyncWarp,
  kLdmatrix,
  kMma,
  kWgmma,
  kWgmmaFence,
  kWgmmaCommit,
  kWgmmaWait
};

// What every lane of one warp collective must agree on.
struct Collective {
  CollectiveKind kind = CollectiveKind::kNone;
  int mode = 0;       // shuffle / vote mode, ldmatrix count, mma bf16 flag, wgmma flags
  int parameter = 0;  // shuffle width, ldmatrix transpose
  unsigned mask = 0;

  bool operator==(const Collective&) const = default;
};

// A lane's shared access not yet matched with its warp's other lanes (bank recording only).
struct RecordedAccess {
  const char* file;
  int line;
  SharedAccessKind kind;
  unsigned offset;
};

// The site of a recorded access within one block: file pointers are string literals of the
// kernel's module, so pointer identity is enough until the block's costs are merged by name.
struct BlockSite {
  const char* file;
  int line;
  SharedAccessKind kind;

  auto operator<=>(const BlockSite&) const = default;
};

struct PendingCopy {
  unsigned offset;
  unsigned size;  // 4 or 16 bytes
  unsigned char bytes[16];
};

// One emulated thread. Operands of the collective it waits at are kept here so the lane that
// completes the collective can compute every lane's result.
struct EmulatedThread {
  attncc_emulation_thread view{};
  int linear = 0;  // index within the block
  int warp = 0;
  int lane = 0;
  ThreadState state = ThreadState::kReady;
  FiberContext context;

  unsigned value = 0;    // shuffle value, vote predicate
  int operand = 0;       // shuffle source lane / delta / lane mask
  unsigned result = 0;   // shuffle or vote result
  unsigned offset = 0;   // ldmatrix row address
  unsigned* fragment = nullptr;
  float* accumulator = nullptr;
  const unsigned* a = nullptr;
  const unsigned* b = nullptr;
  unsigned long long descriptor_a = 0;  // wgmma
  unsigned long long descriptor_b = 0;

  std::vector<PendingCopy> copies;  // issued and not landed, in issue order
  std::vector<size_t> group_ends;   // end (in copies) of each committed group not yet landed

  const char* site_file = nullptr;  // ldmatrix: where it was issued (bank recording)
  int site_line = 0;
  std::vector<RecordedAccess> accesses;  // since the warp last met (bank recording)
  // 16-byte shared chunks this thread wrote through the generic proxy (st.shared, a landed
  // cp.async) since its last fence.proxy.async, one bit per chunk.
  std::vector<uint64_t> unfenced_chunks;
};

// One warp's share of a wgmma in flight: what it read at issue (A registers, the input
// accumulators) and where its lanes' results go when a wait retires it.
struct WgmmaOperation {
  int n = 0;  // columns of B and D
  bool bfloat16 = false;
  bool a_in_registers = false;
  bool transpose_a = false;  // A M-major in shared memory
  bool transpose_b = false;
  // The input accumulators are the result of an earlier MMA still in flight (a chain of k
  // steps into one accumulator): read when this one retires, after that one.
  bool chained = false;
  unsigned long long descriptor_a = 0, descriptor_b = 0;
  float* accumulators[32] = {};
  float c[32][64] = {};
  unsigned a[32][4] = {};
};

struct WarpState {
  Collective pending;
  std::vector<WgmmaOperation> wgmma_uncommitted;
  std::vector<std::vector<WgmmaOperation>> wgmma_groups;  // committed, oldest first
  bool wgmma_fenced = false;  // a wgmma.fence since the warp's MMAs last all retired

  unsigned arrived = 0;
  unsigned present = 0;     // lanes that exist (a partial last warp has fewer)
  unsigned exited = 0;
  unsigned at_barrier = 0;
};

// The state all blocks of one launch share.
struct LaunchState {
  const LaunchConfiguration* configuration = nullptr;
  SharedBankRecorder* recorder = nullptr;  // bank recording, when on
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::string error;  // the first failure
};

uint64_t split_mix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

const char* collective_name(const Collective& collective, char* buffer, size_t size) {
  switch (collective.kind) {
    case CollectiveKind::kNone: return "nothing";
    case CollectiveKind::kShuffle: {
      static const char* const names[] = {"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync",
                                          "__shfl_xor_sync"};
      return names[collective.mode & 3];
    }
    case CollectiveKind::kVote: {
      static const char* const names[] = {"__any_sync", "__all_sync", "__ballot_sync"};
      return collective.mode >= 0 && collective.mode < 3 ? names[collective.mode] : "vote";
    }
    case CollectiveKind::kSyncWarp: return "__syncwarp";
    case CollectiveKind::kLdmatrix:
      std::snprintf(buffer, size, "ldmatrix.x%d%s", collective.mode,
                    collective.parameter ? ".trans" : "");
      return buffer;
    case CollectiveKind::kMma:
      return collective.mode ? "mma.m16n8k16.bf16" : "mma.m16n8k16.f16";
    case CollectiveKind::kWgmma:
      std::snprintf(buffer, size, "wgmma.mma_async.m64n%dk16", collective.mode & 0x1ff);
      return buffer;
    case CollectiveKind::kWgmmaFence: return "wgmma.fence";
    case CollectiveKind::kWgmmaCommit: return "wgmma.commit_group";
    case CollectiveKind::kWgmmaWait:
      std::snprintf(buffer, size, "wgmma.wait_group %d", collective.mode);
      return buffer;
  }
  return "?";
}

// "0-7, 9, 12-31": lanes or threads of a bit mask, for messages (no heap: see fail()).
void format_lanes(unsigned mask, char* buffer, size_t size) {
  size_t used = 0;
  buffer[0] = '\0';
  for (int lane = 0; lane < 32; ++lane) {
    if (!(mask >> lane & 1u)) continue;
    int last = lane;
    while (last + 1 < 32 && (mask >> (last + 1) & 1u)) ++last;
    int written = last == lane
                      ? std::snprintf(buffer + used, size - used, "%s%d", used ? ", " : "", lane)
                      : std::snprintf(buffer + used, size - used, "%s%d-%d", used ? ", " : "",
                                      lane, last);
    if (written < 0 || used + size_t(written) >= size) break;
    used += size_t(written);
    lane = last;
  }
}

// One OS thread's block runner, reused for every block and launch it runs.
class BlockExecutor {
 public:
  void run_block(LaunchState& launch, Dim3 block_index);

  EmulatedThread& current() { return *current_; }
  bool running() const { return current_ != nullptr; }

  // ---- what the C interface does for the current thread ----
  void sync_threads();
  void arrive(const Collective& collective);
  unsigned char* shared_at(const char* what, unsigned offset, unsigned bytes, unsigned alignment);
  /// Notes a lane's plain shared access for the bank record (when one is kept).
  void record_access(SharedAccessKind kind, unsigned offset, const char* file, int line) {
    if (recorder_ != nullptr) current_->accesses.push_back({file, line, kind, offset});
  }
  void cp_async(unsigned offset, const void* source, unsigned size, bool valid);
  void cp_async_commit();
  void cp_async_wait(int pending);
  /// Notes a generic-proxy write of shared [offset, offset + bytes) by `thread`.
  void note_generic_write(EmulatedThread& thread, unsigned offset, unsigned bytes);
  /// fence.proxy.async by the current thread: its earlier generic writes become visible to the
  /// async proxy (wgmma's operand reads).
  void fence_proxy_async();

  /// Records the launch's first error (printf-style) and abandons the block. No heap objects
  /// may live in the frames this abandons (their destructors never run): messages are built in
  /// fixed buffers.
  [[noreturn]] void fail(const EmulatedThread& culprit, const char* format, ...)
      __attribute__((format(printf, 3, 4)));

 private:
  static void thread_main(void* argument);
  void suspend();
  void release(EmulatedThread& thread);
  void complete(WarpState& warp, int warp_index);
  void complete_shuffle(WarpState& warp, int base);
  void complete_ldmatrix(WarpState& warp, int base);
  void complete_mma(int base);
  void complete_wgmma(WarpState& warp, int base);
  void retire_wgmma(const WgmmaOperation& operation, int warp_index);
  uint16_t wgmma_element(unsigned long long descriptor, int mn, int k, bool mn_major);
  void on_exit();
  void report_stall();
  void order_round(uint64_t& random);
  void land(EmulatedThread& thread, size_t groups);
  void add_cost(const BlockSite& site, std::span<const LaneAccess> lanes);
  void match_warp_accesses(int warp_index);
  void merge_bank_costs();

  LaunchState* launch_ = nullptr;
  Dim3 block_index_;
  FiberContext scheduler_;
  std::vector<std::unique_ptr<FiberStack>> stacks_;
  std::vector<EmulatedThread> threads_;
  std::vector<WarpState> warps_;
  std::vector<unsigned char> shared_;
  // Per 16-byte chunk: how many threads wrote it through the generic proxy and have not fenced
  // since; a wgmma operand read of a chunk with a count is an error.
  std::vector<uint32_t> unfenced_writers_;
  std::vector<int> runnable_;
  std::vector<int> batch_;
  std::vector<int> warp_order_;
  std::vector<int> warp_ready_;  // per warp: ready threads, then slots (order_round)
  std::vector<int> held_back_;   // the lagging warp's ready threads, for a later round
  int lagging_warp_ = -1;        // runs only when no other warp can (order_round)
  bool choose_lagging_warp_ = true;
  EmulatedThread* current_ = nullptr;
  int barrier_arrived_ = 0;
  int exited_ = 0;
  bool block_failed_ = false;
  // Bank recording (shared_banks.h): the launch's recorder or nullptr, this block's sums, and
  // scratch for matching a warp's accesses.
  SharedBankRecorder* recorder_ = nullptr;
  std::map<BlockSite, SharedAccessCost> block_costs_;
  struct MatchedAccess {
    BlockSite site;
    int occurrence;
    int lane;
    unsigned offset;
    auto operator<=>(const MatchedAccess&) const = default;
  };
  std::vector<MatchedAccess> matched_;
  std::vector<LaneAccess> instruction_lanes_;
  std::vector<std::pair<BlockSite, int>> occurrences_;
};

thread_local std::unique_ptr<BlockExecutor> t_executor;

BlockExecutor& executor() {
  if (!t_executor) t_executor = std::make_unique<BlockExecutor>();
  return *t_executor;
}

// The executor of a kernel thread calling the C interface. Called outside a launch (an entry
// point run directly) there is no emulated thread to act for and no way to report through the
// kernel's frames: say so and stop.
BlockExecutor& active_executor() {
  BlockExecutor* running = t_executor.get();
  if (running == nullptr || !running->running()) {
    std::fprintf(stderr,
                 "attncc: internal error: a CUDA emulation function was called outside "
                 "emulation::run_launch (run emulated kernels only through the emulator)\n");
    std::abort();
  }
  return *running;
}

void BlockExecutor::fail(const EmulatedThread& culprit, const char* format, ...) {
  {
    char what[768];
    va_list arguments;
    va_start(arguments, format);
    std::vsnprintf(what, sizeof what, format, arguments);
    va_end(arguments);
    std::lock_guard<std::mutex> lock(launch_->mutex);
    if (!launch_->failed.exchange(true)) {
      const LaunchConfiguration& configuration = *launch_->configuration;
      char where[256];
      std::snprintf(where, sizeof where,
                    "kernel %s, block (%u, %u, %u), thread (%u, %u, %u) (warp %d, lane %d)",
                    configuration.kernel_name.c_str(), block_index_.x, block_index_.y,
                    block_index_.z, culprit.view.thread_index.x, culprit.view.thread_index.y,
                    culprit.view.thread_index.z, culprit.warp, culprit.lane);
      char seed[128];
      std::snprintf(seed, sizeof seed,
                    "; emulation seed %llu (ATTNCC_EMULATION_SEED=%llu replays this schedule)",
                    static_cast<unsigned long long>(configuration.seed),
                    static_cast<unsigned long long>(configuration.seed));
      launch_->error = std::string("cuda emulation: error: ") + where + ": " + what + seed;
    }
  }
  block_failed_ = true;
  exit_context(scheduler_);
}

void BlockExecutor::thread_main(void* argument) {
  BlockExecutor& self = executor();
  start_fiber(self.scheduler_);
  (void)argument;
  self.launch_->configuration->entry(self.launch_->configuration->params);
  self.on_exit();
  exit_context(self.scheduler_);
}

void BlockExecutor::suspend() {
  EmulatedThread& thread = *current_;
  switch_context(thread.context, scheduler_);
}

void BlockExecutor::release(EmulatedThread& thread) {
  thread.state = ThreadState::kReady;
  if (&thread != current_) runnable_.push_back(thread.linear);
}

void BlockExecutor::run_block(LaunchState& launch, Dim3 block_index) {
  const LaunchConfiguration& configuration = *launch.configuration;
  launch_ = &launch;
  block_index_ = block_index;
  const int count = int(configuration.block.x * configuration.block.y * configuration.block.z);
  while (int(stacks_.size()) < count) {
    stacks_.push_back(std::make_unique<FiberStack>(default_fiber_stack_bytes()));
  }
  threads_.resize(size_t(count));
  warps_.assign(size_t((count + 31) / 32), WarpState{});
  warp_ready_.assign(warps_.size(), 0);
  shared_.assign(configuration.shared_bytes, kUninitialisedByte);
  unfenced_writers_.assign((configuration.shared_bytes + 15) / 16, 0);
  runnable_.clear();
  held_back_.clear();
  choose_lagging_warp_ = true;
  barrier_arrived_ = 0;
  exited_ = 0;
  block_failed_ = false;
  recorder_ = launch.recorder;
  block_costs_.clear();
  for (int index = 0; index < count; ++index) {
    EmulatedThread& thread = threads_[size_t(index)];
    thread.linear = index;
    thread.warp = index / 32;
    thread.lane = index % 32;
    thread.state = ThreadState::kReady;
    thread.copies.clear();
    thread.group_ends.clear();
    thread.accesses.clear();
    thread.unfenced_chunks.assign((unfenced_writers_.size() + 63) / 64, 0);
    const unsigned x = unsigned(index) % configuration.block.x;
    const unsigned y = unsigned(index) / configuration.block.x % configuration.block.y;
    const unsigned z = unsigned(index) / (configuration.block.x * configuration.block.y);
    thread.view.thread_index = {x, y, z};
    thread.view.block_index = {block_index.x, block_index.y, block_index.z};
    thread.view.block_dim = {configuration.block.x, configuration.block.y, configuration.block.z};
    thread.view.grid_dim = {configuration.grid.x, configuration.grid.y, configuration.grid.z};
    warps_[size_t(thread.warp)].present |= 1u << thread.lane;
    make_context(thread.context, *stacks_[size_t(index)], &BlockExecutor::thread_main, nullptr);
    runnable_.push_back(index);
  }
  // The order of threads between synchronisations is a pure function of seed and block, so a
  // failure replays whichever OS thread runs the block.
  uint64_t random = configuration.seed ^
                    (0x2545f4914f6cdd1dull *
                     (1 + block_index.x + uint64_t(configuration.grid.x) *
                                              (block_index.y + uint64_t(configuration.grid.y) *
                                                                   block_index.z)));
  while (exited_ < count && !block_failed_ && !launch.failed.load(std::memory_order_relaxed)) {
    if (runnable_.empty()) {
      report_stall();
      break;
    }
    order_round(random);
    for (int index : batch_) {
      EmulatedThread& thread = threads_[size_t(index)];
      current_ = &thread;
      switch_context(scheduler_, thread.context);
      current_ = nullptr;
      if (block_failed_) break;
      if (thread.state == ThreadState::kReady) runnable_.push_back(index);
    }
  }
  if (exited_ < count) {
    // Threads left suspended (the launch failed): their frames are dropped with the stack.
    for (int index = 0; index < count; ++index) {
      if (threads_[size_t(index)].state != ThreadState::kExited) stacks_[size_t(index)]->reset_after_abandon();
    }
  }
  for (EmulatedThread& thread : threads_) destroy_context(thread.context);
  if (recorder_ != nullptr && exited_ == count) merge_bank_costs();
  launch_ = nullptr;
}

// The next round: the ready threads warp by warp, warps in random order, lanes of each warp in
// random order. Whole warps rather than interleaved lanes: on the GPU a warp's lanes advance
// together, and a warp that runs entirely before another is what exposes a missing barrier (the
// first warp reads what the second has not written yet) on every schedule where the reader
// comes first, instead of only when a writer lane happens to be last.
// Rounds keep the warps within one collective of each other, which hides the opposite race: a
// warp far ahead overwriting what a slow one still reads (the next tile's copies issued into a
// buffer before every warp's last read of it). So in half of the intervals between barriers
// (chosen from the same random stream) one warp lags: it runs only in rounds where no other
// warp can, i.e. once the others wait at the next barrier or have finished.
void BlockExecutor::order_round(uint64_t& random) {
  auto shuffle = [&random](int* first, size_t count) {
    for (size_t i = count; i > 1; --i) std::swap(first[i - 1], first[split_mix(random) % i]);
  };
  if (choose_lagging_warp_) {
    choose_lagging_warp_ = false;
    const uint64_t draw = split_mix(random) % (2 * warps_.size());
    lagging_warp_ = draw < warps_.size() ? int(draw) : -1;
  }
  held_back_.clear();
  if (lagging_warp_ >= 0) {
    size_t kept = 0;
    for (int index : runnable_) {
      if (threads_[size_t(index)].warp == lagging_warp_) {
        held_back_.push_back(index);
      } else {
        runnable_[kept++] = index;
      }
    }
    runnable_.resize(kept);
    if (runnable_.empty()) runnable_.swap(held_back_);  // nothing else can run: the laggard does
  }
  warp_order_.clear();
  for (int index : runnable_) {
    const int warp = threads_[size_t(index)].warp;
    if (warp_ready_[size_t(warp)]++ == 0) warp_order_.push_back(warp);
  }
  shuffle(warp_order_.data(), warp_order_.size());
  // Counting sort by the warp's position in the shuffled order, then shuffle within each warp.
  size_t start = 0;
  for (int warp : warp_order_) {
    const int count = warp_ready_[size_t(warp)];
    warp_ready_[size_t(warp)] = int(start);  // now the next free slot of the warp
    start += size_t(count);
  }
  batch_.resize(runnable_.size());
  for (int index : runnable_) batch_[size_t(warp_ready_[size_t(threads_[size_t(index)].warp)]++)] = index;
  start = 0;
  for (int warp : warp_order_) {
    const size_t end = size_t(warp_ready_[size_t(warp)]);
    shuffle(batch_.data() + start, end - start);
    start = end;
    warp_ready_[size_t(warp)] = 0;
  }
  runnable_.swap(held_back_);  // the held-back threads stay ready for the next round
  held_back_.clear();
}

// No thread can run and some have not finished. The checks at each barrier, collective and
// exit catch every such case first; this is the safety net that turns a hang into an error.
void BlockExecutor::report_stall() {
  char message[256];
  std::snprintf(message, sizeof message,
                "cuda emulation: error: kernel %s, block (%u, %u, %u): no thread can make "
                "progress (%d of %zu threads finished, %d waiting at __syncthreads); emulation "
                "seed %llu",
                launch_->configuration->kernel_name.c_str(), block_index_.x, block_index_.y,
                block_index_.z, exited_, threads_.size(), barrier_arrived_,
                static_cast<unsigned long long>(launch_->configuration->seed));
  std::lock_guard<std::mutex> lock(launch_->mutex);
  if (!launch_->failed.exchange(true)) launch_->error = message;
  block_failed_ = true;
  current_ = nullptr;
}

void BlockExecutor::on_exit() {
  EmulatedThread& thread = *current_;
  WarpState& warp = warps_[size_t(thread.warp)];
  const unsigned bit = 1u << thread.lane;
  if (warp.pending.kind != CollectiveKind::kNone && (warp.pending.mask & bit)) {
    char name[64], lanes[160];
    format_lanes(warp.arrived, lanes, sizeof lanes);
    fail(thread, "the thread exited while lanes %s of its warp wait for it at %s", lanes,
         collective_name(warp.pending, name, sizeof name));
  }
  if (barrier_arrived_ > 0) {
    fail(thread, "the thread exited while %d threads of the block wait at __syncthreads "
                 "(every thread must reach each __syncthreads)",
         barrier_arrived_);
  }
  if (!warp.wgmma_groups.empty() || !warp.wgmma_uncommitted.empty()) {
    fail(thread, "the thread exited with warpgroup MMAs in flight (wgmma.wait_group 0 must "
                 "retire them first: their accumulators are the thread's registers)");
  }
  thread.state = ThreadState::kExited;
  warp.exited |= bit;
  ++exited_;
}

void BlockExecutor::sync_threads() {
  EmulatedThread& thread = *current_;
  WarpState& warp = warps_[size_t(thread.warp)];
  if (warp.pending.kind != CollectiveKind::kNone) {
    char name[64], lanes[160];
    format_lanes(warp.arrived, lanes, sizeof lanes);
    fail(thread, "divergence: the thread reached __syncthreads while lanes %s of its warp wait "
                 "at %s",
         lanes, collective_name(warp.pending, name, sizeof name));
  }
  if (exited_ > 0) {
    fail(thread, "__syncthreads reached after %d threads of the block exited (every thread must "
                 "reach each __syncthreads)",
         exited_);
  }
  thread.state = ThreadState::kAtBarrier;
  warp.at_barrier |= 1u << thread.lane;
  if (++barrier_arrived_ == int(threads_.size())) {
    if (recorder_ != nullptr) {
      for (size_t index = 0; index < warps_.size(); ++index) match_warp_accesses(int(index));
    }
    barrier_arrived_ = 0;
    for (WarpState& each : warps_) each.at_barrier = 0;
    for (EmulatedThread& each : threads_) release(each);
    choose_lagging_warp_ = true;
  }
  suspend();
}

void BlockExecutor::arrive(const Collective& collective) {
  EmulatedThread& thread = *current_;
  WarpState& warp = warps_[size_t(thread.warp)];
  const unsigned bit = 1u << thread.lane;
  char name[64], other[64], lanes[160];
  if (!(collective.mask & bit)) {
    fail(thread, "%s with member mask 0x%08x, which leaves out the calling lane",
         collective_name(collective, name, sizeof name), collective.mask);
  }
  if (warp.pending.kind == CollectiveKind::kNone) {
    warp.pending = collective;
    warp.arrived = 0;
  } else if (!(warp.pending == collective)) {
    format_lanes(warp.arrived, lanes, sizeof lanes);
    fail(thread, "divergence: the lane reached %s (mask 0x%08x) while lanes %s of its warp wait "
                 "at %s (mask 0x%08x)",
         collective_name(collective, name, sizeof name), collective.mask, lanes,
         collective_name(warp.pending, other, sizeof other), warp.pending.mask);
  }
  const unsigned expected = collective.mask & warp.present;
  if ((collective.kind == CollectiveKind::kLdmatrix || collective.kind == CollectiveKind::kMma ||
       collective.kind >= CollectiveKind::kWgmma) &&
      warp.present != 0xffffffffu) {
    fail(thread, "%s needs all 32 lanes of the warp, but the block has %zu threads",
         collective_name(collective, name, sizeof name), threads_.size());
  }
  if (expected & warp.exited) {
    format_lanes(expected & warp.exited, lanes, sizeof lanes);
    fail(thread, "%s waits for lanes %s, which have exited",
         collective_name(collective, name, sizeof name), lanes);
  }
  if (expected & warp.at_barrier) {
    format_lanes(expected & warp.at_barrier, lanes, sizeof lanes);
    fail(thread, "divergence: %s waits for lanes %s, which wait at __syncthreads",
         collective_name(collective, name, sizeof name), lanes);
  }
  thread.state = ThreadState::kAtCollective;
  warp.arrived |= bit;
  if (warp.arrived == expected) {
    complete(warp, thread.warp);
    // The whole warp met here, so its lanes' plain accesses since the last meeting line up.
    if (recorder_ != nullptr && expected == warp.present) match_warp_accesses(thread.warp);
    const unsigned arrived = warp.arrived;
    warp.pending = Collective{};
    warp.arrived = 0;
    for (int lane = 0; lane < 32; ++lane) {
      if (arrived >> lane & 1u) release(threads_[size_t(thread.warp * 32 + lane)]);
    }
  }
  suspend();
}

void BlockExecutor::complete(WarpState& warp, int warp_index) {
  const int base = warp_index * 32;
  const unsigned expected = warp.pending.mask & warp.present;
  switch (warp.pending.kind) {
    case CollectiveKind::kShuffle: complete_shuffle(warp, base); break;
    case CollectiveKind::kVote: {
      unsigned ballot = 0;
      for (int lane = 0; lane < 32; ++lane) {
        if ((expected >> lane & 1u) && threads_[size_t(base + lane)].value) ballot |= 1u << lane;
      }
      const unsigned result = warp.pending.mode == attncc_vote_any   ? unsigned(ballot != 0)
                              : warp.pending.mode == attncc_vote_all ? unsigned(ballot == expected)
                                                                     : ballot;
      for (int lane = 0; lane < 32; ++lane) {
        if (expected >> lane & 1u) threads_[size_t(base + lane)].result = result;
      }
      break;
    }
    case CollectiveKind::kSyncWarp:
    case CollectiveKind::kNone: break;
    case CollectiveKind::kLdmatrix: complete_ldmatrix(warp, base); break;
    case CollectiveKind::kMma: complete_mma(base); break;
    case CollectiveKind::kWgmma: complete_wgmma(warp, base); break;
    case CollectiveKind::kWgmmaFence: warp.wgmma_fenced = true; break;
    case CollectiveKind::kWgmmaCommit:
      warp.wgmma_groups.push_back(std::move(warp.wgmma_uncommitted));
      warp.wgmma_uncommitted.clear();
      break;
    case CollectiveKind::kWgmmaWait: {
      const size_t keep = size_t(warp.pending.mode);
      while (warp.wgmma_groups.size() > keep) {
        for (const WgmmaOperation& operation : warp.wgmma_groups.front()) {
          retire_wgmma(operation, warp_index);
        }
        warp.wgmma_groups.erase(warp.wgmma_groups.begin());
      }
      if (warp.wgmma_groups.empty() && warp.wgmma_uncommitted.empty()) warp.wgmma_fenced = false;
      break;
    }
  }
}

void BlockExecutor::complete_shuffle(WarpState& warp, int base) {
  const unsigned expected = warp.pending.mask & warp.present;
  const int width = warp.pending.parameter;
  for (int lane = 0; lane < 32; ++lane) {
    if (!(expected >> lane & 1u)) continue;
    EmulatedThread& thread = threads_[size_t(base + lane)];
    const int segment = lane & ~(width - 1);
    int source = lane;
    switch (warp.pending.mode) {
      case attncc_shuffle_index: source = segment + (thread.operand & (width - 1)); break;
      case attncc_shuffle_up:
        if ((lane & (width - 1)) >= thread.operand) source = lane - thread.operand;
        break;
      case attncc_shuffle_down:
        if ((lane & (width - 1)) + thread.operand < width) source = lane + thread.operand;
        break;
      case attncc_shuffle_xor: {
        const int target = lane ^ thread.operand;
        // Lanes of later segments (or past the warp) are not reachable: own value.
        if (target >= 0 && target < 32 && target < segment + width) source = target;
        break;
      }
      default: break;
    }
    if (!(expected >> source & 1u)) {
      fail(thread, "shuffle reads lane %d, which is not in the member mask 0x%08x (the result "
                   "would be undefined)",
           source, warp.pending.mask);
    }
    thread.result = threads_[size_t(base + source)].value;
  }
}

void BlockExecutor::complete_ldmatrix(WarpState& warp, int base) {
  const int count = warp.pending.mode;
  const bool transpose = warp.pending.parameter != 0;
  // Lane 8j + r supplies the address of row r of matrix j.
  uint16_t matrices[4][8][8];
  EmulatedThread* const running = current_;
  for (int matrix = 0; matrix < count; ++matrix) {
    for (int row = 0; row < 8; ++row) {
      current_ = &threads_[size_t(base + 8 * matrix + row)];  // errors name the supplying lane
      const unsigned char* source = shared_at("ldmatrix row address", current_->offset, 16, 16);
      std::memcpy(matrices[matrix][row], source, 16);
    }
  }
  current_ = running;
  if (recorder_ != nullptr) {
    LaneAccess rows[32];
    for (int lane = 0; lane < 8 * count; ++lane) {
      rows[lane] = {lane, threads_[size_t(base + lane)].offset};
    }
    const EmulatedThread& first = threads_[size_t(base)];
    add_cost({first.site_file, first.site_line, SharedAccessKind::kLdmatrix},
             std::span<const LaneAccess>(rows, size_t(8 * count)));
  }
  for (int lane = 0; lane < 32; ++lane) {
    EmulatedThread& thread = threads_[size_t(base + lane)];
    const int group = lane >> 2, pair = 2 * (lane & 3);
    for (int matrix = 0; matrix < count; ++matrix) {
      const uint16_t low = transpose ? matrices[matrix][pair][group] : matrices[matrix][group][pair];
      const uint16_t high =
          transpose ? matrices[matrix][pair + 1][group] : matrices[matrix][group][pair + 1];
      thread.fragment[matrix] = unsigned(low) | (unsigned(high) << 16);
    }
  }
}

float half_to_float(unsigned bits, bool bfloat16_input) {
  return bfloat16_input ? to_float(bfloat16{kernel_uint16(bits)})
                        : to_float(float16{kernel_uint16(bits)});
}

// D = A * B + C per the m16n8k16 fragment layouts (KERNELS.md §1): A reg r of lane (g, t) holds
// (g + 8 (r & 1), 2t + h + 8 (r >> 1)); B reg r holds (k = 2t + h + 8r, n = g); C c_i holds
// (g + 8 (i >> 1), 2t + (i & 1)). Products of 16-bit inputs are exact in fp32; the sums are fp32
// in k order (the tensor core's internal order may differ in the last bits).
void BlockExecutor::complete_mma(int base) {
  const bool bfloat16_input = warps_[size_t(base / 32)].pending.mode != 0;
  float a[16][16], b[16][8], c[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    const EmulatedThread& thread = threads_[size_t(base + lane)];
    const int g = lane >> 2, t = lane & 3;
    for (int r = 0; r < 4; ++r) {
      for (int h = 0; h < 2; ++h) {
        a[g + 8 * (r & 1)][2 * t + h + 8 * (r >> 1)] =
            half_to_float(thread.a[r] >> (16 * h) & 0xffffu, bfloat16_input);
      }
    }
    for (int r = 0; r < 2; ++r) {
      for (int h = 0; h < 2; ++h) {
        b[2 * t + h + 8 * r][g] = half_to_float(thread.b[r] >> (16 * h) & 0xffffu, bfloat16_input);
      }
    }
    for (int i = 0; i < 4; ++i) c[g + 8 * (i >> 1)][2 * t + (i & 1)] = thread.accumulator[i];
  }
  for (int lane = 0; lane < 32; ++lane) {
    const EmulatedThread& thread = threads_[size_t(base + lane)];
    const int g = lane >> 2, t = lane & 3;
    for (int i = 0; i < 4; ++i) {
      const int row = g + 8 * (i >> 1), column = 2 * t + (i & 1);
      float sum = c[row][column];
      for (int k = 0; k < 16; ++k) sum = __builtin_fmaf(a[row][k], b[k][column], sum);
      thread.accumulator[i] = sum;
    }
  }
}

// A wgmma operand element from shared memory, per the PTX ISA's canonical layouts with the
// 128-byte swizzle (the only mode the kernels use), in 16-bit elements (T = 8):
//   K-major:  ((8, m), (8, 2)) : ((64, SBO), (1, 8))    [(mn % 8, mn / 8), (k % 8, k / 8)]
//   MN-major: ((8, 8, m), (8, 2)) : ((1, 8, LBO), (64, SBO))
// then Swizzle<3, 4, 3> on the byte address: bits [4, 7) ^= bits [7, 10).
uint16_t BlockExecutor::wgmma_element(unsigned long long descriptor, int mn, int k, bool mn_major) {
  const unsigned start = unsigned(descriptor & 0x3fffu) << 4;
  const unsigned leading = unsigned(descriptor >> 16 & 0x3fffu) << 4;
  const unsigned stride = unsigned(descriptor >> 32 & 0x3fffu) << 4;
  const unsigned base_offset = unsigned(descriptor >> 49 & 7u);
  const unsigned swizzle = unsigned(descriptor >> 62);
  if (swizzle != 1 || base_offset != 0) {
    fail(*current_, "wgmma descriptor 0x%016llx: swizzle mode %u, base offset %u (the emulation "
                    "implements the 128-byte swizzle with atoms at 1024-byte boundaries only)",
         descriptor, swizzle, base_offset);
  }
  const unsigned bytes =
      mn_major ? start + unsigned(mn % 64) * 2u + unsigned(mn / 64) * leading +
                     unsigned(k % 8) * 128u + unsigned(k / 8) * stride
               : start + unsigned(mn % 8) * 128u + unsigned(mn / 8) * stride +
                     unsigned(k % 8) * 2u + unsigned(k / 8) * 16u;
  const unsigned swizzled = bytes ^ ((bytes >> 7 & 7u) << 4);
  uint16_t value;
  std::memcpy(&value, shared_at("wgmma operand", swizzled, 2, 2), 2);
  if (unfenced_writers_[swizzled / 16] != 0) {
    fail(*current_, "wgmma reads shared byte offset %u, which %u thread(s) wrote through the "
                    "generic proxy (cp.async, st.shared) without a fence.proxy.async since: the "
                    "tensor cores read through the async proxy, so each writer must fence before "
                    "the barrier",
         swizzled, unfenced_writers_[swizzled / 16]);
  }
  return value;
}

// Issue: the warp's operation is recorded with the A registers and input accumulators as they
// are now; the accumulators then read NaN until a wait retires it (reading them early is the
// race wgmma_fence_operand and the wait prevent on the GPU).
void BlockExecutor::complete_wgmma(WarpState& warp, int base) {
  const int flags = warp.pending.mode;
  EmulatedThread& first = threads_[size_t(base)];
  if (threads_.size() % 128 != 0) {
    fail(first, "wgmma needs whole warpgroups (4 warps), but the block has %zu threads",
         threads_.size());
  }
  if (!warp.wgmma_fenced) {
    fail(first, "wgmma.mma_async without a wgmma.fence since the warp's last MMAs retired (the "
                "accumulator and A registers written before must be fenced)");
  }
  WgmmaOperation operation;
  operation.n = flags & 0x1ff;
  operation.bfloat16 = (flags >> 9 & 1) != 0;
  operation.transpose_b = (flags >> 10 & 1) != 0;
  operation.a_in_registers = (flags >> 11 & 1) != 0;
  operation.transpose_a = (flags >> 13 & 1) != 0;
  if (operation.a_in_registers && operation.transpose_a) {
    fail(first, "wgmma with A in registers cannot transpose A (the PTX ISA has no such form)");
  }
  const bool accumulate = (flags >> 12 & 1) != 0;
  operation.descriptor_a = first.descriptor_a;
  operation.descriptor_b = first.descriptor_b;
  auto in_flight_into = [&](const float* accumulator) {
    for (const WgmmaOperation& earlier : warp.wgmma_uncommitted) {
      if (earlier.accumulators[0] == accumulator) return true;
    }
    for (const std::vector<WgmmaOperation>& group : warp.wgmma_groups) {
      for (const WgmmaOperation& earlier : group) {
        if (earlier.accumulators[0] == accumulator) return true;
      }
    }
    return false;
  };
  operation.chained = accumulate && in_flight_into(first.accumulator);
  for (int lane = 0; lane < 32; ++lane) {
    EmulatedThread& thread = threads_[size_t(base + lane)];
    if (thread.descriptor_b != operation.descriptor_b ||
        (!operation.a_in_registers && thread.descriptor_a != operation.descriptor_a)) {
      fail(thread, "wgmma descriptors differ between lanes of a warp (0x%016llx, 0x%016llx "
                   "against lane 0's 0x%016llx, 0x%016llx)",
           thread.descriptor_a, thread.descriptor_b, operation.descriptor_a,
           operation.descriptor_b);
    }
    operation.accumulators[lane] = thread.accumulator;
    for (int i = 0; i < operation.n / 2; ++i) {
      operation.c[lane][i] = accumulate && !operation.chained ? thread.accumulator[i] : 0.0f;
      thread.accumulator[i] = std::numeric_limits<float>::quiet_NaN();
    }
    if (operation.a_in_registers) {
      for (int r = 0; r < 4; ++r) operation.a[lane][r] = thread.a[r];
    }
  }
  warp.wgmma_uncommitted.push_back(operation);
}

// Retire: D = C + A B for the warp's 16 rows, reading shared memory now. Products of 16-bit
// inputs are exact in fp32; sums in k order, as for mma.sync.
void BlockExecutor::retire_wgmma(const WgmmaOperation& operation, int warp_index) {
  const int base = warp_index * 32;
  const int row0 = 16 * (warp_index % 4);  // the warp's rows within the warpgroup's 64
  EmulatedThread* const running = current_;
  current_ = &threads_[size_t(base)];  // errors name the warp's first lane
  float a[16][16], b[16][128];
  for (int row = 0; row < 16; ++row) {
    for (int k = 0; k < 16; ++k) {
      if (operation.a_in_registers) {
        // The mma.m16n8k16 A layout: register r of lane (g, t) holds row g + 8 (r & 1),
        // columns 2t + h + 8 (r >> 1).
        const int g = row % 8, r = row / 8 + 2 * (k / 8), t = (k % 8) / 2, h = k % 2;
        a[row][k] = half_to_float(operation.a[4 * g + t][r] >> (16 * h) & 0xffffu,
                                  operation.bfloat16);
      } else {
        a[row][k] = half_to_float(
            wgmma_element(operation.descriptor_a, row0 + row, k, operation.transpose_a),
            operation.bfloat16);
      }
    }
  }
  for (int k = 0; k < 16; ++k) {
    for (int column = 0; column < operation.n; ++column) {
      b[k][column] = half_to_float(
          wgmma_element(operation.descriptor_b, column, k, operation.transpose_b),
          operation.bfloat16);
    }
  }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane & 3;
    for (int i = 0; i < operation.n / 2; ++i) {
      const int row = g + 8 * (i % 4 >> 1), column = 8 * (i / 4) + 2 * t + (i & 1);
      float sum = operation.chained ? operation.accumulators[lane][i] : operation.c[lane][i];
      for (int k = 0; k < 16; ++k) sum = __builtin_fmaf(a[row][k], b[k][column], sum);
      operation.accumulators[lane][i] = sum;
    }
  }
  current_ = running;
}

unsigned char* BlockExecutor::shared_at(const char* what, unsigned offset, unsigned bytes,
                                        unsigned alignment) {
  EmulatedThread& thread = *current_;
  if (offset % alignment != 0) {
    fail(thread, "misaligned %s: shared byte offset %u is not a multiple of %u", what, offset,
         alignment);
  }
  if (uint64_t(offset) + bytes > shared_.size()) {
    fail(thread, "%s of %u bytes at shared byte offset %u is outside the %zu bytes of dynamic "
                 "shared memory of the launch",
         what, bytes, offset, shared_.size());
  }
  return shared_.data() + offset;
}

void BlockExecutor::cp_async(unsigned offset, const void* source, unsigned size, bool valid) {
  EmulatedThread& thread = *current_;
  unsigned char* destination = shared_at("cp.async destination", offset, size, size);
  if (reinterpret_cast<uintptr_t>(source) % size != 0) {
    fail(thread, "misaligned cp.async source: global address %p is not %u-byte aligned", source,
         size);
  }
  PendingCopy copy{offset, size, {}};
  // The source is read at issue: a bad address faults (or trips AddressSanitizer) here, where
  // the kernel issued it.
  if (valid) std::memcpy(copy.bytes, source, size);
  thread.copies.push_back(copy);
  for (unsigned half = 0; half < size / 2; ++half) {
    std::memcpy(destination + 2 * half, &kInFlightHalf, 2);
  }
}

void BlockExecutor::cp_async_commit() {
  EmulatedThread& thread = *current_;
  thread.group_ends.push_back(thread.copies.size());
}

void BlockExecutor::land(EmulatedThread& thread, size_t groups) {
  const size_t end = thread.group_ends[groups - 1];
  for (size_t index = 0; index < end; ++index) {
    const PendingCopy& copy = thread.copies[index];
    std::memcpy(shared_.data() + copy.offset, copy.bytes, copy.size);
    note_generic_write(thread, copy.offset, copy.size);
  }
  thread.copies.erase(thread.copies.begin(), thread.copies.begin() + std::ptrdiff_t(end));
  thread.group_ends.erase(thread.group_ends.begin(), thread.group_ends.begin() + std::ptrdiff_t(groups));
  for (size_t& group_end : thread.group_ends) group_end -= end;
}

void BlockExecutor::note_generic_write(EmulatedThread& thread, unsigned offset, unsigned bytes) {
  for (unsigned chunk = offset / 16; chunk <= (offset + bytes - 1) / 16; ++chunk) {
    uint64_t& word = thread.unfenced_chunks[chunk / 64];
    const uint64_t bit = uint64_t(1) << (chunk % 64);
    if (!(word & bit)) {
      word |= bit;
      ++unfenced_writers_[chunk];
    }
  }
}

void BlockExecutor::fence_proxy_async() {
  EmulatedThread& thread = *current_;
  for (size_t index = 0; index < thread.unfenced_chunks.size(); ++index) {
    for (uint64_t word = thread.unfenced_chunks[index]; word != 0; word &= word - 1) {
      --unfenced_writers_[index * 64 + size_t(__builtin_ctzll(word))];
    }
    thread.unfenced_chunks[index] = 0;
  }
}

void BlockExecutor::cp_async_wait(int pending) {
  EmulatedThread& thread = *current_;
  if (pending < 0) fail(thread, "cp.async.wait_group %d: the count must be >= 0", pending);
  const size_t groups = thread.group_ends.size();
  if (groups > size_t(pending)) land(thread, groups - size_t(pending));
}

void BlockExecutor::add_cost(const BlockSite& site, std::span<const LaneAccess> lanes) {
  const WavefrontCount count = count_wavefronts(site.kind, lanes);
  SharedAccessCost& cost = block_costs_[site];
  cost.instructions += 1;
  cost.wavefronts += count.wavefronts;
  cost.ideal += count.ideal;
}

// The k-th access a lane made at a site since the warp last met is the same warp instruction as
// every other lane's k-th access there (lanes that skipped it, e.g. by a predicate, simply do
// not take part). Paths that reach one site a different number of times per lane would be
// mismatched; the kernels' shared accesses sit in uniform loops.
void BlockExecutor::match_warp_accesses(int warp_index) {
  matched_.clear();
  for (int lane = 0; lane < 32; ++lane) {
    const size_t index = size_t(warp_index * 32 + lane);
    if (index >= threads_.size()) break;
    EmulatedThread& thread = threads_[index];
    occurrences_.clear();
    for (const RecordedAccess& access : thread.accesses) {
      const BlockSite site{access.file, access.line, access.kind};
      int occurrence = 0;
      bool seen = false;
      for (auto& [known, count] : occurrences_) {
        if (known == site) {
          occurrence = count++;
          seen = true;
          break;
        }
      }
      if (!seen) occurrences_.push_back({site, 1});
      matched_.push_back({site, occurrence, lane, access.offset});
    }
    thread.accesses.clear();
  }
  std::sort(matched_.begin(), matched_.end());
  for (size_t begin = 0; begin < matched_.size();) {
    size_t end = begin;
    instruction_lanes_.clear();
    while (end < matched_.size() && matched_[end].site == matched_[begin].site &&
           matched_[end].occurrence == matched_[begin].occurrence) {
      instruction_lanes_.push_back({matched_[end].lane, matched_[end].offset});
      ++end;
    }
    add_cost(matched_[begin].site, instruction_lanes_);
    begin = end;
  }
}

void BlockExecutor::merge_bank_costs() {
  for (size_t index = 0; index < warps_.size(); ++index) match_warp_accesses(int(index));
  std::map<SharedAccessSite, SharedAccessCost> named;
  for (const auto& [site, cost] : block_costs_) {
    SharedAccessCost& total = named[SharedAccessSite{launch_->configuration->kernel_name,
                                                     site.file ? site.file : "?", site.line,
                                                     site.kind}];
    total.instructions += cost.instructions;
    total.wavefronts += cost.wavefronts;
    total.ideal += cost.ideal;
  }
  recorder_->add(named);
}

uint64_t parse_seed(const char* text, bool* valid) {
  char* end = nullptr;
  unsigned long long value = std::strtoull(text, &end, 0);
  *valid = end != text && *end == '\0';
  return value;
}

}  // namespace

uint64_t launch_seed(uint64_t launch_index) {
  if (const char* text = std::getenv("ATTNCC_EMULATION_SEED"); text != nullptr && *text) {
    bool valid = false;
    uint64_t seed = parse_seed(text, &valid);
    if (!valid) {
      throw user_error(ErrorCode::kInvalidArgument, "ATTNCC_EMULATION_SEED",
                       "'" + std::string(text) + "' is not an unsigned integer",
                       "set it to a seed printed by a failing emulated launch, or unset it");
    }
    return seed;
  }
  uint64_t state = launch_index;
  return split_mix(state);
}

void run_launch(const LaunchConfiguration& configuration, ThreadPool& pool) {
  auto refuse = [&](const std::string& message) {
    throw user_error(ErrorCode::kInvalidArgument, "cuda emulation launch of " + configuration.kernel_name,
                     message);
  };
  const Dim3& block = configuration.block;
  const Dim3& grid = configuration.grid;
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  if (configuration.entry == nullptr) refuse("no entry point");
  if (threads == 0 || threads > kMaxThreadsPerBlock) {
    refuse("block of " + std::to_string(threads) + " threads; CUDA allows 1 to " +
           std::to_string(kMaxThreadsPerBlock));
  }
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > kMaxGridYZ || grid.z > kMaxGridYZ) {
    refuse("grid (" + std::to_string(grid.x) + ", " + std::to_string(grid.y) + ", " +
           std::to_string(grid.z) + ") is empty or beyond CUDA's limits");
  }
  if (configuration.shared_bytes > kMaxSharedBytes) {
    refuse(std::to_string(configuration.shared_bytes) + " bytes of dynamic shared memory; a block "
           "may have at most " + std::to_string(kMaxSharedBytes));
  }
  LaunchState launch;
  launch.configuration = &configuration;
  launch.recorder = shared_bank_recorder();
  const int64_t blocks = int64_t(grid.x) * grid.y * grid.z;
  pool.parallel_for(blocks, [&](int64_t begin, int64_t end) {
    BlockExecutor& runner = executor();
    for (int64_t index = begin; index < end; ++index) {
      if (launch.failed.load(std::memory_order_relaxed)) return;
      Dim3 block_index{unsigned(index % grid.x), unsigned(index / grid.x % grid.y),
                       unsigned(index / (int64_t(grid.x) * grid.y))};
      runner.run_block(launch, block_index);
    }
  });
  if (launch.failed.load()) throw Error(ErrorCode::kInternal, launch.error);
}

}  // namespace attncc::emulation

// ---- the C interface of templates/emulation/emulation_interface.h ------------------------------

using attncc::emulation::Collective;
using attncc::emulation::CollectiveKind;
using attncc::emulation::SharedAccessKind;
using attncc::emulation::active_executor;

extern "C" {

const attncc_emulation_thread* attncc_emulation_current_thread() noexcept {
  return &active_executor().current().view;
}

void attncc_emulation_sync_threads() noexcept { active_executor().sync_threads(); }

void attncc_emulation_sync_warp(unsigned mask) noexcept {
  active_executor().arrive(Collective{CollectiveKind::kSyncWarp, 0, 0, mask});
}

unsigned attncc_emulation_shuffle(unsigned mask, unsigned value, int mode, int operand,
                                  int width) noexcept {
  auto& runner = active_executor();
  auto& thread = runner.current();
  if (width < 1 || width > 32 || (width & (width - 1)) != 0 || mode < 0 || mode > 3) {
    runner.fail(thread, "shuffle with width %d (mode %d): the width must be a power of two from 1 "
                        "to 32",
                width, mode);
  }
  thread.value = value;
  thread.operand = operand;
  runner.arrive(Collective{CollectiveKind::kShuffle, mode, width, mask});
  return runner.current().result;
}

unsigned attncc_emulation_vote(unsigned mask, int mode, int predicate) noexcept {
  auto& runner = active_executor();
  runner.current().value = predicate != 0;
  runner.arrive(Collective{CollectiveKind::kVote, mode, 0, mask});
  return runner.current().result;
}

void attncc_emulation_ldmatrix(unsigned* fragment, int count, int transpose, unsigned offset,
                               const char* file, int line) noexcept {
  auto& runner = active_executor();
  auto& thread = runner.current();
  thread.site_file = file;
  thread.site_line = line;
  if (count != 1 && count != 2 && count != 4) {
    runner.fail(thread, "ldmatrix.x%d: only x1, x2 and x4 exist", count);
  }
  thread.fragment = fragment;
  thread.offset = offset;
  // .aligned: every lane of the warp takes part.
  runner.arrive(Collective{CollectiveKind::kLdmatrix, count, transpose ? 1 : 0, 0xffffffffu});
}

void attncc_emulation_mma_m16n8k16(float* accumulator, const unsigned* a, const unsigned* b,
                                   int bfloat16) noexcept {
  auto& runner = active_executor();
  auto& thread = runner.current();
  thread.accumulator = accumulator;
  thread.a = a;
  thread.b = b;
  runner.arrive(Collective{CollectiveKind::kMma, bfloat16 ? 1 : 0, 0, 0xffffffffu});
}

void attncc_emulation_wgmma(float* accumulator, int n, const unsigned* a,
                            unsigned long long descriptor_a, unsigned long long descriptor_b,
                            int transpose_a, int transpose_b, int bfloat16,
                            int accumulate) noexcept {
  auto& runner = active_executor();
  auto& thread = runner.current();
  if (n != 64 && n != 128) runner.fail(thread, "wgmma m64n%dk16: the emulation has n 64 and 128", n);
  thread.accumulator = accumulator;
  thread.a = a;
  thread.descriptor_a = descriptor_a;
  thread.descriptor_b = descriptor_b;
  const int flags = n | (bfloat16 ? 1 << 9 : 0) | (transpose_b ? 1 << 10 : 0) |
                    (a != nullptr ? 1 << 11 : 0) | (accumulate ? 1 << 12 : 0) |
                    (transpose_a ? 1 << 13 : 0);
  // .sync.aligned, per warpgroup: every lane of each of its warps issues it.
  runner.arrive(Collective{CollectiveKind::kWgmma, flags, 0, 0xffffffffu});
}

void attncc_emulation_fence_proxy_async() noexcept { active_executor().fence_proxy_async(); }

void attncc_emulation_wgmma_fence() noexcept {
  active_executor().arrive(Collective{CollectiveKind::kWgmmaFence, 0, 0, 0xffffffffu});
}

void attncc_emulation_wgmma_commit() noexcept {
  active_executor().arrive(Collective{CollectiveKind::kWgmmaCommit, 0, 0, 0xffffffffu});
}

void attncc_emulation_wgmma_wait(int pending) noexcept {
  active_executor().arrive(Collective{CollectiveKind::kWgmmaWait, pending, 0, 0xffffffffu});
}

void attncc_emulation_cp_async_16(unsigned offset, const void* source, int valid,
                                  const char* file, int line) noexcept {
  auto& runner = active_executor();
  runner.cp_async(offset, source, 16, valid != 0);
  runner.record_access(SharedAccessKind::kCopy16, offset, file, line);
}

void attncc_emulation_cp_async_4(unsigned offset, const void* source, const char* file,
                                 int line) noexcept {
  auto& runner = active_executor();
  runner.cp_async(offset, source, 4, true);
  runner.record_access(SharedAccessKind::kCopy4, offset, file, line);
}

void attncc_emulation_cp_async_commit() noexcept { active_executor().cp_async_commit(); }

void attncc_emulation_cp_async_wait(int pending) noexcept {
  active_executor().cp_async_wait(pending);
}

unsigned attncc_emulation_shared_load_u32(unsigned offset, const char* file, int line) noexcept {
  auto& runner = active_executor();
  unsigned value;
  std::memcpy(&value, runner.shared_at("32-bit shared load", offset, 4, 4), 4);
  runner.record_access(SharedAccessKind::kLoad32, offset, file, line);
  return value;
}

void attncc_emulation_shared_store_u32(unsigned offset, unsigned value, const char* file,
                                       int line) noexcept {
  auto& runner = active_executor();
  std::memcpy(runner.shared_at("32-bit shared store", offset, 4, 4), &value, 4);
  runner.note_generic_write(runner.current(), offset, 4);
  runner.record_access(SharedAccessKind::kStore32, offset, file, line);
}

void attncc_emulation_shared_store_u128(unsigned offset, unsigned x, unsigned y, unsigned z,
                                        unsigned w, const char* file, int line) noexcept {
  auto& runner = active_executor();
  const unsigned words[4] = {x, y, z, w};
  std::memcpy(runner.shared_at("128-bit shared store", offset, 16, 16), words, 16);
  runner.note_generic_write(runner.current(), offset, 16);
  runner.record_access(SharedAccessKind::kStore128, offset, file, line);
}

}  // extern "C"

namespace attncc::emulation {

std::map<std::string, void*> host_symbols() {
  return {
      {"attncc_emulation_current_thread", reinterpret_cast<void*>(&attncc_emulation_current_thread)},
      {"attncc_emulation_sync_threads", reinterpret_cast<void*>(&attncc_emulation_sync_threads)},
      {"attncc_emulation_sync_warp", reinterpret_cast<void*>(&attncc_emulation_sync_warp)},
      {"attncc_emulation_shuffle", reinterpret_cast<void*>(&attncc_emulation_shuffle)},
      {"attncc_emulation_vote", reinterpret_cast<void*>(&attncc_emulation_vote)},
      {"attncc_emulation_ldmatrix", reinterpret_cast<void*>(&attncc_emulation_ldmatrix)},
      {"attncc_emulation_mma_m16n8k16", reinterpret_cast<void*>(&attncc_emulation_mma_m16n8k16)},
      {"attncc_emulation_wgmma", reinterpret_cast<void*>(&attncc_emulation_wgmma)},
      {"attncc_emulation_wgmma_fence", reinterpret_cast<void*>(&attncc_emulation_wgmma_fence)},
      {"attncc_emulation_fence_proxy_async",
       reinterpret_cast<void*>(&attncc_emulation_fence_proxy_async)},
      {"attncc_emulation_wgmma_commit", reinterpret_cast<void*>(&attncc_emulation_wgmma_commit)},
      {"attncc_emulation_wgmma_wait", reinterpret_cast<void*>(&attncc_emulation_wgmma_wait)},
      {"attncc_emulation_cp_async_16", reinterpret_cast<void*>(&attncc_emulation_cp_async_16)},
      {"attncc_emulation_cp_async_4", reinterpret_cast<void*>(&attncc_emulation_cp_async_4)},
      {"attncc_emulation_cp_async_commit", reinterpret_cast<void*>(&attncc_emulation_cp_async_commit)},
      {"attncc_emulation_cp_async_wait", reinterpret_cast<void*>(&attncc_emulation_cp_async_wait)},
      {"attncc_emulation_shared_load_u32", reinterpret_cast<void*>(&attncc_emulation_shared_load_u32)},
      {"attncc_emulation_shared_store_u32", reinterpret_cast<void*>(&attncc_emulation_shared_store_u32)},
      {"attncc_emulation_shared_store_u128",
       reinterpret_cast<void*>(&attncc_emulation_shared_store_u128)},
  };
}

}  // namespace attncc::emulation
