// `attncc testgen SPEC --cases N --seed S --out DIR`: conformance vectors for any attention
// implementation: edge-biased inputs and the float64 reference's outputs as safetensors files plus
// a JSON manifest (runtime/io/test_vectors.h, docs/TESTGEN.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include "attncc/spec.h"
#include "runtime/io/test_vectors.h"
#include "tools/attncc/commands.h"

namespace attncc::cli {

const CommandInfo kTestgenCommand = {
    "testgen",
    "attncc testgen SPEC --cases N --seed S --out DIR [--dtype bf16|fp16|fp32] [--head-dim D] "
    "[--gqa HQ:HKV]",
    "Write conformance vectors: edge-biased cases with the float64 reference's outputs.",
    "Writes DIR/case_0000.safetensors ... and DIR/manifest.json (docs/TESTGEN.md). Each case file\n"
    "holds the inputs, named as 'attncc run' reads them (q, k, v, do, the layout arrays, one\n"
    "int32 tensor per mask parameter, alibi_slopes), and the expected o, lse, dq, dk, dv\n"
    "(float32) from the float64 reference. The manifest has the spec's canonical text and hash,\n"
    "the tolerances per dtype and, per case, its shapes, layout arrays, documents and what it\n"
    "stresses.\n\n"
    "Cases cycle through themes: sentinels, 1-token documents and padded offsets with a K/V past\n"
    "slot; Lq != Lk both ways (dense, varlen); a document longer than the mask's constant\n"
    "(window, chunk) next to documents inside it; large logits; random. GQA cycles through\n"
    "2:2, 4:1, 2:1, 8:1 unless --gqa fixes it; mask parameters $p[doc] cycle through 0, the\n"
    "document length, a value inside it and one past its end.\n\n"
    "The same spec, options and seed give byte-identical files on every platform (inputs are\n"
    "integer multiples of 1/64, exact in every dtype, drawn by a fixed generator); case k does\n"
    "not depend on --cases. DIR is created if needed; case files of an earlier run numbered N or\n"
    "more are removed. Progress goes to standard error.\n\n"
    "examples:\n"
    "  attncc testgen specs/prefix_lm_docs.json --cases 16 --seed 1 --out vectors/prefix_lm\n"
    "  attncc testgen specs/doc_packed_causal.json --cases 8 --seed 7 --out /tmp/dp \\\n"
    "      --dtype fp32 --head-dim 64\n"
    "  attncc testgen specs/gqa_8to1.json --cases 4 --seed 3 --out /tmp/gqa --gqa 8:1\n"
    "  python3 docs/check_with_pytorch.py vectors/prefix_lm   # check PyTorch SDPA against them\n",
    {{"cases", "N", "number of cases to write"},
     {"seed", "S", "random seed (an unsigned 64-bit integer)"},
     {"out", "DIR", "output directory"},
     {"dtype", "NAME", "bf16, fp16 or fp32: the dtype of the inputs (default: the spec's)"},
     {"head-dim", "D", "head dimension of Q, K and V (default: the spec's): 32, 64, 96, 128, 256"},
     {"gqa", "HQ:HKV", "query and kv heads of every case, e.g. 8:1 (default: cycle)"}},
    1,
    1,
};

namespace {

// Parses "8:1" into (8, 1).
std::pair<int64_t, int64_t> parse_gqa(const std::string& text) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos) {
    throw user_error(ErrorCode::kInvalidArgument, "--gqa",
                     "expected HQ:HKV (query heads : kv heads); got '" + text + "'",
                     "e.g. --gqa 8:1");
  }
  const int64_t heads_q = parse_count("gqa", text.substr(0, colon));
  const int64_t heads_kv = parse_count("gqa", text.substr(colon + 1));
  if (heads_q == 0 || heads_kv == 0 || heads_q % heads_kv != 0 || heads_q > 64) {
    throw user_error(ErrorCode::kInvalidArgument, "--gqa",
                     "'" + text + "' is not a GQA ratio attncc tests",
                     "query heads (at most 64) must be a positive multiple of kv heads, e.g. 8:1");
  }
  return {heads_q, heads_kv};
}

}  // namespace

int run_testgen(const ParsedArguments& arguments) {
  for (const char* option : {"cases", "seed", "out"}) {
    if (!arguments.has(option)) {
      throw user_error(ErrorCode::kInvalidArgument, "attncc testgen",
                       std::string("missing --") + option, "usage: " + kTestgenCommand.usage);
    }
  }
  const int64_t count = parse_count("cases", *arguments.value("cases"));
  if (count == 0 || count > 10000) {
    throw user_error(ErrorCode::kInvalidArgument, "--cases",
                     "expected 1 to 10000 cases; got " + std::to_string(count));
  }
  TestVectorOptions options;
  options.seed = static_cast<uint64_t>(parse_count("seed", *arguments.value("seed")));
  if (arguments.has("gqa")) {
    std::tie(options.heads_q, options.heads_kv) = parse_gqa(*arguments.value("gqa"));
  }
  std::optional<DType> dtype;
  if (arguments.has("dtype")) {
    dtype = parse_dtype_name(*arguments.value("dtype"));
    if (!dtype) {
      throw user_error(ErrorCode::kInvalidArgument, "--dtype",
                       "unknown dtype '" + *arguments.value("dtype") + "'",
                       "use bf16, fp16 or fp32");
    }
  }
  std::optional<int> head_dim;
  if (arguments.has("head-dim")) {
    const int64_t value = parse_count("head-dim", *arguments.value("head-dim"));
    head_dim = static_cast<int>(std::min<int64_t>(value, 1 << 20));  // the spec check names it
  }

  const std::string& spec_path = arguments.positionals[0];
  Spec spec = Spec::load(spec_path);
  if (dtype || head_dim) spec = spec_with_dtype_and_head_dim(spec, dtype, head_dim);
  const std::string directory = *arguments.value("out");
  const std::string spec_file = std::filesystem::path(spec_path).filename().string();

  const auto start = std::chrono::steady_clock::now();
  std::fprintf(stderr, "attncc testgen: %s (%s, head_dim %d, hash %s): %lld cases, seed %llu\n",
               spec_file.c_str(), std::string(dtype_name(spec.dtype)).c_str(), spec.head_dim,
               spec_hash(spec).c_str(), static_cast<long long>(count),
               static_cast<unsigned long long>(options.seed));
  write_test_vectors(spec, spec_file, options, count, directory,
                     [&](const TestVectorCase& test_case, const std::string& path) {
                       std::fprintf(stderr, "  [%lld/%lld] %s: %zu documents, GQA %lld:%lld\n",
                                    static_cast<long long>(test_case.index + 1),
                                    static_cast<long long>(count), path.c_str(),
                                    test_case.documents.size(),
                                    static_cast<long long>(test_case.inputs.heads_q),
                                    static_cast<long long>(test_case.inputs.heads_kv));
                     });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "attncc testgen: wrote %lld cases and %s/manifest.json in %.1f s\n",
               static_cast<long long>(count), directory.c_str(), seconds);
  return 0;
}

}  // namespace attncc::cli
