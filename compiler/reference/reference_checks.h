// Argument validation of the float64 reference (compiler/reference/): tensor sizes, GQA ratio,
// head dims, mask parameters and ALiBi slopes, checked before any arithmetic.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "attncc/layout.h"
#include "attncc/reference.h"
#include "attncc/spec.h"

namespace attncc::reference_detail {

/// Sizes of one problem, with the element offsets of its contiguous row-major tensors.
struct Geometry {
  int64_t batch = 1;   ///< B (1 for varlen)
  int64_t q_rows = 0;  ///< Sq / Tq / S
  int64_t k_rows = 0;  ///< Sk / Tk / S
  int64_t heads_q = 1, heads_kv = 1;
  int64_t head_dim = 1, head_dim_v = 1;

  int64_t q_at(int64_t b, int64_t row, int64_t h) const {
    return ((b * q_rows + row) * heads_q + h) * head_dim;
  }
  int64_t k_at(int64_t b, int64_t row, int64_t h) const {
    return ((b * k_rows + row) * heads_kv + h) * head_dim;
  }
  int64_t v_at(int64_t b, int64_t row, int64_t h) const {
    return ((b * k_rows + row) * heads_kv + h) * head_dim_v;
  }
  int64_t o_at(int64_t b, int64_t row, int64_t h) const {
    return ((b * q_rows + row) * heads_q + h) * head_dim_v;
  }
  int64_t lse_at(int64_t b, int64_t h, int64_t row) const {
    return (b * heads_q + h) * q_rows + row;
  }
  int64_t q_size() const { return batch * q_rows * heads_q * head_dim; }
  int64_t k_size() const { return batch * k_rows * heads_kv * head_dim; }
  int64_t v_size() const { return batch * k_rows * heads_kv * head_dim_v; }
  int64_t o_size() const { return batch * q_rows * heads_q * head_dim_v; }
  int64_t lse_size() const { return batch * heads_q * q_rows; }
};

/// A validated problem: its geometry, its documents and the mask parameters it uses.
struct CheckedProblem {
  Geometry geometry;
  std::vector<Document> documents;
  std::map<std::string, bool> parameters;  ///< name -> per document
};

/// Checks `inputs` against `spec` (layout, sizes, GQA ratio, parameters, slopes). Throws
/// Error(kInvalidArgument) for a bad argument, Error(kInvalidSpec) for an unusable spec.
CheckedProblem check_reference_inputs(const Spec& spec, const ReferenceInputs& inputs);

}  // namespace attncc::reference_detail
