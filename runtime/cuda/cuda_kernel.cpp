// The CUDA backend's kernel (see cuda_kernel.h). Workspaces (delta, the dQ accumulator, the
// device status) are stream-ordered allocations on the caller's stream, so a call never
// synchronises (the default memory pool keeps the largest call's workspaces reserved across
// synchronisations: driver_api.h retain_pool_memory); the device status is copied to pinned
// host memory after the last launch and checked at the start of the next call on this kernel,
// or at once (with a stream synchronisation) when ATTNCC_VALIDATE=1.
#include "runtime/cuda/cuda_kernel.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

#include "compiler/emit/forward_tile_choice.h"
#include "compiler/emit/lower_to_cuda.h"
#include "runtime/argument_validation.h"
#include "runtime/cuda/cuda_arguments.h"
#include "runtime/cuda/driver_api.h"
#include "runtime/cuda/launch_plan.h"
#include "runtime/environment.h"

namespace attncc {
namespace {

namespace driver = cuda_driver;

// Pinned host copies of the device status of recent calls: a ring, so calls in flight on any
// stream never share a slot unless more than kSlots are outstanding.
constexpr int kStatusSlots = 64;

struct LoadedModule {
  driver::Module module = nullptr;
  std::array<driver::Function, cuda::kKernelCount> functions{};
  volatile cuda::DeviceStatus* status_slots = nullptr;  // pinned, kStatusSlots entries
};

// A call's stream-ordered workspaces: freed after its last launch in stream order, never waited
// on; a call that throws between allocation and free() still frees them (errors ignored there).
class StreamWorkspaces {
 public:
  StreamWorkspaces(const driver::Api& api, driver::Stream stream) : api_(api), stream_(stream) {}
  StreamWorkspaces(const StreamWorkspaces&) = delete;
  StreamWorkspaces& operator=(const StreamWorkspaces&) = delete;
  ~StreamWorkspaces() {
    for (driver::DevicePointer pointer : pointers_) api_.memory_free_async(pointer, stream_);
  }

  /// A new workspace of `bytes` (0: none, address 0).
  driver::DevicePointer allocate(size_t bytes) {
    driver::DevicePointer pointer = 0;
    if (bytes == 0) return pointer;
    driver::check(api_.memory_allocate_async(&pointer, bytes, stream_), "cuMemAllocAsync");
    pointers_.push_back(pointer);
    return pointer;
  }

  /// Frees every workspace in stream order, newest first.
  void free() {
    while (!pointers_.empty()) {
      const driver::DevicePointer pointer = pointers_.back();
      pointers_.pop_back();
      driver::check(api_.memory_free_async(pointer, stream_), "cuMemFreeAsync");
    }
  }

 private:
  const driver::Api& api_;
  driver::Stream stream_;
  std::vector<driver::DevicePointer> pointers_;
};

class CudaKernel final : public KernelImplementation {
 public:
  CudaKernel(const Spec& spec, CudaBinary binary, const CudaLoweringOptions& lowering,
             RuntimeCounters& counters)
      : KernelImplementation(spec, Backend::kCuda, counters),
        binary_(std::move(binary)),
        prefix_(cuda_entry_prefix(spec_)),
        lowering_(lowering),
        forward_shape_(cuda_forward_tile_shape(spec_, lowering)) {}

  void forward(const AttentionArguments& arguments, void* stream) const override {
    run(arguments, stream, /*backward=*/false);
    counters_.forward_launches.fetch_add(1);
  }

  void backward(const AttentionArguments& arguments, void* stream) const override {
    run(arguments, stream, /*backward=*/true);
    counters_.backward_launches.fetch_add(1);
  }

 private:
  void run(const AttentionArguments& arguments, void* stream_handle, bool backward) const {
    validate_arguments(spec_, arguments, backward ? Pass::kBackward : Pass::kForward,
                       DeviceKind::kCuda);
    check_cuda_alignment(spec_, arguments, backward);
    const int ordinal = arguments.q.device_index;
    const bool deterministic = spec_.deterministic || environment_flag("ATTNCC_DETERMINISTIC");
    CudaLaunchPlan plan = backward
                              ? plan_cuda_backward(spec_, arguments, deterministic, lowering_)
                              : plan_cuda_forward(spec_, forward_shape_, arguments);

    driver::ContextScope scope(ordinal);  // the pointer queries too run in the device's context
    check_cuda_pointers(arguments, backward, ordinal);
    const driver::Api& api = driver::driver();
    const LoadedModule& loaded = module_for(ordinal);
    check_earlier_calls(loaded);
    auto stream = static_cast<driver::Stream>(stream_handle);

    const CudaWorkspaceSizes& sizes = plan.workspace;
    driver::retain_pool_memory(ordinal,
                               sizes.status_bytes + sizes.delta_bytes + sizes.dq_accumulator_bytes);
    StreamWorkspaces workspaces(api, stream);
    const driver::DevicePointer status = workspaces.allocate(sizes.status_bytes);
    const driver::DevicePointer delta = workspaces.allocate(sizes.delta_bytes);
    const driver::DevicePointer dq_accumulator = workspaces.allocate(sizes.dq_accumulator_bytes);
    driver::check(api.memset_d32_async(status, 0, sizes.status_bytes / 4, stream),
                  "cuMemsetD32Async");
    bind_workspace(plan, reinterpret_cast<float*>(delta), reinterpret_cast<float*>(dq_accumulator),
                   reinterpret_cast<cuda::DeviceStatus*>(status));

    for (const CudaLaunch& launch : plan.launches) {
      void* parameters[] = {&plan.params};  // the driver copies the block at the launch
      driver::check(api.launch_kernel(loaded.functions[launch.kind], launch.grid.x, launch.grid.y,
                                      launch.grid.z, launch.block.x, launch.block.y,
                                      launch.block.z, launch.shared_bytes, stream, parameters,
                                      nullptr),
                    ("cuLaunchKernel of " + describe(launch)).c_str());
    }

    const uint64_t slot = next_slot_.fetch_add(1) % kStatusSlots;
    volatile cuda::DeviceStatus* host_status = loaded.status_slots + slot;
    host_status->error = 0;
    driver::check(api.memcpy_device_to_host_async(const_cast<cuda::DeviceStatus*>(host_status),
                                                  status, sizeof(cuda::DeviceStatus), stream),
                  "cuMemcpyDtoHAsync");
    workspaces.free();
    if (environment_flag("ATTNCC_VALIDATE")) {
      driver::check(api.stream_synchronize(stream), "cuStreamSynchronize");
      check_earlier_calls(loaded);
    }
  }

  // Throws the first error a finished earlier call left in the status ring (and clears it).
  void check_earlier_calls(const LoadedModule& loaded) const {
    for (int slot = 0; slot < kStatusSlots; ++slot) {
      volatile cuda::DeviceStatus* status = loaded.status_slots + slot;
      if (status->error == 0) continue;
      cuda::DeviceStatus copy;
      copy.error = status->error;
      copy.document = status->document;
      copy.query_start = status->query_start;
      copy.query_length = status->query_length;
      copy.key_start = status->key_start;
      copy.key_length = status->key_length;
      status->error = 0;
      throw device_status_error(copy);
    }
  }

  // The module of this kernel on device `ordinal` (loaded on first use; the primary context of
  // `ordinal` is current).
  const LoadedModule& module_for(int ordinal) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::unique_ptr<LoadedModule>& loaded = modules_[ordinal];
    if (loaded) return *loaded;
    const driver::Api& api = driver::driver();
    if (binary_.is_cubin && cuda_device_target(ordinal).name != binary_.target) {
      throw user_error(ErrorCode::kUnsupported, "cuda:" + std::to_string(ordinal),
                       "is a " + cuda_device_target(ordinal).name + " device but the kernel of spec " +
                           hash_ + " was built for " + binary_.target,
                       "use one Runtime per GPU architecture");
    }
    auto module = std::make_unique<LoadedModule>();
    // The driver's JIT log says why a PTX image (a device newer than NVRTC's CUBIN targets)
    // did not load, where the error code alone says only CUDA_ERROR_INVALID_PTX.
    char jit_log[4096] = {};
    int jit_options[] = {driver::kJitErrorLogBuffer, driver::kJitErrorLogBufferSizeBytes};
    void* jit_values[] = {jit_log, reinterpret_cast<void*>(uintptr_t{sizeof(jit_log) - 1})};
    if (const driver::Result result = api.module_load_data(&module->module, binary_.image.data(), 2,
                                                           jit_options, jit_values);
        result != 0) {
      const std::string call = std::string("cuModuleLoadDataEx of the ") +
                               (binary_.is_cubin ? "CUBIN" : "PTX") + " for " + binary_.target +
                               (jit_log[0] != '\0' ? std::string(" (JIT log: ") + jit_log + ")" : "");
      driver::check(result, call.c_str());
    }
    const int optin = driver::device_attribute(ordinal, driver::kAttributeMaxSharedMemoryPerBlockOptin);
    for (int kind = 0; kind < cuda::kKernelCount; ++kind) {
      const std::string name = prefix_ + "_" + cuda::kernel_suffix(static_cast<cuda::KernelKind>(kind));
      driver::check(api.module_get_function(&module->functions[kind], module->module, name.c_str()),
                    ("cuModuleGetFunction " + name).c_str());
      const unsigned shared =
          dynamic_shared_bytes(static_cast<cuda::KernelKind>(kind), spec_, lowering_);
      if (shared > static_cast<unsigned>(optin)) {
        throw user_error(ErrorCode::kUnsupported, "cuda:" + std::to_string(ordinal),
                         name + " needs " + std::to_string(shared) +
                             " bytes of shared memory; the device allows " + std::to_string(optin),
                         "use a smaller head dim or a newer GPU");
      }
      if (shared > 48 * 1024) {  // above 48 KB a kernel must opt in
        driver::check(api.function_set_attribute(module->functions[kind],
                                                 driver::kFunctionAttributeMaxDynamicSharedSizeBytes,
                                                 static_cast<int>(shared)),
                      "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)");
      }
    }
    void* slots = nullptr;
    driver::check(api.memory_allocate_host(&slots, kStatusSlots * sizeof(cuda::DeviceStatus)),
                  "cuMemAllocHost");
    module->status_slots = static_cast<volatile cuda::DeviceStatus*>(slots);
    for (int slot = 0; slot < kStatusSlots; ++slot) module->status_slots[slot].error = 0;
    loaded = std::move(module);
    return *loaded;
  }

  CudaBinary binary_;
  std::string prefix_;
  CudaLoweringOptions lowering_;
  cuda::TileShape forward_shape_;
  mutable std::mutex mutex_;
  // Modules and pinned slots live as long as the process's primary contexts: never unloaded,
  // since a Runtime held in a static may be destroyed after the driver's own teardown.
  mutable std::map<int, std::unique_ptr<LoadedModule>> modules_;
  mutable std::atomic<uint64_t> next_slot_{0};
};

}  // namespace

CudaTarget cuda_device_target(int ordinal) {
  driver::Capability capability = driver::device_capability(ordinal);
  return cuda_target_for_device(capability.major, capability.minor);
}

std::shared_ptr<const KernelImplementation> build_cuda_kernel(
    const Spec& spec, const CudaBundle* bundle, DiskCache* disk, RuntimeCounters& counters,
    WarpgroupForward warpgroup_forward) {
  driver::driver();  // the clear "no driver / no device" error before any compile
  const CudaTarget target = cuda_device_target(0);
  const CudaLoweringOptions lowering =
      cuda_lowering_options(spec, warpgroup_forward, target.name == "sm_90a");
  CudaBinary binary = find_or_compile_cuda_binary(spec, target, bundle, disk, counters, lowering);
  return std::make_shared<CudaKernel>(spec, std::move(binary), lowering, counters);
}

}  // namespace attncc
