// The fake CUDA driver (see fake_cuda_driver.h): one device whose memory is host memory. Stream
// work (launches, memsets, asynchronous copies and frees) waits in one queue, in issue order,
// until a call that synchronises (cuStreamSynchronize, the blocking copies, cuMemFree): so a
// caller that reads results without waiting, or changes a parameter block after the launch,
// sees what it would see on a GPU. Error codes and names are the real driver's (cuda.h).
#include "fake_driver/fake_cuda_driver.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace {

using Result = int;
using DevicePointer = unsigned long long;

constexpr Result kSuccess = 0;
constexpr Result kErrorInvalidValue = 1;
constexpr Result kErrorOutOfMemory = 2;
constexpr Result kErrorNotInitialized = 3;
constexpr Result kErrorInvalidDevice = 101;
constexpr Result kErrorInvalidImage = 200;
constexpr Result kErrorInvalidContext = 201;
constexpr Result kErrorInvalidHandle = 400;
constexpr Result kErrorNotFound = 500;
constexpr Result kErrorLaunchFailed = 719;

const char* error_name(Result result) {
  switch (result) {
    case kSuccess: return "CUDA_SUCCESS";
    case kErrorInvalidValue: return "CUDA_ERROR_INVALID_VALUE";
    case kErrorOutOfMemory: return "CUDA_ERROR_OUT_OF_MEMORY";
    case kErrorNotInitialized: return "CUDA_ERROR_NOT_INITIALIZED";
    case kErrorInvalidDevice: return "CUDA_ERROR_INVALID_DEVICE";
    case kErrorInvalidImage: return "CUDA_ERROR_INVALID_IMAGE";
    case kErrorInvalidContext: return "CUDA_ERROR_INVALID_CONTEXT";
    case kErrorInvalidHandle: return "CUDA_ERROR_INVALID_HANDLE";
    case kErrorNotFound: return "CUDA_ERROR_NOT_FOUND";
    case kErrorLaunchFailed: return "CUDA_ERROR_LAUNCH_FAILED";
    default: return nullptr;
  }
}

// The enumerator values are cuda.h's, written out here rather than taken from attncc's
// driver_api.h: a wrong value there must not be mirrored by the fake that tests it.
// Device attributes (cuda.h CUdevice_attribute) and the capability from
// ATTNCC_FAKE_CUDA_CAPABILITY ("9.0" when unset): H100-like devices, ATTNCC_FAKE_CUDA_DEVICES of
// them (1 when unset, at most kMaxDevices).
constexpr int kAttributeMaxThreadsPerBlock = 1;
constexpr int kAttributeMaxGridDimY = 6;
constexpr int kAttributeMultiprocessorCount = 16;
constexpr int kAttributeComputeCapabilityMajor = 75;
constexpr int kAttributeComputeCapabilityMinor = 76;
constexpr int kAttributeMaxSharedMemoryPerBlockOptin = 97;
constexpr int kAttributeMemoryPoolsSupported = 115;
constexpr int kFunctionAttributeMaxDynamicSharedSizeBytes = 8;
constexpr int kPointerAttributeMemoryType = 2;
constexpr int kPointerAttributeDeviceOrdinal = 9;
constexpr int kMaxDevices = 4;
constexpr unsigned kMemoryTypeHost = 1, kMemoryTypeDevice = 2;
constexpr int kMemoryPoolReleaseThreshold = 4;
constexpr int kSharedBytesWithoutOptIn = 48 * 1024;
constexpr int kSharedBytesOptIn = 227 * 1024;

struct Allocation {
  size_t bytes = 0;
  bool host = false;  // cuMemAllocHost (pinned) rather than device memory
  int device = 0;     // of the context current at the allocation
};

struct ModuleRecord {
  std::vector<char> image;
  bool ptx = false;
};

struct FunctionRecord {
  std::string name;
  int max_dynamic_shared = kSharedBytesWithoutOptIn;
};

char primary_context_objects[kMaxDevices];  // each device's primary context handle
char default_pool_object;                   // the default memory pool (one for every device)

struct State {
  std::mutex mutex;
  bool initialised = false;
  Result sticky_error = kSuccess;  // a failed kernel poisons the context, as on a GPU
  std::map<uintptr_t, Allocation> allocations;
  std::set<void*> streams;  // created ones; nullptr (legacy) is always valid
  std::deque<std::function<void()>> pending;
  std::vector<ModuleRecord*> modules;
  std::vector<FunctionRecord*> functions;
  AttnccFakeCudaLauncher launcher = nullptr;
  void* launcher_user = nullptr;
  size_t parameter_bytes = 0;
  unsigned long long launches = 0, synchronizations = 0, release_threshold = 0;
  bool fail_next_launch = false;
  void* last_launch_stream = nullptr;
};

State& state() {
  static State* instance = new State;  // never destroyed: calls may come during exit
  return *instance;
}

thread_local std::vector<void*> context_stack;

int device_count() {
  const char* text = std::getenv("ATTNCC_FAKE_CUDA_DEVICES");
  const int count = text != nullptr ? std::atoi(text) : 1;
  return std::clamp(count, 1, kMaxDevices);
}

bool valid_device(int device) { return device >= 0 && device < device_count(); }

// The device of the calling thread's current context.
int current_device() {
  return int(static_cast<char*>(context_stack.back()) - primary_context_objects);
}

int capability(int part) {
  const char* text = std::getenv("ATTNCC_FAKE_CUDA_CAPABILITY");
  int major = 9, minor = 0;
  if (text != nullptr) std::sscanf(text, "%d.%d", &major, &minor);
  return part == 0 ? major : minor;
}

// Every call but the device queries needs cuInit and a current context.
Result need_context() {
  if (!state().initialised) return kErrorNotInitialized;
  if (context_stack.empty() || context_stack.back() == nullptr) return kErrorInvalidContext;
  return state().sticky_error;
}

bool valid_stream(void* stream) {
  return stream == nullptr || state().streams.count(stream) != 0;
}

// The live allocation holding [address, address + bytes), or nullptr.
const Allocation* find_allocation(uintptr_t address, size_t bytes, bool host) {
  State& s = state();
  auto it = s.allocations.upper_bound(address);
  if (it == s.allocations.begin()) return nullptr;
  --it;
  if (it->second.host != host || address + bytes > it->first + it->second.bytes) return nullptr;
  return &it->second;
}

Result allocate(uintptr_t* address, size_t bytes, bool host) {
  if (bytes == 0) return kErrorInvalidValue;
  void* memory = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (memory == nullptr) return kErrorOutOfMemory;
  std::memset(memory, 0xa5, bytes);  // device memory starts as garbage, never zeros
  *address = reinterpret_cast<uintptr_t>(memory);
  state().allocations[*address] = Allocation{bytes, host, current_device()};
  return kSuccess;
}

void release(uintptr_t address) {
  State& s = state();
  auto it = s.allocations.find(address);
  if (it == s.allocations.end()) return;
  std::memset(reinterpret_cast<void*>(address), 0xff, it->second.bytes);  // NaN for a late reader
  std::free(reinterpret_cast<void*>(address));
  s.allocations.erase(it);
}

// Runs the queued stream work in order (the lock is released while it runs: a launcher may
// take seconds, and the operations reach only their own captured state).
void flush(std::unique_lock<std::mutex>& lock) {
  State& s = state();
  ++s.synchronizations;
  while (!s.pending.empty()) {
    std::function<void()> operation = std::move(s.pending.front());
    s.pending.pop_front();
    lock.unlock();
    operation();
    lock.lock();
  }
}

// Bytes of a CUBIN (ELF64: the end of its section or program header table, whichever is
// last), or of a NUL-terminated PTX text; 0 if the image is neither.
size_t image_size(const char* image, bool* ptx) {
  if (std::memcmp(image, "\x7f" "ELF", 4) == 0) {
    *ptx = false;
    if (image[4] != 2) return 0;  // ELFCLASS64
    uint64_t section_offset = 0, program_offset = 0;
    uint16_t section_size = 0, section_count = 0, program_size = 0, program_count = 0;
    std::memcpy(&program_offset, image + 0x20, 8);
    std::memcpy(&section_offset, image + 0x28, 8);
    std::memcpy(&program_size, image + 0x36, 2);
    std::memcpy(&program_count, image + 0x38, 2);
    std::memcpy(&section_size, image + 0x3a, 2);
    std::memcpy(&section_count, image + 0x3c, 2);
    return std::max<uint64_t>(section_offset + uint64_t(section_size) * section_count,
                              program_offset + uint64_t(program_size) * program_count);
  }
  *ptx = true;
  const char* end = static_cast<const char*>(std::memchr(image, 0, 256u << 20));
  if (end == nullptr || std::strstr(image, ".entry") == nullptr) return 0;
  return size_t(end - image);
}

// Whether the image defines entry point `name`: a CUBIN holds it in a string table
// ("\0name\0" or ".text.name\0"), a PTX text as ".entry name(".
bool image_has_entry(const ModuleRecord& module, const std::string& name) {
  const std::string needle = module.ptx ? ".entry " + name + "(" : name + std::string(1, '\0');
  auto begin = module.image.begin();
  while (true) {
    auto found = std::search(begin, module.image.end(), needle.begin(), needle.end());
    if (found == module.image.end()) return false;
    if (module.ptx || found == module.image.begin() || *(found - 1) == '\0' || *(found - 1) == '.') {
      return true;
    }
    begin = found + 1;
  }
}

}  // namespace

extern "C" {

Result cuInit(unsigned flags) {
  if (flags != 0) return kErrorInvalidValue;
  std::lock_guard<std::mutex> lock(state().mutex);
  state().initialised = true;
  return kSuccess;
}

Result cuDriverGetVersion(int* version) {
  if (version == nullptr) return kErrorInvalidValue;
  *version = 13000;
  return kSuccess;
}

Result cuGetErrorName(Result result, const char** name) {
  *name = error_name(result);
  return *name != nullptr ? kSuccess : kErrorInvalidValue;
}

Result cuGetErrorString(Result result, const char** text) {
  *text = error_name(result) != nullptr ? "reported by attncc's fake CUDA driver" : nullptr;
  return *text != nullptr ? kSuccess : kErrorInvalidValue;
}

Result cuDeviceGetCount(int* count) {
  if (!state().initialised) return kErrorNotInitialized;
  *count = device_count();
  return kSuccess;
}

Result cuDeviceGet(int* device, int ordinal) {
  if (!state().initialised) return kErrorNotInitialized;
  if (!valid_device(ordinal)) return kErrorInvalidDevice;
  *device = ordinal;
  return kSuccess;
}

Result cuDeviceGetAttribute(int* value, int attribute, int device) {
  if (!state().initialised) return kErrorNotInitialized;
  if (!valid_device(device)) return kErrorInvalidDevice;
  switch (attribute) {
    case kAttributeMaxThreadsPerBlock: *value = 1024; return kSuccess;
    case kAttributeMaxGridDimY: *value = 65535; return kSuccess;
    case kAttributeMultiprocessorCount: *value = 132; return kSuccess;
    case kAttributeComputeCapabilityMajor: *value = capability(0); return kSuccess;
    case kAttributeComputeCapabilityMinor: *value = capability(1); return kSuccess;
    case kAttributeMaxSharedMemoryPerBlockOptin: *value = kSharedBytesOptIn; return kSuccess;
    case kAttributeMemoryPoolsSupported: *value = 1; return kSuccess;
    default: return kErrorInvalidValue;
  }
}

Result cuDeviceGetName(char* name, int length, int device) {
  if (!state().initialised) return kErrorNotInitialized;
  if (!valid_device(device)) return kErrorInvalidDevice;
  std::snprintf(name, size_t(length), "attncc fake CUDA device (kernels run on the emulator)");
  return kSuccess;
}

Result cuDevicePrimaryCtxRetain(void** context, int device) {
  if (!state().initialised) return kErrorNotInitialized;
  if (!valid_device(device)) return kErrorInvalidDevice;
  *context = &primary_context_objects[device];
  return kSuccess;
}

Result cuCtxPushCurrent_v2(void* context) {
  auto* object = static_cast<char*>(context);
  if (object < primary_context_objects || object >= primary_context_objects + device_count()) {
    return kErrorInvalidContext;
  }
  context_stack.push_back(context);
  return kSuccess;
}

Result cuCtxPopCurrent_v2(void** context) {
  if (context_stack.empty()) return kErrorInvalidContext;
  if (context != nullptr) *context = context_stack.back();
  context_stack.pop_back();
  return kSuccess;
}

Result cuModuleLoadDataEx(void** module, const void* image, unsigned option_count, int* options,
                          void** values) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (Result result = need_context(); result != kSuccess) return result;
  if (image == nullptr || (option_count > 0 && (options == nullptr || values == nullptr))) {
    return kErrorInvalidValue;
  }
  auto record = std::make_unique<ModuleRecord>();
  const char* bytes = static_cast<const char*>(image);
  const size_t size = image_size(bytes, &record->ptx);
  if (size == 0) {
    // As the driver: the reason goes to the caller's error log buffer, if it gave one.
    char* log = nullptr;
    size_t log_bytes = 0;
    for (unsigned option = 0; option < option_count; ++option) {
      if (options[option] == 5) log = static_cast<char*>(values[option]);
      if (options[option] == 6) log_bytes = reinterpret_cast<uintptr_t>(values[option]);
    }
    if (log != nullptr && log_bytes > 0) {
      std::snprintf(log, log_bytes, "fake CUDA driver: the image is neither a CUBIN nor PTX");
    }
    return kErrorInvalidImage;
  }
  record->image.assign(bytes, bytes + size);  // the driver copies the image
  state().modules.push_back(record.get());
  *module = record.release();
  return kSuccess;
}

Result cuModuleGetFunction(void** function, void* module, const char* name) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (Result result = need_context(); result != kSuccess) return result;
  auto& modules = state().modules;
  auto* record = static_cast<ModuleRecord*>(module);
  if (std::find(modules.begin(), modules.end(), record) == modules.end()) return kErrorInvalidHandle;
  if (!image_has_entry(*record, name)) return kErrorNotFound;
  auto* entry = new FunctionRecord{name};
  state().functions.push_back(entry);
  *function = entry;
  return kSuccess;
}

Result cuFuncSetAttribute(void* function, int attribute, int value) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (Result result = need_context(); result != kSuccess) return result;
  auto& functions = state().functions;
  auto* record = static_cast<FunctionRecord*>(function);
  if (std::find(functions.begin(), functions.end(), record) == functions.end()) return kErrorInvalidHandle;
  if (attribute != kFunctionAttributeMaxDynamicSharedSizeBytes) return kErrorInvalidValue;
  if (value < 0 || value > kSharedBytesOptIn) return kErrorInvalidValue;
  record->max_dynamic_shared = value;
  return kSuccess;
}

Result cuLaunchKernel(void* function, unsigned grid_x, unsigned grid_y, unsigned grid_z,
                      unsigned block_x, unsigned block_y, unsigned block_z, unsigned shared_bytes,
                      void* stream, void** parameters, void** extra) {
  std::lock_guard<std::mutex> lock(state().mutex);
  State& s = state();
  if (Result result = need_context(); result != kSuccess) return result;
  auto* record = static_cast<FunctionRecord*>(function);
  if (std::find(s.functions.begin(), s.functions.end(), record) == s.functions.end()) {
    return kErrorInvalidHandle;
  }
  if (!valid_stream(stream)) return kErrorInvalidHandle;
  if (grid_x == 0 || grid_y == 0 || grid_z == 0 || grid_x > 0x7fffffffu || grid_y > 65535 ||
      grid_z > 65535 || block_x == 0 || block_y == 0 || block_z == 0 || block_z > 64 ||
      uint64_t(block_x) * block_y * block_z > 1024) {
    return kErrorInvalidValue;
  }
  // Above 48 KB of dynamic shared memory a launch needs cuFuncSetAttribute first.
  if (int(shared_bytes) > record->max_dynamic_shared) return kErrorInvalidValue;
  if (parameters == nullptr || extra != nullptr || s.launcher == nullptr) {
    if (s.launcher == nullptr) std::fprintf(stderr, "fake CUDA driver: no launcher installed\n");
    return kErrorInvalidValue;
  }
  // One by-value parameter block, copied now: the caller may reuse its memory at once.
  std::vector<char> block(static_cast<const char*>(parameters[0]),
                          static_cast<const char*>(parameters[0]) + s.parameter_bytes);
  const std::string name = record->name;
  const unsigned grid[3] = {grid_x, grid_y, grid_z};
  const unsigned threads[3] = {block_x, block_y, block_z};
  AttnccFakeCudaLauncher launcher = s.launcher;
  void* user = s.launcher_user;
  const bool fail = s.fail_next_launch;
  s.fail_next_launch = false;
  s.pending.push_back([=, block = std::move(block)] {
    if (fail || launcher(user, name.c_str(), grid, threads, shared_bytes, block.data()) != 0) {
      std::lock_guard<std::mutex> inner(state().mutex);
      state().sticky_error = kErrorLaunchFailed;
    }
  });
  ++s.launches;
  s.last_launch_stream = stream;
  return kSuccess;
}

Result cuMemAlloc_v2(DevicePointer* pointer, size_t bytes) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (Result result = need_context(); result != kSuccess) return result;
  uintptr_t address = 0;
  Result result = allocate(&address, bytes, /*host=*/false);
  *pointer = address;
  return result;
}

Result cuMemFree_v2(DevicePointer pointer) {
  std::unique_lock<std::mutex> lock(state().mutex);
  if (Result result = need_context(); result != kSuccess) return result;
  if (state().allocations.count(pointer) == 0 || state().allocations[pointer].host) {
    return kErrorInvalidValue;
  }
  flush(lock);  // cuMemFree waits for the device
  release(pointer);
  return kSuccess;
}

Result cuMemAllocAsync(DevicePointer* pointer, size_t bytes, void* stream) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (Result result = need_context(); result != kSuccess) return result;
  if (!valid_stream(stream)) return kErrorInvalidHandle;
  uintptr_t address = 0;
  Result result = allocate(&address, bytes, /*host=*/false);
  *pointer = address;
  return result;
}

Result cuMemFreeAsync(DevicePointer pointer, void* stream) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (Result result = need_context(); result != kSuccess) return result;
  if (!valid_stream(stream)) return kErrorInvalidHandle;
  if (state().allocations.count(pointer) == 0 || state().allocations[pointer].host) {
    return kErrorInvalidValue;
  }
  state().pending.push_back([pointer] {
    std::lock_guard<std::mutex> inner(state().mutex);
    release(pointer);
  });
  return kSuccess;
}

Result cuMemAllocHost_v2(void** pointer, size_t bytes) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (Result result = need_context(); result != kSuccess) return result;
  uintptr_t address = 0;
  Result result = allocate(&address, bytes, /*host=*/true);
  *pointer = reinterpret_cast<void*>(address);
  return result;
}

Result cuMemFreeHost(void* pointer) {
  std::unique_lock<std::mutex> lock(state().mutex);
  if (Result result = need_context(); result != kSuccess) return result;
  const auto address = reinterpret_cast<uintptr_t>(pointer);
  if (state().allocations.count(address) == 0 || !state().allocations[address].host) {
    return kErrorInvalidValue;
  }
  flush(lock);
  release(address);
  return kSuccess;
}

Result cuMemsetD32Async(DevicePointer pointer, unsigned value, size_t count, void* stream) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (Result result = need_context(); result != kSuccess) return result;
  if (!valid_stream(stream)) return kErrorInvalidHandle;
  if (count == 0) return kSuccess;
  if (pointer % 4 != 0 || find_allocation(pointer, 4 * count, false) == nullptr) {
    return kErrorInvalidValue;
  }
  state().pending.push_back([=] {
    auto* words = reinterpret_cast<unsigned*>(pointer);
    std::fill(words, words + count, value);
  });
  return kSuccess;
}

Result cuMemcpyHtoD_v2(DevicePointer destination, const void* source, size_t bytes) {
  std::unique_lock<std::mutex> lock(state().mutex);
  if (Result result = need_context(); result != kSuccess) return result;
  if (find_allocation(destination, bytes, false) == nullptr) return kErrorInvalidValue;
  flush(lock);  // the legacy default stream waits for earlier work
  std::memcpy(reinterpret_cast<void*>(destination), source, bytes);
  return kSuccess;
}

Result cuMemcpyDtoH_v2(void* destination, DevicePointer source, size_t bytes) {
  std::unique_lock<std::mutex> lock(state().mutex);
  if (Result result = need_context(); result != kSuccess) return result;
  if (find_allocation(source, bytes, false) == nullptr) return kErrorInvalidValue;
  flush(lock);
  std::memcpy(destination, reinterpret_cast<const void*>(source), bytes);
  return state().sticky_error;
}

Result cuMemcpyDtoHAsync_v2(void* destination, DevicePointer source, size_t bytes, void* stream) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (Result result = need_context(); result != kSuccess) return result;
  if (!valid_stream(stream)) return kErrorInvalidHandle;
  if (find_allocation(source, bytes, false) == nullptr) return kErrorInvalidValue;
  state().pending.push_back([=] {
    std::memcpy(destination, reinterpret_cast<const void*>(source), bytes);
  });
  return kSuccess;
}

Result cuStreamSynchronize(void* stream) {
  std::unique_lock<std::mutex> lock(state().mutex);
  if (Result result = need_context(); result != kSuccess) return result;
  if (!valid_stream(stream)) return kErrorInvalidHandle;
  flush(lock);  // one queue for every stream: waiting for one waits for all
  return state().sticky_error;
}

Result cuPointerGetAttribute(void* data, int attribute, DevicePointer pointer) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (!state().initialised) return kErrorNotInitialized;
  // Memory the driver did not allocate is unknown to it, as plain host memory is to CUDA.
  const Allocation* allocation = find_allocation(pointer, 1, false);
  if (allocation == nullptr) allocation = find_allocation(pointer, 1, true);
  if (allocation == nullptr) return kErrorInvalidValue;
  if (attribute == kPointerAttributeMemoryType) {
    *static_cast<unsigned*>(data) = allocation->host ? kMemoryTypeHost : kMemoryTypeDevice;
  } else if (attribute == kPointerAttributeDeviceOrdinal) {
    *static_cast<int*>(data) = allocation->device;
  } else {
    return kErrorInvalidValue;
  }
  return kSuccess;
}

Result cuDeviceGetDefaultMemPool(void** pool, int device) {
  if (!state().initialised) return kErrorNotInitialized;
  if (!valid_device(device)) return kErrorInvalidDevice;
  *pool = &default_pool_object;
  return kSuccess;
}

Result cuMemPoolGetAttribute(void* pool, int attribute, void* value) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (pool != &default_pool_object) return kErrorInvalidHandle;
  if (attribute != kMemoryPoolReleaseThreshold) return kErrorInvalidValue;
  std::memcpy(value, &state().release_threshold, sizeof(unsigned long long));
  return kSuccess;
}

Result cuMemPoolSetAttribute(void* pool, int attribute, void* value) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (pool != &default_pool_object) return kErrorInvalidHandle;
  if (attribute != kMemoryPoolReleaseThreshold) return kErrorInvalidValue;
  std::memcpy(&state().release_threshold, value, sizeof(unsigned long long));
  return kSuccess;
}

void attncc_fake_cuda_set_launcher(AttnccFakeCudaLauncher launcher, void* user,
                                   size_t parameter_bytes) {
  std::lock_guard<std::mutex> lock(state().mutex);
  state().launcher = launcher;
  state().launcher_user = user;
  state().parameter_bytes = parameter_bytes;
}

void attncc_fake_cuda_stats(AttnccFakeCudaStats* stats) {
  std::lock_guard<std::mutex> lock(state().mutex);
  const State& s = state();
  *stats = AttnccFakeCudaStats{};
  stats->launches = s.launches;
  stats->synchronizations = s.synchronizations;
  for (const auto& [address, allocation] : s.allocations) {
    (void)address;
    if (allocation.host) {
      ++stats->live_host_allocations;
    } else {
      ++stats->live_device_allocations;
      stats->live_device_bytes += allocation.bytes;
    }
  }
  stats->pending_operations = s.pending.size();
  stats->release_threshold = s.release_threshold;
  stats->context_depth = int(context_stack.size());
  stats->last_launch_stream = s.last_launch_stream;
}

void attncc_fake_cuda_fail_next_launch() {
  std::lock_guard<std::mutex> lock(state().mutex);
  state().fail_next_launch = true;
}

void attncc_fake_cuda_recover() {
  std::unique_lock<std::mutex> lock(state().mutex);
  flush(lock);
  state().sticky_error = kSuccess;
}

int attncc_fake_cuda_stream_create(void** stream) {
  std::lock_guard<std::mutex> lock(state().mutex);
  *stream = new char;
  state().streams.insert(*stream);
  return kSuccess;
}

}  // extern "C"
