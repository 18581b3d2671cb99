"""The compile suite: what ``neurarust.compile`` buys over eager NeuraRust, measured in the same run.

* *CPU path* (target (r)): a whole training step (forward, cross-entropy, backward, Adam with
  ``capturable=True``) of an MLP and of the digits CNN, eager against the same step compiled; the
  figure is eager time / compiled time (target: at least 1.3x).
* *Kernel launches* (target (s)): launches per training step of a Transformer encoder block on the
  Triton backend (Triton's interpreter without a GPU: counting needs no timing), compiled / eager
  (target: at most 1/3).
* *GPU* (``--device cuda``, target (t)): the models suite's GPT block stack (GPT-2-small shaped, bf16
  autocast) training step, compiled against eager NeuraRust (at least 1.3x) and against
  ``torch.compile`` of the same PyTorch model (at most 1x its time).
"""
from __future__ import annotations

import neurarust as nr

from bench.harness import Context, Side, SuiteResult, Target, fmt_time, md_table, paired_ratio

CPU_SPEEDUP = 1.3
LAUNCH_FRACTION = 1 / 3
GPU_SPEEDUP = 1.3
GPU_VS_TORCH_COMPILE = 1.0


def _mlp():
    return nr.nn.Sequential(nr.nn.Linear(64, 128), nr.nn.ReLU(), nr.nn.Linear(128, 128), nr.nn.ReLU(),
                            nr.nn.Linear(128, 10))


def _cnn():
    from neurarust.cli.models import build_model

    return build_model("cnn", (1, 8, 8), 10)


CPU_MODELS = {"MLP 64-128-128-10, batch 32": (_mlp, (32, 64)), "digits CNN, batch 64": (_cnn, (64, 1, 8, 8))}


def training_step(model, opt):
    """One step as a user writes it: the function ``neurarust.compile`` captures whole."""
    def step(x, y):
        opt.zero_grad()
        loss = nr.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def _steps(build, shape, device: str = "cpu"):
    """(eager step, compiled step, inputs) over two copies of one model."""
    steps = []
    for compiled in (False, True):
        nr.manual_seed(0)
        model = build().to(device)
        step = training_step(model, nr.optim.Adam(model.parameters(), lr=1e-3, capturable=True))
        steps.append(nr.compile(step) if compiled else step)
    x = nr.randn(*shape, device=device)
    y = nr.randint(0, 10, (shape[0],), device=device)
    return steps[0], steps[1], (x, y)


def _cpu_cases(ctx: Context) -> list[dict]:
    cases = []
    for name, (build, shape) in CPU_MODELS.items():
        eager, compiled, (x, y) = _steps(build, shape)
        stats = ctx.measure([Side("eager", lambda: eager(x, y)), Side("compiled", lambda: compiled(x, y))])
        slowdown, spread = paired_ratio(stats["compiled"], stats["eager"])
        cases.append({"case": name, "speedup": 1 / slowdown, "spread_pct": spread,
                      "replays": compiled.stats["replays"], "times": {k: v.to_json() for k, v in stats.items()}})
        ctx.log(f"compile: {name}: compiled step {1 / slowdown:.2f}x faster than eager")
    return cases


class _Block(nr.nn.Module):
    def __init__(self, d_model: int, heads: int):
        super().__init__()
        self.layer = nr.nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0, batch_first=True)
        self.head = nr.nn.Linear(d_model, 10)

    def forward(self, x):
        return self.head(self.layer(x)).mean(dim=1)


def launch_counts(device: str = "cpu", d_model: int = 16, heads: int = 2) -> dict[str, int]:
    """Kernel launches of one Transformer block training step on the Triton backend, eager and
    compiled (the compiled figure is a replay's).

    >>> counts = launch_counts()  # doctest: +SKIP
    """
    from neurarust import backends

    def make():
        nr.manual_seed(0)
        model = _Block(d_model, heads).to(device)
        return training_step(model, nr.optim.Adam(model.parameters(), lr=1e-3, capturable=True))

    x = nr.randn(2, 4, d_model, device=device)
    y = nr.randint(0, 10, (2,), device=device)
    counts = {}
    with backends.using("triton"):
        for name, step in (("eager", make()), ("compiled", nr.compile(make()))):
            for _ in range(3):    # a compiled step runs eagerly, captures, then replays
                backends.launch_counts.clear()
                step(x, y)
            counts[name] = sum(backends.launch_counts.values())
    return counts


def gpt_steps(size: str, device: str, with_torch_compile: bool):
    """Steps of the models suite's GPT stack (``size`` ``cuda``: GPT-2-small shaped, bf16 autocast):
    eager NeuraRust, the same step compiled (one shared model and capturable AdamW), and PyTorch's twin
    under ``torch.compile`` (None without ``with_torch_compile``). Each takes no argument."""
    from bench.suites import models

    pair = models.build("gpt", size)
    ours = pair.ours.to(device).train()
    x, y = nr.tensor(pair.inputs, device=device), nr.tensor(pair.labels, device=device)
    opt = nr.optim.AdamW(ours.parameters(), lr=models.LR, capturable=True)

    def step(x, y):
        opt.zero_grad()
        with nr.autocast(device, dtype=nr.bfloat16, enabled=pair.autocast):
            loss = models._loss(nr, ours(x), y)
        loss.backward()
        opt.step()
        return loss

    compiled = nr.compile(step)
    theirs = None
    if with_torch_compile:
        import torch

        module = pair.theirs.to(device).train()
        fast = torch.compile(module)
        topt = torch.optim.AdamW(module.parameters(), lr=models.LR, foreach=True)
        tx, ty = torch.from_numpy(pair.inputs).to(device), torch.from_numpy(pair.labels).to(device)

        def theirs():
            topt.zero_grad()
            with torch.autocast(device, dtype=torch.bfloat16, enabled=pair.autocast):
                loss = models._loss(torch, fast(tx), ty)
            loss.backward()
            topt.step()

    return (lambda: step(x, y)), (lambda: compiled(x, y)), theirs


def _gpu_gpt(ctx: Context) -> list[Target]:
    import torch

    eager, compiled, theirs = gpt_steps("cuda", "cuda", with_torch_compile=True)
    stats = ctx.measure([Side("eager", eager, sync=nr.cuda.synchronize),
                         Side("compiled", compiled, sync=nr.cuda.synchronize),
                         Side("torch.compile", theirs, sync=torch.cuda.synchronize)])
    slowdown, _ = paired_ratio(stats["compiled"], stats["eager"])
    vs_torch, _ = paired_ratio(stats["compiled"], stats["torch.compile"])
    ctx.log(f"compile: GPT step on the GPU: compiled {1 / slowdown:.2f}x eager, {vs_torch:.2f}x torch.compile's time")
    return [Target("(t) GPT block stack step on the GPU, eager / compiled NeuraRust (higher is better)", 1 / slowdown,
                   GPU_SPEEDUP, "GPT-2-small shaped, bf16 autocast", at_least=True),
            Target("(t) GPT block stack step on the GPU, compiled NeuraRust / torch.compile", vs_torch,
                   GPU_VS_TORCH_COMPILE, "same model and weights")]


def run(ctx: Context) -> SuiteResult:
    result = SuiteResult("compile")
    counts = launch_counts(ctx.device)
    fraction = counts["compiled"] / counts["eager"]
    ctx.log(f"compile: Transformer block step launches: eager {counts['eager']}, compiled {counts['compiled']}")
    result.targets.append(Target("(s) kernel launches per Transformer block training step, compiled / eager",
                                 fraction, LAUNCH_FRACTION,
                                 f"eager {counts['eager']}, compiled {counts['compiled']} (Triton backend)").to_json())
    result.sections.append(("Kernel launches per training step", md_table(
        ["model", "eager", "compiled", "compiled / eager"],
        [("Transformer encoder block (d_model 16, 2 heads) + head, Adam", str(counts["eager"]),
          str(counts["compiled"]), f"{fraction:.2f}")])))
    if ctx.device == "cuda":
        result.targets += [t.to_json() for t in _gpu_gpt(ctx)]
        return result
    cases = _cpu_cases(ctx)
    result.cases = cases
    for c in cases:
        result.targets.append(Target(f"(r) {c['case']} training step, eager / compiled (higher is better)",
                                     c["speedup"], CPU_SPEEDUP, "forward, backward and Adam step captured whole",
                                     at_least=True).to_json())
    rows = [(c["case"], fmt_time(c["times"]["eager"]["median_ns"]), fmt_time(c["times"]["compiled"]["median_ns"]),
             f"{c['speedup']:.2f}x") for c in cases]
    result.sections.append(("Training step, eager vs compiled (CPU path)",
                            md_table(["model", "eager", "compiled", "speedup"], rows)))
    result.skipped.append({"op": "GPT block step (GPU)", "reason": "needs --device cuda"})
    return result
