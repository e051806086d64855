// CUDA-only argument checks (see cuda_arguments.h).
#include "runtime/cuda/cuda_arguments.h"

#include <cstdint>
#include <vector>

#include "attncc/error.h"
#include "runtime/cuda/driver_api.h"

namespace attncc {
namespace {

constexpr int64_t kAlignmentBytes = 16;

// The attention tensors of a pass, by argument name.
std::vector<std::pair<const char*, const TensorRef*>> attention_tensors(
    const AttentionArguments& arguments, bool backward) {
  std::vector<std::pair<const char*, const TensorRef*>> tensors = {
      {"q", &arguments.q}, {"k", &arguments.k}, {"v", &arguments.v}, {"o", &arguments.o}};
  if (backward) {
    tensors.insert(tensors.end(), {{"d_o", &arguments.d_o},
                                   {"dq", &arguments.dq},
                                   {"dk", &arguments.dk},
                                   {"dv", &arguments.dv}});
  }
  return tensors;
}

}  // namespace

void check_cuda_alignment(const Spec&, const AttentionArguments& arguments, bool backward) {
  for (const auto& [name, tensor] : attention_tensors(arguments, backward)) {
    if (!tensor->given()) continue;
    const int64_t element_bytes = static_cast<int64_t>(scalar_type_size(tensor->dtype));
    if (reinterpret_cast<uintptr_t>(tensor->data) % kAlignmentBytes != 0) {
      throw user_error(ErrorCode::kInvalidArgument, name,
                       "data pointer is not 16-byte aligned, which the CUDA kernels' 16-byte "
                       "copies (cp.async) need",
                       "pass a tensor that starts at a 16-byte boundary (a fresh allocation, not "
                       "a view at an odd offset)");
    }
    const std::vector<int64_t> strides = tensor->effective_strides();
    const int64_t element_multiple = kAlignmentBytes / element_bytes;
    // Every dimension but the contiguous last one: batch (absent for varlen), row, head.
    for (size_t axis = 0; axis + 1 < strides.size(); ++axis) {
      if (tensor->shape[axis] > 1 && strides[axis] % element_multiple != 0) {
        throw user_error(ErrorCode::kInvalidArgument, name,
                         "stride of dimension " + std::to_string(axis) + " is " +
                             std::to_string(strides[axis]) + " elements, not a multiple of " +
                             std::to_string(element_multiple) +
                             " (16 bytes), which the CUDA kernels' 16-byte row copies need",
                         "pass a contiguous tensor or pad the dimension to a multiple of " +
                             std::to_string(element_multiple));
      }
    }
  }
}

void check_cuda_pointers(const AttentionArguments& arguments, bool backward, int device_index) {
  const cuda_driver::Api& api = cuda_driver::driver();
  std::vector<std::pair<std::string, const TensorRef*>> tensors;
  for (const auto& [name, tensor] : attention_tensors(arguments, backward)) {
    tensors.emplace_back(name, tensor);
  }
  for (const auto& [name, tensor] :
       {std::pair<const char*, const TensorRef*>{"lse", &arguments.lse},
        {"seqlens_q", &arguments.seqlens_q},
        {"seqlens_k", &arguments.seqlens_k},
        {"cu_seqlens_q", &arguments.cu_seqlens_q},
        {"cu_seqlens_k", &arguments.cu_seqlens_k},
        {"cu_seqlens_q_padded", &arguments.cu_seqlens_q_padded},
        {"cu_seqlens_k_padded", &arguments.cu_seqlens_k_padded},
        {"cu_seq", &arguments.cu_seq},
        {"alibi_slopes", &arguments.alibi_slopes}}) {
    tensors.emplace_back(name, tensor);
  }
  for (const auto& [name, tensor] : arguments.parameters) {
    tensors.emplace_back("parameters[\"" + name + "\"]", &tensor);
  }
  const bool several_devices = cuda_driver::device_count() > 1;
  for (const auto& [name, tensor] : tensors) {
    if (tensor->data == nullptr) continue;  // not given, or empty (checked by validation)
    if (tensor->device_index != device_index) {
      throw user_error(ErrorCode::kInvalidArgument, name,
                       "is on cuda:" + std::to_string(tensor->device_index) + " but q is on cuda:" +
                           std::to_string(device_index),
                       "put every tensor of a call on the same GPU");
    }
    unsigned memory_type = 0;
    const auto address = reinterpret_cast<cuda_driver::DevicePointer>(tensor->data);
    cuda_driver::Result result =
        api.pointer_get_attribute(&memory_type, cuda_driver::kPointerAttributeMemoryType, address);
    // Plain host memory is unknown to the driver (CUDA_ERROR_INVALID_VALUE).
    if (result == cuda_driver::kErrorInvalidValue || memory_type == cuda_driver::kMemoryTypeHost) {
      throw user_error(ErrorCode::kInvalidArgument, name,
                       "is marked as a CUDA tensor but its pointer is host memory, not device "
                       "memory",
                       "copy it to the GPU (e.g. tensor.cuda()) or use the cpu backend");
    }
    cuda_driver::check(result, "cuPointerGetAttribute");
    if (!several_devices) continue;  // the ordinal is checked against the device count
    int owner = -1;
    cuda_driver::check(api.pointer_get_attribute(&owner, cuda_driver::kPointerAttributeDeviceOrdinal,
                                                 address),
                       "cuPointerGetAttribute(DEVICE_ORDINAL)");
    if (memory_type != cuda_driver::kMemoryTypeUnified && owner != device_index) {
      throw user_error(ErrorCode::kInvalidArgument, name,
                       "is marked as a tensor on cuda:" + std::to_string(device_index) +
                           " but its memory is on cuda:" + std::to_string(owner),
                       "set the tensor's device index to the GPU that holds it");
    }
  }
}

Error device_status_error(const cuda::DeviceStatus& status) {
  // Appended piece by piece: `"[" + std::to_string(...)` trips GCC 12's -Wrestrict false positive
  // (GCC PR 105329).
  auto rows = [](long long start, long long length) {
    std::string text = "[";
    text += std::to_string(start);
    text += ", ";
    text += std::to_string(start + length);
    text += ")";
    return text;
  };
  return user_error(
      ErrorCode::kInvalidArgument, "offsets",
      "document " + std::to_string(status.document) +
          " is inconsistent with the tensors: query rows " +
          rows(status.query_start, status.query_length) + ", key rows " +
          rows(status.key_start, status.key_length) + " (the kernels wrote zeros for it)",
      "check the layout's offset arrays against the tensors' sequence lengths");
}

}  // namespace attncc
