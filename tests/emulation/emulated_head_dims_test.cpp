// The CUDA kernels at the head dims the main emulated conformance suite leaves out (32, 96, 256:
// other tile shapes, warp splits and, at 256, the single-buffered backward; Dv != D, where
// light masks run the 4-warp forward at d96/d128 and others 8 warps), forward and
// backward, in atomic and deterministic dQ mode, on the emulator against the float64 reference
// (backend_cases.h: sentinels, 1-token documents, Lq != Lk, GQA; every poisoned output
// written, dK/dV exactly 0 for keys nobody attends).
#include <gtest/gtest.h>

#include <string>

#include "attncc/runtime.h"
#include "support/backend_cases.h"
#include "support/emulated_kernels.h"
#include "support/files.h"

namespace attncc {
namespace {

void check_spec(const std::string& spec_name, DType dtype, int head_dim, bool deterministic,
                int head_dim_v = 0) {
  Spec spec = testing::with_dtype_and_head_dim(
      Spec::load(testing::source_path("specs") + "/" + spec_name + ".json"), dtype, head_dim,
      head_dim_v);
  Kernel kernel = testing::emulated_test_runtime("emulated-head-dims").get(spec);
  testing::DeterministicMode mode(deterministic);
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);
  for (const testing::BackendCase& test_case : testing::backend_cases(spec, random)) {
    testing::check_backend_case(kernel, test_case);
  }
}

TEST(EmulatedHeadDims, PrefixDocumentsD32) {
  check_spec("prefix_lm_docs", DType::kBFloat16, 32, false);
}
TEST(EmulatedHeadDims, SoftcapAlibiD96Deterministic) {
  check_spec("softcap_alibi", DType::kFloat16, 96, true);
}
TEST(EmulatedHeadDims, CausalBottomRightD256) {
  check_spec("causal_br_prefill", DType::kBFloat16, 256, false);
}
TEST(EmulatedHeadDims, SinkWindowD256Deterministic) {
  check_spec("sink_window", DType::kFloat16, 256, true);
}
TEST(EmulatedHeadDims, DocPackedSentinelsD128Deterministic) {
  check_spec("doc_packed_sentinels", DType::kBFloat16, 128, true);
}
// Light masks with Dv <= 64 under a wider D: the 4-warp forward (forward_tile_choice.h).
TEST(EmulatedHeadDims, CausalBottomRightD128Dv64) {
  check_spec("causal_br_prefill", DType::kBFloat16, 128, false, 64);
}
TEST(EmulatedHeadDims, WindowD96Dv32) {
  check_spec("window", DType::kFloat16, 96, false, 32);
}
// A light mask with Dv above D: the 8-warp forward.
TEST(EmulatedHeadDims, DocPackedSentinelsD64Dv128) {
  check_spec("doc_packed_sentinels", DType::kBFloat16, 64, false, 128);
}

}  // namespace
}  // namespace attncc
