// CUDA binaries: payload format, cache key, compile, lookup order (see cuda_binary.h).
#include "runtime/cuda/cuda_binary.h"

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "attncc/interval_form.h"
#include "compiler/emit/forward_tile_choice.h"
#include "compiler/emit/lower_to_cuda.h"
#include "runtime/cache/disk_cache.h"
#include "runtime/cuda/cuda_bundle.h"
#include "runtime/embedded_templates.h"
#include "runtime/environment.h"
#include "runtime/kernel_implementation.h"

namespace attncc {
namespace {

constexpr int kCacheFormatVersion = 1;
constexpr std::string_view kPayloadMagic = "attncc-cuda-binary 1\n";

}  // namespace

unsigned dynamic_shared_bytes(cuda::KernelKind kind, const Spec& spec,
                              const CudaLoweringOptions& lowering) {
  switch (kind) {
    case cuda::kKernelForward:
      return cuda::forward_shared_bytes(spec.head_dim, spec.head_dim_v,
                                        cuda_forward_tile_shape(spec, lowering).key_stages);
    case cuda::kKernelBackwardKeyValue:
      return cuda_backward_key_value_shared_bytes(spec, lowering);
    case cuda::kKernelBackwardQuery:
      return cuda_backward_query_shared_bytes(spec, lowering);
    default: return 0;
  }
}

unsigned dynamic_shared_bytes(const std::string& entry_point, const Spec& spec,
                              const CudaLoweringOptions& lowering) {
  for (int kind = 0; kind < cuda::kKernelCount; ++kind) {
    const std::string tail = std::string("_") + cuda::kernel_suffix(static_cast<cuda::KernelKind>(kind));
    if (entry_point.size() >= tail.size() &&
        entry_point.compare(entry_point.size() - tail.size(), tail.size(), tail) == 0) {
      return dynamic_shared_bytes(static_cast<cuda::KernelKind>(kind), spec, lowering);
    }
  }
  return 0;
}

std::string encode_cuda_binary(const CudaBinary& binary) {
  nlohmann::json header = {{"target", binary.target},
                           {"cubin", binary.is_cubin},
                           {"image_bytes", binary.image.size()},
                           {"reports", nlohmann::json::parse(ptxas_report_to_json(binary.reports))}};
  return std::string(kPayloadMagic) + header.dump() + "\n" + binary.image;
}

CudaBinary decode_cuda_binary(std::string_view payload) {
  if (payload.substr(0, kPayloadMagic.size()) != kPayloadMagic) {
    internal_error(__FILE__, __LINE__, "not an attncc CUDA binary (bad magic)");
  }
  payload.remove_prefix(kPayloadMagic.size());
  const size_t end = payload.find('\n');
  if (end == std::string_view::npos) internal_error(__FILE__, __LINE__, "CUDA binary without header");
  CudaBinary binary;
  try {
    nlohmann::json header = nlohmann::json::parse(payload.substr(0, end));
    binary.target = header.at("target").get<std::string>();
    binary.is_cubin = header.at("cubin").get<bool>();
    binary.reports = ptxas_report_from_json(header.at("reports").dump());
    binary.image = std::string(payload.substr(end + 1));
    if (binary.image.size() != header.at("image_bytes").get<size_t>()) {
      internal_error(__FILE__, __LINE__, "CUDA binary image has the wrong size");
    }
  } catch (const nlohmann::json::exception& error) {
    internal_error(__FILE__, __LINE__, std::string("unreadable CUDA binary header: ") + error.what());
  }
  return binary;
}

std::string cuda_cache_key(const Spec& spec, const std::string& source, const CudaTarget& target) {
  nlohmann::json key = {
      {"format", kCacheFormatVersion},
      {"backend", "cuda"},
      {"spec", spec.canonical_text()},
      {"source", hash128_hex(source)},
      {"templates", embedded_templates_hash()},
      {"template_version", kCudaTemplateVersion},
      {"nvrtc", nvrtc_version()},
      {"options", cuda_compile_options(target)},
      {"target", target.name},
  };
  return key.dump();
}

namespace {

CudaBinary compile_source(const Spec& spec, const std::string& source, const CudaTarget& target,
                          CudaCompileTime* time) {
  CudaCompileResult compiled = compile_cuda(source, target, "attncc_" + spec_hash(spec) + ".cu");
  if (time != nullptr) *time = {compiled.seconds, compiled.cpu_seconds};
  return CudaBinary{target.name, compiled.is_cubin, std::move(compiled.image),
                    std::move(compiled.reports)};
}

}  // namespace

CudaBinary compile_cuda_binary(const Spec& spec, const CudaTarget& target, CudaCompileTime* time,
                               const CudaLoweringOptions& lowering) {
  return compile_source(spec, lower_to_cuda(spec, build_interval_form(spec.mask), lowering),
                        target, time);
}

CudaBinary find_or_compile_cuda_binary(const Spec& spec, const CudaTarget& target,
                                       const CudaBundle* bundle, DiskCache* disk,
                                       RuntimeCounters& counters,
                                       const CudaLoweringOptions& lowering) {
  const std::string source = lower_to_cuda(spec, build_interval_form(spec.mask), lowering);
  if (bundle != nullptr) {
    if (std::optional<CudaBinary> found = bundle->find(spec, source, target)) {
      counters.disk_hits.fetch_add(1);
      return *found;
    }
  }
  std::string key;
  if (disk != nullptr) {
    key = cuda_cache_key(spec, source, target);
    if (std::optional<std::string> payload = disk->load(key)) {
      try {
        CudaBinary binary = decode_cuda_binary(*payload);
        counters.disk_hits.fetch_add(1);
        return binary;
      } catch (const Error& error) {
        std::fprintf(stderr, "attncc: warning: cached CUDA kernel for spec %s is unreadable (%s); "
                     "rebuilding\n", spec_hash(spec).c_str(), error.what());
      }
    }
  }
  if (no_compile_asserted()) {
    throw Error(ErrorCode::kInternal,
                "attncc: ATTNCC_ASSERT_NO_COMPILE=1 but the CUDA kernel of spec " + spec_hash(spec) +
                    " for " + target.name + " is in no bundle or cache (" +
                    (disk ? disk->directory() : std::string("no disk cache")) +
                    ") and would be compiled");
  }
  CudaBinary binary = compile_source(spec, source, target, nullptr);
  counters.compiles.fetch_add(1);
  if (disk != nullptr) disk->store(key, encode_cuda_binary(binary));
  return binary;
}

}  // namespace attncc
