// A fake libcuda.so.1 for tests without a GPU: the driver API calls attncc's CUDA backend makes,
// over host memory, with the real driver's rules checked (a current context, live allocations,
// entry points present in the loaded image, shared memory above 48 KB only after the opt-in,
// grid limits), and stream work deferred until a synchronising call, as on a GPU. Kernels run
// through a launcher the test installs (tests/support/fake_cuda_device runs them on the SIMT
// emulator). Selected by ATTNCC_CUDA_DRIVER_LIBRARY=<path of this library>.
#pragma once

#include <cstddef>

extern "C" {

/// Runs one launch: the entry point's name, grid and block (x, y, z), dynamic shared bytes and
/// the kernel's one by-value parameter block (a copy taken at cuLaunchKernel, as the driver does).
/// Returns 0, or non-zero when the kernel failed: the driver then reports
/// CUDA_ERROR_LAUNCH_FAILED from every later call, as a real one does after a kernel fault.
typedef int (*AttnccFakeCudaLauncher)(void* user, const char* function_name, const unsigned grid[3],
                                       const unsigned block[3], unsigned shared_bytes,
                                       const void* parameters);

/// Counters since the library was loaded (allocations: now live).
struct AttnccFakeCudaStats {
  unsigned long long launches;            // kernels run
  unsigned long long synchronizations;    // calls that waited for the device
  unsigned long long live_device_allocations;
  unsigned long long live_device_bytes;
  unsigned long long live_host_allocations;  // cuMemAllocHost
  unsigned long long pending_operations;     // stream work not yet run
  unsigned long long release_threshold;      // the default memory pool's
  int context_depth;                         // contexts pushed on the calling thread
  void* last_launch_stream;                  // the stream of the latest cuLaunchKernel
};

/// Installs the launcher; `parameter_bytes` is the size of the parameter block to copy.
void attncc_fake_cuda_set_launcher(AttnccFakeCudaLauncher launcher, void* user,
                                   size_t parameter_bytes);
void attncc_fake_cuda_stats(AttnccFakeCudaStats* stats);
/// A stream other than the legacy default one (the library API has no need to create streams).
int attncc_fake_cuda_stream_create(void** stream);
/// The next launch fails instead of running (a kernel fault: CUDA_ERROR_LAUNCH_FAILED from then
/// on); attncc_fake_cuda_recover() gives the context back, which no real driver does.
void attncc_fake_cuda_fail_next_launch();
void attncc_fake_cuda_recover();
}
