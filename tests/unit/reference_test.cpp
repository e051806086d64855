// The float64 reference (compiler/reference/): forward against an independent dense softmax
// written here, backward against central finite differences, and the coverage, empty-row,
// sentinel and permutation rules of DESIGN §1-2. Inputs are fresh random draws every run.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "attncc/mask_expr.h"
#include "attncc/reference.h"
#include "attncc/spec.h"
#include "support/layout_builders.h"
#include "support/random_inputs.h"

namespace attncc {
namespace {

using testing::BuiltLayout;
using testing::TestRandom;

constexpr double kInf = std::numeric_limits<double>::infinity();

// M(i, j) written here from the DESIGN §2 table; `doc_parameter` is this document's $p[doc].
using MaskFunction = std::function<bool(int64_t i, int64_t j, int64_t lq, int64_t lk,
                                        int64_t doc_parameter)>;

struct MaskCase {
  std::string name;
  PredicatePtr tree;
  MaskFunction allowed;
  bool uses_parameter = false;  // prefix($p[doc])
};

TermPtr constant(int64_t value) { return make_constant(value); }

std::vector<MaskCase> mask_cases() {
  std::vector<MaskCase> cases;
  cases.push_back({"full", make_primitive("full", {}),
                   [](int64_t, int64_t, int64_t, int64_t, int64_t) { return true; }});
  cases.push_back({"causal", make_primitive("causal", {}),
                   [](int64_t i, int64_t j, int64_t, int64_t, int64_t) { return j <= i; }});
  cases.push_back({"causal_br", make_primitive("causal_br", {}),
                   [](int64_t i, int64_t j, int64_t lq, int64_t lk, int64_t) {
                     return j <= i + (lk - lq);
                   }});
  cases.push_back({"window(2, 1)", make_primitive("window", {constant(2), constant(1)}),
                   [](int64_t i, int64_t j, int64_t, int64_t, int64_t) {
                     return i - 2 <= j && j <= i + 1;
                   }});
  cases.push_back({"prefix($p[doc])", make_primitive("prefix", {make_parameter("p", true)}),
                   [](int64_t i, int64_t j, int64_t, int64_t, int64_t p) { return j < p || j <= i; },
                   true});
  cases.push_back({"chunk(3)", make_primitive("chunk", {constant(3)}),
                   [](int64_t i, int64_t j, int64_t, int64_t, int64_t) { return i / 3 == j / 3; }});
  // sink(1) | window_br(1, 0): a union with an opaque-free affine shape.
  cases.push_back({"sink(1) | window_br(1, 0)",
                   make_logical(PredicateKind::kOr,
                                {make_primitive("sink", {constant(1)}),
                                 make_primitive("window_br", {constant(1), constant(0)})}),
                   [](int64_t i, int64_t j, int64_t lq, int64_t lk, int64_t) {
                     int64_t diagonal = i + (lk - lq);
                     return j < 1 || (diagonal - 1 <= j && j <= diagonal);
                   }});
  return cases;
}

struct Options {
  int64_t heads_q = 1, heads_kv = 1;
  int64_t head_dim = 3, head_dim_v = 2;
  double softcap = 0.0;
  bool alibi = false;
  std::optional<double> softmax_scale;
};

Spec make_spec(Layout layout, const MaskCase& mask, const Options& options) {
  Spec spec;
  spec.layout = layout;
  spec.dtype = DType::kFloat32;
  spec.head_dim = static_cast<int>(options.head_dim);
  spec.head_dim_v = static_cast<int>(options.head_dim_v);
  spec.mask_text = mask.name;
  spec.mask = mask.tree;
  spec.softmax_scale = options.softmax_scale;
  spec.softcap = options.softcap;
  spec.alibi = options.alibi;
  spec.backward = true;
  if (mask.uses_parameter) spec.parameters = {{"p", true}};
  return spec;
}

int64_t document_slots(const LayoutShape& shape) {
  switch (shape.layout) {
    case Layout::kDense: return shape.batch;
    case Layout::kVarlen: return static_cast<int64_t>(shape.cu_seqlens_q.size()) - 1;
    case Layout::kDocPacked: return shape.batch * shape.max_docs;
  }
  return 0;
}

ReferenceInputs make_inputs(const BuiltLayout& layout, const MaskCase& mask,
                            const Options& options, bool backward, TestRandom& random) {
  ReferenceInputs inputs;
  inputs.shape = layout.shape;
  inputs.heads_q = options.heads_q;
  inputs.heads_kv = options.heads_kv;
  testing::fill_random_tensors(inputs, options.head_dim, options.head_dim_v, backward,
                               options.alibi, random);
  if (mask.uses_parameter) {
    std::vector<int64_t>& p = inputs.parameters["p"];
    for (int64_t d = 0; d < document_slots(layout.shape); ++d) p.push_back(random.integer(0, 7));
  }
  return inputs;
}

// Element offsets, written here from the DESIGN §1 shapes (rows per batch row = Sq / Tq / S).
struct Offsets {
  int64_t q_rows, k_rows, heads_q, heads_kv, d, dv;
  int64_t q(int64_t b, int64_t row, int64_t h) const { return ((b * q_rows + row) * heads_q + h) * d; }
  int64_t k(int64_t b, int64_t row, int64_t h) const { return ((b * k_rows + row) * heads_kv + h) * d; }
  int64_t v(int64_t b, int64_t row, int64_t h) const { return ((b * k_rows + row) * heads_kv + h) * dv; }
  int64_t o(int64_t b, int64_t row, int64_t h) const { return ((b * q_rows + row) * heads_q + h) * dv; }
  int64_t lse(int64_t b, int64_t h, int64_t row) const { return (b * heads_q + h) * q_rows + row; }
};

Offsets offsets_of(const ReferenceInputs& inputs, const Options& options) {
  return {inputs.shape.query_rows, inputs.shape.key_rows, inputs.heads_q, inputs.heads_kv,
          options.head_dim, options.head_dim_v};
}

int64_t batch_of(const LayoutShape& shape) {
  return shape.layout == Layout::kVarlen ? 1 : shape.batch;
}

// The independent implementation: for each document and head, the full [Lq, Lk] logit matrix
// with -inf where masked, then a textbook softmax per row.
ReferenceOutputs dense_softmax_attention(const BuiltLayout& layout, const ReferenceInputs& inputs,
                                         const MaskCase& mask, const Options& options,
                                         double scale) {
  Offsets at = offsets_of(inputs, options);
  int64_t batch = batch_of(inputs.shape);
  ReferenceOutputs out;
  out.o.assign(static_cast<size_t>(batch * at.q_rows * at.heads_q * at.dv), 0.0);
  out.lse.assign(static_cast<size_t>(batch * at.heads_q * at.q_rows), -kInf);
  for (const Document& doc : layout.documents) {
    int64_t lq = doc.query_length, lk = doc.key_length;
    int64_t parameter = mask.uses_parameter ? inputs.parameters.at("p")[doc.index] : 0;
    for (int64_t h = 0; h < at.heads_q; ++h) {
      int64_t g = h / (at.heads_q / at.heads_kv);
      std::vector<std::vector<double>> logits(lq, std::vector<double>(lk, -kInf));
      for (int64_t i = 0; i < lq; ++i) {
        for (int64_t j = 0; j < lk; ++j) {
          if (!mask.allowed(i, j, lq, lk, parameter)) continue;
          double s = 0.0;
          for (int64_t c = 0; c < at.d; ++c) {
            s += inputs.q[at.q(doc.batch, doc.query_start + i, h) + c] *
                 inputs.k[at.k(doc.batch, doc.key_start + j, g) + c];
          }
          s *= scale;
          if (options.softcap > 0) s = options.softcap * std::tanh(s / options.softcap);
          if (options.alibi) s += inputs.alibi_slopes[h] * static_cast<double>(j - i - (lk - lq));
          logits[i][j] = s;
        }
      }
      for (int64_t i = 0; i < lq; ++i) {
        double m = -kInf;
        for (double s : logits[i]) m = std::max(m, s);
        if (m == -kInf) continue;
        double z = 0.0;
        for (double s : logits[i]) z += std::exp(s - m);
        out.lse[at.lse(doc.batch, h, doc.query_start + i)] = m + std::log(z);
        for (int64_t j = 0; j < lk; ++j) {
          double p = std::exp(logits[i][j] - m) / z;
          for (int64_t c = 0; c < at.dv; ++c) {
            out.o[at.o(doc.batch, doc.query_start + i, h) + c] +=
                p * inputs.v[at.v(doc.batch, doc.key_start + j, g) + c];
          }
        }
      }
    }
  }
  return out;
}

void expect_close(const std::vector<double>& actual, const std::vector<double>& expected,
                  const std::string& what, double tolerance = 1e-12) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t n = 0; n < expected.size(); ++n) {
    if (std::isinf(expected[n])) {
      EXPECT_EQ(actual[n], expected[n]) << what << "[" << n << "]";
    } else {
      EXPECT_NEAR(actual[n], expected[n], tolerance * (1.0 + std::abs(expected[n])))
          << what << "[" << n << "]";
    }
  }
}

void expect_no_nan(const ReferenceOutputs& out) {
  for (const std::vector<double>* tensor : {&out.o, &out.lse, &out.dq, &out.dk, &out.dv}) {
    for (double value : *tensor) ASSERT_FALSE(std::isnan(value));
  }
}

std::vector<Options> option_cases() {
  std::vector<Options> cases(6);
  cases[1].heads_q = 2;  // GQA 2:1
  cases[2].heads_q = 4;  // GQA 4:1 with softcap
  cases[2].softcap = 0.8;
  cases[3].heads_q = 4;  // 4:2 with ALiBi
  cases[3].heads_kv = 2;
  cases[3].alibi = true;
  cases[4].heads_q = 2;  // everything at once, explicit scale
  cases[4].softcap = 1.5;
  cases[4].alibi = true;
  cases[4].softmax_scale = 0.9;
  cases[5].head_dim = 5;  // D != Dv the other way round
  cases[5].head_dim_v = 7;
  return cases;
}

std::string describe(const Options& o) {
  return "Hq " + std::to_string(o.heads_q) + " Hkv " + std::to_string(o.heads_kv) + " D " +
         std::to_string(o.head_dim) + " Dv " + std::to_string(o.head_dim_v) + " softcap " +
         std::to_string(o.softcap) + (o.alibi ? " alibi" : "");
}

void expect_matches_dense_softmax(const BuiltLayout& layout, const MaskCase& mask,
                                  const Options& options, TestRandom& random) {
  Spec spec = make_spec(layout.shape.layout, mask, options);
  ReferenceInputs inputs = make_inputs(layout, mask, options, false, random);
  ReferenceOutputs actual = reference_attention(spec, inputs);
  ReferenceOutputs expected = dense_softmax_attention(layout, inputs, mask, options, spec.scale());
  expect_no_nan(actual);
  expect_close(actual.o, expected.o, "o");
  expect_close(actual.lse, expected.lse, "lse");
  EXPECT_TRUE(actual.dq.empty() && actual.dk.empty() && actual.dv.empty());
}

TEST(ReferenceTest, ForwardMatchesDenseSoftmaxOnRandomProblems) {
  uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  TestRandom random(seed);
  for (Layout layout : {Layout::kDense, Layout::kVarlen, Layout::kDocPacked}) {
    for (const MaskCase& mask : mask_cases()) {
      for (const Options& options : option_cases()) {
        for (int repeat = 0; repeat < 3; ++repeat) {
          SCOPED_TRACE(std::string(layout_name(layout)) + " " + mask.name + " " +
                       describe(options) + " repeat " + std::to_string(repeat));
          expect_matches_dense_softmax(testing::random_layout(layout, random), mask, options,
                                       random);
          if (HasFailure()) return;
        }
      }
    }
  }
}

TEST(ReferenceTest, CausalBottomRightBothAspectRatios) {
  uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  TestRandom random(seed);
  MaskCase mask = mask_cases()[2];
  ASSERT_EQ(mask.name, "causal_br");
  Options options;
  options.heads_q = 2;
  std::vector<BuiltLayout> layouts = {
      testing::build_dense(6, 3, {{6, 3}, {5, 2}}),              // Lq > Lk
      testing::build_dense(3, 6, {{3, 6}, {2, 5}}),              // Lq < Lk
      testing::build_varlen({{5, 2}, {2, 5}, {4, 4}, {3, 0}})};  // both, equal, empty K
  for (const BuiltLayout& layout : layouts) {
    expect_matches_dense_softmax(layout, mask, options, random);
  }
}

// A spec from Spec::parse (mask text through the real parser, parameters declared by the spec)
// gives what the same semantics written by hand give.
TEST(ReferenceTest, ParsedSpecMatchesDenseSoftmax) {
  uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  TestRandom random(seed);
  Spec spec = Spec::parse(R"json({"layout": "varlen", "dtype": "fp32", "head_dim": 32,
      "head_dim_v": 64, "mask": "prefix($p[doc]) & !(j == i - 1)", "softcap": 2.5,
      "alibi": true})json");
  MaskCase mask{"prefix($p[doc]) & !(j == i - 1)", spec.mask,
                [](int64_t i, int64_t j, int64_t, int64_t, int64_t p) {
                  return (j < p || j <= i) && j != i - 1;
                },
                true};
  Options options;
  options.heads_q = 2;
  options.head_dim = 32;
  options.head_dim_v = 64;
  options.softcap = 2.5;
  options.alibi = true;
  BuiltLayout layout = testing::build_varlen({{4, 5}, {3, 3}, {0, 2}}, {0, 1, 0, 2}, {});
  ReferenceInputs inputs = make_inputs(layout, mask, options, false, random);
  ReferenceOutputs actual = reference_attention(spec, inputs);
  ReferenceOutputs expected = dense_softmax_attention(layout, inputs, mask, options, spec.scale());
  expect_close(actual.o, expected.o, "o");
  expect_close(actual.lse, expected.lse, "lse");
}

// loss = sum(O * dO); its gradient is what backward returns for the upstream gradient dO.
double loss(const Spec& spec, ReferenceInputs inputs, const std::vector<double>& d_o) {
  inputs.d_o.clear();
  ReferenceOutputs out = reference_attention(spec, inputs);
  double sum = 0.0;
  for (size_t n = 0; n < d_o.size(); ++n) sum += out.o[n] * d_o[n];
  return sum;
}

void expect_gradient_matches_differences(const Spec& spec, const ReferenceInputs& inputs,
                                         std::vector<double> ReferenceInputs::*tensor,
                                         const std::vector<double>& gradient,
                                         const std::string& what) {
  constexpr double kStep = 1e-6;
  const std::vector<double>& values = inputs.*tensor;
  ASSERT_EQ(gradient.size(), values.size()) << what;
  double largest = 0.0, worst = 0.0;
  for (size_t n = 0; n < values.size(); ++n) {
    ReferenceInputs plus = inputs, minus = inputs;
    (plus.*tensor)[n] += kStep;
    (minus.*tensor)[n] -= kStep;
    double difference = (loss(spec, plus, inputs.d_o) - loss(spec, minus, inputs.d_o)) / (2 * kStep);
    largest = std::max(largest, std::abs(difference));
    worst = std::max(worst, std::abs(difference - gradient[n]));
  }
  // A gradient that is zero everywhere would pass trivially; the cases are built so it is not.
  EXPECT_GT(largest, 1e-3) << what;
  EXPECT_LT(worst / largest, 1e-6) << what << ": max error " << worst << ", max |grad| " << largest;
}

TEST(ReferenceTest, BackwardMatchesCentralDifferences) {
  uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  TestRandom random(seed);
  std::vector<MaskCase> masks = mask_cases();
  struct Case {
    BuiltLayout layout;
    MaskCase mask;
  };
  std::vector<Case> cases = {
      {testing::build_dense(4, 5, {{4, 5}, {3, 4}}), masks[3]},                 // window
      {testing::build_varlen({{3, 4}, {4, 2}, {2, 0}}, {1, 0, 2, 1}, {2, 1, 0, 0}),
       masks[2]},                                                                 // causal_br
      {testing::build_doc_packed(7, 3, {{3, 4}, {5}}), masks[4]},                 // prefix
  };
  for (const Case& c : cases) {
    for (double softcap : {0.0, 0.7}) {
      for (bool alibi : {false, true}) {
        Options options;
        options.heads_q = 2;
        options.heads_kv = 1;
        options.head_dim = 3;
        options.head_dim_v = 2;
        options.softcap = softcap;
        options.alibi = alibi;
        options.softmax_scale = 1.3;  // large enough that tanh is far from linear
        SCOPED_TRACE(std::string(layout_name(c.layout.shape.layout)) + " " + c.mask.name + " " +
                     describe(options));
        Spec spec = make_spec(c.layout.shape.layout, c.mask, options);
        ReferenceInputs inputs = make_inputs(c.layout, c.mask, options, true, random);
        ReferenceOutputs out = reference_attention(spec, inputs);
        expect_no_nan(out);
        expect_gradient_matches_differences(spec, inputs, &ReferenceInputs::q, out.dq, "dq");
        expect_gradient_matches_differences(spec, inputs, &ReferenceInputs::k, out.dk, "dk");
        expect_gradient_matches_differences(spec, inputs, &ReferenceInputs::v, out.dv, "dv");
      }
    }
  }
}

// Checks every row of Q and K/V: rows in no document (or queries with no attended key) are
// exactly O = 0, LSE = -inf, dQ = 0; keys in no document exactly dK = dV = 0; the rest finite.
void expect_coverage(const BuiltLayout& layout, const ReferenceInputs& inputs,
                     const Options& options, const ReferenceOutputs& out,
                     const std::function<bool(const Document&, int64_t i)>& row_has_keys) {
  Offsets at = offsets_of(inputs, options);
  int64_t batch = batch_of(inputs.shape);
  expect_no_nan(out);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t row = 0; row < at.q_rows; ++row) {
      bool live = false;
      for (const Document& doc : layout.documents) {
        if (doc.batch == b && row >= doc.query_start && row < doc.query_start + doc.query_length) {
          live = row_has_keys(doc, row - doc.query_start);
        }
      }
      for (int64_t h = 0; h < at.heads_q; ++h) {
        SCOPED_TRACE("q row " + std::to_string(row) + " batch " + std::to_string(b) + " head " +
                     std::to_string(h));
        double lse = out.lse[at.lse(b, h, row)];
        if (live) {
          EXPECT_TRUE(std::isfinite(lse));
        } else {
          EXPECT_EQ(lse, -kInf);
        }
        for (int64_t c = 0; c < at.dv; ++c) {
          double o = out.o[at.o(b, row, h) + c];
          if (live) EXPECT_TRUE(std::isfinite(o));
          else EXPECT_EQ(o, 0.0);
        }
        for (int64_t c = 0; c < at.d; ++c) {
          double dq = out.dq[at.q(b, row, h) + c];
          if (live) EXPECT_TRUE(std::isfinite(dq));
          else EXPECT_EQ(dq, 0.0);
        }
      }
    }
    for (int64_t row = 0; row < at.k_rows; ++row) {
      bool in_document = false;
      for (const Document& doc : layout.documents) {
        in_document |= doc.batch == b && row >= doc.key_start &&
                       row < doc.key_start + doc.key_length && doc.query_length > 0;
      }
      if (in_document) continue;
      for (int64_t h = 0; h < at.heads_kv; ++h) {
        SCOPED_TRACE("k row " + std::to_string(row) + " batch " + std::to_string(b));
        for (int64_t c = 0; c < at.d; ++c) EXPECT_EQ(out.dk[at.k(b, row, h) + c], 0.0);
        for (int64_t c = 0; c < at.dv; ++c) EXPECT_EQ(out.dv[at.v(b, row, h) + c], 0.0);
      }
    }
  }
}

TEST(ReferenceTest, EmptyRowsAreZeroWithInfiniteLse) {
  uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  TestRandom random(seed);
  MaskCase causal_br = mask_cases()[2];
  Options options;
  options.heads_q = 2;
  options.softcap = 0.9;
  options.alibi = true;
  // causal_br with Lq > Lk: rows i < Lq - Lk see no key. Varlen doc 1 has no keys at all.
  for (const BuiltLayout& layout :
       {testing::build_dense(5, 2, {{5, 2}}), testing::build_varlen({{3, 3}, {3, 0}, {4, 1}})}) {
    SCOPED_TRACE(std::string(layout_name(layout.shape.layout)));
    Spec spec = make_spec(layout.shape.layout, causal_br, options);
    ReferenceInputs inputs = make_inputs(layout, causal_br, options, true, random);
    ReferenceOutputs out = reference_attention(spec, inputs);
    expect_coverage(layout, inputs, options, out, [](const Document& doc, int64_t i) {
      return doc.key_length > 0 && i + (doc.key_length - doc.query_length) >= 0;
    });
  }
}

TEST(ReferenceTest, PaddingRowsAreCoveredInEveryLayout) {
  uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  TestRandom random(seed);
  MaskCase full = mask_cases()[0];
  Options options;
  options.heads_q = 4;
  options.heads_kv = 2;
  std::vector<BuiltLayout> layouts = {
      // dense: rows past seqlens_q / seqlens_k
      testing::build_dense(5, 6, {{2, 6}, {5, 3}, {0, 4}}),
      // varlen: Q gaps and tail, K/V past slot, gaps and tail
      testing::build_varlen({{2, 3}, {3, 1}, {1, 2}}, {1, 2, 0, 3}, {3, 1, 2, 2}),
      // doc_packed: rows after the last sentinel of each batch row belong to no document
      testing::build_doc_packed(8, 4, {{2, 3}, {1}, {}})};
  for (const BuiltLayout& layout : layouts) {
    SCOPED_TRACE(std::string(layout_name(layout.shape.layout)));
    Spec spec = make_spec(layout.shape.layout, full, options);
    ReferenceInputs inputs = make_inputs(layout, full, options, true, random);
    ReferenceOutputs out = reference_attention(spec, inputs);
    expect_coverage(layout, inputs, options, out,
                    [](const Document& doc, int64_t) { return doc.key_length > 0; });
  }
}

TEST(ReferenceTest, KeysNobodyAttendsGetZeroGradients) {
  uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  TestRandom random(seed);
  // causal (top-left) with Lk > Lq: keys j >= Lq of each document are never attended.
  MaskCase causal = mask_cases()[1];
  Options options;
  options.heads_q = 2;
  options.softcap = 0.5;
  options.alibi = true;
  BuiltLayout layout = testing::build_varlen({{3, 6}, {2, 4}});
  Spec spec = make_spec(Layout::kVarlen, causal, options);
  ReferenceInputs inputs = make_inputs(layout, causal, options, true, random);
  ReferenceOutputs out = reference_attention(spec, inputs);
  Offsets at = offsets_of(inputs, options);
  expect_no_nan(out);
  for (const Document& doc : layout.documents) {
    for (int64_t j = 0; j < doc.key_length; ++j) {
      bool attended = j < doc.query_length;
      double dk_norm = 0.0, dv_norm = 0.0;
      for (int64_t c = 0; c < at.d; ++c) dk_norm += std::abs(out.dk[at.k(0, doc.key_start + j, 0) + c]);
      for (int64_t c = 0; c < at.dv; ++c) dv_norm += std::abs(out.dv[at.v(0, doc.key_start + j, 0) + c]);
      SCOPED_TRACE("document " + std::to_string(doc.index) + " key " + std::to_string(j));
      if (attended) {
        EXPECT_GT(dv_norm, 0.0);
      } else {
        EXPECT_EQ(dk_norm, 0.0);
        EXPECT_EQ(dv_norm, 0.0);
      }
    }
  }
}

void expect_identical(const ReferenceOutputs& a, const ReferenceOutputs& b) {
  // Bit-identical: the same documents must be computed by the same arithmetic.
  EXPECT_EQ(a.o, b.o);
  EXPECT_EQ(a.lse, b.lse);
  EXPECT_EQ(a.dq, b.dq);
  EXPECT_EQ(a.dk, b.dk);
  EXPECT_EQ(a.dv, b.dv);
}

TEST(ReferenceTest, SentinelCountNeverChangesResults) {
  uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  TestRandom random(seed);
  MaskCase prefix = mask_cases()[4];
  Options options;
  options.heads_q = 2;
  options.softcap = 1.1;
  options.alibi = true;
  std::vector<std::vector<int64_t>> rows = {{3, 2, 1}, {4}, {}};
  BuiltLayout three = testing::build_doc_packed(7, 3, rows);
  BuiltLayout eight = testing::build_doc_packed(7, 8, rows);
  Spec spec = make_spec(Layout::kDocPacked, prefix, options);
  ReferenceInputs a = make_inputs(three, prefix, options, true, random);
  ReferenceInputs b = a;
  b.shape = eight.shape;
  // Same $p per real document; sentinel slots get junk that must not matter.
  b.parameters["p"].clear();
  for (int64_t batch = 0; batch < 3; ++batch) {
    for (int64_t k = 0; k < 8; ++k) {
      b.parameters["p"].push_back(k < 3 ? a.parameters["p"][batch * 3 + k] : random.integer(-5, 50));
    }
  }
  expect_identical(reference_attention(spec, a), reference_attention(spec, b));
}

TEST(ReferenceTest, ReorderingDocumentsPermutesOutputs) {
  uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  TestRandom random(seed);
  MaskCase prefix = mask_cases()[4];
  Options options;
  options.heads_q = 4;
  options.heads_kv = 2;
  options.softcap = 0.6;
  options.alibi = true;
  std::vector<std::pair<int64_t, int64_t>> lengths = {{3, 4}, {2, 2}, {4, 3}};
  const std::vector<size_t> order = {2, 0, 1};  // document n of B is document order[n] of A
  std::vector<std::pair<int64_t, int64_t>> permuted;
  for (size_t n : order) permuted.push_back(lengths[n]);
  BuiltLayout first = testing::build_varlen(lengths, {1, 0, 2, 1}, {0, 2, 0, 1});
  BuiltLayout second = testing::build_varlen(permuted, {0, 1, 1, 0}, {2, 0, 1, 0});
  Spec spec = make_spec(Layout::kVarlen, prefix, options);
  ReferenceInputs a = make_inputs(first, prefix, options, true, random);
  ReferenceInputs b = make_inputs(second, prefix, options, true, random);
  Offsets at_a = offsets_of(a, options), at_b = offsets_of(b, options);
  const int64_t q_width = options.heads_q * options.head_dim;
  const int64_t k_width = options.heads_kv * options.head_dim;
  const int64_t v_width = options.heads_kv * options.head_dim_v;
  const int64_t o_width = options.heads_q * options.head_dim_v;
  auto copy_rows = [](const std::vector<double>& from, int64_t from_row, std::vector<double>& to,
                      int64_t to_row, int64_t rows, int64_t width) {
    for (int64_t n = 0; n < rows * width; ++n) to[to_row * width + n] = from[from_row * width + n];
  };
  for (size_t n = 0; n < order.size(); ++n) {
    const Document& da = first.documents[order[n]];
    const Document& db = second.documents[n];
    copy_rows(a.q, da.query_start, b.q, db.query_start, da.query_length, q_width);
    copy_rows(a.d_o, da.query_start, b.d_o, db.query_start, da.query_length, o_width);
    copy_rows(a.k, da.key_start, b.k, db.key_start, da.key_length, k_width);
    copy_rows(a.v, da.key_start, b.v, db.key_start, da.key_length, v_width);
    b.parameters["p"][n] = a.parameters["p"][order[n]];
  }
  b.alibi_slopes = a.alibi_slopes;
  ReferenceOutputs out_a = reference_attention(spec, a), out_b = reference_attention(spec, b);
  auto expect_same_rows = [](const std::vector<double>& x, int64_t x_row,
                             const std::vector<double>& y, int64_t y_row, int64_t rows,
                             int64_t width, const char* what) {
    for (int64_t n = 0; n < rows * width; ++n) {
      ASSERT_EQ(x[x_row * width + n], y[y_row * width + n]) << what;
    }
  };
  for (size_t n = 0; n < order.size(); ++n) {
    const Document& da = first.documents[order[n]];
    const Document& db = second.documents[n];
    SCOPED_TRACE("document " + std::to_string(order[n]) + " -> " + std::to_string(n));
    expect_same_rows(out_a.o, da.query_start, out_b.o, db.query_start, da.query_length, o_width, "o");
    expect_same_rows(out_a.dq, da.query_start, out_b.dq, db.query_start, da.query_length, q_width, "dq");
    expect_same_rows(out_a.dk, da.key_start, out_b.dk, db.key_start, da.key_length, k_width, "dk");
    expect_same_rows(out_a.dv, da.key_start, out_b.dv, db.key_start, da.key_length, v_width, "dv");
    for (int64_t h = 0; h < options.heads_q; ++h) {
      for (int64_t i = 0; i < da.query_length; ++i) {
        EXPECT_EQ(out_a.lse[at_a.lse(0, h, da.query_start + i)],
                  out_b.lse[at_b.lse(0, h, db.query_start + i)]);
      }
    }
  }
}

}  // namespace
}  // namespace attncc
