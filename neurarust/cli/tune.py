"""``neurarust tune``: autotune kernels on this GPU and keep the winners in the persistent cache.

For every registry entry with autotune configs (or ``--ops``) and the shapes given (``--shapes``,
``--dtype``, or ``--from-model FILE``), every config is timed on the GPU, the fastest is written to
the cache that launches read first (``--cache PATH`` / ``$NEURARUST_TUNE_CACHE``), and a table
shows the best config, its time, TFLOP/s or GB/s and the fraction of the GPU's peak. ``--show``,
``--clear``, ``--export FILE`` and ``--import FILE`` manage the cache. Without a GPU only
``--compile-only --target sm_90`` runs (it prunes the configs); anything else exits with status 2.
See docs/cli.md::

    neurarust tune --ops matmul,addmm --dtype float16,bfloat16
    neurarust tune --compile-only --target sm_90 --out configs-sm_90.json
"""
from __future__ import annotations

import argparse
import json
import os

from neurarust import atomic
from neurarust.dtype import FLOAT_DTYPES

from . import plugins
from .selection import parse_dtypes, select_ops
from .sizes import SIZES, scaled
from .table import render
from .usage import UsageError, reports_usage_errors

NEEDS_GPU = ("tuning needs a GPU: it times each kernel config on the device, and this machine has none "
             "(no CUDA device{why}). Without a GPU, `neurarust tune --compile-only --target sm_90` prunes the "
             "configs that spill or exceed shared memory, and --show/--clear/--export/--import manage the cache")
DEVICE = "cuda"  # where tuning runs (tests point it at the interpreter, with a fake timer)
HEADER = ["op", "kernel", "dtype", "shape", "best config", "ms", "throughput", "of peak", "configs timed"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ops", help="comma-separated op names (default: every op with autotune configs)")
    parser.add_argument("--dtype", help="comma-separated dtypes (default: float16 when tuning; every float dtype "
                        "with --compile-only)")
    parser.add_argument("--shapes", choices=SIZES, default="large",
                        help="the ops' sample shapes at this size (default large)")
    parser.add_argument("--from-model", metavar="FILE",
                        help="tune the shapes one forward and backward of the model in FILE use (see docs/cli.md)")
    parser.add_argument("--cache", metavar="PATH", help="the tune cache file (default $NEURARUST_TUNE_CACHE "
                        "or ~/.cache/neurarust/tune.json)")
    parser.add_argument("--configs", metavar="FILE", help="time only the configs kept in FILE (written by "
                        "--compile-only)")
    parser.add_argument("--plugin", action="append", metavar="MODULE",
                        help="import a module or .py file that registers extra ops first (repeatable)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--show", action="store_true", help="list the cache's entries")
    action.add_argument("--clear", action="store_true", help="empty the cache")
    action.add_argument("--export", metavar="FILE", help="write the cache's entries to FILE")
    action.add_argument("--import", dest="import_", metavar="FILE", help="merge the entries of FILE into the cache")
    action.add_argument("--compile-only", action="store_true",
                        help="no GPU needed: compile every config for --target, drop those that spill or exceed "
                             "shared memory, write the kept ones to --out")
    parser.add_argument("--target", help="the GPU target of --compile-only (sm_80 or sm_90)")
    parser.add_argument("--out", metavar="FILE", help="where --compile-only writes the kept configs "
                        "(default tune-configs-<target>.json)")
    parser.add_argument("--jobs", type=int, default=2, help="compile processes for --compile-only (default 2)")


@reports_usage_errors("tune")
def run(args: argparse.Namespace) -> int:
    if args.cache:
        os.environ["NEURARUST_TUNE_CACHE"] = os.path.abspath(os.path.expanduser(args.cache))
    if args.target and not args.compile_only:
        raise UsageError("--target only goes with --compile-only (on a GPU, tuning uses the GPU it runs on)")
    if args.show or args.clear or args.export or args.import_:
        return _manage_cache(args)
    if args.compile_only:
        return _compile_only(args)
    _require_gpu()
    return _tune(args)


# -- the cache ---------------------------------------------------------------------------------

def _manage_cache(args) -> int:
    from neurarust import autotune

    from . import tune_cache

    path = autotune.cache_path()
    if args.show:
        entries = tune_cache.read_entries(path)
        if entries:
            print(render(tune_cache.SHOW_HEADER, tune_cache.show_rows(entries)))
        print(f"{len(entries)} tuned configs in {path}")
    elif args.clear:
        print(f"cleared {tune_cache.clear(path)} tuned configs from {path}")
    elif args.export:
        print(f"exported {tune_cache.export(path, args.export)} tuned configs from {path} to {args.export}")
    else:
        print(f"imported {tune_cache.import_(args.import_)} tuned configs from {args.import_} into {path}")
    return 0


# -- without a GPU: prune the configs ----------------------------------------------------------

def _tunable(ops):
    return [op for op in ops if op.tune is not None]


def _compile_only(args) -> int:
    from . import compiling, tune_compile

    if not args.target:
        raise UsageError("--compile-only needs --target, e.g. --target sm_90")
    targets = compiling.parse_targets(args.target)
    if len(targets) != 1:
        raise UsageError(f"--compile-only prunes for one target at a time, got {args.target!r}")
    plugins.load_all(args.plugin)
    ops = _tunable(select_ops(args.ops)) if args.ops else _tunable(select_ops(None))
    buildable = [op for op in ops if op.kind in tune_compile.BUILDERS]
    if not buildable:
        raise UsageError(f"none of the ops {[op.name for op in ops] or args.ops} has per-config compile specs "
                         f"(ops of kinds {sorted(tune_compile.BUILDERS)} do)")
    dtypes = [d.name for d in parse_dtypes(args.dtype) or FLOAT_DTYPES]
    kept, dropped, results = tune_compile.prune(buildable, dtypes, targets[0], args.jobs)
    out = args.out or f"tune-configs-sm_{targets[0]}.json"
    doc = {"target": f"sm_{targets[0]}", "kept": kept, "dropped": dropped}
    atomic.write_text(out, json.dumps(doc, indent=1) + "\n")
    _print_pruned(buildable, dtypes, kept, dropped, results)
    skipped = [op.name for op in ops if op not in buildable]
    if skipped:
        print(f"not compiled (no per-config compile spec for their kind): {', '.join(skipped)}")
    print(f"wrote the kept configs to {out}")
    empty = [f"{op.name}/{d}" for op in buildable for d in dtypes if d in [x.name for x in op.dtypes]
             and not kept.get(op.name, {}).get(d)]
    if empty:
        print(f"no config left for: {', '.join(empty)}")
    return 1 if empty else 0


def _print_pruned(ops, dtypes, kept, dropped, results) -> None:
    from .tuning import describe

    rows = []
    for op in ops:
        for d in dtypes:
            for cfg in kept.get(op.name, {}).get(d, []):
                rows.append([op.name, d, describe(cfg), "kept", ""])
    rows += [[x["op"], x["dtype"], describe(x["config"]), "dropped", x["reason"]] for x in dropped]
    print(render(["op", "dtype", "config", "status", "why"], rows))
    compiled = [r for r in results if r.error is None]
    spills = sum(bool(r.spill_stores or r.spill_loads) for r in compiled)
    print(f"\n{len(results)} distinct kernels compiled for sm_{results[0].arch if results else '?'}: "
          f"{len(results) - sum(not r.ok for r in results)} clean, {spills} spill, "
          f"{sum(r.error is not None for r in results)} failed to compile")


# -- on the GPU ----------------------------------------------------------------------------------

def _require_gpu() -> None:
    try:
        import neurarust.launch as launch
        import torch
    except ImportError as e:
        raise UsageError(NEEDS_GPU.format(why=f"; torch and triton are needed too: {e}")) from e
    if launch.INTERPRET:
        why = "; TRITON_INTERPRET=1 is set" if torch.cuda.is_available() else ""
        raise UsageError(NEEDS_GPU.format(why=why))


def _problems(args, ops, dtypes):
    """``(op, sample, dtype)`` to tune: the model's calls, or each op's samples at the chosen size."""
    from neurarust.checking import sample_shape, spec_parts, tensor_args

    if args.from_model:
        from .recording import record_model

        wanted = {op.name for op in ops}
        calls = [(op, s, d) for op, s, d in record_model(args.from_model, DEVICE) if op.name in wanted and d is not None]
    else:
        calls = [(op, scaled(s, args.shapes), d) for op in ops for d in op.dtypes if d in dtypes
                 for s in op.samples(d)]
    seen, out = set(), []
    for op, sample, dtype in calls:
        ident = (op.name, dtype.name, sample_shape(sample), repr(sorted((k, repr(v)) for k, v in sample.kwargs.items()
                                                                  if not hasattr(v, "shape"))))
        if ident not in seen and all(spec_parts(a)[0].size for a in tensor_args(sample)):
            seen.add(ident)
            out.append((op, sample, dtype))
    return out


def _allowed_configs(path: str | None):
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)["kept"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"--configs {path!r} is not a file written by tune --compile-only ({e})") from e


def _gpu_name() -> str:
    import torch

    return torch.cuda.get_device_name()


def _synchronize() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _tune(args) -> int:
    from neurarust import autotune
    from neurarust.checking import nr_call, sample_shape, values_in

    from .peaks import peak_for, throughput
    from .tuning import benchmarking, describe

    plugins.load_all(args.plugin)
    ops = _tunable(select_ops(args.ops))
    if not ops:
        raise UsageError(f"none of the ops {args.ops} has autotune configs (a TuneSpec)")
    dtypes = parse_dtypes(args.dtype or "float16")
    allowed_by_op = _allowed_configs(args.configs)
    gpu = _gpu_name()
    peak = peak_for(gpu)
    rows, stored, untuned = [], set(), []
    for op, sample, dtype in _problems(args, ops, dtypes):
        kept = allowed_by_op.get(op.name, {}).get(dtype.name)
        allowed = None if kept is None else (lambda _kernel, cfg, kept=kept: cfg in kept)
        shape = sample_shape(sample)
        try:
            with benchmarking(allowed=allowed) as records:
                nr_call(op, sample, dtype, "triton", DEVICE)
                _synchronize()
        except Exception as e:  # noqa: BLE001 - e.g. a scaled sample that no longer fits the op
            rows.append([op.name, "-", dtype.name, shape, f"skipped: {type(e).__name__}", None, None, None, 0])
            continue
        if not records:
            untuned.append(op.name)
            continue
        moved, flops = op.cost(_typed(sample, dtype, values_in)) if op.cost else (0, 0)
        for rec in records:
            timed = sum(ms is not None for _, ms in rec.timings)
            if rec.ms is None:
                rows.append([op.name, rec.op, dtype.name, shape, "every config failed", None, None, None, timed])
                continue
            stored.add((rec.op, rec.key))
            rate, fraction = throughput(rec.ms, moved, flops, dtype.name, peak)
            rows.append([op.name, rec.op, dtype.name, shape, describe(rec.config), rec.ms, rate,
                         None if fraction is None else f"{fraction:.0%}", timed])
    print(render(HEADER, rows))
    if untuned:
        print(f"\nnot autotuned (their launchers always use the default config): {', '.join(dict.fromkeys(untuned))}")
    note = "" if peak else " (no peak figures for this GPU: see neurarust/cli/peaks.py)"
    print(f"\n{len(stored)} tuned configs written to {autotune.cache_path()} on {gpu}{note}")
    return 0


def _typed(sample, dtype, values_in):
    """The sample with its arrays in ``dtype`` (cost models count bytes from the arrays' itemsize)."""
    from neurarust.checking import convert
    from neurarust.registry import Sample

    make = lambda a, d: values_in(getattr(a, "values", a), d)  # noqa: E731
    return Sample(tuple(convert(a, dtype, make) for a in sample.args),
                  {k: convert(v, dtype, make) for k, v in sample.kwargs.items()}, sample.name)
