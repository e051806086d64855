// Argument errors of the CUDA backend that need no GPU: validation of device tensors never reads
// offset or parameter arrays (fake device addresses here would crash if it did) but checks their
// shapes; host tensors are rejected; the 16-byte alignment of base pointers and strides that
// cp.async needs. Each test checks the exact message (docs/ERRORS.md).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "attncc/error.h"
#include "attncc/runtime.h"
#include "attncc/spec.h"
#include "runtime/argument_validation.h"
#include "runtime/cuda/cuda_arguments.h"

namespace attncc {
namespace {

// Addresses that look like device memory: 256-byte aligned, never dereferenced by the host.
void* fake_device_address(int slot) {
  return reinterpret_cast<void*>(uintptr_t{0x7f0000000000} + uintptr_t(slot) * 0x100000);
}

TensorRef device_tensor(int slot, ScalarType dtype, std::vector<int64_t> shape) {
  TensorRef tensor;
  tensor.data = fake_device_address(slot);
  tensor.dtype = dtype;
  tensor.device = DeviceKind::kCuda;
  tensor.shape = std::move(shape);
  return tensor;
}

Spec varlen_spec() {
  return Spec::parse(R"json({"layout": "varlen", "dtype": "bf16", "head_dim": 64,
                         "mask": "prefix($p[doc])", "outputs": ["o", "lse"]})json");
}

// A valid varlen forward call of 3 documents over 40 tokens, 4 query heads, 2 K/V heads.
AttentionArguments varlen_arguments() {
  AttentionArguments arguments;
  arguments.q = device_tensor(0, ScalarType::kBFloat16, {40, 4, 64});
  arguments.k = device_tensor(1, ScalarType::kBFloat16, {40, 2, 64});
  arguments.v = device_tensor(2, ScalarType::kBFloat16, {40, 2, 64});
  arguments.o = device_tensor(3, ScalarType::kBFloat16, {40, 4, 64});
  arguments.lse = device_tensor(4, ScalarType::kFloat32, {4, 40});
  arguments.cu_seqlens_q = device_tensor(5, ScalarType::kInt32, {4});
  arguments.cu_seqlens_k = device_tensor(6, ScalarType::kInt32, {4});
  arguments.parameters["p"] = device_tensor(7, ScalarType::kInt32, {3});
  return arguments;
}

std::string forward_error(const AttentionArguments& arguments) {
  const Spec spec = varlen_spec();
  try {
    validate_arguments(spec, arguments, Pass::kForward, DeviceKind::kCuda);
    check_cuda_alignment(spec, arguments, /*backward=*/false);
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
    return error.what();
  }
  return "";
}

TEST(CudaArgumentErrorsTest, DeviceOffsetsAndParametersAreNotRead) {
  EXPECT_EQ(forward_error(varlen_arguments()), "");
}

TEST(CudaArgumentErrorsTest, DeviceOffsetArraysMustAgreeInLength) {
  AttentionArguments arguments = varlen_arguments();
  arguments.cu_seqlens_k.shape = {3};
  EXPECT_EQ(forward_error(arguments),
            "cu_seqlens_k: error: has 3 entries, expected 4; [N + 1] entries like cu_seqlens_q");
}

TEST(CudaArgumentErrorsTest, DeviceParametersNeedOneValuePerDocument) {
  AttentionArguments arguments = varlen_arguments();
  arguments.parameters["p"].shape = {4};
  EXPECT_EQ(forward_error(arguments),
            "parameters[\"p\"]: error: has 4 values; expected 3 (one per document: N)");
}

TEST(CudaArgumentErrorsTest, HostTensorOnTheCudaBackend) {
  AttentionArguments arguments = varlen_arguments();
  arguments.cu_seqlens_q.device = DeviceKind::kCpu;
  EXPECT_EQ(forward_error(arguments),
            "cu_seqlens_q: error: is on cpu but this kernel runs on cuda; move the tensor or pick "
            "the other backend");
}

TEST(CudaArgumentErrorsTest, BasePointerMustBe16ByteAligned) {
  AttentionArguments arguments = varlen_arguments();
  arguments.k.data = static_cast<char*>(arguments.k.data) + 8;
  EXPECT_EQ(forward_error(arguments),
            "k: error: data pointer is not 16-byte aligned, which the CUDA kernels' 16-byte "
            "copies (cp.async) need; pass a tensor that starts at a 16-byte boundary (a fresh "
            "allocation, not a view at an odd offset)");
}

TEST(CudaArgumentErrorsTest, RowAndHeadStridesMustBeMultiplesOf16Bytes) {
  AttentionArguments arguments = varlen_arguments();
  // Rows padded by 4 elements (8 bytes): row stride 260.
  arguments.q.strides = {4 * 64 + 4, 64, 1};
  EXPECT_EQ(forward_error(arguments),
            "q: error: stride of dimension 0 is 260 elements, not a multiple of 8 (16 bytes), "
            "which the CUDA kernels' 16-byte row copies need; pass a contiguous tensor or pad "
            "the dimension to a multiple of 8");
  // q sliced out of a wider [40, 4, 72] buffer with heads 68 elements (136 bytes) apart.
  arguments.q.strides = {4 * 72, 68, 1};
  EXPECT_EQ(forward_error(arguments),
            "q: error: stride of dimension 1 is 68 elements, not a multiple of 8 (16 bytes), "
            "which the CUDA kernels' 16-byte row copies need; pass a contiguous tensor or pad "
            "the dimension to a multiple of 8");
}

TEST(CudaArgumentErrorsTest, StatusErrorNamesTheDocumentAndItsRows) {
  cuda::DeviceStatus status{};
  status.error = 1;
  status.document = 2;
  status.query_start = 30;
  status.query_length = 20;
  status.key_start = 30;
  status.key_length = 20;
  EXPECT_STREQ(device_status_error(status).what(),
               "offsets: error: document 2 is inconsistent with the tensors: query rows [30, 50), "
               "key rows [30, 50) (the kernels wrote zeros for it); check the layout's offset "
               "arrays against the tensors' sequence lengths");
}

}  // namespace
}  // namespace attncc
