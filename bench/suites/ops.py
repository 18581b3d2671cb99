"""The ops suite: every registry entry timed against its PyTorch counterpart.

Each op runs at two sizes, in float32: *small* (8 elements: the time is all dispatch overhead) and
*large* (1M elements on the CPU, 64M on a GPU so that operands outgrow the L2 cache: the time is
throughput). Inputs are the op's own first float32 sample with its tensors scaled up to the size
(same operands, broadcasting and keyword arguments; random values over the same ranges); matmul-like
entries get square operands (256^3 fp32 on the CPU, 4096^3 bf16 on a GPU). New entries are picked up from the
registry with no edit here: cases are built by ``op.kind`` and unknown kinds are skipped with a note.

On the CPU, NeuraRust runs its NumPy reference path (single-threaded) and is compared with PyTorch
pinned to one thread; PyTorch on all threads is reported beside it.
"""
from __future__ import annotations

import cProfile
import functools
import math
import os
import pstats
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

import neurarust as nr
from neurarust import dtype as _dt
from neurarust.dtype import DType
from neurarust.kernels.samples import TensorSpec, array_of
from neurarust.registry import Op, Sample, all_ops
from neurarust.tensor import Tensor

from bench.harness import (Context, Side, Stats, SuiteResult, Target, fmt_num, fmt_time, geomean, md_table,
                           paired_difference, paired_ratio, time_call)

SMALL = 8
LARGE = {"cpu": 1 << 20, "cuda": 1 << 26}
MATMUL_LARGE = {"cpu": (256, _dt.float32), "cuda": (4096, _dt.bfloat16)}
SMALL_LIMIT = 6.0     # target (a): an 8-element op at most 6x PyTorch eager
LARGE_LIMIT = 1.5     # target (b): 1M-element geometric mean at most 1.5x PyTorch on one thread
GPU_BW_PCT = 85.0     # target (x): elementwise ops at least 85% of the DRAM peak (median over ops)
MATMUL_LIMIT = 1 / 0.9   # target (y): matmul bf16 4096^3 at least 90% of torch.matmul's speed
SOFTMAX_LIMIT = 1.0   # target (z): softmax at least as fast as PyTorch eager
THROUGHPUT_KINDS = ("elementwise", "reduction")
# Internal entries benchmarked anyway: their calls take nothing but tensors and a scalar. ``cast`` is
# left out: its first float32 sample casts to float32, which PyTorch answers without copying.
TRIVIAL_INTERNAL = {"copy_", "fill_"}

# DRAM peak in TB/s by device name (first match wins: specific names before generic ones).
DRAM_PEAK_TBS = [
    (("gh200",), 4.0), (("h200",), 4.8), (("h100", "pcie"), 2.0), (("h100", "nvl"), 3.9), (("h100",), 3.35),
    (("h800", "pcie"), 2.0), (("h800",), 3.35), (("b200",), 8.0), (("b100",), 8.0),
    (("a100", "80gb", "pcie"), 1.935), (("a100", "80gb"), 2.039), (("a100",), 1.555),
    (("a800", "80gb"), 2.039), (("l40s",), 0.864), (("l40",), 0.864), (("l4",), 0.3), (("a10g",), 0.6),
    (("a10",), 0.6), (("v100",), 0.9), (("4090",), 1.008), (("3090",), 0.936), (("t4",), 0.32),
]


# Dense bf16 tensor-core peak in TFLOP/s (fp32 accumulate, no sparsity) by device name.
BF16_PEAK_TFLOPS = [
    (("gh200",), 989.0), (("h200",), 989.0), (("h100", "pcie"), 756.0), (("h100", "nvl"), 835.0),
    (("h100",), 989.0), (("h800", "pcie"), 756.0), (("h800",), 989.0), (("b200",), 2250.0),
    (("a100",), 312.0), (("a800",), 312.0), (("l40s",), 362.0), (("l4",), 121.0),
]


def _lookup(table, device_name: str) -> float | None:
    name = device_name.lower()
    for keys, peak in table:
        if all(k in name for k in keys):
            return peak
    return None


def dram_peak_tbs(device_name: str) -> float | None:
    """The DRAM bandwidth NVIDIA quotes for ``device_name`` (TB/s), or None when it is unknown."""
    return _lookup(DRAM_PEAK_TBS, device_name)


def bf16_peak_tflops(device_name: str) -> float | None:
    """The dense bf16 tensor-core peak NVIDIA quotes for ``device_name`` (TFLOP/s), or None.

    >>> bf16_peak_tflops("NVIDIA H100 80GB HBM3"), bf16_peak_tflops("Tesla T4")
    (989.0, None)
    """
    return _lookup(BF16_PEAK_TFLOPS, device_name)


# ----------------------------------------------------------------------------------------------
# Cases: inputs built from the registry
# ----------------------------------------------------------------------------------------------

@dataclass
class Case:
    op: Op
    size: str              # "small" or "large"
    dtype: DType
    sample: Sample         # NumPy arrays already in ``dtype`` (bool arrays stay bool)

    @property
    def numel(self) -> int:
        return max((a.size for a in _arrays(self.sample)), default=1)

    @property
    def shapes(self) -> list[list[int]]:
        return [list(a.shape) for a in _arrays(self.sample)]


def _arrays(sample: Sample) -> Iterator[np.ndarray]:
    for a in list(sample.args) + list(sample.kwargs.values()):
        if isinstance(a, np.ndarray):
            yield a


def _values(a) -> np.ndarray | None:
    """A tensor argument's array; None for scalars and other arguments."""
    return array_of(a) if isinstance(a, (TensorSpec, np.ndarray)) else None


def _first_sample(op: Op, dtype: DType) -> Sample | None:
    """The op's first sample whose tensors are all non-empty."""
    for s in op.samples(dtype):
        arrays = [_values(a) for a in list(s.args) + list(s.kwargs.values())]
        arrays = [a for a in arrays if a is not None]
        if arrays and all(a.size for a in arrays):
            return s
    return None


def _scaled_shape(shape: tuple, numel: int) -> tuple:
    """``shape`` with the same rank and broadcast (size-1) dims, holding about ``numel`` elements
    spread evenly over its other dims (sizes are powers of two)."""
    if not shape or all(d == 1 for d in shape):
        return (numel,)
    free = [i for i, d in enumerate(shape) if d != 1]
    per, extra = divmod(max(0, round(math.log2(numel))), len(free))
    out = list(shape)
    for j, i in enumerate(free):
        out[i] = 1 << (per + (j >= len(free) - extra))
    return tuple(out)


def _fresh(values: np.ndarray, shape: tuple, seed: int) -> np.ndarray:
    """Random values over the sample's range (so log keeps positive inputs): repeating the sample's
    few values instead would give a short period that flatters branchy code (np.where)."""
    rng = np.random.default_rng(seed)
    if values.dtype == bool:
        return rng.integers(0, 2, shape).astype(bool)
    finite = values[np.isfinite(values)]
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    if values.dtype.kind in "iu":
        return rng.integers(lo, hi + 1, shape).astype(values.dtype)
    return rng.uniform(lo, hi, shape) if hi > lo else np.full(shape, lo, dtype=np.float64)


def _scale(a, full: tuple, scaled: tuple, dtype: DType, seed: int):
    values = _values(a)
    if values is None:
        return a
    off = len(full) - values.ndim
    shape = tuple(1 if d == 1 and full[i + off] != 1 else scaled[i + off] for i, d in enumerate(values.shape))
    out = _fresh(values, shape, seed)
    return out if out.dtype == bool else out.astype(dtype.np)


def scaled_sample(op: Op, numel: int, dtype: DType) -> Sample | None:
    """The op's first sample with every tensor grown to about ``numel`` elements (fresh random values
    over each tensor's range of values), broadcasting kept."""
    s = _first_sample(op, dtype)
    if s is None:
        return None
    tensors = [_values(a) for a in list(s.args) + list(s.kwargs.values()) if _values(a) is not None]
    try:
        full = np.broadcast_shapes(*(t.shape for t in tensors))
    except ValueError:
        return None
    scaled = _scaled_shape(full, numel)
    return Sample(tuple(_scale(a, full, scaled, dtype, i) for i, a in enumerate(s.args)),
                  {k: _scale(v, full, scaled, dtype, 100 + i) for i, (k, v) in enumerate(s.kwargs.items())},
                  f"{s.name}_scaled")


def matmul_sample(op: Op, n: int, dtype: DType) -> Sample | None:
    """Square ``n x n @ n x n`` operands, with leading batch dims of 1 when the op's first sample has
    more than 2 dims (bmm)."""
    s = _first_sample(op, dtype)
    ndim = max([2] + [_values(a).ndim for a in s.args if _values(a) is not None]) if s else 2
    rng = np.random.default_rng(0)
    shape = (1,) * (ndim - 2) + (n, n)
    return Sample((rng.uniform(-1, 1, shape).astype(dtype.np), rng.uniform(-1, 1, shape).astype(dtype.np)),
                  name=f"square_{n}")


def _build_elementwise(op: Op, size: str, device: str) -> tuple[Sample | None, DType]:
    numel = SMALL if size == "small" else LARGE[device]
    return scaled_sample(op, numel, _dt.float32), _dt.float32


def _build_matmul(op: Op, size: str, device: str) -> tuple[Sample | None, DType]:
    n, dtype = (2, _dt.float32) if size == "small" else MATMUL_LARGE[device]
    return matmul_sample(op, n, dtype), dtype


BUILDERS: dict[str, Callable[[Op, str, str], tuple[Sample | None, DType]]] = {
    "elementwise": _build_elementwise,
    "reduction": _build_elementwise,
    "softmax": _build_elementwise,
    "matmul": _build_matmul,
}


def _matmul_cost(sample: Sample) -> tuple[int, int]:
    a, b = sample.args[:2]
    m, k = a.shape[-2:]
    n = b.shape[-1]
    batch = int(np.prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), dtype=np.int64))
    return (a.nbytes + b.nbytes + batch * m * n * a.itemsize, 2 * batch * m * n * k)


def cost_of(case: Case) -> tuple[int | None, int | None]:
    """(bytes, FLOPs) from the entry's cost model; matmul-like entries without one get 2*M*N*K."""
    try:
        if case.op.cost is not None:
            return case.op.cost(case.sample)
        if case.op.kind == "matmul":
            return _matmul_cost(case.sample)
    except Exception:  # noqa: BLE001 - a cost model that does not fit the scaled sample: no figure
        pass
    return None, None


def iter_cases(ctx: Context, skipped: list[dict]) -> Iterator[Case]:
    for op in all_ops():
        if ctx.only is not None and op.name not in ctx.only:
            continue
        if op.attrs.get("public", True) is False and op.name not in TRIVIAL_INTERNAL:
            skipped.append({"op": op.name, "reason": "internal entry (reached through Tensor methods)"})
            continue
        builder = BUILDERS.get(op.kind)
        if builder is None:
            ctx.log(f"note: skipping {op.name}: no input builder for kind {op.kind!r}")
            skipped.append({"op": op.name, "reason": f"no input builder for kind {op.kind!r}"})
            continue
        for size in ("small", "large"):
            sample, dtype = builder(op, size, ctx.device)
            if sample is None or dtype not in op.dtypes:
                skipped.append({"op": op.name, "reason": f"no {size} {dtype} input could be built"})
                continue
            yield Case(op, size, dtype, sample)


# ----------------------------------------------------------------------------------------------
# Calls on both sides
# ----------------------------------------------------------------------------------------------

def _nr_arg(x, device: str):
    if isinstance(x, np.ndarray):
        t = nr.from_numpy(x.copy())
        return t if device == "cpu" else t.to(device)
    return x


def _torch_arg(x, device: str):
    import torch

    if isinstance(x, np.ndarray):
        if x.dtype == _dt.bfloat16.np:
            return torch.from_numpy(x.astype(np.float32)).to(device).to(torch.bfloat16)
        return torch.from_numpy(x.copy()).to(device)
    if isinstance(x, DType):
        return x.to_torch()
    return x


def torch_function(op: Op) -> Callable | None:
    import torch

    if callable(op.torch_name):
        return op.torch_name
    return getattr(torch, op.torch_name or op.name, None)


def calls(case: Case, device: str) -> tuple[Callable, Callable]:
    """(NeuraRust call, PyTorch call) on fresh copies of the case's inputs."""
    s = case.sample
    nr_call = functools.partial(case.op, *(_nr_arg(a, device) for a in s.args),
                                **{k: _nr_arg(v, device) for k, v in s.kwargs.items()})
    t_call = functools.partial(torch_function(case.op), *(_torch_arg(a, device) for a in s.args),
                               **{k: _torch_arg(v, device) for k, v in s.kwargs.items()})
    return nr_call, t_call


def _sides(nr_call, t_call, device: str, threads: int) -> list[Side]:
    import torch

    if device == "cuda":
        return [Side("neurarust", nr_call, sync=nr.cuda.synchronize),
                Side("torch", t_call, sync=torch.cuda.synchronize)]
    sides = [Side("neurarust", nr_call), Side("torch", t_call, setup=lambda: torch.set_num_threads(1))]
    if threads > 1:
        sides.append(Side("torch_mt", t_call, setup=lambda: torch.set_num_threads(threads)))
    return sides


def _ratio(stats: dict[str, Stats], other: str) -> tuple[float | None, float | None]:
    if other not in stats:
        return None, None
    return paired_ratio(stats["neurarust"], stats[other])


def run_case(ctx: Context, case: Case, threads: int) -> dict:
    nr_call, t_call = calls(case, ctx.device)
    stats = ctx.measure(_sides(nr_call, t_call, ctx.device, threads))
    nbytes, flops = cost_of(case)
    med = {k: v.median_ns for k, v in stats.items()}
    (ratio, ratio_spread), (ratio_mt, _) = _ratio(stats, "torch"), _ratio(stats, "torch_mt")
    rec = {
        "op": case.op.name, "kind": case.op.kind, "size": case.size, "numel": case.numel,
        "dtype": case.dtype.name, "device": ctx.device, "shapes": case.shapes,
        "kwargs": {k: repr(v) for k, v in case.sample.kwargs.items() if not isinstance(v, np.ndarray)},
        "times": {k: v.to_json() for k, v in stats.items()},
        "ratio": ratio, "ratio_spread_pct": ratio_spread, "ratio_mt": ratio_mt,
        "bytes": nbytes, "flops": flops,
        "gbps": {k: nbytes / v for k, v in med.items()} if nbytes else None,
        "gflops": {k: flops / v for k, v in med.items()} if flops else None,
    }
    return rec


# ----------------------------------------------------------------------------------------------
# Where the time goes
# ----------------------------------------------------------------------------------------------

def _reduced_dims(a: np.ndarray, dim) -> tuple[int, ...]:
    if dim is None or (isinstance(dim, (tuple, list)) and not dim):
        return tuple(range(a.ndim))
    return tuple(sorted(d % a.ndim for d in (dim if isinstance(dim, (tuple, list)) else (dim,))))


# How each kind's NumPy reference is called on plain arrays (reductions take the sorted dims).
REFERENCE_CALLS: dict[str, Callable[[Op, Sample], Callable]] = {
    "elementwise": lambda op, s: functools.partial(op.reference, *s.args, **s.kwargs),
    "reduction": lambda op, s: functools.partial(op.reference, s.args[0],
                                                 _reduced_dims(s.args[0], s.kwargs.get("dim"))),
}


def _reference_call(case: Case) -> Callable | None:
    """The entry's NumPy reference on the case's arrays, with no front end around it."""
    make = REFERENCE_CALLS.get(case.op.kind)
    if make is None:
        return None
    ref = make(case.op, case.sample)
    try:
        with np.errstate(all="ignore"):
            ref()
    except Exception:  # noqa: BLE001 - a reference whose arguments differ (clamp's bounds): no figure
        return None
    return ref


def _errstate_reference(ref: Callable) -> Callable:
    def run():
        with np.errstate(all="ignore"):
            return ref()
    return run


def diagnose(ctx: Context, case: Case, rec: dict) -> dict:
    """Split a CPU case's time into the bare reference and the front end around it (the two are
    timed interleaved again: their difference is smaller than the noise between separate runs)."""
    ref = _reference_call(case)
    if ref is None:
        return {"op": case.op.name, "reference_ns": None}
    nr_call, _ = calls(case, ctx.device)
    stats = ctx.measure([Side("neurarust", nr_call), Side("reference", _errstate_reference(ref))])
    nr_ns, ref_ns = stats["neurarust"].median_ns, stats["reference"].median_ns
    torch_ns = rec["times"]["torch"]["median_ns"]
    return {"op": case.op.name, "size": case.size, "neurarust_ns": nr_ns, "reference_ns": ref_ns,
            "frontend_ns": paired_difference(stats["neurarust"], stats["reference"]), "torch_ns": torch_ns,
            "reference_vs_torch": ref_ns / torch_ns}


def _where(code) -> str:
    path, line, fn = code
    if path == "~":
        return fn
    parts = path.replace(os.sep, "/").split("/")
    for anchor in ("neurarust", "kernels", "bench", "numpy", "torch"):
        if anchor in parts:
            path = "/".join(parts[len(parts) - 1 - parts[::-1].index(anchor):])
            break
    else:
        path = parts[-1]
    return f"{path}:{line}({fn})"


def profile_calls(fn: Callable, calls_n: int, top: int = 12) -> list[dict]:
    """cProfile's self time per function over ``calls_n`` calls, largest first, as shares of the
    profiled total (the profiler inflates small functions, so shares are the figure to read)."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls_n):
        fn()
    prof.disable()
    entries = pstats.Stats(prof).stats  # {(file, line, fn): (prim calls, calls, self, cumulative, callers)}
    total = sum(e[2] for e in entries.values()) or 1.0
    rows = sorted(((code, e[1], e[2]) for code, e in entries.items()), key=lambda r: -r[2])[:top]
    return [{"function": _where(code), "calls_per_call": n / calls_n, "share": tt / total} for code, n, tt in rows]


def dispatch_overhead(ctx: Context, case: Case, rec: dict) -> dict:
    """Per-call costs of one small op: the whole call, the pieces the front end is made of, and a
    profile of the call."""
    nr_call, _ = calls(case, ctx.device)
    first = next(a for a in nr_call.args if isinstance(a, Tensor))
    probe = lambda fn: time_call(fn, reps=ctx.reps, target_ns=ctx.target_ns)  # noqa: E731
    t = rec["times"]
    pieces = {
        "neurarust call (total)": (t["neurarust"]["median_ns"], t["neurarust"]["min_ns"]),
        "torch call" + (" (1 thread)" if ctx.device == "cpu" else ""): (t["torch"]["median_ns"], t["torch"]["min_ns"]),
    }
    if ctx.device == "cpu":
        ref = _reference_call(case)
        result = np.asarray(ref()) if ref is not None else first.numpy()
        probes = {"np.errstate(all='ignore') enter+exit": _errstate_reference(lambda: None),
                  "Tensor.numpy() (one operand)": first.numpy,
                  "Tensor._from_array(result)": functools.partial(Tensor._from_array, result)}
        if ref is not None:
            probes = {"op.reference on NumPy arrays": ref, **probes}
        for name, fn in probes.items():
            st = probe(fn)
            pieces[name] = (st.median_ns, st.min_ns)
    profile = profile_calls(nr_call, 300 if ctx.quick else 3000)
    total = pieces["neurarust call (total)"][0]
    for row in profile:
        row["est_ns"] = row["share"] * total
    return {"op": case.op.name, "numel": case.numel, "pieces_ns": pieces, "profile": profile}


# ----------------------------------------------------------------------------------------------
# The suite
# ----------------------------------------------------------------------------------------------

def _cpu_targets(cases: list[dict]) -> list[Target]:
    small = [c for c in cases if c["size"] == "small" and c["ratio"]]
    large = [c for c in cases if c["size"] == "large" and c["kind"] in THROUGHPUT_KINDS and c["ratio"]]
    targets = []
    if small:
        worst = max(small, key=lambda c: c["ratio"])
        gm = geomean(c["ratio"] for c in small)
        targets.append(Target("(a) 8 elements, worst NeuraRust/PyTorch", worst["ratio"], SMALL_LIMIT,
                              f"worst: {worst['op']}; over {len(small)} ops"))
        targets.append(Target("(a) 8 elements, geometric mean", gm, SMALL_LIMIT, f"over {len(small)} ops"))
    if large:
        gm = geomean(c["ratio"] for c in large)
        over = sorted((c for c in large if c["ratio"] > LARGE_LIMIT), key=lambda c: -c["ratio"])
        worst = ", ".join(f"{c['op']} {c['ratio']:.2f}x" for c in over) or "none"
        targets.append(Target("(b) 1M elements (elementwise + reduction), geometric mean vs PyTorch 1 thread",
                              gm, LARGE_LIMIT, f"over {len(large)} ops; above {LARGE_LIMIT}x: {worst}"))
    return targets


def _gpu_targets(cases: list[dict], peak_tbs: float | None) -> list[Target]:
    """(x) elementwise bandwidth, (y) matmul bf16 4096^3 and (z) softmax; other matmul-like entries
    and log_softmax as figures to watch."""
    large = [c for c in cases if c["size"] == "large"]
    targets = []
    ew = [c for c in large if c["kind"] == "elementwise"]
    if ew:
        pcts = sorted(c["bw_pct_peak"] for c in ew if c.get("bw_pct_peak") is not None)
        detail = (f"peak {peak_tbs} TB/s; min {pcts[0]:.0f}%, max {pcts[-1]:.0f}% over {len(pcts)} ops" if pcts
                  else "the DRAM peak of this device is unknown (bench/suites/ops.py: DRAM_PEAK_TBS)")
        targets.append(Target("(x) GPU elementwise bandwidth, median % of DRAM peak",
                              pcts[len(pcts) // 2] if pcts else None, GPU_BW_PCT, detail, at_least=True))
    for c in large:
        if c["kind"] == "matmul":
            tflops = {k: v / 1e3 for k, v in (c["gflops"] or {}).items()}
            pct = c.get("flops_pct_peak")
            detail = (f"{fmt_num(tflops.get('neurarust'))} vs {fmt_num(tflops.get('torch'))} TFLOP/s"
                      + (f"; NeuraRust at {pct:.0f}% of the bf16 peak" if pct is not None else ""))
            shape = "x".join(map(str, c["shapes"][0]))
            if c["op"] == "matmul":
                targets.append(Target(f"(y) GPU matmul {c['dtype']} {shape}, NR / torch.matmul time "
                                      "(≥ 90% of its speed)", c["ratio"], MATMUL_LIMIT, detail))
            else:
                targets.append(Target(f"{c['op']} {c['dtype']} {shape}, NR / torch", c["ratio"], None, detail))
        elif c["kind"] == "softmax":
            name = ("(z) GPU softmax, NR / PyTorch eager" if c["op"] == "softmax"
                    else f"GPU {c['op']}, NR / PyTorch eager")
            targets.append(Target(name, c["ratio"], SOFTMAX_LIMIT if c["op"] == "softmax" else None,
                                  f"{' '.join('x'.join(map(str, s)) for s in c['shapes'])} {c['dtype']}"))
    return targets


def launch_overhead(cases: list[dict]) -> dict:
    """Per kind, over the 8-element cases: median per-call time of each side (µs) and the geometric
    mean of the ratios: the cost of one small op call through the Python API."""
    out = {}
    small = [c for c in cases if c["size"] == "small" and c["ratio"]]
    if not small:
        return out
    for kind in sorted({c["kind"] for c in small}) + ["all"]:
        group = [c for c in small if kind in ("all", c["kind"])]
        out[kind] = {"ops": len(group), "ratio_geomean": geomean(c["ratio"] for c in group),
                     **{side: float(np.median([c["times"][side]["median_ns"] for c in group])) / 1e3
                        for side in ("neurarust", "torch")}}
    return out


def _launch_overhead_md(summary: dict, device: str) -> str:
    rows = [(kind, str(v["ops"]), f"{v['neurarust']:.2f}", f"{v['torch']:.2f}", f"{fmt_num(v['ratio_geomean'])}x")
            for kind, v in summary.items()]
    where = ("NeuraRust's CPU path (NumPy reference) against PyTorch eager on one thread" if device == "cpu"
             else "a Triton launch against PyTorch eager on the GPU, synchronised after each batch of calls")
    return (f"µs per call of an 8-element op through the Python API: {where}. Per kind, the median over "
            f"ops of each op's median time, and the geometric mean of the per-op ratios (target (a) holds "
            f"these to at most {SMALL_LIMIT:g}x).\n\n"
            + md_table(["kind", "ops", "NeuraRust µs/call", "PyTorch µs/call", "ratio (geometric mean)"], rows))


def _results_table(cases: list[dict], size: str, device: str) -> str:
    mt = device == "cpu" and any(c["ratio_mt"] for c in cases)
    header = ["op", "kind", "shapes", "NeuraRust", "PyTorch" + (" 1 thread" if device == "cpu" else ""), "ratio"]
    header += ["PyTorch all threads", "ratio"] if mt else []
    header += ["NR GB/s", "NR GFLOP/s"] + (["% of peak (DRAM; matmul: bf16 tensor)"] if device == "cuda" else [])
    rows = []
    for c in (c for c in cases if c["size"] == size):
        t = c["times"]
        cell = lambda k: f"{fmt_time(t[k]['median_ns'])} ±{t[k]['spread_pct']:.0f}%"  # noqa: E731
        row = [f"`{c['op']}`", c["kind"], " ".join("x".join(map(str, s)) for s in c["shapes"]) + f" {c['dtype']}",
               cell("neurarust"), cell("torch"), f"{fmt_num(c['ratio'])}x ±{c['ratio_spread_pct']:.0f}%"]
        if mt:
            row += [cell("torch_mt") if "torch_mt" in t else "-", f"{fmt_num(c['ratio_mt'])}x"]
        row += [fmt_num((c["gbps"] or {}).get("neurarust")), fmt_num((c["gflops"] or {}).get("neurarust"))]
        if device == "cuda":
            row.append(fmt_num(c.get("bw_pct_peak", c.get("flops_pct_peak"))))
        rows.append(row)
    return md_table(header, rows)


def _signed_time(ns: float) -> str:
    return ("-" if ns < 0 else "") + fmt_time(abs(ns))


def _diagnosis_table(diags: list[dict]) -> str:
    rows = [[f"`{d['op']}`", fmt_time(d["neurarust_ns"]), fmt_time(d["reference_ns"]), _signed_time(d["frontend_ns"]),
             fmt_time(d["torch_ns"]), f"{d['reference_vs_torch']:.2f}x"] for d in diags if d["reference_ns"]]
    return md_table(["op", "NeuraRust", "reference alone", "front end (difference)", "PyTorch 1 thread",
                     "reference/PyTorch"], rows)


def _overhead_md(o: dict) -> str:
    pieces = md_table(["piece", "per call (median)", "per call (best batch)"],
                      [[k, fmt_time(med), fmt_time(best)] for k, (med, best) in o["pieces_ns"].items()])
    prof = md_table(["function (self time)", "calls per op call", "share", "≈ per call"],
                    [[f"`{r['function']}`", f"{r['calls_per_call']:.3g}", f"{100 * r['share']:.1f}%",
                      fmt_time(r["est_ns"])] for r in o["profile"]])
    return (f"`{o['op']}` on {o['numel']} elements. Direct timings of the pieces:\n\n{pieces}\n\n"
            f"cProfile self time of one call, shares of the profiled total scaled to the measured call:\n\n{prof}")


def run(ctx: Context) -> SuiteResult:
    """Run the ops suite on ``ctx.device``; returns cases, targets and markdown sections."""
    import torch

    result = SuiteResult("ops")
    if ctx.device == "cuda" and not nr.cuda.is_available():
        ctx.log("ops suite: --device cuda asked for but CUDA is not available here; skipped")
        result.skipped.append({"op": "*", "reason": "CUDA is not available on this machine"})
        return result
    threads_before = torch.get_num_threads()
    peak = dram_peak_tbs(nr.cuda.get_device_name()) if ctx.device == "cuda" else None
    peak_tflops = bf16_peak_tflops(nr.cuda.get_device_name()) if ctx.device == "cuda" else None
    diags, overhead = [], None
    try:
        with nr.backends.using("reference"):
            for case in iter_cases(ctx, result.skipped):
                if torch_function(case.op) is None:
                    result.skipped.append({"op": case.op.name, "reason": f"no torch.{case.op.torch_name}"})
                    continue
                try:
                    rec = run_case(ctx, case, threads_before)
                except Exception as e:  # noqa: BLE001 - one broken entry must not stop the run
                    ctx.log(f"note: skipping {case.op.name} ({case.size}): {type(e).__name__}: {e}")
                    result.skipped.append({"op": case.op.name, "reason": f"{case.size}: {type(e).__name__}: {e}"})
                    continue
                if peak and rec["gbps"] and case.size == "large" and case.op.kind in (*THROUGHPUT_KINDS, "softmax"):
                    rec["bw_pct_peak"] = 100 * rec["gbps"]["neurarust"] / (peak * 1e3)
                if peak_tflops and rec["gflops"] and case.size == "large" and case.op.kind == "matmul" \
                        and case.dtype == _dt.bfloat16:
                    rec["flops_pct_peak"] = 100 * rec["gflops"]["neurarust"] / (peak_tflops * 1e3)
                result.cases.append(rec)
                ctx.log(f"{rec['op']:>10} {rec['size']:>5} {'x'.join(map(str, case.shapes[0])):>12}: "
                        f"NR {fmt_time(rec['times']['neurarust']['median_ns']):>9}  "
                        f"torch {fmt_time(rec['times']['torch']['median_ns']):>9}  ratio {fmt_num(rec['ratio'])}")
                if ctx.device == "cpu" and case.size == "large" and case.op.kind in THROUGHPUT_KINDS:
                    diags.append(diagnose(ctx, case, rec))
                if overhead is None and case.size == "small" and case.op.kind == "elementwise" \
                        and (ctx.only or case.op.name == "add"):
                    overhead = dispatch_overhead(ctx, case, rec)
    finally:
        torch.set_num_threads(threads_before)
    result.targets = [t.to_json() for t in
                      (_cpu_targets(result.cases) if ctx.device == "cpu" else _gpu_targets(result.cases, peak))]
    if ctx.device == "cpu":
        result.skipped += [{"op": name, "reason": "a GPU target: needs --device cuda and a GPU"} for name in
                           ("(x) GPU elementwise bandwidth", "(y) GPU matmul bf16 4096^3", "(z) GPU softmax")]
    result.extra = {"torch_threads": threads_before, "sizes": {"small": SMALL, "large": LARGE[ctx.device]},
                    "dram_peak_tbs": peak, "bf16_peak_tflops": peak_tflops, "diagnosis": diags,
                    "dispatch_overhead": overhead, "launch_overhead": launch_overhead(result.cases)}
    _add_sections(result, ctx, threads_before, diags, overhead)
    return result


def _add_sections(result: SuiteResult, ctx: Context, threads: int, diags: list, overhead: dict | None) -> None:
    how = ("Median per-call time ± interquartile range (% of median); ratio = NeuraRust / PyTorch, lower is "
           "better (the median of round-by-round ratios: each round times both sides back to back). "
           "NeuraRust runs its NumPy reference path (one thread); PyTorch is pinned to 1 thread, "
           f"and also shown on all {threads} threads." if ctx.device == "cpu" else
           "Median per-call time ± interquartile range; ratio = NeuraRust (Triton) / PyTorch, lower is better "
           "(the median of round-by-round ratios).")
    large = LARGE[ctx.device]
    if result.extra["launch_overhead"]:
        result.sections.append(("Launch overhead", _launch_overhead_md(result.extra["launch_overhead"], ctx.device)))
    result.sections.append(("Small inputs (8 elements: dispatch overhead)",
                            how + "\n\n" + _results_table(result.cases, "small", ctx.device)))
    result.sections.append((f"Large inputs ({large:,} elements; matmul "
                            f"{MATMUL_LARGE[ctx.device][0]}^3 {MATMUL_LARGE[ctx.device][1].name})",
                            _results_table(result.cases, "large", ctx.device)))
    if any(d["reference_ns"] for d in diags):
        result.sections.append((f"Where the time goes at {large:,} elements",
                                "The entry's NumPy reference timed alone on the same arrays, and the rest "
                                "of the call (binding, promotion, views, wrapping the result).\n\n"
                                + _diagnosis_table(diags)))
    if overhead:
        result.sections.append(("Dispatch overhead per call", _overhead_md(overhead)))
