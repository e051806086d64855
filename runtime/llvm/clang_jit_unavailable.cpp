// clang_jit.h for a build without LLVM (cmake -DATTNCC_CPU_BACKEND=OFF): a CUDA-only attncc for
// machines that have the CUDA toolkit but not LLVM/Clang 19, such as a GPU box set up only for
// tools/gpu_check.sh. Every entry point that would compile for the host says so as an
// attncc::Error; the CUDA backend (NVRTC + driver API) does not reach this file.
#include <memory>
#include <string>
#include <string_view>

#include "attncc/error.h"
#include "runtime/llvm/clang_jit.h"

namespace attncc {
namespace {

[[noreturn]] void throw_unavailable(std::string_view what) {
  throw Error(ErrorCode::kUnsupported,
              "attncc: error: " + std::string(what) +
                  " needs the embedded Clang/LLVM JIT, and this attncc was built without it "
                  "(ATTNCC_CPU_BACKEND=OFF): the cpu and cuda-emulated backends are unavailable; "
                  "use --backend cuda, or rebuild with LLVM 19 (llvm-19-dev, libclang-19-dev, "
                  "libclang-cpp19-dev) and -DATTNCC_CPU_BACKEND=ON");
}

}  // namespace

struct JitModule::Impl {};

JitModule::JitModule(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JitModule::JitModule(JitModule&&) noexcept = default;
JitModule& JitModule::operator=(JitModule&&) noexcept = default;
JitModule::~JitModule() = default;

void* JitModule::lookup(std::string_view) const { throw_unavailable("a JIT symbol lookup"); }

const std::string& JitModule::warnings() const { throw_unavailable("a JIT module"); }

JitTimings JitModule::timings() const { return {}; }

void JitModule::set_compile_report(const JitTimings&, std::string) {}

std::unique_ptr<JitModule> compile_cpp(std::string_view, const JitOptions&) {
  throw_unavailable("compiling for the CPU");
}

std::string compile_cpp_to_object(std::string_view, const JitOptions&, JitTimings*,
                                  std::string*) {
  throw_unavailable("compiling for the CPU");
}

std::unique_ptr<JitModule> load_object(std::string_view, const JitOptions&) {
  throw_unavailable("loading a cached CPU kernel");
}

std::string jit_compiler_version() { return "none (built without LLVM)"; }

std::string jit_target_description() { return "none (built without LLVM)"; }

}  // namespace attncc
