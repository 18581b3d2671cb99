"""The nn suite: layers forward + backward against PyTorch, measured in the same run.

CPU path (NeuraRust's NumPy references, one thread; PyTorch pinned to 1 thread, OpenBLAS too):

* *Conv2d*: forward + backward of a small CNN layer (N=8, 16 -> 32 channels, 32x32, 3x3, padding 1),
  gradients of input, weight and bias (target: at most 1.5x PyTorch);
* *TransformerEncoderLayer*: one training step (zero_grad, forward, loss, backward) of d_model=128,
  4 heads, feed-forward 512, sequence 64, batch 8, batch_first, dropout 0 (target: at most 1.5x).

GPU (only where CUDA exists; otherwise the report says it was skipped), against PyTorch eager:

* fused cross-entropy and LayerNorm, forward + backward (targets: at most 1x PyTorch's time);
* flash attention forward + backward against ``scaled_dot_product_attention`` (target: at least
  80% of its speed, i.e. a time ratio at most 1.25);
* the fused cross-entropy's peak memory (forward + backward, over what was allocated before) against
  PyTorch's ``log_softmax`` + ``nll_loss`` (target: less, ratio below 1).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

import neurarust as nr
import neurarust.nn.functional as F
from neurarust import nn

from bench.harness import Context, Side, SuiteResult, Target, fmt_num, fmt_time, md_table, paired_ratio

CPU_LIMIT = 1.5
GPU_TIME_LIMIT = 1.0
ATTENTION_LIMIT = 1 / 0.8
MEMORY_LIMIT = 1.0
MISMATCH_TOLERANCE = 1e-2
CONV = {"batch": 8, "in": 16, "out": 32, "size": 32, "kernel": 3}
ENCODER = {"d_model": 128, "nhead": 4, "ff": 512, "seq": 64, "batch": 8}
GPU_SIZES = {"ce": (8192, 32768), "ln": (8192, 4096), "attn": (4, 16, 2048, 64)}


@dataclass
class Pair:
    """One case: a NeuraRust call and the same computation in PyTorch."""

    name: str
    ours: Callable[[], object]
    theirs: Callable[[], object]
    detail: str
    mismatch: Callable[[], float] | None = None   # after one call of each: max |gradient difference|


def _max_difference(ours: list, theirs: list) -> float:
    return max(float(np.abs(a.grad.detach().numpy().astype(np.float64) - b.grad.detach().float().numpy()).max())
               for a, b in zip(ours, theirs))


# ----------------------------------------------------------------------------------------------
# CPU cases
# ----------------------------------------------------------------------------------------------

def _copy_params(ours: nn.Module, theirs) -> None:
    """Give the PyTorch module NeuraRust's weights, so both compute the same numbers."""
    import torch

    with torch.no_grad():
        for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert name == tname, (name, tname)
            tp.copy_(torch.from_numpy(p.detach().numpy().copy()))


def conv_pair(batch: int = 8, c_in: int = 16, c_out: int = 32, size: int = 32, k: int = 3) -> Pair:
    """Conv2d forward + backward (input, weight and bias gradients), the loss a plain sum."""
    import torch

    nr.manual_seed(0)
    conv, tconv = nn.Conv2d(c_in, c_out, k, padding=k // 2), torch.nn.Conv2d(c_in, c_out, k, padding=k // 2)
    _copy_params(conv, tconv)
    x = nr.randn(batch, c_in, size, size, requires_grad=True)
    tx = torch.from_numpy(x.detach().numpy().copy()).requires_grad_()

    def ours():
        x.grad = None
        conv.zero_grad()
        conv(x).sum().backward()

    def theirs():
        tx.grad = None
        tconv.zero_grad()
        tconv(tx).sum().backward()

    return Pair("Conv2d forward + backward", ours, theirs,
                f"N={batch}, {c_in}->{c_out} channels, {size}x{size}, {k}x{k}, padding {k // 2}, float32",
                lambda: (ours(), theirs(), _max_difference([x, *conv.parameters()], [tx, *tconv.parameters()]))[-1])


def encoder_pair(d_model: int = 128, nhead: int = 4, ff: int = 512, seq: int = 64, batch: int = 8) -> Pair:
    """One TransformerEncoderLayer training step: zero_grad, forward, mean-square loss, backward."""
    import torch

    nr.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model, nhead, ff, dropout=0.0, batch_first=True)
    tlayer = torch.nn.TransformerEncoderLayer(d_model, nhead, ff, dropout=0.0, batch_first=True)
    _copy_params(layer, tlayer)
    x = nr.randn(batch, seq, d_model)
    tx = torch.from_numpy(x.numpy().copy())

    def ours():
        layer.zero_grad()
        (layer(x) ** 2).mean().backward()

    def theirs():
        tlayer.zero_grad()
        (tlayer(tx) ** 2).mean().backward()

    return Pair("TransformerEncoderLayer training step", ours, theirs,
                f"d_model={d_model}, nhead={nhead}, ff={ff}, seq={seq}, batch={batch}, dropout 0, float32",
                lambda: (ours(), theirs(), _max_difference(list(layer.parameters()), list(tlayer.parameters())))[-1])


def _cpu_sides(pair: Pair) -> list[Side]:
    import torch

    return [Side("neurarust", pair.ours), Side("torch", pair.theirs, setup=lambda: torch.set_num_threads(1))]


# ----------------------------------------------------------------------------------------------
# GPU cases
# ----------------------------------------------------------------------------------------------

def _on(device: str, shape, dtype, seed: int, requires_grad: bool = True):
    """The same random values as a NeuraRust and a PyTorch tensor on ``device``."""
    import torch

    arr = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    ours = nr.tensor(arr, dtype=dtype, device=device, requires_grad=requires_grad)
    theirs = torch.from_numpy(arr).to(device=device, dtype=dtype.to_torch()).requires_grad_(requires_grad)
    return ours, theirs


def cross_entropy_pair(device: str, rows: int, classes: int, dtype=nr.bfloat16) -> Pair:
    import torch

    logits, tlogits = _on(device, (rows, classes), dtype, 0)
    target = np.random.default_rng(1).integers(0, classes, rows)
    y, ty = nr.tensor(target, device=device), torch.from_numpy(target).to(device)

    def ours():
        logits.grad = None
        F.cross_entropy(logits, y).backward()

    def theirs():
        tlogits.grad = None
        torch.nn.functional.cross_entropy(tlogits, ty).backward()

    return Pair("fused cross-entropy forward + backward", ours, theirs, f"{rows}x{classes} {dtype.name} logits")


def layer_norm_pair(device: str, rows: int, width: int, dtype=nr.bfloat16) -> Pair:
    import torch

    x, tx = _on(device, (rows, width), dtype, 2)
    w, tw = _on(device, (width,), dtype, 3)
    b, tb = _on(device, (width,), dtype, 4)
    g, tg = _on(device, (rows, width), dtype, 5, requires_grad=False)

    def ours():
        x.grad = w.grad = b.grad = None
        F.layer_norm(x, (width,), w, b).backward(g)

    def theirs():
        tx.grad = tw.grad = tb.grad = None
        torch.nn.functional.layer_norm(tx, (width,), tw, tb).backward(tg)

    return Pair("LayerNorm forward + backward", ours, theirs, f"{rows}x{width} {dtype.name}, affine")


def attention_pair(device: str, batch: int, heads: int, seq: int, dim: int, dtype=nr.float16,
                   causal: bool = False) -> Pair:
    import torch

    (q, tq), (k, tk), (v, tv) = (_on(device, (batch, heads, seq, dim), dtype, s) for s in (6, 7, 8))
    g, tg = _on(device, (batch, heads, seq, dim), dtype, 9, requires_grad=False)

    def ours():
        q.grad = k.grad = v.grad = None
        F.scaled_dot_product_attention(q, k, v, is_causal=causal).backward(g)

    def theirs():
        tq.grad = tk.grad = tv.grad = None
        torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=causal).backward(tg)

    return Pair("flash attention forward + backward" + (" (causal)" if causal else ""), ours, theirs,
                f"batch {batch}, {heads} heads, seq {seq}, head dim {dim}, {dtype.name}")


def peak_bytes(fn: Callable[[], object]) -> int:
    """Peak CUDA memory of one call of ``fn`` above what was allocated before it."""
    fn()                      # warm: autotuning and compilation allocate too
    nr.cuda.synchronize()
    base = nr.cuda.memory_allocated()
    nr.cuda.reset_peak_memory_stats()
    fn()
    nr.cuda.synchronize()
    return nr.cuda.max_memory_allocated() - base


def cross_entropy_memory(rows: int, classes: int, dtype=nr.bfloat16) -> dict:
    """Peak bytes of forward + backward: NeuraRust's fused kernel, PyTorch's fused cross_entropy and
    PyTorch's log_softmax + nll_loss (which keeps the log-probabilities for backward)."""
    import torch

    logits, tlogits = _on("cuda", (rows, classes), dtype, 0)
    target = np.random.default_rng(1).integers(0, classes, rows)
    y, ty = nr.tensor(target, device="cuda"), torch.from_numpy(target).to("cuda")

    def ours():
        logits.grad = None
        F.cross_entropy(logits, y).backward()

    def torch_fused():
        tlogits.grad = None
        torch.nn.functional.cross_entropy(tlogits, ty).backward()

    def torch_composed():
        tlogits.grad = None
        tf = torch.nn.functional
        tf.nll_loss(tf.log_softmax(tlogits, dim=-1), ty).backward()

    out = {name: peak_bytes(fn) for name, fn in
           (("neurarust", ours), ("torch_cross_entropy", torch_fused), ("torch_log_softmax_nll", torch_composed))}
    logits.grad = tlogits.grad = None
    out["logits_bytes"] = rows * classes * dtype.itemsize
    return out


# ----------------------------------------------------------------------------------------------
# Running and reporting
# ----------------------------------------------------------------------------------------------

def _time_pair(ctx: Context, pair: Pair, sides: list[Side], limit: float, target_name: str) -> tuple[dict, dict]:
    stats = ctx.measure(sides)
    ratio, spread = paired_ratio(stats["neurarust"], stats["torch"])
    case = {"case": pair.name, "detail": pair.detail, "ratio": ratio, "ratio_spread_pct": spread,
            "times": {k: v.to_json() for k, v in stats.items()}}
    ctx.log(f"nn: {pair.name}: NR {fmt_time(stats['neurarust'].median_ns)}, torch "
            f"{fmt_time(stats['torch'].median_ns)}: {ratio:.2f}x")
    target = Target(target_name, ratio, limit, f"{pair.detail}; ratio spread ±{spread:.0f}%").to_json()
    return case, target


def run_cpu(ctx: Context, result: SuiteResult) -> None:
    import torch

    threads = torch.get_num_threads()
    try:
        conv = conv_pair(**({"batch": 2, "size": 16} if ctx.quick else {}))
        encoder = encoder_pair(**({"seq": 16, "batch": 2} if ctx.quick else {}))
        for pair, name in ((conv, "(h) CPU Conv2d forward + backward, NeuraRust / PyTorch 1 thread"),
                           (encoder, "(i) CPU TransformerEncoderLayer step, NeuraRust / PyTorch 1 thread")):
            difference = pair.mismatch()   # figures of wrong numbers would be worthless: check first
            if difference > MISMATCH_TOLERANCE:
                raise AssertionError(f"nn suite: {pair.name}: NeuraRust's gradients differ from PyTorch's by "
                                     f"{difference:.3g}")
            case, target = _time_pair(ctx, pair, _cpu_sides(pair), CPU_LIMIT, name)
            result.cases.append(dict(case, device="cpu", max_grad_difference=difference))
            result.targets.append(target)
    finally:
        torch.set_num_threads(threads)


def run_gpu(ctx: Context, result: SuiteResult, device: str = "cuda") -> None:
    """The GPU cases; ``device="cpu"`` runs the same code on the reference path (tests use it)."""
    import torch

    quick = ctx.quick or device != "cuda"
    rows, classes = (64, 512) if quick else GPU_SIZES["ce"]
    ln_rows, width = (64, 256) if quick else GPU_SIZES["ln"]
    attn = (1, 2, 128, 64) if quick else GPU_SIZES["attn"]
    sync = (lambda: None) if device != "cuda" else nr.cuda.synchronize
    tsync = (lambda: None) if device != "cuda" else torch.cuda.synchronize
    cases = ((cross_entropy_pair(device, rows, classes), GPU_TIME_LIMIT, "(j) GPU fused cross-entropy, NR / PyTorch"),
             (layer_norm_pair(device, ln_rows, width), GPU_TIME_LIMIT, "(k) GPU LayerNorm, NR / PyTorch"),
             (attention_pair(device, *attn), ATTENTION_LIMIT,
              "(l) GPU flash attention fwd+bwd, NR / torch sdpa (≥ 80% of its speed)"))
    for pair, limit, name in cases:
        sides = [Side("neurarust", pair.ours, sync=sync), Side("torch", pair.theirs, sync=tsync)]
        case, target = _time_pair(ctx, pair, sides, limit, name)
        result.cases.append(dict(case, device=device))
        result.targets.append(target)
    if device == "cuda":
        mem = cross_entropy_memory(rows, classes)
        result.extra["cross_entropy_memory"] = mem
        result.targets.append(Target(
            "(m) GPU fused cross-entropy peak memory, NR / PyTorch log_softmax+nll",
            mem["neurarust"] / mem["torch_log_softmax_nll"], MEMORY_LIMIT,
            f"{rows}x{classes} bf16 logits; NR {mem['neurarust'] / 2**20:.0f} MiB, PyTorch cross_entropy "
            f"{mem['torch_cross_entropy'] / 2**20:.0f} MiB, log_softmax+nll "
            f"{mem['torch_log_softmax_nll'] / 2**20:.0f} MiB").to_json())


def run(ctx: Context) -> SuiteResult:
    """The CPU cases always; the GPU cases where CUDA exists."""
    result = SuiteResult("nn")
    run_cpu(ctx, result)
    if nr.cuda.is_available():
        run_gpu(ctx, result)
    else:
        ctx.log("nn suite: CUDA is not available here; GPU cases skipped")
        result.skipped.append({"op": "GPU cases (cross-entropy, LayerNorm, flash attention, memory)",
                               "reason": "CUDA is not available on this machine"})
    _add_sections(result)
    return result


def _add_sections(result: SuiteResult) -> None:
    how = ("Median time of one call ± interquartile range (% of median); ratio = NeuraRust / PyTorch, lower "
           "is better (the median of round-by-round ratios). On the CPU NeuraRust runs its NumPy reference "
           "path (one thread, OpenBLAS pinned to 1 thread) and PyTorch is pinned to 1 thread "
           "(`torch.set_num_threads(1)`); on a GPU both run eagerly, synchronised after each batch of calls.")
    rows = []
    for c in result.cases:
        t = c["times"]
        rows.append((c["case"], c["device"], c["detail"],
                     f"{fmt_time(t['neurarust']['median_ns'])} ±{t['neurarust']['spread_pct']:.0f}%",
                     f"{fmt_time(t['torch']['median_ns'])} ±{t['torch']['spread_pct']:.0f}%",
                     f"{fmt_num(c['ratio'])}x ±{c['ratio_spread_pct']:.0f}%",
                     fmt_num(c.get("max_grad_difference"))))
    result.sections.append(("Layers forward + backward", how + "\n\n" + md_table(
        ["case", "device", "shapes", "NeuraRust", "PyTorch", "ratio", "max gradient difference"], rows)))
