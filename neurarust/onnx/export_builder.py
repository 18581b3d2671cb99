"""The ONNX graph under construction during export: nodes, initializers and integer slots.

A :class:`Builder` collects plain node records (op type, input names, output names, attributes)
and initializers (NumPy arrays). Integer lists that may depend on a dynamic axis (a Reshape target,
Slice bounds, an Expand shape, a Range limit) go through :meth:`Builder.ints`, which records them as
*slots*: exporting with ``dynamic_axes`` builds the graph twice and turns every slot whose values
differ into shape arithmetic (``neurarust.onnx.export_dynamic``). Nothing here imports ``onnx``
until :meth:`Builder.graph` assembles the protobuf::

    >>> import numpy as np
    >>> from neurarust.onnx.export_builder import Builder
    >>> b = Builder(opset=17)
    >>> y = b.node("Reshape", ["x", b.ints([2, -1], reshape=True)])
    >>> [(n.op_type, n.inputs, n.outputs) for n in b.nodes], b.slots["ints_0"].values
    ([('Reshape', ['x', 'ints_0'], ['reshape_0'])], [2, -1])
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurarust import dtype as _dt
from neurarust.errors import OnnxError

# NeuraRust dtype -> ONNX TensorProto.DataType code.
ONNX_TYPES = {_dt.float32: 1, _dt.uint8: 2, _dt.int8: 3, _dt.int16: 5, _dt.int32: 6, _dt.int64: 7,
              _dt.bool_: 9, _dt.float16: 10, _dt.float64: 11, _dt.bfloat16: 16}


class OnnxExportError(OnnxError):
    """A model that cannot be written as ONNX (a graph break, a shape that cannot be made dynamic)."""


class UnsupportedExportError(OnnxExportError, NotImplementedError):
    """A registry op (or a use of it) with no ONNX mapping; the message names the op and the module
    path whose forward called it."""

    def __init__(self, message: str, op: str = "", module: str = "") -> None:
        super().__init__(message)
        self.op, self.module = op, module


def onnx_type(dtype: Any) -> int:
    """The ONNX element type code of a NeuraRust dtype.

    >>> import neurarust as nr
    >>> from neurarust.onnx.export_builder import onnx_type
    >>> onnx_type(nr.float32), onnx_type(nr.int64)
    (1, 7)
    """
    try:
        return ONNX_TYPES[dtype]
    except KeyError:
        raise UnsupportedExportError(f"dtype {dtype} has no ONNX element type") from None


@dataclass
class NodeRecord:
    """One ONNX node before it becomes a protobuf."""

    op_type: str
    inputs: list
    outputs: list
    attrs: dict = field(default_factory=dict)
    where: str = ""          # the registry op and module path it came from (error messages)


@dataclass
class Slot:
    """An int64 initializer that may depend on a dynamic axis: ``reshape`` allows -1 for one entry,
    ``scalar`` makes it 0-d."""

    values: list
    reshape: bool = False
    scalar: bool = False


class Builder:
    """Nodes, initializers and slots of one export pass (see the module docstring)."""

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.nodes: list[NodeRecord] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.slots: dict[str, Slot] = {}
        self.where = ""
        self._counts: dict[str, int] = {}
        self._consts: dict[tuple, str] = {}

    def fresh(self, stem: str) -> str:
        """A new value name ``stem_<n>``."""
        n = self._counts.get(stem, 0)
        self._counts[stem] = n + 1
        return f"{stem}_{n}"

    def node(self, op_type: str, inputs: list, outputs: int | list = 1, **attrs) -> Any:
        """Append a node; returns its output name (or the list of names when ``outputs`` > 1)."""
        names = outputs if isinstance(outputs, list) else [self.fresh(op_type.lower()) for _ in range(outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(NodeRecord(op_type, list(inputs), names, attrs, self.where))
        return names[0] if not isinstance(outputs, list) and outputs == 1 else names

    def const(self, value: Any, dtype: Any = None) -> str:
        """An initializer holding ``value`` (shared with an equal constant made before)."""
        arr = np.asarray(value, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        name = self._consts.get(key)
        if name is None:
            name = self._consts[key] = self.fresh("const")
            self.initializers[name] = arr
        return name

    def initializer(self, name: str, arr: np.ndarray) -> str:
        self.initializers[name] = arr
        return name

    def ints(self, values, reshape: bool = False, scalar: bool = False) -> str:
        """An int64 list (0-d with ``scalar``) that may follow a dynamic axis (see the module docstring)."""
        values = [int(v) for v in ([values] if scalar else values)]
        name = self.fresh("ints")
        self.slots[name] = Slot(values, reshape, scalar)
        self.initializers[name] = np.array(values[0] if scalar else values, dtype=np.int64)
        return name

    def prune(self, outputs: list[str]) -> None:
        """Drop nodes and initializers nothing reads (on the way to ``outputs``)."""
        live = set(outputs)
        kept = []
        for n in reversed(self.nodes):
            if any(o in live for o in n.outputs):
                kept.append(n)
                live.update(i for i in n.inputs if i)
        self.nodes = kept[::-1]
        for name in [k for k in self.initializers if k not in live]:
            del self.initializers[name]
            self.slots.pop(name, None)
