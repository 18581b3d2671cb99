"""The models suite: one full training step (zero_grad, forward, loss, backward, optimizer step) of
four models, NeuraRust against the same model in PyTorch with copied weights on the same batch.

* *MLP* and *digits CNN*: the networks ``neurarust train --model mlp|cnn`` builds
  (:mod:`neurarust.cli.models`), on a batch of 64 bundled 8x8 digits;
* *ResNet*: a ResNet-style CNN on 32x32 RGB images: a 3x3 stem and three residual blocks
  (3x3 convolutions, BatchNorm, ReLU, a strided 1x1 projection where the width changes), global
  average pooling, a linear classifier;
* *GPT*: a stack of pre-norm GPT blocks (LayerNorm, causal self-attention through
  ``scaled_dot_product_attention``, LayerNorm, GELU MLP) between token + position embeddings and a
  LayerNorm + linear head, next-token cross-entropy. On a GPU it is GPT-2-small shaped (d_model 768,
  12 heads, 6 layers, sequence 1024, batch 8) under bf16 autocast; on the CPU a scaled-down one.

Every model trains with AdamW (``foreach=True`` on the PyTorch side). Before timing, the two sides'
losses on the first samples of the batch are compared (eval mode, float32, CPU): a figure of a wrong
computation would be worthless. Reported: median step time, samples/s and peak memory of one step above what was held
before it (GPU: ``max_memory_allocated``; CPU: peak resident-set growth, measured in a child process
whose glibc ``malloc`` returns every buffer over 64 KiB to the OS on free, so that the resident set
follows live memory for both frameworks alike).

Targets: (p) the MLP and (q) the digits CNN step on the CPU at most 1.5x PyTorch on one thread;
(u) the GPT step on a GPU at most 1.2x PyTorch eager.

    >>> from bench.suites.models import MODELS
    >>> list(MODELS)
    ['mlp', 'cnn', 'resnet', 'gpt']
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

import neurarust as nr

from bench.harness import Context, Side, SuiteResult, Target, fmt_num, fmt_time, md_table, paired_ratio

CPU_LIMIT = 1.5          # targets (p), (q): MLP and digits CNN step at most 1.5x PyTorch (one thread)
GPT_GPU_LIMIT = 1.2      # target (u): GPT step on a GPU at most 1.2x PyTorch eager
LOSS_TOLERANCE = 1e-3    # relative difference of the two sides' eval-mode losses before timing
MMAP_THRESHOLD = 65536   # the child process's glibc mmap threshold (bytes) for the memory figures
LR = 1e-3
PHASE_STEPS = 10         # steps timed phase by phase for the breakdown table
ROOT = Path(__file__).resolve().parents[2]

# Sizes by (model, device, quick): CPU sizes keep the whole suite to about a minute on 2 cores.
RESNET = {"cpu": {"batch": 16, "widths": (16, 32, 64)}, "cuda": {"batch": 256, "widths": (64, 128, 256)},
          "quick": {"batch": 2, "widths": (4, 8, 8)}}
GPT = {"cpu": {"batch": 8, "seq": 64, "d_model": 128, "heads": 4, "layers": 2, "vocab": 256},
       "cuda": {"batch": 8, "seq": 1024, "d_model": 768, "heads": 12, "layers": 6, "vocab": 8192},
       "quick": {"batch": 2, "seq": 16, "d_model": 32, "heads": 2, "layers": 1, "vocab": 32}}
DIGITS_BATCH = {"cpu": 64, "cuda": 64, "quick": 16}


@dataclass
class Model:
    """One model on both sides: ``ours``/``theirs`` modules with equal weights, the batch as NumPy
    arrays, and how a batch becomes a loss."""

    name: str
    ours: Any
    theirs: Any
    inputs: np.ndarray
    labels: np.ndarray
    detail: str
    autocast: bool = False     # bf16 autocast (GPU GPT)

    @property
    def batch(self) -> int:
        return int(self.inputs.shape[0])


# ----------------------------------------------------------------------------------------------
# The networks, written once against either library (``lib`` is ``neurarust`` or ``torch``)
# ----------------------------------------------------------------------------------------------

def resnet(lib, widths: tuple[int, int, int] = (16, 32, 64), classes: int = 10, channels: int = 3):
    """A ResNet-style CNN for 32x32 images in ``lib`` (``neurarust`` or ``torch``): a 3x3 stem, one
    basic residual block per width (stride 2 from the second on), average pooling, a classifier.

    >>> import neurarust as nr
    >>> tuple(resnet(nr, (4, 8, 8))(nr.zeros(2, 3, 32, 32)).shape)
    (2, 10)
    """
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self, c_in: int, c_out: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c_out)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.relu = nn.ReLU()
            self.project = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
                            if stride != 1 or c_in != c_out else nn.Identity())

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(y)) + self.project(x))

    w1, w2, w3 = widths
    return nn.Sequential(nn.Conv2d(channels, w1, 3, padding=1, bias=False), nn.BatchNorm2d(w1), nn.ReLU(),
                         Block(w1, w1, 1), Block(w1, w2, 2), Block(w2, w3, 2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(w3, classes))


def gpt(lib, vocab: int = 256, seq: int = 64, d_model: int = 128, heads: int = 4, layers: int = 2):
    """A GPT block stack in ``lib``: token and position embeddings, ``layers`` pre-norm blocks (causal
    self-attention, GELU MLP of width 4 * d_model), a final LayerNorm and a linear head.

    >>> import neurarust as nr
    >>> tuple(gpt(nr, vocab=7, seq=4, d_model=8, heads=2, layers=1)(nr.zeros(2, 4, dtype=nr.int64)).shape)
    (2, 4, 7)
    """
    nn, F = lib.nn, lib.nn.functional

    class SelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(d_model, 3 * d_model)
            self.proj = nn.Linear(d_model, d_model)

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = self.qkv(x).view(b, t, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.proj(y.transpose(1, 2).reshape(b, t, c))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1 = nn.LayerNorm(d_model)
            self.attn = SelfAttention()
            self.ln2 = nn.LayerNorm(d_model)
            self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tok = nn.Embedding(vocab, d_model)
            self.pos = nn.Embedding(seq, d_model)
            self.blocks = nn.Sequential(*(Block() for _ in range(layers)))
            self.ln = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, vocab)

        def forward(self, tokens):
            positions = lib.arange(tokens.shape[1], device=tokens.device)
            return self.head(self.ln(self.blocks(self.tok(tokens) + self.pos(positions))))

    return GPT()


def torch_twin(seq) -> Any:
    """The PyTorch copy of a NeuraRust ``Sequential`` of the layers ``neurarust.cli.models`` uses
    (same layer order, so the same parameter names)."""
    import torch

    tnn = torch.nn

    def leaf(m):
        kind = type(m).__name__
        if kind == "Linear":
            return tnn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
        if kind == "Conv2d":
            return tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                              bias=m.bias is not None)
        if kind == "MaxPool2d":
            return tnn.MaxPool2d(m.kernel_size, m.stride)
        if kind == "Dropout":
            return tnn.Dropout(m.p)
        if kind in ("ReLU", "Flatten"):
            return getattr(tnn, kind)()
        raise TypeError(f"torch_twin: no PyTorch twin for {kind}")

    return tnn.Sequential(*(leaf(m) for m in seq))


def copy_weights(ours, theirs) -> None:
    """Give the PyTorch module NeuraRust's parameters (matched by name, shapes checked)."""
    import torch

    mine = dict(ours.named_parameters())
    with torch.no_grad():
        for name, tp in theirs.named_parameters():
            values = mine.pop(name).detach().numpy()
            assert tuple(values.shape) == tuple(tp.shape), (name, values.shape, tp.shape)
            tp.copy_(torch.from_numpy(values.copy()))
    assert not mine, f"parameters without a PyTorch twin: {sorted(mine)}"


# ----------------------------------------------------------------------------------------------
# The four models with their batches
# ----------------------------------------------------------------------------------------------

def _digits(batch: int) -> tuple[np.ndarray, np.ndarray]:
    from neurarust.data.datasets import Digits

    ds = Digits(train=True)
    return ds.data[:batch, None].copy(), ds.targets[:batch].copy()


def _pair(name: str, ours, theirs, inputs, labels, detail: str, autocast: bool = False) -> Model:
    copy_weights(ours, theirs)
    return Model(name, ours, theirs, inputs, labels, detail, autocast)


def build(name: str, size: str) -> Model:
    """Model ``name`` (``mlp``, ``cnn``, ``resnet``, ``gpt``) at ``size`` (``cpu``, ``cuda`` or
    ``quick``), both sides with the same weights, on CPU tensors."""
    import torch

    from neurarust.cli import models as cli

    nr.manual_seed(0)
    rng = np.random.default_rng(0)
    if name in ("mlp", "cnn"):
        x, y = _digits(DIGITS_BATCH[size])
        ours = cli.build_model(name, (1, 8, 8), 10)
        return _pair(name, ours, torch_twin(ours), x, y, f"`neurarust train --model {name}`, batch {len(y)} "
                     f"digits 1x8x8, {sum(p.numel() for p in ours.parameters()):,} parameters")
    if name == "resnet":
        cfg = RESNET[size]
        x = rng.standard_normal((cfg["batch"], 3, 32, 32)).astype(np.float32)
        y = rng.integers(0, 10, cfg["batch"])
        ours = resnet(nr, cfg["widths"])
        return _pair(name, ours, resnet(torch, cfg["widths"]), x, y,
                     f"3 basic blocks, widths {'/'.join(map(str, cfg['widths']))}, BatchNorm, batch "
                     f"{cfg['batch']} x 3x32x32, {sum(p.numel() for p in ours.parameters()):,} parameters")
    cfg = dict(GPT[size])
    batch = cfg.pop("batch")
    tokens = rng.integers(0, cfg["vocab"], (batch, cfg["seq"] + 1))
    ours = gpt(nr, **cfg)
    return _pair(name, ours, gpt(torch, **cfg), tokens[:, :-1].copy(), tokens[:, 1:].copy(),
                 f"{cfg['layers']} layers, d_model {cfg['d_model']}, {cfg['heads']} heads, seq {cfg['seq']}, batch "
                 f"{batch}, vocab {cfg['vocab']}" + (", bf16 autocast" if size == "cuda" else ", float32")
                 + f", {sum(p.numel() for p in ours.parameters()):,} parameters", autocast=size == "cuda")


MODELS: dict[str, str] = {"mlp": "MLP", "cnn": "digits CNN", "resnet": "ResNet-style CNN 32x32",
                          "gpt": "GPT block stack"}


# ----------------------------------------------------------------------------------------------
# One training step on each side
# ----------------------------------------------------------------------------------------------

def _loss(lib, logits, labels):
    return lib.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1))


@dataclass
class Step:
    """One side's training step in three phases: ``forward`` (zero_grad, forward, loss; returns the
    loss), ``backward(loss)`` and ``update`` (the optimizer step)."""

    forward: Callable[[], Any]
    backward: Callable[[Any], None]
    update: Callable[[], None]

    def __call__(self) -> None:
        self.backward(self.forward())
        self.update()


def _side(lib, module, opt, x, y, device: str, cast: bool) -> Step:
    autocast = lib.amp.autocast if lib is nr else lib.autocast

    def forward():
        opt.zero_grad()
        with autocast(device, dtype=lib.bfloat16, enabled=cast):
            return _loss(lib, module(x), y)

    return Step(forward, lambda loss: loss.backward(), opt.step)


def steps(model: Model, device: str) -> tuple[Step, Step]:
    """(NeuraRust step, PyTorch step): zero_grad, forward, cross-entropy, backward, AdamW step. Moves
    both modules to ``device``."""
    import torch

    ours, theirs = model.ours.to(device), model.theirs.to(device)
    ours.train(), theirs.train()
    x, y = nr.tensor(model.inputs, device=device), nr.tensor(model.labels, device=device)
    tx, ty = torch.from_numpy(model.inputs).to(device), torch.from_numpy(model.labels).to(device)
    opt = nr.optim.AdamW(ours.parameters(), lr=LR)
    topt = torch.optim.AdamW(theirs.parameters(), lr=LR, foreach=True)
    return (_side(nr, ours, opt, x, y, device, model.autocast),
            _side(torch, theirs, topt, tx, ty, device, model.autocast))


def phase_times(step: Step, sync: Callable[[], None], n: int) -> dict[str, float]:
    """Median nanoseconds of each phase over ``n`` steps (for a breakdown, not a comparison: the
    two sides are not interleaved here)."""
    times: dict[str, list[int]] = {"forward": [], "backward": [], "optimizer": []}
    for _ in range(n):
        t0 = time.perf_counter_ns()
        loss = step.forward()
        sync()
        t1 = time.perf_counter_ns()
        step.backward(loss)
        sync()
        t2 = time.perf_counter_ns()
        step.update()
        sync()
        t3 = time.perf_counter_ns()
        for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2)):
            times[key].append(dt)
    return {k: float(np.median(v)) for k, v in times.items()}


def loss_difference(model: Model, samples: int = 2, tokens: int = 128) -> float:
    """Relative difference of the two sides' losses in eval mode, float32 on the CPU, on the batch's
    first ``samples`` samples (first ``tokens`` positions of a sequence): cheap even at GPU sizes, and
    enough to catch a model or weight copy that differs. Run before any step (equal weights)."""
    import torch

    x, y = model.inputs[:samples], model.labels[:samples]
    if model.name == "gpt":
        x, y = x[:, :tokens].copy(), y[:, :tokens].copy()
    model.ours.eval(), model.theirs.eval()
    with nr.no_grad():
        ours = float(_loss(nr, model.ours(nr.tensor(x)), nr.tensor(y)).item())
    with torch.no_grad():
        theirs = float(_loss(torch, model.theirs(torch.from_numpy(x)), torch.from_numpy(y)))
    return abs(ours - theirs) / max(abs(theirs), 1e-12)


# ----------------------------------------------------------------------------------------------
# Peak memory of one step
# ----------------------------------------------------------------------------------------------

def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"no {field} in /proc/self/status")


def rss_peak_growth(step: Callable[[], object]) -> int:
    """Bytes the resident set grows to during one call of ``step`` above where it stood before
    (Linux: VmHWM reset through /proc/self/clear_refs)."""
    step()                                   # warm: optimizer state and caches exist from here on
    before = _rss_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                         # reset the peak (VmHWM) to the current resident set
    step()
    return max(0, _rss_kib("VmHWM") - before) * 1024


def cuda_peak_growth(step: Callable[[], object], sync: Callable[[], None]) -> int:
    """Bytes of CUDA memory allocated at the peak of one call of ``step`` above what was allocated
    before it (NeuraRust allocates through PyTorch's caching allocator: one counter serves both)."""
    import torch

    step()
    sync()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    step()
    sync()
    return torch.cuda.max_memory_allocated() - before


def memory_child(size: str, names: list[str]) -> dict[str, dict[str, int]]:
    """In the child process: each model's peak RSS growth of one step, NeuraRust then PyTorch."""
    import torch

    torch.set_num_threads(1)
    out = {}
    with nr.backends.using("reference"):
        for name in names:
            ours, theirs = steps(build(name, size), "cpu")
            out[name] = {"neurarust": rss_peak_growth(ours), "torch": rss_peak_growth(theirs)}
    return out


def cpu_memory(size: str, names: list[str]) -> tuple[dict | None, str]:
    """Run :func:`memory_child` in a fresh process (glibc's mmap threshold pinned, one thread)."""
    if not os.path.exists("/proc/self/clear_refs"):
        return None, "needs Linux's /proc/self/clear_refs"
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(MMAP_THRESHOLD), OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    code = ("import json, sys; from bench.suites.models import memory_child; "
            f"print(json.dumps(memory_child({size!r}, {names!r})))")
    try:
        proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=300)
    except subprocess.TimeoutExpired:
        return None, "the memory child process timed out"
    if proc.returncode != 0:
        return None, f"the memory child process failed: {proc.stderr.strip().splitlines()[-1:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1]), ""


# ----------------------------------------------------------------------------------------------
# The suite
# ----------------------------------------------------------------------------------------------

def _sides(ours: Callable, theirs: Callable, device: str) -> list[Side]:
    import torch

    if device == "cuda":
        return [Side("neurarust", ours, sync=nr.cuda.synchronize), Side("torch", theirs, sync=torch.cuda.synchronize)]
    return [Side("neurarust", ours), Side("torch", theirs, setup=lambda: torch.set_num_threads(1))]


def run_model(ctx: Context, name: str, size: str) -> dict:
    """Check the two sides agree, then time their training steps interleaved."""
    model = build(name, size)
    difference = loss_difference(model)
    if difference > LOSS_TOLERANCE:
        raise AssertionError(f"models suite: {name}: NeuraRust's loss differs from PyTorch's by {difference:.3g} "
                             "(relative) on the same weights and batch")
    ours, theirs = steps(model, ctx.device)
    sides = _sides(ours, theirs, ctx.device)
    stats = ctx.measure(sides)
    ratio, spread = paired_ratio(stats["neurarust"], stats["torch"])
    phases = {}
    for side in sides:
        if side.setup is not None:
            side.setup()
        phases[side.name] = phase_times(side.fn, side.sync or (lambda: None), _phase_steps(ctx))
    rec = {"model": name, "title": MODELS[name], "detail": model.detail, "batch": model.batch,
           "device": ctx.device, "loss_difference": difference, "ratio": ratio, "ratio_spread_pct": spread,
           "samples_per_s": {k: model.batch * 1e9 / v.median_ns for k, v in stats.items()},
           "times": {k: v.to_json() for k, v in stats.items()}, "phases_ns": phases}
    if ctx.device == "cuda":
        import torch

        rec["peak_bytes"] = {"neurarust": cuda_peak_growth(ours, nr.cuda.synchronize),
                             "torch": cuda_peak_growth(theirs, torch.cuda.synchronize)}
    ctx.log(f"models: {name}: NR {fmt_time(stats['neurarust'].median_ns)}, torch "
            f"{fmt_time(stats['torch'].median_ns)}: {ratio:.2f}x")
    return rec


def _targets(cases: list[dict], device: str) -> list[Target]:
    by = {c["model"]: c for c in cases}
    out = []
    if device == "cpu":
        for letter, name in (("p", "mlp"), ("q", "cnn")):
            if name in by:
                c = by[name]
                out.append(Target(f"({letter}) CPU {MODELS[name]} training step, NeuraRust / PyTorch 1 thread",
                                  c["ratio"], CPU_LIMIT, f"{c['detail']}; ratio spread ±{c['ratio_spread_pct']:.0f}%"))
    elif "gpt" in by:
        c = by["gpt"]
        out.append(Target("(u) GPU GPT training step, NeuraRust / PyTorch eager", c["ratio"], GPT_GPU_LIMIT,
                          f"{c['detail']}; ratio spread ±{c['ratio_spread_pct']:.0f}%"))
    return out


def run(ctx: Context) -> SuiteResult:
    """Every model on ``ctx.device`` (``ctx.only`` picks models by name)."""
    import torch

    result = SuiteResult("models")
    if ctx.device == "cuda" and not nr.cuda.is_available():
        ctx.log("models suite: --device cuda asked for but CUDA is not available here; skipped")
        result.skipped.append({"op": "*", "reason": "CUDA is not available on this machine"})
        return result
    size = "quick" if ctx.quick else ctx.device
    names = [n for n in MODELS if ctx.only is None or n in ctx.only]
    threads = torch.get_num_threads()
    try:
        with nr.backends.using("reference") if ctx.device == "cpu" else contextlib.nullcontext():
            result.cases = [run_model(ctx, name, size) for name in names]
    finally:
        torch.set_num_threads(threads)
    if ctx.device == "cpu":
        memory, why = cpu_memory(size, names)
        result.extra["memory_method"] = "peak RSS growth in a child process" if memory else why
        for c in result.cases:
            c["peak_bytes"] = (memory or {}).get(c["model"])
        result.skipped.append({"op": "(u) GPU GPT training step", "reason": "needs --device cuda and a GPU"})
    result.targets = [t.to_json() for t in _targets(result.cases, ctx.device)]
    result.sections += [_section(result, ctx.device), _phases_section(result, ctx)]
    return result


def _mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f} MiB"


def _section(result: SuiteResult, device: str) -> tuple[str, str]:
    if device == "cpu":
        how = ("NeuraRust runs its NumPy reference path (one thread, OpenBLAS pinned to 1 thread); PyTorch is "
               "pinned to 1 thread. Peak memory: how far the resident set grows during one step above where it "
               f"stood before it, both frameworks measured alike in a child process whose glibc `malloc` maps "
               f"every buffer over {MMAP_THRESHOLD // 1024} KiB separately (`MALLOC_MMAP_THRESHOLD_`) so that a "
               "freed buffer leaves the resident set at once.")
        method = result.extra.get("memory_method", "")
        if not method.startswith("peak RSS"):
            how += f" Memory figures missing: {method}."
    else:
        how = ("Both sides run eagerly on the GPU, synchronised after each batch of steps. Peak memory: "
               "`torch.cuda.max_memory_allocated()` during one step above what was allocated before it "
               "(NeuraRust allocates through PyTorch's caching allocator).")
    how = ("One training step: `zero_grad`, forward, cross-entropy, backward, AdamW `step` (PyTorch: "
           "`foreach=True`), same weights and batch on both sides. Median step time ± interquartile range; "
           "ratio = NeuraRust / PyTorch, lower is better (the median of round-by-round ratios). " + how)
    rows = []
    for c in result.cases:
        t, sps, mem = c["times"], c["samples_per_s"], c.get("peak_bytes") or {}
        cell = lambda k: f"{fmt_time(t[k]['median_ns'])} ±{t[k]['spread_pct']:.0f}%"  # noqa: E731
        rows.append((c["title"], c["detail"], cell("neurarust"), cell("torch"),
                     f"{fmt_num(c['ratio'])}x ±{c['ratio_spread_pct']:.0f}%",
                     f"{sps['neurarust']:,.0f}", f"{sps['torch']:,.0f}",
                     _mib(mem.get("neurarust")), _mib(mem.get("torch")), fmt_num(c["loss_difference"])))
    header = ["model", "shapes", "NeuraRust step", "PyTorch step", "ratio", "NR samples/s", "PyTorch samples/s",
              "NR peak memory", "PyTorch peak memory", "loss difference (relative)"]
    return "Training step", how + "\n\n" + md_table(header, rows)


def _phase_cell(c: dict, phase: str) -> str:
    ours, theirs = c["phases_ns"]["neurarust"][phase], c["phases_ns"]["torch"][phase]
    return f"{fmt_time(ours)} / {fmt_time(theirs)} ({ours / theirs:.2f}x)" if theirs else "-"


def _phase_steps(ctx: Context) -> int:
    return 3 if ctx.quick else PHASE_STEPS


def _phases_section(result: SuiteResult, ctx: Context) -> tuple[str, str]:
    rows = [(c["title"], *(_phase_cell(c, p) for p in ("forward", "backward", "optimizer"))) for c in result.cases]
    return ("Where the step time goes", f"Median of {_phase_steps(ctx)} steps timed phase by phase, NeuraRust / "
            "PyTorch (ratio); forward includes `zero_grad` and the loss. The sides are not interleaved here: "
            "read the ratios for the split, the table above for the comparison.\n\n"
            + md_table(["model", "forward", "backward", "optimizer step"], rows))
