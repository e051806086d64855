// A case for the CUDA kernels' clamp of int64 mask parameters into int32 (templates/cuda/
// document.cuh): the host backends reject such values, device arrays are not read on the host,
// so the kernels must treat a value outside int32 as the int32 bound it is clamped to.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "attncc/runtime.h"
#include "attncc/spec.h"
#include "support/backend_cases.h"

namespace attncc::testing {

/// A varlen bf16 d64 spec whose mask makes the clamp visible, its case (the reference's inputs
/// hold the clamped values) and the int64 values a call passes instead.
struct ParameterClampCase {
  Spec spec;
  BackendCase test_case;
  std::map<std::string, std::vector<int64_t>> wide_values;  ///< per parameter, one per document
};

ParameterClampCase parameter_clamp_case(TestRandom& random);

/// `host` with every parameter of `wide_values` replaced by an int64 array over those values
/// (host memory; `wide_values` must outlive the result).
AttentionArguments with_int64_parameters(
    const AttentionArguments& host, const std::map<std::string, std::vector<int64_t>>& wide_values);

}  // namespace attncc::testing
