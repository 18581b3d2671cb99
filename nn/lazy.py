"""Lazy modules: layers whose input size is read from their first input (``LazyLinear``,
``LazyConv1d/2d/3d``, ``LazyConvTranspose1d/2d/3d``, ``LazyBatchNorm1d/2d/3d``,
``LazyInstanceNorm1d/2d/3d``). Their parameters start as :class:`~neurarust.nn.UninitializedParameter`;
the first call (or a ``load_state_dict``) gives them their shapes and PyTorch's initialisation, and the
module becomes the plain layer (``LazyLinear`` a ``Linear``)::

    >>> import neurarust as nr
    >>> layer = nr.nn.LazyLinear(4)
    >>> layer(nr.zeros(2, 3)).shape, type(layer).__name__, tuple(layer.weight.shape)
    (neurarust.Size([2, 4]), 'Linear', (4, 3))

Create the optimizer after the first forward (its parameters only have shapes from then on), as in
PyTorch.
"""
from __future__ import annotations

from typing import Any

from neurarust.autograd.grad_mode import no_grad
from neurarust.errors import ArgumentError, ShapeError
from neurarust.tensor import Tensor

from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .linear import Linear
from .module import Module
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d,
                            _InstanceNorm)
from .parameter import UninitializedBuffer, UninitializedParameter

__all__ = ["LazyModuleMixin", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d",
           "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]

_UNINITIALIZED = (UninitializedParameter, UninitializedBuffer)


class LazyModuleMixin:
    """Infers the parameters' shapes from the first input (``initialize_parameters``), then becomes
    ``cls_to_become``. Listed first among the bases, before the layer it defers."""

    cls_to_become: type | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters)

    def has_uninitialized_params(self) -> bool:
        """Whether a parameter or buffer still has no shape."""
        tensors = list(self._parameters.values()) + list(self._buffers.values())
        return any(isinstance(t, _UNINITIALIZED) for t in tensors)

    def initialize_parameters(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not infer its parameters")

    def _infer_parameters(self, module: Module, args: tuple) -> None:
        self.initialize_parameters(*args)
        if self.has_uninitialized_params():
            raise ArgumentError(f"{type(self).__name__}: module {self._get_name()} has not been fully initialized")
        self._initialize_hook.remove()
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become


def _materialize(module: Module, shapes: dict) -> None:
    """Give each uninitialized parameter or buffer named in ``shapes`` its shape."""
    for name, shape in shapes.items():
        t = getattr(module, name, None)
        if isinstance(t, _UNINITIALIZED):
            t.materialize(shape)


class LazyLinear(LazyModuleMixin, Linear):
    """A ``Linear`` whose ``in_features`` is the last dim of its first input.

    >>> import neurarust as nr
    >>> nr.nn.LazyLinear(2)(nr.zeros(5, 7)).shape
    neurarust.Size([5, 2])
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__(0, 0, False)
        self.out_features = out_features
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def initialize_parameters(self, input: Tensor, *args: Any) -> None:
        if self.has_uninitialized_params():
            with no_grad():
                self.in_features = input.shape[-1]
                _materialize(self, {"weight": (self.out_features, self.in_features), "bias": (self.out_features,)})
                self.reset_parameters()


class _LazyConv(LazyModuleMixin):
    """A convolution whose ``in_channels`` is its first input's channel dim (dim 1, or 0 unbatched)."""

    def _defer(self, out_channels: int, bias: bool, device: Any, dtype: Any) -> None:
        self.out_channels = out_channels
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def initialize_parameters(self, input: Tensor, *args: Any) -> None:
        if not self.has_uninitialized_params():
            return
        if input.ndim not in (self._dims + 1, self._dims + 2):
            raise ShapeError(f"{type(self).__name__}: expected a {self._dims + 1}-D (unbatched) or "
                             f"{self._dims + 2}-D (batched) input, got shape {list(input.shape)}")
        with no_grad():
            self.in_channels = input.shape[1 if input.ndim == self._dims + 2 else 0]
            if self.in_channels % self.groups:
                raise ArgumentError(f"{type(self).__name__}: in_channels ({self.in_channels}) must be divisible "
                                    f"by groups ({self.groups})")
            channels = ((self.in_channels, self.out_channels // self.groups) if self._transposed else
                        (self.out_channels, self.in_channels // self.groups))
            _materialize(self, {"weight": channels + tuple(self.kernel_size), "bias": (self.out_channels,)})
            self.reset_parameters()


class _LazyConvNd(_LazyConv):
    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False, padding_mode)
        self._defer(out_channels, bias, device, dtype)


class _LazyConvTransposeNd(_LazyConv):
    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False, dilation, padding_mode)
        self._defer(out_channels, bias, device, dtype)


def _lazy_conv(base: type, doc: str) -> type:
    lazy = _LazyConvTransposeNd if base._transposed else _LazyConvNd
    return type(f"Lazy{base.__name__}", (lazy, base), {"cls_to_become": base, "__doc__": doc,
                                                        "__module__": __name__})


LazyConv1d = _lazy_conv(Conv1d, """A ``Conv1d`` whose ``in_channels`` comes from its first input.

    >>> import neurarust as nr
    >>> nr.nn.LazyConv1d(4, 3)(nr.zeros(2, 5, 8)).shape
    neurarust.Size([2, 4, 6])
    """)
LazyConv2d = _lazy_conv(Conv2d, """A ``Conv2d`` whose ``in_channels`` comes from its first input.

    >>> import neurarust as nr
    >>> nr.nn.LazyConv2d(4, 3, padding=1)(nr.zeros(1, 3, 5, 5)).shape
    neurarust.Size([1, 4, 5, 5])
    """)
LazyConv3d = _lazy_conv(Conv3d, """A ``Conv3d`` whose ``in_channels`` comes from its first input.

    >>> import neurarust as nr
    >>> nr.nn.LazyConv3d(2, 1)(nr.zeros(1, 3, 2, 2, 2)).shape
    neurarust.Size([1, 2, 2, 2, 2])
    """)
LazyConvTranspose1d = _lazy_conv(ConvTranspose1d, """A ``ConvTranspose1d`` whose ``in_channels`` comes from its
    first input.

    >>> import neurarust as nr
    >>> nr.nn.LazyConvTranspose1d(2, 2, stride=2)(nr.zeros(1, 3, 4)).shape
    neurarust.Size([1, 2, 8])
    """)
LazyConvTranspose2d = _lazy_conv(ConvTranspose2d, """A ``ConvTranspose2d`` whose ``in_channels`` comes from its
    first input.

    >>> import neurarust as nr
    >>> nr.nn.LazyConvTranspose2d(2, 2, stride=2)(nr.zeros(1, 3, 2, 2)).shape
    neurarust.Size([1, 2, 4, 4])
    """)
LazyConvTranspose3d = _lazy_conv(ConvTranspose3d, """A ``ConvTranspose3d`` whose ``in_channels`` comes from its
    first input.

    >>> import neurarust as nr
    >>> nr.nn.LazyConvTranspose3d(1, 2, stride=2)(nr.zeros(1, 3, 1, 1, 1)).shape
    neurarust.Size([1, 1, 2, 2, 2])
    """)


class _LazyNorm(LazyModuleMixin):
    """A batch or instance norm whose ``num_features`` is its first input's channel dim."""

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__(0, eps, momentum, False, False)
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
        if affine and bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        if track_running_stats:
            from neurarust import dtype as _dt
            from neurarust.creation import tensor

            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)
            self.num_batches_tracked = tensor(0, dtype=_dt.int64, device=device)

    def initialize_parameters(self, input: Tensor, *args: Any) -> None:
        if not self.has_uninitialized_params():
            return
        unbatched = input.ndim == self._dims[0] and issubclass(self.cls_to_become, _InstanceNorm)
        with no_grad():
            self.num_features = input.shape[0 if unbatched else 1]
            shape = (self.num_features,)
            _materialize(self, {"weight": shape, "bias": shape, "running_mean": shape, "running_var": shape})
            self.reset_parameters()


def _lazy_norm(base: type, doc: str) -> type:
    return type(f"Lazy{base.__name__}", (_LazyNorm, base), {"cls_to_become": base, "__doc__": doc,
                                                             "__module__": __name__})


LazyBatchNorm1d = _lazy_norm(BatchNorm1d, """A ``BatchNorm1d`` whose ``num_features`` comes from its first input.

    >>> import neurarust as nr
    >>> nr.nn.LazyBatchNorm1d()(nr.randn(4, 3)).shape
    neurarust.Size([4, 3])
    """)
LazyBatchNorm2d = _lazy_norm(BatchNorm2d, """A ``BatchNorm2d`` whose ``num_features`` comes from its first input.

    >>> import neurarust as nr
    >>> m = nr.nn.LazyBatchNorm2d(); _ = m(nr.randn(2, 3, 2, 2)); m.num_features
    3
    """)
LazyBatchNorm3d = _lazy_norm(BatchNorm3d, """A ``BatchNorm3d`` whose ``num_features`` comes from its first input.

    >>> import neurarust as nr
    >>> nr.nn.LazyBatchNorm3d()(nr.randn(2, 3, 1, 2, 2)).shape
    neurarust.Size([2, 3, 1, 2, 2])
    """)
LazyInstanceNorm1d = _lazy_norm(InstanceNorm1d, """An ``InstanceNorm1d`` whose ``num_features`` comes from its
    first input.

    >>> import neurarust as nr
    >>> nr.nn.LazyInstanceNorm1d(affine=True)(nr.randn(2, 3, 4)).shape
    neurarust.Size([2, 3, 4])
    """)
LazyInstanceNorm2d = _lazy_norm(InstanceNorm2d, """An ``InstanceNorm2d`` whose ``num_features`` comes from its
    first input.

    >>> import neurarust as nr
    >>> nr.nn.LazyInstanceNorm2d(affine=True)(nr.randn(3, 4, 4)).shape
    neurarust.Size([3, 4, 4])
    """)
LazyInstanceNorm3d = _lazy_norm(InstanceNorm3d, """An ``InstanceNorm3d`` whose ``num_features`` comes from its
    first input.

    >>> import neurarust as nr
    >>> nr.nn.LazyInstanceNorm3d()(nr.randn(1, 2, 2, 2, 2)).shape
    neurarust.Size([1, 2, 2, 2, 2])
    """)
