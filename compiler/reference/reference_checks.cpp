// Argument validation of the float64 reference: every size and parameter is checked here, so
// reference.cpp indexes its tensors without bounds checks.
#include "compiler/reference/reference_checks.h"

#include <cmath>
#include <iomanip>
#include <sstream>
#include <string>
#include <utility>

#include "attncc/error.h"

namespace attncc::reference_detail {
namespace {

std::string text(int64_t value) { return std::to_string(value); }

// A double as %g-style text with every digit that matters (std::to_string prints "-1.000000").
std::string real_text(double value) {
  std::ostringstream out;
  out << std::setprecision(17) << value;
  return out.str();
}

Error argument_error(std::string_view where, std::string_view message, std::string_view hint = {}) {
  return user_error(ErrorCode::kInvalidArgument, where, message, hint);
}

Error spec_error(std::string_view where, std::string_view message, std::string_view hint = {}) {
  return user_error(ErrorCode::kInvalidSpec, where, message, hint);
}

// The dimensions of one tensor, named as in DESIGN §1, e.g. {B, 2}, {Sq, 5}, {Hq, 4}, {D, 8}.
using Dims = std::vector<std::pair<std::string, int64_t>>;

Dims tensor_dims(const Geometry& g, Layout layout, bool query, std::string heads_name,
                 int64_t heads, std::string dim_name, int64_t dim) {
  Dims dims;
  int64_t rows = query ? g.q_rows : g.k_rows;
  switch (layout) {
    case Layout::kDense:
      dims = {{"B", g.batch}, {query ? "Sq" : "Sk", rows}};
      break;
    case Layout::kVarlen: dims = {{query ? "Tq" : "Tk", rows}}; break;
    case Layout::kDocPacked: dims = {{"B", g.batch}, {"S", rows}}; break;
  }
  dims.emplace_back(std::move(heads_name), heads);
  dims.emplace_back(std::move(dim_name), dim);
  return dims;
}

// Number of elements of `dims`; a product past int64 is a size no tensor can have, so it is
// rejected here and the unchecked offset helpers of Geometry stay in range.
int64_t element_count(const Dims& dims, std::string_view tensor) {
  int64_t result = 1;
  for (const auto& [name, size] : dims) {
    if (__builtin_mul_overflow(result, size, &result)) {
      throw argument_error(tensor, "shape has more than 2^63 elements",
                           "check the sizes in the layout and the head counts");
    }
  }
  return result;
}

void check_size(std::string_view tensor, size_t actual, const Dims& dims) {
  int64_t expected = element_count(dims, tensor);
  if (static_cast<int64_t>(actual) == expected) return;
  std::string names, values;
  for (const auto& [name, size] : dims) {
    names += (names.empty() ? "" : ", ") + name;
    values += (values.empty() ? "" : ", ") + text(size);
  }
  throw argument_error(tensor,
                       "has " + text(static_cast<int64_t>(actual)) + " elements, expected " +
                           text(expected),
                       std::string(tensor) + " is [" + names + "] = [" + values +
                           "], contiguous row-major");
}

// Divisors of n, as "1, 2, 4" (the valid Hkv for Hq = n).
std::string divisors(int64_t n) {
  std::string list;
  for (int64_t d = 1; d <= n; ++d) {
    if (n % d != 0) continue;
    if (!list.empty()) list += ", ";
    list += text(d);
  }
  return list;
}

std::string parameter_list(const std::map<std::string, bool>& parameters) {
  std::string list;
  for (const auto& [name, per_document] : parameters) {
    if (!list.empty()) list += ", ";
    list += "$" + name + (per_document ? "[doc]" : "");
  }
  return list;
}

void check_spec(const Spec& spec) {
  if (!spec.mask) {
    throw spec_error("mask", "the spec has no mask tree",
                     "build the spec with Spec::parse or set spec.mask");
  }
  if (spec.head_dim < 1) {
    throw spec_error("head_dim", "is " + text(spec.head_dim) + ", must be >= 1");
  }
  if (spec.head_dim_v < 1) {
    throw spec_error("head_dim_v", "is " + text(spec.head_dim_v) + ", must be >= 1");
  }
  if (!std::isfinite(spec.softcap) || spec.softcap < 0) {
    throw spec_error("softcap", "is " + real_text(spec.softcap) + ", must be >= 0",
                     "0 turns soft-capping off");
  }
  double scale = spec.scale();
  if (!std::isfinite(scale)) {
    throw spec_error("softmax_scale", "is " + real_text(scale) + ", must be finite");
  }
}

// The parameters the mask uses; the spec's declared parameters must agree with the tree.
std::map<std::string, bool> mask_parameters(const Spec& spec) {
  std::map<std::string, bool> used = collect_parameters(*spec.mask, spec.mask_text);
  for (const auto& [name, per_document] : spec.parameters) {
    auto found = used.find(name);
    if (found != used.end() && found->second != per_document) {
      throw spec_error("$" + name,
                       std::string("is declared ") + (per_document ? "per document" : "scalar") +
                           " in the spec but used " +
                           (found->second ? "per document" : "as a scalar") + " by the mask",
                       "make spec.parameters match the mask");
    }
    used.emplace(name, per_document);
  }
  return used;
}

void check_parameters(const std::map<std::string, bool>& used, const ReferenceInputs& inputs) {
  int64_t documents = document_count(inputs.shape);
  for (const auto& [name, per_document] : used) {
    auto found = inputs.parameters.find(name);
    int64_t expected = per_document ? documents : 1;
    std::string expected_text =
        per_document ? text(expected) + " values (one per document of the " +
                           std::string(layout_name(inputs.shape.layout)) + " layout)"
                     : std::string("1 value (a scalar)");
    if (found == inputs.parameters.end()) {
      throw argument_error("$" + name, "mask parameter has no value",
                           "pass parameters[\"" + name + "\"] with " + expected_text);
    }
    int64_t actual = static_cast<int64_t>(found->second.size());
    if (actual != expected) {
      throw argument_error("$" + name,
                           "has " + text(actual) + " values, must have " + expected_text);
    }
  }
  for (const auto& [name, values] : inputs.parameters) {
    if (used.count(name) != 0) continue;
    throw argument_error("$" + name, "is not a parameter of the mask",
                         used.empty() ? std::string("the mask uses no parameters: remove it")
                                      : "the mask uses " + parameter_list(used) + ": remove it");
  }
}

}  // namespace

CheckedProblem check_reference_inputs(const Spec& spec, const ReferenceInputs& inputs) {
  check_spec(spec);
  const LayoutShape& shape = inputs.shape;
  if (shape.layout != spec.layout) {
    throw argument_error("layout",
                         "inputs are " + std::string(layout_name(shape.layout)) +
                             ", the spec is " + std::string(layout_name(spec.layout)),
                         "pass offsets of the spec's layout");
  }
  CheckedProblem problem;
  problem.documents = enumerate_documents(shape);
  if (inputs.heads_q < 1) {
    throw argument_error("heads_q", "is " + text(inputs.heads_q) + ", must be >= 1");
  }
  if (inputs.heads_kv < 1) {
    throw argument_error("heads_kv", "is " + text(inputs.heads_kv) + ", must be >= 1");
  }
  if (inputs.heads_q % inputs.heads_kv != 0) {
    throw argument_error(
        "heads_kv",
        "is " + text(inputs.heads_kv) + ", does not divide heads_q = " + text(inputs.heads_q),
        "GQA needs Hq % Hkv == 0 (query head h reads kv head h / (Hq / Hkv)): use Hkv in {" +
            divisors(inputs.heads_q) + "}");
  }
  Geometry& g = problem.geometry;
  g.batch = shape.layout == Layout::kVarlen ? 1 : shape.batch;
  g.q_rows = shape.query_rows;
  g.k_rows = shape.key_rows;
  g.heads_q = inputs.heads_q;
  g.heads_kv = inputs.heads_kv;
  g.head_dim = spec.head_dim;
  g.head_dim_v = spec.head_dim_v;
  Layout layout = shape.layout;
  check_size("q", inputs.q.size(), tensor_dims(g, layout, true, "Hq", g.heads_q, "D", g.head_dim));
  check_size("k", inputs.k.size(),
             tensor_dims(g, layout, false, "Hkv", g.heads_kv, "D", g.head_dim));
  check_size("v", inputs.v.size(),
             tensor_dims(g, layout, false, "Hkv", g.heads_kv, "Dv", g.head_dim_v));
  Dims o_dims = tensor_dims(g, layout, true, "Hq", g.heads_q, "Dv", g.head_dim_v);
  element_count(o_dims, "o");
  if (!inputs.d_o.empty()) check_size("do", inputs.d_o.size(), o_dims);
  if (!inputs.o_for_delta.empty()) check_size("o_for_delta", inputs.o_for_delta.size(), o_dims);
  problem.parameters = mask_parameters(spec);
  check_parameters(problem.parameters, inputs);
  if (spec.alibi && static_cast<int64_t>(inputs.alibi_slopes.size()) != g.heads_q) {
    throw argument_error("alibi_slopes",
                         "has " + text(static_cast<int64_t>(inputs.alibi_slopes.size())) +
                             " values, must have Hq = " + text(g.heads_q),
                         "pass one slope per query head");
  }
  if (!spec.alibi && !inputs.alibi_slopes.empty()) {
    throw argument_error("alibi_slopes", "given, but the spec has no alibi",
                         "set \"alibi\": true in the spec or pass no slopes");
  }
  return problem;
}

}  // namespace attncc::reference_detail
