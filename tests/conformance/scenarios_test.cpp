// Production scenarios as tests, each named after the bug it protects against (DESIGN §1-2, §5;
// specs/<scenario>.json): cu_seqlens_k passed as offsets into a K/V buffer with a past slot,
// prefix-LM documents whose prefix covers them (no causal part), THD context parallelism with a
// K/V all-gather, and doc_packed rows padded with sentinel documents.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "attncc/runtime.h"
#include "runtime/io/test_vectors.h"
#include "support/attention_call.h"
#include "support/files.h"
#include "support/random_inputs.h"

namespace attncc {
namespace {

using testing::expect_close;
using testing::lse_slice;
using testing::row_slice;

constexpr int kHeadDim = 32;

Runtime& test_runtime() {
  static Runtime runtime([] {
    RuntimeOptions options;
    options.backend = Backend::kCpu;
    options.disk_cache = false;
    return options;
  }());
  return runtime;
}

Spec scenario_spec(const std::string& file, DType dtype) {
  return spec_with_dtype_and_head_dim(Spec::load(testing::source_path("specs/" + file)), dtype,
                                      kHeadDim);
}

/// Random inputs for `shape`, rounded to the spec's dtype (what the kernel will read).
ReferenceInputs random_inputs(const Spec& spec, const LayoutShape& shape, int64_t heads_q,
                              int64_t heads_kv, testing::TestRandom& random) {
  ReferenceInputs inputs;
  inputs.shape = shape;
  inputs.heads_q = heads_q;
  inputs.heads_kv = heads_kv;
  testing::fill_random_tensors(inputs, spec.head_dim, spec.head_dim_v, spec.backward, spec.alibi,
                               random);
  for (std::vector<double>* tensor : {&inputs.q, &inputs.k, &inputs.v, &inputs.d_o}) {
    *tensor = testing::rounded_to(spec.dtype, *tensor);
  }
  return inputs;
}

void expect_outputs_close(const std::string& what, const ReferenceOutputs& actual,
                          const ReferenceOutputs& expected, DType dtype) {
  expect_close(what + ": o", actual.o, expected.o, test_vector_tolerance(dtype, "o"));
  expect_close(what + ": lse", actual.lse, expected.lse, test_vector_tolerance(dtype, "lse"));
  expect_close(what + ": dq", actual.dq, expected.dq, test_vector_tolerance(dtype, "dq"));
  expect_close(what + ": dk", actual.dk, expected.dk, test_vector_tolerance(dtype, "dk"));
  expect_close(what + ": dv", actual.dv, expected.dv, test_vector_tolerance(dtype, "dv"));
}

int64_t nan_count(const ReferenceOutputs& outputs) {
  int64_t count = 0;
  for (const std::vector<double>* values :
       {&outputs.o, &outputs.lse, &outputs.dq, &outputs.dk, &outputs.dv}) {
    count += std::count_if(values->begin(), values->end(), [](double v) { return std::isnan(v); });
  }
  return count;
}

/// A view of `tensor` without its first `rows` rows (a narrow along dimension 0, no copy).
TensorRef narrow_rows(const TensorRef& tensor, int64_t rows) {
  TensorRef view = tensor;
  const int64_t stride = tensor.effective_strides()[0];
  view.data = static_cast<std::byte*>(tensor.data) +
              rows * stride * static_cast<int64_t>(scalar_type_size(tensor.dtype));
  view.shape[0] -= rows;
  view.strides = tensor.effective_strides();
  return view;
}

LayoutShape varlen_self_attention(const std::vector<int64_t>& lengths) {
  LayoutShape shape;
  shape.layout = Layout::kVarlen;
  shape.cu_seqlens_q = {0};
  for (int64_t length : lengths) shape.cu_seqlens_q.push_back(shape.cu_seqlens_q.back() + length);
  shape.cu_seqlens_k = shape.cu_seqlens_q;
  shape.query_rows = shape.key_rows = shape.cu_seqlens_q.back();
  return shape;
}

// A training stack (the Fast-LLM bug) passed cu_seqlens_k starting at the first document's
// offset inside a K/V buffer whose first rows are a past slot. attncc must reject it with the
// fix in the message; narrowing K/V by the past, or keeping the buffer and passing the offsets as
// cu_seqlens_k_padded, must both give the per-document result, and the past slot no gradient.
TEST(Scenarios, CanonicalKOffsets) {
  const Spec spec = scenario_spec("canonical_k_offsets.json", DType::kFloat32);
  const Kernel kernel = test_runtime().get(spec);
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);

  constexpr int64_t kPast = 7;  // K/V rows in front of the first document (e.g. cached keys)
  const std::vector<std::pair<int64_t, int64_t>> lengths = {
      {5, 8}, {0, 0}, {9, 9}, {1, 3}, {70, 80}};  // (Lq, Lk); the last spans two tiles
  std::vector<int64_t> cu_q = {0};
  std::vector<int64_t> offsets_k = {kPast};  // what the stack passed as cu_seqlens_k
  for (const auto& [lq, lk] : lengths) {
    cu_q.push_back(cu_q.back() + lq);
    offsets_k.push_back(offsets_k.back() + lk);
  }
  std::vector<int64_t> cu_k;
  for (int64_t offset : offsets_k) cu_k.push_back(offset - kPast);
  LayoutShape whole;  // the whole K/V buffer, documents at their physical offsets
  whole.layout = Layout::kVarlen;
  whole.query_rows = cu_q.back();
  whole.key_rows = offsets_k.back();
  whole.cu_seqlens_q = cu_q;
  whole.cu_seqlens_k = cu_k;
  whole.cu_seqlens_k_padded = offsets_k;
  const int64_t heads_q = 4, heads_kv = 2;
  const ReferenceInputs inputs = random_inputs(spec, whole, heads_q, heads_kv, random);
  const int64_t k_width = heads_kv * spec.head_dim;
  const ReferenceOutputs expected = testing::per_document_reference(spec, inputs);

  {
    SCOPED_TRACE("offsets passed as cu_seqlens_k: rejected with the narrowing hint");
    ReferenceInputs as_passed = inputs;
    as_passed.shape.cu_seqlens_k = offsets_k;
    as_passed.shape.cu_seqlens_k_padded.clear();
    testing::AttentionCall call = testing::make_attention_call(spec, as_passed);
    for (const bool forward : {true, false}) {
      try {
        forward ? kernel.forward(call.arguments) : kernel.backward(call.arguments);
        ADD_FAILURE() << (forward ? "forward" : "backward") << " accepted cu_seqlens_k[0] = 7";
      } catch (const Error& error) {
        EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
        const std::string message = error.what();
        for (const char* needle : {"cu_seqlens_k[0]: error: is 7, must be 0", "pass cu - cu[0]",
                                   "cu_seqlens_k_padded", "narrow K/V by 7 rows"}) {
          EXPECT_NE(message.find(needle), std::string::npos) << "'" << needle << "' not in: "
                                                             << message;
        }
      }
    }
    // Rejected before anything was written: every output is still the NaN poison.
    const ReferenceOutputs untouched = testing::call_outputs(call);
    const size_t elements = untouched.o.size() + untouched.lse.size() + untouched.dq.size() +
                            untouched.dk.size() + untouched.dv.size();
    EXPECT_EQ(nan_count(untouched), static_cast<int64_t>(elements));
  }

  ReferenceOutputs narrowed;
  {
    SCOPED_TRACE("K/V narrowed by the past slot, cu_seqlens_k = cu - cu[0]");
    testing::AttentionCall call = testing::make_attention_call(spec, inputs);
    AttentionArguments& arguments = call.arguments;
    arguments.cu_seqlens_k_padded = TensorRef{};
    for (TensorRef* tensor : {&arguments.k, &arguments.v, &arguments.dk, &arguments.dv}) {
      *tensor = narrow_rows(*tensor, kPast);
    }
    kernel.forward(arguments);
    kernel.backward(arguments);
    narrowed = testing::call_outputs(call);
    expect_close("narrowed o", narrowed.o, expected.o, 1e-5);
    expect_close("narrowed lse", narrowed.lse, expected.lse, 1e-5);
    expect_close("narrowed dq", narrowed.dq, expected.dq, 1e-5);
    const int64_t documents_rows = whole.key_rows - kPast;
    expect_close("narrowed dk", row_slice(narrowed.dk, kPast, documents_rows, k_width),
                 row_slice(expected.dk, kPast, documents_rows, k_width), 1e-5);
    expect_close("narrowed dv", row_slice(narrowed.dv, kPast, documents_rows, k_width),
                 row_slice(expected.dv, kPast, documents_rows, k_width), 1e-5);
    // The narrowed call wrote nothing in front of its view.
    const std::vector<double> past = row_slice(narrowed.dk, 0, kPast, k_width);
    EXPECT_TRUE(std::all_of(past.begin(), past.end(), [](double v) { return std::isnan(v); }))
        << "the narrowed call wrote into the past slot";
  }

  {
    SCOPED_TRACE("whole buffer, offsets in cu_seqlens_k_padded");
    const ReferenceOutputs padded = testing::run_kernel(kernel, inputs);
    expect_outputs_close("padded", padded, expected, DType::kFloat32);
    for (const std::vector<double>* gradient : {&padded.dk, &padded.dv}) {
      const std::vector<double> past = row_slice(*gradient, 0, kPast, k_width);
      EXPECT_TRUE(std::all_of(past.begin(), past.end(), [](double v) { return v == 0.0; }))
          << "dK/dV of the past slot are not exactly 0";
    }
    const int64_t rows = whole.key_rows - kPast;
    expect_close("padded vs narrowed: o", padded.o, narrowed.o, 1e-5);
    expect_close("padded vs narrowed: lse", padded.lse, narrowed.lse, 1e-5);
    expect_close("padded vs narrowed: dq", padded.dq, narrowed.dq, 1e-5);
    expect_close("padded vs narrowed: dk", row_slice(padded.dk, kPast, rows, k_width),
                 row_slice(narrowed.dk, kPast, rows, k_width), 1e-5);
    expect_close("padded vs narrowed: dv", row_slice(padded.dv, kPast, rows, k_width),
                 row_slice(narrowed.dv, kPast, rows, k_width), 1e-5);
  }
}

// Prefix-LM where truncation left the prefix as long as the document (or a stale, longer prefix):
// no causal part is left. Stacks that split prefix-LM into a bidirectional and a causal pass have
// produced NaN from the empty causal pass. Must equal full bidirectional attention per document,
// without NaN, in one forward launch per call.
TEST(Scenarios, PrefixLmWithNoCausalPart) {
  const Spec spec = scenario_spec("prefix_lm_no_causal_part.json", DType::kFloat32);
  const Spec full = testing::spec_with_mask(spec, "full");
  const Kernel prefix_kernel = test_runtime().get(spec);
  const Kernel full_kernel = test_runtime().get(full);
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);

  const std::vector<int64_t> lengths = {37, 1, 0, 64, 130, 5};
  const LayoutShape shape = varlen_self_attention(lengths);
  const int64_t heads_q = 4, heads_kv = 1;
  ReferenceInputs inputs = random_inputs(spec, shape, heads_q, heads_kv, random);
  // Before prefix_len is set: the full-mask kernel takes no parameters.
  const ReferenceOutputs bidirectional = testing::run_kernel(full_kernel, inputs);
  expect_outputs_close("full kernel", bidirectional, reference_attention(full, inputs),
                       DType::kFloat32);

  struct Batch {
    const char* what;
    std::vector<int64_t> prefix_len;
  };
  const Batch batches[] = {
      {"every document: prefix = length after truncation", {37, 1, 0, 64, 130, 5}},
      {"every document: a stale prefix past the truncated length", {50, 4, 9, 64, 200, 12}},
      {"some documents: prefix = length for documents 0, 3 and 4", {37, 0, 0, 64, 130, 2}},
  };
  for (const Batch& batch : batches) {
    SCOPED_TRACE(batch.what);
    inputs.parameters["prefix_len"] = batch.prefix_len;
    testing::AttentionCall call = testing::make_attention_call(spec, inputs);
    const RuntimeStats before = test_runtime().stats();
    prefix_kernel.forward(call.arguments);
    const RuntimeStats after_forward = test_runtime().stats();
    EXPECT_EQ(after_forward.forward_launches, before.forward_launches + 1)
        << "one forward call must be one launch (no separate causal pass)";
    prefix_kernel.backward(call.arguments);
    const RuntimeStats after_backward = test_runtime().stats();
    EXPECT_EQ(after_backward.forward_launches, after_forward.forward_launches);
    EXPECT_EQ(after_backward.backward_launches, after_forward.backward_launches + 1);
    const ReferenceOutputs actual = testing::call_outputs(call);
    EXPECT_EQ(nan_count(actual), 0);
    expect_outputs_close("prefix kernel vs reference", actual, reference_attention(spec, inputs),
                         DType::kFloat32);

    const int64_t q_width = heads_q * spec.head_dim, k_width = heads_kv * spec.head_dim;
    for (size_t d = 0; d < lengths.size(); ++d) {
      const int64_t start = shape.cu_seqlens_q[d], length = lengths[d];
      if (length == 0 || batch.prefix_len[d] < length) continue;
      const std::string what = "document " + std::to_string(d) + " vs the full-mask kernel: ";
      expect_close(what + "o", row_slice(actual.o, start, length, q_width),
                   row_slice(bidirectional.o, start, length, q_width), 1e-5);
      expect_close(what + "lse", lse_slice(actual.lse, 0, heads_q, shape.query_rows, start, length),
                   lse_slice(bidirectional.lse, 0, heads_q, shape.query_rows, start, length), 1e-5);
      expect_close(what + "dq", row_slice(actual.dq, start, length, q_width),
                   row_slice(bidirectional.dq, start, length, q_width), 1e-5);
      expect_close(what + "dk", row_slice(actual.dk, start, length, k_width),
                   row_slice(bidirectional.dk, start, length, k_width), 1e-5);
      expect_close(what + "dv", row_slice(actual.dv, start, length, k_width),
                   row_slice(bidirectional.dv, start, length, k_width), 1e-5);
    }
  }
}

// --- THD context parallelism with K/V all-gather (Llama-3 style, TransformerEngine THD layout).

struct ParallelDocument {
  int64_t length = 0;  // real tokens
  int64_t offset = 0;  // first row in the global padded buffer
  int64_t chunk = 0;   // rows per chunk: the length padded to a multiple of 2R, over 2R
};

/// What R ranks compute together: each rank holds chunks r and 2R-1-r of every document in a
/// local buffer (document by document, chunk r first), runs one step per local chunk that attends
/// it to the gathered K/V prefix of its document (causal_br: query row i of chunk t sees keys up
/// to t * chunk + i), and accumulates dK/dV into one buffer shared by every rank (the reduce of a
/// real run). Returns the outputs scattered back to the global buffer.
ReferenceOutputs context_parallel(const Kernel& step_kernel, const ReferenceInputs& global,
                                  const std::vector<ParallelDocument>& documents, int64_t ranks) {
  const Spec& spec = step_kernel.spec();
  const int64_t total = global.shape.query_rows;
  const int64_t heads_q = global.heads_q, heads_kv = global.heads_kv;
  const int64_t q_width = heads_q * spec.head_dim, o_width = heads_q * spec.head_dim_v;
  ReferenceOutputs result;
  result.o.assign(static_cast<size_t>(total * o_width), std::nan(""));
  result.lse.assign(static_cast<size_t>(total * heads_q), std::nan(""));
  result.dq.assign(static_cast<size_t>(total * q_width), std::nan(""));
  std::vector<int> assigned(static_cast<size_t>(total), 0);

  const HostTensor k =
      from_double(ScalarType::kFloat32, {total, heads_kv, spec.head_dim}, global.k);
  const HostTensor v =
      from_double(ScalarType::kFloat32, {total, heads_kv, spec.head_dim_v}, global.v);
  HostTensor dk(ScalarType::kFloat32, {total, heads_kv, spec.head_dim});  // zeros: accumulated
  HostTensor dv(ScalarType::kFloat32, {total, heads_kv, spec.head_dim_v});

  for (int64_t rank = 0; rank < ranks; ++rank) {
    const int64_t held[2] = {rank, 2 * ranks - 1 - rank};
    std::vector<int64_t> local_start;
    int64_t local_rows = 0;
    for (const ParallelDocument& document : documents) {
      local_start.push_back(local_rows);
      local_rows += 2 * document.chunk;
    }
    std::vector<double> q_local(static_cast<size_t>(local_rows * q_width));
    std::vector<double> do_local(static_cast<size_t>(local_rows * o_width));
    for (size_t d = 0; d < documents.size(); ++d) {
      for (int step = 0; step < 2; ++step) {
        const int64_t from = documents[d].offset + held[step] * documents[d].chunk;
        const int64_t to = local_start[d] + step * documents[d].chunk;
        std::copy_n(global.q.begin() + from * q_width, documents[d].chunk * q_width,
                    q_local.begin() + to * q_width);
        std::copy_n(global.d_o.begin() + from * o_width, documents[d].chunk * o_width,
                    do_local.begin() + to * o_width);
      }
    }
    const HostTensor q =
        from_double(ScalarType::kFloat32, {local_rows, heads_q, spec.head_dim}, q_local);
    const HostTensor d_o =
        from_double(ScalarType::kFloat32, {local_rows, heads_q, spec.head_dim_v}, do_local);
    HostTensor dq(ScalarType::kFloat32, {local_rows, heads_q, spec.head_dim});  // accumulated

    for (int step = 0; step < 2; ++step) {
      const int64_t t = held[step];
      std::vector<double> cu_q = {0}, cu_k = {0}, padded_q, padded_k;
      for (size_t d = 0; d < documents.size(); ++d) {
        const ParallelDocument& document = documents[d];
        const int64_t lq = std::clamp(document.length - t * document.chunk, int64_t{0},
                                      document.chunk);
        const int64_t lk = lq > 0 ? t * document.chunk + lq
                                  : std::min(document.length, t * document.chunk);
        cu_q.push_back(cu_q.back() + static_cast<double>(lq));
        cu_k.push_back(cu_k.back() + static_cast<double>(lk));
        padded_q.push_back(static_cast<double>(local_start[d] + step * document.chunk));
        padded_k.push_back(static_cast<double>(document.offset));
      }
      padded_q.push_back(static_cast<double>(local_rows));
      padded_k.push_back(static_cast<double>(total));
      const int64_t entries = static_cast<int64_t>(cu_q.size());
      const HostTensor cu_q_t = from_double(ScalarType::kInt32, {entries}, cu_q);
      const HostTensor cu_k_t = from_double(ScalarType::kInt32, {entries}, cu_k);
      const HostTensor padded_q_t = from_double(ScalarType::kInt32, {entries}, padded_q);
      const HostTensor padded_k_t = from_double(ScalarType::kInt32, {entries}, padded_k);
      HostTensor o = from_double(
          ScalarType::kFloat32, {local_rows, heads_q, spec.head_dim_v},
          std::vector<double>(static_cast<size_t>(local_rows * o_width), std::nan("")));
      HostTensor lse =
          from_double(ScalarType::kFloat32, {heads_q, local_rows},
                      std::vector<double>(static_cast<size_t>(local_rows * heads_q), std::nan("")));

      AttentionArguments arguments;
      arguments.q = q.ref();
      arguments.k = k.ref();
      arguments.v = v.ref();
      arguments.o = o.ref();
      arguments.lse = lse.ref();
      arguments.cu_seqlens_q = cu_q_t.ref();
      arguments.cu_seqlens_k = cu_k_t.ref();
      arguments.cu_seqlens_q_padded = padded_q_t.ref();
      arguments.cu_seqlens_k_padded = padded_k_t.ref();
      step_kernel.forward(arguments);
      arguments.d_o = d_o.ref();
      arguments.dq = dq.ref();
      arguments.dk = dk.ref();
      arguments.dv = dv.ref();
      arguments.accumulate = true;  // both steps into dq, every rank and step into dk/dv
      step_kernel.backward(arguments);

      const std::vector<double> o_values = to_double(o.ref());
      const std::vector<double> lse_values = to_double(lse.ref());
      for (size_t d = 0; d < documents.size(); ++d) {
        const int64_t chunk = documents[d].chunk;
        const int64_t from = local_start[d] + step * chunk;
        const int64_t to = documents[d].offset + t * chunk;
        std::copy_n(o_values.begin() + from * o_width, chunk * o_width,
                    result.o.begin() + to * o_width);
        for (int64_t h = 0; h < heads_q; ++h) {
          std::copy_n(lse_values.begin() + h * local_rows + from, chunk,
                      result.lse.begin() + h * total + to);
        }
        for (int64_t i = 0; i < chunk; ++i) ++assigned[static_cast<size_t>(to + i)];
      }
    }
    const std::vector<double> dq_values = to_double(dq.ref());
    for (size_t d = 0; d < documents.size(); ++d) {
      for (int step = 0; step < 2; ++step) {
        const int64_t from = local_start[d] + step * documents[d].chunk;
        const int64_t to = documents[d].offset + held[step] * documents[d].chunk;
        std::copy_n(dq_values.begin() + from * q_width, documents[d].chunk * q_width,
                    result.dq.begin() + to * q_width);
      }
    }
  }
  EXPECT_TRUE(std::all_of(assigned.begin(), assigned.end(), [](int n) { return n == 1; }))
      << "the simulation did not give every global row to exactly one rank and step";
  result.dk = to_double(dk.ref());
  result.dv = to_double(dv.ref());
  return result;
}

// Context parallelism over R ranks must reproduce single-device causal attention over the same
// varlen batch: documents of mixed lengths, each padded to a multiple of 2R (TransformerEngine's
// THD convention), the padding described by cu_seqlens_*_padded.
TEST(Scenarios, ContextParallelKvAllGather) {
  const Spec step_spec = scenario_spec("context_parallel_kv_allgather.json", DType::kFloat32);
  const Spec single_spec = testing::spec_with_mask(step_spec, "causal");
  const Kernel step_kernel = test_runtime().get(step_spec);
  const Kernel single_kernel = test_runtime().get(single_spec);
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);

  const std::vector<int64_t> lengths = {37, 64, 1, 0, 100, 16, 3};
  for (const int64_t ranks : {2, 4}) {
    SCOPED_TRACE("R = " + std::to_string(ranks));
    std::vector<ParallelDocument> documents;
    LayoutShape shape;
    shape.layout = Layout::kVarlen;
    shape.cu_seqlens_q = {0};
    int64_t offset = 0;
    for (int64_t length : lengths) {
      const int64_t padded = (length + 2 * ranks - 1) / (2 * ranks) * (2 * ranks);
      documents.push_back({length, offset, padded / (2 * ranks)});
      shape.cu_seqlens_q.push_back(shape.cu_seqlens_q.back() + length);
      shape.cu_seqlens_q_padded.push_back(offset);
      offset += padded;
    }
    shape.cu_seqlens_q_padded.push_back(offset);
    shape.cu_seqlens_k = shape.cu_seqlens_q;
    shape.cu_seqlens_k_padded = shape.cu_seqlens_q_padded;
    shape.query_rows = shape.key_rows = offset;
    const ReferenceInputs global = random_inputs(single_spec, shape, 4, 2, random);

    const ReferenceOutputs single = testing::run_kernel(single_kernel, global);
    expect_outputs_close("single device vs reference", single,
                         reference_attention(single_spec, global), DType::kFloat32);
    const ReferenceOutputs parallel = context_parallel(step_kernel, global, documents, ranks);
    expect_outputs_close("context parallel vs single device", parallel, single, DType::kFloat32);
  }
}

// Doc-packed rows [B, S] with cu_seq [B, MAX_DOCS + 1] padded by repeating S: rows with different
// document counts, a zero-length document between others, a document filling its row. Each
// document must equal itself run alone; the backward must not rerun the forward; more sentinel
// slots must not change a bit.
TEST(Scenarios, DocPackedWithSentinels) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);
  constexpr int64_t kS = 96;
  const std::vector<std::vector<int64_t>> rows = {{40, 1, 0, 55}, {96}, {1, 63, 32}};
  auto packed = [&](int64_t max_docs) {
    LayoutShape shape;
    shape.layout = Layout::kDocPacked;
    shape.batch = static_cast<int64_t>(rows.size());
    shape.query_rows = shape.key_rows = kS;
    shape.max_docs = max_docs;
    for (const std::vector<int64_t>& row : rows) {
      shape.cu_seq.push_back(0);
      for (int64_t slot = 0; slot < max_docs; ++slot) {
        const bool real = slot < static_cast<int64_t>(row.size());
        shape.cu_seq.push_back(real ? shape.cu_seq.back() + row[slot] : kS);
      }
    }
    return shape;
  };

  for (const DType dtype : {DType::kFloat32, DType::kBFloat16}) {
    for (const char* mask : {"causal", "full", "window(7, 0)"}) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + ", mask " + mask);
      const Spec spec =
          testing::spec_with_mask(scenario_spec("doc_packed_sentinels.json", dtype), mask);
      const Kernel kernel = test_runtime().get(spec);
      const ReferenceInputs inputs = random_inputs(spec, packed(5), 4, 1, random);

      testing::AttentionCall call = testing::make_attention_call(spec, inputs);
      const RuntimeStats before = test_runtime().stats();
      kernel.forward(call.arguments);
      const RuntimeStats after_forward = test_runtime().stats();
      kernel.backward(call.arguments);
      const RuntimeStats after_backward = test_runtime().stats();
      EXPECT_EQ(after_forward.forward_launches, before.forward_launches + 1);
      EXPECT_EQ(after_backward.forward_launches, after_forward.forward_launches)
          << "the backward reran the forward";
      EXPECT_EQ(after_backward.backward_launches, after_forward.backward_launches + 1);
      const ReferenceOutputs actual = testing::call_outputs(call);
      expect_outputs_close("vs each document alone", actual,
                           testing::per_document_reference(spec, inputs), dtype);

      ReferenceInputs more_sentinels = inputs;
      more_sentinels.shape = packed(8);
      const ReferenceOutputs wide = testing::run_kernel(kernel, more_sentinels);
      EXPECT_EQ(wide.o, actual.o) << "MAX_DOCS 8 instead of 5 changed o";
      EXPECT_EQ(wide.lse, actual.lse) << "MAX_DOCS 8 instead of 5 changed lse";
      EXPECT_EQ(wide.dq, actual.dq) << "MAX_DOCS 8 instead of 5 changed dq";
      EXPECT_EQ(wide.dk, actual.dk) << "MAX_DOCS 8 instead of 5 changed dk";
      EXPECT_EQ(wide.dv, actual.dv) << "MAX_DOCS 8 instead of 5 changed dv";
    }
  }
}

}  // namespace
}  // namespace attncc
