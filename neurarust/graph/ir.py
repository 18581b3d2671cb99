"""The graph IR: what capture records, what the passes rewrite, what the executor runs and ONNX export reads.

A :class:`Graph` is a straight-line program. Its :class:`Value` objects are tensors with a shape,
a dtype and a device; each is one of

* ``input``: the n-th tensor argument of the captured function;
* ``external``: a tensor that existed before the call (a parameter, a buffer, optimizer state); it is
  read by reference at every run, so in-place updates between runs are seen;
* ``constant``: a tensor made during capture from Python data (``nr.tensor(2.0)``); folded freely;
* ``node``: an output of a :class:`Node`.

A node calls one registry op (``op`` is the :class:`~neurarust.registry.Op`) on an argument template:
the call's positional and keyword arguments with every tensor replaced by its Value. The pseudo-op
``view`` (``op`` is None) reinterprets the storage of its input with another shape, strides, offset
and dtype: every view method (``t()``, slicing, ``reshape`` without a copy, ...) is recorded as one.
A node that writes into a tensor (``add_``, ``out=``, an optimizer kernel) lists in ``effects`` the
version of the written storage it reads and the new version it makes; readers after the write use the
new version, so order is explicit in the data flow.

    >>> import neurarust as nr
    >>> from neurarust.graph import capture
    >>> g = capture(lambda x: (x * 2).exp(), nr.ones(3)).graph
    >>> print(g)
    graph(%0: float32[3] input):
      %1: float32[3] = mul(%0, 2)
      %2: float32[3] = exp(%1)
      return %2
"""
from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from neurarust.autograd.graph import requires_grad
from neurarust.tensor import Tensor

KINDS = ("input", "external", "constant", "node")


@dataclass(eq=False)
class Value:
    """One tensor of the graph (see the module docstring for ``kind``)."""

    id: int
    shape: tuple
    dtype: Any
    device: Any
    kind: str
    tensor: Tensor | None = None       # external and constant values: the tensor itself
    name: str = ""                     # externals: the module path (``fc1.weight``) when known
    producer: "Node | None" = None
    requires_grad: bool = False        # as the eager run saw it
    strides: tuple = ()                # the layout of a root value (views are relative to it)
    version: int = 0                   # its storage's version counter when capture last saw it

    def __repr__(self) -> str:
        return f"%{self.id}"

    def type_str(self) -> str:
        return f"{self.dtype.name}[{', '.join(map(str, self.shape))}]"


@dataclass(eq=False)
class Node:
    """One op call. ``outputs`` are the tensor leaves of the op's result; ``out_spec`` rebuilds the result."""

    op: Any                            # registry Op, or None for a view
    args: tuple
    kwargs: dict
    outputs: list
    out_spec: Any = None
    effects: list = field(default_factory=list)   # [(old version Value, new version Value)]
    view: tuple | None = None          # (shape, strides, offset, dtype) of a view node
    fused: Any = None                  # a FusedKernel standing for several nodes (graph.fusion)

    @property
    def name(self) -> str:
        if self.fused is not None:
            return self.fused.name
        return "view" if self.op is None else self.op.name

    def inputs(self) -> list:
        """The Values the node reads, in argument order (each once)."""
        seen, out = set(), []
        for v in iter_values((self.args, self.kwargs)):
            if v.id not in seen:
                seen.add(v.id)
                out.append(v)
        return out

    @property
    def pure(self) -> bool:
        """No effects and no randomness: safe to fold, share and drop."""
        return not self.effects and not self.kind_is_random()

    def kind_is_random(self) -> bool:
        """Draws from the random generator (each run draws anew; never folded, shared or dropped)."""
        return self.op is not None and self.op.kind == "random"

    def __str__(self) -> str:
        outs = ", ".join(f"{v}: {v.type_str()}" for v in self.outputs if v is not None) or "()"
        if self.op is None and self.fused is None:
            shape, strides, offset, dtype = self.view
            src = self.args[0]
            cast = f", dtype={dtype.name}" if dtype is not src.dtype else ""
            return f"{outs} = view({src}, size={list(shape)}, stride={list(strides)}, offset={offset}{cast})"
        parts = [_fmt(a) for a in self.args] + [f"{k}={_fmt(v)}" for k, v in self.kwargs.items()]
        text = f"{outs} = {self.name}({', '.join(parts)})"
        if self.effects:
            text += "  # writes " + ", ".join(f"{old} -> {new}" for old, new in self.effects)
        return text


class Graph:
    """A captured program: inputs, nodes in execution order, outputs (see the module docstring)."""

    def __init__(self, ids: Iterator[int] | None = None) -> None:
        self.inputs: list[Value] = []
        self.nodes: list[Node] = []
        self.outputs: list[Value] = []
        self.out_spec: Any = None
        self._ids = ids if ids is not None else itertools.count()  # shared by a forward and its backward

    def new_value(self, t: Tensor | None, kind: str, **fields) -> Value:
        if t is not None:
            fields.setdefault("shape", t._shape)
            fields.setdefault("dtype", t._dtype)
            fields.setdefault("device", t._storage.device)
            fields.setdefault("requires_grad", requires_grad(t))
            fields.setdefault("strides", t._strides)
        return Value(next(self._ids), kind=kind, **fields)

    def values(self) -> Iterator[Value]:
        """Every Value the graph reads or makes (inputs, externals and constants where used, outputs)."""
        seen = set()
        for v in itertools.chain(self.inputs, *(n.inputs() for n in self.nodes),
                                 *(n.outputs for n in self.nodes),
                                 (new for n in self.nodes for _, new in n.effects), self.outputs):
            if v is not None and v.id not in seen:
                seen.add(v.id)
                yield v

    def externals(self) -> list[Value]:
        return [v for v in self.values() if v.kind == "external"]

    def users(self) -> dict[int, list[Node]]:
        """Value id -> the nodes that read it."""
        out: dict[int, list[Node]] = {}
        for n in self.nodes:
            for v in n.inputs():
                out.setdefault(v.id, []).append(n)
        return out

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for n in self.nodes:
            counts[n.name] = counts.get(n.name, 0) + 1
        return counts

    def kernel_count(self) -> int:
        """Nodes that launch a kernel (views launch none)."""
        return sum(1 for n in self.nodes if n.op is not None or n.fused is not None)

    def __str__(self) -> str:
        params = [f"{v}: {v.type_str()} input" for v in self.inputs]
        lines = [f"graph({', '.join(params)}):"]
        for v in self.values():
            if v.kind in ("external", "constant"):
                label = f" {v.name!r}" if v.name else ""
                lines.append(f"  {v}: {v.type_str()} {v.kind}{label}")
        lines += [f"  {n}" for n in self.nodes]
        outs = ", ".join(map(repr, self.outputs))
        lines.append(f"  return {outs if len(self.outputs) == 1 else '(' + outs + ')'}")
        return "\n".join(lines)

    def hash(self) -> str:
        """A digest of the program's text (shapes, dtypes, ops and attributes): names generated code."""
        return hashlib.sha256(str(self).encode()).hexdigest()[:16]


def _fmt(a) -> str:
    if isinstance(a, Value):
        return repr(a)
    if isinstance(a, (list, tuple)):
        inner = ", ".join(_fmt(x) for x in a)
        return f"[{inner}]" if isinstance(a, list) else f"({inner}{',' if len(a) == 1 else ''})"
    if isinstance(a, dict):
        return "{" + ", ".join(f"{k!r}: {_fmt(v)}" for k, v in a.items()) + "}"
    if hasattr(a, "name") and type(a).__name__ == "DType":
        return a.name
    return repr(a)


def iter_values(template) -> Iterator[Value]:
    """The Values in an argument template (nested lists, tuples and dicts), in order."""
    if isinstance(template, Value):
        yield template
    elif isinstance(template, (list, tuple)):
        for x in template:
            yield from iter_values(x)
    elif isinstance(template, dict):
        for x in template.values():
            yield from iter_values(x)


def substitute(template, fn: Callable[[Value], Any]):
    """The template with every Value replaced by ``fn(value)``."""
    if isinstance(template, Value):
        return fn(template)
    if isinstance(template, list):
        return [substitute(x, fn) for x in template]
    if isinstance(template, tuple):
        return tuple(substitute(x, fn) for x in template)
    if isinstance(template, dict):
        return {k: substitute(x, fn) for k, x in template.items()}
    return template


# -- results as trees of tensors ----------------------------------------------------------------

class Leaf:
    """A tensor's place in a flattened structure."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __repr__(self) -> str:
        return f"<{self.index}>"


def flatten(obj) -> tuple[list[Tensor], Any]:
    """``(tensor leaves, spec)`` of a nest of tuples, lists and dicts; other objects stay in the spec."""
    leaves: list[Tensor] = []

    def walk(x):
        if isinstance(x, Tensor):
            leaves.append(x)
            return Leaf(len(leaves) - 1)
        if isinstance(x, tuple) and hasattr(x, "_fields"):   # a named tuple (PackedSequence ...)
            return (type(x), tuple(walk(y) for y in x))
        if isinstance(x, (list, tuple)):
            return type(x)(walk(y) for y in x)
        if isinstance(x, dict):
            return {k: walk(y) for k, y in x.items()}
        return x

    return leaves, walk(obj)


def unflatten(spec, leaves: list):
    """Rebuild what :func:`flatten` took apart, with ``leaves`` in the tensors' places."""
    if isinstance(spec, Leaf):
        return leaves[spec.index]
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], type) and hasattr(spec[0], "_fields"):
        return spec[0](*(unflatten(y, leaves) for y in spec[1]))
    if isinstance(spec, (list, tuple)):
        return type(spec)(unflatten(y, leaves) for y in spec)
    if isinstance(spec, dict):
        return {k: unflatten(y, leaves) for k, y in spec.items()}
    return spec
