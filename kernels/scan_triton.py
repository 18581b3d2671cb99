"""The scan Triton kernel (cumsum, cumprod, logcumsumexp), and its launcher.

Each program owns ``BLOCK_M`` rows (the other dims, merged as the reduction launcher merges them)
and walks them along the scanned dim in ``BLOCK_N`` chunks:

1. load a chunk, converting to the accumulator dtype ``ACC`` (fp32 for fp16/bf16, int64 for
   integers and bools);
2. scan it with ``tl.cumsum``/``tl.cumprod`` (logcumsumexp: ``tl.associative_scan`` with
   :func:`logaddexp` as the combine) and combine it with the prefix carried from the previous chunks;
3. store it, and carry its last column (``tl.gather``: bit-exact, where a masked sum would turn
   -0.0 into +0.0 and NaN into anything).
"""
from __future__ import annotations

import neurarust.launch as L
from neurarust import dtype as _dt
from neurarust.launch import tl, triton

from . import math_triton as MT
from .reduction import acc_dtype
from .reduction_triton import AlongDim, row_offsets

KINDS = ("cumsum", "cumprod", "logcumsumexp")
MAX_BLOCK_N = 1024
TILE = 2048  # elements per program when rows are short
# logcumsumexp's combine (exp, log1p and their special cases; fp64's in software) holds many more
# registers per element: 1024-wide fp64 chunks spilled on sm_80 and sm_90. Shorter chunks, fewer
# elements per program.
LOG_MAX_BLOCK_N = 256
LOG_TILE = 1024
# fp64's software exp/log1p hold more still: 4 x 256 spilled on sm_80 under triton 3.6 and 2 x 256
# under 3.9; 4 x 128 stays at 128 registers under both.
LOG_FP64_LIMITS = (128, 512)


@triton.jit
def logaddexp(a, b):
    """``log(exp(a) + exp(b))`` without overflow: the larger plus ``log1p(exp(smaller - larger))``.
    -inf is the identity (-inf beside -inf stays -inf, where ``smaller - larger`` would be NaN), +inf
    beside anything but NaN is +inf, and a NaN on either side gives NaN. Associative and commutative
    on those values too, so ``tl.associative_scan`` may combine in any grouping."""
    hi = tl.maximum(a, b)
    lo = tl.minimum(a, b)
    r = hi + MT.log1p(tl.exp(lo - hi))
    r = tl.where((lo == float("-inf")) | (hi == float("inf")), hi, r)
    return tl.where((a != a) | (b != b), a + b, r)


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
    # Sums start from +0.0 as PyTorch's do (a running sum is never -0.0), products from 1, log-sums
    # of exponentials from -inf (log 0).
    if KIND == "cumsum":
        carry = tl.zeros([BLOCK_M, 1], ACC)
    elif KIND == "cumprod":
        carry = tl.full([BLOCK_M, 1], 1, ACC)
    else:
        carry = tl.full([BLOCK_M, 1], float("-inf"), ACC)
    for start in range(0, N, BLOCK_N):
        n = start + cols
        mask = row_mask[:, None] & (n < N)[None, :]
        x = tl.load(x_ptr + x_rows[:, None] + n[None, :] * tl.cast(x_col, IDX), mask=mask, other=0).to(ACC)
        # Masked lanes (loaded as 0) come after every real one in their row: no stored prefix sees them.
        if KIND == "cumsum":
            c = tl.cumsum(x, axis=1) + carry
        elif KIND == "cumprod":
            c = tl.cumprod(x, axis=1) * carry
        else:
            c = logaddexp(carry, tl.associative_scan(x, 1, logaddexp))
        tl.store(out_ptr + out_rows[:, None] + n[None, :] * tl.cast(out_col, IDX),
                 c.to(out_ptr.dtype.element_ty), mask=mask)
        carry = tl.gather(c, last, axis=1)  # only read for full chunks: masked lanes never matter


def _blocks(M: int, N: int, max_block_n: int, tile: int = TILE) -> tuple[int, int]:
    bn = min(triton.next_power_of_2(max(N, 1)), max_block_n)
    bm = min(triton.next_power_of_2(M), max(tile // bn, 1))
    return bm, bn


def _limits(kind: str, dtype: _dt.DType) -> tuple[int, int]:
    """(chunk cap, elements per program) of a kind over ``dtype``."""
    if kind != "logcumsumexp":
        return MAX_BLOCK_N, TILE
    return LOG_FP64_LIMITS if dtype is _dt.float64 else (LOG_MAX_BLOCK_N, LOG_TILE)


def launch(out, x, dim: int, kind: str, *, max_block_n: int = MAX_BLOCK_N) -> None:
    """Scan ``x`` along ``dim`` into ``out`` (same shape, contiguous). ``kind`` is one of
    :data:`KINDS`; ``max_block_n`` caps the chunk length further (tests use small ones to cross chunks)."""
    g = AlongDim(x, out, dim)
    if g.M == 0 or g.N == 0:
        return
    cap, tile = _limits(kind, out.dtype)
    bm, bn = _blocks(g.M, g.N, min(max_block_n, cap), tile)
    with L.on_device(out):
        scan_kernel[(triton.cdiv(g.M, bm),)](
            L.pointer(g.x), L.pointer(out), *g.args(), KIND=kind, ACC=L.TL_DTYPES[acc_dtype(out.dtype).name],
            IDX=g.idx, BLOCK_M=bm, BLOCK_N=bn, num_warps=4)
    L.count(f"scan:{kind}")


_AOT_DTYPES = (_dt.float32, _dt.bfloat16, _dt.float64, _dt.int64)


def aot_specs() -> list:
    """cumsum per dtype class with long rows (one row per program); cumprod in fp32 and int64;
    logcumsumexp per floating dtype class; short rows (many per program); an int64-offset variant."""
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
    def log_rows(src, rows):
        cap, tile = _limits("logcumsumexp", src)
        M, N = {"long": (1, 1 << 20), "many_long": (1 << 20, 1 << 20), "short": (1 << 20, 16)}[rows]
        return _blocks(M, N, cap, tile)

    specs += [spec("logcumsumexp", src, *log_rows(src, rows)) for src in (_dt.float32, _dt.float64, _dt.bfloat16)
              for rows in ("long", "many_long")]
    specs += [spec("logcumsumexp", _dt.float16, *log_rows(_dt.float16, "long")),
              spec("logcumsumexp", _dt.float32, *log_rows(_dt.float32, "short")),
              spec("logcumsumexp", _dt.float64, *log_rows(_dt.float64, "short")),
              spec("logcumsumexp", _dt.float64, *log_rows(_dt.float64, "many_long"), idx="i64")]
    return specs
