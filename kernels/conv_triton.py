"""The convolution Triton kernel: an implicit GEMM, and its three launchers.

Each program computes a ``BLOCK_M x BLOCK_N`` tile of (output pixels x output channels of one
group) and loops over the reduction axis (input channels x kernel taps) in ``BLOCK_K`` steps. The
input tile is gathered straight from the input tensor (no im2col buffer): every (pixel, tap) pair
maps to an input coordinate ``o * stride + k * dilation - padding``, masked where it falls in the
padding. Tiles go through ``tl.dot`` with fp32 accumulation (fp64 for fp64).

One kernel serves three problems, by how the host describes the operands (every spatial problem is
made 3-D with size-1 leading dims):

- the convolution itself;
- the transposed convolution (``conv_transpose``, and a convolution's input gradient): a
  convolution over the input dilated by ``stride`` (``LHS`` dilation: virtual coordinates that are
  not multiples of it read zero), with the taps flipped (``FLIP``) and the weight's two channel
  axes swapped (by strides);
- the weight gradient, a correlation of the input with the output gradient: a convolution where the
  batch and channel axes trade places (the input's channels become the "batch", the batch becomes
  the reduced channels, the output gradient is the "weight"), with stride and dilation swapped.
"""
from __future__ import annotations

import neurarust.launch as L
from neurarust import dtype as _dt
from neurarust.launch import tl, triton

INTERPRET_BLOCKS = (16, 16, 16)   # tl.dot's smallest tile: the interpreter pays per program, not per lane
GPU_BLOCKS = (64, 64, 16)   # a K step of 32 spilt (the gathered tile's 2-D index math holds registers)
NUM_WARPS = 8   # the gathered input tile's index math is 2-D: spread it over more threads


@triton.jit
def _split3(i, B, C):
    return i // (B * C), (i // C) % B, i % C


@triton.jit
def _tap(start, k, dil, lhs, size, LHS: tl.constexpr):
    """Input coordinate of the rows' window ``start`` at tap ``k`` (columns), and whether it holds
    data (with ``LHS``: only virtual coordinates that are multiples of ``lhs`` do)."""
    v = start[:, None] + (k * dil)[None, :]
    if LHS:
        vs = tl.where(v >= 0, v, 0)  # Triton's // truncates: keep it on non-negative values
        i = vs // lhs
        return i, (v >= 0) & (i * lhs == vs) & (i < size)
    else:
        return v, (v >= 0) & (v < size)


@triton.jit
def conv_kernel(x_ptr, w_ptr, b_ptr, out_ptr, M, Cg, Og,
                OD, OH, OW, ID, IH, IW, KD, KH, KW,
                x_n, x_g, x_c, x_d, x_h, x_w,
                w_g, w_o, w_c, w_d, w_h, w_w,
                o_n, o_g, o_c, o_d, o_h, o_w,
                sd, sh, sw, pd, ph, pw, dd, dh, dw, ld, lh, lw,
                FLIP: tl.constexpr, LHS: tl.constexpr, HAS_BIAS: tl.constexpr, UPCAST: tl.constexpr,
                PRECISION: tl.constexpr, ACC: tl.constexpr, IDX: tl.constexpr,
                BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    g = tl.program_id(2).to(IDX)
    m = tl.program_id(0).to(IDX) * BLOCK_M + tl.arange(0, BLOCK_M).to(IDX)
    oc = tl.program_id(1).to(IDX) * BLOCK_N + tl.arange(0, BLOCK_N).to(IDX)
    m_ok = m < M
    oc_ok = oc < Og
    pixels = OD * OH * OW
    n = m // pixels
    od, oh, ow = _split3(m % pixels, OH, OW)
    x_rows = n * x_n + g * x_g
    start_d = od * sd - pd
    start_h = oh * sh - ph
    start_w = ow * sw - pw
    w_cols = g * w_g + oc * w_o
    taps = KD * KH * KW
    K = Cg * taps
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for k0 in range(0, K, BLOCK_K):
        k = k0 + tl.arange(0, BLOCK_K).to(IDX)
        k_ok = k < K
        c = k // taps
        kd, kh, kw = _split3(k % taps, KH, KW)
        i_d, ok_d = _tap(start_d, kd, dd, ld, ID, LHS)
        i_h, ok_h = _tap(start_h, kh, dh, lh, IH, LHS)
        i_w, ok_w = _tap(start_w, kw, dw, lw, IW, LHS)
        a_mask = (m_ok[:, None] & k_ok[None, :]) & (ok_d & ok_h & ok_w)
        a = tl.load(x_ptr + (x_rows[:, None] + (c * x_c)[None, :]) + (i_d * x_d + i_h * x_h + i_w * x_w),
                    mask=a_mask, other=0.0)
        if FLIP:
            kd = KD - 1 - kd
            kh = KH - 1 - kh
            kw = KW - 1 - kw
        w_rows = c * w_c + kd * w_d + kh * w_h + kw * w_w
        b = tl.load(w_ptr + w_rows[:, None] + w_cols[None, :], mask=k_ok[:, None] & oc_ok[None, :], other=0.0)
        if UPCAST:
            a = a.to(tl.float32)
            b = b.to(tl.float32)
        acc = tl.dot(a, b, acc, input_precision=PRECISION, out_dtype=ACC)
    if HAS_BIAS:
        acc += tl.load(b_ptr + g * Og + oc, mask=oc_ok, other=0.0).to(ACC)[None, :]
    out_rows = n * o_n + g * o_g + od * o_d + oh * o_h + ow * o_w
    tl.store(out_ptr + out_rows[:, None] + oc[None, :] * o_c, acc.to(out_ptr.dtype.element_ty),
             mask=m_ok[:, None] & oc_ok[None, :])


def _spatial(t, lead: int = 2) -> tuple[list, list]:
    """Sizes and strides of ``t``'s spatial dims, made three (size 1, stride 0 in front)."""
    s = t.ndim - lead
    return [1] * (3 - s) + list(t.shape[lead:]), [0] * (3 - s) + [t.stride(i) for i in range(lead, t.ndim)]


def _three(v) -> list:
    return [1] * (3 - len(v)) + list(v) if v else [1, 1, 1]


def _zero3(v) -> list:
    return [0] * (3 - len(v)) + list(v)


def _blocks(Og: int, wide_index: bool, dtype=None) -> tuple[int, int, int]:
    """The tile; int64 index math takes half the rows (it spilt at 64); fp32 a quarter of the tile
    (the transposed case spilt on sm_80 with triton 3.6)."""
    return INTERPRET_BLOCKS if L.INTERPRET else _gpu_blocks(Og, wide_index, dtype)


def _gpu_blocks(Og: int, wide_index: bool, dtype) -> tuple[int, int, int]:
    bm, bn, bk = GPU_BLOCKS
    if dtype is _dt.float32:  # a full-precision fp32 dot keeps more live: the flipped case spilt at 64x64
        bm, bn = bm // 2, bn // 2
    return bm // 2 if wide_index else bm, max(16, min(bn, triton.next_power_of_2(Og))), bk


def _run(out, x, w, bias, *, M, Cg, Og, groups, out_sizes, in_sizes, k_sizes, xs, ws, os, stride, pad, dil, lhs,
         flip):
    if M == 0 or Og == 0 or groups == 0:
        return
    dtype = out.dtype
    upcast = L.INTERPRET and dtype.name in ("float16", "bfloat16")
    acc = tl.float64 if dtype is _dt.float64 else tl.float32
    idx = tl.int64 if any(L.index_dtype(t.shape, t.stride()) is tl.int64 for t in (x, w, out)) else tl.int32
    bm, bn, bk = _blocks(Og, idx is tl.int64, dtype)
    with L.on_device(out):
        conv_kernel[(triton.cdiv(M, bm), triton.cdiv(Og, bn), groups)](
            L.pointer(x), L.pointer(w), L.pointer(bias if bias is not None else out), L.pointer(out), M, Cg, Og,
            *out_sizes, *in_sizes, *k_sizes, *xs, *ws, *os, *stride, *pad, *dil, *lhs,
            FLIP=flip, LHS=any(v != 1 for v in lhs), HAS_BIAS=bias is not None, UPCAST=upcast, PRECISION="ieee",
            ACC=acc, IDX=idx,
            BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, num_warps=NUM_WARPS)


def launch_forward(out, x, w, bias, stride, padding, dilation, groups) -> None:
    """``out = conv(x, w) + bias``: ``w`` is ``(C_out, C_in / groups, *k)``; ``padding`` is the left
    padding of each spatial dim (the output's size sets the right one)."""
    o_sz, o_st = _spatial(out)
    i_sz, i_st = _spatial(x)
    k_sz, k_st = _spatial(w)
    Og, Cg = w.shape[0] // groups, w.shape[1]
    _run(out, x, w, bias, M=out.shape[0] * o_sz[0] * o_sz[1] * o_sz[2], Cg=Cg, Og=Og, groups=groups,
         out_sizes=o_sz, in_sizes=i_sz, k_sizes=k_sz,
         xs=[x.stride(0), Cg * x.stride(1), x.stride(1), *i_st],
         ws=[Og * w.stride(0), w.stride(0), w.stride(1), *k_st],
         os=[out.stride(0), Og * out.stride(1), out.stride(1), *o_st],
         stride=_three(stride), pad=_zero3(padding), dil=_three(dilation), lhs=[1, 1, 1], flip=False)
    L.count("convolution")


def launch_transposed(out, x, w, bias, stride, padding, dilation, groups) -> None:
    """``out = conv_transpose(x, w) + bias``: ``w`` is ``(C_in, C_out / groups, *k)``; ``padding`` is
    the cropped left border (the output's size sets the right one)."""
    o_sz, o_st = _spatial(out)
    i_sz, i_st = _spatial(x)
    k_sz, k_st = _spatial(w)
    Cg, Og = w.shape[0] // groups, w.shape[1]
    dil = _three(dilation)
    pad = [d * (k - 1) - p for d, k, p in zip(dil, k_sz, _zero3(padding))]
    _run(out, x, w, bias, M=out.shape[0] * o_sz[0] * o_sz[1] * o_sz[2], Cg=Cg, Og=Og, groups=groups,
         out_sizes=o_sz, in_sizes=i_sz, k_sizes=k_sz,
         xs=[x.stride(0), Cg * x.stride(1), x.stride(1), *i_st],
         ws=[Cg * w.stride(0), w.stride(1), w.stride(0), *k_st],
         os=[out.stride(0), Og * out.stride(1), out.stride(1), *o_st],
         stride=[1, 1, 1], pad=pad, dil=dil, lhs=_three(stride), flip=True)
    L.count("convolution")


def launch_weight_grad(out, x, grad, stride, padding, dilation, groups) -> None:
    """``out`` (the weight's shape ``(C_out, C_in / groups, *k)``) = the correlation of ``x`` with the
    output gradient ``grad``: a convolution with batch and channels traded and stride and dilation
    swapped, whose "output pixels" are the kernel taps."""
    k_sz, k_st = _spatial(out)
    i_sz, i_st = _spatial(x)
    g_sz, g_st = _spatial(grad)
    Og, Cg = out.shape[0] // groups, out.shape[1]
    _run(out, x, grad, None, M=Cg * k_sz[0] * k_sz[1] * k_sz[2], Cg=x.shape[0], Og=Og, groups=groups,
         out_sizes=k_sz, in_sizes=i_sz, k_sizes=g_sz,
         xs=[x.stride(1), Cg * x.stride(1), x.stride(0), *i_st],
         ws=[Og * grad.stride(1), grad.stride(1), grad.stride(0), *g_st],
         os=[out.stride(1), Og * out.stride(0), out.stride(0), *k_st],
         stride=_three(dilation), pad=_zero3(padding), dil=_three(stride), lhs=[1, 1, 1], flip=False)
    L.count("convolution_weight_grad")


def launch(out, x, w, bias, geo, transposed: bool = False) -> None:
    """The ``convolution`` entry's launcher: ``geo`` is its checked :class:`Geometry`."""
    run = launch_transposed if transposed else launch_forward
    run(out, x, w, bias, geo.stride, geo.left, geo.dilation, geo.groups)


_SIZES = ("M", "Cg", "Og", "OD", "OH", "OW", "ID", "IH", "IW", "KD", "KH", "KW",
          "x_n", "x_g", "x_c", "x_d", "x_h", "x_w", "w_g", "w_o", "w_c", "w_d", "w_h", "w_w",
          "o_n", "o_g", "o_c", "o_d", "o_h", "o_w", "sd", "sh", "sw", "pd", "ph", "pw", "dd", "dh", "dw",
          "ld", "lh", "lw")


def aot_specs() -> list:
    """The GPU tile for each dtype, forward (with bias) and transposed (flipped), plus an int64-offset
    variant and a narrow-channel tile."""
    specs = []

    def spec(d, flip, has_bias, og=64, idx="i32"):
        bm, bn, bk = _gpu_blocks(og, idx == "i64", d)
        sig = {"x_ptr": f"*{d.triton_name}", "w_ptr": f"*{d.triton_name}", "b_ptr": f"*{d.triton_name}",
               "out_ptr": f"*{d.triton_name}"}
        sig.update({n: idx for n in _SIZES})
        consts = {"FLIP": flip, "LHS": flip, "HAS_BIAS": has_bias, "UPCAST": False, "PRECISION": "ieee",
                  "ACC": tl.float64 if d is _dt.float64 else tl.float32,
                  "IDX": tl.int64 if idx == "i64" else tl.int32, "BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk}
        sig.update({n: "constexpr" for n in consts})
        name = (f"conv_{d.triton_name}_{bm}x{bn}x{bk}" + ("_flip" if flip else "") + ("_bias" if has_bias else "")
                + ("_i64idx" if idx == "i64" else ""))
        return L.AotSpec(name, conv_kernel, sig, consts, aligned=(0, 1, 2, 3), num_warps=NUM_WARPS)

    for d in (_dt.float32, _dt.float16, _dt.bfloat16, _dt.float64):
        specs += [spec(d, False, True), spec(d, True, False)]
    specs += [spec(_dt.float16, False, False, og=16), spec(_dt.bfloat16, False, True, idx="i64")]
    return specs
