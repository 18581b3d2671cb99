"""The 2-D pooling Triton kernel (max with indices, average, adaptive windows, and the average's
backward), and its launchers.

Each program owns ``BLOCK`` output positions of ``(N, C, OH, OW)`` and walks their windows tap by
tap (``KH x KW`` taps: the kernel size, or the largest adaptive window), masking taps outside the
input or past an adaptive window's end. Max keeps the first maximum's flat index ``h * W + w``, and
a NaN wins and stays, as in PyTorch. The average's backward (``MODE`` 2) reads one gradient per
output position and scatters ``grad / divisor`` to its window with fp32 atomic adds (windows
overlap when the stride is smaller than the kernel).
"""
from __future__ import annotations

import neurarust.launch as L
from neurarust import dtype as _dt
from neurarust.launch import tl, triton

BLOCK = 256
INTERPRET_BLOCK = 64


@triton.jit
def _window(o, O, I, k, s, p, ADAPTIVE: tl.constexpr):
    """First input coordinate of output ``o``'s window and the end it stops before."""
    if ADAPTIVE:
        return (o * I) // O, ((o + 1) * I + O - 1) // O
    else:
        start = o * s - p
        return start, tl.minimum(start + k, I + p)  # the end with padding: count_include_pad's extent


@triton.jit
def pool_kernel(win_ptr, pos_ptr, idx_ptr, M, C, H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw,
                w_n, w_c, w_h, w_w, p_n, p_c, p_h, p_w, divisor,
                MODE: tl.constexpr, ADAPTIVE: tl.constexpr, INCLUDE_PAD: tl.constexpr, OVERRIDE: tl.constexpr,
                ACC: tl.constexpr, IDX: tl.constexpr, BLOCK: tl.constexpr):
    m = tl.program_id(0).to(IDX) * BLOCK + tl.arange(0, BLOCK).to(IDX)
    ok = m < M
    ow = m % OW
    t = m // OW
    oh = t % OH
    t = t // OH
    c = t % C
    n = t // C
    h0, h_end = _window(oh, OH, H, KH, sh, ph, ADAPTIVE)
    w0, w_end = _window(ow, OW, W, KW, sw, pw, ADAPTIVE)
    win = n * w_n + c * w_c
    pos = n * p_n + c * p_c + oh * p_h + ow * p_w
    if MODE == 0:
        best = tl.full([BLOCK], -float("inf"), ACC)
        best_i = tl.full([BLOCK], -1, tl.int64)
    else:
        if OVERRIDE:
            div = tl.zeros([BLOCK], ACC) + divisor
        elif ADAPTIVE or INCLUDE_PAD:
            div = ((h_end - h0) * (w_end - w0)).to(ACC)
        else:
            div = ((tl.minimum(h_end, H) - tl.maximum(h0, 0)) * (tl.minimum(w_end, W) - tl.maximum(w0, 0))).to(ACC)
        if MODE == 2:
            g = tl.load(pos_ptr + pos, mask=ok, other=0.0).to(ACC) / div
        total = tl.zeros([BLOCK], ACC)
    for kh in range(0, KH):
        h = h0 + kh * dh
        h_ok = ok & (h >= 0) & (h < H)
        if ADAPTIVE:
            h_ok = h_ok & (h < h_end)
        for kw in range(0, KW):
            w = w0 + kw * dw
            valid = h_ok & (w >= 0) & (w < W)
            if ADAPTIVE:
                valid = valid & (w < w_end)
            at = win + h * w_h + w * w_w
            if MODE == 2:
                tl.atomic_add(win_ptr + at, g, mask=valid)
            else:
                v = tl.load(win_ptr + at, mask=valid, other=0.0).to(ACC)
                if MODE == 0:
                    take = valid & ((v > best) | (v != v) | (best_i < 0)) & (best == best)
                    best = tl.where(take, v, best)
                    best_i = tl.where(take, (h * W + w).to(tl.int64), best_i)
                else:
                    total += v
    if MODE == 0:
        tl.store(pos_ptr + pos, best.to(pos_ptr.dtype.element_ty), mask=ok)
        tl.store(idx_ptr + pos, best_i, mask=ok)
    elif MODE == 1:
        tl.store(pos_ptr + pos, (total / div).to(pos_ptr.dtype.element_ty), mask=ok)


def _strides(t) -> list:
    return [t.stride(i) for i in range(4)]


def launch(mode: int, win, pos, idx, geo) -> None:
    """Run one pooling problem of ``geo`` (kernels/pool.py's ``PoolGeometry``): ``win`` is the
    window side (the input, or the fp32 input gradient being accumulated: mode 2), ``pos`` the
    output side (the result, or the output gradient: mode 2; then ``win`` is fp32, fp64 for fp64),
    ``idx`` the int64 indices (mode 0)."""
    N, C, H, W = win.shape
    M = N * C * geo.out[0] * geo.out[1]
    if M == 0:
        return
    block = INTERPRET_BLOCK if L.INTERPRET else BLOCK
    acc = tl.float64 if pos.dtype is _dt.float64 else tl.float32
    idx_t = tl.int64 if any(L.index_dtype(t.shape, t.stride()) is tl.int64 for t in (win, pos)) else tl.int32
    with L.on_device(pos):
        pool_kernel[(triton.cdiv(M, block),)](
            L.pointer(win), L.pointer(pos), L.pointer(idx if idx is not None else pos), M, C, H, W, *geo.out,
            *geo.taps, *geo.stride, *geo.padding, *geo.dilation, *_strides(win), *_strides(pos),
            float(geo.divisor or 0.0), MODE=mode, ADAPTIVE=geo.adaptive, INCLUDE_PAD=geo.include_pad,
            OVERRIDE=geo.divisor is not None, ACC=acc, IDX=idx_t, BLOCK=block, num_warps=4)
    L.count(geo.name)


_ARGS = ("M", "C", "H", "W", "OH", "OW", "KH", "KW", "sh", "sw", "ph", "pw", "dh", "dw",
         "w_n", "w_c", "w_h", "w_w", "p_n", "p_c", "p_h", "p_w")


def aot_specs() -> list:
    """Max (with indices), average (each divisor rule), adaptive, and the average's backward, per dtype."""
    specs = []

    def spec(d, mode, adaptive=False, include_pad=True, override=False, idx="i32"):
        win_t = ("fp64" if d is _dt.float64 else "fp32") if mode == 2 else d.triton_name
        sig = {"win_ptr": f"*{win_t}", "pos_ptr": f"*{d.triton_name}", "idx_ptr": "*i64"}
        sig.update({n: idx for n in _ARGS})
        sig["divisor"] = "fp32"
        consts = {"MODE": mode, "ADAPTIVE": adaptive, "INCLUDE_PAD": include_pad, "OVERRIDE": override,
                  "ACC": tl.float64 if d is _dt.float64 else tl.float32,
                  "IDX": tl.int64 if idx == "i64" else tl.int32, "BLOCK": BLOCK}
        sig.update({n: "constexpr" for n in consts})
        name = (f"pool_mode{mode}_{d.triton_name}" + ("_adaptive" if adaptive else "")
                + ("" if include_pad else "_exclpad") + ("_override" if override else "")
                + ("_i64idx" if idx == "i64" else ""))
        return L.AotSpec(name, pool_kernel, sig, consts, aligned=(0, 1, 2), num_warps=4)

    for d in (_dt.float32, _dt.float16, _dt.bfloat16, _dt.float64):
        specs += [spec(d, 0), spec(d, 1), spec(d, 1, adaptive=True), spec(d, 2)]
    specs += [spec(_dt.float32, 0, adaptive=True), spec(_dt.float32, 1, include_pad=False),
              spec(_dt.float32, 1, override=True), spec(_dt.float32, 2, adaptive=True),
              spec(_dt.float16, 0, idx="i64")]
    return specs
