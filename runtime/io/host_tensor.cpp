// HostTensor storage, strided gathers and element conversions (see host_tensor.h).
#include "runtime/io/host_tensor.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <new>
#include <string>

#include "attncc/error.h"
#include "common/numeric.h"

namespace attncc {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t axis = 0; axis < shape.size(); ++axis) {
    text += (axis ? ", " : "") + std::to_string(shape[axis]);
  }
  return text + "]";
}

void check_cpu_tensor(const TensorRef& tensor) {
  if (tensor.device != DeviceKind::kCpu) {
    throw user_error(ErrorCode::kInvalidArgument, "tensor " + tensor.describe(),
                     "is on the GPU; host copies need a CPU tensor", "copy it to the host first");
  }
  if (!tensor.strides.empty() && tensor.strides.size() != tensor.shape.size()) {
    throw user_error(ErrorCode::kInvalidArgument, "tensor " + tensor.describe(),
                     "has " + std::to_string(tensor.strides.size()) + " strides for " +
                         std::to_string(tensor.shape.size()) + " dimensions");
  }
}

}  // namespace

void HostTensor::AlignedDelete::operator()(std::byte* bytes) const {
  ::operator delete[](bytes, std::align_val_t{kHostTensorAlignment});
}

int64_t checked_numel(const std::vector<int64_t>& shape, size_t element_size,
                      std::string_view what) {
  int64_t count = 1;
  for (int64_t extent : shape) {
    if (extent < 0) {
      throw user_error(ErrorCode::kInvalidArgument, what,
                       "shape " + shape_text(shape) + " has a negative extent");
    }
    if (__builtin_mul_overflow(count, extent, &count)) count = -1;
    if (count < 0) break;
  }
  int64_t bytes = 0;
  if (count < 0 || __builtin_mul_overflow(count, static_cast<int64_t>(element_size), &bytes)) {
    throw user_error(
        ErrorCode::kInvalidArgument, what,
        "shape " + shape_text(shape) + " is too large (its byte size overflows int64)");
  }
  return count;
}

HostTensor::HostTensor(ScalarType dtype, std::vector<int64_t> shape)
    : dtype_(dtype), shape_(std::move(shape)) {
  size_bytes_ = static_cast<size_t>(checked_numel(shape_, scalar_type_size(dtype_), "tensor")) *
                scalar_type_size(dtype_);
  // Never a null pointer, even for empty tensors: TensorRef treats data == nullptr with an
  // empty (0-d) shape as "not given".
  size_t allocated = std::max<size_t>(size_bytes_, 1);
  storage_.reset(static_cast<std::byte*>(
      ::operator new[](allocated, std::align_val_t{kHostTensorAlignment})));
  std::memset(storage_.get(), 0, allocated);
}

HostTensor HostTensor::copy_of(const TensorRef& tensor) {
  check_cpu_tensor(tensor);
  HostTensor copy(tensor.dtype, tensor.shape);
  gather_contiguous(tensor, copy.data());
  return copy;
}

int64_t HostTensor::numel() const {
  int64_t count = 1;
  for (int64_t extent : shape_) count *= extent;
  return count;
}

TensorRef HostTensor::ref() const {
  return TensorRef::cpu(storage_.get(), dtype_, shape_);
}

bool is_contiguous(const TensorRef& tensor) {
  if (tensor.strides.empty()) return true;
  if (tensor.strides.size() != tensor.shape.size()) return false;
  int64_t expected = 1;
  for (size_t axis = tensor.shape.size(); axis-- > 0;) {
    if (tensor.shape[axis] != 1 && tensor.strides[axis] != expected) return false;
    expected *= tensor.shape[axis];
  }
  return true;
}

void gather_contiguous(const TensorRef& tensor, std::byte* destination) {
  check_cpu_tensor(tensor);
  const size_t element_size = scalar_type_size(tensor.dtype);
  const int64_t count = checked_numel(tensor.shape, element_size, "tensor " + tensor.describe());
  if (count == 0) return;
  if (tensor.data == nullptr) {
    throw user_error(ErrorCode::kInvalidArgument, "tensor " + tensor.describe(),
                     "has elements but a null data pointer");
  }
  const auto* source = static_cast<const std::byte*>(tensor.data);
  const std::vector<int64_t> strides = tensor.effective_strides();
  const size_t rank = tensor.shape.size();
  if (is_contiguous(tensor)) {
    std::memcpy(destination, source, static_cast<size_t>(count) * element_size);
    return;
  }
  // Odometer over every dimension but the last; the last is copied as a run when contiguous.
  const int64_t inner = tensor.shape[rank - 1];
  const int64_t inner_stride = strides[rank - 1];
  std::vector<int64_t> index(rank, 0);
  for (int64_t done = 0; done < count; done += inner) {
    int64_t offset = 0;
    for (size_t axis = 0; axis + 1 < rank; ++axis) offset += index[axis] * strides[axis];
    const std::byte* row = source + offset * static_cast<int64_t>(element_size);
    if (inner_stride == 1) {
      std::memcpy(destination, row, static_cast<size_t>(inner) * element_size);
      destination += inner * element_size;
    } else {
      for (int64_t column = 0; column < inner; ++column) {
        std::memcpy(destination, row + column * inner_stride * static_cast<int64_t>(element_size),
                    element_size);
        destination += element_size;
      }
    }
    for (size_t axis = rank - 1; axis-- > 0;) {
      if (++index[axis] < tensor.shape[axis]) break;
      index[axis] = 0;
    }
  }
}

// The conversions the kernels use (templates/common/numeric.h), so host and kernels round alike.
uint16_t float_to_half_bits(float value) { return from_float<float16>(value).bits; }

float half_bits_to_float(uint16_t bits) { return to_float(float16{bits}); }

uint16_t float_to_bfloat16_bits(float value) { return from_float<bfloat16>(value).bits; }

float bfloat16_bits_to_float(uint16_t bits) { return to_float(bfloat16{bits}); }

std::vector<double> to_double(const TensorRef& tensor) {
  HostTensor copy = HostTensor::copy_of(tensor);
  const int64_t count = copy.numel();
  std::vector<double> values(static_cast<size_t>(count));
  for (int64_t index = 0; index < count; ++index) {
    switch (copy.dtype()) {
      case ScalarType::kFloat16:
        values[index] = half_bits_to_float(copy.data_as<uint16_t>()[index]);
        break;
      case ScalarType::kBFloat16:
        values[index] = bfloat16_bits_to_float(copy.data_as<uint16_t>()[index]);
        break;
      case ScalarType::kFloat32: values[index] = copy.data_as<float>()[index]; break;
      case ScalarType::kFloat64: values[index] = copy.data_as<double>()[index]; break;
      case ScalarType::kInt32: values[index] = copy.data_as<int32_t>()[index]; break;
      case ScalarType::kInt64:
        values[index] = static_cast<double>(copy.data_as<int64_t>()[index]);
        break;
    }
  }
  return values;
}

std::vector<int64_t> to_int64(const TensorRef& tensor, std::string_view what) {
  if (tensor.dtype != ScalarType::kInt32 && tensor.dtype != ScalarType::kInt64) {
    throw user_error(ErrorCode::kInvalidArgument, what,
                     "must be int32 or int64; got " + tensor.describe());
  }
  HostTensor copy = HostTensor::copy_of(tensor);
  std::vector<int64_t> values(static_cast<size_t>(copy.numel()));
  for (size_t index = 0; index < values.size(); ++index) {
    values[index] = copy.dtype() == ScalarType::kInt32 ? copy.data_as<int32_t>()[index]
                                                       : copy.data_as<int64_t>()[index];
  }
  return values;
}

HostTensor from_double(ScalarType dtype, std::vector<int64_t> shape,
                       const std::vector<double>& values) {
  HostTensor tensor(dtype, std::move(shape));
  if (static_cast<size_t>(tensor.numel()) != values.size()) {
    throw user_error(ErrorCode::kInvalidArgument, "tensor " + tensor.ref().describe(),
                     "needs " + std::to_string(tensor.numel()) + " values; got " +
                         std::to_string(values.size()));
  }
  for (size_t index = 0; index < values.size(); ++index) {
    // fp16/bf16 go through float: the double rounding differs from direct rounding only in rare
    // ties, by one unit in the last place, far inside every tolerance that compares them.
    const double value = values[index];
    switch (dtype) {
      case ScalarType::kFloat16:
        tensor.data_as<uint16_t>()[index] = float_to_half_bits(static_cast<float>(value));
        break;
      case ScalarType::kBFloat16:
        tensor.data_as<uint16_t>()[index] = float_to_bfloat16_bits(static_cast<float>(value));
        break;
      case ScalarType::kFloat32: tensor.data_as<float>()[index] = static_cast<float>(value); break;
      case ScalarType::kFloat64: tensor.data_as<double>()[index] = value; break;
      case ScalarType::kInt32:
        tensor.data_as<int32_t>()[index] = static_cast<int32_t>(std::nearbyint(value));
        break;
      case ScalarType::kInt64:
        tensor.data_as<int64_t>()[index] = static_cast<int64_t>(std::nearbyint(value));
        break;
    }
  }
  return tensor;
}

}  // namespace attncc
