"""Flash attention Triton kernels (forward, and the backward's dk/dv and dq kernels), launchers and
AOT specs.

Forward (one program per ``BLOCK_M`` queries of one batch x head): the query tile stays in registers
while the keys stream past in ``BLOCK_N`` tiles; each tile's scores ``scale * q k^T`` (masked: -inf)
update a running row max ``m``, a running sum ``l`` of ``exp(s - m)`` and the output accumulator, both
rescaled by ``exp(m_old - m_new)`` when the max grows (the online softmax). The program stores
``acc / l`` and ``m + log(l)``, the log-sum-exp. With ``CAUSAL`` the key loop stops at the tile's last
query, so masked-out tiles are never read.

Backward: ``P = exp(s - lse)`` is rebuilt per tile from q, k and the saved log-sum-exp. The dk/dv
kernel owns ``BLOCK_N`` keys and walks the queries (``dv += P^T dO``, ``dk += dS^T q``); the dq kernel
owns ``BLOCK_M`` queries and walks the keys (``dq += dS k``), with ``dS = P * (dO v^T - delta)``. No
atomics, and nothing of size ``L x S`` is ever written.

Scores, softmax and accumulators are fp32 (fp64 for fp64 inputs); ``tl.dot`` takes fp16/bf16 tiles as
they are on the GPU (``P`` and ``dS`` rounded to the inputs' dtype, as in Triton's tutorial), and
widened to fp32 under the interpreter (``DOT`` is fp32 there: its bf16 dot multiplies raw bits). Head dims are
padded to a power of two (at least 16, what ``tl.dot`` needs) and masked. A tile needed in both
layouts (``k`` and ``k^T``) is loaded twice by pointer arithmetic rather than transposed in registers
(the second read hits the cache; triton 3.6 cannot lower fp64 ``tl.dot`` of a ``tl.trans`` operand).
"""
from __future__ import annotations

import math

import neurarust.launch as L
from neurarust import dtype as _dt
from neurarust.creation import scalar_tensor
from neurarust.launch import tl, triton
from neurarust.tensor import Tensor

NO_MASK, BOOL_MASK, ADDITIVE_MASK = 0, 1, 2


@triton.jit
def _masked(s, qi, kj, L, S, mask_ptr, sm_l, sm_s, scale, MASK: tl.constexpr, CAUSAL: tl.constexpr,
            ACC: tl.constexpr):
    """Scores ``s`` scaled and masked (-inf past the edges and where masked out); ``qi`` and ``kj`` are
    the query and key indices, broadcast to the tile's shape (either orientation)."""
    s = s * scale
    valid = (qi < L) & (kj < S)
    if CAUSAL:
        valid = valid & (kj <= qi)
    mask_offs = qi * sm_l + kj * sm_s
    if MASK == 1:
        valid = valid & (tl.load(mask_ptr + mask_offs, mask=valid, other=0) != 0)
    if MASK == 2:
        s += tl.load(mask_ptr + mask_offs, mask=valid, other=0.0).to(ACC)
    return tl.where(valid, s, -float("inf"))


@triton.jit
def _scores(q, k_t, offs_m, offs_n, L, S, mask_ptr, sm_l, sm_s, scale,
            MASK: tl.constexpr, CAUSAL: tl.constexpr, PRECISION: tl.constexpr, ACC: tl.constexpr):
    """The ``BLOCK_M x BLOCK_N`` tile of masked scores ``scale * q k^T`` (``k_t``: keys along columns)."""
    s = tl.dot(q, k_t, input_precision=PRECISION, out_dtype=ACC)
    return _masked(s, offs_m[:, None], offs_n[None, :], L, S, mask_ptr, sm_l, sm_s, scale, MASK, CAUSAL, ACC)


@triton.jit
def _tile(ptr, rows, cols, n_rows, n_cols, s_row, s_col, DOT: tl.constexpr):
    """A masked tile (zeros outside), in the dtype ``tl.dot`` takes."""
    mask = (rows[:, None] < n_rows) & (cols[None, :] < n_cols)
    return tl.load(ptr + rows[:, None] * s_row + cols[None, :] * s_col, mask=mask, other=0.0).to(DOT)


@triton.jit
def _row_base(ptr, bh, H, s_b, s_h, IDX: tl.constexpr):
    return ptr + (bh // H).to(IDX) * s_b + (bh % H).to(IDX) * s_h


@triton.jit
def _probabilities(s, lse):
    """``exp(s - lse)``; a row with every key masked out (lse = -inf) gives 0."""
    return tl.exp(s - tl.where(lse == -float("inf"), 0.0, lse)[:, None])


@triton.jit
def attention_forward_kernel(
        q_ptr, k_ptr, v_ptr, o_ptr, lse_ptr, mask_ptr, scale_ptr, H, L, S, E, EV,
        sq_b, sq_h, sq_l, sq_e, sk_b, sk_h, sk_s, sk_e, sv_b, sv_h, sv_s, sv_e,
        so_b, so_h, so_l, so_e, sm_b, sm_h, sm_l, sm_s,
        MASK: tl.constexpr, CAUSAL: tl.constexpr, PRECISION: tl.constexpr, ACC: tl.constexpr,
        DOT: tl.constexpr, IDX: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
        BLOCK_D: tl.constexpr, BLOCK_DV: tl.constexpr):
    pid_m = tl.program_id(0)
    bh = tl.program_id(1)
    q_ptr = _row_base(q_ptr, bh, H, sq_b, sq_h, IDX)
    k_ptr = _row_base(k_ptr, bh, H, sk_b, sk_h, IDX)
    v_ptr = _row_base(v_ptr, bh, H, sv_b, sv_h, IDX)
    o_ptr = _row_base(o_ptr, bh, H, so_b, so_h, IDX)
    mask_ptr = _row_base(mask_ptr, bh, H, sm_b, sm_h, IDX)
    scale = tl.load(scale_ptr)
    offs_m = (pid_m * BLOCK_M + tl.arange(0, BLOCK_M)).to(IDX)
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    q = _tile(q_ptr, offs_m, offs_d, L, E, sq_l, sq_e, DOT)

    m_i = tl.full([BLOCK_M], -float("inf"), ACC)
    l_i = tl.zeros([BLOCK_M], ACC)
    acc = tl.zeros([BLOCK_M, BLOCK_DV], ACC)
    hi = tl.minimum(S, (pid_m + 1) * BLOCK_M) if CAUSAL else S
    for start in range(0, hi, BLOCK_N):
        offs_n = (start + tl.arange(0, BLOCK_N)).to(IDX)
        k_t = _tile(k_ptr, offs_d, offs_n, E, S, sk_e, sk_s, DOT)
        v = _tile(v_ptr, offs_n, offs_dv, S, EV, sv_s, sv_e, DOT)
        s = _scores(q, k_t, offs_m, offs_n, L, S, mask_ptr, sm_l, sm_s, scale, MASK, CAUSAL, PRECISION, ACC)
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        centre = tl.where(m_new == -float("inf"), 0.0, m_new)  # all masked so far: no -inf - -inf
        alpha = tl.exp(m_i - centre)
        p = tl.exp(s - centre[:, None])
        l_i = l_i * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + tl.dot(p.to(DOT), v, input_precision=PRECISION, out_dtype=ACC)
        m_i = m_new

    out = acc / tl.where(l_i == 0.0, 1.0, l_i)[:, None]
    lse = tl.where(m_i == -float("inf"), 0.0, m_i) + tl.log(l_i)
    o_mask = (offs_m[:, None] < L) & (offs_dv[None, :] < EV)
    tl.store(o_ptr + offs_m[:, None] * so_l + offs_dv[None, :] * so_e, out.to(o_ptr.dtype.element_ty), mask=o_mask)
    tl.store(lse_ptr + bh.to(IDX) * L + offs_m, lse, mask=offs_m < L)


@triton.jit
def attention_dkdv_kernel(
        q_ptr, k_ptr, v_ptr, do_ptr, lse_ptr, delta_ptr, dk_ptr, dv_ptr, mask_ptr, scale_ptr, H, L, S, E, EV,
        sq_b, sq_h, sq_l, sq_e, sk_b, sk_h, sk_s, sk_e, sv_b, sv_h, sv_s, sv_e,
        sdo_b, sdo_h, sdo_l, sdo_e, sm_b, sm_h, sm_l, sm_s,
        sdk_b, sdk_h, sdk_s, sdk_e, sdv_b, sdv_h, sdv_s, sdv_e,
        MASK: tl.constexpr, CAUSAL: tl.constexpr, PRECISION: tl.constexpr, ACC: tl.constexpr,
        DOT: tl.constexpr, IDX: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
        BLOCK_D: tl.constexpr, BLOCK_DV: tl.constexpr):
    """dk and dv of ``BLOCK_N`` keys (each ``(B, H, S, E|EV)`` at its own strides)."""
    pid_n = tl.program_id(0)
    bh = tl.program_id(1)
    q_ptr = _row_base(q_ptr, bh, H, sq_b, sq_h, IDX)
    k_ptr = _row_base(k_ptr, bh, H, sk_b, sk_h, IDX)
    v_ptr = _row_base(v_ptr, bh, H, sv_b, sv_h, IDX)
    do_ptr = _row_base(do_ptr, bh, H, sdo_b, sdo_h, IDX)
    mask_ptr = _row_base(mask_ptr, bh, H, sm_b, sm_h, IDX)
    lse_ptr += bh.to(IDX) * L
    delta_ptr += bh.to(IDX) * L
    scale = tl.load(scale_ptr)
    offs_n = (pid_n * BLOCK_N + tl.arange(0, BLOCK_N)).to(IDX)
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    k = _tile(k_ptr, offs_n, offs_d, S, E, sk_s, sk_e, DOT)
    v = _tile(v_ptr, offs_n, offs_dv, S, EV, sv_s, sv_e, DOT)

    dk = tl.zeros([BLOCK_N, BLOCK_D], ACC)
    dv = tl.zeros([BLOCK_N, BLOCK_DV], ACC)
    # With CAUSAL, queries before the tile's first key see none of it.
    lo = (pid_n * BLOCK_N // BLOCK_M) * BLOCK_M if CAUSAL else 0
    # Scores are built transposed (keys along rows), so P and dS enter dv and dk as they are.
    for start in range(lo, L, BLOCK_M):
        offs_m = (start + tl.arange(0, BLOCK_M)).to(IDX)
        # Both layouts of q and dO are loaded (cached reads) rather than transposed in registers.
        q = _tile(q_ptr, offs_m, offs_d, L, E, sq_l, sq_e, DOT)                    # (BLOCK_M, BLOCK_D)
        q_t = _tile(q_ptr, offs_d, offs_m, E, L, sq_e, sq_l, DOT)                  # (BLOCK_D, BLOCK_M)
        do = _tile(do_ptr, offs_m, offs_dv, L, EV, sdo_l, sdo_e, DOT)              # (BLOCK_M, BLOCK_DV)
        do_t = _tile(do_ptr, offs_dv, offs_m, EV, L, sdo_e, sdo_l, DOT)            # (BLOCK_DV, BLOCK_M)
        lse = tl.load(lse_ptr + offs_m, mask=offs_m < L, other=0.0).to(ACC)
        delta = tl.load(delta_ptr + offs_m, mask=offs_m < L, other=0.0).to(ACC)
        s_t = tl.dot(k, q_t, input_precision=PRECISION, out_dtype=ACC)             # (BLOCK_N, BLOCK_M)
        s_t = _masked(s_t, offs_m[None, :], offs_n[:, None], L, S, mask_ptr, sm_l, sm_s, scale, MASK, CAUSAL, ACC)
        p_t = tl.exp(s_t - tl.where(lse == -float("inf"), 0.0, lse)[None, :])
        dv += tl.dot(p_t.to(DOT), do, input_precision=PRECISION, out_dtype=ACC)
        dp_t = tl.dot(v, do_t, input_precision=PRECISION, out_dtype=ACC)
        ds_t = p_t * (dp_t - delta[None, :])
        dk += tl.dot(ds_t.to(DOT), q, input_precision=PRECISION, out_dtype=ACC)

    dk_ptr = _row_base(dk_ptr, bh, H, sdk_b, sdk_h, IDX)
    dv_ptr = _row_base(dv_ptr, bh, H, sdv_b, sdv_h, IDX)
    tl.store(dk_ptr + offs_n[:, None] * sdk_s + offs_d[None, :] * sdk_e, (dk * scale).to(dk_ptr.dtype.element_ty),
             mask=(offs_n[:, None] < S) & (offs_d[None, :] < E))
    tl.store(dv_ptr + offs_n[:, None] * sdv_s + offs_dv[None, :] * sdv_e, dv.to(dv_ptr.dtype.element_ty),
             mask=(offs_n[:, None] < S) & (offs_dv[None, :] < EV))


@triton.jit
def attention_dq_kernel(
        q_ptr, k_ptr, v_ptr, do_ptr, lse_ptr, delta_ptr, dq_ptr, mask_ptr, scale_ptr, o_ptr, H, L, S, E, EV,
        sq_b, sq_h, sq_l, sq_e, sk_b, sk_h, sk_s, sk_e, sv_b, sv_h, sv_s, sv_e,
        sdo_b, sdo_h, sdo_l, sdo_e, sm_b, sm_h, sm_l, sm_s, sdq_b, sdq_h, sdq_l, sdq_e, so_b, so_h, so_l, so_e,
        MASK: tl.constexpr, CAUSAL: tl.constexpr, PRECISION: tl.constexpr, ACC: tl.constexpr,
        DOT: tl.constexpr, IDX: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
        BLOCK_D: tl.constexpr, BLOCK_DV: tl.constexpr, DELTA: tl.constexpr = False):
    """dq of ``BLOCK_M`` queries (``(B, H, L, E)`` at its own strides). ``DELTA``: first compute
    ``delta = rowsum(dO * O)`` of its queries from the output ``O`` and store it for the dk/dv kernel
    (which runs after), instead of reading it."""
    pid_m = tl.program_id(0)
    bh = tl.program_id(1)
    q_ptr = _row_base(q_ptr, bh, H, sq_b, sq_h, IDX)
    k_ptr = _row_base(k_ptr, bh, H, sk_b, sk_h, IDX)
    v_ptr = _row_base(v_ptr, bh, H, sv_b, sv_h, IDX)
    do_ptr = _row_base(do_ptr, bh, H, sdo_b, sdo_h, IDX)
    mask_ptr = _row_base(mask_ptr, bh, H, sm_b, sm_h, IDX)
    scale = tl.load(scale_ptr)
    offs_m = (pid_m * BLOCK_M + tl.arange(0, BLOCK_M)).to(IDX)
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    q = _tile(q_ptr, offs_m, offs_d, L, E, sq_l, sq_e, DOT)
    do = _tile(do_ptr, offs_m, offs_dv, L, EV, sdo_l, sdo_e, DOT)
    lse = tl.load(lse_ptr + bh.to(IDX) * L + offs_m, mask=offs_m < L, other=0.0).to(ACC)
    if DELTA:
        o_ptr = _row_base(o_ptr, bh, H, so_b, so_h, IDX)
        o = _tile(o_ptr, offs_m, offs_dv, L, EV, so_l, so_e, ACC)
        delta = tl.sum(do.to(ACC) * o, axis=1)
        tl.store(delta_ptr + bh.to(IDX) * L + offs_m, delta, mask=offs_m < L)
    else:
        delta = tl.load(delta_ptr + bh.to(IDX) * L + offs_m, mask=offs_m < L, other=0.0).to(ACC)

    dq = tl.zeros([BLOCK_M, BLOCK_D], ACC)
    hi = tl.minimum(S, (pid_m + 1) * BLOCK_M) if CAUSAL else S
    for start in range(0, hi, BLOCK_N):
        offs_n = (start + tl.arange(0, BLOCK_N)).to(IDX)
        k = _tile(k_ptr, offs_n, offs_d, S, E, sk_s, sk_e, DOT)
        k_t = _tile(k_ptr, offs_d, offs_n, E, S, sk_e, sk_s, DOT)
        v_t = _tile(v_ptr, offs_dv, offs_n, EV, S, sv_e, sv_s, DOT)
        s = _scores(q, k_t, offs_m, offs_n, L, S, mask_ptr, sm_l, sm_s, scale, MASK, CAUSAL, PRECISION, ACC)
        p = _probabilities(s, lse)
        dp = tl.dot(do, v_t, input_precision=PRECISION, out_dtype=ACC)
        ds = p * (dp - delta[:, None])
        dq += tl.dot(ds.to(DOT), k, input_precision=PRECISION, out_dtype=ACC)

    dq_ptr = _row_base(dq_ptr, bh, H, sdq_b, sdq_h, IDX)
    tl.store(dq_ptr + offs_m[:, None] * sdq_l + offs_d[None, :] * sdq_e, (dq * scale).to(dq_ptr.dtype.element_ty),
             mask=(offs_m[:, None] < L) & (offs_d[None, :] < E))


# ----------------------------------------------------------------------------------------------
# Launchers
# ----------------------------------------------------------------------------------------------

INTERPRET_CONFIG = (16, 16, 4)
# (BLOCK_M, BLOCK_N, num_warps) per kernel, dtype class and head dim (<= 64, <= 128): the largest tiles
# found to compile without register spills on sm_80 and sm_90 (the compile check holds them to it).
# fp32/fp64 ``tl.dot`` runs on the FMA units ("ieee"), whose operand layouts take many registers.
CONFIGS = {
    "forward": {"half": ((64, 64, 8), (64, 64, 8)), "float32": ((32, 32, 4), (32, 16, 8)),
                "float64": ((32, 32, 4), (16, 16, 4))},
    "dq": {"half": ((32, 32, 4), (16, 32, 4)), "float32": ((32, 32, 4), (16, 32, 8)),
           "float64": ((32, 32, 8), (16, 16, 4))},
    "dkdv": {"half": ((32, 32, 4), (16, 32, 8)), "float32": ((16, 32, 4), (16, 32, 8)),
             "float64": ((16, 32, 8), (16, 16, 8))},
}


def config(kernel: str, dtype: _dt.DType, head_dim: int) -> tuple[int, int, int]:
    """(BLOCK_M, BLOCK_N, num_warps) of ``kernel`` ("forward", "dq", "dkdv") for a dtype and head dim."""
    if L.INTERPRET:
        return INTERPRET_CONFIG
    group = dtype.name if dtype.itemsize >= 4 else "half"
    return CONFIGS[kernel][group][head_dim > 64]


def _head_block(n: int) -> int:
    return max(16, triton.next_power_of_2(n))


def _four_d(t, lead):
    """``t`` as ``(B, H, rows, cols)`` (a view where the batch dims allow it)."""
    H = lead[-1] if lead else 1
    B = math.prod(lead[:-1]) if len(lead) > 1 else 1
    return t.reshape(B, H, *t.shape[-2:])


def _mask_view(attn_mask, q, S):
    if attn_mask is None:
        return None, NO_MASK
    if attn_mask.dtype is _dt.bool_ and q.dtype is _dt.float64:
        # triton 3.6 cannot lower the fp64 dot of the bool-mask variant ("fp64 don't support largeK
        # MMA"): an fp64 additive mask of the mask's own (unbroadcast) shape instead.
        from neurarust.registry import call

        attn_mask = call("where", attn_mask, 0.0, float("-inf")).to(_dt.float64)
    full = attn_mask.expand(*q.shape[:-1], S)
    return full, BOOL_MASK if attn_mask.dtype is _dt.bool_ else ADDITIVE_MASK


class _Call:
    """What the three kernels share: 4-D views, the mask, the scale, the constexprs."""

    def __init__(self, query, key, value, attn_mask, is_causal, scale):
        lead = tuple(query.shape[:-2])
        self.q, self.k, self.v = (_four_d(t, lead) for t in (query, key, value))
        self.B, self.H, self.L, self.E = self.q.shape
        self.S, self.EV = self.k.shape[2], self.v.shape[3]
        mask, self.mask_kind = _mask_view(attn_mask, query, self.S)
        self.mask = _four_d(mask, lead) if mask is not None else self.q
        d = query.dtype
        acc = _dt.float64 if d is _dt.float64 else _dt.float32
        upcast = L.INTERPRET and d in (_dt.float16, _dt.bfloat16)
        self.scale = scalar_tensor(scale, acc, query.device)
        self.dtype, self.head = d, max(self.E, self.EV)
        wide = [L.index_dtype(t.shape, t.stride()) for t in (self.q, self.k, self.v, self.mask)]
        self.idx = tl.int64 if tl.int64 in wide else tl.int32  # outputs are dense: no larger than these
        self.common = dict(MASK=self.mask_kind, CAUSAL=bool(is_causal), PRECISION="ieee", ACC=L.TL_DTYPES[acc.name],
                           DOT=L.TL_DTYPES[(acc if upcast or d.itemsize >= 4 else d).name], IDX=self.idx,
                           BLOCK_D=_head_block(self.E), BLOCK_DV=_head_block(self.EV))
        self.sizes = (self.H, self.L, self.S, self.E, self.EV)

    def launch(self, kernel, name: str, rows: int, *args, **constants) -> None:
        """Launch ``kernel`` over ``rows`` (queries, or keys for dkdv) in blocks, one program row per head."""
        bm, bn, warps = config(name, self.dtype, self.head)
        grid = (triton.cdiv(rows, bn if name == "dkdv" else bm), self.B * self.H)
        kernel[grid](*args, **self.common, **constants, BLOCK_M=bm, BLOCK_N=bn, num_warps=warps, num_stages=2)

    def mask_strides(self):
        return self.mask.stride() if self.mask_kind != NO_MASK else (0, 0, 0, 0)


def launch_forward(out, lse, query, key, value, attn_mask, is_causal: bool, scale: float) -> None:
    """Attention of ``query`` over ``key``/``value`` into ``out`` and the row log-sum-exp into ``lse``
    (contiguous, shaped like ``query`` without / with its last dim)."""
    c = _Call(query, key, value, attn_mask, is_causal, scale)
    if out.numel() == 0:
        return
    o = _four_d(out, tuple(query.shape[:-2]))
    written = o if o._storage is out._storage else o.contiguous()   # a layout no one 4-D view covers
    with L.on_device(out):
        c.launch(attention_forward_kernel, "forward", c.L,
                 L.pointer(c.q), L.pointer(c.k), L.pointer(c.v), L.pointer(written), L.pointer(lse),
                 L.pointer(c.mask), L.pointer(c.scale), *c.sizes, *c.q.stride(), *c.k.stride(), *c.v.stride(),
                 *written.stride(), *c.mask_strides())
    L.count("flash_attention")
    if written is not o:
        out.copy_(written.reshape(out.shape))


def launch_backward(dq, dk, dv, grad_output, query, key, value, lse, delta, attn_mask, is_causal: bool,
                    scale: float, output=None) -> None:
    """dq, dk, dv (shaped like query, key, value; any dense layout) of attention. ``delta`` None: the
    dq kernel computes it from ``output`` first (no launch of its own)."""
    c = _Call(query, key, value, attn_mask, is_causal, scale)
    lead = tuple(query.shape[:-2])
    do = _four_d(grad_output, lead)
    o = do if output is None else _four_d(output, lead)
    if delta is None:
        delta = Tensor._empty(tuple(lse.shape), lse.dtype, lse.device)
    lse, delta = lse.contiguous(), delta.contiguous()
    outs = [_four_d(g, lead) for g in (dq, dk, dv)]
    written = [w if w._storage is g._storage else w.contiguous() for w, g in zip(outs, (dq, dk, dv))]
    common = (L.pointer(c.q), L.pointer(c.k), L.pointer(c.v), L.pointer(do), L.pointer(lse), L.pointer(delta))
    strides = (*c.q.stride(), *c.k.stride(), *c.v.stride(), *do.stride(), *c.mask_strides())
    wq, wk, wv = written
    with L.on_device(dq):
        c.launch(attention_dq_kernel, "dq", c.L, *common, L.pointer(wq), L.pointer(c.mask), L.pointer(c.scale),
                 L.pointer(o), *c.sizes, *strides, *wq.stride(), *o.stride(), DELTA=output is not None)
        c.launch(attention_dkdv_kernel, "dkdv", c.S, *common, L.pointer(wk), L.pointer(wv), L.pointer(c.mask),
                 L.pointer(c.scale), *c.sizes, *strides, *wk.stride(), *wv.stride())
    L.count("flash_attention_backward_dq")   # two launches: dq by query block (and delta),
    L.count("flash_attention_backward")      # then dk/dv by key block
    for w, view, g in zip(written, outs, (dq, dk, dv)):
        if w is not view:                    # a layout no one 4-D view covers
            g.copy_(w.reshape(g.shape))


# ----------------------------------------------------------------------------------------------
# Ahead-of-time compile specs
# ----------------------------------------------------------------------------------------------

_STRIDES = [f"s{t}_{d}" for t, dims in (("q", "bhle"), ("k", "bhse"), ("v", "bhse")) for d in dims]
_CONSTEXPRS = ["MASK", "CAUSAL", "PRECISION", "ACC", "DOT", "IDX", "BLOCK_M", "BLOCK_N", "BLOCK_D", "BLOCK_DV"]


def _spec(kind: str, d: _dt.DType, head: int, mask: int, causal: bool, cfg=None):
    acc = _dt.float64 if d is _dt.float64 else _dt.float32
    pt, at = f"*{d.triton_name}", f"*{acc.triton_name}"
    mask_t = "*i1" if mask == BOOL_MASK else pt
    if kind == "forward":
        kernel, ptrs = attention_forward_kernel, {"q_ptr": pt, "k_ptr": pt, "v_ptr": pt, "o_ptr": pt, "lse_ptr": at}
        last = ["so_b", "so_h", "so_l", "so_e"]
    else:
        kernel = attention_dkdv_kernel if kind == "dkdv" else attention_dq_kernel
        ptrs = {"q_ptr": pt, "k_ptr": pt, "v_ptr": pt, "do_ptr": pt, "lse_ptr": at, "delta_ptr": at}
        ptrs.update({"dk_ptr": pt, "dv_ptr": pt} if kind == "dkdv" else {"dq_ptr": pt})
        last = ["sdo_b", "sdo_h", "sdo_l", "sdo_e"]
    sig = {**ptrs, "mask_ptr": mask_t, "scale_ptr": at, **({"o_ptr": pt} if kind == "dq" else {})}
    outs = {"forward": [], "dq": ["sdq_b", "sdq_h", "sdq_l", "sdq_e", "so_b", "so_h", "so_l", "so_e"],
            "dkdv": [f"sd{t}_{d}" for t in "kv" for d in "bhse"]}[kind]
    sig.update({n: "i32" for n in ["H", "L", "S", "E", "EV", *_STRIDES, *last, "sm_b", "sm_h", "sm_l", "sm_s", *outs]})
    sig.update({n: "constexpr" for n in _CONSTEXPRS})
    bm, bn, warps = CONFIGS[kind][d.name if d.itemsize >= 4 else "half"][head > 64] if cfg is None else cfg
    constants = dict(MASK=mask, CAUSAL=causal, PRECISION="ieee", ACC=L.TL_DTYPES[acc.name],
                     DOT=L.TL_DTYPES[d.name], IDX=tl.int32, BLOCK_M=bm, BLOCK_N=bn, BLOCK_D=head, BLOCK_DV=head)
    if kind == "dq":   # computing delta from the output, as a training step's backward does
        sig["DELTA"], constants["DELTA"] = "constexpr", True
    name = f"attention_{kind}_{d.triton_name}_d{head}_{('none', 'bool', 'add')[mask]}{'_causal' if causal else ''}"
    return L.AotSpec(name, kernel, sig, constants, aligned=tuple(range(len(ptrs))), num_warps=warps, num_stages=2)


def aot_specs() -> list:
    """Each kernel at its shipped configs: fp16/bf16/fp32 at head dims 64 and 128 (causal), fp64, and the
    two mask kinds."""
    specs = []
    for kind in ("forward", "dkdv", "dq"):
        for d in (_dt.float16, _dt.bfloat16, _dt.float32):
            specs += [_spec(kind, d, head, NO_MASK, True) for head in (64, 128)]
        specs += [_spec(kind, _dt.float64, head, NO_MASK, False) for head in (64, 128)]
        specs += [_spec(kind, _dt.float16, 64, m, False) for m in (BOOL_MASK, ADDITIVE_MASK)]
    return specs
