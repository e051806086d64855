// The fake CUDA driver's launcher on the SIMT emulator (see fake_cuda_device.h).
#include "support/fake_cuda_device.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "compiler/emit/lower_to_cuda.h"
#include "cuda/cuda_params.h"
#include "cuda/launch_shape.h"
#include "runtime/cuda/driver_api.h"
#include "runtime/emulation/emulator.h"
#include "runtime/thread_pool.h"
#include "support/emulated_kernels.h"

namespace attncc::testing {
namespace {

// The fake driver's own functions, from the library attncc's binding loaded.
struct FakeDriver {
  decltype(&attncc_fake_cuda_set_launcher) set_launcher = nullptr;
  decltype(&attncc_fake_cuda_stats) stats = nullptr;
  decltype(&attncc_fake_cuda_stream_create) stream_create = nullptr;
  decltype(&attncc_fake_cuda_fail_next_launch) fail_next_launch = nullptr;
  decltype(&attncc_fake_cuda_recover) recover = nullptr;
};

const FakeDriver& fake_driver() {
  static const FakeDriver driver = [] {
    FakeDriver bound;
    const char* path = std::getenv("ATTNCC_CUDA_DRIVER_LIBRARY");
    if (path == nullptr || *path == '\0') return bound;
    cuda_driver::device_available();  // attncc loads the library first, as in production
    void* library = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (library == nullptr) return bound;
    bound.set_launcher = reinterpret_cast<decltype(bound.set_launcher)>(
        dlsym(library, "attncc_fake_cuda_set_launcher"));
    bound.stats = reinterpret_cast<decltype(bound.stats)>(dlsym(library, "attncc_fake_cuda_stats"));
    bound.stream_create = reinterpret_cast<decltype(bound.stream_create)>(
        dlsym(library, "attncc_fake_cuda_stream_create"));
    bound.fail_next_launch = reinterpret_cast<decltype(bound.fail_next_launch)>(
        dlsym(library, "attncc_fake_cuda_fail_next_launch"));
    bound.recover =
        reinterpret_cast<decltype(bound.recover)>(dlsym(library, "attncc_fake_cuda_recover"));
    return bound;
  }();
  return driver;
}

// Entry points by name, from every spec registered so far; launches run one at a time.
struct EmulatedEntries {
  std::mutex mutex;
  std::vector<std::unique_ptr<JitModule>> modules;
  std::map<std::string, emulation::EntryPoint> entries;
  ThreadPool pool{2};
  uint64_t launch_index = 0;
};

EmulatedEntries& emulated_entries() {
  static EmulatedEntries* instance = new EmulatedEntries;  // the driver may call during exit
  return *instance;
}

int launch_on_emulator(void*, const char* function_name, const unsigned grid[3],
                       const unsigned block[3], unsigned shared_bytes, const void* parameters) {
  EmulatedEntries& registry = emulated_entries();
  std::lock_guard<std::mutex> lock(registry.mutex);
  auto found = registry.entries.find(function_name);
  if (found == registry.entries.end()) {
    ADD_FAILURE() << "fake CUDA driver: no emulated kernel " << function_name
                  << " (call emulate_cuda_kernels_of(spec) after Runtime::get)";
    return 1;
  }
  emulation::LaunchConfiguration configuration;
  configuration.kernel_name = function_name;
  configuration.entry = found->second;
  configuration.grid = {grid[0], grid[1], grid[2]};
  configuration.block = {block[0], block[1], block[2]};
  configuration.shared_bytes = shared_bytes;
  configuration.params = parameters;
  configuration.seed = emulation::launch_seed(registry.launch_index++);
  try {
    emulation::run_launch(configuration, registry.pool);
  } catch (const std::exception& error) {
    ADD_FAILURE() << "fake CUDA driver: " << error.what();
    return 1;
  }
  return 0;
}

}  // namespace

bool fake_cuda_driver_in_use() { return fake_driver().set_launcher != nullptr; }

void emulate_cuda_kernels_of(const Spec& spec, const CudaLoweringOptions& lowering) {
  if (!fake_cuda_driver_in_use()) return;
  const std::string prefix = cuda_entry_prefix(spec);
  EmulatedEntries& registry = emulated_entries();
  {
    std::lock_guard<std::mutex> lock(registry.mutex);
    if (registry.entries.count(prefix + "_forward") != 0) return;
  }
  std::unique_ptr<JitModule> module = compile_emulated_kernels(spec, {}, lowering);
  ASSERT_NE(module, nullptr);
  std::lock_guard<std::mutex> lock(registry.mutex);
  for (int kind = 0; kind < cuda::kKernelCount; ++kind) {
    const std::string name = prefix + "_" + cuda::kernel_suffix(static_cast<cuda::KernelKind>(kind));
    registry.entries[name] = module->lookup_function<void(const void*)>(name);
  }
  registry.modules.push_back(std::move(module));
  fake_driver().set_launcher(launch_on_emulator, nullptr, sizeof(cuda::CudaAttentionParams));
}

AttnccFakeCudaStats fake_cuda_stats() {
  AttnccFakeCudaStats stats{};
  if (fake_driver().stats == nullptr) {
    ADD_FAILURE() << "the fake CUDA driver is not loaded (ATTNCC_CUDA_DRIVER_LIBRARY)";
  } else {
    fake_driver().stats(&stats);
  }
  return stats;
}

void* fake_cuda_stream() {
  void* stream = nullptr;
  if (fake_driver().stream_create == nullptr) {
    ADD_FAILURE() << "the fake CUDA driver is not loaded (ATTNCC_CUDA_DRIVER_LIBRARY)";
  } else {
    fake_driver().stream_create(&stream);
  }
  return stream;
}

void fake_cuda_fail_next_launch() {
  if (fake_driver().fail_next_launch == nullptr) {
    ADD_FAILURE() << "the fake CUDA driver is not loaded (ATTNCC_CUDA_DRIVER_LIBRARY)";
  } else {
    fake_driver().fail_next_launch();
  }
}

void fake_cuda_recover() {
  if (fake_driver().recover == nullptr) {
    ADD_FAILURE() << "the fake CUDA driver is not loaded (ATTNCC_CUDA_DRIVER_LIBRARY)";
  } else {
    fake_driver().recover();
  }
}

}  // namespace attncc::testing
