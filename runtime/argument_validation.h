// Validation of a forward/backward call's arguments against the spec (DESIGN §1): tensor
// shapes, dtypes, devices, strides, GQA ratio, offsets, mask parameters. Produces the host-side
// view of the problem that the backends launch from.
#pragma once

#include <cstdint>
#include <vector>

#include "attncc/layout.h"
#include "attncc/runtime.h"
#include "attncc/spec.h"
#include "templates/common/attention_params.h"

namespace attncc {

enum class Pass { kForward, kBackward };

/// A validated call: the documents, sizes and per-document mask parameter values.
struct ValidatedProblem {
  LayoutShape shape;
  std::vector<Document> documents;
  int64_t heads_q = 0;
  int64_t heads_kv = 0;
  int parameter_slots = 0;  ///< spec.parameters.size()
  /// documents.size() x parameter_slots values, in the spec's parameter (name) order.
  std::vector<kernel_int> parameter_values;
};

/// Checks everything the pass reads and writes; throws Error(kInvalidArgument) naming the
/// argument, the index, the value and the fix. `device` is where the backend needs tensors.
/// For DeviceKind::kCuda the offset and parameter arrays are not read (the kernels check their
/// contents and report through the device status): only their dtype, shape and pointer are
/// checked, and `documents` and `parameter_values` stay empty.
ValidatedProblem validate_arguments(const Spec& spec, const AttentionArguments& arguments,
                                    Pass pass, DeviceKind device);

/// The [batch, row, head] strides of an attention tensor of the spec's layout (varlen tensors
/// have no batch dimension: stride_batch = 0).
TensorAddress tensor_address(const TensorRef& tensor, Layout layout);

}  // namespace attncc
