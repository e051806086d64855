# attncc check: every library spec passes; a malformed mask gives file:line:col and exit 1.
source "$(dirname "$0")/lib.sh"
specs=("$source_dir"/specs/*.json)
expect_exit 0 -- "$attncc" check "${specs[@]}"
[[ $(grep -c ': ok$' <<< "$out") == "${#specs[@]}" ]] || fail "not every spec reported ok: $out"
[[ $(grep -cE '^  hash        [0-9a-f]{32}$' <<< "$out") == "${#specs[@]}" ]] || fail "hash lines: $out"
expect_contains "$out" "intervals" "interval form printed"

cat > "$work/bad.json" <<'SPEC'
{"layout": "varlen", "dtype": "bf16", "head_dim": 128,
 "mask": "causal & window(256, 0"}
SPEC
expect_exit 1 -- "$attncc" check "$work/bad.json"
first_line=$(head -n 1 <<< "$err")
[[ $first_line =~ ^.*bad\.json:2:[0-9]+:\ error:\  ]] || fail "malformed mask message: $err"
# Checking continues after a bad spec; the exit code still reports it.
expect_exit 1 -- "$attncc" check "$work/bad.json" "$source_dir/specs/causal.json"
expect_contains "$out" "causal.json: ok" "later spec still checked"

expect_exit 0 -- "$attncc" check --json "$source_dir/specs/prefix_lm_docs.json"
python3 - "$work/out" <<'PY' || fail "check --json output"
import json, sys
report = json.load(open(sys.argv[1]))[0]
assert report["parameters"] == {"prefix_len": "per_document"}, report
assert len(report["hash"]) == 32 and report["canonical"]["mask"] == report["mask"], report
PY
finish
