// The float64 reference (DESIGN §4): forward and backward of every spec, evaluating M(i, j) from
// the expression tree per element. The oracle of the tests and of `attncc testgen`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "attncc/layout.h"
#include "attncc/spec.h"

namespace attncc {

/// Inputs, contiguous row-major, shapes as in DESIGN §1:
/// dense Q [B, Sq, Hq, D], K [B, Sk, Hkv, D], V [B, Sk, Hkv, Dv];
/// varlen Q [Tq, Hq, D], K [Tk, Hkv, D], V [Tk, Hkv, Dv];
/// doc_packed Q [B, S, Hq, D], K [B, S, Hkv, D], V [B, S, Hkv, Dv].
struct ReferenceInputs {
  LayoutShape shape;
  int64_t heads_q = 1;
  int64_t heads_kv = 1;
  std::vector<double> q, k, v;
  std::vector<double> d_o;  ///< gradient of O (shape of O); empty = forward only
  /// The O the backward's D_i = dO_i . O_i uses (shape of O), e.g. as a kernel stored it in its
  /// dtype: kernels compute D from the stored O, whose rounding moves dS = P (dP - D) by
  /// P * dO . (O_stored - O), which on a row whose dP - D cancels is the whole result. Empty =
  /// the exact O. O in the outputs is always the exact one.
  std::vector<double> o_for_delta;
  /// Mask parameters: scalar -> 1 value; per document -> document_count(shape) values.
  std::map<std::string, std::vector<int64_t>> parameters;
  std::vector<double> alibi_slopes;  ///< [Hq], required iff spec.alibi
};

/// Outputs: O like Q with Dv; LSE dense [B, Hq, Sq], varlen [Hq, Tq], doc_packed [B, Hq, S]
/// (natural log; -inf for empty and padding rows); dQ/dK/dV like Q/K/V (only if d_o given).
/// Every element is written: rows outside every document get O = 0, LSE = -inf, grads = 0.
struct ReferenceOutputs {
  std::vector<double> o, lse, dq, dk, dv;
};

/// Runs the reference. Throws Error(kInvalidArgument) on inconsistent sizes, offsets, GQA ratio
/// or parameters (the same validation as the runtime's layout checks).
ReferenceOutputs reference_attention(const Spec& spec, const ReferenceInputs& inputs);

}  // namespace attncc
