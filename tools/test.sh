#!/usr/bin/env bash
# Builds attncc and runs every test (ctest -j2).
# Usage: tools/test.sh [--sanitize | --tsan] [ctest args]
#   --sanitize   build in build-sanitize/ with AddressSanitizer + UndefinedBehaviorSanitizer; the
#                NVRTC spec matrix (label nvrtc) and the emulated runs of the whole CUDA kernels
#                over every spec (label gpu, CudaForwardEmulated, EmulatedHeadDims, the bank
#                counts of EmulatedSharedBanks past d64: 10-15 s each under ASan) and the six
#                GPU conformance variants on the fake driver (fake_driver.cuda_conformance) are left
#                to the normal build; the emulator's own
#                tests, the defect proofs, the device-status test and the fake-driver tests of the
#                CUDA host path run under the sanitizers
#   --tsan       build in build-tsan/ with ThreadSanitizer only what runs threads or processes
#                against shared state (runtime_stress_test, runtime_cache_test, disk_cache_test
#                and its probe) and run those tests (about 20 s)
# Build directory: build/ (or $ATTNCC_BUILD_DIR). Exit code is ctest's. Under --sanitize, tests
# whose only failure is LeakSanitizer's own tracer crashing at exit are rerun once
# (tools/lsan_tracer_flakes.py).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${ATTNCC_BUILD_DIR:-build}
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
sanitize=0
if [[ ${1:-} == --sanitize ]]; then
  shift
  sanitize=1
  build_dir=${ATTNCC_BUILD_DIR:-build-sanitize}
  cmake_args=(-DCMAKE_BUILD_TYPE=Debug -DATTNCC_SANITIZE=ON)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  set -- -LE 'nvrtc|gpu' -E 'CudaForwardEmulated|EmulatedHeadDims|EmulatedSharedBanks\.[A-Za-z]+D(32|96|128|256)|fake_driver.cuda_conformance' "$@"
fi

build_targets=()
if [[ ${1:-} == --tsan ]]; then
  shift
  build_dir=${ATTNCC_BUILD_DIR:-build-tsan}
  # Flags rather than an option: nothing else of the project changes under TSan. LLVM (the JIT)
  # is an uninstrumented shared library; the kernels it emits are uninstrumented too.
  cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS=-fsanitize=thread -g"
              -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread)
  build_targets=(--target runtime_stress_test runtime_cache_test disk_cache_test kernel_cache_probe)
  # No suppressions are needed: TSan sees LLVM's locks (pthread), and nothing else of LLVM's, and
  # reports nothing there. If a report ever points into libLLVM/libclang-cpp only, suppress that
  # frame in a file passed here with suppressions=...; a report with an attncc frame is a race.
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
  tsan_tests='^(RuntimeStress|RuntimeMemoryCache|CacheDirectory|DiskCache|DefaultCacheDirectory)'
  set -- -R "$tsan_tests" "$@"
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build_dir" "${cmake_args[@]}" > /dev/null
cmake --build "$build_dir" -j"$jobs" "${build_targets[@]}"
if ((sanitize == 0)); then
  exec ctest --test-dir "$build_dir" -j"$jobs" --output-on-failure "$@"
fi
# Under the sanitizers, a test whose only failure is LeakSanitizer's tracer crashing at exit (a
# flake of the sanitizer runtime, tools/lsan_tracer_flakes.py) runs once more; anything else
# fails as usual.
junit=$PWD/$build_dir/ctest-junit.xml
if ctest --test-dir "$build_dir" -j"$jobs" --output-on-failure --output-junit "$junit" "$@"; then
  exit 0
fi
if flaky=$(python3 tools/lsan_tracer_flakes.py "$junit"); then
  echo "test.sh: LeakSanitizer's tracer crashed at exit (no leak reported) in $flaky; rerunning once"
  exec ctest --test-dir "$build_dir" --output-on-failure -R "$flaky"
fi
exit 1
