// Shared-memory bank conflicts of the emulated kernels: the cost model of one warp-wide shared
// access (how many wavefronts the 32 banks need for it) and a recorder that sums it per kernel
// and source line. The emulator feeds it when recording is on (record_shared_banks), so the
// swizzles that tile_copy.cuh claims conflict-free are checked without a GPU. See
// docs/EMULATION.md, "Shared-memory banks".
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>

namespace attncc::emulation {

/// What a warp-wide shared access is; it decides how the hardware splits the warp into phases
/// (each phase serves at most 128 bytes, one word per bank).
enum class SharedAccessKind : uint8_t {
  kLoad32,      ///< ld.shared.b32: one phase of 32 lanes
  kStore32,     ///< st.shared.b32
  kStore128,    ///< st.shared.v4.b32: four phases of 8 lanes
  kCopy4,       ///< cp.async.ca 4 bytes, the shared write side
  kCopy16,      ///< cp.async.cg 16 bytes, the shared write side: four phases of 8 lanes
  kLdmatrix,    ///< ldmatrix (either orientation): one phase per 8x8 matrix, its 8 row addresses
};

const char* shared_access_name(SharedAccessKind kind);

/// Bytes each lane moves with `kind` (ldmatrix: one 16-byte row per lane).
unsigned shared_access_bytes(SharedAccessKind kind);

/// One lane's part of a warp-wide access: its lane and shared byte offset.
struct LaneAccess {
  int lane = 0;
  unsigned offset = 0;
};

/// The wavefronts one warp instruction takes and the fewest it could take.
struct WavefrontCount {
  uint64_t wavefronts = 0;
  uint64_t ideal = 0;
};

/// Cost of one warp instruction of `kind` whose participating lanes are `lanes` (each lane at
/// most once, in any order). Lanes are grouped into phases (32-bit: the warp; 128-bit and
/// ldmatrix: groups of 8 lanes, lane / 8); a phase takes as many wavefronts as the most distinct
/// 4-byte words any one bank (word index mod 32) must deliver (the same word to several lanes
/// is a broadcast, one access). Ideal: one wavefront per phase that has a lane.
WavefrontCount count_wavefronts(SharedAccessKind kind, std::span<const LaneAccess> lanes);

/// Where a cost was spent: kernel entry point, the template file and line that issued the
/// access (the caller of ptx.h's function), and what kind of access.
struct SharedAccessSite {
  std::string kernel;
  std::string file;
  int line = 0;
  SharedAccessKind kind = SharedAccessKind::kLoad32;

  auto operator<=>(const SharedAccessSite&) const = default;
};

struct SharedAccessCost {
  uint64_t instructions = 0;  ///< warp instructions
  uint64_t wavefronts = 0;
  uint64_t ideal = 0;

  /// wavefronts / ideal (1 means conflict-free); 1 when nothing was counted.
  double ratio() const { return ideal == 0 ? 1.0 : double(wavefronts) / double(ideal); }
};

/// Sums of the costs per site over every launch while it records. Thread-safe: blocks of a
/// launch run on several threads and merge into it.
class SharedBankRecorder {
 public:
  void add(const std::map<SharedAccessSite, SharedAccessCost>& costs);
  std::map<SharedAccessSite, SharedAccessCost> costs() const;
  void clear();

 private:
  mutable std::mutex mutex_;
  std::map<SharedAccessSite, SharedAccessCost> costs_;
};

/// Launches that start after this call record into `recorder` (nullptr: stop recording). The
/// recorder must outlive those launches. Recording costs emulation time, so it is off unless a
/// test or tool asks.
void record_shared_banks(SharedBankRecorder* recorder);

/// The recorder launches starting now use (nullptr when off).
SharedBankRecorder* shared_bank_recorder();

/// A table of the costs, one row per site, sorted by kernel, file and line.
std::string format_shared_bank_costs(const std::map<SharedAccessSite, SharedAccessCost>& costs);

}  // namespace attncc::emulation
