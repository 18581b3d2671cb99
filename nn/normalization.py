"""Normalization layers: ``LayerNorm``, ``RMSNorm``, ``GroupNorm``, ``BatchNorm1d``/``2d``/``3d``,
``SyncBatchNorm``, ``InstanceNorm1d``/``2d``/``3d``, with PyTorch's parameters, buffers
(``running_mean``, ``running_var``, ``num_batches_tracked``) and state_dict keys. Each runs one fused
Triton kernel forward and one backward (``kernels/norm.py``), but for ``SyncBatchNorm`` across
processes, which composes ops around an all_reduce of the statistics::

    >>> import neurarust as nr
    >>> bn = nr.nn.BatchNorm1d(3)
    >>> bn(nr.randn(4, 3)).shape, sorted(bn.state_dict())
    (neurarust.Size([4, 3]), ['bias', 'num_batches_tracked', 'running_mean', 'running_var', 'weight'])
"""
from __future__ import annotations

from typing import Sequence

from neurarust import dtype as _dt
from neurarust import registry
from neurarust.autograd import grad_mode
from neurarust.autograd.function import Function
from neurarust.creation import ones, tensor, zeros
from neurarust.errors import ShapeError
from neurarust.tensor import Tensor

from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


def _affine(module: Module, shape: tuple, weight: bool, bias: bool, device, dtype) -> None:
    """``weight`` (ones) and ``bias`` (zeros) of ``shape``, or registered as None."""
    if weight:
        module.weight = Parameter(ones(*shape, device=device, dtype=dtype))
    else:
        module.register_parameter("weight", None)
    if weight and bias:
        module.bias = Parameter(zeros(*shape, device=device, dtype=dtype))
    else:
        module.register_parameter("bias", None)


class _NormBase(Module):
    """Per-channel affine and running statistics shared by batch and instance norm."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine(self, (num_features,), affine, affine and bias, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=_dt.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _upgrade_state_dict(self, state_dict: dict, prefix: str, version: int | None) -> None:
        # num_batches_tracked came with PyTorch's version 2 of these modules: a checkpoint without it
        # (older, converted, or a plain dict with no version) keeps the module's own count, as PyTorch.
        key = prefix + "num_batches_tracked"
        if (version is None or version < 2) and self.track_running_stats and key not in state_dict:
            state_dict[key] = self.num_batches_tracked if self.num_batches_tracked is not None \
                else tensor(0, dtype=_dt.int64)

    def _check_input_dim(self, input: Tensor) -> None:
        dims = self._dims
        if input.ndim not in dims:
            raise ShapeError(f"{type(self).__name__}: expected {' or '.join(f'{d}D' for d in dims)} input, "
                             f"got {input.ndim}D input")

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    _dims: tuple = ()

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # a cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.item())
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if keep else None, self.running_var if keep else None,
                            self.weight, self.bias, use_batch, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalization of ``(N, C)`` or ``(N, C, L)`` inputs per channel.

    >>> import neurarust as nr
    >>> nr.nn.BatchNorm1d(2, momentum=None)
    BatchNorm1d(2, eps=1e-05, momentum=None, affine=True, bias=True, track_running_stats=True)
    """

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of ``(N, C, H, W)`` inputs per channel.

    >>> import neurarust as nr
    >>> bn = nr.nn.BatchNorm2d(2).eval()
    >>> bn(nr.ones(1, 2, 2, 2)).shape
    neurarust.Size([1, 2, 2, 2])
    """

    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalization of ``(N, C, D, H, W)`` inputs per channel.

    >>> import neurarust as nr
    >>> nr.nn.BatchNorm3d(2)(nr.randn(2, 2, 1, 2, 2)).shape
    neurarust.Size([2, 2, 1, 2, 2])
    """

    _dims = (5,)


class _AllReduceSum(Function):
    """``all_reduce(SUM)`` of a copy of ``t`` over ``group``, differentiable: the gradient of every
    rank's sum is the sum of the ranks' gradients, so the backward all-reduces the gradient too."""

    @staticmethod
    def forward(ctx, t: Tensor, group) -> Tensor:
        from neurarust import distributed as dist

        ctx.group = group
        out = t.clone()
        dist.all_reduce(out, group=group)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        from neurarust import distributed as dist

        grad = grad.clone()
        dist.all_reduce(grad, group=ctx.group)
        return grad, None


def _sync_batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,
                     running_var: Tensor | None, eps: float, momentum: float, group) -> Tensor:
    """Batch norm in training mode with the statistics of the whole ``group``'s batch: each rank's
    per-channel count, sum and centred sum of squares (its own mean taken out first, so no
    cancellation) combined in float64 by one differentiable all_reduce, then the element-wise
    normalization with framework ops (autograd gives every gradient; the all_reduce's backward
    all-reduces the two per-channel gradient sums)."""
    C, ndim = input.shape[1], input.ndim
    dims = [0, *range(2, ndim)]
    count = input.numel() // C
    per_channel = [1, C] + [1] * (ndim - 2)
    compute = input.dtype if input.dtype in (_dt.float32, _dt.float64) else _dt.float32
    x = input.to(compute)
    local_mean = x.sum(dims) / max(count, 1)                          # zeros for an empty share
    centred = x - local_mean.reshape(per_channel)
    m, m2 = local_mean.to(_dt.float64), (centred * centred).sum(dims).to(_dt.float64)
    counts = zeros(1, dtype=_dt.float64, device=input.device) + count
    total = _AllReduceSum.apply(registry.call("cat", [m * count, m2 + m * m * count, counts]), group)
    n = total[2 * C:]
    mean64 = total[:C] / n
    var64 = (total[C:2 * C] / n - mean64 * mean64).clamp(min=0.0)     # biased: normalizes
    mean, var = mean64.to(compute), var64.to(compute)
    out = (x - mean.reshape(per_channel)) * (var + eps).rsqrt().reshape(per_channel)
    if weight is not None:
        out = out * weight.to(compute).reshape(per_channel)
    if bias is not None:
        out = out + bias.to(compute).reshape(per_channel)
    with grad_mode.no_grad():
        if running_mean is not None:
            running_mean.copy_((running_mean * (1 - momentum) + mean64 * momentum).to(running_mean.dtype))
        if running_var is not None:
            unbiased = var64 * n / (n - 1)
            running_var.copy_((running_var * (1 - momentum) + unbiased * momentum).to(running_var.dtype))
    return out.to(input.dtype)


class SyncBatchNorm(_BatchNorm):
    """Batch normalization of ``(N, C, *)`` inputs whose training statistics cover the batches of
    every process of ``process_group`` (the default group when None), as ``torch.nn.SyncBatchNorm``.

    In training mode with an initialized process group of more than one process, each rank's
    per-channel count, sum and sum of squares are all-reduced before normalizing, and the backward
    all-reduces the gradients of those sums, so outputs, gradients and running statistics are those
    of one BatchNorm over the ranks' concatenated batches (each rank holding its share of the
    weight gradient, which DistributedDataParallel then averages). Without a process group, with one
    process, or in eval mode it is exactly ``BatchNorm``. Every rank must call it in each step (the
    all_reduce waits for all). Use :meth:`convert_sync_batchnorm` to convert a model's BatchNorms;
    PyTorch's state_dict keys, so checkpoints exchange with ``torch.nn.SyncBatchNorm``.

    >>> import neurarust as nr
    >>> bn = nr.nn.SyncBatchNorm(2)
    >>> bn
    SyncBatchNorm(2, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    >>> bn.eps = 0.0
    >>> bn(nr.tensor([[1.0, 2.0], [3.0, 6.0]])).tolist(), bn.running_mean.tolist()
    ([[-1.0, -1.0], [1.0, 1.0]], [0.20000000298023224, 0.4000000059604645])
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, device=None, dtype=None, *,
                 bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim < 2:
            raise ShapeError(f"SyncBatchNorm: expected at least 2D input (got {input.ndim}D input)")
        if input.shape[1] == 0:
            raise ShapeError("SyncBatchNorm: the number of input channels should be non-zero")

    def _world_size(self) -> int:
        """The process group's size when statistics are to be synchronized, else 1."""
        from neurarust import distributed as dist

        if not dist.is_initialized():
            return 1
        return dist.get_world_size(self.process_group)

    def forward(self, input: Tensor) -> Tensor:
        if not self.training or self._world_size() == 1:
            return super().forward(input)
        self._check_input_dim(input)
        if input.shape[1] != self.num_features:
            raise ShapeError(f"SyncBatchNorm: expected input with {self.num_features} channels, got input of shape "
                             f"{list(input.shape)}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # a cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.item())
        keep = self.track_running_stats
        return _sync_batch_norm(input, self.weight, self.bias, self.running_mean if keep else None,
                                self.running_var if keep else None, self.eps, factor, self.process_group)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """``module`` with every BatchNorm (``BatchNorm1d``/``2d``/``3d``, any ``_BatchNorm``) in its
        tree replaced by a ``SyncBatchNorm`` sharing its parameters and buffers and keeping its
        training flag, as PyTorch's; a BatchNorm given itself comes back as a new module.

        >>> import neurarust as nr
        >>> net = nr.nn.Sequential(nr.nn.Conv2d(1, 2, 3), nr.nn.BatchNorm2d(2))
        >>> nr.nn.SyncBatchNorm.convert_sync_batchnorm(net)[1]
        SyncBatchNorm(2, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
        """
        output = module
        if isinstance(module, _BatchNorm):
            output = cls(module.num_features, module.eps, module.momentum, module.affine,
                         module.track_running_stats, process_group, bias=module.bias is not None)
            if module.affine:
                with grad_mode.no_grad():
                    output.weight = module.weight
                    output.bias = module.bias
            output.running_mean = module.running_mean
            output.running_var = module.running_var
            output.num_batches_tracked = module.num_batches_tracked
            output.training = module.training
            if hasattr(module, "qconfig"):
                output.qconfig = module.qconfig
        for name, child in module.named_children():
            output.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return output


class _InstanceNorm(_NormBase):
    """Each sample's channel normalized on its own, over an input of ``_dims`` (unbatched or batched);
    no affine and no running statistics unless asked, as PyTorch."""

    _dims: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        unbatched = input.ndim == self._dims[0]
        x = input.unsqueeze(0) if unbatched else input
        out = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                              self.training or not self.track_running_stats,
                              self.momentum if self.momentum is not None else 0.0, self.eps)
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of ``(N, C, L)`` (or unbatched ``(C, L)``) inputs.

    >>> import neurarust as nr
    >>> nr.nn.InstanceNorm1d(2, eps=0.0)(nr.tensor([[1.0, 3.0], [0.0, 2.0]])).tolist()
    [[-1.0, 1.0], [-1.0, 1.0]]
    """

    _dims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) inputs: each sample's
    channel on its own; no affine and no running statistics unless asked, as PyTorch.

    >>> import neurarust as nr
    >>> nr.nn.InstanceNorm2d(3)(nr.randn(2, 3, 4, 4)).shape
    neurarust.Size([2, 3, 4, 4])
    """

    _dims = (3, 4)


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of ``(N, C, D, H, W)`` (or unbatched ``(C, D, H, W)``) inputs.

    >>> import neurarust as nr
    >>> nr.nn.InstanceNorm3d(3, affine=True)
    InstanceNorm3d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=False)
    """

    _dims = (4, 5)


class LayerNorm(Module):
    """Layer normalization over the trailing ``normalized_shape`` dims, with an element-wise affine.

    >>> import neurarust as nr
    >>> nr.nn.LayerNorm(4)
    LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        _affine(self, shape, elementwise_affine, bias, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(Module):
    """RMS normalization ``x / sqrt(mean(x**2) + eps) * weight`` over the trailing dims (``eps`` None:
    the input dtype's machine epsilon).

    >>> import neurarust as nr
    >>> nr.nn.RMSNorm([2, 3])
    RMSNorm((2, 3), eps=None, elementwise_affine=True)
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float | None = None,
                 elementwise_affine: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        _affine(self, shape, elementwise_affine, False, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Group normalization of ``(N, C, ...)`` over ``num_groups`` groups of channels, with a
    per-channel affine.

    >>> import neurarust as nr
    >>> nr.nn.GroupNorm(2, 4)(nr.randn(3, 4, 5)).shape
    neurarust.Size([3, 4, 5])
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device=None,
                 dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups:
            raise ShapeError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        _affine(self, (num_channels,), affine, affine and bias, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.bias is not None}"


class LocalResponseNorm(Module):
    """``functional.local_response_norm``: each element over ``(k + alpha * the mean of squares of
    size neighbouring channels) ** beta``.

    >>> import neurarust as nr
    >>> nr.nn.LocalResponseNorm(2)
    LocalResponseNorm(2, alpha=0.0001, beta=0.75, k=1.0)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def _cross_map_windows(size: int, channels: int):
    """PyTorch's legacy CrossMapLRN2d windows as ``(C, C)`` 0/1 matrices: ``forward[c, j]`` when channel
    ``j``'s square enters channel ``c``'s scale (its running-sum loop never drops channel 0 once the
    window has passed it), ``backward[c, j]`` when ``j``'s ratio enters ``c``'s gradient (a window of
    ``size`` channels offset by ``size - (size - 1) // 2``). Both are reproduced, so the values and
    the gradients are PyTorch's (the gradient is not the forward's exact derivative, as there)."""
    import numpy as np

    pre = int((size - 1) / 2 + 1)
    forward = np.zeros((channels, channels))
    forward[0, :min(pre, channels)] = 1
    for c in range(1, channels):
        forward[c] = forward[c - 1]
        if c < channels - pre + 1:
            forward[c, c + pre - 1] += 1
        if c > pre:
            forward[c, c - pre] -= 1
    inverse = int(size - (size - 1) / 2)
    backward = np.zeros((channels, channels))
    for c in range(channels):
        lo, hi = max(c - inverse, 0), min(c + size - inverse, channels)
        backward[c, lo:hi] = 1
    return forward, backward


def _mix_channels(t: Tensor, matrix: Tensor) -> Tensor:
    """``out[:, c] = sum_j matrix[c, j] * t[:, j]`` for ``(N, C, H, W)``."""
    return registry.call("matmul", t.permute(0, 2, 3, 1), matrix.t()).permute(0, 3, 1, 2)


class _CrossMapLRN2dFunction(Function):
    @staticmethod
    def forward(ctx, input: Tensor, size: int, alpha: float, beta: float, k: float) -> Tensor:
        forward, backward = (tensor(m, dtype=input.dtype, device=input.device)
                             for m in _cross_map_windows(size, input.shape[1]))
        scale = _mix_channels(input * input, forward) * (alpha / size) + k
        out = input * scale ** -beta
        ctx.save_for_backward(input, out, scale, backward)
        ctx.constants = (size, alpha, beta)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        input, out, scale, backward = ctx.saved_tensors
        size, alpha, beta = ctx.constants
        ratio = _mix_channels(grad * out / scale, backward)
        return scale ** -beta * grad - input * ratio * (2 * alpha * beta / size), None, None, None, None


class CrossMapLRN2d(Module):
    """PyTorch's legacy (Lua Torch) cross-channel LRN over ``(N, C, H, W)``: ``x / (k + alpha / size *
    sum of x**2 over the neighbouring channels) ** beta``, with PyTorch's own channel windows, values and
    gradients (they differ from :class:`LocalResponseNorm`'s: its running sum keeps channel 0 in every
    later window, and an even ``size`` spans ``size - 1`` channels).

    >>> import neurarust as nr
    >>> lrn = nr.nn.CrossMapLRN2d(3, alpha=1.0, beta=1.0, k=0.0)
    >>> lrn, [round(v, 4) for v in lrn(nr.ones(1, 2, 1, 1)).flatten().tolist()]
    (CrossMapLRN2d(3, alpha=1.0, beta=1.0, k=0.0), [1.5, 1.5])
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor) or input.ndim != 4:
            got = f"{input.ndim}D" if isinstance(input, Tensor) else type(input).__name__
            raise ShapeError(f"CrossMapLRN2d: Expected input to be 4D, got {got} instead.")
        return _CrossMapLRN2dFunction.apply(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
