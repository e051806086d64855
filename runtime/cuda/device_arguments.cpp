// Device copies of host call arguments (see device_arguments.h).
#include "runtime/cuda/device_arguments.h"

#include "runtime/cuda/driver_api.h"

namespace attncc {

namespace driver = cuda_driver;

DeviceArguments::DeviceArguments(const AttentionArguments& host, int ordinal)
    : ordinal_(ordinal), device_(host) {
  driver::ContextScope scope(ordinal_);
  try {
    for (TensorRef* tensor : {&device_.q, &device_.k, &device_.v, &device_.o, &device_.lse,
                              &device_.d_o, &device_.dq, &device_.dk, &device_.dv,
                              &device_.seqlens_q, &device_.seqlens_k, &device_.cu_seqlens_q,
                              &device_.cu_seqlens_k, &device_.cu_seqlens_q_padded,
                              &device_.cu_seqlens_k_padded, &device_.cu_seq,
                              &device_.alibi_slopes}) {
      *tensor = upload(*tensor);
    }
    for (auto& [name, tensor] : device_.parameters) tensor = upload(tensor);
  } catch (...) {
    for (const Copy& copy : copies_) driver::driver().memory_free(copy.device);
    throw;
  }
}

DeviceArguments::~DeviceArguments() {
  driver::ContextScope scope(ordinal_);
  for (const Copy& copy : copies_) driver::driver().memory_free(copy.device);
}

TensorRef DeviceArguments::upload(const TensorRef& host) {
  if (host.data == nullptr) return host;
  const size_t bytes = static_cast<size_t>(host.numel()) * scalar_type_size(host.dtype);
  const driver::Api& api = driver::driver();
  Copy copy{host.data, 0, bytes};
  // cuMemAlloc gives 256-byte aligned memory, which the kernels' 16-byte copies need.
  driver::check(api.memory_allocate(&copy.device, bytes > 0 ? bytes : 16), "cuMemAlloc");
  copies_.push_back(copy);
  if (bytes > 0) driver::check(api.memcpy_host_to_device(copy.device, host.data, bytes), "cuMemcpyHtoD");
  TensorRef device = host;
  device.data = reinterpret_cast<void*>(copy.device);
  device.device = DeviceKind::kCuda;
  device.device_index = ordinal_;
  return device;
}

void DeviceArguments::synchronize() const {
  driver::ContextScope scope(ordinal_);
  driver::check(driver::driver().stream_synchronize(nullptr), "cuStreamSynchronize");
}

void DeviceArguments::download() const {
  driver::ContextScope scope(ordinal_);
  for (const Copy& copy : copies_) {
    if (copy.bytes == 0) continue;
    driver::check(driver::driver().memcpy_device_to_host(copy.host, copy.device, copy.bytes),
                  "cuMemcpyDtoH");
  }
}

}  // namespace attncc
