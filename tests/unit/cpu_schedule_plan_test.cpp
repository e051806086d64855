// runtime/cpu plan_cpu_forward and plan_cpu_backward: which schedule a call gets, its parts and
// its scratch, on problems whose balance and sizes are worked out by hand from the documented
// model.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "runtime/cpu/cpu_launch.h"

namespace attncc {
namespace {

// A validated problem with documents of the given query and key lengths, all in batch row 0.
ValidatedProblem problem_with(const std::vector<int64_t>& query_lengths,
                              const std::vector<int64_t>& key_lengths, int64_t heads_q,
                              int64_t heads_kv) {
  ValidatedProblem problem;
  problem.heads_q = heads_q;
  problem.heads_kv = heads_kv;
  int64_t query_start = 0;
  int64_t key_start = 0;
  for (size_t index = 0; index < query_lengths.size(); ++index) {
    Document document;
    document.index = static_cast<int64_t>(index);
    document.query_start = query_start;
    document.key_start = key_start;
    document.query_length = query_lengths[index];
    document.key_length = key_lengths[index];
    problem.documents.push_back(document);
    query_start += document.query_length;
    key_start += document.key_length;
  }
  return problem;
}

// Documents whose query and key lengths are equal.
ValidatedProblem problem_with(const std::vector<int64_t>& lengths, int64_t heads_q,
                              int64_t heads_kv) {
  return problem_with(lengths, lengths, heads_q, heads_kv);
}

constexpr CpuTiles kTiles{64, 64};
constexpr auto kAuto = CpuBackwardSchedule::kAuto;
constexpr auto kFused = CpuBackwardSchedule::kFused;
constexpr auto kFusedSplit = CpuBackwardSchedule::kFusedSplit;
constexpr auto kTwoPass = CpuBackwardSchedule::kTwoPass;

CpuBackwardSchedule auto_schedule(const ValidatedProblem& problem, int head_dim, int threads) {
  return plan_cpu_backward(problem, kTiles, head_dim, threads, kAuto).schedule;
}

TEST(CpuBackwardPlan, OneThreadAlwaysFuses) {
  EXPECT_EQ(auto_schedule(problem_with({4096}, 1, 1), 128, 1), kFused);
  EXPECT_EQ(auto_schedule(problem_with({10, 3000, 0}, 8, 2), 64, 1), kFused);
}

TEST(CpuBackwardPlan, OneItemOnTwoThreadsSplitsItsKeyTilesInTwo) {
  // One (document, head) item W: fused W, two-pass 1.5 x W/2, two parts 1.1 x W/2.
  CpuBackwardPlan plan = plan_cpu_backward(problem_with({2048}, 1, 1), kTiles, 128, 2, kAuto);
  EXPECT_EQ(plan.schedule, kFusedSplit);
  EXPECT_EQ(plan.key_parts, 2);
  EXPECT_EQ(plan.scratch_floats, 2 * 2048 * 128);  // parts x rows x query heads x D
  // GQA 4:1 with one key/value head is still one item, however many query heads.
  plan = plan_cpu_backward(problem_with({2048}, 4, 1), kTiles, 128, 2, kAuto);
  EXPECT_EQ(plan.schedule, kFusedSplit);
  EXPECT_EQ(plan.key_parts, 2);
  EXPECT_EQ(plan.scratch_floats, 2 * 2048 * 4 * 128);
}

TEST(CpuBackwardPlan, PartsAreAtMostTheThreadsAndTheKeyTiles) {
  // One item on 8 threads: 8 parts of a 2048-key document (32 key tiles).
  CpuBackwardPlan plan = plan_cpu_backward(problem_with({2048}, 1, 1), kTiles, 64, 8, kAuto);
  EXPECT_EQ(plan.schedule, kFusedSplit);
  EXPECT_EQ(plan.key_parts, 8);
  // Past 16 parts the counts tried step by a quarter, but the thread count is always tried.
  EXPECT_EQ(plan_cpu_backward(problem_with({4096}, 1, 1), kTiles, 64, 64, kAuto).key_parts, 64);
  EXPECT_EQ(plan_cpu_backward(problem_with({4096}, 1, 1), kTiles, 64, 40, kAuto).key_parts, 40);
  // 100 keys are 2 key tiles: at most 2 parts, 1.1 x W/2 against two-pass's 1.5 x W/8.
  EXPECT_EQ(auto_schedule(problem_with({100}, 1, 1), 64, 8), kTwoPass);
  // 3 key tiles on 2 threads: 2 parts.
  plan = plan_cpu_backward(problem_with({150}, 1, 1), kTiles, 64, 2, kAuto);
  EXPECT_EQ(plan.schedule, kFusedSplit);
  EXPECT_EQ(plan.key_parts, 2);
}

TEST(CpuBackwardPlan, BalancedItemsFuse) {
  // Two heads on two threads: each item is an even share.
  EXPECT_EQ(auto_schedule(problem_with({2048}, 2, 2), 128, 2), kFused);
  // Eleven equal items on two threads: 6 on one, 6/5.5 of an even share, within the 1.1 that
  // splitting costs.
  EXPECT_EQ(auto_schedule(problem_with(std::vector<int64_t>(11, 300), 1, 1), 64, 2), kFused);
}

TEST(CpuBackwardPlan, ThreadsThatWholeItemsLeaveIdleGetParts) {
  // Three equal items w on two threads: fused 2w; 2 parts each, 3 pieces of w/2 per thread:
  // 1.1 x 1.5w = 1.65w; two-pass 1.5 x 1.5w. (attncc run, causal S 2048 D 128, 3 heads: fused
  // 53.9 ms, fused-split 40.8 ms, two-pass 60.6 ms.)
  CpuBackwardPlan plan = plan_cpu_backward(problem_with({2048}, 3, 3), kTiles, 128, 2, kAuto);
  EXPECT_EQ(plan.schedule, kFusedSplit);
  EXPECT_EQ(plan.key_parts, 2);
  // ... on four threads: fused w (one idle); 4 parts, 3 pieces of w/4 per thread: 0.825w.
  plan = plan_cpu_backward(problem_with({512, 512, 512}, 1, 1), kTiles, 64, 4, kAuto);
  EXPECT_EQ(plan.schedule, kFusedSplit);
  EXPECT_EQ(plan.key_parts, 4);
  EXPECT_EQ(plan.scratch_floats, 4 * 3 * 512 * 64);
  // ... on five threads: two-pass 1.5 x 0.6w = 0.9w beats fused (w); 3 parts give 2 pieces of
  // w/3 per thread (0.73w), 5 parts 3 pieces of w/5 (0.66w).
  plan = plan_cpu_backward(problem_with({512, 512, 512}, 1, 1), kTiles, 64, 5, kAuto);
  EXPECT_EQ(plan.schedule, kFusedSplit);
  EXPECT_EQ(plan.key_parts, 5);
}

TEST(CpuBackwardPlan, OneLongDocumentAmongShortOnesSplits) {
  // Work 1000^2 against 1000^2 + 10 x 100^2 = 1.1e6 on 2 threads: fused 1.05e6 (the short ones
  // first, then the long one on one thread), two-pass 1.5 x 0.55e6, 2 parts 1.1 x 0.55e6. Every
  // document is split: 10 x 128 + 1024 rounded rows per part.
  std::vector<int64_t> lengths(10, 100);
  lengths.push_back(1000);
  const CpuBackwardPlan plan = plan_cpu_backward(problem_with(lengths, 1, 1), kTiles, 64, 2, kAuto);
  EXPECT_EQ(plan.schedule, kFusedSplit);
  EXPECT_EQ(plan.key_parts, 2);
  EXPECT_EQ(plan.scratch_floats, 2 * (10 * 128 + 1024) * 64);
}

TEST(CpuBackwardPlan, ScratchIsTheLongestDocumentInWholeQueryTilesPerGroupHead) {
  // 100 rows round up to 128; GQA 8:2 is a group of 4; D = 64.
  const CpuBackwardPlan plan =
      plan_cpu_backward(problem_with({100, 30}, 8, 2), kTiles, 64, 1, kAuto);
  EXPECT_EQ(plan.schedule, kFused);
  EXPECT_EQ(plan.scratch_floats, 128 * 4 * 64);
}

TEST(CpuBackwardPlan, ScratchOverHalfAGibibyteTakesTheTwoPassSchedule) {
  // 2 documents of 2^19 rows, D 128: 256 MiB of scratch per thread. One thread: 256 MiB, fused;
  // two threads (both busy): 512 MiB, still fused; a group of 2 doubles it: two-pass.
  const std::vector<int64_t> lengths{int64_t{1} << 19, int64_t{1} << 19};
  EXPECT_EQ(auto_schedule(problem_with(lengths, 1, 1), 128, 1), kFused);
  EXPECT_EQ(auto_schedule(problem_with(lengths, 1, 1), 128, 2), kFused);
  EXPECT_EQ(auto_schedule(problem_with(lengths, 2, 1), 128, 2), kTwoPass);
  // One document of 2^19 rows on 2 threads splits in 2 parts of 256 MiB: 512 MiB, split; with a
  // group of 2, 1 GiB: two-pass.
  const std::vector<int64_t> one{int64_t{1} << 19};
  EXPECT_EQ(auto_schedule(problem_with(one, 1, 1), 128, 2), kFusedSplit);
  EXPECT_EQ(auto_schedule(problem_with(one, 2, 1), 128, 2), kTwoPass);
}

TEST(CpuBackwardPlan, ForcedSchedulesAreKept) {
  const ValidatedProblem unbalanced = problem_with({2048}, 1, 1);
  EXPECT_EQ(plan_cpu_backward(unbalanced, kTiles, 128, 16, kFused).schedule, kFused);
  const ValidatedProblem balanced = problem_with({2048, 2048}, 4, 4);
  EXPECT_EQ(plan_cpu_backward(balanced, kTiles, 128, 1, kTwoPass).schedule, kTwoPass);
  // Forced splits take max(2, threads) parts, whatever the balance.
  CpuBackwardPlan plan = plan_cpu_backward(balanced, kTiles, 128, 1, kFusedSplit);
  EXPECT_EQ(plan.schedule, kFusedSplit);
  EXPECT_EQ(plan.key_parts, 2);
  EXPECT_EQ(plan.scratch_floats, 2 * 4096 * 4 * 128);
  plan = plan_cpu_backward(unbalanced, kTiles, 128, 16, kFusedSplit);
  EXPECT_EQ(plan.key_parts, 16);
}

TEST(CpuBackwardPlan, SentinelDocumentsDoNotChangeThePlan) {
  // 120 more (empty) items would change the pool's chunks (246 pieces: 15 at a time), and so
  // the modelled times; the plan, and with it dQ's summation order, must not move.
  std::vector<int64_t> lengths{2048};
  const CpuBackwardPlan alone = plan_cpu_backward(problem_with(lengths, 3, 3), kTiles, 128, 2, kAuto);
  lengths.resize(41, 0);
  const CpuBackwardPlan padded = plan_cpu_backward(problem_with(lengths, 3, 3), kTiles, 128, 2, kAuto);
  EXPECT_EQ(padded.schedule, alone.schedule);
  EXPECT_EQ(padded.key_parts, alone.key_parts);
  EXPECT_EQ(padded.scratch_floats, alone.scratch_floats);
}

// The forward: items are (document, query head, query tile), each of work rows x Lk. Head dim
// Dv 64: a part's row is 66 floats (m, l, acc).

TEST(CpuForwardPlan, OneThreadKeepsTiles) {
  EXPECT_EQ(plan_cpu_forward(problem_with({1}, {4096}, 1, 1), kTiles, 64, 1, CpuForwardSchedule::kAuto)
                .schedule,
            CpuForwardSchedule::kTiles);
}

TEST(CpuForwardPlan, OneQueryRowAgainstManyKeysSplitsOverEveryThread) {
  // Decoding: one item of 4096 on 8 threads; 8 parts of 512 (x 1.1) each. Scratch: 8 parts x
  // one query tile of 64 rows x 66 floats.
  const CpuForwardPlan plan = plan_cpu_forward(problem_with({1}, {4096}, 1, 1), kTiles, 64, 8,
                                               CpuForwardSchedule::kAuto);
  EXPECT_EQ(plan.schedule, CpuForwardSchedule::kSplit);
  EXPECT_EQ(plan.key_parts, 8);
  EXPECT_EQ(plan.scratch_floats, 8 * 64 * 66);
  // One key tile cannot be split.
  EXPECT_EQ(plan_cpu_forward(problem_with({1}, {64}, 1, 1), kTiles, 64, 8, CpuForwardSchedule::kAuto)
                .schedule,
            CpuForwardSchedule::kTiles);
}

TEST(CpuForwardPlan, ManyQueryTilesKeepTiles) {
  // 32 equal query tiles on 2 threads: 16 each.
  EXPECT_EQ(plan_cpu_forward(problem_with({2048}, 1, 1), kTiles, 64, 2, CpuForwardSchedule::kAuto)
                .schedule,
            CpuForwardSchedule::kTiles);
  // 3 equal tiles w on 2 threads: tiles 2w; 2 parts give 3 pieces of w/2 each: 1.1 x 1.5w.
  const CpuForwardPlan plan = plan_cpu_forward(problem_with({192}, 1, 1), kTiles, 64, 2,
                                               CpuForwardSchedule::kAuto);
  EXPECT_EQ(plan.schedule, CpuForwardSchedule::kSplit);
  EXPECT_EQ(plan.key_parts, 2);
  EXPECT_EQ(plan.scratch_floats, 2 * 3 * 64 * 66);
}

TEST(CpuForwardPlan, DocumentsWithoutWorkDoNotChangeThePlan) {
  // One decoding row among 40 documents of 64 rows and no keys (their rows get O = 0).
  const CpuForwardPlan alone = plan_cpu_forward(problem_with({1}, {4096}, 1, 1), kTiles, 64, 8,
                                                CpuForwardSchedule::kAuto);
  std::vector<int64_t> query_lengths(41, 64);
  std::vector<int64_t> key_lengths(41, 0);
  query_lengths[0] = 1;
  key_lengths[0] = 4096;
  const CpuForwardPlan padded = plan_cpu_forward(problem_with(query_lengths, key_lengths, 1, 1),
                                                 kTiles, 64, 8, CpuForwardSchedule::kAuto);
  EXPECT_EQ(padded.schedule, alone.schedule);
  EXPECT_EQ(padded.key_parts, alone.key_parts);
}

TEST(CpuForwardPlan, ForcedSchedulesAreKept) {
  const ValidatedProblem problem = problem_with({2048}, 2, 2);
  EXPECT_EQ(plan_cpu_forward(problem, kTiles, 64, 1, CpuForwardSchedule::kTiles).schedule,
            CpuForwardSchedule::kTiles);
  const CpuForwardPlan plan = plan_cpu_forward(problem, kTiles, 64, 1, CpuForwardSchedule::kSplit);
  EXPECT_EQ(plan.schedule, CpuForwardSchedule::kSplit);
  EXPECT_EQ(plan.key_parts, 2);
  EXPECT_EQ(plan.scratch_floats, 2 * 32 * 2 * 64 * 66);  // parts x tiles x heads x rows x row
  EXPECT_EQ(plan_cpu_forward(problem, kTiles, 64, 12, CpuForwardSchedule::kSplit).key_parts, 12);
}

TEST(CpuForwardPlan, ScheduleNamesRoundTrip) {
  for (CpuForwardSchedule schedule :
       {CpuForwardSchedule::kAuto, CpuForwardSchedule::kTiles, CpuForwardSchedule::kSplit}) {
    EXPECT_EQ(parse_cpu_forward_schedule(cpu_forward_schedule_name(schedule)), schedule);
  }
  EXPECT_EQ(cpu_forward_schedule_name(CpuForwardSchedule::kSplit), "split");
  EXPECT_THROW(parse_cpu_forward_schedule("fused"), Error);
}

TEST(CpuBackwardPlan, ScheduleNamesRoundTrip) {
  for (CpuBackwardSchedule schedule : {kAuto, kFused, kFusedSplit, kTwoPass}) {
    EXPECT_EQ(parse_cpu_backward_schedule(cpu_backward_schedule_name(schedule)), schedule);
  }
  EXPECT_EQ(cpu_backward_schedule_name(kFusedSplit), "fused-split");
  EXPECT_THROW(parse_cpu_backward_schedule("fast"), Error);
}

}  // namespace
}  // namespace attncc
