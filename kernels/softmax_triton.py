"""The softmax Triton kernel (softmax, log_softmax), and its launcher.

As in Triton's fused-softmax tutorial, a row that fits one block is read once: its max, the
exponentials of the shifted row, their sum and the normalised result all stay in registers. Each
program owns ``BLOCK_M`` rows (several when rows are short). A row longer than the largest block
(``ONE_BLOCK`` false) is read twice: a first pass keeps, per lane, a running max and a running sum
of exponentials rescaled whenever the max grows (the "online softmax"), and a second pass writes
the results.

Rows are centred on their max; a row whose max is -inf is centred on 0 instead, so that all -inf
gives 0/0 = NaN (as in PyTorch) without an inf - inf on the way. fp16/bf16 are computed in fp32.
"""
from __future__ import annotations

import neurarust.launch as L
from neurarust import dtype as _dt
from neurarust.launch import tl, triton

from .reduction import acc_dtype
from .reduction_triton import AlongDim, row_offsets

MAX_ONE_BLOCK = 4096   # longest row read once
LOOP_BLOCK = 2048      # chunk of a longer row
TILE = 2048            # elements per program when rows are short


@triton.jit
def _center(top):
    return tl.where(top == -float("inf"), 0.0, top)


@triton.jit
def _finish(shifted, total, LOG: tl.constexpr):
    if LOG:
        return shifted - tl.log(total)[:, None]
    else:
        return tl.exp(shifted) / total[:, None]


@triton.jit
def softmax_kernel(x_ptr, out_ptr, M, N, M1, x_row0, x_row1, x_col, out_row0, out_row1, out_col,
                   LOG: tl.constexpr, ONE_BLOCK: tl.constexpr, ACC: tl.constexpr, IDX: tl.constexpr,
                   BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    M = tl.cast(M, IDX)
    N = tl.cast(N, IDX)
    M1 = tl.cast(M1, IDX)
    x_col = tl.cast(x_col, IDX)
    out_col = tl.cast(out_col, IDX)
    rows = tl.program_id(0).to(IDX) * BLOCK_M + tl.arange(0, BLOCK_M).to(IDX)
    row_mask = rows < M
    x_rows = row_offsets(rows, M1, x_row0, x_row1, IDX)
    out_rows = row_offsets(rows, M1, out_row0, out_row1, IDX)
    cols = tl.arange(0, BLOCK_N).to(IDX)
    if ONE_BLOCK:
        mask = row_mask[:, None] & (cols < N)[None, :]
        x = tl.load(x_ptr + x_rows[:, None] + cols[None, :] * x_col, mask=mask, other=-float("inf")).to(ACC)
        shifted = x - _center(tl.max(x, axis=1))[:, None]
        total = tl.sum(tl.exp(shifted), axis=1)  # masked lanes: exp(-inf) = 0
        tl.store(out_ptr + out_rows[:, None] + cols[None, :] * out_col,
                 _finish(shifted, total, LOG).to(out_ptr.dtype.element_ty), mask=mask)
    else:
        top = tl.full([BLOCK_M, BLOCK_N], -float("inf"), ACC)
        run = tl.zeros([BLOCK_M, BLOCK_N], ACC)
        for start in range(0, N, BLOCK_N):
            n = start + cols
            mask = row_mask[:, None] & (n < N)[None, :]
            x = tl.load(x_ptr + x_rows[:, None] + n[None, :] * x_col, mask=mask, other=-float("inf")).to(ACC)
            new_top = tl.maximum(top, x)
            c = _center(new_top)
            run = run * tl.exp(top - c) + tl.exp(x - c)  # a NaN or +inf anywhere makes the row NaN
            top = new_top
        center = _center(tl.max(top, axis=1))
        total = tl.sum(run * tl.exp(top - center[:, None]), axis=1)
        for start in range(0, N, BLOCK_N):
            n = start + cols
            mask = row_mask[:, None] & (n < N)[None, :]
            x = tl.load(x_ptr + x_rows[:, None] + n[None, :] * x_col, mask=mask, other=-float("inf")).to(ACC)
            tl.store(out_ptr + out_rows[:, None] + n[None, :] * out_col,
                     _finish(x - center[:, None], total, LOG).to(out_ptr.dtype.element_ty), mask=mask)


def _blocks(M: int, N: int, max_one_block: int, loop_block: int) -> tuple[int, int, bool]:
    one = N <= max_one_block
    bn = triton.next_power_of_2(max(N, 1)) if one else loop_block
    bm = min(triton.next_power_of_2(M), max(TILE // bn, 1))
    return bm, bn, one


def launch(out, x, dim: int, log: bool, *, max_one_block: int = MAX_ONE_BLOCK, loop_block: int = LOOP_BLOCK) -> None:
    """(Log-)softmax of ``x`` along ``dim`` into ``out`` (same shape, contiguous). ``max_one_block``
    and ``loop_block`` bound the fused and looped blocks (tests make them small)."""
    g = AlongDim(x, out, dim)
    if g.M == 0 or g.N == 0:
        return
    bm, bn, one = _blocks(g.M, g.N, max_one_block, loop_block)
    with L.on_device(out):
        softmax_kernel[(triton.cdiv(g.M, bm),)](
            L.pointer(g.x), L.pointer(out), *g.args(), LOG=log, ONE_BLOCK=one,
            ACC=L.TL_DTYPES[acc_dtype(out.dtype).name], IDX=g.idx, BLOCK_M=bm, BLOCK_N=bn,
            num_warps=8 if bm * bn >= 2048 else 4)
    L.count("log_softmax" if log else "softmax")


def aot_specs() -> list:
    """fp32 softmax and log_softmax: the fused kernel at its largest row and at short rows, and the
    looped one; the other dtypes' fused (largest) and looped kernels; an int64-offset variant."""
    specs = []

    def spec(d, log, M, N, idx="i32"):
        bm, bn, one = _blocks(M, N, MAX_ONE_BLOCK, LOOP_BLOCK)
        sig = {"x_ptr": f"*{d.triton_name}", "out_ptr": f"*{d.triton_name}"}
        sig.update({name: idx for name in ("M", "N", "M1", "x_row0", "x_row1", "x_col", "out_row0", "out_row1",
                                           "out_col")})
        sig.update({name: "constexpr" for name in ("LOG", "ONE_BLOCK", "ACC", "IDX", "BLOCK_M", "BLOCK_N")})
        constants = {"LOG": log, "ONE_BLOCK": one, "ACC": L.TL_DTYPES[acc_dtype(d).name],
                     "IDX": tl.int64 if idx == "i64" else tl.int32, "BLOCK_M": bm, "BLOCK_N": bn}
        name = (f"{'log_' if log else ''}softmax_{d.triton_name}_{bm}x{bn}{'' if one else '_looped'}"
                + ("_i64idx" if idx == "i64" else ""))
        return L.AotSpec(name, softmax_kernel, sig, constants, aligned=(0, 1), num_warps=8 if bm * bn >= 2048 else 4)

    longest, short, looped = (1 << 20, MAX_ONE_BLOCK), (1 << 20, 64), (1 << 10, 1 << 16)
    for log in (False, True):
        specs += [spec(_dt.float32, log, *shape) for shape in (longest, short, looped)]
    for d in (_dt.float16, _dt.bfloat16, _dt.float64):
        specs += [spec(d, False, *longest), spec(d, d is _dt.float16, *looped)]
    specs.append(spec(_dt.float32, False, 1 << 20, 1024, idx="i64"))
    return specs
