#!/usr/bin/env python3
"""attncc CUDA kernels against PyTorch on one GPU: SDPA (flash, cuDNN, memory-efficient backends,
each where it supports the mask) and FlexAttention (torch.compile'd), on causal, causal_br
(Lq = Lk / 4), doc-packed (8 documents per row plus 2 zero-length sentinels), sliding window 1024
and prefix-LM, at batch x seqlen = 16k tokens, head dims 128 and 64, bf16, forward and
forward+backward.

Correctness first: a float32 reference (SDPA's math backend on the same bf16 inputs, a few heads
at a time so that a 16k x 16k score matrix fits) gives O, dQ, dK, dV; every implementation's
outputs are compared with it (max |diff| / max |ref|; above 2e-2 the row says MISMATCH and its
time is not comparable).

FlexAttention gets the mask_mod a user would write (q_idx >= kv_idx, a document-id lookup, ...),
not a lookup into a dense mask, and torch._dynamo is reset before each case so that no case
runs past the recompile limit into flex's unfused eager fallback.

TFLOP/s count attended (query, key) pairs only: forward 4 * pairs * D * Hq FLOPs (two matmuls),
backward 2.5x that (five matmuls). PyTorch is timed with CUDA events around each call (median
of --repeat); attncc by `attncc run --backend cuda --warmup W --repeat R --timing-json` (inputs
already on the device; each call's launches plus the wait for the stream, host-timed: a few
microseconds more than event timing). All numbers are from the same run; a ratio is the other
implementation's time over attncc's (above 1: attncc is faster). The last lines compare the
issue's targets (causal d128 forward against FlexAttention and 0.9x SDPA flash, document masks
1.3x FlexAttention, backward against FlexAttention).

At head dim 128 the causal case also runs attncc with the mask written as `j <= max(i, -1)`
(row attncc_8_warps): the same attention, but a bound the compiler does not count as light, so
the forward keeps 8 warps of 16 query rows where causal gets 4 warps of 32; its ratio says
which tile shape is faster (above 1: the 4-warp shape). It also runs attncc with
ATTNCC_DETERMINISTIC=1 (row attncc_deterministic): the backward's dQ by its own pass over the
key tiles instead of fp32 atomics, whose forward+backward time shows what determinism costs.
Every case also runs attncc with ATTNCC_CUDA_WGMMA=1 (row attncc_wgmma): on sm_90a the
experimental forward and backward key/value kernel through warpgroup MMAs (wgmma) instead of
mma.sync, checked against the reference like every row; its forward and backward ratios say
what wgmma gives (above 1: mma.sync faster). The causal case at head dim 128 also runs it
deterministic (row attncc_wgmma_deterministic: the key/value kernel and the dQ pass both on
wgmma), to compare with attncc_deterministic.
That forward overlaps a key tile's softmax with the previous tile's P V product (FA3's
intra-warpgroup overlap, two K/V stages); the causal and doc_packed cases also run it with
ATTNCC_CUDA_WGMMA=serial (row attncc_wgmma_serial), each product waited for at once: its
forward time against attncc_wgmma's says what the overlap gives.
At head dim 128 the causal case also runs the wgmma forward on the max() spelling (row
attncc_wgmma_1_block): compiled for one block per SM where causal's wgmma forward is compiled
for two (launch_shape.h warpgroup_forward_blocks_per_sm).

Cases run in priority order (the first seqlen of --seqlens at head dim 128, then 64, each with
causal, doc_packed, prefix_lm, causal_br, window_1024; then the next seqlen); --budget-s stops
before a case once the run has used that much time, and --out is rewritten after every case,
so a run cut short still leaves what it measured.

--device cpu rehearses the whole script without a GPU: attncc then runs the same CUDA kernels
on the cuda-emulated backend, PyTorch on the CPU (use small --tokens/--heads; the emulator is
slow). --dry-run prints the cases and commands without torch.
"""
import argparse
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time

DOCUMENTS_PER_ROW = 8
SENTINELS = 2
WINDOW = 1024
MASKS = ["causal", "doc_packed", "prefix_lm", "causal_br", "window_1024"]
TOLERANCE = 2e-2


def cases(masks, head_dims, seqlens, tokens):
    """Every benchmark case, in the order they run (most important first)."""
    result = []
    for seqlen in seqlens:
        batch = max(1, tokens // seqlen)
        for head_dim in head_dims:
            common = {"dtype": "bf16", "head_dim": head_dim, "outputs": ["o", "lse"], "backward": True}
            specs = {
                "causal": (seqlen, dict(common, layout="dense", mask="causal")),
                "causal_br": (seqlen // 4, dict(common, layout="dense", mask="causal_br")),
                "doc_packed": (seqlen, dict(common, layout="doc_packed", mask="causal")),
                "window_1024": (seqlen, dict(common, layout="dense", mask="window(%d, 0)" % (WINDOW - 1))),
                "prefix_lm": (seqlen, dict(common, layout="dense", mask="prefix($prefix_len)")),
            }
            for name in masks:
                seqlen_q, spec = specs[name]
                result.append(dict(name=name, seqlen_q=seqlen_q, seqlen_k=seqlen, batch=batch, spec=spec))
    return result


def document_bounds(seqlen, seed):
    """cu_seq row: 8 documents of random lengths summing to seqlen, then zero-length sentinels."""
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, seqlen), DOCUMENTS_PER_ROW - 1))
    return [0] + cuts + [seqlen] + [seqlen] * SENTINELS


def document_ids(cu_seq, seqlen, torch, device):
    """[B, S] int32: the document of every token, -1 for tokens in no document."""
    ids = torch.full((len(cu_seq), seqlen), -1, dtype=torch.int32, device=device)
    for b, row in enumerate(cu_seq):
        for d in range(len(row) - 1):
            ids[b, row[d]:row[d + 1]] = d
    return ids


def dense_mask(case, torch, device):
    """Boolean [B or 1, 1, Lq, Lk] mask of the case (True = attend), per DESIGN §2."""
    lq, lk = case["seqlen_q"], case["seqlen_k"]
    i = torch.arange(lq, device=device).view(-1, 1)
    j = torch.arange(lk, device=device).view(1, -1)
    name = case["name"]
    if name == "causal":
        return (j <= i).view(1, 1, lq, lk)
    if name == "causal_br":
        return (j <= i + (lk - lq)).view(1, 1, lq, lk)
    if name == "window_1024":
        return ((j <= i) & (j >= i - (WINDOW - 1))).view(1, 1, lq, lk)
    if name == "prefix_lm":
        return ((j < case["prefix_len"]) | (j <= i)).view(1, 1, lq, lk)
    if name == "doc_packed":
        ids = document_ids(case["cu_seq"], lq, torch, device)
        same = (ids.unsqueeze(2) == ids.unsqueeze(1)) & (ids.unsqueeze(2) >= 0)
        return (same & (j <= i)).unsqueeze(1)
    raise ValueError(name)


def flex_mask_mod(case, torch, device):
    """(mask_mod, batch) as a FlexAttention user writes them: index arithmetic, and for documents
    a lookup of each token's document id (FlexAttention's document-masking recipe)."""
    lq, lk, name = case["seqlen_q"], case["seqlen_k"], case["name"]
    if name == "causal":
        return (lambda b, h, q, kv: q >= kv), None
    if name == "causal_br":
        offset = lk - lq
        return (lambda b, h, q, kv: kv <= q + offset), None
    if name == "window_1024":
        return (lambda b, h, q, kv: (q >= kv) & (q - kv < WINDOW)), None
    if name == "prefix_lm":
        prefix = case["prefix_len"]
        return (lambda b, h, q, kv: (kv < prefix) | (q >= kv)), None
    if name == "doc_packed":
        ids = document_ids(case["cu_seq"], lq, torch, device)
        return (lambda b, h, q, kv: (ids[b, q] == ids[b, kv]) & (ids[b, q] >= 0) & (q >= kv)), len(case["cu_seq"])
    raise ValueError(name)


def attended_pairs(mask, batch):
    """Attended (query, key) pairs of one head over the whole batch."""
    total = int(mask.sum().item())
    return total * (batch if mask.shape[0] == 1 else 1)


def write_safetensors(path, tensors, torch):
    header, blobs, offset = {}, [], 0
    names = {torch.bfloat16: "BF16", torch.float32: "F32", torch.int32: "I32"}
    for name, tensor in tensors.items():
        tensor = tensor.detach().contiguous().cpu()
        raw = tensor.view(torch.int16).numpy().tobytes() if tensor.dtype == torch.bfloat16 \
            else tensor.numpy().tobytes()
        header[name] = {"dtype": names[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path, torch):
    with open(path, "rb") as file:
        data = file.read()
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + size])
    body = data[8 + size:]
    result = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = bytearray(body[begin:end])
        if entry["dtype"] == "BF16":
            tensor = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16)
        else:
            tensor = torch.frombuffer(raw, dtype={"F32": torch.float32, "I32": torch.int32}[entry["dtype"]])
        result[name] = tensor.reshape(entry["shape"])
    return result


def relative_error(actual, expected):
    """max |actual - expected| / max |expected|; NaN anywhere gives inf (it never passes)."""
    expected = expected.float()
    actual = actual.float().to(expected.device)
    scale = expected.abs().max().item() or 1.0
    difference = (actual - expected).abs().max().item()
    return difference / scale if difference == difference else float("inf")


class Timer:
    """Median time of a callable in ms: CUDA events on a GPU, the host clock on the CPU."""

    def __init__(self, torch, device, warmup, repeat):
        self.torch, self.device, self.warmup, self.repeat = torch, device, warmup, repeat

    def median_ms(self, function):
        torch = self.torch
        for _ in range(self.warmup):
            function()
        times = []
        for _ in range(self.repeat):
            if self.device == "cuda":
                start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                function()
                stop.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(stop))
            else:
                started = time.perf_counter()
                function()
                times.append(1e3 * (time.perf_counter() - started))
        times.sort()
        return times[len(times) // 2]


def reference_outputs(qt, kt, vt, d_ot, mask, torch):
    """O, dQ, dK, dV in float32 from SDPA's math backend, [B, H, L, D], a few heads at a time
    (the math backend holds [B, heads, Lq, Lk] float32 scores and probabilities)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    heads, lq, lk = qt.shape[1], qt.shape[2], kt.shape[2]
    chunk = max(1, min(heads, (1 << 29) // max(1, qt.shape[0] * lq * lk)))
    parts = {"o": [], "dq": [], "dk": [], "dv": []}
    for h0 in range(0, heads, chunk):
        q, k, v = (x[:, h0:h0 + chunk].float().requires_grad_(True) for x in (qt, kt, vt))
        with sdpa_kernel(SDPBackend.MATH):
            out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        out.backward(d_ot[:, h0:h0 + chunk].float())
        # Rows nobody attends give NaN in SDPA; the contract says O = 0 (and dQ = 0) there.
        parts["o"].append(torch.nan_to_num(out.detach()))
        parts["dq"].append(torch.nan_to_num(q.grad))
        parts["dk"].append(torch.nan_to_num(k.grad))
        parts["dv"].append(torch.nan_to_num(v.grad))
        del q, k, v, out
    return {name: torch.cat(values, 1) for name, values in parts.items()}


def measure_torch(call, inputs, d_ot, reference, timer, torch):
    """Times call(q, k, v) forward, then forward+backward, checking each output first. Without a
    backward (FlexAttention on the CPU refuses inputs that require grad) the forward is timed
    without autograd and the entry says why there is no backward."""
    q, k, v = (x.detach().clone().requires_grad_(True) for x in inputs)
    backward_error = None
    try:
        out = call(q, k, v)
    except Exception as error:
        backward_error = error
        q, k, v = (x.detach().clone() for x in inputs)
        out = call(q, k, v)
    entry = {"errors": {"o": relative_error(torch.nan_to_num(out.detach()), reference["o"])}}
    # With autograd on where there is a backward, as in training: every implementation then also
    # keeps its LSE.
    entry["forward_ms"] = timer.median_ms(lambda: call(q, k, v))
    if backward_error is None:
        try:
            out.backward(d_ot)
            for name, tensor in (("dq", q), ("dk", k), ("dv", v)):
                entry["errors"][name] = relative_error(tensor.grad, reference[name])
            entry["forward_backward_ms"] = timer.median_ms(lambda: call(q, k, v).backward(d_ot))
        except Exception as error:
            backward_error = error
    if backward_error is not None:
        entry["backward_unsupported"] = first_line(backward_error)
    return entry


def first_line(error):
    """The first line of the innermost cause (torch.compile wraps the real error)."""
    while error.__cause__ is not None:
        error = error.__cause__
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:200]


def run_attncc(case, arguments, inputs, reference, work, torch, settings=None):
    """attncc through its CLI on the same inputs; outputs read back and checked first.
    settings: extra environment variables (ATTNCC_DETERMINISTIC=1, ATTNCC_CUDA_WGMMA=1)."""
    spec_path = os.path.join(work, "spec.json")
    with open(spec_path, "w") as file:
        json.dump(case["spec"], file)
    inputs_path, outputs_path = os.path.join(work, "in.safetensors"), os.path.join(work, "out.safetensors")
    timing_path = os.path.join(work, "timing.json")
    write_safetensors(inputs_path, inputs, torch)
    command = [arguments.attncc, "run", spec_path, "--inputs", inputs_path, "--out", outputs_path,
               "--backend", arguments.backend, "--backward", "--warmup", str(arguments.warmup),
               "--repeat", str(arguments.repeat), "--timing-json", timing_path]
    # ATTNCC_VALIDATE=0: a timed call is its launches plus one wait (attncc run would otherwise
    # check each call's device status with a second synchronisation); the outputs are checked
    # against the reference below instead.
    environment = dict(os.environ, ATTNCC_VALIDATE="0", **(settings or {}))
    completed = subprocess.run(command, capture_output=True, text=True, env=environment)
    if completed.returncode != 0:
        return {"failed": (completed.stderr.strip() or completed.stdout.strip())[-400:]}
    outputs = read_safetensors(outputs_path, torch)
    # attncc's tensors are [B, L, H, D]; the reference is [B, H, L, D].
    errors = {name: relative_error(outputs[name].transpose(1, 2), reference[name])
              for name in ("o", "dq", "dk", "dv")}
    with open(timing_path) as file:
        timing = json.load(file)
    median = lambda values: sorted(values)[len(values) // 2]
    forward_ms = median(timing["forward_ms"])
    return {"errors": errors, "forward_ms": forward_ms,
            "forward_backward_ms": forward_ms + median(timing["backward_ms"]),
            "compile_or_load_ms": timing.get("get_ms"), "origin": timing.get("origin"),
            "timing": "host clock around launches + stream wait"}


def run_case(case, arguments, torch, work):
    device = arguments.device
    generator = torch.Generator(device=device).manual_seed(arguments.seed)
    b, lq, lk, d = case["batch"], case["seqlen_q"], case["seqlen_k"], case["spec"]["head_dim"]
    heads = arguments.heads
    if case["name"] == "prefix_lm":
        case["prefix_len"] = lq // 4
    if case["name"] == "doc_packed":
        case["cu_seq"] = [document_bounds(lq, row) for row in range(b)]
    draw = lambda rows: torch.randn(b, rows, heads, d, device=device, dtype=torch.bfloat16, generator=generator)
    q, k, v, d_o = draw(lq), draw(lk), draw(lk), draw(lq)
    mask = dense_mask(case, torch, device)
    pairs = attended_pairs(mask, b)
    flops_forward = 4.0 * pairs * d * heads
    flops_backward = 2.5 * flops_forward
    results = {"case": case["name"], "head_dim": d, "batch": b, "seqlen_q": lq, "seqlen_k": lk,
               "heads": heads, "attended_pairs_per_head": pairs, "implementations": {}}
    qt, kt, vt, d_ot = (x.transpose(1, 2) for x in (q, k, v, d_o))
    reference = reference_outputs(qt, kt, vt, d_ot, mask, torch)
    timer = Timer(torch, device, arguments.warmup, arguments.repeat)

    def record(name, entry):
        for key, flops in (("forward", flops_forward), ("forward_backward", flops_forward + flops_backward)):
            milliseconds = entry.get(key + "_ms")
            entry[key + "_tflops"] = flops / milliseconds / 1e9 if milliseconds else None
        results["implementations"][name] = entry

    from torch.nn.attention import SDPBackend, sdpa_kernel
    causal_only = case["name"] == "causal"
    for name, backend in [("sdpa_flash", SDPBackend.FLASH_ATTENTION),
                          ("sdpa_cudnn", SDPBackend.CUDNN_ATTENTION),
                          ("sdpa_efficient", SDPBackend.EFFICIENT_ATTENTION)]:
        if backend == SDPBackend.FLASH_ATTENTION and not causal_only:
            results["implementations"][name] = {"unsupported": "flash takes no attention mask"}
            continue
        kwargs = {"is_causal": True} if causal_only else {"attn_mask": mask}

        def call(q_, k_, v_, backend=backend, kwargs=kwargs):
            with sdpa_kernel(backend):
                return torch.nn.functional.scaled_dot_product_attention(q_, k_, v_, **kwargs)
        try:
            record(name, measure_torch(call, (qt, kt, vt), d_ot, reference, timer, torch))
        except Exception as error:  # a backend that cannot run this mask or shape
            results["implementations"][name] = {"unsupported": first_line(error)}
    try:
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention
        torch._dynamo.reset()  # a fresh recompile budget: never the unfused eager fallback
        mask_mod, mask_batch = flex_mask_mod(case, torch, device)
        block_mask = create_block_mask(mask_mod, B=mask_batch, H=None, Q_LEN=lq, KV_LEN=lk, device=device)
        compiled = torch.compile(flex_attention, fullgraph=True)
        call = lambda q_, k_, v_: compiled(q_, k_, v_, block_mask=block_mask)
        record("flex_attention", measure_torch(call, (qt, kt, vt), d_ot, reference, timer, torch))
    except Exception as error:
        results["implementations"]["flex_attention"] = {"unsupported": first_line(error)}

    inputs = {"q": q, "k": k, "v": v, "do": d_o}
    if case["name"] == "doc_packed":
        inputs["cu_seq"] = torch.tensor(case["cu_seq"], dtype=torch.int32)
    if case["name"] == "prefix_lm":
        inputs["prefix_len"] = torch.tensor([case["prefix_len"]], dtype=torch.int32)
    def record_attncc(name, entry):
        if "failed" in entry:
            results["implementations"][name] = entry
        else:
            record(name, entry)

    record_attncc("attncc", run_attncc(case, arguments, inputs, reference, work, torch))
    # The experimental sm_90a forward and backward key/value kernel through warpgroup MMAs
    # (wgmma; RuntimeOptions::cuda_warpgroup_mma): on an H100/H200 their ratios against attncc
    # say what wgmma gives; elsewhere it runs the mma.sync kernels (the emulation runs the
    # wgmma ones).
    record_attncc("attncc_wgmma", run_attncc(case, arguments, inputs, reference, work, torch,
                                             {"ATTNCC_CUDA_WGMMA": "1"}))
    if case["name"] in ("causal", "doc_packed"):
        # The same without the overlap: what FA3's schedule gives on top of wgmma.
        record_attncc("attncc_wgmma_serial",
                      run_attncc(case, arguments, inputs, reference, work, torch,
                                 {"ATTNCC_CUDA_WGMMA": "serial"}))
    if case["name"] == "causal" and d == 128:
        # The same mask written with a max() bound, which compiler/emit/forward_tile_choice.h
        # does not count as light: the forward's 8-warp shape on the same inputs, so the run
        # shows whether the 4-warp shape that causal gets at this head dim is the faster one
        # (ratio > 1: 4 warps faster).
        variant = dict(case, spec=dict(case["spec"], mask="j <= max(i, -1)"))
        record_attncc("attncc_8_warps",
                      run_attncc(variant, arguments, inputs, reference, work, torch))
        # The wgmma forward of that heavy spelling is compiled for one block per SM (160+
        # registers) where causal's is compiled for two (128): its ratio against attncc_wgmma
        # says which occupancy is faster (> 1: two blocks).
        record_attncc("attncc_wgmma_1_block",
                      run_attncc(variant, arguments, inputs, reference, work, torch,
                                 {"ATTNCC_CUDA_WGMMA": "1"}))
        # The deterministic backward (dQ by a separate pass over key tiles, no fp32 atomics),
        # same kernels cache: its forward_backward time against attncc's says what it costs.
        record_attncc("attncc_deterministic",
                      run_attncc(case, arguments, inputs, reference, work, torch,
                                 {"ATTNCC_DETERMINISTIC": "1"}))
        # The same on wgmma: the key/value kernel and the dQ pass through warpgroup MMAs; its
        # forward_backward time against attncc_deterministic's says what wgmma gives there.
        record_attncc("attncc_wgmma_deterministic",
                      run_attncc(case, arguments, inputs, reference, work, torch,
                                 {"ATTNCC_DETERMINISTIC": "1", "ATTNCC_CUDA_WGMMA": "1"}))
    return results


def worst_error(entry):
    return max(entry["errors"].values()) if entry.get("errors") else float("inf")


def print_table(all_results):
    print("TFLOP/s on attended pairs only (forward 4*pairs*D*Hq, backward 2.5x); ratio = "
          "other time / attncc time (> 1: attncc faster); err = max |x - ref| / max |ref| over "
          "O, dQ, dK, dV against the float32 reference")
    print("%-12s %4s %6s %6s  %-20s %9s %9s %7s %7s %8s" % (
        "case", "D", "Lq", "Lk", "implementation", "fwd TF/s", "f+b TF/s", "fwd x", "f+b x", "err"))
    for result in all_results:
        prefix = "%-12s %4d %6d %6d " % (result["case"], result["head_dim"], result.get("seqlen_q", 0),
                                         result["seqlen_k"])
        if "error" in result:
            print("%s case failed: %s" % (prefix, result["error"]))
            continue
        ours = result["implementations"].get("attncc", {})
        for name, entry in result["implementations"].items():
            if "forward_ms" not in entry:
                print("%s %-20s %s" % (prefix, name, entry.get("unsupported") or entry.get("failed")))
                continue
            ratio = lambda key: (entry[key] / ours[key]) if ours.get(key) and entry.get(key) else float("nan")
            number = lambda value: value if value is not None else float("nan")
            worst = worst_error(entry)
            flag = "" if worst <= TOLERANCE else "  MISMATCH (time not comparable)"
            if "backward_unsupported" in entry:
                flag += "  backward: " + entry["backward_unsupported"]
            print("%s %-20s %9.1f %9.1f %7.2f %7.2f %8.1e%s" % (
                prefix, name, number(entry["forward_tflops"]), number(entry["forward_backward_tflops"]),
                ratio("forward_ms"), ratio("forward_backward_ms"), worst, flag))


def target_lines(all_results):
    """The issue's targets, each compared on the cases that ran: 'other / attncc' time ratios."""
    def ratios(case_names, head_dims, other, part, mine_name):
        found = []
        for result in all_results:
            if result["case"] not in case_names or result["head_dim"] not in head_dims:
                continue
            ours = result["implementations"].get(mine_name, {})
            theirs = result["implementations"].get(other, {})
            if worst_error(ours) > TOLERANCE or worst_error(theirs) > TOLERANCE:
                continue
            if part == "backward":
                if not ours.get("forward_backward_ms") or not theirs.get("forward_backward_ms"):
                    continue
                mine = ours["forward_backward_ms"] - ours["forward_ms"]
                other_ms = theirs["forward_backward_ms"] - theirs["forward_ms"]
            else:
                mine, other_ms = ours.get(part + "_ms"), theirs.get(part + "_ms")
                if not mine or not other_ms:
                    continue
            found.append(("%s d%d S=%d" % (result["case"], result["head_dim"], result["seqlen_k"]),
                          other_ms / mine))
        return found

    goals = [("forward >= FlexAttention, causal d128", ["causal"], [128], "flex_attention", "forward", 1.0),
             ("forward >= 0.9x SDPA flash, causal d128", ["causal"], [128], "sdpa_flash", "forward", 0.9),
             ("document masks >= 1.3x FlexAttention, forward", ["doc_packed"], [64, 128], "flex_attention",
              "forward", 1.3),
             ("document masks >= 1.3x FlexAttention, fwd+bwd", ["doc_packed"], [64, 128], "flex_attention",
              "forward_backward", 1.3),
             ("backward >= FlexAttention, every mask", MASKS, [64, 128], "flex_attention", "backward", 1.0)]
    # The same targets for the experimental wgmma kernels (row attncc_wgmma).
    goals = [goal + ("attncc",) for goal in goals] + [
        (title + " [wgmma]", case_names, head_dims, other, part, goal, "attncc_wgmma")
        for title, case_names, head_dims, other, part, goal in goals]
    lines = []
    for title, case_names, head_dims, other, part, goal, mine_name in goals:
        found = ratios(case_names, head_dims, other, part, mine_name)
        if not found:
            lines.append("%-56s not measured (no case where both ran and passed the check)" % title)
            continue
        worst = min(value for _, value in found)
        verdict = "met" if worst >= goal else "MISSED"
        detail = ", ".join("%s %.2f" % (where, value) for where, value in found)
        lines.append("%-56s %s (worst %.2f; %s)" % (title, verdict, worst, detail))
    return lines


def write_json(path, header, all_results):
    if not path:
        return
    temporary = path + ".tmp"
    with open(temporary, "w") as file:
        json.dump(dict(header, results=all_results), file, indent=1)
    os.replace(temporary, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attncc", default="build/attncc", help="the attncc executable")
    parser.add_argument("--out", help="write every result as JSON to this file (after each case)")
    parser.add_argument("--masks", default=",".join(MASKS), help="cases to run, in this order")
    parser.add_argument("--head-dims", default="128,64")
    parser.add_argument("--seqlens", default="4096,16384,1024", help="batch = tokens / seqlen")
    parser.add_argument("--tokens", type=int, default=16384, help="batch x seqlen (default 16384)")
    parser.add_argument("--heads", type=int, default=16, help="query and key/value heads")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget-s", type=float, default=0,
                        help="start no new case after this many seconds (0: no limit)")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                        help="cpu rehearses the script: PyTorch on the CPU, attncc on cuda-emulated")
    parser.add_argument("--backend", help="attncc's backend (default: cuda, or cuda-emulated with --device cpu)")
    parser.add_argument("--dry-run", action="store_true", help="print cases and commands only")
    arguments = parser.parse_args()
    arguments.backend = arguments.backend or ("cuda" if arguments.device == "cuda" else "cuda-emulated")
    masks = [name for name in arguments.masks.split(",") if name]
    unknown = [name for name in masks if name not in MASKS]
    if unknown:
        parser.error("unknown mask %s (masks: %s)" % (", ".join(unknown), ", ".join(MASKS)))
    head_dims = [int(x) for x in arguments.head_dims.split(",")]
    seqlens = [int(x) for x in arguments.seqlens.split(",")]
    planned = cases(masks, head_dims, seqlens, arguments.tokens)
    if arguments.dry_run:
        for case in planned:
            print("%-12s B=%-3d Lq=%-6d Lk=%-6d spec=%s" % (case["name"], case["batch"], case["seqlen_q"],
                                                         case["seqlen_k"], json.dumps(case["spec"])))
        print("attncc: %s run SPEC --inputs IN --out OUT --backend %s --backward --warmup %d "
              "--repeat %d --timing-json T" % (arguments.attncc, arguments.backend, arguments.warmup,
                                               arguments.repeat))
        print("%d cases; PyTorch: SDPA flash/cuDNN/efficient, FlexAttention (torch.compile)" % len(planned))
        return 0
    try:
        import torch
    except ImportError:
        print("bench_gpu.py: error: PyTorch is not installed; nothing to compare against", file=sys.stderr)
        return 2
    if arguments.device == "cuda" and not torch.cuda.is_available():
        print("bench_gpu.py: error: torch sees no CUDA device (--device cpu rehearses on the CPU)",
              file=sys.stderr)
        return 2
    device_name = torch.cuda.get_device_name(0) if arguments.device == "cuda" else "cpu"
    print("device: %s, torch %s, attncc backend %s" % (device_name, torch.__version__, arguments.backend),
          flush=True)
    header = {"device": device_name, "torch": torch.__version__, "attncc_backend": arguments.backend,
              "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    all_results = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        for index, case in enumerate(planned):
            label = "%s d%d Lq=%d Lk=%d B=%d" % (case["name"], case["spec"]["head_dim"], case["seqlen_q"],
                                                case["seqlen_k"], case["batch"])
            elapsed = time.monotonic() - started
            if arguments.budget_s and elapsed > arguments.budget_s:
                skipped = len(planned) - index
                print("budget of %.0f s used (%.0f s): %d cases not run, from %s" % (
                    arguments.budget_s, elapsed, skipped, label), flush=True)
                header["not_run"] = [c["name"] + " d%d S=%d" % (c["spec"]["head_dim"], c["seqlen_k"])
                                     for c in planned[index:]]
                break
            print("[%d/%d %.0f s] %s" % (index + 1, len(planned), elapsed, label), flush=True)
            try:
                all_results.append(run_case(case, arguments, torch, work))
            except Exception as error:  # e.g. out of memory: keep the other cases
                all_results.append({"case": case["name"], "head_dim": case["spec"]["head_dim"],
                                    "seqlen_q": case["seqlen_q"], "seqlen_k": case["seqlen_k"],
                                    "implementations": {}, "error": first_line(error)})
                print("  failed: %s" % first_line(error), file=sys.stderr, flush=True)
            if arguments.device == "cuda":
                torch.cuda.empty_cache()
            header["targets"] = target_lines(all_results)
            write_json(arguments.out, header, all_results)
    print_table(all_results)
    if arguments.device == "cpu":
        print("rehearsal on the CPU: attncc ran on %s, so the ratios and targets below say nothing "
              "about speed" % arguments.backend)
    print("targets (ratio = other time / attncc time, on the cases above):")
    for line in target_lines(all_results):
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
