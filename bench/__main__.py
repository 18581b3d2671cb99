"""``python -m bench [--suite ops|all] [--device cpu|cuda] [--json FILE] [--md FILE] [--quick] [--ops a,b]``

Runs the suites, prints a markdown report and writes it to ``docs/benchmarks.md`` (``--md ''``
writes none); ``--json`` also saves every figure. Targets are reported as PASS/MISS and never fail
the run. Example (a smoke run)::

    python -m bench --quick --ops add,exp --md '' --json /tmp/bench.json
"""
from __future__ import annotations

import os

# The reference path is compared with single-threaded PyTorch: keep NumPy's BLAS (matmul) on one
# thread too. It must be set before NumPy loads; `machine_info` records what was in effect.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Sequence  # noqa: E402

from bench import suites  # noqa: E402
from bench.harness import Context, machine_info, render_markdown  # noqa: E402
from neurarust import atomic  # noqa: E402

DEFAULT_MD = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"

INTRO = ("Targets: (a) an 8-element op on the CPU path at most 6x PyTorch eager; (b) 1M-element "
         "elementwise and reduction ops on the CPU path at most 1.5x PyTorch on one thread (geometric "
         "mean). On a GPU: elementwise bandwidth as % of the device's DRAM peak, and matmul bf16 4096^3 "
         "against torch.matmul.")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description="NeuraRust benchmarks against PyTorch")
    p.add_argument("--suite", default="ops", choices=[*suites.SUITES, "all"], help="what to run (default: ops)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where tensors live (default: cpu)")
    p.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")
    p.add_argument("--md", metavar="FILE", default=str(DEFAULT_MD),
                   help="markdown report path (default: docs/benchmarks.md; '' for none)")
    p.add_argument("--quick", action="store_true", help="few repetitions, short batches (smoke runs)")
    p.add_argument("--ops", metavar="NAMES", help="comma-separated op names to run (default: all)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmarks; returns the JSON document (also written with ``--json``)."""
    args = parse_args(argv)
    only = tuple(n.strip() for n in args.ops.split(",") if n.strip()) if args.ops else None
    ctx = Context(device=args.device, quick=args.quick, only=only,
                  log=lambda msg: print(msg, file=sys.stderr, flush=True))
    names = list(suites.SUITES) if args.suite == "all" else [args.suite]
    machine = machine_info()
    machine["argv"] = list(argv) if argv is not None else sys.argv[1:]
    results = [suites.run(name, ctx) for name in names]
    doc = {"machine": machine, "device": args.device, "quick": args.quick,
           "suites": {r.name: r.to_json() for r in results}}
    md = render_markdown(machine, results, INTRO)
    print(md)
    if args.md:
        atomic.write_text(args.md, md)
    if args.json:
        atomic.write_text(args.json, json.dumps(doc, indent=1, default=str) + "\n")
    return doc


if __name__ == "__main__":
    main()
