// DiskCache (runtime/cache/): round trips, every kind of bad entry, unusable directories, a full
// disk, LRU eviction, threads and processes sharing a directory, and the default directory.
#include "runtime/cache/disk_cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "attncc/spec.h"

namespace attncc {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kHeaderBytes = 56;  // the entry header, see disk_cache.cpp

// `size` random bytes, NULs and high bytes included, fixed by `seed`.
std::string random_bytes(size_t size, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::string bytes(size, '\0');
  for (char& byte : bytes) byte = static_cast<char>(engine() & 0xff);
  return bytes;
}

std::string read_file(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(stream), {});
}

void write_file(const fs::path& path, std::string_view bytes) {
  std::ofstream stream(path, std::ios::binary | std::ios::trunc);
  stream.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Every file name in `directory`, entries and temporary files alike.
std::vector<std::string> file_names(const fs::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

// Sets or unsets an environment variable for one scope, then restores it.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnvironment() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class DiskCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    directory_ = fs::temp_directory_path() /
                 ("attncc_disk_cache_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(directory_);
    fs::create_directories(directory_);
  }
  void TearDown() override {
    // Undo any chmod first, or remove_all cannot descend (for a non-root user).
    std::error_code ignored;
    for (auto it = fs::recursive_directory_iterator(directory_, ignored);
         !ignored && it != fs::recursive_directory_iterator(); it.increment(ignored)) {
      if (it->is_directory(ignored)) fs::permissions(it->path(), fs::perms::owner_all, ignored);
    }
    fs::remove_all(directory_, ignored);
  }

  DiskCacheOptions options(int64_t max_bytes = int64_t{1} << 30) const {
    DiskCacheOptions result;
    result.directory = directory_.string();
    result.max_bytes = max_bytes;
    return result;
  }

  fs::path entry_path(std::string_view key) const {
    return directory_ / (hash128_hex(key) + ".kernel");
  }

  // Stores `payload` under `key`, applies `damage` to the file, and checks that load reports it
  // once (mentioning the file and `reason`), removes it, and that the key then works again.
  void expect_bad_entry_recovers(const std::string& damage_name,
                                 const std::function<void(const fs::path&)>& damage,
                                 std::string_view reason) {
    SCOPED_TRACE(damage_name);
    DiskCache cache(options());
    std::string key = "spec|cpu|x86-64|v1";
    std::string payload = random_bytes(300, 7);
    cache.store(key, payload);
    ASSERT_TRUE(fs::exists(entry_path(key)));
    damage(entry_path(key));

    EXPECT_EQ(cache.load(key), std::nullopt);
    EXPECT_FALSE(fs::exists(entry_path(key)));
    std::vector<std::string> warnings = cache.take_warnings();
    ASSERT_EQ(warnings.size(), 1u) << joined(warnings);
    EXPECT_NE(warnings[0].find(entry_path(key).string()), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find(reason), std::string::npos) << warnings[0];
    EXPECT_EQ(warnings[0].rfind("attncc: warning: ", 0), 0u) << warnings[0];

    // Reported once: the next load is a plain miss; a rebuild stores and loads again.
    EXPECT_EQ(cache.load(key), std::nullopt);
    cache.store(key, payload);
    EXPECT_EQ(cache.load(key), payload);
    EXPECT_TRUE(cache.enabled());
    EXPECT_TRUE(cache.take_warnings().empty());
  }

  fs::path directory_;
};

TEST_F(DiskCacheTest, StoreThenLoadReturnsThePayloadOfEverySize) {
  DiskCache cache(options());
  ASSERT_TRUE(cache.enabled()) << joined(cache.take_warnings());
  std::vector<std::pair<std::string, std::string>> entries = {
      {"empty", ""},
      {"one byte", std::string(1, '\0')},
      {"one megabyte", random_bytes(1 << 20, 1)},
      {std::string("key\0with nul", 12), random_bytes(1000, 2)},
  };
  for (const auto& [key, payload] : entries) cache.store(key, payload);
  for (const auto& [key, payload] : entries) {
    std::optional<std::string> loaded = cache.load(key);
    ASSERT_TRUE(loaded.has_value()) << key;
    EXPECT_EQ(*loaded, payload) << key;
  }
  // A second instance on the same directory (as another process would be) sees them all.
  DiskCache other(options());
  for (const auto& [key, payload] : entries) EXPECT_EQ(other.load(key), payload) << key;
  EXPECT_EQ(cache.load("never stored"), std::nullopt);
  EXPECT_TRUE(cache.take_warnings().empty());
  EXPECT_TRUE(other.take_warnings().empty());
}

TEST_F(DiskCacheTest, StoringAgainReplacesThePayload) {
  DiskCache cache(options());
  cache.store("key", "first");
  cache.store("key", "second");
  EXPECT_EQ(cache.load("key"), "second");
  EXPECT_EQ(file_names(directory_), std::vector<std::string>{hash128_hex("key") + ".kernel"});
}

TEST_F(DiskCacheTest, EntryUnderAnotherKeysFileNameIsACollisionAndAMiss) {
  DiskCache cache(options());
  cache.store("key a", "payload a");
  // Craft a collision: key b's file holds key a's (valid) entry.
  fs::copy_file(entry_path("key a"), entry_path("key b"));
  EXPECT_EQ(cache.load("key b"), std::nullopt);
  std::vector<std::string> warnings = cache.take_warnings();
  ASSERT_EQ(warnings.size(), 1u) << joined(warnings);
  EXPECT_NE(warnings[0].find(entry_path("key b").string()), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("hash collision"), std::string::npos) << warnings[0];
  EXPECT_FALSE(fs::exists(entry_path("key b")));
  EXPECT_EQ(cache.load("key a"), "payload a");
}

TEST_F(DiskCacheTest, TruncatedEntryIsRemovedReportedOnceAndRebuilt) {
  std::string key = "spec|cpu|x86-64|v1";
  auto key_bytes = static_cast<int64_t>(key.size());
  int64_t full = kHeaderBytes + key_bytes + 300;
  for (int64_t cut : {int64_t{0}, int64_t{7}, int64_t{8}, int64_t{30}, kHeaderBytes - 1,
                      kHeaderBytes, kHeaderBytes + key_bytes - 1, kHeaderBytes + key_bytes,
                      full - 1}) {
    expect_bad_entry_recovers(
        "cut at " + std::to_string(cut),
        [cut](const fs::path& path) { fs::resize_file(path, static_cast<uintmax_t>(cut)); },
        "truncated");
  }
}

TEST_F(DiskCacheTest, CorruptEntriesAreRemovedReportedOnceAndRebuilt) {
  auto flip_byte_at = [](int64_t offset) {
    return [offset](const fs::path& path) {
      std::string bytes = read_file(path);
      int64_t at = offset < 0 ? offset + static_cast<int64_t>(bytes.size()) : offset;
      bytes[static_cast<size_t>(at)] ^= 0x01;
      write_file(path, bytes);
    };
  };
  expect_bad_entry_recovers("payload byte", flip_byte_at(-1), "checksum mismatch");
  expect_bad_entry_recovers("key byte", flip_byte_at(kHeaderBytes), "checksum mismatch");
  expect_bad_entry_recovers("checksum digit", flip_byte_at(30), "checksum mismatch");
  expect_bad_entry_recovers("magic", flip_byte_at(0), "wrong magic");
  expect_bad_entry_recovers(
      "format version",
      [](const fs::path& path) {
        std::string bytes = read_file(path);
        bytes[8] = 2;  // little-endian uint32 at offset 8: version 2
        write_file(path, bytes);
      },
      "format version 2, expected 1");
  expect_bad_entry_recovers(
      "trailing bytes",
      [](const fs::path& path) { write_file(path, read_file(path) + "extra"); },
      "trailing bytes");
  expect_bad_entry_recovers(
      "payload length near 2^64",
      [](const fs::path& path) {
        std::string bytes = read_file(path);
        for (int i = 16; i < 24; ++i) bytes[i] = static_cast<char>(0xff);
        write_file(path, bytes);
      },
      "truncated");
}

TEST_F(DiskCacheTest, UnreadableEntryIsRemovedReportedOnceAndRebuilt) {
  // A directory in place of the entry: open works, reading does not (root can read any file,
  // so permission bits would not make an unreadable entry here).
  expect_bad_entry_recovers(
      "directory in place of the entry",
      [](const fs::path& path) {
        fs::remove(path);
        fs::create_directory(path);
      },
      "not a regular file");
}

TEST_F(DiskCacheTest, BadEntryThatCannotBeRemovedIsReportedOnce) {
  DiskCache cache(options());
  // A non-empty directory named like the entry cannot be removed with remove().
  fs::create_directories(entry_path("key") / "inside");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(cache.load("key"), std::nullopt);
  std::vector<std::string> warnings = cache.take_warnings();
  ASSERT_EQ(warnings.size(), 1u) << joined(warnings);
  EXPECT_NE(warnings[0].find("cannot be removed"), std::string::npos) << warnings[0];
}

// An unusable cache directory: disabled, one warning naming it and the fix, nothing throws.
void expect_unusable_directory(const fs::path& directory) {
  DiskCacheOptions options;
  options.directory = directory.string();
  DiskCache cache(options);
  EXPECT_FALSE(cache.enabled());
  std::vector<std::string> warnings = cache.take_warnings();
  ASSERT_EQ(warnings.size(), 1u) << joined(warnings);
  EXPECT_NE(warnings[0].find("attncc: warning: cache directory " + directory.string() +
                             " is not writable ("),
            std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[0].find("in memory only; set ATTNCC_CACHE_DIR to a writable directory"),
            std::string::npos)
      << warnings[0];
  EXPECT_NO_THROW(cache.store("key", "payload"));
  EXPECT_EQ(cache.load("key"), std::nullopt);
  EXPECT_TRUE(cache.take_warnings().empty());
}

TEST_F(DiskCacheTest, DirectoryUnderARegularFileDisablesTheCache) {
  write_file(directory_ / "file", "not a directory");
  expect_unusable_directory(directory_ / "file" / "sub");
  expect_unusable_directory(directory_ / "file");
}

TEST_F(DiskCacheTest, ReadOnlyDirectoryDisablesTheCache) {
  fs::path read_only = directory_ / "read_only";
  if (::geteuid() == 0) {
    // chmod does not stop root: use a directory that cannot be created instead.
    write_file(directory_ / "file", "");
    read_only = directory_ / "file" / "sub";
  } else {
    fs::create_directory(read_only);
    fs::permissions(read_only, fs::perms::owner_read | fs::perms::owner_exec |
                                   fs::perms::group_read | fs::perms::group_exec |
                                   fs::perms::others_read | fs::perms::others_exec);
  }
  expect_unusable_directory(read_only);
}

TEST_F(DiskCacheTest, FullDiskLeavesNoPartialEntryAndDisablesOnce) {
  DiskCacheOptions small = options();
  small.fail_writes_after_bytes = 100;
  DiskCache cache(small);
  ASSERT_TRUE(cache.enabled());
  EXPECT_NO_THROW(cache.store("key", random_bytes(1 << 20, 3)));
  EXPECT_TRUE(file_names(directory_).empty()) << joined(file_names(directory_));
  EXPECT_FALSE(cache.enabled());
  std::vector<std::string> warnings = cache.take_warnings();
  ASSERT_EQ(warnings.size(), 1u) << joined(warnings);
  EXPECT_NE(warnings[0].find("No space left on device"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find(directory_.string()), std::string::npos) << warnings[0];
  EXPECT_NO_THROW(cache.store("other", "payload"));
  EXPECT_EQ(cache.load("key"), std::nullopt);
  EXPECT_TRUE(cache.take_warnings().empty());
}

TEST_F(DiskCacheTest, FullDiskKeepsEarlierEntriesIntact) {
  std::string first = random_bytes(500, 4);
  DiskCacheOptions small = options();
  small.fail_writes_after_bytes = kHeaderBytes + 5 + 500 + 10;  // room for "first" and a bit
  DiskCache cache(small);
  cache.store("first", first);
  cache.store("second", random_bytes(500, 5));
  EXPECT_FALSE(cache.enabled());
  EXPECT_EQ(file_names(directory_), std::vector<std::string>{hash128_hex("first") + ".kernel"});
  EXPECT_EQ(DiskCache(options()).load("first"), first);
}

TEST_F(DiskCacheTest, FullDiskCanBeSimulatedFromTheEnvironment) {
  ScopedEnvironment fail("ATTNCC_CACHE_FAIL_WRITES_AFTER_BYTES", "0");
  DiskCache cache(options());
  cache.store("key", "payload");
  EXPECT_FALSE(cache.enabled());
  EXPECT_EQ(cache.take_warnings().size(), 1u);
  EXPECT_TRUE(file_names(directory_).empty());
}

TEST_F(DiskCacheTest, EvictsLeastRecentlyUsedAndLoadRefreshesRecency) {
  constexpr int64_t kPayload = 1000;
  constexpr int64_t kEntry = kHeaderBytes + 2 + kPayload;  // keys are "k0".."k9"
  DiskCache cache(options(3 * kEntry));
  auto payload = [](int n) { return random_bytes(kPayload, 100 + n); };
  auto present = [&](int n) { return fs::exists(entry_path("k" + std::to_string(n))); };
  for (int n = 0; n < 3; ++n) cache.store("k" + std::to_string(n), payload(n));
  EXPECT_TRUE(present(0) && present(1) && present(2));

  EXPECT_EQ(cache.load("k0"), payload(0));  // k0 is now the most recent; k1 the least
  cache.store("k3", payload(3));
  EXPECT_TRUE(present(0));
  EXPECT_FALSE(present(1));
  EXPECT_TRUE(present(2));
  EXPECT_TRUE(present(3));

  cache.store("k4", payload(4));
  EXPECT_FALSE(present(2));
  EXPECT_TRUE(present(0) && present(3) && present(4));
  EXPECT_EQ(cache.load("k4"), payload(4));
  EXPECT_EQ(cache.list().size(), 3u);
  EXPECT_TRUE(cache.take_warnings().empty());
}

TEST_F(DiskCacheTest, EntryLargerThanTheBoundIsNotStored) {
  DiskCache cache(options(1000));
  cache.store("big", random_bytes(2000, 6));
  cache.store("big too", random_bytes(3000, 6));
  cache.store("small", "fits");
  EXPECT_EQ(cache.load("big"), std::nullopt);
  EXPECT_EQ(cache.load("small"), "fits");
  EXPECT_TRUE(cache.enabled());
  std::vector<std::string> warnings = cache.take_warnings();
  ASSERT_EQ(warnings.size(), 1u) << joined(warnings);
  EXPECT_NE(warnings[0].find("exceeds the disk cache bound of 1000 bytes"), std::string::npos)
      << warnings[0];
}

// The payload every writer stores under `key`, so any copy of the entry is the right one.
std::string payload_for(const std::string& key) {
  auto seed = std::hash<std::string>{}(key);
  return random_bytes(seed % 20000, seed);
}

TEST_F(DiskCacheTest, ThreadsStoringAndLoadingSameAndDifferentKeysSeeIntactEntries) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 40;
  DiskCache cache(options());
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        std::string key = round % 2 == 0 ? "shared " + std::to_string(round / 2 % 6)
                                         : "own " + std::to_string(t) + " " +
                                               std::to_string(round / 2 % 5);
        cache.store(key, payload_for(key));
        std::optional<std::string> loaded = cache.load(key);
        if (loaded != payload_for(key)) ++wrong;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_TRUE(cache.enabled());
  EXPECT_TRUE(cache.take_warnings().empty());

  DiskCache fresh(options());
  std::vector<DiskCache::Entry> entries = fresh.list();
  EXPECT_EQ(entries.size(), 6u + kThreads * 5u);  // no temporary files listed or left
  EXPECT_EQ(file_names(directory_).size(), entries.size());
  for (const DiskCache::Entry& entry : entries) {
    EXPECT_EQ(fresh.load(entry.key), payload_for(entry.key)) << entry.key;
  }
  EXPECT_TRUE(fresh.take_warnings().empty());
}

TEST_F(DiskCacheTest, ThreadsWithEvictionNeverSeeAWrongPayload) {
  constexpr int kThreads = 8;
  DiskCache cache(options(60000));  // a few entries: eviction runs all the time
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 40; ++round) {
        std::string key = "key " + std::to_string((t + round) % 12);
        cache.store(key, payload_for(key));
        std::optional<std::string> loaded = cache.load(key);  // may have been evicted already
        if (loaded.has_value() && *loaded != payload_for(key)) ++wrong;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_TRUE(cache.enabled());
  EXPECT_TRUE(cache.take_warnings().empty());
  int64_t total = 0;
  for (const DiskCache::Entry& entry : cache.list()) total += entry.bytes;
  EXPECT_LE(total, 60000);
}

TEST_F(DiskCacheTest, ProcessesStoringTheSameKeysSeeIntactEntries) {
  // Forked children share only the directory, as separate attncc processes would.
  constexpr int kProcesses = 4;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      DiskCache cache(options());
      int wrong = 0;
      for (int round = 0; round < 30; ++round) {
        std::string key = "shared " + std::to_string(round % 7);
        cache.store(key, payload_for(key));
        if (cache.load(key) != payload_for(key)) ++wrong;
      }
      ::_exit(wrong == 0 && cache.enabled() && cache.take_warnings().empty() ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child " << pid;
  }
  DiskCache cache(options());
  for (int n = 0; n < 7; ++n) {
    std::string key = "shared " + std::to_string(n);
    EXPECT_EQ(cache.load(key), payload_for(key)) << key;
  }
  EXPECT_EQ(file_names(directory_).size(), 7u);
}

TEST_F(DiskCacheTest, ListShowsEntriesAndClearRemovesThem) {
  DiskCache cache(options());
  cache.store("alpha", "12345");
  cache.store("beta", "");
  write_file(directory_ / "junk.kernel", "not an entry");
  write_file(directory_ / "notes.txt", "not ours");
  std::vector<DiskCache::Entry> entries = cache.list();
  ASSERT_EQ(entries.size(), 3u);
  std::map<std::string, DiskCache::Entry> by_file;
  for (const DiskCache::Entry& entry : entries) by_file[entry.file] = entry;
  EXPECT_EQ(by_file[entry_path("alpha").string()].key, "alpha");
  EXPECT_EQ(by_file[entry_path("alpha").string()].bytes, kHeaderBytes + 5 + 5);
  EXPECT_EQ(by_file[entry_path("beta").string()].key, "beta");
  EXPECT_EQ(by_file[(directory_ / "junk.kernel").string()].key, "");

  EXPECT_EQ(cache.clear(), 3);
  EXPECT_EQ(file_names(directory_), std::vector<std::string>{"notes.txt"});
  EXPECT_EQ(cache.load("alpha"), std::nullopt);
  cache.store("alpha", "again");
  EXPECT_EQ(cache.load("alpha"), "again");
}

TEST(DefaultCacheDirectory, FollowsAttnccCacheDirThenXdgThenHome) {
  ScopedEnvironment home("HOME", "/home/someone");
  {
    ScopedEnvironment attncc("ATTNCC_CACHE_DIR", "/explicit/dir");
    ScopedEnvironment xdg("XDG_CACHE_HOME", "/xdg");
    EXPECT_EQ(default_cache_directory(), "/explicit/dir");
  }
  ScopedEnvironment attncc("ATTNCC_CACHE_DIR", nullptr);
  {
    ScopedEnvironment xdg("XDG_CACHE_HOME", "/xdg");
    EXPECT_EQ(default_cache_directory(), "/xdg/attncc");
  }
  {
    ScopedEnvironment xdg("XDG_CACHE_HOME", "relative/is/ignored");
    EXPECT_EQ(default_cache_directory(), "/home/someone/.cache/attncc");
  }
  {
    ScopedEnvironment empty_attncc("ATTNCC_CACHE_DIR", "");
    ScopedEnvironment empty_xdg("XDG_CACHE_HOME", "");
    EXPECT_EQ(default_cache_directory(), "/home/someone/.cache/attncc");
  }
  ScopedEnvironment xdg("XDG_CACHE_HOME", nullptr);
  EXPECT_EQ(default_cache_directory(), "/home/someone/.cache/attncc");
  ScopedEnvironment no_home("HOME", nullptr);
  EXPECT_EQ(default_cache_directory(), "");
}

TEST_F(DiskCacheTest, EmptyDirectoryOptionUsesTheDefault) {
  ScopedEnvironment attncc("ATTNCC_CACHE_DIR", (directory_ / "from_env").c_str());
  DiskCache cache(DiskCacheOptions{});
  EXPECT_TRUE(cache.enabled());
  EXPECT_EQ(cache.directory(), (directory_ / "from_env").string());
  cache.store("key", "payload");
  EXPECT_TRUE(fs::exists(directory_ / "from_env" / (hash128_hex("key") + ".kernel")));
}

TEST(DiskCacheWithoutDirectory, NoDefaultDirectoryDisablesTheCacheWithOneWarning) {
  ScopedEnvironment attncc("ATTNCC_CACHE_DIR", nullptr);
  ScopedEnvironment xdg("XDG_CACHE_HOME", nullptr);
  ScopedEnvironment home("HOME", nullptr);
  DiskCache cache(DiskCacheOptions{});
  EXPECT_FALSE(cache.enabled());
  std::vector<std::string> warnings = cache.take_warnings();
  ASSERT_EQ(warnings.size(), 1u) << joined(warnings);
  EXPECT_NE(warnings[0].find("set ATTNCC_CACHE_DIR"), std::string::npos) << warnings[0];
  EXPECT_NO_THROW(cache.store("key", "payload"));
  EXPECT_EQ(cache.load("key"), std::nullopt);
  EXPECT_TRUE(cache.list().empty());
  EXPECT_EQ(cache.clear(), 0);
}

}  // namespace
}  // namespace attncc
