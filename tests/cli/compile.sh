# attncc compile: the ptxas report per entry point (0 spills), a bundle of one file per spec x
# architecture plus manifest.json, --wgmma for sm_90a (no ptxas notes); bad architectures, fp32 specs and a missing libnvrtc are user
# errors (exit 1) that say what to do.
source "$(dirname "$0")/lib.sh"
spec=$source_dir/specs/causal.json
expect_exit 0 -- "$attncc" check --json "$spec"
hash=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1]))[0]['hash'])" "$work/out")

expect_exit 0 -- "$attncc" compile "$spec" --arch sm_80 --out "$work/bundle" --fail-on-spills
expect_contains "$out" "$hash sm_80: CUBIN in" "compile line"
expect_contains "$out" "attncc_${hash}_forward (sm_80): " "forward report"
expect_contains "$out" "attncc_${hash}_backward_key_value (sm_80): " "backward report"
expect_contains "$out" "0 B spill stores, 0 B spill loads" "spill columns"
expect_contains "$out" "0 entry points spill" "spill summary"
[[ -f $work/bundle/manifest.json ]] || fail "no manifest.json"
[[ -f $work/bundle/$hash.sm_80.attncc-cuda ]] || fail "no kernel file"
python3 - "$work/bundle/manifest.json" "$hash" <<'PY' || fail "manifest contents"
import json, sys
manifest = json.load(open(sys.argv[1]))
[kernel] = manifest["kernels"]
assert kernel["hash"] == sys.argv[2] and kernel["target"] == "sm_80" and kernel["image"] == "cubin"
assert len(kernel["reports"]) == 6, kernel["reports"]
assert all(r["spill_store_bytes"] == 0 and r["spill_load_bytes"] == 0 for r in kernel["reports"])
PY

# --wgmma changes the sm_90a kernels only: sm_80 in the same call compiles as without it.
expect_exit 0 -- "$attncc" compile "$spec" --arch sm_80,sm_90a --wgmma --fail-on-spills
expect_contains "$out" "$hash sm_90a (wgmma forward, backward): CUBIN in" "wgmma compile line"
expect_contains "$out" "$hash sm_80: CUBIN in" "sm_80 without wgmma"
[[ $out != *"ptxas: ("* ]] || fail "ptxas notes on the wgmma forward: $out"
expect_exit 0 -- env ATTNCC_CUDA_WGMMA=serial "$attncc" compile "$spec" --arch sm_90a --wgmma
expect_contains "$out" "$hash sm_90a (wgmma forward, serial, backward): CUBIN in" \
  "serial wgmma compile line"

expect_exit 1 -- "$attncc" compile "$spec" --arch sm_75
expect_contains "$err" "--arch: error: unknown CUDA architecture 'sm_75'; use sm_80" "old arch"
expect_exit 1 -- "$attncc" compile "$source_dir/specs/strided_opaque.json" --arch sm_80
expect_contains "$err" "fp32 is not supported by the CUDA backend" "fp32 spec"
expect_exit 1 -- env ATTNCC_NVRTC_LIBRARY=$work/no/libnvrtc.so.13 "$attncc" compile "$spec"
expect_contains "$err" "nvrtc: error: cannot load libnvrtc.so.13" "missing NVRTC"
expect_contains "$err" "install the CUDA toolkit's NVRTC" "missing NVRTC hint"
[[ ! -e $work/no ]] || fail "a failed compile created files"
# Without a driver, asking for the CUDA backend says what is missing (on a GPU machine the run
# itself is exercised by tools/gpu_check.sh).
if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; then
  expect_exit 0 -- "$attncc" testgen "$spec" --cases 1 --seed 3 --out "$work/case"
  expect_exit 1 -- "$attncc" run "$spec" --inputs "$work/case/case_0000.safetensors" \
    --out "$work/out.safetensors" --backend cuda
  expect_contains "$err" "backend cuda: error: cannot load the CUDA driver library libcuda.so.1" \
    "run --backend cuda without a driver"
fi
expect_exit 0 -- "$attncc" compile --help
expect_contains "$out" "ATTNCC_BUNDLE_DIR" "compile --help names the bundle variable"
finish
