"""The running-extremum Triton kernel (cummax, cummin), and its launcher.

The scan kernel's walk (``scan_triton.py``): each program owns ``BLOCK_M`` rows and walks them along
the scanned dim in ``BLOCK_N`` chunks; here ``tl.associative_scan`` runs over (value, index) pairs
with PyTorch's rule as the combine, and the pair carried between chunks is the chunk's last column.

The combine keeps the right operand when it is NaN, or when the left is not NaN and the right is
``>=`` it (``<=`` for cummin). That is the maximum under one total order (NaN above every number,
later indices above earlier ones among equals and among NaNs), so it is associative, and it gives
PyTorch's sequential answer: a NaN stays with its latest index, ties take the last index.
"""
from __future__ import annotations

import neurarust.launch as L
from neurarust import dtype as _dt
from neurarust.launch import tl, triton

from .reduction import acc_dtype
from .reduction_triton import AlongDim, row_offsets

MAX_BLOCK_N = 256  # the pair scan holds two values per element: shorter chunks, more rows each
TILE = 1024  # elements per program when rows are short (2048 took 192 registers on sm_80)


@triton.jit
def _max_pair(a, ia, b, ib):
    take = (b != b) | ((a == a) & (b >= a))
    return tl.where(take, b, a), tl.where(take, ib, ia)


@triton.jit
def _min_pair(a, ia, b, ib):
    take = (b != b) | ((a == a) & (b <= a))
    return tl.where(take, b, a), tl.where(take, ib, ia)


@triton.jit
def cumextreme_kernel(x_ptr, val_ptr, idx_ptr, M, N, M1, x_row0, x_row1, x_col, out_row0, out_row1, out_col,
                      IS_MAX: tl.constexpr, CMP: tl.constexpr, IDX: tl.constexpr,
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
    # The carry starts as each row's first element: a repeat of (x[0], 0) in front of the row changes
    # nothing (the real x[0] takes over from it), and it needs no per-dtype identity value.
    carry_v = tl.load(x_ptr + x_rows[:, None], mask=row_mask[:, None], other=0).to(CMP)
    carry_i = tl.zeros([BLOCK_M, 1], tl.int64)
    for start in range(0, N, BLOCK_N):
        n = start + cols
        mask = row_mask[:, None] & (n < N)[None, :]
        # Masked lanes come after every real one in their row: they never reach a stored prefix.
        x = tl.load(x_ptr + x_rows[:, None] + n[None, :] * tl.cast(x_col, IDX), mask=mask, other=0).to(CMP)
        i = tl.broadcast_to(n[None, :].to(tl.int64), [BLOCK_M, BLOCK_N])
        if IS_MAX:
            v, i = tl.associative_scan((x, i), 1, _max_pair)
            v, i = _max_pair(carry_v, carry_i, v, i)  # the earlier chunks' pair comes first
        else:
            v, i = tl.associative_scan((x, i), 1, _min_pair)
            v, i = _min_pair(carry_v, carry_i, v, i)
        out = out_rows[:, None] + n[None, :] * tl.cast(out_col, IDX)
        tl.store(val_ptr + out, v.to(val_ptr.dtype.element_ty), mask=mask)
        tl.store(idx_ptr + out, i, mask=mask)
        carry_v = tl.gather(v, last, axis=1)  # only read for full chunks: masked lanes never matter
        carry_i = tl.gather(i, last, axis=1)


def _blocks(M: int, N: int, max_block_n: int) -> tuple[int, int]:
    bn = min(triton.next_power_of_2(max(N, 1)), max_block_n)
    bm = min(triton.next_power_of_2(M), max(TILE // bn, 1))
    return bm, bn


def launch(values, indices, x, dim: int, is_max: bool, *, max_block_n: int = MAX_BLOCK_N) -> None:
    """Running max (``is_max``) or min of ``x`` along ``dim`` into contiguous ``values`` (x's dtype) and
    ``indices`` (int64); ``max_block_n`` caps the chunk length (tests use small ones to cross chunks)."""
    g = AlongDim(x, values, dim)
    if g.M == 0 or g.N == 0:
        return
    bm, bn = _blocks(g.M, g.N, max_block_n)
    with L.on_device(values):
        cumextreme_kernel[(triton.cdiv(g.M, bm),)](
            L.pointer(g.x), L.pointer(values), L.pointer(indices), *g.args(), IS_MAX=bool(is_max),
            CMP=L.TL_DTYPES[acc_dtype(x.dtype).name], IDX=g.idx, BLOCK_M=bm, BLOCK_N=bn, num_warps=4)
    L.count(f"cumextreme:{'cummax' if is_max else 'cummin'}")


_AOT_DTYPES = (_dt.float32, _dt.bfloat16, _dt.float64, _dt.int64, _dt.bool_)


def aot_specs() -> list:
    """cummax per dtype class with long rows; cummin in fp32; short rows; an int64-offset variant."""
    def spec(is_max, src, bm, bn, idx="i32"):
        sig = {"x_ptr": f"*{src.triton_name}", "val_ptr": f"*{src.triton_name}", "idx_ptr": "*i64"}
        sig.update({name: idx for name in ("M", "N", "M1", "x_row0", "x_row1", "x_col", "out_row0", "out_row1",
                                           "out_col")})
        sig.update({name: "constexpr" for name in ("IS_MAX", "CMP", "IDX", "BLOCK_M", "BLOCK_N")})
        constants = {"IS_MAX": is_max, "CMP": L.TL_DTYPES[acc_dtype(src).name],
                     "IDX": tl.int64 if idx == "i64" else tl.int32, "BLOCK_M": bm, "BLOCK_N": bn}
        name = (f"{'cummax' if is_max else 'cummin'}_{src.triton_name}_{bm}x{bn}"
                + ("_i64idx" if idx == "i64" else ""))
        return L.AotSpec(name, cumextreme_kernel, sig, constants, aligned=(0, 1, 2), num_warps=4)

    long_rows, short_rows = _blocks(1, 1 << 20, MAX_BLOCK_N), _blocks(1 << 20, 16, MAX_BLOCK_N)
    specs = [spec(True, src, *long_rows) for src in _AOT_DTYPES]
    specs += [spec(False, _dt.float32, *long_rows), spec(True, _dt.float32, *short_rows),
              spec(True, _dt.float32, *long_rows, idx="i64")]
    return specs
