// Parameters of the backend conformance suites: every spec in specs/ x dtypes x head dims, with
// gtest names ("causal_bf16_d64") and a readable printout for test listings.
#pragma once

#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "attncc/spec.h"

namespace attncc::testing {

struct SpecVariant {
  std::string spec_path;
  DType dtype;
  int head_dim;
};

/// Every specs/*.json (sorted) x `dtypes` x `head_dims`.
std::vector<SpecVariant> spec_variants(std::initializer_list<DType> dtypes,
                                       std::initializer_list<int> head_dims);

/// "causal_br_decode_bf16_d64": the spec's file stem, dtype and head dim, [A-Za-z0-9_] only.
std::string spec_variant_name(const ::testing::TestParamInfo<SpecVariant>& info);

/// "causal.json bf16 d64", what ctest lists as the parameter of each discovered test.
void PrintTo(const SpecVariant& variant, std::ostream* out);

}  // namespace attncc::testing
