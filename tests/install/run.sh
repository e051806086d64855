#!/usr/bin/env bash
# Installs the already-built project into a scratch prefix, then configures, builds and runs a
# consumer that uses find_package(attncc) and attncc::attncc.
set -euo pipefail
build_dir=$1; work=$2; consumer=$3
rm -rf "$work"; mkdir -p "$work"
cmake --install "$build_dir" --prefix "$work/prefix" > "$work/install.log"
test -x "$work/prefix/bin/attncc" || { echo "attncc CLI not installed"; exit 1; }
cmake -S "$consumer" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log" 2>&1 \
  || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
"$work/build/consumer"
