// The CUDA backend's host path (runtime/cuda: NVRTC, module load, shared-memory opt-in,
// stream-ordered workspaces, launches, the device-status ring, pointer checks) on tests' fake
// driver, whose launches run the same kernels on the SIMT emulator and whose stream work waits
// for a synchronising call as on a GPU. What a real GPU would be needed for otherwise: DESIGN §5's
// sync-free launches on the caller's stream, no leaked workspaces, balanced contexts, and the
// device error flag reported by the next call (at once with ATTNCC_VALIDATE=1).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "attncc/error.h"
#include "attncc/reference.h"
#include "attncc/runtime.h"
#include "runtime/cuda/device_arguments.h"
#include "runtime/cuda/driver_api.h"
#include "support/attention_call.h"
#include "support/backend_cases.h"
#include "support/cuda_device_buffers.h"
#include "support/fake_cuda_device.h"
#include "support/layout_builders.h"
#include "support/parameter_clamp_case.h"
#include "support/random_inputs.h"
#include "templates/common/numeric.h"

namespace attncc {
namespace {

// Before anything loads the driver: this executable always runs on the fake one, with two
// devices (the kernels use device 0).
const bool kFakeDriverSelected = [] {
  setenv("ATTNCC_CUDA_DRIVER_LIBRARY", ATTNCC_FAKE_CUDA_DRIVER, 1);
  setenv("ATTNCC_FAKE_CUDA_DEVICES", "2", 1);
  unsetenv("ATTNCC_VALIDATE");
  return true;
}();

Runtime& cuda_runtime() {
  static Runtime runtime([] {
    RuntimeOptions options;
    options.backend = Backend::kCuda;
    return options;
  }());
  return runtime;
}

Kernel cuda_kernel(const Spec& spec) {
  Kernel kernel = cuda_runtime().get(spec);
  testing::emulate_cuda_kernels_of(spec);
  return kernel;
}

// Host buffers of a varlen bf16 d64 call whose Q, K and V are one tensor of `rows` rows and
// `heads` heads, every element `value`; cu_seqlens serves Q and K; O and LSE start as NaN.
struct SharedTensorCall {
  std::vector<int32_t> cu_seqlens;
  std::vector<bfloat16> qkv, o;
  std::vector<float> lse;
  AttentionArguments host;

  SharedTensorCall(int64_t rows, int64_t heads, std::vector<int32_t> offsets, float value)
      : cu_seqlens(std::move(offsets)),
        qkv(size_t(rows * heads * 64), from_float<bfloat16>(value)),
        o(qkv.size(), bfloat16{0x7fc0}),
        lse(size_t(heads * rows), std::nanf("")) {
    host.q = TensorRef::cpu(qkv.data(), ScalarType::kBFloat16, {rows, heads, 64});
    host.k = host.q;
    host.v = host.q;
    host.o = TensorRef::cpu(o.data(), ScalarType::kBFloat16, {rows, heads, 64});
    host.lse = TensorRef::cpu(lse.data(), ScalarType::kFloat32, {heads, rows});
    host.cu_seqlens_q =
        TensorRef::cpu(cu_seqlens.data(), ScalarType::kInt32, {int64_t(cu_seqlens.size())});
    host.cu_seqlens_k = host.cu_seqlens_q;
  }
  SharedTensorCall(const SharedTensorCall&) = delete;
  SharedTensorCall& operator=(const SharedTensorCall&) = delete;
};

void synchronize(void* stream) {
  cuda_driver::ContextScope scope(0);
  cuda_driver::check(cuda_driver::driver().stream_synchronize(static_cast<cuda_driver::Stream>(stream)),
                     "cuStreamSynchronize");
}

TEST(CudaFakeDriver, LoadsTheFakeDriver) {
  ASSERT_TRUE(kFakeDriverSelected);
  EXPECT_TRUE(testing::fake_cuda_driver_in_use()) << ATTNCC_FAKE_CUDA_DRIVER;
  EXPECT_NE(cuda_driver::device_name(0).find("fake"), std::string::npos) << cuda_driver::device_name(0);
}

// Forward and backward of a d128 spec (the backward needs 80.5 KB of shared memory, which the
// fake driver refuses without the opt-in) on a stream of the caller's: nothing waits for the
// device, every launch goes to that stream, and after the stream is synchronised the
// workspaces are freed and the outputs match the float64 reference.
TEST(CudaFakeDriver, CallsAreSyncFreeOnTheCallersStreamAndFreeTheirWorkspaces) {
  const Spec spec = Spec::parse(
      R"({"name": "sync_free", "layout": "varlen", "dtype": "bf16", "head_dim": 128,
          "mask": "causal", "backward": true})");
  Kernel kernel = cuda_kernel(spec);
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);
  ReferenceInputs inputs;
  inputs.shape = testing::build_varlen({{37, 37}, {0, 0}, {70, 70}}, {2, 0, 3, 1}, {0, 4, 0, 2}).shape;
  inputs.heads_q = 2;
  inputs.heads_kv = 1;
  testing::fill_random_tensors(inputs, 128, 128, /*backward=*/true, /*alibi=*/false, random);
  testing::AttentionCall call = testing::make_attention_call(spec, inputs);

  DeviceArguments device(call.arguments);
  void* stream = testing::fake_cuda_stream();
  const AttnccFakeCudaStats before = testing::fake_cuda_stats();
  kernel.forward(device.arguments(), stream);
  kernel.backward(device.arguments(), stream);
  const AttnccFakeCudaStats issued = testing::fake_cuda_stats();
  EXPECT_EQ(issued.synchronizations, before.synchronizations) << "a call waited for the device";
  EXPECT_GT(issued.launches, before.launches);
  EXPECT_EQ(issued.last_launch_stream, stream);
  EXPECT_GT(issued.pending_operations, 0u) << "the work should still be queued on the stream";
  EXPECT_EQ(issued.context_depth, 0) << "a call left a context pushed";

  synchronize(stream);
  const AttnccFakeCudaStats done = testing::fake_cuda_stats();
  EXPECT_EQ(done.pending_operations, 0u);
  EXPECT_EQ(done.live_device_allocations, before.live_device_allocations)
      << "workspaces were not freed";
  // The dQ accumulator (fp32, Tq x Hq x D) stays reserved in the pool across synchronisations.
  const unsigned long long accumulator_bytes = 4ull * 112 * 2 * 128;
  EXPECT_GE(done.release_threshold, accumulator_bytes);
  EXPECT_EQ(done.release_threshold % (64ull << 20), 0u);
  device.download();
  const ReferenceOutputs expected = reference_attention(spec, inputs);
  const ReferenceOutputs actual = testing::call_outputs(call);
  const double tolerance = testing::backend_tolerance(spec.dtype);
  testing::expect_close("o", actual.o, expected.o, tolerance);
  testing::expect_close("lse", actual.lse, expected.lse, tolerance);
  testing::expect_close("dq", actual.dq, expected.dq, tolerance);
  testing::expect_close("dk", actual.dk, expected.dk, tolerance);
  testing::expect_close("dv", actual.dv, expected.dv, tolerance);
}

// A varlen document that runs past the end of Q: host validation of device tensors checks only
// their shapes (it never reads device memory), so the kernels find it, write zeros for it and
// raise the device status, which the next call on the kernel reports, or the call itself with
// ATTNCC_VALIDATE=1; contexts stay balanced when a call throws.
TEST(CudaFakeDriver, DeviceStatusIsReportedByTheNextCallOrAtOnceWithValidate) {
  const Spec spec = Spec::parse(
      R"({"name": "status", "layout": "varlen", "dtype": "bf16", "head_dim": 64, "mask": "causal"})");
  Kernel kernel = cuda_kernel(spec);
  const int64_t rows = 100, heads = 2, dim = 64;
  SharedTensorCall call(rows, heads, {0, 60, 150}, 0.25f);  // document 1: rows [60, 150) of 100
  DeviceArguments device(call.host);

  kernel.forward(device.arguments(), nullptr);  // the flag is raised on the device, unseen
  device.synchronize();
  try {
    kernel.forward(device.arguments(), nullptr);
    ADD_FAILURE() << "the next call did not report the inconsistent document";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("document 1"), std::string::npos) << error.what();
  }
  EXPECT_EQ(testing::fake_cuda_stats().context_depth, 0);

  device.synchronize();  // the second call raised the flag again; a synchronised check clears it
  setenv("ATTNCC_VALIDATE", "1", 1);
  EXPECT_THROW(kernel.forward(device.arguments(), nullptr), Error);
  unsetenv("ATTNCC_VALIDATE");
  EXPECT_EQ(testing::fake_cuda_stats().context_depth, 0);

  device.download();
  for (int64_t row = 60; row < rows; ++row) {
    for (int64_t head = 0; head < heads; ++head) {
      EXPECT_EQ(to_float(call.o[size_t((row * heads + head) * dim)]), 0.0f) << "row " << row;
      const float log_sum = call.lse[size_t(head * rows + row)];
      EXPECT_TRUE(std::isinf(log_sum) && log_sum < 0) << "row " << row << ": " << log_sum;
    }
  }
}

// A kernel that faults is reported by a later driver call (here the caller's synchronisation):
// the error says a kernel failed and how to find it, not just that the later call did.
TEST(CudaFakeDriver, AKernelFaultIsReportedAsOneByTheNextCall) {
  const Spec spec = Spec::parse(
      R"({"name": "fault", "layout": "varlen", "dtype": "bf16", "head_dim": 64, "mask": "causal"})");
  Kernel kernel = cuda_kernel(spec);
  SharedTensorCall call(16, 1, {0, 16}, 0.5f);
  DeviceArguments device(call.host);
  testing::fake_cuda_fail_next_launch();
  kernel.forward(device.arguments(), nullptr);  // queued: the fault happens on the device later
  try {
    device.synchronize();
    ADD_FAILURE() << "the fault was not reported";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInternal);
    const std::string message = error.what();
    EXPECT_NE(message.find("CUDA_ERROR_LAUNCH_FAILED"), std::string::npos) << message;
    EXPECT_NE(message.find("a kernel launched earlier on this device failed"), std::string::npos)
        << message;
    EXPECT_NE(message.find("ATTNCC_VALIDATE=1"), std::string::npos) << message;
  }
  testing::fake_cuda_recover();
  EXPECT_NO_THROW(kernel.forward(device.arguments(), nullptr));
  EXPECT_NO_THROW(device.synchronize());
}

// A tensor marked as on the GPU whose pointer is host memory is a user error naming it, before
// anything is launched or allocated.
TEST(CudaFakeDriver, HostMemoryMarkedAsDeviceIsAUserError) {
  const Spec spec = Spec::parse(
      R"({"name": "host_pointer", "layout": "varlen", "dtype": "bf16", "head_dim": 64, "mask": "causal"})");
  Kernel kernel = cuda_kernel(spec);
  SharedTensorCall call(16, 1, {0, 16}, 0.5f);
  DeviceArguments device(call.host);
  AttentionArguments mixed = device.arguments();
  mixed.o.data = call.o.data();  // still marked kCuda
  const AttnccFakeCudaStats before = testing::fake_cuda_stats();
  try {
    kernel.forward(mixed, nullptr);
    ADD_FAILURE() << "a host pointer passed as device memory was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(error.what()).find("host memory"), std::string::npos) << error.what();
  }
  const AttnccFakeCudaStats after = testing::fake_cuda_stats();
  EXPECT_EQ(after.launches, before.launches);
  EXPECT_EQ(after.live_device_allocations, before.live_device_allocations);
  EXPECT_EQ(after.context_depth, 0);
}

// Tensors marked as on cuda:1 whose memory the driver placed on cuda:0: a user error naming the
// tensor and both devices (a kernel on device 1 would read another GPU's memory).
TEST(CudaFakeDriver, MemoryOnAnotherDeviceIsAUserError) {
  ASSERT_EQ(cuda_driver::device_count(), 2);
  const Spec spec = Spec::parse(
      R"({"name": "other_device", "layout": "varlen", "dtype": "bf16", "head_dim": 64, "mask": "causal"})");
  Kernel kernel = cuda_kernel(spec);
  SharedTensorCall call(16, 1, {0, 16}, 0.5f);
  DeviceArguments device(call.host, 0);
  AttentionArguments elsewhere = device.arguments();
  for (TensorRef* tensor : {&elsewhere.q, &elsewhere.k, &elsewhere.v, &elsewhere.o, &elsewhere.lse,
                            &elsewhere.cu_seqlens_q, &elsewhere.cu_seqlens_k}) {
    tensor->device_index = 1;
  }
  try {
    kernel.forward(elsewhere, nullptr);
    ADD_FAILURE() << "memory of cuda:0 passed as cuda:1 was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(error.what()).find("on cuda:0"), std::string::npos) << error.what();
  }
  EXPECT_EQ(testing::fake_cuda_stats().context_depth, 0);
}

// int64 mask parameters on the device: validation reads no device memory, so values outside
// int32 (which the host backends reject) reach the kernels, which clamp them into int32 (MASK.md
// "Range"); through the public calls, results match the reference on the clamped values.
TEST(CudaFakeDriver, Int64ParametersOutsideInt32AreClampedByTheKernels) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);
  const testing::ParameterClampCase clamp = testing::parameter_clamp_case(random);
  auto runner = [&](const Kernel& kernel, const AttentionArguments& host, bool backward) {
    testing::run_pass_on_cuda_device(
        kernel, testing::with_int64_parameters(host, clamp.wide_values), backward);
  };
  testing::check_backend_case(cuda_kernel(clamp.spec), clamp.test_case, runner);
}

}  // namespace
}  // namespace attncc
