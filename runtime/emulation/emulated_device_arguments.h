// "Device" copies of a call for the cuda-emulated backend, as DeviceArguments makes them for
// CUDA: every given tensor copied into a fresh 256-byte aligned host buffer (what cuMemAlloc
// gives), so buffers that only meet host alignment (views into a safetensors file) satisfy the
// kernels' 16-byte copies; the outputs are copied back at the end. Used by `attncc run`.
#pragma once

#include <memory>
#include <vector>

#include "attncc/runtime.h"

namespace attncc {

class EmulatedDeviceArguments {
 public:
  /// Copies every given tensor of `host` (dense buffers: numel * element size bytes).
  explicit EmulatedDeviceArguments(const AttentionArguments& host);

  /// The same call over the aligned copies.
  const AttentionArguments& arguments() const { return device_; }

  /// Copies every tensor back into its original buffer (inputs come back unchanged).
  void download() const;

 private:
  struct Copy {
    void* host;
    std::shared_ptr<unsigned char> buffer;
    size_t bytes;
  };
  TensorRef upload(const TensorRef& host);

  AttentionArguments device_;
  std::vector<Copy> copies_;
};

}  // namespace attncc
