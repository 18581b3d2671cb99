"""Data-movement Triton kernels: the remap kernel (repeat, tile, repeat_interleave, flip, roll, pad,
tril, triu) and the one_hot kernel, with their launchers.

Every op that moves elements without computing on them is one "remap": output element ``(i0..i3)``
reads source element ``(j0..j3)``, where each ``j`` depends only on its own ``i``:

    j = (step * i + shift) // div        then the edge rule ``EDGE`` (a constexpr):
    "wrap"     j mod m                    (repeat, tile, roll, circular pad; flip with step -1)
    "clamp"    j clamped to [0, m)        (replicate pad)
    "reflect"  j mirrored at 0 and m - 1  (reflect pad)
    "constant" out of [0, m) reads ``fill`` (constant pad)

or, for ``repeat_interleave`` with a repeats tensor, ``j = table[i]`` along one dim (``TABLE_DIM``).
``TRI`` zeroes the elements above (``"tril"``) or below (``"triu"``) a diagonal of the last two dims.
The kernel moves raw bits: the launcher views every dtype as the integer type of its size, so one
compiled kernel serves float32 and int32 alike, and NaN payloads and -0.0 pass untouched.

The output is contiguous; the launcher merges the dims that need no remapping and hands the kernel
four (more non-mergeable dims loop on the host). Offsets are int32 unless some offset passes 2**31.
"""
from __future__ import annotations

import numpy as np

import neurarust.launch as L
from neurarust import dtype as _dt
from neurarust.launch import tl, triton

from .elementwise_triton import unravel4

MAX_DIMS = 4
DEFAULT_BLOCK = 1024
EDGES = ("wrap", "clamp", "reflect", "constant")
_BITS = {1: _dt.int8, 2: _dt.int16, 4: _dt.int32, 8: _dt.int64}


@triton.jit
def _source_index(i, m, step, shift, div, table_ptr, mask, EDGE: tl.constexpr, USE_TABLE: tl.constexpr):
    """The source index output index ``i`` reads along one dim, and whether it lies inside the source."""
    if USE_TABLE:
        j = tl.load(table_ptr + i, mask=mask, other=0).to(i.dtype)
    else:
        j = (i * step + shift) // div  # div > 1 only with step 1 and shift 0: never negative
    if EDGE == "wrap":
        j = j % m
        j = tl.where(j < 0, j + m, j)  # Triton's % keeps the dividend's sign
    elif EDGE == "clamp":
        j = tl.minimum(tl.maximum(j, 0), m - 1)
    elif EDGE == "reflect":
        j = tl.abs(j)
        j = tl.where(j >= m, 2 * m - 2 - j, j)  # pads are shorter than the dim: one reflection
    return j, (j >= 0) & (j < m)


@triton.jit
def remap_kernel(out_ptr, src_ptr, fill_ptr, table_ptr, n, s1, s2, s3, m0, m1, m2, m3, st0, st1, st2, st3,
                 step0, step1, step2, step3, shift0, shift1, shift2, shift3, div0, div1, div2, div3, diagonal,
                 EDGE: tl.constexpr, TABLE_DIM: tl.constexpr, TRI: tl.constexpr, IDX: tl.constexpr,
                 BLOCK: tl.constexpr):
    # 1. This program's output elements (contiguous) and their 4-D indices.
    idx = tl.program_id(0).to(IDX) * BLOCK + tl.arange(0, BLOCK).to(IDX)
    mask = idx < n
    i0, i1, i2, i3 = unravel4(idx, s1, s2, s3)
    # 2. The source element each one reads.
    j0, ok0 = _source_index(i0, m0, step0, shift0, div0, table_ptr, mask, EDGE, TABLE_DIM == 0)
    j1, ok1 = _source_index(i1, m1, step1, shift1, div1, table_ptr, mask, EDGE, TABLE_DIM == 1)
    j2, ok2 = _source_index(i2, m2, step2, shift2, div2, table_ptr, mask, EDGE, TABLE_DIM == 2)
    j3, ok3 = _source_index(i3, m3, step3, shift3, div3, table_ptr, mask, EDGE, TABLE_DIM == 3)
    inside = mask & ok0 & ok1 & ok2 & ok3
    x = tl.load(src_ptr + j0 * st0 + j1 * st1 + j2 * st2 + j3 * st3, mask=inside, other=0)
    # 3. Padding and triangles, then the store.
    if EDGE == "constant":
        x = tl.where(inside, x, tl.load(fill_ptr))
    if TRI == "tril":
        x = tl.where(i3 - i2 <= diagonal, x, tl.zeros_like(x))
    elif TRI == "triu":
        x = tl.where(i3 - i2 >= diagonal, x, tl.zeros_like(x))
    tl.store(out_ptr + idx, x, mask=mask)


@triton.jit
def one_hot_kernel(x_ptr, out_ptr, n, num_classes, IDX: tl.constexpr, BLOCK: tl.constexpr):
    # Output element ``idx`` is class ``idx % num_classes`` of label ``idx // num_classes``.
    idx = tl.program_id(0).to(IDX) * BLOCK + tl.arange(0, BLOCK).to(IDX)
    mask = idx < n
    label = tl.load(x_ptr + idx // num_classes, mask=mask, other=-1)
    tl.store(out_ptr + idx, (label == idx % num_classes).to(tl.int64), mask=mask)


# ----------------------------------------------------------------------------------------------
# Launchers
# ----------------------------------------------------------------------------------------------

class DimMap:
    """How one output dim of ``size`` elements reads its source dim: ``j = (step * i + shift) // div``."""

    __slots__ = ("size", "step", "shift", "div")

    def __init__(self, size: int, step: int = 1, shift: int = 0, div: int = 1):
        self.size, self.step, self.shift, self.div = size, step, shift, div

    def is_identity(self, m: int) -> bool:
        return self.size == m and self.step == 1 and self.shift == 0 and self.div == 1


def bits(t):
    """``t`` viewed as the integer dtype of its element size (a data-movement kernel moves bits only)."""
    return t.view(_BITS[t.dtype.itemsize])


def _host_source(i: int, m: int, d: DimMap, edge: str, table) -> int | None:
    """The kernel's :func:`_source_index` for one index on the host (None: outside the source)."""
    j = int(table[i]) if table is not None else (d.step * i + d.shift) // d.div
    if edge == "wrap":
        j %= m
    elif edge == "clamp":
        j = min(max(j, 0), m - 1)
    elif edge == "reflect":
        j = abs(j)
        j = 2 * m - 2 - j if j >= m else j
    return j if 0 <= j < m else None


def _merge(src_shape, src_strides, maps, pinned, table_dim):
    """Merge neighbouring dims that both read their source as is and walk it with one stride."""
    shape, strides, out_maps, pins, tdim = [], [], [], [], None
    for k, (m, st, d) in enumerate(zip(src_shape, src_strides, maps)):
        plain = d.is_identity(m) and k != table_dim and k not in pinned
        if plain and m == 1:
            continue
        if out_maps and plain and pins[-1] is False and strides[-1] == st * m:
            shape[-1] *= m
            strides[-1] = st
            out_maps[-1] = DimMap(shape[-1])
            continue
        if k == table_dim:
            tdim = len(shape)
        shape.append(m)
        strides.append(st)
        out_maps.append(d)
        pins.append(not plain)
    return shape, strides, out_maps, tdim


def launch_remap(out, src, maps, *, edge: str = "wrap", fill=None, table=None, table_dim=None, tri=None,
                 diagonal: int = 0, block: int = DEFAULT_BLOCK) -> None:
    """Write into contiguous ``out`` the remap of ``src`` (same ndim) that ``maps`` (one
    :class:`DimMap` per dim) describes; ``fill`` is a 0-d tensor of ``out``'s dtype for the
    constant edge; ``table`` a 1-D int64 tensor of source indices along ``table_dim``."""
    if out.numel() == 0:
        return
    tri_dims = {out.ndim - 2, out.ndim - 1} if tri else set()
    shape, strides, maps, tdim = _merge(src.shape, src.stride(), maps, tri_dims, table_dim)
    if len(shape) > MAX_DIMS:
        _loop_leading_dim(out, src, shape, strides, maps, tdim, edge, fill, table, tri, diagonal, block)
        return
    src = src._view(shape, strides)
    pad = MAX_DIMS - len(shape)
    sizes = [1] * pad + [d.size for d in maps]
    ms = [1] * pad + shape
    sts = [0] * pad + strides
    steps = [1] * pad + [d.step for d in maps]
    shifts = [0] * pad + [d.shift for d in maps]
    divs = [1] * pad + [d.div for d in maps]
    n = out.numel()
    idx = tl.int64 if max(n, L.max_offset(ms, sts)) > L.INT32_MAX else tl.int32
    src_bits, out_bits = bits(src), bits(out)
    fill_ptr = L.pointer(bits(fill)) if fill is not None else L.pointer(src_bits)
    table_ptr = L.pointer(table) if table is not None else L.pointer(src_bits)
    with L.on_device(out):
        remap_kernel[(triton.cdiv(n, block),)](
            L.pointer(out_bits), L.pointer(src_bits), fill_ptr, table_ptr, n, *sizes[1:], *ms, *sts,
            *steps, *shifts, *divs, diagonal,
            EDGE=edge, TABLE_DIM=-1 if tdim is None else tdim + pad, TRI=tri or "none", IDX=idx, BLOCK=block,
        )
    L.count("movement:remap")


def _loop_leading_dim(out, src, shape, strides, maps, tdim, edge, fill, table, tri, diagonal, block):
    """Rare: more dims than the kernel takes. Walk the first one on the host."""
    src = src._view(shape, strides)
    out = out.view([d.size for d in maps])
    host_table = table.numpy(force=True) if (table is not None and tdim == 0) else None
    for i in range(maps[0].size):
        j = _host_source(i, shape[0], maps[0], edge, host_table)
        if j is None:
            out[i].copy_(fill)
            continue
        launch_remap(out[i], src[j], maps[1:], edge=edge, fill=fill, table=table,
                     table_dim=None if tdim in (None, 0) else tdim - 1, tri=tri, diagonal=diagonal, block=block)


def launch_one_hot(out, x, num_classes: int, *, block: int = DEFAULT_BLOCK) -> None:
    """``out`` (contiguous int64, ``x.shape + (num_classes,)``) = one-hot rows of contiguous int64 ``x``."""
    n = out.numel()
    if n == 0:
        return
    with L.on_device(out):
        one_hot_kernel[(triton.cdiv(n, block),)](L.pointer(x), L.pointer(out), n, num_classes,
                                                IDX=L.index_dtype((n,), (1,)), BLOCK=block)
    L.count("movement:one_hot")


def index_table(repeats: np.ndarray, device):
    """The source index of every output position of ``repeat_interleave`` along its dim (int64)."""
    from neurarust.tensor import Tensor

    table = np.repeat(np.arange(len(repeats), dtype=np.int64), repeats)
    t = Tensor._from_array(table, _dt.int64)
    return t if device.type == "cpu" else t.to(device)


# ----------------------------------------------------------------------------------------------
# Ahead-of-time compile jobs
# ----------------------------------------------------------------------------------------------

def _remap_spec(name, bits_dtype: str, edge="wrap", tri="none", table_dim=-1, wide=False) -> L.AotSpec:
    constants = {"EDGE": edge, "TABLE_DIM": table_dim, "TRI": tri, "IDX": tl.int64 if wide else tl.int32,
                 "BLOCK": DEFAULT_BLOCK}
    scalar = "i64" if wide else "i32"
    signature = {a: "constexpr" if a in constants else f"*{bits_dtype}" if a.endswith("_ptr") else scalar
                 for a in remap_kernel.arg_names}
    signature["table_ptr"] = "*i64"
    return L.AotSpec(name, remap_kernel, signature, constants, aligned=(0, 1, 2, 3))


def aot_specs() -> list[L.AotSpec]:
    """The remap kernel for every element size (wrap edge), every edge and triangle mode (32-bit),
    the table and int64-offset variants, and one_hot."""
    specs = [_remap_spec(f"remap/wrap/{b}", b) for b in ("i8", "i16", "i32", "i64")]
    specs += [_remap_spec(f"remap/{e}/i32", "i32", edge=e) for e in EDGES[1:]]
    specs += [_remap_spec(f"remap/{t}/i16", "i16", tri=t) for t in ("tril", "triu")]
    specs.append(_remap_spec("remap/table/i32", "i32", table_dim=2))
    specs.append(_remap_spec("remap/wrap/i32/i64idx", "i32", wide=True))
    for wide in (False, True):
        scalar = "i64" if wide else "i32"
        signature = {"x_ptr": "*i64", "out_ptr": "*i64", "n": scalar, "num_classes": scalar,
                     "IDX": "constexpr", "BLOCK": "constexpr"}
        constants = {"IDX": tl.int64 if wide else tl.int32, "BLOCK": DEFAULT_BLOCK}
        specs.append(L.AotSpec(f"one_hot{'/i64idx' if wide else ''}", one_hot_kernel, signature, constants,
                               aligned=(0, 1)))
    return specs
