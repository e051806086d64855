// A small fixed thread pool (see thread_pool.h). Chunks are claimed under a mutex: work items
// are whole attention tiles (microseconds to milliseconds), so claiming cost is negligible.
#include "runtime/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>

#include "attncc/error.h"

namespace attncc {
namespace {

// How long a thread polls for the next job (workers) or for the workers to finish (the caller)
// before it blocks on a condition variable. Blocking costs a futex wake-up of 40-45 us
// (`attncc bench`, 2 heads on a 2-thread pool); the poll catches back-to-back passes (the split
// schedules run two or three) and back-to-back calls, and costs at most this much CPU per job.
constexpr std::chrono::microseconds kPollTime{50};

template <typename Ready>
bool poll_until(Ready ready) {
  const auto deadline = std::chrono::steady_clock::now() + kPollTime;
  for (int spin = 1;; ++spin) {
    if (ready()) return true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if (spin % 64 == 0 && std::chrono::steady_clock::now() > deadline) return false;
  }
}

}  // namespace

int resolve_thread_count(int requested) {
  if (requested > 0) return requested;
  if (const char* text = std::getenv("ATTNCC_NUM_THREADS"); text != nullptr && *text != '\0') {
    char* end = nullptr;
    long value = std::strtol(text, &end, 10);
    if (*end != '\0' || value <= 0 || value > 4096) {
      throw user_error(ErrorCode::kInvalidArgument, "ATTNCC_NUM_THREADS",
                       std::string("must be a positive integer; got '") + text + "'");
    }
    return static_cast<int>(value);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadPool::ThreadPool(int threads) {
  int total = resolve_thread_count(threads);
  for (int index = 1; index < total; ++index) workers_.emplace_back([this] { work_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::run_chunks() {
  for (;;) {
    int64_t begin;
    int64_t end;
    const std::function<void(int64_t, int64_t)>* body;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (next_ >= count_ || error_) return;
      begin = next_;
      end = std::min(count_, begin + chunk_);
      next_ = end;
      body = body_;
    }
    try {
      (*body)(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
}

void ThreadPool::work_loop() {
  uint64_t seen = 0;
  for (;;) {
    poll_until([&] { return published_generation_.load(std::memory_order_acquire) != seen; });
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
    }
    run_chunks();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      published_active_.store(--active_, std::memory_order_release);
      if (active_ == 0) done_.notify_all();
    }
  }
}

void ThreadPool::parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& body) {
  if (count <= 0) return;
  std::lock_guard<std::mutex> job(job_mutex_);
  if (workers_.empty() || count == 1) {
    body(0, count);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    body_ = &body;
    count_ = count;
    chunk_ = chunk_size(count, size());
    next_ = 0;
    error_ = nullptr;
    active_ = static_cast<int>(workers_.size());
    published_active_.store(active_, std::memory_order_release);
    published_generation_.store(++generation_, std::memory_order_release);
  }
  wake_.notify_all();
  run_chunks();
  poll_until([&] { return published_active_.load(std::memory_order_acquire) == 0; });
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return active_ == 0; });
    error = error_;
    body_ = nullptr;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace attncc
