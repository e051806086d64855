// The runtime's environment switches, read in one place so every backend agrees on what "set"
// means.
#pragma once

#include <string>

#include "compiler/emit/cuda_lowering_options.h"

namespace attncc {

/// True when the environment variable `name` is exactly "1"; unset, empty, "0" or anything else
/// is false, so a typo never turns a switch on.
bool environment_flag(const char* name);

/// The variable's value, or "" when unset.
std::string environment_value(const char* name);

/// $ATTNCC_ASSERT_NO_COMPILE=1: a backend that would compile a kernel raises attncc::Error
/// instead (tests and deployments that must be served from the cache or a bundle).
bool no_compile_asserted();

/// The forward asked for on targets with warpgroup MMAs: the overlapped wgmma forward when
/// `asked` (RuntimeOptions::cuda_warpgroup_mma, `--wgmma`) or $ATTNCC_CUDA_WGMMA=1; the serial
/// one with $ATTNCC_CUDA_WGMMA=serial (a benchmark comparison); else mma.sync.
WarpgroupForward requested_warpgroup_forward(bool asked);

}  // namespace attncc
