// Host <-> device copies for CUDA tests (see cuda_device_buffers.h).
#include "support/cuda_device_buffers.h"

#include <vector>

#include "runtime/cuda/driver_api.h"

namespace attncc::testing {
namespace {

namespace driver = cuda_driver;

// Device copies of a call's tensors, freed at scope exit.
class DeviceCopies {
 public:
  ~DeviceCopies() {
    for (const Copy& copy : copies_) driver::driver().memory_free(copy.device);
  }

  // `host` on the device (same shape, strides and dtype; the buffers of the tests are dense).
  TensorRef upload(const TensorRef& host) {
    if (host.data == nullptr) return host;
    const size_t bytes = static_cast<size_t>(host.numel()) * scalar_type_size(host.dtype);
    const driver::Api& api = driver::driver();
    Copy copy{host.data, 0, bytes};
    driver::check(api.memory_allocate(&copy.device, bytes > 0 ? bytes : 16), "cuMemAlloc");
    copies_.push_back(copy);
    if (bytes > 0) {
      driver::check(api.memcpy_host_to_device(copy.device, host.data, bytes), "cuMemcpyHtoD");
    }
    TensorRef device = host;
    device.data = reinterpret_cast<void*>(copy.device);
    device.device = DeviceKind::kCuda;
    device.device_index = 0;
    return device;
  }

  void download_all() {
    for (const Copy& copy : copies_) {
      if (copy.bytes == 0) continue;
      driver::check(driver::driver().memcpy_device_to_host(copy.host, copy.device, copy.bytes),
                    "cuMemcpyDtoH");
    }
  }

 private:
  struct Copy {
    void* host;
    driver::DevicePointer device;
    size_t bytes;
  };
  std::vector<Copy> copies_;
};

}  // namespace

std::string cuda_unavailable_reason() {
  std::string reason;
  return driver::device_available(&reason) ? std::string() : reason;
}

void run_pass_on_cuda_device(const Kernel& kernel, const AttentionArguments& host, bool backward) {
  driver::ContextScope scope(0);
  DeviceCopies copies;
  AttentionArguments device = host;
  for (TensorRef* tensor : {&device.q, &device.k, &device.v, &device.o, &device.lse, &device.d_o,
                            &device.dq, &device.dk, &device.dv, &device.seqlens_q,
                            &device.seqlens_k, &device.cu_seqlens_q, &device.cu_seqlens_k,
                            &device.cu_seqlens_q_padded, &device.cu_seqlens_k_padded,
                            &device.cu_seq, &device.alibi_slopes}) {
    *tensor = copies.upload(*tensor);
  }
  for (auto& [name, tensor] : device.parameters) tensor = copies.upload(tensor);
  if (backward) {
    kernel.backward(device, nullptr);
  } else {
    kernel.forward(device, nullptr);
  }
  driver::check(driver::driver().stream_synchronize(nullptr), "cuStreamSynchronize");
  copies.download_all();  // inputs come back unchanged; outputs carry the kernel's results
}

}  // namespace attncc::testing
