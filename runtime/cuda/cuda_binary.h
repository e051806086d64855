// The compiled form of one spec for one CUDA target (CUBIN or PTX plus the ptxas report): what
// NVRTC produces, what the disk cache and `attncc compile` bundles store, what the driver loads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "attncc/spec.h"
#include "compiler/emit/cuda_lowering_options.h"
#include "templates/cuda/launch_shape.h"
#include "runtime/cuda/nvrtc_compiler.h"
#include "runtime/cuda/ptxas_report.h"

namespace attncc {

class DiskCache;
class CudaBundle;
struct RuntimeCounters;

struct CudaBinary {
  std::string target;  ///< "sm_90a", "compute_100"
  bool is_cubin = false;
  std::string image;   ///< CUBIN bytes, or NUL-terminated PTX text
  std::vector<PtxasKernelReport> reports;  ///< one per entry point (CUBIN only)
};

/// The binary as one payload (a header line of JSON, then the image) and back;
/// decode_cuda_binary throws Error(kInternal) on a payload it did not write.
std::string encode_cuda_binary(const CudaBinary& binary);
CudaBinary decode_cuda_binary(std::string_view payload);

/// Dynamic shared memory the kernel of `kind` is launched with (launch_shape.h; 0 for the
/// element-wise kernels; the forward's depends on `lowering`'s K/V stages), and the same for an
/// entry point by name ("<prefix>_<suffix>").
unsigned dynamic_shared_bytes(cuda::KernelKind kind, const Spec& spec,
                              const CudaLoweringOptions& lowering);
unsigned dynamic_shared_bytes(const std::string& entry_point, const Spec& spec,
                              const CudaLoweringOptions& lowering);

/// Bump when the CUDA templates' contract with the generated source changes.
constexpr int kCudaTemplateVersion = 1;

/// The disk-cache key: canonical spec, source hash, templates hash, template version, NVRTC
/// version and options, target. Throws Error(kUnsupported) without libnvrtc.
std::string cuda_cache_key(const Spec& spec, const std::string& source, const CudaTarget& target);

/// Where NVRTC spent a compile: wall time and this thread's CPU time (they differ on a busy
/// machine).
struct CudaCompileTime {
  double seconds = 0;
  double cpu_seconds = 0;
};

/// Lowers `spec` with `lowering` and compiles it with NVRTC (all entry points in one program).
/// `time` gets the NVRTC time when not null. Throws like lower_to_cuda and compile_cuda.
CudaBinary compile_cuda_binary(const Spec& spec, const CudaTarget& target,
                               CudaCompileTime* time = nullptr,
                               const CudaLoweringOptions& lowering = {});

/// The binary of `spec` for `target`: from `bundle` (ahead-of-time, needs no NVRTC), else from
/// `disk`, else compiled (and stored in `disk`). Counts compiles and disk hits in `counters`.
/// With ATTNCC_ASSERT_NO_COMPILE=1 a needed compile throws instead. Either pointer may be null.
CudaBinary find_or_compile_cuda_binary(const Spec& spec, const CudaTarget& target,
                                       const CudaBundle* bundle, DiskCache* disk,
                                       RuntimeCounters& counters,
                                       const CudaLoweringOptions& lowering = {});

}  // namespace attncc
