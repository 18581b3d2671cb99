"""Elementwise fusion: a chain of elementwise ops (with broadcasting) becomes one generated kernel.

A group grows backwards from an elementwise node through the elementwise nodes that produce its
inputs, as long as nothing outside the group reads their results and no write lies in between. A
matrix product whose only reader is the group joins it as its *prologue*: the group becomes the
product's epilogue (bias, activation, residual add, cast), applied to each tile in registers by the
matmul kernel itself (``EPILOGUE`` of ``kernels/matmul_triton.py``). A sum, mean or max over the
last dim takes the group that feeds it as its *prologue* (``mean(x * x, -1)`` of RMSNorm): each row
is computed and reduced in registers, never stored. The group becomes one :class:`FusedKernel`,
which has

* a NumPy reference: the members' own references in order, with the dtype handling of the eager
  front end (compute dtype in, result dtype out), and no tensor in between;
* a Triton kernel, generated as source text from the members' scalar functions (the same ``@jit``
  functions the one elementwise kernel takes): one load per input, one store, every intermediate in
  registers. The source is written to ``$NEURARUST_CACHE/compile/<hash>.py`` (default
  ``~/.cache/neurarust``), because Triton compiles only functions defined in a file, and it is
  readable there;
* a registry entry (``fused.<hash>``, kind ``fused``) with a sample of the captured shapes, so the
  kernel harness, ``neurarust check`` and the sm_80/sm_90 compile check treat it as any other op.

    >>> import neurarust as nr
    >>> from neurarust.graph import capture
    >>> from neurarust.graph.fusion import fuse_elementwise
    >>> g = capture(lambda x, y: ((x * y).exp() + 1).relu(), nr.ones(4), nr.ones(4)).graph
    >>> fuse_elementwise(g, []), [n.name.split(".")[0] for n in g.nodes]
    (1, ['fused'])
"""
from __future__ import annotations

import hashlib
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from neurarust import backends, registry
from neurarust.kernels import elementwise as ew
from neurarust import dtype as _dt
from neurarust.storage import Storage
from neurarust.tensor import Tensor

from .ir import Graph, Node, Value, substitute

MAX_INPUTS = 16
_TL = {"float32": "tl.float32", "float16": "tl.float16", "bfloat16": "tl.bfloat16", "float64": "tl.float64",
       "int8": "tl.int8", "int16": "tl.int16", "int32": "tl.int32", "int64": "tl.int64", "uint8": "tl.uint8",
       "bool": "tl.int1"}


@dataclass
class Member:
    """One fused op: ``operands`` name group inputs (``("in", k)``), earlier members (``("tmp", j)``)
    or 0-d constants (``("const", tensor)``); ``compute``/``result`` are its eager dtypes."""

    op: Any
    operands: list
    params: dict
    compute: Any
    result: Any
    fn: str
    extras: tuple


def cache_dir() -> Path:
    """Where generated kernels are written: ``$NEURARUST_CACHE/compile`` or ``~/.cache/neurarust/compile``."""
    root = os.environ.get("NEURARUST_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "neurarust")
    return Path(root) / "compile"


# -- which nodes fuse -----------------------------------------------------------------------------

def fusible(n: Node) -> bool:
    """A plain elementwise call: the generic front end, one tensor result, no writes, no ``out=``."""
    if n.op is None or n.fused is not None or n.effects or n.op.kind != "elementwise":
        return False
    if "out" in n.kwargs or not (n.op.frontend is ew.elementwise or _plain_where(n)):
        return False
    return len(n.outputs) == 1 and n.outputs[0] is not None and n.outputs[0].dtype.name in _TL


def _plain_where(n: Node) -> bool:
    """``where(condition, input, other)``: its front end hands that form to the elementwise one."""
    return n.op.name == "where" and len(n.args) == 3 and not n.kwargs


ROW_REDUCTIONS = ("sum", "mean", "amax", "softmax", "log_softmax")
ROW_OUTPUTS = ("softmax", "log_softmax")     # row ops whose result has the input's shape
REDUCTION_DTYPES = ("float32", "float16", "bfloat16")


def bound_call(n: Node, names) -> dict | None:
    """The arguments by name of a plain call (no writes, not already fused) to one of the ops
    ``names``, else None."""
    if n.op is None or n.fused is not None or n.effects or n.op.name not in names:
        return None
    try:
        return registry.signature_bind(n.op, n.args, n.kwargs)
    except TypeError:
        return None


def row_reduction(n: Node) -> dict | None:
    """``{"op", "keepdim", "shape"}`` when ``n`` is a sum, mean, max, softmax or log_softmax of a float
    tensor over its last dim (in its own dtype), else None."""
    bound = bound_call(n, ROW_REDUCTIONS)
    if bound is None:
        return None
    x = bound.get("input")
    if not isinstance(x, Value) or x.dtype.name not in REDUCTION_DTYPES or bound.get("dtype") is not None:
        return None
    if len(n.outputs) != 1 or n.outputs[0] is None or n.outputs[0].dtype is not x.dtype or not x.shape:
        return None
    dim = bound.get("dim")
    if dim is None and len(x.shape) == 1 and n.op.name not in ROW_OUTPUTS:
        dim = -1                                  # the whole of a 1-D tensor is its one row
    dims = tuple(dim) if isinstance(dim, (list, tuple)) else (dim,)
    if len(dims) != 1 or not isinstance(dims[0], int) or dims[0] not in (-1, len(x.shape) - 1):
        return None
    if n.op.name in ROW_OUTPUTS and n.outputs[0].shape != x.shape:
        return None
    return {"op": n.op.name, "keepdim": bool(bound.get("keepdim", False)), "shape": tuple(x.shape)}


def _dummy(v: Value) -> Tensor:
    """A stand-in with ``v``'s dtype and shape (one element, zero strides): enough for dtype rules."""
    return Tensor(Storage.allocate(v.dtype.itemsize), v.shape, (0,) * len(v.shape), 0, v.dtype)


def _member(n: Node, inputs: dict[int, tuple]) -> Member | None:
    op = n.op
    dummies = substitute(n.args, _dummy), substitute(n.kwargs, _dummy)
    try:
        operands, params = ew._bind(op, *dummies)
        compute, result = ew._cached_result_dtypes(op, operands, params)
        fn, extras = op.attrs["plan"](compute, params)
    except Exception:  # noqa: BLE001 - whatever the eager call accepted but we cannot express stays unfused
        return None
    if compute.name not in _TL or result.name not in _TL:
        return None
    bound, _ = ew._bind(op, n.args, n.kwargs)
    names = []
    for x in bound:
        if isinstance(x, Value):
            names.append(inputs[x.id])   # ("in", k), ("tmp", j) or ("acc", 0): the product
        elif x is None:
            return None
        else:
            names.append(("scalar", x))
    return Member(op, names, params, compute, result, fn, tuple(extras))


# -- grouping ------------------------------------------------------------------------------------

def fuse_elementwise(graph: Graph, keep: Iterable[Value]) -> int:
    """Replace each group of two or more fusible nodes by one fused node; returns the group count."""
    from .copies import move_row_views_into_products

    keep = keep if isinstance(keep, list) else list(keep)   # the caller's list sees replacements
    move_row_views_into_products(graph, keep)
    keep_ids = {v.id for v in keep} | {v.id for v in graph.outputs if v is not None}
    users = graph.users()
    position = {id(n): i for i, n in enumerate(graph.nodes)}
    writes = [i for i, n in enumerate(graph.nodes) if n.effects]
    taken: set[int] = set()
    groups = []
    for n in reversed(graph.nodes):
        if id(n) in taken or not (fusible(n) or row_reduction(n)):
            continue
        group = _grow(n, users, keep_ids, taken, position, writes)
        product = None if row_reduction(n) else _product_of(group, users, keep_ids, taken, position, writes)
        if product is not None:
            group.append(product)
        if len(group) >= 2:
            taken.update(id(m) for m in group)
            groups.append(group)
    done = 0
    for group in groups:
        done += _replace(graph, group)
    return done


def _grow(sink: Node, users: dict, keep_ids: set, taken: set, position: dict, writes: list) -> list[Node]:
    group = [sink]
    members = {id(sink)}
    frontier = [sink]
    while frontier:
        n = frontier.pop()
        for v in n.inputs():
            p = v.producer
            if p is None or id(p) not in position or id(p) in members or id(p) in taken or not fusible(p) \
                    or v.id in keep_ids:
                continue
            if any(id(u) not in members for u in users.get(v.id, ())):
                continue
            if any(position[id(p)] < w < position[id(sink)] for w in writes):
                continue
            if _input_count(group + [p]) > MAX_INPUTS or p.outputs[0].device != sink.outputs[0].device:
                continue
            group.append(p)
            members.add(id(p))
            frontier.append(p)
    return group


MATMUL_DTYPES = ("float32", "float16", "bfloat16")
MAX_EPILOGUE_INPUTS = 4   # the matmul kernel's e0..e3 tiles


def _product_of(group: list[Node], users: dict, keep_ids: set, taken: set, position: dict, writes: list):
    """The matmul node the group can take as its prologue, or None: a 2-D (or stacked, times one
    matrix) product of one float dtype, read by the group alone, whose result has the group's shape."""
    sink = group[0]
    members = {id(n) for n in group}
    for n in group:
        for v in n.inputs():
            p = v.producer
            if p is None or id(p) not in position or id(p) in taken or p.op is None or p.fused is not None:
                continue
            if p.op.name != "matmul" or p.kwargs or p.effects or v.id in keep_ids or len(p.args) != 2:
                continue
            a, b = p.args
            if not (isinstance(a, Value) and isinstance(b, Value)) or a.dtype is not b.dtype:
                continue
            if a.dtype.name not in MATMUL_DTYPES or len(a.shape) < 2 or len(b.shape) != 2:
                continue
            if v.shape != sink.outputs[0].shape or any(id(u) not in members for u in users.get(v.id, ())):
                continue
            if any(position[id(p)] < w < position[id(sink)] for w in writes):
                continue
            made = {m.outputs[0].id for m in group}
            others = {x.id for m in group for x in m.inputs() if x.id not in made and x.id != v.id}
            if len(others) > MAX_EPILOGUE_INPUTS:
                continue
            return p
    return None


def _input_count(group: list[Node]) -> int:
    made = {n.outputs[0].id for n in group}
    return len({v.id for n in group for v in n.inputs() if v.id not in made})


def _replace(graph: Graph, group: list[Node]) -> int:
    """Put one fused node in place of the group's sink; returns 1, or 0 when a member cannot be
    expressed (the group then stays as it was)."""
    sink = group[0]
    product = group[-1] if group[-1].op is not None and group[-1].op.name == "matmul" else None
    reduction = row_reduction(sink)
    apart = {id(product), id(sink) if reduction else None}   # the product and a reducing sink are no members
    ordered = sorted((n for n in group if id(n) not in apart), key=graph.nodes.index)
    made = {n.outputs[0].id: j for j, n in enumerate(ordered)}
    inputs: list[Value] = list(product.args) if product is not None else []
    names: dict[int, tuple] = {}
    if product is not None:
        names[product.outputs[0].id] = ("acc", 0)
    for n in ordered:
        for v in n.inputs():
            if v.id in made:
                names[v.id] = ("tmp", made[v.id])
            elif v.id not in names:
                names[v.id] = ("in", len(inputs))
                inputs.append(v)
    members = []
    for n in ordered:
        m = _member(n, names)
        if m is None:
            return 0
        members.append(m)
    out = sink.outputs[0]
    kernel = FusedKernel(members, [(v.shape, v.dtype) for v in inputs], out.shape, out.dtype, out.device,
                         product=product is not None, reduction=reduction)
    kernel.write()
    node = Node(None, tuple(inputs), {}, [out], fused=kernel)
    out.producer = node
    graph.nodes[graph.nodes.index(sink)] = node
    for n in group:
        if n is not sink:
            graph.nodes.remove(n)
    return 1


# -- the fused kernel ----------------------------------------------------------------------------

class GeneratedKernel:
    """What every generated kernel shares: a ``hash`` naming it, Triton ``source`` written to the cache
    directory and imported from there, and a registry entry (``fused.<hash>``). Subclasses set
    ``hash`` and ``_source``/``_module``/``_op`` to None, and define ``source`` and ``as_op()``."""

    @property
    def module_name(self) -> str:
        return f"neurarust_fused_{self.hash}"

    @property
    def path(self) -> Path:
        return cache_dir() / f"{self.module_name}.py"

    def module(self):
        """The generated module, written to the cache directory (put on ``sys.path``, so compile
        workers and the registry's ``"module:function"`` lookup import it by name) and imported."""
        if self._module is None:
            path = self.write()
            if str(path.parent) not in sys.path:
                sys.path.append(str(path.parent))
            importlib.invalidate_caches()
            self._module = importlib.import_module(self.module_name)
        return self._module

    def write(self) -> Path:
        """Write the generated source to the cache directory (atomically; once per content)."""
        path = self.path
        if not path.exists() or path.read_text() != self.source:
            from neurarust import atomic

            path.parent.mkdir(parents=True, exist_ok=True)
            atomic.write_text(path, self.source)
        return path

    def launcher(self):
        return self.module().launch

    def register(self):
        """This kernel as a registry entry (``fused.<hash>``), made once."""
        if self._op is None:
            self._op = registry.OPS.get(self.name) or registry.register(self.as_op())
        return self._op


class FusedKernel(GeneratedKernel):
    """A group of elementwise ops as one callable: ``kernel(input tensors) -> output tensor``."""

    def __init__(self, members: list[Member], inputs: list, shape: tuple, dtype, device, product: bool = False,
                 reduction: dict | None = None) -> None:
        self.members, self.inputs, self.shape, self.dtype, self.device = members, inputs, shape, dtype, device
        self.product = product   # inputs 0 and 1 are a matmul's operands; ("acc", 0) is their product
        self.reduction = reduction  # {"op", "keepdim", "shape"}: the members' result reduced over its last dim
        self.signature = self._signature()
        self.hash = hashlib.sha256(self.signature.encode()).hexdigest()[:16]
        self.name = f"fused.{self.hash}"
        self._source: str | None = None
        self._module = None
        self._op = None
        self._constants: dict = {}   # (member, operand) -> the constant as an array of its compute dtype

    def _signature(self) -> str:
        lines = [f"in {i}: {d.name}{list(s)}" for i, (s, d) in enumerate(self.inputs)]
        if self.product:
            lines.append("acc = matmul(x0, x1)")
        for j, m in enumerate(self.members):
            ops = ", ".join(_describe(o) for o in m.operands)
            lines.append(f"t{j} = {m.op.name}({ops}; {m.params}) compute {m.compute.name} -> {m.result.name}")
        if self.reduction:
            r = self.reduction
            keep = "" if r["op"] in ROW_OUTPUTS else f", keepdim={r['keepdim']}"
            lines.append(f"out = {r['op']}(t{len(self.members) - 1}, dim=-1{keep})")
        lines.append(f"out {self.dtype.name}{list(self.shape)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"FusedKernel({self.name}: {' -> '.join(self.op_names())})"

    def op_names(self) -> list[str]:
        tail = [self.reduction["op"]] if self.reduction else []
        return (["matmul"] if self.product else []) + [m.op.name for m in self.members] + tail

    def spec(self) -> dict:
        """A plain description (names, numbers, lists) the kernel can be rebuilt from."""
        reduction = None if self.reduction is None else {**self.reduction, "shape": list(self.reduction["shape"])}
        return {"inputs": [[list(s), d.name] for s, d in self.inputs], "shape": list(self.shape), "product": self.product,
                "reduction": reduction,
                "dtype": self.dtype.name, "device": str(self.device),
                "members": [{"op": m.op.name, "operands": [[kind, _plain(x)] for kind, x in m.operands],
                             "params": {k: _plain(v) for k, v in m.params.items()}, "compute": m.compute.name,
                             "result": m.result.name, "fn": m.fn, "extras": [_plain(e) for e in m.extras]}
                            for m in self.members]}

    @classmethod
    def from_spec(cls, spec: dict) -> "FusedKernel":
        from neurarust.device import as_device

        members = [Member(registry.get(m["op"]), [(kind, _unplain(x)) for kind, x in m["operands"]],
                          {k: _unplain(v) for k, v in m["params"].items()}, _dt.as_dtype(m["compute"]),
                          _dt.as_dtype(m["result"]), m["fn"], tuple(_unplain(e) for e in m["extras"]))
                   for m in spec["members"]]
        return cls(members, [(tuple(s), _dt.as_dtype(d)) for s, d in spec["inputs"]], tuple(spec["shape"]),
                   _dt.as_dtype(spec["dtype"]), as_device(spec["device"]), spec.get("product", False),
                   None if not spec.get("reduction") else {**spec["reduction"], "shape": tuple(spec["reduction"]["shape"])})

    def __call__(self, tensors: list[Tensor]) -> Tensor:
        if backends.for_device(tensors[0]._storage.device if tensors else self.device) == "reference":
            return _as_tensor(self.reference(*[t._np() for t in tensors]), self.dtype)
        out = Tensor._empty(self.shape, self.dtype, tensors[0]._storage.device)
        self.launcher()(out, tensors)
        return out

    # -- NumPy ------------------------------------------------------------------------------------
    def reference(self, *arrays: np.ndarray) -> np.ndarray:
        """The product (as eager computes it) and the members' references in order, each with its
        eager dtype handling; in one floating-point-quiet context, as each eager op runs."""
        acc = None
        if self.product:
            acc = _product(arrays[0], arrays[1])
        result = backends.run_reference(self._chain, list(arrays), acc)
        if self.reduction:
            return self._reduce(Tensor._from_array(np.ascontiguousarray(result)))._np()
        return result

    def _reduce(self, t: Tensor) -> Tensor:
        """The reduction as eager runs it (the reference path), or ``t`` when there is none."""
        if not self.reduction:
            return t
        op = registry.get(self.reduction["op"])
        if op.name in ROW_OUTPUTS:
            return op.frontend(op, t, -1)
        return op.frontend(op, t, -1, self.reduction["keepdim"])

    def _chain(self, arrays: list, acc) -> np.ndarray:
        temps: list[np.ndarray] = []
        for j, m in enumerate(self.members):
            compute = ew._compute_dtype(m.compute)
            np_compute = compute.np
            keep = m.op.attrs["keep_dtype"]
            args = []
            for i, (kind, x) in enumerate(m.operands):
                a = arrays[x] if kind == "in" else temps[x] if kind == "tmp" else acc if kind == "acc" else None
                if a is None:
                    args.append(self._constant(j, i, x, compute))
                else:
                    args.append(a if i in keep or a.dtype == np_compute else a.astype(np_compute))
            r = np.asarray(m.op.reference(*args, **m.params))
            temps.append(r if r.dtype == m.result.np else r.astype(m.result.np))
        return np.broadcast_to(temps[-1], self.reduction["shape"] if self.reduction else self.shape)

    def _constant(self, member: int, operand: int, x, compute) -> np.ndarray:
        """A constant operand as an array of the member's compute dtype (made once: constants are
        captured values nothing writes)."""
        a = self._constants.get((member, operand))
        if a is None:
            a = self._constants[member, operand] = ew._as_array(x, compute)
        return a

    # -- Triton -----------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        if self._source is None:
            self._source = generate_source(self)
        return self._source

    def as_op(self):
        return _as_op(self)


def _as_tensor(a, dtype) -> Tensor:
    """A reference result as a tensor of ``dtype``: adopted when it already has that dtype."""
    a = _contiguous(a)
    return Tensor._wrap(a, dtype) if a.dtype == dtype.np else Tensor._from_array(a, dtype)


def _contiguous(a) -> np.ndarray:
    """``a`` as a C-contiguous array of its own shape (``np.ascontiguousarray`` makes 0-d arrays 1-d)."""
    a = np.asarray(a)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _matmul(a: Tensor, b: Tensor) -> Tensor:
    op = registry.get("matmul")
    return op.frontend(op, a, b)


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` as eager's reference path computes it: halves widened to fp32, the result rounded to
    the operands' dtype. Matrices and stacks call the reference directly; 1-D operands take the
    front end (its dot and unit-dim rules)."""
    if a.ndim < 2 or b.ndim < 2:
        return _matmul(Tensor._from_array(a), Tensor._from_array(b))._np()
    wide = np.float32 if a.dtype in (np.float16, _dt.bfloat16.np) else a.dtype
    op = registry.get("matmul")
    r = np.asarray(backends.run_reference(op.reference, a.astype(wide, copy=False), b.astype(wide, copy=False)))
    return r.astype(a.dtype, copy=False)


def _plain(x):
    """A parameter as plain data (a dtype becomes ``{"dtype": name}``, a NumPy number a Python one:
    NumPy 2 writes ``np.float64(0.5)``, which the generated module could not evaluate)."""
    if isinstance(x, _dt.DType):
        return {"dtype": x.name}
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, tuple):
        return [_plain(v) for v in x]
    return x


def _unplain(x):
    if isinstance(x, dict) and set(x) == {"dtype"}:
        return _dt.as_dtype(x["dtype"])
    return x


def _describe(operand) -> str:
    kind, x = operand
    if kind == "scalar":
        return repr(x)
    if kind == "acc":
        return "acc"
    return f"{'x' if kind == 'in' else 't'}{x}"


# -- source generation ---------------------------------------------------------------------------

def generate_source(k: FusedKernel) -> str:
    """The Triton module of a fused kernel: a whole elementwise kernel, or, for a product's group, the
    ``epilogue`` function the matmul kernel applies to each tile (see the module docstring)."""
    imports, body = _member_lines(k, "acc.shape" if k.product else "[BLOCK]")
    header = [f'"""Generated by neurarust.compile: {k!r}.', "", *[f"    {line}" for line in k.signature.splitlines()],
              '"""', "from neurarust.launch import tl, triton", "", f"SPEC = {k.spec()!r}  # rebuilds the kernel and "
              f"its reference (neurarust.graph.cached)", ""]
    if k.product:
        return "\n".join(header + _epilogue_module(k, imports, body))
    if k.reduction and k.reduction["op"] in ROW_OUTPUTS:
        return "\n".join(header + _softmax_module(k, imports, body))
    if k.reduction:
        return "\n".join(header + _reduction_module(k, imports, body))
    return "\n".join(header + _elementwise_module(k, imports, body))


def _member_lines(k: FusedKernel, shape: str) -> tuple[list[str], list[str]]:
    """Import lines and one body line per member: ``tJ = FN(a, b, c).to(result)``. Group inputs
    are ``xI`` (for a product's group: ``xI`` counts the inputs after the two operands) and the
    product is ``acc`` rounded to the operands' dtype."""
    from neurarust.kernels.elementwise import kernel_dtype

    skip = 2 if k.product else 0
    imports, body = {}, []
    for j, m in enumerate(k.members):
        module, _, fn = m.fn.rpartition(".")
        alias = f"{(module or 'scalar_triton').replace('.', '_')}_{fn}"
        imports[alias] = f"from neurarust.kernels.{module or 'scalar_triton'} import {fn} as {alias}"
        compute = _TL[kernel_dtype(m.compute).name]
        args = []
        for kind, x in m.operands:
            if kind == "in":
                args.append(f"x{x - skip}.to({compute})")
            elif kind == "tmp":
                args.append(f"t{x}.to({compute})")
            elif kind == "acc":
                args.append(f"acc.to({_TL[k.inputs[0][1].name]}).to({compute})")
            else:
                args.append(f"tl.full({shape}, {_literal(x, m.compute)}, {compute})")
        args += [f"tl.full({shape}, {_literal(e, m.compute)}, {compute})" for e in m.extras]
        while len(args) < 3:
            args.append(args[0])
        result = _TL[m.result.name]
        cast = f".to(tl.float32).to({result})" if m.result.name in ("float16", "bfloat16") else f".to({result})"
        body.append(f"    t{j} = {alias}({', '.join(args[:3])}){cast}  # {m.op.name}")
    return sorted(imports.values()), body


def _elementwise_module(k: FusedKernel, imports: list[str], body: list[str]) -> list[str]:
    n_in = len(k.inputs)
    params = ["out_ptr"] + [f"x{i}_ptr" for i in range(n_in)] + ["n", "s1", "s2", "s3", "o0", "o1", "o2", "o3"]
    params += [f"x{i}_{d}" for i in range(n_in) for d in range(4)]
    loads = [f"    x{i} = tl.load(x{i}_ptr + (i0 * x{i}_0 + i1 * x{i}_1 + i2 * x{i}_2 + i3 * x{i}_3), mask=mask)"
             for i in range(n_in)]
    last = len(k.members) - 1
    out_cast = f"t{last}.to(tl.float32).to(out_ty)" if k.dtype.name in ("float16", "bfloat16") else f"t{last}.to(out_ty)"
    return [
        "from neurarust.kernels.fused_launch import launch_fused",
        "from neurarust.kernels.elementwise_triton import unravel4",
        *imports, "", "",
        "@triton.jit",
        f"def fused_kernel({', '.join(params)}, IDX: tl.constexpr, BLOCK: tl.constexpr):",
        "    pid = tl.program_id(0).to(IDX)",
        "    idx = pid * BLOCK + tl.arange(0, BLOCK).to(IDX)",
        "    mask = idx < n",
        "    i0, i1, i2, i3 = unravel4(idx, s1, s2, s3)",
        *loads, *body,
        "    out_ty = out_ptr.dtype.element_ty",
        f"    tl.store(out_ptr + (i0 * o0 + i1 * o1 + i2 * o2 + i3 * o3), {out_cast}, mask=mask)",
        "", "",
        "def launch(out, inputs):",
        "    launch_fused(fused_kernel, out, inputs)",
        "", "",
        "def aot_specs():",
        "    from neurarust.kernels.fused_launch import aot_specs as specs",
        f"    return specs(fused_kernel, {[d.name for _, d in k.inputs]!r}, {k.dtype.name!r})",
        "",
    ]


ROW_PARAMS = ["M", "N", "s1", "s2"]          # rows, row length, the sizes of the two inner row dims
ROW_STRIDES = ("r0", "r1", "r2", "c")        # per input: the strides of the three row dims and of a row
ROW_SPLIT = ["    r2 = row % s2", "    r1 = (row // s2) % s1", "    r0 = row // s2 // s1"]


def _row_offset(i: int) -> str:
    return f"(r0 * x{i}_r0 + r1 * x{i}_r1 + r2 * x{i}_r2)"


def _reduction_module(k: FusedKernel, imports: list[str], body: list[str]) -> list[str]:
    n_in = len(k.inputs)
    params = ["out_ptr"] + [f"x{i}_ptr" for i in range(n_in)] + ROW_PARAMS
    params += [f"x{i}_{d}" for i in range(n_in) for d in ROW_STRIDES]
    loads = [f"        x{i} = tl.load(x{i}_ptr + {_row_offset(i)} + cols * x{i}_c, mask=mask)" for i in range(n_in)]
    last = len(k.members) - 1
    op = k.reduction["op"]
    neutral = "-float('inf')" if op == "amax" else "0.0"
    fold = "tl.maximum(acc, term)" if op == "amax" else "acc + term"
    finish = "tl.max(acc, axis=0)" if op == "amax" else "tl.sum(acc, axis=0)"
    if op == "mean":
        finish += " / N"
    return [
        "from neurarust.kernels.fused_launch import launch_row_reduction, row_reduction_aot_specs",
        *imports, "", "",
        "@triton.jit",
        f"def fused_kernel({', '.join(params)}, IDX: tl.constexpr, BLOCK: tl.constexpr):",
        "    row = tl.program_id(0).to(IDX)",
        *ROW_SPLIT,
        f"    acc = tl.full([BLOCK], {neutral}, tl.float32)",
        "    for start in range(0, N, BLOCK):",
        "        cols = start + tl.arange(0, BLOCK).to(IDX)",
        "        mask = cols < N",
        *loads,
        *[f"    {line}" for line in body],
        f"        term = tl.where(mask, t{last}.to(tl.float32), {neutral})",
        f"        acc = {fold}",
        f"    total = {finish}",
        "    out_ty = out_ptr.dtype.element_ty",
        "    tl.store(out_ptr + row, total.to(tl.float32).to(out_ty))",
        "", "",
        "def launch(out, inputs):",
        f"    launch_row_reduction(fused_kernel, out, inputs, {tuple(k.reduction['shape'])!r})",
        "", "",
        "def aot_specs():",
        f"    return row_reduction_aot_specs(fused_kernel, {[d.name for _, d in k.inputs]!r}, {k.dtype.name!r})",
        "",
    ]


def _softmax_module(k: FusedKernel, imports: list[str], body: list[str]) -> list[str]:
    """A row softmax of the members' result, computed twice per row rather than stored: a first pass
    keeps per-lane running maxima and sums (rescaled as the maximum grows), the second writes."""
    n_in = len(k.inputs)
    params = ["out_ptr"] + [f"x{i}_ptr" for i in range(n_in)] + ROW_PARAMS
    params += [f"x{i}_{d}" for i in range(n_in) for d in ROW_STRIDES] + ["o_r"]
    row = [f"        x{i} = tl.load(x{i}_ptr + {_row_offset(i)} + cols * x{i}_c, mask=mask)" for i in range(n_in)]
    row += [f"    {line}" for line in body]
    row.append(f"        t = tl.where(mask, t{len(k.members) - 1}.to(tl.float32), -float('inf'))")
    result = "t - top - tl.log(total)" if k.reduction["op"] == "log_softmax" else "tl.exp(t - top) / total"
    loop = ["    for start in range(0, N, BLOCK):", "        cols = start + tl.arange(0, BLOCK).to(IDX)",
            "        mask = cols < N", *row]
    return [
        "from neurarust.kernels.fused_launch import launch_row_softmax, row_reduction_aot_specs",
        *imports, "", "",
        "@triton.jit",
        "def _center(m):",
        "    return tl.where(m == -float('inf'), 0.0, m)",
        "", "",
        "@triton.jit",
        f"def fused_kernel({', '.join(params)}, IDX: tl.constexpr, BLOCK: tl.constexpr):",
        "    row = tl.program_id(0).to(IDX)",
        *ROW_SPLIT,
        "    m = tl.full([BLOCK], -float('inf'), tl.float32)",
        "    s = tl.zeros([BLOCK], tl.float32)",
        *loop,
        "        grown = _center(tl.maximum(m, t))",
        "        s = s * tl.exp(m - grown) + tl.exp(t - grown)",
        "        m = tl.maximum(m, t)",
        "    top = _center(tl.max(m, axis=0))",
        "    total = tl.sum(s * tl.exp(m - top), axis=0)",
        *loop,
        f"        y = {result}",
        "        out_ty = out_ptr.dtype.element_ty",
        "        tl.store(out_ptr + row * o_r + cols, y.to(out_ty), mask=mask)",
        "", "",
        "def launch(out, inputs):",
        f"    launch_row_softmax(fused_kernel, out, inputs, {tuple(k.reduction['shape'])!r})",
        "", "",
        "def aot_specs():",
        f"    return row_reduction_aot_specs(fused_kernel, {[d.name for _, d in k.inputs]!r}, {k.dtype.name!r})",
        "",
    ]


def _epilogue_module(k: FusedKernel, imports: list[str], body: list[str]) -> list[str]:
    """The ``epilogue`` a product's group becomes; with a ``norm`` (:mod:`~neurarust.graph.norms`) the
    launch also normalizes the rows, whose weight and bias are the last inputs."""
    norm, grad = getattr(k, "norm", None), getattr(k, "norm_grad", None)
    params = k.inputs[len(k.inputs) - k.n_params:] if norm or grad else []
    extras = [d.name for _, d in k.inputs[2:len(k.inputs) - len(params)]]
    result = f"t{len(k.members) - 1}" if k.members else "acc"
    launcher = "launch_product_norm" if norm else "launch_product_norm_grad" if grad else "launch_product"
    if grad:
        weight = params[-1][1].name if grad["weight"] else None
        tail = ["def launch(dx, partials, inputs, norm_inputs):",
                f"    launch_product_norm_grad(epilogue, dx, partials, inputs, norm_inputs, {grad!r})", "", "",
                "def aot_specs():",
                f"    return product_aot_specs(epilogue, {k.inputs[0][1].name!r}, {extras!r}, {k.dtype.name!r}, "
                f"norm={(grad['rms'], weight, None, True)!r}, width={k.shape[-1]})"]
    elif norm:
        dtypes = iter(d.name for _, d in params)
        described = (norm["rms"], next(dtypes) if norm["weight"] else None, next(dtypes) if norm["bias"] else None)
        tail = ["def launch(z, y, mean, rstd, inputs, params):",
                f"    launch_product_norm(epilogue, z, y, mean, rstd, inputs, params, {norm!r})", "", "",
                "def aot_specs():",
                f"    return product_aot_specs(epilogue, {k.inputs[0][1].name!r}, {extras!r}, {k.dtype.name!r}, "
                f"norm={described!r}, width={k.shape[-1]})"]
    else:
        tail = ["def launch(out, inputs):", "    launch_product(epilogue, out, inputs)", "", "",
                "def aot_specs():",
                f"    return product_aot_specs(epilogue, {k.inputs[0][1].name!r}, {extras!r}, {k.dtype.name!r})"]
    return [
        f"from neurarust.kernels.fused_launch import {launcher}, product_aot_specs",
        *imports, "", "",
        "@triton.jit",
        "def epilogue(acc, x0, x1, x2, x3):",
        *body,
        f"    return {result}",
        "", "",
        *tail,
        "",
    ]


def _literal(x, compute) -> str:
    if compute.kind == "f":
        return repr(float(x))
    if compute.name == "bool":
        return "1" if x else "0"
    return repr(int(x))


def _as_op(k: FusedKernel):
    """A registry entry for a fused kernel: its sample is the captured shapes with random values."""
    from neurarust.registry import Op, Sample

    def frontend(op, *tensors):
        return k(list(tensors))

    def reference(*arrays):
        return _contiguous(k.reference(*arrays))

    def samples(dtype):
        rng = np.random.default_rng(0)
        arrays = []
        for shape, d in k.inputs:
            a = rng.uniform(0.5, 1.5, size=shape)
            arrays.append(a.astype(d.np) if d.kind != "b" else a > 1.0)
        yield Sample(tuple(arrays), {}, name="captured shapes")

    return Op(name=k.name, kind="fused", frontend=frontend, reference=reference,
              triton=f"{k.module_name}:launch", dtypes=(k.dtype,), samples=samples, method=False,
              tolerances=_chain_tolerance(k),
              doc=f"A fused elementwise kernel generated by neurarust.compile:\n\n{k.signature}\n")


def _chain_tolerance(k: FusedKernel) -> dict:
    """The output judged at the coarsest precision the chain passes through (an autocast chain that
    rounds to bfloat16 midway and returns float32 is as exact as bfloat16), else the defaults."""
    from neurarust.checking import DEFAULT_TOLERANCES

    dtypes = {d for _, d in k.inputs} | {m.compute for m in k.members} | {m.result for m in k.members} | {k.dtype}
    tols = [DEFAULT_TOLERANCES[d] for d in dtypes if d in DEFAULT_TOLERANCES]
    return {k.dtype: (max(t[0] for t in tols), max(t[1] for t in tols))} if tols else {}
