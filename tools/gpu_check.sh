#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU (H100/H200) and the CUDA toolkit:
#   tools/gpu_check.sh OUTDIR [STEP...]
# STEPs (default: all, in this order):
#   machine     nvidia-smi, nvcc, cmake and compiler versions
#   build       cmake + build in build-gpu/; without LLVM 19 a CUDA-only build
#               (-DATTNCC_CPU_BACKEND=OFF); with no nlohmann_json/xxhash/GoogleTest installed it
#               uses .gpu-deps/ (made by tools/gpu_deps.sh on a machine that has them)
#   tests       the GPU tests (ctest label gpu) and the NVRTC/CUDA tests
#   ptxas       the ptxas report of every bf16/fp16 spec for sm_80 and sm_90a (0 spills required)
#   memcheck    compute-sanitizer memcheck on a doc-packed call with sentinel documents
#               (forward + backward, checked against the float64 reference)
#   bench       tools/bench_gpu.py: attncc vs PyTorch SDPA and FlexAttention (needs CUDA PyTorch)
# Steps after build reuse build-gpu/, so a lease with a per-command limit can run them in several
# calls. Every step's output goes to OUTDIR/STEP.txt; a summary ends the run. Exit code 1 if a
# step failed (bench only reports).
set -uo pipefail
all_steps=(machine build tests ptxas memcheck bench)
if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit $([[ $# -ge 1 ]] && echo 0 || echo 2)
fi
out=$(mkdir -p "$1" && cd "$1" && pwd) || { echo "gpu_check: cannot create $1" >&2; exit 2; }
shift
steps=("$@")
[[ ${#steps[@]} -eq 0 ]] && steps=("${all_steps[@]}")
for s in "${steps[@]}"; do
  [[ " ${all_steps[*]} " == *" $s "* ]] ||
    { echo "gpu_check: unknown step '$s' (steps: ${all_steps[*]})" >&2; exit 2; }
done
wanted() { [[ " ${steps[*]} " == *" $1 "* ]]; }
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-gpu
jobs=$(nproc 2>/dev/null || echo 4)
declare -A status
step() {  # step NAME COMMAND...: runs the command, output to OUTDIR/NAME.txt and the terminal
  local name=$1; shift
  echo "== $name: $*"
  local started=$SECONDS
  "$@" 2>&1 | tee "$out/$name.txt"
  local code=${PIPESTATUS[0]}
  status[$name]="$([[ $code == 0 ]] && echo ok || echo "FAILED ($code)") in $((SECONDS - started)) s"
  return "$code"
}

build_attncc() {  # the full build where LLVM 19 is found, else CUDA-only
  local args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
  if [[ -d $root/.gpu-deps ]]; then
    args+=(-DCMAKE_PREFIX_PATH="$root/.gpu-deps")
    [[ -d $root/.gpu-deps/googletest ]] &&
      args+=(-DATTNCC_GOOGLETEST_SOURCE_DIR="$root/.gpu-deps/googletest")
  fi
  if cmake -S "$root" -B "$build" "${args[@]}" -DATTNCC_CPU_BACKEND=ON > "$out/configure.txt" 2>&1; then
    echo "configured with the CPU backend (LLVM 19 found)"
  else
    echo "LLVM 19 not found (see configure.txt): building CUDA-only, -DATTNCC_CPU_BACKEND=OFF"
    rm -rf "$build"
    cmake -S "$root" -B "$build" "${args[@]}" -DATTNCC_CPU_BACKEND=OFF || return
  fi
  cmake --build "$build" -j"$jobs"
}

if wanted machine; then
  step machine bash -c "nvidia-smi; nvcc --version 2>/dev/null; cmake --version | head -1;
    c++ --version | head -1; uname -a" || true
fi
if wanted build; then
  step build build_attncc ||
    { echo "build failed: see $out/build.txt and $out/configure.txt"; exit 1; }
fi
[[ -x $build/attncc ]] || { echo "gpu_check: no $build/attncc: run the build step first" >&2; exit 1; }

# Fresh kernels (no cache from an older attncc), kept across the steps and calls.
export ATTNCC_CACHE_DIR=$out/kernel_cache
# NVRTC loads libnvrtc-builtins by name: make the toolkit's library folder searchable.
if [[ -d /usr/local/cuda/lib64 ]]; then
  export LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
if wanted tests; then
  # The emulated runs of the same kernels are CPU work the normal CI build covers.
  step gpu_tests ctest --test-dir "$build" -L gpu -LE emulated --output-on-failure -j2
  step cuda_tests ctest --test-dir "$build" -LE emulated -R 'NvrtcCompiler|NvrtcSpecs|CudaBackend|CudaBinary|CudaBundle|CudaArgument|cli.compile' --output-on-failure -j"$jobs"
fi
if wanted ptxas; then
  # Every bf16/fp16 spec (the CUDA backend has no fp32 kernels).
  mapfile -t cuda_specs < <(grep -l '"dtype": "\(bf16\|fp16\)"' "$root"/specs/*.json)
  step ptxas_report "$build/attncc" compile "${cuda_specs[@]}" --arch sm_80,sm_90a \
    --fail-on-spills --out "$out/bundle"
fi

if wanted memcheck; then
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
fi

if wanted bench; then
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
    step bench env PYTHONUNBUFFERED=1 "$python" "$root/tools/bench_gpu.py" \
      --attncc "$build/attncc" --out "$out/bench.json"
  else
    status[bench]="skipped (no PyTorch with CUDA; pip output in $out/venv.txt)"
  fi
fi

echo "== summary (outputs in $out)"
failed=0
for name in machine build gpu_tests cuda_tests ptxas_report memcheck bench; do
  [[ -n ${status[$name]:-} ]] || continue
  printf '  %-13s %s\n' "$name" "${status[$name]}" | tee -a "$out/summary.txt"
  [[ ${status[$name]} == FAILED* && $name != bench && $name != machine ]] && failed=1
done
exit $failed
