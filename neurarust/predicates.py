"""PyTorch's top-level questions about tensors and dtypes: ``is_floating_point``, ``is_complex``,
``is_signed``, ``is_nonzero``, ``is_same_size`` (the function forms of the Tensor methods),
``can_cast`` and ``typename``; and the Tensor properties PyTorch has for layouts, devices and
kinds of tensor NeuraRust never makes (``is_sparse``, ``is_quantized``, ``is_meta``, ``is_mps``, ...),
each False for every tensor (installed on ``Tensor`` when this module loads: tensor.py imports it).

    >>> import neurarust as nr
    >>> nr.is_floating_point(nr.zeros(2)), nr.can_cast(nr.float32, nr.int32)
    (True, False)
"""
from __future__ import annotations

from typing import Any

from . import dtype as _dt
from .errors import SignatureError
from .tensor import Tensor


def _tensor(name: str, input: Any) -> Tensor:
    if not isinstance(input, Tensor):
        raise SignatureError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    return input


def is_floating_point(input: Tensor) -> bool:
    """Whether ``input`` has a floating dtype (float16, bfloat16, float32, float64).

    >>> import neurarust as nr
    >>> nr.is_floating_point(nr.zeros(1)), nr.is_floating_point(nr.tensor([1]))
    (True, False)
    """
    return _tensor("is_floating_point", input).is_floating_point()


def is_complex(input: Tensor) -> bool:
    """Always False for a tensor: NeuraRust has no complex dtypes.

    >>> import neurarust as nr
    >>> nr.is_complex(nr.zeros(1))
    False
    """
    return _tensor("is_complex", input).is_complex()


def is_signed(input: Tensor) -> bool:
    """Whether ``input``'s dtype is signed (the floats and int8..int64).

    >>> import neurarust as nr
    >>> nr.is_signed(nr.zeros(1)), nr.is_signed(nr.zeros(1, dtype=nr.uint8))
    (True, False)
    """
    return _tensor("is_signed", input).is_signed()


def is_nonzero(input: Tensor) -> bool:
    """The truth value of a one-element tensor (ArgumentError for none or several).

    >>> import neurarust as nr
    >>> nr.is_nonzero(nr.tensor([1.5])), nr.is_nonzero(nr.tensor(0))
    (True, False)
    """
    return _tensor("is_nonzero", input).is_nonzero()


def is_same_size(input: Tensor, other: Tensor) -> bool:
    """Whether the two tensors have the same shape.

    >>> import neurarust as nr
    >>> nr.is_same_size(nr.zeros(2, 3), nr.ones(2, 3))
    True
    """
    return _tensor("is_same_size", input).is_same_size(other)


def can_cast(from_: Any, to: Any) -> bool:
    """Whether PyTorch's casting rules let an op write a ``from_`` result into a ``to`` tensor: no
    floating to integral, no non-bool to bool (widths do not matter: int64 casts to uint8).

    >>> import neurarust as nr
    >>> nr.can_cast(nr.int64, nr.uint8), nr.can_cast(nr.float64, nr.int8), nr.can_cast(nr.int8, nr.bool)
    (True, False, False)
    """
    a, b = _dt.as_dtype(from_), _dt.as_dtype(to)
    return _dt._category(a) <= _dt._category(b)


def typename(obj: Any) -> str:
    """A readable type name: a tensor's ``type()`` (``"neurarust.float32"``), else the dotted name of
    the object (a class) or of its class, builtins without their module.

    >>> import neurarust as nr
    >>> nr.typename(nr.zeros(1)), nr.typename(1.0), nr.typename(nr.nn.Linear(1, 1))
    ('neurarust.float32', 'float', 'neurarust.nn.linear.Linear')
    """
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", None)
    prefix = f"{module}." if module not in (None, "builtins", "__builtin__") else ""
    if hasattr(obj, "__qualname__"):
        name = obj.__qualname__
    elif hasattr(obj, "__name__"):
        name = obj.__name__
    else:
        name = type(obj).__name__
    return prefix + name


# Tensor properties of torch's sparse, quantized, meta, nested and MKL-DNN tensors and of its other
# device types: NeuraRust tensors are dense, strided and on the CPU or CUDA, so each is False.
NEVER_TRUE = ("is_sparse", "is_sparse_csr", "is_quantized", "is_meta", "is_nested", "is_mkldnn", "is_xpu",
              "is_mps", "is_vulkan", "is_ipu", "is_xla", "is_mtia", "is_maia")


def _never(name: str) -> property:
    def get(self: Tensor) -> bool:
        return False

    get.__name__ = name
    return property(get, doc=f"""False for every NeuraRust tensor (torch's ``Tensor.{name}``).

        >>> import neurarust as nr
        >>> nr.zeros(2).{name}
        False
        """)


for _name in NEVER_TRUE:
    if _name not in vars(Tensor):
        setattr(Tensor, _name, _never(_name))
