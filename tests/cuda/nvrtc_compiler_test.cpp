// NVRTC in-process (runtime/cuda/nvrtc_compiler) and the ptxas report parser: targets, the
// report of a hand-written log, a real compile of a small kernel with static shared memory and
// a forced spill (so the parser is checked against what this NVRTC prints), PTX for compute_NN,
// and compile errors as Error(kInternal) with the log. No GPU needed.
#include <gtest/gtest.h>

#include <string>

#include "attncc/error.h"
#include "runtime/cuda/nvrtc_compiler.h"
#include "runtime/cuda/ptxas_report.h"

namespace attncc {
namespace {

#define SKIP_WITHOUT_NVRTC()                                       \
  do {                                                             \
    std::string reason;                                            \
    if (!nvrtc_available(&reason)) GTEST_SKIP() << reason;          \
  } while (0)

TEST(PtxasReport, ParsesEveryEntryFunction) {
  const char* log =
      "ptxas info    : 0 bytes gmem\n"
      "ptxas info    : Compiling entry function 'first' for 'sm_90a'\n"
      "ptxas info    : Function properties for first\n"
      "ptxas         .     8 bytes stack frame, 12 bytes spill stores, 16 bytes spill loads\n"
      "ptxas info    : Used 255 registers, used 1 barriers, 1024 bytes smem\n"
      "ptxas info    : Compile time = 3.5 ms\n"
      "ptxas info    : Compiling entry function 'second' for 'sm_90a'\n"
      "ptxas info    : Function properties for second\n"
      "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Used 32 registers, used 0 barriers\n";
  std::vector<PtxasKernelReport> reports = parse_ptxas_report(log);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].function, "first");
  EXPECT_EQ(reports[0].arch, "sm_90a");
  EXPECT_EQ(reports[0].registers, 255);
  EXPECT_EQ(reports[0].barriers, 1);
  EXPECT_EQ(reports[0].stack_frame_bytes, 8);
  EXPECT_EQ(reports[0].spill_store_bytes, 12);
  EXPECT_EQ(reports[0].spill_load_bytes, 16);
  EXPECT_EQ(reports[0].static_shared_bytes, 1024);
  EXPECT_DOUBLE_EQ(reports[0].ptxas_milliseconds, 3.5);
  EXPECT_TRUE(reports[0].spills());
  EXPECT_EQ(reports[1].function, "second");
  EXPECT_EQ(reports[1].registers, 32);
  EXPECT_EQ(reports[1].static_shared_bytes, 0);
  EXPECT_FALSE(reports[1].spills());

  std::vector<PtxasKernelReport> round_trip = ptxas_report_from_json(ptxas_report_to_json(reports));
  ASSERT_EQ(round_trip.size(), 2u);
  EXPECT_EQ(round_trip[0].function, "first");
  EXPECT_EQ(round_trip[0].spill_load_bytes, 16);
  EXPECT_EQ(round_trip[0].static_shared_bytes, 1024);
  EXPECT_EQ(round_trip[1].registers, 32);
}

// The notes are the lines the session-15 wgmma forward first produced (NVRTC 13.0, sm_90a),
// before the P fragments were packed ahead of the fence; they come before the entry blocks.
TEST(PtxasReport, AttachesNumberedNotesToTheFunctionTheyName) {
  const char* log =
      "ptxas info    : (C7519) warpgroup.arrive is injected in around line 2241 by compiler to "
      "allow use of registers in GMMA in function 'first'\n"
      "ptxas info    : (C7515) Potential Performance Loss: wgmma.mma_async instructions are "
      "serialized in function 'second'\n"
      "ptxas info    : Compiling entry function 'first' for 'sm_90a'\n"
      "ptxas info    : Used 160 registers, used 1 barriers\n"
      "ptxas info    : Compiling entry function 'second' for 'sm_90a'\n"
      "ptxas info    : Used 32 registers, used 0 barriers\n"
      "ptxas info    : Compiling entry function 'third' for 'sm_90a'\n"
      "ptxas info    : Used 32 registers, used 0 barriers\n";
  std::vector<PtxasKernelReport> reports = parse_ptxas_report(log);
  ASSERT_EQ(reports.size(), 3u);
  ASSERT_EQ(reports[0].notes.size(), 1u);
  EXPECT_EQ(reports[0].notes[0].rfind("(C7519) warpgroup.arrive is injected", 0), 0u);
  EXPECT_EQ(reports[0].registers, 160);
  ASSERT_EQ(reports[1].notes.size(), 1u);
  EXPECT_NE(reports[1].notes[0].find("serialized"), std::string::npos);
  EXPECT_TRUE(reports[2].notes.empty());
  EXPECT_NE(describe_ptxas_report(reports[1], 0).find("\n    ptxas: (C7515)"), std::string::npos);
  std::vector<PtxasKernelReport> round_trip = ptxas_report_from_json(ptxas_report_to_json(reports));
  ASSERT_EQ(round_trip.size(), 3u);
  EXPECT_EQ(round_trip[1].notes, reports[1].notes);
}

TEST(PtxasReport, IgnoresTextOutsideEntryBlocks) {
  EXPECT_TRUE(parse_ptxas_report("").empty());
  EXPECT_TRUE(parse_ptxas_report("warning: something\nUsed 12 registers\n").empty());
}

TEST(CudaTarget, ParsesKnownArchitecturesAndRejectsOthers) {
  EXPECT_TRUE(parse_cuda_target("sm_80").cubin());
  EXPECT_TRUE(parse_cuda_target("sm_90a").cubin());
  EXPECT_FALSE(parse_cuda_target("compute_100").cubin());
  for (const char* bad : {"sm_75", "sm_8", "compute_75", "compute_", "gfx90a", ""}) {
    try {
      parse_cuda_target(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(error.what()).find("use sm_80"), std::string::npos) << error.what();
    }
  }
}

TEST(CudaTarget, ForDevice) {
  EXPECT_EQ(cuda_target_for_device(8, 0).name, "sm_80");
  EXPECT_EQ(cuda_target_for_device(8, 6).name, "sm_86");
  EXPECT_EQ(cuda_target_for_device(8, 9).name, "sm_89");
  EXPECT_EQ(cuda_target_for_device(9, 0).name, "sm_90a");
  EXPECT_EQ(cuda_target_for_device(10, 0).name, "compute_100");
  EXPECT_EQ(cuda_target_for_device(12, 0).name, "compute_120");
  try {
    cuda_target_for_device(7, 5);
    ADD_FAILURE() << "sm_75 accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(error.what()).find("7.5 is below 8.0"), std::string::npos);
  }
}

// Static shared memory, an include from the embedded templates, and a local array indexed at
// run time (which ptxas must place on the stack), so every field of the report is non-trivial.
constexpr const char* kSmallProgram = R"(
#include "common/numeric.h"
extern "C" __global__ void small_copy(float* data) {
  __shared__ float staged[256];
  staged[threadIdx.x] = data[threadIdx.x] + attncc::to_float(attncc::bfloat16{0x3f80});
  __syncthreads();
  data[threadIdx.x] = staged[255 - threadIdx.x];
}
extern "C" __global__ void small_local(float* data, int index) {
  float local[64];
  for (int i = 0; i < 64; ++i) local[i] = data[i + threadIdx.x];
  for (int i = 0; i < 64; ++i) local[(i * index) & 63] += local[i];
  data[threadIdx.x] = local[index & 63];
}
)";

TEST(NvrtcCompiler, CompilesToCubinWithTheReport) {
  SKIP_WITHOUT_NVRTC();
  EXPECT_FALSE(nvrtc_version().empty());
  CudaCompileResult result = compile_cuda(kSmallProgram, parse_cuda_target("sm_80"), "small.cu");
  EXPECT_TRUE(result.is_cubin);
  ASSERT_GE(result.image.size(), 4u);
  EXPECT_EQ(result.image.substr(0, 4), "\x7f" "ELF");
  ASSERT_EQ(result.reports.size(), 2u) << result.log;
  const PtxasKernelReport* copy = nullptr;
  const PtxasKernelReport* local = nullptr;
  for (const PtxasKernelReport& report : result.reports) {
    if (report.function == "small_copy") copy = &report;
    if (report.function == "small_local") local = &report;
  }
  ASSERT_NE(copy, nullptr) << result.log;
  ASSERT_NE(local, nullptr) << result.log;
  EXPECT_EQ(copy->arch, "sm_80");
  EXPECT_EQ(copy->static_shared_bytes, 1024);
  EXPECT_GT(copy->registers, 0);
  EXPECT_EQ(copy->barriers, 1);
  EXPECT_GE(local->stack_frame_bytes, 256) << result.log;
  std::printf("small program: %.3f s\n", result.seconds);
}

TEST(NvrtcCompiler, CompilesToPtxForVirtualTargets) {
  SKIP_WITHOUT_NVRTC();
  CudaCompileResult result = compile_cuda(kSmallProgram, parse_cuda_target("compute_90"));
  EXPECT_FALSE(result.is_cubin);
  EXPECT_TRUE(result.reports.empty());
  EXPECT_NE(result.image.find(".entry small_copy"), std::string::npos);
  EXPECT_NE(result.image.find(".target sm_90"), std::string::npos);
}

TEST(NvrtcCompiler, CompileErrorIsInternalWithTheLog) {
  SKIP_WITHOUT_NVRTC();
  try {
    compile_cuda("extern \"C\" __global__ void broken() { undeclared_name = 1; }",
                 parse_cuda_target("sm_80"), "broken.cu");
    ADD_FAILURE() << "a broken program compiled";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInternal);
    std::string message = error.what();
    EXPECT_NE(message.find("broken.cu: error: NVRTC could not compile"), std::string::npos) << message;
    EXPECT_NE(message.find("undeclared_name"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace attncc
