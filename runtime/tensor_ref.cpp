// TensorRef helpers and the DLPack bridge.
#include <dlpack/dlpack.h>

#include "attncc/error.h"
#include "attncc/tensor.h"

namespace attncc {

std::string_view scalar_type_name(ScalarType type) {
  switch (type) {
    case ScalarType::kFloat16: return "fp16";
    case ScalarType::kBFloat16: return "bf16";
    case ScalarType::kFloat32: return "fp32";
    case ScalarType::kFloat64: return "fp64";
    case ScalarType::kInt32: return "int32";
    case ScalarType::kInt64: return "int64";
  }
  return "?";
}

size_t scalar_type_size(ScalarType type) {
  switch (type) {
    case ScalarType::kFloat16:
    case ScalarType::kBFloat16: return 2;
    case ScalarType::kFloat32:
    case ScalarType::kInt32: return 4;
    case ScalarType::kFloat64:
    case ScalarType::kInt64: return 8;
  }
  return 0;
}

int64_t TensorRef::numel() const {
  int64_t count = 1;
  for (int64_t extent : shape) count *= extent;
  return count;
}

std::vector<int64_t> TensorRef::effective_strides() const {
  if (!strides.empty()) return strides;
  std::vector<int64_t> contiguous(shape.size(), 1);
  for (size_t axis = shape.size(); axis-- > 1;) {
    contiguous[axis - 1] = contiguous[axis] * shape[axis];
  }
  return contiguous;
}

std::string TensorRef::describe() const {
  std::string text = "[";
  for (size_t axis = 0; axis < shape.size(); ++axis) {
    text += (axis ? ", " : "") + std::to_string(shape[axis]);
  }
  return text + "] " + std::string(scalar_type_name(dtype)) +
         (device == DeviceKind::kCuda ? " (cuda)" : "");
}

TensorRef TensorRef::cpu(void* data, ScalarType dtype, std::vector<int64_t> shape) {
  TensorRef tensor;
  tensor.data = data;
  tensor.dtype = dtype;
  tensor.shape = std::move(shape);
  return tensor;
}

TensorRef TensorRef::from_dlpack(const DLTensor& tensor) {
  TensorRef view;
  switch (tensor.device.device_type) {
    case kDLCPU: view.device = DeviceKind::kCpu; break;
    case kDLCUDA: view.device = DeviceKind::kCuda; break;
    default:
      throw user_error(ErrorCode::kInvalidArgument, "DLTensor",
                       "device type " + std::to_string(tensor.device.device_type) +
                           " is not supported",
                       "attncc takes CPU (kDLCPU) and CUDA (kDLCUDA) tensors");
  }
  view.device_index = tensor.device.device_id;
  const DLDataType type = tensor.dtype;
  if (type.lanes != 1) {
    throw user_error(ErrorCode::kInvalidArgument, "DLTensor", "vector types (lanes != 1) are not supported");
  }
  if (type.code == kDLFloat && type.bits == 16) view.dtype = ScalarType::kFloat16;
  else if (type.code == kDLBfloat && type.bits == 16) view.dtype = ScalarType::kBFloat16;
  else if (type.code == kDLFloat && type.bits == 32) view.dtype = ScalarType::kFloat32;
  else if (type.code == kDLFloat && type.bits == 64) view.dtype = ScalarType::kFloat64;
  else if (type.code == kDLInt && type.bits == 32) view.dtype = ScalarType::kInt32;
  else if (type.code == kDLInt && type.bits == 64) view.dtype = ScalarType::kInt64;
  else {
    throw user_error(ErrorCode::kInvalidArgument, "DLTensor",
                     "dtype code " + std::to_string(type.code) + " with " +
                         std::to_string(type.bits) + " bits is not supported",
                     "use float16, bfloat16, float32, float64, int32 or int64");
  }
  view.data = static_cast<char*>(tensor.data) + tensor.byte_offset;
  view.shape.assign(tensor.shape, tensor.shape + tensor.ndim);
  if (tensor.strides != nullptr) view.strides.assign(tensor.strides, tensor.strides + tensor.ndim);
  return view;
}

}  // namespace attncc
