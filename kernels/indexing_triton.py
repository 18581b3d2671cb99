"""The indexing Triton kernels (gather/scatter along a dim, stream compaction) and their launchers.

Every gather-like op (gather, index_select, take, advanced ``x[idx]``) and every scatter-like op
(scatter, scatter_add, scatter_reduce, index_add/copy/fill, ``index_put``) is one problem: an
iteration space ``S`` (the index's shape) with one indexed dim. Three operands walk ``S``:

- ``val``: the side without indices (the output of a gather, the source of a scatter);
- ``idx``: the indices (broadcast dims have stride 0);
- ``tgt``: the indexed side, whose offset is ``row offset + idx * td`` (its own stride along the
  indexed dim is ``td``; it does not move along that dim otherwise).

The launcher puts the indexed dim last (``C`` columns) and merges the other dims into ``R`` rows
(at most three strides each; more loop on the host). ``index_kernel`` then runs in one of three modes:

1. ``gather``: a ``[BLOCK_R, BLOCK_C]`` tile per program, ``val = tgt[...]``;
2. ``scatter``: the same tile, ``tgt[...] = val`` (plain store) or ``tl.atomic_add`` for sums: fast,
   but repeated indices make the order of writes (and of float additions) vary from run to run;
3. ``lines``: each program owns ``BLOCK_R`` rows and walks the ``C`` columns in order, reading,
   combining and writing back one column at a time. Distinct rows never touch the same element, so
   there is no race: results are bit-identical run to run, repeated indices combine in index order
   (the last plain write wins, as on the CPU), and every combine (sum, prod, amax, amin) works. This
   is the deterministic path, and the path for dtypes with no atomic add.

``nonzero``/``masked_select`` are a stream compaction: ``count_kernel`` counts each block's set mask
elements, the host turns the counts into each block's first output slot (it needs the total to size
the result anyway), and ``compact_kernel`` writes every selected element (or its coordinates) at
its block's base plus its rank in the block (a ``tl.cumsum``).
"""
from __future__ import annotations

import numpy as np

import neurarust.launch as L
from neurarust import dtype as _dt
from neurarust import shape as _sh
from neurarust.launch import tl, triton

from .indexing import ATOMIC_DTYPES  # which dtypes may add atomically is decided with the entries

MODES = ("gather", "scatter", "lines")
REDUCES = ("none", "sum", "prod", "amax", "amin")
MAX_ROW_DIMS = 3
TILE = 1024          # elements per program in the parallel modes
LINE_BLOCK = 128     # rows per program in the lines mode
COMPACT_BLOCK = 1024


@triton.jit
def _row_offsets(rows, R1, R2, s0, s1, s2):
    """Offset of row ``r`` = (r0, r1, r2) in an operand with row strides (s0, s1, s2)."""
    r2 = rows % R2
    rest = rows // R2
    return (rest // R1) * s0 + (rest % R1) * s1 + r2 * s2


@triton.jit
def _combine(old, new, REDUCE: tl.constexpr):
    if REDUCE == "sum":
        return old + new
    elif REDUCE == "prod":
        return old * new
    elif REDUCE == "amax":
        return tl.where((new > old) | (new != new), new, old)  # NaN wins, as in PyTorch
    elif REDUCE == "amin":
        return tl.where((new < old) | (new != new), new, old)
    else:
        return new


@triton.jit
def index_kernel(val_ptr, idx_ptr, tgt_ptr, R, C, R1, R2, dim_size,
                 v0, v1, v2, vc, i0, i1, i2, ic, t0, t1, t2, td,
                 MODE: tl.constexpr, REDUCE: tl.constexpr, ACC: tl.constexpr, IDX: tl.constexpr,
                 BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr):
    R1 = tl.cast(R1, IDX)
    R2 = tl.cast(R2, IDX)
    rows = tl.program_id(0).to(IDX) * BLOCK_R + tl.arange(0, BLOCK_R).to(IDX)
    row_mask = rows < R
    v_row = _row_offsets(rows, R1, R2, tl.cast(v0, IDX), tl.cast(v1, IDX), tl.cast(v2, IDX))
    i_row = _row_offsets(rows, R1, R2, tl.cast(i0, IDX), tl.cast(i1, IDX), tl.cast(i2, IDX))
    t_row = _row_offsets(rows, R1, R2, tl.cast(t0, IDX), tl.cast(t1, IDX), tl.cast(t2, IDX))
    vc = tl.cast(vc, IDX)
    ic = tl.cast(ic, IDX)
    td = tl.cast(td, IDX)
    tgt_ty = tgt_ptr.dtype.element_ty
    if MODE == "lines":
        # One column at a time, in order: the deterministic path (see the module docstring).
        for c0 in range(0, C):
            c = tl.cast(c0, IDX)
            idx = tl.load(idx_ptr + i_row + c * ic, mask=row_mask, other=0).to(IDX)
            idx = tl.where(idx < 0, idx + dim_size, idx)  # negatives were range-checked on the host
            where = tgt_ptr + t_row + idx * td
            new = tl.load(val_ptr + v_row + c * vc, mask=row_mask, other=0).to(ACC)
            if REDUCE != "none":
                new = _combine(tl.load(where, mask=row_mask, other=0).to(ACC), new, REDUCE)
            tl.store(where, new.to(tgt_ty), mask=row_mask)
    else:
        cols = tl.program_id(1).to(IDX) * BLOCK_C + tl.arange(0, BLOCK_C).to(IDX)
        mask = row_mask[:, None] & (cols < C)[None, :]
        idx = tl.load(idx_ptr + i_row[:, None] + cols[None, :] * ic, mask=mask, other=0).to(IDX)
        idx = tl.where(idx < 0, idx + dim_size, idx)
        where = tgt_ptr + t_row[:, None] + idx * td
        val_where = val_ptr + v_row[:, None] + cols[None, :] * vc
        if MODE == "gather":
            tl.store(val_where, tl.load(where, mask=mask, other=0), mask=mask)
        else:
            new = tl.load(val_where, mask=mask, other=0)
            if REDUCE == "sum":
                tl.atomic_add(where, new.to(tgt_ty), mask=mask, sem="relaxed")
            else:
                tl.store(where, new.to(tgt_ty), mask=mask)


@triton.jit
def _is_set(x):
    if x.dtype.is_bf16():  # compare in fp32: bf16 arithmetic is not trusted everywhere (interpreter)
        x = x.to(tl.float32)
    return x != 0


@triton.jit
def count_kernel(mask_ptr, counts_ptr, N, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = _is_set(tl.load(mask_ptr + offs, mask=offs < N, other=0))
    tl.store(counts_ptr + tl.program_id(0), tl.sum(m.to(tl.int32), axis=0).to(tl.int64))


@triton.jit
def compact_kernel(mask_ptr, src_ptr, base_ptr, dims_ptr, out_ptr, N,
                   COORDS: tl.constexpr, NDIM: tl.constexpr, BLOCK: tl.constexpr):
    """Selected elements of ``src`` (or, with COORDS, their NDIM coordinates as rows of ``out``)
    written in order from slot ``base[program]``. ``dims_ptr`` holds (size, contiguous stride) pairs."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    in_range = offs < N
    m = _is_set(tl.load(mask_ptr + offs, mask=in_range, other=0))
    slot = tl.load(base_ptr + tl.program_id(0)) + tl.cumsum(m.to(tl.int32), axis=0).to(tl.int64) - 1
    if COORDS:
        for d in tl.static_range(NDIM):
            size = tl.load(dims_ptr + 2 * d)
            stride = tl.load(dims_ptr + 2 * d + 1)
            tl.store(out_ptr + slot * NDIM + d, (offs // stride) % size, mask=m)
    else:
        tl.store(out_ptr + slot, tl.load(src_ptr + offs, mask=m), mask=m)


# ----------------------------------------------------------------------------------------------
# Launchers
# ----------------------------------------------------------------------------------------------

def acc_dtype(d) -> "tl.dtype":
    """What ``lines`` combines in: fp16/bf16 in fp32, bool as int32, integers in int64."""
    if d.is_floating_point:
        return tl.float64 if d is _dt.float64 else tl.float32
    return tl.int32 if d is _dt.bool_ else tl.int64


def _select(t, dim: int, k: int):
    """``t`` with dim ``dim`` fixed at ``k`` (a view made of its raw strides: tgt has a 0 stride)."""
    return t._view(t._shape[:dim] + t._shape[dim + 1:], t._strides[:dim] + t._strides[dim + 1:],
                   t._offset + k * t._strides[dim])


def launch_index(val, idx, tgt, td: int, dim_size: int, mode: str, reduce: str = "none") -> None:
    """Run ``index_kernel``: ``val``, ``idx`` and ``tgt`` are views of one shape whose last dim is the
    indexed one (``tgt`` has stride 0 there; ``td`` is its real stride along it)."""
    shape = val._shape
    if _sh.numel(shape) == 0:
        return
    rows = list(shape[:-1])
    strides = [list(t._strides[:-1]) for t in (val, idx, tgt)]
    rshape, rstrides = _sh.collapse_dims(rows, *strides) if rows else ([], [[], [], []])
    if len(rshape) > MAX_ROW_DIMS:  # rare: more unmergeable dims than the kernel walks; loop on dim 0
        for k in range(shape[0]):
            launch_index(*(_select(t, 0, k) for t in (val, idx, tgt)), td, dim_size, mode, reduce)
        return
    pad = MAX_ROW_DIMS - len(rshape)
    rshape = [1] * pad + rshape
    rstrides = [[0] * pad + st for st in rstrides]
    R, C = _sh.numel(rshape), shape[-1]
    last = [t._strides[-1] for t in (val, idx)]
    extent = L.max_offset(shape, val._strides, idx._strides, tgt._strides) + max(dim_size - 1, 0) * abs(td)
    big = _sh.numel(shape) > L.INT32_MAX or extent > L.INT32_MAX
    if mode == "lines":
        # At least a warp of rows: each row is then owned by one thread, which reads back its own writes.
        block_r, block_c = max(32, min(LINE_BLOCK, triton.next_power_of_2(R))), 1
        grid = (triton.cdiv(R, block_r),)
    else:
        block_c = min(triton.next_power_of_2(C), TILE)
        block_r = min(triton.next_power_of_2(R), max(TILE // block_c, 1))
        grid = (triton.cdiv(R, block_r), triton.cdiv(C, block_c))
    (v0, v1, v2), (i0, i1, i2), (t0, t1, t2) = rstrides
    with L.on_device(tgt):
        index_kernel[grid](
            L.pointer(val), L.pointer(idx), L.pointer(tgt), R, C, rshape[1], rshape[2], dim_size,
            v0, v1, v2, last[0], i0, i1, i2, last[1], t0, t1, t2, td,
            MODE=mode, REDUCE=reduce, ACC=acc_dtype(tgt._dtype), IDX=tl.int64 if big else tl.int32,
            BLOCK_R=block_r, BLOCK_C=block_c, num_warps=max(1, min(4, block_r * block_c // 32)),
        )
    L.count(f"indexing:{mode}")


def count_selected(mask):
    """(total, per-block first slots as a device tensor) for contiguous ``mask``."""
    from neurarust.tensor import Tensor

    n = mask.numel()
    blocks = triton.cdiv(n, COMPACT_BLOCK)
    counts = Tensor._empty((blocks,), _dt.int64, mask.device)
    with L.on_device(mask):
        count_kernel[(blocks,)](L.pointer(mask), L.pointer(counts), n, BLOCK=COMPACT_BLOCK)
    L.count("indexing:count")
    c = counts.numpy(force=True)  # the one host sync: the result's size depends on it
    base = np.concatenate([[0], np.cumsum(c)[:-1]]).astype(np.int64)
    return int(c.sum()), Tensor._from_array(base).to(mask.device)


def write_selected(mask, src, base, out, coords: bool) -> None:
    """Fill ``out`` with the selected elements of ``src`` (or the coordinates of ``mask``'s set elements)."""
    from neurarust.tensor import Tensor

    n = mask.numel()
    shape = mask._shape
    dims = np.array([v for size, st in zip(shape, _sh.contiguous_strides(shape)) for v in (size, st)] or [1, 1],
                    np.int64)
    dims_t = Tensor._from_array(dims).to(mask.device)
    with L.on_device(mask):
        compact_kernel[(triton.cdiv(n, COMPACT_BLOCK),)](
            L.pointer(mask), L.pointer(src if src is not None else mask), L.pointer(base), L.pointer(dims_t),
            L.pointer(out), n, COORDS=coords, NDIM=len(shape), BLOCK=COMPACT_BLOCK)
    L.count("indexing:compact")


# ----------------------------------------------------------------------------------------------
# Ahead-of-time compile jobs
# ----------------------------------------------------------------------------------------------

_AOT_DTYPES = (_dt.float32, _dt.float16, _dt.bfloat16, _dt.float64, _dt.int32, _dt.int64, _dt.bool_)
_INDEX_ARGS = ("R", "C", "R1", "R2", "dim_size", "v0", "v1", "v2", "vc", "i0", "i1", "i2", "ic",
               "t0", "t1", "t2", "td")


def _index_spec(mode: str, reduce: str, d, idx: str = "i64", wide: bool = False) -> L.AotSpec:
    sig = {"val_ptr": f"*{d.triton_name}", "idx_ptr": f"*{idx}", "tgt_ptr": f"*{d.triton_name}"}
    sig.update({name: "i64" if wide else "i32" for name in _INDEX_ARGS})
    sig.update({name: "constexpr" for name in ("MODE", "REDUCE", "ACC", "IDX", "BLOCK_R", "BLOCK_C")})
    block_r, block_c = (LINE_BLOCK, 1) if mode == "lines" else (16, 64)
    constants = {"MODE": mode, "REDUCE": reduce, "ACC": acc_dtype(d), "IDX": tl.int64 if wide else tl.int32,
                 "BLOCK_R": block_r, "BLOCK_C": block_c}
    name = f"index_{mode}_{reduce}_{d.triton_name}_{idx}" + ("_i64off" if wide else "")
    return L.AotSpec(name, index_kernel, sig, constants, aligned=(0, 1, 2))


def aot_specs() -> list:
    """Gather/scatter per dtype class, every combine of the lines mode, atomics per atomic dtype, the
    int64-offset variants, and the two compaction kernels."""
    specs = []
    for d in _AOT_DTYPES:
        specs.append(_index_spec("gather", "none", d))
        specs.append(_index_spec("scatter", "none", d))
        specs.append(_index_spec("lines", "sum", d))
    for d in ATOMIC_DTYPES:
        specs.append(_index_spec("scatter", "sum", d))
    for reduce in ("none", "prod", "amax", "amin"):
        specs.append(_index_spec("lines", reduce, _dt.float32))
    specs.append(_index_spec("gather", "none", _dt.float32, idx="i32"))
    specs.append(_index_spec("gather", "none", _dt.float16, wide=True))
    specs.append(_index_spec("scatter", "sum", _dt.float32, wide=True))
    specs.append(L.AotSpec("compact_count", count_kernel, {"mask_ptr": "*i1", "counts_ptr": "*i64", "N": "i32",
                                                           "BLOCK": "constexpr"}, {"BLOCK": COMPACT_BLOCK},
                           aligned=(0, 1)))
    for coords, d in ((False, _dt.float32), (False, _dt.bfloat16), (True, _dt.float32)):
        sig = {"mask_ptr": "*i1", "src_ptr": f"*{d.triton_name}", "base_ptr": "*i64", "dims_ptr": "*i64",
               "out_ptr": "*i64" if coords else f"*{d.triton_name}", "N": "i32",
               "COORDS": "constexpr", "NDIM": "constexpr", "BLOCK": "constexpr"}
        specs.append(L.AotSpec(f"compact_{'coords' if coords else 'values'}_{d.triton_name}", compact_kernel, sig,
                               {"COORDS": coords, "NDIM": 3, "BLOCK": COMPACT_BLOCK}, aligned=(0, 1, 2, 3, 4)))
    return specs
