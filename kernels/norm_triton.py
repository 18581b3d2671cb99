"""The normalization Triton kernels (forward and backward) and their launchers.

Two families, both two-pass (mean, then the centred variance: no cancellation) and both looping over
rows longer than one block:

* Row norms (layer_norm, rms_norm; the Triton layer-norm tutorial's scheme). The input is ``M`` rows
  of ``N`` contiguous elements, normalised each on its own; the affine ``weight``/``bias`` are indexed
  by the column. The forward writes ``mean`` and ``rstd`` (fp32, fp64 for fp64 inputs) per row. The
  backward recomputes ``xhat`` from them, writes ``grad_input`` and accumulates each program's share of
  ``grad_weight``/``grad_bias`` in its own row of a ``(P, N)`` fp32 buffer, summed afterwards: no
  atomics, and one program's rows are read once.
* Set norms (group_norm, batch_norm; instance_norm is group_norm with one channel per group). The
  input is viewed ``(N, C, S)``; a program owns one statistics set made of ``L`` lines of ``S``
  elements: group norm, one sample's ``C / G`` channels (a contiguous chunk); batch norm, one
  channel's line in each of the ``N`` samples. Line ``i`` of program ``p`` starts at ``p * p_stride +
  i * line_stride`` and belongs to channel ``(p % G) * group_channels + i * channel_step``; its
  ``(n, c)`` slot in the ``(N, C)`` partial buffers of the backward is ``p * p_slot + i * line_slot``.
  The same kernel runs both with these runtime numbers. Batch norm in eval mode reads the statistics
  (``STATS`` false) instead of computing them.
"""
from __future__ import annotations

import neurarust.launch as L
from neurarust import dtype as _dt
from neurarust.launch import tl, triton
from neurarust.tensor import Tensor

TILE = 4096           # elements a program holds at once
MAX_BLOCK = 4096      # longest chunk of a row
PARTIAL_PROGRAMS = 256  # row-norm backward programs on a GPU (each owns a row of the partial buffer)


def acc_of(d) -> _dt.DType:
    """The dtype the kernels compute in and write statistics in."""
    return _dt.float64 if d is _dt.float64 else _dt.float32


def _acc_tl(d):
    return L.TL_DTYPES[acc_of(d).name]


@triton.jit
def _affine(w_ptr, b_ptr, idx, mask, HAS_W: tl.constexpr, HAS_B: tl.constexpr, ACC: tl.constexpr):
    """The weight and bias at ``idx`` (1 and 0 where absent)."""
    if HAS_W:
        w = tl.load(w_ptr + idx, mask=mask, other=0.0).to(ACC)
    else:
        w = tl.where(mask, 1.0, 0.0).to(ACC)
    if HAS_B:
        b = tl.load(b_ptr + idx, mask=mask, other=0.0).to(ACC)
    else:
        b = tl.zeros(idx.shape, ACC)
    return w, b


# ----------------------------------------------------------------------------------------------
# Row norms: layer_norm, rms_norm
# ----------------------------------------------------------------------------------------------

@triton.jit
def normalize_rows(z, mask, n, w_ptr, b_ptr, cols, eps, RMS: tl.constexpr, HAS_W: tl.constexpr,
                   HAS_B: tl.constexpr):
    """``(y, mean, rstd)`` (fp32) of a tile ``z`` that holds whole rows of ``n`` elements (``mask``:
    the real ones), by the formulas of ``row_norm_kernel``: the epilogue of a product whose rows fit
    one tile (``neurarust.compile`` fuses a layer_norm or rms_norm of a product there)."""
    z = tl.where(mask, z, 0.0)
    mean = tl.sum(z, axis=1) * 0.0
    if not RMS:
        mean = tl.sum(z, axis=1) / n.to(tl.float32)
    d = tl.where(mask, z - mean[:, None], 0.0)
    rstd = 1.0 / tl.sqrt(tl.sum(d * d, axis=1) / n.to(tl.float32) + eps)
    w, b = _affine(w_ptr, b_ptr, cols, cols < n, HAS_W, HAS_B, tl.float32)
    return d * rstd[:, None] * w[None, :] + b[None, :], mean, rstd


@triton.jit
def _grad_input(wdy, xhat, c1, c2, rstd):
    """A norm's input gradient from ``w * dy``, ``xhat`` and the row means ``c1`` of ``w dy`` (0 for
    rms_norm) and ``c2`` of ``w dy xhat``."""
    return (wdy - (xhat * c2[:, None] + c1[:, None])) * rstd[:, None]


@triton.jit
def norm_backward_rows(dy, x, mask, n, w_ptr, mean_ptrs, rstd_ptrs, row_mask, cols, RMS: tl.constexpr,
                       HAS_W: tl.constexpr):
    """``(dx, dw partial, db partial)`` (fp32) of a tile ``dy`` that holds whole rows of ``n``
    elements of a norm's incoming gradient, ``x`` the norm's input tile, by the formulas of
    ``row_norm_backward_kernel``; the partials are the tile's column sums of ``dy * xhat`` and ``dy``
    (the epilogue of a product whose rows fit one tile: ``neurarust.compile`` fuses a layer_norm or
    rms_norm backward of the gradient a product makes there)."""
    rstd = tl.load(rstd_ptrs, mask=row_mask, other=0.0)
    mean = rstd * 0.0
    if not RMS:
        mean = tl.load(mean_ptrs, mask=row_mask, other=0.0)
    w, _ = _affine(w_ptr, w_ptr, cols, cols < n, HAS_W, False, tl.float32)
    dy = tl.where(mask, dy, 0.0)
    xhat = tl.where(mask, (x - mean[:, None]) * rstd[:, None], 0.0)
    wdy = dy * w[None, :]
    c1 = tl.sum(wdy, axis=1) / n.to(tl.float32)
    if RMS:
        c1 = c1 * 0.0
    c2 = tl.sum(wdy * xhat, axis=1) / n.to(tl.float32)
    return _grad_input(wdy, xhat, c1, c2, rstd), tl.sum(dy * xhat, axis=0), tl.sum(dy, axis=0)


@triton.jit
def row_norm_kernel(x_ptr, w_ptr, b_ptr, y_ptr, mean_ptr, rstd_ptr, M, N, eps, RMS: tl.constexpr,
                    HAS_W: tl.constexpr, HAS_B: tl.constexpr, ACC: tl.constexpr, IDX: tl.constexpr,
                    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    M = tl.cast(M, IDX)
    N = tl.cast(N, IDX)
    rows = tl.program_id(0).to(IDX) * BLOCK_M + tl.arange(0, BLOCK_M).to(IDX)
    row_mask = rows < M
    starts = rows * N
    cols = tl.arange(0, BLOCK_N).to(IDX)
    mean = tl.zeros([BLOCK_M], ACC)
    if not RMS:
        acc = tl.zeros([BLOCK_M, BLOCK_N], ACC)
        for start in range(0, N, BLOCK_N):
            c = start + cols
            mask = row_mask[:, None] & (c < N)[None, :]
            acc += tl.load(x_ptr + starts[:, None] + c[None, :], mask=mask, other=0.0).to(ACC)
        mean = tl.sum(acc, axis=1) / N.to(ACC)
    acc = tl.zeros([BLOCK_M, BLOCK_N], ACC)
    for start in range(0, N, BLOCK_N):
        c = start + cols
        mask = row_mask[:, None] & (c < N)[None, :]
        x = tl.load(x_ptr + starts[:, None] + c[None, :], mask=mask, other=0.0).to(ACC)
        d = tl.where(mask, x - mean[:, None], 0.0)
        acc += d * d
    rstd = 1.0 / tl.sqrt(tl.sum(acc, axis=1) / N.to(ACC) + eps)
    if not RMS:
        tl.store(mean_ptr + rows, mean, mask=row_mask)
    tl.store(rstd_ptr + rows, rstd, mask=row_mask)
    for start in range(0, N, BLOCK_N):
        c = start + cols
        cmask = c < N
        mask = row_mask[:, None] & cmask[None, :]
        x = tl.load(x_ptr + starts[:, None] + c[None, :], mask=mask, other=0.0).to(ACC)
        w, b = _affine(w_ptr, b_ptr, c, cmask, HAS_W, HAS_B, ACC)
        y = (x - mean[:, None]) * rstd[:, None] * w[None, :] + b[None, :]
        tl.store(y_ptr + starts[:, None] + c[None, :], y.to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def row_norm_backward_kernel(dy_ptr, x_ptr, w_ptr, mean_ptr, rstd_ptr, dx_ptr, dw_ptr, db_ptr, M, N, P,
                             RMS: tl.constexpr, HAS_W: tl.constexpr, ACC: tl.constexpr, IDX: tl.constexpr,
                             BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    M = tl.cast(M, IDX)
    N = tl.cast(N, IDX)
    pid = tl.program_id(0)
    partial = pid.to(IDX) * N  # this program's row of the (P, N) partial sums
    cols = tl.arange(0, BLOCK_N).to(IDX)
    for start in range(0, N, BLOCK_N):  # zeroed here: the buffers need no zeroing launches
        tl.store(dw_ptr + partial + start + cols, tl.zeros([BLOCK_N], ACC), mask=start + cols < N)
        tl.store(db_ptr + partial + start + cols, tl.zeros([BLOCK_N], ACC), mask=start + cols < N)
    tl.debug_barrier()  # the zeros visible to every thread of the program before any reads them back
    for block in range(pid, tl.cdiv(M, BLOCK_M), P):
        rows = tl.arange(0, BLOCK_M).to(IDX) + block * BLOCK_M
        row_mask = rows < M
        starts = rows * N
        if RMS:
            mean = tl.zeros([BLOCK_M], ACC)
        else:
            mean = tl.load(mean_ptr + rows, mask=row_mask, other=0.0).to(ACC)
        rstd = tl.load(rstd_ptr + rows, mask=row_mask, other=0.0).to(ACC)
        s1 = tl.zeros([BLOCK_M, BLOCK_N], ACC)  # sum of w dy
        s2 = tl.zeros([BLOCK_M, BLOCK_N], ACC)  # sum of w dy xhat
        for start in range(0, N, BLOCK_N):
            c = start + cols
            cmask = c < N
            mask = row_mask[:, None] & cmask[None, :]
            x = tl.load(x_ptr + starts[:, None] + c[None, :], mask=mask, other=0.0).to(ACC)
            dy = tl.load(dy_ptr + starts[:, None] + c[None, :], mask=mask, other=0.0).to(ACC)
            w, _ = _affine(w_ptr, w_ptr, c, cmask, HAS_W, False, ACC)
            xhat = (x - mean[:, None]) * rstd[:, None]
            wdy = tl.where(mask, dy * w[None, :], 0.0)
            s1 += wdy
            s2 += wdy * xhat
        c1 = tl.sum(s1, axis=1) / N.to(ACC)
        c2 = tl.sum(s2, axis=1) / N.to(ACC)
        if RMS:
            c1 = tl.zeros([BLOCK_M], ACC)
        for start in range(0, N, BLOCK_N):
            c = start + cols
            cmask = c < N
            mask = row_mask[:, None] & cmask[None, :]
            x = tl.load(x_ptr + starts[:, None] + c[None, :], mask=mask, other=0.0).to(ACC)
            dy = tl.load(dy_ptr + starts[:, None] + c[None, :], mask=mask, other=0.0).to(ACC)
            w, _ = _affine(w_ptr, w_ptr, c, cmask, HAS_W, False, ACC)
            xhat = tl.where(mask, (x - mean[:, None]) * rstd[:, None], 0.0)
            dx = _grad_input(dy * w[None, :], xhat, c1, c2, rstd)
            tl.store(dx_ptr + starts[:, None] + c[None, :], dx.to(dx_ptr.dtype.element_ty), mask=mask)
            # the program owns its partial row: a plain read-modify-write, no atomics
            pw = tl.load(dw_ptr + partial + c, mask=cmask, other=0.0)
            tl.store(dw_ptr + partial + c, pw + tl.sum(dy * xhat, axis=0), mask=cmask)
            pb = tl.load(db_ptr + partial + c, mask=cmask, other=0.0)
            tl.store(db_ptr + partial + c, pb + tl.sum(dy, axis=0), mask=cmask)


def _row_blocks(M: int, N: int, d) -> tuple[int, int]:
    tile = TILE // 2 if d is _dt.float64 else TILE
    bn = min(triton.next_power_of_2(max(N, 1)), MAX_BLOCK // (2 if d is _dt.float64 else 1))
    bm = min(triton.next_power_of_2(max(M, 1)), max(tile // bn, 1))
    return bm, bn


def _warps(bm: int, bn: int, backward: bool = False, wide_index: bool = False) -> int:
    # The backward keeps dy, x and two running sums live per element: a 4096-element tile spills
    # on sm_80/sm_90 (triton 3.6) below 16 warps, unless int64 index math needs the registers
    # that 16 warps leave too few of (then 8).
    if bm * bn >= 4096:
        return 16 if backward and not wide_index else 8
    return 4


def launch_row_norm(x: Tensor, weight, bias, eps: float, rms: bool):
    """``(y, mean or None, rstd)`` of ``x`` seen as rows of its last ``N`` elements, where ``N`` is
    given by ``weight`` or the caller: ``x`` is ``(M, N)`` contiguous here."""
    M, N = x.shape
    acc = acc_of(x.dtype)
    y = Tensor._empty((M, N), x.dtype, x.device)
    mean = None if rms else Tensor._empty((M,), acc, x.device)
    rstd = Tensor._empty((M,), acc, x.device)
    if M == 0 or N == 0:
        return y, mean, rstd
    bm, bn = _row_blocks(M, N, x.dtype)
    with L.on_device(x):
        row_norm_kernel[(triton.cdiv(M, bm),)](
            L.pointer(x), L.pointer(weight if weight is not None else x), L.pointer(bias if bias is not None else x),
            L.pointer(y), L.pointer(mean if mean is not None else rstd), L.pointer(rstd), M, N, float(eps),
            RMS=rms, HAS_W=weight is not None, HAS_B=bias is not None, ACC=_acc_tl(x.dtype),
            IDX=L.index_dtype((M, N), (N, 1)), BLOCK_M=bm, BLOCK_N=bn, num_warps=_warps(bm, bn))
    L.count("rms_norm" if rms else "layer_norm")
    return y, mean, rstd


def launch_row_norm_backward(dy: Tensor, x: Tensor, mean, rstd: Tensor, weight):
    """``(dx, partials)``: ``partials`` is ``(2, P, N)``, the weight's and the bias's fp32 partial
    sums over rows (each of the ``P`` programs writes its own row: summed over dim 1 they are the
    gradients)."""
    from neurarust.creation import zeros

    M, N = x.shape
    acc = acc_of(x.dtype)
    dx = Tensor._empty((M, N), x.dtype, x.device)
    bm, bn = _row_blocks(M, N, x.dtype)
    blocks = triton.cdiv(M, bm)
    P = max(1, min(blocks, PARTIAL_PROGRAMS if x.device.type == "cuda" else 4))
    if M == 0 or N == 0:
        return dx, zeros((2, P, N), dtype=acc, device=x.device)
    partials = Tensor._empty((2, P, N), acc, x.device)
    dw, db = partials[0], partials[1]
    idx = L.index_dtype((M, N), (N, 1), (P, N))
    with L.on_device(x):
        row_norm_backward_kernel[(P,)](
            L.pointer(dy), L.pointer(x), L.pointer(weight if weight is not None else x),
            L.pointer(mean if mean is not None else rstd), L.pointer(rstd), L.pointer(dx), L.pointer(dw),
            L.pointer(db), M, N, P, RMS=mean is None, HAS_W=weight is not None, ACC=_acc_tl(x.dtype),
            IDX=idx, BLOCK_M=bm, BLOCK_N=bn, num_warps=_warps(bm, bn, True, idx is tl.int64))
    L.count("layer_norm_backward")
    return dx, partials


# ----------------------------------------------------------------------------------------------
# Set norms: group_norm, batch_norm
# ----------------------------------------------------------------------------------------------

@triton.jit
def _line_offsets(p, i0, S, p_stride, line_stride, lines, cols, L_count, IDX: tl.constexpr):
    i = i0 + lines
    return i, p.to(IDX) * p_stride + i.to(IDX)[:, None] * line_stride + cols[None, :], i < L_count


@triton.jit
def set_norm_kernel(x_ptr, w_ptr, b_ptr, y_ptr, mean_ptr, rstd_ptr, L_count, S, G, group_channels, channel_step,
                    p_stride, line_stride, eps, STATS: tl.constexpr, HAS_W: tl.constexpr, HAS_B: tl.constexpr,
                    ACC: tl.constexpr, IDX: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_S: tl.constexpr):
    p = tl.program_id(0)
    S = tl.cast(S, IDX)
    p_stride = tl.cast(p_stride, IDX)
    line_stride = tl.cast(line_stride, IDX)
    lines = tl.arange(0, BLOCK_L)
    cols = tl.arange(0, BLOCK_S).to(IDX)
    count = (L_count * S).to(ACC)
    if STATS:
        acc = tl.zeros([BLOCK_L, BLOCK_S], ACC)
        for i0 in range(0, L_count, BLOCK_L):
            for s0 in range(0, S, BLOCK_S):
                i, offs, lmask = _line_offsets(p, i0, S, p_stride, line_stride, lines, s0 + cols, L_count, IDX)
                mask = lmask[:, None] & ((s0 + cols) < S)[None, :]
                acc += tl.load(x_ptr + offs, mask=mask, other=0.0).to(ACC)
        mean = tl.sum(tl.sum(acc, axis=1), axis=0) / count
        acc = tl.zeros([BLOCK_L, BLOCK_S], ACC)
        for i0 in range(0, L_count, BLOCK_L):
            for s0 in range(0, S, BLOCK_S):
                i, offs, lmask = _line_offsets(p, i0, S, p_stride, line_stride, lines, s0 + cols, L_count, IDX)
                mask = lmask[:, None] & ((s0 + cols) < S)[None, :]
                d = tl.where(mask, tl.load(x_ptr + offs, mask=mask, other=0.0).to(ACC) - mean, 0.0)
                acc += d * d
        rstd = 1.0 / tl.sqrt(tl.sum(tl.sum(acc, axis=1), axis=0) / count + eps)
        tl.store(mean_ptr + p, mean)
        tl.store(rstd_ptr + p, rstd)
    else:
        mean = tl.load(mean_ptr + p).to(ACC)
        rstd = tl.load(rstd_ptr + p).to(ACC)
    c0 = (p % G) * group_channels
    for i0 in range(0, L_count, BLOCK_L):
        i, offs, lmask = _line_offsets(p, i0, S, p_stride, line_stride, lines, cols, L_count, IDX)
        w, b = _affine(w_ptr, b_ptr, c0 + i * channel_step, lmask, HAS_W, HAS_B, ACC)
        for s0 in range(0, S, BLOCK_S):
            mask = lmask[:, None] & ((s0 + cols) < S)[None, :]
            x = tl.load(x_ptr + offs + s0, mask=mask, other=0.0).to(ACC)
            y = (x - mean) * rstd * w[:, None] + b[:, None]
            tl.store(y_ptr + offs + s0, y.to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def set_norm_backward_kernel(dy_ptr, x_ptr, w_ptr, mean_ptr, rstd_ptr, dx_ptr, dw_ptr, db_ptr, L_count, S, G,
                             group_channels, channel_step, p_stride, line_stride, p_slot, line_slot,
                             STATS: tl.constexpr, HAS_W: tl.constexpr, ACC: tl.constexpr, IDX: tl.constexpr,
                             BLOCK_L: tl.constexpr, BLOCK_S: tl.constexpr):
    p = tl.program_id(0)
    S = tl.cast(S, IDX)
    p_stride = tl.cast(p_stride, IDX)
    line_stride = tl.cast(line_stride, IDX)
    lines = tl.arange(0, BLOCK_L)
    cols = tl.arange(0, BLOCK_S).to(IDX)
    count = (L_count * S).to(ACC)
    mean = tl.load(mean_ptr + p).to(ACC)
    rstd = tl.load(rstd_ptr + p).to(ACC)
    c0 = (p % G) * group_channels
    c1 = tl.zeros([BLOCK_L], ACC)  # sum of w dy, per lane
    c2 = tl.zeros([BLOCK_L], ACC)  # sum of w dy xhat, per lane
    for i0 in range(0, L_count, BLOCK_L):
        i, offs, lmask = _line_offsets(p, i0, S, p_stride, line_stride, lines, cols, L_count, IDX)
        w, _ = _affine(w_ptr, w_ptr, c0 + i * channel_step, lmask, HAS_W, False, ACC)
        acc_dy = tl.zeros([BLOCK_L, BLOCK_S], ACC)  # reduced after the loop (cheaper, and triton 3.6
        acc_dyx = tl.zeros([BLOCK_L, BLOCK_S], ACC)  # fails to compile a loop-carried row sum here)
        for s0 in range(0, S, BLOCK_S):
            mask = lmask[:, None] & ((s0 + cols) < S)[None, :]
            x = tl.load(x_ptr + offs + s0, mask=mask, other=0.0).to(ACC)
            dy = tl.load(dy_ptr + offs + s0, mask=mask, other=0.0).to(ACC)
            acc_dy += dy
            acc_dyx += dy * tl.where(mask, (x - mean) * rstd, 0.0)
        line_dy = tl.sum(acc_dy, axis=1)
        line_dyx = tl.sum(acc_dyx, axis=1)
        # each (sample, channel) line belongs to exactly one program: its own slot, no atomics
        slots = p.to(IDX) * p_slot + i.to(IDX) * line_slot
        tl.store(db_ptr + slots, line_dy, mask=lmask)
        tl.store(dw_ptr + slots, line_dyx, mask=lmask)
        c1 += w * line_dy
        c2 += w * line_dyx
    c1s = tl.sum(c1, axis=0) / count
    c2s = tl.sum(c2, axis=0) / count
    for i0 in range(0, L_count, BLOCK_L):
        i, offs, lmask = _line_offsets(p, i0, S, p_stride, line_stride, lines, cols, L_count, IDX)
        w, _ = _affine(w_ptr, w_ptr, c0 + i * channel_step, lmask, HAS_W, False, ACC)
        for s0 in range(0, S, BLOCK_S):
            mask = lmask[:, None] & ((s0 + cols) < S)[None, :]
            dy = tl.load(dy_ptr + offs + s0, mask=mask, other=0.0).to(ACC)
            if STATS:
                x = tl.load(x_ptr + offs + s0, mask=mask, other=0.0).to(ACC)
                dx = (dy * w[:, None] - (x - mean) * rstd * c2s - c1s) * rstd
            else:  # fixed (running) statistics: the input's gradient is only the scale
                dx = dy * w[:, None] * rstd
            tl.store(dx_ptr + offs + s0, dx.to(dx_ptr.dtype.element_ty), mask=mask)


class SetGeometry:
    """The runtime numbers of the set kernels for ``x`` of shape ``(N, C, S)`` (contiguous):
    ``groups`` None means batch norm (one set per channel)."""

    def __init__(self, N: int, C: int, S: int, groups):
        self.S = S
        if groups is None:  # set = channel p: lines n = 0..N-1
            self.P, self.L, self.G, self.group_channels, self.channel_step = C, N, max(C, 1), 1, 0
            self.p_stride, self.line_stride, self.p_slot, self.line_slot = S, C * S, 1, C
        else:  # set = (n, g): lines are the group's channels, one contiguous chunk
            cg = C // groups
            self.P, self.L, self.G, self.group_channels, self.channel_step = N * groups, cg, groups, cg, 1
            self.p_stride, self.line_stride, self.p_slot, self.line_slot = cg * S, S, cg, 1

    def args(self) -> tuple:
        return (self.L, self.S, self.G, self.group_channels, self.channel_step, self.p_stride, self.line_stride)

    def blocks(self, d) -> tuple[int, int]:
        tile = TILE // 2 if d is _dt.float64 else TILE
        bs = min(triton.next_power_of_2(max(self.S, 1)), MAX_BLOCK // (2 if d is _dt.float64 else 1))
        bl = min(triton.next_power_of_2(max(self.L, 1)), max(tile // bs, 1))
        return bl, bs


def launch_set_norm(x: Tensor, weight, bias, mean, rstd, eps: float, groups):
    """``(y, mean, rstd)`` for ``x`` ``(N, C, S)`` contiguous; ``mean``/``rstd`` given (one per set,
    fp32) means they are used as they are (batch norm in eval mode), None means computed and returned."""
    N, C, S = x.shape
    g = SetGeometry(N, C, S, groups)
    acc = acc_of(x.dtype)
    stats = mean is None
    if stats:
        mean, rstd = Tensor._empty((g.P,), acc, x.device), Tensor._empty((g.P,), acc, x.device)
    y = Tensor._empty((N, C, S), x.dtype, x.device)
    if x.numel() == 0 or g.P == 0:
        return y, mean, rstd
    bl, bs = g.blocks(x.dtype)
    with L.on_device(x):
        set_norm_kernel[(g.P,)](
            L.pointer(x), L.pointer(weight if weight is not None else x), L.pointer(bias if bias is not None else x),
            L.pointer(y), L.pointer(mean), L.pointer(rstd), *g.args(), float(eps), STATS=stats,
            HAS_W=weight is not None, HAS_B=bias is not None, ACC=_acc_tl(x.dtype),
            IDX=L.index_dtype((N, C, S), (C * S, S, 1)), BLOCK_L=bl, BLOCK_S=bs, num_warps=_warps(bl, bs))
    L.count("batch_norm" if groups is None else "group_norm")
    return y, mean, rstd


def launch_set_norm_backward(dy: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, weight, groups, stats: bool):
    """``(dx, partial_dw, partial_db)`` with the partial buffers ``(N, C)`` in the compute dtype."""
    N, C, S = x.shape
    g = SetGeometry(N, C, S, groups)
    acc = acc_of(x.dtype)
    dx = Tensor._empty((N, C, S), x.dtype, x.device)
    dw, db = Tensor._empty((N, C), acc, x.device), Tensor._empty((N, C), acc, x.device)
    if x.numel() == 0 or g.P == 0:
        from neurarust.creation import zeros

        return dx, zeros((N, C), dtype=acc, device=x.device), zeros((N, C), dtype=acc, device=x.device)
    bl, bs = g.blocks(x.dtype)
    with L.on_device(x):
        set_norm_backward_kernel[(g.P,)](
            L.pointer(dy), L.pointer(x), L.pointer(weight if weight is not None else x), L.pointer(mean),
            L.pointer(rstd), L.pointer(dx), L.pointer(dw), L.pointer(db), *g.args(), g.p_slot, g.line_slot,
            STATS=stats, HAS_W=weight is not None, ACC=_acc_tl(x.dtype),
            IDX=L.index_dtype((N, C, S), (C * S, S, 1)), BLOCK_L=bl, BLOCK_S=bs, num_warps=_warps(bl, bs))
    L.count("batch_norm_backward" if groups is None else "group_norm_backward")
    return dx, dw, db


def aot_specs() -> list:
    """Each kernel for fp32/fp16/bf16 (and fp64) at a transformer row width (looped rows included),
    and the set kernels at conv-net shapes; an int64-offset variant."""
    specs = []

    def sig_of(names_ptr, d, acc, ints, consts):
        sig = {n: (f"*{acc.triton_name}" if n in ("mean_ptr", "rstd_ptr", "dw_ptr", "db_ptr")
                   else f"*{d.triton_name}") for n in names_ptr}
        sig.update({n: t for n, t in ints})
        sig.update({n: "constexpr" for n in consts})
        return sig

    def row(kind, d, M, N, rms=False, idx="i32"):
        acc = acc_of(d)
        bm, bn = _row_blocks(M, N, d)
        consts = {"RMS": rms, "HAS_W": True, "ACC": L.TL_DTYPES[acc.name],
                  "IDX": tl.int64 if idx == "i64" else tl.int32, "BLOCK_M": bm, "BLOCK_N": bn}
        if kind == "fwd":
            consts = {"RMS": rms, "HAS_W": True, "HAS_B": not rms, **{k: v for k, v in consts.items()
                                                                     if k not in ("RMS", "HAS_W")}}
            ptrs = ("x_ptr", "w_ptr", "b_ptr", "y_ptr", "mean_ptr", "rstd_ptr")
            ints = [("M", idx), ("N", idx), ("eps", "fp32")]
            kernel = row_norm_kernel
        else:
            ptrs = ("dy_ptr", "x_ptr", "w_ptr", "mean_ptr", "rstd_ptr", "dx_ptr", "dw_ptr", "db_ptr")
            ints = [("M", idx), ("N", idx), ("P", "i32")]
            kernel = row_norm_backward_kernel
        name = (f"{'rms' if rms else 'layer'}_norm_{kind}_{d.triton_name}_{M}x{N}_{bm}x{bn}"
                + ("_i64idx" if idx == "i64" else ""))
        return L.AotSpec(name, kernel, sig_of(ptrs, d, acc, ints, consts), consts,
                         aligned=tuple(range(len(ptrs))), num_warps=_warps(bm, bn, kind == "bwd", idx == "i64"))

    def sets(kind, d, N, C, S, groups, stats=True):
        acc = acc_of(d)
        bl, bs = SetGeometry(N, C, S, groups).blocks(d)
        ints = [("L_count", "i32"), ("S", "i32"), ("G", "i32"), ("group_channels", "i32"), ("channel_step", "i32"),
                ("p_stride", "i32"), ("line_stride", "i32")]
        common = {"STATS": stats, "HAS_W": True}
        tail = {"ACC": L.TL_DTYPES[acc.name], "IDX": tl.int32, "BLOCK_L": bl, "BLOCK_S": bs}
        if kind == "fwd":
            consts = {**common, "HAS_B": True, **tail}
            ptrs = ("x_ptr", "w_ptr", "b_ptr", "y_ptr", "mean_ptr", "rstd_ptr")
            ints = ints + [("eps", "fp32")]
            kernel = set_norm_kernel
        else:
            consts = {**common, **tail}
            ptrs = ("dy_ptr", "x_ptr", "w_ptr", "mean_ptr", "rstd_ptr", "dx_ptr", "dw_ptr", "db_ptr")
            ints = ints + [("p_slot", "i32"), ("line_slot", "i32")]
            kernel = set_norm_backward_kernel
        name = (f"{'batch' if groups is None else 'group'}_norm_{kind}_{d.triton_name}_{N}x{C}x{S}_{bl}x{bs}"
                + ("" if stats else "_eval"))
        return L.AotSpec(name, kernel, sig_of(ptrs, d, acc, ints, consts), consts,
                         aligned=tuple(range(len(ptrs))), num_warps=_warps(bl, bs))

    for kind in ("fwd", "bwd"):
        for d in (_dt.float32, _dt.float16, _dt.bfloat16):
            specs += [row(kind, d, 4096, 4096), row(kind, d, 4096, 4096, rms=True), sets(kind, d, 32, 64, 3136, 32),
                      sets(kind, d, 32, 64, 3136, None)]
        specs += [row(kind, _dt.float32, 1 << 16, 768), row(kind, _dt.float32, 64, 16384),
                  row(kind, _dt.float64, 1024, 1024), row(kind, _dt.bfloat16, 1 << 20, 4096, idx="i64"),
                  sets(kind, _dt.float32, 256, 512, 1, None), sets(kind, _dt.float32, 32, 64, 3136, None, stats=False)]
    return specs
