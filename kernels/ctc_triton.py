"""The CTC loss Triton kernels (forward and backward) and their launchers.

One program per batch element walks time; its block is the extended label sequence
``blank, l1, blank, l2, ..., blank`` (``2 S + 1`` states, masked past the element's own length). The
forward variable alpha lives in registers: step ``t`` combines state ``s`` with states ``s - 1`` and
(between different labels) ``s - 2`` of step ``t - 1``, shifted in with ``tl.gather``, through a
log-sum-exp in fp32 (fp64 for fp64 input), then adds the emission ``log_probs[t, n, label(s)]``.

Backward: the same alpha pass, storing each step's alpha row in a scratch buffer, then the beta pass
from the last frame down; at each frame ``alpha + beta`` (both include the frame's emission) is
folded per class by a masked log-sum-exp over the states of that class (a ``BLOCK_L x BLOCK_C`` tile,
classes in chunks), giving ``d nll / d log_probs[t, n, c] = -exp(lse_c + nll - log_probs[t, n, c])``.
"""
from __future__ import annotations

import neurarust.launch as L
from neurarust import dtype as _dt
from neurarust.launch import tl, triton
from neurarust.tensor import Tensor

MAX_TILE = 4096      # BLOCK_L x BLOCK_C elements in the backward's class fold
MAX_BLOCK_C = 64


@triton.jit
def _lse3(a, b, c):
    top = tl.maximum(tl.maximum(a, b), c)
    safe = tl.where(top == -float("inf"), 0.0, top)
    return safe + tl.log(tl.exp(a - safe) + tl.exp(b - safe) + tl.exp(c - safe))


@triton.jit
def _shift(x, s, by: tl.constexpr, BLOCK_L: tl.constexpr):
    """``x[s - by]`` (``by`` may be negative), -inf where that lies outside the block."""
    src = s - by
    inside = (src >= 0) & (src < BLOCK_L)
    moved = tl.gather(x, tl.where(inside, src, 0), axis=0)
    return tl.where(inside, moved, -float("inf"))


@triton.jit
def _states(tgt_ptr, off, Sn, blank, s, IDX: tl.constexpr):
    """Per state: inside the sequence, its class, whether it may come from ``s - 2`` (forward) and
    whether ``s + 2`` may come from it (backward)."""
    n_states = 2 * Sn + 1
    valid = s < n_states
    odd = valid & ((s % 2) == 1)
    k = (s // 2).to(IDX)
    lab = tl.load(tgt_ptr + off + k, mask=odd, other=0)
    prev = tl.load(tgt_ptr + off + k - 1, mask=odd & (s >= 3), other=0)
    nxt = tl.load(tgt_ptr + off + k + 1, mask=odd & (s + 2 < n_states), other=0)
    lab = tl.where(odd, lab, blank).to(IDX)
    skip_in = odd & (s >= 3) & (prev != lab)
    skip_out = odd & (s + 2 < n_states) & (nxt != lab)
    return valid, lab, skip_in, skip_out, n_states


@triton.jit
def _alpha_pass(alpha_ptr, n, Tn, Sn, row, valid, skip_in, s, n_states, lp_t, a_t, a_n,
                STORE: tl.constexpr, ACC: tl.constexpr, IDX: tl.constexpr, BLOCK_L: tl.constexpr):
    """The log-likelihood of the element's target (alpha rows stored when ``STORE``)."""
    first = valid & (s < tl.where(Tn > 0, 2, 0))
    alpha = tl.where(first, tl.load(row, mask=first, other=0.0).to(ACC), -float("inf"))
    a_row = alpha_ptr + n * a_n + s
    if STORE:
        tl.store(a_row, alpha, mask=valid & (s < tl.where(Tn > 0, BLOCK_L, 0)))
    for t in range(1, Tn):
        e = tl.load(row + t * lp_t, mask=valid, other=0.0).to(ACC)
        from_skip = tl.where(skip_in, _shift(alpha, s, 2, BLOCK_L), -float("inf"))
        alpha = tl.where(valid, _lse3(alpha, _shift(alpha, s, 1, BLOCK_L), from_skip) + e, -float("inf"))
        if STORE:
            tl.store(a_row + t * a_t, alpha, mask=valid)
    ends = valid & (s >= n_states - 2)
    v = tl.where(ends, alpha, -float("inf"))
    top = tl.max(v, axis=0)
    safe = tl.where(top == -float("inf"), 0.0, top)
    ll = safe + tl.log(tl.sum(tl.exp(v - safe), axis=0))
    empty = tl.where(Sn == 0, 0.0, -float("inf")).to(ACC)
    return tl.where(Tn == 0, empty, ll)


@triton.jit
def ctc_forward_kernel(lp_ptr, tgt_ptr, off_ptr, il_ptr, tl_ptr, nll_ptr, lp_t, lp_n, lp_c, blank,
                       ACC: tl.constexpr, IDX: tl.constexpr, BLOCK_L: tl.constexpr):
    n = tl.program_id(0).to(IDX)
    Tn = tl.load(il_ptr + n).to(IDX)
    Sn = tl.load(tl_ptr + n).to(IDX)
    off = tl.load(off_ptr + n).to(IDX)
    s = tl.arange(0, BLOCK_L)
    valid, lab, skip_in, _, n_states = _states(tgt_ptr, off, Sn, blank, s, IDX)
    row = lp_ptr + n * tl.cast(lp_n, IDX) + lab * tl.cast(lp_c, IDX)
    ll = _alpha_pass(nll_ptr, n, Tn, Sn, row, valid, skip_in, s, n_states, tl.cast(lp_t, IDX), 0, 0, False, ACC,
                     IDX, BLOCK_L)
    tl.store(nll_ptr + n, ll * -1.0)  # a multiply keeps -0.0 for an empty alignment (PyTorch does)


@triton.jit
def ctc_backward_kernel(g_ptr, lp_ptr, tgt_ptr, off_ptr, il_ptr, tl_ptr, alpha_ptr, out_ptr, T, C, lp_t, lp_n, lp_c,
                        a_t, a_n, o_t, o_n, o_c, blank, zero_infinity, ACC: tl.constexpr, IDX: tl.constexpr,
                        BLOCK_L: tl.constexpr, BLOCK_C: tl.constexpr):
    n = tl.program_id(0).to(IDX)
    Tn = tl.load(il_ptr + n).to(IDX)
    Sn = tl.load(tl_ptr + n).to(IDX)
    off = tl.load(off_ptr + n).to(IDX)
    lp_t, lp_c = tl.cast(lp_t, IDX), tl.cast(lp_c, IDX)
    o_t, o_c = tl.cast(o_t, IDX), tl.cast(o_c, IDX)
    a_t = tl.cast(a_t, IDX)
    s = tl.arange(0, BLOCK_L)
    valid, lab, skip_in, skip_out, n_states = _states(tgt_ptr, off, Sn, blank, s, IDX)
    lp_row = lp_ptr + n * tl.cast(lp_n, IDX)
    row = lp_row + lab * lp_c
    nll = -_alpha_pass(alpha_ptr, n, Tn, Sn, row, valid, skip_in, s, n_states, lp_t, a_t, tl.cast(a_n, IDX), True,
                       ACC, IDX, BLOCK_L)
    g = tl.load(g_ptr + n).to(ACC)
    dead = (zero_infinity != 0) & (nll == float("inf"))
    tl.debug_barrier()  # the alpha rows are visible to every thread before the beta pass reads them
    a_row = alpha_ptr + n * tl.cast(a_n, IDX) + s
    o_row = out_ptr + n * tl.cast(o_n, IDX)
    cols = tl.arange(0, BLOCK_C)
    beta = tl.full([BLOCK_L], -float("inf"), ACC)
    for i in range(0, Tn):
        t = Tn - 1 - i
        e = tl.load(row + t * lp_t, mask=valid, other=0.0).to(ACC)
        from_skip = tl.where(skip_out, _shift(beta, s, -2, BLOCK_L), -float("inf"))
        carried = _lse3(beta, _shift(beta, s, -1, BLOCK_L), from_skip)
        carried = tl.where(i == 0, tl.where(s >= n_states - 2, 0.0, -float("inf")), carried)
        beta = tl.where(valid, carried + e, -float("inf"))
        both = beta + tl.load(a_row + t * a_t, mask=valid, other=-float("inf"))
        for c0 in range(0, C, BLOCK_C):
            c = c0 + cols
            cmask = c < C
            v = tl.where(valid[:, None] & (lab[:, None] == c[None, :]), both[:, None], -float("inf"))
            top = tl.max(v, axis=0)
            safe = tl.where(top == -float("inf"), 0.0, top)
            lse = safe + tl.log(tl.sum(tl.exp(v - safe[None, :]), axis=0))
            x = tl.load(lp_row + t * lp_t + c * lp_c, mask=cmask, other=0.0).to(ACC)
            grad = -g * tl.exp(lse + nll - x)
            grad = tl.where(lse == -float("inf"), tl.where(nll < float("inf"), 0.0, grad), grad)
            grad = tl.where(dead, 0.0, grad)
            tl.store(o_row + t * o_t + c * o_c, grad.to(out_ptr.dtype.element_ty), mask=cmask)
    for t in range(Tn, T):  # frames past the element's input length: no gradient
        for c0 in range(0, C, BLOCK_C):
            c = c0 + cols
            tl.store(o_row + t * o_t + c * o_c, tl.zeros([BLOCK_C], ACC).to(out_ptr.dtype.element_ty), mask=c < C)


def acc_of(d) -> _dt.DType:
    return _dt.float64 if d is _dt.float64 else _dt.float32


def block_l(max_target: int) -> int:
    return triton.next_power_of_2(2 * max_target + 1)


def _block_c(bl: int, C: int, d=_dt.float32) -> int:
    tile = MAX_TILE // 2 if d is _dt.float64 else MAX_TILE
    return max(1, min(triton.next_power_of_2(max(C, 1)), MAX_BLOCK_C, tile // bl))


def _forward_warps(bl: int) -> int:
    return max(1, min(8, bl // 128))  # about 4 states per thread


def _backward_warps(bl: int, bc: int) -> int:
    return max(1, min(8, bl * bc // 256))  # about 8 elements of the class-fold tile per thread


def launch_ctc_forward(lp: Tensor, targets: Tensor, offsets: Tensor, in_len: Tensor, tgt_len: Tensor,
                       max_target: int, blank: int) -> Tensor:
    """Per-element negative log-likelihoods ``(N,)`` of ``lp`` ``(T, N, C)`` in the accumulation dtype;
    ``targets`` flat int64, element ``n``'s labels at ``offsets[n]`` (all four int64 on ``lp``'s device)."""
    T, N, C = lp.shape
    nll = Tensor._empty((N,), acc_of(lp.dtype), lp.device)
    if N == 0:
        return nll
    bl = block_l(max_target)
    with L.on_device(lp):
        ctc_forward_kernel[(N,)](
            L.pointer(lp), L.pointer(targets), L.pointer(offsets), L.pointer(in_len), L.pointer(tgt_len),
            L.pointer(nll), *lp.stride(), blank, ACC=L.TL_DTYPES[acc_of(lp.dtype).name],
            IDX=L.index_dtype(lp.shape, lp.stride()), BLOCK_L=bl, num_warps=_forward_warps(bl))
    L.count("ctc_loss")
    return nll


def launch_ctc_backward(out: Tensor, grad: Tensor, lp: Tensor, targets: Tensor, offsets: Tensor, in_len: Tensor,
                        tgt_len: Tensor, max_target: int, blank: int, zero_infinity: bool) -> None:
    """``d (sum_n grad[n] nll[n]) / d lp`` into ``out`` (``lp``'s shape ``(T, N, C)``); ``grad`` ``(N,)``."""
    T, N, C = lp.shape
    if N == 0 or T == 0 or C == 0:
        return
    bl = block_l(max_target)
    bc = _block_c(bl, C, lp.dtype)
    alpha = Tensor._empty((T, N, bl), acc_of(lp.dtype), lp.device)
    g = grad.contiguous()
    with L.on_device(out):
        ctc_backward_kernel[(N,)](
            L.pointer(g), L.pointer(lp), L.pointer(targets), L.pointer(offsets), L.pointer(in_len),
            L.pointer(tgt_len), L.pointer(alpha), L.pointer(out), T, C, *lp.stride(), *alpha.stride()[:2],
            *out.stride(), blank, int(zero_infinity), ACC=L.TL_DTYPES[acc_of(lp.dtype).name],
            IDX=L.index_dtype(lp.shape, lp.stride(), out.stride(), alpha.stride()), BLOCK_L=bl,
            BLOCK_C=bc, num_warps=_backward_warps(bl, bc))
    L.count("ctc_loss_backward")


def aot_specs() -> list:
    """Forward and backward for fp32 and fp64 at short (S = 8) and long (S = 200) targets, with a
    speech-sized and a subword-sized class count; an int64-offset variant."""
    specs = []

    def spec(kind, d, S, C, idx="i32"):
        bl = block_l(S)
        a = acc_of(d)
        consts = {"ACC": L.TL_DTYPES[a.name], "IDX": tl.int64 if idx == "i64" else tl.int32, "BLOCK_L": bl}
        ptrs = {"lp_ptr": f"*{d.triton_name}", "tgt_ptr": "*i64", "off_ptr": "*i64", "il_ptr": "*i64",
                "tl_ptr": "*i64"}
        if kind == "fwd":
            kernel = ctc_forward_kernel
            sig = {**ptrs, "nll_ptr": f"*{a.triton_name}", **{k: idx for k in ("lp_t", "lp_n", "lp_c")},
                   "blank": "i64"}
        else:
            kernel = ctc_backward_kernel
            consts["BLOCK_C"] = _block_c(bl, C, d)
            sig = {"g_ptr": f"*{a.triton_name}", **ptrs, "alpha_ptr": f"*{a.triton_name}",
                   "out_ptr": f"*{d.triton_name}",
                   **{k: idx for k in ("T", "C", "lp_t", "lp_n", "lp_c", "a_t", "a_n", "o_t", "o_n", "o_c")},
                   "blank": "i64", "zero_infinity": "i32"}
        sig.update({n: "constexpr" for n in consts})
        name = f"ctc_{kind}_{d.triton_name}_L{bl}_C{C}" + ("_i64idx" if idx == "i64" else "")
        n_ptrs = 6 if kind == "fwd" else 8
        return L.AotSpec(name, kernel, sig, consts, aligned=tuple(range(n_ptrs)),
                         num_warps=_forward_warps(bl) if kind == "fwd" else _backward_warps(bl, consts["BLOCK_C"]))

    for kind in ("fwd", "bwd"):
        for d in (_dt.float32, _dt.float64):
            specs += [spec(kind, d, 8, 32), spec(kind, d, 200, 1000)]
        specs.append(spec(kind, _dt.float32, 200, 1000, idx="i64"))
    return specs
