"""``repr`` of tensors, laid out as PyTorch lays them out::

    >>> import neurarust as nr
    >>> nr.tensor([1.0, 2.5, -3.0])
    tensor([ 1.0000,  2.5000, -3.0000])
    >>> nr.tensor([[1, 20], [300, 4]], dtype=nr.int16)
    tensor([[  1,  20],
            [300,   4]], dtype=neurarust.int16)

The rules are torch's (``torch/_tensor_str.py``): every element gets one width; floats print as
integers with a trailing ``.`` when all finite values are whole, in scientific notation when the
finite non-zero magnitudes span more than 1000x, pass 1e8 or (non-integers) fall below 1e-4, and
with ``precision`` decimals otherwise; tensors over ``threshold`` elements show ``edgeitems`` items
at each end of every dim. Only those corner items are copied to the host, so printing a huge CUDA
tensor is cheap.

Known differences from PyTorch: dtypes print as ``neurarust.<name>``; there are no complex,
sparse or named tensors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import dtype as _dt
from .errors import ArgumentError


@dataclass
class PrintOptions:
    """The knobs of :func:`set_printoptions` (PyTorch's defaults)."""

    precision: int = 4
    threshold: int = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


OPTIONS = PrintOptions()


def set_printoptions(precision: int | None = None, threshold: int | None = None, edgeitems: int | None = None,
                     linewidth: int | None = None, sci_mode: bool | None = None) -> None:
    """Change how tensors print, like ``torch.set_printoptions`` (``None`` keeps a setting).

    >>> import neurarust as nr
    >>> from neurarust.printing import set_printoptions
    >>> set_printoptions(precision=2); print(nr.tensor([1.2345])); set_printoptions(precision=4)
    tensor([1.23])
    """
    if edgeitems is not None and edgeitems < 1:
        raise ArgumentError(f"set_printoptions: edgeitems must be at least 1, got {edgeitems}")
    for name, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                        ("linewidth", linewidth)):
        if value is not None:
            setattr(OPTIONS, name, int(value))
    OPTIONS.sci_mode = sci_mode


class _Formatter:
    """One width and one style (integer-like, fixed or scientific) for all printed elements."""

    def __init__(self, values: np.ndarray, floating: bool):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        if not floating:
            self.max_width = max([1] + [len(str(v)) for v in values.reshape(-1).tolist()])
        else:
            flat = values.reshape(-1)
            finite = flat[np.isfinite(flat) & (flat != 0)]
            if finite.size:
                self._fit(finite)
        if OPTIONS.sci_mode is not None:
            self.sci_mode = OPTIONS.sci_mode

    def _fit(self, finite: np.ndarray) -> None:
        magnitudes = np.abs(finite)
        lo, hi = float(magnitudes.min()), float(magnitudes.max())
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        wide_range = hi / lo > 1000.0 or hi > 1.0e8
        p = OPTIONS.precision
        if wide_range or (not self.int_mode and lo < 1.0e-4):
            self.sci_mode = True
            texts = [f"{v:.{p}e}" for v in finite.tolist()]
        elif self.int_mode:
            texts = [f"{v:.0f}." for v in finite.tolist()]
        else:
            texts = [f"{v:.{p}f}" for v in finite.tolist()]
        self.max_width = max(len(s) for s in texts)

    def width(self) -> int:
        return self.max_width

    def format(self, value) -> str:
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:{self.max_width}.{OPTIONS.precision}e}"
        elif self.int_mode:
            text = f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        else:
            text = f"{value:.{OPTIONS.precision}f}"
        return text.rjust(self.max_width)


def _host_values(t) -> np.ndarray:
    """``t``'s elements on the host: floats widened to float64 (exact), others as they are."""
    arr = t.numpy(force=True)
    return arr.astype(np.float64) if t.dtype.is_floating_point else arr


def _corners(t, dim: int, cut: tuple[bool, ...]) -> np.ndarray:
    """The host values of the first and last ``edgeitems`` of every cut dim: all a summary shows."""
    if dim == t.ndim:
        return _host_values(t)
    if not cut[dim]:
        return _corners(t, dim + 1, cut)
    e = OPTIONS.edgeitems
    parts = (t.narrow(dim, 0, e), t.narrow(dim, t.shape[dim] - e, e))
    return np.concatenate([_corners(p, dim + 1, cut) for p in parts], axis=dim)


def _vector_str(values: np.ndarray, indent: int, cut: bool, fmt: _Formatter) -> str:
    per_line = max(1, (OPTIONS.linewidth - indent) // (fmt.width() + 2))
    items = [fmt.format(v) for v in values.tolist()]
    if cut:
        e = OPTIONS.edgeitems
        items = items[:e] + [" ..."] + items[e:]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested_str(values: np.ndarray, indent: int, cut: tuple[bool, ...], fmt: _Formatter) -> str:
    if values.ndim == 0:
        return fmt.format(values.item())
    if values.ndim == 1:
        return _vector_str(values, indent, cut[0], fmt)
    rows = [_nested_str(row, indent + 1, cut[1:], fmt) for row in values]
    if cut[0]:
        e = OPTIONS.edgeitems
        rows = rows[:e] + ["..."] + rows[e:]
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _add_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    parts = [text]
    last_line = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > OPTIONS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line += len(suffix) + 2
    return "".join(parts) + ")"


def tensor_repr(t) -> str:
    """``tensor(...)`` text for ``t``, as ``repr(torch_tensor)`` would print the same values."""
    prefix = "tensor("
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    default = _dt.get_default_dtype()
    if t.numel() == 0:
        if t.ndim != 1:
            suffixes.append(f"size={tuple(t.shape)}")
        if t.dtype is not default:
            suffixes.append(f"dtype=neurarust.{t.dtype.name}")
        body = "[]"
    else:
        if t.dtype not in (default, _dt.int64, _dt.bool_):
            suffixes.append(f"dtype=neurarust.{t.dtype.name}")
        summarize = t.numel() > OPTIONS.threshold
        cut = tuple(summarize and s > 2 * OPTIONS.edgeitems for s in t.shape)
        values = _corners(t.detach(), 0, cut)  # printing records nothing in a graph
        fmt = _Formatter(values, t.dtype.is_floating_point)
        body = _nested_str(values, len(prefix), cut, fmt)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, len(prefix))
