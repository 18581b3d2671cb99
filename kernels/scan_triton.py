"""The scan Triton kernel (cumsum, cumprod), and its launcher.

Each program owns ``BLOCK_M`` rows (the other dims, merged as the reduction launcher merges them)
and walks them along the scanned dim in ``BLOCK_N`` chunks:

1. load a chunk, converting to the accumulator dtype ``ACC`` (fp32 for fp16/bf16, int64 for
   integers and bools);
2. scan it with ``tl.cumsum``/``tl.cumprod`` and combine it with the prefix carried from the previous
   chunks;
3. store it, and carry its last column (``tl.gather``: bit-exact, where a masked sum would turn
   -0.0 into +0.0 and NaN into anything).
"""
from __future__ import annotations

import neurarust.launch as L
from neurarust import dtype as _dt
from neurarust.launch import tl, triton

from .reduction import acc_dtype
from .reduction_triton import AlongDim, row_offsets

KINDS = ("cumsum", "cumprod")
MAX_BLOCK_N = 1024
TILE = 2048  # elements per program when rows are short


@triton.jit
def scan_kernel(x_ptr, out_ptr, M, N, M1, x_row0, x_row1, x_col, out_row0, out_row1, out_col,
                KIND: tl.constexpr, ACC: tl.constexpr, IDX: tl.constexpr,
                BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    M = tl.cast(M, IDX)
    N = tl.cast(N, IDX)
    M1 = tl.cast(M1, IDX)
    rows = tl.program_id(0).to(IDX) * BLOCK_M + tl.arange(0, BLOCK_M).to(IDX)
    row_mask = rows < M
    x_rows = row_offsets(rows, M1, x_row0, x_row1, IDX)
    out_rows = row_offsets(rows, M1, out_row0, out_row1, IDX)
    cols = tl.arange(0, BLOCK_N).to(IDX)
    last = tl.full([BLOCK_M, 1], BLOCK_N - 1, tl.int32)
    # Sums start from +0.0 as PyTorch's do (a running sum is never -0.0), products from 1.
    if KIND == "cumsum":
        carry = tl.zeros([BLOCK_M, 1], ACC)
    else:
        carry = tl.full([BLOCK_M, 1], 1, ACC)
    for start in range(0, N, BLOCK_N):
        n = start + cols
        mask = row_mask[:, None] & (n < N)[None, :]
        x = tl.load(x_ptr + x_rows[:, None] + n[None, :] * tl.cast(x_col, IDX), mask=mask, other=0).to(ACC)
        if KIND == "cumsum":
            c = tl.cumsum(x, axis=1) + carry
        else:
            c = tl.cumprod(x, axis=1) * carry
        tl.store(out_ptr + out_rows[:, None] + n[None, :] * tl.cast(out_col, IDX),
                 c.to(out_ptr.dtype.element_ty), mask=mask)
        carry = tl.gather(c, last, axis=1)  # only read for full chunks: masked lanes never matter


def _blocks(M: int, N: int, max_block_n: int) -> tuple[int, int]:
    bn = min(triton.next_power_of_2(max(N, 1)), max_block_n)
    bm = min(triton.next_power_of_2(M), max(TILE // bn, 1))
    return bm, bn


def launch(out, x, dim: int, kind: str, *, max_block_n: int = MAX_BLOCK_N) -> None:
    """Scan ``x`` along ``dim`` into ``out`` (same shape, contiguous). ``kind`` is one of
    :data:`KINDS`; ``max_block_n`` caps the chunk length (tests use small ones to cross chunks)."""
    g = AlongDim(x, out, dim)
    if g.M == 0 or g.N == 0:
        return
    bm, bn = _blocks(g.M, g.N, max_block_n)
    with L.on_device(out):
        scan_kernel[(triton.cdiv(g.M, bm),)](
            L.pointer(g.x), L.pointer(out), *g.args(), KIND=kind, ACC=L.TL_DTYPES[acc_dtype(out.dtype).name],
            IDX=g.idx, BLOCK_M=bm, BLOCK_N=bn, num_warps=4)
    L.count(f"scan:{kind}")


_AOT_DTYPES = (_dt.float32, _dt.bfloat16, _dt.float64, _dt.int64)


def aot_specs() -> list:
    """cumsum per dtype class with long rows (one row per program); cumprod in fp32 and int64; short
    rows (many per program); an int64-offset variant."""
    specs = []

    def spec(kind, src, bm, bn, idx="i32"):
        out = src if src.is_floating_point else _dt.int64
        sig = {"x_ptr": f"*{src.triton_name}", "out_ptr": f"*{out.triton_name}"}
        sig.update({name: idx for name in ("M", "N", "M1", "x_row0", "x_row1", "x_col", "out_row0", "out_row1",
                                           "out_col")})
        sig.update({name: "constexpr" for name in ("KIND", "ACC", "IDX", "BLOCK_M", "BLOCK_N")})
        constants = {"KIND": kind, "ACC": L.TL_DTYPES[acc_dtype(out).name],
                     "IDX": tl.int64 if idx == "i64" else tl.int32, "BLOCK_M": bm, "BLOCK_N": bn}
        name = f"scan_{kind}_{src.triton_name}_{bm}x{bn}" + ("_i64idx" if idx == "i64" else "")
        return L.AotSpec(name, scan_kernel, sig, constants, aligned=(0, 1), num_warps=4)

    long_rows, short_rows = _blocks(1, 1 << 20, MAX_BLOCK_N), _blocks(1 << 20, 16, MAX_BLOCK_N)
    for src in _AOT_DTYPES:
        specs.append(spec("cumsum", src, *long_rows))
    specs += [spec("cumprod", _dt.float32, *long_rows), spec("cumprod", _dt.int64, *long_rows),
              spec("cumsum", _dt.float32, *short_rows), spec("cumsum", _dt.float32, *long_rows, idx="i64")]
    return specs
