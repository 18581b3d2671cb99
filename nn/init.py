"""``neurarust.nn.init``: PyTorch's weight initialisers. Each fills its tensor in place under
``no_grad`` (so it works on parameters) from NeuraRust's Philox generator (``generator=`` or the
device's default) and returns it::

    >>> import neurarust as nr
    >>> w = nr.nn.Parameter(nr.empty(3, 4))
    >>> _ = nr.nn.init.xavier_uniform_(w)
    >>> bool((w.abs() <= (6 / 7) ** 0.5).all()), w.requires_grad
    (True, True)
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable

from neurarust.autograd.grad_mode import no_grad
from neurarust.errors import ArgumentError, ShapeError
from neurarust.tensor import Tensor

_LINEAR = {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "sigmoid"}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    >>> import neurarust as nr
    >>> nr.nn.init.calculate_gain("relu"), nr.nn.init.calculate_gain("tanh")
    (1.4142135623730951, 1.6666666666666667)
    """
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ArgumentError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ArgumentError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ShapeError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ArgumentError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with U(a, b).

    >>> import neurarust as nr
    >>> nr.nn.init.uniform_(nr.empty(2), 3.0, 3.0).tolist()
    [3.0, 3.0]
    """
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with N(mean, std**2).

    >>> import neurarust as nr
    >>> nr.nn.init.normal_(nr.empty(2), 1.0, 0.0).tolist()
    [1.0, 1.0]
    """
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``.

    >>> import neurarust as nr
    >>> nr.nn.init.constant_(nr.empty(2), 0.5).tolist()
    [0.5, 0.5]
    """
    with no_grad():
        return tensor.fill_(val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0.

    >>> import neurarust as nr
    >>> nr.nn.init.zeros_(nr.empty(2)).tolist()
    [0.0, 0.0]
    """
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1.

    >>> import neurarust as nr
    >>> nr.nn.init.ones_(nr.empty(2)).tolist()
    [1.0, 1.0]
    """
    return constant_(tensor, 1.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-d tensor with the identity (ones on the diagonal).

    >>> import neurarust as nr
    >>> nr.nn.init.eye_(nr.empty(2, 3)).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    if tensor.ndim != 2:
        raise ShapeError("Only tensors with 2 dimensions are supported")
    with no_grad():
        tensor.fill_(0.0)
        tensor.diagonal().fill_(1.0)
    return tensor


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3-, 4- or 5-d convolution weight so the convolution is the identity (per group).

    >>> import neurarust as nr
    >>> nr.nn.init.dirac_(nr.empty(1, 1, 3)).tolist()
    [[[0.0, 1.0, 0.0]]]
    """
    if tensor.ndim not in (3, 4, 5):
        raise ShapeError("Only tensors with 3, 4, or 5 dimensions are supported")
    out_per_group = tensor.shape[0] // groups
    if tensor.shape[0] % groups:
        raise ArgumentError("dim 0 must be divisible by groups")
    centre = tuple(s // 2 for s in tensor.shape[2:])
    with no_grad():
        tensor.fill_(0.0)
        for g in range(groups):
            for d in range(min(out_per_group, tensor.shape[1])):
                tensor[(g * out_per_group + d, d) + centre] = 1.0
    return tensor


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    >>> import neurarust as nr
    >>> bool(nr.nn.init.xavier_uniform_(nr.empty(2, 4)).abs().max() <= 1.0)
    True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot normal: N(0, std**2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    >>> import neurarust as nr
    >>> nr.nn.init.xavier_normal_(nr.empty(2, 4)).shape
    neurarust.Size([2, 4])
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: Any = None) -> Tensor:
    """He uniform: U(-b, b) with ``b = gain * sqrt(3 / fan)``.

    >>> import neurarust as nr
    >>> bool(nr.nn.init.kaiming_uniform_(nr.empty(4, 3), nonlinearity="relu").abs().max() <= 2 ** 0.5)
    True
    """
    if 0 in tensor.shape:
        return tensor
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator: Any = None) -> Tensor:
    """He normal: N(0, std**2) with ``std = gain / sqrt(fan)``.

    >>> import neurarust as nr
    >>> nr.nn.init.kaiming_normal_(nr.empty(4, 3), mode="fan_out").shape
    neurarust.Size([4, 3])
    """
    if 0 in tensor.shape:
        return tensor
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode)), generator)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator: Any = None) -> Tensor:
    """N(mean, std**2) truncated to [a, b], by inverting the normal CDF of uniform draws.

    >>> import neurarust as nr
    >>> w = nr.nn.init.trunc_normal_(nr.empty(100), a=-0.5, b=0.5)
    >>> bool((w.abs() <= 0.5).all())
    True
    """
    def cdf(x: float) -> float:
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    lo, hi = cdf((a - mean) / std), cdf((b - mean) / std)
    with no_grad():
        tensor.uniform_(2 * lo - 1, 2 * hi - 1, generator=generator)
        tensor.erfinv_()
        tensor.mul_(std * math.sqrt(2.0))
        tensor.add_(mean)
        tensor.clamp_(a, b)
    return tensor


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian draw, sign-corrected so
    the distribution is uniform (Saxe et al. 2013); dims after the first are flattened.

    >>> import neurarust as nr
    >>> q = nr.nn.init.orthogonal_(nr.empty(3, 3))
    >>> bool((q @ q.t() - nr.nn.init.eye_(nr.empty(3, 3))).abs().max() < 1e-5)
    True
    """
    if tensor.ndim < 2:
        raise ShapeError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    from neurarust.creation import empty
    from neurarust.registry import call

    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    with no_grad():
        flat = empty(rows, cols, dtype=tensor.dtype, device=tensor.device).normal_(0.0, 1.0, generator=generator)
        if rows < cols:
            flat = flat.t()
        q, r = call("linalg.qr", flat)
        q = q * r.diagonal().sign()
        if rows < cols:
            q = q.t()
        tensor.copy_(q.reshape(tensor.shape))
        tensor.mul_(gain)
    return tensor


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator: Any = None) -> Tensor:
    """A 2-D tensor drawn from N(0, std) with ``ceil(sparsity * rows)`` zeros in each column, at rows
    chosen at random per column (Martens 2010).

    >>> import neurarust as nr
    >>> w = nr.nn.init.sparse_(nr.empty(4, 3), sparsity=0.5)
    >>> (w == 0).sum(0).tolist()
    [2, 2, 2]
    """
    if tensor.ndim != 2:
        raise ShapeError(f"sparse_: only tensors with 2 dimensions are supported, got shape {list(tensor.shape)}")
    from neurarust.registry import call

    rows, cols = tensor.shape
    zeros_per_column = math.ceil(sparsity * rows)
    with no_grad():
        tensor.normal_(0.0, std, generator=generator)
        for col in range(cols):
            rows_to_zero = call("randperm", rows, generator=generator, device=tensor.device)[:zeros_per_column]
            tensor[rows_to_zero, col] = 0.0
    return tensor


def _deprecated(new: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """PyTorch's old name of ``new`` (without the trailing underscore): the same, with its FutureWarning."""
    old = new.__name__[:-1]

    def deprecated_init(*args: Any, **kwargs: Any) -> Tensor:
        warnings.warn(f"`nn.init.{old}` is now deprecated in favor of `nn.init.{new.__name__}`.", FutureWarning,
                      stacklevel=2)
        return new(*args, **kwargs)

    deprecated_init.__name__ = deprecated_init.__qualname__ = old
    deprecated_init.__doc__ = f"Deprecated: use :func:`{new.__name__}` (same arguments)."
    return deprecated_init


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
