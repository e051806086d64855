// The CUDA kernels' own offset checks (templates/cuda/document.cuh), run on the emulator with
// offsets the host validation would have rejected: a varlen document that runs past the end of
// Q, and a doc-packed document with a negative length. The kernels must raise the device status
// naming that document, write O = 0 and LSE = -inf on its rows, read nothing outside the
// tensors (the emulator's bounds checks, and AddressSanitizer in the sanitizer build), and
// still compute the consistent documents. And int64 mask parameters outside int32, which the
// host backends reject and the kernels clamp into int32 (document.cuh), against the float64
// reference run on the clamped values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "attncc/error.h"
#include "runtime/cuda/cuda_arguments.h"
#include "runtime/cuda/launch_plan.h"
#include "support/backend_cases.h"
#include "support/emulated_kernels.h"
#include "support/parameter_clamp_case.h"
#include "templates/common/numeric.h"

namespace attncc {
namespace {

// Runs `plan` on the emulator with workspaces of the sizes it asks for; returns the device
// status the kernels left.
cuda::DeviceStatus run_plan(const JitModule& module, const Spec& spec, CudaLaunchPlan plan,
                            uint64_t seed) {
  const HostWorkspaces workspaces(plan.workspace);
  cuda::DeviceStatus status{};
  bind_workspace(plan, workspaces.delta(), workspaces.dq_accumulator(), &status);
  ThreadPool pool(2);
  testing::run_emulated_plan(module, spec, plan, pool, seed);
  return status;
}

TEST(EmulatedDeviceStatus, DocumentPastTheTensorIsReportedAndZeroed) {
  const Spec spec = Spec::parse(
      R"({"name": "status", "layout": "varlen", "dtype": "bf16", "head_dim": 64, "mask": "causal"})");
  std::unique_ptr<JitModule> module = testing::compile_emulated_kernels(spec);
  ASSERT_NE(module, nullptr);
  const int64_t rows = 100, heads = 2, dim = 64;
  // Document 0: rows [0, 60), consistent. Document 1: rows [60, 150) of a 100-row tensor.
  std::vector<int32_t> cu_seqlens{0, 60, 150};
  std::vector<bfloat16> q(size_t(rows * heads * dim), from_float<bfloat16>(0.25f));
  std::vector<bfloat16> o(q.size(), bfloat16{0x7fc0});
  std::vector<float> lse(size_t(heads * rows), std::nanf(""));
  AttentionArguments arguments;
  arguments.q = TensorRef::cpu(q.data(), ScalarType::kBFloat16, {rows, heads, dim});
  arguments.k = arguments.q;
  arguments.v = arguments.q;
  arguments.o = TensorRef::cpu(o.data(), ScalarType::kBFloat16, {rows, heads, dim});
  arguments.lse = TensorRef::cpu(lse.data(), ScalarType::kFloat32, {heads, rows});
  arguments.cu_seqlens_q = TensorRef::cpu(cu_seqlens.data(), ScalarType::kInt32, {3});
  arguments.cu_seqlens_k = arguments.cu_seqlens_q;
  const cuda::DeviceStatus status = run_plan(*module, spec, plan_cuda_forward(spec, arguments), 1);
  ASSERT_EQ(status.error, 1);
  EXPECT_EQ(status.document, 1);
  const std::string message = device_status_error(status).what();
  EXPECT_NE(message.find("document 1"), std::string::npos) << message;

  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t head = 0; head < heads; ++head) {
      const float log_sum = lse[size_t(head * rows + row)];
      const float first = to_float(o[size_t((row * heads + head) * dim)]);
      if (row < 60) {
        // Identical keys: O is the value 0.25; LSE = log(row + 1) + 0.25 * 0.25 * 64 / 8.
        EXPECT_NEAR(first, 0.25f, 1e-3) << "row " << row;
        EXPECT_NEAR(log_sum, std::log(double(row + 1)) + 0.5, 1e-3) << "row " << row;
      } else {
        EXPECT_EQ(first, 0.0f) << "row " << row << " of the inconsistent document";
        EXPECT_TRUE(std::isinf(log_sum) && log_sum < 0) << "row " << row << ": " << log_sum;
      }
    }
  }
}

// Doc-packed grids give no block to a document without rows (grid_tile), so such a document's
// offsets are checked by check_documents_without_rows: from fill_padding in the forward and from
// backward_preprocess in the backward (run here with accumulate, which leaves the fill out).
TEST(EmulatedDeviceStatus, DocPackedDocumentWithNegativeLengthIsReported) {
  const Spec spec = Spec::parse(
      R"({"name": "status", "layout": "doc_packed", "dtype": "bf16", "head_dim": 64,
          "mask": "causal", "backward": true})");
  std::unique_ptr<JitModule> module = testing::compile_emulated_kernels(spec);
  ASSERT_NE(module, nullptr);
  const int64_t rows = 100, heads = 2, dim = 64;
  // Document 0: rows [0, 60); document 1: from 60 to 50; document 2: rows [50, 60). Document
  // 1 is not the last slot, which the blocks past a row's last tile locate.
  std::vector<int32_t> cu_seq{0, 60, 50, 60};
  const size_t elements = size_t(rows * heads * dim);
  std::vector<bfloat16> q(elements, from_float<bfloat16>(0.25f));
  std::vector<bfloat16> o(elements, bfloat16{0x7fc0});
  std::vector<float> lse(size_t(heads * rows), std::nanf(""));
  AttentionArguments arguments;
  arguments.q = TensorRef::cpu(q.data(), ScalarType::kBFloat16, {1, rows, heads, dim});
  arguments.k = arguments.q;
  arguments.v = arguments.q;
  arguments.o = TensorRef::cpu(o.data(), ScalarType::kBFloat16, {1, rows, heads, dim});
  arguments.lse = TensorRef::cpu(lse.data(), ScalarType::kFloat32, {1, heads, rows});
  arguments.cu_seq = TensorRef::cpu(cu_seq.data(), ScalarType::kInt32, {1, 4});
  const cuda::DeviceStatus status = run_plan(*module, spec, plan_cuda_forward(spec, arguments), 1);
  ASSERT_EQ(status.error, 1);
  EXPECT_EQ(status.document, 1);
  EXPECT_EQ(status.query_start, 60);
  EXPECT_EQ(status.query_length, -10);
  for (int64_t row = 0; row < 50; ++row) {  // rows of document 0 alone
    EXPECT_NEAR(to_float(o[size_t(row * heads * dim)]), 0.25f, 1e-3) << "row " << row;
  }

  std::vector<bfloat16> d_o(elements, from_float<bfloat16>(0.5f));
  std::vector<bfloat16> dq(elements, bfloat16{}), dk(elements, bfloat16{}), dv(elements, bfloat16{});
  arguments.d_o = TensorRef::cpu(d_o.data(), ScalarType::kBFloat16, {1, rows, heads, dim});
  arguments.dq = TensorRef::cpu(dq.data(), ScalarType::kBFloat16, {1, rows, heads, dim});
  arguments.dk = TensorRef::cpu(dk.data(), ScalarType::kBFloat16, {1, rows, heads, dim});
  arguments.dv = TensorRef::cpu(dv.data(), ScalarType::kBFloat16, {1, rows, heads, dim});
  arguments.accumulate = true;
  CudaLaunchPlan backward = plan_cuda_backward(spec, arguments, /*deterministic=*/false);
  for (const CudaLaunch& launch : backward.launches) {
    EXPECT_NE(launch.kind, cuda::kKernelFillPadding) << "accumulate leaves the fill out";
  }
  const cuda::DeviceStatus backward_status = run_plan(*module, spec, backward, 2);
  ASSERT_EQ(backward_status.error, 1);
  EXPECT_EQ(backward_status.document, 1);
}

// The device reads int64 parameter arrays without the host's check (MASK.md "Range"), so a value
// outside int32 must act as the int32 bound it is clamped to: the range the check pass proved
// the mask's arithmetic safe for.
TEST(EmulatedDeviceStatus, Int64ParametersOutsideInt32AreClampedIntoInt32) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);
  const testing::ParameterClampCase clamp = testing::parameter_clamp_case(random);
  std::unique_ptr<JitModule> module = testing::compile_emulated_kernels(clamp.spec);
  ASSERT_NE(module, nullptr);
  RuntimeOptions options;
  options.backend = Backend::kCudaEmulated;
  options.disk_cache = false;
  Runtime runtime(options);
  // check_backend_case builds the call with the clamped values as int32 arrays (the reference's
  // inputs); the runner swaps in the int64 arrays and runs the plans the host would not accept.
  auto runner = [&](const Kernel&, const AttentionArguments& host, bool backward) {
    const AttentionArguments arguments = testing::with_int64_parameters(host, clamp.wide_values);
    CudaLaunchPlan plan = backward
                              ? plan_cuda_backward(clamp.spec, arguments, /*deterministic=*/false)
                              : plan_cuda_forward(clamp.spec, arguments);
    EXPECT_EQ(run_plan(*module, clamp.spec, std::move(plan), seed).error, 0);
  };
  testing::check_backend_case(runtime.get(clamp.spec), clamp.test_case, runner);
}

}  // namespace
}  // namespace attncc
