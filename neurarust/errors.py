"""The NeuraRust error hierarchy.

Every error the framework raises for bad input is a ``NeuraRustError`` and also an instance of the
built-in exception a Python user would expect, so ``except ValueError`` keeps working::

    >>> import neurarust as nr
    >>> try:
    ...     nr.zeros(2, 3) + nr.zeros(4)
    ... except ValueError as e:
    ...     print(type(e).__name__)
    ShapeError
"""
from __future__ import annotations


class NeuraRustError(Exception):
    """Base class of every error NeuraRust raises on purpose."""


class ShapeError(NeuraRustError, ValueError):
    """Shapes that cannot be broadcast, viewed or multiplied together."""


class DTypeError(NeuraRustError, TypeError):
    """A dtype an op does not support, or a cast that PyTorch would refuse."""


class DeviceError(NeuraRustError, RuntimeError):
    """Tensors on different devices, or a device that is not available."""


class IndexOutOfRangeError(NeuraRustError, IndexError):
    """An index or dimension outside a tensor's bounds."""


class SignatureError(NeuraRustError, TypeError):
    """A call with arguments that do not fit the function: unknown keywords, missing operands."""


class ArgumentError(NeuraRustError, ValueError):
    """A bad non-tensor argument (a negative size, an unknown mode, ...)."""


class OutOfMemoryError(NeuraRustError, RuntimeError):
    """A device allocation failed."""


class AutogradError(NeuraRustError, RuntimeError):
    """A gradient computation that cannot run: a graph freed by an earlier backward, a tensor needed
    by backward modified in place, backward of a tensor that does not require grad."""


class AutocastError(NeuraRustError, RuntimeError):
    """An op that is unsafe to autocast was called inside an autocast region (see docs/amp.md)."""


class GradScalerError(NeuraRustError, RuntimeError):
    """A GradScaler call out of order for an optimizer (``unscale_`` twice, or after ``step``)."""


class DerivativeNotImplementedError(AutogradError, NotImplementedError):
    """An op with no derivative declared was asked for one."""


class LayoutError(NeuraRustError, RuntimeError):
    """A tensor layout NeuraRust does not have: every tensor is dense (strided), so what needs a sparse
    one (``SparseAdam.step``, which PyTorch runs on sparse gradients only) raises this."""


class DistributedError(NeuraRustError, RuntimeError):
    """A process group that cannot start, a collective that failed or timed out (a peer rank died or
    never arrived), or ranks that disagree (DistributedDataParallel's model check)."""


class OnnxError(NeuraRustError, ValueError):
    """An ONNX model that cannot be read or run: malformed or truncated bytes, a dangling input, a
    missing initializer, or ops and attributes NeuraRust does not implement (see docs/onnx.md)."""


class LinAlgError(NeuraRustError, RuntimeError):
    """A matrix a linear-algebra function cannot factor: a singular matrix given to ``linalg.solve``,
    ``linalg.inv`` or ``linalg.lu_factor``, a non positive-definite one given to ``linalg.cholesky``
    (``torch.linalg.LinAlgError``; also ``nr.linalg.LinAlgError``)."""
