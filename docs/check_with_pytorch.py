#!/usr/bin/env python3
"""Check PyTorch's scaled_dot_product_attention against attncc conformance vectors.

usage: python3 docs/check_with_pytorch.py DIR [--case N]... [--device cpu|cuda] [--native]
       python3 docs/check_with_pytorch.py DIR --python       (no PyTorch: forward in plain Python)

DIR comes from `attncc testgen SPEC --cases N --seed S --out DIR` (docs/TESTGEN.md). For every
document of every case, the script builds the dense boolean mask M(i, j) from the spec's mask
text, runs torch.nn.functional.scaled_dot_product_attention on that document alone (query rows
that attend nothing are left out: the contract gives them O = 0, LSE = -inf, dQ = 0), gets dQ, dK,
dV from autograd, and compares o, lse, dq, dk, dv with the expected tensors of the case file.
Soft-capping is not expressible in SDPA, so softcap specs use the same math written out in torch.

By default the check runs in float64 (inputs are exact in every dtype) and uses the fp32
tolerances; --native runs SDPA in the file's dtype on --device and uses that dtype's tolerances.
Files are parsed with the standard library (struct + json); no `safetensors` package is needed.
Exit code 0 if every output is within tolerance, 1 otherwise.
"""
import argparse
import json
import math
import os
import re
import struct
import sys

# --- safetensors, parsed by hand: 8-byte little-endian header length, JSON header, byte buffer.

FORMATS = {"F32": ("f", 4), "F64": ("d", 8), "F16": ("e", 2), "I32": ("i", 4), "I64": ("q", 8),
           "BF16": (None, 2)}


def read_safetensors(path):
    """Returns {name: (dtype, shape, raw bytes)} and the metadata dict."""
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    metadata = header.pop("__metadata__", {})
    base = 8 + length
    tensors = {name: (e["dtype"], e["shape"], data[base + e["data_offsets"][0]:
                                                   base + e["data_offsets"][1]])
               for name, e in header.items()}
    return tensors, metadata


def to_list(tensor):
    """The elements as a flat Python list (bf16: the upper half of a float32)."""
    dtype, _, raw = tensor
    code, size = FORMATS[dtype]
    count = len(raw) // size
    if dtype == "BF16":
        widened = b"".join(b"\0\0" + raw[2 * n:2 * n + 2] for n in range(count))
        return list(struct.unpack("<%df" % count, widened))
    return list(struct.unpack("<%d%s" % (count, code), raw))


# --- The mask language (docs/MASK.md) as a Python predicate.

class Z(int):
    """An int with the mask language's arithmetic: floor division, x / 0 = 0, x % 0 = x."""
    def __add__(a, b): return Z(int(a) + int(b))
    def __radd__(a, b): return Z(int(b) + int(a))
    def __sub__(a, b): return Z(int(a) - int(b))
    def __rsub__(a, b): return Z(int(b) - int(a))
    def __mul__(a, b): return Z(int(a) * int(b))
    def __rmul__(a, b): return Z(int(b) * int(a))
    def __neg__(a): return Z(-int(a))
    def __truediv__(a, b): return Z(0 if int(b) == 0 else int(a) // int(b))
    def __rtruediv__(a, b): return Z(0 if int(a) == 0 else int(b) // int(a))
    def __mod__(a, b): return Z(int(a) if int(b) == 0 else int(a) % int(b))
    def __rmod__(a, b): return Z(int(b) if int(a) == 0 else int(b) % int(a))


PRIMITIVES = {  # DESIGN §2; arguments after (i, j, Lq, Lk); -1 = unbounded window side
    "full": lambda i, j, lq, lk: True,
    "causal": lambda i, j, lq, lk: j <= i,
    "causal_br": lambda i, j, lq, lk: j <= i + (lk - lq),
    "window": lambda i, j, lq, lk, l, r: (l < 0 or i - l <= j) and (r < 0 or j <= i + r),
    "window_br": lambda i, j, lq, lk, l, r: ((l < 0 or i + (lk - lq) - l <= j) and
                                             (r < 0 or j <= i + (lk - lq) + r)),
    "prefix": lambda i, j, lq, lk, p: j < p or j <= i,
    "chunk": lambda i, j, lq, lk, c: i / c == j / c,
    "sink": lambda i, j, lq, lk, n: j < n,
}
TOKEN = re.compile(r"\s*(\$[A-Za-z_]\w*(?:\[doc\])?|[A-Za-z_]\w*|\d+|<=|>=|==|!=|[-<>!&|()+*/%,])")


def compile_mask(text):
    """The mask text as a function (i, j, Lq, Lk, params) -> bool. `&`, `|`, `!` become `and`,
    `or`, `not` (same precedence order as the mask grammar); integers become Z."""
    tokens, position = [], 0
    while position < len(text.rstrip()):
        match = TOKEN.match(text, position)
        if not match:
            raise ValueError("cannot read the mask at %r" % text[position:])
        tokens.append(match.group(1))
        position = match.end()
    out = []
    for n, token in enumerate(tokens):
        if token.startswith("$"):
            out.append("P[%r]" % token[1:].replace("[doc]", ""))
        elif token in PRIMITIVES:
            opens = n + 1 < len(tokens) and tokens[n + 1] == "("
            out.append("PRIM[%r](i, j, Lq, Lk%s" % (token, ", " if opens else ")"))
        elif token == "(" and n > 0 and tokens[n - 1] in PRIMITIVES:
            continue  # opened with the primitive's call above
        elif token in ("i", "j", "Lq", "Lk", "min", "max"):
            out.append(token)
        elif token in ("true", "false"):
            out.append(token.capitalize())
        elif token.isdigit():
            out.append("Z(%s)" % token)
        else:
            out.append({"&": " and ", "|": " or ", "!": " not "}.get(token, token))
    source = "lambda i, j, Lq, Lk, P: bool(%s)" % " ".join(out)
    function = eval(source, {"Z": Z, "PRIM": PRIMITIVES, "min": min, "max": max})
    return lambda i, j, lq, lk, params: function(Z(i), Z(j), Z(lq), Z(lk),
                                                 {k: Z(v) for k, v in params.items()})


def per_document_parameters(mask_text, parameters, document):
    """Each parameter's value for one document: $name[doc] -> its entry, $name -> the scalar."""
    per_document = set(re.findall(r"\$(\w+)\[doc\]", mask_text))
    return {name: values[document["index"]] if name in per_document else values[0]
            for name, values in parameters.items()}


def relative_error(actual, expected):
    """max |a - e| / max |e| over finite elements; NaN or an unmatched infinity is infinite."""
    difference, scale = 0.0, 0.0
    for a, e in zip(actual, expected):
        if math.isnan(a) or math.isnan(e):
            return math.inf
        if math.isinf(a) or math.isinf(e):
            if a != e:
                return math.inf
            continue
        difference, scale = max(difference, abs(a - e)), max(scale, abs(e))
    return difference / (scale if scale > 0 else 1.0)


# --- One case with PyTorch.

def check_case_torch(case, tensors, spec, scale, args):
    import torch  # imported here so --python works without it
    dtypes = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
              "I32": torch.int32, "F64": torch.float64}
    compute = None if args.native else torch.float64

    def load(name):
        dtype, shape, raw = tensors[name]
        t = (torch.frombuffer(bytearray(raw), dtype=dtypes[dtype]).reshape(shape) if raw
             else torch.empty(shape, dtype=dtypes[dtype]))  # frombuffer rejects empty buffers
        return t.to(device=args.device, dtype=compute or t.dtype)

    layout, varlen = spec["layout"], spec["layout"] == "varlen"
    q, k, v = load("q"), load("k"), load("v")
    d_o = load("do") if spec["backward"] else None
    slopes = load("alibi_slopes").double() if spec["alibi"] else None
    mask_of = compile_mask(spec["mask"])
    outputs = {"o": torch.zeros(tensors["o"][1], dtype=torch.float64),
               "lse": torch.full(tensors["lse"][1], -math.inf, dtype=torch.float64)}
    if d_o is not None:
        for name in ("dq", "dk", "dv"):
            outputs[name] = torch.zeros(tensors[name][1], dtype=torch.float64)
    ratio = case["heads_q"] // case["heads_kv"]
    for doc in case["documents"]:
        lq, lk, b = doc["query_length"], doc["key_length"], doc["batch"]
        if lq == 0 or lk == 0:
            continue  # nothing attended: zeros and -inf above are the contract
        rq = slice(doc["query_start"], doc["query_start"] + lq)
        rk = slice(doc["key_start"], doc["key_start"] + lk)
        qd = (q[rq] if varlen else q[b, rq]).detach().clone().requires_grad_(d_o is not None)
        kd = (k[rk] if varlen else k[b, rk]).detach().clone().requires_grad_(d_o is not None)
        vd = (v[rk] if varlen else v[b, rk]).detach().clone().requires_grad_(d_o is not None)
        params = per_document_parameters(spec["mask"], case["parameters"], doc)
        mask = torch.tensor([[mask_of(i, j, lq, lk, params) for j in range(lk)]
                             for i in range(lq)], device=args.device)
        rows = mask.any(dim=1)  # rows that attend something; the others stay O = 0, dQ = 0
        if not rows.any():
            continue
        # [heads, rows, dim]; kv heads repeated so query head h reads kv head h // ratio.
        qh = qd[rows].transpose(0, 1)
        kh = kd.transpose(0, 1).repeat_interleave(ratio, dim=0)
        vh = vd.transpose(0, 1).repeat_interleave(ratio, dim=0)
        bias = torch.zeros(1, device=args.device, dtype=torch.float64)
        if slopes is not None:  # slope[h] * (j - i - (Lk - Lq))
            i = torch.arange(lq, device=args.device)[rows].view(1, -1, 1)
            j = torch.arange(lk, device=args.device).view(1, 1, -1)
            bias = slopes.view(-1, 1, 1) * (j - i - (lk - lq)).double()
        scores = scale * (qh.double() @ kh.double().transpose(1, 2))
        if spec.get("softcap", 0) > 0:
            scores = spec["softcap"] * torch.tanh(scores / spec["softcap"])
        scores = (scores + bias).masked_fill(~mask[rows], -math.inf)
        lse = torch.logsumexp(scores, dim=-1)
        if spec.get("softcap", 0) > 0:  # SDPA cannot soft-cap: the same math, written out
            o = torch.softmax(scores, dim=-1).to(vh.dtype) @ vh
        else:
            attn_mask = mask[rows] if slopes is None else (bias + torch.where(
                mask[rows], 0.0, -math.inf)).to(qh.dtype)
            o = torch.nn.functional.scaled_dot_product_attention(
                qh.unsqueeze(0), kh.unsqueeze(0), vh.unsqueeze(0), attn_mask=attn_mask,
                scale=scale).squeeze(0)
        o = o.transpose(0, 1)  # [rows, heads, dv]
        where = (rq,) if varlen else (b, rq)
        full_o = torch.zeros(lq, *o.shape[1:], dtype=o.dtype, device=o.device)
        full_o[rows] = o
        outputs["o"][where] = full_o.detach().double().cpu()
        lse_where = (slice(None), rq) if varlen else (b, slice(None), rq)
        outputs["lse"][lse_where][:, rows.cpu()] = lse.detach().cpu()
        if d_o is not None:
            full_o.backward((d_o[rq] if varlen else d_o[b, rq]).to(full_o.dtype))
            rk_where = (rk,) if varlen else (b, rk)
            outputs["dq"][where] = qd.grad.double().cpu()
            outputs["dk"][rk_where] = kd.grad.double().cpu()
            outputs["dv"][rk_where] = vd.grad.double().cpu()
    return {name: value.flatten().tolist() for name, value in outputs.items()}


# --- One case in plain Python (forward only): checks this script's layout and mask handling
# where PyTorch is not installed.

def check_case_python(case, tensors, spec, scale):
    q, k, v = (to_list(tensors[n]) for n in ("q", "k", "v"))
    hq, hkv = case["heads_q"], case["heads_kv"]
    d, dv = tensors["q"][1][-1], tensors["v"][1][-1]
    rows_q, rows_k = tensors["q"][1][-3], tensors["k"][1][-3]  # S (or T) per batch row
    slopes = to_list(tensors["alibi_slopes"]) if spec["alibi"] else None
    softcap = spec.get("softcap", 0)
    mask_of = compile_mask(spec["mask"])
    o = [0.0] * (len(q) // d * dv)
    lse = [-math.inf] * (len(q) // d)
    for doc in case["documents"]:
        lq, lk, b = doc["query_length"], doc["key_length"], doc["batch"]
        params = per_document_parameters(spec["mask"], case["parameters"], doc)
        allowed = [[mask_of(i, j, lq, lk, params) for j in range(lk)] for i in range(lq)]
        for h in range(hq):
            g = h // (hq // hkv)
            for i in range(lq):
                row = b * rows_q + doc["query_start"] + i
                qi = q[(row * hq + h) * d:(row * hq + h + 1) * d]
                scores = {}
                for j in range(lk):
                    if not allowed[i][j]:
                        continue
                    key = b * rows_k + doc["key_start"] + j
                    s = scale * sum(a * c for a, c in zip(qi, k[(key * hkv + g) * d:]))
                    if softcap > 0:
                        s = softcap * math.tanh(s / softcap)
                    if slopes:
                        s += slopes[h] * (j - i - (lk - lq))
                    scores[key] = s
                if not scores:
                    continue
                top = max(scores.values())
                total = sum(math.exp(s - top) for s in scores.values())
                lse[(b * hq + h) * rows_q + doc["query_start"] + i] = top + math.log(total)
                for key, s in scores.items():
                    p = math.exp(s - top) / total
                    base, out = (key * hkv + g) * dv, (row * hq + h) * dv
                    for c in range(dv):
                        o[out + c] += p * v[base + c]
    return {"o": o, "lse": lse}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory")
    parser.add_argument("--case", type=int, action="append", help="case index (default: all)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--native", action="store_true", help="run SDPA in the file's dtype")
    parser.add_argument("--python", action="store_true", help="no PyTorch: forward in Python")
    args = parser.parse_args()
    manifest = json.load(open(os.path.join(args.directory, "manifest.json")))
    spec = manifest["spec"]
    dtype = spec["dtype"] if args.native else "fp32"
    tolerances = manifest["tolerances"][dtype]
    failures = 0
    for case in manifest["cases"]:
        if args.case and case["index"] not in args.case:
            continue
        tensors, _ = read_safetensors(os.path.join(args.directory, case["file"]))
        if args.python:
            actual = check_case_python(case, tensors, spec, manifest["softmax_scale"])
        else:
            actual = check_case_torch(case, tensors, spec, manifest["softmax_scale"], args)
        report = []
        for name, values in actual.items():
            error = relative_error(values, to_list(tensors[name]))
            ok = error <= tolerances[name]
            failures += not ok
            report.append("%s %.2g%s" % (name, error, "" if ok else " FAILED"))
        print("%s (%s): %s" % (case["file"], case["theme"], ", ".join(report)))
    print("%s: %d output(s) over the %s tolerances" % (args.directory, failures, dtype))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
