"""Tuning on the GPU for ``neurarust tune``: run an op's call once while every autotuned launch in
it times all of its configs, keeps the fastest and writes it to the persistent cache.

Launchers ask :func:`neurarust.autotune.best_config` for their config. Inside :func:`benchmarking`
that question is answered by timing every config afresh (even one already cached: tuning is what
was asked for), storing the winner under the same key ``best_config`` reads, and recording what
was timed. Later launches, in any process, find the stored config without timing anything::

    >>> from neurarust.registry import TuneSpec
    >>> spec = TuneSpec(configs=[{"B": 1}, {"B": 2}], default={"B": 1})
    >>> speed = {1: 2.0, 2: 1.0}
    >>> launched = []
    >>> timer = lambda fn: (fn(), speed[launched[-1]["B"]])[1]
    >>> with benchmarking(timer, store=False) as records:
    ...     cfg = autotune.best_config("demo", spec, ("float32", 64), launched.append)
    >>> cfg, records[0].ms, len(records[0].timings)
    ({'B': 2}, 1.0, 2)
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Callable, Iterator

from neurarust import autotune


@dataclass
class Record:
    """One launch's tuning: the kernel's op name, the call's key, each config's time, the winner."""

    op: str
    key: tuple
    timings: list = field(default_factory=list)   # [(config, ms or None when it failed)]
    config: dict | None = None
    ms: float | None = None


def _timed(configs: list[dict], run: Callable[[dict], None], timer) -> list:
    out = []
    for cfg in configs:
        try:
            out.append((dict(cfg), float(timer(lambda cfg=cfg: run(cfg)))))
        except Exception:  # noqa: BLE001 - a config that fails (out of shared memory ...) just loses
            out.append((dict(cfg), None))
    return out


@contextlib.contextmanager
def benchmarking(timer: Callable | None = None, *, store: bool = True,
                 allowed: Callable[[str, dict], bool] | None = None) -> Iterator[list[Record]]:
    """Within the block, every ``autotune.best_config`` call times all its configs with ``timer``
    (``triton.testing.do_bench`` by default), stores the fastest in the cache (``store``) and appends a
    :class:`Record` to the yielded list. ``allowed(op, config)`` can leave configs out (a pruned
    list from ``tune --compile-only``)."""
    records: list[Record] = []
    original = autotune.best_config
    bench = timer or autotune._do_bench

    def tuned(op_name, spec, key, run, *, source="", timer=None, device=None):  # noqa: ARG001 - best_config's
        configs = [c for c in spec.configs if allowed is None or allowed(op_name, c)] or [spec.default]
        rec = Record(op_name, tuple(key), _timed(configs, run, bench))
        times = [(ms, i) for i, (_, ms) in enumerate(rec.timings) if ms is not None and math.isfinite(ms)]
        if times:
            rec.ms, best = min(times)
            rec.config = rec.timings[best][0]
            if store:
                autotune.store(autotune.make_key(op_name, key, source), rec.config, rec.ms)
        records.append(rec)
        return dict(rec.config or spec.default)

    autotune.best_config = tuned
    try:
        yield records
    finally:
        autotune.best_config = original


def describe(config: dict | None) -> str:
    """A config in one short line: ``BLOCK_M=128 BLOCK_N=64 w4 s3``.

    >>> describe({"BLOCK_M": 64, "num_warps": 4, "num_stages": 3})
    'BLOCK_M=64 w4 s3'
    """
    if not config:
        return "-"
    parts = [f"{k}={v}" for k, v in config.items() if k not in ("num_warps", "num_stages")]
    if "num_warps" in config:
        parts.append(f"w{config['num_warps']}")
    if "num_stages" in config:
        parts.append(f"s{config['num_stages']}")
    return " ".join(parts)
