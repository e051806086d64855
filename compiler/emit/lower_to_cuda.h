// Lowering to the CUDA backend: the few-line generated translation unit (Config from
// templates/cuda/launch_shape.h, the same Mask as the CPU prelude, ATTNCC_CUDA_ENTRY_POINTS)
// that instantiates templates/cuda/attention_cuda.h. The same text compiles under NVRTC (CUDA)
// and as host C++ with the emulation header (cuda-emulated backend).
#pragma once

#include <string>

#include "attncc/interval_form.h"
#include "attncc/spec.h"
#include "compiler/emit/cuda_lowering_options.h"

namespace attncc {

/// Names of the generated entry points: `<prefix>_<kernel_suffix(kind)>` (launch_shape.h).
std::string cuda_entry_prefix(const Spec& spec);

/// The generated CUDA translation unit for `spec` (mask canonical, dtype fp16 or bf16; throws
/// Error(kUnsupported) for fp32 or an unsupported head dim) and its interval form. Includes
/// "cuda/attention_cuda.h" from the embedded templates. `options` must come from
/// cuda_lowering_options (cuda_lowering_options.h), which checks what the target and spec allow.
std::string lower_to_cuda(const Spec& spec, const IntervalForm& form,
                          const CudaLoweringOptions& options = {});

}  // namespace attncc
