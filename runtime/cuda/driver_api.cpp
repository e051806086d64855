// The CUDA driver through dlopen (see driver_api.h).
#include "runtime/cuda/driver_api.h"

#include <cstdlib>
#include <mutex>
#include <vector>

#include "attncc/error.h"
#include "runtime/cuda/shared_library.h"

namespace attncc::cuda_driver {
namespace {

constexpr const char* kDriverHint =
    "install the NVIDIA driver (libcuda.so.1) and run on a machine with a GPU, or use the cpu "
    "(or cuda-emulated) backend";

// The driver's name of `result`, from `api` (which may still be loading).
std::string name_of(const Api& api, Result result) {
  const char* name = nullptr;
  if (api.get_error_name != nullptr) api.get_error_name(result, &name);
  return name != nullptr ? std::string(name) : "CUresult " + std::to_string(result);
}

struct LoadedDriver {
  SharedLibrary library;
  Api api;
  std::string error;  // why CUDA cannot run here; empty when it can
  int device_count = 0;
};

const LoadedDriver& loaded_driver() {
  static const LoadedDriver loaded = [] {
    LoadedDriver driver;
    // ATTNCC_CUDA_DRIVER_LIBRARY names the one file to load (tests of the missing-driver path).
    std::vector<std::string> names = {"libcuda.so.1"};
    if (const char* path = std::getenv("ATTNCC_CUDA_DRIVER_LIBRARY"); path && *path) names = {path};
    driver.library = SharedLibrary::open(names, {});
    if (!driver.library.is_open()) {
      driver.error = "cannot load the CUDA driver library libcuda.so.1 (" +
                     driver.library.error() + ")";
      return driver;
    }
    const SharedLibrary& library = driver.library;
    Api& api = driver.api;
    std::string missing;
    auto bind = [&](auto*& function, const char* name) {
      if (!library.bind(function, name)) missing += std::string(missing.empty() ? "" : ", ") + name;
    };
    bind(api.init, "cuInit");
    bind(api.driver_get_version, "cuDriverGetVersion");
    bind(api.get_error_name, "cuGetErrorName");
    bind(api.get_error_string, "cuGetErrorString");
    bind(api.device_get_count, "cuDeviceGetCount");
    bind(api.device_get, "cuDeviceGet");
    bind(api.device_get_attribute, "cuDeviceGetAttribute");
    bind(api.device_get_name, "cuDeviceGetName");
    bind(api.primary_context_retain, "cuDevicePrimaryCtxRetain");
    bind(api.context_push_current, "cuCtxPushCurrent_v2");
    bind(api.context_pop_current, "cuCtxPopCurrent_v2");
    bind(api.module_load_data, "cuModuleLoadDataEx");
    bind(api.module_get_function, "cuModuleGetFunction");
    bind(api.function_set_attribute, "cuFuncSetAttribute");
    bind(api.launch_kernel, "cuLaunchKernel");
    bind(api.memory_allocate, "cuMemAlloc_v2");
    bind(api.memory_free, "cuMemFree_v2");
    bind(api.memory_allocate_async, "cuMemAllocAsync");
    bind(api.memory_free_async, "cuMemFreeAsync");
    bind(api.memory_allocate_host, "cuMemAllocHost_v2");
    bind(api.memory_free_host, "cuMemFreeHost");
    bind(api.memset_d32_async, "cuMemsetD32Async");
    bind(api.memcpy_host_to_device, "cuMemcpyHtoD_v2");
    bind(api.memcpy_device_to_host, "cuMemcpyDtoH_v2");
    bind(api.memcpy_device_to_host_async, "cuMemcpyDtoHAsync_v2");
    bind(api.stream_synchronize, "cuStreamSynchronize");
    bind(api.pointer_get_attribute, "cuPointerGetAttribute");
    bind(api.device_get_default_memory_pool, "cuDeviceGetDefaultMemPool");
    bind(api.memory_pool_get_attribute, "cuMemPoolGetAttribute");
    bind(api.memory_pool_set_attribute, "cuMemPoolSetAttribute");
    if (!missing.empty()) {
      driver.error = driver.library.path() + " lacks " + missing +
                     " (a CUDA 11.2 or newer driver is needed for stream-ordered allocation)";
      return driver;
    }
    if (Result result = api.init(0); result != 0) {
      driver.error = "cuInit failed with " + name_of(api, result) +
                     (result == kErrorNoDevice ? " (no CUDA device is visible: check "
                                                 "CUDA_VISIBLE_DEVICES and nvidia-smi)"
                                               : "");
      return driver;
    }
    if (Result result = api.device_get_count(&driver.device_count); result != 0) {
      driver.error = "cuDeviceGetCount failed with " + name_of(api, result);
    } else if (driver.device_count == 0) {
      driver.error = "the CUDA driver reports no device";
    }
    return driver;
  }();
  return loaded;
}

}  // namespace

std::string error_name(Result result) { return name_of(loaded_driver().api, result); }

bool device_available(std::string* reason) {
  const LoadedDriver& loaded = loaded_driver();
  if (reason != nullptr) *reason = loaded.error;
  return loaded.error.empty();
}

const Api& driver() {
  const LoadedDriver& loaded = loaded_driver();
  if (!loaded.error.empty()) {
    throw user_error(ErrorCode::kUnsupported, "backend cuda", loaded.error, kDriverHint);
  }
  return loaded.api;
}

namespace {

// A kernel's fault is reported by whichever driver call comes next, and every call after it
// fails the same way: the context is lost. cuda.h: 700 illegal address, 702 launch timeout,
// 710 device assert, 714 hardware stack error, 715 illegal instruction, 716 misaligned address,
// 717 invalid address space, 718 invalid PC, 719 launch failed (711-713 are peer and host
// registration errors, not faults).
bool kernel_fault(Result result) {
  return result == 700 || result == 702 || result == 710 || (result >= 714 && result <= 719);
}

}  // namespace

void check(Result result, const char* call, const char* hint) {
  if (result == 0) return;
  const char* text = nullptr;
  const Api& api = loaded_driver().api;
  if (api.get_error_string != nullptr) api.get_error_string(result, &text);
  std::string message = std::string(call) + " failed with " + error_name(result) +
                        (text != nullptr ? std::string(" (") + text + ")" : std::string());
  if (kernel_fault(result)) {
    throw Error(ErrorCode::kInternal,
                "cuda: error: " + message + ": a kernel launched earlier on this device failed "
                "(the driver reports a kernel's fault at a later call, and the CUDA context is "
                "unusable from then on); rerun with ATTNCC_VALIDATE=1 to stop at the call whose "
                "kernel fails, and under compute-sanitizer to see the access; if it is an attncc "
                "kernel, please report it with the spec and the shapes of the call");
  }
  if (hint != nullptr) throw user_error(ErrorCode::kInvalidArgument, "cuda", message, hint);
  throw Error(ErrorCode::kInternal,
              "cuda: error: " + message + "; this is unexpected, please report it with the "
              "spec and the shapes of the call");
}

Context primary_context(int ordinal) {
  const Api& api = driver();
  const LoadedDriver& loaded = loaded_driver();
  if (ordinal < 0 || ordinal >= loaded.device_count) {
    throw user_error(ErrorCode::kInvalidArgument, "device_index",
                     "is " + std::to_string(ordinal) + " but the driver reports " +
                         std::to_string(loaded.device_count) + " device(s)",
                     "pass tensors on an existing device");
  }
  static std::mutex mutex;
  static std::vector<Context> contexts;
  std::lock_guard<std::mutex> lock(mutex);
  if (contexts.empty()) contexts.resize(loaded.device_count, nullptr);
  if (contexts[ordinal] == nullptr) {
    Device device = 0;
    check(api.device_get(&device, ordinal), "cuDeviceGet");
    check(api.primary_context_retain(&contexts[ordinal], device), "cuDevicePrimaryCtxRetain");
  }
  return contexts[ordinal];
}

ContextScope::ContextScope(int ordinal) {
  check(driver().context_push_current(primary_context(ordinal)), "cuCtxPushCurrent");
}

ContextScope::~ContextScope() {
  Context previous = nullptr;
  driver().context_pop_current(&previous);  // cannot fail after a successful push
}

int device_attribute(int ordinal, int attribute) {
  const Api& api = driver();
  primary_context(ordinal);  // validates the ordinal
  Device device = 0;
  check(api.device_get(&device, ordinal), "cuDeviceGet");
  int value = 0;
  check(api.device_get_attribute(&value, attribute, device), "cuDeviceGetAttribute");
  return value;
}

int device_count() {
  driver();
  return loaded_driver().device_count;
}

void retain_pool_memory(int ordinal, unsigned long long bytes) {
  constexpr unsigned long long kGranule = 64ull << 20;
  const unsigned long long wanted = (bytes + kGranule - 1) / kGranule * kGranule;
  static std::mutex mutex;
  static std::vector<unsigned long long> retained;  // per ordinal, what this process asked for
  std::lock_guard<std::mutex> lock(mutex);
  if (retained.size() <= size_t(ordinal)) retained.resize(size_t(ordinal) + 1, 0);
  if (wanted <= retained[size_t(ordinal)]) return;
  const Api& api = driver();
  primary_context(ordinal);  // validates the ordinal
  Device device = 0;
  check(api.device_get(&device, ordinal), "cuDeviceGet");
  MemoryPool pool = nullptr;
  check(api.device_get_default_memory_pool(&pool, device), "cuDeviceGetDefaultMemPool");
  unsigned long long threshold = 0;
  check(api.memory_pool_get_attribute(pool, kMemoryPoolReleaseThreshold, &threshold),
        "cuMemPoolGetAttribute(RELEASE_THRESHOLD)");
  if (threshold < wanted) {
    check(api.memory_pool_set_attribute(pool, kMemoryPoolReleaseThreshold,
                                        const_cast<unsigned long long*>(&wanted)),
          "cuMemPoolSetAttribute(RELEASE_THRESHOLD)");
  }
  retained[size_t(ordinal)] = wanted;
}

Capability device_capability(int ordinal) {
  return Capability{device_attribute(ordinal, kAttributeComputeCapabilityMajor),
                    device_attribute(ordinal, kAttributeComputeCapabilityMinor)};
}

std::string device_name(int ordinal) {
  const Api& api = driver();
  primary_context(ordinal);
  Device device = 0;
  check(api.device_get(&device, ordinal), "cuDeviceGet");
  char name[256] = {};
  check(api.device_get_name(name, sizeof(name) - 1, device), "cuDeviceGetName");
  return name;
}

}  // namespace attncc::cuda_driver
