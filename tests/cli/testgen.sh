# attncc testgen: vectors written for several layouts and masks, same seed -> same bytes, the
# manifest describes every file; docs/check_with_pytorch.py (its plain-Python forward, and
# PyTorch SDPA when torch is installed) agrees with the expected outputs; bad options exit 1.
source "$(dirname "$0")/lib.sh"

gen() {  # gen SPEC DIR [options]: testgen into $work/DIR
  local spec=$1 dir=$2; shift 2
  expect_exit 0 -- "$attncc" testgen "$source_dir/specs/$spec.json" --out "$work/$dir" "$@"
}

gen prefix_lm_docs a --cases 4 --seed 17 --head-dim 32
expect_contains "$err" "attncc testgen: prefix_lm_docs.json (bf16, head_dim 32, hash" "summary"
expect_contains "$err" "[4/4] $work/a/case_0003.safetensors" "progress on stderr"
[[ -z $out ]] || fail "testgen printed to stdout: $out"
gen prefix_lm_docs b --cases 4 --seed 17 --head-dim 32
gen prefix_lm_docs c --cases 4 --seed 18 --head-dim 32
for file in manifest.json case_0000.safetensors case_0001.safetensors case_0002.safetensors \
            case_0003.safetensors; do
  cmp -s "$work/a/$file" "$work/b/$file" || fail "same seed gave different bytes in $file"
  cmp -s "$work/a/$file" "$work/c/$file" && fail "another seed gave the same $file"
done
# Case k does not depend on --cases; a shorter rerun removes the cases past its end.
gen prefix_lm_docs b --cases 2 --seed 17 --head-dim 32
cmp -s "$work/a/case_0001.safetensors" "$work/b/case_0001.safetensors" || fail "case 1 changed"
[[ ! -e $work/b/case_0002.safetensors ]] || fail "stale case_0002 left behind"

python3 - "$work/a" "$source_dir/specs/prefix_lm_docs.json" <<'PY' || fail "manifest contents"
import json, os, struct, sys
directory = sys.argv[1]
manifest = json.load(open(os.path.join(directory, "manifest.json")))
assert manifest["format"] == "attncc-testgen/1", manifest["format"]
assert manifest["spec_file"] == "prefix_lm_docs.json" and manifest["seed"] == 17
assert manifest["spec"]["head_dim"] == 32 and manifest["spec"]["dtype"] == "bf16"
assert len(manifest["spec_hash"]) == 32 and manifest["case_count"] == 4
assert manifest["tolerances"]["fp32"]["o"] == 1e-5 and manifest["tolerances"]["bf16"]["lse"] == 1e-2
themes = [case["theme"] for case in manifest["cases"]]
assert themes == ["edges", "unequal_lengths", "long_document", "large_logits"], themes
ratios = [case["heads_q"] // case["heads_kv"] for case in manifest["cases"]]
assert ratios == [1, 4, 2, 8], ratios
for case in manifest["cases"]:
    data = open(os.path.join(directory, case["file"]), "rb").read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    meta = header.pop("__metadata__")
    assert meta["hash"] == manifest["spec_hash"] and meta["case"] == str(case["index"])
    for name in ("q", "k", "v", "o", "lse"):
        assert header[name]["shape"] == case["shapes"][name], (name, header[name], case["shapes"])
    assert header["q"]["dtype"] == "BF16" and header["do"]["dtype"] == "BF16"
    assert all(header[n]["dtype"] == "F32" for n in ("o", "lse", "dq", "dk", "dv"))
    assert header["prefix_len"]["dtype"] == "I32"
    assert case["stresses"] and case["documents"] and "cu_seqlens_q" in case["layout"]
stresses = " | ".join(s for case in manifest["cases"] for s in case["stresses"])
for needle in ("zero-length document", "K/V past slot", "Lq > Lk", "Lq < Lk", "GQA 8:1",
               "$prefix_len[doc]: 0", "= document length", "large logits"):
    assert needle in stresses, (needle, stresses)
PY

# The checking script, in plain Python (forward): its mask, layout and GQA handling against the
# expected outputs of every layout, a parameter, softcap with ALiBi, an opaque mask, division.
for spec in prefix_lm_docs doc_packed_causal causal softcap_alibi strided_opaque chunk; do
  gen "$spec" "py_$spec" --cases 3 --seed 5 --head-dim 32 --dtype fp32
  expect_exit 0 -- python3 "$source_dir/docs/check_with_pytorch.py" "$work/py_$spec" --python
  expect_contains "$out" "0 output(s) over the fp32 tolerances" "python check of $spec"
done
gen gqa_8to1 gqa --cases 2 --seed 3 --head-dim 32 --gqa 8:1
expect_contains "$err" "GQA 8:1" "--gqa progress"
expect_exit 0 -- python3 "$source_dir/docs/check_with_pytorch.py" "$work/gqa" --python
if python3 -c "import torch" 2> /dev/null; then  # PyTorch SDPA itself, when installed
  for spec in prefix_lm_docs doc_packed_causal softcap_alibi; do
    expect_exit 0 -- python3 "$source_dir/docs/check_with_pytorch.py" "$work/py_$spec"
  done
fi

# Options.
# A case file is also a valid `attncc run` input: the expected outputs stored in it are skipped
# and --check compares the kernel with a fresh float64 reference.
gen prefix_lm_docs runnable --cases 1 --seed 5
expect_exit 0 -- "$attncc" run "$source_dir/specs/prefix_lm_docs.json" --backend cpu --backward --check \
  --inputs "$work/runnable/case_0000.safetensors" --out "$work/runnable/out.safetensors"
expect_contains "$out$err" "dv" "run --check on a testgen case reports the gradients"

expect_exit 0 -- "$attncc" testgen --help
expect_contains "$out" "examples:" "testgen --help"
spec=$source_dir/specs/causal.json
expect_exit 1 -- "$attncc" testgen "$spec" --cases 2 --seed 1
expect_contains "$err" "missing --out" "no --out"
expect_exit 1 -- "$attncc" testgen "$spec" --cases 2 --seed 1 --out "$work/x" --dtype fp8
expect_contains "$err" "unknown dtype 'fp8'" "bad dtype"
expect_exit 1 -- "$attncc" testgen "$spec" --cases 2 --seed 1 --out "$work/x" --head-dim 48
expect_contains "$err" "head_dim must be one of" "bad head dim"
expect_exit 1 -- "$attncc" testgen "$spec" --cases 2 --seed 1 --out "$work/x" --gqa 3:2
expect_contains "$err" "is not a GQA ratio" "bad --gqa"
expect_exit 1 -- "$attncc" testgen "$spec" --cases 0 --seed 1 --out "$work/x"
expect_contains "$err" "expected 1 to 10000 cases" "zero cases"
finish
