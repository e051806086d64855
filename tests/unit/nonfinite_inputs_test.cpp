// Non-finite inputs (support/nonfinite_inputs_suite.h) on the CPU backend in fp32 (every backward
// schedule; the split one with the split forward) and on the CUDA kernels run by the emulator
// in bf16 (blocks of 128 rows: the largest tile those kernels use).
#include "support/nonfinite_inputs_suite.h"

namespace attncc::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Backends, NonFiniteInputs,
                         ::testing::Values(NonFiniteBackend{"cpu_fp32_fused", Backend::kCpu,
                                                            DType::kFloat32, 0,
                                                            CpuBackwardSchedule::kFused},
                                           NonFiniteBackend{"cpu_fp32_split", Backend::kCpu,
                                                            DType::kFloat32, 0,
                                                            CpuBackwardSchedule::kFusedSplit,
                                                            CpuForwardSchedule::kSplit},
                                           NonFiniteBackend{"cpu_fp32_two_pass", Backend::kCpu,
                                                            DType::kFloat32, 0,
                                                            CpuBackwardSchedule::kTwoPass},
                                           NonFiniteBackend{"cuda_emulated_bf16",
                                                            Backend::kCudaEmulated,
                                                            DType::kBFloat16, 128}),
                         non_finite_backend_name);

}  // namespace
}  // namespace attncc::testing
