"""Benchmark suites by name. A suite is a module with ``run(ctx: Context) -> SuiteResult``; adding
one (``models``, ``data``) means adding its module and one line here.

    >>> from bench.suites import SUITES
    >>> "ops" in SUITES
    True
"""
from __future__ import annotations

import importlib

from bench.harness import Context, SuiteResult

SUITES: dict[str, str] = {
    "ops": "bench.suites.ops",
    "autograd": "bench.suites.autograd",
    "data": "bench.suites.data",
    "optim": "bench.suites.optim",
    "nn": "bench.suites.nn",
    "models": "bench.suites.models",
    "distributed": "bench.suites.distributed",
    "quantization": "bench.suites.quantization",
    "compile": "bench.suites.compile",
}


def run(name: str, ctx: Context) -> SuiteResult:
    """Run suite ``name``."""
    return importlib.import_module(SUITES[name]).run(ctx)
