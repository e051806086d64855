#!/usr/bin/env python3
"""Compare attncc's CPU kernels with PyTorch's CPU attention, on the same machine, in one run.

For each mask (causal, doc_packed, window, prefix_lm), sequence length S, head dim D and dtype,
the same inputs (bf16 inputs bit-identical) go to:

  attncc             `attncc run SPEC --backward --warmup/--repeat/--timing-json`: kernel-only
                     times of the forward and the backward, without file IO and compilation
  sdpa_mask          torch.nn.functional.scaled_dot_product_attention with an explicit boolean
                     [S, S] mask (PyTorch does the full S x S work whatever the mask)
  sdpa_causal        the same with is_causal=True (causal only: the one mask it can express)
  flex               torch.nn.attention.flex_attention.flex_attention with a BlockMask built by
                     create_block_mask, torch.compile'd (fullgraph) where PyTorch compiles it on
                     the CPU, else eager (the output says which); PyTorch has no flex backward
                     on the CPU, so flex is timed forward only

Outputs are checked before anything is timed: O (and for the backward dQ, dK, dV) of every
baseline against attncc's, as max |a - b| / max |b| in float64 (the measure of `attncc run
--check`), within the tolerances of `attncc run --check` against its float64 reference: 2e-2 for
bf16, 1e-5 for fp32. A baseline that disagrees is reported as MISMATCH, gets no time or ratio, and the exit
code is 1.

Times: one warm-up call, then up to --repeat timed calls, fewer once a measurement has used
--budget seconds (at least one; a warm-up longer than the budget is the only, '*'-marked,
sample). Printed as median (min-max) in ms. 'fwd' is the forward alone (PyTorch under
no_grad); 'f+b' is forward plus backward (attncc: the sum of one forward and one backward call;
PyTorch: the forward with autograd plus .backward(dO)). Speed-up = PyTorch time / attncc time
(above 1: attncc is faster); xcpu is the same ratio of the medians of the process's CPU
time per call (all threads), which leaves out the time other jobs held the cores. GFLOP/s count attended (i, j) pairs only, FlashAttention's
convention: forward 4*D FLOP per pair and head, backward 10*D (so f+b 14*D); PyTorch's masked
SDPA computes every pair but is credited with the same attended pairs. 'GF/s' divides by wall
time; 'cGF/s' by the process CPU time (all threads), the rate while the code was on a core;
'%pk' is cGF/s over one core's fp32 FMA peak per CPU second, measured in the same run by a small
C probe (clang -O3 -march=native, 12 independent vector FMA chains per thread, best of 5).

Single thread by default: ATTNCC_NUM_THREADS=1 / `attncc run --threads 1` and
torch.set_num_threads(1); --threads N for more. The machine may be shared: the header gives the
load average before and after, and cpu% (CPU time / wall time / threads over the timed runs,
attncc and PyTorch together) shows how much of the cores the run had.

PyTorch comes from a virtual environment (default .venv-bench/ at the repository root),
created and filled with `pip install torch` (the CPU wheel index first, then PyPI) when the
running Python cannot import torch; --no-install turns that off. attncc is build-bench/attncc
or build/attncc (build it with `cmake --build build-bench --target attncc_cli`), or --attncc.
"""

import argparse
import datetime
import json
import math
import os
import platform
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MASKS = ["causal", "doc_packed", "window", "prefix_lm"]
SPEC_FILES = {
    "causal": "specs/causal.json",
    "doc_packed": "specs/doc_packed_causal.json",
    "window": "specs/window.json",
    "prefix_lm": "specs/prefix_lm_docs.json",
}
MASK_TEXT = {
    "causal": "causal, dense [1, S, H, D] (PyTorch is_causal)",
    "doc_packed": "causal per document, doc_packed: 8 uneven documents in a row of S, cu_seq "
                  "[1, 11] (MAX_DOCS 10: 2 zero-length sentinel documents)",
    "window": "window(256, 0): i - 256 <= j <= i, dense",
    "prefix_lm": "prefix($prefix_len[doc]), varlen: 8 uneven documents, prefix a quarter of each",
}
PACKED_DOCUMENTS = 8
PACKED_MAX_DOCS = 10
TOLERANCE = {"bf16": 2e-2, "fp32": 1e-5}
FMA_PROBE = r"""
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef __AVX512F__
#define LANES 16
#else
#define LANES 8
#endif
#define CHAINS 12
typedef float vec __attribute__((vector_size(LANES * 4)));
static long iterations;
static volatile float sink_value;
static double thread_cpu_seconds[256];
static void* chains(void* slot) {
  struct timespec c0, c1;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
  vec a[CHAINS], b, c;
  for (int l = 0; l < LANES; ++l) { b[l] = 0.999f; c[l] = 1e-3f * l; }
  for (int j = 0; j < CHAINS; ++j) for (int l = 0; l < LANES; ++l) a[j][l] = j + l;
  for (long i = 0; i < iterations; ++i) {
    for (int j = 0; j < CHAINS; ++j) a[j] = a[j] * b + c;  /* 12 independent FMA chains */
    __asm__ volatile("" : "+x"(b));
  }
  float s = 0;
  for (int j = 0; j < CHAINS; ++j) for (int l = 0; l < LANES; ++l) s += a[j][l];
  sink_value = s;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
  *(double*)slot = (c1.tv_sec - c0.tv_sec) + 1e-9 * (c1.tv_nsec - c0.tv_nsec);
  return NULL;
}
int main(int argc, char** argv) {
  int threads = atoi(argv[1]);
  iterations = atol(argv[2]);
  double best = 0, best_core = 0;
  const double flop_per_thread = 2.0 * LANES * CHAINS * (double)iterations;
  for (int trial = 0; trial < 5; ++trial) {
    pthread_t ids[256];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int t = 0; t < threads; ++t) {
      pthread_create(&ids[t], NULL, chains, &thread_cpu_seconds[t]);
    }
    for (int t = 0; t < threads; ++t) pthread_join(ids[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    double gflops = flop_per_thread * threads / seconds / 1e9;
    if (gflops > best) best = gflops;
    double cpu = 0;
    for (int t = 0; t < threads; ++t) cpu += thread_cpu_seconds[t];
    double core = flop_per_thread * threads / cpu / 1e9;  /* per CPU second: one core's rate */
    if (core > best_core) best_core = core;
  }
  printf("%d %.3f %.3f\n", LANES, best, best_core);
  return 0;
}
"""


def log(message):
    print(message, file=sys.stderr, flush=True)


def parse_arguments():
    parser = argparse.ArgumentParser(
        prog="tools/bench_cpu_vs_torch.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""examples:
  tools/bench_cpu_vs_torch.py --quick            # smoke run: S 2048, D 64, bf16, a few minutes
  tools/bench_cpu_vs_torch.py                    # the full set (S 2048 and 8192): long
  tools/bench_cpu_vs_torch.py --seqlen 2048 --json results.json
  tools/bench_cpu_vs_torch.py --seqlen 2048,8192 --time-limit 20   # start nothing after 20 min
  tools/bench_cpu_vs_torch.py --masks window --seqlen 8192 --head-dim 128 --dtype fp32
  tools/bench_cpu_vs_torch.py --threads 2 --quick  # thread scaling (both sides get 2 threads)
""")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: S 2048, D 64, bf16, 3 repeats, budget 5 s (explicit "
                             "options still win)")
    parser.add_argument("--masks", help="comma-separated, from " + ",".join(MASKS) +
                        " (default all)")
    parser.add_argument("--seqlen", help="comma-separated S (default 2048,8192)")
    parser.add_argument("--head-dim", help="comma-separated D (default 64,128)")
    parser.add_argument("--dtype", help="comma-separated, bf16 and/or fp32 (default fp32,bf16)")
    parser.add_argument("--heads", type=int, default=2,
                        help="heads (query = key/value; default 2: times scale linearly with "
                             "heads on one thread)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for attncc and PyTorch alike (default 1)")
    parser.add_argument("--repeat", type=int, help="timed calls after one warm-up (default 5)")
    parser.add_argument("--budget", type=float,
                        help="stop repeating a measurement after this many seconds, warm-up "
                             "included (default 10)")
    parser.add_argument("--time-limit", type=float, default=0,
                        help="minutes: start no new problem after this (default 0: no limit); "
                             "problems left out are listed")
    parser.add_argument("--json", metavar="PATH",
                        help="also write every measurement as JSON (rewritten after each "
                             "problem, so a cut-short run keeps what it measured)")
    parser.add_argument("--attncc", metavar="PATH",
                        help="the attncc executable (default build-bench/attncc, else "
                             "build/attncc)")
    parser.add_argument("--venv", metavar="DIR", default=os.path.join(REPO, ".venv-bench"),
                        help="virtual environment with torch (default .venv-bench/)")
    parser.add_argument("--no-install", action="store_true",
                        help="fail instead of creating the virtual environment")
    parser.add_argument("--no-flex", action="store_true", help="leave out flex_attention")
    parser.add_argument("--seed", type=int, default=1234, help="input seed (default 1234)")
    parser.add_argument("--table-from", metavar="PATH",
                        help="measure nothing: print the tables of a --json file again")
    parser.add_argument("--keep", metavar="DIR",
                        help="keep the specs, inputs and outputs in DIR (default: a temporary "
                             "directory, removed)")
    args = parser.parse_args()
    defaults = {"masks": ",".join(MASKS), "seqlen": "2048,8192", "head_dim": "64,128",
                "dtype": "fp32,bf16", "repeat": 5, "budget": 10.0}
    if args.quick:
        defaults.update({"seqlen": "2048", "head_dim": "64", "dtype": "bf16", "repeat": 3,
                         "budget": 5.0})
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.masks = args.masks.split(",")
    for mask in args.masks:
        if mask not in MASKS:
            parser.error("unknown mask '%s'; choose from %s" % (mask, ", ".join(MASKS)))
    args.seqlen = [int(text) for text in args.seqlen.split(",")]
    args.head_dim = [int(text) for text in args.head_dim.split(",")]
    args.dtype = args.dtype.split(",")
    for dtype in args.dtype:
        if dtype not in TOLERANCE:
            parser.error("unknown dtype '%s'; choose bf16 or fp32" % dtype)
    if args.threads < 1 or args.heads < 1 or args.repeat < 1:
        parser.error("--threads, --heads and --repeat need at least 1")
    return args


# --- PyTorch in a virtual environment -------------------------------------------------------

def ensure_torch(args):
    """Imports torch, or creates the venv, installs torch there and re-runs this script in it."""
    try:
        import torch  # noqa: F401
        return
    except ImportError:
        pass
    venv_python = os.path.join(args.venv, "bin", "python")
    if os.path.abspath(sys.prefix) == os.path.abspath(args.venv):
        sys.exit("error: torch is not importable in %s; remove the directory to reinstall" %
                 args.venv)
    if not os.path.exists(venv_python) or subprocess.run(
            [venv_python, "-c", "import torch"], capture_output=True).returncode != 0:
        if args.no_install:
            sys.exit("error: torch is not importable and --no-install was given; run without "
                     "it to create %s, or pip install torch yourself" % args.venv)
        if not os.path.exists(venv_python):
            log("creating the virtual environment %s" % args.venv)
            subprocess.run([sys.executable, "-m", "venv", args.venv], check=True)
        pip = [venv_python, "-m", "pip", "install", "--disable-pip-version-check"]
        log("installing torch (CPU wheel index first, then PyPI); this downloads a few GB")
        cpu_index = subprocess.run(
            pip + ["--timeout", "15", "--retries", "0", "torch", "--index-url",
                   "https://download.pytorch.org/whl/cpu"])
        if cpu_index.returncode != 0:
            log("the CPU wheel index did not answer; installing torch from PyPI")
            subprocess.run(pip + ["torch"], check=True)
    log("re-running in %s" % args.venv)
    os.execv(venv_python, [venv_python] + sys.argv)


# --- safetensors, written and read with the standard library --------------------------------

def write_safetensors(path, tensors):
    """tensors: name -> torch tensor (bf16, fp32 or int32), written in its own bits."""
    import torch
    codes = {torch.bfloat16: "BF16", torch.float32: "F32", torch.int32: "I32"}
    header, chunks, offset = {}, [], 0
    for name, tensor in tensors.items():
        tensor = tensor.contiguous()
        raw = tensor.view(torch.int16 if tensor.dtype == torch.bfloat16 else tensor.dtype)
        data = raw.numpy().tobytes()
        header[name] = {"dtype": codes[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(text)) + text)
        for chunk in chunks:
            file.write(chunk)


def read_safetensors(path):
    import numpy
    import torch
    with open(path, "rb") as file:
        blob = file.read()
    length = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + length])
    base = 8 + length
    kinds = {"BF16": (numpy.int16, torch.bfloat16), "F32": (numpy.float32, None),
             "I32": (numpy.int32, None)}
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        numpy_type, view = kinds[entry["dtype"]]
        begin, end = entry["data_offsets"]
        array = numpy.frombuffer(blob[base + begin:base + end], dtype=numpy_type).copy()
        tensor = torch.from_numpy(array).reshape(entry["shape"])
        tensors[name] = tensor.view(view) if view is not None else tensor
    return tensors


# --- problems --------------------------------------------------------------------------------

def uneven_lengths(total, count):
    """The split of attncc bench (tools/attncc/bench_problem.cpp): weights in [0.5, 1.5)."""
    weights, state = [], 12345
    mask64 = (1 << 64) - 1
    for _ in range(count):
        state = (state * 6364136223846793005 + 1442695040888963407) & mask64
        weights.append(0.5 + (state >> 11) / 9007199254740992.0)
    total_weight = sum(weights)
    lengths, used = [], 0
    for index in range(count):
        length = (total - used if index + 1 == count
                  else max(1, int(weights[index] / total_weight * total)))
        lengths.append(length)
        used += length
    return lengths


class Problem:
    """One mask, S, D, dtype: spec, inputs in attncc's layout and PyTorch's, and the mask."""

    def __init__(self, mask, seqlen, head_dim, dtype, heads, seed):
        import torch
        self.mask, self.seqlen, self.head_dim, self.dtype, self.heads = (
            mask, seqlen, head_dim, dtype, heads)
        self.torch_dtype = torch.bfloat16 if dtype == "bf16" else torch.float32
        s = seqlen
        positions = torch.arange(s)
        i, j = positions[:, None], positions[None, :]
        self.layout_tensors = {}
        self.documents = [s]
        if mask in ("doc_packed", "prefix_lm"):
            self.documents = uneven_lengths(s, PACKED_DOCUMENTS)
        starts = [0]
        for length in self.documents:
            starts.append(starts[-1] + length)
        doc_of = torch.repeat_interleave(torch.arange(len(self.documents)),
                                         torch.tensor(self.documents))
        start_of_doc = torch.tensor(starts[:-1])
        same_doc = doc_of[:, None] == doc_of[None, :]
        self.prefix = [length // 4 for length in self.documents]
        if mask == "causal":
            self.bool_mask = j <= i
        elif mask == "doc_packed":
            self.bool_mask = same_doc & (j <= i)
            cu_seq = starts + [s] * (PACKED_MAX_DOCS - PACKED_DOCUMENTS)  # sentinels
            self.layout_tensors["cu_seq"] = torch.tensor([cu_seq], dtype=torch.int32)
        elif mask == "window":
            self.bool_mask = (j <= i) & (i - j <= 256)
        elif mask == "prefix_lm":
            prefix = torch.tensor(self.prefix)
            local_j = j - start_of_doc[doc_of][None, :]
            self.bool_mask = same_doc & ((local_j < prefix[doc_of][None, :]) | (j <= i))
            self.layout_tensors["cu_seqlens_q"] = torch.tensor(starts, dtype=torch.int32)
            self.layout_tensors["cu_seqlens_k"] = torch.tensor(starts, dtype=torch.int32)
            self.layout_tensors["prefix_len"] = torch.tensor(self.prefix, dtype=torch.int32)
        self.pairs = int(self.bool_mask.sum())  # attended pairs per head
        # flex_attention mask_mod: index tensors captured from here.
        doc_of_flex, start_flex = doc_of.clone(), start_of_doc.clone()
        prefix_flex = torch.tensor(self.prefix)
        if mask == "causal":
            self.mask_mod = lambda b, h, q, kv: kv <= q
        elif mask == "doc_packed":
            self.mask_mod = lambda b, h, q, kv: (doc_of_flex[q] == doc_of_flex[kv]) & (kv <= q)
        elif mask == "window":
            self.mask_mod = lambda b, h, q, kv: (kv <= q) & (q - kv <= 256)
        else:
            def prefix_lm(b, h, q, kv):
                document = doc_of_flex[kv]
                local = kv - start_flex[document]
                return (doc_of_flex[q] == document) & ((local < prefix_flex[document]) | (kv <= q))
            self.mask_mod = prefix_lm
        generator = torch.Generator().manual_seed(seed)
        # Values rounded once to the dtype: attncc and PyTorch read the same bits.
        shape = [s, heads, head_dim]

        def tensor():
            return torch.randn(shape, generator=generator).to(self.torch_dtype)
        self.q, self.k, self.v, self.d_o = tensor(), tensor(), tensor(), tensor()

    def attncc_layout(self, tensor):
        """[S, H, D] -> the spec layout's shape: varlen [T, H, D], else [1, S, H, D]."""
        return tensor if self.mask == "prefix_lm" else tensor.unsqueeze(0)

    @staticmethod
    def torch_layout(tensor):
        """[S, H, D] (or [1, S, H, D]) -> PyTorch's [1, H, S, D], contiguous."""
        return tensor.reshape(1, *tensor.shape[-3:]).transpose(1, 2).contiguous()

    def write_spec(self, directory):
        with open(os.path.join(REPO, SPEC_FILES[self.mask])) as file:
            spec = json.load(file)
        spec["name"] = "%s_s%d_d%d_%s" % (self.mask, self.seqlen, self.head_dim, self.dtype)
        spec["dtype"] = self.dtype
        spec["head_dim"] = self.head_dim
        spec.pop("head_dim_v", None)
        spec["backward"] = True
        path = os.path.join(directory, spec["name"] + ".json")
        with open(path, "w") as file:
            json.dump(spec, file)
        return path

    def write_inputs(self, path):
        tensors = {"q": self.attncc_layout(self.q), "k": self.attncc_layout(self.k),
                   "v": self.attncc_layout(self.v), "do": self.attncc_layout(self.d_o)}
        tensors.update(self.layout_tensors)
        write_safetensors(path, tensors)


# --- timing ----------------------------------------------------------------------------------

class Samples:
    """Wall-clock times of the timed calls, and the process's CPU time over each (all threads)."""

    def __init__(self, times, cpu_times, single_over_budget=False):
        self.times = list(times)
        self.cpu_times = list(cpu_times)
        self.single_over_budget = single_over_budget

    def median(self):
        return statistics.median(self.times)

    def cpu_median(self):
        return statistics.median(self.cpu_times)

    def text(self):
        return "%.1f (%.1f-%.1f) x%d%s" % (
            self.median(), min(self.times), max(self.times), len(self.times),
            "*" if self.single_over_budget else "")

    def json(self):
        return {"median_ms": self.median(), "min_ms": min(self.times), "max_ms": max(self.times),
                "runs": len(self.times), "samples_ms": self.times,
                "cpu_median_ms": self.cpu_median(), "cpu_samples_ms": self.cpu_times,
                "single_run_over_budget": self.single_over_budget}


class CpuMeter:
    """Process + children CPU time against wall time over the timed parts of the run."""

    def __init__(self):
        self.cpu = 0.0
        self.wall = 0.0

    @staticmethod
    def now():
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
                time.perf_counter())

    def add(self, before, after):
        self.cpu += after[0] - before[0]
        self.wall += after[1] - before[1]


def timed(function):
    """Calls function(); returns (its result, (wall seconds, process CPU seconds))."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = function()
    return result, (time.perf_counter() - wall, time.process_time() - cpu)


def measure(function, repeat, budget, warm_up, meter):
    """Timed calls of function() after a warm-up (already done) that took warm_up = (wall, cpu)
    seconds."""
    if warm_up[0] > budget:
        return Samples([warm_up[0] * 1e3], [warm_up[1] * 1e3], single_over_budget=True)
    times, cpu_times, used = [], [], warm_up[0]
    while len(times) < repeat and (not times or used < budget):
        before = CpuMeter.now()
        _, (wall, cpu) = timed(function)
        meter.add(before, CpuMeter.now())
        times.append(wall * 1e3)
        cpu_times.append(cpu * 1e3)
        used += wall
    return Samples(times, cpu_times)


def relative_error(actual, expected):
    import torch
    actual, expected = actual.double(), expected.double()
    if not torch.isfinite(actual).all() or not torch.isfinite(expected).all():
        return math.inf
    largest = expected.abs().max().item()
    return (actual - expected).abs().max().item() / (largest if largest > 0 else 1.0)


# --- attncc ----------------------------------------------------------------------------------

def run_attncc(args, spec_path, inputs, directory, tag, warmup, repeat):
    out = os.path.join(directory, tag + ".out.safetensors")
    timing_path = os.path.join(directory, tag + ".timing.json")
    command = [args.attncc, "run", spec_path, "--inputs", inputs, "--out", out, "--backward",
               "--backend", "cpu", "--threads", str(args.threads), "--warmup", str(warmup),
               "--repeat", str(repeat), "--timing-json", timing_path]
    environment = dict(os.environ, ATTNCC_NUM_THREADS=str(args.threads))
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(command), result.returncode,
                                                   result.stderr.strip()))
    with open(timing_path) as file:
        timing = json.load(file)
    return timing, out


def time_attncc(args, problem, spec_path, inputs, directory, meter):
    """First call (outputs for the check, and the warm-up), then --repeat timed calls."""
    first, out = run_attncc(args, spec_path, inputs, directory, "first", 0, 1)
    first_forward, first_backward = first["forward_ms"][0], first["backward_ms"][0]
    first_total = (first_forward + first_backward) / 1e3
    if first_total > args.budget:
        forward = Samples([first_forward], first["forward_cpu_ms"], True)
        both = Samples([first_forward + first_backward],
                       [first["forward_cpu_ms"][0] + first["backward_cpu_ms"][0]], True)
    else:
        repeat = max(1, min(args.repeat, int(args.budget / first_total) - 1))
        before = CpuMeter.now()
        timing, _ = run_attncc(args, spec_path, inputs, directory, "timed", 1, repeat)
        after = CpuMeter.now()
        meter.add(before, after)
        forward = Samples(timing["forward_ms"], timing["forward_cpu_ms"])
        both = Samples([f + b for f, b in zip(timing["forward_ms"], timing["backward_ms"])],
                       [f + b for f, b in zip(timing["forward_cpu_ms"],
                                              timing["backward_cpu_ms"])])
    outputs = read_safetensors(out)
    return forward, both, outputs, first


# --- the FMA probe ---------------------------------------------------------------------------

def fma_peak(threads, directory):
    compiler = shutil.which("clang-19") or shutil.which("clang") or shutil.which("cc")
    if compiler is None:
        return None
    source = os.path.join(directory, "fma_probe.c")
    binary = os.path.join(directory, "fma_probe")
    with open(source, "w") as file:
        file.write(FMA_PROBE)
    subprocess.run([compiler, "-O3", "-march=native", "-ffp-contract=fast", "-pthread", source,
                    "-o", binary], check=True)
    lanes, gflops, core = subprocess.run([binary, str(threads), "10000000"], capture_output=True,
                                         text=True, check=True).stdout.split()
    return {"compiler": os.path.basename(compiler), "lanes": int(lanes), "threads": threads,
            "gflops": float(gflops), "core_gflops_per_cpu_second": float(core)}


def load_average():
    try:
        return " ".join("%.2f" % value for value in os.getloadavg())
    except OSError:
        return "unknown"


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# --- main ------------------------------------------------------------------------------------

def table_from(path):
    """Prints the tables of a saved --json report (Samples restored from their JSON form)."""
    with open(path) as file:
        report = json.load(file)

    def restore(holder):
        for part in ("fwd", "f+b"):
            value = holder.get(part)
            if isinstance(value, dict) and "samples_ms" in value:
                holder[part] = Samples(value["samples_ms"], value["cpu_samples_ms"],
                                       value["single_run_over_budget"])
    for entry in report["results"]:
        restore(entry["attncc"])
        for result in entry["baselines"].values():
            restore(result)
    report.setdefault("wall_seconds", 0)
    report.setdefault("cpu_percent", None)
    report["machine"].setdefault("load_average_after", "unknown")
    print_table(report, argparse.Namespace(threads=report["threads"], heads=report["heads"]))
    return 0


def main():
    args = parse_arguments()
    if args.table_from:
        return table_from(args.table_from)
    ensure_torch(args)
    import torch
    import torch.nn.functional as F
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    if args.attncc is None:
        for candidate in ("build-bench/attncc", "build/attncc"):
            if os.access(os.path.join(REPO, candidate), os.X_OK):
                args.attncc = os.path.join(REPO, candidate)
                break
        else:
            sys.exit("error: no attncc executable in build-bench/ or build/; build one with "
                     "`cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake "
                     "--build build-bench --target attncc_cli`, or pass --attncc PATH")
    torch.set_num_threads(args.threads)
    torch._dynamo.config.cache_size_limit = 256
    directory = args.keep or tempfile.mkdtemp(prefix="bench_cpu_vs_torch.")
    os.makedirs(directory, exist_ok=True)
    started = time.time()
    load_before = load_average()
    log("FMA probe (%d thread%s)" % (args.threads, "" if args.threads == 1 else "s"))
    peak = fma_peak(args.threads, directory)
    # flex_attention backward on the CPU: ask PyTorch rather than assume.
    flex_backward_note = "supported"
    try:
        tiny = torch.randn(1, 1, 128, 16, requires_grad=True)
        flex_attention(tiny, tiny, tiny).sum().backward()
    except Exception as error:  # PyTorch 2.15: NotImplementedError
        flex_backward_note = "%s: %s" % (type(error).__name__, str(error).split("\n")[0])

    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    report = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:]),
        "commit": commit + (" (tree has uncommitted changes)" if dirty else ""),
        "machine": {"cpu": cpu_name(), "logical_cpus": os.cpu_count(),
                    "load_average_before": load_before},
        "torch": torch.__version__, "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "attncc": args.attncc, "threads": args.threads, "heads": args.heads,
        "fma_peak": peak, "flex_backward_on_cpu": flex_backward_note,
        "flop_convention": "attended (i, j) pairs only, per head: forward 4*D, backward 10*D, "
                           "forward+backward 14*D FLOP per pair",
        "tolerance": TOLERANCE, "results": [], "not_run": [],
    }

    def save_json():
        if args.json:
            with open(args.json, "w") as file:
                json.dump(report, file, indent=1, default=lambda samples: samples.json())

    problems = [(s, d, dtype, mask) for s in args.seqlen for d in args.head_dim
                for dtype in args.dtype for mask in args.masks]
    meter = CpuMeter()
    failures = 0
    for index, (s, d, dtype, mask) in enumerate(problems):
        label = "%s S=%d D=%d %s" % (mask, s, d, dtype)
        if args.time_limit and time.time() - started > args.time_limit * 60:
            report["not_run"].append(label)
            log("[%d/%d] %s: not started (--time-limit %g min reached)" %
                (index + 1, len(problems), label, args.time_limit))
            continue
        log("[%d/%d] %s" % (index + 1, len(problems), label))
        problem = Problem(mask, s, d, dtype, args.heads, args.seed)
        spec_path = problem.write_spec(directory)
        inputs = os.path.join(directory, "inputs.safetensors")
        problem.write_inputs(inputs)
        entry = {"mask": mask, "mask_text": MASK_TEXT[mask], "seqlen": s, "head_dim": d,
                 "dtype": dtype, "heads": args.heads, "attended_pairs_per_head": problem.pairs,
                 "documents": problem.documents, "baselines": {}}
        flop_forward = 4.0 * d * problem.pairs * args.heads
        flop_both = 14.0 * d * problem.pairs * args.heads

        log("  attncc")
        forward, both, outputs, first = time_attncc(args, problem, spec_path, inputs, directory,
                                                    meter)
        entry["attncc"] = {"fwd": forward, "f+b": both,
                           "kernel": first["kernel"], "get_ms_first_call": first["get_ms"],
                           "origin_first_call": first["origin"]}
        reference = {name: Problem.torch_layout(outputs[name])
                     for name in ("o", "dq", "dk", "dv")}

        q, k, v, d_o = (Problem.torch_layout(x) for x in (problem.q, problem.k, problem.v,
                                                          problem.d_o))
        bool_mask = problem.bool_mask

        def check(name, o, grads=None):
            errors = {"o": relative_error(o, reference["o"])}
            if grads is not None:
                for gradient_name, gradient in zip(("dq", "dk", "dv"), grads):
                    errors[gradient_name] = relative_error(gradient, reference[gradient_name])
            worst = max(errors.values())
            ok = worst <= TOLERANCE[dtype]
            if not ok:
                log("  MISMATCH %s: max relative error %s above %g" %
                    (name, ", ".join("%s %.3g" % item for item in errors.items()),
                     TOLERANCE[dtype]))
            return errors, ok

        def forward_and_backward(function):
            def call():
                leaves = [x.detach().requires_grad_() for x in (q, k, v)]
                o = function(*leaves)
                o.backward(d_o)
                return o, [leaf.grad for leaf in leaves]
            return call

        sdpa_variants = [("sdpa_mask", lambda a, b, c: F.scaled_dot_product_attention(
            a, b, c, attn_mask=bool_mask))]
        if mask == "causal":
            sdpa_variants.append(("sdpa_causal", lambda a, b, c: F.scaled_dot_product_attention(
                a, b, c, is_causal=True)))
        for name, function in sdpa_variants:
            log("  " + name)
            result = {}
            try:
                backend = torch._fused_sdp_choice(
                    q, k, v, attn_mask=None if name == "sdpa_causal" else bool_mask,
                    dropout_p=0.0, is_causal=name == "sdpa_causal")
                result["sdpa_backend"] = torch.nn.attention.SDPBackend(backend).name
            except Exception:  # an internal helper: its absence changes nothing measured
                result["sdpa_backend"] = "unknown"
            def forward_only():
                with torch.no_grad():
                    return function(q, k, v)
            o, warm = timed(forward_only)
            errors_forward, ok_forward = check(name, o)
            result["fwd"] = (measure(forward_only, args.repeat, args.budget, warm, meter)
                             if ok_forward else None)
            both_call = forward_and_backward(function)
            (o, grads), warm = timed(both_call)
            errors, ok = check(name, o, grads)
            result["f+b"] = (measure(both_call, args.repeat, args.budget, warm, meter)
                             if ok else None)
            result["errors"] = errors
            result["ok"] = ok and ok_forward
            failures += 0 if result["ok"] else 1
            entry["baselines"][name] = result

        if not args.no_flex:
            log("  flex_attention (create_block_mask, torch.compile)")
            result = {"backward": "not supported by PyTorch on the CPU (%s)" %
                                  flex_backward_note if flex_backward_note != "supported" else
                                  "not timed"}
            block_mask = create_block_mask(problem.mask_mod, None, None, s, s, device="cpu")
            torch._dynamo.reset()
            compiled = torch.compile(flex_attention, fullgraph=True)
            start = time.perf_counter()
            try:
                o = compiled(q, k, v, block_mask=block_mask)
                result["mode"] = "compiled"
                result["compile_and_first_call_s"] = time.perf_counter() - start
                function = compiled
            except Exception as error:
                log("  torch.compile(flex_attention) failed (%s); timing eager" %
                    type(error).__name__)
                result["mode"] = "eager (torch.compile failed: %s)" % type(error).__name__
                function = flex_attention
                o = function(q, k, v, block_mask=block_mask)
            # The first call (compilation) is not a fair warm-up time: run once more.
            o, warm = timed(lambda: function(q, k, v, block_mask=block_mask))
            errors, ok = check("flex", o)
            result["fwd"] = (measure(lambda: function(q, k, v, block_mask=block_mask),
                                     args.repeat, args.budget, warm, meter) if ok else None)
            result["f+b"] = None
            result["errors"] = errors
            result["ok"] = ok
            failures += 0 if ok else 1
            entry["baselines"]["flex"] = result

        # Rates and speed-ups.
        entry["attncc"]["fwd_gflops"] = flop_forward / forward.median() / 1e6
        entry["attncc"]["f+b_gflops"] = flop_both / both.median() / 1e6
        entry["attncc"]["fwd_gflops_per_cpu_second"] = flop_forward / forward.cpu_median() / 1e6
        entry["attncc"]["f+b_gflops_per_cpu_second"] = flop_both / both.cpu_median() / 1e6
        for name, result in entry["baselines"].items():
            for part, attncc_samples, flop in (("fwd", forward, flop_forward),
                                                ("f+b", both, flop_both)):
                samples = result.get(part)
                if samples is None:
                    continue
                result[part + "_speedup"] = samples.median() / attncc_samples.median()
                result[part + "_speedup_cpu_time"] = (samples.cpu_median() /
                                                      attncc_samples.cpu_median())
                result[part + "_gflops"] = flop / samples.median() / 1e6
                result[part] = samples
        report["results"].append(entry)
        save_json()
        del problem, q, k, v, d_o, reference, outputs

    report["machine"]["load_average_after"] = load_average()
    report["wall_seconds"] = time.time() - started
    report["cpu_percent"] = (100.0 * meter.cpu / meter.wall / args.threads
                             if meter.wall else None)
    print_table(report, args)
    if args.json:
        save_json()
        log("wrote %s" % args.json)
    if not args.keep:
        shutil.rmtree(directory, ignore_errors=True)
    if failures:
        log("error: %d baseline(s) disagreed with attncc; their times are left out" % failures)
        return 1
    return 0


def print_table(report, args):
    peak = report["fma_peak"]
    core_peak = None
    if peak:
        core_peak = peak.get("core_gflops_per_cpu_second")  # absent in older --json files
    print("attncc CPU vs PyTorch %s CPU (capability %s): %d thread%s, %d heads, date %s UTC, "
          "commit %s" % (report["torch"], report["torch_cpu_capability"], args.threads,
                         "" if args.threads == 1 else "s", args.heads, report["date_utc"],
                         report["commit"]))
    print("machine: %s, %d logical CPUs; load average before %s, after %s; cpu%% over the timed "
          "runs %s" % (report["machine"]["cpu"], report["machine"]["logical_cpus"],
                       report["machine"]["load_average_before"],
                       report["machine"]["load_average_after"],
                       "%.0f%%" % report["cpu_percent"] if report["cpu_percent"] else "n/a"))
    if peak:
        print("fp32 FMA peak (probe: %s -O3 -march=native, 12 independent %d-lane FMA chains per "
              "thread, %d thread%s, best of 5): %.1f GFLOP/s wall, one core %s" %
              (peak["compiler"], peak["lanes"], peak["threads"],
               "" if peak["threads"] == 1 else "s", peak["gflops"],
               "%.1f GFLOP/s per CPU second" % core_peak if core_peak else
               "per CPU second not measured (older --json file)"))
    print("times in ms: median (min-max) xN timed runs after 1 warm-up (* = one run, longer than "
          "the budget); fwd = forward, f+b = forward + backward")
    print("x = speed-up = PyTorch time / attncc time, medians (above 1: attncc faster); xcpu = the "
          "same with process CPU time instead of wall time (robust to other jobs on the cores)")
    print("attncc GFLOP/s on attended pairs only (fwd 4*D, f+b 14*D FLOP per pair and head): GF/s "
          "per wall second, cGF/s per CPU second; %pk = cGF/s / one core's FMA peak")
    print("baselines: sdpa_mask = scaled_dot_product_attention(attn_mask=bool [S,S]); "
          "sdpa_causal = is_causal=True (causal only);")
    flex_modes = sorted({entry["baselines"]["flex"]["mode"] for entry in report["results"]
                         if "flex" in entry["baselines"]})
    print("  flex = flex_attention + create_block_mask, %s, forward only (backward: %s)" %
          (" / ".join(flex_modes) or "not run", report["flex_backward_on_cpu"]))
    print("outputs checked against attncc first (max |a-b| / max |b|: O, and dQ dK dV for f+b; "
          "bf16 %g, fp32 %g)" % (TOLERANCE["bf16"], TOLERANCE["fp32"]))
    for part in ("fwd", "f+b"):
        print()
        header = "%-10s %5s %3s %4s  %-26s %5s %5s %3s" % (
            "mask", "S", "D", "type", "attncc %s ms" % part, "GF/s", "cGF/s", "%pk")
        names = ["sdpa_mask", "sdpa_causal"] + (["flex"] if part == "fwd" else [])
        for name in names:
            header += "  %-26s %5s %5s" % (name + " ms", "x", "xcpu")
        header += "  max_err"
        print(header)
        for entry in report["results"]:
            attncc = entry["attncc"]
            flop = ((4.0 if part == "fwd" else 14.0) * entry["head_dim"] * entry["heads"] *
                    entry["attended_pairs_per_head"])
            gflops = flop / attncc[part].median() / 1e6
            cpu_gflops = flop / attncc[part].cpu_median() / 1e6
            line = "%-10s %5d %3d %4s  %-26s %5.1f %5.1f %3s" % (
                entry["mask"], entry["seqlen"], entry["head_dim"], entry["dtype"],
                attncc[part].text(), gflops, cpu_gflops,
                "%.0f" % (100 * cpu_gflops / core_peak) if core_peak else "-")
            worst = 0.0
            for name in names:
                result = entry["baselines"].get(name)
                if result is None:
                    line += "  %-26s %5s %5s" % ("-", "-", "-")
                    continue
                errors = result["errors"]
                if part == "fwd":
                    worst = max(worst, errors["o"])
                else:
                    worst = max([worst] + list(errors.values()))
                samples = result.get(part)
                if samples is None:
                    line += "  %-26s %5s %5s" % ("MISMATCH" if not result["ok"] else "n/a", "-",
                                                  "-")
                else:
                    line += "  %-26s %5.2f %5.2f" % (samples.text(), result[part + "_speedup"],
                                                     result[part + "_speedup_cpu_time"])
            line += "  %.1e" % worst
            print(line)
    if report["not_run"]:
        print()
        print("not run (--time-limit): " + "; ".join(report["not_run"]))
    print()
    print("wall time %.0f s" % report["wall_seconds"])


if __name__ == "__main__":
    sys.exit(main())
