"""``neurarust.nn.utils.fusion``: fold an eval-mode BatchNorm into the convolution or linear layer
before it, for inference: ``bn(conv(x)) == fused(x)`` with one layer fewer::

    >>> import neurarust as nr
    >>> from neurarust import nn
    >>> conv, bn = nn.Conv2d(3, 4, 3).eval(), nn.BatchNorm2d(4).eval()
    >>> fused = nn.utils.fuse_conv_bn_eval(conv, bn)
    >>> x = nr.randn(1, 3, 5, 5)
    >>> bool((fused(x) - bn(conv(x))).abs().max() < 1e-5)
    True
"""
from __future__ import annotations

import copy

from neurarust.autograd.grad_mode import no_grad
from neurarust.creation import ones_like, zeros_like
from neurarust.errors import ArgumentError
from neurarust.tensor import Tensor

from .parameter import Parameter

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights"]


def _bn_scale(bn_rv: Tensor, bn_eps: float, bn_w: Tensor | None) -> Tensor:
    """Each channel's factor ``gamma / sqrt(running_var + eps)``."""
    gamma = ones_like(bn_rv) if bn_w is None else bn_w
    return gamma * (bn_rv + bn_eps).rsqrt()


def _fused_bias(bias: Tensor | None, bn_rm: Tensor, scale: Tensor, bn_b: Tensor | None) -> Tensor:
    """``(bias - running_mean) * scale + beta``, a missing bias or beta counting as zeros."""
    bias = zeros_like(bn_rm) if bias is None else bias
    return (bias - bn_rm) * scale + (0.0 if bn_b is None else bn_b)


def fuse_conv_bn_weights(conv_w: Tensor, conv_b: Tensor | None, bn_rm: Tensor, bn_rv: Tensor, bn_eps: float,
                         bn_w: Tensor | None, bn_b: Tensor | None,
                         transpose: bool = False) -> tuple[Parameter, Parameter]:
    """The weight and bias of a convolution followed by an eval-mode BatchNorm, as one convolution's
    (``transpose``: the convolution is transposed, its output channels along weight dim 1).

    >>> import neurarust as nr
    >>> w, b = fuse_conv_bn_weights(nr.ones(2, 1, 1, 1), None, nr.zeros(2), nr.ones(2), 0.0, None, None)
    >>> w.flatten().tolist(), b.tolist()
    ([1.0, 1.0], [0.0, 0.0])
    """
    with no_grad():
        scale = _bn_scale(bn_rv, bn_eps, bn_w)
        per_channel = (1, -1) if transpose else (-1, 1)
        weight = (conv_w * scale.reshape(*per_channel, *(1,) * (conv_w.ndim - 2))).to(conv_w.dtype)
        bias = _fused_bias(conv_b, bn_rm, scale, bn_b).to(conv_w.dtype if conv_b is None else conv_b.dtype)
    return (Parameter(weight, conv_w.requires_grad),
            Parameter(bias, conv_w.requires_grad if conv_b is None else conv_b.requires_grad))


def fuse_linear_bn_weights(linear_w: Tensor, linear_b: Tensor | None, bn_rm: Tensor, bn_rv: Tensor, bn_eps: float,
                           bn_w: Tensor, bn_b: Tensor) -> tuple[Parameter, Parameter]:
    """The weight and bias of a linear layer followed by an eval-mode BatchNorm1d, as one layer's.

    >>> import neurarust as nr
    >>> w, b = fuse_linear_bn_weights(nr.ones(2, 3), nr.zeros(2), nr.ones(2), nr.ones(2), 0.0, nr.ones(2),
    ...                               nr.zeros(2))
    >>> b.tolist()
    [-1.0, -1.0]
    """
    with no_grad():
        scale = _bn_scale(bn_rv, bn_eps, bn_w)
        weight = (linear_w * scale.unsqueeze(-1)).to(linear_w.dtype)
        bias = _fused_bias(linear_b, bn_rm, scale, bn_b).to(linear_w.dtype if linear_b is None else linear_b.dtype)
    return (Parameter(weight, linear_w.requires_grad),
            Parameter(bias, linear_w.requires_grad if linear_b is None else linear_b.requires_grad))


def _check_eval(name: str, layer, bn) -> None:
    if layer.training or bn.training:
        raise ArgumentError(f"{name}: fusion is only for eval mode (call .eval() on both modules first)")
    if bn.running_mean is None or bn.running_var is None:
        raise ArgumentError(f"{name}: the BatchNorm must track running statistics")


def fuse_conv_bn_eval(conv, bn, transpose: bool = False):
    """A copy of ``conv`` whose weight and bias fold in the eval-mode ``bn`` after it.

    >>> import neurarust as nr
    >>> fused = fuse_conv_bn_eval(nr.nn.Conv1d(2, 2, 1, bias=False).eval(), nr.nn.BatchNorm1d(2).eval())
    >>> fused.bias is not None
    True
    """
    _check_eval("fuse_conv_bn_eval", conv, bn)
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                    bn.eps, bn.weight, bn.bias, transpose)
    return fused


def fuse_linear_bn_eval(linear, bn):
    """A copy of ``linear`` whose weight and bias fold in the eval-mode BatchNorm1d ``bn`` after it.

    >>> import neurarust as nr
    >>> fused = fuse_linear_bn_eval(nr.nn.Linear(3, 2).eval(), nr.nn.BatchNorm1d(2).eval())
    >>> tuple(fused.weight.shape)
    (2, 3)
    """
    _check_eval("fuse_linear_bn_eval", linear, bn)
    if linear.out_features != bn.num_features:
        raise ArgumentError(f"fuse_linear_bn_eval: the linear layer's {linear.out_features} outputs must match "
                            f"the BatchNorm's {bn.num_features} features")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                      bn.eps, bn.weight, bn.bias)
    return fused
