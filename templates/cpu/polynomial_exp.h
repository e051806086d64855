// exp(x) for the CPU kernels' softmax as straight-line arithmetic, so a loop over a score row
// vectorises (8 or 16 lanes) instead of calling libm's scalar expf once per score: the exps were
// about as costly as the Q.K^T product at head dim 128 (docs/PERFORMANCE.md). Host-includable
// (tests/unit/polynomial_exp_test.cpp checks it against exp in double).
#pragma once

#include "common/numeric.h"

namespace attncc {

/// e^x with a relative error under 2^-23 (1 ulp; 8.5e-8 at worst over every float in range) for
/// -87 <= x <= 88, and the special values softmax relies on: exp(-inf) = 0 and exp(0) = 1
/// exactly, exp(NaN) = NaN. Below -87 the result is flushed to 0 (e^-87 = 1.6e-38, the edge of
/// the normal range; the GPU's ex2.approx.ftz flushes likewise); above 88 it is +inf (e^88 =
/// 1.65e38; softmax arguments are s - max <= 0 and s - LSE <= rounding, never that large).
/// Method (Cody-Waite): x = n ln2 + r with n = rint(x / ln2), |r| <= ln2 / 2, ln2 split into a
/// high part exact in a float product and a low part; e^r by a degree-6 polynomial (the Cephes
/// expf coefficients); 2^n built in the exponent bits.
inline float polynomial_exp(float x) {
  const bool is_nan = x != x;
  // Clamped, so that n stays in [-126, 127] and the integer conversion is defined (NaN -> 0).
  float clamped = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  clamped = is_nan ? 0.0f : clamped;
  const float n = __builtin_rintf(clamped * 1.44269504088896341f);  // 1 / ln2
  float r = __builtin_fmaf(n, -0.693359375f, clamped);  // ln2 high: 8 significant bits
  r = __builtin_fmaf(n, 2.12194440e-4f, r);              // -(ln2 low)
  float p = 1.9875691500e-4f;
  p = __builtin_fmaf(p, r, 1.3981999507e-3f);
  p = __builtin_fmaf(p, r, 8.3334519073e-3f);
  p = __builtin_fmaf(p, r, 4.1665795894e-2f);
  p = __builtin_fmaf(p, r, 1.6666665459e-1f);
  p = __builtin_fmaf(p, r, 5.0000001201e-1f);
  const float e_r = __builtin_fmaf(p, r * r, r) + 1.0f;
  const float two_to_n = bits_to_float(kernel_uint32(int(n) + 127) << 23);
  float result = e_r * two_to_n;
  result = x < -87.0f ? 0.0f : result;  // -inf included
  result = x > 88.0f ? bits_to_float(0x7f800000u) : result;
  return is_nan ? x : result;
}

}  // namespace attncc
