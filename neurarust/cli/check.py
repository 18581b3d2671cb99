"""``neurarust check``: every kernel against the NumPy reference evaluated in float64.

Each registry op (or ``--ops``) runs with the Triton backend on each dtype it supports (or
``--dtypes``) and each sample input at the chosen size: on the GPU when there is one, through
Triton's interpreter on CPU tensors otherwise (where ``--shapes large`` is refused). ``--grad``
checks the backward too; ``--compile sm_80,sm_90`` compiles the kernels for GPU targets instead.
Exit status: 0 all passed, 1 something failed, 2 the command line cannot run. See docs/cli.md::

    neurarust check --ops add,matmul --dtypes float32 --grad --json check.json
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import asdict, dataclass

from neurarust import atomic

from . import plugins
from .selection import parse_dtypes, select_ops
from .sizes import SIZES, scaled
from .table import render
from .usage import UsageError, reports_usage_errors

# Gradients go through more arithmetic than a forward result: at least these (rtol, atol).
GRAD_TOLERANCES = {"float64": (1e-7, 1e-7), "float32": (2e-4, 2e-5), "float16": (1e-2, 1e-3),
                   "bfloat16": (5e-2, 1e-2)}
HEADER = ["op", "pass", "dtype", "shape", "max abs err", "max rel err", "tolerance", "status", "backend", "note"]


@dataclass
class Row:
    """One checked call: an op, a dtype and a sample, forward or backward."""

    op: str
    check: str          # "forward" or "backward"
    dtype: str
    shape: str
    sample: str
    max_abs: float | None
    max_rel: float | None
    rtol: float | None
    atol: float | None
    status: str         # PASS, FAIL or SKIP
    backend: str
    detail: str = ""

    def cells(self) -> list:
        tol = None if self.rtol is None else f"rtol={self.rtol:.2g} atol={self.atol:.2g}"
        return [self.op, self.check, self.dtype, self.shape, self.max_abs, self.max_rel, tol, self.status,
                self.backend, self.detail]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ops", help="comma-separated op names (default: every registry op)")
    parser.add_argument("--dtypes", help="comma-separated dtypes (default: every dtype each op supports)")
    parser.add_argument("--shapes", choices=SIZES, default="small",
                        help="sample size: the registry's samples (small) or them scaled up 4x / 16x")
    parser.add_argument("--grad", action="store_true", help="check the backward too (autograd on Triton "
                        "vs the float64 reference's gradients)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON (atomically)")
    parser.add_argument("--compile", metavar="TARGETS", help="instead: compile the kernels for these GPU targets "
                        "(sm_80,sm_90) and report registers, spills and shared memory")
    parser.add_argument("--jobs", type=int, default=2, help="compile processes for --compile (default 2)")
    parser.add_argument("--plugin", action="append", metavar="MODULE",
                        help="import a module or .py file that registers extra ops first (repeatable)")
    parser.add_argument("--failed-only", action="store_true", help="print only the rows that did not pass")


@reports_usage_errors("check")
def run(args: argparse.Namespace) -> int:
    if args.compile:
        plugins.load_all(args.plugin)
        return _run_compile(args, select_ops(args.ops))
    if not args.plugin:  # a mistyped op or dtype is reported before torch and Triton load
        select_ops(args.ops), parse_dtypes(args.dtypes)
    device, backend = _triton_device(args.shapes)  # before any plugin imports Triton
    # Masked-off lanes of interpreted kernels still compute (0 / 0 ...): NumPy warns, results are right.
    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"triton\..*")
    plugins.load_all(args.plugin)
    ops = select_ops(args.ops)
    dtypes = parse_dtypes(args.dtypes)
    rows = []
    for op in ops:
        _progress(f"checking {op.name}")
        for dtype in [d for d in op.dtypes if dtypes is None or d in dtypes]:
            rows += _check_op(op, dtype, args.shapes, device, backend, args.grad)
    if not rows:
        raise UsageError(f"nothing to check: none of the ops {[op.name for op in ops]} supports "
                         f"the dtypes {args.dtypes}")
    _report(rows, args, backend)
    return 1 if any(r.status == "FAIL" for r in rows) else 0


def _progress(text: str) -> None:
    if sys.stderr.isatty():
        print(f"\r\033[K{text}", end="", file=sys.stderr, flush=True)


def _triton_device(size: str) -> tuple[str, str]:
    """``(device, backend label)``; importing neurarust.launch switches the interpreter on without CUDA."""
    try:
        import neurarust.launch as launch
    except ImportError as e:
        raise UsageError(f"checking kernels needs torch and triton: pip install 'neurarust[gpu]' ({e})") from e
    import torch

    if not launch.INTERPRET and torch.cuda.is_available():
        return "cuda", f"triton on {torch.cuda.get_device_name()}"
    if size == "large":
        raise UsageError("--shapes large is refused without a GPU: Triton's interpreter runs every program in "
                         "Python and would take hours; use --shapes small or medium, or run on a CUDA machine")
    return "cpu", "triton interpreter"


def _check_op(op, dtype, size: str, device: str, backend: str, grad: bool) -> list[Row]:
    rows = []
    for small in op.samples(dtype):
        sample = scaled(small, size)
        rows.append(_forward(op, sample, dtype, size, device, backend))
        if grad and op.differentiable and dtype.is_floating_point:
            row = _backward(op, sample, dtype, size, device, backend)
            if row is not None:
                rows.append(row)
    return rows


def _row(op, what, dtype, sample, backend, **kw) -> Row:
    from neurarust.checking import sample_shape

    fields = dict(max_abs=None, max_rel=None, rtol=None, atol=None)
    fields.update(kw)
    return Row(op.name, what, dtype.name, sample_shape(sample), sample.name, backend=backend, **fields)


def _error(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200]


def _forward(op, sample, dtype, size, device, backend) -> Row:
    from neurarust import checking as C

    try:
        expected = C.reference_in_float64(op, sample, dtype)
    except Exception as e:  # noqa: BLE001
        if size != "small":  # the sample spells out a size: it does not scale
            return _row(op, "forward", dtype, sample, backend, status="SKIP", detail=f"does not scale ({_error(e)})")
        return _row(op, "forward", dtype, sample, backend, status="FAIL", detail=f"reference raised {_error(e)}")
    try:
        got = C.nr_call(op, sample, dtype, "triton", device)
    except Exception as e:  # noqa: BLE001 - a kernel that crashes fails its row
        return _row(op, "forward", dtype, sample, backend, status="FAIL", detail=f"raised {_error(e)}")
    rtol, atol = C.output_tolerance(op, dtype, sample, got)
    c = C.compare(got, expected, rtol, atol)
    return _row(op, "forward", dtype, sample, backend, max_abs=c.max_abs, max_rel=c.max_rel, rtol=rtol, atol=atol,
                status="PASS" if c.ok else "FAIL", detail=c.problem)


def _backward(op, sample, dtype, size, device, backend) -> Row | None:
    from neurarust import checking as C

    if not C.finite(sample) or C.sample_numel(sample) == 0:  # no gradient to speak of
        return None
    try:
        expected = C.reference_grads_in_float64(op, sample, dtype)
    except Exception as e:  # noqa: BLE001 - no derivative for this call (qr mode='r' ...): nothing to compare
        return _row(op, "backward", dtype, sample, backend, status="SKIP", detail=f"no reference gradient: {_error(e)}")
    if expected is None:
        return None
    try:
        got = C.nr_grads(op, sample, dtype, "triton", device)
    except Exception as e:  # noqa: BLE001
        return _row(op, "backward", dtype, sample, backend, status="FAIL", detail=f"raised {_error(e)}")
    rtol, atol = C.tolerance(op, dtype, sample)
    floor = GRAD_TOLERANCES.get(dtype.name, (0.0, 0.0))
    rtol, atol = max(rtol, floor[0]), max(atol, floor[1])
    c = C.compare(got, expected, rtol, atol, signed_zeros=False)
    return _row(op, "backward", dtype, sample, backend, max_abs=c.max_abs, max_rel=c.max_rel, rtol=rtol, atol=atol,
                status="PASS" if c.ok else "FAIL", detail=c.problem)


def _summary(rows: list[Row]) -> dict:
    return {s.lower(): sum(r.status == s for r in rows) for s in ("PASS", "FAIL", "SKIP")}


def _report(rows: list[Row], args, backend: str) -> None:
    _progress("")
    shown = [r for r in rows if r.status != "PASS"] if args.failed_only else rows
    print(render(HEADER, [r.cells() for r in shown]))
    counts = _summary(rows)
    print(f"\n{len(rows)} checks on {backend}: {counts['pass']} passed, {counts['fail']} failed, "
          f"{counts['skip']} skipped")
    if args.json:
        doc = {"command": "check", "backend": backend, "shapes": args.shapes, "grad": args.grad,
               "summary": counts, "rows": [asdict(r) for r in rows]}
        atomic.write_text(args.json, json.dumps(doc, indent=1) + "\n")


def _run_compile(args, ops) -> int:
    from . import compiling

    targets = compiling.parse_targets(args.compile)
    results = compiling.compile_ops(None if not args.ops else ops, targets, args.jobs)
    if not results:
        raise UsageError(f"nothing to compile: the ops {[op.name for op in ops]} have no Triton launcher "
                         f"of their own (they are composites of other ops)")
    print(render(compiling.HEADER, compiling.rows(results)))
    failed = sum(not r.ok for r in results)
    print(f"\n{len(results)} kernels compiled for {', '.join(f'sm_{t}' for t in targets)}: "
          f"{len(results) - failed} passed, {failed} failed (compile error, spills or shared memory)")
    if args.json:
        doc = {"command": "check --compile", "targets": [f"sm_{t}" for t in targets],
               "rows": compiling.as_json(results)}
        atomic.write_text(args.json, json.dumps(doc, indent=1) + "\n")
    return 1 if failed else 0
