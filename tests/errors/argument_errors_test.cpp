// Run-time argument errors (DESIGN §1, §5): a valid call per layout on the CPU backend, then one
// mutation per test; Kernel::forward / backward must throw kInvalidArgument with the exact message
// of runtime/argument_validation.cpp and leave every output buffer untouched.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "attncc/error.h"
#include "attncc/runtime.h"
#include "attncc/spec.h"

namespace attncc {
namespace {

// Small specs, one per layout (kernels compile in about 0.5 s, so each is built once per process).
// Head dims 32 / 64 on dense so that messages naming head_dim and head_dim_v are told apart;
// every spec has a per-document parameter so the parameter errors exist on each layout.
constexpr const char* kDenseSpec =
    R"json({"layout": "dense", "dtype": "bf16", "head_dim": 32, "head_dim_v": 64,
        "mask": "prefix($p[doc])", "outputs": ["o", "lse"], "backward": true})json";
constexpr const char* kVarlenSpec =
    R"json({"layout": "varlen", "dtype": "bf16", "head_dim": 32,
        "mask": "chunk($c[doc]) | sink($s)", "outputs": ["o", "lse"], "backward": true})json";
constexpr const char* kDocPackedSpec =
    R"json({"layout": "doc_packed", "dtype": "bf16", "head_dim": 32,
        "mask": "prefix($p[doc])", "outputs": ["o", "lse"], "backward": true})json";
// Dense like kDenseSpec, with alibi, forward only and no lse output.
constexpr const char* kAlibiSpec =
    R"json({"layout": "dense", "dtype": "bf16", "head_dim": 32, "head_dim_v": 64,
        "mask": "prefix($p[doc])", "alibi": true, "outputs": ["o"]})json";

// One runtime per test process, memory-only: these tests are about messages, not caching.
Runtime& test_runtime() {
  static Runtime runtime([] {
    RuntimeOptions options;  // not designated initializers: GCC 12 warns on the skipped fields
    options.backend = Backend::kCpu;
    options.disk_cache = false;
    return options;
  }());
  return runtime;
}

const Kernel& kernel_of(const char* json, const char* name) {
  static std::map<std::string, Kernel> kernels;  // tests run on one thread
  auto found = kernels.find(name);
  if (found == kernels.end()) {
    found = kernels.emplace(name, test_runtime().get(Spec::parse(json, name))).first;
  }
  return found->second;
}

const Kernel& dense_kernel() { return kernel_of(kDenseSpec, "dense"); }
const Kernel& varlen_kernel() { return kernel_of(kVarlenSpec, "varlen"); }
const Kernel& doc_packed_kernel() { return kernel_of(kDocPackedSpec, "doc_packed"); }
const Kernel& alibi_kernel() { return kernel_of(kAlibiSpec, "alibi"); }

constexpr uint8_t kPoison = 0xA5;  // bf16 0xA5A5 / fp32 0xA5A5A5A5: finite values no kernel writes
constexpr int64_t kTwoTo31 = int64_t{1} << 31;

// The buffers of one call and the AttentionArguments viewing them. Storage is 8-byte aligned
// words, so `data + 1 byte` is misaligned for every element type. Non-copyable: the arguments
// point into the storage (moving keeps the heap buffers where they are).
class Call {
 public:
  Call() = default;
  Call(Call&&) = default;
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  /// A zero-filled contiguous tensor owned by the call.
  TensorRef tensor(ScalarType dtype, std::vector<int64_t> shape) {
    int64_t count = 1;
    for (int64_t extent : shape) count *= extent;
    const int64_t bytes = count * static_cast<int64_t>(scalar_type_size(dtype));
    storage_.emplace_back(static_cast<size_t>((bytes + 7) / 8 + 1), uint64_t{0});
    return TensorRef::cpu(storage_.back().data(), dtype, std::move(shape));
  }

  /// Like tensor(), and poisoned before each rejected call and checked afterwards.
  TensorRef output(ScalarType dtype, std::vector<int64_t> shape) {
    TensorRef ref = tensor(dtype, std::move(shape));
    outputs_.push_back(storage_.size() - 1);
    return ref;
  }

  /// A 1-D (or `shape`) integer array holding `values`.
  TensorRef integers(const std::vector<int64_t>& values, ScalarType dtype = ScalarType::kInt32,
                     std::vector<int64_t> shape = {}) {
    if (shape.empty()) shape = {static_cast<int64_t>(values.size())};
    TensorRef ref = tensor(dtype, std::move(shape));
    for (size_t index = 0; index < values.size(); ++index) {
      if (dtype == ScalarType::kInt32) {
        static_cast<int32_t*>(ref.data)[index] = static_cast<int32_t>(values[index]);
      } else {
        static_cast<int64_t*>(ref.data)[index] = values[index];
      }
    }
    return ref;
  }

  void poison_outputs() {
    for (size_t index : outputs_) {
      std::memset(storage_[index].data(), kPoison, storage_[index].size() * sizeof(uint64_t));
    }
  }

  /// Output buffers that hold anything but the poison bytes.
  int written_outputs() const {
    int written = 0;
    for (size_t index : outputs_) {
      const auto* bytes = reinterpret_cast<const uint8_t*>(storage_[index].data());
      for (size_t byte = 0; byte < storage_[index].size() * sizeof(uint64_t); ++byte) {
        if (bytes[byte] != kPoison) {
          ++written;
          break;
        }
      }
    }
    return written;
  }

  AttentionArguments arguments;

 private:
  std::vector<std::vector<uint64_t>> storage_;
  std::vector<size_t> outputs_;
};

constexpr ScalarType kBf16 = ScalarType::kBFloat16;
constexpr ScalarType kFp32 = ScalarType::kFloat32;

// Fills q, k, v, o, lse and the backward tensors for [batch?, rows, heads, dim] layouts.
// `leading_q` / `leading_k` are the dimensions before heads ({B, S} or {T}).
void add_attention_tensors(Call& call, std::vector<int64_t> leading_q,
                           std::vector<int64_t> leading_k, int64_t heads_q, int64_t heads_kv,
                           int64_t head_dim, int64_t head_dim_v, std::vector<int64_t> lse_shape) {
  auto shape = [](std::vector<int64_t> leading, int64_t heads, int64_t width) {
    leading.push_back(heads);
    leading.push_back(width);
    return leading;
  };
  AttentionArguments& arguments = call.arguments;
  arguments.q = call.tensor(kBf16, shape(leading_q, heads_q, head_dim));
  arguments.k = call.tensor(kBf16, shape(leading_k, heads_kv, head_dim));
  arguments.v = call.tensor(kBf16, shape(leading_k, heads_kv, head_dim_v));
  arguments.o = call.output(kBf16, shape(leading_q, heads_q, head_dim_v));
  arguments.lse = call.output(kFp32, std::move(lse_shape));
  arguments.d_o = call.tensor(kBf16, shape(leading_q, heads_q, head_dim_v));
  arguments.dq = call.output(kBf16, shape(leading_q, heads_q, head_dim));
  arguments.dk = call.output(kBf16, shape(leading_k, heads_kv, head_dim));
  arguments.dv = call.output(kBf16, shape(leading_k, heads_kv, head_dim_v));
}

// Dense: B = 2, Sq = 5, Sk = 7, Hq = 4, Hkv = 2 (GQA 2:1), D = 32, Dv = 64, row 1 shorter.
Call dense_call() {
  Call call;
  add_attention_tensors(call, {2, 5}, {2, 7}, 4, 2, 32, 64, {2, 4, 5});
  call.arguments.seqlens_q = call.integers({5, 3});
  call.arguments.seqlens_k = call.integers({7, 4});
  call.arguments.parameters["p"] = call.integers({2, 0});
  return call;
}

// Varlen: documents (Lq, Lk) = (3, 4), (2, 2); Tq = 5, Tk = 6, Hq = 4, Hkv = 2, D = Dv = 32.
Call varlen_call() {
  Call call;
  add_attention_tensors(call, {5}, {6}, 4, 2, 32, 32, {4, 5});
  call.arguments.cu_seqlens_q = call.integers({0, 3, 5});
  call.arguments.cu_seqlens_k = call.integers({0, 4, 6});
  call.arguments.parameters["c"] = call.integers({2, 3});
  call.arguments.parameters["s"] = call.integers({1});
  return call;
}

// Doc_packed: B = 2, S = 6, MAX_DOCS = 2 (row 0: docs of 2 and 4; row 1: one doc and a sentinel).
Call doc_packed_call() {
  Call call;
  add_attention_tensors(call, {2, 6}, {2, 6}, 4, 2, 32, 32, {2, 4, 6});
  call.arguments.cu_seq = call.integers({0, 2, 6, 0, 6, 6}, ScalarType::kInt32, {2, 3});
  call.arguments.parameters["p"] = call.integers({1, 0, 3, 0});
  return call;
}

// dense_call() plus alibi slopes, without the lse the alibi spec does not output.
Call alibi_call() {
  Call call = dense_call();
  call.arguments.lse = TensorRef{};
  call.arguments.alibi_slopes = call.tensor(kFp32, {4});
  return call;
}

enum class Run { kForward, kBackward };

// Runs the pass on poisoned outputs and checks it throws kInvalidArgument with exactly
// `expected`, having written nothing: validation must come before any write.
void expect_rejected(const Kernel& kernel, Call& call, Run run, const std::string& expected) {
  call.poison_outputs();
  try {
    if (run == Run::kForward) {
      kernel.forward(call.arguments);
    } else {
      kernel.backward(call.arguments);
    }
    ADD_FAILURE() << "accepted; expected: " << expected;
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument) << error.what();
    EXPECT_EQ(std::string(error.what()), expected);
  }
  EXPECT_EQ(call.written_outputs(), 0) << "an output was written before validation failed";
}

void expect_forward_error(const Kernel& kernel, Call& call, const std::string& expected) {
  expect_rejected(kernel, call, Run::kForward, expected);
}

void expect_backward_error(const Kernel& kernel, Call& call, const std::string& expected) {
  expect_rejected(kernel, call, Run::kBackward, expected);
}

// Forward (then backward, if the spec has one) on poisoned outputs must not throw; the baseline
// test also checks they wrote the outputs, so "nothing written" above is a real observation.
void expect_accepted(const Kernel& kernel, Call& call) {
  call.poison_outputs();
  ASSERT_NO_THROW(kernel.forward(call.arguments));
  if (kernel.spec().backward) {
    ASSERT_NO_THROW(kernel.backward(call.arguments));
  }
}

// ---- Baselines -----------------------------------------------------------------------------

TEST(ArgumentErrorsTest, BaselineCallsAreAccepted) {
  {
    Call call = dense_call();
    expect_accepted(dense_kernel(), call);
    EXPECT_EQ(call.written_outputs(), 5);  // o, lse, dq, dk, dv
  }
  {
    Call call = varlen_call();
    expect_accepted(varlen_kernel(), call);
    EXPECT_EQ(call.written_outputs(), 5);
  }
  {
    Call call = doc_packed_call();
    expect_accepted(doc_packed_kernel(), call);
    EXPECT_EQ(call.written_outputs(), 5);
  }
  {
    Call call = alibi_call();
    expect_accepted(alibi_kernel(), call);
    EXPECT_EQ(call.written_outputs(), 1);  // o only: no lse output, no backward
  }
}

TEST(ArgumentErrorsTest, Int64OffsetsAndExplicitContiguousStridesAreAccepted) {
  Call call = varlen_call();
  call.arguments.cu_seqlens_q = call.integers({0, 3, 5}, ScalarType::kInt64);
  call.arguments.parameters["c"] = call.integers({2, 3}, ScalarType::kInt64);
  call.arguments.q.strides = {128, 32, 1};
  expect_accepted(varlen_kernel(), call);
}

// ---- Missing tensors -----------------------------------------------------------------------

TEST(ArgumentErrorsTest, MissingAttentionTensorsNameTheField) {
  const std::pair<TensorRef AttentionArguments::*, const char*> fields[] = {
      {&AttentionArguments::q, "q"},
      {&AttentionArguments::k, "k"},
      {&AttentionArguments::v, "v"},
      {&AttentionArguments::o, "o"}};
  for (const auto& [field, name] : fields) {
    Call call = dense_call();
    call.arguments.*field = TensorRef{};
    expect_forward_error(
        dense_kernel(), call,
        std::string(name) + ": error: is missing; pass it in AttentionArguments::" + name);
  }
}

TEST(ArgumentErrorsTest, MissingBackwardTensorsNameTheField) {
  const std::pair<TensorRef AttentionArguments::*, const char*> fields[] = {
      {&AttentionArguments::d_o, "d_o"},
      {&AttentionArguments::dq, "dq"},
      {&AttentionArguments::dk, "dk"},
      {&AttentionArguments::dv, "dv"}};
  for (const auto& [field, name] : fields) {
    Call call = dense_call();
    call.arguments.*field = TensorRef{};
    expect_backward_error(
        dense_kernel(), call,
        std::string(name) + ": error: is missing; pass it in AttentionArguments::" + name);
  }
}

TEST(ArgumentErrorsTest, MissingLseSaysWhoNeedsIt) {
  Call call = dense_call();
  call.arguments.lse = TensorRef{};
  expect_forward_error(dense_kernel(), call, "lse: error: is missing; the spec outputs lse");
  expect_backward_error(dense_kernel(), call,
                        "lse: error: is missing; the backward reads the forward's lse");
}

// ---- Rank, dtype, device, last dimension ---------------------------------------------------

TEST(ArgumentErrorsTest, WrongRankNamesTheLayoutsShape) {
  Call call = dense_call();
  call.arguments.q.shape = {2, 5, 128};  // heads and dim flattened
  expect_forward_error(
      dense_kernel(), call,
      "q: error: has shape [2, 5, 128]; layout dense needs [batch, seq, heads, dim]");
  Call varlen = varlen_call();
  varlen.arguments.k.shape = {1, 6, 2, 32};  // a dense-style batch of one
  expect_forward_error(
      varlen_kernel(), varlen,
      "k: error: has shape [1, 6, 2, 32]; layout varlen needs [tokens, heads, dim]");
}

TEST(ArgumentErrorsTest, WrongDtypeSuggestsConvertingOrAnotherSpec) {
  Call call = dense_call();
  call.arguments.q.dtype = ScalarType::kFloat16;
  expect_forward_error(dense_kernel(), call,
                       "q: error: dtype is fp16 but the spec says bf16; convert the tensor or use "
                       "a spec with dtype fp16");
  Call backward = dense_call();
  backward.arguments.dv.dtype = ScalarType::kFloat32;
  expect_backward_error(dense_kernel(), backward,
                        "dv: error: dtype is fp32 but the spec says bf16; convert the tensor or "
                        "use a spec with dtype fp32");
}

TEST(ArgumentErrorsTest, DtypeThatNoSpecHasOnlySuggestsConverting) {
  // No spec has dtype int32 or fp64, so suggesting one would send the user nowhere.
  Call call = dense_call();
  call.arguments.k.dtype = ScalarType::kInt32;
  expect_forward_error(
      dense_kernel(), call,
      "k: error: dtype is int32 but the spec says bf16; convert the tensor to bf16");
  call.arguments.k.dtype = ScalarType::kFloat64;
  expect_forward_error(
      dense_kernel(), call,
      "k: error: dtype is fp64 but the spec says bf16; convert the tensor to bf16");
}

TEST(ArgumentErrorsTest, TensorOnAnotherDevice) {
  Call call = dense_call();
  call.arguments.v.device = DeviceKind::kCuda;
  expect_forward_error(dense_kernel(), call,
                       "v: error: is on cuda but this kernel runs on cpu; move the tensor or pick "
                       "the other backend");
  Call backward = dense_call();
  backward.arguments.d_o.device = DeviceKind::kCuda;
  expect_backward_error(dense_kernel(), backward,
                        "d_o: error: is on cuda but this kernel runs on cpu; move the tensor or "
                        "pick the other backend");
}

TEST(ArgumentErrorsTest, NegativeGridBoundsAreRejectedAndAnyOtherAccepted) {
  Call call = varlen_call();
  call.arguments.max_seqlen_q = -1;
  expect_forward_error(varlen_kernel(), call,
                       "max_seqlen_q: error: is -1, must be >= 0; pass the longest document's "
                       "length, or 0 for the tensor's sequence rows");
  Call backward = varlen_call();
  backward.arguments.max_seqlen_k = -5;
  expect_backward_error(varlen_kernel(), backward,
                        "max_seqlen_k: error: is -5, must be >= 0; pass the longest document's "
                        "length, or 0 for the tensor's sequence rows");
  // A bound below a document's length or above the tensor's rows is a hint, not an error.
  Call hinted = varlen_call();
  hinted.arguments.max_seqlen_q = 1;
  hinted.arguments.max_seqlen_k = 1000000;
  expect_accepted(varlen_kernel(), hinted);
}

TEST(ArgumentErrorsTest, LastDimensionNamesHeadDimOrHeadDimV) {
  Call call = dense_call();
  call.arguments.q.shape = {2, 5, 4, 64};
  expect_forward_error(dense_kernel(), call,
                       "q: error: last dimension is 64 but the spec's head_dim is 32");
  Call v_call = dense_call();
  v_call.arguments.v.shape = {2, 7, 2, 32};
  expect_forward_error(dense_kernel(), v_call,
                       "v: error: last dimension is 32 but the spec's head_dim_v is 64");
  Call o_call = dense_call();
  o_call.arguments.o.shape = {2, 5, 4, 32};  // shaped like q: forgot head_dim_v
  expect_forward_error(dense_kernel(), o_call,
                       "o: error: last dimension is 32 but the spec's head_dim_v is 64");
  Call dk_call = dense_call();
  dk_call.arguments.dk.shape = {2, 7, 2, 64};  // shaped like v
  expect_backward_error(dense_kernel(), dk_call,
                        "dk: error: last dimension is 64 but the spec's head_dim is 32");
}

// ---- Strides, pointers, extents ------------------------------------------------------------

TEST(ArgumentErrorsTest, LastDimensionNotContiguous) {
  Call call = dense_call();
  call.arguments.q = call.tensor(kBf16, {2, 5, 4, 64});  // every other element of a wider tensor
  call.arguments.q.shape = {2, 5, 4, 32};
  call.arguments.q.strides = {1280, 256, 64, 2};
  expect_forward_error(dense_kernel(), call,
                       "q: error: last dimension is not contiguous (stride 2); pass a tensor whose "
                       "last dimension has stride 1 (e.g. .contiguous())");
}

TEST(ArgumentErrorsTest, NullDataPointer) {
  Call call = dense_call();
  call.arguments.k.data = nullptr;
  expect_forward_error(dense_kernel(), call, "k: error: data pointer is null");
  Call backward = dense_call();
  backward.arguments.dq.data = nullptr;
  expect_backward_error(dense_kernel(), backward, "dq: error: data pointer is null");
}

TEST(ArgumentErrorsTest, MisalignedDataPointer) {
  Call call = dense_call();
  call.arguments.o.data = static_cast<char*>(call.arguments.o.data) + 1;
  expect_forward_error(dense_kernel(), call,
                       "o: error: data pointer is not aligned to its element size (2 bytes)");
}

TEST(ArgumentErrorsTest, NegativeStride) {
  Call call = dense_call();
  call.arguments.q.strides = {640, -128, 32, 1};  // a reversed sequence view
  expect_forward_error(dense_kernel(), call,
                       "q: error: stride of dimension 1 is negative (-128); pass a tensor with "
                       "non-negative strides (e.g. .contiguous())");
}

TEST(ArgumentErrorsTest, NegativeDimensionIsReportedAsSuch) {
  // Contiguous strides derived from a negative extent are negative too; the message must name
  // the dimension the caller got wrong, not a stride it never passed.
  Call call = dense_call();
  call.arguments.k.shape = {2, -7, 2, 32};
  expect_forward_error(dense_kernel(), call, "k: error: dimension 1 is negative (-7)");
}

TEST(ArgumentErrorsTest, StrideCountDifferentFromRank) {
  Call call = dense_call();
  call.arguments.q.strides = {128, 32, 1};
  expect_forward_error(dense_kernel(), call,
                       "q: error: has 4 dimensions but 3 strides; give one stride per dimension, "
                       "or none for a contiguous tensor");
}

TEST(ArgumentErrorsTest, ExtentBeyondTwoTo63FailsBeforeTouchingMemory) {
  // Huge strides over the baseline's small buffer: any read or write would fault.
  Call call = dense_call();
  call.arguments.q.strides = {int64_t{1} << 62, int64_t{1} << 61, 32, 1};
  expect_forward_error(dense_kernel(), call,
                       "q: error: shape [2, 5, 4, 32] with strides [4611686018427387904, "
                       "2305843009213693952, 32, 1] addresses more than 2^63 elements; split the "
                       "problem into smaller calls");
  Call output = dense_call();
  output.arguments.dv.strides = {int64_t{1} << 62, 128, 64, 1};
  output.arguments.dv.shape = {3, 7, 2, 64};  // 2 * 2^62 overflows
  expect_backward_error(dense_kernel(), output,
                        "dv: error: shape [3, 7, 2, 64] with strides [4611686018427387904, 128, "
                        "64, 1] addresses more than 2^63 elements; split the problem into smaller "
                        "calls");
  Call offsets = varlen_call();
  offsets.arguments.cu_seqlens_q.strides = {int64_t{1} << 62};
  expect_forward_error(varlen_kernel(), offsets,
                       "cu_seqlens_q: error: shape [3] with strides [4611686018427387904] "
                       "addresses more than 2^63 elements; split the problem into smaller calls");
}

// ---- Shapes across tensors -----------------------------------------------------------------

TEST(ArgumentErrorsTest, VMustMatchKExceptItsLastDimension) {
  Call call = dense_call();
  call.arguments.v = call.tensor(kBf16, {2, 6, 2, 64});
  expect_forward_error(dense_kernel(), call,
                       "v: error: has shape [2, 6, 2, 64], expected [2, 7, 2, 64]; v must match k "
                       "except in its last dimension");
}

TEST(ArgumentErrorsTest, HeadsQNotAMultipleOfHeadsKvListsValidHkv) {
  Call call = dense_call();
  call.arguments.k = call.tensor(kBf16, {2, 7, 3, 32});
  call.arguments.v = call.tensor(kBf16, {2, 7, 3, 64});
  expect_forward_error(dense_kernel(), call,
                       "k: error: has 3 heads, which does not divide q's 4 heads (GQA needs "
                       "Hq % Hkv == 0); use Hkv in {1, 2, 4}");
  Call varlen = varlen_call();
  varlen.arguments.k = varlen.tensor(kBf16, {6, 0, 32});
  varlen.arguments.v = varlen.tensor(kBf16, {6, 0, 32});
  expect_forward_error(varlen_kernel(), varlen,
                       "k: error: has 0 heads, which does not divide q's 4 heads (GQA needs "
                       "Hq % Hkv == 0); use Hkv in {1, 2, 4}");
}

TEST(ArgumentErrorsTest, TooManyQueryHeads) {
  // 2^31 heads of zero stride over a small buffer: nothing may be read.
  Call call = dense_call();
  call.arguments.q.shape = {2, 5, kTwoTo31, 32};
  call.arguments.q.strides = {0, 0, 0, 1};
  call.arguments.k = call.tensor(kBf16, {2, 7, 1, 32});
  call.arguments.v = call.tensor(kBf16, {2, 7, 1, 64});
  expect_forward_error(dense_kernel(), call, "q: error: has too many heads");
}

TEST(ArgumentErrorsTest, OutputShapesMustFollowTheInputs) {
  Call o_call = dense_call();
  o_call.arguments.o = o_call.output(kBf16, {2, 6, 4, 64});
  expect_forward_error(dense_kernel(), o_call,
                       "o: error: has shape [2, 6, 4, 64], expected [2, 5, 4, 64]; o is shaped "
                       "like q with head_dim_v");
  Call d_o = dense_call();
  d_o.arguments.d_o = d_o.tensor(kBf16, {2, 5, 2, 64});
  expect_backward_error(dense_kernel(), d_o,
                        "d_o: error: has shape [2, 5, 2, 64], expected [2, 5, 4, 64]; d_o is "
                        "shaped like o");
  Call dq = dense_call();
  dq.arguments.dq = dq.output(kBf16, {2, 5, 2, 32});
  expect_backward_error(dense_kernel(), dq,
                        "dq: error: has shape [2, 5, 2, 32], expected [2, 5, 4, 32]; dq is shaped "
                        "like q");
  Call dk = dense_call();
  dk.arguments.dk = dk.output(kBf16, {2, 5, 2, 32});
  expect_backward_error(dense_kernel(), dk,
                        "dk: error: has shape [2, 5, 2, 32], expected [2, 7, 2, 32]; dk is shaped "
                        "like k");
  Call dv = dense_call();
  dv.arguments.dv = dv.output(kBf16, {2, 7, 4, 64});
  expect_backward_error(dense_kernel(), dv,
                        "dv: error: has shape [2, 7, 4, 64], expected [2, 7, 2, 64]; dv is shaped "
                        "like v");
}

// ---- LSE -----------------------------------------------------------------------------------

TEST(ArgumentErrorsTest, LseWrongDtype) {
  Call call = dense_call();
  call.arguments.lse = call.output(kBf16, {2, 4, 5});
  expect_forward_error(dense_kernel(), call, "lse: error: dtype is bf16; lse is fp32");
}

TEST(ArgumentErrorsTest, LseWrongShapeNamesTheLayoutsShape) {
  Call call = dense_call();
  call.arguments.lse = call.output(kFp32, {2, 5, 4});  // [B, S, H]: heads and rows swapped
  expect_forward_error(dense_kernel(), call,
                       "lse: error: has shape [2, 5, 4], expected [2, 4, 5]; lse is [B, Hq, S]");
  Call varlen = varlen_call();
  varlen.arguments.lse = varlen.output(kFp32, {1, 4, 5});
  expect_backward_error(varlen_kernel(), varlen,
                        "lse: error: has shape [1, 4, 5], expected [4, 5]; lse is [Hq, Tq]");
  Call packed = doc_packed_call();
  packed.arguments.lse = packed.output(kFp32, {2, 2, 6});  // Hkv instead of Hq
  expect_forward_error(doc_packed_kernel(), packed,
                       "lse: error: has shape [2, 2, 6], expected [2, 4, 6]; lse is [B, Hq, S]");
}

TEST(ArgumentErrorsTest, LseNotContiguous) {
  Call call = dense_call();
  call.arguments.lse = call.output(kFp32, {2, 4, 10});
  call.arguments.lse.shape = {2, 4, 5};
  call.arguments.lse.strides = {40, 10, 2};
  expect_forward_error(dense_kernel(), call,
                       "lse: error: must be contiguous; pass a contiguous float32 tensor");
}

TEST(ArgumentErrorsTest, LseOnAnotherDevice) {
  Call call = dense_call();
  call.arguments.lse.device = DeviceKind::kCuda;
  expect_forward_error(dense_kernel(), call,
                       "lse: error: is on cuda but this kernel runs on cpu; move the tensor or "
                       "pick the other backend");
}

TEST(ArgumentErrorsTest, LseNullOrMisalignedPointer) {
  // The forward writes lse through this pointer, so it gets the same checks as o.
  Call call = dense_call();
  call.arguments.lse.data = nullptr;
  expect_forward_error(dense_kernel(), call, "lse: error: data pointer is null");
  Call misaligned = dense_call();
  misaligned.arguments.lse.data = static_cast<char*>(misaligned.arguments.lse.data) + 2;
  expect_forward_error(dense_kernel(), misaligned,
                       "lse: error: data pointer is not aligned to its element size (4 bytes)");
}

TEST(ArgumentErrorsTest, LseGivenToASpecWithoutLseIsStillChecked) {
  // The alibi spec does not output lse, but a given lse is validated rather than ignored.
  Call call = alibi_call();
  call.arguments.lse = call.output(kBf16, {2, 4, 5});
  expect_forward_error(alibi_kernel(), call, "lse: error: dtype is bf16; lse is fp32");
}

// ---- Layout arrays -------------------------------------------------------------------------

TEST(ArgumentErrorsTest, DenseBatchMismatch) {
  Call call = dense_call();
  call.arguments.k = call.tensor(kBf16, {3, 7, 2, 32});
  call.arguments.v = call.tensor(kBf16, {3, 7, 2, 64});
  expect_forward_error(dense_kernel(), call, "k: error: batch is 3 but q's is 2");
}

TEST(ArgumentErrorsTest, DocPackedKeysMustMatchQueries) {
  Call call = doc_packed_call();
  call.arguments.k = call.tensor(kBf16, {2, 5, 2, 32});
  call.arguments.v = call.tensor(kBf16, {2, 5, 2, 32});
  expect_forward_error(doc_packed_kernel(), call,
                       "k: error: has shape [2, 5, 2, 32] but doc_packed is self-attention: K/V "
                       "must have q's batch and sequence length (2, 6)");
}

TEST(ArgumentErrorsTest, DocPackedCuSeqMissingOrMisshapen) {
  Call call = doc_packed_call();
  call.arguments.cu_seq = TensorRef{};
  expect_forward_error(
      doc_packed_kernel(), call,
      "cu_seq: error: is missing; layout doc_packed needs cu_seq [B, MAX_DOCS + 1]");
  call.arguments.cu_seq = call.integers({0, 2, 6, 0, 6, 6});  // flattened
  expect_forward_error(doc_packed_kernel(), call,
                       "cu_seq: error: has shape [6], expected [2, MAX_DOCS + 1]");
  call.arguments.cu_seq = call.integers({0, 6, 0, 6, 0, 6}, ScalarType::kInt32, {3, 2});
  expect_forward_error(doc_packed_kernel(), call,
                       "cu_seq: error: has shape [3, 2], expected [2, MAX_DOCS + 1]");
  call.arguments.cu_seq = call.integers({}, ScalarType::kInt32, {2, 0});
  expect_forward_error(doc_packed_kernel(), call,
                       "cu_seq: error: has shape [2, 0], expected [2, MAX_DOCS + 1]");
}

TEST(ArgumentErrorsTest, VarlenCuSeqlensMissing) {
  Call call = varlen_call();
  call.arguments.cu_seqlens_q = TensorRef{};
  expect_forward_error(varlen_kernel(), call,
                       "cu_seqlens_q: error: is missing; layout varlen needs cu_seqlens_q and "
                       "cu_seqlens_k ([N + 1] prefix sums of lengths)");
  Call k_call = varlen_call();
  k_call.arguments.cu_seqlens_k = TensorRef{};
  expect_forward_error(varlen_kernel(), k_call,
                       "cu_seqlens_k: error: is missing; layout varlen needs cu_seqlens_q and "
                       "cu_seqlens_k ([N + 1] prefix sums of lengths)");
}

TEST(ArgumentErrorsTest, ArraysOfAnotherLayoutAreRejected) {
  const std::string hint = "; remove it, or use a spec whose layout takes it";
  Call dense = dense_call();
  dense.arguments.cu_seqlens_q = dense.integers({0, 5, 8});
  expect_forward_error(dense_kernel(), dense,
                       "cu_seqlens_q: error: is not used by layout dense" + hint);
  Call dense_packed = dense_call();
  dense_packed.arguments.cu_seq = dense_packed.integers({0, 5, 0, 3}, ScalarType::kInt32, {2, 2});
  expect_forward_error(dense_kernel(), dense_packed,
                       "cu_seq: error: is not used by layout dense" + hint);
  Call varlen = varlen_call();
  varlen.arguments.cu_seq = varlen.integers({0, 3, 5}, ScalarType::kInt32, {1, 3});
  expect_forward_error(varlen_kernel(), varlen,
                       "cu_seq: error: is not used by layout varlen" + hint);
  Call varlen_seqlens = varlen_call();
  varlen_seqlens.arguments.seqlens_k = varlen_seqlens.integers({4, 2});
  expect_forward_error(varlen_kernel(), varlen_seqlens,
                       "seqlens_k: error: is not used by layout varlen" + hint);
  Call packed = doc_packed_call();
  packed.arguments.cu_seqlens_k_padded = packed.integers({0, 6});
  expect_forward_error(doc_packed_kernel(), packed,
                       "cu_seqlens_k_padded: error: is not used by layout doc_packed" + hint);
}

TEST(ArgumentErrorsTest, OffsetArraysMustBeIntegers) {
  Call call = varlen_call();
  call.arguments.cu_seqlens_k = call.tensor(kFp32, {3});
  expect_forward_error(varlen_kernel(), call,
                       "cu_seqlens_k: error: dtype is fp32; expected int32 (or int64)");
  Call dense = dense_call();
  dense.arguments.seqlens_q = dense.tensor(ScalarType::kFloat64, {2});
  expect_forward_error(dense_kernel(), dense,
                       "seqlens_q: error: dtype is fp64; expected int32 (or int64)");
  Call packed = doc_packed_call();
  packed.arguments.cu_seq = packed.tensor(kFp32, {2, 3});
  expect_forward_error(doc_packed_kernel(), packed,
                       "cu_seq: error: dtype is fp32; expected int32 (or int64)");
}

TEST(ArgumentErrorsTest, OffsetArraysMustBeOneDimensional) {
  Call call = varlen_call();
  call.arguments.cu_seqlens_q = call.integers({0, 3, 5}, ScalarType::kInt32, {1, 3});
  expect_forward_error(varlen_kernel(), call,
                       "cu_seqlens_q: error: has shape [1, 3]; expected a 1-D array");
  Call padded = varlen_call();
  padded.arguments.cu_seqlens_k_padded = padded.integers({0}, ScalarType::kInt32, {});
  padded.arguments.cu_seqlens_k_padded.shape = {};  // a scalar
  expect_forward_error(varlen_kernel(), padded,
                       "cu_seqlens_k_padded: error: has shape []; expected a 1-D array");
  Call dense = dense_call();
  dense.arguments.seqlens_k = dense.integers({7, 4}, ScalarType::kInt32, {2, 1});
  expect_forward_error(dense_kernel(), dense,
                       "seqlens_k: error: has shape [2, 1]; expected a 1-D array");
}

TEST(ArgumentErrorsTest, OffsetArrayOnAnotherDevice) {
  Call call = varlen_call();
  call.arguments.cu_seqlens_q.device = DeviceKind::kCuda;
  expect_forward_error(varlen_kernel(), call,
                       "cu_seqlens_q: error: is on cuda but this kernel runs on cpu; move the "
                       "tensor or pick the other backend");
}

TEST(ArgumentErrorsTest, OffsetArrayNullOrMisalignedPointer) {
  // The host reads these arrays: a null or misaligned pointer must be an error, not a fault.
  Call call = varlen_call();
  call.arguments.cu_seqlens_k.data = nullptr;
  expect_forward_error(varlen_kernel(), call, "cu_seqlens_k: error: data pointer is null");
  Call misaligned = doc_packed_call();
  misaligned.arguments.cu_seq.data = static_cast<char*>(misaligned.arguments.cu_seq.data) + 1;
  expect_forward_error(doc_packed_kernel(), misaligned,
                       "cu_seq: error: data pointer is not aligned to its element size (4 bytes)");
}

TEST(ArgumentErrorsTest, CuSeqlensStartingAtAnOffsetEndToEnd) {
  // The canonical-offset rule (compiler/layout, tested in detail in layout_errors_test) reached
  // through Kernel::forward: K/V has a 7-row past slot and the offsets were passed as lengths.
  Call call = varlen_call();
  call.arguments.k = call.tensor(kBf16, {13, 2, 32});
  call.arguments.v = call.tensor(kBf16, {13, 2, 32});
  call.arguments.dk = call.output(kBf16, {13, 2, 32});
  call.arguments.dv = call.output(kBf16, {13, 2, 32});
  call.arguments.cu_seqlens_k = call.integers({7, 11, 13});
  expect_forward_error(varlen_kernel(), call,
                       "cu_seqlens_k[0]: error: is 7, must be 0; cu_seqlens_k holds lengths: pass "
                       "cu - cu[0] and put the offsets in cu_seqlens_k_padded, or narrow K/V by 7 "
                       "rows");
  expect_backward_error(varlen_kernel(), call,
                        "cu_seqlens_k[0]: error: is 7, must be 0; cu_seqlens_k holds lengths: pass "
                        "cu - cu[0] and put the offsets in cu_seqlens_k_padded, or narrow K/V by "
                        "7 rows");
  // The fix the message suggests is accepted.
  call.arguments.cu_seqlens_k = call.integers({0, 4, 6});
  call.arguments.cu_seqlens_k_padded = call.integers({7, 11, 13});
  expect_accepted(varlen_kernel(), call);
}

TEST(ArgumentErrorsTest, MoreThanInt32MaxRowsFailsBeforeReadingTheTensor) {
  // 2^31 rows of stride 0 over a buffer of one row: only the shape is looked at.
  Call call = dense_call();
  call.arguments.q.shape = {2, kTwoTo31, 4, 32};
  call.arguments.q.strides = {0, 0, 32, 1};
  expect_forward_error(dense_kernel(), call,
                       "q: error: has 2147483648 rows in its sequence dimension; at most "
                       "2147483647 are supported (offsets are int32); split the sequence into "
                       "several calls");
  Call keys = dense_call();
  keys.arguments.k.shape = {2, kTwoTo31, 2, 32};
  keys.arguments.k.strides = {0, 0, 32, 1};
  keys.arguments.v.shape = {2, kTwoTo31, 2, 64};
  keys.arguments.v.strides = {0, 0, 64, 1};
  expect_backward_error(dense_kernel(), keys,
                        "k: error: has 2147483648 rows in its sequence dimension; at most "
                        "2147483647 are supported (offsets are int32); split the sequence into "
                        "several calls");
  Call varlen = varlen_call();
  varlen.arguments.q.shape = {kTwoTo31, 4, 32};
  varlen.arguments.q.strides = {0, 32, 1};
  expect_forward_error(varlen_kernel(), varlen,
                       "q: error: has 2147483648 rows in its sequence dimension; at most "
                       "2147483647 are supported (offsets are int32); split the sequence into "
                       "several calls");
}

// ---- Mask parameters -----------------------------------------------------------------------

TEST(ArgumentErrorsTest, ParameterMissing) {
  Call call = varlen_call();
  call.arguments.parameters.erase("c");
  expect_forward_error(varlen_kernel(), call,
                       "parameters[\"c\"]: error: is missing; the mask uses $c[doc]; pass an "
                       "int32 array with one value per document");
  Call scalar = varlen_call();
  scalar.arguments.parameters.erase("s");
  expect_forward_error(varlen_kernel(), scalar,
                       "parameters[\"s\"]: error: is missing; the mask uses $s; pass an int32 "
                       "tensor of shape [1]");
}

// The check pass proves mask arithmetic cannot overflow for int32 parameter values
// (compiler/passes/term_range.h); an int64 array is accepted, a value beyond int32 is not.
TEST(ArgumentErrorsTest, ParameterValueOutsideInt32) {
  Call call = varlen_call();
  call.arguments.parameters["c"] = call.integers({2, kTwoTo31}, ScalarType::kInt64);
  expect_forward_error(varlen_kernel(), call,
                       "parameters[\"c\"]: error: value 2147483648 at index 1 is outside int32; "
                       "mask parameters are int32 values (an int64 array is accepted, but its "
                       "values must fit in int32)");
  Call fits = varlen_call();
  fits.arguments.parameters["c"] = fits.integers({2, kTwoTo31 - 1}, ScalarType::kInt64);
  expect_accepted(varlen_kernel(), fits);
}

TEST(ArgumentErrorsTest, ParameterWrongLengthNamesTheCountPerLayout) {
  Call dense = dense_call();
  dense.arguments.parameters["p"] = dense.integers({2, 0, 1});
  expect_forward_error(dense_kernel(), dense,
                       "parameters[\"p\"]: error: has 3 values; expected 2 (one per document: B)");
  Call varlen = varlen_call();
  varlen.arguments.parameters["c"] = varlen.integers({2});
  expect_forward_error(varlen_kernel(), varlen,
                       "parameters[\"c\"]: error: has 1 values; expected 2 (one per document: N)");
  Call scalar = varlen_call();
  scalar.arguments.parameters["s"] = scalar.integers({1, 1});
  expect_forward_error(varlen_kernel(), scalar,
                       "parameters[\"s\"]: error: has 2 values; expected 1 (a scalar)");
  Call packed = doc_packed_call();
  packed.arguments.parameters["p"] = packed.integers({1, 3});  // one per row, not per slot
  expect_forward_error(doc_packed_kernel(), packed,
                       "parameters[\"p\"]: error: has 2 values; expected 4 (one per document: B "
                       "* MAX_DOCS)");
}

TEST(ArgumentErrorsTest, ParameterUnknownNameSuggestsTheNearest) {
  Call call = varlen_call();
  call.arguments.parameters["c2"] = call.integers({2, 3});
  // "c2" is one edit from "c" and two from "s": the hint must name the nearer one.
  expect_forward_error(varlen_kernel(), call,
                       "parameters[\"c2\"]: error: the mask has no parameter $c2; did you mean "
                       "'c'?");
  Call far = varlen_call();
  far.arguments.parameters["window"] = far.integers({1});
  expect_forward_error(
      varlen_kernel(), far,
      "parameters[\"window\"]: error: the mask has no parameter $window; remove it");
  Call dense = dense_call();
  dense.arguments.parameters["q"] = dense.integers({1, 1});
  expect_forward_error(dense_kernel(), dense,
                       "parameters[\"q\"]: error: the mask has no parameter $q; did you mean 'p'?");
}

TEST(ArgumentErrorsTest, ParameterArrayWrongDtypeOrRank) {
  Call call = varlen_call();
  call.arguments.parameters["c"] = call.tensor(kFp32, {2});
  expect_forward_error(varlen_kernel(), call,
                       "parameters[\"c\"]: error: dtype is fp32; expected int32 (or int64)");
  Call rank = varlen_call();
  rank.arguments.parameters["c"] = rank.integers({2, 3}, ScalarType::kInt32, {1, 2});
  expect_forward_error(varlen_kernel(), rank,
                       "parameters[\"c\"]: error: has shape [1, 2]; expected a 1-D array");
}

TEST(ArgumentErrorsTest, PrimitiveArgumentBelowItsMinimumNamesTheDocument) {
  Call call = varlen_call();
  call.arguments.parameters["c"] = call.integers({2, 0});  // chunk(0) for document 1
  expect_forward_error(varlen_kernel(), call,
                       "parameters: error: argument 'c' of chunk is 0 for document 1; it must be "
                       ">= 1; fix the parameter value of that document");
  Call scalar = varlen_call();
  scalar.arguments.parameters["s"] = scalar.integers({-1});
  expect_backward_error(varlen_kernel(), scalar,
                        "parameters: error: argument 'n' of sink is -1 for document 0; it must be "
                        ">= 0; fix the parameter value of that document");
  // Doc_packed numbers documents b * MAX_DOCS + slot: row 1, slot 1 (a sentinel) is document 3.
  Call packed = doc_packed_call();
  packed.arguments.parameters["p"] = packed.integers({1, 0, 3, -2});
  expect_forward_error(doc_packed_kernel(), packed,
                       "parameters: error: argument 'p' of prefix is -2 for document 3; it must "
                       "be >= 0; fix the parameter value of that document");
}

// ---- ALiBi ---------------------------------------------------------------------------------

TEST(ArgumentErrorsTest, AlibiSlopesMissing) {
  Call call = alibi_call();
  call.arguments.alibi_slopes = TensorRef{};
  expect_forward_error(alibi_kernel(), call,
                       "alibi_slopes: error: is missing; the spec has alibi: pass float32 slopes "
                       "[Hq]");
}

TEST(ArgumentErrorsTest, AlibiSlopesWrongDtype) {
  Call call = alibi_call();
  call.arguments.alibi_slopes = call.tensor(kBf16, {4});
  expect_forward_error(alibi_kernel(), call, "alibi_slopes: error: dtype is bf16; expected fp32");
}

TEST(ArgumentErrorsTest, AlibiSlopesWrongShape) {
  Call call = alibi_call();
  call.arguments.alibi_slopes = call.tensor(kFp32, {2});  // one per kv head
  expect_forward_error(
      alibi_kernel(), call,
      "alibi_slopes: error: has shape [2], expected [4]; one slope per query head");
}

TEST(ArgumentErrorsTest, AlibiSlopesNotContiguous) {
  Call call = alibi_call();
  call.arguments.alibi_slopes = call.tensor(kFp32, {8});
  call.arguments.alibi_slopes.shape = {4};
  call.arguments.alibi_slopes.strides = {2};
  expect_forward_error(alibi_kernel(), call, "alibi_slopes: error: must be contiguous");
}

TEST(ArgumentErrorsTest, AlibiSlopesOnAnotherDeviceOrNull) {
  Call call = alibi_call();
  call.arguments.alibi_slopes.device = DeviceKind::kCuda;
  expect_forward_error(alibi_kernel(), call,
                       "alibi_slopes: error: is on cuda but this kernel runs on cpu; move the "
                       "tensor or pick the other backend");
  Call null = alibi_call();
  null.arguments.alibi_slopes.data = nullptr;
  expect_forward_error(alibi_kernel(), null, "alibi_slopes: error: data pointer is null");
}

TEST(ArgumentErrorsTest, AlibiSlopesWithoutAlibi) {
  Call call = dense_call();
  call.arguments.alibi_slopes = call.tensor(kFp32, {4});
  expect_forward_error(dense_kernel(), call,
                       "alibi_slopes: error: is given but the spec has no alibi; remove it or set "
                       "\"alibi\": true");
}

// ---- Passes --------------------------------------------------------------------------------

TEST(ArgumentErrorsTest, BackwardOnAForwardOnlySpec) {
  Call call = alibi_call();
  expect_backward_error(alibi_kernel(), call,
                        "Kernel::backward: error: the spec was compiled without a backward; set "
                        "\"backward\": true in the spec");
}

}  // namespace
}  // namespace attncc
