// The CUDA driver API through dlopen("libcuda.so.1") on first use (DESIGN §4): attncc links no
// CUDA library, so it builds and runs its CPU paths where there is no driver. Only the calls the
// CUDA backend and its tests make, declared with their C ABI (cuda.h), so no CUDA headers are
// needed either. Every failing call becomes an attncc::Error naming the call and the driver's
// error name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace attncc::cuda_driver {

// cuda.h types: handles are opaque pointers, devices ints, device addresses 64-bit integers.
using Result = int;  // CUresult; 0 = CUDA_SUCCESS
using Device = int;
using Context = struct ContextOpaque*;
using Module = struct ModuleOpaque*;
using Function = struct FunctionOpaque*;
using Stream = struct StreamOpaque*;  // CUstream; nullptr = the legacy default stream
using MemoryPool = struct MemoryPoolOpaque*;  // CUmemoryPool
using DevicePointer = unsigned long long;

// The enumerator values attncc passes (cuda.h; stable across driver versions).
constexpr int kAttributeMultiprocessorCount = 16;
constexpr int kAttributeComputeCapabilityMajor = 75;
constexpr int kAttributeComputeCapabilityMinor = 76;
constexpr int kAttributeMaxSharedMemoryPerBlockOptin = 97;
constexpr int kAttributeMemoryPoolsSupported = 115;
constexpr int kFunctionAttributeMaxDynamicSharedSizeBytes = 8;
constexpr int kPointerAttributeMemoryType = 2;
constexpr int kPointerAttributeDeviceOrdinal = 9;
constexpr int kMemoryPoolReleaseThreshold = 4;  // CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, cuuint64_t
constexpr int kJitErrorLogBuffer = 5;           // CU_JIT_ERROR_LOG_BUFFER (char*)
constexpr int kJitErrorLogBufferSizeBytes = 6;  // CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES (in/out)
constexpr unsigned kMemoryTypeHost = 1, kMemoryTypeDevice = 2, kMemoryTypeUnified = 4;
constexpr Result kErrorInvalidValue = 1;
constexpr Result kErrorNoDevice = 100;

/// The driver's entry points, bound once. Use driver() to get them.
struct Api {
  Result (*init)(unsigned) = nullptr;
  Result (*driver_get_version)(int*) = nullptr;
  Result (*get_error_name)(Result, const char**) = nullptr;
  Result (*get_error_string)(Result, const char**) = nullptr;
  Result (*device_get_count)(int*) = nullptr;
  Result (*device_get)(Device*, int) = nullptr;
  Result (*device_get_attribute)(int*, int, Device) = nullptr;
  Result (*device_get_name)(char*, int, Device) = nullptr;
  Result (*primary_context_retain)(Context*, Device) = nullptr;
  Result (*context_push_current)(Context) = nullptr;
  Result (*context_pop_current)(Context*) = nullptr;
  /// cuModuleLoadDataEx: image, option count, CUjit_option values, option values.
  Result (*module_load_data)(Module*, const void*, unsigned, int*, void**) = nullptr;
  Result (*module_get_function)(Function*, Module, const char*) = nullptr;
  Result (*function_set_attribute)(Function, int, int) = nullptr;
  Result (*launch_kernel)(Function, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                          unsigned, Stream, void**, void**) = nullptr;
  Result (*memory_allocate)(DevicePointer*, size_t) = nullptr;
  Result (*memory_free)(DevicePointer) = nullptr;
  Result (*memory_allocate_async)(DevicePointer*, size_t, Stream) = nullptr;
  Result (*memory_free_async)(DevicePointer, Stream) = nullptr;
  Result (*memory_allocate_host)(void**, size_t) = nullptr;  // pinned
  Result (*memory_free_host)(void*) = nullptr;
  Result (*memset_d32_async)(DevicePointer, unsigned, size_t, Stream) = nullptr;
  Result (*memcpy_host_to_device)(DevicePointer, const void*, size_t) = nullptr;
  Result (*memcpy_device_to_host)(void*, DevicePointer, size_t) = nullptr;
  Result (*memcpy_device_to_host_async)(void*, DevicePointer, size_t, Stream) = nullptr;
  Result (*stream_synchronize)(Stream) = nullptr;
  Result (*pointer_get_attribute)(void*, int, DevicePointer) = nullptr;
  Result (*device_get_default_memory_pool)(MemoryPool*, Device) = nullptr;
  Result (*memory_pool_get_attribute)(MemoryPool, int, void*) = nullptr;
  Result (*memory_pool_set_attribute)(MemoryPool, int, void*) = nullptr;
};

/// Whether CUDA kernels can run here: libcuda.so.1 loads, cuInit succeeds and at least one
/// device exists. `reason` gets the message why not. Never throws; the answer is computed once.
bool device_available(std::string* reason = nullptr);

/// The bound driver after a successful cuInit; throws Error(kUnsupported) saying what is missing
/// (no libcuda.so.1, cuInit failure, no device) and how to fix it.
const Api& driver();

/// Throws Error(kInternal) naming `call` and the driver's error name and text unless
/// result == 0. `hint` replaces the default "please report it" advice when the cause is known.
void check(Result result, const char* call, const char* hint = nullptr);

/// The driver's name of `result` ("CUDA_ERROR_OUT_OF_MEMORY").
std::string error_name(Result result);

/// The primary context of device `ordinal`, retained once per process (never released: kernels
/// and cached modules live as long as the process). Throws Error(kInvalidArgument) for an
/// ordinal beyond the device count.
Context primary_context(int ordinal);

/// Makes the primary context of `ordinal` current for the scope, restoring the previous one.
class ContextScope {
 public:
  explicit ContextScope(int ordinal);
  ~ContextScope();
  ContextScope(const ContextScope&) = delete;
  ContextScope& operator=(const ContextScope&) = delete;
};

/// Devices the driver reports (after a successful driver()).
int device_count();

/// Compute capability (major, minor) of device `ordinal`.
struct Capability {
  int major = 0;
  int minor = 0;
};
Capability device_capability(int ordinal);
std::string device_name(int ordinal);
int device_attribute(int ordinal, int attribute);

/// Keeps at least `bytes` of freed stream-ordered memory reserved in the default memory pool of
/// device `ordinal` across synchronisations: raises the pool's release threshold (which is 0,
/// release everything, unless someone set it) to `bytes` rounded up to 64 MiB, never lowers it.
/// Without this every synchronised call would map its workspaces afresh.
void retain_pool_memory(int ordinal, unsigned long long bytes);

}  // namespace attncc::cuda_driver
