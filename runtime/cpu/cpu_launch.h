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

struct CpuEntryPoints {
  CpuEntryPoint forward = nullptr;
  CpuEntryPoint backward_dq = nullptr;
  CpuEntryPoint backward_dkdv = nullptr;
};

/// Validates and runs the forward: every element of o and lse written (rows in no document
/// get O = 0, LSE = -inf).
void run_cpu_forward(const Spec& spec, const CpuEntryPoints& entries, CpuTiles tiles,
                     const AttentionArguments& arguments, ThreadPool& pool);

/// Validates and runs the backward (dQ pass, then dK/dV pass). Without accumulate every element
/// of dq, dk, dv is written (0 where nothing attends); with it, rows in no document are untouched.
void run_cpu_backward(const Spec& spec, const CpuEntryPoints& entries, CpuTiles tiles,
                      const AttentionArguments& arguments, ThreadPool& pool);

}  // namespace attncc
