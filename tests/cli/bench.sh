# attncc bench: a tiny run prints the kernel table (with its columns and the dense baseline)
# and the latency lines, exits 0; --json parses. Checks shape only: bench asserts no speed.
source "$(dirname "$0")/lib.sh"
tiny=(bench --quick --specs causal --seqlen 256 --repeat 1 --dispatch-calls 200)

expect_exit 0 -- "$attncc" "${tiny[@]}"
header=$(grep -E '^spec ' <<< "$out")
for column in spec S docs skipped fwd_ms dense/fwd fwd_GF/s fwd+bwd_ms dense/f+b f+b_GF/s cpu%; do
  [[ " $header " == *" $column "* ]] || fail "column '$column' missing from header: $header"
done
grep -qE '^full +256 +1 +0\.0% +[0-9.]+ \([0-9.]+-[0-9.]+\) x1 +1\.00 ' <<< "$out" ||
  fail "dense baseline row: $out"
grep -qE '^causal +256 +1 +[0-9.]+% +[0-9.]+ ' <<< "$out" || fail "causal row: $out"
expect_contains "$out" "cold_compile_ms" "latency table"
expect_contains "$out" "Kernel::forward dispatch" "dispatch line"
expect_contains "$out" "targets:" "targets line"
expect_contains "$err" "[bench] cold compile: causal" "progress on stderr"

expect_exit 0 -- "$attncc" "${tiny[@]}" --json
python3 - "$work/out" <<'PY' || fail "bench --json output"
import json, sys
report = json.load(open(sys.argv[1]))
rows = {(row["spec"], row["seqlen"]) for row in report["kernels"]}
assert rows == {("full", 256), ("causal", 256)}, rows
for row in report["kernels"]:
    assert row["forward_ms"]["runs"] == 1 and row["forward_ms"]["median"] > 0, row
    assert row["forward_backward_ms"]["median"] > 0, row
    pairs = [row["pairs_" + kind + "_per_head"] for kind in ("attended", "computed", "dense")]
    assert 0 < pairs[0] <= pairs[1] <= pairs[2], row
causal = next(row for row in report["kernels"] if row["spec"] == "causal")
assert causal["pairs_attended_per_head"] == 256 * 257 // 2, causal  # one causal document
latency = report["latency"]
assert set(latency["cold_compile_ms"]) == {"full", "causal"}, latency
assert latency["dispatch_forward_us"]["runs"] == 200, latency
PY

expect_exit 0 -- "$attncc" bench --help
expect_contains "$out" "usage: attncc bench" "bench --help"
expect_contains "$out" "examples:" "bench --help"

# Bad options fail with exit 1 and say what to use.
expect_exit 1 -- "$attncc" bench --specs causl
expect_contains "$err" "choose from" "unknown spec lists the choices"
expect_exit 1 -- "$attncc" bench --backend cuda
expect_contains "$err" "only the cpu backend" "other backends rejected"
finish
