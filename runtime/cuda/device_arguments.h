// Device copies of a call whose tensors are host buffers, for `attncc run --backend cuda` and
// the GPU tests: every given tensor uploaded to a CUDA device, the outputs copied back.
#pragma once

#include <vector>

#include "attncc/runtime.h"

namespace attncc {

class DeviceArguments {
 public:
  /// Uploads every given tensor of `host` (dense buffers: numel * element size bytes) to device
  /// `ordinal`. Throws the driver's Error(kUnsupported) without a usable device.
  explicit DeviceArguments(const AttentionArguments& host, int ordinal = 0);
  ~DeviceArguments();
  DeviceArguments(const DeviceArguments&) = delete;
  DeviceArguments& operator=(const DeviceArguments&) = delete;

  /// The same call with device tensors (DeviceKind::kCuda, this ordinal).
  const AttentionArguments& arguments() const { return device_; }

  /// Waits for the legacy default stream (where the uploads went and where calls with a null
  /// stream run).
  void synchronize() const;

  /// Copies every tensor back into its host buffer (inputs come back unchanged).
  void download() const;

 private:
  struct Copy {
    void* host;
    unsigned long long device;
    size_t bytes;
  };
  TensorRef upload(const TensorRef& host);

  int ordinal_;
  AttentionArguments device_;
  std::vector<Copy> copies_;
};

}  // namespace attncc
