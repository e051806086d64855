// Backend conformance cases and checks (see backend_cases.h).
#include "support/backend_cases.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "support/layout_builders.h"
#include "templates/common/numeric.h"

namespace attncc::testing {
namespace {

// Storage of one tensor in the spec's element type (or fp32 / int32), as the caller would own it.
struct Buffer {
  ScalarType dtype = ScalarType::kFloat32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  TensorRef ref() { return TensorRef::cpu(bytes.data(), dtype, shape); }
  int64_t count() const { return static_cast<int64_t>(bytes.size() / scalar_type_size(dtype)); }

  double get(int64_t index) const {
    switch (dtype) {
      case ScalarType::kFloat16: return to_float(reinterpret_cast<const float16*>(bytes.data())[index]);
      case ScalarType::kBFloat16: return to_float(reinterpret_cast<const bfloat16*>(bytes.data())[index]);
      case ScalarType::kFloat32: return reinterpret_cast<const float*>(bytes.data())[index];
      default: return 0;
    }
  }
  void set(int64_t index, double value) {
    float narrowed = static_cast<float>(value);
    switch (dtype) {
      case ScalarType::kFloat16: reinterpret_cast<float16*>(bytes.data())[index] = from_float<float16>(narrowed); break;
      case ScalarType::kBFloat16: reinterpret_cast<bfloat16*>(bytes.data())[index] = from_float<bfloat16>(narrowed); break;
      case ScalarType::kFloat32: reinterpret_cast<float*>(bytes.data())[index] = narrowed; break;
      default: break;
    }
  }
};

ScalarType element_type(DType dtype) {
  switch (dtype) {
    case DType::kFloat16: return ScalarType::kFloat16;
    case DType::kBFloat16: return ScalarType::kBFloat16;
    case DType::kFloat32: return ScalarType::kFloat32;
  }
  return ScalarType::kFloat32;
}

int64_t product(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t extent : shape) count *= extent;
  return count;
}

Buffer make_buffer(ScalarType dtype, std::vector<int64_t> shape) {
  Buffer buffer;
  buffer.dtype = dtype;
  buffer.shape = std::move(shape);
  buffer.bytes.resize(product(buffer.shape) * scalar_type_size(dtype));
  return buffer;
}

// NaN in every element: a kernel that skips an element leaves a NaN the check finds.
void poison(Buffer& buffer) {
  for (int64_t index = 0; index < buffer.count(); ++index) {
    buffer.set(index, std::numeric_limits<double>::quiet_NaN());
  }
}

Buffer from_values(ScalarType dtype, std::vector<int64_t> shape, const std::vector<double>& values) {
  Buffer buffer = make_buffer(dtype, std::move(shape));
  for (int64_t index = 0; index < buffer.count(); ++index) buffer.set(index, values[index]);
  return buffer;
}

Buffer int32_array(const std::vector<int64_t>& values, std::vector<int64_t> shape) {
  Buffer buffer = make_buffer(ScalarType::kInt32, std::move(shape));
  for (size_t index = 0; index < values.size(); ++index) {
    reinterpret_cast<int32_t*>(buffer.bytes.data())[index] = static_cast<int32_t>(values[index]);
  }
  return buffer;
}

// Rounds every input to the spec's element type, so the reference sees what the kernel sees.
void round_to_dtype(std::vector<double>& values, DType dtype) {
  Buffer scratch = make_buffer(element_type(dtype), {static_cast<int64_t>(values.size())});
  for (size_t index = 0; index < values.size(); ++index) {
    scratch.set(index, values[index]);
    values[index] = scratch.get(index);
  }
}

std::vector<int64_t> leading_shape(const Spec& spec, const LayoutShape& shape, bool query) {
  int64_t rows = query ? shape.query_rows : shape.key_rows;
  if (spec.layout == Layout::kVarlen) return {rows};
  return {shape.batch, rows};
}

std::vector<int64_t> with_heads(std::vector<int64_t> leading, int64_t heads, int64_t width) {
  leading.push_back(heads);
  leading.push_back(width);
  return leading;
}

// Parameter values per document: 0, the document's length, or random, by `mode`.
void add_parameters(const Spec& spec, ReferenceInputs& inputs, const std::vector<Document>& documents,
                    int mode, TestRandom& random) {
  const int64_t count = document_count(inputs.shape);
  for (const auto& [name, per_document] : spec.parameters) {
    if (!per_document) {
      inputs.parameters[name] = {mode == 0 ? 0 : random.integer(1, 64)};
      continue;
    }
    std::vector<int64_t> values(count, 0);
    for (const Document& document : documents) {
      int64_t length = std::max(document.query_length, document.key_length);
      switch ((mode + document.index) % 3) {
        case 0: values[document.index] = 0; break;
        case 1: values[document.index] = length; break;  // e.g. prefix = length: no causal part
        default: values[document.index] = random.integer(0, length + 3); break;
      }
    }
    inputs.parameters[name] = values;
  }
}

double max_abs(const std::vector<double>& values) {
  double result = 0;
  for (double value : values) {
    if (std::isfinite(value)) result = std::max(result, std::fabs(value));
  }
  return result;
}

// For each row of the K/V tensors (batch-major), from the mask predicate itself: whether some
// query of its document attends it (the rows whose dK/dV must be exactly 0 are the others), and
// how many query rows attend it and no other key (dS cancels exactly on those, see
// cancellation_error).
struct KeyRows {
  std::vector<bool> attended;
  std::vector<int64_t> sole_key_queries;
};

KeyRows key_rows(const Spec& spec, const ReferenceInputs& inputs) {
  const LayoutShape& shape = inputs.shape;
  const auto rows = static_cast<size_t>(shape.batch * shape.key_rows);
  KeyRows result{std::vector<bool>(rows, false), std::vector<int64_t>(rows, 0)};
  for (const Document& document : enumerate_documents(shape)) {
    MaskContext context{document.query_length, document.key_length, {}};
    for (const auto& [name, per_document] : spec.parameters) {
      const std::vector<int64_t>& values = inputs.parameters.at(name);
      context.parameters[name] = per_document ? values[document.index] : values[0];
    }
    const int64_t first = document.batch * shape.key_rows + document.key_start;
    for (int64_t i = 0; i < document.query_length; ++i) {
      int64_t keys = 0;
      int64_t last = -1;
      for (int64_t j = 0; j < document.key_length; ++j) {
        if (evaluate(*spec.mask, context, i, j)) {
          result.attended[first + j] = true;
          ++keys;
          last = j;
        }
      }
      if (keys == 1) ++result.sole_key_queries[first + last];
    }
  }
  return result;
}

// Largest Euclidean norm of the `width`-element vectors `values` holds back to back (one per
// row and head).
double max_norm(const std::vector<double>& values, int64_t width) {
  double result = 0;
  for (size_t start = 0; start + static_cast<size_t>(width) <= values.size(); start += width) {
    double sum = 0;
    for (int64_t index = 0; index < width; ++index) {
      sum += values[start + index] * values[start + index];
    }
    result = std::max(result, std::sqrt(sum));
  }
  return result;
}

// The absolute error a dQ or dK element may have however small the reference is, per term that
// cancels: one float32 rounding of the largest term scale * dP * K (or Q), with
// |dP| = |dO . V| <= max |dO| * max |V| (norms). dS = P * (dP - D) cancels exactly on a query
// row that attends a single key (O = V there, so D = dP): the reference holds exact zeros where
// the kernel holds dP - D rounded in float32, which no tolerance relative to zero passes. Such a
// row adds one term to its own dQ and one to its key's dK, per query head: a key that many such
// rows attend (`j == i * $d` with $d = 0: every row attends key 0) sums their roundings.
// Measured on random single-key masks: errors up to 0.37 of one term's bound on dQ, 1.2 on a
// dK of 520 terms. In the spec suites one term's bound stays below 6e-6 of the largest
// reference dQ, under the fp32 tolerance of 1e-5, so it loosens nothing there. A wrong key or
// mask costs whole terms, orders of magnitude above one rounding.
double cancellation_error(const Spec& spec, const ReferenceInputs& inputs,
                          const std::vector<double>& other_side) {
  return std::numeric_limits<float>::epsilon() * spec.scale() *
         max_norm(inputs.d_o, spec.head_dim_v) * max_norm(inputs.v, spec.head_dim_v) *
         max_abs(other_side);
}

// `attended_rows`: rows (of `row_width` elements) not flagged must be exactly 0; empty = no such
// rule. Errors up to `absolute_error` pass whatever the reference's magnitude, times
// `row_terms[row]` where given and larger than 1.
void compare(const std::string& name, const Buffer& actual, const std::vector<double>& expected,
             double tolerance, const std::vector<bool>& attended_rows = {}, int64_t row_width = 1,
             double absolute_error = 0, const std::vector<int64_t>& row_terms = {}) {
  ASSERT_EQ(actual.count(), static_cast<int64_t>(expected.size())) << name;
  const double largest = max_abs(expected);
  double scale = std::max({largest, absolute_error / tolerance, 1e-30});
  double worst_scale = scale;
  double worst = 0;
  int64_t worst_index = -1;
  int64_t mismatched_infinities = 0;
  int64_t nans = 0;
  int64_t nonzero_where_zero = 0;
  for (int64_t index = 0; index < actual.count(); ++index) {
    double value = actual.get(index);
    double reference = expected[index];
    if (std::isnan(value)) {
      ++nans;
      continue;
    }
    if (std::isinf(reference) || std::isinf(value)) {
      if (value != reference) ++mismatched_infinities;
      continue;
    }
    if (!attended_rows.empty() && !attended_rows[index / row_width] && value != 0.0) {
      ++nonzero_where_zero;
    }
    double element_scale = scale;
    if (!row_terms.empty() && row_terms[index / row_width] > 1) {
      element_scale = std::max(
          largest, absolute_error * static_cast<double>(row_terms[index / row_width]) / tolerance);
    }
    double error = std::fabs(value - reference) / element_scale;
    if (error > worst) {
      worst = error;
      worst_index = index;
      worst_scale = element_scale;
    }
  }
  EXPECT_EQ(nans, 0) << name << ": NaN elements (unwritten, or NaN produced)";
  EXPECT_EQ(mismatched_infinities, 0) << name << ": -inf where the reference is finite or back";
  EXPECT_EQ(nonzero_where_zero, 0) << name << ": elements of keys nobody attends are not "
                                   << "exactly 0";
  EXPECT_LE(worst, tolerance) << name << ": relative error " << worst << " at element "
                              << worst_index << " (kernel " << actual.get(worst_index)
                              << ", reference " << expected[worst_index] << ", scale "
                              << worst_scale << ")";
}

// One case on `layout`: random tensors rounded to the dtype, `heads` (Hq, Hkv), parameters by
// `mode` (add_parameters); mode 1 also passes grid bounds of 1 row (max_seqlen_q/k).
BackendCase make_case(const Spec& spec, const std::string& description, const BuiltLayout& layout,
                      std::pair<int64_t, int64_t> heads, int mode, TestRandom& random) {
  BackendCase test_case;
  test_case.inputs.shape = layout.shape;
  test_case.inputs.heads_q = heads.first;
  test_case.inputs.heads_kv = heads.second;
  test_case.description = description + "; GQA " + std::to_string(heads.first) + ":" +
                          std::to_string(heads.second) +
                          (spec.parameters.empty() ? "" : mode == 0 ? "; parameters 0 / length / random"
                                                                    : "; parameters length / random / 0") +
                          (mode == 1 ? "; max_seqlen 1 (grids of one tile in x)" : "");
  if (mode == 1) test_case.max_seqlen_q = test_case.max_seqlen_k = 1;
  fill_random_tensors(test_case.inputs, spec.head_dim, spec.head_dim_v, spec.backward, spec.alibi,
                      random);
  for (std::vector<double>* tensor : {&test_case.inputs.q, &test_case.inputs.k,
                                      &test_case.inputs.v, &test_case.inputs.d_o}) {
    round_to_dtype(*tensor, spec.dtype);
  }
  add_parameters(spec, test_case.inputs, layout.documents, mode, random);
  return test_case;
}

}  // namespace

double backend_tolerance(DType dtype) { return dtype == DType::kFloat32 ? 1e-5 : 2e-2; }

Spec with_dtype_and_head_dim(const Spec& spec, DType dtype, int head_dim, int head_dim_v) {
  if (head_dim_v == 0) head_dim_v = head_dim;
  nlohmann::json object = nlohmann::json::parse(spec.canonical_text());
  object["dtype"] = std::string(dtype_name(dtype));
  object["head_dim"] = head_dim;
  object["head_dim_v"] = head_dim_v;
  Spec result = Spec::parse(object.dump(), spec.name + " (" + std::string(dtype_name(dtype)) +
                                               ", d" + std::to_string(head_dim) + "/" +
                                               std::to_string(head_dim_v) + ")");
  result.name = spec.name;
  return result;
}

std::vector<BackendCase> backend_cases(const Spec& spec, TestRandom& random) {
  struct Shape {
    std::string description;
    BuiltLayout layout;
  };
  std::vector<Shape> shapes;
  switch (spec.layout) {
    case Layout::kDense:
      shapes.push_back({"dense B=4: full row spanning 3 tiles, 1-token row, Lq=0 row, Lq > Lk row",
                        build_dense(150, 140, {{150, 140}, {1, 1}, {0, 37}, {90, 20}})});
      break;
    case Layout::kVarlen:
      // Gaps give cu_seqlens_*_padded: a K/V past slot in front, padding between documents.
      shapes.push_back({"varlen: 3-tile doc, sentinel, 1-token doc, Lq > Lk, Lq < Lk, padded gaps and a K/V past slot",
                        build_varlen({{140, 140}, {0, 0}, {1, 1}, {130, 60}, {40, 150}},
                                     {0, 3, 0, 2, 0, 5}, {7, 0, 1, 0, 3, 2})});
      break;
    case Layout::kDocPacked:
      shapes.push_back({"doc_packed B=3, MAX_DOCS=4: docs of 100, 1, 40; one 150-token doc; a row of sentinels only",
                        build_doc_packed(150, 4, {{100, 1, 40}, {150}, {}})});
      break;
  }
  std::vector<BackendCase> cases;
  const std::pair<int64_t, int64_t> kHeads[] = {{2, 2}, {4, 1}};
  for (const Shape& shape : shapes) {
    for (int mode = 0; mode < 2; ++mode) {
      cases.push_back(make_case(spec, shape.description, shape.layout, kHeads[mode], mode, random));
    }
  }
  return cases;
}

BackendCase random_backend_case(const Spec& spec, TestRandom& random, int64_t max_length) {
  const std::pair<int64_t, int64_t> kHeads[] = {{1, 1}, {2, 1}, {4, 1}, {3, 3}};
  BuiltLayout layout = random_layout(spec.layout, random, max_length);
  const int mode = static_cast<int>(random.integer(0, 1));
  return make_case(spec, "random " + std::string(layout_name(spec.layout)) + " layout",
                   layout, kHeads[random.integer(0, 3)], mode, random);
}

void check_backend_case(const Kernel& kernel, const BackendCase& test_case,
                        const PassRunner& runner) {
  auto run = [&](const AttentionArguments& arguments, bool backward) {
    if (runner) {
      runner(kernel, arguments, backward);
    } else if (backward) {
      kernel.backward(arguments);
    } else {
      kernel.forward(arguments);
    }
  };
  const Spec& spec = kernel.spec();
  const ReferenceInputs& inputs = test_case.inputs;
  // Forward only: the gradients are checked against a second run given the kernel's stored O.
  ReferenceInputs forward_inputs = inputs;
  forward_inputs.d_o.clear();
  const ReferenceOutputs expected = reference_attention(spec, forward_inputs);
  const ScalarType element = element_type(spec.dtype);
  const LayoutShape& shape = inputs.shape;
  const auto q_shape = with_heads(leading_shape(spec, shape, true), inputs.heads_q, spec.head_dim);
  const auto k_shape = with_heads(leading_shape(spec, shape, false), inputs.heads_kv, spec.head_dim);
  const auto v_shape = with_heads(leading_shape(spec, shape, false), inputs.heads_kv, spec.head_dim_v);
  const auto o_shape = with_heads(leading_shape(spec, shape, true), inputs.heads_q, spec.head_dim_v);
  const std::vector<int64_t> lse_shape =
      spec.layout == Layout::kVarlen ? std::vector<int64_t>{inputs.heads_q, shape.query_rows}
                                     : std::vector<int64_t>{shape.batch, inputs.heads_q, shape.query_rows};

  Buffer q = from_values(element, q_shape, inputs.q);
  Buffer k = from_values(element, k_shape, inputs.k);
  Buffer v = from_values(element, v_shape, inputs.v);
  Buffer o = make_buffer(element, o_shape);
  Buffer lse = make_buffer(ScalarType::kFloat32, lse_shape);
  poison(o);
  poison(lse);
  std::vector<Buffer> arrays;  // keeps offset and parameter arrays alive
  arrays.reserve(16);
  AttentionArguments arguments;
  arguments.q = q.ref();
  arguments.k = k.ref();
  arguments.v = v.ref();
  arguments.o = o.ref();
  arguments.lse = lse.ref();
  auto array = [&](const std::vector<int64_t>& values, std::vector<int64_t> array_shape) {
    arrays.push_back(int32_array(values, std::move(array_shape)));
    return arrays.back().ref();
  };
  if (!shape.seqlens_q.empty()) arguments.seqlens_q = array(shape.seqlens_q, {shape.batch});
  if (!shape.seqlens_k.empty()) arguments.seqlens_k = array(shape.seqlens_k, {shape.batch});
  auto one_d = [&](const std::vector<int64_t>& values) {
    return array(values, {static_cast<int64_t>(values.size())});
  };
  if (!shape.cu_seqlens_q.empty()) arguments.cu_seqlens_q = one_d(shape.cu_seqlens_q);
  if (!shape.cu_seqlens_k.empty()) arguments.cu_seqlens_k = one_d(shape.cu_seqlens_k);
  if (!shape.cu_seqlens_q_padded.empty()) arguments.cu_seqlens_q_padded = one_d(shape.cu_seqlens_q_padded);
  if (!shape.cu_seqlens_k_padded.empty()) arguments.cu_seqlens_k_padded = one_d(shape.cu_seqlens_k_padded);
  if (!shape.cu_seq.empty()) arguments.cu_seq = array(shape.cu_seq, {shape.batch, shape.max_docs + 1});
  for (const auto& [name, values] : inputs.parameters) arguments.parameters[name] = one_d(values);
  Buffer slopes;
  if (spec.alibi) {
    slopes = from_values(ScalarType::kFloat32, {inputs.heads_q}, inputs.alibi_slopes);
    arguments.alibi_slopes = slopes.ref();
  }

  arguments.max_seqlen_q = test_case.max_seqlen_q;
  arguments.max_seqlen_k = test_case.max_seqlen_k;

  SCOPED_TRACE(test_case.description);
  run(arguments, false);
  const double tolerance = backend_tolerance(spec.dtype);
  compare("o", o, expected.o, tolerance);
  compare("lse", lse, expected.lse, spec.dtype == DType::kFloat32 ? 1e-5 : 1e-2);
  if (!spec.backward) return;

  Buffer d_o = from_values(element, o_shape, inputs.d_o);
  Buffer dq = make_buffer(element, q_shape);
  Buffer dk = make_buffer(element, k_shape);
  Buffer dv = make_buffer(element, v_shape);
  poison(dq);
  poison(dk);
  poison(dv);
  arguments.d_o = d_o.ref();
  arguments.dq = dq.ref();
  arguments.dk = dk.ref();
  arguments.dv = dv.ref();
  run(arguments, true);
  // The kernels' D_i = dO_i . O_i reads O as the forward stored it (in the spec's dtype), as
  // every FlashAttention-style backward does; where dP - D cancels, that rounding is the whole
  // dS. So the gradients are checked against the reference given that O (checked above).
  ReferenceInputs with_stored_o = inputs;
  with_stored_o.o_for_delta.resize(static_cast<size_t>(o.count()));
  for (int64_t index = 0; index < o.count(); ++index) {
    with_stored_o.o_for_delta[static_cast<size_t>(index)] = o.get(index);
  }
  const ReferenceOutputs gradients = reference_attention(spec, with_stored_o);
  compare("dq", dq, gradients.dq, tolerance, {}, 1,
          cancellation_error(spec, inputs, inputs.k));
  KeyRows keys = key_rows(spec, inputs);
  for (int64_t& count : keys.sole_key_queries) count *= inputs.heads_q / inputs.heads_kv;
  compare("dk", dk, gradients.dk, tolerance, keys.attended, inputs.heads_kv * spec.head_dim,
          cancellation_error(spec, inputs, inputs.q), keys.sole_key_queries);
  compare("dv", dv, gradients.dv, tolerance, keys.attended, inputs.heads_kv * spec.head_dim_v);
}

}  // namespace attncc::testing
