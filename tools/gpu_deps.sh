#!/usr/bin/env bash
# Gathers the build dependencies that a bare GPU machine lacks into one folder (default
# .gpu-deps/ in the repository root, ignored by git), so that tools/gpu_check.sh can build there
# without a package manager or network:
#   tools/gpu_deps.sh [DIR]
# Run it on a machine set up by tools/setup.sh (Debian). DIR then holds, as an install prefix:
#   include/nlohmann/, share/cmake/nlohmann_json/   nlohmann_json (header-only, with its CMake config)
#   include/xxhash.h                                 xxHash (attncc uses it header-only)
#   googletest/                                      GoogleTest sources (built with the tests)
# About 3 MB. LLVM is not carried (hundreds of MB): without it gpu_check.sh builds CUDA-only.
# Copy or carry DIR to the GPU machine's checkout as .gpu-deps/ and run tools/gpu_check.sh there.
set -euo pipefail
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit 0
fi
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/.gpu-deps}

need() {  # need PATH PACKAGE: PATH must exist
  [[ -e $1 ]] || { echo "gpu_deps: $1 not found: install the Debian package $2 (tools/setup.sh)" >&2; exit 1; }
}
need /usr/include/nlohmann/json.hpp nlohmann-json3-dev
need /usr/share/cmake/nlohmann_json nlohmann-json3-dev
need /usr/include/xxhash.h libxxhash-dev
need /usr/src/googletest/CMakeLists.txt googletest

rm -rf "$dir"
mkdir -p "$dir/include" "$dir/share/cmake"
cp -r /usr/include/nlohmann "$dir/include/"
cp -r /usr/share/cmake/nlohmann_json "$dir/share/cmake/"
cp /usr/include/xxhash.h "$dir/include/"
cp -r /usr/src/googletest "$dir/googletest"
echo "gpu_deps: wrote $dir ($(du -sh "$dir" | cut -f1))"
