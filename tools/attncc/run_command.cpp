// `attncc run SPEC --inputs IN --out OUT`: runs a spec's forward (and backward) kernels on tensors
// from a safetensors file, writes the outputs to another, and optionally checks them against the
// float64 reference. Tensor names are those of DESIGN §6.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attncc/reference.h"
#include "attncc/runtime.h"
#include "attncc/spec.h"
#include "compiler/spec/json_location.h"
#include "runtime/argument_validation.h"
#include "runtime/cuda/device_arguments.h"
#include "runtime/emulation/emulated_device_arguments.h"
#include "runtime/emulation/shared_banks.h"
#include "runtime/io/host_tensor.h"
#include "runtime/io/safetensors.h"
#include "runtime/thread_pool.h"
#include "tools/attncc/commands.h"

namespace attncc::cli {

const CommandInfo kRunCommand = {
    "run",
    "attncc run SPEC --inputs IN.safetensors --out OUT.safetensors [--backward] "
    "[--backend NAME] [--check] [--cache-dir DIR] [--threads N] [--cpu-forward SCHEDULE] "
    "[--cpu-backward SCHEDULE] [--warmup N] [--repeat N] [--timing-json PATH] [--bank-report] "
    "[--wgmma]",
    "Run a spec's kernels on tensors from a safetensors file; write the outputs to another.",
    "Inputs are read by name (shapes as in DESIGN §1; integer arrays int32, int64 accepted):\n"
    "  q, k, v                    always; dtype of the spec\n"
    "  do                         with --backward: the gradient of o\n"
    "  seqlens_q, seqlens_k       dense, optional: [B] lengths\n"
    "  cu_seqlens_q, cu_seqlens_k varlen: [N + 1] prefix sums of lengths\n"
    "  cu_seqlens_q_padded, cu_seqlens_k_padded\n"
    "                             varlen, optional: [N + 1] physical offsets of the documents\n"
    "  cu_seq                     doc_packed: [B, MAX_DOCS + 1]\n"
    "  alibi_slopes               with \"alibi\": true: float32 [Hq]\n"
    "  NAME                       one per mask parameter $NAME: [1], or [documents] for\n"
    "                             $NAME[doc]\n"
    "Any other name is an error. Outputs: o (like q with head_dim_v), lse (float32; dense and\n"
    "doc_packed [B, Hq, S], varlen [Hq, Tq]) if the spec outputs it, and with --backward dq,\n"
    "dk, dv. The output file's metadata holds the spec's canonical text, its hash and the\n"
    "backend. A one-line summary (kernel hash, backend, compiled or cached, times) goes to\n"
    "standard error.\n\n"
    "--check also runs the float64 reference on the same inputs and prints, per output, the\n"
    "largest error relative to the largest reference magnitude; the exit code is 1 if one is\n"
    "above the tolerance of the spec's dtype (fp32 1e-5, bf16 and fp16 2e-2).\n\n"
    "Timing (for benchmarks driven from other programs, e.g. tools/bench_cpu_vs_torch.py):\n"
    "--warmup N untimed calls, then --repeat N timed calls, of the forward and (with\n"
    "--backward) the backward, alternating (each backward reads the o and lse of the forward\n"
    "before it). Each call is timed alone: kernel only, without reading or writing files and\n"
    "without the compile or cache load of Runtime::get (timed separately). The outputs written\n"
    "are those of the last call. With --backend cuda the inputs are copied to device 0 once\n"
    "before the calls and the outputs back after them; a call's time is its launches plus the\n"
    "wait for the stream, and each call reports offsets its kernels found inconsistent\n"
    "(ATTNCC_VALIDATE=1 unless set). With cuda and cuda-emulated the grids are bounded by the\n"
    "longest document of the file (max_seqlen_q/k). --timing-json PATH writes the times as JSON:\n"
    "  {\"kernel\": HASH, \"backend\": \"cpu\", \"threads\": N, \"origin\": \"compiled\"|...,\n"
    "   \"get_ms\": T, \"warmup\": N, \"forward_ms\": [T, ...], \"backward_ms\": [T, ...],\n"
    "   \"forward_cpu_ms\": [T, ...], \"backward_cpu_ms\": [T, ...]}\n"
    "(wall-clock times; *_cpu_ms the process's CPU time over the same calls, all threads: on a\n"
    "shared machine it leaves out the time other jobs held the cores; the backward lists are\n"
    "empty without --backward). --threads sets the CPU worker threads,\n"
    "the caller included (default: $ATTNCC_NUM_THREADS, else all cores).\n\n"
    "--cpu-forward picks how the CPU backend runs the forward: tiles (one work item per\n"
    "document, query head and 64-row query tile), split (each query tile's key tiles dealt\n"
    "over max(2, threads) parts, merged after; for few query rows against many keys), or auto\n"
    "(the default: split only where whole query tiles would leave threads idle).\n\n"
    "--cpu-backward picks how the CPU backend runs the backward: fused (one work item per\n"
    "document and key/value head; P and dS computed once), fused-split (fused, with each\n"
    "document's key tiles dealt over max(2, threads) parts and their dQ summed after; for one\n"
    "long document on many threads), two-pass (a dQ pass over query tiles, then a dK/dV pass\n"
    "over key tiles; the least scratch memory), or auto (the default: fused while its items\n"
    "keep the threads busy, else fused-split, else two-pass). Same results up to the order\n"
    "of dQ's sums; for comparing speed.\n\n"
    "--bank-report (cuda-emulated only) counts the shared-memory bank wavefronts of every\n"
    "shared access the kernels make over the timed calls and prints them per kernel and\n"
    "template line, with the ratio to the conflict-free ideal (docs/EMULATION.md).\n\n"
    "--wgmma (cuda on an sm_90a device, H100/H200, and cuda-emulated; head dims 64 and 128)\n"
    "runs the experimental forward and backward (key/value kernel, and the deterministic\n"
    "mode's query kernel) through warpgroup MMAs (wgmma) instead of mma.sync (the backward\n"
    "with softcap at head dim 64 only):\n"
    "RuntimeOptions::cuda_warpgroup_mma, or ATTNCC_CUDA_WGMMA=1. A key tile's softmax runs\n"
    "while the previous tile's P V product does (FA3's overlap); ATTNCC_CUDA_WGMMA=serial waits\n"
    "for each product instead, for comparison. It is checked on the emulator and by NVRTC but\n"
    "not yet timed on a GPU (docs/PERFORMANCE.md); elsewhere it changes nothing.\n\n"
    "examples:\n"
    "  attncc run specs/prefix_lm_docs.json --inputs in.safetensors --out out.safetensors\n"
    "  attncc run specs/causal.json --inputs in.safetensors --out out.safetensors --backward \\\n"
    "      --backend cpu --check\n"
    "  attncc run specs/window.json --inputs in.safetensors --out out.safetensors --backward \\\n"
    "      --backend cpu --threads 1 --warmup 1 --repeat 5 --timing-json times.json\n",
    {{"inputs", "IN.safetensors", "the input tensors"},
     {"out", "OUT.safetensors", "where to write the outputs (replaced atomically)"},
     {"backward", "", "also run the backward (reads do; writes dq, dk, dv)"},
     {"backend", "NAME", "cpu, cuda, cuda-emulated or auto (default: auto)"},
     {"check", "", "compare every output with the float64 reference"},
     {"cache-dir", "DIR", "kernel disk cache (default: $ATTNCC_CACHE_DIR or ~/.cache/attncc)"},
     {"threads", "N", "CPU worker threads including the caller (default: $ATTNCC_NUM_THREADS, "
                      "else all cores)"},
     {"cpu-forward", "SCHEDULE", "CPU forward: auto, tiles or split (default: auto)"},
     {"cpu-backward", "SCHEDULE", "CPU backward: auto, fused, fused-split or two-pass "
                                  "(default: auto)"},
     {"warmup", "N", "untimed forward (and backward) calls before the timed ones (default 0)"},
     {"repeat", "N", "timed forward (and backward) calls, each timed alone (default 1)"},
     {"timing-json", "PATH", "write every call's time (ms, kernel only) as JSON"},
     {"bank-report", "", "cuda-emulated: print the shared-memory bank conflicts per site"},
     {"wgmma", "", "sm_90a and cuda-emulated: the warpgroup-MMA kernels (experimental)"}},
    1,
    1,
};

namespace {

using Clock = std::chrono::steady_clock;

/// One input tensor name a spec can read.
struct InputName {
  std::string name;
  bool required = true;
};

// Every name DESIGN §6 defines for inputs, whatever the spec: a name from this list that the spec
// does not read gets "not used by", not "unknown".
const char* const kLayoutInputNames[] = {
    "seqlens_q",           "seqlens_k",           "cu_seqlens_q", "cu_seqlens_k",
    "cu_seqlens_q_padded", "cu_seqlens_k_padded", "cu_seq"};

std::vector<InputName> expected_inputs(const Spec& spec, bool backward) {
  std::vector<InputName> names = {{"q"}, {"k"}, {"v"}};
  if (backward) names.push_back({"do"});
  switch (spec.layout) {
    case Layout::kDense:
      names.push_back({"seqlens_q", false});
      names.push_back({"seqlens_k", false});
      break;
    case Layout::kVarlen:
      names.push_back({"cu_seqlens_q"});
      names.push_back({"cu_seqlens_k"});
      names.push_back({"cu_seqlens_q_padded", false});
      names.push_back({"cu_seqlens_k_padded", false});
      break;
    case Layout::kDocPacked: names.push_back({"cu_seq"}); break;
  }
  if (spec.alibi) names.push_back({"alibi_slopes"});
  for (const auto& [name, per_document] : spec.parameters) names.push_back({name});
  return names;
}

std::string describe_expected(const Spec& spec, const std::vector<InputName>& expected) {
  std::string required;
  std::string optional;
  for (const InputName& input : expected) {
    std::string& list = input.required ? required : optional;
    list += (list.empty() ? "" : ", ") + input.name;
  }
  return "a " + std::string(layout_name(spec.layout)) + " spec reads " + required +
         (optional.empty() ? "" : " (optional: " + optional + ")");
}

// Checks the file's names against the spec's: unknown or unused names and missing required ones
// are errors that list what the spec reads.
void check_input_names(const Spec& spec, const SafetensorsFile& inputs, bool backward) {
  const std::vector<InputName> expected = expected_inputs(spec, backward);
  const std::string expected_text = describe_expected(spec, expected);
  auto is_expected = [&](const std::string& name) {
    return std::any_of(expected.begin(), expected.end(),
                       [&](const InputName& input) { return input.name == name; });
  };
  for (const std::string& name : inputs.names()) {
    if (is_expected(name)) continue;
    if (name == "do") continue;  // a file made for the backward serves the forward too
    // testgen case files carry the expected outputs next to the inputs; run computes its own.
    if (name == "o" || name == "lse" || name == "dq" || name == "dk" || name == "dv") continue;
    const bool layout_name_of_another_layout =
        std::find(std::begin(kLayoutInputNames), std::end(kLayoutInputNames), name) !=
        std::end(kLayoutInputNames);
    if (layout_name_of_another_layout || name == "alibi_slopes") {
      throw user_error(ErrorCode::kInvalidArgument, inputs.path(),
                       "input tensor '" + name + "' is not used by this spec", expected_text);
    }
    std::string nearest;
    size_t best = 3;
    for (const InputName& input : expected) {
      size_t distance = edit_distance(name, input.name);
      if (distance < best) {
        best = distance;
        nearest = input.name;
      }
    }
    throw user_error(ErrorCode::kInvalidArgument, inputs.path(),
                     "unknown input tensor '" + name + "'",
                     (nearest.empty() ? "" : "did you mean '" + nearest + "'? ") + expected_text);
  }
  for (const InputName& input : expected) {
    if (input.required && !inputs.contains(input.name)) {
      std::string why = input.name == "do" ? " (--backward reads the gradient of o)"
                        : spec.parameters.count(input.name)
                            ? " (the mask's parameter $" + input.name +
                                  (spec.parameters.at(input.name) ? "[doc]: int32 [documents])"
                                                                  : ": int32 [1])")
                            : "";
      throw user_error(ErrorCode::kInvalidArgument, inputs.path(),
                       "missing input tensor '" + input.name + "'" + why, expected_text);
    }
  }
  if (!backward && inputs.contains("do")) {
    std::fprintf(stderr, "%s: note: ignoring input 'do' (read only with --backward)\n",
                 inputs.path().c_str());
  }
}

ScalarType spec_scalar_type(DType dtype) {
  switch (dtype) {
    case DType::kFloat16: return ScalarType::kFloat16;
    case DType::kBFloat16: return ScalarType::kBFloat16;
    case DType::kFloat32: return ScalarType::kFloat32;
  }
  return ScalarType::kFloat32;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t axis = 0; axis < shape.size(); ++axis) {
    text += (axis ? ", " : "") + std::to_string(shape[axis]);
  }
  return text + "]";
}

/// The output tensors of one run, allocated from the input shapes.
struct Outputs {
  HostTensor o, lse, dq, dk, dv;
};

Outputs allocate_outputs(const Spec& spec, const SafetensorsFile& inputs, bool backward) {
  const TensorRef q = inputs.view("q");
  const size_t rank = spec.layout == Layout::kVarlen ? 3 : 4;
  if (q.shape.size() != rank) {
    throw user_error(
        ErrorCode::kInvalidArgument, inputs.path(),
        "input tensor 'q' has shape " + shape_text(q.shape) + "; a " +
            std::string(layout_name(spec.layout)) + " spec needs " +
            (rank == 3 ? "[tokens, heads, head_dim]" : "[batch, seq, heads, head_dim]"));
  }
  const ScalarType dtype = spec_scalar_type(spec.dtype);
  Outputs outputs;
  std::vector<int64_t> o_shape = q.shape;
  o_shape.back() = spec.head_dim_v;
  outputs.o = HostTensor(dtype, o_shape);
  // LSE is [Hq, Tq] for varlen and [B, Hq, S] otherwise (DESIGN §6); the backward reads it even
  // when the spec does not output it.
  if (spec.output_lse || backward) {
    outputs.lse = HostTensor(ScalarType::kFloat32,
                             rank == 3 ? std::vector<int64_t>{q.shape[1], q.shape[0]}
                                       : std::vector<int64_t>{q.shape[0], q.shape[2], q.shape[1]});
  }
  if (backward) {
    outputs.dq = HostTensor(dtype, q.shape);
    outputs.dk = HostTensor(dtype, inputs.view("k").shape);
    outputs.dv = HostTensor(dtype, inputs.view("v").shape);
  }
  return outputs;
}

AttentionArguments build_arguments(const Spec& spec, const SafetensorsFile& inputs,
                                   const Outputs& outputs, bool backward) {
  auto optional = [&](const char* name) {
    return inputs.contains(name) ? inputs.view(name) : TensorRef{};
  };
  AttentionArguments arguments;
  arguments.q = inputs.view("q");
  arguments.k = inputs.view("k");
  arguments.v = inputs.view("v");
  arguments.o = outputs.o.ref();
  if (outputs.lse.data() != nullptr) arguments.lse = outputs.lse.ref();
  if (backward) {
    arguments.d_o = inputs.view("do");
    arguments.dq = outputs.dq.ref();
    arguments.dk = outputs.dk.ref();
    arguments.dv = outputs.dv.ref();
  }
  arguments.seqlens_q = optional("seqlens_q");
  arguments.seqlens_k = optional("seqlens_k");
  arguments.cu_seqlens_q = optional("cu_seqlens_q");
  arguments.cu_seqlens_k = optional("cu_seqlens_k");
  arguments.cu_seqlens_q_padded = optional("cu_seqlens_q_padded");
  arguments.cu_seqlens_k_padded = optional("cu_seqlens_k_padded");
  arguments.cu_seq = optional("cu_seq");
  arguments.alibi_slopes = optional("alibi_slopes");
  for (const auto& [name, per_document] : spec.parameters) {
    arguments.parameters[name] = inputs.view(name);
  }
  return arguments;
}

// --- --check: the float64 reference on the same (already rounded) inputs.

ReferenceInputs reference_inputs(const Spec& spec, const SafetensorsFile& inputs, bool backward) {
  auto integers = [&](const char* name) {
    return inputs.contains(name) ? to_int64(inputs.view(name), name) : std::vector<int64_t>{};
  };
  const TensorRef q = inputs.view("q");
  const TensorRef k = inputs.view("k");
  ReferenceInputs reference;
  LayoutShape& shape = reference.shape;
  shape.layout = spec.layout;
  if (spec.layout == Layout::kVarlen) {
    shape.batch = 1;
    shape.query_rows = q.shape[0];
    shape.key_rows = k.shape[0];
  } else {
    shape.batch = q.shape[0];
    shape.query_rows = q.shape[1];
    shape.key_rows = k.shape[1];
  }
  shape.seqlens_q = integers("seqlens_q");
  shape.seqlens_k = integers("seqlens_k");
  shape.cu_seqlens_q = integers("cu_seqlens_q");
  shape.cu_seqlens_k = integers("cu_seqlens_k");
  shape.cu_seqlens_q_padded = integers("cu_seqlens_q_padded");
  shape.cu_seqlens_k_padded = integers("cu_seqlens_k_padded");
  shape.cu_seq = integers("cu_seq");
  if (inputs.contains("cu_seq")) shape.max_docs = inputs.view("cu_seq").shape.back() - 1;
  reference.heads_q = q.shape[q.shape.size() - 2];
  reference.heads_kv = k.shape[k.shape.size() - 2];
  reference.q = to_double(q);
  reference.k = to_double(k);
  reference.v = to_double(inputs.view("v"));
  if (backward) reference.d_o = to_double(inputs.view("do"));
  for (const auto& [name, per_document] : spec.parameters) {
    reference.parameters[name] = to_int64(inputs.view(name), name);
  }
  if (spec.alibi) reference.alibi_slopes = to_double(inputs.view("alibi_slopes"));
  return reference;
}

/// max |actual - expected| / max |expected| (absolute when the reference is all zero). A NaN
/// anywhere, or an infinity (-inf LSE of empty rows) on one side only, is an infinite error.
double relative_error(const std::vector<double>& actual, const std::vector<double>& expected) {
  constexpr double kInfinite = std::numeric_limits<double>::infinity();
  if (actual.size() != expected.size()) return kInfinite;
  double largest_difference = 0;
  double largest_reference = 0;
  for (size_t index = 0; index < actual.size(); ++index) {
    const double a = actual[index];
    const double e = expected[index];
    if (std::isnan(a) || std::isnan(e)) return kInfinite;
    if (std::isinf(a) || std::isinf(e)) {
      if (a != e) return kInfinite;
      continue;
    }
    largest_difference = std::max(largest_difference, std::fabs(a - e));
    largest_reference = std::max(largest_reference, std::fabs(e));
  }
  return largest_difference / (largest_reference > 0 ? largest_reference : 1.0);
}

// Prints one line per output; returns false if one is above the dtype's tolerance.
bool check_against_reference(const Spec& spec, const SafetensorsFile& inputs,
                             const std::vector<std::pair<std::string, TensorRef>>& written,
                             bool backward) {
  const double tolerance = spec.dtype == DType::kFloat32 ? 1e-5 : 2e-2;
  const ReferenceOutputs expected =
      reference_attention(spec, reference_inputs(spec, inputs, backward));
  bool ok = true;
  for (const auto& [name, tensor] : written) {
    const std::vector<double>& reference = name == "o"     ? expected.o
                                           : name == "lse" ? expected.lse
                                           : name == "dq"  ? expected.dq
                                           : name == "dk"  ? expected.dk
                                                           : expected.dv;
    const double error = relative_error(to_double(tensor), reference);
    const bool within = error <= tolerance;
    std::printf("check %-3s max relative error %.3g (%s tolerance %.0e) %s\n", name.c_str(), error,
                std::string(dtype_name(spec.dtype)).c_str(), tolerance, within ? "ok" : "FAILED");
    if (!within) {
      std::fprintf(stderr,
                   "attncc run: error: %s differs from the float64 reference by %.3g (relative), "
                   "above the %s tolerance %.0e\n",
                   name.c_str(), error, std::string(dtype_name(spec.dtype)).c_str(), tolerance);
    }
    ok = ok && within;
  }
  return ok;
}

double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// CPU time of the whole process (all threads), in ms: on a shared machine a call's wall time
// includes the time other jobs held the core; its CPU time does not.
double process_cpu_ms() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return 1e3 * static_cast<double>(now.tv_sec) + 1e-6 * static_cast<double>(now.tv_nsec);
}

// The file's offsets are on the host: bound the CUDA grids by the longest document
// (AttentionArguments::max_seqlen_q/k), as a training loop passes max_seqlen to FlashAttention.
// Invalid offsets are reported here, naming the file.
void bound_grids_by_longest_document(const Spec& spec, AttentionArguments& call, bool backward,
                                     const std::string& path) {
  ValidatedProblem problem;
  try {
    problem = validate_arguments(spec, call, backward ? Pass::kBackward : Pass::kForward,
                                 DeviceKind::kCpu);
  } catch (const Error& error) {
    if (error.code() != ErrorCode::kInvalidArgument) throw;
    throw Error(error.code(), path + ": " + error.what());
  }
  for (const Document& document : problem.documents) {
    call.max_seqlen_q = std::max(call.max_seqlen_q, document.query_length);
    call.max_seqlen_k = std::max(call.max_seqlen_k, document.key_length);
  }
}

}  // namespace

int run_run(const ParsedArguments& arguments) {
  for (const char* option : {"inputs", "out"}) {
    if (!arguments.has(option)) {
      throw user_error(ErrorCode::kInvalidArgument, "attncc run",
                       std::string("missing --") + option, "usage: " + kRunCommand.usage);
    }
  }
  const bool backward = arguments.has("backward");
  const std::string output_path = *arguments.value("out");
  RuntimeOptions options;
  options.backend = parse_backend(arguments.value("backend").value_or("auto"));
  options.cache_dir = arguments.value("cache-dir").value_or("");
  if (arguments.has("threads")) {
    options.num_threads = static_cast<int>(parse_count("threads", *arguments.value("threads")));
    if (options.num_threads < 1) {
      throw user_error(ErrorCode::kInvalidArgument, "--threads", "expected at least 1 thread");
    }
  }
  options.cuda_warpgroup_mma = arguments.has("wgmma");
  options.cpu_forward =
      parse_cpu_forward_schedule(arguments.value("cpu-forward").value_or("auto"));
  options.cpu_backward =
      parse_cpu_backward_schedule(arguments.value("cpu-backward").value_or("auto"));
  const int64_t warmup = parse_count("warmup", arguments.value("warmup").value_or("0"));
  const int64_t repeat = parse_count("repeat", arguments.value("repeat").value_or("1"));
  if (repeat < 1) {
    throw user_error(ErrorCode::kInvalidArgument, "--repeat", "expected at least 1 timed call",
                     "use --repeat 1 (the default) for a single run");
  }

  Spec spec = Spec::load(arguments.positionals[0]);
  if (backward && !spec.backward) {
    throw user_error(ErrorCode::kInvalidArgument, arguments.positionals[0],
                     "--backward needs a spec with backward kernels",
                     "set \"backward\": true in the spec");
  }
  SafetensorsFile inputs = read_safetensors(*arguments.value("inputs"));
  check_input_names(spec, inputs, backward);
  Outputs outputs = allocate_outputs(spec, inputs, backward);
  AttentionArguments call = build_arguments(spec, inputs, outputs, backward);

  Runtime runtime(options);
  if (runtime.backend() == Backend::kCuda || runtime.backend() == Backend::kCudaEmulated) {
    bound_grids_by_longest_document(spec, call, backward, inputs.path());
  }
  const bool bank_report = arguments.has("bank-report");
  if (bank_report && runtime.backend() != Backend::kCudaEmulated) {
    throw user_error(ErrorCode::kInvalidArgument, "--bank-report",
                     std::string("bank conflicts are counted by the CUDA emulation, not the ") +
                         std::string(backend_name(runtime.backend())) + " backend",
                     "add --backend cuda-emulated");
  }
  // CUDA: the inputs go to the device once; each timed call is the launches plus a wait for
  // the stream (kernel time as the host sees it, no copies), and the outputs come back at the end.
  std::unique_ptr<DeviceArguments> device;
  if (runtime.backend() == Backend::kCuda) {
    device = std::make_unique<DeviceArguments>(call);
    call = device->arguments();
    // Every call waits for the device anyway: let each one report offsets its kernels found
    // inconsistent (the library reports them at the next call, and the last call has none).
    setenv("ATTNCC_VALIDATE", "1", /*overwrite=*/0);
  }
  // cuda-emulated: aligned copies, as the device allocations would be (file views are not).
  std::unique_ptr<EmulatedDeviceArguments> emulated;
  if (runtime.backend() == Backend::kCudaEmulated) {
    emulated = std::make_unique<EmulatedDeviceArguments>(call);
    call = emulated->arguments();
  }
  auto wait_for_device = [&] {
    if (device) device->synchronize();
  };
  Clock::time_point start = Clock::now();
  Kernel kernel = runtime.get(spec);
  const double get_ms = milliseconds_since(start);
  const RuntimeStats stats = runtime.stats();
  std::vector<double> forward_times, forward_cpu_times;
  std::vector<double> backward_times, backward_cpu_times;
  emulation::SharedBankRecorder banks;
  try {
    for (int64_t index = 0; index < warmup + repeat; ++index) {
      if (bank_report && index == warmup) emulation::record_shared_banks(&banks);
      double cpu_start = process_cpu_ms();
      start = Clock::now();
      kernel.forward(call);
      wait_for_device();
      const double forward_ms = milliseconds_since(start);
      if (index >= warmup) {
        forward_times.push_back(forward_ms);
        forward_cpu_times.push_back(process_cpu_ms() - cpu_start);
      }
      if (backward) {
        cpu_start = process_cpu_ms();
        start = Clock::now();
        kernel.backward(call);
        wait_for_device();
        const double backward_ms = milliseconds_since(start);
        if (index >= warmup) {
          backward_times.push_back(backward_ms);
          backward_cpu_times.push_back(process_cpu_ms() - cpu_start);
        }
      }
    }
    emulation::record_shared_banks(nullptr);
  } catch (const Error& error) {
    emulation::record_shared_banks(nullptr);
    // The runtime names the argument (q, cu_seqlens_k, d_o, parameters["p"]); say which file
    // it came from.
    if (error.code() != ErrorCode::kInvalidArgument) throw;
    throw Error(error.code(), inputs.path() + ": " + error.what());
  }
  if (device) device->download();
  if (emulated) emulated->download();

  std::vector<std::pair<std::string, TensorRef>> written = {{"o", outputs.o.ref()}};
  if (spec.output_lse) written.emplace_back("lse", outputs.lse.ref());
  if (backward) {
    written.emplace_back("dq", outputs.dq.ref());
    written.emplace_back("dk", outputs.dk.ref());
    written.emplace_back("dv", outputs.dv.ref());
  }
  const std::string backend(backend_name(runtime.backend()));
  write_safetensors(
      output_path, written,
      {{"spec", spec.canonical_text()}, {"hash", kernel.hash()}, {"backend", backend}});

  const char* origin = stats.compiles > 0    ? "compiled"
                       : stats.disk_hits > 0 ? "disk cache hit"
                                             : "memory cache hit";
  std::string names;
  for (const auto& [name, tensor] : written) names += (names.empty() ? "" : ", ") + name;
  // The median of the timed calls (the only call without --repeat).
  auto median = [](std::vector<double> times) {
    if (times.empty()) return 0.0;
    std::sort(times.begin(), times.end());
    const size_t middle = times.size() / 2;
    return times.size() % 2 ? times[middle] : 0.5 * (times[middle - 1] + times[middle]);
  };
  const char* of_calls = repeat > 1 ? " (median)" : "";
  char times[200];
  if (backward) {
    std::snprintf(times, sizeof(times), "forward %.1f ms, backward %.1f ms%s",
                  median(forward_times), median(backward_times), of_calls);
  } else {
    std::snprintf(times, sizeof(times), "forward %.1f ms%s", median(forward_times), of_calls);
  }
  std::fprintf(stderr, "attncc run: kernel %s on %s: %s in %.1f ms; %s; wrote %s to %s\n",
               kernel.hash().c_str(), backend.c_str(), origin, get_ms, times, names.c_str(),
               output_path.c_str());

  if (arguments.has("timing-json")) {
    const std::string timing_path = *arguments.value("timing-json");
    nlohmann::json timing = {{"kernel", kernel.hash()},
                             {"backend", backend},
                             {"threads", resolve_thread_count(options.num_threads)},
                             {"origin", origin},
                             {"get_ms", get_ms},
                             {"warmup", warmup},
                             {"forward_ms", forward_times},
                             {"backward_ms", backward_times},
                             {"forward_cpu_ms", forward_cpu_times},
                             {"backward_cpu_ms", backward_cpu_times}};
    std::ofstream file(timing_path);
    file << timing.dump(1) << "\n";
    if (!file.flush()) {
      throw user_error(ErrorCode::kInvalidArgument, timing_path, "cannot write the timing JSON");
    }
  }

  if (bank_report) {
    std::printf("shared-memory bank wavefronts over %lld timed call(s) (ratio 1.00: "
                "conflict-free)\n%s",
                static_cast<long long>(repeat),
                emulation::format_shared_bank_costs(banks.costs()).c_str());
  }

  if (arguments.has("check") && !check_against_reference(spec, inputs, written, backward)) {
    return 1;
  }
  return 0;
}

}  // namespace attncc::cli
