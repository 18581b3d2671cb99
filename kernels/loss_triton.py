"""The fused cross-entropy Triton kernels (forward, its finishing reduction, backward) and their launchers.

Forward: each program owns ``BLOCK_M`` rows of logits (a row is one sample's ``C`` class scores) and
walks them in chunks of ``BLOCK_C`` classes, keeping per row a running max and a running sum of
exponentials rescaled whenever the max grows (the online log-sum-exp), so a row of any length is read
once. It writes the log-sum-exp of each row (fp32, fp64 for fp64 logits: the backward's only saved
state) and, for ``reduction='none'``, each row's loss in the logits' dtype. No probabilities are ever
stored.

Reductions without atomics: program ``p`` of ``P`` also stores three partials into a ``(3, P)`` buffer
(fp32/fp64, plain stores, so nothing is zero-filled first): its rows' summed loss, summed weight of
the rows' classes (the denominator of ``'mean'``) and count of targets outside ``[0, C)``. When one
program covers every row (``P == 1``) it writes the finished ``'sum'``/``'mean'`` itself: one launch.
Otherwise ``cross_entropy_finish_kernel`` (one program) sums the partials in a fixed order, writes the
result and leaves the totals in column 0 of the partials: two launches, deterministic. ``'mean'`` of
no counted row is ``0 / 0 = nan``, as in PyTorch. The bad-target count is what the host checks (the
one sync on a GPU): rows with such targets read nothing.

Backward: recomputes ``p = exp(x - lse)`` from the logits and the saved log-sum-exp on the fly and
writes ``grad_row * ((a + b W) p - a onehot - b w)``, with ``a = (1 - s) w[target]`` and ``b = s / C``
for label smoothing ``s`` (``W`` = the sum of class weights). ``RECOMPUTE_LSE`` makes it first rebuild
each row's log-sum-exp with the forward's online pass (a captured graph cannot hand the forward's
over); ``NORMALIZE`` divides by the 'mean' denominator, the counted rows' summed class weight, which
the one program finds itself when it holds every row (else ``cross_entropy_denominator_kernel`` runs
first). The row gradient is read through its stride: the ``'mean'``/``'sum'`` scalar gradient
broadcast to every row (stride 0) needs no copy.

``LOG_PROBS`` makes the same kernels ``nll_loss`` (the input already holds log-probabilities: no
log-sum-exp, and ``p = 0``). Rows whose target equals ``ignore_index`` give 0 and weigh 0. fp16/bf16
logits are loaded and computed in fp32.
"""
from __future__ import annotations

from typing import NamedTuple

import neurarust.launch as L
from neurarust import dtype as _dt
from neurarust import shape as _sh
from neurarust.launch import tl, triton
from neurarust.tensor import Tensor

MAX_BLOCK_C = 4096   # classes per chunk; longer rows loop
TILE = 2048          # elements per program when rows are short
FINISH_BLOCK = 1024  # partials per step of the finishing kernel
REDUCE = {"none": 0, "sum": 1, "mean": 2}


@triton.jit
def _center(top):
    return tl.where(top == -float("inf"), 0.0, top)


@triton.jit
def _lse_step(top, run, x):
    """One chunk of the online log-sum-exp: the running max and the running sum rescaled to it."""
    new_top = tl.maximum(top, tl.max(x, axis=1))
    center = _center(new_top)
    run = run * tl.exp(top - center) + tl.sum(tl.exp(x - center[:, None]), axis=1)
    return new_top, run


@triton.jit
def _rows(t_ptr, pid, R, C, D, x_n, x_d, ignore_index, IDX: tl.constexpr, BLOCK_M: tl.constexpr):
    """Row indices, their first logit's offset, targets (0 where ignored), which rows count, and which
    hold a target outside [0, C) (never read: the launcher reports them)."""
    rows = pid.to(IDX) * BLOCK_M + tl.arange(0, BLOCK_M).to(IDX)
    in_range = rows < R
    x_rows = (rows // D) * x_n + (rows % D) * x_d
    target = tl.load(t_ptr + rows, mask=in_range, other=0)
    counted = in_range & (target != ignore_index)
    bad = counted & ((target < 0) | (target >= C))
    valid = counted & ~bad
    return rows, in_range, x_rows, tl.where(valid, target, 0).to(IDX), valid, bad


@triton.jit
def _class_weights(w_ptr, c, cmask, HAS_W: tl.constexpr, ACC: tl.constexpr):
    """The weights of classes ``c`` (1 without weights; 0 where ``cmask`` is off): also each row's
    class weight, with ``c`` the targets and ``cmask`` the rows that count."""
    if HAS_W:
        return tl.load(w_ptr + c, mask=cmask, other=0.0).to(ACC)
    else:
        return cmask.to(ACC)


@triton.jit
def _reduced(total, denom, REDUCE: tl.constexpr):
    out = total
    if REDUCE == 2:
        out = total / denom
    return out


@triton.jit
def _row_losses(lse, x_t, w_t, wx, total_w, smoothing, C, valid, SMOOTH: tl.constexpr):
    """Each row's loss from its log-sum-exp, target logit and class weight (and, with label smoothing,
    ``wx = sum_c w_c x_c`` and the classes' summed weight); 0 where the row does not count."""
    loss = (1.0 - smoothing) * w_t * (lse - x_t)
    if SMOOTH:
        loss += smoothing / C.to(lse.dtype) * (total_w * lse - wx)
    return tl.where(valid, loss, 0.0)


@triton.jit
def _store_losses(loss, w_t, bad, rows, in_range, loss_ptr, part_ptr, out_ptr, REDUCE: tl.constexpr,
                  FINISH: tl.constexpr):
    """Rows' losses for ``'none'``; the program's partials (plain stores: no zero-fill, no atomics;
    device asserts are unreliable, so the bad-target count goes to the host too); the reduced loss
    when this one program holds every row."""
    if REDUCE == 0:
        tl.store(loss_ptr + rows, loss.to(loss_ptr.dtype.element_ty), mask=in_range)
    pid = tl.program_id(0)
    P = tl.num_programs(0)
    total = tl.sum(loss, axis=0)
    denom = tl.sum(w_t, axis=0)
    tl.store(part_ptr + pid, total)
    tl.store(part_ptr + P + pid, denom)
    tl.store(part_ptr + 2 * P + pid, tl.sum(bad.to(total.dtype), axis=0))
    if FINISH:
        tl.store(out_ptr, _reduced(total, denom, REDUCE).to(out_ptr.dtype.element_ty))


@triton.jit
def cross_entropy_kernel(x_ptr, t_ptr, w_ptr, loss_ptr, lse_ptr, part_ptr, out_ptr, R, C, D, x_n, x_d, x_c,
                         ignore_index, smoothing, LOG_PROBS: tl.constexpr, HAS_W: tl.constexpr,
                         SMOOTH: tl.constexpr, REDUCE: tl.constexpr, FINISH: tl.constexpr, ACC: tl.constexpr,
                         IDX: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_C: tl.constexpr):
    pid = tl.program_id(0)
    C = tl.cast(C, IDX)
    x_c = tl.cast(x_c, IDX)
    rows, in_range, x_rows, target, valid, bad = _rows(t_ptr, pid, tl.cast(R, IDX), C, tl.cast(D, IDX),
                                                       tl.cast(x_n, IDX), tl.cast(x_d, IDX), ignore_index, IDX,
                                                       BLOCK_M)
    cols = tl.arange(0, BLOCK_C).to(IDX)
    top = tl.full([BLOCK_M], -float("inf"), ACC)
    run = tl.zeros([BLOCK_M], ACC)
    wx = tl.zeros([BLOCK_M], ACC)      # sum_c w_c x_c (label smoothing)
    wsum = tl.zeros([BLOCK_C], ACC)    # sum_c w_c, per lane
    if (not LOG_PROBS) or SMOOTH:
        for start in range(0, C, BLOCK_C):
            c = start + cols
            cmask = c < C
            mask = in_range[:, None] & cmask[None, :]
            x = tl.load(x_ptr + x_rows[:, None] + c[None, :] * x_c, mask=mask, other=-float("inf")).to(ACC)
            if not LOG_PROBS:
                top, run = _lse_step(top, run, x)
            if SMOOTH:
                w = _class_weights(w_ptr, c, cmask, HAS_W, ACC)
                wx += tl.sum(tl.where(mask, x * w[None, :], 0.0), axis=1)
                wsum += w
    if LOG_PROBS:
        lse = tl.zeros([BLOCK_M], ACC)
    else:
        lse = _center(top) + tl.log(run)
        tl.store(lse_ptr + rows, lse, mask=in_range)
    x_t = tl.load(x_ptr + x_rows + target * x_c, mask=valid, other=0.0).to(ACC)
    w_t = _class_weights(w_ptr, target, valid, HAS_W, ACC)
    loss = _row_losses(lse, x_t, w_t, wx, tl.sum(wsum, axis=0), smoothing, C, valid, SMOOTH)
    _store_losses(loss, w_t, bad, rows, in_range, loss_ptr, part_ptr, out_ptr, REDUCE, FINISH)


@triton.jit
def cross_entropy_finish_kernel(part_ptr, out_ptr, P, S, REDUCE: tl.constexpr, ACC: tl.constexpr,
                                BLOCK: tl.constexpr):
    """One program: the ``(3, S)`` partials' first ``P`` columns summed in a fixed order; writes the
    reduced loss and leaves the denominator and the bad-target count in column 0."""
    offs = tl.arange(0, BLOCK)
    total = tl.zeros([BLOCK], ACC)
    denom = tl.zeros([BLOCK], ACC)
    bad = tl.zeros([BLOCK], ACC)
    for start in range(0, P, BLOCK):
        i = start + offs
        m = i < P
        total += tl.load(part_ptr + i, mask=m, other=0.0)
        denom += tl.load(part_ptr + S + i, mask=m, other=0.0)
        bad += tl.load(part_ptr + 2 * S + i, mask=m, other=0.0)
    t = tl.sum(total, axis=0)
    d = tl.sum(denom, axis=0)
    tl.store(out_ptr, _reduced(t, d, REDUCE).to(out_ptr.dtype.element_ty))
    tl.store(part_ptr + S, d)
    tl.store(part_ptr + 2 * S, tl.sum(bad, axis=0))


@triton.jit
def cross_entropy_backward_kernel(g_ptr, x_ptr, t_ptr, w_ptr, lse_ptr, denom_ptr, out_ptr, loss_ptr, part_ptr,
                                  loss_out_ptr, R, C, D, x_n, x_d, x_c, o_n, o_d, o_c, g_s, ignore_index, smoothing,
                                  LOG_PROBS: tl.constexpr, HAS_W: tl.constexpr, SMOOTH: tl.constexpr,
                                  RECOMPUTE_LSE: tl.constexpr, NORMALIZE: tl.constexpr, LOSS: tl.constexpr,
                                  REDUCE: tl.constexpr, FINISH: tl.constexpr, ACC: tl.constexpr,
                                  IDX: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_C: tl.constexpr):
    R = tl.cast(R, IDX)
    C = tl.cast(C, IDX)
    D = tl.cast(D, IDX)
    x_c = tl.cast(x_c, IDX)
    o_c = tl.cast(o_c, IDX)
    rows, in_range, x_rows, target, valid, bad = _rows(t_ptr, tl.program_id(0), R, C, D, tl.cast(x_n, IDX),
                                                       tl.cast(x_d, IDX), ignore_index, IDX, BLOCK_M)
    o_rows = (rows // D) * tl.cast(o_n, IDX) + (rows % D) * tl.cast(o_d, IDX)
    cols = tl.arange(0, BLOCK_C).to(IDX)
    g = tl.load(g_ptr + rows * tl.cast(g_s, IDX), mask=in_range, other=0.0).to(ACC)
    w_t = _class_weights(w_ptr, target, valid, HAS_W, ACC)
    if NORMALIZE != 0:
        if NORMALIZE == 1:   # 'mean' and one program holds every row: the denominator is its own sum
            denom = tl.sum(w_t, axis=0)
        else:
            denom = tl.load(denom_ptr).to(ACC)
        # no row counted (every one ignored): the loss is 0 / 0, its gradient 0, not NaN
        g = tl.where(denom != 0, g / denom, 0.0)
    a = (1.0 - smoothing) * w_t
    b = tl.where(valid, smoothing / C.to(ACC), 0.0)
    total_w = C.to(ACC)
    if SMOOTH and HAS_W:  # the class weights' sum, read once per program
        wsum = tl.zeros([BLOCK_C], ACC)
        for start in range(0, C, BLOCK_C):
            c = start + cols
            wsum += _class_weights(w_ptr, c, c < C, HAS_W, ACC)
        total_w = tl.sum(wsum, axis=0)
    coef = a + b * total_w
    lse = tl.zeros([BLOCK_M], ACC)
    if not LOG_PROBS:
        if RECOMPUTE_LSE:  # the forward's online pass over the row first
            top = tl.full([BLOCK_M], -float("inf"), ACC)
            run = tl.zeros([BLOCK_M], ACC)
            for start in range(0, C, BLOCK_C):
                c = start + cols
                mask = in_range[:, None] & (c < C)[None, :]
                x = tl.load(x_ptr + x_rows[:, None] + c[None, :] * x_c, mask=mask, other=-float("inf")).to(ACC)
                top, run = _lse_step(top, run, x)
            lse = _center(top) + tl.log(run)
        else:
            lse = tl.load(lse_ptr + rows, mask=in_range, other=0.0).to(ACC)
    wx = tl.zeros([BLOCK_M], ACC)      # sum_c w_c x_c, for LOSS with label smoothing
    for start in range(0, C, BLOCK_C):
        c = start + cols
        cmask = c < C
        mask = in_range[:, None] & cmask[None, :]
        d = tl.zeros([BLOCK_M, BLOCK_C], ACC)
        if not LOG_PROBS:
            x = tl.load(x_ptr + x_rows[:, None] + c[None, :] * x_c, mask=mask, other=0.0).to(ACC)
            d = coef[:, None] * tl.exp(x - lse[:, None])
        d -= tl.where(c[None, :] == target[:, None], a[:, None], 0.0)
        if SMOOTH:
            w = _class_weights(w_ptr, c, cmask, HAS_W, ACC)
            d -= b[:, None] * w[None, :]
            if LOSS and not LOG_PROBS:
                wx += tl.sum(tl.where(mask, x * w[None, :], 0.0), axis=1)
        tl.store(out_ptr + o_rows[:, None] + c[None, :] * o_c, (g[:, None] * d).to(out_ptr.dtype.element_ty),
                 mask=mask)
    if LOSS:   # the forward's loss too, from the same pass (a captured step's loss and its gradient)
        x_t = tl.load(x_ptr + x_rows + target * x_c, mask=valid, other=0.0).to(ACC)
        loss = _row_losses(lse, x_t, w_t, wx, total_w, smoothing, C, valid, SMOOTH)
        _store_losses(loss, w_t, bad, rows, in_range, loss_ptr, part_ptr, loss_out_ptr, REDUCE, FINISH)


@triton.jit
def cross_entropy_denominator_kernel(t_ptr, w_ptr, out_ptr, R, C, ignore_index, HAS_W: tl.constexpr,
                                     ACC: tl.constexpr, IDX: tl.constexpr, BLOCK: tl.constexpr):
    """One program: the counted rows' summed class weight (the 'mean' denominator), in a fixed order."""
    total = tl.zeros([BLOCK], ACC)
    for start in range(0, R, BLOCK):
        rows = (start + tl.arange(0, BLOCK)).to(IDX)
        target = tl.load(t_ptr + rows, mask=rows < R, other=ignore_index)
        valid = (target != ignore_index) & (target >= 0) & (target < C)   # as _rows counts them
        total += _class_weights(w_ptr, tl.where(valid, target, 0), valid, HAS_W, ACC)
    tl.store(out_ptr, tl.sum(total, axis=0))


class Rows:
    """Geometry of logits ``(C,)`` or ``(N, C, d1, ...)``: ``R = N * D`` rows of ``C`` classes; row r
    starts at ``(r // D) * n + (r % D) * d`` and steps by ``c``."""

    def __init__(self, x: Tensor):
        if x.ndim == 1:
            self.x, self.R, self.C, self.D, self.n, self.d, self.c = x, 1, x.shape[0], 1, 0, 0, x.stride(0)
            return
        rest, (strides,) = _sh.collapse_dims(list(x.shape[2:]), [x.stride(i) for i in range(2, x.ndim)])
        if len(rest) > 1:  # spatial dims that do not merge: one contiguous copy
            x = x.contiguous()
            rest, (strides,) = _sh.collapse_dims(list(x.shape[2:]), [x.stride(i) for i in range(2, x.ndim)])
        self.x, self.C = x, x.shape[1]
        self.D = _sh.numel(rest) if rest else 1
        self.R = x.shape[0] * self.D
        self.n, self.d, self.c = x.stride(0), (strides[0] if rest else 0), x.stride(1)

    def args(self) -> tuple:
        return (self.R, self.C, self.D, self.n, self.d, self.c)


def _blocks(R: int, C: int, max_block_c: int, d=_dt.float32, halve: bool = False) -> tuple[int, int]:
    tile = TILE // 2 if d is _dt.float64 or halve else TILE  # fp64 tiles of 4096 elements spilt
    bc = min(triton.next_power_of_2(max(C, 1)), max_block_c)
    bm = min(triton.next_power_of_2(max(R, 1)), max(tile // bc, 1))
    return bm, bc


def acc_of(d) -> _dt.DType:
    """The dtype the kernels compute and write their per-row values in."""
    return _dt.float64 if d is _dt.float64 else _dt.float32


def _flags(x: Tensor, weight, smoothing: float, log_probs: bool) -> dict:
    return {"LOG_PROBS": log_probs, "HAS_W": weight is not None, "SMOOTH": smoothing > 0,
            "ACC": L.TL_DTYPES[acc_of(x.dtype).name]}


class Losses(NamedTuple):
    """What the forward launcher returns: ``out`` (per-row losses ``(R,)`` for ``'none'``, else the
    0-d reduced loss; the logits' dtype), ``lse`` (``(R,)`` fp32/fp64; None for log-probabilities),
    ``denom`` (0-d, the counted rows' summed class weight; None for ``'none'``) and ``bad`` (counts of
    targets outside ``[0, C)``, any non-zero flags one; None when there are no rows)."""

    out: Tensor
    lse: Tensor | None
    denom: Tensor | None
    bad: Tensor | None


def _launch_finish(part: Tensor, out: Tensor, P: int, S: int, reduction: str) -> None:
    block = min(triton.next_power_of_2(max(P, 1)), FINISH_BLOCK)
    with L.on_device(out):
        cross_entropy_finish_kernel[(1,)](L.pointer(part), L.pointer(out), P, S, REDUCE=REDUCE[reduction],
                                          ACC=L.TL_DTYPES[part.dtype.name], BLOCK=block)
    L.count("cross_entropy_finish")


def launch_cross_entropy(x: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, smoothing: float,
                         log_probs: bool, reduction: str = "none", *, max_block_c: int = MAX_BLOCK_C) -> Losses:
    """The loss of logits ``x`` (log-probabilities for ``log_probs``) at class indices ``target``,
    reduced by ``reduction``: one launch, or two when the rows take several programs and are reduced
    (see :class:`Losses`). Rows whose target (not ``ignore_index``) lies outside ``[0, C)`` read
    nothing and are counted in ``bad``."""
    g = Rows(x)
    acc = acc_of(x.dtype)
    reduce = reduction != "none"
    out = Tensor._empty(() if reduce else (g.R,), x.dtype, x.device)
    lse = None if log_probs else Tensor._empty((g.R,), acc, x.device)
    bm, bc = _blocks(g.R, g.C, max_block_c, x.dtype)
    P = triton.cdiv(g.R, bm)
    S = max(P, 1)
    part = Tensor._empty((3, S), acc, x.device)
    denom = part._view((), (), part._offset + S) if reduce else None
    if g.R == 0:
        if reduce:  # 0 for 'sum', nan for 'mean'
            _launch_finish(part, out, 0, S, reduction)
        return Losses(out, lse, denom, None)
    t = target.contiguous()
    w = weight.contiguous() if weight is not None else None
    with L.on_device(x):
        cross_entropy_kernel[(P,)](
            L.pointer(g.x), L.pointer(t), L.pointer(w if w is not None else part), L.pointer(out),
            L.pointer(lse if lse is not None else part), L.pointer(part), L.pointer(out), *g.args(), ignore_index,
            float(smoothing), **_flags(x, weight, smoothing, log_probs), REDUCE=REDUCE[reduction],
            FINISH=reduce and P == 1, IDX=L.index_dtype(g.x.shape, g.x.stride()), BLOCK_M=bm, BLOCK_C=bc,
            num_warps=8 if bm * bc >= 2048 else 4)
    L.count("nll_loss" if log_probs else "cross_entropy")
    if reduce and P > 1:
        _launch_finish(part, out, P, S, reduction)
    bad = part._view((P if not reduce else 1,), (1,), part._offset + 2 * S)
    return Losses(out, lse, denom, bad)


def _row_gradient(grad_rows: Tensor) -> tuple[Tensor, int]:
    """``grad_rows`` and the stride between consecutive rows' values, copied only when its dims do
    not collapse to one (a broadcast scalar has stride 0)."""
    shape, (strides,) = _sh.collapse_dims(list(grad_rows.shape), list(grad_rows.stride()))
    if not shape:
        return grad_rows, 0
    if len(shape) == 1 and strides[0] >= 0:
        return grad_rows, strides[0]
    return grad_rows.contiguous(), 1


def _launch_denominator(t: Tensor, w: Tensor | None, C: int, ignore_index: int, acc) -> Tensor:
    denom = Tensor._empty((), acc, t.device)
    R = t.numel()
    with L.on_device(t):
        cross_entropy_denominator_kernel[(1,)](L.pointer(t), L.pointer(w if w is not None else denom),
                                               L.pointer(denom), R, C, ignore_index, HAS_W=w is not None,
                                               ACC=L.TL_DTYPES[acc.name], IDX=L.index_dtype((R,), (1,)),
                                               BLOCK=min(triton.next_power_of_2(max(R, 1)), FINISH_BLOCK))
    L.count("cross_entropy_denominator")
    return denom


def launch_cross_entropy_backward(out: Tensor, grad_rows: Tensor, x: Tensor, target: Tensor, lse: Tensor | None,
                                  weight: Tensor | None, ignore_index: int, smoothing: float,
                                  recompute_lse: bool = False, normalize: bool = False, *,
                                  max_block_c: int = MAX_BLOCK_C, loss_reduction: str | None = None) -> Losses | None:
    """The logits' gradient into ``out`` (contiguous, ``x``'s shape); ``grad_rows`` has one value per
    row (the target's shape, any strides), ``lse`` the forward's log-sum-exp (None: ``x`` holds
    log-probabilities, unless ``recompute_lse``: the kernel rebuilds it from ``x``). ``normalize``
    divides the row gradients by the counted rows' summed class weight ('mean'): found by the one
    program when it holds every row, else by a one-program kernel first (two launches).

    ``loss_reduction`` (with ``recompute_lse``): the same pass also computes the forward's loss,
    reduced so, and returns it as the forward launcher does (a captured training step's loss and
    its gradient in one launch, or with the finishing kernel when the rows take several programs)."""
    g = Rows(x)
    o = Rows(out)
    loss = loss_reduction is not None
    if loss:   # the loss's own values too: half the tile, or triton 3.6 spills for sm_80
        max_block_c = min(max_block_c, MAX_BLOCK_C // 2)
    if g.R == 0 or g.C == 0:
        return launch_cross_entropy(x, target, weight, ignore_index, smoothing, False, loss_reduction) if loss else None
    bm, bc = _blocks(g.R, g.C, max_block_c, x.dtype, halve=loss)
    P = triton.cdiv(g.R, bm)
    rows, g_s = _row_gradient(grad_rows)
    t = target.contiguous()
    w = weight.contiguous() if weight is not None else None
    lse_c = lse.contiguous() if lse is not None else None
    recompute = recompute_lse and lse is None
    acc = acc_of(x.dtype)
    denom = _launch_denominator(t, w, g.C, ignore_index, acc) if normalize and P > 1 else None
    reduce = loss and loss_reduction != "none"
    losses = Tensor._empty(() if reduce else (g.R,), x.dtype, x.device) if loss else out
    part = Tensor._empty((3, P), acc, x.device) if loss else out
    idx = L.index_dtype(g.x.shape, g.x.stride(), out.stride())
    if (g.R - 1) * g_s > L.INT32_MAX:
        idx = tl.int64
    with L.on_device(out):
        cross_entropy_backward_kernel[(P,)](
            L.pointer(rows), L.pointer(g.x), L.pointer(t), L.pointer(w if w is not None else out),
            L.pointer(lse_c if lse_c is not None else rows), L.pointer(denom if denom is not None else rows),
            L.pointer(out), L.pointer(losses), L.pointer(part), L.pointer(losses), *g.args(), o.n, o.d, o.c, g_s,
            ignore_index, float(smoothing), **_flags(x, weight, smoothing, lse is None and not recompute),
            RECOMPUTE_LSE=recompute, NORMALIZE=0 if not normalize else 2 if denom is not None else 1,
            LOSS=loss, REDUCE=REDUCE[loss_reduction] if loss else 0, FINISH=reduce and P == 1, IDX=idx,
            BLOCK_M=bm, BLOCK_C=bc, num_warps=8 if bm * bc >= 2048 else 4)
    L.count("cross_entropy_backward")
    if not loss:
        return None
    if reduce and P > 1:
        _launch_finish(part, losses, P, P, loss_reduction)
    bad = part._view((P if not reduce else 1,), (1,), part._offset + 2 * P)
    return Losses(losses, None, part._view((), (), part._offset + P) if reduce else None, bad)


def aot_specs() -> list:
    """Forward and backward for each logits dtype at LLM-sized rows (looped), short rows, with and
    without weights and label smoothing; nll; an int64-offset variant; the forward reducing in one
    program and with the finishing kernel; the backward recomputing the log-sum-exp."""
    specs = []
    sizes = ("R", "C", "D", "x_n", "x_d", "x_c")

    def spec(kind, d, R, C, log_probs=False, has_w=False, smooth=False, idx="i32", reduce=0, recompute=False,
             normalize=0, loss=False):
        bm, bc = _blocks(R, C, MAX_BLOCK_C // 2 if loss else MAX_BLOCK_C, d, halve=loss)
        a = acc_of(d).triton_name
        consts = {"LOG_PROBS": log_probs, "HAS_W": has_w, "SMOOTH": smooth}
        if kind == "fwd":
            kernel = cross_entropy_kernel
            sig = {"x_ptr": f"*{d.triton_name}", "t_ptr": "*i64", "w_ptr": f"*{d.triton_name}",
                   "loss_ptr": f"*{d.triton_name}", "lse_ptr": f"*{a}", "part_ptr": f"*{a}",
                   "out_ptr": f"*{d.triton_name}"}
            sig.update({n: idx for n in sizes})
            consts.update({"REDUCE": reduce, "FINISH": reduce > 0 and triton.cdiv(R, bm) == 1})
        else:
            kernel = cross_entropy_backward_kernel
            sig = {"g_ptr": f"*{a}", "x_ptr": f"*{d.triton_name}", "t_ptr": "*i64", "w_ptr": f"*{d.triton_name}",
                   "lse_ptr": f"*{a}", "denom_ptr": f"*{a}", "out_ptr": f"*{d.triton_name}",
                   "loss_ptr": f"*{d.triton_name}", "part_ptr": f"*{a}", "loss_out_ptr": f"*{d.triton_name}"}
            sig.update({n: idx for n in sizes + ("o_n", "o_d", "o_c", "g_s")})
            consts.update(RECOMPUTE_LSE=recompute, NORMALIZE=normalize, LOSS=loss, REDUCE=reduce,
                          FINISH=loss and reduce > 0 and triton.cdiv(R, bm) == 1)
        consts.update({"ACC": L.TL_DTYPES[acc_of(d).name], "IDX": tl.int64 if idx == "i64" else tl.int32,
                       "BLOCK_M": bm, "BLOCK_C": bc})
        sig.update({"ignore_index": "i64", "smoothing": "fp32"})
        sig.update({n: "constexpr" for n in consts})
        name = (f"{'nll' if log_probs else 'cross_entropy'}_{kind}_{d.triton_name}_{bm}x{bc}"
                + ("_w" if has_w else "") + ("_smooth" if smooth else "") + ("_i64idx" if idx == "i64" else "")
                + (f"_reduce{reduce}" if reduce else "") + ("_recompute" if recompute else "")
                + (f"_normalize{normalize}" if normalize else "") + ("_loss" if loss else ""))
        return L.AotSpec(name, kernel, sig, consts, aligned=(0, 1, 2, 3, 4, 5),
                         num_warps=8 if bm * bc >= 2048 else 4)

    def finish(d):
        a = acc_of(d)
        sig = {"part_ptr": f"*{a.triton_name}", "out_ptr": f"*{d.triton_name}", "P": "i32", "S": "i32",
               "REDUCE": "constexpr", "ACC": "constexpr", "BLOCK": "constexpr"}
        consts = {"REDUCE": 2, "ACC": L.TL_DTYPES[a.name], "BLOCK": FINISH_BLOCK}
        return L.AotSpec(f"cross_entropy_finish_{d.triton_name}", cross_entropy_finish_kernel, sig, consts,
                         aligned=(0, 1))

    vocab, short = (1 << 14, 1 << 17), (1 << 20, 10)
    for kind in ("fwd", "bwd"):
        for d in (_dt.float32, _dt.float16, _dt.bfloat16):
            specs.append(spec(kind, d, *vocab))
        specs += [spec(kind, _dt.float32, *short, has_w=True, smooth=True),
                  spec(kind, _dt.bfloat16, *vocab, has_w=True, smooth=True),
                  spec(kind, _dt.float64, *short),
                  spec(kind, _dt.float32, *short, log_probs=True, has_w=True),
                  spec(kind, _dt.bfloat16, *vocab, idx="i64")]
    specs += [spec("fwd", _dt.bfloat16, *vocab, reduce=2), spec("fwd", _dt.float32, 2, 1000, reduce=2),
              spec("fwd", _dt.float64, 16, 10, has_w=True, smooth=True, reduce=1),
              spec("bwd", _dt.bfloat16, *vocab, recompute=True),
              spec("bwd", _dt.float32, *short, has_w=True, smooth=True, recompute=True)]
    specs += [spec("bwd", _dt.float32, 2, 1000, recompute=True, normalize=1),
              spec("bwd", _dt.bfloat16, *vocab, has_w=True, normalize=2)]
    # The loss and its gradient in one pass (neurarust.graph.losses): one program, several, smoothing.
    specs += [spec("bwd", _dt.float32, 2, 1000, recompute=True, normalize=1, reduce=2, loss=True),
              spec("bwd", _dt.bfloat16, *vocab, recompute=True, normalize=2, reduce=2, loss=True),
              spec("bwd", _dt.float32, *short, has_w=True, smooth=True, recompute=True, reduce=1, loss=True),
              spec("bwd", _dt.float64, 16, 10, recompute=True, reduce=0, loss=True)]
    specs += [finish(_dt.float32), finish(_dt.bfloat16), finish(_dt.float64)]
    for d, has_w in ((_dt.float32, False), (_dt.bfloat16, True)):
        a = acc_of(d)
        sig = {"t_ptr": "*i64", "w_ptr": f"*{d.triton_name}", "out_ptr": f"*{a.triton_name}", "R": "i32", "C": "i32",
               "ignore_index": "i64"}
        consts = {"HAS_W": has_w, "ACC": L.TL_DTYPES[a.name], "IDX": tl.int32, "BLOCK": FINISH_BLOCK}
        sig.update({n: "constexpr" for n in consts})
        specs.append(L.AotSpec(f"cross_entropy_denominator_{d.triton_name}{'_w' if has_w else ''}",
                               cross_entropy_denominator_kernel, sig, consts, aligned=(0, 1, 2)))
    return specs
