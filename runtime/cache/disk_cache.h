// DiskCache: the on-disk store of compiled kernels (DESIGN §5): one checksummed file per cache
// key, written atomically, evicted least-recently-used; disk trouble degrades to memory-only.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace attncc {

struct DiskCacheOptions {
  /// Cache directory; empty = default_cache_directory(). Created (with parents) if missing.
  std::string directory;
  /// Bound on the total size of the entries; least-recently-used entries are evicted above it.
  int64_t max_bytes = int64_t{1} << 30;
  /// Test only: simulates a full disk. Writes fail with ENOSPC once this instance has written
  /// this many bytes of entry files in total. Negative = off, unless the environment sets
  /// ATTNCC_CACHE_FAIL_WRITES_AFTER_BYTES (so runtime and CLI tests can reach it too).
  int64_t fail_writes_after_bytes = -1;
};

/// The default cache directory: $ATTNCC_CACHE_DIR, else $XDG_CACHE_HOME/attncc (absolute paths
/// only, as the XDG spec asks), else $HOME/.cache/attncc; "" when none is set. Empty variables
/// count as unset.
std::string default_cache_directory();

/// Stores payloads (compiled kernels) under arbitrary string keys in one directory. Thread-safe;
/// several processes may share a directory (see disk_cache.cpp for why no locks are needed).
/// Never throws from load/store: every disk problem becomes a warning (take_warnings) and either
/// a cache miss (bad entry) or a disabled, memory-only cache (unusable directory, failed write).
class DiskCache {
 public:
  /// Opens (creates) the directory. Never throws: an unusable directory disables the cache with
  /// one warning naming the directory, the reason and the fix.
  explicit DiskCache(DiskCacheOptions options = {});

  /// The payload stored under `key`, or nullopt. A missing entry is a silent miss; an unreadable,
  /// truncated, corrupt, wrong-magic, wrong-version or other-key (hash collision) entry is
  /// removed, reported once as a warning, and is a miss. A hit refreshes the entry's recency.
  std::optional<std::string> load(std::string_view key);

  /// Stores `payload` under `key` atomically (temporary file, fsync, rename), then evicts
  /// least-recently-used entries until the total is <= max_bytes. A failed write leaves no
  /// partial entry, disables the cache with one warning, and does not throw. An entry larger than
  /// max_bytes on its own is not stored (one warning).
  void store(std::string_view key, std::string_view payload);

  /// False once the directory proved unusable or a write failed: load and store do nothing.
  bool enabled() const { return enabled_.load(); }

  /// The directory in use ("" if no default could be found).
  const std::string& directory() const { return directory_; }

  /// Warnings since the last call, each a full line `attncc: warning: ...` (no newline). The
  /// runtime prints them to stderr; tests inspect them.
  std::vector<std::string> take_warnings();

  /// One entry file, for `attncc cache ls`.
  struct Entry {
    std::string file;  ///< full path
    int64_t bytes = 0;  ///< file size
    std::string key;   ///< stored key; "" when the header is unreadable
  };

  /// The entry files in the directory, sorted by file name. Reads headers only; removes nothing.
  std::vector<Entry> list();

  /// Removes every entry (and temporary files of dead writers); returns how many entries were
  /// removed.
  /// Works on a disabled cache too (clearing a full disk is a reason to call it).
  int64_t clear();

 private:
  std::optional<std::string> load_entry(std::string_view key);
  bool write_entry(std::string_view key, std::string_view payload, std::string& error);
  void remove_bad_entry(const std::string& path, std::string_view reason, int fd);
  void evict();
  void disable(const std::string& warning);
  void warn(std::string warning);

  std::string directory_;
  int64_t max_bytes_;
  int64_t fail_writes_after_bytes_;
  std::atomic<int64_t> bytes_written_{0};  // for fail_writes_after_bytes
  std::atomic<bool> enabled_{false};
  bool warned_oversized_ = false;  // guarded by mutex_

  std::mutex mutex_;  // guards the warning list, the reported set and eviction
  std::vector<std::string> warnings_;
  std::set<std::string> reported_;  // bad entries already warned about (if removal fails)
};

}  // namespace attncc
