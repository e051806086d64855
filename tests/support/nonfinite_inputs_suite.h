// NaN and Inf in the inputs (docs/ERRORS.md, "Non-finite inputs"), one suite for every backend: a
// NaN in a query row reaches that row's outputs, a NaN key or value row the rows that attend it,
// and garbage in rows outside every document (padding) reaches nothing. On the CPU backend rows
// that do not attend the bad key stay finite and equal to the reference even when they share its
// tile; the CUDA kernels' matrix products multiply masked zeros by the bad row's elements
// (0 * NaN = NaN), so there a bad element may also reach rows and keys of its tile, and nothing
// outside it.
//
// A header of tests: each executable that includes it instantiates NonFiniteInputs with its
// backends (tests/unit/nonfinite_inputs_test.cpp: CPU in fp32 and the CUDA kernels on the
// emulator in bf16; tests/gpu/cuda_nonfinite_inputs_test.cpp: a real GPU, where the PTX of the
// NaN-propagating max and the exp2 runs for real).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "attncc/reference.h"
#include "attncc/runtime.h"
#include "support/attention_call.h"
#include "support/backend_cases.h"
#include "support/cuda_device_buffers.h"
#include "support/fake_cuda_device.h"
#include "support/layout_builders.h"
#include "support/random_inputs.h"

namespace attncc::testing {

/// One instantiation: the backend and the dtype its kernels run in (the CUDA kernels have no fp32).
struct NonFiniteBackend {
  std::string name;  ///< test name suffix
  Backend backend;
  DType dtype;
  /// 0: a bad element reaches exactly the outputs the contract names. N: it may also reach those
  /// of rows and keys in its block of N sequence rows (the kernels' tiles), never beyond.
  int64_t shared_block_rows = 0;
  CpuBackwardSchedule cpu_backward = CpuBackwardSchedule::kAuto;  ///< CPU backend only
  CpuForwardSchedule cpu_forward = CpuForwardSchedule::kAuto;    ///< CPU backend only
};

/// For gtest's messages ("GetParam() = cuda_bf16").
inline void PrintTo(const NonFiniteBackend& backend, std::ostream* stream) { *stream << backend.name; }

inline std::string non_finite_backend_name(const ::testing::TestParamInfo<NonFiniteBackend>& info) {
  return info.param.name;
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Dense causal, B = 2, S = 150 (three 64-row tiles), GQA 2:1, D = 32. Batch row 1 has Lq = 120
// and Lk = 100: its rows past those are padding, which callers may leave uninitialised.
constexpr int64_t kBatch = 2, kRows = 150, kHeadsQ = 2, kHeadsKv = 1, kDim = 32;

inline int64_t element(int64_t batch, int64_t row, int64_t head, int64_t heads, int64_t d) {
  return ((batch * kRows + row) * heads + head) * kDim + d;
}

// Which rows of a [B, S, H, D] tensor (or of LSE) a perturbation may reach.
using Rows = std::function<bool(int64_t batch, int64_t row, int64_t head)>;
inline bool no_rows(int64_t, int64_t, int64_t) { return false; }

class NonFiniteInputs : public ::testing::TestWithParam<NonFiniteBackend> {
 protected:
  // What one backend's tests share: its kernel, the clean inputs (rounded to its dtype) and the
  // reference's outputs on them. Built once per backend, on its first test.
  struct State {
    std::unique_ptr<Runtime> runtime;
    Spec spec;
    std::unique_ptr<Kernel> kernel;
    uint64_t seed = 0;
    ReferenceInputs clean;
    ReferenceOutputs expected;
  };

  void SetUp() override {
    const NonFiniteBackend& backend = GetParam();
    if (backend.backend == Backend::kCuda) {
      const std::string unavailable = cuda_unavailable_reason();
      if (!unavailable.empty()) GTEST_SKIP() << "no usable CUDA device: " << unavailable;
    }
    static std::map<std::string, std::unique_ptr<State>> states;
    std::unique_ptr<State>& state = states[backend.name];
    if (!state) state = make_state(backend);
    state_ = state.get();
  }

  static std::unique_ptr<State> make_state(const NonFiniteBackend& backend) {
    auto state = std::make_unique<State>();
    RuntimeOptions options;
    options.backend = backend.backend;
    options.cpu_forward = backend.cpu_forward;
    options.cpu_backward = backend.cpu_backward;
    options.disk_cache = backend.backend == Backend::kCuda;  // reruns on a GPU skip NVRTC
    state->runtime = std::make_unique<Runtime>(options);
    state->spec = with_dtype_and_head_dim(
        Spec::parse(R"({"layout": "dense", "dtype": "fp32", "head_dim": 32, "mask": "causal",
                        "backward": true})",
                    "nonfinite.json"),
        backend.dtype, kDim);
    state->kernel = std::make_unique<Kernel>(state->runtime->get(state->spec));
    if (backend.backend == Backend::kCuda) emulate_cuda_kernels_of(state->spec);  // fake driver only
    state->clean.shape = build_dense(kRows, kRows, {{kRows, kRows}, {120, 100}}).shape;
    state->clean.heads_q = kHeadsQ;
    state->clean.heads_kv = kHeadsKv;
    state->seed = test_seed();
    TestRandom random(state->seed);
    fill_random_tensors(state->clean, kDim, kDim, true, false, random);
    for (std::vector<double>* tensor :
         {&state->clean.q, &state->clean.k, &state->clean.v, &state->clean.d_o}) {
      *tensor = rounded_to(backend.dtype, *tensor);  // as the kernel sees it
    }
    state->expected = reference_attention(state->spec, state->clean);
    return state;
  }

  const ReferenceOutputs& expected() const { return state_->expected; }

  // Rows of batch row 0 in the same shared block as `bad_row` (none when the backend has no
  // shared blocks): where a bad element may also land, besides the rows the contract names.
  Rows block_of(int64_t bad_row) const {
    const int64_t block = GetParam().shared_block_rows;
    return [block, bad_row](int64_t batch, int64_t row, int64_t) {
      return block > 0 && batch == 0 && row / block == bad_row / block;
    };
  }
  ReferenceInputs clean() const { return state_->clean; }

  // Forward, then backward, on `inputs` in the backend's dtype; every output is -7 first (not
  // NaN: the rows that must come out NaN would pass unwritten).
  ReferenceOutputs run(const ReferenceInputs& inputs) const {
    AttentionCall call = make_attention_call(state_->spec, inputs);
    for (HostTensor* output : {&call.o, &call.lse, &call.dq, &call.dk, &call.dv}) {
      const HostTensor poison = from_double(
          output->dtype(), output->shape(), std::vector<double>(size_t(output->numel()), -7.0));
      std::memcpy(output->data(), poison.data(), poison.size_bytes());
    }
    const Kernel& kernel = *state_->kernel;
    if (GetParam().backend == Backend::kCuda) {
      run_pass_on_cuda_device(kernel, call.arguments, false);
      run_pass_on_cuda_device(kernel, call.arguments, true);
    } else {
      kernel.forward(call.arguments);
      kernel.backward(call.arguments);
    }
    return call_outputs(call);
  }

  // Relative tolerance on O and the gradients (times the largest reference element) and
  // absolute on LSE: fp32 1e-5 / 1e-4; fp16 and bf16 as backend_cases (2e-2 / 1e-2).
  double tolerance() const { return backend_tolerance(state_->spec.dtype); }
  double lse_tolerance() const { return state_->spec.dtype == DType::kFloat32 ? 1e-4 : 1e-2; }

  // Rows of `actual` ([B, S, heads, D]) selected by `nan_rows` are NaN in every element; rows
  // selected by `unspecified` are not checked; every other row is finite and within tolerance
  // of the clean reference (padding rows: exactly 0, as the reference).
  void expect_rows(const std::string& name, const std::vector<double>& actual,
                   const std::vector<double>& reference, int64_t heads, const Rows& nan_rows,
                   const Rows& unspecified = no_rows) const {
    ASSERT_EQ(actual.size(), reference.size()) << name;
    double scale = 1e-30;
    for (double value : reference) scale = std::max(scale, std::fabs(value));
    int64_t nan_count = 0;
    int64_t clean_count = 0;
    for (int64_t batch = 0; batch < kBatch; ++batch) {
      for (int64_t row = 0; row < kRows; ++row) {
        for (int64_t head = 0; head < heads; ++head) {
          const std::string where = name + " batch " + std::to_string(batch) + " row " +
                                    std::to_string(row) + " head " + std::to_string(head) +
                                    " (" + seed_trace(state_->seed) + ")";
          const bool nan = nan_rows(batch, row, head);
          if (!nan && unspecified(batch, row, head)) continue;
          ++(nan ? nan_count : clean_count);
          for (int64_t d = 0; d < kDim; ++d) {
            const int64_t index = element(batch, row, head, heads, d);
            if (nan) {
              ASSERT_TRUE(std::isnan(actual[index])) << where << " d " << d << ": " << actual[index];
            } else {
              ASSERT_TRUE(std::isfinite(actual[index])) << where << " d " << d;
              ASSERT_NEAR(actual[index], reference[index], tolerance() * scale)
                  << where << " d " << d;
            }
          }
        }
      }
    }
    EXPECT_GT(clean_count, 0) << name;
  }

  // LSE [B, Hq, S]: NaN where `nan_rows`, else the reference (-inf exactly for padding rows).
  void expect_lse(const std::vector<double>& actual, const Rows& nan_rows,
                  const Rows& unspecified = no_rows) const {
    ASSERT_EQ(actual.size(), expected().lse.size());
    for (int64_t batch = 0; batch < kBatch; ++batch) {
      for (int64_t head = 0; head < kHeadsQ; ++head) {
        for (int64_t row = 0; row < kRows; ++row) {
          const int64_t index = (batch * kHeadsQ + head) * kRows + row;
          const std::string where = "lse batch " + std::to_string(batch) + " row " +
                                    std::to_string(row) + " head " + std::to_string(head) +
                                    " (" + seed_trace(state_->seed) + ")";
          const double reference = expected().lse[index];
          if (nan_rows(batch, row, head)) {
            ASSERT_TRUE(std::isnan(actual[index])) << where << ": " << actual[index];
          } else if (unspecified(batch, row, head)) {
            continue;
          } else if (std::isinf(reference)) {
            ASSERT_EQ(actual[index], reference) << where;
          } else {
            ASSERT_NEAR(actual[index], reference, lse_tolerance()) << where;
          }
        }
      }
    }
  }

 private:
  const State* state_ = nullptr;
};

TEST_P(NonFiniteInputs, CleanInputsMatchTheReference) {
  ReferenceOutputs out = run(clean());
  expect_rows("o", out.o, expected().o, kHeadsQ, no_rows);
  expect_lse(out.lse, no_rows);
  expect_rows("dq", out.dq, expected().dq, kHeadsQ, no_rows);
  expect_rows("dk", out.dk, expected().dk, kHeadsKv, no_rows);
  expect_rows("dv", out.dv, expected().dv, kHeadsKv, no_rows);
}

TEST_P(NonFiniteInputs, NanInAQueryRowReachesThatRowAndTheKeysItAttends) {
  // One element of batch 0, row 10, query head 1. Forward: that row's O and LSE only (it came
  // out as an empty row, O = 0 and LSE = -inf, before the max let NaN through). Backward: its
  // dQ, and dK/dV of the keys it attends (0..10); keys 11..63 share the tile and stay clean on
  // the CPU (on CUDA dK = dS^T Q takes 0 * NaN from the row for the keys of its tiles).
  ReferenceInputs inputs = clean();
  inputs.q[element(0, 10, 1, kHeadsQ, 5)] = kNaN;
  ReferenceOutputs out = run(inputs);
  Rows row_10 = [](int64_t batch, int64_t row, int64_t head) {
    return batch == 0 && row == 10 && head == 1;
  };
  Rows keys_of_row_10 = [](int64_t batch, int64_t row, int64_t) { return batch == 0 && row <= 10; };
  expect_rows("o", out.o, expected().o, kHeadsQ, row_10);
  expect_lse(out.lse, row_10);
  expect_rows("dq", out.dq, expected().dq, kHeadsQ, row_10);
  expect_rows("dk", out.dk, expected().dk, kHeadsKv, keys_of_row_10, block_of(10));
  expect_rows("dv", out.dv, expected().dv, kHeadsKv, keys_of_row_10, block_of(10));
}

TEST_P(NonFiniteInputs, NanInAKeyRowReachesTheRowsThatAttendIt) {
  // Key 20 of batch 0 (the only kv head: both query heads read it). Causal: rows >= 20 attend
  // it; rows 0..19 share its 64-key tile but mask it out, and must not see the NaN. Batch 1
  // is untouched. (Backward: rows >= 20 attend every key up to them, so all of batch 0's dK/dV
  // is NaN; dQ of rows 0..19 stays clean on the CPU; on CUDA dQ = dS K takes 0 * NaN from the
  // key for the rows of its tile.)
  ReferenceInputs inputs = clean();
  inputs.k[element(0, 20, 0, kHeadsKv, 3)] = kNaN;
  ReferenceOutputs out = run(inputs);
  Rows attending = [](int64_t batch, int64_t row, int64_t) { return batch == 0 && row >= 20; };
  Rows batch_0 = [](int64_t batch, int64_t, int64_t) { return batch == 0; };
  expect_rows("o", out.o, expected().o, kHeadsQ, attending);
  expect_lse(out.lse, attending);
  expect_rows("dq", out.dq, expected().dq, kHeadsQ, attending, block_of(20));
  expect_rows("dk", out.dk, expected().dk, kHeadsKv, batch_0);
  expect_rows("dv", out.dv, expected().dv, kHeadsKv, batch_0);
}

TEST_P(NonFiniteInputs, NanInAValueRowReachesTheOutputsOfTheRowsThatAttendIt) {
  // A value row enters neither the scores nor dV = P^T dO: LSE and dV stay correct everywhere.
  // Rows 0..19 share the NaN row's tile; on the CPU their O and dQ stay clean (p is 0 there, and
  // dP = dO . v is not used where p is 0), on CUDA P V takes 0 * NaN from the row for the rows of
  // its tile, and their NaN O reaches their dQ. dK gets it through the NaN O (delta) of rows
  // >= 20, which attend every key up to them.
  ReferenceInputs inputs = clean();
  for (int64_t d = 0; d < kDim; ++d) inputs.v[element(0, 20, 0, kHeadsKv, d)] = kNaN;
  ReferenceOutputs out = run(inputs);
  Rows attending = [](int64_t batch, int64_t row, int64_t) { return batch == 0 && row >= 20; };
  Rows batch_0 = [](int64_t batch, int64_t, int64_t) { return batch == 0; };
  expect_rows("o", out.o, expected().o, kHeadsQ, attending, block_of(20));
  expect_lse(out.lse, no_rows);
  expect_rows("dq", out.dq, expected().dq, kHeadsQ, attending, block_of(20));
  expect_rows("dk", out.dk, expected().dk, kHeadsKv, batch_0);
  expect_rows("dv", out.dv, expected().dv, kHeadsKv, no_rows);
}

TEST_P(NonFiniteInputs, InfInAKeyRowStaysOutOfRowsThatDoNotAttendIt) {
  // +Inf makes q.k +-Inf or NaN depending on q; what the attending rows get is not specified,
  // but nothing else may change (on CUDA: nothing outside the key's tile).
  ReferenceInputs inputs = clean();
  inputs.k[element(0, 40, 0, kHeadsKv, 0)] = kInf;
  ReferenceOutputs out = run(inputs);
  Rows attending = [](int64_t batch, int64_t row, int64_t) { return batch == 0 && row >= 40; };
  expect_rows("o", out.o, expected().o, kHeadsQ, no_rows, attending);
  expect_lse(out.lse, no_rows, attending);
  const Rows tile = block_of(40);
  expect_rows("dq", out.dq, expected().dq, kHeadsQ, no_rows,
              [&](int64_t batch, int64_t row, int64_t head) {
                return attending(batch, row, head) || tile(batch, row, head);
              });
}

TEST_P(NonFiniteInputs, GarbageInPaddingRowsReachesNothing) {
  // Batch row 1: K/V rows 100..149 and Q / dO rows 120..149 belong to no document; NaN there (an
  // uninitialised buffer) changes nothing, and padding rows still get O = 0, LSE = -inf and
  // zero gradients.
  ReferenceInputs inputs = clean();
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
  ReferenceOutputs out = run(inputs);
  expect_rows("o", out.o, expected().o, kHeadsQ, no_rows);
  expect_lse(out.lse, no_rows);
  expect_rows("dq", out.dq, expected().dq, kHeadsQ, no_rows);
  expect_rows("dk", out.dk, expected().dk, kHeadsKv, no_rows);
  expect_rows("dv", out.dv, expected().dv, kHeadsKv, no_rows);
  // The reference says so too; spelled out because it is the point of the test.
  EXPECT_EQ(out.lse[(1 * kHeadsQ + 1) * kRows + 130], -kInf);
  EXPECT_EQ(out.o[element(1, 130, 1, kHeadsQ, 0)], 0.0);
  EXPECT_EQ(out.dk[element(1, 120, 0, kHeadsKv, 0)], 0.0);
}

}  // namespace attncc::testing
