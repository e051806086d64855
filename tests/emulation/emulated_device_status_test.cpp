// The CUDA kernels' own offset checks (templates/cuda/document.cuh), run on the emulator with
// offsets the host validation would have rejected: a varlen document that runs past the end of
// Q. The kernels must raise the device status naming that document, write O = 0 and LSE = -inf
// on its rows, read nothing outside the tensors (the emulator's bounds checks, and
// AddressSanitizer in the sanitizer build), and still compute the consistent documents.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attncc/error.h"
#include "runtime/cuda/cuda_arguments.h"
#include "runtime/cuda/launch_plan.h"
#include "support/emulated_kernels.h"
#include "templates/common/numeric.h"

namespace attncc {
namespace {

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
  CudaLaunchPlan plan = plan_cuda_forward(spec, arguments);
  cuda::DeviceStatus status{};
  bind_workspace(plan, nullptr, nullptr, &status);
  ThreadPool pool(2);
  testing::run_emulated_plan(*module, spec, plan, pool, 1);

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

}  // namespace
}  // namespace attncc
