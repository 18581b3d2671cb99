"""The optim suite: what one optimizer step costs, against ``torch.optim`` in the same run.

* *CPU path*: one ``step()`` of Adam and of SGD with momentum over a 100-parameter model (50 Linear
  layers' weights and biases of mixed widths, ~2.9M fp32 values), NeuraRust's reference backend
  against ``torch.optim`` with ``foreach=True`` on one thread (target: at most 1.5x).
* *GPU* (``--device cuda`` only): the multi-tensor Adam step on a 100-parameter model of ~0.26G
  values, as % of the device's DRAM peak (28 bytes moved per fp32 value: param, exp_avg and
  exp_avg_sq read and written, grad read; target: at least 80%) and against
  ``torch.optim.Adam(fused=True)`` (target: at most 1x its time).
"""
from __future__ import annotations

import numpy as np

import neurarust as nr

from bench.harness import Context, Side, SuiteResult, Target, fmt_time, md_table, paired_ratio

CPU_LIMIT = 1.5
GPU_BW_PCT = 80.0
GPU_VS_FUSED = 1.0
CPU_WIDTHS = (64, 128, 256, 512, 256, 128)
GPU_WIDTHS = (1024, 2048, 4096, 2048)
BYTES_PER_VALUE_ADAM = 28   # fp32: param r+w, exp_avg r+w, exp_avg_sq r+w, grad r
CASES = {"Adam": dict(lr=1e-3), "SGD momentum": dict(lr=1e-3, momentum=0.9)}


def model_shapes(widths: tuple[int, ...], layers: int = 50) -> list[tuple[int, ...]]:
    """Weights and biases of ``layers`` Linear layers whose widths cycle through ``widths``:
    ``2 * layers`` parameters of mixed shapes.

    >>> shapes = model_shapes((4, 8), layers=3)
    >>> len(shapes), shapes[:4]
    (6, [(8, 4), (8,), (4, 8), (4,)])
    """
    shapes = []
    for i in range(layers):
        fan_in, fan_out = widths[i % len(widths)], widths[(i + 1) % len(widths)]
        shapes += [(fan_out, fan_in), (fan_out,)]
    return shapes


def _contenders(name: str, shapes, device: str):
    """(NeuraRust optimizer, torch optimizer) over the same values, gradients set."""
    import torch

    rng = np.random.default_rng(0)
    values = [rng.standard_normal(s).astype(np.float32) * 0.01 for s in shapes]
    if device == "cuda":
        ours = [nr.tensor(v).cuda().requires_grad_() for v in values]
        theirs = [torch.tensor(v).cuda().requires_grad_() for v in values]
    else:
        ours = [nr.tensor(v, requires_grad=True) for v in values]
        theirs = [torch.tensor(v, requires_grad=True) for v in values]
    for p, q in zip(ours, theirs):
        q.grad = torch.randn_like(q) * 1e-3
        p.grad = nr.tensor(q.grad.cpu().numpy())
        if device == "cuda":
            p.grad = p.grad.cuda()
    kwargs = CASES[name]
    cls = "Adam" if name == "Adam" else "SGD"
    flavour = {"fused": True} if device == "cuda" else {"foreach": True}
    return getattr(nr.optim, cls)(ours, **kwargs), getattr(torch.optim, cls)(theirs, **kwargs, **flavour)


def _cpu_cases(ctx: Context) -> list[dict]:
    import torch

    shapes = model_shapes(CPU_WIDTHS, layers=10 if ctx.quick else 50)
    numel = sum(int(np.prod(s)) for s in shapes)
    cases = []
    for name in CASES:
        ours, theirs = _contenders(name, shapes, "cpu")
        stats = ctx.measure([Side("neurarust", ours.step),
                             Side("torch", theirs.step, setup=lambda: torch.set_num_threads(1))])
        ratio, spread = paired_ratio(stats["neurarust"], stats["torch"])
        cases.append({"case": f"{name} step", "params": len(shapes), "numel": numel, "ratio": ratio,
                      "spread_pct": spread, "times": {k: v.to_json() for k, v in stats.items()}})
        ctx.log(f"optim: {name} step ({len(shapes)} params, {numel} values): {ratio:.2f}x torch foreach")
    return cases


def _gpu_cases(ctx: Context) -> tuple[list[dict], float | None]:
    import torch

    from bench.suites.ops import dram_peak_tbs

    shapes = model_shapes(GPU_WIDTHS, layers=10 if ctx.quick else 50)
    numel = sum(int(np.prod(s)) for s in shapes)
    ours, theirs = _contenders("Adam", shapes, "cuda")
    stats = ctx.measure([Side("neurarust", ours.step, sync=nr.cuda.synchronize),
                         Side("torch", theirs.step, sync=torch.cuda.synchronize)])
    ratio, spread = paired_ratio(stats["neurarust"], stats["torch"])
    peak = dram_peak_tbs(nr.cuda.get_device_name())
    gbps = numel * BYTES_PER_VALUE_ADAM / stats["neurarust"].median_ns
    pct = 100 * gbps / (peak * 1e3) if peak else None
    ctx.log(f"optim: GPU Adam step ({numel} values): {gbps:.0f} GB/s, {ratio:.2f}x torch fused")
    return [{"case": "Adam step (GPU)", "params": len(shapes), "numel": numel, "ratio": ratio, "spread_pct": spread,
             "gbps": gbps, "bw_pct_peak": pct, "times": {k: v.to_json() for k, v in stats.items()}}], peak


def run(ctx: Context) -> SuiteResult:
    result = SuiteResult("optim")
    if ctx.device == "cuda":
        cases, peak = _gpu_cases(ctx)
        case = cases[0]
        result.targets = [
            Target("(o) multi-tensor Adam step, % of DRAM peak (higher is better)", case["bw_pct_peak"], None,
                   f"target >= {GPU_BW_PCT:.0f}%; peak {peak} TB/s; {case['gbps']:.0f} GB/s").to_json(),
            Target("(o) Adam step time / torch.optim.Adam(fused=True)", case["ratio"], GPU_VS_FUSED,
                   f"{case['params']} params, {case['numel']} values").to_json()]
    else:
        cases = _cpu_cases(ctx)
        result.targets = [Target(f"(n) {c['case']} / torch.optim foreach (1 thread)", c["ratio"], CPU_LIMIT,
                                 f"{c['params']} params, {c['numel']} values").to_json() for c in cases]
    result.cases = cases
    header = ["case", "params", "values", "NeuraRust", "PyTorch", "ratio"]
    rows = [(c["case"], str(c["params"]), str(c["numel"]), fmt_time(c["times"]["neurarust"]["median_ns"]),
             fmt_time(c["times"]["torch"]["median_ns"]), f"{c['ratio']:.2f}x") for c in cases]
    title = "Optimizer step (GPU)" if ctx.device == "cuda" else "Optimizer step (CPU path, torch on 1 thread)"
    result.sections.append((title, md_table(header, rows)))
    return result
