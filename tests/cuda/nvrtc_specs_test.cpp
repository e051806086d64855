// NVRTC compiles every spec in specs/ x head dims {64, 128} x {fp16, bf16} for sm_80 and sm_90a
// (one program with all entry points, as the runtime compiles it) and ptxas reports 0 spill
// bytes for every entry point; registers, stack and compile time are printed per kernel (CI
// logs are the record). One ctest test per (spec, dtype, head dim, arch). The sm_90a wgmma
// kernels (RuntimeOptions::cuda_warpgroup_mma: the forward's overlapped schedule, and the serial
// one of $ATTNCC_CUDA_WGMMA=serial, each with the wgmma backward key/value kernel where it
// applies) are compiled too, in bf16 (their fp16 instructions differ in the type suffix only),
// and must also draw no ptxas note (serialised or fenced warpgroup MMAs).
// No GPU needed.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "attncc/spec.h"
#include "templates/cuda/launch_shape.h"
#include "compiler/emit/lower_to_cuda.h"
#include "runtime/cuda/cuda_binary.h"
#include "runtime/cuda/nvrtc_compiler.h"
#include "support/backend_cases.h"
#include "support/files.h"

namespace attncc {
namespace {

struct Variant {
  std::string spec_path;
  DType dtype;
  int head_dim;
  std::string arch;
  WarpgroupForward warpgroup = WarpgroupForward::kOff;
};

const char* warpgroup_suffix(WarpgroupForward warpgroup) {
  switch (warpgroup) {
    case WarpgroupForward::kOverlapped: return "_wgmma";
    case WarpgroupForward::kSerial: return "_wgmma_serial";
    default: return "";
  }
}

// gtest prints this in test names and failures (instead of the object's bytes).
void PrintTo(const Variant& variant, std::ostream* out) {
  *out << std::filesystem::path(variant.spec_path).filename().string() << " "
       << dtype_name(variant.dtype) << " d" << variant.head_dim << " " << variant.arch
       << warpgroup_suffix(variant.warpgroup);
}

std::vector<Variant> all_variants() {
  std::vector<Variant> variants;
  for (const std::string& path : testing::list_files(testing::source_path("specs"), "json")) {
    for (DType dtype : {DType::kBFloat16, DType::kFloat16}) {
      for (int head_dim : {64, 128}) {
        for (const char* arch : {"sm_80", "sm_90a"}) variants.push_back({path, dtype, head_dim, arch});
        if (dtype != DType::kBFloat16) continue;
        for (WarpgroupForward schedule :
             {WarpgroupForward::kOverlapped, WarpgroupForward::kSerial}) {
          variants.push_back({path, dtype, head_dim, "sm_90a", schedule});
        }
      }
    }
  }
  return variants;
}

std::string variant_name(const ::testing::TestParamInfo<Variant>& info) {
  std::string name = std::filesystem::path(info.param.spec_path).stem().string() + "_" +
                     std::string(dtype_name(info.param.dtype)) + "_d" +
                     std::to_string(info.param.head_dim) + "_" + info.param.arch +
                     warpgroup_suffix(info.param.warpgroup);
  for (char& character : name) {
    if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
  }
  return name;
}

class NvrtcSpecs : public ::testing::TestWithParam<Variant> {};

TEST_P(NvrtcSpecs, CompilesEveryEntryPointWithoutSpills) {
  std::string reason;
  if (!nvrtc_available(&reason)) GTEST_SKIP() << reason;
  const Variant& variant = GetParam();
  Spec spec = testing::with_dtype_and_head_dim(Spec::load(variant.spec_path), variant.dtype,
                                               variant.head_dim);
  const bool wgmma = variant.warpgroup != WarpgroupForward::kOff;
  const CudaLoweringOptions lowering = cuda_lowering_options(spec, variant.warpgroup, true);
  ASSERT_EQ(lowering.warpgroup_mma_forward, wgmma);
  ASSERT_EQ(lowering.warpgroup_overlap, variant.warpgroup == WarpgroupForward::kOverlapped);
  ASSERT_EQ(lowering.warpgroup_mma_backward,
            wgmma && cuda::backward_warpgroup_mma_fits(spec.head_dim, spec.head_dim_v,
                                                       spec.softcap > 0));
  CudaCompileTime time;
  CudaBinary binary = compile_cuda_binary(spec, parse_cuda_target(variant.arch), &time, lowering);
  EXPECT_TRUE(binary.is_cubin);
  ASSERT_EQ(binary.reports.size(), static_cast<size_t>(cuda::kKernelCount))
      << "one ptxas report per entry point";
  std::printf("%s: NVRTC %.2f s (%.2f s CPU) for %d entry points\n",
              variant_name({variant, 0}).c_str(), time.seconds, time.cpu_seconds,
              static_cast<int>(cuda::kKernelCount));
  const std::string prefix = cuda_entry_prefix(spec) + "_";
  for (const PtxasKernelReport& report : binary.reports) {
    const unsigned shared = dynamic_shared_bytes(report.function, spec, lowering);
    std::printf("  %s\n", describe_ptxas_report(report, shared).c_str());
    EXPECT_EQ(report.function.rfind(prefix, 0), 0u) << report.function;
    EXPECT_EQ(report.arch, variant.arch);
    EXPECT_EQ(report.spill_store_bytes, 0) << report.function << " spills";
    EXPECT_EQ(report.spill_load_bytes, 0) << report.function << " spills";
    EXPECT_LE(report.registers, 255);
    EXPECT_TRUE(report.notes.empty()) << report.function << ": ptxas notes (above)";
    // wgmma's swizzle uses absolute shared addresses: static shared memory would move the
    // dynamic window (and its 1024-byte atoms) off the alignment the descriptors assume.
    if (wgmma) {
      EXPECT_EQ(report.static_shared_bytes, 0) << report.function;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Specs, NvrtcSpecs, ::testing::ValuesIn(all_variants()), variant_name);

}  // namespace
}  // namespace attncc
