// NaN and Inf in the inputs on the CPU backend (docs/ERRORS.md, "Non-finite inputs"): a NaN in a
// query row reaches that row's outputs only, a NaN key or value row reaches exactly the rows that
// attend it, and garbage in rows outside every document (padding) reaches nothing. Rows that do
// not attend the bad key stay finite and equal to the reference even when they share its tile.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "attncc/reference.h"
#include "attncc/runtime.h"
#include "support/layout_builders.h"
#include "support/random_inputs.h"

namespace attncc {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Dense causal, B = 2, S = 150 (three 64-row tiles), GQA 2:1, D = 32. Batch row 1 has Lq = 120
// and Lk = 100: its rows past those are padding, which callers may leave uninitialised.
constexpr int64_t kBatch = 2, kRows = 150, kHeadsQ = 2, kHeadsKv = 1, kDim = 32;

int64_t element(int64_t batch, int64_t row, int64_t head, int64_t heads, int64_t d) {
  return ((batch * kRows + row) * heads + head) * kDim + d;
}

// Which rows of a [B, S, H, D] tensor (or of LSE) a perturbation may reach.
using Rows = std::function<bool(int64_t batch, int64_t row, int64_t head)>;
bool no_rows(int64_t, int64_t, int64_t) { return false; }

struct Outputs {
  std::vector<float> o, lse, dq, dk, dv;
};

class NonFiniteInputs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    RuntimeOptions options;
    options.backend = Backend::kCpu;
    options.disk_cache = false;
    runtime_ = new Runtime(options);
    spec_ = new Spec(Spec::parse(R"({"layout": "dense", "dtype": "fp32", "head_dim": 32,
                                     "mask": "causal", "backward": true})",
                                 "nonfinite.json"));
    kernel_ = new Kernel(runtime_->get(*spec_));
    clean_ = new ReferenceInputs;
    clean_->shape = testing::build_dense(kRows, kRows, {{kRows, kRows}, {120, 100}}).shape;
    clean_->heads_q = kHeadsQ;
    clean_->heads_kv = kHeadsKv;
    testing::TestRandom random(20240607);
    testing::fill_random_tensors(*clean_, kDim, kDim, true, false, random);
    for (std::vector<double>* tensor : {&clean_->q, &clean_->k, &clean_->v, &clean_->d_o}) {
      for (double& value : *tensor) value = static_cast<float>(value);  // as the kernel sees it
    }
    expected_ = new ReferenceOutputs(reference_attention(*spec_, *clean_));
  }
  static void TearDownTestSuite() {
    delete expected_;
    delete clean_;
    delete kernel_;
    delete spec_;
    delete runtime_;
  }

  // Forward, then backward, on `inputs` in fp32 buffers; every output poisoned first.
  static Outputs run(const ReferenceInputs& inputs) {
    std::vector<float> q(inputs.q.begin(), inputs.q.end());
    std::vector<float> k(inputs.k.begin(), inputs.k.end());
    std::vector<float> v(inputs.v.begin(), inputs.v.end());
    std::vector<float> d_o(inputs.d_o.begin(), inputs.d_o.end());
    std::vector<int32_t> seqlens_q(inputs.shape.seqlens_q.begin(), inputs.shape.seqlens_q.end());
    std::vector<int32_t> seqlens_k(inputs.shape.seqlens_k.begin(), inputs.shape.seqlens_k.end());
    Outputs out{std::vector<float>(q.size(), -7.0f),
                std::vector<float>(kBatch * kHeadsQ * kRows, -7.0f),
                std::vector<float>(q.size(), -7.0f), std::vector<float>(k.size(), -7.0f),
                std::vector<float>(v.size(), -7.0f)};
    const std::vector<int64_t> q_shape{kBatch, kRows, kHeadsQ, kDim};
    const std::vector<int64_t> kv_shape{kBatch, kRows, kHeadsKv, kDim};
    auto fp32 = [](std::vector<float>& data, const std::vector<int64_t>& shape) {
      return TensorRef::cpu(data.data(), ScalarType::kFloat32, shape);
    };
    AttentionArguments arguments;
    arguments.q = fp32(q, q_shape);
    arguments.k = fp32(k, kv_shape);
    arguments.v = fp32(v, kv_shape);
    arguments.o = fp32(out.o, q_shape);
    arguments.lse = fp32(out.lse, {kBatch, kHeadsQ, kRows});
    arguments.seqlens_q = TensorRef::cpu(seqlens_q.data(), ScalarType::kInt32, {kBatch});
    arguments.seqlens_k = TensorRef::cpu(seqlens_k.data(), ScalarType::kInt32, {kBatch});
    kernel_->forward(arguments);
    arguments.d_o = fp32(d_o, q_shape);
    arguments.dq = fp32(out.dq, q_shape);
    arguments.dk = fp32(out.dk, kv_shape);
    arguments.dv = fp32(out.dv, kv_shape);
    kernel_->backward(arguments);
    return out;
  }

  // Rows of `actual` ([B, S, heads, D]) selected by `nan_rows` are NaN in every element; rows
  // selected by `unspecified` are not checked; every other row is finite and within fp32
  // tolerance of the clean reference (padding rows: exactly 0, as the reference).
  static void expect_rows(const std::string& name, const std::vector<float>& actual,
                          const std::vector<double>& expected, int64_t heads, const Rows& nan_rows,
                          const Rows& unspecified = no_rows) {
    double scale = 1e-30;
    for (double value : expected) scale = std::max(scale, std::fabs(value));
    int64_t nan_count = 0;
    int64_t clean_count = 0;
    for (int64_t batch = 0; batch < kBatch; ++batch) {
      for (int64_t row = 0; row < kRows; ++row) {
        for (int64_t head = 0; head < heads; ++head) {
          const std::string where = name + " batch " + std::to_string(batch) + " row " +
                                    std::to_string(row) + " head " + std::to_string(head);
          const bool nan = nan_rows(batch, row, head);
          if (!nan && unspecified(batch, row, head)) continue;
          ++(nan ? nan_count : clean_count);
          for (int64_t d = 0; d < kDim; ++d) {
            const int64_t index = element(batch, row, head, heads, d);
            if (nan) {
              ASSERT_TRUE(std::isnan(actual[index]))
                  << where << " d " << d << ": " << actual[index];
            } else {
              ASSERT_TRUE(std::isfinite(actual[index])) << where << " d " << d;
              ASSERT_NEAR(actual[index], expected[index], 1e-5 * scale) << where << " d " << d;
            }
          }
        }
      }
    }
    EXPECT_GT(clean_count, 0) << name;
  }

  // LSE [B, Hq, S]: NaN where `nan_rows`, else the reference (-inf exactly for padding rows).
  static void expect_lse(const std::vector<float>& actual, const Rows& nan_rows,
                         const Rows& unspecified = no_rows) {
    for (int64_t batch = 0; batch < kBatch; ++batch) {
      for (int64_t head = 0; head < kHeadsQ; ++head) {
        for (int64_t row = 0; row < kRows; ++row) {
          const int64_t index = (batch * kHeadsQ + head) * kRows + row;
          const std::string where = "lse batch " + std::to_string(batch) + " row " +
                                    std::to_string(row) + " head " + std::to_string(head);
          const double expected = expected_->lse[index];
          if (nan_rows(batch, row, head)) {
            ASSERT_TRUE(std::isnan(actual[index])) << where << ": " << actual[index];
          } else if (unspecified(batch, row, head)) {
            continue;
          } else if (std::isinf(expected)) {
            ASSERT_EQ(actual[index], expected) << where;
          } else {
            ASSERT_NEAR(actual[index], expected, 1e-4) << where;
          }
        }
      }
    }
  }

  static Runtime* runtime_;
  static Spec* spec_;
  static Kernel* kernel_;
  static ReferenceInputs* clean_;
  static ReferenceOutputs* expected_;
};

Runtime* NonFiniteInputs::runtime_ = nullptr;
Spec* NonFiniteInputs::spec_ = nullptr;
Kernel* NonFiniteInputs::kernel_ = nullptr;
ReferenceInputs* NonFiniteInputs::clean_ = nullptr;
ReferenceOutputs* NonFiniteInputs::expected_ = nullptr;

TEST_F(NonFiniteInputs, CleanInputsMatchTheReference) {
  Outputs out = run(*clean_);
  expect_rows("o", out.o, expected_->o, kHeadsQ, no_rows);
  expect_lse(out.lse, no_rows);
  expect_rows("dq", out.dq, expected_->dq, kHeadsQ, no_rows);
  expect_rows("dk", out.dk, expected_->dk, kHeadsKv, no_rows);
  expect_rows("dv", out.dv, expected_->dv, kHeadsKv, no_rows);
}

TEST_F(NonFiniteInputs, NanInAQueryRowReachesThatRowAndTheKeysItAttends) {
  // One element of batch 0, row 10, query head 1. Forward: that row's O and LSE only (it came
  // out as an empty row, O = 0 and LSE = -inf, before the max let NaN through). Backward: its
  // dQ, and dK/dV of the keys it attends (0..10); keys 11..63 share the tile and stay clean.
  ReferenceInputs inputs = *clean_;
  inputs.q[element(0, 10, 1, kHeadsQ, 5)] = kNaN;
  Outputs out = run(inputs);
  Rows row_10 = [](int64_t batch, int64_t row, int64_t head) {
    return batch == 0 && row == 10 && head == 1;
  };
  Rows keys_of_row_10 = [](int64_t batch, int64_t row, int64_t) { return batch == 0 && row <= 10; };
  expect_rows("o", out.o, expected_->o, kHeadsQ, row_10);
  expect_lse(out.lse, row_10);
  expect_rows("dq", out.dq, expected_->dq, kHeadsQ, row_10);
  expect_rows("dk", out.dk, expected_->dk, kHeadsKv, keys_of_row_10);
  expect_rows("dv", out.dv, expected_->dv, kHeadsKv, keys_of_row_10);
}

TEST_F(NonFiniteInputs, NanInAKeyRowReachesTheRowsThatAttendIt) {
  // Key 20 of batch 0 (the only kv head: both query heads read it). Causal: rows >= 20 attend
  // it; rows 0..19 share its 64-key tile but mask it out, and must not see the NaN. Batch 1
  // is untouched. (Backward: rows >= 20 attend every key up to them, so all of batch 0's dK/dV
  // is NaN; dQ of rows 0..19 stays clean.)
  ReferenceInputs inputs = *clean_;
  inputs.k[element(0, 20, 0, kHeadsKv, 3)] = kNaN;
  Outputs out = run(inputs);
  Rows attending = [](int64_t batch, int64_t row, int64_t) { return batch == 0 && row >= 20; };
  Rows batch_0 = [](int64_t batch, int64_t, int64_t) { return batch == 0; };
  expect_rows("o", out.o, expected_->o, kHeadsQ, attending);
  expect_lse(out.lse, attending);
  expect_rows("dq", out.dq, expected_->dq, kHeadsQ, attending);
  expect_rows("dk", out.dk, expected_->dk, kHeadsKv, batch_0);
  expect_rows("dv", out.dv, expected_->dv, kHeadsKv, batch_0);
}

TEST_F(NonFiniteInputs, NanInAValueRowReachesTheOutputsOfTheRowsThatAttendIt) {
  // A value row enters neither the scores nor dV = P^T dO: LSE and dV stay correct everywhere.
  // Rows 0..19 share the NaN row's tile; their dQ must not pick it up through dP = dO . v (p is
  // 0 there). dK gets it through the NaN O (delta) of rows >= 20, which attend every key up to
  // them.
  ReferenceInputs inputs = *clean_;
  for (int64_t d = 0; d < kDim; ++d) inputs.v[element(0, 20, 0, kHeadsKv, d)] = kNaN;
  Outputs out = run(inputs);
  Rows attending = [](int64_t batch, int64_t row, int64_t) { return batch == 0 && row >= 20; };
  Rows batch_0 = [](int64_t batch, int64_t, int64_t) { return batch == 0; };
  expect_rows("o", out.o, expected_->o, kHeadsQ, attending);
  expect_lse(out.lse, no_rows);
  expect_rows("dq", out.dq, expected_->dq, kHeadsQ, attending);
  expect_rows("dk", out.dk, expected_->dk, kHeadsKv, batch_0);
  expect_rows("dv", out.dv, expected_->dv, kHeadsKv, no_rows);
}

TEST_F(NonFiniteInputs, InfInAKeyRowStaysOutOfRowsThatDoNotAttendIt) {
  // +Inf makes q.k +-Inf or NaN depending on q; what the attending rows get is not specified,
  // but nothing else may change.
  ReferenceInputs inputs = *clean_;
  inputs.k[element(0, 40, 0, kHeadsKv, 0)] = kInf;
  Outputs out = run(inputs);
  Rows attending = [](int64_t batch, int64_t row, int64_t) { return batch == 0 && row >= 40; };
  expect_rows("o", out.o, expected_->o, kHeadsQ, no_rows, attending);
  expect_lse(out.lse, no_rows, attending);
  expect_rows("dq", out.dq, expected_->dq, kHeadsQ, no_rows, attending);
}

TEST_F(NonFiniteInputs, GarbageInPaddingRowsReachesNothing) {
  // Batch row 1: K/V rows 100..149 and Q / dO rows 120..149 belong to no document; NaN there (an
  // uninitialised buffer) changes nothing, and padding rows still get O = 0, LSE = -inf and
  // zero gradients.
  ReferenceInputs inputs = *clean_;
  for (int64_t row = 100; row < kRows; ++row) {
    for (int64_t d = 0; d < kDim; ++d) {
      inputs.k[element(1, row, 0, kHeadsKv, d)] = kNaN;
      inputs.v[element(1, row, 0, kHeadsKv, d)] = kNaN;
    }
  }
  for (int64_t row = 120; row < kRows; ++row) {
    for (int64_t head = 0; head < kHeadsQ; ++head) {
      for (int64_t d = 0; d < kDim; ++d) {
        inputs.q[element(1, row, head, kHeadsQ, d)] = kNaN;
        inputs.d_o[element(1, row, head, kHeadsQ, d)] = kNaN;
      }
    }
  }
  Outputs out = run(inputs);
  expect_rows("o", out.o, expected_->o, kHeadsQ, no_rows);
  expect_lse(out.lse, no_rows);
  expect_rows("dq", out.dq, expected_->dq, kHeadsQ, no_rows);
  expect_rows("dk", out.dk, expected_->dk, kHeadsKv, no_rows);
  expect_rows("dv", out.dv, expected_->dv, kHeadsKv, no_rows);
  // The reference says so too; spelled out because it is the point of the test.
  EXPECT_EQ(out.lse[(1 * kHeadsQ + 1) * kRows + 130], -kInf);
  EXPECT_EQ(out.o[element(1, 130, 1, kHeadsQ, 0)], 0.0f);
  EXPECT_EQ(out.dk[element(1, 120, 0, kHeadsKv, 0)], 0.0f);
}

}  // namespace
}  // namespace attncc
