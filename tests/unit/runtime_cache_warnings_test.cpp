// Disk-cache trouble seen from a Runtime (DESIGN §5, docs/ERRORS.md "Cache warnings"): every
// problem is one warning on stderr and the call still succeeds; DiskCache's own fault tests
// (tests/unit/disk_cache_test.cpp) cover the entry formats, this covers what the runtime adds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "attncc/runtime.h"
#include "runtime/cache/disk_cache.h"

namespace attncc {
namespace {

namespace fs = std::filesystem;

size_t count_of(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

class RuntimeCacheWarnings : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = fs::temp_directory_path() /
                 ("attncc_cache_warnings_" + std::to_string(::getpid()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(directory_);
  }
  void TearDown() override {
    ::unsetenv("ATTNCC_CACHE_FAIL_WRITES_AFTER_BYTES");
    fs::remove_all(directory_);
  }

  RuntimeOptions options() const {
    RuntimeOptions result;
    result.backend = Backend::kCpu;
    result.cache_dir = directory_.string();
    return result;
  }

  // Stats and stderr of one fresh Runtime getting `spec_`.
  std::pair<RuntimeStats, std::string> get_in_fresh_runtime() const {
    ::testing::internal::CaptureStderr();
    RuntimeStats stats;
    {
      Runtime runtime(options());
      runtime.get(spec_);
      stats = runtime.stats();
    }
    return {stats, ::testing::internal::GetCapturedStderr()};
  }

  fs::path directory_;
  const Spec spec_ = Spec::parse(
      R"({"layout": "varlen", "dtype": "fp32", "head_dim": 32, "mask": "causal"})", "w.json");
};

TEST_F(RuntimeCacheWarnings, EntryThatPassesItsChecksumButDoesNotLoadIsRebuiltWithOneWarning) {
  auto [first, first_err] = get_in_fresh_runtime();
  ASSERT_EQ(first.compiles, 1) << first_err;
  // Same key, valid header and checksum, but not an object file (another LLVM, a bad write).
  DiskCache cache(DiskCacheOptions{directory_.string()});
  std::vector<DiskCache::Entry> entries = cache.list();
  ASSERT_EQ(entries.size(), 1u);
  cache.store(entries[0].key, "not an object file");

  auto [rebuilt, rebuilt_err] = get_in_fresh_runtime();
  EXPECT_EQ(rebuilt.compiles, 1);
  EXPECT_EQ(rebuilt.disk_hits, 0);
  EXPECT_EQ(count_of(rebuilt_err, "attncc: warning:"), 1u) << rebuilt_err;
  EXPECT_NE(rebuilt_err.find("attncc: warning: cached kernel for spec " + spec_hash(spec_) +
                             " did not load ("),
            std::string::npos)
      << rebuilt_err;
  EXPECT_NE(rebuilt_err.find("; rebuilding"), std::string::npos) << rebuilt_err;

  // The rebuild replaced the entry: the next runtime loads it, silently.
  auto [loaded, loaded_err] = get_in_fresh_runtime();
  EXPECT_EQ(loaded.compiles, 0);
  EXPECT_EQ(loaded.disk_hits, 1);
  EXPECT_EQ(loaded_err, "");
}

TEST_F(RuntimeCacheWarnings, UnusableDirectoryIsOneWarningAndKernelsStillWork) {
  fs::create_directories(directory_);
  std::FILE* file = std::fopen((directory_ / "file").c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fclose(file);
  directory_ /= "file";  // a regular file where the cache directory should be
  auto [stats, err] = get_in_fresh_runtime();
  directory_ = directory_.parent_path();
  EXPECT_EQ(stats.compiles, 1);
  EXPECT_EQ(count_of(err, "attncc: warning:"), 1u) << err;
  EXPECT_NE(err.find("is not writable"), std::string::npos) << err;
  EXPECT_NE(err.find("kernels are cached in memory only; set ATTNCC_CACHE_DIR to a writable "
                     "directory"),
            std::string::npos)
      << err;
}

TEST_F(RuntimeCacheWarnings, FullDiskIsOneWarningNoPartialEntryAndTheCallSucceeds) {
  // The simulated disk fills up 100 bytes into the first entry.
  ::setenv("ATTNCC_CACHE_FAIL_WRITES_AFTER_BYTES", "100", 1);
  auto [stats, err] = get_in_fresh_runtime();
  EXPECT_EQ(stats.compiles, 1);
  EXPECT_EQ(count_of(err, "attncc: warning:"), 1u) << err;
  EXPECT_NE(err.find("cannot write to cache directory " + directory_.string() +
                     " (No space left on device); kernels are cached in memory only from now on"),
            std::string::npos)
      << err;
  // Neither an entry nor a temporary file is left behind.
  for (const fs::directory_entry& entry : fs::directory_iterator(directory_)) {
    ADD_FAILURE() << "left in the cache directory: " << entry.path();
  }
}

}  // namespace
}  // namespace attncc
