# attncc run: varlen causal (GQA, a zero-length document) forward + backward in fp32 and forward
# in bf16 on the CPU backend, checked against the float64 reference; output names, shapes, dtypes
# and metadata read back from the file; bad, missing and misplaced input names get exit 1.
source "$(dirname "$0")/lib.sh"
export ATTNCC_CACHE_DIR=$work/cache

for dtype in fp32 bf16; do
  cat > "$work/varlen_causal_$dtype.json" <<SPEC
{"layout": "varlen", "dtype": "$dtype", "head_dim": 32, "mask": "causal", "backward": true}
SPEC
done

# Inputs written with the standard library only: 12 tokens in documents of 5, 0 and 7 tokens,
# Hq = 4 query heads over Hkv = 2 kv heads, D = 32. Values are multiples of 1/64 in [-2, 2], exact
# in bf16, so both dtypes see the same numbers.
python3 - "$work" <<'PY' || fail "writing the inputs"
import json, random, struct, sys
work = sys.argv[1]
random.seed(7)

def write(path, tensors):
    formats = {"F32": ("f", 4), "I32": ("i", 4), "BF16": (None, 2)}
    header, buffer = {}, b""
    for name, (dtype, shape, values) in tensors.items():
        code, size = formats[dtype]
        if dtype == "BF16":
            data = b"".join(struct.pack("<f", v)[2:] for v in values)  # exact: upper 16 bits
        else:
            data = struct.pack("<%d%s" % (len(values), code), *values)
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(buffer), len(buffer) + len(data)]}
        buffer += data
    text = json.dumps(header).encode()
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + buffer)

def values(count):
    return [random.randint(-128, 128) / 64 for _ in range(count)]

tokens, heads_q, heads_kv, dim = 12, 4, 2, 32
base = {"q": ([tokens, heads_q, dim], values(tokens * heads_q * dim)),
        "k": ([tokens, heads_kv, dim], values(tokens * heads_kv * dim)),
        "v": ([tokens, heads_kv, dim], values(tokens * heads_kv * dim)),
        "do": ([tokens, heads_q, dim], values(tokens * heads_q * dim))}
offsets = ("I32", [4], [0, 5, 5, 12])
for dtype, tag in (("F32", "fp32"), ("BF16", "bf16")):
    tensors = {name: (dtype, shape, data) for name, (shape, data) in base.items()}
    tensors["cu_seqlens_q"] = offsets
    tensors["cu_seqlens_k"] = offsets
    write(f"{work}/in_{tag}.safetensors", tensors)
    if tag == "fp32":
        renamed = {("cu_seqlen_q" if n == "cu_seqlens_q" else n): t for n, t in tensors.items()}
        write(f"{work}/bad_name.safetensors", renamed)
        write(f"{work}/missing_k.safetensors",
              {n: t for n, t in tensors.items() if n != "cu_seqlens_k"})
        write(f"{work}/no_do.safetensors", {n: t for n, t in tensors.items() if n != "do"})
        write(f"{work}/extra_cu_seq.safetensors", dict(tensors, cu_seq=("I32", [1, 2], [0, 12])))

def attention(shape):
    count = 1
    for extent in shape:
        count *= extent
    return ("F32", shape, values(count))

# dense, Dv = 64, per-row lengths; row 1 has Lq = 5 > Lk = 2, so causal_br leaves rows empty.
write(f"{work}/in_dense.safetensors", {
    "q": attention([2, 5, 2, 32]), "k": attention([2, 6, 1, 32]), "v": attention([2, 6, 1, 64]),
    "do": attention([2, 5, 2, 64]), "seqlens_q": ("I32", [2], [3, 5]),
    "seqlens_k": ("I32", [2], [6, 2]), "alibi_slopes": ("F32", [2], [0.25, 0.5])})
# doc_packed with sentinels and a per-document parameter (B * MAX_DOCS = 6 values).
write(f"{work}/in_doc_packed.safetensors", {
    "q": attention([2, 8, 2, 32]), "k": attention([2, 8, 2, 32]), "v": attention([2, 8, 2, 32]),
    "do": attention([2, 8, 2, 32]), "cu_seq": ("I32", [2, 4], [0, 3, 8, 8, 0, 8, 8, 8]),
    "p": ("I32", [6], [1, 0, 0, 4, 0, 0])})
PY
cat > "$work/dense.json" <<'SPEC'
{"layout": "dense", "dtype": "fp32", "head_dim": 32, "head_dim_v": 64, "mask": "causal_br",
 "alibi": true, "softcap": 30, "backward": true}
SPEC
cat > "$work/doc_packed.json" <<'SPEC'
{"layout": "doc_packed", "dtype": "fp32", "head_dim": 32, "mask": "prefix($p[doc])",
 "backward": true}
SPEC

# Reads an output file's header: "name dtype shape" lines, then metadata lines "key=value".
describe() {
  python3 - "$1" <<'PY'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
(length,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + length])
for key, value in sorted(header.pop("__metadata__", {}).items()):
    print(f"{key}={value}")
for name, entry in header.items():
    print(name, entry["dtype"], entry["shape"])
PY
}

spec32=$work/varlen_causal_fp32.json
expect_exit 0 -- "$attncc" check --json "$spec32"
hash=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1]))[0]['hash'])" "$work/out")

expect_exit 0 -- "$attncc" run "$spec32" --inputs "$work/in_fp32.safetensors" \
  --out "$work/out_fp32.safetensors" --backward --backend cpu --check
expect_contains "$err" "attncc run: kernel $hash on cpu: compiled in" "summary line"
expect_contains "$err" "wrote o, lse, dq, dk, dv to $work/out_fp32.safetensors" "summary outputs"
for name in o lse dq dk dv; do
  expect_contains "$out" "check $(printf '%-3s' $name) max relative error" "check line for $name"
done
[[ $out != *FAILED* ]] || fail "fp32 check failed: $out"
description=$(describe "$work/out_fp32.safetensors")
expect_contains "$description" "hash=$hash" "hash metadata"
expect_contains "$description" "backend=cpu" "backend metadata"
expect_contains "$description" 'spec={"alibi":false' "canonical spec metadata"
expect_contains "$description" "o F32 [12, 4, 32]" "o shape"
expect_contains "$description" "lse F32 [4, 12]" "lse shape"
expect_contains "$description" "dq F32 [12, 4, 32]" "dq shape"
expect_contains "$description" "dk F32 [12, 2, 32]" "dk shape"
expect_contains "$description" "dv F32 [12, 2, 32]" "dv shape"

# A second process finds the kernel in the disk cache.
expect_exit 0 -- "$attncc" run "$spec32" --inputs "$work/in_fp32.safetensors" \
  --out "$work/out_again.safetensors" --backward --backend cpu
expect_contains "$err" "disk cache hit" "second run from the disk cache"
cmp -s "$work/out_fp32.safetensors" "$work/out_again.safetensors" || fail "reruns differ"

# bf16 forward only: bf16 o, float32 lse, no gradients; 'do' in the file is ignored with a note.
expect_exit 0 -- "$attncc" run "$work/varlen_causal_bf16.json" \
  --inputs "$work/in_bf16.safetensors" --out "$work/out_bf16.safetensors" --backend cpu --check
expect_contains "$err" "note: ignoring input 'do'" "unused do"
[[ $out != *FAILED* ]] || fail "bf16 check failed: $out"
description=$(describe "$work/out_bf16.safetensors")
expect_contains "$description" "o BF16 [12, 4, 32]" "bf16 o"
expect_contains "$description" "lse F32 [4, 12]" "bf16 lse"
[[ $description != *dq* ]] || fail "forward-only run wrote gradients: $description"

# The other layouts: dense with head_dim_v, lengths, alibi and softcap; doc_packed with a
# per-document parameter.
expect_exit 0 -- "$attncc" run "$work/dense.json" --inputs "$work/in_dense.safetensors" \
  --out "$work/out_dense.safetensors" --backward --backend cpu --check
[[ $out == *"check dv "* && $out != *FAILED* ]] || fail "dense check: $out"
description=$(describe "$work/out_dense.safetensors")
expect_contains "$description" "o F32 [2, 5, 2, 64]" "dense o"
expect_contains "$description" "lse F32 [2, 2, 5]" "dense lse"
expect_contains "$description" "dv F32 [2, 6, 1, 64]" "dense dv"
expect_exit 0 -- "$attncc" run "$work/doc_packed.json" --inputs "$work/in_doc_packed.safetensors" \
  --out "$work/out_doc_packed.safetensors" --backward --backend cpu --check
[[ $out == *"check dv "* && $out != *FAILED* ]] || fail "doc_packed check: $out"
description=$(describe "$work/out_doc_packed.safetensors")
expect_contains "$description" "lse F32 [2, 2, 8]" "doc_packed lse"

# Input names: unknown (with did-you-mean), missing, used by another layout, do for --backward.
run_bad() {  # run_bad INPUT_FILE [options]: a run on the fp32 spec that must fail with exit 1
  local input=$1; shift
  expect_exit 1 -- "$attncc" run "$spec32" --inputs "$work/$input" --out "$work/x" "$@"
}
run_bad bad_name.safetensors
expected="bad_name.safetensors: error: unknown input tensor 'cu_seqlen_q'; did you mean"
expected+=" 'cu_seqlens_q'? a varlen spec reads q, k, v, cu_seqlens_q, cu_seqlens_k"
expected+=" (optional: cu_seqlens_q_padded, cu_seqlens_k_padded)"
expect_contains "$err" "$expected" "bad input name"
run_bad missing_k.safetensors
expect_contains "$err" "error: missing input tensor 'cu_seqlens_k'" "missing input"
run_bad extra_cu_seq.safetensors
expect_contains "$err" "error: input tensor 'cu_seq' is not used by this spec" "other layout input"
run_bad no_do.safetensors --backward --backend cpu
expect_contains "$err" "error: missing input tensor 'do'" "backward without do"
# The runtime's argument errors name the file they came from.
run_bad in_bf16.safetensors
expect_contains "$err" "in_bf16.safetensors: q: error: dtype is bf16 but the spec says fp32" \
  "runtime validation"
[[ ! -e $work/x ]] || fail "a failed run wrote its output file"

# Files and options.
printf 'abc' > "$work/truncated.safetensors"
expect_exit 1 -- "$attncc" run "$spec32" --inputs "$work/truncated.safetensors" --out "$work/x"
expect_contains "$err" "truncated.safetensors: error: the file is 3 bytes" "truncated input"
expect_exit 1 -- "$attncc" run "$spec32" --out "$work/x"
expect_contains "$err" "missing --inputs" "no --inputs"
run_bad in_fp32.safetensors --backend gpu
expect_contains "$err" "unknown backend 'gpu'" "bad backend"
expect_exit 0 -- "$attncc" run --help
expect_contains "$out" "examples:" "run --help"
finish
