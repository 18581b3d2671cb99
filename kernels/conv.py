"""Convolutions (1-D, 2-D, 3-D; stride, padding incl. ``"same"``/``"valid"``, dilation, groups,
bias; transposed with ``output_padding``): the internal entry ``convolution`` (ATen's signature),
and its weight gradient ``convolution_weight_grad``. ``neurarust.nn.functional`` exposes them as
``conv1d`` ... ``conv_transpose2d``.

Both run one implicit-GEMM Triton kernel (``conv_triton.py``); the input gradient of a convolution
is the transposed convolution of the output gradient (the same entry), and the weight gradient a
correlation of the input with the output gradient (the same kernel, operands re-described by strides).

    >>> import neurarust as nr
    >>> from neurarust.registry import call
    >>> x = nr.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    >>> call("convolution", x, nr.tensor([[[1.0, -1.0]]])).tolist()
    [[[-1.0, -1.0, -1.0]]]
    >>> call("convolution", x, nr.tensor([[[1.0, 1.0]]]), None, 2, 0, 1, True).tolist()
    [[[1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0]]]
"""
from __future__ import annotations

import itertools
import math
import weakref

import numpy as np

from neurarust import backends
from neurarust import dtype as _dt
from neurarust.errors import ArgumentError, DeviceError, DTypeError, ShapeError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, autocast_class, call, register
from neurarust.tensor import Tensor

from . import samples as S

TRITON = "neurarust.kernels.conv_triton:"
FLOATS = _dt.FLOAT_DTYPES
TOLERANCES = {_dt.float16: (5e-3, 5e-2), _dt.bfloat16: (3e-2, 3e-1), _dt.float32: (1e-5, 1e-4),
              _dt.float64: (1e-10, 1e-10)}


# ----------------------------------------------------------------------------------------------
# Arguments and geometry
# ----------------------------------------------------------------------------------------------

def expand(name: str, what: str, v, s: int) -> tuple:
    """``v`` (an int or a sequence of ``s`` ints) as a tuple of ``s`` ints."""
    if isinstance(v, (int, np.integer)):
        return (int(v),) * s
    v = tuple(int(i) for i in v)
    if len(v) == 1:
        return v * s
    if len(v) != s:
        raise ArgumentError(f"{name}(): expected {what} to be a single integer or a list of {s} integers, "
                            f"got {list(v)}")
    return v


def left_padding(name: str, padding, k: tuple, stride: tuple, dilation: tuple) -> tuple[tuple, tuple]:
    """(left, right) padding per spatial dim; ``"same"`` puts the odd extra element on the right, as
    PyTorch."""
    s = len(k)
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * s, (0,) * s
        if padding != "same":
            raise ArgumentError(f"{name}(): invalid padding string {padding!r}, expected 'same' or 'valid'")
        if any(st != 1 for st in stride):
            raise ArgumentError(f"{name}(): padding='same' is not supported for strided convolutions")
        total = [d * (kk - 1) for d, kk in zip(dilation, k)]
        return tuple(t // 2 for t in total), tuple(t - t // 2 for t in total)
    p = expand(name, "padding", padding, s)
    if any(v < 0 for v in p):
        raise ArgumentError(f"{name}(): negative padding is not supported, got {list(p)}")
    return p, p


class Geometry:
    """A call's checked geometry: spatial rank, stride/dilation/output_padding tuples, left/right
    padding, the output's shape; on the reference path, also the input's im2col ``columns`` when
    they are to be kept for (or were kept by) the weight gradient."""

    columns: np.ndarray | None = None
    keep_columns: bool = False

    def __init__(self, name, input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
        for what, t in (("input", input), ("weight", weight)):
            if not isinstance(t, Tensor):
                raise SignatureError(f"{name}(): argument '{what}' must be a Tensor, not {type(t).__name__}")
        if bias is not None and not isinstance(bias, Tensor):
            raise SignatureError(f"{name}(): argument 'bias' must be a Tensor or None, not {type(bias).__name__}")
        for t in (weight, bias):
            if t is not None and t.device != input.device:
                raise DeviceError(f"{name}(): expected all tensors on one device, got {input.device} and {t.device}")
        mixed = any(t is not None and t.dtype is not input.dtype for t in (weight, bias))
        if not input.dtype.is_floating_point or mixed:
            raise DTypeError(f"{name}(): expected floating point input, weight and bias of one dtype, got "
                             f"{input.dtype}, {weight.dtype}" + (f", {bias.dtype}" if bias is not None else ""))
        s = input.ndim - 2
        if s not in (1, 2, 3) or weight.ndim != input.ndim:
            raise ShapeError(f"{name}(): expected a 3-D, 4-D or 5-D input and a weight of the same rank, got "
                             f"input {tuple(input.shape)} and weight {tuple(weight.shape)}")
        groups = int(groups)
        if groups < 1:
            raise ArgumentError(f"{name}(): groups must be positive, got {groups}")
        self.s, self.groups, self.transposed = s, groups, bool(transposed)
        self.stride = expand(name, "stride", stride, s)
        self.dilation = expand(name, "dilation", dilation, s)
        if any(v < 1 for v in self.stride + self.dilation):
            raise ArgumentError(f"{name}(): stride and dilation must be positive, got {list(self.stride)} "
                                f"and {list(self.dilation)}")
        self.k = tuple(weight.shape[2:])
        C = input.shape[1]
        if self.transposed:
            if isinstance(padding, str):
                raise ArgumentError(f"{name}(): transposed convolutions take integer padding, got {padding!r}")
            self.output_padding = expand(name, "output_padding", output_padding, s)
            c_in, c_out = weight.shape[0], weight.shape[1] * groups
        else:
            self.output_padding = (0,) * s
            c_in, c_out = weight.shape[1] * groups, weight.shape[0]
        if C != c_in or weight.shape[0] % groups:
            raise ShapeError(f"{name}(): input {tuple(input.shape)} with {C} channels does not fit weight "
                             f"{tuple(weight.shape)} with groups={groups}")
        self.left, self.right = left_padding(name, padding, self.k, self.stride, self.dilation)
        if bias is not None and tuple(bias.shape) != (c_out,):
            raise ShapeError(f"{name}(): expected a bias of shape ({c_out},), got {tuple(bias.shape)}")
        sizes = self.output_sizes(input.shape[2:])
        if any(o <= 0 for o in sizes) and math.prod(input.shape):
            raise ShapeError(f"{name}(): the output {sizes} of input {tuple(input.shape)} and kernel {self.k} "
                             f"is empty: the input is too small")
        self.shape = (input.shape[0], c_out) + tuple(max(o, 0) for o in sizes)

    def output_sizes(self, sizes) -> tuple:
        if self.transposed:
            return tuple((i - 1) * st - 2 * p + d * (k - 1) + op + 1 for i, st, p, d, k, op in
                         zip(sizes, self.stride, self.left, self.dilation, self.k, self.output_padding))
        return tuple((i + pl + pr - d * (k - 1) - 1) // st + 1 for i, st, pl, pr, d, k in
                     zip(sizes, self.stride, self.left, self.right, self.dilation, self.k))


def _acc(d: _dt.DType):
    return np.float64 if d is _dt.float64 else np.float32


def _finish(arr: np.ndarray, d: _dt.DType) -> Tensor:
    return Tensor._wrap(np.ascontiguousarray(arr.astype(d.np, copy=False)), d)


def _is_reference(t: Tensor) -> bool:
    return backends.for_device(t._storage.device) == "reference"


# ----------------------------------------------------------------------------------------------
# convolution
# ----------------------------------------------------------------------------------------------

def convolution(op: Op, input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                dilation=1, transposed: bool = False, output_padding=0, groups: int = 1) -> Tensor:
    """The 1-D, 2-D or 3-D (transposed) convolution of ``input`` ``(N, C_in, *spatial)`` with ``weight``
    (``(C_out, C_in / groups, *k)``, or ``(C_in, C_out / groups, *k)`` when ``transposed``), plus
    ``bias``, as ``torch.convolution``; ``padding`` may also be ``"same"`` or ``"valid"``.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> x = nr.ones(1, 1, 3, 3)
        >>> call("convolution", x, nr.ones(1, 1, 2, 2), nr.tensor([0.5]), padding="same").tolist()
        [[[[4.5, 4.5, 2.5], [4.5, 4.5, 2.5], [2.5, 2.5, 1.5]]]]
    """
    geo = Geometry(op.name, input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)
    if _is_reference(input):
        acc = _acc(input.dtype)
        arrays = [None if t is None else t._np().astype(acc, copy=False) for t in (input, weight, bias)]
        geo.keep_columns = weight.requires_grad and not geo.transposed
        out = _finish(backends.run_reference(op.reference, *arrays, geo), input.dtype)
        if geo.columns is not None:
            _kept.put(input, geo, geo.shape[2:])
        return out
    out = Tensor._empty(geo.shape, input.dtype, input.device)
    if out.numel():
        launch = op.launcher()
        if not input.numel():
            out.zero_() if bias is None else out.copy_(bias.reshape((-1,) + (1,) * geo.s).expand(geo.shape))
        elif geo.transposed:
            launch(out, input, weight, bias, geo, transposed=True)
        else:
            launch(out, input, weight, bias, geo)
    return out


class _KeptColumns:
    """The im2col columns of the last reference convolution whose weight needs a gradient, for that
    gradient (the same windows correlated with the output gradient), so that backward does not
    rebuild them. One entry: the next such convolution replaces it, and the weight gradient that
    matches it takes it. A match is the same storage, unwritten since (its version), the same view,
    dtype and geometry."""

    def __init__(self) -> None:
        self._entry: tuple | None = None

    @staticmethod
    def _key(t: Tensor, geo: Geometry, out_sizes) -> tuple:
        return (t._storage.version, t._offset, tuple(t._shape), tuple(t._strides), t._dtype.name, geo.left,
                geo.k, geo.stride, geo.dilation, geo.groups, tuple(out_sizes))

    def put(self, t: Tensor, geo: Geometry, out_sizes) -> None:
        self._entry = (weakref.ref(t._storage), self._key(t, geo, out_sizes), geo.columns)

    def take(self, t: Tensor, geo: Geometry, out_sizes) -> np.ndarray | None:
        entry, self._entry = self._entry, None
        if entry is None or entry[0]() is not t._storage or entry[1] != self._key(t, geo, out_sizes):
            return None
        return entry[2]


_kept = _KeptColumns()


def _windows(x: np.ndarray, left, k, stride, dilation, out_sizes) -> np.ndarray:
    """``(N, C, *out, *k)`` windows of ``x`` padded by ``left`` (zeros; the right side as the output
    needs, or cropped)."""
    s = len(k)
    need = [(o - 1) * st + d * (kk - 1) + 1 for o, st, d, kk in zip(out_sizes, stride, dilation, k)]
    widths = [(p, max(0, n - p - i)) for p, n, i in zip(left, need, x.shape[2:])]
    if any(w != (0, 0) for w in widths):
        x = np.pad(x, [(0, 0), (0, 0)] + widths)           # one copy for every spatial dim
    x = x[(slice(None), slice(None)) + tuple(slice(0, n) for n in need)]
    span = tuple(d * (kk - 1) + 1 for d, kk in zip(dilation, k))
    w = np.lib.stride_tricks.sliding_window_view(x, span, axis=tuple(range(2, 2 + s)))
    steps = tuple(slice(None, None, st) for st in stride) + tuple(slice(None, None, d) for d in dilation)
    return w[(slice(None), slice(None)) + steps]


def _columns(x, geo: Geometry, out_sizes) -> np.ndarray:
    """im2col: ``(groups, C / groups * taps, N * positions)``, one contiguous copy of ``x``'s windows
    (channel-major, then taps, as the weight's layout; batch-major, then positions), so that a whole
    batch is one matmul per group."""
    s, g = geo.s, geo.groups
    xw = _windows(x, geo.left, geo.k, geo.stride, geo.dilation, out_sizes)     # (N, C, *out, *k)
    xw = xw.transpose((1,) + tuple(range(2 + s, 2 + 2 * s)) + (0,) + tuple(range(2, 2 + s)))  # (C, *k, N, *out)
    return xw.reshape(g, x.shape[1] // g * math.prod(geo.k), x.shape[0] * math.prod(out_sizes))


def _batch_last(a: np.ndarray, groups: int) -> np.ndarray:
    """``(N, groups * C, *spatial)`` as ``(groups, C, N * positions)``."""
    N, C = a.shape[0], a.shape[1] // groups
    # Always a real array: a broadcast gradient (of ``sum()``) would reshape to zero strides, which
    # send matmul down its slow non-BLAS loop.
    return np.ascontiguousarray(a.reshape(N, groups, C, -1).transpose(1, 2, 0, 3)).reshape(groups, C, -1)


def _reference_convolution(x, w, b, geo: Geometry) -> np.ndarray:
    s, g, N = geo.s, geo.groups, x.shape[0]
    if geo.transposed:
        out = _reference_transposed(x, w, geo)
    else:
        cols = _columns(x, geo, geo.shape[2:])                                # (g, Cg * taps, N * P)
        if geo.keep_columns:
            geo.columns = cols
        wg = w.reshape(g, w.shape[0] // g, -1)                                # (g, Og, Cg * taps)
        # (N * P, Og) rows per group: BLAS runs fastest with the long dimension as the result's rows.
        rows = np.matmul(cols.transpose(0, 2, 1), wg.transpose(0, 2, 1)).reshape(g, N, -1, wg.shape[1])
        out = np.empty(geo.shape, x.dtype)
        view = out.reshape(N, g, wg.shape[1], -1)
        if b is None:
            view[...] = rows.transpose(1, 0, 3, 2)
        else:  # the bias is added in the same pass that lays the rows out as (N, C_out, *spatial)
            np.add(rows.transpose(1, 0, 3, 2), b.reshape(g, -1, 1), out=view)
        return out
    if b is not None:
        out += b.reshape((-1,) + (1,) * s)
    return out


def _tap_range(t: int, d: int, st: int, left: int, n_in: int, n_out: int) -> tuple[slice, slice] | None:
    """(input slice, output slice) of the inputs ``i`` that tap ``t`` sends inside the output:
    ``0 <= i * st + t * d - left < n_out``."""
    lo = max(0, -((t * d - left) // st))
    hi = min(n_in - 1, (n_out - 1 + left - t * d) // st)
    if lo > hi:
        return None
    start = lo * st + t * d - left
    return slice(lo, hi + 1), slice(start, start + (hi - lo) * st + 1, st)


def _reference_transposed(x, w, geo: Geometry) -> np.ndarray:
    """col2im, one tap at a time: a matmul gives every input pixel's ``x @ w[tap]``, which adds to
    the outputs ``i * stride + tap * dilation - padding`` that exist. The products are laid out
    ``(g, N, *spatial, Og)`` (the long dimension as the rows, as BLAS likes best), so each add runs
    over long contiguous stretches."""
    N, g, s = x.shape[0], geo.groups, geo.s
    Cg, Og = w.shape[0] // g, w.shape[1]
    ins, outs = x.shape[2:], geo.shape[2:]
    rows = _batch_last(x, g).transpose(0, 2, 1)                                # (g, N * P_in, Cg)
    per_tap = np.ascontiguousarray(np.moveaxis(w.reshape(g, Cg, Og, -1), 3, 0))  # (taps, g, Cg, Og)
    out = np.zeros((g, N, *outs, Og), x.dtype)
    for i, tap in enumerate(itertools.product(*(range(k) for k in geo.k))):
        ranges = [_tap_range(*a) for a in zip(tap, geo.dilation, geo.stride, geo.left, ins, outs)]
        if None in ranges:
            continue
        product = np.matmul(rows, per_tap[i]).reshape(g, N, *ins, Og)
        into, take = (tuple(r[j] for r in ranges) for j in (1, 0))
        out[(slice(None),) * 2 + into] += product[(slice(None),) * 2 + take]
    out = out.transpose((1, 0, 2 + s) + tuple(range(2, 2 + s)))                # (N, g, Og, *outs)
    return np.ascontiguousarray(out).reshape(geo.shape)


def _transpose_padding(geo: Geometry, in_sizes, out_sizes) -> tuple:
    """The output_padding that makes a transposed convolution of ``out_sizes`` give ``in_sizes``
    (negative where ``"same"`` padded more on the right)."""
    return tuple(i - ((o - 1) * st - 2 * p + d * (k - 1) + 1) for i, o, st, p, d, k in
                 zip(in_sizes, out_sizes, geo.stride, geo.left, geo.dilation, geo.k))


def sized_convolution(x: Tensor, w: Tensor, geo: Geometry, sizes) -> Tensor:
    """The convolution of ``x`` with ``w`` at ``geo``'s stride, dilation and left padding, with exactly
    ``sizes`` outputs per dim: zeros appended on the right (a transposed convolution's adjoint where
    ``"same"`` padded unevenly), or outputs cropped."""
    natural = [(i + 2 * p - d * (k - 1) - 1) // st + 1 for i, p, d, k, st in
               zip(x.shape[2:], geo.left, geo.dilation, geo.k, geo.stride)]
    extra = [max(0, (n - m) * st) for n, m, st in zip(sizes, natural, geo.stride)]
    if any(extra):
        x = call("pad", x, [v for e in reversed(extra) for v in (0, e)])
    out = call("convolution", x, w, None, geo.stride, geo.left, geo.dilation, False, 0, geo.groups)
    if tuple(out.shape[2:]) != tuple(sizes):
        out = out[(slice(None), slice(None)) + tuple(slice(0, n) for n in sizes)]
    return out


def _convolution_backward(grad, needs_input_grad, input, weight, bias, stride, padding, dilation, transposed,
                          output_padding, groups):
    geo = Geometry("convolution", input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)
    gi = gw = gb = None
    if geo.transposed:
        if needs_input_grad[0]:
            gi = sized_convolution(grad, weight, geo, input.shape[2:])
        if needs_input_grad[1]:
            gw = call("convolution_weight_grad", grad, input, tuple(weight.shape), geo.stride, geo.left,
                      geo.dilation, groups)
    else:
        if needs_input_grad[0]:
            op = _transpose_padding(geo, input.shape[2:], grad.shape[2:])
            gi = call("convolution", grad, weight, None, geo.stride, geo.left, geo.dilation, True, op, groups)
        if needs_input_grad[1]:
            gw = call("convolution_weight_grad", input, grad, tuple(weight.shape), geo.stride, padding,
                      geo.dilation, groups)
    if bias is not None and needs_input_grad[2]:
        gb = call("sum", grad, [0] + list(range(2, grad.ndim)))
    return gi, gw, gb


# ----------------------------------------------------------------------------------------------
# convolution_weight_grad
# ----------------------------------------------------------------------------------------------

def convolution_weight_grad(op: Op, input: Tensor, grad_output: Tensor, weight_size, stride=1, padding=0,
                            dilation=1, groups: int = 1) -> Tensor:
    """The gradient of a convolution's weight (shape ``weight_size``): the correlation of ``input`` with
    the output gradient, as ``torch.nn.grad.conv2d_weight``.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> x = nr.tensor([[[1.0, 2.0, 3.0]]])
        >>> call("convolution_weight_grad", x, nr.ones(1, 1, 2), (1, 1, 2)).tolist()
        [[[3.0, 5.0]]]
    """
    if not isinstance(grad_output, Tensor):
        raise SignatureError(f"{op.name}(): argument 'grad_output' must be a Tensor, not {type(grad_output).__name__}")
    weight_size = tuple(int(v) for v in weight_size)
    from neurarust.creation import empty

    probe = empty(*weight_size, dtype=grad_output.dtype, device=grad_output.device) \
        if isinstance(input, Tensor) and len(weight_size) == input.ndim else None
    if probe is None:
        raise ShapeError(f"{op.name}(): weight_size {list(weight_size)} does not fit the input's rank")
    geo = Geometry(op.name, input, probe, None, stride, padding, dilation, False, 0, groups)
    # Only batch and channels must agree: outputs past the input's end (a transposed convolution's
    # adjoint) read zeros.
    if geo.shape[:2] != tuple(grad_output.shape[:2]) or grad_output.ndim != input.ndim:
        raise ShapeError(f"{op.name}(): grad_output {tuple(grad_output.shape)} does not match the convolution's "
                         f"output {geo.shape}")
    if _is_reference(input):
        acc = _acc(input.dtype)
        geo.columns = _kept.take(input, geo, grad_output.shape[2:])
        r = backends.run_reference(op.reference, input._np().astype(acc, copy=False),
                                   grad_output._np().astype(acc, copy=False), geo)
        return _finish(r, input.dtype)
    out = Tensor._empty(weight_size, input.dtype, input.device)
    if out.numel():
        if not input.numel():
            out.zero_()
        else:
            op.launcher()(out, input, grad_output, geo.stride, geo.left, geo.dilation, groups)
    return out


def _reference_weight_grad(x, g, geo: Geometry) -> np.ndarray:
    gr = geo.groups
    cols = geo.columns if geo.columns is not None else _columns(x, geo, g.shape[2:])  # (gr, Cg * taps, N * P)
    out = np.matmul(cols, _batch_last(g, gr).transpose(0, 2, 1))           # (gr, Cg * taps, Og)
    return np.ascontiguousarray(out.transpose(0, 2, 1)).reshape((g.shape[1], x.shape[1] // gr) + geo.k)


def _weight_grad_backward(grad, needs_input_grad, input, grad_output, weight_size, stride, padding, dilation,
                          groups):
    from neurarust.creation import empty

    probe = empty(*weight_size, dtype=input.dtype, device=input.device)
    geo = Geometry("convolution_weight_grad", input, probe, None, stride, padding, dilation, False, 0, groups)
    gi = gg = None
    if needs_input_grad[0]:
        op = _transpose_padding(geo, input.shape[2:], grad_output.shape[2:])
        gi = call("convolution", grad_output, grad, None, geo.stride, geo.left, geo.dilation, True, op, groups)
    if needs_input_grad[1]:
        gg = sized_convolution(input, grad, geo, grad_output.shape[2:])
    return gi, gg


# ----------------------------------------------------------------------------------------------
# PyTorch oracles, samples, errors
# ----------------------------------------------------------------------------------------------

def _wide(fn):
    """Run a PyTorch function in fp32 for fp16/bf16 tensors (CPU convolutions lack some half kernels)."""
    def run(*args, **kwargs):
        import torch

        halves = (torch.float16, torch.bfloat16)
        half = next((a.dtype for a in args if isinstance(a, torch.Tensor) and a.dtype in halves), None)
        up = lambda a: a.float() if isinstance(a, torch.Tensor) and half is not None else a  # noqa: E731
        out = fn(*[up(a) for a in args], **{k: up(v) for k, v in kwargs.items()})
        return out.to(half) if half is not None else out

    run.__name__ = fn.__name__
    return run


@_wide
def _torch_convolution(input, weight, bias=None, stride=1, padding=0, dilation=1, transposed=False,
                       output_padding=0, groups=1):
    import torch
    import torch.nn.functional as F

    s = input.ndim - 2
    if isinstance(padding, str):
        return getattr(F, f"conv{s}d")(input, weight, bias, stride, padding, dilation, groups)
    e = lambda v: list(expand("convolution", "", v, s))  # noqa: E731
    return torch.convolution(input, weight, bias, e(stride), e(padding), e(dilation), transposed, e(output_padding),
                             groups)


@_wide
def _torch_weight_grad(input, grad_output, weight_size, stride=1, padding=0, dilation=1, groups=1):
    import torch

    fn = getattr(torch.nn.grad, f"conv{input.ndim - 2}d_weight")
    return fn(input, list(weight_size), grad_output, stride, padding, dilation, groups)


def _conv_samples(d: _dt.DType):
    v = lambda shape, seed: S.values(d, shape, seed)  # noqa: E731
    yield Sample((v((2, 4, 7), 0), v((4, 2, 3), 1), v((4,), 2), 2, 1, 1, False, 0, 2), name="1d_groups_stride_pad")
    yield Sample((S.TensorSpec(v((1, 3, 5, 6), 3), "transposed"), v((2, 3, 3, 2), 4), v((2,), 5), (1, 2), (1, 0),
                  (2, 1)), name="2d_dilation_noncontiguous")
    yield Sample((v((1, 2, 5, 4), 6), v((3, 2, 2, 3), 7), None, 1, "same", (1, 2)), name="2d_same_even_kernel")
    yield Sample((v((1, 2, 3, 4, 3), 8), v((2, 1, 2, 2, 2), 9), v((2,), 10), 2, 1, 1, False, 0, 2), name="3d_groups")
    yield Sample((v((1, 4, 3, 3), 11), v((4, 1, 3, 2), 12), v((2,), 13), 2, 1, 1, True, 1, 2),
                 name="transposed_2d_output_padding")
    yield Sample((v((2, 2, 4), 14), v((2, 3, 3), 15), None, 1, 1, 2, True, 1), name="transposed_1d_dilation")
    yield Sample((v((1, 2, 3), 16), v((1, 2, 3), 17), None, 1, "valid"), name="valid")


def _weight_grad_samples(d: _dt.DType):
    v = lambda shape, seed: S.values(d, shape, seed)  # noqa: E731
    yield Sample((v((2, 4, 7), 0), v((2, 4, 4), 1), (4, 2, 3), 2, 1, 1, 2), name="1d_groups_stride")
    yield Sample((v((1, 3, 5, 6), 2), v((1, 2, 3, 3), 3), (2, 3, 3, 2), (1, 2), (1, 0), (2, 1)), name="2d_dilation")
    yield Sample((v((1, 2, 3, 4, 3), 4), v((1, 2, 2, 3, 2), 5), (2, 1, 2, 2, 2), 2, 1, 1, 2), name="3d_groups")
    yield Sample((v((1, 2, 5), 6), v((1, 2, 4), 7), (2, 1, 2), 1, 0, 1, 2), name="tiny_depthwise")


def _conv_errors():
    x, w = np.ones((1, 2, 4)), np.ones((3, 2, 2))
    yield ErrorInput(Sample((np.ones((1, 3, 4)), w)), ShapeError, "channels")
    yield ErrorInput(Sample((np.ones((2, 4)), np.ones((3, 2)))), ShapeError, "3-D")
    yield ErrorInput(Sample((x, w, None, 2, "same")), ArgumentError, "strided")
    yield ErrorInput(Sample((x, np.ones((3, 2, 9)))), ShapeError, "too small")
    yield ErrorInput(Sample((x, w, np.ones(2))), ShapeError, "bias")
    yield ErrorInput(Sample((np.ones((1, 2, 4), np.int64), np.ones((3, 2, 2), np.int64))), TypeError, "floating")


def _weight_grad_errors():
    yield ErrorInput(Sample((np.ones((1, 2, 4)), np.ones((1, 2, 3)), (3, 2, 2))), ShapeError, "grad_output")


def _cost(sample: Sample) -> tuple[int, int]:
    arrays = [S.array_of(a) for a in sample.args if isinstance(a, (np.ndarray, S.TensorSpec))]
    x, w = arrays[0], arrays[1]
    return sum(a.nbytes for a in arrays), 2 * x.size * (w.size // max(w.shape[0], 1))


register(Op(
    name="convolution", kind="conv", frontend=convolution, reference=_reference_convolution, triton=TRITON + "launch",
    dtypes=FLOATS, samples=_conv_samples, error_inputs=_conv_errors, tolerances=dict(TOLERANCES), cost=_cost,
    method=False, torch_name=_torch_convolution, attrs={"public": False},
    differentiable=("input", "weight", "bias"), backward=_convolution_backward))

register(Op(
    name="convolution_weight_grad", kind="conv", frontend=convolution_weight_grad, reference=_reference_weight_grad,
    triton=TRITON + "launch_weight_grad", dtypes=FLOATS, samples=_weight_grad_samples,
    error_inputs=_weight_grad_errors, tolerances=dict(TOLERANCES), cost=_cost, method=False,
    torch_name=_torch_weight_grad, attrs={"public": False}, differentiable=("input", "grad_output"),
    backward=_weight_grad_backward))

# Autocast classes per device type: PyTorch's lists (docs/amp.md, tests/test_amp_autocast.py).
autocast_class(("convolution",), cuda="lower", cpu="lower")
