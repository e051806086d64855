// NVRTC in-process: compiles a generated CUDA translation unit (compiler/emit/lower_to_cuda.h)
// with the embedded templates as NVRTC headers to CUBIN (or PTX for architectures newer than the
// ones attncc targets directly), with the ptxas report. libnvrtc is loaded with dlopen on first
// use, so attncc builds and runs on machines without the CUDA toolkit (DESIGN §4).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/cuda/ptxas_report.h"

namespace attncc {

/// What NVRTC compiles for: a real architecture gives CUBIN ("sm_80", "sm_90a"), a virtual one
/// PTX that the driver compiles at load time ("compute_100").
struct CudaTarget {
  std::string name;
  bool cubin() const { return name.rfind("sm_", 0) == 0; }
};

/// "sm_80", "sm_86", "sm_89", "sm_90", "sm_90a" or "compute_NN" (NN >= 80); throws
/// Error(kInvalidArgument) naming the accepted forms otherwise.
CudaTarget parse_cuda_target(std::string_view name);

/// The target for a device of compute capability major.minor: CUBIN for 8.0, 8.6, 8.9 and
/// 9.0 (sm_90a), PTX (compute_NN) for newer devices, which the driver JIT-compiles; throws
/// Error(kUnsupported) below 8.0 (mma.sync m16n8k16 bf16, cp.async and ldmatrix need sm_80).
CudaTarget cuda_target_for_device(int major, int minor);

/// Whether libnvrtc loads; `reason` gets the error message when not. Never throws.
bool nvrtc_available(std::string* reason = nullptr);

/// "13.0"; throws Error(kUnsupported) when libnvrtc cannot be loaded (see nvrtc_available).
std::string nvrtc_version();

/// The NVRTC options attncc compiles every kernel with (part of the cache key).
std::vector<std::string> cuda_compile_options(const CudaTarget& target);

/// A compiled program: CUBIN or PTX text, and the ptxas report of each entry point (CUBIN only).
struct CudaCompileResult {
  std::string image;
  bool is_cubin = false;
  std::vector<PtxasKernelReport> reports;
  std::string log;         ///< NVRTC's program log (warnings and the ptxas report)
  double seconds = 0;      ///< wall time of nvrtcCompileProgram and fetching the image
  double cpu_seconds = 0;  ///< CPU time of this thread meanwhile (NVRTC compiles on it)
};

/// Compiles `source` (includes resolved from the embedded templates only). Thread-safe: one
/// NVRTC program per call, so callers may compile several in parallel. Throws
/// Error(kUnsupported) without libnvrtc, Error(kInternal) with the log when the generated code
/// does not compile (generated code is attncc's responsibility).
CudaCompileResult compile_cuda(std::string_view source, const CudaTarget& target,
                               std::string_view file_name = "generated.cu");

}  // namespace attncc
