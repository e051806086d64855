#!/usr/bin/env python3
"""attncc CUDA kernels against PyTorch on one GPU: SDPA (flash, cuDNN, memory-efficient backends,
each where it supports the mask) and FlexAttention (torch.compile'd), on causal, causal_br
(Lq < Lk), doc-packed (8 documents per row plus zero-length sentinels), sliding window 1024 and
prefix-LM, at batch x seqlen = 16k tokens, head dims 64 and 128, bf16, forward and
forward+backward.

Every implementation's output is checked against PyTorch's (max |diff| / max |ref| <= 2e-2 for
O; dQ/dK/dV too with --backward) before its time counts. TFLOP/s count attended (query, key)
pairs only: forward 4 * pairs * D * Hq FLOPs (two matmuls), backward 2.5x that (five matmuls),
stated in the output. Times: PyTorch by CUDA events around each call (median of --repeat);
attncc by `attncc run --backend cuda --warmup W --repeat R --timing-json` (inputs already on the
device; each call's launches plus the wait for the stream, host-timed: a few microseconds of
launch and synchronisation more than event timing, stated in the output). All numbers are from
the same run; ratios are attncc time / other time per case.

--dry-run prints the cases, the specs and the commands without torch or a GPU.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

TOKENS = 16384
HEADS_Q = 16
HEADS_KV = 16
DOCUMENTS_PER_ROW = 8
WINDOW = 1024


def cases(head_dims, seqlens):
    """(name, spec, shape description) for every benchmark case."""
    result = []
    for head_dim in head_dims:
        for seqlen in seqlens:
            batch = max(1, TOKENS // seqlen)
            common = {"dtype": "bf16", "head_dim": head_dim, "outputs": ["o", "lse"], "backward": True}
            result.append(dict(name="causal", seqlen_q=seqlen, seqlen_k=seqlen, batch=batch,
                               spec=dict(common, layout="dense", mask="causal")))
            result.append(dict(name="causal_br", seqlen_q=seqlen // 4, seqlen_k=seqlen, batch=batch,
                               spec=dict(common, layout="dense", mask="causal_br")))
            result.append(dict(name="doc_packed", seqlen_q=seqlen, seqlen_k=seqlen, batch=batch,
                               spec=dict(common, layout="doc_packed", mask="causal")))
            result.append(dict(name="window_1024", seqlen_q=seqlen, seqlen_k=seqlen, batch=batch,
                               spec=dict(common, layout="dense", mask="window(%d, 0)" % (WINDOW - 1))))
            result.append(dict(name="prefix_lm", seqlen_q=seqlen, seqlen_k=seqlen, batch=batch,
                               spec=dict(common, layout="dense", mask="prefix($prefix_len)")))
    return result


def document_bounds(seqlen, seed):
    """cu_seq row: 8 documents of random lengths summing to seqlen, then 2 zero-length sentinels."""
    import random
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, seqlen), DOCUMENTS_PER_ROW - 1))
    row = [0] + cuts + [seqlen]
    return row + [seqlen, seqlen]  # sentinels: documents of length 0


def dense_mask(case, torch, device):
    """Boolean [B or 1, 1, Lq, Lk] mask of the case (True = attend), per DESIGN §3."""
    lq, lk, b = case["seqlen_q"], case["seqlen_k"], case["batch"]
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
        masks = []
        for row in case["cu_seq"]:
            document = torch.full((lq,), -1, device=device)
            for d in range(len(row) - 1):
                document[row[d]:row[d + 1]] = d
            same = (document.view(-1, 1) == document.view(1, -1)) & (document.view(-1, 1) >= 0)
            masks.append((same & (j <= i)).view(1, 1, lq, lk))
        return torch.cat(masks, 0)
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
    expected = expected.float()
    scale = expected.abs().max().item() or 1.0
    return (actual.float() - expected).abs().max().item() / scale


def time_cuda(function, warmup, repeat, torch):
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeat):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        function()
        stop.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(stop))
    times.sort()
    return times[len(times) // 2]


def run_case(case, arguments, torch, work):
    device = "cuda"
    generator = torch.Generator(device=device).manual_seed(0)
    b, lq, lk, d = case["batch"], case["seqlen_q"], case["seqlen_k"], case["spec"]["head_dim"]
    if case["name"] == "prefix_lm":
        case["prefix_len"] = lq // 4
    if case["name"] == "doc_packed":
        case["cu_seq"] = [document_bounds(lq, row) for row in range(b)]
    q = torch.randn(b, lq, HEADS_Q, d, device=device, dtype=torch.bfloat16, generator=generator)
    k = torch.randn(b, lk, HEADS_KV, d, device=device, dtype=torch.bfloat16, generator=generator)
    v = torch.randn(b, lk, HEADS_KV, d, device=device, dtype=torch.bfloat16, generator=generator)
    d_o = torch.randn(b, lq, HEADS_Q, d, device=device, dtype=torch.bfloat16, generator=generator)
    mask = dense_mask(case, torch, device)
    pairs = attended_pairs(mask, b)
    flops_forward = 4.0 * pairs * d * HEADS_Q
    flops_backward = 2.5 * flops_forward
    results = {"case": case["name"], "head_dim": d, "batch": b, "seqlen_q": lq, "seqlen_k": lk,
               "attended_pairs_per_head": pairs, "implementations": {}}

    # The reference: SDPA's math path in fp32 on the same bf16 inputs.
    qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
    qr, kr, vr = (x.float().requires_grad_(True) for x in (qt, kt, vt))
    out = torch.nn.functional.scaled_dot_product_attention(qr, kr, vr, attn_mask=mask)
    out = torch.nan_to_num(out)  # rows nobody attends: O = 0 by the contract
    out.backward(d_o.transpose(1, 2).float())
    reference = {"o": out.detach().transpose(1, 2), "dq": qr.grad.transpose(1, 2),
                 "dk": kr.grad.transpose(1, 2), "dv": vr.grad.transpose(1, 2)}
    del qr, kr, vr, out

    def record(name, forward_ms, total_ms, errors):
        entry = {"errors": errors, "forward_ms": forward_ms, "forward_backward_ms": total_ms}
        entry["forward_tflops"] = flops_forward / forward_ms / 1e9 if forward_ms else None
        entry["forward_backward_tflops"] = ((flops_forward + flops_backward) / total_ms / 1e9
                                            if total_ms else None)
        results["implementations"][name] = entry

    # PyTorch SDPA backends and FlexAttention.
    from torch.nn.attention import SDPBackend, sdpa_kernel
    for name, backend in [("sdpa_flash", SDPBackend.FLASH_ATTENTION),
                          ("sdpa_cudnn", SDPBackend.CUDNN_ATTENTION),
                          ("sdpa_efficient", SDPBackend.EFFICIENT_ATTENTION)]:
        causal_only = case["name"] == "causal" and lq == lk
        kwargs = {"is_causal": True} if causal_only else {"attn_mask": mask}
        if backend == SDPBackend.FLASH_ATTENTION and not causal_only:
            results["implementations"][name] = {"unsupported": "flash takes no attention mask"}
            continue
        try:
            with sdpa_kernel(backend):
                qg, kg, vg = (x.detach().clone().requires_grad_(True) for x in (qt, kt, vt))
                call = lambda: torch.nn.functional.scaled_dot_product_attention(qg, kg, vg, **kwargs)
                o = call()
                o.backward(d_o.transpose(1, 2))
                errors = {"o": relative_error(torch.nan_to_num(o).transpose(1, 2), reference["o"]),
                          "dq": relative_error(qg.grad.transpose(1, 2), reference["dq"])}
                forward_ms = time_cuda(call, arguments.warmup, arguments.repeat, torch)
                grad = d_o.transpose(1, 2)
                total_ms = time_cuda(lambda: call().backward(grad), arguments.warmup, arguments.repeat, torch)
                record(name, forward_ms, total_ms, errors)
        except Exception as error:  # a backend that cannot run this mask or shape
            results["implementations"][name] = {"unsupported": str(error).splitlines()[0][:200]}
    try:
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention
        dense = mask

        def mask_mod(batch, head, i, j):
            return dense[batch if dense.shape[0] > 1 else 0, 0, i, j]

        block_mask = create_block_mask(mask_mod, B=mask.shape[0], H=None, Q_LEN=lq, KV_LEN=lk)
        compiled = torch.compile(flex_attention)
        qg, kg, vg = (x.detach().clone().requires_grad_(True) for x in (qt, kt, vt))
        call = lambda: compiled(qg, kg, vg, block_mask=block_mask)
        o = call()
        o.backward(d_o.transpose(1, 2))
        errors = {"o": relative_error(o.transpose(1, 2), reference["o"]),
                  "dq": relative_error(qg.grad.transpose(1, 2), reference["dq"])}
        forward_ms = time_cuda(call, arguments.warmup, arguments.repeat, torch)
        grad = d_o.transpose(1, 2)
        total_ms = time_cuda(lambda: call().backward(grad), arguments.warmup, arguments.repeat, torch)
        record("flex_attention", forward_ms, total_ms, errors)
    except Exception as error:
        results["implementations"]["flex_attention"] = {"unsupported": str(error).splitlines()[0][:200]}

    # attncc through its CLI: same inputs, outputs read back and checked first.
    spec_path = os.path.join(work, "spec.json")
    with open(spec_path, "w") as file:
        json.dump(case["spec"], file)
    inputs = {"q": q, "k": k, "v": v, "do": d_o}
    if case["name"] == "doc_packed":
        inputs["cu_seq"] = torch.tensor(case["cu_seq"], dtype=torch.int32)
    if case["name"] == "prefix_lm":
        inputs["prefix_len"] = torch.tensor([case["prefix_len"]], dtype=torch.int32)
    inputs_path, outputs_path = os.path.join(work, "in.safetensors"), os.path.join(work, "out.safetensors")
    timing_path = os.path.join(work, "timing.json")
    write_safetensors(inputs_path, inputs, torch)
    command = [arguments.attncc, "run", spec_path, "--inputs", inputs_path, "--out", outputs_path,
               "--backend", "cuda", "--backward", "--warmup", str(arguments.warmup),
               "--repeat", str(arguments.repeat), "--timing-json", timing_path]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        results["implementations"]["attncc"] = {"failed": completed.stderr.strip()[-400:]}
        return results
    outputs = read_safetensors(outputs_path, torch)
    errors = {name: relative_error(outputs[name].to(device), reference[name])
              for name in ("o", "dq", "dk", "dv")}
    timing = json.load(open(timing_path))
    median = lambda values: sorted(values)[len(values) // 2]
    forward_ms = median(timing["forward_ms"])
    total_ms = forward_ms + median(timing["backward_ms"])
    record("attncc", forward_ms, total_ms, errors)
    results["implementations"]["attncc"]["timing"] = "host clock around launches + stream wait"
    return results


def print_table(all_results):
    print("TFLOP/s on attended pairs only (forward 4*pairs*D*Hq, backward 2.5x); ratio = "
          "other time / attncc time (> 1: attncc faster)")
    print("%-12s %4s %6s  %-16s %9s %9s %7s %7s %8s" % (
        "case", "D", "S", "implementation", "fwd TF/s", "f+b TF/s", "fwd x", "f+b x", "max err"))
    for result in all_results:
        ours = result["implementations"].get("attncc", {})
        for name, entry in result["implementations"].items():
            if "forward_ms" not in entry:
                print("%-12s %4d %6d  %-16s %s" % (result["case"], result["head_dim"], result["seqlen_k"],
                                                   name, entry.get("unsupported") or entry.get("failed")))
                continue
            ratio = lambda key: (entry[key] / ours[key]) if ours.get(key) else float("nan")
            worst = max(entry["errors"].values())
            flag = "" if worst <= 2e-2 else "  MISMATCH (time not comparable)"
            print("%-12s %4d %6d  %-16s %9.1f %9.1f %7.2f %7.2f %8.1e%s" % (
                result["case"], result["head_dim"], result["seqlen_k"], name, entry["forward_tflops"],
                entry["forward_backward_tflops"], ratio("forward_ms"), ratio("forward_backward_ms"),
                worst, flag))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attncc", default="build/attncc", help="the attncc executable")
    parser.add_argument("--out", help="write every result as JSON to this file")
    parser.add_argument("--head-dims", default="64,128")
    parser.add_argument("--seqlens", default="1024,4096,16384", help="batch = 16384 / seqlen")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--dry-run", action="store_true", help="print cases and commands only")
    arguments = parser.parse_args()
    head_dims = [int(x) for x in arguments.head_dims.split(",")]
    seqlens = [int(x) for x in arguments.seqlens.split(",")]
    planned = cases(head_dims, seqlens)
    if arguments.dry_run:
        for case in planned:
            print("%-12s B=%-3d Lq=%-6d Lk=%-6d spec=%s" % (case["name"], case["batch"], case["seqlen_q"],
                                                         case["seqlen_k"], json.dumps(case["spec"])))
        print("attncc: %s run SPEC --inputs IN --out OUT --backend cuda --backward --warmup %d "
              "--repeat %d --timing-json T" % (arguments.attncc, arguments.warmup, arguments.repeat))
        print("%d cases; PyTorch: SDPA flash/cuDNN/efficient, FlexAttention (torch.compile)" % len(planned))
        return 0
    try:
        import torch
    except ImportError:
        print("bench_gpu.py: error: PyTorch is not installed; nothing to compare against", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("bench_gpu.py: error: torch sees no CUDA device", file=sys.stderr)
        return 2
    print("device: %s, torch %s" % (torch.cuda.get_device_name(0), torch.__version__))
    all_results = []
    with tempfile.TemporaryDirectory() as work:
        for case in planned:
            try:
                all_results.append(run_case(case, arguments, torch, work))
            except Exception as error:  # e.g. out of memory for a dense mask: keep the others
                all_results.append({"case": case["name"], "head_dim": case["spec"]["head_dim"],
                                    "seqlen_k": case["seqlen_k"], "implementations": {},
                                    "error": str(error)[:300]})
                print("%s d%d S=%d failed: %s" % (case["name"], case["spec"]["head_dim"],
                                                 case["seqlen_k"], str(error)[:300]), file=sys.stderr)
            torch.cuda.empty_cache()
    print_table(all_results)
    if arguments.out:
        with open(arguments.out, "w") as file:
            json.dump({"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
                       "results": all_results}, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
