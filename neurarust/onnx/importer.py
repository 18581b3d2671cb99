"""``neurarust.onnx.load``: an ONNX model as a :class:`neurarust.nn.Module` that runs its graph with
NeuraRust ops, so it runs on either backend and trains like any module.

The graph is checked when it is loaded: the bytes parse, every tensor decodes, every node reads
values defined before it, and every op is implemented (all the missing ones are listed in one
error). Float initializers become Parameters and the others buffers, under sanitized names
(``net.0.weight`` -> ``net_0_weight``); BatchNormalization's running statistics are buffers.
Values computed only from constants and shapes (``Shape -> Gather -> Concat -> Reshape``) stay
NumPy arrays on the host, so reshapes read plain ints.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

import neurarust as nr
from neurarust.errors import DTypeError, NeuraRustError, OnnxError, ShapeError
from neurarust.nn.module import Module
from neurarust.nn.parameter import Parameter
from neurarust.tensor import Tensor

from .errors import UnsupportedOnnxError
from .ops import OPS, Call
from .proto import ONNX_DTYPES, attributes, read_model, to_array

_DEFAULT_DOMAINS = ("", "ai.onnx")


def load(source: Any) -> "OnnxModule":
    """A module running the ONNX model at ``source`` (a path, the file's bytes or an
    ``onnx.ModelProto``); ``forward(*inputs)`` returns a tensor, or a tuple for several outputs.

    >>> import onnx.helper as h, onnx.numpy_helper as nh, numpy as np
    >>> import neurarust as nr, neurarust.onnx
    >>> w = nh.from_array(np.array([[1.0, -1.0]], dtype=np.float32), "fc.weight")
    >>> g = h.make_graph([h.make_node("Gemm", ["x", "fc.weight"], ["z"], transB=1),
    ...                   h.make_node("Relu", ["z"], ["y"])], "g",
    ...                  [h.make_tensor_value_info("x", 1, ["batch", 2])],
    ...                  [h.make_tensor_value_info("y", 1, ["batch", 1])], [w])
    >>> m = neurarust.onnx.load(h.make_model(g).SerializeToString())
    >>> m(nr.tensor([[3.0, 1.0], [1.0, 3.0]])).tolist(), [n for n, _ in m.named_parameters()]
    ([[2.0], [0.0]], ['fc_weight'])
    """
    return OnnxModule(read_model(source))


@dataclass
class _Step:
    """One node, ready to run."""

    op_type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict
    frees: list[str]


class OnnxModule(Module):
    """The module :func:`load` returns. ``input_names``/``output_names`` are the graph's, and
    ``onnx_names`` maps each parameter or buffer name to its ONNX initializer name.

    >>> import onnx.helper as h, neurarust as nr
    >>> from neurarust.onnx.importer import OnnxModule
    >>> g = h.make_graph([h.make_node("Split", ["x"], ["a", "b"], axis=0, num_outputs=2)], "g",
    ...                  [h.make_tensor_value_info("x", 1, [4])],
    ...                  [h.make_tensor_value_info(n, 1, [2]) for n in "ab"])
    >>> m = OnnxModule(h.make_model(g, opset_imports=[h.make_opsetid("", 18)]))
    >>> [t.tolist() for t in m(nr.arange(4.0))], m.output_names
    ([[0.0, 1.0], [2.0, 3.0]], ['a', 'b'])
    """

    def __init__(self, model) -> None:
        super().__init__()
        graph = _check_model(model)
        self.opset = _default_opset(model)
        initializers = {t.name: to_array(t, f"initializer {t.name!r}") for t in graph.initializer}
        self.onnx_names: dict[str, str] = {}
        self._slots: dict[str, str] = {}  # ONNX name -> attribute name
        stats = _running_stats(graph)
        for name, arr in initializers.items():
            self._add_initializer(name, arr, trainable=arr.dtype.kind == "f" and name not in stats)
        inputs = [vi for vi in graph.input if vi.name not in initializers]
        self.input_names = [vi.name for vi in inputs]
        self._input_types = [_value_type(vi) for vi in inputs]
        self.output_names = [vi.name for vi in graph.output]
        self._steps, self._constants = self._plan(graph, set(initializers))
        self.eval()  # ONNX graphs are inference graphs; train() switches BatchNormalization to batch statistics

    # -- loading ----------------------------------------------------------------------------------
    def _add_initializer(self, name: str, arr: np.ndarray, trainable: bool) -> None:
        attr = _sanitize(name, lambda a: a in self.onnx_names or hasattr(self, a))
        self.onnx_names[attr] = name
        self._slots[name] = attr
        t = nr.from_numpy(arr)
        if trainable:
            self.register_parameter(attr, Parameter(t))
        else:
            self.register_buffer(attr, t)

    def _plan(self, graph, initializers: set[str]) -> tuple[list[_Step], dict[str, np.ndarray]]:
        """The nodes as steps, with Constant nodes evaluated once; every problem found is raised."""
        known = set(initializers) | set(self.input_names)
        missing_ops: dict[str, list[str]] = {}
        reasons: list[str] = []
        dangling: list[str] = []
        steps: list[_Step] = []
        for i, node in enumerate(graph.node):
            name = node.name or f"{node.op_type}_{i}"
            op = OPS.get(node.op_type) if node.domain in _DEFAULT_DOMAINS else None
            if op is None:
                missing_ops.setdefault(node.op_type if node.domain in _DEFAULT_DOMAINS
                                       else f"{node.domain}::{node.op_type}", []).append(name)
            dangling += [f"node {name!r} ({node.op_type}) reads {v!r}" for v in node.input if v and v not in known]
            known.update(v for v in node.output if v)
            attrs = attributes(node)
            if op is not None and op.check is not None:
                reasons += [f"node {name!r}: {r}" for r in op.check(node.op_type, attrs, list(node.input),
                                                                      list(node.output))]
            steps.append(_Step(node.op_type, name, list(node.input), list(node.output), attrs, []))
        dangling += [f"graph output {v!r}" for v in self.output_names if v not in known]
        if dangling:
            raise OnnxError("values used but never defined by a graph input, an initializer or an earlier "
                            "node (a truncated or malformed model?): " + "; ".join(dangling[:10])
                            + (f" and {len(dangling) - 10} more" if len(dangling) > 10 else ""))
        if missing_ops or reasons:
            raise UnsupportedOnnxError(missing_ops, reasons)
        constants: dict[str, np.ndarray] = {}
        kept = []
        for step in steps:
            if step.op_type == "Constant":
                constants[step.outputs[0]] = self._run(step, [])[0]
            else:
                kept.append(step)
        _mark_frees(kept, set(self.output_names))
        return kept, constants

    # -- running ----------------------------------------------------------------------------------
    def forward(self, *inputs: Any) -> Tensor | tuple[Tensor, ...]:
        if len(inputs) != len(self.input_names):
            raise OnnxError(f"the model takes {len(self.input_names)} input(s) {self.input_names}, "
                            f"got {len(inputs)}")
        env: dict[str, Any] = dict(self._constants)
        for name, attr in self._slots.items():
            t = getattr(self, attr)
            env[name] = t if t.dtype.is_floating_point else t.numpy(force=True)
        for name, kind, x in zip(self.input_names, self._input_types, inputs):
            env[name] = _check_input(name, kind, x)
        for step in self._steps:
            values = self._run(step, [env[v] if v else None for v in step.inputs])
            for name, value in zip(step.outputs, values):
                if name:
                    env[name] = value
            for name in step.frees:
                env.pop(name, None)
        outs = tuple(_as_tensor(env[n]) for n in self.output_names)
        return outs[0] if len(outs) == 1 else outs

    def _run(self, step: _Step, args: list) -> tuple:
        """Run one step: host inputs become CPU tensors (or go to the device of the others)."""
        op = OPS[step.op_type]
        host = all(a is None or isinstance(a, np.ndarray) for a in args)
        device = next((a.device for a in args if isinstance(a, Tensor)), None)
        tensors = [_to_tensor(a, None if host or i in op.shape_inputs else device) for i, a in enumerate(args)]
        call = Call(step.op_type, step.name, tensors, step.attrs, self.opset, len(step.outputs), self.training)
        try:
            out = op.fn(call)
        except OnnxError:  # raised by the op itself, naming the node already
            raise
        except NeuraRustError as e:
            if hasattr(e, "add_note"):
                e.add_note(f"while running ONNX node {step.name!r} ({step.op_type})")
            raise
        except Exception as e:  # an op met values it cannot handle: name the node
            raise OnnxError(f"node {step.name!r} ({step.op_type}) failed: {type(e).__name__}: {e}") from e
        out = out if isinstance(out, tuple) else (out,)
        if host:
            out = tuple(o.detach().numpy() if isinstance(o, Tensor) else o for o in out)
        return out

    def extra_repr(self) -> str:
        return (f"opset={self.opset}, nodes={len(self._steps)}, inputs={self.input_names}, "
                f"outputs={self.output_names}")


# -- helpers ------------------------------------------------------------------------------------------

def _check_model(model):
    if model.ir_version <= 0:
        raise OnnxError("the model has no IR version: not an ONNX model, or a truncated one")
    if not model.HasField("graph"):
        raise OnnxError("the model has no graph")
    if not model.graph.output:
        raise OnnxError(f"graph {model.graph.name!r} has no outputs (a truncated model?)")
    _check_text(model.graph)
    names = [t.name for t in model.graph.initializer]
    if len(set(names)) != len(names):
        raise OnnxError("two initializers share a name")
    return model.graph


def _check_text(graph) -> None:
    """Every name is text: protobuf hands back bytes for a string field that is not UTF-8."""
    names = [graph.name] + [t.name for t in graph.initializer] + [v.name for v in (*graph.input, *graph.output)]
    for node in graph.node:
        names += [node.name, node.op_type, node.domain, *node.input, *node.output]
        names += [a.name for a in node.attribute]
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise OnnxError(f"names that are not valid UTF-8 (a corrupted file?): {bad[:3]}")


def _default_opset(model) -> int:
    for o in model.opset_import:
        if o.domain in _DEFAULT_DOMAINS:
            if o.version < 1:
                raise OnnxError(f"the model's opset version {o.version} is not valid")
            return int(o.version)
    raise OnnxError("the model declares no opset for the default ONNX domain")


def _running_stats(graph) -> set[str]:
    """BatchNormalization's mean and variance inputs: statistics, not trained values."""
    return {v for n in graph.node if n.op_type == "BatchNormalization" for v in n.input[3:5]}


def _sanitize(name: str, taken) -> str:
    attr = re.sub(r"\W", "_", name) or "_"
    attr = "_" + attr if attr[0].isdigit() else attr
    base, k = attr, 1
    while taken(attr):
        attr, k = f"{base}_{k}", k + 1
    return attr


def _value_type(vi) -> tuple[Any, list | None]:
    """The input's dtype (or None) and dims (ints, or None where symbolic/unknown)."""
    t = vi.type.tensor_type
    dtype = ONNX_DTYPES.get(t.elem_type)
    if not t.HasField("shape"):
        return dtype, None
    return dtype, [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]


def _check_input(name: str, kind, x: Any) -> Tensor:
    if isinstance(x, np.ndarray):
        x = nr.from_numpy(x)
    if not isinstance(x, Tensor):
        raise OnnxError(f"input {name!r} should be a Tensor or numpy array, got {type(x).__name__}")
    dtype, dims = kind
    if dtype is not None and x.dtype is not dtype:
        raise DTypeError(f"input {name!r} should be {dtype}, got {x.dtype}")
    if dims is not None and (len(dims) != x.ndim or any(d not in (None, s) for d, s in zip(dims, x.shape))):
        want = ["?" if d is None else d for d in dims]
        raise ShapeError(f"input {name!r} should have shape {want}, got {list(x.shape)}")
    return x


def _to_tensor(a: Any, device) -> Tensor | None:
    if a is None or isinstance(a, Tensor):
        return a
    t = nr.from_numpy(_contiguous(a))
    return t if device is None or device == t.device else t.to(device)


def _as_tensor(v: Any) -> Tensor:
    return v if isinstance(v, Tensor) else nr.from_numpy(_contiguous(v))


def _contiguous(a: np.ndarray) -> np.ndarray:
    return a if a.flags.c_contiguous and a.flags.writeable else np.array(a, order="C")


def _mark_frees(steps: list[_Step], keep: set[str]) -> None:
    """Give each step the values nothing after it reads, so forward drops them early."""
    last: dict[str, int] = {}
    for i, step in enumerate(steps):
        for v in step.inputs:
            if v:
                last[v] = i
    for v, i in last.items():
        if v not in keep:
            steps[i].frees.append(v)
