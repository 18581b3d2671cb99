"""The one reduction Triton kernel (sum, mean, prod, max/min and their indices, var/std, logsumexp,
all/any, vector norms), and its launcher.

The launcher turns any reduction into an (M kept rows) x (N reduced elements) problem: it permutes
the kept dims first and the reduced dims last (a view), merges the dims each side walks with one
stride, and hands the kernel at most two strides per side. The kernel:

1. maps each program's ``BLOCK_M`` rows to their offsets in the input;
2. walks the ``N`` reduced elements in ``BLOCK_N`` chunks, loading fp16/bf16 as fp32 and keeping a
   ``[BLOCK_M, BLOCK_N]`` tile of partial results in the accumulator dtype ``ACC`` (fp32, fp64 or
   int64): running folds of each element's term (x, (x - mean)**2, exp(x - max), |x|, x != 0 ...)
   with +, *, max or min, or running (value, index) pairs for max/min/argmax/argmin;
3. folds the tile's columns into one result per row, finishes it (divide, sqrt, log) and stores it
   in the output's dtype.

``KIND`` (a constexpr) picks the term, the combine and the finish. Offsets use ``IDX`` (int32, or
int64 when some offset passes 2**31), and every size and stride is converted to it before any index
math.
"""
from __future__ import annotations

import inspect

import neurarust.launch as L
from neurarust import autotune
from neurarust.registry import TuneSpec
from neurarust import dtype as _dt
from neurarust import shape as _sh
from neurarust.launch import tl, triton

from . import math_triton as MT
from .reduction import CONFIGS, DEFAULT_CONFIG, SELECT_KINDS, accumulates_in  # tune configs live with the entries

KINDS = ("sum", "mean", "prod", "max", "min", "argmax", "argmin", "var", "std", "logsumexp", "all", "any",
         "norm0", "norm1", "norm2", "normp", "norm_inf", "norm_ninf")
MAX_SIDE_DIMS = 2  # strides per side the kernel takes; more dims on a side costs one copy


@triton.jit
def row_offsets(rows, M1, stride0, stride1, IDX: tl.constexpr):
    """Offsets of flat row numbers in a tensor whose rows span two (collapsed) dims: row ``r`` sits at
    ``(r // M1) * stride0 + (r % M1) * stride1``. Shared by the row-wise kernels."""
    return (rows // M1) * tl.cast(stride0, IDX) + (rows % M1) * tl.cast(stride1, IDX)


@triton.jit
def _wins(a, ai, b, bi, IS_MAX: tl.constexpr):
    """Where candidate ``(a, ai)`` replaces ``(b, bi)``: an index < 0 marks an empty slot, NaN beats
    every number (as in PyTorch), and equal values go to the smaller index."""
    if IS_MAX:
        better = a > b
    else:
        better = a < b
    a_nan = a != a
    b_nan = b != b
    better = better | (a_nan & ~b_nan)
    tie = ((a == b) | (a_nan & b_nan)) & (ai < bi)
    return (ai >= 0) & ((bi < 0) | better | tie)


@triton.jit
def _worst(ACC: tl.constexpr, IS_MAX: tl.constexpr):
    """The value every element beats or ties: -inf/+inf, or int64's extreme."""
    if ACC.is_floating():
        if IS_MAX:
            return -float("inf")
        else:
            return float("inf")
    else:
        if IS_MAX:
            return -9223372036854775807 - 1
        else:
            return 9223372036854775807


@triton.jit
def _extreme(x, IS_MAX: tl.constexpr):
    if IS_MAX:
        return tl.max(x, axis=1)
    else:
        return tl.min(x, axis=1)


@triton.jit
def _fold(best, best_idx, N, IS_MAX: tl.constexpr, ACC: tl.constexpr):
    """Each row's (value, index) from its lanes' bests: a NaN if any, else the max (min); the lowest
    index among the lanes holding it. Built from max/min reductions, not a custom combine, which
    the interpreter would run element by element."""
    valid = best_idx >= 0
    is_nan = valid & (best != best)
    row_nan = tl.max(is_nan.to(tl.int32), axis=1) > 0
    plain = valid & ~is_nan
    worst = _worst(ACC, IS_MAX)
    top = _extreme(tl.where(plain, best, worst), IS_MAX)
    hit = tl.where(row_nan[:, None], is_nan, plain & (best == top[:, None]))
    index = tl.min(tl.where(hit, best_idx, N), axis=1)
    # The value of the one lane holding ``index``, bit for bit: -0.0 stays -0.0 (a sum with +0.0
    # lanes, or of -0.0s in the interpreter, gives +0.0). max/min may drop a NaN: put it back.
    value = _extreme(tl.where(hit & (best_idx == index[:, None]), best, worst), IS_MAX)
    if ACC.is_floating():
        value = tl.where(row_nan, float("nan"), value)
    return value, index


@triton.jit
def _load_chunk(x_ptr, row_offs, row_mask, n, N, N1, red0, red1,
                ACC: tl.constexpr, TWO_REDUCED: tl.constexpr):
    """Elements ``n`` (a chunk of reduced indices) of every row, converted to ``ACC``."""
    if TWO_REDUCED:
        col_offs = (n // N1) * red0 + (n % N1) * red1
    else:
        col_offs = n * red1
    mask = row_mask[:, None] & (n < N)[None, :]
    x = tl.load(x_ptr + row_offs[:, None] + col_offs[None, :], mask=mask, other=0)
    return x.to(ACC), mask


@triton.jit
def _identity(KIND: tl.constexpr):
    """What a masked-off lane holds: the combine's neutral element."""
    if KIND == "prod" or KIND == "all":
        return 1
    elif KIND == "rowmax":
        return -float("inf")
    else:
        return 0


@triton.jit
def _term(x, center, p, KIND: tl.constexpr):
    """What each element contributes to its row's fold."""
    if KIND == "var" or KIND == "std":
        d = x - center
        return d * d
    elif KIND == "logsumexp":
        return tl.exp(x - center)
    elif KIND == "norm1":
        return tl.abs(x)
    elif KIND == "norm2":
        return x * x
    elif KIND == "normp":
        return MT.pow(tl.abs(x), tl.zeros_like(x) + p)  # pow wants a tensor exponent
    elif KIND == "norm0" or KIND == "all" or KIND == "any":
        return (x != 0).to(x.dtype)  # NaN counts as nonzero, as in PyTorch
    else:
        return x


@triton.jit
def _combine(acc, t, KIND: tl.constexpr):
    if KIND == "prod":
        return acc * t
    elif KIND == "all":
        return tl.minimum(acc, t)
    elif KIND == "any" or KIND == "rowmax":
        return tl.maximum(acc, t)
    else:
        return acc + t


@triton.jit
def _fold_lanes(acc, KIND: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    if KIND == "prod":
        # No product reduction in tl; a scan's last column is one (and the interpreter runs it
        # vectorised, where a custom tl.reduce combine runs element by element).
        scanned = tl.cumprod(acc, axis=1)
        last = tl.full([BLOCK_M, 1], BLOCK_N - 1, tl.int32)
        return tl.reshape(tl.gather(scanned, last, axis=1), [BLOCK_M])
    elif KIND == "all":
        return tl.min(acc, axis=1)
    elif KIND == "any" or KIND == "rowmax":
        return tl.max(acc, axis=1)
    else:
        return tl.sum(acc, axis=1)


@triton.jit
def _fold_rows(x_ptr, row_offs, row_mask, N, N1, red0, red1, center, p, KIND: tl.constexpr,
               ACC: tl.constexpr, IDX: tl.constexpr, TWO_REDUCED: tl.constexpr,
               BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Per row, the fold of every element's ``_term``; each lane keeps its own partial first."""
    acc = tl.full([BLOCK_M, BLOCK_N], _identity(KIND), ACC)
    cols = tl.arange(0, BLOCK_N).to(IDX)
    for start in range(0, N, BLOCK_N):
        x, mask = _load_chunk(x_ptr, row_offs, row_mask, start + cols, N, N1, red0, red1, ACC, TWO_REDUCED)
        t = _term(x, center[:, None], p, KIND)
        acc = _combine(acc, tl.where(mask, t, _identity(KIND)), KIND)
    return _fold_lanes(acc, KIND, BLOCK_M, BLOCK_N)


@triton.jit
def _select_rows(x_ptr, row_offs, row_mask, N, N1, red0, red1, IS_MAX: tl.constexpr, ABS: tl.constexpr,
                 ACC: tl.constexpr, IDX: tl.constexpr, TWO_REDUCED: tl.constexpr,
                 BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Per row, the (value, index) of the max (or min) of x (or |x|); each lane keeps its own best first."""
    best = tl.zeros([BLOCK_M, BLOCK_N], ACC)
    best_idx = tl.full([BLOCK_M, BLOCK_N], -1, IDX)
    cols = tl.arange(0, BLOCK_N).to(IDX)
    for start in range(0, N, BLOCK_N):
        n = start + cols
        x, mask = _load_chunk(x_ptr, row_offs, row_mask, n, N, N1, red0, red1, ACC, TWO_REDUCED)
        if ABS:
            x = tl.abs(x)
        cand = tl.where(mask, n[None, :], -1)
        take = _wins(x, cand, best, best_idx, IS_MAX)
        best = tl.where(take, x, best)
        best_idx = tl.where(take, cand, best_idx)
    return _fold(best, best_idx, N, IS_MAX, ACC)


@triton.jit
def reduce_kernel(x_ptr, out_ptr, aux_ptr, M, N, M1, N1, row0, row1, red0, red1, param,
                  KIND: tl.constexpr, AUX: tl.constexpr, ACC: tl.constexpr, IDX: tl.constexpr,
                  TWO_REDUCED: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    # Row m sits at (m // M1) * row0 + (m % M1) * row1; reduced element n at (n // N1) * red0 +
    # (n % N1) * red1. All index math runs in IDX, so int32 is only chosen when nothing overflows.
    # ``param`` is var/std's correction or the p of a p-norm. With ``AUX`` the kernel also stores
    # max/min's indices, or var/std's mean, in ``aux_ptr``.
    M = tl.cast(M, IDX)
    N = tl.cast(N, IDX)
    M1 = tl.cast(M1, IDX)
    N1 = tl.cast(N1, IDX)
    red0 = tl.cast(red0, IDX)
    red1 = tl.cast(red1, IDX)
    rows = tl.program_id(0).to(IDX) * BLOCK_M + tl.arange(0, BLOCK_M).to(IDX)
    row_mask = rows < M
    row_offs = row_offsets(rows, M1, row0, row1, IDX)
    IS_MAX: tl.constexpr = KIND == "max" or KIND == "argmax" or KIND == "norm_inf"
    ABS: tl.constexpr = KIND == "norm_inf" or KIND == "norm_ninf"
    if IS_MAX or ABS or KIND == "min" or KIND == "argmin":
        value, index = _select_rows(x_ptr, row_offs, row_mask, N, N1, red0, red1, IS_MAX, ABS,
                                    ACC, IDX, TWO_REDUCED, BLOCK_M, BLOCK_N)
        if KIND == "argmax" or KIND == "argmin":
            result = index
        else:
            result = value
        if AUX:
            tl.store(aux_ptr + rows, index.to(aux_ptr.dtype.element_ty), mask=row_mask)
    else:
        # var/std and logsumexp read each row twice: first its mean (its max), then the terms
        # centred on it. Two passes are as exact as Welford's and simpler.
        center = tl.zeros([BLOCK_M], ACC)
        if KIND == "var" or KIND == "std":
            center = _fold_rows(x_ptr, row_offs, row_mask, N, N1, red0, red1, center, param, "sum",
                                ACC, IDX, TWO_REDUCED, BLOCK_M, BLOCK_N) / N.to(ACC)  # N == 0: NaN
            if AUX:
                tl.store(aux_ptr + rows, center.to(aux_ptr.dtype.element_ty), mask=row_mask)
        if KIND == "logsumexp":
            top = _fold_rows(x_ptr, row_offs, row_mask, N, N1, red0, red1, center, param, "rowmax",
                             ACC, IDX, TWO_REDUCED, BLOCK_M, BLOCK_N)
            # An infinite max would give inf - inf = NaN: centre on 0 instead (all -inf gives
            # log(0) = -inf, any +inf gives +inf, as in PyTorch).
            center = tl.where(tl.abs(top) == float("inf"), 0.0, top)
        result = _fold_rows(x_ptr, row_offs, row_mask, N, N1, red0, red1, center, param, KIND,
                            ACC, IDX, TWO_REDUCED, BLOCK_M, BLOCK_N)
        if KIND == "mean":
            result = result / N.to(ACC)  # N == 0 gives NaN, as in PyTorch
        elif KIND == "var" or KIND == "std":
            result = result / tl.maximum(N.to(ACC) - param, 0.0)  # PyTorch's divisor: 0/0 = NaN
            if KIND == "std":
                result = tl.sqrt(result)
        elif KIND == "logsumexp":
            result = tl.log(result) + center
        elif KIND == "norm2":
            result = tl.sqrt(result)
        elif KIND == "normp":
            result = MT.pow(result, tl.zeros_like(result) + 1.0 / param)
    tl.store(out_ptr + rows, result.to(out_ptr.dtype.element_ty), mask=row_mask)


# ----------------------------------------------------------------------------------------------
# Launcher
# ----------------------------------------------------------------------------------------------

def _side(shape, strides):
    """Merge one side's dims; () becomes one dim of size 1."""
    cshape, (cstrides,) = _sh.collapse_dims(shape, strides)
    return (cshape, cstrides) if cshape else ([1], [0])


def _problem(x, dims):
    """(kept sizes, kept strides, reduced sizes, reduced strides), at most two dims each side."""
    kept = [d for d in range(x.ndim) if d not in dims]
    shape, strides = x.shape, x.stride()
    kshape, kstrides = _side([shape[d] for d in kept], [strides[d] for d in kept])
    rshape, rstrides = _side([shape[d] for d in dims], [strides[d] for d in dims])
    if _sh.numel(rshape) == 0:
        rshape, rstrides = [0], [0]
    if len(kshape) > MAX_SIDE_DIMS or len(rshape) > MAX_SIDE_DIMS:
        # Rare: a side whose dims cannot merge. One copy puts each row's elements together.
        m, n = _sh.numel(kshape), _sh.numel(rshape)
        flat = x.permute(kept + list(dims)).contiguous()
        return [m], [n], [n], [1], flat
    return kshape, kstrides, rshape, rstrides, x


def _pad2(sizes, strides):
    """(inner size, outer stride, inner stride) of a one- or two-dim side (outer stride 0 if one)."""
    if len(sizes) == 1:
        return sizes[0], 0, strides[0]
    return sizes[1], strides[0], strides[1]


class AlongDim:
    """Geometry of an op that runs along one dim and writes a result of the input's shape (scans,
    softmax): ``M`` rows of ``N`` elements; row m of x starts at ``(m // M1) * x_rows[0] + (m % M1) *
    x_rows[1]`` and steps by ``x_col`` (likewise ``out_rows``/``out_col``). ``x`` is the input, or a
    contiguous copy when its other dims do not merge into two strides."""

    def __init__(self, x, out, dim: int):
        kept = [d for d in range(x.ndim) if d != dim]
        cshape, (xs, os) = _sh.collapse_dims([x.shape[d] for d in kept], [x.stride(d) for d in kept],
                                              [out.stride(d) for d in kept])
        if len(cshape) > MAX_SIDE_DIMS:  # rare: one copy (contiguous, like out) makes them merge
            x = x.contiguous()
            cshape, (xs, os) = _sh.collapse_dims([x.shape[d] for d in kept], [x.stride(d) for d in kept],
                                                  [out.stride(d) for d in kept])
        if not cshape:
            cshape, xs, os = [1], [0], [0]
        self.x, self.M, self.N = x, _sh.numel(cshape), (x.shape[dim] if x.ndim else 1)
        self.M1, *self.x_rows = _pad2(cshape, xs)
        _, *self.out_rows = _pad2(cshape, os)
        self.x_col, self.out_col = (x.stride(dim), out.stride(dim)) if x.ndim else (1, 1)
        self.idx = L.index_dtype(x.shape, x.stride(), out.stride())

    def args(self) -> tuple:
        """The kernel's size and stride arguments, in its order."""
        return (self.M, self.N, self.M1, *self.x_rows, self.x_col, *self.out_rows, self.out_col)


def _blocks(M, N, config, rows_contiguous):
    bm, bn = config["BLOCK_M"], config["BLOCK_N"]
    tile = bm * bn
    if rows_contiguous:  # reducing over a strided dim: read along the kept (contiguous) dim
        bm = min(bn, triton.next_power_of_2(M))
        bn = min(triton.next_power_of_2(max(N, 1)), max(tile // bm, 1))
    else:
        bn = min(bn, triton.next_power_of_2(max(N, 1)))
        bm = min(triton.next_power_of_2(M), max(tile // bn, 1))
    return bm, bn


def _warps(kind: str, warps: int) -> int:
    """prod's scan fold and normp's pow need more registers per element: more threads keep them
    down (at 4 warps triton 3.6 spilt an int32 prod on sm_90 and took 246 for an fp64 normp)."""
    return max(warps, 8) if kind in ("prod", "normp") else warps


KERNEL_SOURCE = inspect.getsource(reduce_kernel.fn)
TUNE = TuneSpec(configs=CONFIGS, default=DEFAULT_CONFIG)


def launch(out, x, dims, kind: str, *, aux=None, param: float = 0.0, config: dict | None = None,
           index_dtype=None) -> None:
    """Reduce ``x`` over ``dims`` (sorted, distinct) into ``out``: a contiguous tensor of the kept
    dims' sizes. ``kind`` is one of :data:`KINDS`; ``aux`` (same shape) also receives max/min's
    indices or var/std's mean; ``param`` is var/std's correction or a p-norm's p; ``config`` is a
    tune config (default :data:`DEFAULT_CONFIG`); ``index_dtype`` forces tl.int32/tl.int64 (tests use it)."""
    kshape, kstrides, rshape, rstrides, x = _problem(x, tuple(dims))
    M, N = _sh.numel(kshape), _sh.numel(rshape)
    if M == 0:
        return
    M1, row0, row1 = _pad2(kshape, kstrides)
    N1, red0, red1 = _pad2(rshape, rstrides)
    idx = index_dtype or L.index_dtype(kshape + rshape, kstrides + rstrides)
    rows_contiguous = kstrides[-1] == 1 and rstrides[-1] != 1

    def run(cfg: dict) -> None:
        bm, bn = _blocks(M, N, cfg, rows_contiguous=rows_contiguous)
        reduce_kernel[(triton.cdiv(M, bm),)](
            L.pointer(x), L.pointer(out), L.pointer(out if aux is None else aux), M, N, M1, N1, row0, row1,
            red0, red1, float(param), KIND=kind, AUX=aux is not None,
            ACC=L.TL_DTYPES[accumulates_in(kind, x.dtype, out.dtype).name], IDX=idx,
            TWO_REDUCED=len(rshape) == 2, BLOCK_M=bm, BLOCK_N=bn, num_warps=_warps(kind, cfg.get("num_warps", 4)),
        )

    with L.on_device(out):
        if config is None:  # the tuned config of this shape bucket (the default where nothing can be timed)
            key = (kind, x.dtype.name, autotune.bucket(M), autotune.bucket(N), rows_contiguous)
            config = autotune.best_config("reduction", TUNE, key, run, source=KERNEL_SOURCE,
                                          device=out._storage.device.index)
        run(config)
    L.count(f"reduction:{kind}")


# ----------------------------------------------------------------------------------------------
# Ahead-of-time compile jobs
# ----------------------------------------------------------------------------------------------

_AOT_DTYPES = (_dt.float32, _dt.float16, _dt.bfloat16, _dt.float64, _dt.int32, _dt.int64)  # one per class


# Kinds past the first seven: fp32, plus the classes whose code differs (fp64 math, half loads, ints).
_AOT_LATER = {"var": (_dt.float32, _dt.bfloat16, _dt.float64), "std": (_dt.float32, _dt.float64),
              "logsumexp": (_dt.float32, _dt.bfloat16, _dt.int32), "all": (_dt.float16, _dt.int32),
              "any": (_dt.float32, _dt.int64), "norm2": (_dt.float32, _dt.bfloat16, _dt.float64),
              "normp": (_dt.float32, _dt.float64), "norm_inf": (_dt.float32, _dt.float16)}
FLOAT_ONLY = ("mean", "var", "std", "norm0", "norm1", "norm2", "normp", "norm_inf", "norm_ninf")


def _aot_out_dtype(kind: str, src):
    if kind in ("argmax", "argmin") or (kind in ("sum", "prod") and not src.is_floating_point):
        return _dt.int64
    if kind in ("all", "any"):
        return _dt.bool_
    if kind == "logsumexp" and not src.is_floating_point:
        return _dt.float32
    return src


def aot_specs() -> list:
    """One :class:`~neurarust.launch.AotSpec` per kind x dtype class at the default config for sum,
    mean, prod, max/min and argmax/argmin; the other kinds (a different term and finish in the same
    loop) in the classes that change their code (:data:`_AOT_LATER`); plus an int64-offset, a
    two-reduced-dims and the ``AUX`` (indices, mean) variants."""
    specs = []
    bm, bn, warps = DEFAULT_CONFIG["BLOCK_M"], DEFAULT_CONFIG["BLOCK_N"], DEFAULT_CONFIG["num_warps"]

    def spec(kind, src, idx="i32", two=False, aux=False):
        out = _aot_out_dtype(kind, src)
        aux_dtype = (_dt.int64 if kind in SELECT_KINDS else out) if aux else out
        sig = {"x_ptr": f"*{src.triton_name}", "out_ptr": f"*{out.triton_name}", "aux_ptr": f"*{aux_dtype.triton_name}"}
        sig.update({name: idx for name in ("M", "N", "M1", "N1", "row0", "row1", "red0", "red1")})
        sig["param"] = "fp32"
        sig.update({name: "constexpr" for name in ("KIND", "AUX", "ACC", "IDX", "TWO_REDUCED", "BLOCK_M", "BLOCK_N")})
        constants = {"KIND": kind, "AUX": aux, "ACC": L.TL_DTYPES[accumulates_in(kind, src, out).name],
                     "IDX": tl.int64 if idx == "i64" else tl.int32, "TWO_REDUCED": two, "BLOCK_M": bm, "BLOCK_N": bn}
        name = (f"reduce_{kind}_{src.triton_name}" + ("_i64idx" if idx == "i64" else "") + ("_2d" if two else "")
                + ("_aux" if aux else ""))
        return L.AotSpec(name, reduce_kernel, sig, constants, aligned=(0, 1, 2), num_warps=_warps(kind, warps))

    for kind in KINDS:
        for src in _AOT_DTYPES if kind in KINDS[:7] else _AOT_LATER.get(kind, (_dt.float32,)):
            if kind in FLOAT_ONLY and not src.is_floating_point:
                continue
            specs.append(spec(kind, src))
    specs.append(spec("sum", _dt.float32, idx="i64"))
    specs.append(spec("argmax", _dt.float16, idx="i64", two=True))
    specs += [spec("max", _dt.float32, aux=True), spec("min", _dt.bfloat16, aux=True),
              spec("var", _dt.float32, aux=True)]
    return specs
