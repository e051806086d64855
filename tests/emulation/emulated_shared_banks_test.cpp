// Shared-memory bank conflicts of the CUDA kernels, measured on the emulator
// (runtime/emulation/shared_banks.h). First the cost model on hand-worked access patterns, then
// every kernel (forward, backward pre-pass, key/value, dQ conversion, deterministic query) at each
// tile shape (head dims 32 to 256, Dv != D, score modifiers) run on the edge-biased backend cases
// with the record on: every shared access (ldmatrix, cp.async, the dS/P and statistics
// stores and loads) must take the fewest wavefronts its lanes allow, which is what the swizzle
// of tile_copy.cuh is for; and a kernel with the swizzle patched out must show its conflicts.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "attncc/error.h"
#include "attncc/runtime.h"
#include "runtime/emulation/shared_banks.h"
#include "runtime/thread_pool.h"
#include "support/backend_cases.h"
#include "support/emulated_kernels.h"
#include "support/files.h"
#include "templates/common/numeric.h"

namespace attncc {
namespace {

using emulation::count_wavefronts;
using emulation::LaneAccess;
using emulation::SharedAccessCost;
using emulation::SharedAccessKind;
using emulation::SharedAccessSite;
using emulation::WavefrontCount;

std::vector<LaneAccess> lanes_at(int count, unsigned (*offset_of)(int lane)) {
  std::vector<LaneAccess> lanes;
  for (int lane = 0; lane < count; ++lane) lanes.push_back({lane, offset_of(lane)});
  return lanes;
}

void expect_count(WavefrontCount count, uint64_t wavefronts, uint64_t ideal) {
  EXPECT_EQ(count.wavefronts, wavefronts);
  EXPECT_EQ(count.ideal, ideal);
}

// ---- the model ---------------------------------------------------------------------------------

TEST(SharedBankModel, ConsecutiveWordsTakeOneWavefront) {
  expect_count(count_wavefronts(SharedAccessKind::kLoad32,
                                lanes_at(32, [](int lane) { return 4u * unsigned(lane); })),
               1, 1);
}

TEST(SharedBankModel, OneWordForEveryLaneIsABroadcast) {
  expect_count(count_wavefronts(SharedAccessKind::kLoad32, lanes_at(32, [](int) { return 256u; })),
               1, 1);
}

TEST(SharedBankModel, StridedWordsConflict) {
  // Stride 2 words: lanes l and l + 16 share bank 2l mod 32.
  expect_count(count_wavefronts(SharedAccessKind::kStore32,
                                lanes_at(32, [](int lane) { return 8u * unsigned(lane); })),
               2, 1);
  // Stride 32 words (a 128-byte row per lane, one column): every lane in bank 0.
  expect_count(count_wavefronts(SharedAccessKind::kStore32,
                                lanes_at(32, [](int lane) { return 128u * unsigned(lane); })),
               32, 1);
}

TEST(SharedBankModel, WideAccessesConflictOnlyWithinTheirEightLanes) {
  // 16 bytes per lane, consecutive: four phases of 128 bytes, each conflict-free.
  expect_count(count_wavefronts(SharedAccessKind::kStore128,
                                lanes_at(32, [](int lane) { return 16u * unsigned(lane); })),
               4, 4);
  // Lanes 8 apart share banks but not phases.
  expect_count(count_wavefronts(SharedAccessKind::kCopy16,
                                lanes_at(32, [](int lane) { return 16u * unsigned(lane % 8); })),
               4, 4);
  // A 128-byte row stride inside a phase: the 8 lanes all hit banks 0-3.
  expect_count(count_wavefronts(SharedAccessKind::kCopy16,
                                lanes_at(32, [](int lane) { return 128u * unsigned(lane); })),
               32, 4);
}

TEST(SharedBankModel, LdmatrixRowsOfAnUnswizzledTileConflictEightWays) {
  // ldmatrix.x4 of a 16x16 block of a row-major tile with 128-byte rows: each 8x8 matrix has 8
  // rows 128 bytes apart, all in banks 0-3 without a swizzle.
  auto plain = [](int lane) { return 128u * unsigned(lane % 16) + 16u * unsigned(lane / 16); };
  expect_count(count_wavefronts(SharedAccessKind::kLdmatrix, lanes_at(32, plain)), 32, 4);
  // The XOR swizzle (16-byte chunk c of row r stored at chunk c ^ (r & 7)) spreads the 8 rows of
  // each matrix over all 32 banks.
  auto swizzled = [](int lane) {
    const unsigned row = unsigned(lane % 16), chunk = unsigned(lane / 16);
    return 128u * row + 16u * (chunk ^ (row & 7u));
  };
  expect_count(count_wavefronts(SharedAccessKind::kLdmatrix, lanes_at(32, swizzled)), 4, 4);
  // .x1: only lanes 0-7 supply rows.
  expect_count(count_wavefronts(SharedAccessKind::kLdmatrix, lanes_at(8, swizzled)), 1, 1);
}

TEST(SharedBankModel, LanesThatSkipAnAccessDoNotCount) {
  std::vector<LaneAccess> lanes;
  for (int lane = 0; lane < 32; lane += 2) lanes.push_back({lane, 4u * unsigned(lane)});
  expect_count(count_wavefronts(SharedAccessKind::kLoad32, lanes), 1, 1);
  expect_count(count_wavefronts(SharedAccessKind::kStore128, {}), 0, 0);
}

// ---- the kernels ---------------------------------------------------------------------------------

class RecordingBanks {
 public:
  RecordingBanks() { emulation::record_shared_banks(&recorder_); }
  ~RecordingBanks() { emulation::record_shared_banks(nullptr); }
  std::map<SharedAccessSite, SharedAccessCost> costs() const { return recorder_.costs(); }

 private:
  emulation::SharedBankRecorder recorder_;
};

// Runs forward and backward of the spec on the edge-biased cases (each checked against the
// float64 reference) with the record on, and expects every site conflict-free.
void check_spec(const std::string& spec_name, DType dtype, int head_dim, int head_dim_v,
                bool deterministic) {
  Spec spec = testing::with_dtype_and_head_dim(
      Spec::load(testing::source_path("specs") + "/" + spec_name + ".json"), dtype, head_dim,
      head_dim_v);
  Kernel kernel = testing::emulated_test_runtime("emulated-shared-banks").get(spec);
  testing::DeterministicMode mode(deterministic);
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  testing::TestRandom random(seed);
  // Every edge-biased case (sentinels, 1-token documents, documents of several whole and
  // partial tiles, GQA): a single random one may have no non-empty document at all.
  RecordingBanks recording;
  for (const testing::BackendCase& test_case : testing::backend_cases(spec, random)) {
    testing::check_backend_case(kernel, test_case);
  }
  const auto costs = recording.costs();
  std::printf("%s", emulation::format_shared_bank_costs(costs).c_str());

  std::set<std::string> kernels, kernels_with_ldmatrix;
  for (const auto& [site, cost] : costs) {
    kernels.insert(site.kernel);
    if (site.kind == SharedAccessKind::kLdmatrix) kernels_with_ldmatrix.insert(site.kernel);
    EXPECT_EQ(cost.wavefronts, cost.ideal)
        << site.kernel << " " << site.file << ":" << site.line << " "
        << emulation::shared_access_name(site.kind) << ": " << cost.wavefronts
        << " wavefronts for " << cost.instructions << " instructions, ideal " << cost.ideal;
  }
  // The record saw the kernels that multiply: a forward and a backward with ldmatrix reads.
  EXPECT_GE(kernels_with_ldmatrix.size(), spec.backward ? 2u : 1u)
      << "kernels recorded: " << kernels.size();
}

TEST(EmulatedSharedBanks, CausalD64) { check_spec("causal", DType::kBFloat16, 64, 0, false); }
TEST(EmulatedSharedBanks, CausalD128Deterministic) {
  check_spec("causal", DType::kBFloat16, 128, 0, true);
}
TEST(EmulatedSharedBanks, PrefixDocumentsD32) {
  check_spec("prefix_lm_docs", DType::kFloat16, 32, 0, false);
}
TEST(EmulatedSharedBanks, SoftcapAlibiD96) {
  check_spec("softcap_alibi", DType::kBFloat16, 96, 0, true);
}
TEST(EmulatedSharedBanks, DocPackedSentinelsD128) {
  check_spec("doc_packed_sentinels", DType::kBFloat16, 128, 0, false);
}
TEST(EmulatedSharedBanks, CausalBottomRightD128Dv64) {
  check_spec("causal_br_prefill", DType::kBFloat16, 128, 64, false);
}
TEST(EmulatedSharedBanks, SinkWindowD256) {
  check_spec("sink_window", DType::kFloat16, 256, 0, true);
}

// The record must see a conflict where there is one: the forward with tile_copy.cuh's XOR
// swizzle patched out (chunks stored in order) reads K and V rows 128 bytes apart.
TEST(EmulatedSharedBanks, UnswizzledTilesShowTheirConflicts) {
  const Spec spec = Spec::parse(
      R"({"name": "banks", "layout": "dense", "dtype": "bf16", "head_dim": 64, "mask": "causal"})");
  // chunk_offset's full-page XOR, which the copies, ldmatrix_a_offset and the lane-address
  // helpers' origins all start from.
  std::unique_ptr<JitModule> module = testing::compile_emulated_kernels(
      spec, {{"cuda/tile_copy.cuh", "(uint32(chunk ^ (row & 7)) << 4)", "(uint32(chunk) << 4)"}});
  ASSERT_NE(module, nullptr);
  const int64_t rows = 130, heads = 1, dim = 64;
  std::mt19937_64 random(testing::test_seed());
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<bfloat16> q, k, v;
  for (auto* tensor : {&q, &k, &v}) {
    for (int64_t index = 0; index < rows * heads * dim; ++index) {
      tensor->push_back(from_float<bfloat16>(normal(random)));
    }
  }
  std::vector<bfloat16> o(q.size());
  std::vector<float> lse(size_t(heads * rows));
  ThreadPool pool(2);
  RecordingBanks recording;
  testing::run_emulated_dense_forward(*module, spec, pool, 1, q.data(), k.data(), v.data(),
                                      o.data(), lse.data(), rows, heads, dim);
  uint64_t wavefronts = 0, ideal = 0;
  for (const auto& [site, cost] : recording.costs()) {
    if (site.kind != SharedAccessKind::kLdmatrix) continue;
    wavefronts += cost.wavefronts;
    ideal += cost.ideal;
  }
  ASSERT_GT(ideal, 0u) << "no ldmatrix recorded";
  // Unswizzled 128-byte rows: 8 rows of a matrix in the same 4 banks.
  EXPECT_GE(double(wavefronts) / double(ideal), 4.0) << wavefronts << " of ideal " << ideal;
}

}  // namespace
}  // namespace attncc
