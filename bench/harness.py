"""Timing and reporting shared by every benchmark suite.

Timing: each case has several *sides* (NeuraRust, PyTorch on one thread, PyTorch on all threads).
After a warm-up, each side's batch size is chosen so that one batch of calls takes ~2 ms; then the
sides are timed round-robin (A B C A B C ...), so that a burst of load from elsewhere on the machine
hits all sides alike instead of one. A sample is one batch's time divided by its size; a side
reports the median of its samples and their spread (interquartile range as % of the median).

Reporting: a JSON document (``--json``) and a markdown page that states the machine it ran on::

    >>> from bench.harness import Side, measure
    >>> stats = measure([Side("noop", lambda: None)], reps=3, warmup=1, target_ns=20_000)
    >>> stats["noop"].median_ns > 0
    True
"""
from __future__ import annotations

import gc
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Callable, Iterable, Sequence

import numpy as np

from neurarust import atomic

TARGET_NS = 2_000_000      # one batch of calls: ~2 ms, inside the 1-5 ms the timer resolves well
MAX_BATCH = 1_000_000


# ----------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------

@dataclass
class Side:
    """One contender of a case: ``fn`` is called with no arguments; ``setup`` runs (untimed) before
    each of its batches, e.g. to set torch's thread count; ``sync`` waits for queued GPU work."""

    name: str
    fn: Callable[[], object]
    setup: Callable[[], None] | None = None
    sync: Callable[[], None] | None = None


@dataclass
class Stats:
    """Per-call times of one side, in nanoseconds."""

    median_ns: float
    q1_ns: float
    q3_ns: float
    min_ns: float
    max_ns: float
    batch: int
    reps: int
    samples_ns: list[float] = field(default_factory=list, repr=False)   # per round, in round order

    @property
    def spread_pct(self) -> float:
        """Interquartile range as a percentage of the median."""
        return 100.0 * (self.q3_ns - self.q1_ns) / self.median_ns if self.median_ns else 0.0

    def to_json(self) -> dict:
        d = asdict(self)
        d["samples_ns"] = [round(x, 1) for x in self.samples_ns]
        d["spread_pct"] = round(self.spread_pct, 2)
        return d


def paired_ratio(a: Stats, b: Stats) -> tuple[float, float]:
    """Median of the round-by-round ratios a/b, and their IQR as % of it. Rounds are timed back to
    back, so load from other processes hits both batches of a round alike and mostly cancels out:
    on a busy machine this is steadier than the ratio of the two medians."""
    r = np.asarray(a.samples_ns) / np.asarray(b.samples_ns)
    q1, med, q3 = np.percentile(r, [25, 50, 75])
    return float(med), float(100 * (q3 - q1) / med)


def paired_difference(a: Stats, b: Stats) -> float:
    """Median of the round-by-round differences a - b (ns)."""
    return float(np.median(np.asarray(a.samples_ns) - np.asarray(b.samples_ns)))


def _time_batch(side: Side, n: int) -> int:
    if side.setup is not None:
        side.setup()
    fn, sync = side.fn, side.sync
    fn()  # untimed: every side starts its batch with warm caches and, after a setup, a warm pool
    if sync is not None:
        sync()
    t0 = time.perf_counter_ns()
    for _ in range(n):
        fn()
    if sync is not None:
        sync()
    return time.perf_counter_ns() - t0


def _calibrate(side: Side, target_ns: int) -> int:
    """The smallest batch size (roughly) whose batch takes ``target_ns``."""
    n = 1
    while True:
        t = max(_time_batch(side, n), 1)
        if t >= target_ns or n >= MAX_BATCH:
            return n
        # Grow towards the target in one step, but at most 100x at a time: the first calls lie.
        n = min(MAX_BATCH, max(n + 1, min(n * 100, math.ceil(n * target_ns * 1.1 / t))))


def _stats(samples: Sequence[float], batch: int) -> Stats:
    a = np.asarray(samples, dtype=np.float64)
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return Stats(float(med), float(q1), float(q3), float(a.min()), float(a.max()), batch, len(a), list(samples))


# glibc's malloc: buffers up to this size come from the heap, and up to ``TRIM_BYTES`` of freed heap
# stay mapped (``mallopt``'s M_MMAP_THRESHOLD and M_TRIM_THRESHOLD; 32 MiB is the most glibc takes).
MMAP_BYTES = 32 << 20
TRIM_BYTES = 512 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def settle_allocator() -> None:
    """Pin glibc's mmap and trim thresholds before anything is timed, so that neither side pays page
    faults for its buffers. By default glibc maps each large buffer afresh (about 1.7 us a 4 KiB
    page here: a 1 MiB NumPy temporary cost 0.4 ms of faults) until its adaptive threshold happens
    to rise, and returns freed heap to the system; which side freed what first then decided the
    figures (a conv step measured 2.7 ms or 4.6 ms for PyTorch depending on it). A no-op where the
    C library has no ``mallopt``."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, MMAP_BYTES)
    mallopt(_M_TRIM_THRESHOLD, TRIM_BYTES)


def measure(sides: Sequence[Side], *, reps: int = 15, warmup: int = 3,
            target_ns: int = TARGET_NS) -> dict[str, Stats]:
    """Time ``sides`` interleaved: ``warmup`` untimed calls each, one batch size each, then ``reps``
    rounds of one batch per side. Returns per-call :class:`Stats` by side name."""
    settle_allocator()
    gc_was_on = gc.isenabled()
    gc.disable()  # a collection inside one side's batch would be charged to that side alone
    try:
        for side in sides:
            if side.setup is not None:
                side.setup()
            for _ in range(warmup):
                side.fn()
            if side.sync is not None:
                side.sync()
        batches = [_calibrate(side, target_ns) for side in sides]
        samples: list[list[float]] = [[] for _ in sides]
        for _ in range(reps):
            for side, n, out in zip(sides, batches, samples):
                out.append(_time_batch(side, n) / n)
    finally:
        if gc_was_on:
            gc.enable()
    return {side.name: _stats(out, n) for side, n, out in zip(sides, batches, samples)}


def time_call(fn: Callable[[], object], *, reps: int = 9, target_ns: int = TARGET_NS) -> Stats:
    """Median per-call time of one function alone (for breakdowns, not comparisons)."""
    return measure([Side("fn", fn)], reps=reps, warmup=2, target_ns=target_ns)["fn"]


def geomean(values: Iterable[float]) -> float | None:
    vals = [v for v in values if v and v > 0 and math.isfinite(v)]
    if not vals:
        return None
    return math.exp(sum(math.log(v) for v in vals) / len(vals))


@dataclass
class Context:
    """How a suite runs: the device, the op filter and the timing budget (``quick`` for smoke tests)."""

    device: str = "cpu"
    quick: bool = False
    only: tuple[str, ...] | None = None      # names to run (ops for the ops suite); None = all
    log: Callable[[str], None] = print

    @property
    def reps(self) -> int:
        return 3 if self.quick else 25

    @property
    def warmup(self) -> int:
        return 1 if self.quick else 3

    @property
    def target_ns(self) -> int:
        return TARGET_NS // 8 if self.quick else TARGET_NS

    def measure(self, sides: Sequence[Side]) -> dict[str, Stats]:
        return measure(sides, reps=self.reps, warmup=self.warmup, target_ns=self.target_ns)


# ----------------------------------------------------------------------------------------------
# Targets
# ----------------------------------------------------------------------------------------------

@dataclass
class Target:
    """A performance goal: ``value`` at most ``limit`` is a PASS (at least ``limit`` with ``at_least``,
    for figures where higher is better: % of a peak); a MISS is reported, never raised. Without a
    limit it is a figure to watch ("info").

    >>> Target("x", 80.0, 85.0, at_least=True).status, Target("y", 1.1, 1.2).status
    ('MISS', 'PASS')
    """

    name: str
    value: float | None
    limit: float | None
    detail: str = ""
    at_least: bool = False

    @property
    def status(self) -> str:
        if self.value is None:
            return "n/a"
        if self.limit is None:
            return "info"
        ok = self.value >= self.limit if self.at_least else self.value <= self.limit
        return "PASS" if ok else "MISS"

    def to_json(self) -> dict:
        return {"name": self.name, "value": self.value, "limit": self.limit, "status": self.status,
                "detail": self.detail, "at_least": self.at_least}


# ----------------------------------------------------------------------------------------------
# The machine
# ----------------------------------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _gpu() -> str | None:
    import neurarust as nr

    if not nr.cuda.is_available():
        return None
    return nr.cuda.get_device_name()


def machine_info() -> dict:
    """What the figures depend on: CPU, cores, GPU and library versions."""
    import neurarust as nr

    try:
        import torch
        torch_threads = torch.get_num_threads()
    except ImportError:
        torch_threads = None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "gpu": _gpu(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": _version("torch"),
        "triton": _version("triton"),
        "neurarust": nr.__version__,
        "torch_threads": torch_threads,
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "argv": sys.argv[1:],
    }


# ----------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------

def fmt_time(ns: float | None) -> str:
    if ns is None:
        return "-"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_num(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def md_machine(m: dict) -> str:
    gpu = m["gpu"] or "none"
    return (f"- Machine: {m['cpu']}, {m['cores']} cores, GPU: {gpu}; {m['os']}\n"
            f"- Versions: Python {m['python']}, NumPy {m['numpy']}, PyTorch {m['torch']}, "
            f"Triton {m['triton']}, NeuraRust {m['neurarust']}\n"
            f"- Run: {m['date']}, `python -m bench {' '.join(m['argv'])}`\n"
            f"- Allocator: glibc's mmap threshold pinned at {MMAP_BYTES >> 20} MiB and its trim threshold at "
            f"{TRIM_BYTES >> 20} MiB before timing (`mallopt`), for both sides alike: buffers are reused "
            f"without page faults, whichever side freed what first"
            + (f"\n- Load average at the start: {', '.join(f'{x:.2f}' for x in m['loadavg'])} on "
               f"{m['cores']} cores (other processes' load widens spreads; multi-threaded PyTorch "
               f"suffers most when cores are busy)" if m.get("loadavg") else ""))


def _limit(t: dict) -> str:
    if t["limit"] is None:
        return "-"
    return f"{'≥' if t.get('at_least') else '≤'} {t['limit']:.3g}"


def md_targets(targets: Sequence[dict]) -> str:
    rows = [(t["name"], fmt_num(t["value"]), _limit(t), f"**{t['status']}**", t["detail"]) for t in targets]
    return md_table(["target", "value", "limit", "status", "detail"], rows)


def md_summary(results: Sequence["SuiteResult"]) -> str:
    """Every suite's targets in one table (details left to each suite's section)."""
    rows = [(f"`{r.name}`", t["name"], fmt_num(t["value"]), _limit(t), f"**{t['status']}**")
            for r in results for t in r.targets]
    return md_table(["suite", "target", "value", "limit", "status"], rows)


@dataclass
class SuiteResult:
    """What a suite hands back: JSON-ready cases and targets, plus markdown sections of its own."""

    name: str
    cases: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    targets: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    sections: list[tuple[str, str]] = field(default_factory=list)   # (title, markdown body)

    def to_json(self) -> dict:
        return {"name": self.name, "cases": self.cases, "skipped": self.skipped, "targets": self.targets,
                "extra": self.extra}


def render_markdown(machine: dict, results: Sequence[SuiteResult], intro: str = "",
                    charts: dict[str, list[tuple[str, str]]] | None = None, chart_note: str = "") -> str:
    """The report page; ``charts`` maps a suite name to its (caption, PNG file name) pairs, linked
    relative to the page; ``chart_note`` says why there are none."""
    parts = ["# Benchmarks", "", "Generated by `python -m bench`; do not edit by hand.", "",
             md_machine(machine), ""]
    if intro:
        parts += [intro, ""]
    if any(r.targets for r in results):
        parts += ["## Summary", "", md_summary(results), ""]
        for caption, name in (charts or {}).get("summary", []):
            parts += [f"![{caption}]({name})", ""]
    if chart_note:
        parts += [chart_note, ""]
    for r in results:
        parts += [f"## Suite `{r.name}`", ""]
        if r.targets:
            parts += ["### Targets", "", md_targets(r.targets), ""]
        for caption, name in (charts or {}).get(r.name, []):
            parts += [f"![{caption}]({name})", ""]
        for title, body in r.sections:
            parts += [f"### {title}", "", body, ""]
        if r.skipped:
            parts += ["### Skipped", ""]
            parts += [f"- `{s['op']}`: {s['reason']}" for s in r.skipped]
            parts.append("")
    return "\n".join(parts)
