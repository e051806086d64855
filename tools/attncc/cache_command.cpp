// `attncc cache ls | stats | clear | verify`: look into and repair the kernel disk cache
// (DESIGN §5) through DiskCache, the same code the runtime uses.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "attncc/error.h"
#include "attncc/spec.h"
#include "compiler/spec/json_location.h"
#include "runtime/cache/disk_cache.h"
#include "tools/attncc/commands.h"

namespace attncc::cli {

const CommandInfo kCacheCommand = {
    "cache",
    "attncc cache ls|stats|clear|verify [--cache-dir DIR] [--json]",
    "List, total, clear or verify the compiled-kernel disk cache.",
    "actions:\n"
    "  ls      one line per entry: file, size, backend, spec hash, time since last use, and the\n"
    "          spec's layout, dtype, head dim and mask (read from the entry's key)\n"
    "  stats   number of entries and bytes, per backend; entries whose header is unreadable\n"
    "  clear   remove every entry (and temporary files of writers that died); prints the count\n"
    "  verify  read every entry whole and check its header, key and checksum as a kernel load\n"
    "          does; bad entries (truncated, corrupt, other format version, unreadable) are\n"
    "          removed and listed, and the runtime rebuilds them on next use\n\n"
    "The directory is --cache-dir, else $ATTNCC_CACHE_DIR, else $XDG_CACHE_HOME/attncc, else\n"
    "~/.cache/attncc. Processes may use the cache meanwhile: entries are replaced atomically.\n"
    "verify keeps each entry's time of last use, so it does not change what is evicted first.\n\n"
    "examples:\n"
    "  attncc cache ls\n"
    "  attncc cache stats --json\n"
    "  attncc cache verify --cache-dir /shared/attncc-cache\n"
    "  ATTNCC_CACHE_DIR=/tmp/kernels attncc cache clear\n",
    {{"cache-dir", "DIR", "the cache directory (default: $ATTNCC_CACHE_DIR or ~/.cache/attncc)"},
     {"json", "", "ls and stats: print JSON instead of text"}},
    1,
    1,
};

namespace {

namespace fs = std::filesystem;

// What the CLI can tell about one entry from its file and its key (a JSON object written by the
// backend, e.g. runtime/cpu/cpu_kernel.cpp's cpu_cache_key).
struct EntryInfo {
  DiskCache::Entry entry;
  std::string backend = "?";
  std::string spec_hash;    ///< of the canonical spec text in the key; "" if none
  std::string description;  ///< layout, dtype, head dim, mask
  double idle_seconds = 0;  ///< since the last store or load (the entry's mtime)
};

EntryInfo describe_entry(const DiskCache::Entry& entry, std::time_t now) {
  EntryInfo info{entry, "?", "", "", 0};
  struct stat status {};
  if (::stat(entry.file.c_str(), &status) == 0) {
    info.idle_seconds = std::max(0.0, std::difftime(now, status.st_mtime));
  }
  if (entry.key.empty()) {
    info.description = "unreadable header (not an attncc cache entry of this version)";
    return info;
  }
  nlohmann::json key = nlohmann::json::parse(entry.key, nullptr, /*allow_exceptions=*/false);
  if (!key.is_object()) {
    info.description = "key is not a JSON object";
    return info;
  }
  if (key.contains("backend") && key["backend"].is_string()) info.backend = key["backend"];
  if (!key.contains("spec") || !key["spec"].is_string()) {
    info.description = "key names no spec";
    return info;
  }
  const std::string spec_text = key["spec"];
  info.spec_hash = hash128_hex(spec_text);
  nlohmann::json spec = nlohmann::json::parse(spec_text, nullptr, false);
  if (spec.is_object()) {
    auto field = [&](const char* name) {
      return spec.contains(name) ? (spec[name].is_string() ? spec[name].get<std::string>()
                                                           : spec[name].dump())
                                 : std::string("?");
    };
    info.description = field("layout") + " " + field("dtype") + " d" + field("head_dim") + " " +
                       field("mask");
  }
  return info;
}

std::string human_bytes(int64_t bytes) {
  char text[32];
  if (bytes < 1024) {
    std::snprintf(text, sizeof text, "%lld B", static_cast<long long>(bytes));
  } else if (bytes < 1024 * 1024) {
    std::snprintf(text, sizeof text, "%.1f KiB", bytes / 1024.0);
  } else {
    std::snprintf(text, sizeof text, "%.1f MiB", bytes / (1024.0 * 1024.0));
  }
  return text;
}

std::string human_age(double seconds) {
  char text[32];
  if (seconds < 120) {
    std::snprintf(text, sizeof text, "%.0fs", seconds);
  } else if (seconds < 2 * 3600) {
    std::snprintf(text, sizeof text, "%.0fm", seconds / 60);
  } else if (seconds < 2 * 86400) {
    std::snprintf(text, sizeof text, "%.0fh", seconds / 3600);
  } else {
    std::snprintf(text, sizeof text, "%.0fd", seconds / 86400);
  }
  return text;
}

std::string file_name(const std::string& path) { return fs::path(path).filename().string(); }

int list_entries(DiskCache& cache, bool as_json) {
  std::time_t now = std::time(nullptr);
  std::vector<EntryInfo> entries;
  for (const DiskCache::Entry& entry : cache.list()) entries.push_back(describe_entry(entry, now));
  if (as_json) {
    nlohmann::json out = {{"directory", cache.directory()}, {"entries", nlohmann::json::array()}};
    for (const EntryInfo& info : entries) {
      out["entries"].push_back({{"file", file_name(info.entry.file)},
                                {"bytes", info.entry.bytes},
                                {"backend", info.backend},
                                {"spec_hash", info.spec_hash},
                                {"idle_seconds", info.idle_seconds},
                                {"spec", info.description}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("cache %s: %zu entr%s\n", cache.directory().c_str(), entries.size(),
              entries.size() == 1 ? "y" : "ies");
  if (entries.empty()) return 0;
  std::printf("%-39s %10s  %-8s %-32s %6s  %s\n", "FILE", "SIZE", "BACKEND", "SPEC HASH",
              "USED", "SPEC");
  for (const EntryInfo& info : entries) {
    std::printf("%-39s %10s  %-8s %-32s %6s  %s\n", file_name(info.entry.file).c_str(),
                human_bytes(info.entry.bytes).c_str(), info.backend.c_str(),
                info.spec_hash.empty() ? "-" : info.spec_hash.c_str(),
                human_age(info.idle_seconds).c_str(), info.description.c_str());
  }
  return 0;
}

int print_stats(DiskCache& cache, bool as_json) {
  std::time_t now = std::time(nullptr);
  int64_t count = 0, bytes = 0, unreadable = 0;
  std::map<std::string, std::pair<int64_t, int64_t>> per_backend;  // entries, bytes
  std::optional<double> newest, oldest;                             // idle seconds
  for (const DiskCache::Entry& entry : cache.list()) {
    EntryInfo info = describe_entry(entry, now);
    ++count;
    bytes += entry.bytes;
    if (entry.key.empty()) ++unreadable;
    auto& [backend_count, backend_bytes] = per_backend[info.backend];
    ++backend_count;
    backend_bytes += entry.bytes;
    newest = std::min(newest.value_or(info.idle_seconds), info.idle_seconds);
    oldest = std::max(oldest.value_or(info.idle_seconds), info.idle_seconds);
  }
  if (as_json) {
    nlohmann::json out = {{"directory", cache.directory()}, {"entries", count},
                          {"bytes", bytes}, {"unreadable", unreadable},
                          {"backends", nlohmann::json::object()}};
    for (const auto& [backend, totals] : per_backend) {
      out["backends"][backend] = {{"entries", totals.first}, {"bytes", totals.second}};
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("cache %s\n", cache.directory().c_str());
  std::printf("  entries     %lld (%s)\n", static_cast<long long>(count),
              human_bytes(bytes).c_str());
  for (const auto& [backend, totals] : per_backend) {
    std::printf("  %-11s %lld (%s)\n", backend.c_str(), static_cast<long long>(totals.first),
                human_bytes(totals.second).c_str());
  }
  if (unreadable > 0) {
    std::printf("  unreadable  %lld ('attncc cache verify' removes them)\n",
                static_cast<long long>(unreadable));
  }
  if (count > 0) {
    std::printf("  last use    newest %s ago, oldest %s ago\n", human_age(*newest).c_str(),
                human_age(*oldest).c_str());
  }
  return 0;
}

// The reason inside a DiskCache warning about `path`: "... entry PATH (REASON); the kernel ...".
std::string reason_in(const std::string& warning, const std::string& path) {
  size_t begin = warning.find(path + " (");
  size_t end = warning.rfind("); the kernel");
  if (begin == std::string::npos || end == std::string::npos || end < begin) return warning;
  begin += path.size() + 2;
  return warning.substr(begin, end - begin);
}

int verify_entries(DiskCache& cache) {
  if (!cache.enabled()) {  // the directory exists (run_cache checked) but is not writable
    throw user_error(ErrorCode::kIo, "attncc cache verify",
                     "cannot verify " + cache.directory() +
                         ": the directory is not writable, so bad entries could not be removed",
                     "run it as a user who can write to the directory");
  }
  int64_t good = 0;
  std::vector<std::pair<std::string, std::string>> bad;  // file, reason
  for (const DiskCache::Entry& entry : cache.list()) {
    const std::string expected_name = hash128_hex(entry.key) + ".kernel";
    if (entry.key.empty() || file_name(entry.file) != expected_name) {
      // A load never reaches this file (its name is not its key's): remove it here.
      std::string reason = entry.key.empty() ? "unreadable header: truncated, not an attncc "
                                               "cache entry, or another format version"
                                             : "file name does not match its key";
      std::error_code error;
      fs::remove(entry.file, error);
      bad.emplace_back(entry.file, error ? reason + "; cannot remove: " + error.message() : reason);
      continue;
    }
    // A load reads the whole entry and checks it; it refreshes the time of last use, which is
    // put back so that verify does not reorder eviction.
    struct stat before {};
    bool have_times = ::stat(entry.file.c_str(), &before) == 0;
    std::optional<std::string> payload = cache.load(entry.key);
    if (payload) {
      if (have_times) {
        struct timespec times[2] = {before.st_atim, before.st_mtim};
        (void)::utimensat(AT_FDCWD, entry.file.c_str(), times, 0);
      }
      ++good;
      continue;
    }
    std::string reason = "bad entry";
    for (const std::string& warning : cache.take_warnings()) {
      std::fprintf(stderr, "%s\n", warning.c_str());
      reason = reason_in(warning, entry.file);
    }
    bad.emplace_back(entry.file, reason);
  }
  for (const auto& [file, reason] : bad) {
    std::printf("removed %s: %s\n", file_name(file).c_str(), reason.c_str());
  }
  std::printf("verified %lld entr%s in %s: %lld good, %zu bad (removed)\n",
              static_cast<long long>(good + static_cast<int64_t>(bad.size())),
              good + bad.size() == 1 ? "y" : "ies", cache.directory().c_str(),
              static_cast<long long>(good), bad.size());
  return 0;
}

}  // namespace

int run_cache(const ParsedArguments& arguments) {
  const std::string& action = arguments.positionals[0];
  const char* actions[] = {"ls", "stats", "clear", "verify"};
  if (std::find(std::begin(actions), std::end(actions), action) == std::end(actions)) {
    std::string hint;
    for (const char* known : actions) {
      if (edit_distance(action, known) <= 2) hint = "did you mean '" + std::string(known) + "'?; ";
    }
    throw user_error(ErrorCode::kInvalidArgument, "attncc cache", "unknown action '" + action + "'",
                     hint + "actions are ls, stats, clear and verify");
  }
  const bool as_json = arguments.has("json");
  if (as_json && action != "ls" && action != "stats") {
    throw user_error(ErrorCode::kInvalidArgument, "attncc cache " + action,
                     "--json applies to ls and stats only");
  }
  std::string directory = arguments.value("cache-dir").value_or(default_cache_directory());
  if (directory.empty()) {
    throw user_error(ErrorCode::kInvalidArgument, "attncc cache",
                     "no cache directory: none of ATTNCC_CACHE_DIR, XDG_CACHE_HOME, HOME is set",
                     "pass --cache-dir DIR");
  }
  // DiskCache creates a missing directory; looking into a cache should not.
  std::error_code error;
  if (!fs::exists(directory, error)) {
    if (action == "ls" || action == "stats") {
      if (as_json) {
        nlohmann::json out = {{"directory", directory}};
        if (action == "ls") {
          out["entries"] = nlohmann::json::array();
        } else {
          out.update({{"entries", 0}, {"bytes", 0}, {"unreadable", 0},
                      {"backends", nlohmann::json::object()}});
        }
        std::printf("%s\n", out.dump(2).c_str());
      } else {
        std::printf("cache %s: 0 entries (the directory does not exist yet)\n", directory.c_str());
      }
    } else {
      std::printf("%s 0 entries in %s (the directory does not exist yet)\n",
                  action == "clear" ? "removed" : "verified", directory.c_str());
    }
    return 0;
  }
  if (!fs::is_directory(directory, error)) {
    throw user_error(ErrorCode::kInvalidArgument, "attncc cache",
                     directory + " is not a directory", "pass --cache-dir with the cache directory");
  }
  DiskCacheOptions options;
  options.directory = directory;
  DiskCache cache(options);
  if (action == "ls") return list_entries(cache, as_json);
  if (action == "stats") return print_stats(cache, as_json);
  if (action == "clear") {
    int64_t removed = cache.clear();
    std::printf("removed %lld entr%s from %s\n", static_cast<long long>(removed),
                removed == 1 ? "y" : "ies", cache.directory().c_str());
    return 0;
  }
  return verify_entries(cache);
}

}  // namespace attncc::cli
