#include "support/parameter_clamp_case.h"

#include <algorithm>

#include "support/attention_call.h"
#include "support/layout_builders.h"

namespace attncc::testing {

// With w = 2^40 taken as is, `i - j < w - 2147483600` would admit every earlier key, while the
// clamped w = 2^31 - 1 leaves a window of 47; n = -2^40 would admit no later key, the clamped
// -2^31 a window of 52.
ParameterClampCase parameter_clamp_case(TestRandom& random) {
  ParameterClampCase clamp{
      Spec::parse(R"({"name": "clamp", "layout": "varlen", "dtype": "bf16", "head_dim": 64,
          "backward": true,
          "mask": "j <= i & i - j < $w[doc] - 2147483600 | j > i & j - i < $n[doc] + 2147483700"})"),
      {},
      {}};
  constexpr int64_t kTwoTo40 = int64_t(1) << 40;
  // Document 0 clamps both ways; document 1 clamps to no earlier key and every later one (its
  // last row is empty); document 2 holds int32 values in the int64 arrays (windows of 10).
  clamp.wide_values = {{"w", {kTwoTo40, -kTwoTo40, 2147483610}},
                       {"n", {-kTwoTo40, kTwoTo40, -2147483690}}};
  BackendCase& test_case = clamp.test_case;
  test_case.description = "int64 parameters 2^40 / -2^40 / int32 values";
  test_case.inputs.shape = build_varlen({{150, 150}, {90, 90}, {70, 70}}).shape;
  test_case.inputs.heads_q = 2;
  test_case.inputs.heads_kv = 1;
  fill_random_tensors(test_case.inputs, clamp.spec.head_dim, clamp.spec.head_dim_v,
                      /*backward=*/true, /*alibi=*/false, random);
  for (std::vector<double>* tensor : {&test_case.inputs.q, &test_case.inputs.k,
                                      &test_case.inputs.v, &test_case.inputs.d_o}) {
    *tensor = rounded_to(clamp.spec.dtype, *tensor);
  }
  for (const auto& [name, wide] : clamp.wide_values) {
    std::vector<int64_t> clamped = wide;
    for (int64_t& value : clamped) value = std::clamp<int64_t>(value, INT32_MIN, INT32_MAX);
    test_case.inputs.parameters[name] = clamped;
  }
  return clamp;
}

AttentionArguments with_int64_parameters(
    const AttentionArguments& host, const std::map<std::string, std::vector<int64_t>>& wide_values) {
  AttentionArguments arguments = host;
  for (const auto& [name, wide] : wide_values) {
    arguments.parameters[name] = TensorRef::cpu(const_cast<int64_t*>(wide.data()),
                                                ScalarType::kInt64, {int64_t(wide.size())});
  }
  return arguments;
}

}  // namespace attncc::testing
