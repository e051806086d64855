// Test helpers for the scenario and conformance suites: the tensors of one attention call owned in
// the spec's dtype (outputs poisoned with NaN, so an unwritten element shows), a kernel run on
// them, row slices of documents, and comparisons that name the output and the worst element.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attncc/reference.h"
#include "attncc/runtime.h"
#include "runtime/io/host_tensor.h"

namespace attncc::testing {

/// The tensors of one call; the TensorRefs in `arguments` point into them (HostTensor storage
/// does not move when the struct does).
struct AttentionCall {
  HostTensor q, k, v, o, lse, d_o, dq, dk, dv, alibi_slopes;
  std::vector<HostTensor> arrays;  ///< layout and parameter arrays, int32
  AttentionArguments arguments;
};

/// The ScalarType of a spec dtype.
ScalarType element_type(DType dtype);

/// Values rounded to a dtype (what a kernel reading them in that dtype sees).
std::vector<double> rounded_to(DType dtype, const std::vector<double>& values);

/// A call of `spec` on `inputs`: q, k, v, d_o in the spec's dtype, layout arrays and parameters
/// from inputs.shape / inputs.parameters as int32, every output filled with NaN. Gradients are
/// allocated iff spec.backward and inputs.d_o is not empty.
AttentionCall make_attention_call(const Spec& spec, const ReferenceInputs& inputs);

/// The outputs of a call as float64 (gradients empty when the call has none).
ReferenceOutputs call_outputs(const AttentionCall& call);

/// make_attention_call, forward, and backward when the call has gradients.
ReferenceOutputs run_kernel(const Kernel& kernel, const ReferenceInputs& inputs);

/// max |actual - expected| / max |expected| over finite elements; infinite if the sizes differ, an
/// element is NaN, or an infinity is not matched exactly.
double relative_error(const std::vector<double>& actual, const std::vector<double>& expected);

/// EXPECTs relative_error(actual, expected) <= tolerance, naming `what`, the worst element and the
/// NaN / infinity counts. Returns the error (so a test can also check that a wrong input fails).
double expect_close(const std::string& what, const std::vector<double>& actual,
                    const std::vector<double>& expected, double tolerance);

/// Rows [first, first + count) of a tensor of rows of `width` elements (a Q/K/V/O-like tensor
/// flattened: width = heads * head_dim).
std::vector<double> row_slice(const std::vector<double>& values, int64_t first, int64_t count,
                              int64_t width);

/// Rows [first, first + count) of every head of an LSE block [heads, rows] (varlen LSE, or one
/// batch row of a dense / doc_packed LSE starting at `offset`), head-major.
std::vector<double> lse_slice(const std::vector<double>& lse, int64_t offset, int64_t heads,
                              int64_t rows, int64_t first, int64_t count);

/// The spec with its mask text and/or layout replaced (empty = keep), re-parsed; for tests that
/// run one scenario under several masks or check a layout against per-document dense runs.
Spec spec_with_mask(const Spec& spec, const std::string& mask, const std::string& layout = "");

/// The reference run on each document of `inputs` alone, as a dense batch of one (Sq = Lq,
/// Sk = Lk, its own parameter values), scattered into outputs shaped like those of `inputs`
/// (rows outside every document: O = 0, LSE = -inf, gradients 0). An oracle that shares no
/// offset handling with the layout under test.
ReferenceOutputs per_document_reference(const Spec& spec, const ReferenceInputs& inputs);

}  // namespace attncc::testing
