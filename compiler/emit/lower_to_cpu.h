// Lowering to the CPU backend: the few-line generated prelude (Config, Mask, entry points named
// after the spec hash) that instantiates templates/cpu/attention_cpu.h.
#pragma once

#include <string>

#include "attncc/interval_form.h"
#include "attncc/spec.h"

namespace attncc {

/// Tile sizes of the CPU kernels (query rows x key columns of one work item).
struct CpuTiles {
  int query = 64;
  int key = 64;
};

/// Names of the generated entry points: `<prefix>_forward`, `_forward_split`,
/// `_forward_combine`, `_backward_dq`, `_backward_dkdv`, `_backward_fused`, `_backward_delta`,
/// `_backward_reduce_dq`.
std::string cpu_entry_prefix(const Spec& spec);

/// The generated C++ translation unit for `spec` (its mask already canonical) and its interval
/// form. Includes "cpu/attention_cpu.h" from the embedded templates.
std::string lower_to_cpu(const Spec& spec, const IntervalForm& form, CpuTiles tiles = {});

}  // namespace attncc
