// The ptxas resource report of a CUDA compile (`-Xptxas -v` in the NVRTC log): registers,
// spills, stack and static shared memory per entry point. Kept with each compiled kernel (disk
// cache, `attncc compile` bundles) so the 0-spill rule can be checked without a GPU.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace attncc {

/// What ptxas reported for one entry function.
struct PtxasKernelReport {
  std::string function;          ///< entry point name, e.g. attncc_<hash>_forward
  std::string arch;              ///< as ptxas names it, e.g. sm_90a
  int registers = 0;             ///< per thread
  int barriers = 0;
  int spill_store_bytes = 0;
  int spill_load_bytes = 0;
  int stack_frame_bytes = 0;
  int static_shared_bytes = 0;   ///< `__shared__` arrays; the dynamic part is launch_shape.h's
  double ptxas_milliseconds = 0; ///< ptxas's own "Compile time" for this function (0 if absent)
  /// ptxas's numbered notes naming this function ("(C7515) Potential Performance Loss: wgmma...
  /// serialized ..."), the text after the code: how a kernel learns, without a GPU, that
  /// ptxas had to serialise or fence its warpgroup MMAs.
  std::vector<std::string> notes;

  bool spills() const { return spill_store_bytes != 0 || spill_load_bytes != 0; }
};

/// Parses every "Compiling entry function" block of a ptxas -v log (NVRTC program log). Lines
/// that are not part of the report (warnings, gmem totals) are ignored. Never throws.
std::vector<PtxasKernelReport> parse_ptxas_report(std::string_view log);

/// JSON array text of `reports` (the field names above), and back. `ptxas_report_from_json`
/// throws Error(kInternal) on text it did not write (a corrupted cache entry is caught earlier
/// by the cache's checksum).
std::string ptxas_report_to_json(const std::vector<PtxasKernelReport>& reports);
std::vector<PtxasKernelReport> ptxas_report_from_json(std::string_view text);

/// One line per kernel: "<function>: 96 registers, 0 B spill stores, 0 B spill loads, 0 B stack,
/// 0 B static shared (+ N B dynamic)" — the dynamic shared bytes come from the caller — and one
/// indented "ptxas: " line per note.
std::string describe_ptxas_report(const PtxasKernelReport& report, unsigned dynamic_shared_bytes);

}  // namespace attncc
