"""The fused cross-entropy Triton kernels (forward and backward) and their launchers.

Forward: each program owns ``BLOCK_M`` rows of logits (a row is one sample's ``C`` class scores) and
walks them in chunks of ``BLOCK_C`` classes, keeping per row a running max and a running sum of
exponentials rescaled whenever the max grows (the online log-sum-exp), so a row of any length is read
once. It writes three fp32 numbers per row: the loss, the log-sum-exp and the weight of the row's
class (the denominator of ``reduction='mean'``). No probabilities are ever stored.

Backward: recomputes ``p = exp(x - lse)`` from the logits and the saved log-sum-exp on the fly and
writes ``grad_row * ((a + b W) p - a onehot - b w)``, with ``a = (1 - s) w[target]`` and ``b = s / C``
for label smoothing ``s`` (``W`` = the sum of class weights).

``LOG_PROBS`` makes the same kernels ``nll_loss`` (the input already holds log-probabilities: no
log-sum-exp, and ``p = 0``). Rows whose target equals ``ignore_index`` give 0 and weigh 0. fp16/bf16
logits are loaded and computed in fp32.
"""
from __future__ import annotations

import neurarust.launch as L
from neurarust import dtype as _dt
from neurarust import shape as _sh
from neurarust.launch import tl, triton
from neurarust.tensor import Tensor

MAX_BLOCK_C = 4096   # classes per chunk; longer rows loop
TILE = 2048          # elements per program when rows are short


@triton.jit
def _center(top):
    return tl.where(top == -float("inf"), 0.0, top)


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
    if HAS_W:
        return tl.load(w_ptr + c, mask=cmask, other=0.0).to(ACC)
    else:
        return cmask.to(ACC)


@triton.jit
def cross_entropy_kernel(x_ptr, t_ptr, w_ptr, loss_ptr, lse_ptr, rw_ptr, bad_ptr, R, C, D, x_n, x_d, x_c,
                         ignore_index, smoothing, LOG_PROBS: tl.constexpr, HAS_W: tl.constexpr,
                         SMOOTH: tl.constexpr, ACC: tl.constexpr, IDX: tl.constexpr, BLOCK_M: tl.constexpr,
                         BLOCK_C: tl.constexpr):
    C = tl.cast(C, IDX)
    x_c = tl.cast(x_c, IDX)
    rows, in_range, x_rows, target, valid, bad = _rows(t_ptr, tl.program_id(0), tl.cast(R, IDX), C, tl.cast(D, IDX),
                                                       tl.cast(x_n, IDX), tl.cast(x_d, IDX), ignore_index, IDX,
                                                       BLOCK_M)
    n_bad = tl.sum(bad.to(tl.int32), axis=0)
    tl.atomic_max(bad_ptr, n_bad, mask=n_bad > 0)  # device asserts are unreliable: flag for the host
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
                new_top = tl.maximum(top, tl.max(x, axis=1))
                center = _center(new_top)
                run = run * tl.exp(top - center) + tl.sum(tl.exp(x - center[:, None]), axis=1)
                top = new_top
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
    if HAS_W:
        w_t = tl.load(w_ptr + target, mask=valid, other=0.0).to(ACC)
    else:
        w_t = valid.to(ACC)
    loss = (1.0 - smoothing) * w_t * (lse - x_t)
    if SMOOTH:
        loss += smoothing / C.to(ACC) * (tl.sum(wsum, axis=0) * lse - wx)
    tl.store(loss_ptr + rows, tl.where(valid, loss, 0.0), mask=in_range)
    tl.store(rw_ptr + rows, w_t, mask=in_range)


@triton.jit
def cross_entropy_backward_kernel(g_ptr, x_ptr, t_ptr, w_ptr, lse_ptr, out_ptr, R, C, D, x_n, x_d, x_c,
                                  o_n, o_d, o_c, ignore_index, smoothing, LOG_PROBS: tl.constexpr,
                                  HAS_W: tl.constexpr, SMOOTH: tl.constexpr, ACC: tl.constexpr, IDX: tl.constexpr,
                                  BLOCK_M: tl.constexpr, BLOCK_C: tl.constexpr):
    R = tl.cast(R, IDX)
    C = tl.cast(C, IDX)
    D = tl.cast(D, IDX)
    x_c = tl.cast(x_c, IDX)
    o_c = tl.cast(o_c, IDX)
    rows, in_range, x_rows, target, valid, _ = _rows(t_ptr, tl.program_id(0), R, C, D, tl.cast(x_n, IDX),
                                                     tl.cast(x_d, IDX), ignore_index, IDX, BLOCK_M)
    o_rows = (rows // D) * tl.cast(o_n, IDX) + (rows % D) * tl.cast(o_d, IDX)
    cols = tl.arange(0, BLOCK_C).to(IDX)
    g = tl.load(g_ptr + rows, mask=in_range, other=0.0).to(ACC)
    if HAS_W:
        w_t = tl.load(w_ptr + target, mask=valid, other=0.0).to(ACC)
    else:
        w_t = valid.to(ACC)
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
    if not LOG_PROBS:
        lse = tl.load(lse_ptr + rows, mask=in_range, other=0.0).to(ACC)
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
            d -= b[:, None] * _class_weights(w_ptr, c, cmask, HAS_W, ACC)[None, :]
        tl.store(out_ptr + o_rows[:, None] + c[None, :] * o_c, (g[:, None] * d).to(out_ptr.dtype.element_ty),
                 mask=mask)


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


def _blocks(R: int, C: int, max_block_c: int, d=_dt.float32) -> tuple[int, int]:
    tile = TILE // 2 if d is _dt.float64 else TILE  # fp64 tiles of 4096 elements spilt
    bc = min(triton.next_power_of_2(max(C, 1)), max_block_c)
    bm = min(triton.next_power_of_2(max(R, 1)), max(tile // bc, 1))
    return bm, bc


def acc_of(d) -> _dt.DType:
    """The dtype the kernels compute and write their per-row values in."""
    return _dt.float64 if d is _dt.float64 else _dt.float32


def _flags(x: Tensor, weight, smoothing: float, log_probs: bool) -> dict:
    return {"LOG_PROBS": log_probs, "HAS_W": weight is not None, "SMOOTH": smoothing > 0,
            "ACC": L.TL_DTYPES[acc_of(x.dtype).name]}


def launch_cross_entropy(x: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, smoothing: float,
                         log_probs: bool, *, max_block_c: int = MAX_BLOCK_C):
    """Per-row ``(loss, lse, weight of the row's class)`` (fp32, or fp64 for fp64 logits) tensors of
    ``R`` elements (``lse`` is None for ``log_probs``), and a 1-element int32 tensor that is non-zero
    when some target (not ``ignore_index``) lies outside ``[0, C)``; such rows read nothing."""
    from neurarust.creation import zeros

    g = Rows(x)
    bad = zeros(1, dtype=_dt.int32, device=x.device)
    acc = acc_of(x.dtype)
    loss, rw = Tensor._empty((g.R,), acc, x.device), Tensor._empty((g.R,), acc, x.device)
    lse = None if log_probs else Tensor._empty((g.R,), acc, x.device)
    if g.R == 0:
        return loss, lse, rw, bad
    t = target.contiguous()
    w = weight.contiguous() if weight is not None else None
    bm, bc = _blocks(g.R, g.C, max_block_c, x.dtype)
    with L.on_device(x):
        cross_entropy_kernel[(triton.cdiv(g.R, bm),)](
            L.pointer(g.x), L.pointer(t), L.pointer(w if w is not None else loss), L.pointer(loss),
            L.pointer(lse if lse is not None else loss), L.pointer(rw), L.pointer(bad), *g.args(), ignore_index,
            float(smoothing),
            **_flags(x, weight, smoothing, log_probs), IDX=L.index_dtype(g.x.shape, g.x.stride()),
            BLOCK_M=bm, BLOCK_C=bc, num_warps=8 if bm * bc >= 2048 else 4)
    L.count("nll_loss" if log_probs else "cross_entropy")
    return loss, lse, rw, bad


def launch_cross_entropy_backward(out: Tensor, grad_rows: Tensor, x: Tensor, target: Tensor, lse: Tensor | None,
                                  weight: Tensor | None, ignore_index: int, smoothing: float, *,
                                  max_block_c: int = MAX_BLOCK_C) -> None:
    """The logits' gradient into ``out`` (contiguous, ``x``'s shape); ``grad_rows`` has one value per
    row (the target's shape), ``lse`` the forward's log-sum-exp (None: ``x`` holds log-probabilities)."""
    g = Rows(x)
    o = Rows(out)
    if g.R == 0 or g.C == 0:
        return
    bm, bc = _blocks(g.R, g.C, max_block_c, x.dtype)
    keep = [grad_rows.contiguous(), target.contiguous()]
    w = weight.contiguous() if weight is not None else None
    lse_c = lse.contiguous() if lse is not None else None
    with L.on_device(out):
        cross_entropy_backward_kernel[(triton.cdiv(g.R, bm),)](
            L.pointer(keep[0]), L.pointer(g.x), L.pointer(keep[1]), L.pointer(w if w is not None else out),
            L.pointer(lse_c if lse_c is not None else keep[0]), L.pointer(out), *g.args(), o.n, o.d, o.c,
            ignore_index, float(smoothing), **_flags(x, weight, smoothing, lse is None),
            IDX=L.index_dtype(g.x.shape, g.x.stride(), out.stride()), BLOCK_M=bm, BLOCK_C=bc,
            num_warps=8 if bm * bc >= 2048 else 4)
    L.count("cross_entropy_backward")


def aot_specs() -> list:
    """Forward and backward for each logits dtype at LLM-sized rows (looped), short rows, with and
    without weights and label smoothing; nll; an int64-offset variant."""
    specs = []
    sizes = ("R", "C", "D", "x_n", "x_d", "x_c")

    def spec(kind, d, R, C, log_probs=False, has_w=False, smooth=False, idx="i32"):
        bm, bc = _blocks(R, C, MAX_BLOCK_C, d)
        a = acc_of(d).triton_name
        consts = {"LOG_PROBS": log_probs, "HAS_W": has_w, "SMOOTH": smooth, "ACC": L.TL_DTYPES[acc_of(d).name],
                  "IDX": tl.int64 if idx == "i64" else tl.int32, "BLOCK_M": bm, "BLOCK_C": bc}
        if kind == "fwd":
            kernel = cross_entropy_kernel
            sig = {"x_ptr": f"*{d.triton_name}", "t_ptr": "*i64", "w_ptr": f"*{d.triton_name}", "loss_ptr": f"*{a}",
                   "lse_ptr": f"*{a}", "rw_ptr": f"*{a}", "bad_ptr": "*i32"}
            sig.update({n: idx for n in sizes})
        else:
            kernel = cross_entropy_backward_kernel
            sig = {"g_ptr": f"*{a}", "x_ptr": f"*{d.triton_name}", "t_ptr": "*i64", "w_ptr": f"*{d.triton_name}",
                   "lse_ptr": f"*{a}", "out_ptr": f"*{d.triton_name}"}
            sig.update({n: idx for n in sizes + ("o_n", "o_d", "o_c")})
        sig.update({"ignore_index": "i64", "smoothing": "fp32"})
        sig.update({n: "constexpr" for n in consts})
        name = (f"{'nll' if log_probs else 'cross_entropy'}_{kind}_{d.triton_name}_{bm}x{bc}"
                + ("_w" if has_w else "") + ("_smooth" if smooth else "") + ("_i64idx" if idx == "i64" else ""))
        return L.AotSpec(name, kernel, sig, consts, aligned=(0, 1, 2, 3, 4, 5),
                         num_warps=8 if bm * bc >= 2048 else 4)

    vocab, short = (1 << 14, 1 << 17), (1 << 20, 10)
    for kind in ("fwd", "bwd"):
        for d in (_dt.float32, _dt.float16, _dt.bfloat16):
            specs.append(spec(kind, d, *vocab))
        specs += [spec(kind, _dt.float32, *short, has_w=True, smooth=True),
                  spec(kind, _dt.bfloat16, *vocab, has_w=True, smooth=True),
                  spec(kind, _dt.float64, *short),
                  spec(kind, _dt.float32, *short, log_probs=True, has_w=True),
                  spec(kind, _dt.bfloat16, *vocab, idx="i64")]
    return specs
