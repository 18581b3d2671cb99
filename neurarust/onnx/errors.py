"""Errors of ``neurarust.onnx``, all :class:`~neurarust.errors.OnnxError` (a ``ValueError``).

    >>> from neurarust.onnx.errors import UnsupportedOnnxError
    >>> e = UnsupportedOnnxError({"Loop": ["loop_0"], "NonZero": ["nz", "nz_1"]})
    >>> sorted(e.ops)
    ['Loop', 'NonZero']
"""
from __future__ import annotations

from neurarust.errors import OnnxError

__all__ = ["OnnxError", "UnsupportedOnnxError"]


class UnsupportedOnnxError(OnnxError):
    """A model using ops (or attribute values) NeuraRust does not implement: every one is listed at
    once, with the nodes that use it. ``ops`` maps each op type to its node names and ``reasons``
    names unsupported attribute values."""

    def __init__(self, ops: dict[str, list[str]], reasons: list[str] | None = None):
        self.ops, self.reasons = dict(ops), list(reasons or [])
        lines = []
        if self.ops:
            lines.append(f"the model uses {len(self.ops)} ONNX op type(s) NeuraRust does not implement: "
                         + "; ".join(f"{op} (node{'s' if len(n) > 1 else ''} {_names(n)})"
                                     for op, n in sorted(self.ops.items())))
        lines += self.reasons
        lines.append("docs/onnx.md lists the supported ops (neurarust.onnx.supported_ops())")
        super().__init__("\n".join(lines))


def _names(nodes: list[str], most: int = 5) -> str:
    shown = ", ".join(repr(n) for n in nodes[:most])
    return shown + (f" and {len(nodes) - most} more" if len(nodes) > most else "")
