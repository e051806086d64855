// TensorRef (include/attncc/tensor.h): the DLPack bridge for every supported dtype and device,
// with and without strides and byte_offset, its errors, and numel / effective_strides / describe.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "attncc/error.h"
#include "attncc/tensor.h"

namespace attncc {
namespace {

// A DLTensor over `storage` as a framework would export it; shape and strides live in the test.
DLTensor make_dl_tensor(void* storage, DLDeviceType device, int device_id, DLDataType dtype,
                        std::vector<int64_t>& shape, std::vector<int64_t>* strides = nullptr,
                        uint64_t byte_offset = 0) {
  DLTensor tensor{};
  tensor.data = storage;
  tensor.device = DLDevice{device, device_id};
  tensor.ndim = static_cast<int>(shape.size());
  tensor.dtype = dtype;
  tensor.shape = shape.data();
  tensor.strides = strides == nullptr ? nullptr : strides->data();
  tensor.byte_offset = byte_offset;
  return tensor;
}

DLDataType dl_type(uint8_t code, uint8_t bits, uint16_t lanes = 1) {
  return DLDataType{code, bits, lanes};
}

// The message of the Error from_dlpack throws; a gtest failure if it throws nothing or
// something other than a kInvalidArgument user error.
std::string error_of(const DLTensor& tensor) {
  try {
    TensorRef::from_dlpack(tensor);
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "from_dlpack accepted the tensor";
  return {};
}

TEST(TensorRefTest, FromDlpackMapsEverySupportedDtype) {
  struct Case {
    DLDataType type;
    ScalarType expected;
    size_t size;
    const char* name;
  };
  const Case cases[] = {
      {dl_type(kDLFloat, 16), ScalarType::kFloat16, 2, "fp16"},
      {dl_type(kDLBfloat, 16), ScalarType::kBFloat16, 2, "bf16"},
      {dl_type(kDLFloat, 32), ScalarType::kFloat32, 4, "fp32"},
      {dl_type(kDLFloat, 64), ScalarType::kFloat64, 8, "fp64"},
      {dl_type(kDLInt, 32), ScalarType::kInt32, 4, "int32"},
      {dl_type(kDLInt, 64), ScalarType::kInt64, 8, "int64"},
  };
  alignas(8) uint8_t storage[64] = {};
  for (const Case& test_case : cases) {
    SCOPED_TRACE(test_case.name);
    std::vector<int64_t> shape = {2, 3};
    TensorRef view =
        TensorRef::from_dlpack(make_dl_tensor(storage, kDLCPU, 0, test_case.type, shape));
    EXPECT_EQ(view.dtype, test_case.expected);
    EXPECT_EQ(scalar_type_size(view.dtype), test_case.size);
    EXPECT_EQ(scalar_type_name(view.dtype), test_case.name);
    EXPECT_EQ(view.data, storage);
    EXPECT_EQ(view.shape, shape);
  }
}

TEST(TensorRefTest, FromDlpackMapsCpuAndCudaDevicesWithTheirIndex) {
  alignas(8) uint8_t storage[16] = {};
  std::vector<int64_t> shape = {4};
  TensorRef cpu =
      TensorRef::from_dlpack(make_dl_tensor(storage, kDLCPU, 0, dl_type(kDLFloat, 32), shape));
  EXPECT_EQ(cpu.device, DeviceKind::kCpu);
  EXPECT_EQ(cpu.device_index, 0);
  // A CUDA pointer is never dereferenced on the host: the view only records it.
  TensorRef cuda =
      TensorRef::from_dlpack(make_dl_tensor(storage, kDLCUDA, 3, dl_type(kDLFloat, 32), shape));
  EXPECT_EQ(cuda.device, DeviceKind::kCuda);
  EXPECT_EQ(cuda.device_index, 3);
  EXPECT_EQ(cuda.data, storage);
}

TEST(TensorRefTest, FromDlpackWithoutStridesIsContiguous) {
  alignas(8) uint8_t storage[2 * 3 * 4 * 2] = {};
  std::vector<int64_t> shape = {2, 3, 4};
  TensorRef view =
      TensorRef::from_dlpack(make_dl_tensor(storage, kDLCPU, 0, dl_type(kDLBfloat, 16), shape));
  // DLPack's null strides mean row-major compact; the view keeps "none" and derives them.
  EXPECT_TRUE(view.strides.empty());
  EXPECT_EQ(view.effective_strides(), (std::vector<int64_t>{12, 4, 1}));
}

TEST(TensorRefTest, FromDlpackKeepsStridesInElements) {
  alignas(8) uint8_t storage[256] = {};
  std::vector<int64_t> shape = {2, 3, 4};
  std::vector<int64_t> strides = {40, 8, 1};  // a view into a [2, 5, 8] tensor
  TensorRef view = TensorRef::from_dlpack(
      make_dl_tensor(storage, kDLCPU, 0, dl_type(kDLFloat, 16), shape, &strides));
  EXPECT_EQ(view.strides, strides);
  EXPECT_EQ(view.effective_strides(), strides);
  EXPECT_EQ(view.shape, shape);
}

TEST(TensorRefTest, FromDlpackAppliesByteOffset) {
  alignas(8) uint8_t storage[64] = {};
  std::vector<int64_t> shape = {3};
  // A slice starting at element 2 of an int32 buffer, as PyTorch exports narrow() views.
  TensorRef view = TensorRef::from_dlpack(
      make_dl_tensor(storage, kDLCPU, 0, dl_type(kDLInt, 32), shape, nullptr, 8));
  EXPECT_EQ(view.data, storage + 8);
  std::vector<int64_t> strides = {2};
  TensorRef strided = TensorRef::from_dlpack(
      make_dl_tensor(storage, kDLCPU, 0, dl_type(kDLInt, 64), shape, &strides, 16));
  EXPECT_EQ(strided.data, storage + 16);
  EXPECT_EQ(strided.strides, strides);
}

TEST(TensorRefTest, FromDlpackScalar) {
  alignas(8) uint8_t storage[8] = {};
  std::vector<int64_t> shape;  // ndim 0
  TensorRef view =
      TensorRef::from_dlpack(make_dl_tensor(storage, kDLCPU, 0, dl_type(kDLInt, 32), shape));
  EXPECT_TRUE(view.shape.empty());
  EXPECT_EQ(view.numel(), 1);
  EXPECT_TRUE(view.given());  // a scalar with data is given, though its shape is empty
}

TEST(TensorRefTest, FromDlpackRejectsOtherDevices) {
  alignas(8) uint8_t storage[16] = {};
  std::vector<int64_t> shape = {4};
  EXPECT_EQ(error_of(make_dl_tensor(storage, kDLCUDAHost, 0, dl_type(kDLFloat, 32), shape)),
            "DLTensor: error: device type 3 is not supported; attncc takes CPU (kDLCPU) and CUDA "
            "(kDLCUDA) tensors");
  EXPECT_EQ(error_of(make_dl_tensor(storage, kDLMetal, 0, dl_type(kDLFloat, 32), shape)),
            "DLTensor: error: device type 8 is not supported; attncc takes CPU (kDLCPU) and CUDA "
            "(kDLCUDA) tensors");
}

TEST(TensorRefTest, FromDlpackRejectsOtherDtypes) {
  alignas(8) uint8_t storage[16] = {};
  std::vector<int64_t> shape = {4};
  const std::string hint = "; use float16, bfloat16, float32, float64, int32 or int64";
  EXPECT_EQ(error_of(make_dl_tensor(storage, kDLCPU, 0, dl_type(kDLUInt, 8), shape)),
            "DLTensor: error: dtype code 1 with 8 bits is not supported" + hint);
  EXPECT_EQ(error_of(make_dl_tensor(storage, kDLCPU, 0, dl_type(kDLInt, 16), shape)),
            "DLTensor: error: dtype code 0 with 16 bits is not supported" + hint);
  EXPECT_EQ(error_of(make_dl_tensor(storage, kDLCPU, 0, dl_type(kDLFloat, 8), shape)),
            "DLTensor: error: dtype code 2 with 8 bits is not supported" + hint);
  EXPECT_EQ(error_of(make_dl_tensor(storage, kDLCPU, 0, dl_type(kDLBfloat, 32), shape)),
            "DLTensor: error: dtype code 4 with 32 bits is not supported" + hint);
  EXPECT_EQ(error_of(make_dl_tensor(storage, kDLCPU, 0, dl_type(kDLComplex, 64), shape)),
            "DLTensor: error: dtype code 5 with 64 bits is not supported" + hint);
}

TEST(TensorRefTest, FromDlpackRejectsVectorLanes) {
  alignas(8) uint8_t storage[32] = {};
  std::vector<int64_t> shape = {4};
  EXPECT_EQ(error_of(make_dl_tensor(storage, kDLCPU, 0, dl_type(kDLFloat, 16, 2), shape)),
            "DLTensor: error: vector types (lanes != 1) are not supported");
  // The device is checked first: one message per tensor, about the most basic problem.
  EXPECT_EQ(error_of(make_dl_tensor(storage, kDLMetal, 0, dl_type(kDLFloat, 16, 4), shape)),
            "DLTensor: error: device type 8 is not supported; attncc takes CPU (kDLCPU) and CUDA "
            "(kDLCUDA) tensors");
}

TEST(TensorRefTest, DefaultIsNotGiven) {
  TensorRef none;
  EXPECT_FALSE(none.given());
  EXPECT_EQ(none.data, nullptr);
  EXPECT_EQ(none.device, DeviceKind::kCpu);
  TensorRef shape_only;
  shape_only.shape = {2};  // a shape without data is a mistake the validation must see
  EXPECT_TRUE(shape_only.given());
}

TEST(TensorRefTest, CpuFactory) {
  float storage[6] = {};
  TensorRef view = TensorRef::cpu(storage, ScalarType::kFloat32, {2, 3});
  EXPECT_EQ(view.data, storage);
  EXPECT_EQ(view.dtype, ScalarType::kFloat32);
  EXPECT_EQ(view.device, DeviceKind::kCpu);
  EXPECT_EQ(view.device_index, 0);
  EXPECT_EQ(view.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(view.strides.empty());
}

TEST(TensorRefTest, Numel) {
  TensorRef view;
  view.shape = {2, 3, 4};
  EXPECT_EQ(view.numel(), 24);
  view.shape = {2, 0, 4};
  EXPECT_EQ(view.numel(), 0);
  view.shape = {};
  EXPECT_EQ(view.numel(), 1);  // a scalar
  view.shape = {2, 3};
  view.strides = {10, 2};  // strides do not change the element count
  EXPECT_EQ(view.numel(), 6);
}

TEST(TensorRefTest, EffectiveStrides) {
  TensorRef view;
  view.shape = {2, 128, 8, 64};
  EXPECT_EQ(view.effective_strides(), (std::vector<int64_t>{65536, 512, 64, 1}));
  view.shape = {5};
  EXPECT_EQ(view.effective_strides(), (std::vector<int64_t>{1}));
  view.shape = {};
  EXPECT_TRUE(view.effective_strides().empty());
  view.shape = {2, 0, 3};  // a zero extent gives zero strides in front of it
  EXPECT_EQ(view.effective_strides(), (std::vector<int64_t>{0, 3, 1}));
  view.shape = {2, 3};
  view.strides = {0, 1};  // a broadcast row: given strides are returned as they are
  EXPECT_EQ(view.effective_strides(), (std::vector<int64_t>{0, 1}));
}

TEST(TensorRefTest, Describe) {
  TensorRef view;
  view.shape = {2, 128, 8, 64};
  view.dtype = ScalarType::kBFloat16;
  EXPECT_EQ(view.describe(), "[2, 128, 8, 64] bf16");
  view.shape = {2, 3};
  view.dtype = ScalarType::kFloat32;
  view.device = DeviceKind::kCuda;
  EXPECT_EQ(view.describe(), "[2, 3] fp32 (cuda)");
  TensorRef scalar;
  scalar.dtype = ScalarType::kInt64;
  EXPECT_EQ(scalar.describe(), "[] int64");
}

TEST(TensorRefTest, ScalarTypeNamesAndSizes) {
  EXPECT_EQ(scalar_type_name(ScalarType::kFloat16), "fp16");
  EXPECT_EQ(scalar_type_name(ScalarType::kBFloat16), "bf16");
  EXPECT_EQ(scalar_type_name(ScalarType::kFloat32), "fp32");
  EXPECT_EQ(scalar_type_name(ScalarType::kFloat64), "fp64");
  EXPECT_EQ(scalar_type_name(ScalarType::kInt32), "int32");
  EXPECT_EQ(scalar_type_name(ScalarType::kInt64), "int64");
  EXPECT_EQ(scalar_type_size(ScalarType::kFloat16), 2u);
  EXPECT_EQ(scalar_type_size(ScalarType::kBFloat16), 2u);
  EXPECT_EQ(scalar_type_size(ScalarType::kFloat32), 4u);
  EXPECT_EQ(scalar_type_size(ScalarType::kFloat64), 8u);
  EXPECT_EQ(scalar_type_size(ScalarType::kInt32), 4u);
  EXPECT_EQ(scalar_type_size(ScalarType::kInt64), 8u);
}

}  // namespace
}  // namespace attncc
