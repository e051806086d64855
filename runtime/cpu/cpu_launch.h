// Running generated CPU kernels: work lists per pass, the rows no document covers, the thread
// pool. The entry points come from the JIT (or the disk cache); this file never compiles.
#pragma once

#include "attncc/runtime.h"
#include "compiler/emit/lower_to_cpu.h"
#include "runtime/argument_validation.h"
#include "runtime/thread_pool.h"
#include "templates/common/attention_params.h"

namespace attncc {

using CpuEntryPoint = void (*)(const AttentionParams*, const WorkItem*, long long);
/// The fused backward's entry point: its last argument is the calling thread's dQ scratch.
using CpuFusedEntryPoint = void (*)(const AttentionParams*, const WorkItem*, long long, float*);

struct CpuEntryPoints {
  CpuEntryPoint forward = nullptr;
  CpuEntryPoint backward_dq = nullptr;
  CpuEntryPoint backward_dkdv = nullptr;
  CpuFusedEntryPoint backward_fused = nullptr;
};

/// How a backward call runs on the CPU (RuntimeOptions::cpu_backward resolved for one call).
struct CpuBackwardPlan {
  bool fused = false;
  /// fp32 dQ scratch per thread when fused: what backward_fused_item (templates/cpu) uses for
  /// the longest document, group x (rows rounded up to a query tile) x D.
  int64_t scratch_floats = 0;
};

/// Resolves the schedule for a validated problem on `threads` threads: kAuto picks the fused
/// backward unless its largest (document, key/value head) item exceeds 1.5x an even share of
/// the work per thread (it runs 1.5x faster than the two-pass one but cannot split an item),
/// or its scratch for all threads would pass 512 MiB. Work is counted as Lq x Lk per query
/// head.
CpuBackwardPlan plan_cpu_backward(const ValidatedProblem& problem, CpuTiles tiles, int head_dim,
                                  int threads, CpuBackwardSchedule schedule);

/// Validates and runs the forward: every element of o and lse written (rows in no document
/// get O = 0, LSE = -inf).
void run_cpu_forward(const Spec& spec, const CpuEntryPoints& entries, CpuTiles tiles,
                     const AttentionArguments& arguments, ThreadPool& pool);

/// Validates and runs the backward (fused, or a dQ pass then a dK/dV pass, per
/// plan_cpu_backward). Without accumulate every element of dq, dk, dv is written (0 where
/// nothing attends); with it, rows in no document are untouched.
void run_cpu_backward(const Spec& spec, const CpuEntryPoints& entries, CpuTiles tiles,
                      CpuBackwardSchedule schedule, const AttentionArguments& arguments,
                      ThreadPool& pool);

}  // namespace attncc
