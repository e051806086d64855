#!/usr/bin/env bash
# The main job: builds attncc (optimised), compiles a doc-packed prefix-LM kernel for the CPU,
# runs forward and backward on random data with sentinel documents and checks them against the
# float64 reference (`attncc demo`); then checks every spec of the library and draws the tile
# maps of causal attention and of packed prefix-LM documents (SVGs in build/demo/).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${ATTNCC_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$build_dir" -j"$(nproc 2>/dev/null || echo 2)" --target attncc_cli
attncc="$build_dir/attncc"
mkdir -p "$build_dir/demo"

echo "== attncc demo: doc-packed prefix-LM on the CPU backend, checked against the reference"
"$attncc" demo
echo
echo "== attncc check specs/*.json"
"$attncc" check specs/*.json
echo
echo "== causal attention, 4096 x 4096, 128 x 64 tiles"
"$attncc" explain specs/causal.json --lq 4096 --lk 4096 --tile 128x64 --width 32 \
  --svg "$build_dir/demo/causal.svg"
echo
echo "== packed prefix-LM documents: a sentinel (0 tokens) and one with no causal part"
"$attncc" explain specs/prefix_lm_docs.json --docs 700,0,300,1000 --tile 64x64 --width 32 \
  --param prefix_len=100,0,0,1000 --svg "$build_dir/demo/prefix_lm.svg"
echo
echo "pictures: $build_dir/demo/causal.svg $build_dir/demo/prefix_lm.svg"
