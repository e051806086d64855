// Conformance vectors (`attncc testgen`): edge-biased problems for a spec, their expected outputs
// from the float64 reference, and the files they are exchanged in (DIR/case_NNNN.safetensors and
// DIR/manifest.json, docs/TESTGEN.md). Shared by the CLI and the spec-driven conformance tests.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attncc/layout.h"
#include "attncc/reference.h"
#include "attncc/spec.h"
#include "runtime/io/host_tensor.h"

namespace attncc {

/// What to generate besides the spec: the seed, and optionally a fixed GQA ratio.
struct TestVectorOptions {
  uint64_t seed = 0;
  /// Query and kv heads of every case (both > 0, heads_q % heads_kv == 0); 0 and 0 = cycle
  /// through the ratios 1, 4, 2, 8 (2:2, 4:1, 2:1, 8:1) over the cases.
  int64_t heads_q = 0;
  int64_t heads_kv = 0;
};

/// One generated problem and its expected outputs.
struct TestVectorCase {
  int64_t index = 0;
  /// What the case is built around: edges, unequal_lengths (doc_packed: document_counts),
  /// long_document, large_logits, random; cycles with the index.
  std::string theme;
  std::vector<std::string> stresses;  ///< what the case exercises, one short phrase each
  std::vector<Document> documents;    ///< as enumerate_documents lists them
  /// q, k, v, d_o are multiples of 1/64 in [-2, 2] (q: of 1/16 in [-8, 8] in large-logit cases),
  /// exact in fp16, bf16 and fp32, so the expected outputs do not depend on the dtype.
  ReferenceInputs inputs;
  ReferenceOutputs expected;  ///< the reference on `inputs`; gradients iff spec.backward
};

/// Case `index` of the vectors of (spec, options). It depends on nothing else (not on how many
/// cases are generated), and on every platform it is the same: the random source and the value
/// grid are integer arithmetic. Throws Error(kInvalidArgument) for a bad forced GQA ratio.
TestVectorCase make_test_vector_case(const Spec& spec, const TestVectorOptions& options,
                                     int64_t index);

/// The tensors of a case file, named as in DESIGN §6: inputs q, k, v (spec dtype), do (spec
/// dtype, iff spec.backward), the layout arrays and one tensor per mask parameter (int32),
/// alibi_slopes (float32 [Hq], iff spec.alibi); then the expected o, lse (and dq, dk, dv iff
/// spec.backward) as float32.
std::vector<std::pair<std::string, HostTensor>> test_vector_tensors(
    const Spec& spec, const TestVectorCase& test_case);

/// Tolerance of an output ("o", "lse", "dq", "dk", "dv") for a dtype, on
/// max |actual - expected| / max |expected| over finite elements: fp32 1e-5; fp16 and bf16 2e-2
/// (lse 1e-2).
double test_vector_tolerance(DType dtype, std::string_view output);

/// "case_0007.safetensors".
std::string test_vector_file_name(int64_t index);

/// Writes cases 0 .. count-1 as DIR/case_NNNN.safetensors and DIR/manifest.json (the spec's
/// canonical text and hash, tolerances, and per case its file, shapes, layout arrays, documents
/// and stresses). Creates DIR; removes case files of an earlier run numbered count or more, so
/// the directory matches the manifest. Same arguments, same bytes. `spec_file` is recorded as
/// given (pass a base name to keep manifests independent of where the spec lives). `progress`,
/// if set, is called after each case file is written. Throws Error(kIo) if a file cannot be
/// written.
void write_test_vectors(
    const Spec& spec, std::string_view spec_file, const TestVectorOptions& options, int64_t count,
    const std::string& directory,
    const std::function<void(const TestVectorCase&, const std::string& path)>& progress = {});

/// The spec with another dtype and/or head dim (D and Dv both), re-parsed from its canonical
/// text; name and description are kept. Throws Error(kInvalidSpec) for an unsupported head dim.
Spec spec_with_dtype_and_head_dim(const Spec& spec, std::optional<DType> dtype,
                                  std::optional<int> head_dim);

/// Parses "fp16", "bf16", "fp32"; nullopt otherwise.
std::optional<DType> parse_dtype_name(std::string_view name);

}  // namespace attncc
