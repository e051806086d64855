# attncc run --threads/--cpu-backward/--warmup/--repeat/--timing-json (what
# tools/bench_cpu_vs_torch.py drives): one time per timed call, kernel only, as JSON; the outputs
# are those of a plain run; both CPU backward schedules pass --check; bad values are errors that
# say what to type.
source "$(dirname "$0")/lib.sh"
export ATTNCC_CACHE_DIR=$work/cache

cat > "$work/spec.json" <<'SPEC'
{"layout": "varlen", "dtype": "fp32", "head_dim": 32, "mask": "window(4, 0)", "backward": true}
SPEC
# 20 tokens in documents of 9, 0 and 11 tokens, 2 heads; values multiples of 1/32.
python3 - "$work" <<'PY' || fail "writing the inputs"
import json, random, struct, sys
random.seed(3)
tensors = {}
for name in ("q", "k", "v", "do"):
    tensors[name] = ("F32", [20, 2, 32], [random.randint(-32, 32) / 32 for _ in range(1280)])
tensors["cu_seqlens_q"] = tensors["cu_seqlens_k"] = ("I32", [4], [0, 9, 9, 20])
header, buffer = {}, b""
for name, (dtype, shape, values) in tensors.items():
    data = struct.pack("<%d%s" % (len(values), "f" if dtype == "F32" else "i"), *values)
    header[name] = {"dtype": dtype, "shape": shape,
                    "data_offsets": [len(buffer), len(buffer) + len(data)]}
    buffer += data
text = json.dumps(header).encode()
open(sys.argv[1] + "/in.safetensors", "wb").write(struct.pack("<Q", len(text)) + text + buffer)
PY

run() { "$attncc" run "$work/spec.json" --inputs "$work/in.safetensors" --backend cpu "$@"; }
expect_exit 0 -- run --out "$work/plain.safetensors" --backward
expect_exit 0 -- run --out "$work/timed.safetensors" --backward --threads 1 --warmup 2 \
  --repeat 3 --timing-json "$work/timing.json" --check
expect_contains "$err" "(median)" "summary line says the times are medians"
[[ $out == *"check dv "* && $out != *FAILED* ]] || fail "check after repeated calls: $out"
cmp -s "$work/plain.safetensors" "$work/timed.safetensors" ||
  fail "outputs after warm-up and repeats differ from a single run's"
python3 - "$work/timing.json" <<'PY' || fail "timing JSON"
import json, sys
timing = json.load(open(sys.argv[1]))
assert set(timing) == {"kernel", "backend", "threads", "origin", "get_ms", "warmup",
                       "forward_ms", "backward_ms", "forward_cpu_ms", "backward_cpu_ms"}, timing
assert timing["backend"] == "cpu" and timing["threads"] == 1 and timing["warmup"] == 2, timing
assert timing["origin"] == "disk cache hit", timing
assert len(timing["forward_ms"]) == 3 and len(timing["backward_ms"]) == 3, timing
assert all(t > 0 for t in timing["forward_ms"] + timing["backward_ms"]), timing
assert len(timing["forward_cpu_ms"]) == 3 and len(timing["backward_cpu_ms"]) == 3, timing
assert all(t >= 0 for t in timing["forward_cpu_ms"] + timing["backward_cpu_ms"]), timing
assert len(timing["kernel"]) > 8 and timing["get_ms"] >= 0, timing
PY

# Forward only: no backward times; ATTNCC_NUM_THREADS gives the thread count without --threads.
ATTNCC_NUM_THREADS=2 expect_exit 0 -- run --out "$work/fwd.safetensors" --repeat 2 \
  --timing-json "$work/fwd.json"
python3 - "$work/fwd.json" <<'PY' || fail "forward-only timing JSON"
import json, sys
timing = json.load(open(sys.argv[1]))
assert len(timing["forward_ms"]) == 2 and timing["backward_ms"] == [], timing
assert len(timing["forward_cpu_ms"]) == 2 and timing["backward_cpu_ms"] == [], timing
assert timing["threads"] == 2 and timing["warmup"] == 0, timing
PY

# Every CPU backward schedule matches the reference.
for schedule in fused fused-split two-pass auto; do
  expect_exit 0 -- run --out "$work/$schedule.safetensors" --backward --cpu-backward $schedule \
    --check
  [[ $out == *"check dq "* && $out != *FAILED* ]] || fail "--cpu-backward $schedule: $out"
done

# Every CPU forward schedule too (split: each query tile's key tiles over 2 parts, merged).
for schedule in tiles split auto; do
  expect_exit 0 -- run --out "$work/forward-$schedule.safetensors" --backward --cpu-forward $schedule \
    --check
  [[ $out == *"check o "* && $out != *FAILED* ]] || fail "--cpu-forward $schedule: $out"
done

# Bad values.
expect_exit 1 -- run --out "$work/x" --backward --cpu-backward fast
expect_contains "$err" "unknown CPU backward schedule 'fast'; use auto, fused, fused-split or two-pass" \
  "--cpu-backward fast"
expect_exit 1 -- run --out "$work/x" --cpu-forward fused
expect_contains "$err" "unknown CPU forward schedule 'fused'; use auto, tiles or split" \
  "--cpu-forward fused"
expect_exit 1 -- run --out "$work/x" --repeat 0
expect_contains "$err" "--repeat: error: expected at least 1 timed call" "--repeat 0"
expect_exit 1 -- run --out "$work/x" --warmup -1
expect_contains "$err" "--warmup: error: expected a non-negative integer" "--warmup -1"
expect_exit 1 -- run --out "$work/x" --threads 0
expect_contains "$err" "--threads: error: expected at least 1 thread" "--threads 0"
expect_exit 1 -- run --out "$work/x" --timing-json "$work/no/such/dir/t.json"
expect_contains "$err" "cannot write the timing JSON" "unwritable --timing-json"

expect_exit 0 -- "$attncc" run --help
for flag in --threads --cpu-backward --warmup --repeat --timing-json; do
  expect_contains "$out" "$flag" "run --help teaches $flag"
done
expect_contains "$out" "kernel only" "run --help says what is timed"
finish
