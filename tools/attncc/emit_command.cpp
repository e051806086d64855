// `attncc emit SPEC --target cpu|cuda`: the generated kernel source of a spec (what the JIT or
// NVRTC compiles),
// printed or written to a file, for reading, diffing between commits, and bug reports.
#include <cstdio>
#include <fstream>

#include "attncc/interval_form.h"
#include "attncc/spec.h"
#include "compiler/emit/lower_to_cpu.h"
#include "compiler/emit/lower_to_cuda.h"
#include "compiler/spec/json_location.h"
#include "runtime/environment.h"
#include "tools/attncc/commands.h"

namespace attncc::cli {

const CommandInfo kEmitCommand = {
    "emit",
    "attncc emit SPEC [--target cpu|cuda] [--out FILE] [--wgmma]",
    "Print the generated kernel source of a spec (the translation unit the JIT compiles).",
    "The CPU target gives the C++ translation unit that the CPU backend compiles with Clang:\n"
    "the generated Config and Mask (from the spec's canonical mask and its interval form) and\n"
    "the entry points named after the spec hash, instantiating templates/cpu/. It includes the\n"
    "embedded templates by name, so it is for reading and diffing, not for a standalone build.\n"
    "The CUDA target gives the translation unit that NVRTC compiles (and the cuda-emulated\n"
    "backend compiles as host C++): Config with the tile shapes, the same Mask with every\n"
    "function marked ATTNCC_HOST_DEVICE, and ATTNCC_CUDA_ENTRY_POINTS naming one kernel per\n"
    "pass after the spec hash, instantiating templates/cuda/. fp32 specs are not supported there.\n"
    "With --wgmma the CUDA source is the one for sm_90a with the experimental warpgroup-MMA\n"
    "forward (Config::kForwardWgmma, 8 warps, two K/V stages: kForwardKeyStages) and backward\n"
    "key/value and query kernels (Config::kBackwardWgmma, 64 x 128 and 128 x 64 tiles); head\n"
    "dims 64 and 128 only (the backward with softcap at 64 only), else unchanged.\n"
    "ATTNCC_CUDA_WGMMA=serial gives the forward's one-stage schedule.\n\n"
    "examples:\n"
    "  attncc emit specs/causal.json\n"
    "  attncc emit specs/prefix_lm_docs.json --target cpu --out prefix_lm_docs.cpp\n"
    "  attncc emit specs/doc_packed_causal.json --target cuda --out doc_packed_causal.cu\n",
    {{"target", "TARGET", "cpu (default) or cuda"},
     {"out", "FILE", "write the source to FILE instead of standard output"},
     {"wgmma", "", "cuda: the sm_90a source with the warpgroup-MMA kernels (experimental)"}},
    1,
    1,
};

int run_emit(const ParsedArguments& arguments) {
  const std::string target = arguments.value("target").value_or("cpu");
  if (target != "cpu" && target != "cuda") {
    std::string hint = edit_distance(target, "cpu") <= 2    ? "did you mean 'cpu'? "
                       : edit_distance(target, "cuda") <= 2 ? "did you mean 'cuda'? "
                                                            : "";
    throw user_error(ErrorCode::kInvalidArgument, "--target",
                     "unknown target '" + target + "'", hint + "targets are cpu and cuda");
  }
  // Load before touching --out, so a bad spec leaves no empty output file behind.
  Spec spec = Spec::load(arguments.positionals[0]);
  const IntervalForm form = build_interval_form(spec.mask);
  if (arguments.has("wgmma") && target != "cuda") {
    throw user_error(ErrorCode::kInvalidArgument, "--wgmma", "applies to --target cuda only",
                     "add --target cuda");
  }
  std::string source =
      target == "cuda"
          ? lower_to_cuda(spec, form,
                          cuda_lowering_options(
                              spec, requested_warpgroup_forward(arguments.has("wgmma")), true))
          : lower_to_cpu(spec, form);
  if (!arguments.has("out")) {
    std::fputs(source.c_str(), stdout);
    return 0;
  }
  const std::string path = *arguments.value("out");
  std::ofstream out(path, std::ios::binary);
  out << source;
  out.close();
  if (!out) {
    throw user_error(ErrorCode::kIo, path, "cannot write the generated source",
                     "check that the directory exists and is writable");
  }
  return 0;
}

}  // namespace attncc::cli
