# attncc cache: ls/stats of entries written by 'attncc run' (spec hash from the key), verify
# removes corrupt, truncated and foreign entries and keeps the good one's time of last use, the
# next run rebuilds what verify removed, clear empties the directory; bad actions get exit 1.
source "$(dirname "$0")/lib.sh"
export ATTNCC_CACHE_DIR=$work/cache

for mask in causal "window(2, 0)"; do
  name=${mask%%(*}
  cat > "$work/$name.json" <<SPEC
{"layout": "varlen", "dtype": "fp32", "head_dim": 32, "mask": "$mask"}
SPEC
done
python3 - "$work" <<'PY' || fail "writing the inputs"
import json, struct, sys
tokens, dim = 6, 32
values = [((index * 7) % 13 - 6) / 8 for index in range(tokens * dim)]
tensors = {"q": ("F32", "f", [tokens, 1, dim], values), "k": ("F32", "f", [tokens, 1, dim], values),
           "v": ("F32", "f", [tokens, 1, dim], values),
           "cu_seqlens_q": ("I32", "i", [3], [0, 2, 6]),
           "cu_seqlens_k": ("I32", "i", [3], [0, 2, 6])}
header, buffer = {}, b""
for name, (dtype, code, shape, data) in tensors.items():
    packed = struct.pack("<%d%s" % (len(data), code), *data)
    header[name] = {"dtype": dtype, "shape": shape,
                    "data_offsets": [len(buffer), len(buffer) + len(packed)]}
    buffer += packed
text = json.dumps(header).encode()
open(sys.argv[1] + "/in.safetensors", "wb").write(struct.pack("<Q", len(text)) + text + buffer)
PY

# Nothing there yet: reported, and the directory is not created by looking.
expect_exit 0 -- "$attncc" cache ls
expect_contains "$out" "0 entries (the directory does not exist yet)" "ls of a missing directory"
[[ ! -e $work/cache ]] || fail "cache ls created the directory"

# run_spec NAME: runs the spec on the inputs; its stderr (kernel hash, compiled or not) is in $err.
run_spec() {
  expect_exit 0 -- "$attncc" run "$work/$1.json" --inputs "$work/in.safetensors" \
    --out "$work/out_$1.safetensors" --backend cpu
}
run_spec causal
causal_hash=$(grep -oE 'kernel [0-9a-f]{32}' <<< "$err" | cut -d' ' -f2)
[[ -n $causal_hash ]] || fail "no kernel hash in: $err"
run_spec window

expect_exit 0 -- "$attncc" cache ls
expect_contains "$out" "2 entries" "ls count"
expect_contains "$out" "$causal_hash" "ls shows the spec hash"
expect_contains "$out" "varlen fp32 d32 causal" "ls shows the spec"
expect_contains "$out" "varlen fp32 d32 window(2, 0)" "ls shows the other spec"
expect_exit 0 -- "$attncc" cache stats --json
python3 - "$work/out" <<'PY' || fail "stats --json: $out"
import json, sys
stats = json.load(open(sys.argv[1]))
assert stats["entries"] == 2 and stats["unreadable"] == 0, stats
assert stats["backends"]["cpu"]["entries"] == 2 and stats["bytes"] > 1000, stats
PY
expect_exit 0 -- "$attncc" cache ls --json
causal_file=$(python3 -c "
import json, sys
entries = json.load(open(sys.argv[1]))['entries']
print([e['file'] for e in entries if e['spec_hash'] == sys.argv[2]][0])" "$work/out" "$causal_hash")
window_file=$(cd "$work/cache" && ls *.kernel | grep -v "$causal_file")

# Damage: a flipped byte in the causal entry, a truncated copy under another name, a foreign file.
python3 - "$work/cache/$causal_file" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read()); data[-7] ^= 0x5a
open(sys.argv[1], "wb").write(data)
PY
head -c 40 "$work/cache/$window_file" > "$work/cache/0000truncated.kernel"
echo "not a kernel" > "$work/cache/foreign.kernel"
touch -d '2 days ago' "$work/cache/$window_file"
window_mtime=$(stat -c %Y "$work/cache/$window_file")
expect_exit 0 -- "$attncc" cache stats
expect_contains "$out" "unreadable  2" "stats counts unreadable headers"

expect_exit 0 -- "$attncc" cache verify
expect_contains "$out" "removed $causal_file: checksum mismatch" "verify names the corrupt entry"
expect_contains "$out" "removed 0000truncated.kernel: unreadable header" "verify: truncated"
expect_contains "$out" "removed foreign.kernel: unreadable header" "verify: foreign file"
expect_contains "$out" "verified 4 entries" "verify count"
expect_contains "$out" "1 good, 3 bad (removed)" "verify totals"
expect_contains "$err" "attncc: warning: removed bad cache entry" "verify warns as DiskCache does"
[[ $(ls "$work/cache") == "$window_file" ]] || fail "left after verify: $(ls "$work/cache")"
[[ $(stat -c %Y "$work/cache/$window_file") == "$window_mtime" ]] || fail "verify changed the mtime"
expect_exit 0 -- "$attncc" cache ls
expect_contains "$out" "2d  varlen fp32 d32 window(2, 0)" "ls shows the time since last use"

# The next run rebuilds the removed kernel; a clean cache verifies clean.
run_spec causal
expect_contains "$err" "compiled" "causal rebuilt after verify removed it"
expect_exit 0 -- "$attncc" cache verify
expect_contains "$out" "2 good, 0 bad" "verify after the rebuild"

expect_exit 0 -- "$attncc" cache clear --cache-dir "$work/cache"
expect_contains "$out" "removed 2 entries from $work/cache" "clear count"
expect_exit 0 -- "$attncc" cache ls
expect_contains "$out" "0 entries" "empty after clear"

expect_exit 1 -- "$attncc" cache lss
expect_contains "$err" "unknown action 'lss'; did you mean 'ls'?" "action typo"
expect_exit 1 -- "$attncc" cache verify --json
expect_contains "$err" "--json applies to ls and stats only" "--json on verify"
expect_exit 1 -- "$attncc" cache ls --cache-dir "$work/in.safetensors"
expect_contains "$err" "attncc cache: error: $work/in.safetensors is not a directory; pass --cache-dir" \
  "a file as the cache directory"
expect_exit 0 -- "$attncc" cache --help
expect_contains "$out" "examples:" "cache --help"
finish
