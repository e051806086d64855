// The backend side of attncc::Kernel: one compiled spec on one backend.
#pragma once

#include <atomic>
#include <string>

#include "attncc/runtime.h"

namespace attncc {

/// Counters shared by a Runtime and its kernels (RuntimeStats as atomics).
struct RuntimeCounters {
  std::atomic<int64_t> compiles{0};
  std::atomic<int64_t> disk_hits{0};
  std::atomic<int64_t> memory_hits{0};
  std::atomic<int64_t> forward_launches{0};
  std::atomic<int64_t> backward_launches{0};
};

class KernelImplementation {
 public:
  KernelImplementation(Spec spec, Backend backend, RuntimeCounters& counters)
      : spec_(std::move(spec)), hash_(spec_hash(spec_)), backend_(backend), counters_(counters) {}
  virtual ~KernelImplementation() = default;

  virtual void forward(const AttentionArguments& arguments, void* stream) const = 0;
  virtual void backward(const AttentionArguments& arguments, void* stream) const = 0;

  const Spec& spec() const { return spec_; }
  const std::string& hash() const { return hash_; }
  Backend backend() const { return backend_; }

 protected:
  Spec spec_;
  std::string hash_;
  Backend backend_;
  RuntimeCounters& counters_;
};

}  // namespace attncc
