// HostTensor and element conversions (runtime/io/host_tensor): fp16/bf16 rounding against
// hand-worked bit patterns and every 16-bit pattern, aligned zeroed storage, strided copies.
#include "runtime/io/host_tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "attncc/error.h"

namespace attncc {
namespace {

TEST(HalfConversion, RoundsToNearestEvenOnHandWorkedValues) {
  EXPECT_EQ(float_to_half_bits(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half_bits(-2.0f), 0xc000);
  EXPECT_EQ(float_to_half_bits(65504.0f), 0x7bff);           // largest finite
  EXPECT_EQ(float_to_half_bits(65520.0f), 0x7c00);           // halfway to 2^16: rounds to inf
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -25)), 0x0000);  // tie with 0: even
  EXPECT_EQ(float_to_half_bits(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 ulp: tie to even 2
  EXPECT_EQ(float_to_half_bits(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie: even mantissa
  EXPECT_EQ(float_to_half_bits(1.0f + std::ldexp(3.0f, -11)), 0x3c02);  // tie: up to even
  EXPECT_EQ(float_to_half_bits(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half_bits(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_TRUE(std::isnan(half_bits_to_float(float_to_half_bits(std::nanf("")))));
  EXPECT_EQ(half_bits_to_float(0x3555), 0.333251953125f);  // 2^-2 * (1 + 341/1024)
}

TEST(HalfConversion, EveryPatternRoundTripsThroughFloat) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    float value = half_bits_to_float(static_cast<uint16_t>(bits));
    if (std::isnan(value)) continue;
    ASSERT_EQ(float_to_half_bits(value), bits) << std::hex << bits;
    float bfloat = bfloat16_bits_to_float(static_cast<uint16_t>(bits));
    if (std::isnan(bfloat)) continue;
    ASSERT_EQ(float_to_bfloat16_bits(bfloat), bits) << std::hex << bits;
  }
}

TEST(BFloat16Conversion, RoundsToNearestEven) {
  EXPECT_EQ(float_to_bfloat16_bits(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bfloat16_bits(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // tie: even
  EXPECT_EQ(float_to_bfloat16_bits(1.0f + std::ldexp(3.0f, -8)), 0x3f82);  // tie: up to even
  EXPECT_EQ(float_to_bfloat16_bits(1.0f + std::ldexp(1.0f, -7) + std::ldexp(1.0f, -12)), 0x3f81);
  EXPECT_TRUE(std::isnan(bfloat16_bits_to_float(float_to_bfloat16_bits(std::nanf("")))));
}

TEST(HostTensor, IsZeroedAlignedAndViewable) {
  HostTensor tensor(ScalarType::kBFloat16, {3, 5});
  EXPECT_EQ(tensor.numel(), 15);
  EXPECT_EQ(tensor.size_bytes(), 30u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(tensor.data()) % kHostTensorAlignment, 0u);
  for (size_t index = 0; index < tensor.size_bytes(); ++index) {
    EXPECT_EQ(tensor.data()[index], std::byte{0});
  }
  TensorRef view = tensor.ref();
  EXPECT_EQ(view.data, tensor.data());
  EXPECT_EQ(view.shape, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(view.dtype, ScalarType::kBFloat16);
  // 0-d and empty tensors still have storage, so their views count as given.
  EXPECT_TRUE(HostTensor(ScalarType::kFloat32, {}).ref().given());
  EXPECT_NE(HostTensor(ScalarType::kFloat32, {0}).data(), nullptr);
  EXPECT_THROW(HostTensor(ScalarType::kFloat32, {2, -1}), Error);
  EXPECT_THROW(HostTensor(ScalarType::kFloat64, {int64_t{1} << 40, int64_t{1} << 30}), Error);
}

TEST(HostTensor, ConvertsAndCopiesStridedTensors) {
  HostTensor values = from_double(ScalarType::kInt32, {2, 3}, {1, 2, 3, 4, 5, 6});
  TensorRef transpose = values.ref();
  transpose.shape = {3, 2};
  transpose.strides = {1, 3};
  EXPECT_FALSE(is_contiguous(transpose));
  EXPECT_EQ(to_int64(transpose, "t"), (std::vector<int64_t>{1, 4, 2, 5, 3, 6}));
  HostTensor copy = HostTensor::copy_of(transpose);
  EXPECT_EQ(copy.shape(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(to_double(copy.ref()), (std::vector<double>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(to_double(from_double(ScalarType::kFloat16, {2}, {0.1, -3}).ref()),
            (std::vector<double>{0.0999755859375, -3}));
  EXPECT_THROW(to_int64(from_double(ScalarType::kFloat32, {1}, {1}).ref(), "x"), Error);
  EXPECT_THROW(from_double(ScalarType::kFloat32, {2}, {1}), Error);
}

}  // namespace
}  // namespace attncc
