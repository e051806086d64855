// Validation of call arguments (see argument_validation.h). Every message follows
// `argument: error: what; fix` so a user can act on it without reading attncc's source.
#include "runtime/argument_validation.h"

#include <climits>
#include <string>

#include "attncc/error.h"
#include "compiler/ir/primitives.h"
#include "compiler/spec/json_location.h"

namespace attncc {
namespace {

[[noreturn]] void fail(const std::string& argument, const std::string& message,
                       const std::string& hint = {}) {
  throw user_error(ErrorCode::kInvalidArgument, argument, message, hint);
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t axis = 0; axis < shape.size(); ++axis) {
    text += (axis ? ", " : "") + std::to_string(shape[axis]);
  }
  return text + "]";
}

ScalarType spec_scalar_type(DType dtype) {
  switch (dtype) {
    case DType::kFloat16: return ScalarType::kFloat16;
    case DType::kBFloat16: return ScalarType::kBFloat16;
    case DType::kFloat32: return ScalarType::kFloat32;
  }
  return ScalarType::kFloat32;
}

// Strides, when given, need one entry per dimension: a hand-built TensorRef may have fewer, and
// every later check indexes them by dimension.
void check_stride_count(const std::string& name, const TensorRef& tensor) {
  if (!tensor.strides.empty() && tensor.strides.size() != tensor.shape.size()) {
    fail(name, "has " + std::to_string(tensor.shape.size()) + " dimensions but " +
                   std::to_string(tensor.strides.size()) + " strides",
         "give one stride per dimension, or none for a contiguous tensor");
  }
}

// Largest element offset a tensor addresses, or a failure if it overflows int64.
void check_extent(const std::string& name, const TensorRef& tensor) {
  check_stride_count(name, tensor);
  // Dimensions first: contiguous strides derived from a negative extent are negative too, and
  // the caller should hear about the dimension they passed, not a stride they did not.
  for (size_t axis = 0; axis < tensor.shape.size(); ++axis) {
    if (tensor.shape[axis] < 0) fail(name, "dimension " + std::to_string(axis) + " is negative (" +
                                               std::to_string(tensor.shape[axis]) + ")");
  }
  std::vector<int64_t> strides = tensor.effective_strides();
  int64_t last = 0;
  for (size_t axis = 0; axis < tensor.shape.size(); ++axis) {
    if (strides[axis] < 0) {
      fail(name, "stride of dimension " + std::to_string(axis) + " is negative (" +
                     std::to_string(strides[axis]) + ")",
           "pass a tensor with non-negative strides (e.g. .contiguous())");
    }
    int64_t step = 0;
    if (tensor.shape[axis] > 0 &&
        (__builtin_mul_overflow(tensor.shape[axis] - 1, strides[axis], &step) ||
         __builtin_add_overflow(last, step, &last))) {
      fail(name, "shape " + shape_text(tensor.shape) + " with strides " + shape_text(strides) +
                     " addresses more than 2^63 elements",
           "split the problem into smaller calls");
    }
  }
}

// Every tensor attncc reads or writes through its pointer: non-null unless empty, and aligned.
void check_data_pointer(const std::string& name, const TensorRef& tensor) {
  if (tensor.data == nullptr && tensor.numel() > 0) fail(name, "data pointer is null");
  if (reinterpret_cast<uintptr_t>(tensor.data) % scalar_type_size(tensor.dtype) != 0) {
    fail(name, "data pointer is not aligned to its element size (" +
                   std::to_string(scalar_type_size(tensor.dtype)) + " bytes)");
  }
}

void check_device(const std::string& name, const TensorRef& tensor, DeviceKind device) {
  if (tensor.device != device) {
    fail(name, std::string("is on ") + (tensor.device == DeviceKind::kCuda ? "cuda" : "cpu") +
                   " but this kernel runs on " + (device == DeviceKind::kCuda ? "cuda" : "cpu"),
         "move the tensor or pick the other backend");
  }
}

// Q/K/V/O-like tensor: rank per layout, dtype of the spec, contiguous last dimension of `width`.
void check_attention_tensor(const std::string& name, const TensorRef& tensor, const Spec& spec,
                            int64_t width, DeviceKind device) {
  if (!tensor.given()) fail(name, "is missing", "pass it in AttentionArguments::" + name);
  size_t rank = spec.layout == Layout::kVarlen ? 3 : 4;
  const char* expected_shape = spec.layout == Layout::kVarlen ? "[tokens, heads, dim]"
                                                              : "[batch, seq, heads, dim]";
  if (tensor.shape.size() != rank) {
    fail(name, "has shape " + shape_text(tensor.shape) + "; layout " +
                   std::string(layout_name(spec.layout)) + " needs " + expected_shape);
  }
  check_stride_count(name, tensor);
  if (tensor.dtype != spec_scalar_type(spec.dtype)) {
    // Another spec is only a fix when the tensor's dtype is one a spec can have.
    const bool spec_dtype = tensor.dtype == ScalarType::kFloat16 ||
                            tensor.dtype == ScalarType::kBFloat16 ||
                            tensor.dtype == ScalarType::kFloat32;
    fail(name, "dtype is " + std::string(scalar_type_name(tensor.dtype)) + " but the spec says " +
                   std::string(dtype_name(spec.dtype)),
         spec_dtype ? "convert the tensor or use a spec with dtype " +
                          std::string(scalar_type_name(tensor.dtype))
                    : "convert the tensor to " + std::string(dtype_name(spec.dtype)));
  }
  check_device(name, tensor, device);
  if (tensor.shape.back() != width) {
    fail(name, "last dimension is " + std::to_string(tensor.shape.back()) + " but the spec's " +
                   (name == "v" || name == "o" || name == "d_o" || name == "dv" ? "head_dim_v"
                                                                                : "head_dim") +
                   " is " + std::to_string(width));
  }
  if (tensor.effective_strides().back() != 1 && tensor.shape.back() > 1) {
    fail(name, "last dimension is not contiguous (stride " +
                   std::to_string(tensor.effective_strides().back()) + ")",
         "pass a tensor whose last dimension has stride 1 (e.g. .contiguous())");
  }
  check_data_pointer(name, tensor);
  check_extent(name, tensor);
}

void expect_same_shape(const std::string& name, const TensorRef& tensor,
                       const std::vector<int64_t>& expected, const std::string& reason) {
  if (tensor.shape != expected) {
    fail(name, "has shape " + shape_text(tensor.shape) + ", expected " + shape_text(expected),
         reason);
  }
}

// An integer array (offsets, lengths, parameters) copied to host int64 values.
std::vector<int64_t> read_integers(const std::string& name, const TensorRef& tensor,
                                   DeviceKind device) {
  if (tensor.dtype != ScalarType::kInt32 && tensor.dtype != ScalarType::kInt64) {
    fail(name, "dtype is " + std::string(scalar_type_name(tensor.dtype)) + "; expected int32 (or int64)");
  }
  check_device(name, tensor, device);
  check_data_pointer(name, tensor);
  check_extent(name, tensor);
  // Device arrays are read by the kernels, never by the host (DESIGN §5 "sync-free launches"):
  // only their dtype, shape and pointer are checked here.
  if (device != DeviceKind::kCpu) return {};
  std::vector<int64_t> strides = tensor.effective_strides();
  std::vector<int64_t> values;
  values.reserve(static_cast<size_t>(tensor.numel()));
  // Row-major walk over up to 2 dimensions (the only ranks attncc's arrays have).
  int64_t rows = tensor.shape.size() == 2 ? tensor.shape[0] : 1;
  int64_t columns = tensor.shape.empty() ? 1 : tensor.shape.back();
  int64_t row_stride = tensor.shape.size() == 2 ? strides[0] : 0;
  int64_t column_stride = tensor.shape.empty() ? 0 : strides.back();
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t column = 0; column < columns; ++column) {
      int64_t offset = row * row_stride + column * column_stride;
      values.push_back(tensor.dtype == ScalarType::kInt32
                           ? static_cast<const int32_t*>(tensor.data)[offset]
                           : static_cast<const int64_t*>(tensor.data)[offset]);
    }
  }
  return values;
}

std::vector<int64_t> read_array(const std::string& name, const TensorRef& tensor,
                                DeviceKind device, size_t rank) {
  if (tensor.shape.size() != rank) {
    fail(name, "has shape " + shape_text(tensor.shape) + "; expected a " + std::to_string(rank) +
                   "-D array");
  }
  return read_integers(name, tensor, device);
}

void reject_if_given(const std::string& name, const TensorRef& tensor, Layout layout) {
  if (tensor.given()) {
    fail(name, "is not used by layout " + std::string(layout_name(layout)),
         "remove it, or use a spec whose layout takes it");
  }
}

void check_rows_fit_int32(const std::string& name, int64_t rows) {
  if (rows > INT32_MAX) {
    fail(name, "has " + std::to_string(rows) + " rows in its sequence dimension; at most " +
                   std::to_string(INT32_MAX) + " are supported (offsets are int32)",
         "split the sequence into several calls");
  }
}

LayoutShape build_layout_shape(const Spec& spec, const AttentionArguments& arguments,
                               DeviceKind device) {
  const TensorRef& q = arguments.q;
  const TensorRef& k = arguments.k;
  LayoutShape shape;
  shape.layout = spec.layout;
  switch (spec.layout) {
    case Layout::kDense:
      shape.batch = q.shape[0];
      shape.query_rows = q.shape[1];
      shape.key_rows = k.shape[1];
      if (k.shape[0] != shape.batch) {
        fail("k", "batch is " + std::to_string(k.shape[0]) + " but q's is " +
                      std::to_string(shape.batch));
      }
      if (arguments.seqlens_q.given()) shape.seqlens_q = read_array("seqlens_q", arguments.seqlens_q, device, 1);
      if (arguments.seqlens_k.given()) shape.seqlens_k = read_array("seqlens_k", arguments.seqlens_k, device, 1);
      for (const auto& [name, tensor] :
           {std::pair<const char*, const TensorRef*>{"cu_seqlens_q", &arguments.cu_seqlens_q},
            {"cu_seqlens_k", &arguments.cu_seqlens_k},
            {"cu_seqlens_q_padded", &arguments.cu_seqlens_q_padded},
            {"cu_seqlens_k_padded", &arguments.cu_seqlens_k_padded},
            {"cu_seq", &arguments.cu_seq}}) {
        reject_if_given(name, *tensor, spec.layout);
      }
      break;
    case Layout::kVarlen:
      shape.batch = 1;
      shape.query_rows = q.shape[0];
      shape.key_rows = k.shape[0];
      if (!arguments.cu_seqlens_q.given() || !arguments.cu_seqlens_k.given()) {
        fail(arguments.cu_seqlens_q.given() ? "cu_seqlens_k" : "cu_seqlens_q", "is missing",
             "layout varlen needs cu_seqlens_q and cu_seqlens_k ([N + 1] prefix sums of lengths)");
      }
      shape.cu_seqlens_q = read_array("cu_seqlens_q", arguments.cu_seqlens_q, device, 1);
      shape.cu_seqlens_k = read_array("cu_seqlens_k", arguments.cu_seqlens_k, device, 1);
      if (arguments.cu_seqlens_q_padded.given()) {
        shape.cu_seqlens_q_padded =
            read_array("cu_seqlens_q_padded", arguments.cu_seqlens_q_padded, device, 1);
      }
      if (arguments.cu_seqlens_k_padded.given()) {
        shape.cu_seqlens_k_padded =
            read_array("cu_seqlens_k_padded", arguments.cu_seqlens_k_padded, device, 1);
      }
      reject_if_given("seqlens_q", arguments.seqlens_q, spec.layout);
      reject_if_given("seqlens_k", arguments.seqlens_k, spec.layout);
      reject_if_given("cu_seq", arguments.cu_seq, spec.layout);
      break;
    case Layout::kDocPacked:
      shape.batch = q.shape[0];
      shape.query_rows = q.shape[1];
      shape.key_rows = k.shape[1];
      if (k.shape[0] != shape.batch || k.shape[1] != shape.query_rows) {
        fail("k", "has shape " + shape_text(k.shape) + " but doc_packed is self-attention: K/V "
                      "must have q's batch and sequence length (" + std::to_string(shape.batch) +
                      ", " + std::to_string(shape.query_rows) + ")");
      }
      if (!arguments.cu_seq.given()) {
        fail("cu_seq", "is missing", "layout doc_packed needs cu_seq [B, MAX_DOCS + 1]");
      }
      if (arguments.cu_seq.shape.size() != 2 || arguments.cu_seq.shape[0] != shape.batch ||
          arguments.cu_seq.shape[1] < 1) {
        fail("cu_seq", "has shape " + shape_text(arguments.cu_seq.shape) + ", expected [" +
                           std::to_string(shape.batch) + ", MAX_DOCS + 1]");
      }
      shape.cu_seq = read_integers("cu_seq", arguments.cu_seq, device);
      shape.max_docs = arguments.cu_seq.shape[1] - 1;
      for (const auto& [name, tensor] :
           {std::pair<const char*, const TensorRef*>{"seqlens_q", &arguments.seqlens_q},
            {"seqlens_k", &arguments.seqlens_k},
            {"cu_seqlens_q", &arguments.cu_seqlens_q},
            {"cu_seqlens_k", &arguments.cu_seqlens_k},
            {"cu_seqlens_q_padded", &arguments.cu_seqlens_q_padded},
            {"cu_seqlens_k_padded", &arguments.cu_seqlens_k_padded}}) {
        reject_if_given(name, *tensor, spec.layout);
      }
      break;
  }
  check_rows_fit_int32("q", shape.query_rows);
  check_rows_fit_int32("k", shape.key_rows);
  return shape;
}

// Documents of a call whose offset arrays stay on the device: from the arrays' shapes.
int64_t device_document_count(const Spec& spec, const AttentionArguments& arguments) {
  switch (spec.layout) {
    case Layout::kDense: return arguments.q.shape[0];
    case Layout::kVarlen: return arguments.cu_seqlens_q.numel() - 1;
    case Layout::kDocPacked: return arguments.cu_seq.shape[0] * (arguments.cu_seq.shape[1] - 1);
  }
  return 0;
}

// The array lengths enumerate_documents checks on the host, for arrays left on the device.
void check_device_array_lengths(const Spec& spec, const AttentionArguments& arguments) {
  auto expect_length = [](const char* name, const TensorRef& tensor, int64_t length,
                          const std::string& reason) {
    if (tensor.given() && tensor.numel() != length) {
      fail(name, "has " + std::to_string(tensor.numel()) + " entries, expected " +
                     std::to_string(length), reason);
    }
  };
  switch (spec.layout) {
    case Layout::kDense:
      expect_length("seqlens_q", arguments.seqlens_q, arguments.q.shape[0], "one length per batch row");
      expect_length("seqlens_k", arguments.seqlens_k, arguments.q.shape[0], "one length per batch row");
      break;
    case Layout::kVarlen: {
      const int64_t entries = arguments.cu_seqlens_q.numel();
      if (entries < 1) fail("cu_seqlens_q", "is empty", "pass [N + 1] prefix sums starting at 0");
      const std::string reason = "[N + 1] entries like cu_seqlens_q";
      expect_length("cu_seqlens_k", arguments.cu_seqlens_k, entries, reason);
      expect_length("cu_seqlens_q_padded", arguments.cu_seqlens_q_padded, entries, reason);
      expect_length("cu_seqlens_k_padded", arguments.cu_seqlens_k_padded, entries, reason);
      break;
    }
    case Layout::kDocPacked: break;  // cu_seq's shape is checked by build_layout_shape
  }
}

// Per-document parameter values in slot (name) order, with the primitives' argument ranges
// checked for every document (e.g. chunk($c) needs c >= 1).
std::vector<kernel_int> read_parameters(const Spec& spec, const AttentionArguments& arguments,
                                        const ValidatedProblem& problem, DeviceKind device) {
  for (const auto& [name, tensor] : arguments.parameters) {
    if (spec.parameters.count(name)) continue;
    std::string nearest;
    size_t nearest_distance = 3;  // suggest names at most 2 edits away, the closest first
    for (const auto& [known, per_document] : spec.parameters) {
      size_t distance = edit_distance(name, known);
      if (distance < nearest_distance) {
        nearest = known;
        nearest_distance = distance;
      }
    }
    fail("parameters[\"" + name + "\"]", "the mask has no parameter $" + name,
         nearest.empty() ? "remove it" : "did you mean '" + nearest + "'?");
  }
  const int64_t documents = static_cast<int64_t>(problem.documents.size());
  const int64_t expected_length = device == DeviceKind::kCpu
                                      ? document_count(problem.shape)
                                      : device_document_count(spec, arguments);
  std::vector<kernel_int> values(static_cast<size_t>(documents) * spec.parameters.size());
  int slot = 0;
  for (const auto& [name, per_document] : spec.parameters) {
    const std::string argument = "parameters[\"" + name + "\"]";
    auto found = arguments.parameters.find(name);
    if (found == arguments.parameters.end()) {
      fail(argument, "is missing",
           std::string("the mask uses $") + name + (per_document ? "[doc]" : "") + "; pass " +
               (per_document ? "an int32 array with one value per document"
                             : "an int32 tensor of shape [1]"));
    }
    std::vector<int64_t> given = read_array(argument, found->second, device, 1);
    // The check pass proves mask terms cannot overflow for int32 parameters (term_range.h);
    // int64 arrays are accepted, their values are not. (On a CUDA device the values are not read
    // here: the kernels clamp them into int32.)
    for (size_t index = 0; index < given.size(); ++index) {
      if (given[index] < INT32_MIN || given[index] > INT32_MAX) {
        fail(argument, "value " + std::to_string(given[index]) + " at index " +
                           std::to_string(index) + " is outside int32",
             "mask parameters are int32 values (an int64 array is accepted, but its values "
             "must fit in int32)");
      }
    }
    int64_t want = per_document ? expected_length : 1;
    if (found->second.numel() != want) {
      fail(argument, "has " + std::to_string(found->second.numel()) + " values; expected " +
                         std::to_string(want) +
                         (per_document ? " (one per document: " +
                                             std::string(spec.layout == Layout::kDocPacked
                                                             ? "B * MAX_DOCS"
                                                             : spec.layout == Layout::kDense ? "B" : "N") +
                                             ")"
                                       : std::string(" (a scalar)")));
    }
    for (int64_t index = 0; index < documents; ++index) {
      const Document& document = problem.documents[index];
      values[index * spec.parameters.size() + slot] = per_document ? given[document.index] : given[0];
    }
    ++slot;
  }
  return values;
}

// Primitive arguments are checked at compile time when constant; parameters and lengths are
// only known now.
void check_primitive_arguments(const Predicate& node, const MaskContext& context,
                               const Document& document) {
  if (node.kind == PredicateKind::kPrimitive) {
    const PrimitiveInfo* info = find_primitive(node.primitive);
    for (size_t index = 0; info != nullptr && index < node.arguments.size(); ++index) {
      int64_t value = evaluate(*node.arguments[index], context, 0, 0);
      if (value < info->minimum[index]) {
        fail("parameters", "argument '" + std::string(info->parameters[index]) + "' of " +
                               std::string(info->name) + " is " + std::to_string(value) +
                               " for document " + std::to_string(document.index) +
                               "; it must be >= " + std::to_string(info->minimum[index]),
             "fix the parameter value of that document");
      }
    }
  }
  for (const PredicatePtr& operand : node.operands) check_primitive_arguments(*operand, context, document);
}

}  // namespace

TensorAddress tensor_address(const TensorRef& tensor, Layout layout) {
  std::vector<int64_t> strides = tensor.effective_strides();
  TensorAddress address{};
  address.data = tensor.data;
  if (layout == Layout::kVarlen) {
    address.stride_batch = 0;
    address.stride_row = strides[0];
    address.stride_head = strides[1];
  } else {
    address.stride_batch = strides[0];
    address.stride_row = strides[1];
    address.stride_head = strides[2];
  }
  return address;
}

ValidatedProblem validate_arguments(const Spec& spec, const AttentionArguments& arguments,
                                    Pass pass, DeviceKind device) {
  check_attention_tensor("q", arguments.q, spec, spec.head_dim, device);
  check_attention_tensor("k", arguments.k, spec, spec.head_dim, device);
  check_attention_tensor("v", arguments.v, spec, spec.head_dim_v, device);
  const size_t head_axis = spec.layout == Layout::kVarlen ? 1 : 2;
  ValidatedProblem problem;
  problem.heads_q = arguments.q.shape[head_axis];
  problem.heads_kv = arguments.k.shape[head_axis];
  std::vector<int64_t> v_expected = arguments.k.shape;
  v_expected.back() = spec.head_dim_v;
  expect_same_shape("v", arguments.v, v_expected, "v must match k except in its last dimension");
  if (problem.heads_kv <= 0 || problem.heads_q % problem.heads_kv != 0) {
    std::string divisors;
    for (int64_t candidate = 1; candidate <= problem.heads_q && candidate <= 4096; ++candidate) {
      if (problem.heads_q % candidate == 0) divisors += (divisors.empty() ? "" : ", ") + std::to_string(candidate);
    }
    fail("k", "has " + std::to_string(problem.heads_kv) + " heads, which does not divide q's " +
                  std::to_string(problem.heads_q) + " heads (GQA needs Hq % Hkv == 0)",
         "use Hkv in {" + divisors + "}");
  }
  if (problem.heads_q > INT32_MAX) fail("q", "has too many heads");
  for (const auto& [name, bound] : {std::pair<const char*, int64_t>{"max_seqlen_q", arguments.max_seqlen_q},
                                    {"max_seqlen_k", arguments.max_seqlen_k}}) {
    if (bound < 0) {
      fail(name, "is " + std::to_string(bound) + ", must be >= 0",
           "pass the longest document's length, or 0 for the tensor's sequence rows");
    }
  }
  problem.shape = build_layout_shape(spec, arguments, device);
  if (device == DeviceKind::kCpu) {
    problem.documents = enumerate_documents(problem.shape);
  } else {
    check_device_array_lengths(spec, arguments);  // their contents: the kernels' status flag
  }

  // O, LSE: written by the forward, read by the backward.
  std::vector<int64_t> o_expected = arguments.q.shape;
  o_expected.back() = spec.head_dim_v;
  check_attention_tensor("o", arguments.o, spec, spec.head_dim_v, device);
  expect_same_shape("o", arguments.o, o_expected, "o is shaped like q with head_dim_v");
  const bool needs_lse = spec.output_lse || pass == Pass::kBackward;
  if (needs_lse || arguments.lse.given()) {
    if (!arguments.lse.given()) {
      fail("lse", "is missing", pass == Pass::kBackward ? "the backward reads the forward's lse"
                                                        : "the spec outputs lse");
    }
    std::vector<int64_t> lse_expected =
        spec.layout == Layout::kVarlen
            ? std::vector<int64_t>{problem.heads_q, problem.shape.query_rows}
            : std::vector<int64_t>{problem.shape.batch, problem.heads_q, problem.shape.query_rows};
    if (arguments.lse.dtype != ScalarType::kFloat32) {
      fail("lse", "dtype is " + std::string(scalar_type_name(arguments.lse.dtype)) + "; lse is fp32");
    }
    check_device("lse", arguments.lse, device);
    expect_same_shape("lse", arguments.lse, lse_expected,
                      spec.layout == Layout::kVarlen ? "lse is [Hq, Tq]" : "lse is [B, Hq, S]");
    std::vector<int64_t> contiguous = TensorRef::cpu(nullptr, ScalarType::kFloat32, lse_expected).effective_strides();
    if (arguments.lse.effective_strides() != contiguous) {
      fail("lse", "must be contiguous", "pass a contiguous float32 tensor");
    }
    check_data_pointer("lse", arguments.lse);
  }
  if (pass == Pass::kBackward) {
    check_attention_tensor("d_o", arguments.d_o, spec, spec.head_dim_v, device);
    expect_same_shape("d_o", arguments.d_o, o_expected, "d_o is shaped like o");
    check_attention_tensor("dq", arguments.dq, spec, spec.head_dim, device);
    expect_same_shape("dq", arguments.dq, arguments.q.shape, "dq is shaped like q");
    check_attention_tensor("dk", arguments.dk, spec, spec.head_dim, device);
    expect_same_shape("dk", arguments.dk, arguments.k.shape, "dk is shaped like k");
    check_attention_tensor("dv", arguments.dv, spec, spec.head_dim_v, device);
    expect_same_shape("dv", arguments.dv, arguments.v.shape, "dv is shaped like v");
  }

  if (spec.alibi) {
    if (!arguments.alibi_slopes.given()) {
      fail("alibi_slopes", "is missing", "the spec has alibi: pass float32 slopes [Hq]");
    }
    if (arguments.alibi_slopes.dtype != ScalarType::kFloat32) {
      fail("alibi_slopes", "dtype is " + std::string(scalar_type_name(arguments.alibi_slopes.dtype)) +
                               "; expected fp32");
    }
    check_device("alibi_slopes", arguments.alibi_slopes, device);
    expect_same_shape("alibi_slopes", arguments.alibi_slopes, {problem.heads_q}, "one slope per query head");
    if (arguments.alibi_slopes.effective_strides() != std::vector<int64_t>{1}) {
      fail("alibi_slopes", "must be contiguous");
    }
    check_data_pointer("alibi_slopes", arguments.alibi_slopes);
  } else if (arguments.alibi_slopes.given()) {
    fail("alibi_slopes", "is given but the spec has no alibi", "remove it or set \"alibi\": true");
  }

  problem.parameter_slots = static_cast<int>(spec.parameters.size());
  problem.parameter_values = read_parameters(spec, arguments, problem, device);
  for (size_t index = 0; index < problem.documents.size(); ++index) {
    const Document& document = problem.documents[index];
    MaskContext context{document.query_length, document.key_length, {}};
    int slot = 0;
    for (const auto& [name, per_document] : spec.parameters) {
      context.parameters[name] = problem.parameter_values[index * spec.parameters.size() + slot++];
    }
    check_primitive_arguments(*spec.mask, context, document);
  }
  return problem;
}

}  // namespace attncc
