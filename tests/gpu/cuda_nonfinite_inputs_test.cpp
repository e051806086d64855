// Non-finite inputs (support/nonfinite_inputs_suite.h) on a real GPU, in bf16 and fp16: the PTX
// that the emulator stands in for (max.NaN, ex2.approx, the fragment conversions) decides here
// whether a NaN reaches exactly the rows the contract says. Label gpu; SKIPPED without a device.
#include "support/nonfinite_inputs_suite.h"

namespace attncc::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Backends, NonFiniteInputs,
                         ::testing::Values(NonFiniteBackend{"cuda_bf16", Backend::kCuda,
                                                            DType::kBFloat16, 128},
                                           NonFiniteBackend{"cuda_fp16", Backend::kCuda,
                                                            DType::kFloat16, 128}),
                         non_finite_backend_name);

}  // namespace
}  // namespace attncc::testing
