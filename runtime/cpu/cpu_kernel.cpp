// The CPU backend's kernel (see cpu_kernel.h): lower -> Clang -> object file (disk cache) ->
// ORC -> three entry points, run by cpu_launch.cpp.
#include "runtime/cpu/cpu_kernel.h"

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "attncc/interval_form.h"
#include "compiler/emit/lower_to_cpu.h"
#include "runtime/cpu/cpu_launch.h"
#include "runtime/embedded_templates.h"
#include "runtime/environment.h"
#include "runtime/llvm/clang_jit.h"

namespace attncc {
namespace {

// Bump when the CPU templates' contract with the generated prelude changes.
// 2: the fused backward entry point; 3: WorkItem::part and parts, the split forward and
// backward.
constexpr int kCpuTemplateVersion = 3;
constexpr int kCacheFormatVersion = 1;

JitOptions cpu_jit_options() {
  JitOptions options;
  options.file_name = "generated.cpp";
  for (const EmbeddedFile& file : embedded_templates()) {
    options.headers[std::string(file.path)] = std::string(file.contents);
  }
  return options;
}

class CpuKernel final : public KernelImplementation {
 public:
  CpuKernel(const Spec& spec, std::unique_ptr<JitModule> module, ThreadPool& pool,
            CpuSchedules schedules, RuntimeCounters& counters)
      : KernelImplementation(spec, Backend::kCpu, counters),
        module_(std::move(module)),
        pool_(pool),
        schedules_(schedules) {
    const std::string prefix = cpu_entry_prefix(spec_);
    entries_.forward = module_->lookup_function<void(const AttentionParams*, const WorkItem*, long long)>(prefix + "_forward");
    entries_.forward_split = module_->lookup_function<void(const AttentionParams*, const WorkItem*, long long, float*)>(prefix + "_forward_split");
    entries_.forward_combine = module_->lookup_function<void(const AttentionParams*, const WorkItem*, long long, float*)>(prefix + "_forward_combine");
    entries_.backward_dq = module_->lookup_function<void(const AttentionParams*, const WorkItem*, long long)>(prefix + "_backward_dq");
    entries_.backward_dkdv = module_->lookup_function<void(const AttentionParams*, const WorkItem*, long long)>(prefix + "_backward_dkdv");
    entries_.backward_fused = module_->lookup_function<void(const AttentionParams*, const WorkItem*, long long, float*)>(prefix + "_backward_fused");
    entries_.backward_delta = module_->lookup_function<void(const AttentionParams*, const WorkItem*, long long)>(prefix + "_backward_delta");
    entries_.backward_reduce_dq = module_->lookup_function<void(const AttentionParams*, const WorkItem*, long long, float*)>(prefix + "_backward_reduce_dq");
  }

  void forward(const AttentionArguments& arguments, void*) const override {
    run_cpu_forward(spec_, entries_, tiles_, schedules_.forward, arguments, pool_);
    counters_.forward_launches.fetch_add(1);
  }

  void backward(const AttentionArguments& arguments, void*) const override {
    run_cpu_backward(spec_, entries_, tiles_, schedules_.backward, arguments, pool_);
    counters_.backward_launches.fetch_add(1);
  }

 private:
  std::unique_ptr<JitModule> module_;
  ThreadPool& pool_;
  CpuSchedules schedules_;
  CpuEntryPoints entries_;
  CpuTiles tiles_;
};

}  // namespace

std::string cpu_cache_key(const Spec& spec, const std::string& source) {
  nlohmann::json key = {
      {"format", kCacheFormatVersion},
      {"backend", "cpu"},
      {"spec", spec.canonical_text()},
      {"source", hash128_hex(source)},
      {"templates", embedded_templates_hash()},
      {"template_version", kCpuTemplateVersion},
      {"compiler", jit_compiler_version()},
      {"target", jit_target_description()},
  };
  return key.dump();
}

std::shared_ptr<const KernelImplementation> build_cpu_kernel(const Spec& spec, DiskCache* disk,
                                                             ThreadPool& pool,
                                                             CpuSchedules schedules,
                                                             RuntimeCounters& counters) {
  const std::string source = lower_to_cpu(spec, build_interval_form(spec.mask));
  const std::string key = cpu_cache_key(spec, source);
  const JitOptions options = cpu_jit_options();
  if (disk != nullptr) {
    if (std::optional<std::string> object = disk->load(key)) {
      try {
        auto kernel = std::make_shared<CpuKernel>(spec, load_object(*object, options), pool,
                                                  schedules, counters);
        counters.disk_hits.fetch_add(1);
        return kernel;
      } catch (const Error& error) {
        // An entry that passed its checksum but does not load (another LLVM wrote it?) is rebuilt.
        std::fprintf(stderr, "attncc: warning: cached kernel for spec %s did not load (%s); rebuilding\n",
                     spec_hash(spec).c_str(), error.what());
      }
    }
  }
  if (no_compile_asserted()) {
    throw Error(ErrorCode::kInternal,
                "attncc: ATTNCC_ASSERT_NO_COMPILE=1 but spec " + spec_hash(spec) +
                    " is not in the cache (" + (disk ? disk->directory() : std::string("no disk cache")) +
                    ") and would be compiled");
  }
  std::string object = compile_cpp_to_object(source, options);
  counters.compiles.fetch_add(1);
  if (disk != nullptr) disk->store(key, object);
  return std::make_shared<CpuKernel>(spec, load_object(object, options), pool, schedules,
                                     counters);
}

}  // namespace attncc
