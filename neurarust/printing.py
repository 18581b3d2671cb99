"""``repr`` of tensors in PyTorch's style: ``tensor([1.0000, 2.5000], dtype=neurarust.float64)``."""
from __future__ import annotations

import numpy as np

from . import dtype as _dt

_SUMMARIZE_ABOVE = 1000
_EDGE = 3
_DEFAULT_SUFFIXLESS = ("int64", "bool")


def _float_formatter(finite: np.ndarray):
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.4f}"
    amax, amin = float(np.abs(finite).max()), float(np.abs(finite).min())
    integral = bool(np.all(np.floor(finite) == finite))
    if integral and amax < 1e8:
        return lambda v: _special(v) or f"{v:.0f}."
    if amax > 1e8 or (amin > 0 and amin < 1e-4) or (amin > 0 and amax / amin > 1000 and amax > 1e3):
        return lambda v: _special(v) or f"{v:.4e}"
    return lambda v: _special(v) or f"{v:.4f}"


def _special(v: float) -> str | None:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def tensor_repr(t) -> str:
    arr = t.numpy(force=True)
    if t.dtype is _dt.bfloat16 or t.dtype is _dt.float16:
        arr = arr.astype(np.float32)
    if t.dtype.is_floating_point:
        flat = arr.reshape(-1).astype(np.float64)
        fmt = _float_formatter(flat[np.isfinite(flat)])
        width = max((len(fmt(float(v))) for v in flat), default=0)
        formatter = {"float_kind": lambda v: fmt(float(v)).rjust(width)}
    elif t.dtype is _dt.bool_:
        formatter = {"bool": lambda v: "True" if v else "False"}
    else:
        width = max((len(str(int(v))) for v in arr.reshape(-1)), default=0)
        formatter = {"int": lambda v: str(int(v)).rjust(width)}
    body = np.array2string(arr, separator=", ", prefix="tensor(", formatter=formatter,
                           threshold=_SUMMARIZE_ABOVE, edgeitems=_EDGE, max_line_width=80)
    extras = []
    if t.device.type != "cpu":
        extras.append(f"device='{t.device}'")
    if t.numel() == 0 and t.ndim != 1:
        extras.append(f"size={tuple(t.shape)}")
    default = _dt.get_default_dtype().name
    if t.dtype.name not in _DEFAULT_SUFFIXLESS + (default,) or t.numel() == 0 and t.dtype.name != default:
        extras.append(f"dtype=neurarust.{t.dtype.name}")
    if t.numel() == 0:
        body = "[]"
    return f"tensor({body}{''.join(', ' + e for e in extras)})"
