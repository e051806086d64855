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
/// The entry points that take fp32 scratch as their last argument: the fused backward's dQ
/// (the calling thread's, or a split part's own), the split forward's partial rows.
using CpuFusedEntryPoint = void (*)(const AttentionParams*, const WorkItem*, long long, float*);

struct CpuEntryPoints {
  CpuEntryPoint forward = nullptr;
  CpuFusedEntryPoint forward_split = nullptr;    ///< split forward: one part of a query tile
  CpuFusedEntryPoint forward_combine = nullptr;  ///< split forward: merges a tile's parts
  CpuEntryPoint backward_dq = nullptr;
  CpuEntryPoint backward_dkdv = nullptr;
  CpuFusedEntryPoint backward_fused = nullptr;
  CpuEntryPoint backward_delta = nullptr;           ///< split fused backward: dO.O row sums
  CpuFusedEntryPoint backward_reduce_dq = nullptr;  ///< split fused backward: sums the parts
};

/// The schedules a CPU kernel was built with (RuntimeOptions::cpu_forward, cpu_backward).
struct CpuSchedules {
  CpuForwardSchedule forward = CpuForwardSchedule::kAuto;
  CpuBackwardSchedule backward = CpuBackwardSchedule::kAuto;
};

/// How a forward call runs on the CPU (RuntimeOptions::cpu_forward resolved for one call).
struct CpuForwardPlan {
  /// kTiles or kSplit (never kAuto).
  CpuForwardSchedule schedule = CpuForwardSchedule::kTiles;
  /// kSplit: the parts each query tile's key tiles are dealt over.
  int key_parts = 1;
  /// kSplit: fp32 scratch of all parts of all query tiles together: key_parts x query tiles x
  /// heads x tiles.query x (head_dim_v + 2).
  int64_t scratch_floats = 0;
};

/// Resolves the forward schedule. Work per (document, query head, query tile) item is counted
/// as its rows x Lk; kAuto takes kSplit with the parts (2 to min(threads, the longest
/// document's key tiles)) whose estimated wall time, times 1.1 for the merge pass, is least and
/// below kTiles' (the same model as plan_cpu_backward), and whose scratch fits 512 MiB. Items
/// without keys are left out of the model, so sentinel documents never change the plan.
CpuForwardPlan plan_cpu_forward(const ValidatedProblem& problem, CpuTiles tiles,
                                int head_dim_v, int threads, CpuForwardSchedule schedule);

/// How a backward call runs on the CPU (RuntimeOptions::cpu_backward resolved for one call).
struct CpuBackwardPlan {
  /// kFused, kFusedSplit or kTwoPass (never kAuto).
  CpuBackwardSchedule schedule = CpuBackwardSchedule::kTwoPass;
  /// kFusedSplit: the parts each document's key tiles are dealt over.
  int key_parts = 1;
  /// kFused: fp32 dQ scratch per thread, what backward_fused_item (templates/cpu) uses for the
  /// longest document: group x (rows rounded up to a query tile) x D. kFusedSplit: the scratch
  /// of all parts of all (document, key/value head) items together, key_parts times the sum of
  /// those over the documents and key/value heads.
  int64_t scratch_floats = 0;
};

/// Resolves the schedule for a validated problem on `threads` threads. kAuto picks the one with
/// the least estimated wall time, in work units (Lq x Lk per query head):
/// - kTwoPass: 1.5x an even share of the work per thread (it splits into tiles, so it
///   balances; the fused loop does the same work about 1.5x faster);
/// - kFused: the pool's schedule of whole (document, key/value head) items (chunks handed out
///   in order to the first free thread), if its scratch for the busy threads fits 512 MiB;
/// - kFusedSplit with P parts (2 to min(threads, the longest document's key tiles)): the same
///   schedule of P equal pieces per item, times 1.1 for its extra passes and scratch, if the
///   scratch of all parts fits 512 MiB.
/// Forced kFusedSplit takes max(2, threads) parts. Empty documents are left out of the model,
/// so sentinel documents never change the plan (nor dQ's summation order).
CpuBackwardPlan plan_cpu_backward(const ValidatedProblem& problem, CpuTiles tiles, int head_dim,
                                  int threads, CpuBackwardSchedule schedule);

/// Validates and runs the forward (per plan_cpu_forward): every element of o and lse written
/// (rows in no document get O = 0, LSE = -inf).
void run_cpu_forward(const Spec& spec, const CpuEntryPoints& entries, CpuTiles tiles,
                     CpuForwardSchedule schedule, const AttentionArguments& arguments,
                     ThreadPool& pool);

/// Validates and runs the backward (fused, split fused, or a dQ pass then a dK/dV pass, per
/// plan_cpu_backward). Without accumulate every element of dq, dk, dv is written (0 where
/// nothing attends); with it, rows in no document are untouched.
void run_cpu_backward(const Spec& spec, const CpuEntryPoints& entries, CpuTiles tiles,
                      CpuBackwardSchedule schedule, const AttentionArguments& arguments,
                      ThreadPool& pool);

}  // namespace attncc
