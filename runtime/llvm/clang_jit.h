// Clang + ORC JIT for generated C++: compiles a source string in-process and returns callable
// symbols. The CPU backend's last stage (generated source -> machine code); see DESIGN §4 "CPU".
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace attncc {

/// How compile_cpp compiles one generated translation unit.
struct JitOptions {
  /// Name of the source in diagnostics (`generated.cpp:12:3: error: ...`).
  std::string file_name = "generated.cpp";
  /// Virtual include files served from memory: path -> contents, e.g. "attncc/cpu/attention.h"
  /// for `#include "attncc/cpu/attention.h"` (or `<...>`).
  std::map<std::string, std::string> headers;
  /// -O0 .. -O3, for both Clang's optimiser and the JIT's code generator.
  int optimization_level = 3;
  /// Generate for the host CPU (-march=native: its name and features from
  /// llvm::sys::getHostCPUName/getHostCPUFeatures); false: baseline x86-64 (or the triple's
  /// default), e.g. for reproducible code across hosts.
  bool native_cpu = true;
  /// Also search the system include directories (/usr/include, libstdc++). Off: generated code is
  /// hermetic and sees only `headers` and Clang's builtin headers (<immintrin.h>, <stdint.h>).
  bool system_headers = false;
  /// Host functions the generated code may call by name (declared `extern "C"` there). Functions
  /// exported by the process's shared libraries (libm's expf, libc's memset) need no entry.
  std::map<std::string, void*> host_symbols;
  /// Further Clang driver flags, appended after the defaults (so they win), e.g. "-DTILE=64".
  std::vector<std::string> extra_flags;
};

/// Where compile_cpp spent its time, for ATTNCC_TIME-style stage reports.
struct JitTimings {
  double front_end_ms = 0;        ///< driver, parsing, Clang code generation and IR optimisation
  double code_generation_ms = 0;  ///< JIT set-up, machine code generation and linking
};

/// Machine code of one compiled translation unit, owning its JIT (code lives until destruction).
/// Lookups are thread-safe; movable, not copyable.
class JitModule {
 public:
  struct Impl;
  explicit JitModule(std::unique_ptr<Impl> impl);
  JitModule(JitModule&&) noexcept;
  JitModule& operator=(JitModule&&) noexcept;
  JitModule(const JitModule&) = delete;
  JitModule& operator=(const JitModule&) = delete;
  ~JitModule();

  /// Address of `symbol` (an `extern "C"` name or a mangled C++ name) in the compiled code.
  /// Throws Error(kInternal) naming the symbol if the module does not define it.
  void* lookup(std::string_view symbol) const;

  /// Typed lookup: `module.lookup_function<float(const float*, int)>("dot")`.
  template <typename Signature>
  Signature* lookup_function(std::string_view symbol) const {
    return reinterpret_cast<Signature*>(lookup(symbol));
  }

  /// Compiler warnings of the (successful) compile; empty when the source compiled cleanly.
  const std::string& warnings() const;

  /// Time spent by each stage of the compile that produced this module.
  JitTimings timings() const;
  /// Set by compile_cpp (a module from load_object has no compile of its own to report).
  void set_compile_report(const JitTimings& timings, std::string warnings);

 private:
  std::unique_ptr<Impl> impl_;
};

/// Compiles `source` (C++20, no exceptions, no RTTI) with the embedded Clang and links it into a
/// fresh LLJIT; all code is generated before returning. Safe to call from several threads.
/// Throws Error(kInternal) when it does not compile or link (generated code is attncc's
/// responsibility, so this is a bug); the message holds Clang's diagnostics with
/// `generated.cpp:LINE:COL` positions, e.g.
/// `generated.cpp:12:3: error: use of undeclared identifier 'x'`, or the unresolved symbols.
/// Throws Error(kInvalidArgument) for bad options (optimisation level, unknown flag).
std::unique_ptr<JitModule> compile_cpp(std::string_view source, const JitOptions& options = {});

/// The first half of compile_cpp: source -> relocatable object file for the host (the disk
/// cache's payload). Throws like compile_cpp. `timings` and `warnings` (optional) receive the
/// stage times and the compiler's warnings.
std::string compile_cpp_to_object(std::string_view source, const JitOptions& options = {},
                                  JitTimings* timings = nullptr, std::string* warnings = nullptr);

/// The second half: links an object file from compile_cpp_to_object into a fresh LLJIT, every
/// defined symbol resolved before returning. `options` supplies native_cpu, optimisation level
/// and host_symbols. Throws Error(kInternal) for an object that does not parse or link.
std::unique_ptr<JitModule> load_object(std::string_view object, const JitOptions& options = {});

/// Version of the embedded compiler, e.g. "clang 19.1.7 (Debian clang version 19.1.7
/// (3~deb12u1))": the runtime library's own string, for cache keys.
std::string jit_compiler_version();

/// Host triple, CPU name and a hash of its feature set, e.g.
/// "x86_64-pc-linux-gnu znver5 features:1f2e3d4c5b6a7988", for cache keys.
std::string jit_target_description();

}  // namespace attncc
