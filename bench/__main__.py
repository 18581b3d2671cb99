"""``python -m bench [--suite ops|models|...|all] [--device cpu|cuda] [--json FILE] [--md FILE] [--quick] [--ops a,b]``

Runs the suites, prints a markdown report and writes it to ``docs/benchmarks/index.md`` with PNG
charts beside it (``--md ''`` writes neither; charts need matplotlib); ``--json`` also saves every
figure. Targets are reported as PASS/MISS and never fail the run. Example (a smoke run)::

    python -m bench --quick --ops add,exp --md '' --json /tmp/bench.json
"""
from __future__ import annotations

import os

# The reference path is compared with single-threaded PyTorch: keep NumPy's BLAS (matmul) on one
# thread too. It must be set before NumPy loads; `machine_info` records what was in effect.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# Triton must be imported after TRITON_INTERPRET is decided (on where there is no GPU), and torch
# imports it on the side (a torch.optim constructor does): neurarust.launch imports it first, the
# right way, so that suites running Triton kernels after torch optimizers still get the interpreter.
import neurarust.launch  # noqa: E402,F401

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Sequence  # noqa: E402

from bench import suites  # noqa: E402
from bench.charts import write_charts  # noqa: E402
from bench.harness import Context, machine_info, render_markdown  # noqa: E402
from neurarust import atomic  # noqa: E402

DEFAULT_MD = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "index.md"

INTRO = ("Targets (lower is better unless marked ≥): CPU path against PyTorch on one thread: (a) an "
         "8-element op (launch overhead) at most 6x; (b) 1M-element elementwise and reduction ops at most 1.5x "
         "(geometric mean); (c)-(e) autograd recording and memory; (f), (g) DataLoader workers; (h), (i) "
         "Conv2d and a transformer layer at most 1.5x; (n) optimizer steps at most 1.5x; (p), (q) training "
         "step of the MLP and the digits CNN at most 1.5x. On a GPU, against PyTorch eager: (j)-(l) "
         "cross-entropy and LayerNorm at least as fast, flash attention at least 80% of SDPA's speed; (m) "
         "cross-entropy memory; (o) Adam step; (u) GPT training step at most 1.2x; (x) elementwise at "
         "least 85% of DRAM bandwidth; (y) matmul bf16 4096^3 at least 90% of torch.matmul's speed; (z) "
         "softmax at least as fast. (r)-(t) compile and (v), (w) quantization: see those suites. GPU targets "
         "are listed as skipped on a CPU-only run.")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description="NeuraRust benchmarks against PyTorch")
    p.add_argument("--suite", default="ops", choices=[*suites.SUITES, "all"], help="what to run (default: ops)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where tensors live (default: cpu)")
    p.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")
    p.add_argument("--md", metavar="FILE", default=str(DEFAULT_MD),
                   help="markdown report path, charts beside it (default: docs/benchmarks/index.md; '' for none)")
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
    charts, note = write_charts(results, Path(args.md).parent) if args.md else ({}, "")
    md = render_markdown(machine, results, INTRO, charts, note)
    print(md)
    if args.md:
        atomic.write_text(args.md, md)
    if args.json:
        atomic.write_text(args.json, json.dumps(doc, indent=1, default=str) + "\n")
    return doc


if __name__ == "__main__":
    main()
