// `attncc compile SPEC... --arch sm_80,sm_90a --out DIR`: CUDA kernels compiled ahead of time by
// NVRTC into a bundle (one file per spec x architecture plus manifest.json) that a Runtime loads
// without compiling, and the ptxas report of every entry point (how CI checks for spills).
#include <cstdio>
#include <string>

#include "attncc/interval_form.h"
#include "attncc/spec.h"
#include "compiler/emit/lower_to_cuda.h"
#include "runtime/cuda/cuda_bundle.h"
#include "runtime/cuda/nvrtc_compiler.h"
#include "runtime/environment.h"
#include "tools/attncc/commands.h"

namespace attncc::cli {

const CommandInfo kCompileCommand = {
    "compile",
    "attncc compile SPEC... [--arch LIST] [--out DIR] [--fail-on-spills] [--wgmma]",
    "Compile the CUDA kernels of specs ahead of time with NVRTC and print the ptxas report.",
    "For every spec and architecture, NVRTC compiles the generated translation unit (attncc\n"
    "emit --target cuda) with all its entry points, and the ptxas resource report of each entry\n"
    "point is printed: registers per thread, spill stores and loads, stack frame, static and\n"
    "dynamic shared memory. No GPU is needed, only NVRTC (libnvrtc.so.13).\n\n"
    "With --out DIR the kernels are written as a bundle: DIR/<spec hash>.<arch>.attncc-cuda per\n"
    "spec and architecture (the CUBIN or PTX with its report) and DIR/manifest.json listing\n"
    "them. A Runtime loads kernels from a bundle without compiling (and without NVRTC) when it\n"
    "is given the directory: RuntimeOptions::bundle_dir in C++, or ATTNCC_BUNDLE_DIR=DIR in the\n"
    "environment. The bundle is read-only to the runtime; kernels it lacks (another spec, another\n"
    "GPU architecture, a bundle from another attncc version) are compiled as usual.\n\n"
    "Architectures: sm_80, sm_86, sm_89, sm_90, sm_90a give CUBIN; compute_NN (NN >= 80) gives\n"
    "PTX that the driver compiles when it loads it (for GPUs newer than these), without a report.\n"
    "A Runtime on a compute capability 9.0 GPU looks for sm_90a.\n\n"
    "--wgmma compiles the forward and the backward key/value and deterministic query kernels of\n"
    "sm_90a kernels with warpgroup MMAs (wgmma) where the head dims are 64 or 128 (the backward\n"
    "with softcap at 64 only): the experimental kernels of RuntimeOptions::cuda_warpgroup_mma and\n"
    "ATTNCC_CUDA_WGMMA=1, not yet run on a GPU (docs/PERFORMANCE.md); ATTNCC_CUDA_WGMMA=serial\n"
    "gives the forward's schedule without the softmax/product overlap. Other architectures and\n"
    "head dims compile as without it.\n\n"
    "Exit code 1 with --fail-on-spills when any entry point spills registers.\n\n"
    "examples:\n"
    "  attncc compile specs/causal.json\n"
    "  attncc compile specs/*.json --arch sm_80,sm_90a --out kernels/\n"
    "  ATTNCC_BUNDLE_DIR=kernels/ attncc run specs/causal.json --backend cuda --inputs in.safetensors\n",
    {{"arch", "LIST", "comma-separated architectures (default sm_80,sm_90a)"},
     {"out", "DIR", "write the bundle to DIR (created if missing)"},
     {"fail-on-spills", "", "exit with code 1 when an entry point spills"},
     {"wgmma", "", "sm_90a: forward and backward through warpgroup MMAs (experimental)"}},
    1,
    -1,
};

namespace {

std::vector<CudaTarget> parse_targets(const std::string& list) {
  std::vector<CudaTarget> targets;
  size_t begin = 0;
  while (begin <= list.size()) {
    size_t end = list.find(',', begin);
    if (end == std::string::npos) end = list.size();
    if (end > begin) targets.push_back(parse_cuda_target(list.substr(begin, end - begin)));
    begin = end + 1;
  }
  if (targets.empty()) {
    throw user_error(ErrorCode::kInvalidArgument, "--arch", "lists no architecture",
                     "pass e.g. --arch sm_80,sm_90a");
  }
  return targets;
}

}  // namespace

int run_compile(const ParsedArguments& arguments) {
  const std::vector<CudaTarget> targets = parse_targets(arguments.value("arch").value_or("sm_80,sm_90a"));
  // Every spec is loaded (and rejected) before anything compiles or is written.
  std::vector<Spec> specs;
  for (const std::string& path : arguments.positionals) specs.push_back(Spec::load(path));
  std::printf("NVRTC %s\n", nvrtc_version().c_str());

  std::vector<CudaBundleEntry> entries;
  int spilling = 0;
  for (size_t index = 0; index < specs.size(); ++index) {
    const Spec& spec = specs[index];
    for (const CudaTarget& target : targets) {
      const CudaLoweringOptions lowering =
          cuda_lowering_options(spec, requested_warpgroup_forward(arguments.has("wgmma")),
                                target.name == "sm_90a");
      const std::string source = lower_to_cuda(spec, build_interval_form(spec.mask), lowering);
      CudaCompileTime time;
      CudaBinary binary = compile_cuda_binary(spec, target, &time, lowering);
      // Which kernels use wgmma, e.g. " (wgmma forward, serial, backward)".
      std::string wgmma;
      if (lowering.warpgroup_mma_forward) {
        wgmma = std::string(" (wgmma forward") + (lowering.warpgroup_overlap ? "" : ", serial") +
                (lowering.warpgroup_mma_backward && spec.backward ? ", backward" : "") + ")";
      }
      std::printf("%s %s %s%s: %s in %.2f s (%.2f s CPU)\n", arguments.positionals[index].c_str(),
                  spec_hash(spec).c_str(), target.name.c_str(), wgmma.c_str(),
                  binary.is_cubin ? "CUBIN" : "PTX", time.seconds, time.cpu_seconds);
      for (const PtxasKernelReport& report : binary.reports) {
        std::printf("  %s\n", describe_ptxas_report(report, dynamic_shared_bytes(report.function, spec, lowering)).c_str());
        if (report.spills()) ++spilling;
      }
      entries.push_back({spec, source, std::move(binary), time.seconds});
    }
  }
  if (arguments.has("out")) {
    write_cuda_bundle(*arguments.value("out"), entries);
    std::printf("wrote %zu kernels and manifest.json to %s\n", entries.size(),
                arguments.value("out")->c_str());
  }
  std::printf("%d entry points spill\n", spilling);
  if (spilling > 0 && arguments.has("fail-on-spills")) {
    std::fprintf(stderr, "attncc compile: error: %d entry points spill registers (see above)\n", spilling);
    return 1;
  }
  return 0;
}

}  // namespace attncc::cli
