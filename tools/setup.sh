#!/usr/bin/env bash
# Installs every Debian package attncc needs to build and test; safe to run again (does nothing
# when everything is present). The CUDA toolkit is expected under /usr/local/cuda (NVRTC and
# driver headers only; no GPU is needed to build or test).
set -euo pipefail

packages=(
  cmake g++ make pkg-config python3
  nlohmann-json3-dev   # spec JSON, safetensors headers
  libgtest-dev         # test suite
  libxxhash-dev        # XXH3-128 spec and cache hashes (header-only use)
  libdlpack-dev        # DLTensor, for TensorRef::from_dlpack
  llvm-19-dev libclang-19-dev clang-19 libclang-cpp19-dev  # CPU backend JIT (Clang + ORC)
  llvm-19-tools        # FileCheck for emitted-source golden tests
  libclang-rt-19-dev   # sanitizer and libFuzzer runtimes for clang-19 (tools/fuzz.sh)
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
fi

if [[ ! -d /usr/local/cuda/include ]]; then
  echo "setup: note: no CUDA toolkit under /usr/local/cuda; the CUDA backend will be unavailable"
fi
