// TensorRef: a non-owning view of a caller's tensor (pointer, dtype, device, shape, strides),
// constructible from a DLPack DLTensor. attncc never allocates or frees caller memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <dlpack/dlpack.h>  // DLTensor (Debian libdlpack-dev, header-only)

namespace attncc {

/// Element type of a tensor (spec dtypes plus the integer and float64 types of arguments).
enum class ScalarType { kFloat16, kBFloat16, kFloat32, kFloat64, kInt32, kInt64 };

std::string_view scalar_type_name(ScalarType type);  ///< "fp16", "bf16", "fp32", "fp64", "int32", "int64"
size_t scalar_type_size(ScalarType type);            ///< bytes per element

enum class DeviceKind { kCpu, kCuda };

/// A view of memory the caller owns. Shape and strides are in elements (strides may be any
/// non-negative values; the last dimension must be contiguous for attention tensors). A
/// default-constructed TensorRef (data == nullptr, empty shape) means "not given".
struct TensorRef {
  void* data = nullptr;
  ScalarType dtype = ScalarType::kFloat32;
  DeviceKind device = DeviceKind::kCpu;
  int device_index = 0;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  ///< empty = contiguous row-major

  bool given() const { return data != nullptr || !shape.empty(); }
  int64_t numel() const;
  /// Strides in effect (contiguous row-major ones when `strides` is empty).
  std::vector<int64_t> effective_strides() const;
  /// "[2, 128, 8, 64] bf16" for messages.
  std::string describe() const;

  /// A contiguous CPU tensor over `data`.
  static TensorRef cpu(void* data, ScalarType dtype, std::vector<int64_t> shape);
  /// View of a DLPack tensor (kDLCPU / kDLCUDA; float16, bfloat16, float32, float64, int32,
  /// int64; byte_offset applied). Throws Error(kInvalidArgument) for other devices or types.
  static TensorRef from_dlpack(const DLTensor& tensor);
};

}  // namespace attncc
