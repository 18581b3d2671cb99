"""Dynamic axes: two export passes at different sizes, merged into one graph with shape arithmetic.

A capture records concrete sizes (``x.view(8, -1)`` bakes 8). The exporter therefore builds the graph
three times: at the example's sizes and with every dynamic axis grown twice (the inputs repeated
along it). The node lists must match; integer slots (Reshape targets, Slice bounds, Expand shapes)
that differ are solved from the first two passes as ``k * d1 * d2...`` or ``k * d + c`` of the
dynamic input dims, checked against the third, and computed in the graph with
Shape -> Gather -> Mul/Add -> Concat (a Reshape with one such entry gets -1 instead)::

    >>> from neurarust.onnx.export_dynamic import Sym, solve
    >>> batch, seq = Sym("batch", "x", 0, 2, 3, 5), Sym("seq", "x", 1, 5, 7, 9)
    >>> solve(20, 30, [batch, seq]), solve(10, 21, [batch, seq]), solve(7, 9, [seq])
    ((10, ('batch',), 0), (1, ('batch', 'seq'), 0), (1, ('seq',), 2))
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from .export_builder import Builder, OnnxExportError


@dataclass
class Sym:
    """A named dynamic dim: read from ``input`` at ``axis``; its sizes in the three passes."""

    name: str
    input: str
    axis: int
    a: int
    b: int
    c: int


def solve(xa: int, xb: int, syms: list[Sym]):
    """``(k, names, c)`` with ``x = k * prod(names) + c`` in both passes, or None.

    Products with no offset are tried first (smallest first), then ``k * d + c`` in one dim."""
    for r in range(1, min(len(syms), 3) + 1):
        for combo in itertools.combinations(syms, r):
            pa, pb = math.prod(s.a for s in combo), math.prod(s.b for s in combo)
            if xa % pa == 0 and (xa // pa) * pb == xb:
                return xa // pa, tuple(s.name for s in combo), 0
    for s in syms:
        if s.b != s.a and (xb - xa) % (s.b - s.a) == 0:
            k = (xb - xa) // (s.b - s.a)
            return k, (s.name,), xa - k * s.a
    return None


def dim_name(xa: int, xb: int, syms: list[Sym]) -> str:
    """The ``dim_param`` of an output dim that differs between the passes (``batch``, ``2*batch``)."""
    found = solve(xa, xb, syms)
    if found is None:
        return f"dim_{xa}_{xb}"
    k, names, c = found
    text = "*".join(([str(k)] if k != 1 else []) + list(names))
    return text + (f"+{c}" if c > 0 else f"{c}" if c < 0 else "")


def merge(a: Builder, b: Builder, c: Builder, syms: list[Sym]) -> Builder:
    """``a`` with every slot that differs from ``b`` computed from the dynamic dims (in place);
    ``c``, the third pass, checks each solved size."""
    _same_structure(a, b)
    _same_structure(a, c)
    prelude_start = len(a.nodes)
    dims: dict[str, str] = {}
    for name in list(a.initializers):
        if name in a.slots:
            sa, sb = a.slots[name], b.slots[name]
            if sa.values != sb.values:
                _compute_slot(a, name, sa, sb.values, c.slots[name].values, syms, dims)
            continue
        xa = a.initializers[name]
        if any(x.shape != xa.shape or not np.array_equal(xa, x, equal_nan=xa.dtype.kind == "f")
               for x in (b.initializers[name], c.initializers[name])):
            raise OnnxExportError(f"the constant {name!r} ({_user(a, name)}) changes with the dynamic axes "
                                  f"({', '.join(s.name for s in syms)}): a tensor made from Python numbers that "
                                  f"depend on a dynamic size cannot be exported with that axis dynamic")
    prelude = a.nodes[prelude_start:]
    a.nodes = prelude + a.nodes[:prelude_start]
    return a


def _user(builder: Builder, name: str) -> str:
    for n in builder.nodes:
        if name in n.inputs:
            return f"read by {n.op_type} from {n.where}" if n.where else f"read by {n.op_type}"
    return "unused"


def _same_structure(a: Builder, b: Builder) -> None:
    if len(a.nodes) == len(b.nodes) and set(a.initializers) == set(b.initializers):
        bad = next((i for i, (x, y) in enumerate(zip(a.nodes, b.nodes))
                    if (x.op_type, x.inputs, x.outputs) != (y.op_type, y.inputs, y.outputs)
                    or not _attrs_equal(x.attrs, y.attrs)), None)
        if bad is None:
            return
        where = a.nodes[bad].where or b.nodes[bad].where
    else:
        bad = next((i for i, (x, y) in enumerate(zip(a.nodes, b.nodes)) if x.op_type != y.op_type), None)
        where = (a.nodes[bad].where if bad is not None else "") or "the graph"
    raise OnnxExportError(f"the exported graph changes with the size of a dynamic axis (first at {where}): the "
                          f"model's ops or their attributes depend on that size (a Python loop over it, an "
                          f"unrolled recurrence over a dynamic sequence length, a size used in an attribute); "
                          f"export with that axis fixed")


def _attrs_equal(x: dict, y: dict) -> bool:
    if x.keys() != y.keys():
        return False
    for k in x:
        u, v = x[k], y[k]
        if hasattr(u, "SerializeToString"):
            if u.SerializeToString() != v.SerializeToString():
                return False
        elif u != v:
            return False
    return True


def _compute_slot(b: Builder, name: str, slot, other: list, third: list, syms: list[Sym], dims: dict) -> None:
    diffs = [i for i, (x, y) in enumerate(zip(slot.values, other)) if x != y]
    if slot.reshape and len(diffs) == 1 and not any(v in (0, -1) for v in slot.values):
        values = list(slot.values)
        values[diffs[0]] = -1
        b.initializers[name] = np.array(values, np.int64)
        return
    del b.initializers[name]
    pieces, run = [], []
    for i, (x, y, z) in enumerate(zip(slot.values, other, third)):
        if x == y:
            run.append(x)
            continue
        if run:
            pieces.append(b.const(np.array(run, np.int64)))
            run = []
        pieces.append(_expression(b, x, y, z, syms, dims))
    if run:
        pieces.append(b.const(np.array(run, np.int64)))
    if slot.scalar:
        b.node("Reshape", [pieces[0], b.const(np.array([], np.int64))], outputs=[name])
    elif len(pieces) == 1:
        b.node("Identity", pieces, outputs=[name])
    else:
        b.node("Concat", pieces, outputs=[name], axis=0)


def _expression(b: Builder, xa: int, xb: int, xc: int, syms: list[Sym], dims: dict) -> str:
    found = solve(xa, xb, syms)
    by_name = {s.name: s for s in syms}
    if found is None or found[0] * math.prod(by_name[n].c for n in found[1]) + found[2] != xc:
        raise OnnxExportError(f"a size ({xa}, {xb}, {xc} in the three passes) is no product or affine function "
                              f"of the dynamic dims {', '.join(f'{s.name}={s.a}/{s.b}/{s.c}' for s in syms)}; "
                              f"export with fewer dynamic axes")
    k, names, c = found
    out = None
    for n in names:
        d = _dim(b, by_name[n], dims)
        out = d if out is None else b.node("Mul", [out, d])
    if k != 1:
        out = b.node("Mul", [out, b.const(np.array([k], np.int64))])
    if c:
        out = b.node("Add", [out, b.const(np.array([c], np.int64))])
    return out


def _dim(b: Builder, sym: Sym, dims: dict) -> str:
    if sym.name not in dims:
        shape = b.node("Shape", [sym.input])
        dims[sym.name] = b.node("Gather", [shape, b.const(np.array([sym.axis], np.int64))], axis=0)
    return dims[sym.name]
