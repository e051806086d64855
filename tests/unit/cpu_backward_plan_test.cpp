// runtime/cpu plan_cpu_backward: which backward schedule a call gets, and its dQ scratch, on
// problems whose balance and sizes are worked out by hand from the documented rule.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "runtime/cpu/cpu_launch.h"

namespace attncc {
namespace {

// A validated problem with documents of the given query (= key) lengths, all in batch row 0.
ValidatedProblem problem_with(const std::vector<int64_t>& lengths, int64_t heads_q,
                              int64_t heads_kv) {
  ValidatedProblem problem;
  problem.heads_q = heads_q;
  problem.heads_kv = heads_kv;
  int64_t start = 0;
  for (int64_t length : lengths) {
    Document document;
    document.index = static_cast<int64_t>(problem.documents.size());
    document.query_start = document.key_start = start;
    document.query_length = document.key_length = length;
    problem.documents.push_back(document);
    start += length;
  }
  return problem;
}

constexpr CpuTiles kTiles{64, 64};
constexpr auto kAuto = CpuBackwardSchedule::kAuto;

TEST(CpuBackwardPlan, OneThreadAlwaysFuses) {
  EXPECT_TRUE(plan_cpu_backward(problem_with({4096}, 1, 1), kTiles, 128, 1, kAuto).fused);
  EXPECT_TRUE(plan_cpu_backward(problem_with({10, 3000, 0}, 8, 2), kTiles, 64, 1, kAuto).fused);
}

TEST(CpuBackwardPlan, OneItemOnTwoThreadsTakesTheTwoPassSchedule) {
  // One (document, head) item holds all the work: 1.0 > 1.5 / 2.
  EXPECT_FALSE(plan_cpu_backward(problem_with({2048}, 1, 1), kTiles, 128, 2, kAuto).fused);
  // GQA 4:1 with one key/value head is still one item, however many query heads.
  EXPECT_FALSE(plan_cpu_backward(problem_with({2048}, 4, 1), kTiles, 128, 2, kAuto).fused);
}

TEST(CpuBackwardPlan, BalancedItemsFuse) {
  // Two heads on two threads: each item is an even share.
  EXPECT_TRUE(plan_cpu_backward(problem_with({2048}, 2, 2), kTiles, 128, 2, kAuto).fused);
  // Three equal items on four threads: largest x 4 = 4/3 of the work <= 1.5.
  EXPECT_TRUE(plan_cpu_backward(problem_with({512, 512, 512}, 1, 1), kTiles, 64, 4, kAuto).fused);
  // ... on five threads: 5/3 > 1.5.
  EXPECT_FALSE(plan_cpu_backward(problem_with({512, 512, 512}, 1, 1), kTiles, 64, 5, kAuto).fused);
}

TEST(CpuBackwardPlan, OneLongDocumentAmongShortOnesTakesTheTwoPassSchedule) {
  // Work 1000^2 against 1000^2 + 10 x 100^2 = 1.1e6: on 2 threads 2e6 > 1.5 x 1.1e6.
  std::vector<int64_t> lengths(10, 100);
  lengths.push_back(1000);
  EXPECT_FALSE(plan_cpu_backward(problem_with(lengths, 1, 1), kTiles, 64, 2, kAuto).fused);
  // Equal lengths balance.
  EXPECT_TRUE(plan_cpu_backward(problem_with(std::vector<int64_t>(11, 300), 1, 1), kTiles, 64, 2,
                                kAuto)
                  .fused);
}

TEST(CpuBackwardPlan, ScratchIsTheLongestDocumentInWholeQueryTilesPerGroupHead) {
  // 100 rows round up to 128; GQA 8:2 is a group of 4; D = 64.
  const CpuBackwardPlan plan =
      plan_cpu_backward(problem_with({100, 30}, 8, 2), kTiles, 64, 1, kAuto);
  EXPECT_EQ(plan.scratch_floats, 128 * 4 * 64);
}

TEST(CpuBackwardPlan, ScratchOverHalfAGibibyteTakesTheTwoPassSchedule) {
  // 2 documents of 2^19 rows, D 128: 256 MiB of scratch per thread. One thread: 256 MiB, fused;
  // two threads (both busy): 512 MiB, still fused; a group of 2 doubles it: two-pass.
  const std::vector<int64_t> lengths{int64_t{1} << 19, int64_t{1} << 19};
  EXPECT_TRUE(plan_cpu_backward(problem_with(lengths, 1, 1), kTiles, 128, 1, kAuto).fused);
  EXPECT_TRUE(plan_cpu_backward(problem_with(lengths, 1, 1), kTiles, 128, 2, kAuto).fused);
  EXPECT_FALSE(plan_cpu_backward(problem_with(lengths, 2, 1), kTiles, 128, 2, kAuto).fused);
}

TEST(CpuBackwardPlan, ForcedSchedulesAreKept) {
  const ValidatedProblem unbalanced = problem_with({2048}, 1, 1);
  EXPECT_TRUE(plan_cpu_backward(unbalanced, kTiles, 128, 16, CpuBackwardSchedule::kFused).fused);
  const ValidatedProblem balanced = problem_with({2048, 2048}, 4, 4);
  EXPECT_FALSE(
      plan_cpu_backward(balanced, kTiles, 128, 1, CpuBackwardSchedule::kTwoPass).fused);
}

TEST(CpuBackwardPlan, ScheduleNamesRoundTrip) {
  for (CpuBackwardSchedule schedule : {CpuBackwardSchedule::kAuto, CpuBackwardSchedule::kFused,
                                       CpuBackwardSchedule::kTwoPass}) {
    EXPECT_EQ(parse_cpu_backward_schedule(cpu_backward_schedule_name(schedule)), schedule);
  }
  EXPECT_THROW(parse_cpu_backward_schedule("fast"), Error);
}

}  // namespace
}  // namespace attncc
