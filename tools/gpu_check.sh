#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU (H100/H200) and the CUDA toolkit:
#   tools/gpu_check.sh [--deadline SECONDS] OUTDIR [STEP...]
# STEPs (default: machine build tests memcheck bench, in this order):
#   machine     nvidia-smi, nvcc, cmake and compiler versions
#   build       cmake + build in build-gpu/ of what the GPU steps run (attncc and the CUDA test
#               executables); without LLVM 19 a CUDA-only build (-DATTNCC_CPU_BACKEND=OFF); with
#               no nlohmann_json/xxhash/GoogleTest installed it uses .gpu-deps/ (made by
#               tools/gpu_deps.sh on a machine that has them)
#   tests       the GPU tests (ctest label gpu) and the CUDA backend/NVRTC/argument tests
#   memcheck    compute-sanitizer memcheck on a doc-packed call with sentinel documents
#               (forward + backward, checked against the float64 reference, ATTNCC_VALIDATE=1),
#               then the same with the experimental wgmma forward and backward kernels
#               (ATTNCC_CUDA_WGMMA=1, step memcheck_wgmma; and deterministic, step
#               memcheck_wgmma_deterministic); skipped with the reason where the sanitizer
#               cannot use the device
#   bench       tools/bench_gpu.py: attncc vs PyTorch SDPA and FlexAttention (needs CUDA PyTorch)
#   ptxas       (not in the default list: CI's NVRTC matrix checks the same without a GPU) the
#               ptxas report of every bf16/fp16 spec for sm_80 and sm_90a, 0 spills required
# --deadline SECONDS: the whole run should end within SECONDS of its start (a lease's per-command
# limit): a step that would start past it is skipped, and the bench gets what is left minus
# 90 s (it starts no new case after that; bench_gpu.py --budget-s) and writes its JSON after
# every case. Steps after build reuse build-gpu/. Every step's output goes to OUTDIR/STEP.txt;
# a summary ends the run. Exit code 1 if a step failed (bench only reports).
set -uo pipefail
all_steps=(machine build tests memcheck bench ptxas)
default_steps=(machine build tests memcheck bench)
if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit $([[ $# -ge 1 ]] && echo 0 || echo 2)
fi
deadline=0
if [[ $1 == --deadline ]]; then
  [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "gpu_check: --deadline needs a number of seconds" >&2; exit 2; }
  deadline=$2
  shift 2
fi
[[ $# -ge 1 ]] || { echo "gpu_check: missing OUTDIR (--help)" >&2; exit 2; }
out=$(mkdir -p "$1" && cd "$1" && pwd) || { echo "gpu_check: cannot create $1" >&2; exit 2; }
shift
steps=("$@")
[[ ${#steps[@]} -eq 0 ]] && steps=("${default_steps[@]}")
for s in "${steps[@]}"; do
  [[ " ${all_steps[*]} " == *" $s "* ]] ||
    { echo "gpu_check: unknown step '$s' (steps: ${all_steps[*]})" >&2; exit 2; }
done
declare -A status
wanted() {  # wanted STEP: asked for, and (with --deadline) not past the deadline
  [[ " ${steps[*]} " == *" $1 "* ]] || return 1
  if ((deadline > 0 && SECONDS >= deadline)); then
    status[$1]="skipped (past the --deadline of $deadline s)"
    return 1
  fi
}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-gpu
jobs=$(nproc 2>/dev/null || echo 4)
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
  # Only what the GPU steps run: the CUDA test executables and the CLI (not the CPU suites).
  local targets=(attncc_cli cuda_conformance_test random_mask_cuda_test cuda_nonfinite_inputs_test
                 cuda_wgmma_conformance_test cuda_backend_test nvrtc_compiler_test
                 cuda_argument_errors_test)
  cmake --build "$build" -j"$jobs" --target "${targets[@]}"
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
  # Each conformance test compiles its kernel with NVRTC on the CPU: spread them over the cores.
  # (The 160-compile NVRTC spec matrix needs no GPU: CI runs it.)
  step gpu_tests ctest --test-dir "$build" -L gpu -LE emulated --output-on-failure -j"$jobs"
  step cuda_tests ctest --test-dir "$build" -LE 'emulated|nvrtc' -R 'NvrtcCompiler|CudaBackend|CudaArgument' --output-on-failure -j"$jobs"
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
    # ATTNCC_VALIDATE=1: a document the kernels find inconsistent fails this call, not a later one.
    if ! step memcheck env ATTNCC_VALIDATE=1 "$sanitizer" --tool memcheck --leak-check full \
        --error-exitcode 3 "$build/attncc" run "$root/specs/doc_packed_sentinels.json" \
        --inputs "$out/memcheck_case/case_0001.safetensors" --out "$out/memcheck_out.safetensors" \
        --backend cuda --backward --check &&
        grep -q 'Device not supported\|error 999\|LibraryNotLoaded' "$out/memcheck.txt"; then
      # Seen on gVisor machines (KINDS.md): the tool itself cannot run there; not attncc's fault.
      status[memcheck]="skipped (compute-sanitizer cannot use this device: $(grep -m1 -o 'Device not supported\|error 999\|LibraryNotLoaded' "$out/memcheck.txt"))"
    elif [[ ${status[memcheck]} != skipped* ]]; then
      # The experimental wgmma kernels (sm_90a; elsewhere the same kernels as above).
      step memcheck_wgmma env ATTNCC_VALIDATE=1 ATTNCC_CUDA_WGMMA=1 "$sanitizer" --tool memcheck \
        --leak-check full --error-exitcode 3 "$build/attncc" run \
        "$root/specs/doc_packed_sentinels.json" --inputs "$out/memcheck_case/case_0001.safetensors" \
        --out "$out/memcheck_wgmma_out.safetensors" --backend cuda --backward --check || true
      step memcheck_wgmma_deterministic env ATTNCC_VALIDATE=1 ATTNCC_CUDA_WGMMA=1 \
        ATTNCC_DETERMINISTIC=1 "$sanitizer" --tool memcheck --leak-check full --error-exitcode 3 \
        "$build/attncc" run "$root/specs/doc_packed_sentinels.json" \
        --inputs "$out/memcheck_case/case_0001.safetensors" \
        --out "$out/memcheck_wgmma_deterministic_out.safetensors" --backend cuda --backward \
        --check || true
    fi
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
    budget=()
    if ((deadline > 0)); then
      left=$((deadline - SECONDS - 90))
      ((left < 30)) && left=30
      budget=(--budget-s "$left")
    fi
    step bench env PYTHONUNBUFFERED=1 "$python" "$root/tools/bench_gpu.py" \
      --attncc "$build/attncc" --out "$out/bench.json" "${budget[@]}"
  else
    status[bench]="skipped (no PyTorch with CUDA; pip output in $out/venv.txt)"
  fi
fi

echo "== summary (outputs in $out)"
failed=0
for name in machine build gpu_tests cuda_tests memcheck memcheck_wgmma \
    memcheck_wgmma_deterministic bench ptxas_report ptxas tests; do
  [[ -n ${status[$name]:-} ]] || continue
  printf '  %-28s %s\n' "$name" "${status[$name]}" | tee -a "$out/summary.txt"
  [[ ${status[$name]} == FAILED* && $name != bench && $name != machine ]] && failed=1
done
exit $failed
