// HostTensor: an owning, contiguous, aligned CPU tensor (what `attncc run` allocates outputs in and
// safetensors files are read into), plus element conversions between the ScalarTypes and double.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "attncc/tensor.h"

namespace attncc {

/// Alignment of HostTensor storage: a cache line, enough for every ScalarType and for SIMD loads.
constexpr size_t kHostTensorAlignment = 64;

/// A contiguous row-major CPU tensor that owns its bytes (aligned to kHostTensorAlignment).
/// Movable, not copyable (copies of large tensors should be explicit: HostTensor::copy_of).
class HostTensor {
 public:
  HostTensor() = default;
  /// A zero-filled tensor. Throws Error(kInvalidArgument) for a negative extent or a size that
  /// overflows.
  HostTensor(ScalarType dtype, std::vector<int64_t> shape);

  /// A contiguous copy of a CPU tensor of any strides. Throws Error(kInvalidArgument) for a
  /// CUDA tensor, strides that do not match the shape, or a null pointer with elements.
  static HostTensor copy_of(const TensorRef& tensor);

  ScalarType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t numel() const;
  size_t size_bytes() const { return size_bytes_; }

  std::byte* data() { return storage_.get(); }
  const std::byte* data() const { return storage_.get(); }
  /// The elements as `Element` (the caller picks the type that matches dtype()).
  template <typename Element>
  Element* data_as() {
    return reinterpret_cast<Element*>(storage_.get());
  }
  template <typename Element>
  const Element* data_as() const {
    return reinterpret_cast<const Element*>(storage_.get());
  }

  /// A contiguous CPU view of this tensor (valid while it lives; moving it keeps the bytes).
  TensorRef ref() const;

 private:
  struct AlignedDelete {
    void operator()(std::byte* bytes) const;
  };

  ScalarType dtype_ = ScalarType::kFloat32;
  std::vector<int64_t> shape_;
  size_t size_bytes_ = 0;
  std::unique_ptr<std::byte[], AlignedDelete> storage_;
};

/// Number of elements of `shape` (1 for a 0-d shape). Throws Error(kInvalidArgument) naming
/// `what` for a negative extent or an element count (times `element_size` bytes) past int64.
int64_t checked_numel(const std::vector<int64_t>& shape, size_t element_size,
                      std::string_view what);

/// True if the tensor's strides are row-major contiguous (extents of 1 may have any stride).
bool is_contiguous(const TensorRef& tensor);

/// Copies the elements of a CPU tensor of any strides into `destination`, contiguous row-major
/// (tensor.numel() * element size bytes). Throws Error(kInvalidArgument) for a CUDA tensor or
/// strides of the wrong rank.
void gather_contiguous(const TensorRef& tensor, std::byte* destination);

/// The elements of a CPU tensor converted to double, row-major (any strides; fp16/bf16 decoded
/// exactly, int64 rounded past 2^53). Throws like gather_contiguous.
std::vector<double> to_double(const TensorRef& tensor);

/// The elements of a CPU tensor converted to int64, row-major; throws Error(kInvalidArgument)
/// naming `what` if the tensor is not int32 or int64.
std::vector<int64_t> to_int64(const TensorRef& tensor, std::string_view what);

/// A tensor of `dtype` and `shape` holding `values` (row-major) rounded to nearest-even.
/// Throws Error(kInvalidArgument) if the count does not match the shape.
HostTensor from_double(ScalarType dtype, std::vector<int64_t> shape,
                       const std::vector<double>& values);

/// IEEE binary16 and bfloat16 conversions (round to nearest even; NaN stays NaN).
uint16_t float_to_half_bits(float value);
float half_bits_to_float(uint16_t bits);
uint16_t float_to_bfloat16_bits(float value);
float bfloat16_bits_to_float(uint16_t bits);

}  // namespace attncc
