"""Checkpoints holding quantized tensors: :func:`save` / :func:`load` are ``nr.save`` / ``nr.load``
(safetensors, no pickle) with each :class:`QTensor` stored as its int8 values, its scale and zero
point tensors and its axis and range in the JSON skeleton, and rebuilt on load. A quantized
model's ``state_dict()`` is plain tensors (int8 weights and float32 scales are buffers), so
``nr.save(qmodel.state_dict(), path)`` works as it is::

    >>> import os, tempfile, neurarust as nr
    >>> from neurarust import quantization as Q
    >>> path = os.path.join(tempfile.mkdtemp(), "q.safetensors")
    >>> Q.save({"x": Q.quantize_per_channel(nr.tensor([[1.0, 2.0]]), [0.1, 0.2], [0, 1], 1)}, path)
    >>> x = Q.load(path)["x"]
    >>> x.int_repr().tolist(), x.q_per_channel_scales().tolist()[1] == nr.tensor([0.2]).item()
    ([[10, 11]], True)
"""
from __future__ import annotations

import os
from typing import Any

from .qtensor import QTensor

_MARK = "__qtensor__"


def _encode(obj: Any) -> Any:
    if isinstance(obj, QTensor):
        return {_MARK: 1, **obj.state()}
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    return obj


def _decode(obj: Any) -> Any:
    if isinstance(obj, dict):
        if obj.get(_MARK) == 1:
            return QTensor.from_state(obj)
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


def save(obj: Any, f: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """``nr.save`` of ``obj``, QTensors included (see the module docstring)."""
    from neurarust.serialization import save as _save

    _save(_encode(obj), f, metadata)


def load(f: str | os.PathLike, device: Any = None) -> Any:
    """``nr.load`` of a file written by :func:`save`, QTensors rebuilt."""
    from neurarust.serialization import load as _load

    return _decode(_load(f, device=device))
