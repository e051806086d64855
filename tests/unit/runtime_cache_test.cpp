// Runtime caching (DESIGN §5): a second process finds the kernel on disk and compiles nothing
// (proved with ATTNCC_ASSERT_NO_COMPILE=1), a truncated entry is rebuilt with one warning, and
// concurrent requests for one spec in one process compile it once.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "attncc/runtime.h"
#include "support/files.h"
#include "support/random_inputs.h"

namespace attncc {
namespace {

namespace fs = std::filesystem;

struct ProbeResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs the probe as a separate process with the given environment prefix.
ProbeResult run_probe(const std::string& environment, const std::string& spec_path) {
  std::string command = environment + " '" + std::string(ATTNCC_PROBE_PATH) + "' '" + spec_path + "' 2>&1";
  ProbeResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 512> buffer;
  while (fgets(buffer.data(), buffer.size(), pipe) != nullptr) result.output += buffer.data();
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

class CacheDirectory : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = fs::temp_directory_path() /
                 ("attncc_runtime_cache_" + std::to_string(::getpid()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(directory_);
    fs::create_directories(directory_);
  }
  void TearDown() override { fs::remove_all(directory_); }

  std::string environment() const { return "ATTNCC_CACHE_DIR='" + directory_.string() + "'"; }

  std::vector<fs::path> entries() const {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(directory_)) {
      if (entry.path().extension() == ".kernel") files.push_back(entry.path());
    }
    return files;
  }

  fs::path directory_;
};

TEST_F(CacheDirectory, SecondProcessLoadsFromDiskAndCompilesNothing) {
  const std::string spec = testing::source_path("specs/causal.json");
  ProbeResult first = run_probe(environment(), spec);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_EQ(first.output, "compiles=1 disk_hits=0\n");
  ASSERT_EQ(entries().size(), 1u);

  ProbeResult second = run_probe(environment() + " ATTNCC_ASSERT_NO_COMPILE=1", spec);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(second.output, "compiles=0 disk_hits=1\n");

  // The switch really fails when a compile would be needed (another spec, not cached).
  ProbeResult uncached = run_probe(environment() + " ATTNCC_ASSERT_NO_COMPILE=1",
                                   testing::source_path("specs/full.json"));
  EXPECT_EQ(uncached.exit_code, 1) << uncached.output;
  EXPECT_NE(uncached.output.find("ATTNCC_ASSERT_NO_COMPILE=1"), std::string::npos) << uncached.output;
}

TEST_F(CacheDirectory, TruncatedEntryIsRebuiltWithOneWarning) {
  const std::string spec = testing::source_path("specs/window.json");
  ASSERT_EQ(run_probe(environment(), spec).exit_code, 0);
  ASSERT_EQ(entries().size(), 1u);
  const fs::path entry = entries()[0];
  fs::resize_file(entry, fs::file_size(entry) / 2);

  ProbeResult rebuilt = run_probe(environment(), spec);
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.output;
  EXPECT_EQ(count_of(rebuilt.output, "attncc: warning:"), 1u) << rebuilt.output;
  EXPECT_NE(rebuilt.output.find("compiles=1 disk_hits=0"), std::string::npos) << rebuilt.output;

  // The rebuilt entry is whole again: the next process loads it.
  ProbeResult loaded = run_probe(environment() + " ATTNCC_ASSERT_NO_COMPILE=1", spec);
  EXPECT_EQ(loaded.exit_code, 0) << loaded.output;
  EXPECT_EQ(loaded.output, "compiles=0 disk_hits=1\n");
}

TEST(RuntimeMemoryCache, ConcurrentRequestsCompileOnce) {
  RuntimeOptions options;
  options.backend = Backend::kCpu;
  options.disk_cache = false;
  Runtime runtime(options);
  Spec spec = Spec::load(testing::source_path("specs/sink_window.json"));
  std::vector<std::thread> threads;
  std::vector<std::string> hashes(8);
  for (int index = 0; index < 8; ++index) {
    threads.emplace_back([&, index] { hashes[index] = runtime.get(spec).hash(); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& hash : hashes) EXPECT_EQ(hash, spec_hash(spec));
  RuntimeStats stats = runtime.stats();
  EXPECT_EQ(stats.compiles, 1);
  EXPECT_EQ(stats.memory_hits, 7);
  // A later request is a memory hit too.
  runtime.get(spec);
  EXPECT_EQ(runtime.stats().compiles, 1);
}

TEST(RuntimeBackends, NamesParseAndTheEmulatedBackendNeedsNoDevice) {
  EXPECT_EQ(parse_backend("cpu"), Backend::kCpu);
  EXPECT_EQ(parse_backend("cuda"), Backend::kCuda);
  EXPECT_EQ(parse_backend("cuda-emulated"), Backend::kCudaEmulated);
  EXPECT_THROW(parse_backend("gpu"), Error);
  // cuda-emulated runs on the CPU: constructing it needs no driver. (Asking for kCuda without a
  // driver is tested with its message in tests/cuda/cuda_backend_test.cpp.)
  RuntimeOptions options;
  options.backend = Backend::kCudaEmulated;
  EXPECT_NO_THROW({ Runtime runtime(options); });
}

}  // namespace
}  // namespace attncc
