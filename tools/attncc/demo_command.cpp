// `attncc demo`: the main job of the README. Compiles a doc-packed prefix-LM spec for the CPU,
// runs forward and backward on random data with sentinel documents, checks every output
// against the float64 reference, and prints cold-compile, cache-hit and run times.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <unistd.h>

#include "attncc/reference.h"
#include "attncc/runtime.h"
#include "runtime/io/host_tensor.h"
#include "runtime/thread_pool.h"
#include "tools/attncc/commands.h"

namespace attncc::cli {

const CommandInfo kDemoCommand = {
    "demo",
    "attncc demo [--seqlen S] [--heads HQ:HKV] [--seed N]",
    "Compile, run and check a doc-packed prefix-LM kernel on the CPU (the README's main job).",
    "The batch has two rows of S tokens, packed with documents as [B, S, H, D] tensors and\n"
    "cu_seq [B, MAX_DOCS + 1] padded with sentinels (zero-length documents). Each document\n"
    "gets its own prefix length: 0 (plain causal), its whole length (no causal part) or in\n"
    "between. The kernel is compiled into a fresh cache directory (cold compile), then loaded\n"
    "by a second runtime from disk (cache hit); forward and backward are timed and every\n"
    "output is compared with the reference. Exit code 1 if any output is out of tolerance.\n\n"
    "examples:\n"
    "  attncc demo\n"
    "  attncc demo --seqlen 1024 --heads 8:2\n",
    {{"seqlen", "S", "tokens per batch row (default 512)"},
     {"heads", "HQ:HKV", "query and key/value heads (default 8:2, GQA 4:1)"},
     {"seed", "N", "random seed (default 1)"}},
    0,
    0,
};

namespace {

using Clock = std::chrono::steady_clock;

double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::vector<double> random_normal(int64_t count, std::mt19937_64& engine) {
  std::normal_distribution<double> normal;
  std::vector<double> values(count);
  for (double& value : values) value = normal(engine);
  return values;
}

// max |actual - expected| / max |expected| over finite entries; infinities must match exactly.
double relative_error(const std::vector<double>& actual, const std::vector<double>& expected) {
  double scale = 1e-30;
  for (double value : expected) {
    if (std::isfinite(value)) scale = std::max(scale, std::fabs(value));
  }
  double worst = 0;
  for (size_t index = 0; index < actual.size(); ++index) {
    if (std::isnan(actual[index])) return INFINITY;
    if (std::isinf(expected[index]) || std::isinf(actual[index])) {
      if (actual[index] != expected[index]) return INFINITY;
      continue;
    }
    worst = std::max(worst, std::fabs(actual[index] - expected[index]) / scale);
  }
  return worst;
}

}  // namespace

int run_demo(const ParsedArguments& arguments) {
  const int64_t seqlen = arguments.has("seqlen") ? parse_count("seqlen", *arguments.value("seqlen")) : 512;
  if (seqlen < 8) throw user_error(ErrorCode::kInvalidArgument, "--seqlen", "must be at least 8");
  int64_t heads_q = 8;
  int64_t heads_kv = 2;
  if (arguments.has("heads")) {
    std::string text = *arguments.value("heads");
    size_t colon = text.find(':');
    if (colon == std::string::npos) {
      throw user_error(ErrorCode::kInvalidArgument, "--heads", "expected HQ:HKV, e.g. 8:2; got '" + text + "'");
    }
    heads_q = parse_count("heads", text.substr(0, colon));
    heads_kv = parse_count("heads", text.substr(colon + 1));
  }
  const uint64_t seed = arguments.has("seed") ? parse_count("seed", *arguments.value("seed")) : 1;

  const std::string spec_text =
      R"json({"name": "demo_prefix_lm_doc_packed", "layout": "doc_packed", "dtype": "bf16",
          "head_dim": 64, "mask": "prefix($prefix_len[doc])", "backward": true})json";
  Spec spec = Spec::parse(spec_text, "<demo spec>");
  constexpr int64_t kBatch = 2;
  constexpr int64_t kMaxDocs = 4;
  const int64_t head_dim = spec.head_dim;
  // Row 0: three documents and a sentinel; row 1: one document filling the row, three sentinels.
  const int64_t first = seqlen * 2 / 5;
  const int64_t second = seqlen / 5;
  const std::vector<int64_t> cu_seq = {0, first, first + second, seqlen, seqlen,
                                       0, seqlen, seqlen, seqlen, seqlen};
  // Prefix per document slot (b * MAX_DOCS + k): causal, no causal part, in between, ...
  const std::vector<int64_t> prefix_len = {0, second, (seqlen - first - second) / 3, 0,
                                           seqlen / 4, 0, 0, 0};

  std::printf("spec        %s\n", spec.mask_text.c_str());
  std::printf("layout      doc_packed [B=%lld, S=%lld, H=%lld:%lld, D=%lld] bf16, cu_seq rows "
              "{0, %lld, %lld, %lld, %lld} and {0, %lld, %lld, %lld, %lld}\n",
              (long long)kBatch, (long long)seqlen, (long long)heads_q, (long long)heads_kv,
              (long long)head_dim, (long long)cu_seq[0 + 1], (long long)cu_seq[2], (long long)cu_seq[3],
              (long long)cu_seq[4], (long long)cu_seq[6], (long long)cu_seq[7], (long long)cu_seq[8],
              (long long)cu_seq[9]);

  std::mt19937_64 engine(seed);
  ReferenceInputs inputs;
  inputs.shape.layout = Layout::kDocPacked;
  inputs.shape.batch = kBatch;
  inputs.shape.query_rows = inputs.shape.key_rows = seqlen;
  inputs.shape.cu_seq = cu_seq;
  inputs.shape.max_docs = kMaxDocs;
  inputs.heads_q = heads_q;
  inputs.heads_kv = heads_kv;
  inputs.parameters["prefix_len"] = prefix_len;
  const std::vector<int64_t> q_shape = {kBatch, seqlen, heads_q, head_dim};
  const std::vector<int64_t> kv_shape = {kBatch, seqlen, heads_kv, head_dim};
  HostTensor q = from_double(ScalarType::kBFloat16, q_shape, random_normal(kBatch * seqlen * heads_q * head_dim, engine));
  HostTensor k = from_double(ScalarType::kBFloat16, kv_shape, random_normal(kBatch * seqlen * heads_kv * head_dim, engine));
  HostTensor v = from_double(ScalarType::kBFloat16, kv_shape, random_normal(kBatch * seqlen * heads_kv * head_dim, engine));
  HostTensor d_o = from_double(ScalarType::kBFloat16, q_shape, random_normal(kBatch * seqlen * heads_q * head_dim, engine));
  // The reference sees exactly the bf16 values the kernel sees.
  inputs.q = to_double(q.ref());
  inputs.k = to_double(k.ref());
  inputs.v = to_double(v.ref());
  inputs.d_o = to_double(d_o.ref());
  HostTensor o(ScalarType::kBFloat16, q_shape);
  HostTensor lse(ScalarType::kFloat32, {kBatch, heads_q, seqlen});
  HostTensor dq(ScalarType::kBFloat16, q_shape);
  HostTensor dk(ScalarType::kBFloat16, kv_shape);
  HostTensor dv(ScalarType::kBFloat16, kv_shape);
  HostTensor cu_seq_tensor(ScalarType::kInt32, {kBatch, kMaxDocs + 1});
  for (size_t index = 0; index < cu_seq.size(); ++index) cu_seq_tensor.data_as<int32_t>()[index] = static_cast<int32_t>(cu_seq[index]);
  HostTensor prefix_tensor(ScalarType::kInt32, {kBatch * kMaxDocs});
  for (size_t index = 0; index < prefix_len.size(); ++index) prefix_tensor.data_as<int32_t>()[index] = static_cast<int32_t>(prefix_len[index]);

  AttentionArguments call;
  call.q = q.ref();
  call.k = k.ref();
  call.v = v.ref();
  call.o = o.ref();
  call.lse = lse.ref();
  call.d_o = d_o.ref();
  call.dq = dq.ref();
  call.dk = dk.ref();
  call.dv = dv.ref();
  call.cu_seq = cu_seq_tensor.ref();
  call.parameters["prefix_len"] = prefix_tensor.ref();

  // A fresh cache directory makes the first compile really cold.
  const std::filesystem::path cache = std::filesystem::temp_directory_path() /
                                      ("attncc_demo_cache_" + std::to_string(::getpid()));
  std::filesystem::remove_all(cache);
  RuntimeOptions options;
  options.backend = Backend::kCpu;
  options.cache_dir = cache.string();
  Clock::time_point start = Clock::now();
  Runtime cold_runtime(options);
  Kernel kernel = cold_runtime.get(spec);
  const double cold_ms = milliseconds_since(start);
  start = Clock::now();
  Runtime warm_runtime(options);  // like a second process: an empty memory cache
  Kernel loaded = warm_runtime.get(spec);
  const double disk_ms = milliseconds_since(start);
  const bool disk_hit = warm_runtime.stats().disk_hits == 1 && warm_runtime.stats().compiles == 0;
  std::filesystem::remove_all(cache);
  std::printf("kernel      %s (cpu, %d threads)\n", kernel.hash().c_str(),
              resolve_thread_count(cold_runtime.options().num_threads));
  std::printf("compile     %.0f ms cold (Clang JIT, 3 entry points); %.1f ms from the disk cache%s\n",
              cold_ms, disk_ms, disk_hit ? "" : " (MISSED: compiled again)");

  double forward_ms = 1e30;
  double backward_ms = 1e30;
  for (int repeat = 0; repeat < 3; ++repeat) {
    start = Clock::now();
    loaded.forward(call);
    forward_ms = std::min(forward_ms, milliseconds_since(start));
    start = Clock::now();
    loaded.backward(call);
    backward_ms = std::min(backward_ms, milliseconds_since(start));
  }
  std::printf("run         forward %.1f ms, backward %.1f ms (best of 3)\n", forward_ms, backward_ms);

  start = Clock::now();
  ReferenceOutputs expected = reference_attention(spec, inputs);
  const double reference_ms = milliseconds_since(start);
  const double tolerance = 2e-2;
  bool ok = disk_hit;
  std::printf("check       against the float64 reference (%.0f ms), tolerance %.0e (bf16):\n",
              reference_ms, tolerance);
  const std::pair<const char*, std::pair<const HostTensor*, const std::vector<double>*>> outputs[] = {
      {"o", {&o, &expected.o}},    {"lse", {&lse, &expected.lse}}, {"dq", {&dq, &expected.dq}},
      {"dk", {&dk, &expected.dk}}, {"dv", {&dv, &expected.dv}}};
  for (const auto& [name, pair] : outputs) {
    double error = relative_error(to_double(pair.first->ref()), *pair.second);
    bool within = error <= tolerance;
    ok = ok && within;
    std::printf("  %-4s max relative error %.2e  %s\n", name, error, within ? "ok" : "FAILED");
  }
  std::printf("%s\n", ok ? "demo passed: sentinels, a no-causal-part document and GQA 4:1 match the reference"
                         : "demo FAILED");
  return ok ? 0 : 1;
}

}  // namespace attncc::cli
