// Lowering to the CPU backend (see lower_to_cpu.h): everything spec-specific becomes constants
// and small inline functions in the prelude; the templates hold all the logic.
#include "compiler/emit/lower_to_cpu.h"

#include "compiler/emit/mask_struct.h"

namespace attncc {

std::string cpu_entry_prefix(const Spec& spec) { return "attncc_" + spec_hash(spec); }

std::string lower_to_cpu(const Spec& spec, const IntervalForm& form, CpuTiles tiles) {
  std::string text;
  text += generated_banner(spec, form, "CPU");
  text += "#include \"cpu/attention_cpu.h\"\n\nnamespace attncc_generated {\n";
  text += "using attncc::DocumentView;\nusing attncc::kernel_int;\n\n";
  text += "struct Config {\n";
  text += "  using Element = " + element_type_name(spec.dtype) + ";\n";
  text += "  static constexpr int kHeadDim = " + std::to_string(spec.head_dim) + ";\n";
  text += "  static constexpr int kHeadDimV = " + std::to_string(spec.head_dim_v) + ";\n";
  text += "  static constexpr int kTileQ = " + std::to_string(tiles.query) + ";\n";
  text += "  static constexpr int kTileK = " + std::to_string(tiles.key) + ";\n";
  text += std::string("  static constexpr bool kSoftcap = ") + (spec.softcap > 0 ? "true" : "false") + ";\n";
  text += std::string("  static constexpr bool kAlibi = ") + (spec.alibi ? "true" : "false") + ";\n";
  text += "};\n\n";
  text += emit_mask_struct(spec, form, /*host_device=*/false);
  text += "\n}  // namespace attncc_generated\n\n";
  text += "ATTNCC_CPU_ENTRY_POINTS(" + cpu_entry_prefix(spec) +
          ", attncc_generated::Config, attncc_generated::Mask)\n";
  return text;
}

}  // namespace attncc
