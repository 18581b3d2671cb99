"""``neurarust.onnx.export``: a module's forward, captured with :func:`neurarust.graph.capture`,
written as an ONNX model that ONNX Runtime runs with NeuraRust's numbers.

The forward runs once in eval mode under ``no_grad`` while the capture records its registry ops;
each op's converter (``op.onnx``, from :mod:`neurarust.onnx.export_ops`) appends ONNX nodes, each
``view`` node becomes Reshape/Transpose/Slice/Expand (:mod:`neurarust.onnx.export_views`), and the
parameters and buffers become initializers under their ``named_parameters`` names. With
``dynamic_axes`` the forward is captured twice more with those axes grown and the graphs are merged
(:mod:`neurarust.onnx.export_dynamic`). The model passes ``onnx.checker`` with the full check
before it is written (atomically). An op with no mapping raises
:class:`~neurarust.onnx.export_builder.UnsupportedExportError` naming the op and the module whose
forward called it.
"""
from __future__ import annotations

import bisect
import os
from typing import Any

import numpy as np

import neurarust as nr
from neurarust.atomic import write_bytes
from neurarust.errors import OnnxError
from neurarust.registry import signature_bind
from neurarust.tensor import Tensor

from . import export_views
from .export_builder import Builder, OnnxExportError, UnsupportedExportError, onnx_type
from .export_dynamic import Sym, dim_name, merge
from .export_ops import CONVERTERS, attach

MIN_OPSET = 13
__all__ = ["export", "OnnxExportError", "UnsupportedExportError"]
attach()        # importing the exporter fills every registry op's ``onnx`` slot from export_ops' table


def export(model: Any, args: Any, path: Any, input_names: list[str] | None = None,
           output_names: list[str] | None = None, dynamic_axes: dict | None = None,
           opset_version: int = 17):
    """Write ``model``'s forward on ``args`` (a tensor or a tuple of tensors) as an ONNX model at
    ``path`` and return the ``onnx.ModelProto``. ``dynamic_axes`` maps an input or output name to
    its dynamic axes, ``{"x": {0: "batch"}}`` or ``{"x": [0]}``, as in ``torch.onnx.export``.

    >>> import os, tempfile, numpy as np, onnxruntime as ort
    >>> import neurarust as nr, neurarust.nn as nn, neurarust.onnx
    >>> _ = nr.manual_seed(0)
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> path = os.path.join(tempfile.mkdtemp(), "mlp.onnx")
    >>> proto = neurarust.onnx.export(model, nr.randn(2, 3), path, dynamic_axes={"input": {0: "batch"}})
    >>> [n.op_type for n in proto.graph.node]
    ['Gemm', 'Relu', 'Gemm']
    >>> x = nr.randn(5, 3)
    >>> y = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    >>> bool(np.abs(y - model(x).detach().numpy()).max() < 1e-5)
    True
    """
    onnx = _onnx()
    top = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset_version <= top:
        raise OnnxExportError(f"opset_version must be between {MIN_OPSET} and {top}, got {opset_version}")
    args = (args,) if isinstance(args, Tensor) else tuple(args)
    if not args or not all(isinstance(t, Tensor) for t in args):
        raise OnnxExportError("export: args must be a tensor or a tuple of tensors, got "
                              f"{[type(t).__name__ for t in args]}")
    input_names = _names(input_names, len(args), "input")
    syms, per_input = _symbols(dynamic_axes or {}, input_names, args)
    example = _grown(args, input_names, syms, per_input, which="a")
    a_run, b_run = _capture(model, example), None
    out_names = _names(output_names, len(a_run.graph.outputs), "output")
    _check_dynamic_names(dynamic_axes or {}, input_names, out_names)
    builder = _convert(a_run, input_names, out_names, opset_version)
    if syms:
        b_run = _capture(model, _grown(args, input_names, syms, per_input, which="b"))
        c_run = _capture(model, _grown(args, input_names, syms, per_input, which="c"))
        builder = merge(builder, _convert(b_run, input_names, out_names, opset_version),
                        _convert(c_run, input_names, out_names, opset_version), syms)
    size = sum(arr.nbytes for arr in builder.initializers.values())
    if size >= 2**31 - 2**24:
        raise OnnxExportError(f"the model's initializers hold {size / 2**30:.1f} GiB: an ONNX file over "
                              f"protobuf's 2 GiB limit needs external data, which this exporter does not write")
    proto = _assemble(onnx, builder, a_run, b_run, input_names, out_names, syms,
                      per_input, dynamic_axes or {}, opset_version)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as e:  # the checker's ValidationError / InferenceError
        raise OnnxExportError(f"the exported model fails onnx.checker: {e}") from e
    data = proto.SerializeToString()
    write_bytes(os.fspath(path), data)
    return proto


def _onnx():
    try:
        import onnx
    except ImportError as e:
        raise OnnxError("neurarust.onnx.export needs the onnx package: pip install onnx") from e
    return onnx


def _names(given, n: int, stem: str) -> list[str]:
    if given is None:
        return [stem] if n == 1 else [f"{stem}_{i}" for i in range(n)]
    given = list(given)
    if len(given) != n or len(set(given)) != n:
        raise OnnxExportError(f"{stem}_names must hold {n} distinct names, got {given}")
    return given


# -- dynamic axes ---------------------------------------------------------------------------------

def _axes_of(spec, name: str, rank: int | None) -> dict[int, str]:
    items = spec.items() if isinstance(spec, dict) else ((ax, None) for ax in spec)
    out = {}
    for ax, sym in items:
        ax = int(ax)
        if rank is not None:
            if not -rank <= ax < rank:
                raise OnnxExportError(f"dynamic_axes[{name!r}]: axis {ax} is out of range for rank {rank}")
            ax %= rank
        out[ax] = sym or f"{name}_dim_{ax}"
    return out


def _symbols(dynamic_axes: dict, input_names: list[str], args: tuple):
    """The dynamic dims (each name once, read from its first input) and, per input, axis -> name."""
    syms: dict[str, Sym] = {}
    per_input: dict[str, dict[int, str]] = {}
    for name, t in zip(input_names, args):
        axes = per_input[name] = _axes_of(dynamic_axes.get(name, {}), name, t.ndim)
        for ax, sym in axes.items():
            if sym not in syms:
                a = max(t.shape[ax], 2)           # size-1 dims broadcast: never capture a dynamic dim at 1
                grow = len(syms) + 1
                syms[sym] = Sym(sym, name, ax, a, a + grow, a + 3 * grow)
    return list(syms.values()), per_input


def _check_dynamic_names(dynamic_axes: dict, input_names: list[str], output_names: list[str]) -> None:
    unknown = [k for k in dynamic_axes if k not in input_names and k not in output_names]
    if unknown:
        raise OnnxExportError(f"dynamic_axes names {unknown} are neither inputs {input_names} nor outputs "
                              f"{output_names}")


def _grown(args: tuple, input_names: list[str], syms: list[Sym], per_input: dict, which: str) -> tuple:
    """The inputs resized along their dynamic axes to each dim's size in pass ``which`` (a, b or c)."""
    size = {s.name: getattr(s, which) for s in syms}
    out = []
    for name, t in zip(input_names, args):
        sizes = {ax: size[sym] for ax, sym in per_input.get(name, {}).items()}
        out.append(_resize(t, sizes) if any(t.shape[ax] != n for ax, n in sizes.items()) else t)
    return tuple(out)


def _resize(t: Tensor, sizes: dict[int, int]) -> Tensor:
    arr = t.detach().numpy()
    for ax, n in sizes.items():
        arr = np.take(arr, np.arange(n) % arr.shape[ax], axis=ax)
    return nr.tensor(np.ascontiguousarray(arr), dtype=t.dtype)


# -- capture --------------------------------------------------------------------------------------

class _Run:
    """A capture and the module path of every node."""

    def __init__(self, graph, events: list[tuple[int, str]]) -> None:
        self.graph = graph
        self._counts = [c for c, _ in events]
        self._paths = [p for _, p in events]

    def path(self, index: int) -> str:
        i = bisect.bisect_right(self._counts, index) - 1
        return self._paths[i] if i >= 0 else ""


def _capture(model, args: tuple) -> _Run:
    from neurarust.graph import GraphBreak, capture

    from neurarust.graph.capture import recorded_count
    names = {}
    if hasattr(model, "named_parameters"):
        names.update({id(p): n for n, p in model.named_parameters()})
        names.update({id(b): n for n, b in model.named_buffers()})
    events: list[tuple[int, str]] = []
    if not hasattr(model, "named_modules"):          # a plain function: its name stands for the module
        events.append((0, getattr(model, "__qualname__", type(model).__name__)))
    stack: list[str] = []

    count = recorded_count

    def pre(path):
        def hook(module, inputs):
            stack.append(path)
            events.append((count(), path))
        return hook

    def post(module, inputs, output):
        stack.pop()
        events.append((count(), stack[-1] if stack else ""))

    handles = []
    modules = list(model.named_modules()) if hasattr(model, "named_modules") else []
    for path, module in modules:
        label = f"{path} ({type(module).__name__})" if path else type(module).__name__
        handles.append(module.register_forward_pre_hook(pre(label)))
        handles.append(module.register_forward_hook(post))
    training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with nr.no_grad():
            captured = capture(model, *args, names=names)
    except GraphBreak as e:
        raise OnnxExportError(f"the forward reads tensor values in Python ({e}); ONNX export needs a "
                              f"forward whose ops do not depend on the data") from e
    finally:
        for h in handles:
            h.remove()
        if hasattr(model, "train"):
            model.train(training)
    return _Run(captured.graph, events)


# -- conversion -----------------------------------------------------------------------------------

_MISSING = object()


class _Context:
    """What a converter sees: the builder, ONNX names of graph values, operands in a dtype."""

    def __init__(self, run: _Run, builder: Builder, input_names: list[str]) -> None:
        self.b, self.opset, self.run = builder, builder.opset, run
        self.names: dict[int, Any] = {v.id: n for v, n in zip(run.graph.inputs, input_names)}
        self.views: dict[int, Any] = {}
        self.missing: dict[int, str] = {}
        self.used_names = set(input_names)

    def x(self, v) -> str:
        """The ONNX name of graph value ``v`` (emitting its view or initializer on first use)."""
        name = self.names.get(v.id)
        if name is _MISSING:
            raise UnsupportedExportError(*self.missing[v.id])
        if name is not None:
            return name
        if v.id in self.views:
            node, where = self.views.pop(v.id)
            shape, strides, offset, dtype = node.view
            src = node.args[0]
            saved, self.b.where = self.b.where, where
            try:
                if dtype is not src.dtype:
                    raise UnsupportedExportError(f"a view reinterpreting {src.dtype} as {dtype} has no ONNX form")
                steps = export_views.plan(src.shape, src.strides, shape, strides, offset)
                name = export_views.emit(self.b, self.x(src), steps)
            except UnsupportedExportError as e:
                raise _located(e, "view", where) from None
            finally:
                self.b.where = saved
        elif v.kind in ("external", "constant") and v.tensor is not None:
            name = self._initializer(v)
        else:
            raise OnnxExportError(f"graph value %{v.id} is computed by nothing the exporter emitted")
        self.names[v.id] = name
        return name

    def _initializer(self, v) -> str:
        stem = v.name or self.b.fresh("const")
        name, k = stem, 1
        while name in self.used_names:
            name, k = f"{stem}_{k}", k + 1
        self.used_names.add(name)
        t = v.tensor.detach() if hasattr(v.tensor, "detach") else v.tensor
        return self.b.initializer(name, np.ascontiguousarray(t.numpy()))

    def operand(self, v, dtype) -> str:
        """``v`` (a graph value or a Python number) as an ONNX value of ``dtype``."""
        if v is None:
            return ""
        if not hasattr(v, "dtype") or not hasattr(v, "id"):
            return self.scalar(v, dtype)
        name = self.x(v)
        return name if v.dtype is dtype else self.b.node("Cast", [name], to=onnx_type(dtype))

    def scalar(self, value, dtype) -> str:
        return self.b.const(np.array(value, dtype=dtype.np))

    def view_source(self, v):
        """``(root value, (shape, strides, offset, dtype))`` when ``v`` is a view node's output."""
        p = getattr(v, "producer", None)
        if p is not None and p.op is None and p.view is not None:
            return p.args[0], p.view
        return None

    def inline(self, fn, inputs: list[tuple[str, tuple, Any]]) -> list[str]:
        """Capture ``fn`` on placeholder tensors of the inputs' shapes and dtypes and convert its ops
        here, reading the given ONNX names: formulas written once (losses) export through the ops
        they call. Returns the names of its outputs."""
        from neurarust.graph import capture

        holders = [nr.full(shape, 0.5 if dtype.is_floating_point else 0, dtype=dtype) for _, shape, dtype in inputs]
        with nr.no_grad():
            graph = capture(fn, *holders).graph
        path = self.b.where.split(" in ", 1)[1] if " in " in self.b.where else ""
        child = _Context(_Run(graph, [(0, path)]), self.b, [n for n, _, _ in inputs])
        child.used_names = self.used_names
        saved = self.b.where
        try:
            _convert_nodes(child)
            return [child.x(v) for v in graph.outputs]
        finally:
            self.b.where = saved

    def need_opset(self, opset: int, what: str) -> None:
        if self.opset < opset:
            raise UnsupportedExportError(f"{what} needs opset {opset} or later (exporting opset {self.opset})")


def _located(e: UnsupportedExportError, op: str, where: str) -> UnsupportedExportError:
    module = where.split(" in ", 1)[1] if " in " in where else ""
    return UnsupportedExportError(f"cannot export op {op!r} called in module {module!r}: {e}", op, module)


def _convert(run: _Run, input_names: list[str], output_names: list[str], opset: int) -> Builder:
    attach()
    builder = Builder(opset)
    ctx = _Context(run, builder, input_names)
    _convert_nodes(ctx)
    for v, name in zip(run.graph.outputs, output_names):
        builder.node("Identity", [ctx.x(v)], outputs=[name])
    builder.prune(output_names)
    return builder


def _convert_nodes(ctx: "_Context") -> None:
    for i, node in enumerate(ctx.run.graph.nodes):
        where = f"{node.name} in {ctx.run.path(i)}"
        ctx.b.where = where
        if node.op is None:
            ctx.views[node.outputs[0].id] = (node, where)
            continue
        if all(v is None for v in node.outputs) and not node.effects:
            continue                                   # split/chunk/unbind: their views are recorded
        _convert_node(ctx, node, where)


def _convert_node(ctx: _Context, node, where: str) -> None:
    op = node.op
    conv = op.onnx if op.onnx is not None else CONVERTERS.get(op.name)
    module = where.split(" in ", 1)[1]
    if conv is None:
        raise UnsupportedExportError(f"op {op.name!r} (called in module {module!r}) has no ONNX mapping; "
                                     f"docs/onnx.md lists the ops the exporter supports", op.name, module)
    kwargs = {k: v for k, v in node.kwargs.items() if k != "out"}      # the effects say what is written
    a = op.bind(node.args, kwargs) if op.bind is not None else signature_bind(op, node.args, kwargs)
    try:
        result = conv(ctx, node, a)
    except UnsupportedExportError as e:
        if e.op:
            raise
        raise _located(e, op.name, where) from None
    results = result if isinstance(result, list) else [result]
    for k, v in enumerate(node.outputs):
        if v is None:
            continue
        r = results[k] if k < len(results) else None
        if r is None:
            ctx.names[v.id] = _MISSING
            ctx.missing[v.id] = (f"output {k} of op {op.name!r} (called in module {module!r}) is used, "
                                 f"but its ONNX mapping does not compute it", op.name, module)
        else:
            ctx.names[v.id] = r
    direct = {v.id for v in node.inputs()}
    for old, new in node.effects:
        if old.id not in direct:
            raise UnsupportedExportError(f"op {op.name!r} (called in module {module!r}) writes into part of a "
                                         f"tensor (an in-place write through a view); ONNX has no such write",
                                         op.name, module)
        value = results[0]
        ctx.names[new.id] = value if new.dtype is _out_dtype(node) else ctx.b.node("Cast", [value], to=onnx_type(new.dtype))


def _out_dtype(node):
    for v in node.outputs:
        if v is not None:
            return v.dtype
    return node.effects[0][1].dtype


# -- the model ------------------------------------------------------------------------------------

def _fold_identities(builder: Builder, outputs: list[str], inputs: list[str]) -> None:
    """Give a graph output's name to the node computing it, instead of an Identity after it."""
    producers = {o: n for n in builder.nodes for o in n.outputs}
    for node in list(builder.nodes):
        if node.op_type != "Identity" or node.outputs[0] not in outputs:
            continue
        src = node.inputs[0]
        p = producers.get(src)
        if p is None or src in outputs or src in inputs or p.op_type == "Identity" and p.outputs[0] in outputs:
            continue
        new = node.outputs[0]
        p.outputs[p.outputs.index(src)] = new
        for n in builder.nodes:
            n.inputs = [new if i == src else i for i in n.inputs]
        builder.nodes.remove(node)
        producers[new] = p


def _gemm_bias(builder: Builder) -> None:
    """``Gemm(x, W) + b`` with a 1-D initializer ``b`` read nowhere else becomes ``Gemm(x, W, b)``."""
    readers: dict[str, list] = {}
    for n in builder.nodes:
        for i in n.inputs:
            readers.setdefault(i, []).append(n)
    for gemm in [n for n in builder.nodes if n.op_type == "Gemm" and len(n.inputs) == 2]:
        users = readers.get(gemm.outputs[0], [])
        if len(users) != 1 or users[0].op_type != "Add":
            continue
        add = users[0]
        bias = next((i for i in add.inputs if i != gemm.outputs[0]), None)
        arr = builder.initializers.get(bias)
        if arr is None or arr.ndim != 1 or add.inputs.count(gemm.outputs[0]) != 1 or bias in builder.slots:
            continue
        gemm.inputs.append(bias)
        gemm.outputs = list(add.outputs)
        builder.nodes.remove(add)


def _value_info(onnx, name: str, dtype, dims: list):
    return onnx.helper.make_tensor_value_info(name, onnx_type(dtype), dims)


def _assemble(onnx, builder: Builder, a_run: _Run, b_run, input_names, output_names, syms, per_input,
              dynamic_axes, opset):
    from onnx import helper, numpy_helper

    _fold_identities(builder, output_names, input_names)
    _gemm_bias(builder)
    inputs = []
    for v, name in zip(a_run.graph.inputs, input_names):
        dims = list(v.shape)
        for ax, sym in per_input.get(name, {}).items():
            dims[ax] = sym
        inputs.append(_value_info(onnx, name, v.dtype, dims))
    outputs = []
    for k, (v, name) in enumerate(zip(a_run.graph.outputs, output_names)):
        dims = list(v.shape)
        if b_run is not None:
            other = b_run.graph.outputs[k].shape
            dims = [x if x == y else dim_name(x, y, syms) for x, y in zip(v.shape, other)]
        for ax, sym in _axes_of(dynamic_axes.get(name, {}), name, len(dims)).items():
            dims[ax] = sym
        outputs.append(_value_info(onnx, name, v.dtype, dims))
    nodes = []
    for i, n in enumerate(builder.nodes):
        nodes.append(helper.make_node(n.op_type, n.inputs, n.outputs, name=f"{n.op_type}_{i}", **n.attrs))
    inits = [numpy_helper.from_array(arr, name) for name, arr in builder.initializers.items()]
    graph = helper.make_graph(nodes, "neurarust", inputs, outputs, inits)
    model = helper.make_model(graph, producer_name="neurarust", opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = min(model.ir_version, 10)     # ONNX Runtime 1.18+ reads IR 10
    return model
