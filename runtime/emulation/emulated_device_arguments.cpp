// Aligned "device" copies of host call arguments (see emulated_device_arguments.h).
#include "runtime/emulation/emulated_device_arguments.h"

#include <cstring>
#include <new>

namespace attncc {
namespace {

constexpr std::align_val_t kDeviceAlignment{256};

}  // namespace

EmulatedDeviceArguments::EmulatedDeviceArguments(const AttentionArguments& host) : device_(host) {
  for (TensorRef* tensor : {&device_.q, &device_.k, &device_.v, &device_.o, &device_.lse,
                            &device_.d_o, &device_.dq, &device_.dk, &device_.dv,
                            &device_.seqlens_q, &device_.seqlens_k, &device_.cu_seqlens_q,
                            &device_.cu_seqlens_k, &device_.cu_seqlens_q_padded,
                            &device_.cu_seqlens_k_padded, &device_.cu_seq,
                            &device_.alibi_slopes}) {
    *tensor = upload(*tensor);
  }
  for (auto& [name, tensor] : device_.parameters) tensor = upload(tensor);
}

TensorRef EmulatedDeviceArguments::upload(const TensorRef& host) {
  if (host.data == nullptr) return host;
  const size_t bytes = static_cast<size_t>(host.numel()) * scalar_type_size(host.dtype);
  auto* memory = static_cast<unsigned char*>(::operator new[](bytes > 0 ? bytes : 16, kDeviceAlignment));
  Copy copy{host.data,
            std::shared_ptr<unsigned char>(
                memory, [](unsigned char* pointer) { ::operator delete[](pointer, kDeviceAlignment); }),
            bytes};
  if (bytes > 0) std::memcpy(memory, host.data, bytes);
  copies_.push_back(copy);
  TensorRef device = host;
  device.data = memory;
  return device;
}

void EmulatedDeviceArguments::download() const {
  for (const Copy& copy : copies_) {
    if (copy.bytes > 0) std::memcpy(copy.host, copy.buffer.get(), copy.bytes);
  }
}

}  // namespace attncc
