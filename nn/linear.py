"""``Identity``, ``Linear``, ``Bilinear``, ``Flatten``, ``Unflatten``, with PyTorch's default
initialisation (Kaiming-uniform weights, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) biases)::

    >>> import neurarust as nr
    >>> fc = nr.nn.Linear(4, 2)
    >>> fc(nr.ones(3, 4)).shape, fc
    (neurarust.Size([3, 2]), Linear(in_features=4, out_features=2, bias=True))
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from neurarust.creation import empty
from neurarust.tensor import Tensor

from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter



def _weight_and_bias(module: Module, weight_shape: tuple, bias: bool, device, dtype) -> None:
    """Uninitialised ``weight`` and (optional) ``bias`` of ``weight_shape[0]`` outputs, then the
    module's own ``reset_parameters``."""
    module.weight = Parameter(empty(*weight_shape, device=device, dtype=dtype))
    if bias:
        module.bias = Parameter(empty(weight_shape[0], device=device, dtype=dtype))
    else:
        module.register_parameter("bias", None)
    module.reset_parameters()

class Identity(Module):
    """Returns its input unchanged (arguments are accepted and ignored).

    >>> import neurarust as nr
    >>> nr.nn.Identity(54, unused=True)(nr.ones(1)).tolist()
    [1.0]
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


def _uniform_bias(bias: Tensor, fan_in: int) -> None:
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    init.uniform_(bias, -bound, bound)


class Linear(Module):
    """``y = x @ weight.T + bias`` with ``weight`` (out_features, in_features).

    >>> import neurarust as nr
    >>> nr.nn.Linear(3, 2, bias=False).weight.shape
    neurarust.Size([2, 3])
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        _weight_and_bias(self, (out_features, in_features), bias, device, dtype)

    def reset_parameters(self) -> None:
        """PyTorch's default: Kaiming-uniform with a=sqrt(5) (bound 1/sqrt(fan_in)) and a uniform bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            _uniform_bias(self.bias, self.in_features)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """``y = x1 @ weight[o] @ x2 + bias[o]`` for each output ``o``; weight (out, in1, in2).

    >>> import neurarust as nr
    >>> nr.nn.Bilinear(2, 3, 4)(nr.ones(5, 2), nr.ones(5, 3)).shape
    neurarust.Size([5, 4])
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        _weight_and_bias(self, (out_features, in1_features, in2_features), bias, device, dtype)

    def reset_parameters(self) -> None:
        """U(-1/sqrt(in1_features), 1/sqrt(in1_features)) for weight and bias, as PyTorch."""
        bound = 1.0 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Flatten(Module):
    """Flatten dims ``start_dim``..``end_dim`` into one.

    >>> import neurarust as nr
    >>> nr.nn.Flatten()(nr.zeros(2, 3, 4)).shape
    neurarust.Size([2, 12])
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``.

    >>> import neurarust as nr
    >>> nr.nn.Unflatten(1, (3, 4))(nr.zeros(2, 12)).shape
    neurarust.Size([2, 3, 4])
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
