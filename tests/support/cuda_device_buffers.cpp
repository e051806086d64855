// CUDA test runner over host buffers (see cuda_device_buffers.h).
#include "support/cuda_device_buffers.h"

#include "runtime/cuda/device_arguments.h"
#include "runtime/cuda/driver_api.h"

namespace attncc::testing {

std::string cuda_unavailable_reason() {
  std::string reason;
  return cuda_driver::device_available(&reason) ? std::string() : reason;
}

void run_pass_on_cuda_device(const Kernel& kernel, const AttentionArguments& host, bool backward) {
  DeviceArguments device(host, 0);
  if (backward) {
    kernel.backward(device.arguments(), nullptr);
  } else {
    kernel.forward(device.arguments(), nullptr);
  }
  device.synchronize();
  device.download();  // inputs come back unchanged; outputs carry the kernel's results
}

}  // namespace attncc::testing
