// Clang + ORC JIT: source string -> clang::CompilerInstance (EmitLLVMOnlyAction, in-memory files)
// -> llvm::orc::LLJIT. All LLVM and Clang headers of attncc stay in runtime/llvm/.
#include "runtime/llvm/clang_jit.h"

#include <clang/Basic/Diagnostic.h>
#include <clang/Basic/DiagnosticOptions.h>
#include <clang/Basic/Version.h>
#include <clang/CodeGen/CodeGenAction.h>
#include <clang/Frontend/CompilerInstance.h>
#include <clang/Frontend/CompilerInvocation.h>
#include <clang/Frontend/TextDiagnosticPrinter.h>
#include <clang/Frontend/Utils.h>
#include <llvm/ADT/StringMap.h>
#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/DiagnosticHandler.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/Object/ObjectFile.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/IR/DiagnosticInfo.h>
#include <llvm/IR/DiagnosticPrinter.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/Error.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/VirtualFileSystem.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Support/xxhash.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/TargetParser/Triple.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <cstdio>
#include <mutex>
#include <utility>

#include "attncc/error.h"

// Why CompilerInstance + EmitLLVMOnlyAction and not clang::Interpreter: we compile one whole
// translation unit once and never extend it, so the interpreter's incremental parsing, its value
// printing runtime (parsed into every instance) and its own JIT setup buy nothing, while a plain
// CompilerInstance lets us own the file system (in-memory headers), the diagnostics and the LLJIT
// (generators, error reporting, eager code generation).

namespace attncc {
namespace {

// argv0 and resource dir of the packaged Clang 19: the driver derives the resource dir from
// argv0, and for a host program that is not clang itself the derived one is wrong.
constexpr const char* kClangPath = "/usr/lib/llvm-19/bin/clang";
constexpr const char* kResourceDir = "/usr/lib/llvm-19/lib/clang/19";
// Root of the in-memory files: the source lives at kVirtualRoot/<file_name>, the headers under
// kVirtualRoot/include. A path no real file system has, so nothing on disk shadows them.
constexpr const char* kVirtualRoot = "/attncc-jit";
constexpr const char* kVirtualInclude = "/attncc-jit/include";

// Hermetic <immintrin.h>: in hosted mode Clang's xmmintrin.h includes <mm_malloc.h>, which
// includes the C library's <stdlib.h>. Without system headers we serve this stand-in (found
// before the builtin one because -I directories precede system ones). Kernels do not allocate.
constexpr std::string_view kMmMallocStub =
    "// attncc JIT stand-in for <mm_malloc.h>: no C library headers in generated code.\n"
    "#pragma once\n";

// LLVM's process-wide initialisation: the native target, its assembly printer (machine code
// emission) and parser (inline asm), exactly once however many threads compile.
void initialise_llvm() {
  static std::once_flag once;
  static bool failed = false;
  std::call_once(once, [] {
    failed = llvm::InitializeNativeTarget() || llvm::InitializeNativeTargetAsmPrinter() ||
             llvm::InitializeNativeTargetAsmParser();
  });
  if (failed) {
    throw user_error(ErrorCode::kUnsupported, "cpu backend",
                     "this LLVM has no code generator for the host (" +
                         llvm::sys::getProcessTriple() + ")");
  }
}

std::string error_text(llvm::Error error) { return llvm::toString(std::move(error)); }

// Messages of LLVM back-end diagnostics (inline asm errors, stack size warnings) raised while the
// JIT generates code. Without a handler, LLVMContext prints errors to stderr and calls exit(1).
class CollectingDiagnosticHandler : public llvm::DiagnosticHandler {
 public:
  explicit CollectingDiagnosticHandler(std::shared_ptr<std::string> errors)
      : errors_(std::move(errors)) {}
  bool handleDiagnostics(const llvm::DiagnosticInfo& info) override {
    if (info.getSeverity() != llvm::DS_Error) return true;
    std::lock_guard<std::mutex> lock(mutex_);
    llvm::raw_string_ostream stream(*errors_);
    if (!errors_->empty()) stream << "; ";
    llvm::DiagnosticPrinterRawOStream printer(stream);
    info.print(printer);
    return true;
  }

 private:
  std::mutex mutex_;
  std::shared_ptr<std::string> errors_;
};

// Driver arguments: defaults first, then options.extra_flags (later flags win), then the file.
std::vector<std::string> driver_arguments(const JitOptions& options) {
  std::vector<std::string> args = {
      kClangPath, "-xc++", "-std=c++20", "-O" + std::to_string(options.optimization_level),
      "-resource-dir", kResourceDir,
      // Kernels use neither exceptions nor RTTI: smaller, faster code and no unwind paths. Host
      // callbacks must therefore not throw through generated frames.
      "-fno-exceptions", "-fno-rtti",
      // Reassociation vectorises reductions (Q.K dot product: 6.7 -> 87 GFLOP/s); NOT
      // -ffinite-math-only / -ffast-math: masking relies on -inf and exp(-inf) == 0.
      "-fassociative-math", "-fno-signed-zeros", "-fno-trapping-math", "-ffp-contract=fast",
      // Nothing reads errno, so libm calls (expf) are pure for the optimiser.
      "-fno-math-errno",
      "-I", kVirtualInclude};
  if (options.native_cpu) args.push_back("-march=native");
  if (!options.system_headers) args.push_back("-nostdlibinc");
  args.insert(args.end(), options.extra_flags.begin(), options.extra_flags.end());
  args.push_back(options.file_name);
  return args;
}

// The in-memory source and headers over the real file system (for Clang's builtin headers).
llvm::IntrusiveRefCntPtr<llvm::vfs::FileSystem> make_file_system(std::string_view source,
                                                                  const JitOptions& options) {
  auto memory = llvm::makeIntrusiveRefCnt<llvm::vfs::InMemoryFileSystem>();
  auto add = [&](const std::string& path, std::string_view contents) {
    if (!memory->addFile(path, 0, llvm::MemoryBuffer::getMemBufferCopy(contents, path))) {
      throw user_error(ErrorCode::kInvalidArgument, "JitOptions", "in-memory file '" + path +
                                                                      "' clashes with another");
    }
  };
  add(std::string(kVirtualRoot) + "/" + options.file_name, source);
  for (const auto& [path, contents] : options.headers) {
    add(std::string(kVirtualInclude) + "/" + path, contents);
  }
  if (!options.system_headers && !options.headers.contains("mm_malloc.h")) {
    add(std::string(kVirtualInclude) + "/mm_malloc.h", kMmMallocStub);
  }
  // A private physical file system: its working directory is its own, not the process's.
  auto overlay = llvm::makeIntrusiveRefCnt<llvm::vfs::OverlayFileSystem>(
      llvm::vfs::createPhysicalFileSystem());
  overlay->pushOverlay(memory);
  // Relative names (the source's, for diagnostics that say `generated.cpp:12:3`) resolve
  // against the in-memory root; the physical layer keeps its own working directory. After
  // pushOverlay, which copies the overlay's working directory into the new layer.
  if (memory->setCurrentWorkingDirectory(kVirtualRoot)) {
    internal_error(__FILE__, __LINE__, "cannot enter the in-memory root");
  }
  return overlay;
}

// Clang diagnostics as plain text: no colour escapes in exception messages.
llvm::IntrusiveRefCntPtr<clang::DiagnosticOptions> plain_diagnostic_options() {
  auto options = llvm::makeIntrusiveRefCnt<clang::DiagnosticOptions>();
  options->ShowColors = false;
  return options;
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// The failure of a compile: Clang's diagnostics (with `generated.cpp:LINE:COL` positions), then
// one line saying which stage failed and why.
Error compile_failure(const JitOptions& options, const std::string& diagnostics,
                      std::string_view stage, std::string_view reason) {
  std::string text = trimmed(diagnostics);
  if (!text.empty()) text += "\n";
  text += options.file_name + ": error: " + std::string(stage);
  if (!reason.empty()) text += ": " + std::string(reason);
  text += "; generated code is attncc's, so this is a bug: please report it with the generated "
          "source";
  return Error(ErrorCode::kInternal, text);
}

llvm::CodeGenOptLevel codegen_level(int optimization_level) {
  switch (optimization_level) {
    case 0: return llvm::CodeGenOptLevel::None;
    case 1: return llvm::CodeGenOptLevel::Less;
    case 2: return llvm::CodeGenOptLevel::Default;
    default: return llvm::CodeGenOptLevel::Aggressive;
  }
}

}  // namespace

struct JitModule::Impl {
  // Declared before `jit` so they outlive it (its destructor may still report errors).
  std::mutex session_errors_mutex;
  std::string session_errors;
  std::shared_ptr<std::string> backend_errors = std::make_shared<std::string>();
  std::string warnings;
  JitTimings timings;
  std::unique_ptr<llvm::orc::LLJIT> jit;

  // Errors the ExecutionSession reported (unresolved symbols, failed materialisation) since the
  // last call; ORC would otherwise log them to stderr.
  std::string take_session_errors() {
    std::lock_guard<std::mutex> lock(session_errors_mutex);
    return std::exchange(session_errors, {});
  }

  // No jit->deinitialize(): it JIT-compiles the platform's de-initialisation code, and a Runtime
  // held in a static is destroyed at exit after LLVM's own statics, where compiling crashes
  // (seen in release builds). Generated kernels register no static destructors to run.
};

void JitModule::set_compile_report(const JitTimings& timings, std::string warnings) {
  impl_->timings = timings;
  impl_->warnings = std::move(warnings);
}

JitTimings JitModule::timings() const {
  ATTNCC_ASSERT(impl_ != nullptr, "timings of a moved-from JitModule");
  return impl_->timings;
}

JitModule::JitModule(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JitModule::JitModule(JitModule&&) noexcept = default;
JitModule& JitModule::operator=(JitModule&&) noexcept = default;
JitModule::~JitModule() = default;

void* JitModule::lookup(std::string_view symbol) const {
  ATTNCC_ASSERT(impl_ != nullptr, "lookup on a moved-from JitModule");
  // LLJIT::lookup is thread-safe: the ExecutionSession serialises symbol table access.
  llvm::Expected<llvm::orc::ExecutorAddr> address =
      impl_->jit->lookup(llvm::StringRef(symbol.data(), symbol.size()));
  if (!address) {
    std::string reason = error_text(address.takeError());
    impl_->take_session_errors();  // the same failure, already in `reason`
    throw Error(ErrorCode::kInternal, "jit: error: symbol '" + std::string(symbol) +
                                          "' is not defined by the compiled module (" + reason +
                                          "); this is a bug in attncc, please report it");
  }
  return address->toPtr<void*>();
}

const std::string& JitModule::warnings() const {
  ATTNCC_ASSERT(impl_ != nullptr, "warnings of a moved-from JitModule");
  return impl_->warnings;
}

namespace {

void check_options(const JitOptions& options) {
  if (options.optimization_level < 0 || options.optimization_level > 3) {
    throw user_error(ErrorCode::kInvalidArgument, "JitOptions::optimization_level",
                     "must be 0, 1, 2 or 3; got " + std::to_string(options.optimization_level));
  }
  if (options.file_name.empty() || options.file_name.front() == '/') {
    throw user_error(ErrorCode::kInvalidArgument, "JitOptions::file_name",
                     "must be a non-empty relative name; got '" + options.file_name + "'");
  }
}

// The JIT of one module: process symbols and options.host_symbols reachable by name, ORC's
// errors collected into `impl` instead of printed.
void create_jit(JitModule::Impl& impl, const JitOptions& options, const std::string& triple,
                const std::function<Error(std::string_view, std::string)>& fail) {
  llvm::Expected<llvm::orc::JITTargetMachineBuilder> machine =
      options.native_cpu
          ? llvm::orc::JITTargetMachineBuilder::detectHost()
          : llvm::Expected<llvm::orc::JITTargetMachineBuilder>(
                llvm::orc::JITTargetMachineBuilder(llvm::Triple(triple)));
  if (!machine) throw fail("no code generator for the host", error_text(machine.takeError()));
  machine->setCodeGenOptLevel(codegen_level(options.optimization_level));
  const std::map<std::string, void*>& host_symbols = options.host_symbols;
  llvm::Expected<std::unique_ptr<llvm::orc::LLJIT>> jit =
      llvm::orc::LLJITBuilder()
          .setJITTargetMachineBuilder(std::move(*machine))
          .setProcessSymbolsJITDylibSetup(
              [&host_symbols](llvm::orc::LLJIT& jit) -> llvm::Expected<llvm::orc::JITDylibSP> {
                llvm::orc::JITDylib& dylib =
                    jit.getExecutionSession().createBareJITDylib("<process symbols>");
                auto generator = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
                    jit.getDataLayout().getGlobalPrefix());
                if (!generator) return generator.takeError();
                dylib.addGenerator(std::move(*generator));
                llvm::orc::SymbolMap symbols;
                for (const auto& [name, address] : host_symbols) {
                  symbols[jit.mangleAndIntern(name)] = {
                      llvm::orc::ExecutorAddr::fromPtr(address),
                      llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
                }
                if (!symbols.empty()) {
                  if (llvm::Error error = dylib.define(llvm::orc::absoluteSymbols(symbols))) {
                    return error;
                  }
                }
                return &dylib;
              })
          .create();
  if (!jit) throw fail("cannot create the JIT", error_text(jit.takeError()));
  impl.jit = std::move(*jit);
  impl.jit->getExecutionSession().setErrorReporter([raw = &impl](llvm::Error error) {
    std::lock_guard<std::mutex> lock(raw->session_errors_mutex);
    if (!raw->session_errors.empty()) raw->session_errors += "; ";
    raw->session_errors += llvm::toString(std::move(error));
  });
}

// Source -> optimised LLVM IR; throws with Clang's diagnostics. `warnings` gets the
// diagnostics of a successful compile.
std::unique_ptr<llvm::Module> compile_to_ir(std::string_view source, const JitOptions& options,
                                            llvm::LLVMContext& context, std::string& warnings) {
  check_options(options);
  initialise_llvm();

  // Every diagnostic (driver and compiler) goes to this string, never to stderr.
  std::string diagnostics;
  llvm::raw_string_ostream diagnostics_stream(diagnostics);
  llvm::IntrusiveRefCntPtr<llvm::vfs::FileSystem> file_system = make_file_system(source, options);

  // Driver: turns the flags (-O3, -march=native, ...) into a cc1 invocation, as `clang` would.
  std::vector<std::string> args = driver_arguments(options);
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  auto driver_diagnostic_options = plain_diagnostic_options();
  clang::CreateInvocationOptions invocation_options;
  invocation_options.Diags = clang::CompilerInstance::createDiagnostics(
      driver_diagnostic_options.get(),
      new clang::TextDiagnosticPrinter(diagnostics_stream, driver_diagnostic_options.get()),
      /*ShouldOwnClient=*/true);
  invocation_options.VFS = file_system;
  invocation_options.RecoverOnError = false;
  std::shared_ptr<clang::CompilerInvocation> invocation =
      clang::createInvocation(argv, invocation_options);
  if (!invocation || invocation_options.Diags->hasErrorOccurred()) {
    throw user_error(ErrorCode::kInvalidArgument, "JitOptions::extra_flags",
                     "the compiler rejected its flags: " + trimmed(diagnostics));
  }
  invocation->getDiagnosticOpts().ShowColors = false;  // a tty on stderr would turn them on
  // The driver passes -disable-free (a compiler process exits right after, so clang leaks its
  // AST, Sema and target machine on purpose); a library compiling many kernels must free them.
  invocation->getFrontendOpts().DisableFree = false;
  invocation->getCodeGenOpts().DisableFree = false;

  // Front end and optimiser: source -> optimised LLVM IR in a context of this compile only.
  std::unique_ptr<llvm::Module> module;
  {
    clang::CompilerInstance compiler;
    compiler.setInvocation(std::move(invocation));
    compiler.createDiagnostics(
        new clang::TextDiagnosticPrinter(diagnostics_stream, &compiler.getDiagnosticOpts()),
        /*ShouldOwnClient=*/true);
    compiler.createFileManager(file_system);
    compiler.setVerboseOutputStream(llvm::nulls());  // "N errors generated." would go to stderr
    clang::EmitLLVMOnlyAction action(&context);
    bool compiled = compiler.ExecuteAction(action);
    if (compiled && !compiler.getDiagnostics().hasErrorOccurred()) module = action.takeModule();
  }
  if (!module) throw compile_failure(options, diagnostics, "compilation failed", {});
  warnings = trimmed(diagnostics);
  return module;
}

}  // namespace

std::string compile_cpp_to_object(std::string_view source, const JitOptions& options,
                                  JitTimings* timings, std::string* warnings) {
  auto start = std::chrono::steady_clock::now();
  llvm::LLVMContext context;
  std::string front_end_warnings;
  std::unique_ptr<llvm::Module> module =
      compile_to_ir(source, options, context, front_end_warnings);
  if (warnings != nullptr) *warnings = front_end_warnings;
  if (timings != nullptr) timings->front_end_ms = milliseconds_since(start);
  start = std::chrono::steady_clock::now();
  auto backend_errors = std::make_shared<std::string>();
  context.setDiagnosticHandler(std::make_unique<CollectingDiagnosticHandler>(backend_errors));
  auto fail = [&](std::string_view stage, std::string reason) {
    std::string cause = trimmed(*backend_errors);
    if (!cause.empty()) reason = reason.empty() ? cause : cause + " (" + reason + ")";
    return compile_failure(options, {}, stage, reason);
  };
  // The same target machine the JIT would build (host CPU and features, or the module's triple).
  llvm::Expected<llvm::orc::JITTargetMachineBuilder> builder =
      options.native_cpu ? llvm::orc::JITTargetMachineBuilder::detectHost()
                         : llvm::Expected<llvm::orc::JITTargetMachineBuilder>(
                               llvm::orc::JITTargetMachineBuilder(llvm::Triple(module->getTargetTriple())));
  if (!builder) throw fail("no code generator for the host", error_text(builder.takeError()));
  builder->setCodeGenOptLevel(codegen_level(options.optimization_level));
  llvm::Expected<std::unique_ptr<llvm::TargetMachine>> machine = builder->createTargetMachine();
  if (!machine) throw fail("no code generator for the host", error_text(machine.takeError()));
  module->setDataLayout((*machine)->createDataLayout());
  llvm::SmallVector<char, 0> object;
  llvm::raw_svector_ostream stream(object);
  llvm::legacy::PassManager passes;
  if ((*machine)->addPassesToEmitFile(passes, stream, nullptr, llvm::CodeGenFileType::ObjectFile)) {
    throw fail("code generation failed", "the target cannot emit object files");
  }
  passes.run(*module);
  if (!backend_errors->empty()) throw fail("code generation failed", {});
  if (timings != nullptr) timings->code_generation_ms = milliseconds_since(start);
  return std::string(object.data(), object.size());
}

std::unique_ptr<JitModule> load_object(std::string_view object, const JitOptions& options) {
  check_options(options);
  initialise_llvm();
  auto impl = std::make_unique<JitModule::Impl>();
  auto fail = [&](std::string_view stage, std::string reason) {
    std::string cause = trimmed(impl->take_session_errors());
    if (!cause.empty()) reason = reason.empty() ? cause : cause + " (" + reason + ")";
    return compile_failure(options, {}, stage, reason);
  };
  // Names to link eagerly: every defined global symbol of the object (a broken entry or an
  // unresolved function fails here, not at the first lookup on a hot path).
  std::unique_ptr<llvm::MemoryBuffer> buffer = llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(object.data(), object.size()), options.file_name + ".o");
  llvm::Expected<std::unique_ptr<llvm::object::ObjectFile>> parsed =
      llvm::object::ObjectFile::createObjectFile(buffer->getMemBufferRef());
  if (!parsed) throw fail("not a loadable object file", error_text(parsed.takeError()));
  std::vector<std::string> defined;
  for (const llvm::object::SymbolRef& symbol : (*parsed)->symbols()) {
    llvm::Expected<uint32_t> flags = symbol.getFlags();
    llvm::Expected<llvm::StringRef> name = symbol.getName();
    if (!flags || !name) {
      if (!flags) llvm::consumeError(flags.takeError());
      if (!name) llvm::consumeError(name.takeError());
      continue;
    }
    if ((*flags & llvm::object::BasicSymbolRef::SF_Global) &&
        !(*flags & llvm::object::BasicSymbolRef::SF_Undefined) && !name->empty()) {
      defined.push_back(name->str());
    }
  }
  create_jit(*impl, options, (*parsed)->makeTriple().str(), fail);
  llvm::orc::LLJIT& engine = *impl->jit;
  llvm::orc::JITDylib& main = engine.getMainJITDylib();
  if (llvm::Error error = engine.addObjectFile(std::move(buffer))) {
    throw fail("cannot add the object to the JIT", error_text(std::move(error)));
  }
  if (!defined.empty()) {
    llvm::orc::SymbolLookupSet names;
    for (const std::string& name : defined) names.add(engine.getExecutionSession().intern(name));
    llvm::Expected<llvm::orc::SymbolMap> resolved = engine.getExecutionSession().lookup(
        llvm::orc::makeJITDylibSearchOrder(&main), std::move(names));
    if (!resolved) throw fail("linking failed", error_text(resolved.takeError()));
  }
  // Static constructors of the generated code (none in kernels; cheap when there are none).
  if (llvm::Error error = engine.initialize(main)) {
    throw fail("static initialisation failed", error_text(std::move(error)));
  }
  return std::make_unique<JitModule>(std::move(impl));
}

std::unique_ptr<JitModule> compile_cpp(std::string_view source, const JitOptions& options) {
  JitTimings timings;
  std::string warnings;
  std::string object = compile_cpp_to_object(source, options, &timings, &warnings);
  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<JitModule> module = load_object(object, options);
  timings.code_generation_ms += milliseconds_since(start);
  module->set_compile_report(timings, std::move(warnings));
  return module;
}


std::string jit_compiler_version() {
  return std::string("clang ") + CLANG_VERSION_STRING + " (" + clang::getClangFullVersion() + ")";
}

std::string jit_target_description() {
  // Sorted so the hash does not depend on StringMap's iteration order.
  std::vector<std::string> features;
  for (const auto& feature : llvm::sys::getHostCPUFeatures()) {
    features.push_back((feature.getValue() ? "+" : "-") + feature.getKey().str());
  }
  std::sort(features.begin(), features.end());
  std::string joined;
  for (const std::string& feature : features) joined += feature + ",";
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx",
                static_cast<unsigned long long>(llvm::xxh3_64bits(llvm::StringRef(joined))));
  return llvm::sys::getProcessTriple() + " " + llvm::sys::getHostCPUName().str() +
         " features:" + hash;
}

}  // namespace attncc
