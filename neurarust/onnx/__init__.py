"""``neurarust.onnx``: ONNX models in and out (docs/onnx.md).

* :func:`load` (``importer.py``) runs an ONNX graph as a :class:`neurarust.nn.Module` built from
  NeuraRust ops; the op table is ``ops.py`` (:data:`neurarust.onnx.ops.OPS`).
* :func:`export` (``exporter.py``) writes a module's forward as an ONNX model. The exporter lives in
  ``exporter.py``, not ``export.py``: a submodule named ``export`` would replace this function on
  the package once imported.

Nothing here imports ``onnx`` until a model is read or written, so ``import neurarust.onnx`` costs
nothing in the light core::

    >>> import neurarust.onnx
    >>> "Conv" in neurarust.onnx.supported_ops()
    True
"""
from __future__ import annotations

import importlib
from typing import Any

from neurarust.errors import OnnxError

__all__ = ["load", "export", "supported_ops", "OnnxError", "UnsupportedOnnxError", "OnnxModule"]

_LAZY = {"load": "importer", "OnnxModule": "importer", "supported_ops": "ops",
         "UnsupportedOnnxError": "errors",
         "UnsupportedExportError": "export_builder", "OnnxExportError": "export_builder"}


def export(model: Any, args: Any, path: Any, input_names: Any = None, output_names: Any = None,
           dynamic_axes: Any = None, opset_version: int = 17) -> Any:
    """Write ``model``'s forward on ``args`` as an ONNX model at ``path`` and return the
    ``onnx.ModelProto`` (``exporter.py``; docs/onnx.md, "Export")::

        >>> import os, tempfile, neurarust.onnx, neurarust.nn as nn, neurarust as nr
        >>> path = os.path.join(tempfile.mkdtemp(), "linear.onnx")
        >>> proto = neurarust.onnx.export(nn.Linear(2, 1), (nr.ones(1, 2),), path)
        >>> [n.op_type for n in proto.graph.node], [t.name for t in proto.graph.initializer]
        (['Gemm'], ['weight', 'bias'])
    """
    exporter = importlib.import_module(".exporter", __name__)
    return exporter.export(model, args, path, input_names=input_names, output_names=output_names,
                           dynamic_axes=dynamic_axes, opset_version=opset_version)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'neurarust.onnx' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
