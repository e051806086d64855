// Scalar helpers for kernels: fp16/bf16 storage types with round-to-nearest-even conversion,
// floor division, and -inf, without system headers (generated code includes no libc headers).
#pragma once

#include "common/attention_params.h"

#ifndef ATTNCC_HOST_DEVICE
#define ATTNCC_HOST_DEVICE
#endif

namespace attncc {

typedef unsigned short kernel_uint16;
typedef unsigned int kernel_uint32;

struct bfloat16 { kernel_uint16 bits; };
struct float16 { kernel_uint16 bits; };

ATTNCC_HOST_DEVICE inline float bits_to_float(kernel_uint32 bits) { return __builtin_bit_cast(float, bits); }
ATTNCC_HOST_DEVICE inline kernel_uint32 float_to_bits(float value) { return __builtin_bit_cast(kernel_uint32, value); }

ATTNCC_HOST_DEVICE inline float negative_infinity() { return bits_to_float(0xff800000u); }

ATTNCC_HOST_DEVICE inline float to_float(float value) { return value; }
ATTNCC_HOST_DEVICE inline float to_float(bfloat16 value) { return bits_to_float(kernel_uint32(value.bits) << 16); }

ATTNCC_HOST_DEVICE inline float to_float(float16 value) {
  kernel_uint32 sign = kernel_uint32(value.bits & 0x8000u) << 16;
  kernel_uint32 exponent = (value.bits >> 10) & 0x1fu;
  kernel_uint32 mantissa = value.bits & 0x3ffu;
  if (exponent == 0x1f) return bits_to_float(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN
  if (exponent == 0) {
    if (mantissa == 0) return bits_to_float(sign);
    // Subnormal half: value = mantissa * 2^-24, exact in float.
    float magnitude = float(mantissa) * bits_to_float(0x33800000u);  // 2^-24
    return sign ? -magnitude : magnitude;
  }
  return bits_to_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

template <typename Element>
ATTNCC_HOST_DEVICE inline Element from_float(float value);

template <>
ATTNCC_HOST_DEVICE inline float from_float<float>(float value) { return value; }

template <>
ATTNCC_HOST_DEVICE inline bfloat16 from_float<bfloat16>(float value) {
  kernel_uint32 bits = float_to_bits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return bfloat16{kernel_uint16((bits >> 16) | 0x40u)};  // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest, ties to even
  return bfloat16{kernel_uint16(bits >> 16)};
}

template <>
ATTNCC_HOST_DEVICE inline float16 from_float<float16>(float value) {
  kernel_uint32 bits = float_to_bits(value);
  kernel_uint16 sign = kernel_uint16((bits >> 16) & 0x8000u);
  kernel_uint32 magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return float16{kernel_uint16(sign | 0x7e00u)};  // NaN
  if (magnitude >= 0x477ff000u) return float16{kernel_uint16(sign | 0x7c00u)};  // rounds to inf
  if (magnitude < 0x38800000u) {
    // Subnormal or zero half: round magnitude * 2^24 to an integer, ties to even.
    if (magnitude < 0x33000000u) return float16{sign};  // below half of the smallest subnormal
    kernel_uint32 exponent = magnitude >> 23;
    kernel_uint32 mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    kernel_uint32 shift = 126 - exponent;  // value * 2^24 = mantissa * 2^(exponent - 126)
    kernel_uint32 result = mantissa >> shift;
    kernel_uint32 remainder = mantissa & ((1u << shift) - 1u);
    kernel_uint32 halfway = 1u << (shift - 1);
    if (remainder > halfway || (remainder == halfway && (result & 1u))) ++result;
    return float16{kernel_uint16(sign | result)};
  }
  // Normal: rebias the exponent (127 -> 15), round the 13 dropped mantissa bits to even.
  kernel_uint32 rounded = magnitude - 0x38000000u;  // exponent - 112
  rounded += 0xfffu + ((rounded >> 13) & 1u);
  return float16{kernel_uint16(sign | (rounded >> 13))};
}

ATTNCC_HOST_DEVICE inline kernel_int floor_div(kernel_int a, kernel_int b) {
  if (b == 0) return 0;
  kernel_int quotient = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --quotient;
  return quotient;
}
ATTNCC_HOST_DEVICE inline kernel_int floor_mod(kernel_int a, kernel_int b) {
  return b == 0 ? a : a - b * floor_div(a, b);
}
ATTNCC_HOST_DEVICE inline kernel_int min_int(kernel_int a, kernel_int b) { return a < b ? a : b; }
ATTNCC_HOST_DEVICE inline kernel_int max_int(kernel_int a, kernel_int b) { return a > b ? a : b; }

/// Bounds standing for "unbounded": far outside every tensor, and safe to add small terms to.
constexpr kernel_int kUnboundedBelow = -(kernel_int(1) << 60);
constexpr kernel_int kUnboundedAbove = kernel_int(1) << 60;

}  // namespace attncc
