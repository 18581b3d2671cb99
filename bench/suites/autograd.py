"""The autograd suite: what recording a graph and running backward cost, against PyTorch.

* *recording*: an 8-element op on tensors that require grad, forward recording included, timed
  against the same call in PyTorch (target: at most 6x);
* *memory*: peak memory (tracemalloc: NumPy's buffers are traced) of forward + backward of a
  50-layer MLP on the CPU path, over what backward truly needs: parameters, gradients and one
  activation per layer (target: at most 1.2x);
* *steady state*: memory growth over 1,000 training steps of a small model, after 1,000 warm-up steps
  (traced bytes and the process's resident set): a graph kept alive by a reference cycle would show.
"""
from __future__ import annotations

import gc
import resource
import tracemalloc

import numpy as np

import neurarust as nr

from bench.harness import Context, Side, SuiteResult, Target, fmt_time, md_table, measure, paired_ratio

RECORD_LIMIT = 6.0
MEMORY_LIMIT = 1.2
MLP = {"layers": 50, "batch": 64, "width": 256}


def _recording_cases(ctx: Context) -> tuple[list[dict], list[float]]:
    import torch

    torch.set_num_threads(1)
    x = nr.ones(8, requires_grad=True)
    y = nr.ones(8)
    tx, ty = torch.ones(8, requires_grad=True), torch.ones(8)
    calls = {
        "mul": (lambda: x * y, lambda: tx * ty),
        "add_scalar": (lambda: x + 1.0, lambda: tx + 1.0),
        "exp": (lambda: x.exp(), lambda: tx.exp()),
        "relu": (lambda: x.relu(), lambda: tx.relu()),
        "sum": (lambda: x.sum(), lambda: tx.sum()),
    }
    cases, ratios = [], []
    for name, (ours, theirs) in calls.items():
        stats = measure([Side("neurarust", ours), Side("torch", theirs)], reps=ctx.reps, warmup=ctx.warmup)
        ratio, spread = paired_ratio(stats["neurarust"], stats["torch"])
        ratios.append(ratio)
        cases.append({"case": f"record {name}", "ratio": ratio, "spread_pct": spread,
                      "times": {k: v.to_json() for k, v in stats.items()}})
        ctx.log(f"autograd: record {name}: {ratio:.2f}x")
    return cases, ratios


def _mlp(layers: int, batch: int, width: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    params = []
    for _ in range(layers):
        w = nr.tensor(rng.standard_normal((width, width)) / np.sqrt(width), dtype=nr.float32, requires_grad=True)
        b = nr.zeros(width, requires_grad=True)
        params.append((w, b))
    x = nr.tensor(rng.standard_normal((batch, width)), dtype=nr.float32)
    return params, x


def _forward(params, x):
    for w, b in params:
        x = (x @ w + b).relu()
    return x.sum()


def _peak_memory(ctx: Context) -> dict:
    layers = 6 if ctx.quick else MLP["layers"]
    batch, width = MLP["batch"], MLP["width"]
    gc.collect()
    tracemalloc.start()
    try:
        params, x = _mlp(layers, batch, width)
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        _forward(params, x).backward()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    itemsize = 4
    param_bytes = layers * (width * width + width) * itemsize
    activation_bytes = layers * batch * width * itemsize     # each layer's input, saved for its matmul
    needed = 2 * param_bytes + activation_bytes + batch * width * itemsize  # + the network's input
    return {"layers": layers, "batch": batch, "width": width, "peak_bytes": peak, "before_bytes": before,
            "needed_bytes": needed, "ratio": peak / needed}


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _steady_state(ctx: Context) -> dict:
    steps = 100 if ctx.quick else 1000
    params, x = _mlp(3, 16, 32, seed=1)
    target = nr.zeros(16, 32)

    def step():
        out = x
        for w, b in params:
            out = (out @ w + b).tanh()
        loss = ((out - target) * (out - target)).mean()
        loss.backward()
        with nr.no_grad():
            for w, b in params:
                w.sub_(w.grad * 0.01)
                b.sub_(b.grad * 0.01)
                w.grad = b.grad = None

    tracemalloc.start()
    try:
        # warm-up as long as the measurement: caches fill during the first steps (NumPy allocates a
        # one-off ~1 MB buffer some hundred steps in), and only what grows after that is a leak
        for _ in range(steps):
            step()
        gc.collect()
        rss0, traced0 = _rss_bytes(), tracemalloc.get_traced_memory()[0]
        for _ in range(steps):
            step()
        gc.collect()
        rss1, traced1 = _rss_bytes(), tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return {"steps": steps, "traced_growth_bytes": traced1 - traced0, "rss_growth_bytes": rss1 - rss0}


def run(ctx: Context) -> SuiteResult:
    result = SuiteResult("autograd")
    if ctx.device != "cpu":
        ctx.log("autograd suite: CPU path only for now")
        return result
    cases, ratios = _recording_cases(ctx)
    result.cases = cases
    memory = _peak_memory(ctx)
    steady = _steady_state(ctx)
    result.extra = {"memory": memory, "steady_state": steady}
    worst = max(ratios)
    result.targets = [
        Target("(c) 8-element op with requires_grad, worst vs PyTorch", worst, RECORD_LIMIT).to_json(),
        Target("(d) MLP forward+backward peak memory / needed", memory["ratio"], MEMORY_LIMIT,
               f"{memory['layers']} layers, batch {memory['batch']}, width {memory['width']}").to_json(),
        Target("(e) traced memory growth over training steps (bytes)", float(steady["traced_growth_bytes"]), None,
               f"{steady['steps']} steps; RSS growth {steady['rss_growth_bytes']} bytes").to_json(),
    ]
    rows = [(c["case"], fmt_time(c["times"]["neurarust"]["median_ns"]), fmt_time(c["times"]["torch"]["median_ns"]),
             f"{c['ratio']:.2f}x") for c in cases]
    result.sections.append(("Recording cost (8 elements, requires_grad)",
                            md_table(["case", "NeuraRust", "PyTorch (1 thread)", "ratio"], rows)))
    result.sections.append(("Memory", md_table(
        ["figure", "value"],
        [("MLP peak (forward + backward)", f"{memory['peak_bytes'] / 2**20:.2f} MiB"),
         ("params + grads + saved activations", f"{memory['needed_bytes'] / 2**20:.2f} MiB"),
         ("ratio", f"{memory['ratio']:.3f}"),
         (f"traced growth over {steady['steps']} steps", f"{steady['traced_growth_bytes']} bytes"),
         (f"RSS growth over {steady['steps']} steps", f"{steady['rss_growth_bytes']} bytes")])))
    return result
