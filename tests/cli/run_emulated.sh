# attncc run --backend cuda-emulated: the CUDA kernels on the SIMT emulator, forward and backward
# on a testgen case (varlen prefix-LM with per-document prefixes, d64, whose tensors sit at
# element-aligned offsets of the file), checked against the float64 reference; a second run is
# a disk-cache hit. --bank-report prints the kernels' shared-memory bank wavefronts per site, all
# conflict-free (ratio 1.00), and is refused on another backend.
source "$(dirname "$0")/lib.sh"
export ATTNCC_CACHE_DIR=$work/cache

cat > "$work/prefix_d64.json" <<'SPEC'
{"layout": "varlen", "dtype": "bf16", "head_dim": 64, "mask": "prefix($prefix_len[doc])", "backward": true}
SPEC
expect_exit 0 -- "$attncc" testgen "$work/prefix_d64.json" --out "$work/cases" --cases 1 --seed 5
for origin in compiled "disk cache hit"; do
  expect_exit 0 -- "$attncc" run "$work/prefix_d64.json" \
    --inputs "$work/cases/case_0000.safetensors" --out "$work/out.safetensors" \
    --backend cuda-emulated --backward --check
  for output in "o  " "lse" "dq " "dk " "dv "; do
    expect_contains "$out$err" "check $output" "check line of $output"
  done
  [[ $(printf "%s\n%s\n" "$out" "$err" | grep -c ") ok$") == 5 ]] || fail "not every check passed: $out$err"
  expect_contains "$out$err" "cuda-emulated" "backend in the summary"
  expect_contains "$out$err" "$origin" "kernel origin ($origin)"
done

expect_exit 0 -- "$attncc" run "$work/prefix_d64.json" \
  --inputs "$work/cases/case_0000.safetensors" --out "$work/out.safetensors" \
  --backend cuda-emulated --backward --bank-report
expect_contains "$out" "shared-memory bank wavefronts" "bank report heading"
for kernel in forward backward_key_value; do
  expect_contains "$out" "$kernel " "bank report row of $kernel"
done
expect_contains "$out" "cuda/tile_copy.cuh:" "a cp.async site"
expect_contains "$out" "ldmatrix" "an ldmatrix site"
rows=$(printf "%s\n" "$out" | grep -cE '^[a-z_]+ +cuda/')
ratios=$(printf "%s\n" "$out" | grep -cE '^[a-z_]+ +cuda/.* 1\.00$')
[[ $rows -gt 5 && $rows == "$ratios" ]] || fail "expected every site at ratio 1.00: $out"
expect_exit 1 -- "$attncc" run "$work/prefix_d64.json" \
  --inputs "$work/cases/case_0000.safetensors" --out "$work/out.safetensors" \
  --backend cpu --bank-report
expect_contains "$err" "add --backend cuda-emulated" "fix for --bank-report on the CPU"
finish
