// NVRTC through dlopen (see nvrtc_compiler.h). The few NVRTC entry points are declared here with
// their C ABI (nvrtc.h), so attncc needs no CUDA headers to build.
#include "runtime/cuda/nvrtc_compiler.h"

#include <chrono>
#include <cstdlib>
#include <ctime>

#include "attncc/error.h"
#include "runtime/cuda/shared_library.h"
#include "runtime/embedded_templates.h"

namespace attncc {
namespace {

// nvrtc.h: nvrtcResult is an enum (int), NVRTC_SUCCESS = 0; nvrtcProgram an opaque pointer.
using NvrtcResult = int;
using NvrtcProgram = struct NvrtcProgramOpaque*;

struct Nvrtc {
  SharedLibrary library;
  std::string error;  // why it is unusable; empty when usable
  const char* (*get_error_string)(NvrtcResult) = nullptr;
  NvrtcResult (*version)(int*, int*) = nullptr;
  NvrtcResult (*create_program)(NvrtcProgram*, const char*, const char*, int, const char* const*,
                                const char* const*) = nullptr;
  NvrtcResult (*destroy_program)(NvrtcProgram*) = nullptr;
  NvrtcResult (*compile_program)(NvrtcProgram, int, const char* const*) = nullptr;
  NvrtcResult (*get_ptx_size)(NvrtcProgram, size_t*) = nullptr;
  NvrtcResult (*get_ptx)(NvrtcProgram, char*) = nullptr;
  NvrtcResult (*get_cubin_size)(NvrtcProgram, size_t*) = nullptr;
  NvrtcResult (*get_cubin)(NvrtcProgram, char*) = nullptr;
  NvrtcResult (*get_log_size)(NvrtcProgram, size_t*) = nullptr;
  NvrtcResult (*get_log)(NvrtcProgram, char*) = nullptr;
};

constexpr const char* kInstallHint =
    "install the CUDA toolkit's NVRTC (Debian/Ubuntu: cuda-nvrtc-13-0) or point "
    "ATTNCC_NVRTC_LIBRARY at libnvrtc.so.13";

const Nvrtc& nvrtc() {
  static const Nvrtc loaded = [] {
    Nvrtc api;
    // ATTNCC_NVRTC_LIBRARY names the one file to load (a toolkit outside the default paths, or
    // tests of the missing-library error); otherwise the toolkit's usual places, then the loader's.
    std::vector<std::string> names = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};
    std::vector<std::string> directories;
    if (const char* path = std::getenv("ATTNCC_NVRTC_LIBRARY"); path != nullptr && *path != '\0') {
      names = {path};
    } else {
      for (const char* variable : {"CUDA_HOME", "CUDA_PATH"}) {
        if (const char* home = std::getenv(variable); home != nullptr && *home != '\0') {
          directories.push_back(std::string(home) + "/lib64");
        }
      }
      directories.push_back("/usr/local/cuda/lib64");
      directories.push_back("/usr/local/cuda/lib");
    }
    api.library = SharedLibrary::open(names, directories);
    if (!api.library.is_open()) {
      api.error = "cannot load libnvrtc.so.13 (" + api.library.error() + ")";
      return api;
    }
    bool complete = api.library.bind(api.get_error_string, "nvrtcGetErrorString") &&
                    api.library.bind(api.version, "nvrtcVersion") &&
                    api.library.bind(api.create_program, "nvrtcCreateProgram") &&
                    api.library.bind(api.destroy_program, "nvrtcDestroyProgram") &&
                    api.library.bind(api.compile_program, "nvrtcCompileProgram") &&
                    api.library.bind(api.get_ptx_size, "nvrtcGetPTXSize") &&
                    api.library.bind(api.get_ptx, "nvrtcGetPTX") &&
                    api.library.bind(api.get_cubin_size, "nvrtcGetCUBINSize") &&
                    api.library.bind(api.get_cubin, "nvrtcGetCUBIN") &&
                    api.library.bind(api.get_log_size, "nvrtcGetProgramLogSize") &&
                    api.library.bind(api.get_log, "nvrtcGetProgramLog");
    if (!complete) {
      api.error = api.library.path() + " lacks NVRTC entry points (NVRTC 11.2 or newer needed)";
    }
    return api;
  }();
  return loaded;
}

const Nvrtc& require_nvrtc() {
  const Nvrtc& api = nvrtc();
  if (!api.error.empty()) throw user_error(ErrorCode::kUnsupported, "nvrtc", api.error, kInstallHint);
  return api;
}

void check(const Nvrtc& api, NvrtcResult result, const char* call) {
  if (result != 0) {
    internal_error(__FILE__, __LINE__,
                   std::string(call) + " failed: " + api.get_error_string(result));
  }
}

// The embedded templates as NUL-terminated strings, with their include names, built once.
struct NvrtcHeaders {
  std::vector<std::string> contents, names;
  std::vector<const char*> content_pointers, name_pointers;
};

const NvrtcHeaders& nvrtc_headers() {
  static const NvrtcHeaders headers = [] {
    NvrtcHeaders built;
    for (const EmbeddedFile& file : embedded_templates()) {
      built.contents.emplace_back(file.contents);
      built.names.emplace_back(file.path);
    }
    for (size_t index = 0; index < built.names.size(); ++index) {
      built.content_pointers.push_back(built.contents[index].c_str());
      built.name_pointers.push_back(built.names[index].c_str());
    }
    return built;
  }();
  return headers;
}

// Destroys the program however compile_cuda leaves.
struct ProgramGuard {
  const Nvrtc& api;
  NvrtcProgram program = nullptr;
  ~ProgramGuard() {
    if (program != nullptr) api.destroy_program(&program);
  }
};

double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

int number_after(std::string_view text, std::string_view prefix) {
  if (text.rfind(prefix, 0) != 0 || text.size() == prefix.size()) return -1;
  int value = 0;
  for (char digit : text.substr(prefix.size())) {
    if (digit < '0' || digit > '9') return -1;
    value = value * 10 + (digit - '0');
    if (value > 100000) return -1;
  }
  return value;
}

}  // namespace

CudaTarget parse_cuda_target(std::string_view name) {
  for (std::string_view known : {"sm_80", "sm_86", "sm_89", "sm_90", "sm_90a"}) {
    if (name == known) return CudaTarget{std::string(name)};
  }
  if (number_after(name, "compute_") >= 80) return CudaTarget{std::string(name)};
  throw user_error(ErrorCode::kInvalidArgument, "--arch",
                   "unknown CUDA architecture '" + std::string(name) + "'",
                   "use sm_80, sm_86, sm_89, sm_90, sm_90a (CUBIN) or compute_NN with NN >= 80 "
                   "(PTX, compiled by the driver at load time)");
}

CudaTarget cuda_target_for_device(int major, int minor) {
  const int capability = major * 10 + minor;
  if (capability < 80) {
    throw user_error(ErrorCode::kUnsupported, "cuda device",
                     "compute capability " + std::to_string(major) + "." + std::to_string(minor) +
                         " is below 8.0, which the kernels need (mma.sync bf16, cp.async, "
                         "ldmatrix)",
                     "use an Ampere (sm_80) or newer GPU, or the cpu backend");
  }
  switch (capability) {
    case 80: return CudaTarget{"sm_80"};
    case 86: return CudaTarget{"sm_86"};
    case 89: return CudaTarget{"sm_89"};
    case 90: return CudaTarget{"sm_90a"};  // sm_90a CUBIN runs only on 9.0, which this is
    default: return CudaTarget{"compute_" + std::to_string(capability)};
  }
}

bool nvrtc_available(std::string* reason) {
  const Nvrtc& api = nvrtc();
  if (reason != nullptr) *reason = api.error.empty() ? std::string() : api.error + "; " + kInstallHint;
  return api.error.empty();
}

std::string nvrtc_version() {
  const Nvrtc& api = require_nvrtc();
  int major = 0, minor = 0;
  check(api, api.version(&major, &minor), "nvrtcVersion");
  return std::to_string(major) + "." + std::to_string(minor);
}

std::vector<std::string> cuda_compile_options(const CudaTarget& target) {
  // Numerics (KERNELS.md §8): the kernels call the approximate ex2/lg2/tanh explicitly through
  // templates/cuda/ptx.h, so these flags only touch plain arithmetic: FMA contraction on (the
  // nvcc default; kernels that need the unfused s*c - m*c write __fmul_rn), denormals flushed
  // (only p values below 1e-38 change, which are 0 in bf16 anyway) and approximate division and
  // square root (1/l of the softmax; 2 ulp). This is --use_fast_math without its substitution
  // of libm calls, which the kernels do not make.
  std::vector<std::string> options = {
      "--std=c++20", "-default-device", "--gpu-architecture=" + target.name,
      "-ftz=true",   "-prec-div=false", "-prec-sqrt=false", "-fmad=true"};
  if (target.cubin()) {
    options.push_back("-Xptxas");
    options.push_back("-v");
  }
  return options;
}

CudaCompileResult compile_cuda(std::string_view source, const CudaTarget& target,
                               std::string_view file_name) {
  const Nvrtc& api = require_nvrtc();
  const NvrtcHeaders& headers = nvrtc_headers();
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = thread_cpu_seconds();

  ProgramGuard guard{api};
  const std::string source_text(source);
  const std::string name(file_name);
  check(api,
        api.create_program(&guard.program, source_text.c_str(), name.c_str(),
                           static_cast<int>(headers.names.size()), headers.content_pointers.data(),
                           headers.name_pointers.data()),
        "nvrtcCreateProgram");

  const std::vector<std::string> options = cuda_compile_options(target);
  std::vector<const char*> option_pointers;
  for (const std::string& option : options) option_pointers.push_back(option.c_str());
  const NvrtcResult compiled = api.compile_program(
      guard.program, static_cast<int>(option_pointers.size()), option_pointers.data());

  CudaCompileResult result;
  size_t log_size = 0;
  check(api, api.get_log_size(guard.program, &log_size), "nvrtcGetProgramLogSize");
  result.log.resize(log_size);
  if (log_size > 0) {
    check(api, api.get_log(guard.program, result.log.data()), "nvrtcGetProgramLog");
    while (!result.log.empty() && result.log.back() == '\0') result.log.pop_back();
  }
  if (compiled != 0) {
    constexpr size_t kLogLimit = 8000;  // the first errors are the useful ones
    std::string log = result.log.size() > kLogLimit
                          ? result.log.substr(0, kLogLimit) + "\n[... log truncated]"
                          : result.log;
    throw Error(ErrorCode::kInternal,
                name + ": error: NVRTC could not compile the generated kernel for " + target.name +
                    " (" + api.get_error_string(compiled) +
                    "); this is a bug in attncc, please report it with `attncc emit --target "
                    "cuda` of the spec\n" + log);
  }

  result.is_cubin = target.cubin();
  size_t size = 0;
  if (result.is_cubin) {
    check(api, api.get_cubin_size(guard.program, &size), "nvrtcGetCUBINSize");
    result.image.resize(size);
    check(api, api.get_cubin(guard.program, result.image.data()), "nvrtcGetCUBIN");
    result.reports = parse_ptxas_report(result.log);
  } else {
    check(api, api.get_ptx_size(guard.program, &size), "nvrtcGetPTXSize");
    result.image.resize(size);
    check(api, api.get_ptx(guard.program, result.image.data()), "nvrtcGetPTX");
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.cpu_seconds = thread_cpu_seconds() - cpu_start;
  return result;
}

}  // namespace attncc
