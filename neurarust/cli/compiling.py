"""``neurarust check --compile``: the kernels of the chosen ops, compiled ahead of time for GPU
targets on a machine without one (:mod:`neurarust.kernels.aot` does the compiling).

An op's kernels are the AOT specs of its Triton launcher's module whose name mentions the op
(``add/fp32/contig`` for ``add``), or all of that module's specs when none does (``mm`` shares
``matmul_triton``'s). Ops without a launcher of their own (composites) compile nothing::

    >>> parse_targets("sm_80, 90")
    [80, 90]
    >>> mentions("add", "add/fp32/contig"), mentions("add", "addcmul/fp32")
    (True, False)
"""
from __future__ import annotations

import re

from neurarust.registry import Op

from .usage import UsageError, split_list

PACKAGE_PREFIX = "neurarust.kernels."


def parse_targets(text: str) -> list[int]:
    """``sm_80,sm_90`` (or ``80,90``) -> ``[80, 90]``; a target without a known shared-memory limit
    is a :class:`UsageError`."""
    from neurarust.kernels.aot import SHARED_LIMITS

    targets = []
    for part in split_list(text):
        match = re.fullmatch(r"(?:sm_?)?(\d+)a?", part)
        if match is None or int(match.group(1)) not in SHARED_LIMITS:
            known = ", ".join(f"sm_{a}" for a in SHARED_LIMITS)
            raise UsageError(f"unknown compile target {part!r}; known targets: {known}")
        targets.append(int(match.group(1)))
    if not targets:
        raise UsageError("--compile needs at least one target, e.g. --compile sm_80,sm_90")
    return targets


def mentions(op_name: str, spec_name: str) -> bool:
    """Whether a spec's name names the op as one of its ``/``, ``_`` or ``.`` separated parts."""
    return re.search(rf"(^|[/_.]){re.escape(op_name)}($|[/_.])", spec_name) is not None


def module_of(op: Op) -> str | None:
    """The launcher module of an op, as :mod:`~neurarust.kernels.aot` names it."""
    if not op.triton:
        return None
    module = op.triton.partition(":")[0]
    return module[len(PACKAGE_PREFIX):] if module.startswith(PACKAGE_PREFIX) else module


def compile_ops(ops: list[Op] | None, targets: list[int], jobs: int = 2) -> list:
    """Compile the specs of ``ops`` (every kernel module when ``None``) for ``targets``."""
    from neurarust.kernels import aot

    if ops is None:
        return aot.compile_all(targets, jobs)
    wanted: dict[str, list[str]] = {}
    for op in ops:
        module = module_of(op)
        if module is not None:
            wanted.setdefault(module, []).append(op.name)
    if not wanted:
        return []

    def select(module: str, names: list[str]) -> list[str]:
        chosen = []
        for op_name in wanted[module]:
            named = [n for n in names if mentions(op_name, n)]
            chosen += named or names
        return list(dict.fromkeys(n for n in names if n in chosen))

    return aot.compile_all(targets, jobs, modules=list(wanted), select=select)


HEADER = ["module", "kernel", "target", "registers", "spills (st/ld B)", "shared B", "status"]


def rows(results: list) -> list[list]:
    """Table rows of compile results."""
    out = []
    for r in results:
        status = "PASS" if r.ok else "FAIL: " + "; ".join(r.failures)
        if r.error is not None:
            out.append([r.module, r.name, f"sm_{r.arch}", None, None, None, status])
        else:
            out.append([r.module, r.name, f"sm_{r.arch}", r.registers, f"{r.spill_stores}/{r.spill_loads}",
                        r.shared, status])
    return out


def as_json(results: list) -> list[dict]:
    return [{"module": r.module, "kernel": r.name, "target": f"sm_{r.arch}", "registers": r.registers,
             "spill_stores": r.spill_stores, "spill_loads": r.spill_loads, "shared_bytes": r.shared,
             "status": "PASS" if r.ok else "FAIL", "problems": r.failures} for r in results]
