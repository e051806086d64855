// `attncc bench`: times the CPU kernels of the mask families against the dense (full-mask)
// kernel in the same run, and the compile, cache and dispatch latencies. Prints; asserts
// nothing (the CLI test checks only the shape of the output).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "attncc/error.h"
#include "attncc/runtime.h"
#include "compiler/emit/lower_to_cpu.h"
#include "runtime/argument_validation.h"
#include "tools/attncc/bench_problem.h"
#include "tools/attncc/commands.h"

namespace attncc::cli {

const CommandInfo kBenchCommand = {
    "bench",
    "attncc bench [--backend cpu] [--specs LIST] [--seqlen LIST] [--head-dim D] [--dtype T] "
    "[--heads H] [--repeat N] [--budget SECONDS] [--threads N] [--json] [--quick]",
    "Time the CPU kernels against the dense kernel; JIT, cache and dispatch latencies.",
    "For each spec and sequence length S the forward and the forward+backward are run once to\n"
    "warm up and then up to --repeat times, fewer once a measurement has used --budget\n"
    "seconds; times are the median (min-max) in milliseconds, xN the number of timed runs. A\n"
    "first run longer than the budget is the one timed run (marked '*', no warm-up). The\n"
    "dense baseline is the 'full' mask at the same S, dtype, head dim and heads, timed in the\n"
    "same run; 'dense/fwd' is its time divided by the spec's. 'skipped' is the share of the\n"
    "dense S x S area that lies in no 64 x 64 tile the interval form's tile iteration visits\n"
    "(tiles are cut per document; --json also gives the count of tiles).\n"
    "GFLOP/s count attended (i, j) pairs only, as FlashAttention does: forward 4*pairs*D per\n"
    "head, backward 2.5 times that (5 matmuls), so forward+backward is 14*pairs*D per head.\n\n"
    "specs (all in memory, no files needed):\n"
    "  causal      mask 'causal', dense layout [1, S, H, D]\n"
    "  doc_packed  mask 'causal', doc_packed layout: 8 uneven documents in one row of S\n"
    "              tokens, MAX_DOCS 10 (2 sentinels)\n"
    "  window      mask 'causal & window(256, 0)', dense layout\n"
    "  prefix_lm   mask 'prefix($p[doc])', varlen layout: 8 uneven documents, $p a quarter of\n"
    "              each document\n\n"
    "Latencies: cold JIT compile per kernel (a fresh cache directory, removed afterwards), a\n"
    "disk-cache hit (a new Runtime on that directory: load only), a Runtime::get hit in memory,\n"
    "and the dispatch overhead of Kernel::forward on 1 document of 1 token and 1 head, split\n"
    "into argument validation and the rest, plus a 2-thread pool wake-up.\n\n"
    "Threads default to 1 so numbers are single-thread; give --threads to see scaling. Progress\n"
    "goes to stderr, the tables (or --json) to stdout. Times on a shared machine are noisy:\n"
    "the header shows the load average before and after, and 'cpu%' the share of the wall\n"
    "time the process was on its cores (well under 100%: other jobs held them).\n\n"
    "examples:\n"
    "  attncc bench                                   # the default run, a few minutes\n"
    "  attncc bench --quick                           # a smoke run, about 20 s\n"
    "  attncc bench --specs causal,window --seqlen 4096 --repeat 5\n"
    "  attncc bench --threads 2 --specs causal --seqlen 4096   # thread scaling\n"
    "  attncc bench --quick --json > bench.json\n",
    {{"backend", "NAME", "backend to time (only 'cpu' so far)"},
     {"specs", "LIST", "comma-separated: causal,doc_packed,window,prefix_lm (default all)"},
     {"seqlen", "LIST", "comma-separated sequence lengths S (default 2048,4096,8192)"},
     {"head-dim", "D", "head dimension of Q, K and V (default 128)"},
     {"dtype", "T", "bf16, fp16 or fp32 (default bf16)"},
     {"heads", "H", "query and key/value heads (default 8)"},
     {"repeat", "N", "timed runs per measurement after one warm-up (default 3)"},
     {"budget", "SECONDS", "stop repeating a measurement once it took this long, warm-up "
                           "included; at least 1 timed run (default 20)"},
     {"threads", "N", "CPU worker threads including the caller (default 1)"},
     {"dispatch-calls", "N",
      "Kernel::forward calls timed for the dispatch overhead (default 20000)"},
     {"json", "", "print one JSON object instead of the tables"},
     {"quick", "", "smoke run: S 1024, 4 heads, 2 repeats, budget 5 s, 2000 dispatch calls "
                   "(explicit options still win)"}},
    0,
    0,
};

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

template <typename Function>
double time_once(Function&& function) {
  Clock::time_point start = Clock::now();
  function();
  return seconds_since(start);
}

// CPU time of the whole process: on a shared machine, wall time includes the time other jobs
// held the core; CPU time / wall time says how much of a timing was really ours.
double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

struct Summary {
  double median = 0;
  double min = 0;
  double max = 0;
  int64_t runs = 0;
  bool warmed_up = true;  ///< false: one run longer than the budget, timed without a warm-up
  double wall_total = 0;  ///< seconds, all timed runs
  double cpu_total = 0;   ///< process CPU seconds over the same runs (measure() only)
};

Summary summarise(std::vector<double> samples) {
  Summary summary;
  if (samples.empty()) return summary;
  std::sort(samples.begin(), samples.end());
  size_t middle = samples.size() / 2;
  summary.median = samples.size() % 2 ? samples[middle]
                                       : 0.5 * (samples[middle - 1] + samples[middle]);
  summary.min = samples.front();
  summary.max = samples.back();
  summary.runs = static_cast<int64_t>(samples.size());
  for (double sample : samples) summary.wall_total += sample;
  return summary;
}

// Up to `repeat` timed calls after `warm_up` untimed ones, each timed on its own; stops early
// once the whole measurement (warm-up included) has taken `budget` seconds, after at least one
// timed call. The budget is what keeps an 8k dense forward+backward (about a minute a call on
// one core) from turning the default run into a quarter of an hour. A warm-up call that alone
// exceeds the budget is kept as the one timed call: what a warm-up absorbs (page faults, cold
// caches) is milliseconds at most, noise next to such a call, and repeating it doubles the run.
template <typename Function>
Summary measure(int64_t warm_up, int64_t repeat, double budget, Function&& function) {
  const Clock::time_point start = Clock::now();
  for (int64_t index = 0; index < warm_up; ++index) {
    const double cpu_start = process_cpu_seconds();
    const double seconds = time_once(function);
    if (seconds >= budget) {
      Summary summary = summarise({seconds});
      summary.warmed_up = false;
      summary.cpu_total = process_cpu_seconds() - cpu_start;
      return summary;
    }
  }
  std::vector<double> samples;
  samples.reserve(static_cast<size_t>(repeat));
  const double cpu_start = process_cpu_seconds();
  for (int64_t index = 0; index < repeat; ++index) {
    samples.push_back(time_once(function));
    if (seconds_since(start) >= budget) break;
  }
  const double cpu_total = process_cpu_seconds() - cpu_start;
  Summary summary = summarise(std::move(samples));
  summary.cpu_total = cpu_total;
  return summary;
}

constexpr double kNoBudget = 1e300;

double ratio(double numerator, double denominator) {
  return denominator > 0 ? numerator / denominator : 0.0;
}

nlohmann::json summary_json(const Summary& summary, double unit) {
  return {{"median", summary.median * unit}, {"min", summary.min * unit},
          {"max", summary.max * unit}, {"runs", summary.runs}, {"warmed_up", summary.warmed_up},
          {"cpu_fraction", ratio(summary.cpu_total, summary.wall_total)}};
}

std::vector<std::string> split_list(const std::string& option, const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, ',');) {
    if (part.empty()) {
      throw user_error(ErrorCode::kInvalidArgument, "--" + option,
                       "empty item in '" + text + "'", "separate items with single commas");
    }
    parts.push_back(part);
  }
  if (parts.empty()) throw user_error(ErrorCode::kInvalidArgument, "--" + option, "is empty");
  return parts;
}

int64_t positive(const std::string& option, const std::string& text) {
  int64_t value = parse_count(option, text);
  if (value == 0) throw user_error(ErrorCode::kInvalidArgument, "--" + option, "must be positive");
  return value;
}

double parse_seconds(const std::string& option, const std::string& text) {
  try {
    size_t used = 0;
    double value = std::stod(text, &used);
    if (used == text.size() && value > 0) return value;
  } catch (const std::logic_error&) {
  }
  throw user_error(ErrorCode::kInvalidArgument, "--" + option,
                   "expected a positive number of seconds; got '" + text + "'");
}

DType parse_dtype(const std::string& text) {
  for (DType dtype : {DType::kBFloat16, DType::kFloat16, DType::kFloat32}) {
    if (text == dtype_name(dtype)) return dtype;
  }
  throw user_error(ErrorCode::kInvalidArgument, "--dtype", "unknown dtype '" + text + "'",
                   "use bf16, fp16 or fp32");
}

std::string cpu_model() {
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

std::string load_average() {
  std::ifstream file("/proc/loadavg");
  std::string one, five, fifteen;
  file >> one >> five >> fifteen;
  return one.empty() ? "unknown" : one + " " + five + " " + fifteen;
}

// A cache directory of our own, removed on exit, so the first get() of each kernel compiles.
class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "attncc-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw user_error(ErrorCode::kIo, pattern, "cannot create a temporary cache directory",
                       "set TMPDIR to a writable directory");
    }
    path_ = pattern;
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Options {
  std::vector<std::string> families;  ///< "full" first, then the requested ones
  std::vector<int64_t> seqlens;
  BenchShape shape;
  int64_t repeat = 3;
  double budget = 20;  ///< seconds per measurement, warm-up included
  int threads = 1;
  int64_t dispatch_calls = 20000;
  bool json = false;
  bool quick = false;
};

Options parse_options(const ParsedArguments& arguments) {
  Options options;
  options.quick = arguments.has("quick");
  options.json = arguments.has("json");
  if (std::string backend = arguments.value("backend").value_or("cpu"); backend != "cpu") {
    parse_backend(backend);  // unknown names get the library's message
    throw user_error(ErrorCode::kUnsupported, "--backend " + backend,
                     "only the cpu backend can be benchmarked so far", "use --backend cpu");
  }
  options.families = {"full"};
  std::vector<std::string> requested = {"causal", "doc_packed", "window", "prefix_lm"};
  if (arguments.has("specs")) requested = split_list("specs", *arguments.value("specs"));
  for (const std::string& family : requested) {
    bench_spec(family, DType::kBFloat16, 128);  // rejects unknown names with the list
    if (std::find(options.families.begin(), options.families.end(), family) ==
        options.families.end()) {
      options.families.push_back(family);
    }
  }
  if (arguments.has("seqlen")) {
    for (const std::string& item : split_list("seqlen", *arguments.value("seqlen"))) {
      options.seqlens.push_back(positive("seqlen", item));
    }
  } else {
    options.seqlens = options.quick ? std::vector<int64_t>{1024}
                                    : std::vector<int64_t>{2048, 4096, 8192};
  }
  options.shape.heads = options.quick ? 4 : 8;
  if (arguments.has("heads")) options.shape.heads = positive("heads", *arguments.value("heads"));
  if (arguments.has("head-dim")) {
    options.shape.head_dim = static_cast<int>(positive("head-dim", *arguments.value("head-dim")));
  }
  if (arguments.has("dtype")) options.shape.dtype = parse_dtype(*arguments.value("dtype"));
  options.repeat = options.quick ? 2 : 3;
  if (arguments.has("repeat")) options.repeat = positive("repeat", *arguments.value("repeat"));
  options.budget = options.quick ? 5 : 20;
  if (arguments.has("budget")) options.budget = parse_seconds("budget", *arguments.value("budget"));
  if (arguments.has("threads")) {
    options.threads = static_cast<int>(positive("threads", *arguments.value("threads")));
  }
  options.dispatch_calls = options.quick ? 2000 : 20000;
  if (arguments.has("dispatch-calls")) {
    options.dispatch_calls = positive("dispatch-calls", *arguments.value("dispatch-calls"));
  }
  return options;
}

void progress(const char* format, ...) __attribute__((format(printf, 1, 2)));
void progress(const char* format, ...) {
  va_list list;
  va_start(list, format);
  std::fputs("[bench] ", stderr);
  std::vfprintf(stderr, format, list);
  std::fputc('\n', stderr);
  va_end(list);
}

// ---- latencies ----

struct KernelLatency {
  std::string family;
  double cold_compile = 0;  ///< seconds
  Summary disk_hit;         ///< seconds
};

struct Latencies {
  std::vector<KernelLatency> kernels;
  Summary runtime_construction;  ///< seconds, Runtime on an existing cache directory
  Summary memory_hit;            ///< seconds per Runtime::get answered from memory
  Summary dispatch;              ///< seconds per Kernel::forward, 1 token, 1 head
  Summary validation;            ///< seconds per validate_arguments of the same call
  Summary dispatch_pool;         ///< 2 work items on a 2-thread pool
  std::string dispatch_spec;
};

// Loads are about a millisecond: enough repeats that the median and min shrug off a preemption.
constexpr int64_t kDiskHitRepeats = 20;

// Compiles every kernel cold in `runtime` (whose cache directory is fresh), then loads each
// from disk in new runtimes. The kernels stay in `runtime` for the timing runs.
void measure_compile_and_cache(Runtime& runtime, const RuntimeOptions& runtime_options,
                               const Options& options, Latencies& latencies) {
  for (const std::string& family : options.families) {
    Spec spec = bench_spec(family, options.shape.dtype, options.shape.head_dim);
    progress("cold compile: %s", family.c_str());
    const int64_t compiles = runtime.stats().compiles;
    KernelLatency latency{family, time_once([&] { runtime.get(spec); }), {}};
    if (runtime.stats().compiles != compiles + 1) {
      throw Error(ErrorCode::kInternal, "attncc bench: the cold get() of '" + family +
                                            "' did not compile (is the cache directory fresh?)");
    }
    latencies.kernels.push_back(latency);
  }
  progress("disk-cache hits: %lld new runtimes", static_cast<long long>(kDiskHitRepeats));
  std::vector<double> constructions;
  std::vector<std::vector<double>> loads(options.families.size());
  for (int64_t repeat = 0; repeat < kDiskHitRepeats; ++repeat) {
    std::unique_ptr<Runtime> fresh;
    constructions.push_back(time_once([&] { fresh = std::make_unique<Runtime>(runtime_options); }));
    for (size_t index = 0; index < options.families.size(); ++index) {
      Spec spec = bench_spec(options.families[index], options.shape.dtype, options.shape.head_dim);
      loads[index].push_back(time_once([&] { fresh->get(spec); }));
    }
    RuntimeStats stats = fresh->stats();
    if (stats.compiles != 0 || stats.disk_hits != static_cast<int64_t>(options.families.size())) {
      throw Error(ErrorCode::kInternal, "attncc bench: a runtime on the warm cache directory "
                                        "compiled instead of loading from disk");
    }
  }
  latencies.runtime_construction = summarise(constructions);
  for (size_t index = 0; index < options.families.size(); ++index) {
    latencies.kernels[index].disk_hit = summarise(loads[index]);
  }
  Spec spec = bench_spec(options.families.back(), options.shape.dtype, options.shape.head_dim);
  latencies.memory_hit = measure(10, 1000, kNoBudget, [&] { runtime.get(spec); });
}

void measure_dispatch(Runtime& runtime, const RuntimeOptions& runtime_options,
                      const Options& options, Latencies& latencies) {
  // The smallest legal call: one document of one token, one head, so the kernel itself is a
  // few hundred nanoseconds and the rest is what every call pays.
  const std::string family = options.families.size() > 1 ? options.families[1] : "full";
  latencies.dispatch_spec = family;
  Spec spec = bench_spec(family, options.shape.dtype, options.shape.head_dim);
  BenchShape tiny = options.shape;
  tiny.seqlen = 1;
  tiny.heads = 1;
  BenchProblem problem(family, spec, tiny);
  Kernel kernel = runtime.get(spec);
  progress("dispatch: %lld Kernel::forward calls on %s, 1 token, 1 head",
           static_cast<long long>(options.dispatch_calls), family.c_str());
  const int64_t warm_up = std::max<int64_t>(10, options.dispatch_calls / 10);
  latencies.dispatch = measure(warm_up, options.dispatch_calls, kNoBudget,
                               [&] { kernel.forward(problem.arguments()); });
  latencies.validation = measure(warm_up, options.dispatch_calls, kNoBudget, [&] {
    validate_arguments(spec, problem.arguments(), Pass::kForward, DeviceKind::kCpu);
  });
  // Two work items (2 heads) on a 2-thread pool: the caller must wake a worker and wait for it.
  RuntimeOptions pooled = runtime_options;
  pooled.num_threads = 2;
  Runtime pooled_runtime(pooled);
  Kernel pooled_kernel = pooled_runtime.get(spec);
  tiny.heads = 2;
  BenchProblem two_heads(family, spec, tiny);
  latencies.dispatch_pool = measure(warm_up, options.dispatch_calls, kNoBudget,
                                    [&] { pooled_kernel.forward(two_heads.arguments()); });
}

// ---- kernel timings ----

struct KernelTiming {
  std::string family;
  std::string mask;
  std::string layout;
  int64_t seqlen = 0;
  int64_t documents = 0;
  WorkCount work;
  Summary forward;           ///< seconds
  Summary forward_backward;  ///< seconds
  double dense_forward = 0;  ///< median seconds of 'full' at the same S
  double dense_forward_backward = 0;
};

double forward_flops(const KernelTiming& timing, const BenchShape& shape) {
  return 4.0 * static_cast<double>(timing.work.attended_pairs) * shape.head_dim * shape.heads;
}

KernelTiming time_kernel(Runtime& runtime, const std::string& family, const Options& options,
                         int64_t seqlen) {
  Spec spec = bench_spec(family, options.shape.dtype, options.shape.head_dim);
  BenchShape shape = options.shape;
  shape.seqlen = seqlen;
  BenchProblem problem(family, spec, shape);
  Kernel kernel = runtime.get(spec);
  KernelTiming timing;
  timing.family = family;
  timing.mask = spec.mask_text;
  timing.layout = std::string(layout_name(spec.layout));
  timing.seqlen = seqlen;
  timing.documents = problem.real_documents();
  const CpuTiles tiles;
  timing.work = problem.count_work(tiles.query, tiles.key);
  const AttentionArguments& arguments = problem.arguments();
  progress("%s S=%lld: forward, 1 warm-up + up to %lld runs", family.c_str(),
           static_cast<long long>(seqlen), static_cast<long long>(options.repeat));
  timing.forward = measure(1, options.repeat, options.budget, [&] { kernel.forward(arguments); });
  progress("%s S=%lld: forward+backward, 1 warm-up + up to %lld runs (forward median %.1f ms)",
           family.c_str(), static_cast<long long>(seqlen), static_cast<long long>(options.repeat),
           timing.forward.median * 1e3);
  timing.forward_backward = measure(1, options.repeat, options.budget, [&] {
    kernel.forward(arguments);
    kernel.backward(arguments);
  });
  return timing;
}

// ---- output ----

std::string range_text(const Summary& summary) {
  char text[64];
  std::snprintf(text, sizeof text, "%.1f (%.1f-%.1f) x%lld%s", summary.median * 1e3,
                summary.min * 1e3, summary.max * 1e3, static_cast<long long>(summary.runs),
                summary.warmed_up ? "" : "*");
  return text;
}

void print_tables(const Options& options, const std::vector<KernelTiming>& timings,
                  const Latencies& latencies, const std::string& load_before,
                  const std::string& load_after) {
  const BenchShape& shape = options.shape;
  std::printf("attncc bench: backend cpu, %d thread%s, %s, D %d, %lld heads, up to %lld runs "
              "after 1 warm-up, budget %g s per measurement\n",
              options.threads, options.threads == 1 ? "" : "s",
              std::string(dtype_name(shape.dtype)).c_str(), shape.head_dim,
              static_cast<long long>(shape.heads), static_cast<long long>(options.repeat),
              options.budget);
  std::printf("machine: %s, %u logical CPUs; load average before %s, after %s\n",
              cpu_model().c_str(), std::thread::hardware_concurrency(), load_before.c_str(),
              load_after.c_str());
  std::printf("times in ms: median (min-max) xN timed runs (* = one run longer than the budget, "
              "no warm-up);\ndense/x = time of the 'full' mask at the same S divided by x; "
              "skipped = share of the dense S x S area\nin no visited 64x64 tile; GFLOP/s on "
              "attended pairs only: fwd 4*pairs*D*H, fwd+bwd 14*pairs*D*H;\n"
              "cpu%% = process CPU time / (wall time x threads) over the timed runs: below "
              "100%%, other jobs held the cores\n\n");
  std::printf("%-11s %6s %4s %7s  %-28s %9s %8s  %-28s %9s %8s %5s\n", "spec", "S", "docs",
              "skipped", "fwd_ms", "dense/fwd", "fwd_GF/s", "fwd+bwd_ms", "dense/f+b",
              "f+b_GF/s", "cpu%");
  for (const KernelTiming& timing : timings) {
    const double flops = forward_flops(timing, shape);
    // Share of the timed wall time this process was on its cores: well under 100% means other
    // jobs held them and the times are inflated by as much.
    const double wall = timing.forward.wall_total + timing.forward_backward.wall_total;
    const double cpu_share = ratio(timing.forward.cpu_total + timing.forward_backward.cpu_total,
                                   wall * options.threads);
    std::printf("%-11s %6lld %4lld %6.1f%%  %-28s %9.2f %8.1f  %-28s %9.2f %8.1f %4.0f%%\n",
                timing.family.c_str(), static_cast<long long>(timing.seqlen),
                static_cast<long long>(timing.documents),
                100.0 * timing.work.skipped_area_fraction(), range_text(timing.forward).c_str(),
                ratio(timing.dense_forward, timing.forward.median),
                ratio(flops, timing.forward.median) * 1e-9,
                range_text(timing.forward_backward).c_str(),
                ratio(timing.dense_forward_backward, timing.forward_backward.median),
                ratio(3.5 * flops, timing.forward_backward.median) * 1e-9, 100.0 * cpu_share);
  }

  std::printf("\nlatency (fresh cache directory; disk hit = a new Runtime's get, %lld runtimes)\n",
              static_cast<long long>(kDiskHitRepeats));
  std::printf("%-11s %16s %12s %16s\n", "kernel", "cold_compile_ms", "disk_hit_ms",
              "disk_hit_min_ms");
  double worst_compile = 0;
  double worst_disk = 0;
  for (const KernelLatency& kernel : latencies.kernels) {
    std::printf("%-11s %16.1f %12.2f %16.2f\n", kernel.family.c_str(), kernel.cold_compile * 1e3,
                kernel.disk_hit.median * 1e3, kernel.disk_hit.min * 1e3);
    worst_compile = std::max(worst_compile, kernel.cold_compile);
    worst_disk = std::max(worst_disk, kernel.disk_hit.median);
  }
  std::printf("Runtime construction (thread pool, cache directory): %.3f ms median\n",
              latencies.runtime_construction.median * 1e3);
  std::printf("Runtime::get, hit in memory: %.2f us median of %lld\n",
              latencies.memory_hit.median * 1e6, static_cast<long long>(latencies.memory_hit.runs));
  std::printf("Kernel::forward dispatch (%s, 1 token, 1 head): %.2f us median, %.2f us min, "
              "%lld calls, cpu %.0f%%\n",
              latencies.dispatch_spec.c_str(), latencies.dispatch.median * 1e6,
              latencies.dispatch.min * 1e6, static_cast<long long>(latencies.dispatch.runs),
              100.0 * ratio(latencies.dispatch.cpu_total, latencies.dispatch.wall_total));
  std::printf("  of which argument validation: %.2f us median; launch and kernel: %.2f us\n",
              latencies.validation.median * 1e6,
              (latencies.dispatch.median - latencies.validation.median) * 1e6);
  std::printf("  2 heads on a 2-thread pool (worker wake-up): %.2f us median\n",
              latencies.dispatch_pool.median * 1e6);
  auto verdict = [](bool met) { return met ? "met" : "MISSED"; };
  std::printf("\ntargets: cold compile < 2 s: worst %.2f s (%s); disk-cache hit < 5 ms: worst "
              "%.2f ms (%s); dispatch < 2 us: %.2f us (%s)\n",
              worst_compile, verdict(worst_compile < 2.0), worst_disk * 1e3,
              verdict(worst_disk < 5e-3), latencies.dispatch.median * 1e6,
              verdict(latencies.dispatch.median < 2e-6));
}

nlohmann::json to_json(const Options& options, const std::vector<KernelTiming>& timings,
                       const Latencies& latencies, const std::string& load_before,
                       const std::string& load_after) {
  const BenchShape& shape = options.shape;
  nlohmann::json kernels = nlohmann::json::array();
  for (const KernelTiming& timing : timings) {
    const double flops = forward_flops(timing, shape);
    kernels.push_back({
        {"spec", timing.family},
        {"mask", timing.mask},
        {"layout", timing.layout},
        {"seqlen", timing.seqlen},
        {"documents", timing.documents},
        {"tiles_dense_per_head", timing.work.dense_tiles},
        {"tiles_visited_per_head", timing.work.visited_tiles},
        {"tiles_skipped_fraction", timing.work.skipped_fraction()},
        {"area_skipped_fraction", timing.work.skipped_area_fraction()},
        {"pairs_dense_per_head", timing.work.dense_pairs},
        {"pairs_computed_per_head", timing.work.computed_pairs},
        {"pairs_attended_per_head", timing.work.attended_pairs},
        {"forward_ms", summary_json(timing.forward, 1e3)},
        {"forward_backward_ms", summary_json(timing.forward_backward, 1e3)},
        {"dense_over_forward", ratio(timing.dense_forward, timing.forward.median)},
        {"dense_over_forward_backward",
         ratio(timing.dense_forward_backward, timing.forward_backward.median)},
        {"forward_gflops", ratio(flops, timing.forward.median) * 1e-9},
        {"forward_backward_gflops", ratio(3.5 * flops, timing.forward_backward.median) * 1e-9},
    });
  }
  nlohmann::json compile = nlohmann::json::object();
  nlohmann::json disk = nlohmann::json::object();
  for (const KernelLatency& kernel : latencies.kernels) {
    compile[kernel.family] = kernel.cold_compile * 1e3;
    disk[kernel.family] = summary_json(kernel.disk_hit, 1e3);
  }
  return {
      {"backend", "cpu"},
      {"threads", options.threads},
      {"dtype", std::string(dtype_name(shape.dtype))},
      {"head_dim", shape.head_dim},
      {"heads", shape.heads},
      {"repeat", options.repeat},
      {"budget_seconds", options.budget},
      {"warm_up", 1},
      {"machine", {{"cpu", cpu_model()}, {"logical_cpus", std::thread::hardware_concurrency()}}},
      {"load_average", {{"before", load_before}, {"after", load_after}}},
      {"flop_convention",
       "attended pairs only: forward 4*pairs*D*heads, forward+backward 14*pairs*D*heads "
       "(backward = 2.5x forward)"},
      {"tile", {CpuTiles{}.query, CpuTiles{}.key}},
      {"kernels", kernels},
      {"latency",
       {{"cold_compile_ms", compile},
        {"disk_hit_ms", disk},
        {"runtime_construction_ms", summary_json(latencies.runtime_construction, 1e3)},
        {"memory_hit_us", summary_json(latencies.memory_hit, 1e6)},
        {"dispatch_spec", latencies.dispatch_spec},
        {"dispatch_forward_us", summary_json(latencies.dispatch, 1e6)},
        {"validation_us", summary_json(latencies.validation, 1e6)},
        {"dispatch_two_threads_two_items_us", summary_json(latencies.dispatch_pool, 1e6)}}},
  };
}

}  // namespace

int run_bench(const ParsedArguments& arguments) {
  const Options options = parse_options(arguments);
  const std::string load_before = load_average();
  TemporaryDirectory cache;
  RuntimeOptions runtime_options;
  runtime_options.backend = Backend::kCpu;
  runtime_options.cache_dir = cache.path();
  runtime_options.num_threads = options.threads;
  Runtime runtime(runtime_options);

  Latencies latencies;
  measure_compile_and_cache(runtime, runtime_options, options, latencies);
  measure_dispatch(runtime, runtime_options, options, latencies);

  std::vector<KernelTiming> timings;
  for (int64_t seqlen : options.seqlens) {
    size_t dense_row = timings.size();
    for (const std::string& family : options.families) {
      timings.push_back(time_kernel(runtime, family, options, seqlen));
      // 'full' runs first at each S, so every later row has its baseline.
      timings.back().dense_forward = timings[dense_row].forward.median;
      timings.back().dense_forward_backward = timings[dense_row].forward_backward.median;
    }
  }
  const std::string load_after = load_average();
  if (options.json) {
    nlohmann::json report = to_json(options, timings, latencies, load_before, load_after);
    std::printf("%s\n", report.dump(2).c_str());
  } else {
    print_tables(options, timings, latencies, load_before, load_after);
  }
  return 0;
}

}  // namespace attncc::cli
