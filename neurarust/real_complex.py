"""PyTorch's complex-number API on real tensors (NeuraRust has no complex dtypes), as torch
answers it for a real tensor: ``conj``, ``conj_physical``, ``resolve_conj``, ``resolve_neg`` and
``real`` give the input itself, ``is_conj``/``is_neg`` are False, ``angle`` is 0 or pi (NaN for NaN,
its gradient zero), and ``imag`` raises. Importing the module also gives ``Tensor`` the methods
``conj``, ``conj_physical``, ``conj_physical_``, ``angle`` and the properties ``real``/``imag``.

    >>> import neurarust as nr
    >>> x = nr.tensor([1.0, -2.0])
    >>> nr.conj(x) is x, nr.angle(x).tolist()
    (True, [0.0, 3.1415927410125732])
"""
from __future__ import annotations

import math
from typing import Any

from . import dtype as _dt
from .errors import DTypeError, SignatureError
from .tensor import Tensor


def _tensor(name: str, input: Any) -> Tensor:
    if not isinstance(input, Tensor):
        raise SignatureError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    return input


def conj(input: Tensor) -> Tensor:
    """The input itself: a real tensor is its own conjugate.

    >>> import neurarust as nr
    >>> x = nr.ones(2); nr.conj(x) is x
    True
    """
    return _tensor("conj", input)


def conj_physical(input: Tensor) -> Tensor:
    """The input itself (nothing to conjugate, as ``torch.conj_physical`` of a real tensor).

    >>> import neurarust as nr
    >>> x = nr.ones(2); nr.conj_physical(x) is x
    True
    """
    return _tensor("conj_physical", input)


def conj_physical_(input: Tensor) -> Tensor:
    """In-place :func:`conj_physical`: nothing changes; returns the input.

    >>> import neurarust as nr
    >>> x = nr.ones(2); nr.conj_physical_(x) is x
    True
    """
    return _tensor("conj_physical_", input)


def resolve_conj(input: Tensor) -> Tensor:
    """The input itself: no tensor is a lazy conjugate view.

    >>> import neurarust as nr
    >>> x = nr.ones(2); nr.resolve_conj(x) is x
    True
    """
    return _tensor("resolve_conj", input).resolve_conj()


def resolve_neg(input: Tensor) -> Tensor:
    """The input itself: no tensor is a lazy negated view.

    >>> import neurarust as nr
    >>> x = nr.ones(2); nr.resolve_neg(x) is x
    True
    """
    return _tensor("resolve_neg", input).resolve_neg()


def is_conj(input: Tensor) -> bool:
    """False: there are no conjugate views.

    >>> import neurarust as nr
    >>> nr.is_conj(nr.ones(2))
    False
    """
    return _tensor("is_conj", input).is_conj()


def is_neg(input: Tensor) -> bool:
    """False: there are no negated views.

    >>> import neurarust as nr
    >>> nr.is_neg(nr.ones(2))
    False
    """
    return _tensor("is_neg", input).is_neg()


def real(input: Tensor) -> Tensor:
    """The input itself: a real tensor's real part.

    >>> import neurarust as nr
    >>> x = nr.ones(2); nr.real(x) is x
    True
    """
    return _tensor("real", input)


def imag(input: Tensor) -> Tensor:
    """Raises DTypeError, as torch does for every non-complex tensor.

    >>> import neurarust as nr
    >>> nr.imag(nr.ones(2))
    Traceback (most recent call last):
        ...
    neurarust.errors.DTypeError: imag is not implemented for tensors with non-complex dtypes (got neurarust.float32)
    """
    raise DTypeError(f"imag is not implemented for tensors with non-complex dtypes "
                     f"(got {_tensor('imag', input).dtype})")


def angle(input: Tensor) -> Tensor:
    """The argument of each element as a complex number: pi where negative, 0 where not (-0.0 and
    +inf included), NaN for NaN. Integer inputs give the default float dtype. Differentiable with a
    zero gradient, as torch's for real inputs.

    >>> import neurarust as nr
    >>> nr.angle(nr.tensor([2, -1, 0])).tolist()
    [0.0, 3.1415927410125732, 0.0]
    """
    x = _tensor("angle", input)
    d = x.dtype if x.dtype.is_floating_point else _dt.get_default_dtype()
    x = x.to(d)
    # clamp keeps NaN (and maps +-inf to +-1), so ``* 0`` adds NaN only at NaN and carries a zero gradient
    return (x < 0).to(d) * math.pi + x.clamp(-1.0, 1.0) * 0.0


def _imag_property(self: Tensor) -> Tensor:
    return imag(self)


def _real_property(self: Tensor) -> Tensor:
    return self


# The Tensor methods of the functions above (``real``/``imag`` are properties, as in torch).
for _name, _fn in (("conj", conj), ("conj_physical", conj_physical), ("conj_physical_", conj_physical_),
                   ("angle", angle)):
    if _name not in vars(Tensor):
        setattr(Tensor, _name, _fn)
if "real" not in vars(Tensor):
    Tensor.real = property(_real_property, doc="The tensor itself: a real tensor is its own real part.")
    Tensor.imag = property(_imag_property, doc="Raises DTypeError: a real tensor has no imaginary part.")
