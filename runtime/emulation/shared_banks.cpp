// The shared-memory bank model and recorder (see shared_banks.h).
#include "runtime/emulation/shared_banks.h"

#include <algorithm>
#include <atomic>
#include <cstdio>

namespace attncc::emulation {
namespace {

constexpr int kBanks = 32;
constexpr unsigned kBankBytes = 4;

std::atomic<SharedBankRecorder*> g_recorder{nullptr};

// Lanes that share a phase: a phase moves at most 128 bytes, 32 banks x 4.
int lanes_per_phase(SharedAccessKind kind) {
  return int(128 / shared_access_bytes(kind));
}

}  // namespace

const char* shared_access_name(SharedAccessKind kind) {
  switch (kind) {
    case SharedAccessKind::kLoad32: return "ld.shared.b32";
    case SharedAccessKind::kStore32: return "st.shared.b32";
    case SharedAccessKind::kStore128: return "st.shared.v4";
    case SharedAccessKind::kCopy4: return "cp.async 4B";
    case SharedAccessKind::kCopy16: return "cp.async 16B";
    case SharedAccessKind::kLdmatrix: return "ldmatrix";
  }
  return "?";
}

unsigned shared_access_bytes(SharedAccessKind kind) {
  switch (kind) {
    case SharedAccessKind::kLoad32:
    case SharedAccessKind::kStore32:
    case SharedAccessKind::kCopy4: return 4;
    case SharedAccessKind::kStore128:
    case SharedAccessKind::kCopy16:
    case SharedAccessKind::kLdmatrix: return 16;
  }
  return 4;
}

WavefrontCount count_wavefronts(SharedAccessKind kind, std::span<const LaneAccess> lanes) {
  const int per_phase = lanes_per_phase(kind);
  const unsigned words_per_lane = shared_access_bytes(kind) / kBankBytes;
  WavefrontCount count;
  // At most 32 lanes x 4 words: fixed arrays, no allocation (this runs for every access).
  unsigned words[32 * 4];
  for (int phase = 0; phase * per_phase < 32; ++phase) {
    int used = 0;
    for (const LaneAccess& access : lanes) {
      if (access.lane / per_phase != phase) continue;
      for (unsigned word = 0; word < words_per_lane; ++word) {
        words[used++] = access.offset / kBankBytes + word;
      }
    }
    if (used == 0) continue;
    std::sort(words, words + used);
    const int distinct = int(std::unique(words, words + used) - words);
    int per_bank[kBanks] = {};
    int deepest = 0;
    for (int index = 0; index < distinct; ++index) {
      deepest = std::max(deepest, ++per_bank[words[index] % kBanks]);
    }
    count.wavefronts += uint64_t(deepest);
    count.ideal += 1;
  }
  return count;
}

void SharedBankRecorder::add(const std::map<SharedAccessSite, SharedAccessCost>& costs) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [site, cost] : costs) {
    SharedAccessCost& total = costs_[site];
    total.instructions += cost.instructions;
    total.wavefronts += cost.wavefronts;
    total.ideal += cost.ideal;
  }
}

std::map<SharedAccessSite, SharedAccessCost> SharedBankRecorder::costs() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return costs_;
}

void SharedBankRecorder::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  costs_.clear();
}

void record_shared_banks(SharedBankRecorder* recorder) { g_recorder.store(recorder); }

SharedBankRecorder* shared_bank_recorder() { return g_recorder.load(); }

namespace {

// "attncc_<32 hex digits>_forward" -> "forward": one spec's kernels differ only there.
std::string short_kernel_name(const std::string& name) {
  const std::string prefix = "attncc_";
  if (name.size() > prefix.size() + 33 && name.compare(0, prefix.size(), prefix) == 0 &&
      name[prefix.size() + 32] == '_') {
    return name.substr(prefix.size() + 33);
  }
  return name;
}

// The template's path from its "cuda/" directory on (the JIT's include root varies).
std::string short_file_name(const std::string& file) {
  const size_t at = file.rfind("cuda/");
  return at == std::string::npos ? file : file.substr(at);
}

}  // namespace

std::string format_shared_bank_costs(const std::map<SharedAccessSite, SharedAccessCost>& costs) {
  std::string text;
  char line[512];
  std::snprintf(line, sizeof line, "%-24s %-34s %-14s %12s %12s %7s\n", "kernel", "site",
                "access", "instructions", "wavefronts", "ratio");
  text += line;
  for (const auto& [site, cost] : costs) {
    const std::string where = short_file_name(site.file) + ":" + std::to_string(site.line);
    std::snprintf(line, sizeof line, "%-24s %-34s %-14s %12llu %12llu %7.2f\n",
                  short_kernel_name(site.kernel).c_str(), where.c_str(), shared_access_name(site.kind),
                  static_cast<unsigned long long>(cost.instructions),
                  static_cast<unsigned long long>(cost.wavefronts), cost.ratio());
    text += line;
  }
  return text;
}

}  // namespace attncc::emulation
