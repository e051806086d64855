// Runtime under concurrency (DESIGN §5): 8 threads ask one memory-only Runtime for a mix of specs
// and run small forward (and backward) calls on its shared thread pool; each spec compiles once
// and every result matches the float64 reference. `tools/test.sh --tsan` runs this under
// ThreadSanitizer.
#include <gtest/gtest.h>

#include <atomic>
#include <iterator>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "attncc/runtime.h"
#include "support/backend_cases.h"
#include "support/layout_builders.h"

namespace attncc {
namespace {

constexpr int kThreads = 8;
constexpr int kCallsPerThread = 6;

// Five specs over the three layouts, with a small head dim so the five compiles stay short; the
// doc-packed one has a backward, so forward and backward calls interleave on the pool.
const char* const kSpecs[] = {
    R"j({"layout": "varlen", "dtype": "fp32", "head_dim": 32, "mask": "causal"})j",
    R"j({"layout": "dense", "dtype": "fp32", "head_dim": 32,
        "mask": "causal_br & window_br(8, 0)"})j",
    R"j({"layout": "doc_packed", "dtype": "fp32", "head_dim": 32, "mask": "prefix($p[doc])",
        "backward": true})j",
    R"j({"layout": "dense", "dtype": "fp32", "head_dim": 32, "mask": "chunk(8)"})j",
    R"j({"layout": "varlen", "dtype": "fp32", "head_dim": 32, "mask": "sink(2) | window(6, 0)"})j",
};
constexpr int kSpecCount = static_cast<int>(std::size(kSpecs));

// A small problem for `spec`: a few documents (a sentinel, a 1-token one, Lq != Lk where the
// layout allows), GQA 2:1, inputs rounded to fp32 as the kernel sees them.
testing::BackendCase small_case(const Spec& spec, uint64_t seed) {
  testing::TestRandom random(seed);
  testing::BuiltLayout layout;
  switch (spec.layout) {
    case Layout::kDense: layout = testing::build_dense(24, 20, {{24, 20}, {5, 13}}); break;
    case Layout::kVarlen: layout = testing::build_varlen({{17, 17}, {0, 0}, {1, 1}, {9, 4}}); break;
    case Layout::kDocPacked: layout = testing::build_doc_packed(24, 3, {{10, 1, 13}, {24}}); break;
  }
  testing::BackendCase test_case;
  test_case.description = "stress case of " + spec.mask_text;
  test_case.inputs.shape = layout.shape;
  test_case.inputs.heads_q = 4;
  test_case.inputs.heads_kv = 2;
  testing::fill_random_tensors(test_case.inputs, spec.head_dim, spec.head_dim_v, spec.backward,
                               spec.alibi, random);
  for (std::vector<double>* tensor : {&test_case.inputs.q, &test_case.inputs.k,
                                      &test_case.inputs.v, &test_case.inputs.d_o}) {
    for (double& value : *tensor) value = static_cast<float>(value);
  }
  for (const auto& [name, per_document] : spec.parameters) {
    // Prefix lengths 0, 1, 5, ...: no bidirectional part, one token, part of a document.
    int64_t count = per_document ? document_count(layout.shape) : 1;
    for (int64_t index = 0; index < count; ++index) {
      test_case.inputs.parameters[name].push_back((index * 5) % 12);
    }
  }
  return test_case;
}

TEST(RuntimeStress, EightThreadsMixingSpecsCompileEachOnceAndGetCorrectResults) {
  RuntimeOptions options;
  options.backend = Backend::kCpu;
  options.disk_cache = false;
  options.num_threads = 2;  // workers shared by all callers: calls queue on one pool
  Runtime runtime(options);

  std::vector<Spec> specs;
  std::vector<testing::BackendCase> cases;
  for (int index = 0; index < kSpecCount; ++index) {
    specs.push_back(Spec::parse(kSpecs[index], "stress spec " + std::to_string(index)));
    cases.push_back(small_case(specs.back(), 1000 + index));
  }

  // All threads start together, and thread t begins with spec t % 5, so the first requests race
  // for the same uncompiled specs.
  std::latch start(kThreads);
  std::atomic<int> backward_calls{0};
  std::vector<std::thread> threads;
  for (int thread = 0; thread < kThreads; ++thread) {
    threads.emplace_back([&, thread] {
      start.arrive_and_wait();
      for (int call = 0; call < kCallsPerThread; ++call) {
        const int index = (thread + call * 3) % kSpecCount;
        Kernel kernel = runtime.get(specs[index]);
        EXPECT_EQ(kernel.hash(), spec_hash(specs[index]));
        testing::check_backend_case(kernel, cases[index]);
        if (specs[index].backward) backward_calls.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  RuntimeStats stats = runtime.stats();
  EXPECT_EQ(stats.compiles, kSpecCount);
  EXPECT_EQ(stats.disk_hits, 0);
  EXPECT_EQ(stats.memory_hits, kThreads * kCallsPerThread - kSpecCount);
  EXPECT_EQ(stats.forward_launches, kThreads * kCallsPerThread);
  EXPECT_EQ(stats.backward_launches, backward_calls.load());
}

}  // namespace
}  // namespace attncc
