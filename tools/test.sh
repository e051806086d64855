#!/usr/bin/env bash
# Builds attncc and runs every test (ctest -j2). Usage: tools/test.sh [--sanitize] [ctest args]
#   --sanitize   build in build-sanitize/ with AddressSanitizer + UndefinedBehaviorSanitizer
# Build directory: build/ (or $ATTNCC_BUILD_DIR). Exit code is ctest's.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${ATTNCC_BUILD_DIR:-build}
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [[ ${1:-} == --sanitize ]]; then
  shift
  build_dir=${ATTNCC_BUILD_DIR:-build-sanitize}
  cmake_args=(-DCMAKE_BUILD_TYPE=Debug -DATTNCC_SANITIZE=ON)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build_dir" "${cmake_args[@]}" > /dev/null
cmake --build "$build_dir" -j"$jobs"
ctest --test-dir "$build_dir" -j"$jobs" --output-on-failure "$@"
