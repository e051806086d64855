#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU (H100/H200) and the CUDA toolkit:
#   tools/gpu_check.sh OUTDIR
# builds attncc in build-gpu/, runs the GPU tests (ctest label gpu) and the NVRTC/CUDA tests,
# prints the ptxas report of every spec (0 spills required), runs compute-sanitizer memcheck on a
# doc-packed call with sentinel documents (forward + backward, checked against the reference),
# and runs tools/bench_gpu.py (attncc vs PyTorch SDPA and FlexAttention) when PyTorch with CUDA
# can be found or installed into a venv (the machine may have no internet: then that step is
# skipped and says so). Every step's output is written to OUTDIR; a summary ends the run. Exit
# code 1 if a test, the spill check or memcheck failed.
set -uo pipefail
if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit $([[ $# -eq 1 ]] && echo 0 || echo 2)
fi
out=$(mkdir -p "$1" && cd "$1" && pwd) || { echo "gpu_check: cannot create $1" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-gpu
jobs=$(nproc 2>/dev/null || echo 4)
declare -A status
step() {  # step NAME COMMAND...: runs the command, output to OUTDIR/NAME.txt and the terminal
  local name=$1; shift
  echo "== $name: $*"
  "$@" 2>&1 | tee "$out/$name.txt"
  local code=${PIPESTATUS[0]}
  status[$name]=$([[ $code == 0 ]] && echo ok || echo "FAILED ($code)")
  return "$code"
}

step machine bash -c "nvidia-smi; nvcc --version 2>/dev/null; uname -a" || true
step build bash -c "cmake -S '$root' -B '$build' -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
  cmake --build '$build' -j$jobs" || { echo "build failed: see $out/build.txt"; exit 1; }

# Fresh kernels (no cache from an older attncc), cached across the steps below.
export ATTNCC_CACHE_DIR=$out/kernel_cache
step gpu_tests ctest --test-dir "$build" -L gpu --output-on-failure -j2
step cuda_tests ctest --test-dir "$build" -R 'NvrtcCompiler|NvrtcSpecs|CudaBackend|CudaBinary|CudaBundle|CudaArgument|cli.compile' --output-on-failure -j"$jobs"
# Every bf16/fp16 spec (the CUDA backend has no fp32 kernels).
mapfile -t cuda_specs < <(grep -l '"dtype": "\(bf16\|fp16\)"' "$root"/specs/*.json)
step ptxas_report "$build/attncc" compile "${cuda_specs[@]}" --arch sm_80,sm_90a --fail-on-spills \
  --out "$out/bundle"

# compute-sanitizer memcheck on a doc-packed call with sentinel documents.
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
if [[ -n $sanitizer ]]; then
  "$build/attncc" testgen "$root/specs/doc_packed_sentinels.json" --cases 2 --seed 7 \
    --out "$out/memcheck_case" > /dev/null
  step memcheck "$sanitizer" --tool memcheck --leak-check full --error-exitcode 3 \
    "$build/attncc" run "$root/specs/doc_packed_sentinels.json" \
    --inputs "$out/memcheck_case/case_0001.safetensors" --out "$out/memcheck_out.safetensors" \
    --backend cuda --backward --check
else
  status[memcheck]="skipped (no compute-sanitizer)"
fi

# PyTorch: the system python if it has CUDA torch, else a venv (pip may have no network).
python=python3
if ! $python -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  python=$out/venv/bin/python
  if [[ ! -x $python ]]; then
    python3 -m venv --system-site-packages "$out/venv" > "$out/venv.txt" 2>&1
    "$python" -m pip install --quiet torch >> "$out/venv.txt" 2>&1 || true
  fi
fi
if "$python" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  step bench "$python" "$root/tools/bench_gpu.py" --attncc "$build/attncc" --out "$out/bench.json"
else
  status[bench]="skipped (no PyTorch with CUDA; pip output in $out/venv.txt)"
fi

echo "== summary (outputs in $out)"
failed=0
for name in machine build gpu_tests cuda_tests ptxas_report memcheck bench; do
  printf '  %-13s %s\n' "$name" "${status[$name]:-not run}" | tee -a "$out/summary.txt"
  [[ ${status[$name]:-} == FAILED* && $name != bench && $name != machine ]] && failed=1
done
exit $failed
