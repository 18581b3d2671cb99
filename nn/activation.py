"""Activation modules: each wraps its ``nn.functional`` form.

    >>> import neurarust as nr
    >>> nr.nn.LeakyReLU(0.1)(nr.tensor([-1.0, 2.0])).tolist()
    [-0.10000000149011612, 2.0]
"""
from __future__ import annotations

from typing import Any

from neurarust.creation import full
from neurarust.errors import ArgumentError, ShapeError
from neurarust.tensor import Tensor

from . import functional as F
from .module import Module
from .parameter import Parameter


class _Simple(Module):
    """An activation with no state but an ``inplace`` flag (accepted, results are new tensors)."""

    _fn = staticmethod(F.relu)

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_Simple):
    """max(x, 0).

    >>> import neurarust as nr
    >>> nr.nn.ReLU()(nr.tensor([-1.0, 1.0])).tolist()
    [0.0, 1.0]
    """

    _fn = staticmethod(F.relu)


class ReLU6(_Simple):
    """min(max(x, 0), 6).

    >>> import neurarust as nr
    >>> nr.nn.ReLU6()(nr.tensor([-1.0, 7.0])).tolist()
    [0.0, 6.0]
    """

    _fn = staticmethod(F.relu6)


class SiLU(_Simple):
    """x * sigmoid(x).

    >>> import neurarust as nr
    >>> nr.nn.SiLU()(nr.zeros(1)).tolist()
    [0.0]
    """

    _fn = staticmethod(F.silu)


class Mish(_Simple):
    """x * tanh(softplus(x)).

    >>> import neurarust as nr
    >>> nr.nn.Mish()(nr.zeros(1)).tolist()
    [0.0]
    """

    _fn = staticmethod(F.mish)


class Tanh(Module):
    """tanh(x).

    >>> import neurarust as nr
    >>> nr.nn.Tanh()(nr.zeros(1)).tolist()
    [0.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class Sigmoid(Module):
    """1 / (1 + exp(-x)).

    >>> import neurarust as nr
    >>> nr.nn.Sigmoid()(nr.zeros(1)).tolist()
    [0.5]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class LeakyReLU(Module):
    """x where positive, ``negative_slope * x`` elsewhere.

    >>> import neurarust as nr
    >>> nr.nn.LeakyReLU(0.5)(nr.tensor([-2.0])).tolist()
    [-1.0]
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """x where positive, ``alpha * (exp(x) - 1)`` elsewhere.

    >>> import neurarust as nr
    >>> nr.nn.ELU()(nr.tensor([0.0, 1.5])).tolist()
    [0.0, 1.5]
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """Gaussian error linear unit; ``approximate="tanh"`` for the tanh form.

    >>> import neurarust as nr
    >>> nr.nn.GELU(approximate="tanh")
    GELU(approximate='tanh')
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta, linear above ``threshold``.

    >>> import neurarust as nr
    >>> nr.nn.Softplus(beta=2.0)(nr.tensor([40.0])).tolist()
    [40.0]
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """x clamped to [min_val, max_val].

    >>> import neurarust as nr
    >>> nr.nn.Hardtanh(-2.0, 2.0)(nr.tensor([-5.0, 5.0])).tolist()
    [-2.0, 2.0]
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if max_val <= min_val:  # PyTorch checks at construction, not at the first call
            raise ArgumentError(f"max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class _SoftmaxBase(Module):
    _fn = staticmethod(F.softmax)

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """exp(x) / sum(exp(x)) along ``dim``.

    >>> import neurarust as nr
    >>> nr.nn.Softmax(dim=-1)(nr.zeros(2)).tolist()
    [0.5, 0.5]
    """

    _fn = staticmethod(F.softmax)


class LogSoftmax(_SoftmaxBase):
    """log(softmax(x)) along ``dim``.

    >>> import neurarust as nr
    >>> nr.nn.LogSoftmax(dim=0)(nr.zeros(1)).tolist()
    [0.0]
    """

    _fn = staticmethod(F.log_softmax)


class PReLU(Module):
    """Leaky ReLU with learned slopes: one shared (``num_parameters=1``) or one per channel (dim 1),
    initialised to ``init``.

    >>> import neurarust as nr
    >>> nr.nn.PReLU()(nr.tensor([-4.0, 1.0])).tolist()
    [-1.0, 1.0]
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(full((num_parameters,), init, device=device, dtype=dtype))

    def reset_parameters(self) -> None:
        """Set every slope back to ``init``."""
        from . import init as _init

        _init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


# -- more activations (PyTorch's reprs: Hardswish/Hardsigmoid show no inplace, the shrinks a bare lambd) --
class Hardswish(_Simple):
    """x * relu6(x + 3) / 6.

    >>> import neurarust as nr
    >>> nr.nn.Hardswish()(nr.tensor([0.0, 4.0])).tolist()
    [0.0, 4.0]
    """

    _fn = staticmethod(F.hardswish)

    def extra_repr(self) -> str:
        return ""


class Hardsigmoid(_Simple):
    """relu6(x + 3) / 6.

    >>> import neurarust as nr
    >>> nr.nn.Hardsigmoid()(nr.tensor([0.0, 4.0])).tolist()
    [0.5, 1.0]
    """

    _fn = staticmethod(F.hardsigmoid)

    def extra_repr(self) -> str:
        return ""


class SELU(_Simple):
    """scale * elu(x, alpha) with SELU's fixed constants.

    >>> import neurarust as nr
    >>> nr.nn.SELU(inplace=True)
    SELU(inplace=True)
    """

    _fn = staticmethod(F.selu)


class CELU(Module):
    """x where positive, ``alpha * (exp(x / alpha) - 1)`` elsewhere.

    >>> import neurarust as nr
    >>> nr.nn.CELU(2.0)
    CELU(alpha=2.0)
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.celu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class LogSigmoid(Module):
    """log(sigmoid(x)).

    >>> import neurarust as nr
    >>> nr.nn.LogSigmoid()(nr.tensor([-100.0])).tolist()
    [-100.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.logsigmoid(input)


class Softsign(Module):
    """x / (1 + |x|).

    >>> import neurarust as nr
    >>> nr.nn.Softsign()(nr.tensor([1.0])).tolist()
    [0.5]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.softsign(input)


class Tanhshrink(Module):
    """x - tanh(x).

    >>> import neurarust as nr
    >>> nr.nn.Tanhshrink()(nr.zeros(1)).tolist()
    [0.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanhshrink(input)


class Hardshrink(Module):
    """x where ``|x| > lambd``, 0 elsewhere.

    >>> import neurarust as nr
    >>> nr.nn.Hardshrink(1.0)(nr.tensor([0.5, 2.0])).tolist()
    [0.0, 2.0]
    """

    _fn = staticmethod(F.hardshrink)

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """x moved ``lambd`` toward 0, and 0 where ``|x| <= lambd``.

    >>> import neurarust as nr
    >>> nr.nn.Softshrink(1.0)(nr.tensor([0.5, 3.0])).tolist()
    [0.0, 2.0]
    """

    _fn = staticmethod(F.softshrink)


class Threshold(Module):
    """x where ``x > threshold``, ``value`` elsewhere.

    >>> import neurarust as nr
    >>> nr.nn.Threshold(0.1, 20.0)(nr.tensor([0.0, 1.0])).tolist()
    [20.0, 1.0]
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.threshold(input, self.threshold, self.value)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}" + (", inplace=True" if self.inplace else "")


class GLU(Module):
    """Gated linear unit over ``dim``: ``a * sigmoid(b)`` for the two halves of the input.

    >>> import neurarust as nr
    >>> nr.nn.GLU()(nr.tensor([2.0, 0.0])).tolist()
    [1.0]
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(_SoftmaxBase):
    """softmax(-x) along ``dim``.

    >>> import neurarust as nr
    >>> nr.nn.Softmin(dim=0)(nr.zeros(2)).tolist()
    [0.5, 0.5]
    """

    _fn = staticmethod(F.softmin)


class Softmax2d(Module):
    """Softmax over the channels (dim -3) of a 3-D (C, H, W) or 4-D (N, C, H, W) input.

    >>> import neurarust as nr
    >>> nr.nn.Softmax2d()(nr.zeros(2, 1, 1)).flatten().tolist()
    [0.5, 0.5]
    """

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (3, 4):
            raise ShapeError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D instead")
        return F.softmax(input, -3)


class RReLU(Module):
    """Randomized leaky ReLU: a slope from U(lower, upper) per negative element in training, their
    mean in eval.

    >>> import neurarust as nr
    >>> nr.nn.RReLU(0.25, 0.75).eval()(nr.tensor([-2.0, 1.0])).tolist()
    [-1.0, 1.0]
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False) -> None:
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")
