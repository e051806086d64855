// A kernel compiled by the in-process Clang from a string, as the cuda-emulated backend compiles
// the generated CUDA source (embedded templates, the emulator's entry points as host symbols),
// run on the emulator: ldmatrix.trans, mma.m16n8k16 (fp16) and a butterfly shuffle sum.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "runtime/embedded_templates.h"
#include "runtime/emulation/emulator.h"
#include "runtime/llvm/clang_jit.h"
#include "runtime/thread_pool.h"

namespace attncc {
namespace {

TEST(EmulatedJit, KernelCompiledByTheJitRunsOnTheEmulator) {
  JitOptions options;
  for (const EmbeddedFile& file : embedded_templates()) {
    options.headers[std::string(file.path)] = std::string(file.contents);
  }
  options.host_symbols = emulation::host_symbols();
  const std::string source = R"(
#include "cuda/ptx.h"
struct Params { float* out; };
extern "C" void jit_kernel(const void* raw) {
  const Params& params = *static_cast<const Params*>(raw);
  using namespace attncc::cuda;
  const int lane = lane_index();
  // Shared row l (16 bytes) holds fp16 1.0 in element 0 when l % 8 == 0, else zeros; B is
  // rows 0-15 through ldmatrix.trans, A is all ones.
  shared_store_u128(16 * lane, lane % 8 == 0 ? 0x3c00u : 0u, 0, 0, 0);
  sync_threads();
  uint32 b[2];
  ldmatrix_x2_trans(b, 16 * (lane % 16));
  uint32 a[4] = {0x3c003c00u, 0x3c003c00u, 0x3c003c00u, 0x3c003c00u};
  float accumulator[4] = {0, 0, 0, 0};
  mma_m16n8k16<attncc::float16>(accumulator, a, b);
  float total = accumulator[0] + accumulator[1] + accumulator[2] + accumulator[3];
  for (int mask = 1; mask < 32; mask <<= 1) total += shfl_xor(total, mask);
  params.out[threadIdx.x] = total;
}
)";
  std::unique_ptr<JitModule> module = compile_cpp(source, options);
  auto entry = module->lookup_function<void(const void*)>("jit_kernel");
  std::vector<float> out(32, std::nanf(""));
  struct {
    float* out;
  } params{out.data()};
  emulation::LaunchConfiguration launch;
  launch.kernel_name = "jit_kernel";
  launch.entry = entry;
  launch.block = {32, 1, 1};
  launch.shared_bytes = 512;
  launch.params = &params;
  ThreadPool pool(1);
  emulation::run_launch(launch, pool);
  // B (16x8, k x n) holds a 1 at (k = 0, n = 0) and (k = 8, n = 0): every row of A*B has 2 in
  // column 0, so the 16x8 result sums to 32.
  for (float value : out) EXPECT_EQ(value, 32.0f);
}

}  // namespace
}  // namespace attncc
