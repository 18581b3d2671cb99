"""Data types and PyTorch's type-promotion rules.

A :class:`DType` names one element type and knows its NumPy, PyTorch and Triton spellings::

    >>> import neurarust as nr
    >>> nr.promote_types(nr.uint8, nr.int8)
    neurarust.int16
    >>> nr.result_type(nr.ones(3, dtype=nr.int32), 2.5)
    neurarust.float32
"""
from __future__ import annotations

import builtins
import threading
from typing import Any

import ml_dtypes
import numpy as np

from .errors import DTypeError


# This module defines ``float``, ``int`` and ``half`` as dtype aliases (as torch does), so the Python
# types are kept under other names.
_py_float, _py_int, _py_bool = builtins.float, builtins.int, builtins.bool


class DType:
    """One element type. Instances are singletons: compare with ``is`` or ``==``."""

    __slots__ = ("name", "itemsize", "np", "kind", "bits", "triton_name")

    def __init__(self, name: str, np_dtype: Any, kind: str, triton_name: str):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self.bits = 8 * self.itemsize
        self.kind = kind  # "b" bool, "u" unsigned, "i" signed, "f" floating
        self.triton_name = triton_name

    @property
    def is_floating_point(self) -> bool:
        return self.kind == "f"

    @property
    def is_signed(self) -> bool:
        return self.kind in "if"

    @property
    def is_complex(self) -> bool:
        return False

    @property
    def torch_name(self) -> str:
        return self.name

    def to_torch(self):
        import torch

        return getattr(torch, self.name)

    def __repr__(self) -> str:
        return f"neurarust.{self.name}"

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))


float32 = DType("float32", np.float32, "f", "fp32")
float64 = DType("float64", np.float64, "f", "fp64")
float16 = DType("float16", np.float16, "f", "fp16")
bfloat16 = DType("bfloat16", ml_dtypes.bfloat16, "f", "bf16")
int8 = DType("int8", np.int8, "i", "i8")
uint8 = DType("uint8", np.uint8, "u", "u8")
int16 = DType("int16", np.int16, "i", "i16")
int32 = DType("int32", np.int32, "i", "i32")
int64 = DType("int64", np.int64, "i", "i64")
bool_ = DType("bool", np.bool_, "b", "i1")

ALL_DTYPES = (float32, float64, float16, bfloat16, int8, uint8, int16, int32, int64, bool_)
FLOAT_DTYPES = (float32, float64, float16, bfloat16)
INT_DTYPES = (int8, uint8, int16, int32, int64)
NUMERIC_DTYPES = FLOAT_DTYPES + INT_DTYPES

# PyTorch spellings that name the same types.
float = float32
double = float64
half = float16
short = int16
int = int32
long = int64

_BY_NAME = {d.name: d for d in ALL_DTYPES}
_BY_NUMPY = {d.np: d for d in ALL_DTYPES}


def _dtype_by_name(name: str) -> DType:
    return _BY_NAME[name]


def as_dtype(obj: Any) -> DType:
    """Turn a DType, NumPy dtype, torch dtype, Python type or name into a :class:`DType`.

    >>> as_dtype("float16"), as_dtype(np.float64), as_dtype("torch.long")
    (neurarust.float16, neurarust.float64, neurarust.int64)
    """
    if isinstance(obj, DType):
        return obj
    if obj is _py_float:
        return float64
    if obj is _py_int:
        return int64
    if obj is _py_bool:
        return bool_
    if isinstance(obj, str):
        name = obj.removeprefix("torch.").removeprefix("neurarust.")
        aliases = {"float": "float32", "double": "float64", "half": "float16", "long": "int64",
                   "int": "int32", "short": "int16", "bool_": "bool"}
        name = aliases.get(name, name)
        if name in _BY_NAME:
            return _BY_NAME[name]
        raise DTypeError(f"unknown dtype {obj!r}; known: {', '.join(_BY_NAME)}")
    if type(obj).__module__ == "torch":
        return as_dtype(str(obj))
    try:
        npd = np.dtype(obj)
    except TypeError:
        raise DTypeError(f"cannot interpret {obj!r} as a dtype") from None
    if npd in _BY_NUMPY:
        return _BY_NUMPY[npd]
    raise DTypeError(f"NumPy dtype {npd} has no NeuraRust equivalent; supported: {', '.join(_BY_NAME)}")




# ----------------------------------------------------------------------------------------------
# Promotion
# ----------------------------------------------------------------------------------------------

def _category(d: DType) -> _py_int:
    return {"b": 0, "u": 1, "i": 1, "f": 2}[d.kind]


def _promote_ints(a: DType, b: DType) -> DType:
    if a.kind == b.kind:
        return a if a.bits >= b.bits else b
    unsigned, signed = (a, b) if a.kind == "u" else (b, a)
    if signed.bits > unsigned.bits:
        return signed
    return int16 if unsigned.bits == 8 else int64


def promote_types(a: DType, b: DType) -> DType:
    """The smallest dtype both ``a`` and ``b`` convert to without losing their kind (PyTorch's table).

    >>> promote_types(float16, bfloat16)
    neurarust.float32
    """
    a, b = as_dtype(a), as_dtype(b)
    if a is b:
        return a
    if a.kind == "b":
        return b
    if b.kind == "b":
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb:
        return a if ca > cb else b
    if a.kind == "f":
        if {a, b} == {float16, bfloat16}:
            return float32
        return a if a.bits >= b.bits else b
    return _promote_ints(a, b)


class _State(threading.local):
    default = float32  # every thread starts with float32; a class default reads without getattr()


_state = _State()


def get_default_dtype() -> DType:
    """The floating dtype of new tensors made from Python floats (float32 unless changed).

    >>> import neurarust as nr
    >>> nr.get_default_dtype(), nr.tensor(1.5).dtype
    (neurarust.float32, neurarust.float32)
    """
    return _state.default


def set_default_dtype(d: Any) -> None:
    """Set the default floating dtype (one of the floating dtypes), like ``torch.set_default_dtype``.
    It is per thread.

    >>> import neurarust as nr
    >>> nr.set_default_dtype(nr.float64)
    >>> nr.tensor(1.5).dtype
    neurarust.float64
    >>> nr.set_default_dtype(nr.float32)
    """
    d = as_dtype(d)
    if not d.is_floating_point:
        raise DTypeError(f"set_default_dtype needs a floating dtype, got {d}")
    _state.default = d


def scalar_dtype(value: Any) -> DType:
    """The dtype a Python scalar takes when wrapped: bool, int64 or the default float dtype.

    >>> scalar_dtype(True), scalar_dtype(3), scalar_dtype(0.5)
    (neurarust.bool, neurarust.int64, neurarust.float32)
    """
    if isinstance(value, _py_bool) or isinstance(value, np.bool_):
        return bool_
    if isinstance(value, (_py_int, np.integer)):
        return int64
    if isinstance(value, (_py_float, np.floating)):
        return get_default_dtype()
    raise DTypeError(f"unsupported scalar {value!r} of type {type(value).__name__}")


def _combine(higher: DType | None, lower: DType | None) -> DType | None:
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.is_floating_point:
        return higher
    if higher is bool_ or lower.is_floating_point:
        return promote_types(higher, lower)
    return higher


def result_type(*operands: Any) -> DType:
    """The dtype of ``op(*operands)`` under PyTorch's rules.

    Tensors with dimensions outrank 0-d tensors, which outrank Python scalars, unless a lower
    rank brings a higher category (bool < integer < floating).

    >>> import neurarust as nr
    >>> nr.result_type(nr.ones(2, dtype=nr.int8), 1000)
    neurarust.int8
    >>> nr.result_type(nr.ones(2, dtype=nr.int8), nr.tensor(1.5, dtype=nr.float64))
    neurarust.float64
    """
    first = getattr(operands[0], "dtype", None) if operands else None
    if isinstance(first, DType) and all(getattr(x, "dtype", None) is first for x in operands[1:]):
        return first  # the common case: tensors of one dtype
    dim = zero = wrapped = None
    for x in operands:
        d = getattr(x, "dtype", None)
        if isinstance(d, DType):
            if x.ndim > 0:
                dim = d if dim is None else promote_types(dim, d)
            else:
                zero = d if zero is None else promote_types(zero, d)
        else:
            d = scalar_dtype(x)
            wrapped = d if wrapped is None else promote_types(wrapped, d)
    out = _combine(dim, _combine(zero, wrapped))
    if out is None:
        raise DTypeError("result_type needs at least one operand")
    return out


# ----------------------------------------------------------------------------------------------
# finfo / iinfo
# ----------------------------------------------------------------------------------------------

class finfo:
    """Machine limits of a floating dtype, like ``torch.finfo``.

    >>> finfo(bfloat16).eps
    0.0078125
    """

    def __init__(self, dtype: Any = None):
        d = get_default_dtype() if dtype is None else as_dtype(dtype)
        if not d.is_floating_point:
            raise DTypeError(f"finfo needs a floating dtype, got {d}")
        info = ml_dtypes.finfo(d.np) if d is bfloat16 else np.finfo(d.np)
        self.dtype = d
        self.bits = d.bits
        self.eps = _py_float(info.eps)
        self.max = _py_float(info.max)
        self.min = _py_float(info.min)
        self.tiny = _py_float(info.tiny)
        self.smallest_normal = self.tiny
        # 10**-precision as a double, as torch reports it (NumPy's is rounded to the dtype).
        self.resolution = 10.0 ** -_py_int(info.precision)

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution}, min={self.min}, max={self.max}, eps={self.eps}, "
                f"smallest_normal={self.smallest_normal}, tiny={self.tiny}, dtype={self.dtype.name})")


class iinfo:
    """Limits of an integer dtype, like ``torch.iinfo``.

    >>> iinfo(int8).min, iinfo(int8).max
    (-128, 127)
    """

    def __init__(self, dtype: Any):
        d = as_dtype(dtype)
        if d.kind not in "iub":
            raise DTypeError(f"iinfo needs an integer dtype, got {d}")
        self.dtype = d
        self.bits = d.bits
        if d is bool_:
            self.min, self.max = 0, 1
        else:
            info = np.iinfo(d.np)
            self.min, self.max = _py_int(info.min), _py_int(info.max)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype.name})"
