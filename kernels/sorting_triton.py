"""Triton kernels of the sorting family, and their launchers.

- ``rank_kernel`` (sort, argsort, topk, kthvalue, median along a dim): the position of element ``i``
  in the sorted row is its rank, the number of elements that sort before it: smaller (larger when
  descending), or equal with a smaller index. Ranks are distinct, so writing each element at its
  rank is a stable sort; writing only the ranks in ``[lo, hi)`` is topk (``lo = 0``) or a k-th
  value (``hi = lo + 1``). Each program ranks ``BLOCK_I`` elements against their segment in
  ``BLOCK_J`` chunks: quadratic in the segment length, so it ranks whole rows of up to
  ``RANK_CONFIG["RUN"]`` elements in one pass. NaN sorts after every number (before, descending),
  as in PyTorch.
- Longer rows: ``rank_kernel`` sorts runs of ``RUN`` elements, ``merge_kernel`` merges pairs of runs
  (each element binary-searches its place in the partner run; log2(N / RUN) passes, O(N log^2 N)
  in all), and ``pick_kernel`` copies out the wanted ranks (topk, k-th value, median).
- ``mode_kernel``: per row, the count of every element's value, then the most frequent value (the
  smallest among equally frequent ones) and the index of its last occurrence, as PyTorch's CPU mode.
- ``unique_kernel``: one program walks a sorted flat tensor, numbers the runs of equal values with a
  running cumsum, and writes the unique values, each run's start and the inverse indices.
- ``bincount_atomic_kernel`` / ``bincount_ordered_kernel``: the atomic fast path, and the path
  deterministic mode takes (one program per block of bins sums the matching weights in a fixed
  order, so float sums are bit-identical from run to run).
- ``histc_kernel``: bin of each element, counted with atomics (counts are exact integers, so the
  result does not depend on the order).

Values load in their dtype and compare in ``KEY`` (fp32 for fp16/bf16, whose order it keeps exactly;
int32 for bool and narrow integers); stored values are the loaded bits, so -0.0 and bf16 stay exact.
"""
from __future__ import annotations

import neurarust.launch as L
from neurarust import dtype as _dt
from neurarust import shape as _sh
from neurarust.launch import tl, triton
from neurarust.registry import call
from neurarust.tensor import Tensor

from .reduction_triton import _pad2, _problem
from .sorting import BINCOUNT_CONFIG, HISTC_CONFIG, MODE_CONFIG, RANK_CONFIG, UNIQUE_CONFIG


@triton.jit
def _before(a, ai, b, bi, DESCENDING: tl.constexpr):
    """Whether (value a, index ai) sorts before (b, bi): NaN is the largest value, NaNs tie among
    themselves, and ties go to the smaller index."""
    a_nan = a != a
    b_nan = b != b
    if DESCENDING:
        strict = (a > b) | (a_nan & ~b_nan)
    else:
        strict = (a < b) | (b_nan & ~a_nan)
    tie = ((a == b) | (a_nan & b_nan)) & (ai < bi)
    return strict | tie


@triton.jit
def rank_kernel(x_ptr, values_ptr, indices_ptr, N, M1, row0, row1, stride_n, seg, lo, hi,
                DESCENDING: tl.constexpr, MEDIAN: tl.constexpr, KEY: tl.constexpr, IDX: tl.constexpr,
                BLOCK_I: tl.constexpr, BLOCK_J: tl.constexpr):
    # Row r starts at (r // M1) * row0 + (r % M1) * row1; its element n sits n * stride_n further.
    # Elements are ranked within their segment of ``seg`` elements (the whole row, or one run of the
    # merge sort; a program's BLOCK_I elements never straddle two segments).
    # A 1-D grid of (row, block) pairs: the y axis would cap a row at 65535 blocks.
    N = tl.cast(N, IDX)
    blocks = tl.cdiv(N, BLOCK_I)
    row = tl.program_id(0).to(IDX) // blocks
    stride_n = tl.cast(stride_n, IDX)
    M1 = tl.cast(M1, IDX)
    seg = tl.cast(seg, IDX)
    row_ptr = x_ptr + (row // M1) * tl.cast(row0, IDX) + (row % M1) * tl.cast(row1, IDX)
    first = (tl.program_id(0).to(IDX) % blocks) * BLOCK_I
    seg_start = (first // seg) * seg
    seg_end = tl.minimum(seg_start + seg, N)
    i = first + tl.arange(0, BLOCK_I).to(IDX)
    mask_i = i < N
    raw = tl.load(row_ptr + i * stride_n, mask=mask_i)
    xi = raw.to(KEY)
    rank = tl.zeros([BLOCK_I], IDX)
    nans = tl.zeros([BLOCK_J], IDX)
    cols = tl.arange(0, BLOCK_J).to(IDX)
    for start in range(seg_start, seg_end, BLOCK_J):
        j = start + cols
        mask_j = j < seg_end
        xj = tl.load(row_ptr + j * stride_n, mask=mask_j).to(KEY)
        earlier = _before(xj[None, :], j[None, :], xi[:, None], i[:, None], DESCENDING) & mask_j[None, :]
        rank += tl.sum(earlier.to(IDX), axis=1)
        if MEDIAN:
            nans += (mask_j & (xj != xj)).to(IDX)
    if MEDIAN:
        # PyTorch's median of a row holding NaN is its first NaN, which ranks right after the numbers.
        n_nan = tl.sum(nans, axis=0)
        lo = tl.where(n_nan > 0, N - n_nan, tl.cast(lo, IDX))
        hi = lo + 1
    lo = tl.cast(lo, IDX)
    width = tl.cast(hi, IDX) - lo
    pos = seg_start + rank
    keep = mask_i & (pos >= lo) & (pos < lo + width)
    out = row * width + pos - lo
    tl.store(values_ptr + out, raw, mask=keep)
    tl.store(indices_ptr + out, i.to(tl.int64), mask=keep)


@triton.jit
def merge_kernel(v_in, i_in, v_out, i_out, N, run, steps, DESCENDING: tl.constexpr, KEY: tl.constexpr,
                 IDX: tl.constexpr, BLOCK: tl.constexpr):
    # One merge pass over contiguous (rows, N) buffers of sorted runs of ``run`` elements: an element
    # lands at (its place in its run) + (how many elements of the partner run sort before it), found
    # by binary search. (value, original index) pairs are all distinct, so the merge stays stable.
    N = tl.cast(N, IDX)
    blocks = tl.cdiv(N, BLOCK)
    base = (tl.program_id(0).to(IDX) // blocks) * N
    run = tl.cast(run, IDX)
    p = (tl.program_id(0).to(IDX) % blocks) * BLOCK + tl.arange(0, BLOCK).to(IDX)
    mask = p < N
    raw = tl.load(v_in + base + p, mask=mask)
    v = raw.to(KEY)
    ix = tl.load(i_in + base + p, mask=mask, other=0)
    r = p // run
    partner = r ^ 1
    low = tl.minimum(partner * run, N)
    high = tl.minimum(low + run, N)
    first = low
    for _ in range(steps):
        active = mask & (low < high)
        mid = (low + high) // 2
        mv = tl.load(v_in + base + mid, mask=active).to(KEY)
        mi = tl.load(i_in + base + mid, mask=active, other=0)
        right = _before(mv, mi, v, ix, DESCENDING)
        low = tl.where(active & right, mid + 1, low)
        high = tl.where(active & ~right, mid, high)
    dest = tl.minimum(r, partner) * run + (p - r * run) + (low - first)
    tl.store(v_out + base + dest, raw, mask=mask)
    tl.store(i_out + base + dest, ix, mask=mask)


@triton.jit
def pick_kernel(v_ptr, i_ptr, values_ptr, indices_ptr, N, lo, width, MEDIAN: tl.constexpr, KEY: tl.constexpr,
                IDX: tl.constexpr, BLOCK: tl.constexpr):
    # Columns lo .. lo + width of sorted (rows, N) buffers; for a median, lo moves to a row's first
    # NaN (NaNs sort last) when it has one.
    width = tl.cast(width, IDX)
    blocks = tl.cdiv(width, BLOCK)
    row = tl.program_id(0).to(IDX) // blocks
    N = tl.cast(N, IDX)
    base = row * N
    lo = tl.cast(lo, IDX)
    if MEDIAN:
        nans = tl.zeros([BLOCK], IDX)
        for start in range(0, N, BLOCK):
            offs = start + tl.arange(0, BLOCK).to(IDX)
            v = tl.load(v_ptr + base + offs, mask=offs < N).to(KEY)
            nans += ((offs < N) & (v != v)).to(IDX)
        n_nan = tl.sum(nans, axis=0)
        lo = tl.where(n_nan > 0, N - n_nan, lo)
    c = (tl.program_id(0).to(IDX) % blocks) * BLOCK + tl.arange(0, BLOCK).to(IDX)
    mask = c < width
    tl.store(values_ptr + row * width + c, tl.load(v_ptr + base + lo + c, mask=mask), mask=mask)
    tl.store(indices_ptr + row * width + c, tl.load(i_ptr + base + lo + c, mask=mask), mask=mask)


@triton.jit
def mode_kernel(x_ptr, values_ptr, indices_ptr, N, M1, row0, row1, stride_n,
                KEY: tl.constexpr, IDX: tl.constexpr, BLOCK_I: tl.constexpr, BLOCK_J: tl.constexpr):
    row = tl.program_id(0).to(IDX)
    N = tl.cast(N, IDX)
    stride_n = tl.cast(stride_n, IDX)
    M1 = tl.cast(M1, IDX)
    row_ptr = x_ptr + (row // M1) * tl.cast(row0, IDX) + (row % M1) * tl.cast(row1, IDX)
    rows_i = tl.arange(0, BLOCK_I).to(IDX)
    cols = tl.arange(0, BLOCK_J).to(IDX)
    best_count = tl.cast(0, IDX)
    best_value = tl.load(row_ptr).to(KEY)  # any value: the first chunk always replaces it
    best_index = tl.cast(0, IDX)
    for start_i in range(0, N, BLOCK_I):
        i = start_i + rows_i
        mask_i = i < N
        xi = tl.load(row_ptr + i * stride_n, mask=mask_i).to(KEY)
        count = tl.zeros([BLOCK_I], IDX)
        last = tl.zeros([BLOCK_I], IDX)
        for start_j in range(0, N, BLOCK_J):
            j = start_j + cols
            mask_j = j < N
            xj = tl.load(row_ptr + j * stride_n, mask=mask_j).to(KEY)
            same = (xj[None, :] == xi[:, None]) & mask_j[None, :]
            count += tl.sum(same.to(IDX), axis=1)
            last = tl.maximum(last, tl.max(tl.where(same, j[None, :], 0), axis=1))
        count = tl.where(mask_i, count, 0)
        top = tl.max(count, axis=0)
        candidates = mask_i & (count == top)
        # Fill for non-candidates: the chunk's largest valid value, never below a candidate.
        fill = tl.max(tl.where(mask_i, xi, tl.load(row_ptr + start_i * stride_n).to(KEY)), axis=0)
        value = tl.min(tl.where(candidates, xi, fill), axis=0)
        index = tl.max(tl.where(candidates & (xi == value), last, 0), axis=0)
        better = (top > best_count) | ((top == best_count) & (value < best_value))
        best_count = tl.where(better, top, best_count)
        best_value = tl.where(better, value, best_value)
        best_index = tl.where(better, index, best_index)
    tl.store(values_ptr + row, best_value.to(values_ptr.dtype.element_ty))
    tl.store(indices_ptr + row, best_index.to(tl.int64))


@triton.jit
def unique_kernel(sorted_ptr, order_ptr, unique_ptr, inverse_ptr, starts_ptr, n,
                  KEY: tl.constexpr, BLOCK: tl.constexpr):
    # One program: run numbers carry from chunk to chunk. starts[u] is where run u begins,
    # starts[number of runs] = n (counts are the differences), and starts[n + 1] = number of runs.
    runs = tl.cast(0, tl.int64)
    offs = tl.arange(0, BLOCK).to(tl.int64)
    for start in range(0, n, BLOCK):
        i = start + offs
        mask = i < n
        raw = tl.load(sorted_ptr + i, mask=mask)
        cur = raw.to(KEY)
        prev = tl.load(sorted_ptr + i - 1, mask=mask & (i > 0)).to(KEY)
        new = mask & ((i == 0) | (cur != prev))  # NaN != NaN: every NaN is its own value, as in PyTorch
        ids = runs + tl.cumsum(new.to(tl.int64), axis=0) - 1
        tl.store(unique_ptr + ids, raw, mask=new)
        tl.store(starts_ptr + ids, i, mask=new)
        src = tl.load(order_ptr + i, mask=mask, other=0)
        tl.store(inverse_ptr + src, ids, mask=mask)
        runs += tl.sum(new.to(tl.int64), axis=0)
    tl.store(starts_ptr + runs, tl.cast(n, tl.int64))
    tl.store(starts_ptr + n + 1, runs)


@triton.jit
def _weights(w_ptr, offs, mask, HAS_WEIGHTS: tl.constexpr, ACC: tl.constexpr):
    if HAS_WEIGHTS:
        return tl.load(w_ptr + offs, mask=mask, other=0).to(ACC)
    else:
        return tl.where(mask, 1, 0).to(ACC)


@triton.jit
def bincount_atomic_kernel(x_ptr, w_ptr, out_ptr, n, HAS_WEIGHTS: tl.constexpr, ACC: tl.constexpr,
                           BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    bins = tl.load(x_ptr + offs, mask=mask, other=0).to(tl.int64)
    w = _weights(w_ptr, offs, mask, HAS_WEIGHTS, ACC)
    tl.atomic_add(out_ptr + bins, w, mask=mask, sem="relaxed")


@triton.jit
def bincount_ordered_kernel(x_ptr, w_ptr, out_ptr, n, nbins, HAS_WEIGHTS: tl.constexpr, ACC: tl.constexpr,
                            BLOCK_B: tl.constexpr, BLOCK_N: tl.constexpr):
    # Deterministic: each program owns BLOCK_B bins and adds their weights in one fixed order.
    b = tl.program_id(0).to(tl.int64) * BLOCK_B + tl.arange(0, BLOCK_B)
    acc = tl.zeros([BLOCK_B, BLOCK_N], ACC)
    cols = tl.arange(0, BLOCK_N).to(tl.int64)
    for start in range(0, n, BLOCK_N):
        offs = start + cols
        mask = offs < n
        bins = tl.load(x_ptr + offs, mask=mask, other=0).to(tl.int64)
        w = _weights(w_ptr, offs, mask, HAS_WEIGHTS, ACC)  # 0 on masked lanes
        acc += tl.where(bins[None, :] == b[:, None], w[None, :], 0)
    tl.store(out_ptr + b, tl.sum(acc, axis=1).to(out_ptr.dtype.element_ty), mask=b < nbins)


@triton.jit
def histc_kernel(x_ptr, range_ptr, out_ptr, n, bins, COMPUTE: tl.constexpr, BLOCK: tl.constexpr):
    # The range comes as a two-element tensor: a Python float argument would be rounded to fp32.
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0).to(COMPUTE)
    lo = tl.load(range_ptr).to(COMPUTE)
    hi = tl.load(range_ptr + 1).to(COMPUTE)
    inside = mask & (x >= lo) & (x <= hi)  # NaN and out-of-range values count nowhere
    pos = ((x - lo) * bins / (hi - lo)).to(tl.int32)
    pos = tl.minimum(tl.maximum(pos, 0), bins - 1)  # x == hi falls in the last bin
    tl.atomic_add(out_ptr + pos, tl.where(inside, 1.0, 0.0).to(out_ptr.dtype.element_ty), mask=inside,
                  sem="relaxed")


# ----------------------------------------------------------------------------------------------
# Launchers
# ----------------------------------------------------------------------------------------------

def key_dtype(d):
    """The dtype values compare in: fp32 for fp16/bf16, int32 for bool and narrow ints."""
    if d in (_dt.float16, _dt.bfloat16):
        return tl.float32
    if d in (_dt.bool_, _dt.int8, _dt.uint8, _dt.int16):
        return tl.int32
    return L.TL_DTYPES[d.name]


def _rows(x: Tensor, dim: int):
    """(rows, N, M1, row0, row1, stride along dim, tensor to read) of ``x`` seen as rows along dim."""
    kshape, kstrides, rshape, rstrides, src = _problem(x, (dim,))
    M, N = _sh.numel(kshape), _sh.numel(rshape)
    M1, row0, row1 = _pad2(kshape, kstrides)
    return M, N, M1, row0, row1, rstrides[-1], src, kshape + rshape, kstrides + rstrides


def _restore(t: Tensor, x: Tensor, dim: int, width: int) -> Tensor:
    """A (rows, width) result laid back out as ``x`` with dim ``dim`` of size ``width``."""
    kept = [s for k, s in enumerate(x.shape) if k != dim]
    t = t.view(*kept, width)
    order = list(range(len(kept)))
    order.insert(dim, len(kept))
    return t.permute(*order).contiguous()


def _rank(src, values, indices, M, N, M1, row0, row1, stride_n, seg, lo, hi, descending, median, key, idx):
    bi = min(RANK_CONFIG["BLOCK_I"], triton.next_power_of_2(min(N, seg)))  # divides seg when seg < N
    bj = min(RANK_CONFIG["BLOCK_J"], triton.next_power_of_2(min(N, seg)))
    rank_kernel[(M * triton.cdiv(N, bi),)](
        L.pointer(src), L.pointer(values), L.pointer(indices), N, M1, row0, row1, stride_n, seg, lo, hi,
        DESCENDING=descending, MEDIAN=median, KEY=key, IDX=idx, BLOCK_I=bi, BLOCK_J=bj,
        num_warps=RANK_CONFIG["num_warps"])
    L.count("sorting:rank")


def _merge_sort(src, x, M, N, M1, row0, row1, stride_n, descending, key, idx):
    """Sorted (rows, N) buffers of a row longer than one run: rank-sorted runs, then merge passes."""
    run = RANK_CONFIG["RUN"]
    vals = [Tensor._empty((M, N), x.dtype, x.device) for _ in range(2)]
    inds = [Tensor._empty((M, N), _dt.int64, x.device) for _ in range(2)]
    _rank(src, vals[0], inds[0], M, N, M1, row0, row1, stride_n, run, 0, N, descending, False, key, idx)
    block, k = RANK_CONFIG["BLOCK_MERGE"], 0
    while run < N:
        merge_kernel[(M * triton.cdiv(N, block),)](
            L.pointer(vals[k]), L.pointer(inds[k]), L.pointer(vals[1 - k]), L.pointer(inds[1 - k]), N, run,
            run.bit_length(), DESCENDING=descending, KEY=key, IDX=idx, BLOCK=block,
            num_warps=RANK_CONFIG["num_warps"])
        L.count("sorting:merge")
        k, run = 1 - k, run * 2
    return vals[k], inds[k]


def select(x: Tensor, dim: int, descending: bool, lo: int, hi: int, median: bool = False):
    """The elements of rank ``lo`` .. ``hi - 1`` along ``dim`` (values, int64 indices), in rank order;
    ``median`` replaces ``lo`` by the lower median rank, or a row's first NaN.

    Rows of up to ``RANK_CONFIG["RUN"]`` elements are ranked in one pass (quadratic in the row
    length, each element against every other); longer rows are sorted as runs of that length
    merged pairwise (log2(N / RUN) passes of binary searches), then the wanted columns are picked."""
    M, N, M1, row0, row1, stride_n, src, shape, strides = _rows(x, dim)
    width = hi - lo
    values = Tensor._empty((M, width), x.dtype, x.device)
    indices = Tensor._empty((M, width), _dt.int64, x.device)
    if M == 0 or width == 0:
        return _restore(values, x, dim, width), _restore(indices, x, dim, width)
    idx = L.index_dtype(shape, strides)
    if M * max(N, 1) > L.INT32_MAX:
        idx = tl.int64
    key = key_dtype(x.dtype)
    with L.on_device(x):
        if N <= RANK_CONFIG["RUN"]:
            _rank(src, values, indices, M, N, M1, row0, row1, stride_n, N, lo, hi, descending, median, key, idx)
        else:
            sorted_v, sorted_i = _merge_sort(src, x, M, N, M1, row0, row1, stride_n, descending, key, idx)
            if lo == 0 and width == N and not median:
                values, indices = sorted_v, sorted_i
            else:
                block = min(RANK_CONFIG["BLOCK_MERGE"], triton.next_power_of_2(max(width, N if median else 1)))
                pick_kernel[(M * triton.cdiv(width, block),)](
                    L.pointer(sorted_v), L.pointer(sorted_i), L.pointer(values), L.pointer(indices), N, lo, width,
                    MEDIAN=median, KEY=key, IDX=idx, BLOCK=block, num_warps=RANK_CONFIG["num_warps"])
                L.count("sorting:pick")
    return _restore(values, x, dim, width), _restore(indices, x, dim, width)


def mode(x: Tensor, dim: int):
    """Per row along ``dim``: the most frequent value (smallest on ties) and its last index."""
    M, N, M1, row0, row1, stride_n, src, shape, strides = _rows(x, dim)
    values = Tensor._empty((M, 1), x.dtype, x.device)
    indices = Tensor._empty((M, 1), _dt.int64, x.device)
    if M:
        bi = min(MODE_CONFIG["BLOCK_I"], triton.next_power_of_2(N))
        bj = min(MODE_CONFIG["BLOCK_J"], triton.next_power_of_2(N))
        with L.on_device(x):
            mode_kernel[(M,)](L.pointer(src), L.pointer(values), L.pointer(indices), N, M1, row0, row1, stride_n,
                              KEY=key_dtype(x.dtype), IDX=L.index_dtype(shape, strides), BLOCK_I=bi, BLOCK_J=bj,
                              num_warps=MODE_CONFIG["num_warps"])
        L.count("sorting:mode")
    return _restore(values, x, dim, 1), _restore(indices, x, dim, 1)


def unique(x: Tensor):
    """(sorted unique values, inverse indices of the flat input, counts) of a non-empty tensor. The
    number of unique values is read back to the host: it is the results' size."""
    flat = x.reshape(-1)
    n = flat.shape[0]
    values, order = select(flat, 0, False, 0, n)
    uniq = Tensor._empty((n,), x.dtype, x.device)
    inverse = Tensor._empty((n,), _dt.int64, x.device)
    starts = Tensor._empty((n + 2,), _dt.int64, x.device)
    with L.on_device(x):
        unique_kernel[(1,)](L.pointer(values), L.pointer(order), L.pointer(uniq), L.pointer(inverse),
                            L.pointer(starts), n, KEY=key_dtype(x.dtype), BLOCK=UNIQUE_CONFIG["BLOCK"],
                            num_warps=UNIQUE_CONFIG["num_warps"])
    L.count("sorting:unique")
    runs = int(starts[n + 1].item())
    counts = call("sub", starts[1:runs + 1], starts[:runs])
    return uniq[:runs], inverse, counts


def bincount(x: Tensor, weights: Tensor | None, out: Tensor, deterministic: bool) -> None:
    """Add each element's weight (or 1) into ``out[element]``; ``out`` is zeroed, contiguous."""
    n = x.shape[0]
    acc = L.TL_DTYPES[out.dtype.name]
    w = L.pointer(weights) if weights is not None else L.pointer(x)
    with L.on_device(x):
        if deterministic:
            bb, bn = BINCOUNT_CONFIG["BLOCK_B"], BINCOUNT_CONFIG["BLOCK_N"]
            bincount_ordered_kernel[(triton.cdiv(out.shape[0], bb),)](
                L.pointer(x), w, L.pointer(out), n, out.shape[0], HAS_WEIGHTS=weights is not None, ACC=acc,
                BLOCK_B=bb, BLOCK_N=bn, num_warps=BINCOUNT_CONFIG["num_warps"])
        else:
            block = BINCOUNT_CONFIG["BLOCK"]
            bincount_atomic_kernel[(triton.cdiv(n, block),)](
                L.pointer(x), w, L.pointer(out), n, HAS_WEIGHTS=weights is not None, ACC=acc, BLOCK=block,
                num_warps=BINCOUNT_CONFIG["num_warps"])
    L.count("sorting:bincount_ordered" if deterministic else "sorting:bincount")


def histc(x: Tensor, out: Tensor, bounds: Tensor) -> None:
    """Count the elements of contiguous ``x`` in ``out``'s equal-width bins over ``bounds`` = [lo, hi]
    (a tensor of ``out``'s dtype); ``out`` is zeroed fp32 or fp64."""
    n = x.numel()
    block = HISTC_CONFIG["BLOCK"]
    with L.on_device(x):
        histc_kernel[(triton.cdiv(n, block),)](
            L.pointer(x), L.pointer(bounds), L.pointer(out), n, out.shape[0], COMPUTE=L.TL_DTYPES[out.dtype.name],
            BLOCK=block, num_warps=HISTC_CONFIG["num_warps"])
    L.count("sorting:histc")


# ----------------------------------------------------------------------------------------------
# Ahead-of-time compile jobs
# ----------------------------------------------------------------------------------------------

_AOT_DTYPES = (_dt.float32, _dt.float16, _dt.bfloat16, _dt.float64, _dt.int32, _dt.int64, _dt.bool_)


def aot_specs() -> list:
    """Each kernel at its default config, per dtype class where the dtype changes the code."""
    specs = []
    for d in _AOT_DTYPES:
        t = d.triton_name
        key = key_dtype(d)
        for desc, median in ((False, False), (True, False), (False, True)):
            sig = {"x_ptr": f"*{t}", "values_ptr": f"*{t}", "indices_ptr": "*i64"}
            sig.update({k: "i32" for k in ("N", "M1", "row0", "row1", "stride_n", "seg", "lo", "hi")})
            sig.update({k: "constexpr" for k in ("DESCENDING", "MEDIAN", "KEY", "IDX", "BLOCK_I", "BLOCK_J")})
            consts = {"DESCENDING": desc, "MEDIAN": median, "KEY": key, "IDX": tl.int32,
                      "BLOCK_I": RANK_CONFIG["BLOCK_I"], "BLOCK_J": RANK_CONFIG["BLOCK_J"]}
            name = f"rank_{t}" + ("_desc" if desc else "") + ("_median" if median else "")
            specs.append(L.AotSpec(name, rank_kernel, sig, consts, aligned=(0, 1, 2),
                                   num_warps=RANK_CONFIG["num_warps"]))
        for desc in (False, True):
            sig = {"v_in": f"*{t}", "i_in": "*i64", "v_out": f"*{t}", "i_out": "*i64", "N": "i32", "run": "i32",
                   "steps": "i32", "DESCENDING": "constexpr", "KEY": "constexpr", "IDX": "constexpr",
                   "BLOCK": "constexpr"}
            consts = {"DESCENDING": desc, "KEY": key, "IDX": tl.int32, "BLOCK": RANK_CONFIG["BLOCK_MERGE"]}
            specs.append(L.AotSpec(f"merge_{t}" + ("_desc" if desc else ""), merge_kernel, sig, consts,
                                   aligned=(0, 1, 2, 3), num_warps=RANK_CONFIG["num_warps"]))
        for median in (False, True):
            sig = {"v_ptr": f"*{t}", "i_ptr": "*i64", "values_ptr": f"*{t}", "indices_ptr": "*i64", "N": "i32",
                   "lo": "i32", "width": "i32", "MEDIAN": "constexpr", "KEY": "constexpr", "IDX": "constexpr",
                   "BLOCK": "constexpr"}
            consts = {"MEDIAN": median, "KEY": key, "IDX": tl.int32, "BLOCK": RANK_CONFIG["BLOCK_MERGE"]}
            specs.append(L.AotSpec(f"pick_{t}" + ("_median" if median else ""), pick_kernel, sig, consts,
                                   aligned=(0, 1, 2, 3), num_warps=RANK_CONFIG["num_warps"]))
        sig = {"x_ptr": f"*{t}", "values_ptr": f"*{t}", "indices_ptr": "*i64"}
        sig.update({k: "i32" for k in ("N", "M1", "row0", "row1", "stride_n")})
        sig.update({k: "constexpr" for k in ("KEY", "IDX", "BLOCK_I", "BLOCK_J")})
        consts = {"KEY": key, "IDX": tl.int32, "BLOCK_I": MODE_CONFIG["BLOCK_I"], "BLOCK_J": MODE_CONFIG["BLOCK_J"]}
        specs.append(L.AotSpec(f"mode_{t}", mode_kernel, sig, consts, aligned=(0, 1, 2),
                               num_warps=MODE_CONFIG["num_warps"]))
        sig = {"sorted_ptr": f"*{t}", "order_ptr": "*i64", "unique_ptr": f"*{t}", "inverse_ptr": "*i64",
               "starts_ptr": "*i64", "n": "i32", "KEY": "constexpr", "BLOCK": "constexpr"}
        specs.append(L.AotSpec(f"unique_{t}", unique_kernel, sig, {"KEY": key, "BLOCK": UNIQUE_CONFIG["BLOCK"]},
                               aligned=(0, 1, 2, 3, 4), num_warps=UNIQUE_CONFIG["num_warps"]))
    for x_t in ("i64", "i32"):
        for w_t, out_t in ((None, "i64"), ("fp32", "fp32"), ("fp16", "fp64")):
            w_sig = f"*{w_t}" if w_t else f"*{x_t}"
            acc = {"i64": tl.int64, "fp32": tl.float32, "fp64": tl.float64}[out_t]
            tag = f"{x_t}_{w_t or 'count'}"
            sig = {"x_ptr": f"*{x_t}", "w_ptr": w_sig, "out_ptr": f"*{out_t}", "n": "i32",
                   "HAS_WEIGHTS": "constexpr", "ACC": "constexpr", "BLOCK": "constexpr"}
            specs.append(L.AotSpec(f"bincount_atomic_{tag}", bincount_atomic_kernel, sig,
                                   {"HAS_WEIGHTS": w_t is not None, "ACC": acc, "BLOCK": BINCOUNT_CONFIG["BLOCK"]},
                                   aligned=(0, 1, 2), num_warps=BINCOUNT_CONFIG["num_warps"]))
            sig = {"x_ptr": f"*{x_t}", "w_ptr": w_sig, "out_ptr": f"*{out_t}", "n": "i32", "nbins": "i32",
                   "HAS_WEIGHTS": "constexpr", "ACC": "constexpr", "BLOCK_B": "constexpr", "BLOCK_N": "constexpr"}
            specs.append(L.AotSpec(f"bincount_ordered_{tag}", bincount_ordered_kernel, sig,
                                   {"HAS_WEIGHTS": w_t is not None, "ACC": acc, "BLOCK_B": BINCOUNT_CONFIG["BLOCK_B"],
                                    "BLOCK_N": BINCOUNT_CONFIG["BLOCK_N"]},
                                   aligned=(0, 1, 2), num_warps=BINCOUNT_CONFIG["num_warps"]))
    for x_t, out_t, comp in (("fp32", "fp32", tl.float32), ("fp16", "fp32", tl.float32),
                             ("bf16", "fp32", tl.float32), ("fp64", "fp64", tl.float64)):
        sig = {"x_ptr": f"*{x_t}", "range_ptr": f"*{out_t}", "out_ptr": f"*{out_t}", "n": "i32", "bins": "i32",
               "COMPUTE": "constexpr", "BLOCK": "constexpr"}
        specs.append(L.AotSpec(f"histc_{x_t}", histc_kernel, sig, {"COMPUTE": comp, "BLOCK": HISTC_CONFIG["BLOCK"]},
                               aligned=(0, 1, 2), num_warps=HISTC_CONFIG["num_warps"]))
    return specs
