# tools/sass_loops.py: --help teaches, a missing nvdisasm or attncc is an error that says what
# to do, and where nvdisasm is installed (not in CI: it is not part of NVRTC) a real listing of
# loops with HMMA counts and the ptxas report.
source "$(dirname "$0")/lib.sh"
tool=$source_dir/tools/sass_loops.py
spec=$source_dir/specs/causal.json

expect_exit 0 -- python3 "$tool" --help
expect_contains "$out" "nvdisasm" "help names nvdisasm"
expect_contains "$out" "examples:" "help examples"
expect_exit 1 -- python3 "$tool" "$spec" --nvdisasm "$work/no-nvdisasm" --attncc "$attncc"
expect_contains "$err" "--nvdisasm $work/no-nvdisasm: not an executable file" "missing nvdisasm"
printf '#!/bin/sh\nexit 0\n' > "$work/fake-nvdisasm"; chmod +x "$work/fake-nvdisasm"
expect_exit 1 -- python3 "$tool" "$spec" --nvdisasm "$work/fake-nvdisasm" --attncc "$work/none"
expect_contains "$err" "is not an executable; build attncc" "missing attncc"

nvdisasm=${NVDISASM:-$(command -v nvdisasm || true)}
if [[ -n $nvdisasm ]]; then
  expect_exit 0 -- python3 "$tool" "$spec" --head-dim 64 --arch sm_80 --kernel backward_query \
    --attncc "$attncc" --nvdisasm "$nvdisasm" --blocks 0
  expect_contains "$out" "_backward_query: " "ptxas report"
  expect_contains "$out" "loop #0 [" "loop listing"
  expect_contains "$out" "HMMA" "tensor-core count"
  expect_contains "$out" "basic blocks of loop" "blocks listing"
else
  echo "nvdisasm not installed: the listing itself is not checked here"
fi
finish
