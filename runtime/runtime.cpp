// attncc::Runtime and attncc::Kernel: the in-memory kernel map (one build per key even under
// concurrent requests), the disk cache, and backend selection (DESIGN §5).
#include "attncc/runtime.h"

#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>

#include "runtime/cache/disk_cache.h"
#include "runtime/cpu/cpu_kernel.h"
#include "runtime/cuda/cuda_kernel.h"
#include "runtime/cuda/driver_api.h"
#include "runtime/emulation/emulated_kernel.h"
#include "runtime/environment.h"
#include "runtime/kernel_implementation.h"
#include "runtime/thread_pool.h"

namespace attncc {
namespace {

}  // namespace

std::string_view backend_name(Backend backend) {
  switch (backend) {
    case Backend::kAuto: return "auto";
    case Backend::kCpu: return "cpu";
    case Backend::kCuda: return "cuda";
    case Backend::kCudaEmulated: return "cuda-emulated";
  }
  return "?";
}

Backend parse_backend(std::string_view name) {
  for (Backend backend : {Backend::kAuto, Backend::kCpu, Backend::kCuda, Backend::kCudaEmulated}) {
    if (name == backend_name(backend)) return backend;
  }
  throw user_error(ErrorCode::kInvalidArgument, "backend",
                   "unknown backend '" + std::string(name) + "'",
                   "use auto, cpu, cuda or cuda-emulated");
}

std::string_view cpu_forward_schedule_name(CpuForwardSchedule schedule) {
  switch (schedule) {
    case CpuForwardSchedule::kAuto: return "auto";
    case CpuForwardSchedule::kTiles: return "tiles";
    case CpuForwardSchedule::kSplit: return "split";
  }
  return "?";
}

CpuForwardSchedule parse_cpu_forward_schedule(std::string_view name) {
  for (CpuForwardSchedule schedule :
       {CpuForwardSchedule::kAuto, CpuForwardSchedule::kTiles, CpuForwardSchedule::kSplit}) {
    if (name == cpu_forward_schedule_name(schedule)) return schedule;
  }
  throw user_error(ErrorCode::kInvalidArgument, "cpu forward schedule",
                   "unknown CPU forward schedule '" + std::string(name) + "'",
                   "use auto, tiles or split");
}

std::string_view cpu_backward_schedule_name(CpuBackwardSchedule schedule) {
  switch (schedule) {
    case CpuBackwardSchedule::kAuto: return "auto";
    case CpuBackwardSchedule::kFused: return "fused";
    case CpuBackwardSchedule::kFusedSplit: return "fused-split";
    case CpuBackwardSchedule::kTwoPass: return "two-pass";
  }
  return "?";
}

CpuBackwardSchedule parse_cpu_backward_schedule(std::string_view name) {
  for (CpuBackwardSchedule schedule :
       {CpuBackwardSchedule::kAuto, CpuBackwardSchedule::kFused, CpuBackwardSchedule::kFusedSplit,
        CpuBackwardSchedule::kTwoPass}) {
    if (name == cpu_backward_schedule_name(schedule)) return schedule;
  }
  throw user_error(ErrorCode::kInvalidArgument, "cpu backward schedule",
                   "unknown CPU backward schedule '" + std::string(name) + "'",
                   "use auto, fused, fused-split or two-pass");
}

Kernel::Kernel(std::shared_ptr<const KernelImplementation> implementation)
    : implementation_(std::move(implementation)) {}

void Kernel::forward(const AttentionArguments& arguments, void* stream) const {
  implementation_->forward(arguments, stream);
}

void Kernel::backward(const AttentionArguments& arguments, void* stream) const {
  if (!implementation_->spec().backward) {
    throw user_error(ErrorCode::kInvalidArgument, "Kernel::backward",
                     "the spec was compiled without a backward",
                     "set \"backward\": true in the spec");
  }
  implementation_->backward(arguments, stream);
}

const Spec& Kernel::spec() const { return implementation_->spec(); }
const std::string& Kernel::hash() const { return implementation_->hash(); }
Backend Kernel::backend() const { return implementation_->backend(); }

class Runtime::State {
 public:
  explicit State(RuntimeOptions options_in) : options(std::move(options_in)), pool(options.num_threads) {
    backend = resolve(options.backend);
    if (options.disk_cache) {
      DiskCacheOptions disk_options;
      disk_options.directory = options.cache_dir;
      disk_options.max_bytes = options.disk_cache_max_bytes;
      disk = std::make_unique<DiskCache>(disk_options);
      print_warnings();
    }
  }

  static Backend resolve(Backend requested) {
    switch (requested) {
      case Backend::kAuto:
        return cuda_driver::device_available() ? Backend::kCuda : Backend::kCpu;
      case Backend::kCpu: return Backend::kCpu;
      case Backend::kCudaEmulated: return Backend::kCudaEmulated;
      case Backend::kCuda:
        cuda_driver::driver();  // throws the clear "no driver / no device" error
        return Backend::kCuda;
    }
    return Backend::kCpu;
  }

  // Disk-cache warnings go to stderr once each (the cache reports each problem once).
  void print_warnings() {
    if (!disk) return;
    for (const std::string& warning : disk->take_warnings()) std::fprintf(stderr, "%s\n", warning.c_str());
  }

  std::shared_ptr<const KernelImplementation> build(const Spec& spec) {
    DiskCache* cache = disk && disk->enabled() ? disk.get() : nullptr;
    const WarpgroupForward warpgroup = requested_warpgroup_forward(options.cuda_warpgroup_mma);
    auto kernel = backend == Backend::kCuda
                      ? build_cuda_kernel(spec, cuda_bundle(), cache, counters, warpgroup)
                  : backend == Backend::kCudaEmulated
                      ? build_emulated_cuda_kernel(spec, cache, pool, counters, warpgroup)
                      : build_cpu_kernel(spec, cache, pool,
                                         CpuSchedules{options.cpu_forward, options.cpu_backward},
                                         counters);
    print_warnings();
    return kernel;
  }

  // The bundle of RuntimeOptions::bundle_dir (else $ATTNCC_BUNDLE_DIR), opened on first use.
  const CudaBundle* cuda_bundle() {
    std::call_once(bundle_opened, [&] {
      std::string directory = options.bundle_dir;
      if (const char* variable = std::getenv("ATTNCC_BUNDLE_DIR"); directory.empty() && variable) {
        directory = variable;
      }
      if (!directory.empty()) bundle = std::make_unique<CudaBundle>(CudaBundle::open(directory));
    });
    return bundle.get();
  }

  RuntimeOptions options;
  std::once_flag bundle_opened;
  std::unique_ptr<CudaBundle> bundle;
  Backend backend = Backend::kCpu;
  ThreadPool pool;
  std::unique_ptr<DiskCache> disk;
  RuntimeCounters counters;
  std::mutex mutex;
  // Keyed by canonical spec text: the first request builds, later ones wait on its future.
  std::map<std::string, std::shared_future<std::shared_ptr<const KernelImplementation>>> kernels;
};

Runtime::Runtime(RuntimeOptions options) : state_(std::make_unique<State>(std::move(options))) {}
Runtime::~Runtime() = default;

Kernel Runtime::get(const Spec& spec) {
  const std::string key = spec.canonical_text();
  std::promise<std::shared_ptr<const KernelImplementation>> promise;
  std::shared_future<std::shared_ptr<const KernelImplementation>> future;
  bool builder = false;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    auto found = state_->kernels.find(key);
    if (found != state_->kernels.end()) {
      future = found->second;
      state_->counters.memory_hits.fetch_add(1);
    } else {
      future = promise.get_future().share();
      state_->kernels.emplace(key, future);
      builder = true;
    }
  }
  if (builder) {
    try {
      promise.set_value(state_->build(spec));
    } catch (...) {
      // Waiters see the same error; the entry goes so a later request can try again.
      promise.set_exception(std::current_exception());
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->kernels.erase(key);
    }
  }
  return Kernel(future.get());
}

Backend Runtime::backend() const { return state_->backend; }

RuntimeStats Runtime::stats() const {
  RuntimeStats stats;
  stats.compiles = state_->counters.compiles.load();
  stats.disk_hits = state_->counters.disk_hits.load();
  stats.memory_hits = state_->counters.memory_hits.load();
  stats.forward_launches = state_->counters.forward_launches.load();
  stats.backward_launches = state_->counters.backward_launches.load();
  return stats;
}

const RuntimeOptions& Runtime::options() const { return state_->options; }

}  // namespace attncc
