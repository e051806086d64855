// The CUDA backend without a GPU: the missing-driver error, auto-selection, the binary payload,
// the disk cache (second lookup is a hit, ATTNCC_ASSERT_NO_COMPILE proves it) and `attncc
// compile` bundles (a Runtime-side lookup finds the kernel without NVRTC; other targets,
// specs and sources miss). NVRTC is needed for the compiling tests (skipped without it).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "attncc/error.h"
#include "attncc/interval_form.h"
#include "attncc/runtime.h"
#include "compiler/emit/lower_to_cuda.h"
#include "runtime/cache/disk_cache.h"
#include "runtime/cuda/cuda_binary.h"
#include "runtime/cuda/cuda_bundle.h"
#include "runtime/cuda/driver_api.h"
#include "runtime/cuda/nvrtc_compiler.h"
#include "runtime/kernel_implementation.h"
#include "support/files.h"

namespace attncc {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temporary directory, removed at destruction.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    std::random_device device;
    path_ = fs::temp_directory_path() / ("attncc_cuda_test_" + std::to_string(device()));
    fs::create_directories(path_);
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

Spec causal_spec() {
  return Spec::parse(R"({"layout": "dense", "dtype": "bf16", "head_dim": 64, "mask": "causal",
                         "backward": true})");
}

TEST(CudaBackend, WithoutADriverTheErrorSaysWhatIsMissingAndWhatToDo) {
  std::string reason;
  if (cuda_driver::device_available(&reason)) GTEST_SKIP() << "a CUDA device is present here";
  RuntimeOptions options;
  options.backend = Backend::kCuda;
  options.disk_cache = false;
  try {
    Runtime runtime(options);
    ADD_FAILURE() << "a CUDA runtime was created without a usable driver";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kUnsupported);
    const std::string message = error.what();
    EXPECT_EQ(message.rfind("backend cuda: error: ", 0), 0u) << message;
    EXPECT_NE(message.find(reason), std::string::npos) << message;
    EXPECT_NE(message.find("use the cpu"), std::string::npos) << message;
    if (reason.find("cannot load") != std::string::npos) {
      EXPECT_NE(message.find("libcuda.so.1"), std::string::npos) << message;
    }
  }
}

TEST(CudaBackend, AutoPicksCudaOnlyWhenADeviceIsUsable) {
  RuntimeOptions options;
  options.disk_cache = false;
  Runtime runtime(options);
  EXPECT_EQ(runtime.backend(), cuda_driver::device_available() ? Backend::kCuda : Backend::kCpu);
}

TEST(CudaBinary, PayloadRoundTrips) {
  CudaBinary binary;
  binary.target = "sm_90a";
  binary.is_cubin = true;
  binary.image = std::string("\x7f" "ELF\0\n\xff payload", 14);
  PtxasKernelReport report;
  report.function = "attncc_x_forward";
  report.arch = "sm_90a";
  report.registers = 168;
  binary.reports.push_back(report);
  CudaBinary decoded = decode_cuda_binary(encode_cuda_binary(binary));
  EXPECT_EQ(decoded.target, "sm_90a");
  EXPECT_TRUE(decoded.is_cubin);
  EXPECT_EQ(decoded.image, binary.image);
  ASSERT_EQ(decoded.reports.size(), 1u);
  EXPECT_EQ(decoded.reports[0].registers, 168);

  std::string truncated = encode_cuda_binary(binary);
  truncated.pop_back();
  EXPECT_THROW(decode_cuda_binary(truncated), Error);
  EXPECT_THROW(decode_cuda_binary("not a binary"), Error);
}

TEST(CudaBinary, SecondLookupIsADiskHit) {
  std::string reason;
  if (!nvrtc_available(&reason)) GTEST_SKIP() << reason;
  ScratchDirectory directory;
  DiskCacheOptions disk_options;
  disk_options.directory = directory.path();
  DiskCache disk(disk_options);
  RuntimeCounters counters;
  const Spec spec = causal_spec();
  const CudaTarget target = parse_cuda_target("sm_80");
  CudaBinary first = find_or_compile_cuda_binary(spec, target, nullptr, &disk, counters);
  EXPECT_EQ(counters.compiles.load(), 1);
  EXPECT_EQ(counters.disk_hits.load(), 0);

  setenv("ATTNCC_ASSERT_NO_COMPILE", "1", 1);
  CudaBinary second = find_or_compile_cuda_binary(spec, target, nullptr, &disk, counters);
  // Another target is another key: it would compile, which the switch forbids.
  EXPECT_THROW(find_or_compile_cuda_binary(spec, parse_cuda_target("sm_90a"), nullptr, &disk,
                                           counters),
               Error);
  unsetenv("ATTNCC_ASSERT_NO_COMPILE");
  EXPECT_EQ(counters.compiles.load(), 1);
  EXPECT_EQ(counters.disk_hits.load(), 1);
  EXPECT_EQ(second.image, first.image);
  EXPECT_EQ(second.reports.size(), first.reports.size());
}

TEST(CudaBundle, KernelsLoadWithoutCompilingAndOnlyForTheirKey) {
  std::string reason;
  if (!nvrtc_available(&reason)) GTEST_SKIP() << reason;
  ScratchDirectory directory;
  const Spec spec = causal_spec();
  const CudaTarget target = parse_cuda_target("sm_90a");
  const std::string source = lower_to_cuda(spec, build_interval_form(spec.mask));
  CudaBundleEntry entry{spec, source, compile_cuda_binary(spec, target), 0.0};
  write_cuda_bundle(directory.path(), {entry});
  EXPECT_TRUE(fs::exists(fs::path(directory.path()) / "manifest.json"));
  EXPECT_TRUE(fs::exists(fs::path(directory.path()) / cuda_bundle_file_name(spec, "sm_90a")));

  CudaBundle bundle = CudaBundle::open(directory.path());
  EXPECT_EQ(bundle.size(), 1u);
  RuntimeCounters counters;
  setenv("ATTNCC_ASSERT_NO_COMPILE", "1", 1);
  CudaBinary found = find_or_compile_cuda_binary(spec, target, &bundle, nullptr, counters);
  unsetenv("ATTNCC_ASSERT_NO_COMPILE");
  EXPECT_EQ(found.image, entry.binary.image);
  EXPECT_EQ(counters.compiles.load(), 0);

  EXPECT_FALSE(bundle.find(spec, source, parse_cuda_target("sm_80")).has_value());
  EXPECT_FALSE(bundle.find(spec, source + "// other generator\n", target).has_value());
  Spec other = Spec::parse(R"({"layout": "dense", "dtype": "bf16", "head_dim": 64,
                               "mask": "full"})");
  EXPECT_FALSE(bundle.find(other, source, target).has_value());

  // A listed file that is gone is an I/O error naming it, not a silent recompile.
  fs::remove(fs::path(directory.path()) / cuda_bundle_file_name(spec, "sm_90a"));
  try {
    bundle.find(spec, source, target);
    ADD_FAILURE() << "a missing bundle file was not reported";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(error.what()).find(cuda_bundle_file_name(spec, "sm_90a")),
              std::string::npos);
  }
}

TEST(CudaBundle, MissingManifestIsAnIoError) {
  ScratchDirectory directory;
  try {
    CudaBundle::open(directory.path());
    ADD_FAILURE() << "a directory without manifest.json opened as a bundle";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(error.what()).find("manifest.json: error: cannot be read"),
              std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace attncc
