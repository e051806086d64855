// DiskCache (DESIGN §5): entry file format, atomic writes, validation on load, LRU eviction by
// mtime, and degrading to memory-only on any disk trouble; see disk_cache.h for the contract.
#include "runtime/cache/disk_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <system_error>
#include <tuple>
#include <utility>

#include "attncc/spec.h"
#include "runtime/environment.h"

namespace attncc {
namespace {

namespace fs = std::filesystem;

// Entry file: header, then key bytes, then payload. Integers are little-endian whatever the host,
// so a cache directory can be shared between machines. The checksum (XXH3-128, 32 hex digits)
// covers the first 24 header bytes, the key and the payload, i.e. everything but itself.
//   [0, 8)   magic "ATTNCCK1"
//   [8, 12)  format version (uint32)
//   [12, 16) key length (uint32)
//   [16, 24) payload length (uint64)
//   [24, 56) checksum
constexpr std::string_view kMagic = "ATTNCCK1";
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kFieldBytes = 24;
constexpr size_t kChecksumBytes = 32;
constexpr size_t kHeaderBytes = kFieldBytes + kChecksumBytes;
constexpr std::string_view kExtension = ".kernel";
// Temporary files are `<final name>.tmp-<pid>-<tid>-<counter>`: never listed as entries.
constexpr std::string_view kTempInfix = ".kernel.tmp-";
// A temporary file this old belongs to a writer that died; eviction removes it.
constexpr int64_t kStaleTempNs = int64_t{3600} * 1000 * 1000 * 1000;
constexpr int kTempNameAttempts = 16;

std::string errno_text(int error) { return std::system_category().message(error); }

void put_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t get_le(std::string_view in, size_t offset, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) {
    value |= uint64_t{static_cast<unsigned char>(in[offset + i])} << (8 * i);
  }
  return value;
}

struct Header {
  uint32_t key_length = 0;
  uint64_t payload_length = 0;
  std::string_view checksum;
};

// Parses the fixed header of `data`; returns why it is bad, or "" when it is good.
std::string parse_header(std::string_view data, Header& header) {
  if (data.size() < kHeaderBytes) {
    return "truncated: " + std::to_string(data.size()) + " bytes, shorter than the " +
           std::to_string(kHeaderBytes) + "-byte header";
  }
  if (data.substr(0, kMagic.size()) != kMagic) return "wrong magic, not an attncc cache entry";
  auto version = static_cast<uint32_t>(get_le(data, 8, 4));
  if (version != kFormatVersion) {
    return "format version " + std::to_string(version) + ", expected " +
           std::to_string(kFormatVersion);
  }
  header.key_length = static_cast<uint32_t>(get_le(data, 12, 4));
  header.payload_length = get_le(data, 16, 8);
  header.checksum = data.substr(kFieldBytes, kChecksumBytes);
  return "";
}

// Checks a whole entry file against `key`; returns why it is bad, or "" with `payload` set.
std::string check_entry(std::string_view data, std::string_view key, std::string& payload) {
  Header header;
  if (std::string reason = parse_header(data, header); !reason.empty()) return reason;
  uint64_t body = data.size() - kHeaderBytes;
  // Written as two comparisons so a corrupt payload length near 2^64 cannot overflow the sum.
  if (header.key_length > body || header.payload_length != body - header.key_length) {
    uint64_t expected = kHeaderBytes + header.key_length + header.payload_length;
    bool short_file = header.key_length > body || header.payload_length > body - header.key_length;
    return (short_file ? "truncated: " : "trailing bytes: ") + std::to_string(data.size()) +
           " bytes, the header says " + std::to_string(expected);
  }
  std::string covered;
  covered.reserve(kFieldBytes + body);
  covered.append(data.substr(0, kFieldBytes)).append(data.substr(kHeaderBytes));
  if (hash128_hex(covered) != header.checksum) return "checksum mismatch";
  if (data.substr(kHeaderBytes, header.key_length) != key) {
    return "holds another key (hash collision)";
  }
  payload.assign(data.substr(kHeaderBytes + header.key_length));
  return "";
}

// Closes a file descriptor on every path out of a scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  /// Closes now, so that the caller sees the error (close can report a failed write-back).
  int close() { return ::close(std::exchange(fd_, -1)); }

 private:
  int fd_;
};

// Reads up to `size` bytes; returns the bytes read (fewer at end of file) or sets `error`.
std::string read_up_to(int fd, size_t size, std::string& error) {
  std::string data(size, '\0');
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, data.data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = errno_text(errno);
      return {};
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  return data;
}

int64_t stat_mtime_ns(const struct stat& status) {
  return int64_t{status.st_mtim.tv_sec} * 1000000000 + status.st_mtim.tv_nsec;
}

int64_t now_ns() {
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return int64_t{now.tv_sec} * 1000000000 + now.tv_nsec;
}

// The mtime given to a stored or loaded entry: wall-clock now, but strictly increasing within the
// process, because the kernel stamps files from a coarse clock and entries written within one
// tick would otherwise tie and evict in an arbitrary order.
struct timespec next_recency_stamp() {
  static std::atomic<int64_t> last_ns{0};
  int64_t candidate = now_ns();
  int64_t previous = last_ns.load();
  int64_t stamp;
  do {
    stamp = std::max(candidate, previous + 1);
  } while (!last_ns.compare_exchange_weak(previous, stamp));
  return {static_cast<time_t>(stamp / 1000000000), static_cast<long>(stamp % 1000000000)};
}

// Sets the mtime only; the access time is left alone. Failure is harmless (recency is a hint).
void touch(int fd) {
  struct timespec times[2] = {{0, UTIME_OMIT}, next_recency_stamp()};
  (void)::futimens(fd, times);
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// A temporary file left by a writer that died. Younger ones are left alone: removing a live
// writer's file would make its rename fail and switch that process's cache off.
bool is_stale_temp(std::string_view name, const struct stat& status) {
  return name.find(kTempInfix) != std::string_view::npos &&
         now_ns() - stat_mtime_ns(status) > kStaleTempNs;
}

}  // namespace

std::string default_cache_directory() {
  if (std::string dir = environment_value("ATTNCC_CACHE_DIR"); !dir.empty()) return dir;
  // The XDG base directory spec says relative values are invalid and must be ignored.
  if (std::string xdg = environment_value("XDG_CACHE_HOME"); !xdg.empty() && xdg.front() == '/') {
    return (fs::path(xdg) / "attncc").string();
  }
  if (std::string home = environment_value("HOME"); !home.empty()) {
    return (fs::path(home) / ".cache" / "attncc").string();
  }
  return "";
}

DiskCache::DiskCache(DiskCacheOptions options)
    : directory_(options.directory.empty() ? default_cache_directory() : options.directory),
      max_bytes_(options.max_bytes),
      fail_writes_after_bytes_(options.fail_writes_after_bytes) {
  const char* memory_only =
      "; kernels are cached in memory only; set ATTNCC_CACHE_DIR to a writable directory";
  try {
    if (fail_writes_after_bytes_ < 0) {
      if (const char* limit = std::getenv("ATTNCC_CACHE_FAIL_WRITES_AFTER_BYTES")) {
        fail_writes_after_bytes_ = std::strtoll(limit, nullptr, 10);
      }
    }
    if (directory_.empty()) {
      warn(std::string("attncc: warning: no cache directory (none of ATTNCC_CACHE_DIR, "
                       "XDG_CACHE_HOME, HOME is set)") + memory_only);
      return;
    }
    std::error_code error;
    // Absolute, so that a later chdir by the application does not move the cache.
    if (fs::path absolute = fs::absolute(directory_, error); !error) directory_ = absolute.string();
    fs::create_directories(directory_, error);
    if (!error && !fs::is_directory(directory_, error) && !error) {
      error = std::make_error_code(std::errc::not_a_directory);
    }
    if (!error && ::access(directory_.c_str(), W_OK | X_OK) != 0) {
      error = std::error_code(errno, std::system_category());
    }
    if (error) {
      warn("attncc: warning: cache directory " + directory_ + " is not writable (" +
           error.message() + ")" + memory_only);
      return;
    }
    enabled_ = true;
  } catch (const std::exception& exception) {
    warn("attncc: warning: cache directory " + directory_ + " cannot be opened (" +
         exception.what() + ")" + memory_only);
  }
}

std::vector<std::string> DiskCache::take_warnings() {
  std::lock_guard lock(mutex_);
  return std::exchange(warnings_, {});
}

void DiskCache::warn(std::string warning) {
  std::lock_guard lock(mutex_);
  warnings_.push_back(std::move(warning));
}

void DiskCache::disable(const std::string& warning) {
  // Only the thread that switches the cache off reports it: one warning however many fail.
  if (enabled_.exchange(false)) warn(warning);
}

std::optional<std::string> DiskCache::load(std::string_view key) {
  if (!enabled()) return std::nullopt;
  try {
    return load_entry(key);
  } catch (const std::exception& exception) {  // e.g. bad_alloc for a huge entry: a miss
    warn(std::string("attncc: warning: disk cache lookup failed (") + exception.what() +
         "); the kernel will be rebuilt");
    return std::nullopt;
  }
}

std::optional<std::string> DiskCache::load_entry(std::string_view key) {
  std::string path = (fs::path(directory_) / (hash128_hex(key) + std::string(kExtension))).string();
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) {
    int error = errno;
    // Out of descriptors or memory says nothing about the entry: a miss, not a bad entry.
    bool process_trouble = error == EMFILE || error == ENFILE || error == ENOMEM ||
                           error == EINTR || error == EAGAIN;
    if (error != ENOENT && !process_trouble) {
      remove_bad_entry(path, "cannot be opened: " + errno_text(error), -1);
    }
    return std::nullopt;
  }
  struct stat status {};
  if (::fstat(file.get(), &status) != 0) {
    remove_bad_entry(path, "cannot be read: " + errno_text(errno), file.get());
    return std::nullopt;
  }
  if (!S_ISREG(status.st_mode)) {
    remove_bad_entry(path, "not a regular file", file.get());
    return std::nullopt;
  }
  std::string error;
  std::string data = read_up_to(file.get(), static_cast<size_t>(status.st_size), error);
  if (!error.empty()) {
    remove_bad_entry(path, "cannot be read: " + error, file.get());
    return std::nullopt;
  }
  std::string payload;
  if (std::string reason = check_entry(data, key, payload); !reason.empty()) {
    remove_bad_entry(path, reason, file.get());
    return std::nullopt;
  }
  touch(file.get());
  return payload;
}

void DiskCache::remove_bad_entry(const std::string& path, std::string_view reason, int fd) {
  // Remove only the file that was read: another process may have renamed a good entry over it
  // since, and deleting that one would cost a needless rebuild.
  bool same_file = true;
  struct stat read_status {}, current_status {};
  if (fd >= 0 && ::fstat(fd, &read_status) == 0) {
    same_file = ::stat(path.c_str(), &current_status) == 0 &&
                read_status.st_ino == current_status.st_ino &&
                read_status.st_dev == current_status.st_dev;
  }
  std::error_code error;
  if (same_file) fs::remove(path, error);
  std::lock_guard lock(mutex_);
  if (!error) {
    reported_.erase(path);  // a later corruption of a new entry here deserves its own warning
    warnings_.push_back("attncc: warning: removed bad cache entry " + path + " (" +
                        std::string(reason) + "); the kernel will be rebuilt");
    return;
  }
  // It stays on disk and every load will find it again: report it once only.
  if (!reported_.insert(path).second) return;
  warnings_.push_back("attncc: warning: bad cache entry " + path + " (" + std::string(reason) +
                      ") cannot be removed (" + error.message() +
                      "); the kernel will be rebuilt; delete the file by hand");
}

void DiskCache::store(std::string_view key, std::string_view payload) {
  if (!enabled()) return;
  std::string error;
  try {
    uint64_t entry_bytes = kHeaderBytes + key.size() + payload.size();
    if (entry_bytes > static_cast<uint64_t>(std::max<int64_t>(max_bytes_, 0))) {
      std::lock_guard lock(mutex_);
      if (!std::exchange(warned_oversized_, true)) {
        warnings_.push_back("attncc: warning: a kernel of " + std::to_string(entry_bytes) +
                            " bytes exceeds the disk cache bound of " +
                            std::to_string(max_bytes_) +
                            " bytes and is cached in memory only; raise disk_cache_max_bytes");
      }
      return;
    }
    if (write_entry(key, payload, error)) {
      evict();
      return;
    }
  } catch (const std::exception& exception) {
    error = exception.what();
  }
  disable("attncc: warning: cannot write to cache directory " + directory_ + " (" + error +
          "); kernels are cached in memory only from now on; free disk space or set "
          "ATTNCC_CACHE_DIR to a writable directory");
}

// Why no locks, across threads or processes: each writer fills its own temporary file (unique
// name: pid + thread id + counter, created with O_EXCL so even a pid reused in another container
// sharing the directory cannot clash), fsyncs it, and rename()s it over the final name. rename is
// atomic within a directory, so a reader opens either the old complete file or the new complete
// file, never a partial one; when several writers store one key the last rename wins, and they
// all wrote the same kernel. A reader that opened a file keeps reading it even if it is replaced
// or evicted meanwhile. File locks would add a failure mode (NFS, stale locks of dead processes)
// and buy nothing here.
bool DiskCache::write_entry(std::string_view key, std::string_view payload, std::string& error) {
  if (key.size() > UINT32_MAX) {
    error = "key of " + std::to_string(key.size()) + " bytes is too long";
    return false;
  }
  std::string path = (fs::path(directory_) / (hash128_hex(key) + std::string(kExtension))).string();
  std::string covered;  // header fields + key + payload: what the checksum covers
  covered.reserve(kFieldBytes + key.size() + payload.size());
  covered.append(kMagic);
  put_le(covered, kFormatVersion, 4);
  put_le(covered, key.size(), 4);
  put_le(covered, payload.size(), 8);
  covered.append(key).append(payload);
  std::string checksum = hash128_hex(covered);

  static std::atomic<uint64_t> counter{0};
  std::string temp;
  int fd = -1;
  for (int attempt = 0; attempt < kTempNameAttempts && fd < 0; ++attempt) {
    temp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(::gettid()) + "-" +
           std::to_string(counter++);
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    error = errno_text(errno);
    return false;
  }
  FileDescriptor file(fd);

  auto write_all = [&](std::string_view bytes) {
    for (size_t done = 0; done < bytes.size();) {
      size_t chunk = bytes.size() - done;
      if (fail_writes_after_bytes_ >= 0) {  // test hook: the disk fills up here
        int64_t left = fail_writes_after_bytes_ - bytes_written_.load();
        if (left <= 0) {
          error = errno_text(ENOSPC);
          return false;
        }
        chunk = std::min(chunk, static_cast<size_t>(left));
      }
      ssize_t n = ::write(file.get(), bytes.data() + done, chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        error = errno_text(errno);
        return false;
      }
      done += static_cast<size_t>(n);
      bytes_written_ += n;
    }
    return true;
  };
  // fsync before rename: otherwise a crash could leave the final name pointing at unwritten
  // blocks. The directory itself is not fsynced: losing a fresh rename in a crash is a miss.
  bool written = write_all(std::string_view(covered).substr(0, kFieldBytes)) &&
                 write_all(checksum) &&
                 write_all(std::string_view(covered).substr(kFieldBytes));
  if (written && ::fsync(file.get()) != 0) {
    error = errno_text(errno);
    written = false;
  }
  if (written) touch(file.get());  // rename keeps the mtime: this is the entry's recency
  if (file.close() != 0 && written) {
    error = errno_text(errno);
    written = false;
  }
  if (written && ::rename(temp.c_str(), path.c_str()) != 0) {
    error = errno_text(errno);
    written = false;
  }
  if (!written) ::unlink(temp.c_str());
  return written;
}

void DiskCache::evict() {
  // One evictor per process at a time. Evictors in other processes may race with this one; a
  // file someone else removed first is simply gone, so removal errors are ignored.
  std::lock_guard lock(mutex_);
  struct File {
    std::string path;
    int64_t bytes;
    int64_t mtime_ns;
  };
  std::vector<File> entries;
  int64_t total = 0;
  std::error_code error;
  // A full directory scan per store: stores follow compiles, which cost far more.
  for (fs::directory_iterator it(directory_, error), end; !error && it != end;
       it.increment(error)) {
    std::string path = it->path().string();
    std::string name = it->path().filename().string();
    struct stat status {};
    if (::lstat(path.c_str(), &status) != 0 || !S_ISREG(status.st_mode)) continue;
    if (ends_with(name, kExtension)) {
      entries.push_back({path, static_cast<int64_t>(status.st_size), stat_mtime_ns(status)});
      total += status.st_size;
    } else if (is_stale_temp(name, status)) {
      std::error_code ignored;
      fs::remove(path, ignored);
    }
  }
  if (total <= max_bytes_) return;
  std::sort(entries.begin(), entries.end(), [](const File& a, const File& b) {
    return std::tie(a.mtime_ns, a.path) < std::tie(b.mtime_ns, b.path);
  });
  for (const File& entry : entries) {
    if (total <= max_bytes_) break;
    std::error_code ignored;
    fs::remove(entry.path, ignored);
    total -= entry.bytes;
  }
}

std::vector<DiskCache::Entry> DiskCache::list() {
  std::vector<Entry> entries;
  if (directory_.empty()) return entries;
  try {
    std::error_code error;
    for (fs::directory_iterator it(directory_, error), end; !error && it != end;
         it.increment(error)) {
      std::string path = it->path().string();
      struct stat status {};
      if (!ends_with(path, kExtension) || ::lstat(path.c_str(), &status) != 0 ||
          !S_ISREG(status.st_mode)) {
        continue;
      }
      Entry entry{path, static_cast<int64_t>(status.st_size), ""};
      FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      std::string read_error;
      std::string header_bytes =
          file.get() < 0 ? std::string() : read_up_to(file.get(), kHeaderBytes, read_error);
      Header header;
      if (read_error.empty() && parse_header(header_bytes, header).empty() &&
          header.key_length <= status.st_size - static_cast<int64_t>(kHeaderBytes)) {
        std::string key = read_up_to(file.get(), header.key_length, read_error);
        if (read_error.empty() && key.size() == header.key_length) entry.key = std::move(key);
      }
      entries.push_back(std::move(entry));
    }
  } catch (const std::exception&) {
    // Listing is informational: show what was found before the failure.
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.file < b.file; });
  return entries;
}

int64_t DiskCache::clear() {
  if (directory_.empty()) return 0;
  std::lock_guard lock(mutex_);  // not while this process evicts
  int64_t removed = 0;
  try {
    std::vector<fs::path> doomed;  // collected first: removing while iterating is unspecified
    std::error_code error;
    for (fs::directory_iterator it(directory_, error), end; !error && it != end;
         it.increment(error)) {
      std::string name = it->path().filename().string();
      struct stat status {};
      if (ends_with(name, kExtension) ||
          (::lstat(it->path().c_str(), &status) == 0 && is_stale_temp(name, status))) {
        doomed.push_back(it->path());
      }
    }
    for (const fs::path& path : doomed) {
      std::error_code ignored;
      if (fs::remove(path, ignored) && ends_with(path.filename().string(), kExtension)) ++removed;
    }
  } catch (const std::exception&) {
    // Best effort: whatever could not be removed stays, and the count says how many went.
  }
  return removed;
}

}  // namespace attncc
