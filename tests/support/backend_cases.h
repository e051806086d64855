// Backend conformance: edge-biased random cases for a spec, a run of a kernel on them with
// poisoned outputs, and the comparison with the float64 reference (DESIGN §1-2 contract).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "attncc/reference.h"
#include "attncc/runtime.h"
#include "support/random_inputs.h"

namespace attncc::testing {

/// One problem: inputs in float64 (already rounded to the spec's dtype) and what it stresses.
struct BackendCase {
  std::string description;
  ReferenceInputs inputs;
  /// AttentionArguments::max_seqlen_q / _k of the call: 0 (the sequence rows), or a bound below
  /// the longest document, which the CUDA kernels must make up for by looping over tiles.
  int64_t max_seqlen_q = 0;
  int64_t max_seqlen_k = 0;
};

/// Cases for `spec` (its layout, dims and parameters): zero-length documents and sentinels,
/// 1-token documents, Lq > Lk and Lq < Lk (layouts that allow it), documents spanning several
/// tiles, GQA 1:1 and 4:1, per-document parameters at 0, at the document length and random; the
/// GQA 4:1 cases pass grid bounds (max_seqlen_q/k) of 1 row, far below their documents.
std::vector<BackendCase> backend_cases(const Spec& spec, TestRandom& random);

/// One case on a random layout of the spec's kind (layout_builders.h random_layout: a few
/// documents of 0 to `max_length` tokens, gaps, a K/V past slot, sentinels), GQA 1:1, 2:1, 4:1 or
/// 3:3, and the parameters and grid bounds of one of backend_cases' two modes, at random.
BackendCase random_backend_case(const Spec& spec, TestRandom& random, int64_t max_length);

/// Tolerance on max |kernel - reference| / max |reference| per output: fp32 1e-5, else 2e-2.
double backend_tolerance(DType dtype);

/// Runs one pass of `kernel` on arguments whose tensors are host buffers and leaves the outputs
/// in those buffers. The default calls kernel.forward / kernel.backward directly; device
/// backends copy the buffers to the device and back (support/cuda_device_buffers.h).
using PassRunner = std::function<void(const Kernel& kernel, const AttentionArguments& host,
                                      bool backward)>;

/// Runs forward (and backward when the spec has it) of `kernel` on `test_case` with every
/// output poisoned (NaN) first, and checks against the reference: relative error within
/// tolerance for O, LSE, dQ, dK, dV; no NaN anywhere; LSE = -inf exactly where the reference's
/// is; dK/dV exactly 0 where the reference's are exactly 0 (keys nobody attends). Adds gtest
/// failures naming the output and the worst element.
void check_backend_case(const Kernel& kernel, const BackendCase& test_case,
                        const PassRunner& runner = {});

/// The spec with another dtype / head dims (D, and Dv = head_dim_v or D when 0), re-parsed from
/// its canonical text.
Spec with_dtype_and_head_dim(const Spec& spec, DType dtype, int head_dim, int head_dim_v = 0);

}  // namespace attncc::testing
