"""2-D pooling over ``(N, C, H, W)``: internal entries ``max_pool2d`` (values and flat indices),
``avg_pool2d``, ``adaptive_avg_pool2d``, ``adaptive_max_pool2d``, and the averages' gradients
``avg_pool2d_backward`` / ``adaptive_avg_pool2d_backward``. ``neurarust.nn.functional`` exposes
them (1-D pools are 2-D pools over a height of one) with PyTorch's names and signatures.

One Triton kernel (``pool_triton.py``) runs them all. A max pool's gradient scatters the output
gradient to the saved indices (``scatter_add``); an average's is its own entry (the kernel scattering
``grad / divisor`` over each window), whose derivative is the average pool again.

    >>> import neurarust as nr
    >>> from neurarust.registry import call
    >>> x = nr.tensor([[[[1.0, 5.0, 2.0], [3.0, 4.0, 0.0]]]])
    >>> values, indices = call("max_pool2d", x, 2, 1)
    >>> values.tolist(), indices.tolist()
    ([[[[5.0, 5.0]]]], [[[[1, 1]]]])
    >>> call("adaptive_avg_pool2d", x, (1, 1)).tolist()
    [[[[2.5]]]]
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from neurarust import backends
from neurarust import dtype as _dt
from neurarust.errors import ArgumentError, DTypeError, ShapeError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, call, register
from neurarust.tensor import Tensor

from . import samples as S

TRITON = "neurarust.kernels.pool_triton:launch"
FLOATS = _dt.FLOAT_DTYPES
TOLERANCES = {_dt.float16: (2e-3, 2e-3), _dt.bfloat16: (1e-2, 1e-2), _dt.float32: (1e-6, 1e-6)}


def _pair(name: str, what: str, v) -> tuple:
    if not isinstance(v, (int, np.integer)) and not hasattr(v, "__iter__"):
        raise SignatureError(f"{name}(): {what} must be an int or a pair of ints, not {type(v).__name__}")
    v = (int(v),) * 2 if isinstance(v, (int, np.integer)) else tuple(int(i) for i in v)
    if len(v) == 1:
        v = v * 2
    if len(v) != 2:
        raise ArgumentError(f"{name}(): {what} must be an int or a pair of ints, got {list(v)}")
    return v


def _stride(name: str, stride, k: tuple) -> tuple:
    """The stride pair; None or an empty sequence means the kernel size, as in PyTorch."""
    if stride is None or (not isinstance(stride, int) and len(stride) == 0):
        return k
    return _pair(name, "stride", stride)


def _out_size(i: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size: a last window must start inside the input or its left padding."""
    span = d * (k - 1) + 1
    o = (i + 2 * p - span + ((s - 1) if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= i + p:
        o -= 1
    return o


class PoolGeometry:
    """A checked pooling call: taps per window, stride, padding, dilation, output size, flags."""

    def __init__(self, name: str, input, kernel_size=None, stride=None, padding=0, dilation=1, ceil_mode=False,
                 count_include_pad=True, divisor_override=None, output_size=None):
        if not isinstance(input, Tensor):
            raise SignatureError(f"{name}(): argument 'input' must be a Tensor, not {type(input).__name__}")
        if not input.dtype.is_floating_point:
            raise DTypeError(f"{name}(): expected a floating point input, got {input.dtype}")
        if input.ndim != 4:
            raise ShapeError(f"{name}(): expected a 4-D input (N, C, H, W), got {tuple(input.shape)}")
        self.name, self.include_pad, self.divisor = name, bool(count_include_pad), divisor_override
        H, W = input.shape[2:]
        self.adaptive = output_size is not None
        if self.adaptive:
            out = tuple(H if o is None else o for o, H in zip(_pair_opt(name, output_size), (H, W)))
            if any(o < 0 for o in out) or (any(o == 0 for o in out) and H * W):
                raise ArgumentError(f"{name}(): output_size must be positive, got {list(out)}")
            if 0 in tuple(input.shape[1:]):   # no element to average or take the maximum of
                raise ShapeError(f"{name}(): expected an input with non-zero sizes but for the batch dim, got "
                                 f"{tuple(input.shape)}")
            self.out = out
            self.taps = tuple(max(((o + 1) * i + n - 1) // n - (o * i) // n for o in range(n)) if n else 0
                              for i, n in zip((H, W), out))
            self.stride, self.padding, self.dilation = (1, 1), (0, 0), (1, 1)
            self.include_pad = True
            return
        k = _pair(name, "kernel_size", kernel_size)
        s = _stride(name, stride, k)
        p, d = _pair(name, "padding", padding), _pair(name, "dilation", dilation)
        if min(k + s + d) < 1 or min(p) < 0:
            raise ArgumentError(f"{name}(): kernel_size, stride and dilation must be positive and padding "
                                f"non-negative, got {list(k)}, {list(s)}, {list(d)}, {list(p)}")
        if any(pp > kk // 2 for pp, kk in zip(p, k)):   # PyTorch's rule: the kernel's size, whatever the dilation
            raise ArgumentError(f"{name}(): pad should be at most half of kernel size, got padding "
                                f"{list(p)} and kernel_size {list(k)}")
        if divisor_override is not None and int(divisor_override) == 0:
            raise ArgumentError(f"{name}(): divisor must be not zero")
        self.taps, self.stride, self.padding, self.dilation = k, s, p, d
        self.out = tuple(_out_size(i, kk, ss, pp, dd, bool(ceil_mode)) for i, kk, ss, pp, dd in zip((H, W), k, s, p, d))
        if min(self.out) < 1:
            raise ShapeError(f"{name}(): the output {list(self.out)} of input {tuple(input.shape)} and kernel "
                             f"{list(k)} is too small")

    def windows(self, H: int, W: int):
        """Per output position ``(oh, ow)``: the flat input indices of its window (data taps only)
        and the average's divisor."""
        for oh, ow in itertools.product(range(self.out[0]), range(self.out[1])):
            axes, extents = [], []
            for o, n, i, k, s, p, d in zip((oh, ow), self.out, (H, W), self.taps, self.stride, self.padding,
                                           self.dilation):
                if self.adaptive:
                    start, end = (o * i) // n, ((o + 1) * i + n - 1) // n
                    axes.append([v for v in range(start, end)])
                    extents.append(end - start)
                else:
                    start = o * s - p
                    axes.append([v for v in range(start, start + (k - 1) * d + 1, d) if 0 <= v < i])
                    extents.append(min(start + k, i + p) - start)
            flat = [h * W + w for h in axes[0] for w in axes[1]]
            if self.divisor is not None:
                div = self.divisor
            elif self.include_pad:
                div = extents[0] * extents[1]
            else:
                div = len(flat)
            yield oh, ow, np.array(flat, np.int64), div


def _pair_opt(name, v) -> tuple:
    if v is None or isinstance(v, (int, np.integer)):
        return (v, v)
    v = tuple(v)
    if len(v) == 1:
        v = v * 2
    if len(v) != 2:
        raise ArgumentError(f"{name}(): output_size must be an int or a pair, got {list(v)}")
    return v


def _is_reference(t: Tensor) -> bool:
    return backends.for_device(t._storage.device) == "reference"


def _acc(d: _dt.DType):
    return np.float64 if d is _dt.float64 else np.float32


def _wrap(arr: np.ndarray, d: _dt.DType) -> Tensor:
    return Tensor._wrap(np.ascontiguousarray(arr.astype(d.np, copy=False)), d)


# ----------------------------------------------------------------------------------------------
# Forward entries
# ----------------------------------------------------------------------------------------------

def _run_max(op: Op, geo: PoolGeometry, input: Tensor):
    shape = tuple(input.shape[:2]) + geo.out
    if _is_reference(input):
        values, indices = backends.run_reference(op.reference, input._np(), geo)
        return _wrap(values, input.dtype), _wrap(indices, _dt.int64)
    out = Tensor._empty(shape, input.dtype, input.device)
    idx = Tensor._empty(shape, _dt.int64, input.device)
    op.launcher()(0, input, out, idx, geo)
    return out, idx


def _run_avg(op: Op, geo: PoolGeometry, input: Tensor) -> Tensor:
    if _is_reference(input):
        return _wrap(backends.run_reference(op.reference, input._np().astype(_acc(input.dtype)), geo), input.dtype)
    out = Tensor._empty(tuple(input.shape[:2]) + geo.out, input.dtype, input.device)
    op.launcher()(1, input, out, None, geo)
    return out


def max_pool2d(op: Op, input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False) -> tuple[Tensor, Tensor]:
    """The max of each (dilated) window of ``(N, C, H, W)`` and its flat index ``h * W + w`` in the
    input plane, as ``torch.nn.functional.max_pool2d(..., return_indices=True)``.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> call("max_pool2d", nr.arange(16.0).reshape(1, 1, 4, 4), 2)[0].tolist()
        [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    geo = PoolGeometry(op.name, input, kernel_size, stride, padding, dilation, ceil_mode)
    return _run_max(op, geo, input)


def adaptive_max_pool2d(op: Op, input: Tensor, output_size) -> tuple[Tensor, Tensor]:
    """Max pooling to ``output_size`` (window ``o`` spans ``[floor(o*I/O), ceil((o+1)*I/O))``), with
    flat indices, as ``torch.nn.functional.adaptive_max_pool2d(..., return_indices=True)``.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> call("adaptive_max_pool2d", nr.arange(6.0).reshape(1, 1, 2, 3), (1, 2))[0].tolist()
        [[[[4.0, 5.0]]]]
    """
    return _run_max(op, _adaptive_geometry(op.name, input, output_size), input)


def avg_pool2d(op: Op, input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """The mean of each window of ``(N, C, H, W)``, as ``torch.nn.functional.avg_pool2d``.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> call("avg_pool2d", nr.ones(1, 1, 2, 2), 2, padding=1, count_include_pad=False).tolist()
        [[[[1.0, 1.0], [1.0, 1.0]]]]
    """
    geo = PoolGeometry(op.name, input, kernel_size, stride, padding, 1, ceil_mode, count_include_pad,
                       divisor_override)
    return _run_avg(op, geo, input)


def adaptive_avg_pool2d(op: Op, input: Tensor, output_size) -> Tensor:
    """Average pooling to ``output_size``, as ``torch.nn.functional.adaptive_avg_pool2d``.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> call("adaptive_avg_pool2d", nr.arange(6.0).reshape(1, 1, 2, 3), 1).tolist()
        [[[[2.5]]]]
    """
    return _run_avg(op, _adaptive_geometry(op.name, input, output_size), input)


def _adaptive_geometry(name: str, input, output_size) -> PoolGeometry:
    """An adaptive pool's geometry; ``output_size`` None (rather than a dim's None) is no size at all."""
    if output_size is None:
        raise SignatureError(f"{name}(): output_size must be an int or a pair of ints (or None per dim), not None")
    return PoolGeometry(name, input, output_size=output_size)


def _reference_max(x: np.ndarray, geo: PoolGeometry):
    """The maximum of each window and the flat input index ``h * W + w`` of its first maximum (a
    window's first NaN wins). Fixed windows copy each tap's strided view into one contiguous
    ``(taps, N, C, *out)`` stack, so that everything after is whole-array work on long rows;
    adaptive windows, whose sizes vary, are gathered (``_gathered_max``)."""
    if geo.adaptive:
        return _gathered_max(x, geo)
    stack, valid, base, offsets = _tap_stack(x, geo)
    best = np.maximum.reduce(stack, axis=0)                 # NaN propagates; padding reads -inf
    hits = stack == best
    nan = np.isnan(best)
    if nan.any():
        hits |= nan & np.isnan(stack)
    if valid is not None:
        hits &= valid[:, None, None]
    # The first hit: tap t scores taps - t where it hits, so the best score is the first hit's (a
    # window without a real element, which only padding and dilation can make, scores 0: its index
    # is -1, as the kernel's).
    taps = len(stack)
    weights = np.arange(taps, 0, -1, dtype=np.uint8 if taps < 256 else np.int64)[:, None, None, None, None]
    score = np.maximum.reduce(hits.view(np.uint8) * weights, axis=0)
    index = base + offsets[(taps - score) % taps]
    return best, index if valid is None else np.where(score > 0, index, -1)


def _tap_stack(x: np.ndarray, geo: PoolGeometry):
    """``(stack, valid, base, offsets)``: per tap (row-major) the input it reads at each output,
    ``(taps, N, C, oh, ow)`` (-inf in the padding); where that is a real element, ``(taps, oh, ow)``
    (None without padding); and the flat input index of tap ``t`` at each output,
    ``base + offsets[t]``."""
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo.taps, geo.stride, geo.padding, geo.dilation
    oh, ow = geo.out
    right_h = max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - H - ph)
    right_w = max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - W - pw)
    padded = bool(ph or pw or right_h or right_w)
    if padded:
        x = np.pad(x, ((0, 0), (0, 0), (ph, right_h), (pw, right_w)), constant_values=-np.inf)
    stack = np.empty((kh * kw, N, C, oh, ow), x.dtype)
    rows, cols = np.arange(oh) * sh - ph, np.arange(ow) * sw - pw
    valid = np.empty((kh * kw, oh, ow), bool) if padded else None
    for t, (i, j) in enumerate(itertools.product(range(kh), range(kw))):
        stack[t] = x[:, :, i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw]
        if padded:
            h, w = rows + i * dh, cols + j * dw
            valid[t] = ((h >= 0) & (h < H))[:, None] & ((w >= 0) & (w < W))[None, :]
    offsets = np.array([i * dh * W + j * dw for i, j in itertools.product(range(kh), range(kw))], np.int64)
    return stack, valid, rows[:, None] * W + cols[None, :], offsets


def _gathered_max(x: np.ndarray, geo: PoolGeometry):
    """Every window gathered at once, ``(N, C, windows, taps)``: windows cut short fill their missing
    taps with -inf; a window's first NaN wins, else its first maximum (as PyTorch)."""
    N, C, H, W = x.shape
    windows = [flat for _, _, flat, _ in geo.windows(H, W)]
    taps = max((len(f) for f in windows), default=0)
    idx = np.zeros((len(windows), taps), np.int64)
    valid = np.zeros((len(windows), taps), bool)
    for j, flat in enumerate(windows):
        idx[j, :len(flat)], valid[j, :len(flat)] = flat, True
    v = x.reshape(N, C, H * W)[:, :, idx]
    nan = np.isnan(v) & valid
    first = np.where(nan.any(-1), np.argmax(nan, -1), np.argmax(np.where(nan | ~valid, -np.inf, v), -1))
    values = np.take_along_axis(v, first[..., None], -1)[..., 0]
    indices = idx[np.arange(len(windows)), first]
    return values.reshape((N, C) + geo.out), indices.reshape((N, C) + geo.out)


def _reference_avg(x: np.ndarray, geo: PoolGeometry) -> np.ndarray:
    N, C, H, W = x.shape
    out = np.empty((N, C) + geo.out, x.dtype)
    plane = x.reshape(N, C, H * W)
    for oh, ow, flat, div in geo.windows(H, W):
        out[:, :, oh, ow] = plane[:, :, flat].sum(-1) / div
    return out


def _max_backward(grad, input, result, disjoint: bool = False, empty_windows: bool = False):
    """Each output's gradient sent to its maximum's input element, summed where windows share one;
    where no two windows overlap the indices of a plane are distinct, and a plain scatter does. A
    window that holds padding only (dilation can make one) has no element to send to: its index is
    -1, and its gradient is dropped."""
    from neurarust.creation import zeros

    g, idx = grad[0], result[1]
    N, C = input.shape[:2]
    plane = input.shape[2] * input.shape[3]
    if empty_windows:
        real = call("ge", idx, 0)
        g, idx, disjoint = call("where", real, g, 0.0), call("where", real, idx, 0), False
    flat = zeros(N, C, plane, dtype=g.dtype, device=g.device)
    out = call("scatter" if disjoint else "scatter_add", flat, 2, idx.reshape(N, C, -1), g.reshape(N, C, -1))
    return (out.reshape(tuple(input.shape)),)


def _max_pool_backward(grad, input, kernel_size, stride, padding, dilation, result):
    k, d = _pair("max_pool2d", "kernel_size", kernel_size), _pair("max_pool2d", "dilation", dilation)
    s, p = _stride("max_pool2d", stride, k), _pair("max_pool2d", "padding", padding)
    disjoint = all(ss >= dd * (kk - 1) + 1 for kk, ss, dd in zip(k, s, d))
    # Only padding with dilation can leave a window without an element of the input.
    return _max_backward(grad, input, result, disjoint, empty_windows=any(pp and dd > 1 for pp, dd in zip(p, d)))


def _avg_backward(grad, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    return (call("avg_pool2d_backward", grad, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                 divisor_override),)


def _adaptive_avg_backward(grad, input, output_size):
    return (call("adaptive_avg_pool2d_backward", grad, input),)


# ----------------------------------------------------------------------------------------------
# The averages' gradients
# ----------------------------------------------------------------------------------------------

def _run_avg_backward(op: Op, geo: PoolGeometry, grad_output: Tensor, input: Tensor) -> Tensor:
    if not isinstance(grad_output, Tensor) or tuple(grad_output.shape) != tuple(input.shape[:2]) + geo.out:
        got = tuple(grad_output.shape) if isinstance(grad_output, Tensor) else type(grad_output).__name__
        raise ShapeError(f"{op.name}(): expected grad_output of shape {tuple(input.shape[:2]) + geo.out}, got {got}")
    if _is_reference(grad_output):
        g = grad_output._np().astype(_acc(grad_output.dtype))
        r = backends.run_reference(op.reference, g, tuple(input.shape), geo)
        return _wrap(r, grad_output.dtype)
    from neurarust.creation import zeros

    wide = _dt.float64 if grad_output.dtype is _dt.float64 else _dt.float32
    buf = zeros(*input.shape, dtype=wide, device=grad_output.device)
    op.launcher()(2, buf, grad_output, None, geo)
    return buf if wide is grad_output.dtype else call("cast", buf, grad_output.dtype)


def avg_pool2d_backward(op: Op, grad_output: Tensor, input: Tensor, kernel_size, stride=None, padding=0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: int | None = None) -> Tensor:
    """The input gradient of ``avg_pool2d`` (only ``input``'s shape is read): each output's gradient
    divided by its window's divisor, summed over the windows that hold an input element.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> call("avg_pool2d_backward", nr.ones(1, 1, 1, 1), nr.ones(1, 1, 2, 2), 2).tolist()
        [[[[0.25, 0.25], [0.25, 0.25]]]]
    """
    geo = PoolGeometry(op.name, input, kernel_size, stride, padding, 1, ceil_mode, count_include_pad,
                       divisor_override)
    return _run_avg_backward(op, geo, grad_output, input)


def adaptive_avg_pool2d_backward(op: Op, grad_output: Tensor, input: Tensor) -> Tensor:
    """The input gradient of ``adaptive_avg_pool2d`` to ``grad_output``'s size (only ``input``'s shape
    is read).

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> call("adaptive_avg_pool2d_backward", nr.ones(1, 1, 1, 1), nr.ones(1, 1, 1, 2)).tolist()
        [[[[0.5, 0.5]]]]
    """
    if not isinstance(grad_output, Tensor) or grad_output.ndim != 4:
        raise ShapeError(f"{op.name}(): expected a 4-D grad_output")
    geo = PoolGeometry(op.name, input, output_size=tuple(grad_output.shape[2:]))
    return _run_avg_backward(op, geo, grad_output, input)


def _reference_avg_backward(g: np.ndarray, shape: tuple, geo: PoolGeometry) -> np.ndarray:
    N, C, H, W = shape
    out = np.zeros((N, C, H * W), g.dtype)
    for oh, ow, flat, div in geo.windows(H, W):
        np.add.at(out, (slice(None), slice(None), flat), (g[:, :, oh, ow] / div)[..., None])
    return out.reshape(shape)


def _avg_backward_backward(grad, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                           divisor_override):
    return (call("avg_pool2d", grad, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override),)


def _adaptive_avg_backward_backward(grad, grad_output):
    return (call("adaptive_avg_pool2d", grad, tuple(grad_output.shape[2:])),)


# ----------------------------------------------------------------------------------------------
# Oracles, samples, errors, entries
# ----------------------------------------------------------------------------------------------

def _torch(name: str, **fixed):
    def fn(*args, **kwargs):
        import torch
        import torch.nn.functional as F

        halves = (torch.float16, torch.bfloat16)
        half = next((a.dtype for a in args if isinstance(a, torch.Tensor) and a.dtype in halves), None)
        up = [a.float() if isinstance(a, torch.Tensor) and half is not None else a for a in args]
        out = _TORCH_FNS[name](F, *up, **kwargs, **fixed)
        if half is None:
            return out
        if isinstance(out, tuple):
            return tuple(o.to(half) if o.is_floating_point() else o for o in out)
        return out.to(half)

    fn.__name__ = name
    return fn


def _torch_avg_backward(F, g, x, *args):
    x = x.detach().clone().requires_grad_()
    import torch

    with torch.enable_grad():
        return torch.autograd.grad(F.avg_pool2d(x, *args), x, g, create_graph=True)[0]


def _torch_adaptive_avg_backward(F, g, x):
    x = x.detach().clone().requires_grad_()
    import torch

    with torch.enable_grad():
        return torch.autograd.grad(F.adaptive_avg_pool2d(x, tuple(g.shape[2:])), x, g, create_graph=True)[0]


_TORCH_FNS = {
    "max_pool2d": lambda F, *a, **k: F.max_pool2d(*a, **k, return_indices=True),
    "adaptive_max_pool2d": lambda F, *a, **k: F.adaptive_max_pool2d(*a, **k, return_indices=True),
    "avg_pool2d": lambda F, *a, **k: F.avg_pool2d(*a, **k),
    "adaptive_avg_pool2d": lambda F, *a, **k: F.adaptive_avg_pool2d(*a, **k),
    "avg_pool2d_backward": _torch_avg_backward,
    "adaptive_avg_pool2d_backward": _torch_adaptive_avg_backward,
}


def _distinct(d: _dt.DType, shape, seed: int) -> np.ndarray:
    """Values without ties (a max's index is then unique), exact in ``d``."""
    n = math.prod(shape)
    return (np.random.default_rng(seed).permutation(n).reshape(shape) - n // 2) / 8.0


def _max_samples(d):
    yield Sample((_distinct(d, (2, 2, 5, 6), 0), 3, 2, 1), name="stride_padding")
    yield Sample((S.TensorSpec(_distinct(d, (1, 3, 5, 5), 1), "transposed"), (2, 3), (1, 2), (1, 1), (2, 1), True),
                 name="dilation_ceil_noncontiguous")
    x = _distinct(d, (1, 1, 4, 4), 2)
    x[0, 0, 1, 1] = np.nan
    yield Sample((x, 2), name="nan")
    yield Sample((_distinct(d, (1, 1, 4, 5), 5), 2, 1), name="tiny_overlapping")


def _adaptive_max_samples(d):
    yield Sample((_distinct(d, (2, 2, 5, 7), 3), (3, 4)), name="uneven")
    yield Sample((_distinct(d, (1, 2, 4, 4), 4), (None, 2)), name="none_size")


def _avg_samples(d):
    v = lambda shape, seed: S.values(d, shape, seed)  # noqa: E731
    yield Sample((v((2, 2, 5, 6), 5), 3, 2, 1), name="stride_padding")
    yield Sample((S.TensorSpec(v((1, 3, 5, 5), 6), "transposed"), (2, 3), (2, 2), (1, 1), True, False),
                 name="ceil_exclude_pad_noncontiguous")
    yield Sample((v((1, 1, 4, 5), 7), 2, 1, 0, False, True, 3), name="divisor_override")


def _adaptive_avg_samples(d):
    yield Sample((S.values(d, (2, 2, 5, 7), 8), (3, 4)), name="uneven")
    yield Sample((S.values(d, (1, 2, 3, 3), 9), 1), name="global")


def _avg_backward_samples(d):
    v = lambda shape, seed: S.values(d, shape, seed)  # noqa: E731
    yield Sample((v((2, 2, 3, 3), 10), v((2, 2, 5, 6), 11), 3, 2, 1), name="stride_padding")
    yield Sample((v((1, 3, 3, 3), 12), v((1, 3, 5, 5), 13), (2, 3), (2, 2), (1, 1), True, False), name="ceil_exclude")
    yield Sample((v((1, 1, 2, 2), 16), v((1, 1, 4, 4), 17), 3, 2, 1, False, False), name="tiny_overlapping")


def _adaptive_avg_backward_samples(d):
    yield Sample((S.values(d, (2, 2, 3, 4), 14), S.values(d, (2, 2, 5, 7), 15)), name="uneven")
    yield Sample((S.values(d, (1, 1, 2, 3), 18), S.values(d, (1, 1, 3, 5), 19)), name="tiny")


def _errors(adaptive=False, backward=False):
    def errors():
        x = np.ones((1, 1, 4, 4))
        lead = (np.ones((1, 1, 2, 2)),) if backward else ()
        if backward:
            bad = np.ones((1, 3, 3)) if adaptive else np.ones((1, 1, 3, 3))
            yield ErrorInput(Sample((bad, x) + ((2,) if not adaptive else ())), ShapeError, "grad")
            return
        yield ErrorInput(Sample(lead + (np.ones((4, 4)), 2)), ShapeError, "4-D")
        yield ErrorInput(Sample(lead + (np.arange(16).reshape(1, 1, 4, 4), 2)), TypeError, "floating")
        if not adaptive:
            yield ErrorInput(Sample(lead + (x, 2, 1, 2)), ValueError, "half")
            yield ErrorInput(Sample(lead + (x, 5)), ShapeError, "too small")
    return errors


def _cost(sample: Sample) -> tuple[int, int]:
    arrays = [S.array_of(a) for a in sample.args if isinstance(a, (np.ndarray, S.TensorSpec))]
    return sum(2 * a.nbytes for a in arrays), sum(4 * a.size for a in arrays)


def _entry(name, frontend, reference, samples, errors, differentiable, backward):
    register(Op(name=name, kind="pool", frontend=frontend, reference=reference, triton=TRITON, dtypes=FLOATS,
                samples=samples, error_inputs=errors, tolerances=dict(TOLERANCES), cost=_cost, method=False,
                torch_name=_torch(name), attrs={"public": False}, differentiable=differentiable, backward=backward))


_entry("max_pool2d", max_pool2d, _reference_max, _max_samples, _errors(), ("input",), _max_pool_backward)
_entry("adaptive_max_pool2d", adaptive_max_pool2d, _reference_max, _adaptive_max_samples, _errors(True), ("input",),
       _max_backward)
_entry("avg_pool2d", avg_pool2d, _reference_avg, _avg_samples, _errors(), ("input",), _avg_backward)
_entry("adaptive_avg_pool2d", adaptive_avg_pool2d, _reference_avg, _adaptive_avg_samples, _errors(True), ("input",),
       _adaptive_avg_backward)
_entry("avg_pool2d_backward", avg_pool2d_backward, _reference_avg_backward, _avg_backward_samples,
       _errors(backward=True), ("grad_output",), _avg_backward_backward)
_entry("adaptive_avg_pool2d_backward", adaptive_avg_pool2d_backward, _reference_avg_backward,
       _adaptive_avg_backward_samples, _errors(True, True), ("grad_output",), _adaptive_avg_backward_backward)
