// A small fixed thread pool for the CPU backend: parallel_for over work-item indices.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace attncc {

/// Worker threads that run parallel_for jobs; one job at a time (callers are serialised).
class ThreadPool {
 public:
  /// `threads` <= 0: $ATTNCC_NUM_THREADS if set, else std::thread::hardware_concurrency().
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  /// Calls body(begin, end) over disjoint chunks covering [0, count) on the workers and the
  /// calling thread; returns when all are done. The first exception thrown by a chunk is
  /// rethrown here after every chunk finished.
  void parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& body);

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  /// The indices parallel_for hands out at a time, in order, to whichever thread is free:
  /// several chunks per thread, so uneven items balance.
  static int64_t chunk_size(int64_t count, int threads) {
    return count / (int64_t{threads} * 8) > 1 ? count / (int64_t{threads} * 8) : 1;
  }

 private:
  void work_loop();
  void run_chunks();

  std::vector<std::thread> workers_;
  std::mutex job_mutex_;  // serialises parallel_for callers
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int64_t, int64_t)>* body_ = nullptr;
  int64_t count_ = 0;
  int64_t chunk_ = 1;
  int64_t next_ = 0;
  int active_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
  // Mirrors of generation_ and active_ (written under mutex_) that the threads poll for a few
  // tens of microseconds before they block: a futex wake-up costs 40-45 us on this machine.
  std::atomic<uint64_t> published_generation_{0};
  std::atomic<int> published_active_{0};
};

/// Threads to use: `requested` if > 0, else $ATTNCC_NUM_THREADS, else hardware concurrency.
int resolve_thread_count(int requested);

}  // namespace attncc
