"""Convolutions (1-D, 2-D, 3-D; stride, padding incl. ``"same"``/``"valid"``, dilation, groups,
bias; transposed with ``output_padding``): the internal entry ``convolution`` (ATen's signature),
and its weight gradient ``convolution_weight_grad``. ``neurarust.nn.functional`` exposes them as
``conv1d`` ... ``conv_transpose2d``.

Both run one implicit-GEMM Triton kernel (``conv_triton.py``); the input gradient of a convolution
is the transposed convolution of the output gradient (the same entry), and the weight gradient a
correlation of the input with the output gradient (the same kernel, operands re-described by strides).
On the CPU the NumPy references run im2col and one BLAS matmul per block of samples (the block's
patches side by side: one wide product, which BLAS runs faster than a product per sample and
spreads over its threads): stride-1 correlations (and stride-1 transposed ones, as correlations
with the flipped kernel) on a flat layout whose patch rows are long contiguous stretches, in
reused work buffers; the forward keeps its patches for the weight gradient.

    >>> import neurarust as nr
    >>> from neurarust.registry import call
    >>> x = nr.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    >>> call("convolution", x, nr.tensor([[[1.0, -1.0]]])).tolist()
    [[[-1.0, -1.0, -1.0]]]
    >>> call("convolution", x, nr.tensor([[[1.0, 1.0]]]), None, 2, 0, 1, True).tolist()
    [[[1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0]]]
"""
from __future__ import annotations

import functools
import itertools
import math
import threading
from dataclasses import dataclass

import numpy as np

from neurarust import backends
from neurarust import dtype as _dt
from neurarust.errors import ArgumentError, DeviceError, DTypeError, ShapeError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, autocast_class, call, register
from neurarust.tensor import Tensor

from . import samples as S
from .kept import identity

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
    padding, the output's shape; on the reference path, also the ``source`` identity of the input's
    values (``_identity``) and whether to ``keep`` the patches for the weight gradient."""

    source: tuple | None = None
    keep: bool = False

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
        if 0 in tuple(input.shape[2:]):   # as PyTorch: only the batch and channel dims may be empty
            raise ShapeError(f"{name}(): only zero batch or zero channel inputs are supported, got input "
                             f"{tuple(input.shape)}")
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
        geo.source = identity(input)
        geo.keep = weight.requires_grad and not geo.transposed
        return _finish(backends.run_reference(op.reference, *arrays, geo), input.dtype)
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


# A stride-1 correlation reads, for output position ``o`` and tap ``t``, the input at ``o + t * d - left``.
# Laid flat (a sample's channel one row of memory), that is the flat index ``l + offset(t)`` for the
# output's flat index ``l``: so each tap's patch row is one contiguous stretch of the flat input, and
# im2col is a single strided copy of long rows. Along a dim past the first, the flat rows are as wide
# as the output where the correlation keeps the size (``"same"`` padding: the reads that fall off a
# row's end wrap into the next, and their patch entries are zeroed), or as wide as the padded input
# otherwise (extra positions, computed and cropped away; the flat path is taken only where those
# are at most as many as the real ones).
MAX_GRID_WASTE = 2
# Patch matrices are built and multiplied a block of samples at a time, a block's about this many
# bytes: the work buffers stay bounded whatever the batch, and the matmul reads a block soon after
# the copy wrote it (a whole batch of the benchmark's layer at once made its forward ~20% slower in
# isolation, with a cold cache; in a whole training step the difference was within the noise).
BLOCK_BYTES = 3 << 20

# Work buffers: a training step would otherwise allocate (and, once glibc returns them to the system,
# page-fault back in) megabytes of fresh patches, padded inputs and products every call: ~2000 page
# faults per step of the benchmark's layer, which doubled the step's time whenever glibc fell into
# that pattern. Returned arrays are never scratch.
MAX_SCRATCH_BYTES = 64 << 20


class _Scratch(threading.local):
    """Per-thread reusable work arrays by (role, shape, dtype), at most ``MAX_SCRATCH_BYTES`` in all
    (the least recently used dropped first; larger arrays are not kept). A caller owns what ``get``
    gives until the next ``get`` of the same role and shape; a ``zeros`` array is zero except where
    its role writes (so the role names the region it writes)."""

    def __init__(self) -> None:
        self.arrays: dict = {}
        self.nbytes = 0
        self.kept: tuple | None = None          # see ``_kept_patches``

    def get(self, role: tuple, shape: tuple, dtype, zeros: bool = False) -> np.ndarray:
        """The work array of ``role``, ``shape`` and ``dtype``: the last one handed out, or a new one."""
        key = (role, shape, np.dtype(dtype).str)
        a = self.arrays.pop(key, None)
        if a is None:
            a = np.zeros(shape, dtype) if zeros else np.empty(shape, dtype)
            if a.nbytes > MAX_SCRATCH_BYTES:
                return a
            self.nbytes += a.nbytes
            while self.nbytes > MAX_SCRATCH_BYTES:
                self.nbytes -= self.arrays.pop(next(iter(self.arrays))).nbytes
        self.arrays[key] = a                                                    # the most recent last
        return a


_scratch = _Scratch()


@dataclass
class _Patches:
    """A correlation's im2col, one block of samples at a time: ``taps`` is a read-only view
    ``(N, C, *row taps, ...)`` whose block ``[n0:n1]``, copied, is the patch matrix
    ``(groups, C / groups * row taps, (n1 - n0) * width)`` (rows channel-major, then taps, as the
    weight's layout; the block's samples side by side), for outputs on a ``grid`` of positions per
    sample (at least the output's sizes).

    ``split``: the last spatial dim's taps are not in the rows (``split=1``): the matmul gives one
    product row block per such tap, and tap ``i``'s block adds in shifted by ``shifts[i]`` positions
    (a col2im by shifted adds, which makes the matmul taller and narrower). ``masks``: ``(dim, tap,
    start, stop)``, the outputs ``start <= o[dim] < stop`` whose read at that tap wrapped into the
    next flat row, zeroed in the patches (or, for the split dim, in that tap's product block)."""

    taps: np.ndarray
    groups: int
    grid: tuple
    split: int = 0
    shifts: tuple = (0,)
    masks: tuple = ()
    store: np.ndarray | None = None     # where ``rows`` writes every block (kept), instead of scratch
    stored: bool = False                # ``store`` is complete: ``rows`` reads it

    @functools.cached_property
    def length(self) -> int:
        """Product columns per sample: the grid, and the furthest shift's reach past it."""
        return math.prod(self.grid) + self.shifts[-1]

    @functools.cached_property
    def block(self) -> int:
        """Samples per block: as many as ``BLOCK_BYTES`` of patches hold, spread evenly over the
        blocks (a last block of one sample would run its matmul at a fraction of the speed)."""
        n = len(self.taps)
        most = max(1, BLOCK_BYTES // max(math.prod(self.taps.shape[1:]) * self.taps.itemsize, 1))
        return -(-n // -(-n // most)) if n else 1

    @functools.cached_property
    def width(self) -> int:
        """A sample's columns in the patch matrix: ``length``, a little more where rows a multiple
        of 1 KiB apart would fall in the same cache sets (which slows BLAS's packing of them by a
        third). The extra columns are zeros."""
        return self.length + (64 // self.taps.itemsize if self.length * self.taps.itemsize % 1024 == 0 else 0)

    def buffer_shape(self, n: int) -> tuple:
        """``(groups, rows + 1, n, width)``: room for ``n`` samples' patches side by side and a row
        of ones."""
        rows = self.taps.shape[1] // self.groups * math.prod(self.taps.shape[2:2 + len(self.grid) - self.split])
        return self.groups, rows + 1, n, self.width

    def rows(self, n0: int, n1: int, ones: bool = False) -> np.ndarray:
        """The patch matrix of samples ``n0:n1``, ``(groups, rows, (n1 - n0) * width)``: the samples
        side by side, so that one matmul covers the block (scratch, or the ``store``); with
        ``ones``, each group's matrix has a last row of ones (for a bias column in the weight
        rows)."""
        view, g, length = self.taps[n0:n1], self.groups, self.length
        n, C, row_taps = view.shape[0], view.shape[1], view.shape[2:2 + len(self.grid) - self.split]
        rows = self.buffer_shape(0)[1] - 1
        if self.store is None:   # zeros: the columns past ``length`` are never written
            full = _scratch.get(("patches", length), self.buffer_shape(n), view.dtype, zeros=True)[:, :rows + ones]
        else:
            full = self.store[:, :rows + ones, n0:n1]
            if self.stored:
                return full.reshape(g, rows + ones, -1)
        out = full[..., :length]
        if ones:
            out[:, rows] = 1
        spread = (g, C // g) + row_taps + (n,) + view.shape[2 + len(row_taps):]  # channels split by group
        moved = np.moveaxis(view, 0, 1 + len(row_taps))                       # the sample after the taps
        np.copyto(out[:, :rows].reshape(spread), moved.reshape(spread))
        if self.masks:
            on_grid = out[:, :rows, :, :math.prod(self.grid)].reshape((g, C // g) + row_taps + (n,) + self.grid)
            for dim, tap, start, stop in self.masks:
                if dim < len(row_taps):
                    at = tuple(tap if j == dim else slice(None) for j in range(len(row_taps)))
                    on_grid[(slice(None),) * 2 + at + (slice(None),) * (dim + 1) + (slice(start, stop),)] = 0
        return full.reshape(g, rows + ones, -1)

    def mask_product(self, blocks: list) -> None:
        """Zero the split dim's wrapped reads in the per-tap product blocks ``(n, C_out, *grid)``."""
        for dim, tap, start, stop in self.masks:
            if self.split and dim == len(self.grid) - 1:
                blocks[tap][..., start:stop] = 0


def _flat_patches(x: np.ndarray, groups: int, left, k, dilation, out_sizes, split: int = 0) -> _Patches | None:
    """The patches of a stride-1 correlation laid flat, over a zero-padded flat copy of ``x``
    (scratch), or None where the grid would waste too much. ``split=1`` takes the last dim's taps
    as shifted adds. ``left`` may be negative (the input cropped)."""
    N, C, s, ins = x.shape[0], x.shape[1], len(k), x.shape[2:]
    span = [d * (kk - 1) for d, kk in zip(dilation, k)]
    same = [i > 0 and o == n and 0 <= p <= sp for i, (o, n, p, sp) in enumerate(zip(out_sizes, ins, left, span))]
    grid = (out_sizes[0],) + tuple(o if sm else o + sp for o, sp, sm in zip(out_sizes[1:], span[1:], same[1:]))
    if min(out_sizes, default=0) <= 0 or math.prod(grid[1:]) > MAX_GRID_WASTE * math.prod(out_sizes[1:]):
        return None
    flat = [math.prod(grid[i + 1:]) for i in range(s)]                     # the flat strides per dim
    steps = [d * f for d, f in zip(dilation, flat)]                        # a tap's flat offset per dim
    front = sum(p * f for p, f, sm in zip(left, flat, same) if sm)         # reads before the first row
    L, reach, rows0 = math.prod(grid), sum(sp * f for sp, f in zip(span, flat)), out_sizes[0] + span[0]
    into, take = [], []
    for p, n, size, sm in zip(left, ins, (rows0,) + grid[1:], same):
        a, b = (0, 0) if sm else (max(p, 0), max(-p, 0))
        m = max(0, min(n - b, size - a))
        into.append(slice(a, a + m))
        take.append(slice(b, b + m))
    region = (front, rows0) + grid + tuple((i.start, i.stop) for i in into)
    buf = _scratch.get(("padded",) + region, (N, C, L + reach), x.dtype, zeros=True)  # zero outside x
    buf[:, :, front:front + rows0 * flat[0]].reshape(N, C, rows0, *grid[1:])[(Ellipsis, *into)] = x[(Ellipsis, *take)]
    rows = s - split
    shifts = tuple(t * steps[-1] for t in range(k[-1])) if split else (0,)
    taps = np.lib.stride_tricks.as_strided(buf, (N, C, *k[:rows], L + shifts[-1]),
                                           buf.strides[:2] + tuple(st * buf.itemsize for st in steps[:rows])
                                           + (buf.itemsize,), writeable=False)
    masks = []
    for dim in range(1, s):
        for t in range(k[dim] if same[dim] else 0):
            lo, hi = left[dim] - t * dilation[dim], ins[dim] + left[dim] - t * dilation[dim]
            masks += [(dim, t, 0, lo)] if lo > 0 else []
            masks += [(dim, t, max(hi, 0), out_sizes[dim])] if hi < out_sizes[dim] else []
    return _Patches(taps, groups, grid, split, shifts, tuple(masks))


def _patches(x, groups: int, left, k, stride, dilation, out_sizes, split: int = 0) -> _Patches:
    """The flat patches of ``_flat_patches`` (stride 1), or the windows' (any stride; no split) on a
    grid of the output's own sizes. Each block of samples is then one matmul per group."""
    if all(st == 1 for st in stride):
        p = _flat_patches(x, groups, left, k, dilation, out_sizes, split)
        if p is not None:
            return p
    s = len(k)
    xw = _windows(x, left, k, stride, dilation, out_sizes)                   # (N, C, *out, *k)
    xw = xw.transpose((0, 1) + tuple(range(2 + s, 2 + 2 * s)) + tuple(range(2, 2 + s)))  # (N, C, *k, *out)
    return _Patches(xw, groups, tuple(out_sizes))


def _split(w: np.ndarray, groups: int, Og: int, Cg: int, k, split: int) -> np.ndarray:
    """The kernel ``(groups * Og, Cg, *k)`` as the matmul's rows: ``(groups, Og, Cg * taps)``, or
    with ``split=1`` ``(groups, Og * last dim's taps, Cg * other taps)``."""
    last = k[-1] if split else 1
    w = w.reshape(groups, Og, Cg, math.prod(k) // last, last).transpose(0, 1, 4, 2, 3)
    return np.ascontiguousarray(w).reshape(groups, Og * last, Cg * math.prod(k) // last)


def _wide_split(s: int, Og: int, Cg: int) -> int:
    """Whether to take the last dim's taps as shifted adds: for 2-D correlations whose output channels
    are fewer than the input's (a matmul with few rows runs BLAS at a fraction of its speed; the
    input gradient of a widening convolution is such a case). Not in 3-D: a shift that crosses a row
    would meet the middle dim's wrap masks at the wrong row."""
    return int(s == 2 and Og < Cg)


def _correlate(p: _Patches, wg: np.ndarray, b, out_sizes) -> np.ndarray:
    """``(N, C_out, *out_sizes)``: the weight rows ``wg`` (``_split``'s layout) times the patches,
    one matmul per block of samples (the samples side by side: one wide product runs BLAS far
    faster than a product per sample); the shifted product blocks added, cropped from the grid to
    ``out_sizes``, plus the bias ``b``."""
    N, n, L, s = len(p.taps), len(p.shifts), math.prod(p.grid), len(out_sizes)
    out = np.empty((N, wg.shape[0] * wg.shape[1] // n) + tuple(out_sizes), p.taps.dtype)
    crop = (Ellipsis, *(slice(0, m) for m in out_sizes))
    bias = None if b is None else b.reshape((-1,) + (1,) * s)
    ones = n == 1 and b is not None   # the bias as a last weight column, times a last patch row of ones
    if ones:
        wg, bias = np.concatenate([wg, b.reshape(wg.shape[0], -1, 1)], axis=2), None
    for n0 in range(0, N, p.block):
        n1 = min(N, n0 + p.block)
        cols = p.rows(n0, n1, ones=ones)                                    # (g, K, (n1 - n0) * width)
        shape = wg.shape[:2] + cols.shape[2:]
        product = np.matmul(wg, cols, out=_scratch.get(("product",), shape, cols.dtype))
        product = product.reshape(-1, n, n1 - n0, p.width)                  # (C_out, shifts, samples, width)
        views = [product[:, i, :, o:o + L].reshape(-1, n1 - n0, *p.grid).swapaxes(0, 1)
                 for i, o in enumerate(p.shifts)]                           # (samples, C_out, *grid)
        p.mask_product(views)
        views = [v[crop] for v in views] + ([] if bias is None else [bias])
        if len(views) == 1:
            out[n0:n1] = views[0]
            continue
        np.add(views[0], views[1], out=out[n0:n1])                          # the first add also crops
        for v in views[2:]:
            out[n0:n1] += v
    return out


def _reference_convolution(x, w, b, geo: Geometry) -> np.ndarray:
    g = geo.groups
    if geo.transposed:
        out = _stride_one_transposed(x, w, b, geo) if all(st == 1 for st in geo.stride) else None
        if out is not None:
            return out
        out = _reference_transposed(x, w, geo)
        if b is not None:
            out += b.reshape((-1,) + (1,) * geo.s)
        return out
    Og, Cg = w.shape[0] // g, w.shape[1]
    keep = geo.keep and geo.source is not None       # kept patches must be whole: no split
    split = 0 if keep else _wide_split(geo.s, Og, Cg)
    p = _patches(x, g, geo.left, geo.k, geo.stride, geo.dilation, geo.shape[2:], split)
    if keep:
        _scratch.kept, p.store = None, _scratch.get(("kept", p.length), p.buffer_shape(len(x)), x.dtype, zeros=True)
    out = _correlate(p, _split(w, g, Og, Cg, geo.k, p.split), b, geo.shape[2:])
    if keep:
        p.stored = True
        _scratch.kept = (geo.source[0], _kept_key(geo, geo.shape[2:]), p)
    return out


def _kept_key(geo: Geometry, out_sizes) -> tuple:
    """What kept patches must match besides the storage: its version, the view, dtype and geometry."""
    return geo.source[1], geo.left, geo.k, geo.stride, geo.dilation, geo.groups, tuple(out_sizes)


def _kept_patches(geo: Geometry, out_sizes) -> _Patches | None:
    """The patches that the last forward whose weight needs a gradient kept (in this thread), if they
    are of the same input values (storage, unwritten since, view, dtype) and geometry: the weight
    gradient's own, without building them again. One entry: the next such forward replaces it, the
    next weight gradient takes it (matching or not, so that it does not outlive its step)."""
    entry, _scratch.kept = _scratch.kept, None
    if entry is None or geo.source is None:
        return None
    ref, key, p = entry
    same = ref() is not None and ref() is geo.source[0]() and key == _kept_key(geo, out_sizes)
    return p if same else None


def _stride_one_transposed(x, w, b, geo: Geometry) -> np.ndarray | None:
    """A stride-1 transposed convolution as the correlation of ``x`` (padded by ``d * (k - 1) - p``)
    with the flipped kernel, channels swapped: flat patches and one matmul, no col2im scatter.
    None where the flat grid would waste too much."""
    g, s = geo.groups, geo.s
    left = tuple(d * (k - 1) - p for d, k, p in zip(geo.dilation, geo.k, geo.left))
    Cg, Og = w.shape[0] // g, w.shape[1]
    p = _flat_patches(x, g, left, geo.k, geo.dilation, geo.shape[2:], _wide_split(s, Og, Cg))
    if p is None:
        return None
    flipped = w.reshape(g, Cg, Og, *geo.k)[(Ellipsis, *(slice(None, None, -1),) * s)].swapaxes(1, 2)
    return _correlate(p, _split(flipped, g, Og, Cg, geo.k, p.split), b, geo.shape[2:])


def _tap_range(t: int, d: int, st: int, left: int, n_in: int, n_out: int) -> tuple[slice, slice] | None:
    """(input slice, output slice) of the inputs ``i`` that tap ``t`` sends inside the output:
    ``0 <= i * st + t * d - left < n_out``."""
    lo = max(0, -((t * d - left) // st))
    hi = min(n_in - 1, (n_out - 1 + left - t * d) // st)
    if lo > hi:
        return None
    start = lo * st + t * d - left
    return slice(lo, hi + 1), slice(start, start + (hi - lo) * st + 1, st)


def _batch_last(a: np.ndarray, groups: int) -> np.ndarray:
    """``(N, groups * C, *spatial)`` as ``(groups, C, N * positions)``."""
    N, C = a.shape[0], a.shape[1] // groups
    return np.ascontiguousarray(a.reshape(N, groups, C, -1).transpose(1, 2, 0, 3)).reshape(groups, C, -1)


def _reference_transposed(x, w, geo: Geometry) -> np.ndarray:
    """col2im (strided transposed convolutions), one tap at a time: a matmul gives every input
    pixel's ``x @ w[tap]``, which adds to the outputs ``i * stride + tap * dilation - padding`` that
    exist. The products are laid out ``(g, N, *spatial, Og)`` (the long dimension as the rows, as
    BLAS likes best), so each add runs over long contiguous stretches."""
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
        geo.source = identity(input)
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
    """The weight gradient, block by block of samples: per block and group one matmul of the
    patches with the output gradient laid on the patches' columns (zeros at the positions cropped
    away and past each sample's grid), ``patches @ grad^T``, summed over the blocks."""
    gr, N, out_sizes = geo.groups, x.shape[0], g.shape[2:]
    Og, Cg = g.shape[1] // gr, x.shape[1] // gr
    p = _kept_patches(geo, out_sizes)
    if p is None:
        p = _patches(x, gr, geo.left, geo.k, geo.stride, geo.dilation, out_sizes)
    sums = np.zeros((gr, Cg * math.prod(geo.k), Og), x.dtype)
    for n0 in range(0, N, p.block):
        n1 = min(N, n0 + p.block)
        # The gradient on the patches' columns: (C_out, samples, width), zeros past the output's
        # positions (which the scratch's role never writes).
        shape = (g.shape[1], n1 - n0, p.width)
        rows = _scratch.get(("grid", out_sizes, p.grid), shape, g.dtype, zeros=True)
        on_grid = rows[..., :math.prod(p.grid)].reshape(shape[:2] + p.grid)
        on_grid[(Ellipsis, *(slice(0, m) for m in out_sizes))] = g[n0:n1].swapaxes(0, 1)
        sums += np.matmul(p.rows(n0, n1), rows.reshape(gr, Og, -1).swapaxes(1, 2))
    return np.ascontiguousarray(sums.swapaxes(1, 2)).reshape((g.shape[1], Cg) + geo.k)


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
