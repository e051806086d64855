// Attention calls owned by tests, kernel runs and comparisons (see attention_call.h).
#include "support/attention_call.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace attncc::testing {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<int64_t> attention_shape(const LayoutShape& shape, bool query, int64_t heads,
                                     int64_t width) {
  const int64_t rows = query ? shape.query_rows : shape.key_rows;
  if (shape.layout == Layout::kVarlen) return {rows, heads, width};
  return {shape.batch, rows, heads, width};
}

int64_t product(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t extent : shape) count *= extent;
  return count;
}

HostTensor poisoned(ScalarType dtype, const std::vector<int64_t>& shape) {
  return from_double(dtype, shape, std::vector<double>(static_cast<size_t>(product(shape)), kNaN));
}

}  // namespace

ScalarType element_type(DType dtype) {
  switch (dtype) {
    case DType::kFloat16: return ScalarType::kFloat16;
    case DType::kBFloat16: return ScalarType::kBFloat16;
    case DType::kFloat32: return ScalarType::kFloat32;
  }
  return ScalarType::kFloat32;
}

std::vector<double> rounded_to(DType dtype, const std::vector<double>& values) {
  const HostTensor tensor =
      from_double(element_type(dtype), {static_cast<int64_t>(values.size())}, values);
  return to_double(tensor.ref());
}

AttentionCall make_attention_call(const Spec& spec, const ReferenceInputs& inputs) {
  const LayoutShape& shape = inputs.shape;
  const ScalarType element = element_type(spec.dtype);
  const auto q_shape = attention_shape(shape, true, inputs.heads_q, spec.head_dim);
  const auto k_shape = attention_shape(shape, false, inputs.heads_kv, spec.head_dim);
  const auto v_shape = attention_shape(shape, false, inputs.heads_kv, spec.head_dim_v);
  const auto o_shape = attention_shape(shape, true, inputs.heads_q, spec.head_dim_v);
  const std::vector<int64_t> lse_shape =
      shape.layout == Layout::kVarlen
          ? std::vector<int64_t>{inputs.heads_q, shape.query_rows}
          : std::vector<int64_t>{shape.batch, inputs.heads_q, shape.query_rows};

  AttentionCall call;
  call.q = from_double(element, q_shape, inputs.q);
  call.k = from_double(element, k_shape, inputs.k);
  call.v = from_double(element, v_shape, inputs.v);
  call.o = poisoned(element, o_shape);
  call.lse = poisoned(ScalarType::kFloat32, lse_shape);
  AttentionArguments& arguments = call.arguments;
  arguments.q = call.q.ref();
  arguments.k = call.k.ref();
  arguments.v = call.v.ref();
  arguments.o = call.o.ref();
  arguments.lse = call.lse.ref();
  if (spec.backward && !inputs.d_o.empty()) {
    call.d_o = from_double(element, o_shape, inputs.d_o);
    call.dq = poisoned(element, q_shape);
    call.dk = poisoned(element, k_shape);
    call.dv = poisoned(element, v_shape);
    arguments.d_o = call.d_o.ref();
    arguments.dq = call.dq.ref();
    arguments.dk = call.dk.ref();
    arguments.dv = call.dv.ref();
  }
  call.arrays.reserve(16);
  auto array = [&](const std::vector<int64_t>& values, std::vector<int64_t> array_shape) {
    call.arrays.push_back(from_double(ScalarType::kInt32, std::move(array_shape),
                                      std::vector<double>(values.begin(), values.end())));
    return call.arrays.back().ref();
  };
  auto one_d = [&](const std::vector<int64_t>& values) {
    return array(values, {static_cast<int64_t>(values.size())});
  };
  if (!shape.seqlens_q.empty()) arguments.seqlens_q = one_d(shape.seqlens_q);
  if (!shape.seqlens_k.empty()) arguments.seqlens_k = one_d(shape.seqlens_k);
  if (!shape.cu_seqlens_q.empty()) arguments.cu_seqlens_q = one_d(shape.cu_seqlens_q);
  if (!shape.cu_seqlens_k.empty()) arguments.cu_seqlens_k = one_d(shape.cu_seqlens_k);
  if (!shape.cu_seqlens_q_padded.empty()) {
    arguments.cu_seqlens_q_padded = one_d(shape.cu_seqlens_q_padded);
  }
  if (!shape.cu_seqlens_k_padded.empty()) {
    arguments.cu_seqlens_k_padded = one_d(shape.cu_seqlens_k_padded);
  }
  if (!shape.cu_seq.empty()) {
    arguments.cu_seq = array(shape.cu_seq, {shape.batch, shape.max_docs + 1});
  }
  for (const auto& [name, values] : inputs.parameters) arguments.parameters[name] = one_d(values);
  if (spec.alibi) {
    call.alibi_slopes = from_double(ScalarType::kFloat32, {inputs.heads_q}, inputs.alibi_slopes);
    arguments.alibi_slopes = call.alibi_slopes.ref();
  }
  return call;
}

ReferenceOutputs call_outputs(const AttentionCall& call) {
  ReferenceOutputs outputs;
  outputs.o = to_double(call.o.ref());
  outputs.lse = to_double(call.lse.ref());
  if (call.dq.data() != nullptr) {
    outputs.dq = to_double(call.dq.ref());
    outputs.dk = to_double(call.dk.ref());
    outputs.dv = to_double(call.dv.ref());
  }
  return outputs;
}

ReferenceOutputs run_kernel(const Kernel& kernel, const ReferenceInputs& inputs) {
  AttentionCall call = make_attention_call(kernel.spec(), inputs);
  kernel.forward(call.arguments);
  if (call.dq.data() != nullptr) kernel.backward(call.arguments);
  return call_outputs(call);
}

double relative_error(const std::vector<double>& actual, const std::vector<double>& expected) {
  constexpr double kInfinite = std::numeric_limits<double>::infinity();
  if (actual.size() != expected.size()) return kInfinite;
  double difference = 0;
  double scale = 0;
  for (size_t index = 0; index < actual.size(); ++index) {
    const double a = actual[index];
    const double e = expected[index];
    if (std::isnan(a) || std::isnan(e)) return kInfinite;
    if (std::isinf(a) || std::isinf(e)) {
      if (a != e) return kInfinite;
      continue;
    }
    difference = std::max(difference, std::fabs(a - e));
    scale = std::max(scale, std::fabs(e));
  }
  return difference / (scale > 0 ? scale : 1.0);
}

double expect_close(const std::string& what, const std::vector<double>& actual,
                    const std::vector<double>& expected, double tolerance) {
  if (actual.size() != expected.size()) {
    ADD_FAILURE() << what << ": " << actual.size() << " elements, expected " << expected.size();
    return std::numeric_limits<double>::infinity();
  }
  const double error = relative_error(actual, expected);
  if (error <= tolerance) return error;
  int64_t nans = 0, infinities = 0, worst_index = -1;
  double worst = -1;
  for (size_t index = 0; index < actual.size(); ++index) {
    const double a = actual[index];
    const double e = expected[index];
    if (std::isnan(a)) ++nans;
    if ((std::isinf(a) || std::isinf(e)) && a != e) ++infinities;
    if (std::isfinite(a) && std::isfinite(e) && std::fabs(a - e) > worst) {
      worst = std::fabs(a - e);
      worst_index = static_cast<int64_t>(index);
    }
  }
  ADD_FAILURE() << what << ": relative error " << error << " > " << tolerance << "; " << nans
                << " NaN, " << infinities << " unmatched infinities; worst finite element "
                << worst_index << " (actual "
                << (worst_index >= 0 ? actual[static_cast<size_t>(worst_index)] : 0.0)
                << ", expected "
                << (worst_index >= 0 ? expected[static_cast<size_t>(worst_index)] : 0.0) << ")";
  return error;
}

std::vector<double> row_slice(const std::vector<double>& values, int64_t first, int64_t count,
                              int64_t width) {
  return std::vector<double>(values.begin() + first * width,
                             values.begin() + (first + count) * width);
}

std::vector<double> lse_slice(const std::vector<double>& lse, int64_t offset, int64_t heads,
                              int64_t rows, int64_t first, int64_t count) {
  std::vector<double> slice;
  for (int64_t h = 0; h < heads; ++h) {
    const auto begin = lse.begin() + offset + h * rows + first;
    slice.insert(slice.end(), begin, begin + count);
  }
  return slice;
}

Spec spec_with_mask(const Spec& spec, const std::string& mask, const std::string& layout) {
  nlohmann::json object = nlohmann::json::parse(spec.canonical_text());
  if (!mask.empty()) object["mask"] = mask;
  if (!layout.empty()) object["layout"] = layout;
  Spec result = Spec::parse(object.dump(), spec.name + " (mask " + object["mask"].dump() +
                                               ", layout " + object["layout"].dump() + ")");
  result.name = spec.name;
  return result;
}

ReferenceOutputs per_document_reference(const Spec& spec, const ReferenceInputs& inputs) {
  const Spec dense = spec_with_mask(spec, "", "dense");
  const LayoutShape& shape = inputs.shape;
  const int64_t q_width = inputs.heads_q * spec.head_dim;
  const int64_t k_width = inputs.heads_kv * spec.head_dim;
  const int64_t v_width = inputs.heads_kv * spec.head_dim_v;
  const int64_t o_width = inputs.heads_q * spec.head_dim_v;
  const int64_t q_rows = static_cast<int64_t>(inputs.q.size()) / q_width;
  const bool backward = !inputs.d_o.empty();
  ReferenceOutputs full;
  full.o.assign(static_cast<size_t>(q_rows * o_width), 0.0);
  full.lse.assign(static_cast<size_t>(q_rows * inputs.heads_q),
                  -std::numeric_limits<double>::infinity());
  if (backward) {
    full.dq.assign(inputs.q.size(), 0.0);
    full.dk.assign(inputs.k.size(), 0.0);
    full.dv.assign(inputs.v.size(), 0.0);
  }
  auto copy_rows = [](const std::vector<double>& from, int64_t from_row, std::vector<double>& to,
                      int64_t to_row, int64_t count, int64_t width) {
    std::copy(from.begin() + from_row * width, from.begin() + (from_row + count) * width,
              to.begin() + to_row * width);
  };
  for (const Document& document : enumerate_documents(shape)) {
    const int64_t lq = document.query_length, lk = document.key_length;
    if (lq == 0 || lk == 0) continue;  // nothing attended: the defaults above are the contract
    const int64_t q_first = document.batch * shape.query_rows + document.query_start;
    const int64_t k_first = document.batch * shape.key_rows + document.key_start;
    ReferenceInputs one;
    one.shape.layout = Layout::kDense;
    one.shape.batch = 1;
    one.shape.query_rows = lq;
    one.shape.key_rows = lk;
    one.heads_q = inputs.heads_q;
    one.heads_kv = inputs.heads_kv;
    one.q = row_slice(inputs.q, q_first, lq, q_width);
    one.k = row_slice(inputs.k, k_first, lk, k_width);
    one.v = row_slice(inputs.v, k_first, lk, v_width);
    if (backward) one.d_o = row_slice(inputs.d_o, q_first, lq, o_width);
    for (const auto& [name, per_document] : spec.parameters) {
      const std::vector<int64_t>& values = inputs.parameters.at(name);
      one.parameters[name] = {per_document ? values[static_cast<size_t>(document.index)]
                                           : values[0]};
    }
    one.alibi_slopes = inputs.alibi_slopes;
    const ReferenceOutputs part = reference_attention(dense, one);
    copy_rows(part.o, 0, full.o, q_first, lq, o_width);
    for (int64_t h = 0; h < inputs.heads_q; ++h) {
      for (int64_t i = 0; i < lq; ++i) {
        full.lse[static_cast<size_t>((document.batch * inputs.heads_q + h) * shape.query_rows +
                                     document.query_start + i)] =
            part.lse[static_cast<size_t>(h * lq + i)];
      }
    }
    if (backward) {
      copy_rows(part.dq, 0, full.dq, q_first, lq, q_width);
      copy_rows(part.dk, 0, full.dk, k_first, lk, k_width);
      copy_rows(part.dv, 0, full.dv, k_first, lk, v_width);
    }
  }
  return full;
}

}  // namespace attncc::testing
