"""The random Triton kernels: a fill kernel (every distribution), a ranking kernel (randperm) and a
multinomial kernel, with their launchers.

Each output element ``i`` runs Philox4x32-10 on its own counter ``offset + i`` (see
``kernels/random.py`` for the layout and how words become values), so no program depends on the
grid or the block size. The NumPy twin of every formula lives in ``kernels/random.py``; kernels
launch with ``enable_fp_fusion=False`` so that ``u * scale + a`` rounds twice, as NumPy does.
"""
from __future__ import annotations

import neurarust.launch as L
from neurarust import dtype as _dt
from neurarust.launch import tl, triton

# Scalar arguments whose values change on every call: never specialised (no recompiles for a
# seed or an offset that happens to be 1 or a multiple of 16).
_SCALARS = ["seed_lo", "seed_hi", "offset", "a", "b", "low", "span_m1"]


@triton.jit
def philox(seed_lo, seed_hi, counter):
    """The four uint32 words of Philox4x32-10 at int64 ``counter`` (words: low, high, 0, 0) under
    the key ``(seed_lo, seed_hi)``."""
    c0 = counter.to(tl.uint32)
    c1 = (counter >> 32).to(tl.uint32)
    c2 = c0 * 0
    c3 = c2
    k0 = (tl.zeros_like(counter) + seed_lo).to(tl.uint32)
    k1 = (tl.zeros_like(counter) + seed_hi).to(tl.uint32)
    for _ in tl.static_range(10):
        hi0 = tl.umulhi(c0, 0xD2511F53)
        lo0 = c0 * 0xD2511F53
        hi1 = tl.umulhi(c2, 0xCD9E8D57)
        lo1 = c2 * 0xCD9E8D57
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = k0 + 0x9E3779B9
        k1 = k1 + 0xBB67AE85
    return c0, c1, c2, c3


@triton.jit
def uniform(r0, r1, BITS: tl.constexpr):
    """A uniform in [0, 1): the top BITS bits of ``r0`` (float32), or 53 bits of ``r0, r1`` (float64)."""
    if BITS == 53:
        v = (r0.to(tl.uint64) << 21) | (r1 >> 11).to(tl.uint64)
        return v.to(tl.float64) * 1.1102230246251565e-16  # 2**-53
    else:
        return (r0 >> (32 - BITS)).to(tl.float32) * (1.0 / (1 << BITS))


@triton.jit
def normal(r0, r1, r2, r3, BITS: tl.constexpr):
    """Box-Muller: one standard normal from two uniforms (u1 in (0, 1], so log never sees 0)."""
    if BITS == 53:
        u1 = 1.0 - uniform(r0, r1, 53)
        u2 = uniform(r2, r3, 53)
        two_pi = tl.full(u2.shape, 6.283185307179586, tl.float64)
    else:
        u1 = 1.0 - uniform(r0, r0, 24)
        u2 = uniform(r1, r1, 24)
        two_pi = 6.283185307179586
    radius = tl.sqrt(-2.0 * tl.log(u1))
    return radius * tl.cos(two_pi * (u2 - 0.5))


@triton.jit
def bits64(r0, r1):
    return (r0.to(tl.uint64) << 32) | r1.to(tl.uint64)


@triton.jit
def as_output(value, OUT: tl.constexpr):
    """``value`` converted for a store into OUT: integers pass through float32 (float64) on their way
    to a float type, since the interpreter's integer -> bfloat16 casts are wrong (values are exact)."""
    if OUT.is_floating() and not value.dtype.is_floating():
        if OUT == tl.float64:
            value = value.to(tl.float64)
        else:
            value = value.to(tl.float32)
    return value.to(OUT)


@triton.jit
def _param(ptr, x, idx, mask, TENSOR: tl.constexpr, T: tl.constexpr):
    """Element ``idx`` of a parameter tensor, or the runtime scalar ``x``, as type T."""
    if TENSOR:
        return tl.load(ptr + idx, mask=mask, other=0).to(T)
    else:
        return (tl.zeros(idx.shape, tl.float64) + x).to(T)


@triton.jit(do_not_specialize=_SCALARS)
def fill_kernel(out_ptr, p_ptr, q_ptr, n, seed_lo: tl.int64, seed_hi: tl.int64, offset: tl.int64,
                a: tl.float64, b: tl.float64, low: tl.int64, span_m1: tl.int64,
                DIST: tl.constexpr, BITS: tl.constexpr, P_TENSOR: tl.constexpr, Q_TENSOR: tl.constexpr,
                BLOCK: tl.constexpr):
    idx = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    mask = idx < n
    r0, r1, r2, r3 = philox(seed_lo, seed_hi, offset + idx)
    if BITS == 53:
        T: tl.constexpr = tl.float64
    else:
        T: tl.constexpr = tl.float32
    if DIST == "uniform":  # a = from, b = to - from
        value = uniform(r0, r1, BITS) * _param(q_ptr, b, idx, mask, False, T) + _param(p_ptr, a, idx, mask, False, T)
    elif DIST == "normal":  # mean (p or a), std (q or b)
        std = _param(q_ptr, b, idx, mask, Q_TENSOR, T)
        value = normal(r0, r1, r2, r3, BITS) * std + _param(p_ptr, a, idx, mask, P_TENSOR, T)
    elif DIST == "exponential":  # a = 1 / lambd; |log(u1)| keeps log(1) = 0 positive
        value = tl.abs(tl.log(1.0 - uniform(r0, r1, BITS))) * _param(p_ptr, a, idx, mask, False, T)
    elif DIST == "bernoulli":
        value = uniform(r0, r1, 53) < _param(p_ptr, a, idx, mask, P_TENSOR, tl.float64)
    elif DIST == "randint":
        span = (tl.zeros_like(idx) + span_m1).to(tl.uint64) + 1
        value = (bits64(r0, r1) % span).to(tl.int64) + low
    else:  # "bits": raw 64-bit keys
        value = bits64(r0, r1).to(tl.int64, bitcast=True)
    tl.store(out_ptr + idx, as_output(value, out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def rank_kernel(keys_ptr, out_ptr, n, BLOCK_I: tl.constexpr, BLOCK_J: tl.constexpr):
    """out[rank(i)] = i, where rank(i) counts the keys below key i (ties: smaller index first)."""
    i = tl.program_id(0).to(tl.int64) * BLOCK_I + tl.arange(0, BLOCK_I).to(tl.int64)
    mask_i = i < n
    ki = tl.load(keys_ptr + i, mask=mask_i, other=0).to(tl.uint64, bitcast=True)
    rank = tl.zeros([BLOCK_I], tl.int64)
    for start in range(0, n, BLOCK_J):
        j = start + tl.arange(0, BLOCK_J).to(tl.int64)
        kj = tl.load(keys_ptr + j, mask=j < n, other=0).to(tl.uint64, bitcast=True)
        before = (kj[None, :] < ki[:, None]) | ((kj[None, :] == ki[:, None]) & (j[None, :] < i[:, None]))
        before = before & (j < n)[None, :]
        rank += tl.sum(before.to(tl.int64), axis=1)
    tl.store(out_ptr + rank, as_output(i, out_ptr.dtype.element_ty), mask=mask_i)


@triton.jit
def _pick(w_ptr, base, n, u, mask, T: tl.constexpr):
    """Per lane, the first category whose running sum exceeds ``u * total``, else the last one with
    weight: sums run left to right, as in the reference."""
    total = tl.zeros(u.shape, T)
    for c in range(n):
        total += tl.load(w_ptr + base + c, mask=mask, other=0)
    target = u * total
    acc = tl.zeros(u.shape, T)
    chosen = tl.full(u.shape, -1, tl.int64)
    last = tl.zeros(u.shape, tl.int64)
    for c in range(n):
        w = tl.load(w_ptr + base + c, mask=mask, other=0)
        acc += w
        chosen = tl.where((chosen < 0) & (acc > target), c, chosen)
        last = tl.where(w > 0, c, last)
    return tl.where(chosen < 0, last, chosen)


@triton.jit(do_not_specialize=["seed_lo", "seed_hi", "offset"])
def multinomial_kernel(w_ptr, out_ptr, rows, n, k, seed_lo: tl.int64, seed_hi: tl.int64, offset: tl.int64,
                       REPLACE: tl.constexpr, BITS: tl.constexpr, BLOCK: tl.constexpr):
    lane = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    if BITS == 53:
        T: tl.constexpr = tl.float64
    else:
        T: tl.constexpr = tl.float32
    if REPLACE:  # one lane per (row, sample)
        mask = lane < rows * k
        r0, r1, _, _ = philox(seed_lo, seed_hi, offset + lane)
        index = _pick(w_ptr, (lane // k) * n, n, uniform(r0, r1, BITS), mask, T)
        tl.store(out_ptr + lane, index, mask=mask)
    else:  # one lane per row; its samples in order, each chosen weight zeroed before the next
        mask = lane < rows
        for s in range(k):
            r0, r1, _, _ = philox(seed_lo, seed_hi, offset + lane * k + s)
            index = _pick(w_ptr, lane * n, n, uniform(r0, r1, BITS), mask, T)
            tl.store(out_ptr + lane * k + s, index, mask=mask)
            tl.store(w_ptr + lane * n + index, tl.zeros(index.shape, T), mask=mask)
            tl.debug_barrier()  # the zero is visible to every thread before the next sample reads


# ----------------------------------------------------------------------------------------------
# Launchers
# ----------------------------------------------------------------------------------------------

BLOCK = 1024
RANK_BLOCKS = (32, 64)
MULTINOMIAL_BLOCK = 128  # >= the threads of 4 warps: no lane is held by two threads


def _key(seed: int) -> tuple[int, int]:
    return seed & 0xFFFFFFFF, seed >> 32


def launch_fill(out, dist: str, seed: int, offset: int, bits: int, *, a: float = 0.0, b: float = 0.0, low: int = 0,
                span: int = 1, p=None, q=None) -> None:
    """Fill contiguous ``out`` with ``dist`` drawn from counters ``offset .. offset + numel - 1``."""
    n = out.numel()
    if n == 0:
        return
    with L.on_device(out):
        fill_kernel[(triton.cdiv(n, BLOCK),)](
            L.pointer(out), L.pointer(p if p is not None else out), L.pointer(q if q is not None else out), n,
            *_key(seed), offset, float(a), float(b), int(low), int(span) - 1,
            DIST=dist, BITS=bits, P_TENSOR=p is not None, Q_TENSOR=q is not None, BLOCK=BLOCK,
            enable_fp_fusion=False,
        )
    L.count(f"random:{dist}")


def launch_rank(out, keys) -> None:
    """``out[rank of keys[i]] = i`` for contiguous 1-D ``keys`` (int64 bit patterns, compared unsigned)."""
    n = keys.numel()
    bi, bj = RANK_BLOCKS
    with L.on_device(out):
        rank_kernel[(triton.cdiv(n, bi),)](L.pointer(keys), L.pointer(out), n, BLOCK_I=bi, BLOCK_J=bj)
    L.count("random:rank")


def launch_multinomial(out, weights, k: int, replacement: bool, seed: int, offset: int) -> None:
    """Draw ``k`` indices per row of contiguous float32/float64 ``weights`` (rows x n) into ``out``."""
    rows, n = weights.shape
    lanes = rows * k if replacement else rows
    bits = 53 if weights.dtype is _dt.float64 else 24
    with L.on_device(out):
        multinomial_kernel[(triton.cdiv(lanes, MULTINOMIAL_BLOCK),)](
            L.pointer(weights), L.pointer(out), rows, n, k, *_key(seed), offset,
            REPLACE=replacement, BITS=bits, BLOCK=MULTINOMIAL_BLOCK, enable_fp_fusion=False,
        )
    L.count("random:multinomial")


# ----------------------------------------------------------------------------------------------
# Ahead-of-time compile jobs
# ----------------------------------------------------------------------------------------------

_FILL_JOBS = (  # (dist, output dtype, bits, p tensor dtype, q tensor dtype)
    ("uniform", _dt.float32, 24, None, None), ("uniform", _dt.float64, 53, None, None),
    ("uniform", _dt.float16, 11, None, None), ("uniform", _dt.bfloat16, 8, None, None),
    ("normal", _dt.float32, 24, None, None), ("normal", _dt.float64, 53, None, None),
    ("normal", _dt.bfloat16, 24, _dt.bfloat16, _dt.bfloat16), ("normal", _dt.float32, 24, _dt.float32, None),
    ("exponential", _dt.float32, 24, None, None), ("exponential", _dt.float64, 53, None, None),
    ("bernoulli", _dt.float32, 53, _dt.float32, None), ("bernoulli", _dt.float16, 53, None, None),
    ("randint", _dt.int64, 24, None, None), ("randint", _dt.int8, 24, None, None),
    ("randint", _dt.float32, 24, None, None), ("bits", _dt.int64, 64, None, None),
)


def aot_specs() -> list[L.AotSpec]:
    """The fill kernel per distribution x dtype class, the ranking kernel and both multinomial modes."""
    specs = []
    for dist, out, bits, p, q in _FILL_JOBS:
        constants = {"DIST": dist, "BITS": bits, "P_TENSOR": p is not None, "Q_TENSOR": q is not None, "BLOCK": BLOCK}
        signature = {"out_ptr": f"*{out.triton_name}", "p_ptr": f"*{(p or out).triton_name}",
                     "q_ptr": f"*{(q or out).triton_name}", "n": "i32", "seed_lo": "i64", "seed_hi": "i64",
                     "offset": "i64", "a": "fp64", "b": "fp64", "low": "i64", "span_m1": "i64",
                     **{name: "constexpr" for name in constants}}
        name = f"fill_{dist}_{out.triton_name}" + ("_p" if p else "") + ("_q" if q else "")
        specs.append(L.AotSpec(name, fill_kernel, signature, constants, aligned=(0, 1, 2)))
    for ptr in ("i64", "fp32"):
        constants = {"BLOCK_I": RANK_BLOCKS[0], "BLOCK_J": RANK_BLOCKS[1]}
        signature = {"keys_ptr": "*i64", "out_ptr": f"*{ptr}", "n": "i32", **{k: "constexpr" for k in constants}}
        specs.append(L.AotSpec(f"rank_{ptr}", rank_kernel, signature, constants, aligned=(0, 1)))
    for d in (_dt.float32, _dt.float64):
        for replace in (True, False):
            constants = {"REPLACE": replace, "BITS": 53 if d is _dt.float64 else 24, "BLOCK": MULTINOMIAL_BLOCK}
            signature = {"w_ptr": f"*{d.triton_name}", "out_ptr": "*i64", "rows": "i32", "n": "i32", "k": "i32",
                         "seed_lo": "i64", "seed_hi": "i64", "offset": "i64", **{k: "constexpr" for k in constants}}
            specs.append(L.AotSpec(f"multinomial_{d.triton_name}_{'replace' if replace else 'noreplace'}",
                                   multinomial_kernel, signature, constants, aligned=(0, 1)))
    return specs

