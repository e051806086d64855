#!/usr/bin/env python3
"""Instruction counts of the CUDA kernels' loops, without a GPU.

Compiles SPEC with `attncc compile` (NVRTC with the runtime's own options and the templates built
into attncc; rebuild attncc after editing templates/) into a temporary bundle, disassembles one
entry point with nvdisasm and prints, for every loop that contains tensor-core instructions
(HMMA, or HGMMA with --wgmma), its static instruction count by opcode. A loop is a backward branch and the code between
its target and itself, so an outer loop's count includes one copy of each inner loop: to count a
tile step, add each inner loop's body times its trip count less one (the outermost loop is the
grid loop, for_each_grid_x). --blocks N prints the basic blocks of loop #N of the listing (the
masked path, the copies of the next tile, ...). The ptxas report (registers, spills) comes
first. docs/PERFORMANCE.md's instruction counts were taken so.

nvdisasm is not part of NVRTC: it comes with the full CUDA toolkit (Debian: nvidia-cuda-toolkit
or cuda-nvdisasm-13-0) or from PyPI (`pip download --no-deps nvidia-cuda-nvdisasm`, then unzip
the wheel: nvidia/cu13/bin/nvdisasm). Give it with --nvdisasm or $NVDISASM, else PATH and
/usr/local/cuda/bin are searched.

examples:
  tools/sass_loops.py specs/causal.json --kernel forward
  tools/sass_loops.py specs/causal.json --kernel backward_key_value --blocks 3
  tools/sass_loops.py specs/prefix_lm_docs.json --head-dim 64 --arch sm_80 --kernel backward_query
  tools/sass_loops.py specs/causal.json --wgmma   # the experimental sm_90a warpgroup-MMA forward
"""
import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

KERNELS = ("forward", "fill_padding", "backward_preprocess", "backward_key_value",
           "backward_query", "backward_convert_query")
INSTRUCTION = re.compile(r"\s*/\*([0-9a-f]{4,})\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)(.*);")
LABEL = re.compile(r"\s*(\.L_x_\d+):")


def fail(message):
    sys.exit(f"sass_loops: error: {message}")


def find_nvdisasm(given):
    for where, path in (("--nvdisasm", given), ("$NVDISASM", os.environ.get("NVDISASM"))):
        if path:
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                fail(f"{where} {path}: not an executable file")
            return path
    for path in (shutil.which("nvdisasm"), "/usr/local/cuda/bin/nvdisasm"):
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    fail("nvdisasm not found (on PATH or in /usr/local/cuda/bin): install the CUDA toolkit's "
         "nvdisasm, or `pip download --no-deps nvidia-cuda-nvdisasm` and unzip the wheel, then "
         "pass --nvdisasm PATH or set $NVDISASM")


def compile_cubin(attncc, spec_path, head_dim, head_dim_v, arch, wgmma, work):
    spec = json.load(open(spec_path))
    if head_dim:
        spec["head_dim"] = head_dim
    if head_dim_v:
        spec["head_dim_v"] = head_dim_v
    spec_copy = os.path.join(work, "spec.json")
    json.dump(spec, open(spec_copy, "w"))
    bundle = os.path.join(work, "bundle")
    result = subprocess.run([attncc, "compile", spec_copy, "--arch", arch, "--out", bundle]
                            + (["--wgmma"] if wgmma else []), capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"attncc compile failed:\n{result.stderr.strip()}")
    [kernel] = json.load(open(os.path.join(bundle, "manifest.json")))["kernels"]
    if kernel["image"] != "cubin":
        fail(f"{arch} compiled to {kernel['image']}, not a CUBIN; use sm_80, sm_86, sm_89 or "
             "sm_90a")
    payload = open(os.path.join(bundle, f"{kernel['hash']}.{arch}.attncc-cuda"), "rb").read()
    cubin = os.path.join(work, "kernels.cubin")
    # The payload (runtime/cuda/cuda_binary.cpp): a magic line, a JSON header line, the image.
    magic_end = payload.index(b"\n")
    header_end = payload.index(b"\n", magic_end + 1)
    header = json.loads(payload[magic_end + 1:header_end])
    open(cubin, "wb").write(payload[header_end + 1:header_end + 1 + header["image_bytes"]])
    return kernel, cubin


def parse(sass, suffix):
    """Instructions [(opcode, text)] and label positions of the entry point named *_suffix."""
    sections = re.split(r"//-+ \.text\.", sass)
    body = [s for s in sections if s.split() and s.split()[0].endswith("_" + suffix)]
    if not body:
        fail(f"no entry point *_{suffix} in the disassembly")
    instructions, labels = [], {}
    for line in body[0].splitlines():
        label = LABEL.match(line)
        if label:
            labels[label.group(1)] = len(instructions)
        instruction = INSTRUCTION.match(line)
        if instruction:
            instructions.append((instruction.group(2), line.strip()))
    return instructions, labels


def is_matrix_instruction(opcode):
    """Tensor-core instructions: HMMA (mma.sync) and HGMMA (wgmma)."""
    return opcode.startswith("HMMA") or opcode.startswith("HGMMA")


def hmma_loops(instructions, labels):
    loops = []
    for end, (opcode, text) in enumerate(instructions):
        target = re.search(r"`\((\.L_x_\d+)\)", text) if opcode.startswith("BRA") else None
        if target and labels.get(target.group(1), end + 1) <= end:
            start = labels[target.group(1)]
            hmma = sum(1 for op, _ in instructions[start:end + 1] if is_matrix_instruction(op))
            if hmma:
                loops.append((start, end, hmma))
    return sorted(loops, key=lambda loop: loop[1] - loop[0])


def opcode_counts(instructions):
    counts = collections.Counter(opcode.split(".")[0] for opcode, _ in instructions)
    return ", ".join(f"{opcode} {count}" for opcode, count in counts.most_common())


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec", help="a spec JSON (bf16 or fp16)")
    parser.add_argument("--kernel", default="forward", choices=KERNELS)
    parser.add_argument("--arch", default="sm_90a", help="sm_80, sm_86, sm_89 or sm_90a")
    parser.add_argument("--head-dim", type=int, help="override the spec's head_dim")
    parser.add_argument("--head-dim-v", type=int, help="override the spec's head_dim_v")
    parser.add_argument("--wgmma", action="store_true",
                        help="sm_90a: the warpgroup-MMA kernels (attncc compile --wgmma)")
    parser.add_argument("--blocks", type=int, metavar="N",
                        help="also list the basic blocks of loop #N")
    parser.add_argument("--attncc", default=os.path.join(os.path.dirname(__file__), "..",
                                                         "build", "attncc"),
                        help="the attncc executable (default: build/attncc)")
    parser.add_argument("--nvdisasm", help="the nvdisasm executable")
    args = parser.parse_args()
    nvdisasm = find_nvdisasm(args.nvdisasm)
    if not os.access(args.attncc, os.X_OK):
        fail(f"{args.attncc} is not an executable; build attncc (tools/setup.sh && cmake --build "
             "build) or pass --attncc")
    with tempfile.TemporaryDirectory() as work:
        kernel, cubin = compile_cubin(args.attncc, args.spec, args.head_dim, args.head_dim_v,
                                      args.arch, args.wgmma, work)
        sass = subprocess.run([nvdisasm, "-c", cubin], capture_output=True, text=True)
        if sass.returncode != 0:
            fail(f"nvdisasm failed: {sass.stderr.strip()}")
    for report in kernel["reports"]:
        print(f"{report['function']}: {report['registers']} registers, "
              f"{report['spill_store_bytes']} B spill stores, "
              f"{report['spill_load_bytes']} B spill loads")
    instructions, labels = parse(sass.stdout, args.kernel)
    print(f"\n{args.kernel} ({args.arch}): {len(instructions)} instructions, "
          f"{sum(1 for op, _ in instructions if op.startswith('HMMA'))} HMMA, "
          f"{sum(1 for op, _ in instructions if op.startswith('HGMMA'))} HGMMA")
    loops = hmma_loops(instructions, labels)
    for number, (start, end, hmma) in enumerate(loops):
        print(f"loop #{number} [{start}, {end}]: {end - start + 1} instructions, "
              f"{hmma} tensor-core instructions")
        print(f"  {opcode_counts(instructions[start:end + 1])}")
    if args.blocks is not None:
        if not 0 <= args.blocks < len(loops):
            fail(f"--blocks {args.blocks}: the listing has loops #0 to #{len(loops) - 1}")
        start, end, _ = loops[args.blocks]
        starts = sorted({start} | {p for p in labels.values() if start < p <= end})
        print(f"\nbasic blocks of loop [{start}, {end}] (start, instructions, top opcodes):")
        for first, last in zip(starts, starts[1:] + [end + 1]):
            block = instructions[first:last]
            print(f"  {first:6d} {len(block):5d}  {opcode_counts(block)[:100]}")


if __name__ == "__main__":
    main()
