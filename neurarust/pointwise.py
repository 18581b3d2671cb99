"""Elementwise functions PyTorch has that NeuraRust composes from registry ops: the inverse
hyperbolic functions ``asinh``, ``acosh``, ``atanh`` (and their ``arc*`` names), ``isneginf``,
``isposinf``, ``isreal``, ``positive`` and ``rsub``. Each runs registry ops (a Triton kernel each on
the GPU, their NumPy references on the CPU) and differentiates through them.

The inverse hyperbolics are written to stay accurate over the whole range, not as the textbook
``log(x + sqrt(x*x + 1))`` (which cancels for negative ``x``, loses small ``x`` to rounding and
overflows ``x*x`` for large ``x``): ``log1p`` forms near zero, ``log(2|x|)`` past ``1/sqrt(eps)``, and
symmetry for negative arguments. Each branch reads its input through ``where`` with a harmless value
elsewhere, so no branch that is not taken makes a NaN or infinite gradient.

    >>> import neurarust as nr
    >>> [round(v, 4) for v in nr.asinh(nr.tensor([-1.0, 0.0, 2.0])).tolist()]
    [-0.8814, 0.0, 1.4436]
"""
from __future__ import annotations

import math
from typing import Any

from . import dtype as _dt
from .errors import DTypeError
from .registry import call
from .tensor import Tensor


def _floating(input: Tensor) -> Tensor:
    """``input`` in a floating dtype: integers and bools take the default float dtype (PyTorch's rule)."""
    return input if input.dtype.is_floating_point else input.to(_dt.get_default_dtype())


def _big(x: Tensor) -> float:
    """Past this magnitude ``sqrt(x*x + 1)`` is ``|x|`` in ``x``'s precision (``1/sqrt(eps)``)."""
    return 1.0 / math.sqrt(_dt.finfo(x.dtype).eps)


def _log1p_asinh(t: Tensor) -> Tensor:
    """``asinh(t)`` for ``0 <= t <= _big``: ``log1p(t + t*t / (1 + sqrt(1 + t*t)))``, written so that
    ``t = -0.0`` gives ``-0.0``."""
    s = call("sqrt", t * t + 1)
    return call("log1p", t * (t / (s + 1) + 1))


def asinh(input: Tensor) -> Tensor:
    """The inverse hyperbolic sine, accurate for every ``input`` (see the module docstring);
    integers give the default float dtype.

    >>> import neurarust as nr
    >>> [round(v, 4) for v in nr.asinh(nr.tensor([-2.0, 0.5, 1e30])).tolist()]
    [-1.4436, 0.4812, 69.7707]
    """
    x = _floating(input)
    big = _big(x)
    large = call("abs", x) > big
    negative = call("logical_and", x < 0, call("logical_not", large))
    positive = call("logical_not", call("logical_or", large, negative))
    pos = _log1p_asinh(call("where", positive, x, 0.0))
    neg = -_log1p_asinh(call("where", negative, -x, 0.0))
    far = call("where", large, x, big)
    far = call("sign", far) * (call("log", call("abs", far)) + math.log(2.0))
    return call("where", large, far, call("where", negative, neg, pos))


def acosh(input: Tensor) -> Tensor:
    """The inverse hyperbolic cosine (NaN below 1), accurate near 1 and for large ``input``:
    ``log1p(t + sqrt(t * (t + 2)))`` with ``t = input - 1``, ``log(2 * input)`` past ``1/sqrt(eps)``.
    Integers give the default float dtype.

    >>> import neurarust as nr
    >>> [round(v, 4) for v in nr.acosh(nr.tensor([1.0, 2.0, 1e30])).tolist()]
    [0.0, 1.317, 69.7707]
    """
    x = _floating(input)
    big = _big(x)
    large = x > big
    t = call("where", large, 0.0, x - 1)
    near = call("log1p", t + call("sqrt", t * (t + 2)))
    far = call("log", call("where", large, x, big)) + math.log(2.0)
    return call("where", large, far, near)


def atanh(input: Tensor) -> Tensor:
    """The inverse hyperbolic tangent (±inf at ±1, NaN beyond): ``log1p(2x / (1 - x)) / 2`` for
    ``x >= 0`` and its mirror image below 0, accurate near 0 and near ±1. Integers give the default
    float dtype.

    >>> import neurarust as nr
    >>> [round(v, 4) for v in nr.atanh(nr.tensor([-0.5, 0.0, 0.9])).tolist()]
    [-0.5493, 0.0, 1.4722]
    """
    x = _floating(input)
    negative = x < 0
    p = call("where", negative, 0.0, x)
    n = call("where", negative, -x, 0.0)
    pos = call("log1p", 2 * p / (1 - p)) * 0.5
    neg = call("log1p", 2 * n / (1 - n)) * -0.5
    return call("where", negative, neg, pos)


def arcsinh(input: Tensor) -> Tensor:
    """``asinh``: the inverse hyperbolic sine.

    >>> import neurarust as nr
    >>> nr.arcsinh(nr.tensor([0.0])).tolist()
    [0.0]
    """
    return asinh(input)


def arccosh(input: Tensor) -> Tensor:
    """``acosh``: the inverse hyperbolic cosine.

    >>> import neurarust as nr
    >>> nr.arccosh(nr.tensor([1.0])).tolist()
    [0.0]
    """
    return acosh(input)


def arctanh(input: Tensor) -> Tensor:
    """``atanh``: the inverse hyperbolic tangent.

    >>> import neurarust as nr
    >>> nr.arctanh(nr.tensor([0.0])).tolist()
    [0.0]
    """
    return atanh(input)


def isneginf(input: Tensor) -> Tensor:
    """Where ``input`` is negative infinity (bool; all False for integers and bools).

    >>> import neurarust as nr
    >>> nr.isneginf(nr.tensor([-float("inf"), float("inf"), 1.0])).tolist()
    [True, False, False]
    """
    if not input.dtype.is_floating_point:
        return input.new_zeros(input.shape, dtype=_dt.bool_)
    return call("eq", input, -math.inf)


def isposinf(input: Tensor) -> Tensor:
    """Where ``input`` is positive infinity (bool; all False for integers and bools).

    >>> import neurarust as nr
    >>> nr.isposinf(nr.tensor([-float("inf"), float("inf"), 1.0])).tolist()
    [False, True, False]
    """
    if not input.dtype.is_floating_point:
        return input.new_zeros(input.shape, dtype=_dt.bool_)
    return call("eq", input, math.inf)


def isreal(input: Tensor) -> Tensor:
    """Where ``input`` is real: everywhere (bool), NaN included, as every NeuraRust dtype is real.

    >>> import neurarust as nr
    >>> nr.isreal(nr.tensor([1.0, float("nan")])).tolist()
    [True, True]
    """
    return input.new_ones(input.shape, dtype=_dt.bool_)


def positive(input: Tensor) -> Tensor:
    """``input`` itself (``+input``); bool tensors raise DTypeError, as in PyTorch.

    >>> import neurarust as nr
    >>> x = nr.tensor([1, -2]); nr.positive(x) is x
    True
    """
    if input.dtype is _dt.bool_:
        raise DTypeError("positive: the `+` operator on a bool tensor is not supported")
    return input


def rsub(input: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """``other - alpha * input``: subtraction with the operands swapped.

    >>> import neurarust as nr
    >>> nr.rsub(nr.tensor([1.0, 2.0]), 5, alpha=2).tolist()
    [3.0, 1.0]
    """
    if alpha == 1:
        return call("sub", other, input)
    return call("sub", other, input, alpha=alpha)
