// The real backward kernels (templates/cuda/attention_backward.cuh, lowered for a causal bf16
// d128 spec with GQA 2:1: the key/value kernel's 32 x 128 tiles with one query-side buffer)
// under the emulation, intact and with one barrier patched out of the key/value kernel:
// - the one before the next query tile's copies: a warp that is ahead overwrites the Q and dO
//   a slower warp still multiplies (only the emulator's lagging warp exposes this; rounds keep
//   the warps within one collective of each other);
// - the one after the copies landed: a warp reads Q, dO, LSE and delta before they are there;
// - the one after P and dS are stored: a warp multiplies P and dS other warps have not written.
// And, in deterministic mode, one wait or barrier out of the query kernel's K/V pipeline (V of
// the next key tile copied during dQ, K during the next dP):
// - the barrier after K's wait: a warp computes S from K chunks other threads still copy;
// - the barrier after dS is stored: the next V overwrites V under a slower warp's dP, and dQ
//   reads dS other warps have not written;
// - the wait for the next V: dP reads the previous V;
// - the barrier before the next K: it overwrites K under a slower warp's dQ.
// The same spec lowered for sm_90a's warpgroup MMAs (attention_backward_wgmma.cuh: 64 x 128
// key/value tiles, 128 x 64 query tiles, so two of each), with one defect in the key/value
// kernel:
// - dS^T computed before dP^T retired (one wgmma group too few waited for);
// - dQ reading dS^T before the other warpgroup stored it (its barrier removed);
// and in the deterministic query kernel:
// - S computed before every thread's K, V copies landed (the step's barrier removed);
// - P computed from S before its product retired (one wgmma group too few waited for);
// - the next K, V copied over a stage a warpgroup's dQ product still reads (its wait removed);
// - dQ += dS K reading K from the first stage on every step;
// - every tile taken as FULL (no per-element mask test).
// The intact kernels match the float64 reference in both modes; each defect must make dQ, dK
// or dV wrong (or raise an emulator error), on several seeds.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "attncc/error.h"
#include "attncc/reference.h"
#include "compiler/emit/cuda_lowering_options.h"
#include "compiler/emit/forward_tile_choice.h"
#include "runtime/cuda/launch_plan.h"
#include "runtime/thread_pool.h"
#include "support/attention_call.h"
#include "support/emulated_kernels.h"
#include "templates/common/numeric.h"

namespace attncc {
namespace {

constexpr const char* kBackward = "cuda/attention_backward.cuh";

const std::vector<testing::NamedPatch> kPatches = {
    {"next query tile copied before every warp is done with this one",
     {kBackward,
      "overlap the dQ product and its atomics.\n      sync_threads();",
      "overlap the dQ product and its atomics.\n      /* removed */"}},
    {"query tile read before it landed",
     {kBackward, "every warp is done with the other buffer, P and dS.\n    sync_threads();",
      "every warp is done with the other buffer, P and dS.\n    /* removed */"}},
    {"P and dS read before every warp stored them",
     {kBackward, "sync_threads();  // P and dS of every warp are in shared memory",
      "/* removed */  // P and dS of every warp are in shared memory"}},
};

const std::vector<testing::NamedPatch> kQueryKernelPatches = {
    {"S computed before every thread's K chunks landed",
     {kBackward, "sync_threads();  // K landed for every warp",
      "/* removed */  // K landed for every warp"}},
    {"next V copied before every warp is done with dP",
     {kBackward, "every warp is done with V (dP).\n    sync_threads();",
      "every warp is done with V (dP).\n    /* removed */"}},
    {"next V read before it landed",
     {kBackward, "cp_async_wait<0>();  // the next V", "/* removed */  // the next V"}},
    {"next K copied before every warp is done with dQ",
     {kBackward, "sync_threads();      // every warp is done with K and dS",
      "/* removed */      // every warp is done with K and dS"}},
};

constexpr const char* kWgmmaBackward = "cuda/attention_backward_wgmma.cuh";

const std::vector<testing::NamedPatch> kWarpgroupKeyValuePatches = {
    {"dS^T computed before dP^T retired",
     {kWgmmaBackward, "wgmma_wait<1>();  // dP^T; dV may still run",
      "wgmma_wait<2>();  // dP^T; dV may still run"}},
    {"dQ reads dS^T before every warpgroup stored it",
     {kWgmmaBackward, "sync_threads();  // dS^T of both warpgroups is in shared memory",
      "/* removed */  // dS^T of both warpgroups is in shared memory"}},
};

const std::vector<testing::NamedPatch> kWarpgroupQueryPatches = {
    {"S computed before every thread's K and V landed",
     {kWgmmaBackward, "sync_threads();       // they landed for everyone; every warpgroup",
      "/* removed */       // they landed for everyone; every warpgroup"}},
    {"next K, V copied over a stage the dQ product still reads",
     {kWgmmaBackward, "wgmma_wait<0>();  // before the barrier after which this stage",
      "/* removed */  // before the barrier after which this stage"}},
    {"dQ reads K from the first stage on every step",
     {kWgmmaBackward, "issue_gradient_product<Element>(dq, gradients, score_gradients, keys);",
      "issue_gradient_product<Element>(dq, gradients, score_gradients, Shape::kKey);"}},
    {"P computed before S retired",
     {kWgmmaBackward, "wgmma_wait<1>();  // S is done; dP may still run",
      "wgmma_wait<2>();  // S is done; dP may still run"}},
    {"every tile taken as FULL",
     {kWgmmaBackward,
      "const bool masked_tile = !full || columns < kTileK;  // PARTIAL, or keys short",
      "const bool masked_tile = false;  // PARTIAL, or keys short"}},
};

std::vector<bfloat16> random_tensor(std::mt19937_64& random, size_t count,
                                    std::vector<double>& exact) {
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<bfloat16> tensor;
  for (size_t index = 0; index < count; ++index) {
    tensor.push_back(from_float<bfloat16>(float(normal(random))));
    exact.push_back(to_float(tensor.back()));
  }
  return tensor;
}

// "" when dQ, dK or dV is within 2e-2 of the reference (relative to its largest magnitude, NaN
// never: testing::relative_error), else what went wrong.
std::string compare(const char* name, const std::vector<bfloat16>& actual,
                    const std::vector<double>& expected) {
  std::vector<double> values;
  for (const bfloat16& value : actual) values.push_back(to_float(value));
  const double error = testing::relative_error(values, expected);
  if (error <= 2e-2) return "";
  return std::string(name) + ": relative error " + std::to_string(error) + " against the reference";
}

class EmulatedBackwardDefects : public ::testing::Test {
 protected:
  const Spec spec_ = Spec::parse(
      R"({"name": "defects", "layout": "dense", "dtype": "bf16", "head_dim": 128,
          "mask": "causal", "backward": true})");
  ThreadPool pool_{2};
  CudaLoweringOptions lowering_{};  // the mma.sync kernels

  // Forward, then backward on random bf16 inputs: dense B = 1, S = 200 (seven 32-row query
  // tiles, two 128-key tiles for the key/value kernel; four 64-row query tiles and four 64-key
  // tiles for the deterministic query kernel), 2 query heads on 1 K/V head. "" when dQ, dK and
  // dV match the float64 reference, else what went wrong.
  std::string run(const JitModule& module, uint64_t seed, bool deterministic) {
    const int64_t rows = 200, heads_q = 2, heads_kv = 1, dim = 128;
    std::mt19937_64 random(seed);
    ReferenceInputs inputs;
    inputs.shape.layout = Layout::kDense;
    inputs.shape.batch = 1;
    inputs.shape.query_rows = rows;
    inputs.shape.key_rows = rows;
    inputs.heads_q = heads_q;
    inputs.heads_kv = heads_kv;
    const size_t query_elements = size_t(rows * heads_q * dim);
    const size_t key_elements = size_t(rows * heads_kv * dim);
    std::vector<bfloat16> q = random_tensor(random, query_elements, inputs.q);
    std::vector<bfloat16> k = random_tensor(random, key_elements, inputs.k);
    std::vector<bfloat16> v = random_tensor(random, key_elements, inputs.v);
    std::vector<bfloat16> d_o = random_tensor(random, query_elements, inputs.d_o);
    const bfloat16 poison{0x7fc0};  // NaN: an element left unwritten fails the comparison
    std::vector<bfloat16> o(query_elements, poison), dq(query_elements, poison);
    std::vector<bfloat16> dk(key_elements, poison), dv(key_elements, poison);
    std::vector<float> lse(size_t(heads_q * rows), std::nanf(""));
    AttentionArguments arguments;
    const std::vector<int64_t> query_shape{1, rows, heads_q, dim};
    const std::vector<int64_t> key_shape{1, rows, heads_kv, dim};
    arguments.q = TensorRef::cpu(q.data(), ScalarType::kBFloat16, query_shape);
    arguments.k = TensorRef::cpu(k.data(), ScalarType::kBFloat16, key_shape);
    arguments.v = TensorRef::cpu(v.data(), ScalarType::kBFloat16, key_shape);
    arguments.o = TensorRef::cpu(o.data(), ScalarType::kBFloat16, query_shape);
    arguments.lse = TensorRef::cpu(lse.data(), ScalarType::kFloat32, {1, heads_q, rows});
    arguments.d_o = TensorRef::cpu(d_o.data(), ScalarType::kBFloat16, query_shape);
    arguments.dq = TensorRef::cpu(dq.data(), ScalarType::kBFloat16, query_shape);
    arguments.dk = TensorRef::cpu(dk.data(), ScalarType::kBFloat16, key_shape);
    arguments.dv = TensorRef::cpu(dv.data(), ScalarType::kBFloat16, key_shape);
    cuda::DeviceStatus status{};
    try {
      CudaLaunchPlan forward =
          plan_cuda_forward(spec_, cuda_forward_tile_shape(spec_, lowering_), arguments);
      bind_workspace(forward, nullptr, nullptr, &status);
      testing::run_emulated_plan(module, spec_, forward, pool_, seed);
      CudaLaunchPlan backward = plan_cuda_backward(spec_, arguments, deterministic, lowering_);
      const HostWorkspaces workspaces(backward.workspace);
      bind_workspace(backward, workspaces.delta(), workspaces.dq_accumulator(), &status);
      testing::run_emulated_plan(module, spec_, backward, pool_, seed);
    } catch (const Error& error) {
      return error.what();
    }
    for (const bfloat16& value : o) inputs.o_for_delta.push_back(to_float(value));
    const ReferenceOutputs expected = reference_attention(spec_, inputs);
    for (const std::string& problem :
         {compare("dQ", dq, expected.dq), compare("dK", dk, expected.dk),
          compare("dV", dv, expected.dv)}) {
      if (!problem.empty()) return problem;
    }
    return "";
  }
};

TEST_F(EmulatedBackwardDefects, IntactKernelsMatchTheReference) {
  for (bool deterministic : {false, true}) {
    SCOPED_TRACE(deterministic ? "deterministic" : "atomic dQ");
    testing::expect_intact_kernels_pass(spec_, [&](const JitModule& module, uint64_t seed) {
      return run(module, seed, deterministic);
    });
  }
}

TEST_F(EmulatedBackwardDefects, EveryDefectFailsOnEverySeed) {
  testing::expect_every_defect_fails(spec_, kPatches,
                                     [this](const JitModule& module, uint64_t seed) {
                                       return run(module, seed, /*deterministic=*/false);
                                     });
}

TEST_F(EmulatedBackwardDefects, EveryQueryKernelDefectFailsOnEverySeed) {
  testing::expect_every_defect_fails(spec_, kQueryKernelPatches,
                                     [this](const JitModule& module, uint64_t seed) {
                                       return run(module, seed, /*deterministic=*/true);
                                     });
}

// The wgmma kernels (the lowering the emulated backend picks with cuda_warpgroup_mma).
class EmulatedWarpgroupBackwardDefects : public EmulatedBackwardDefects {
 protected:
  void SetUp() override {
    lowering_ = cuda_lowering_options(spec_, WarpgroupForward::kOverlapped, true);
    ASSERT_TRUE(lowering_.warpgroup_mma_backward);
  }
};

TEST_F(EmulatedWarpgroupBackwardDefects, IntactKernelsMatchTheReference) {
  for (bool deterministic : {false, true}) {
    SCOPED_TRACE(deterministic ? "deterministic" : "atomic dQ");
    testing::expect_intact_kernels_pass(
        spec_, [&](const JitModule& module, uint64_t seed) {
          return run(module, seed, deterministic);
        },
        lowering_);
  }
}

TEST_F(EmulatedWarpgroupBackwardDefects, EveryKeyValueKernelDefectFailsOnEverySeed) {
  testing::expect_every_defect_fails(
      spec_, kWarpgroupKeyValuePatches,
      [this](const JitModule& module, uint64_t seed) {
        return run(module, seed, /*deterministic=*/false);
      },
      lowering_);
}

TEST_F(EmulatedWarpgroupBackwardDefects, EveryQueryKernelDefectFailsOnEverySeed) {
  testing::expect_every_defect_fails(
      spec_, kWarpgroupQueryPatches,
      [this](const JitModule& module, uint64_t seed) {
        return run(module, seed, /*deterministic=*/true);
      },
      lowering_);
}

}  // namespace
}  // namespace attncc
