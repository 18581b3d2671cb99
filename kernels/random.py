"""Random sampling: rand, randn, randint, randperm, bernoulli, multinomial, normal, the ``*_like``
creators, and the in-place fills ``uniform_``, ``normal_``, ``exponential_``, ``random_``,
``bernoulli_``; one registry entry each (a fill's entry is its functional form, named as in ATen:
``uniform``, ``normal_functional``, ``exponential``, ``random_functional``).

Every op draws from a counter-based Philox4x32-10 generator (:mod:`neurarust.random`), written the
same way here in NumPy and in ``random_triton.py``. Element ``i`` of a draw (in row-major order of
the result) takes the four 32-bit words of Philox at counter ``offset + i`` (low/high words of the
64-bit counter; the other two words 0) under the key ``seed`` (low/high words); the op then moves
the generator's offset past the counters it used. Results never depend on the launch grid or block
size, and a seed gives the same numbers on the reference backend, the interpreted kernels and the
GPU.

How words become values, exactly (no rounding differs between backends):

- uniform float in [0, 1): the top ``b`` bits of word 0 times ``2**-b`` with ``b`` = 24 (float32),
  11 (float16), 8 (bfloat16); float64 takes 53 bits (32 of word 0, the top 21 of word 1).
  ``uniform_(a, b)`` computes ``u * (b - a) + a`` in the result's precision (fp32 for halves).
- integers: ``low + v % span`` with ``v`` the 64-bit word ``(word0 << 32) | word1`` (``span`` up
  to ``2**63``; the modulo bias is below ``span / 2**64``).
- Bernoulli: 1 where a 53-bit uniform is below ``p`` (compared in float64), else 0.
- normal (Box-Muller, one value per counter): ``sqrt(-2 log(1 - u1)) * cos(2 pi (u2 - 1/2))``
  with ``u1, u2`` from words 0 and 1 (24 bits, float32; float16/bfloat16 round the float32 value)
  or words 0-1 and 2-3 (53 bits, float64). exponential: ``|log(1 - u)| / lambd``. These use
  ``log``/``sqrt``/``cos``: the interpreter runs NumPy's, so it matches the reference bit for bit;
  a GPU's log/cos differ by a few ulp, so normals and exponentials agree within
  :data:`TRANSCENDENTAL_TOLERANCE` (relative and absolute), plus one rounding of the result dtype.
- randperm(n): 64-bit keys from counters ``offset .. offset + n - 1``; element ``r`` of the result
  is the index of the key of rank ``r`` (ties broken by index). The kernel ranks by counting, O(n^2)
  work: fine up to ~1e5 elements.
- multinomial: sample ``s`` of row ``r`` takes a uniform ``u`` from counter ``offset + r * k + s``
  and returns the first category whose running sum of weights (added left to right, in float32, or
  float64 for float64 weights) exceeds ``u * total``. Without replacement the samples of a row are
  drawn in order and each chosen weight is set to zero before the next. Same additions in the same
  order on both backends: identical indices.

    >>> import neurarust as nr
    >>> _ = nr.manual_seed(0)
    >>> x = nr.rand(2, 3)
    >>> x.shape, x.dtype, bool(((x >= 0) & (x < 1)).all())
    (neurarust.Size([2, 3]), neurarust.float32, True)
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from neurarust import backends
from neurarust import dtype as _dt
from neurarust import random as _rng
from neurarust.device import as_device
from neurarust.dtype import DType
from neurarust.errors import ArgumentError, DeviceError, DTypeError, ShapeError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, register
from neurarust.shape import as_shape, broadcast_shapes
from neurarust.tensor import Tensor

from . import samples as S

TRITON = "neurarust.kernels.random_triton"
FLOATS = _dt.FLOAT_DTYPES
NUMBERS = _dt.NUMERIC_DTYPES
HALVES = (_dt.float16, _dt.bfloat16)
TRANSCENDENTAL_TOLERANCE = {_dt.float32: 1e-5, _dt.float64: 1e-12, _dt.float16: 2e-3, _dt.bfloat16: 1.6e-2}
MAX_SPAN = 1 << 63

# ----------------------------------------------------------------------------------------------
# Philox4x32-10 and the word -> value maps, in NumPy
# ----------------------------------------------------------------------------------------------

PHILOX_M = np.array([[0xD2511F53], [0xCD9E8D57]], np.uint64)   # multipliers of words 0 and 2
PHILOX_W = np.array([[0x9E3779B9], [0xBB67AE85]], np.uint64)   # the key's increments per round
_U32 = np.uint64(0xFFFFFFFF)
_32 = np.uint64(32)
PHILOX_CHUNK = 16384   # counters per pass: the round's arrays stay in cache


def philox4x32(c0, c1, c2, c3, k0: int, k1: int) -> tuple[np.ndarray, ...]:
    """Ten Philox4x32 rounds on uint32 counter words ``c0..c3`` under the key ``(k0, k1)``.

    >>> z = np.zeros(1, np.uint32)
    >>> [hex(int(w[0])) for w in philox4x32(z, z, z, z, 0, 0)]
    ['0x6627e8d5', '0xe169c58d', '0xbc57ac4c', '0x9b00dbd8']
    """
    words = np.broadcast_arrays(*(np.asarray(c, np.uint32) for c in (c0, c1, c2, c3)))
    shape = words[0].shape
    flat = [w.reshape(-1) for w in words]
    out = np.empty((4, flat[0].size), np.uint32)
    for start in range(0, flat[0].size, PHILOX_CHUNK):
        part = slice(start, start + PHILOX_CHUNK)
        _philox_rounds(*(w[part] for w in flat), k0, k1, out[:, part])
    return tuple(w.reshape(shape) for w in out)


def _philox_rounds(c0, c1, c2, c3, k0: int, k1: int, out: np.ndarray) -> None:
    # The words pair up: (c0, c2) are multiplied, (c1, c3) are xored in. Each pair lives in one
    # (2, n) uint64 array (values below 2**32) updated in place, so a round is five whole-array
    # operations on both words at once.
    mult = np.stack([c0, c2]).astype(np.uint64)
    mixed = np.stack([c1, c3]).astype(np.uint64)
    product = np.empty_like(mult)
    key = np.array([[k0], [k1]], np.uint64)
    for _ in range(10):
        np.multiply(mult, PHILOX_M, out=product)
        np.right_shift(product[::-1], _32, out=mult)      # c0 = hi(c2 * M1) ^ c1 ^ k0, c2 = hi(c0 * M0) ^ c3 ^ k1
        mult ^= mixed
        mult ^= key
        np.bitwise_and(product[::-1], _U32, out=mixed)    # c1 = lo(c2 * M1), c3 = lo(c0 * M0)
        key += PHILOX_W
        key &= _U32
    out[0], out[1], out[2], out[3] = mult[0], mixed[0], mult[1], mixed[1]


def philox_words(seed: int, counters: np.ndarray) -> tuple[np.ndarray, ...]:
    """The four words of Philox at 64-bit ``counters`` (counter words: low, high, 0, 0) under ``seed``.

    >>> [int(w[0]) for w in philox_words(0, np.array([0]))] == [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
    True
    """
    c = np.asarray(counters).astype(np.uint64)
    zero = np.zeros(c.shape, np.uint32)
    return philox4x32((c & _U32).astype(np.uint32), (c >> _32).astype(np.uint32), zero, zero,
                      seed & 0xFFFFFFFF, seed >> 32)


def uniform_bits(d: DType) -> int:
    """Random bits per uniform of dtype ``d`` (each value a multiple of ``2**-bits``, exact in ``d``).

    >>> uniform_bits(_dt.float32), uniform_bits(_dt.float64), uniform_bits(_dt.bfloat16)
    (24, 53, 8)
    """
    return {_dt.float64: 53, _dt.float16: 11, _dt.bfloat16: 8}.get(d, 24)


def compute_dtype(bits: int) -> DType:
    """The dtype values with ``bits`` random bits are computed in.

    >>> compute_dtype(53), compute_dtype(11)
    (neurarust.float64, neurarust.float32)
    """
    return _dt.float64 if bits == 53 else _dt.float32


def _uniform(r0, r1, bits: int) -> np.ndarray:
    if bits == 53:
        v = (r0.astype(np.uint64) << np.uint64(21)) | (r1 >> np.uint32(11)).astype(np.uint64)
        return v.astype(np.float64) * np.float64(2.0 ** -53)
    return (r0 >> np.uint32(32 - bits)).astype(np.float32) * np.float32(2.0 ** -bits)


def _normal(words, bits: int) -> np.ndarray:
    r0, r1, r2, r3 = words
    if bits == 53:
        t = np.float64
        u1, u2 = t(1.0) - _uniform(r0, r1, 53), _uniform(r2, r3, 53)
    else:
        t = np.float32
        u1, u2 = t(1.0) - _uniform(r0, r0, 24), _uniform(r1, r1, 24)
    radius = np.sqrt(t(-2.0) * np.log(u1))
    return radius * np.cos(t(2 * math.pi) * (u2 - t(0.5)))


def _bits64(words) -> np.ndarray:
    return (words[0].astype(np.uint64) << _32) | words[1].astype(np.uint64)


def draw_reference(dist: str, seed: int, offset: int, n: int, bits: int, *, a: float = 0.0, b: float = 0.0,
                   low: int = 0, span: int = 1, p: np.ndarray | None = None, q: np.ndarray | None = None):
    """``n`` values of ``dist`` from counters ``offset .. offset + n - 1``: the NumPy twin of the
    Triton fill kernel. ``p``/``q``: per-element parameters (flat, already broadcast) or None.

    >>> draw_reference("randint", seed=0, offset=0, n=6, bits=64, low=0, span=10).tolist()
    [9, 3, 4, 6, 4, 8]
    """
    words = philox_words(seed, np.arange(n, dtype=np.uint64) + np.uint64(offset))
    t = compute_dtype(bits).np.type
    if dist == "uniform":  # a = from, b = to - from
        return _uniform(words[0], words[1], bits) * t(b) + t(a)
    if dist == "normal":  # a, b = mean, std (or p, q per element)
        mean = t(a) if p is None else p.astype(t)
        std = t(b) if q is None else q.astype(t)
        return _normal(words, bits) * std + mean
    if dist == "exponential":  # a = 1 / lambd
        return np.abs(np.log(t(1.0) - _uniform(words[0], words[1], bits))) * t(a)
    if dist == "bernoulli":  # p per element, else a
        prob = np.float64(a) if p is None else p.astype(np.float64)
        return _uniform(words[0], words[1], 53) < prob
    if dist == "randint":
        return (_bits64(words) % np.uint64(span)).astype(np.int64) + np.int64(low)
    if dist == "bits":
        return _bits64(words).view(np.int64)
    raise ArgumentError(f"unknown distribution {dist!r}")


def draw_bits(dist: str, out: DType) -> int:
    """The uniform precision a draw of ``dist`` into dtype ``out`` uses (see the module docstring).

    >>> draw_bits("uniform", _dt.float16), draw_bits("normal", _dt.float16), draw_bits("bernoulli", _dt.float32)
    (11, 24, 53)
    """
    if dist == "uniform":
        return uniform_bits(out)
    if dist == "bernoulli" or out is _dt.float64:
        return 53
    return 24


def multinomial_reference(w: np.ndarray, k: int, replacement: bool, seed: int, offset: int) -> np.ndarray:
    """Indices (rows x k, int64) drawn from the rows of weights ``w`` (float32/float64, modified).

    >>> multinomial_reference(np.array([[0.0, 1.0, 1.0]]), 2, False, seed=0, offset=0).shape
    (1, 2)
    """
    rows, n = w.shape
    bits = 53 if w.dtype == np.float64 else 24
    if replacement:
        lanes = np.arange(rows * k, dtype=np.uint64)
        u = _uniform(*philox_words(seed, lanes + np.uint64(offset))[:2], bits)
        return _pick(w[lanes.astype(np.int64) // k], u).reshape(rows, k)
    out = np.empty((rows, k), np.int64)
    lanes = np.arange(rows, dtype=np.uint64)
    for s in range(k):
        u = _uniform(*philox_words(seed, lanes * np.uint64(k) + np.uint64(offset + s))[:2], bits)
        out[:, s] = _pick(w, u)
        w[np.arange(rows), out[:, s]] = 0
    return out


def _pick(w: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per row, the first category whose running sum exceeds ``u * total`` (left-to-right sums, as
    the kernel adds), else the last category with weight (``u * total`` may round up to ``total``)."""
    acc = np.add.accumulate(w, axis=1, dtype=w.dtype)  # sequential, like the kernel's loop
    target = u * acc[:, -1]
    hit = acc > target[:, None]
    last = w.shape[1] - 1 - np.argmax((w > 0)[:, ::-1], axis=1)
    return np.where(hit.any(axis=1), np.argmax(hit, axis=1), last).astype(np.int64)


# ----------------------------------------------------------------------------------------------
# The shared machinery of the front ends
# ----------------------------------------------------------------------------------------------

def _float_dtype(name: str, dtype) -> DType:
    d = _dt.get_default_dtype() if dtype is None else _dt.as_dtype(dtype)
    if not d.is_floating_point:
        raise DTypeError(f"{name}: expected a floating point dtype, got {d.name}")
    return d


def _size(name: str, size) -> tuple[int, ...]:
    shape = as_shape(size)
    if any(s < 0 for s in shape):
        raise ShapeError(f"{name}: negative dimension in size {list(shape)}")
    return shape


def _finish(out: Tensor, requires_grad: bool) -> Tensor:
    """Apply ``requires_grad=`` as PyTorch does (random results never get a grad_fn)."""
    if requires_grad:
        if not out.dtype.is_floating_point:
            raise DTypeError(f"only tensors of floating point dtype can require gradients, got {out.dtype.name}")
        setter = getattr(out, "requires_grad_", None)
        if setter is None:
            raise ArgumentError("requires_grad=True needs neurarust.autograd, which this build lacks")
        setter(True)
    return out


def _host(t: Tensor) -> np.ndarray:
    """Values of ``t`` on the host, for argument checks (a copy, hence a sync, for CUDA tensors)."""
    return t.numpy(force=True)


def _as_param(name: str, x) -> Tensor:
    if not isinstance(x, Tensor):
        raise SignatureError(f"{name}: expected a Tensor, got {type(x).__name__}")
    return x


def draw(out: Tensor, dist: str, generator, **params) -> Tensor:
    """Fill ``out`` (any layout) with ``dist``'s values, taking ``out.numel()`` counters of the
    generator of ``out``'s device. ``p``/``q`` are tensors broadcastable to ``out``."""
    gen = _rng.generator_for(out._storage.device, generator)
    n = out.numel()
    seed, offset = gen._consume(n)
    if n == 0:
        return out
    bits = draw_bits(dist, out.dtype)
    shape = tuple(out.shape)
    if backends.for_device(out._storage.device) == "reference":
        for key in ("p", "q"):
            if params.get(key) is not None:
                params[key] = np.broadcast_to(params[key]._np(), shape).reshape(-1)
        values = backends.run_reference(draw_reference, dist, seed, offset, n, bits, **params)
        np.copyto(out._np(), values.reshape(shape), casting="unsafe")
    else:
        for key in ("p", "q"):
            if params.get(key) is not None:
                params[key] = params[key].expand(*shape).contiguous()
        dst = out if out.is_contiguous() else Tensor._empty(shape, out.dtype, out.device)
        _launcher("launch_fill")(dst, dist, seed, offset, bits, **params)
        if dst is not out:
            out.copy_(dst)
    out._bump_version()
    return out


_LAUNCHERS: dict[str, Any] = {}


def _launcher(name: str):
    """A launcher of random_triton (imported on first Triton use)."""
    if name not in _LAUNCHERS:
        import importlib

        _LAUNCHERS[name] = getattr(importlib.import_module(TRITON), name)
    return _LAUNCHERS[name]


def _new(shape, dtype: DType, device) -> Tensor:
    return Tensor._empty(shape, dtype, as_device(device))


def _int_bounds(name: str, d: DType, low: int, high: int) -> None:
    """PyTorch's checks of an integer range [low, high) for dtype ``d``."""
    if low >= high:
        raise ArgumentError(f"{name} expects 'from' to be less than 'to', but got from={low} >= to={high}")
    if d.is_floating_point:
        lo, hi = -(1 << uniform_bits(d)), 1 << uniform_bits(d)  # every integer up to 2**digits is exact
    elif d is _dt.bool_:
        lo, hi = 0, 1
    else:
        info = _dt.iinfo(d)
        lo, hi = info.min, info.max
    if low < lo or low > hi:
        raise ArgumentError(f"{name}: from={low} is out of bounds for {d.name}")
    if high - 1 > hi or high - 1 < lo:
        raise ArgumentError(f"{name}: to - 1 = {high - 1} is out of bounds for {d.name}")
    if high - low > MAX_SPAN:
        raise ArgumentError(f"{name}: the range [{low}, {high}) spans more than 2**63 values")


def _integer(name: str, what: str, x) -> int:
    if isinstance(x, bool) or not hasattr(x, "__index__"):
        if isinstance(x, float) and x.is_integer():
            return int(x)
        raise SignatureError(f"{name}: {what} must be an integer, got {x!r}")
    return int(x)


# ----------------------------------------------------------------------------------------------
# Front ends
# ----------------------------------------------------------------------------------------------

def rand(op: Op, *size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform (``rand``) or standard normal (``randn``) samples of shape ``size``.

    >>> import neurarust as nr
    >>> nr.rand(2, 3).shape, nr.randn((4,), dtype=nr.float64).dtype
    (neurarust.Size([2, 3]), neurarust.float64)
    """
    out = _new(_size(op.name, size), _float_dtype(op.name, dtype), device)
    return _finish(draw(out, "uniform" if op.name == "rand" else "normal", generator, a=0.0, b=1.0), requires_grad)


def rand_like(op: Op, input: Tensor, *, generator=None, dtype=None, device=None,
              requires_grad: bool = False) -> Tensor:
    """``rand``/``randn`` with ``input``'s shape, and its dtype and device unless given.

    >>> import neurarust as nr
    >>> nr.randn_like(nr.zeros(2, dtype=nr.float16)).dtype
    neurarust.float16
    """
    input = _as_param(op.name, input)
    d = _float_dtype(op.name, input.dtype if dtype is None else dtype)
    out = _new(input.shape, d, input.device if device is None else device)
    dist = "uniform" if op.name == "rand_like" else "normal"
    return _finish(draw(out, dist, generator, a=0.0, b=1.0), requires_grad)


def _randint_args(name: str, args) -> tuple[int, int, Any]:
    if len(args) == 2:
        low, (high, size) = 0, args
    elif len(args) == 3:
        low, high, size = args
    else:
        raise SignatureError(f"{name}() takes (high, size) or (low, high, size), got {len(args)} arguments")
    return _integer(name, "low", low), _integer(name, "high", high), size


def randint(op: Op, *args, size=None, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Integers drawn uniformly from [low, high) (``randint(high, size)`` or ``randint(low, high, size)``).

    >>> import neurarust as nr
    >>> x = nr.randint(-2, 2, (100,))
    >>> x.dtype, -2 <= x.amin().item() and x.amax().item() < 2
    (neurarust.int64, True)
    """
    if size is not None:
        args = args + (size,)
    low, high, size = _randint_args(op.name, args)
    d = _dt.int64 if dtype is None else _dt.as_dtype(dtype)
    _int_bounds(op.name, d, low, high)
    out = _new(_size(op.name, (size,)), d, device)
    return _finish(draw(out, "randint", generator, low=low, span=high - low), requires_grad)


def randint_like(op: Op, input: Tensor, *args, generator=None, dtype=None, device=None,
                 requires_grad: bool = False) -> Tensor:
    """``randint`` with ``input``'s shape, dtype and device (``(input, high)`` or ``(input, low, high)``).

    >>> import neurarust as nr
    >>> nr.randint_like(nr.zeros(3, dtype=nr.uint8), 1, 2).tolist()
    [1, 1, 1]
    """
    input = _as_param(op.name, input)
    if len(args) not in (1, 2):
        raise SignatureError(f"{op.name}() takes (input, high) or (input, low, high)")
    low, high = (0, args[0]) if len(args) == 1 else args
    low, high = _integer(op.name, "low", low), _integer(op.name, "high", high)
    d = input.dtype if dtype is None else _dt.as_dtype(dtype)
    _int_bounds(op.name, d, low, high)
    out = _new(input.shape, d, input.device if device is None else device)
    return _finish(draw(out, "randint", generator, low=low, span=high - low), requires_grad)


def randperm(op: Op, n: int, *, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A random permutation of ``0 .. n - 1``.

    >>> import neurarust as nr
    >>> sorted(nr.randperm(5).tolist())
    [0, 1, 2, 3, 4]
    """
    n = _integer(op.name, "n", n)
    if n < 0:
        raise ArgumentError(f"randperm: n must be non-negative, got {n}")
    d = _dt.int64 if dtype is None else _dt.as_dtype(dtype)
    if d not in NUMBERS:
        raise DTypeError(f"randperm does not support {d.name}")
    if n > 0:
        _int_bounds(op.name, d, 0, n)
    dev = as_device(device)
    gen = _rng.generator_for(dev, generator)
    seed, offset = gen._consume(n)
    if backends.for_device(dev) == "reference":
        keys = backends.run_reference(draw_reference, "bits", seed, offset, n, 64).view(np.uint64)
        out = Tensor._from_array(np.argsort(keys, kind="stable").astype(d.np), d)
    else:
        out = _new((n,), d, dev)
        if n:
            keys = _new((n,), _dt.int64, dev)
            _launcher("launch_fill")(keys, "bits", seed, offset, 64)
            _launcher("launch_rank")(out, keys)
    return _finish(out, requires_grad)


def _check_probabilities(name: str, p) -> None:
    values = np.asarray(_host(p) if isinstance(p, Tensor) else p, dtype=np.float64)
    if not ((values >= 0) & (values <= 1)).all():
        raise ArgumentError(f"{name}: expected every probability p to satisfy 0 <= p <= 1")


def bernoulli(op: Op, input: Tensor, p=None, *, generator=None, out: Tensor | None = None) -> Tensor:
    """0/1 draws: ``bernoulli(input)`` with probabilities ``input``, ``bernoulli(input, p)`` with
    probability ``p`` in ``input``'s shape; ``input.bernoulli_(p=0.5)`` fills ``input`` in place.

    >>> import neurarust as nr
    >>> nr.bernoulli(nr.tensor([1.0, 0.0])).tolist(), nr.zeros(2).bernoulli_(1.0).tolist()
    ([1.0, 0.0], [1.0, 1.0])
    """
    input = _as_param(op.name, input)
    in_place = out is input
    if in_place and p is None:
        p = 0.5
    if not in_place and p is None and not input.dtype.is_floating_point:
        raise DTypeError(f"bernoulli: expected a floating point tensor of probabilities, got {input.dtype.name}")
    prob = input if p is None else p
    _check_probabilities(op.name, prob)
    target = out if out is not None else _new(input.shape, input.dtype, input.device)
    if isinstance(prob, Tensor):
        if prob.device != target.device:
            raise DeviceError(f"bernoulli: p is on {prob.device} but the result is on {target.device}")
        if broadcast_shapes(prob.shape, target.shape) != tuple(target.shape):
            raise ShapeError(f"bernoulli: p of shape {list(prob.shape)} cannot be broadcast to {list(target.shape)}")
        return draw(target, "bernoulli", generator, p=prob)
    return draw(target, "bernoulli", generator, a=float(prob))


def multinomial(op: Op, input: Tensor, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """``num_samples`` category indices per row of ``input`` (1-D or 2-D non-negative weights).

    >>> import neurarust as nr
    >>> sorted(nr.multinomial(nr.tensor([0.0, 2.0, 1.0, 0.0]), 2).tolist())
    [1, 2]
    """
    input = _as_param(op.name, input)
    k = _integer(op.name, "num_samples", num_samples)
    w = _check_weights(input, k, bool(replacement))
    rows, n = (1, input.shape[0]) if input.ndim == 1 else tuple(input.shape)
    shape = (k,) if input.ndim == 1 else (rows, k)
    gen = _rng.generator_for(input._storage.device, generator)
    seed, offset = gen._consume(rows * k)
    compute = _dt.float64 if input.dtype is _dt.float64 else _dt.float32
    if backends.for_device(input._storage.device) == "reference":
        idx = backends.run_reference(multinomial_reference, w.astype(compute.np), k, bool(replacement), seed, offset)
        return Tensor._from_array(idx.reshape(shape), _dt.int64)
    out = _new(shape, _dt.int64, input.device)
    if rows * k:
        scratch = _new((rows, n), compute, input.device)  # the kernel zeroes chosen weights in it
        scratch.copy_(input.reshape(rows, n))
        _launcher("launch_multinomial")(out, scratch, k, bool(replacement), seed, offset)
    return out


def _check_weights(input: Tensor, k: int, replacement: bool) -> np.ndarray:
    """PyTorch's checks of multinomial's arguments; returns the weights as float64 rows (exact)."""
    if not input.dtype.is_floating_point:
        raise DTypeError(f"multinomial only supports floating-point dtypes for input, got {input.dtype.name}")
    if input.ndim not in (1, 2):
        raise ShapeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {list(input.shape)}")
    n = input.shape[-1]
    if n == 0:
        raise ArgumentError("multinomial: cannot sample from an empty set of categories")
    if k <= 0:
        raise ArgumentError(f"multinomial: cannot sample n_sample <= 0 samples (got {k})")
    if not replacement and k > n:
        raise ArgumentError(f"multinomial: cannot sample n_sample = {k} > prob_dist.size(-1) = {n} samples "
                            f"without replacement")
    w = _host(input).astype(np.float64).reshape(-1, n)
    if not (np.isfinite(w).all() and (w >= 0).all()):
        raise ArgumentError("multinomial: probability tensor contains either inf, nan or element < 0")
    if (w.sum(axis=1) <= 0).any():
        raise ArgumentError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and ((w > 0).sum(axis=1) < k).any():
        raise ArgumentError(f"multinomial: invalid multinomial distribution (with replacement=False, fewer than "
                            f"{k} categories with non-zero probability)")
    return w


def _check_std(name: str, std) -> None:
    bad = (_host(std) < 0).any() if isinstance(std, Tensor) else not std >= 0
    if bad:
        raise ArgumentError(f"{name} expects all elements of std >= 0.0")


def normal(op: Op, mean, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Normal samples: ``normal(mean, std)`` with tensor mean and/or std (broadcast together), or
    ``normal(mean: float, std: float, size)``.

    >>> import neurarust as nr
    >>> nr.normal(nr.tensor([1.0, 2.0]), 0.0).tolist(), nr.normal(0.0, 1.0, (2, 2)).shape
    ([1.0, 2.0], neurarust.Size([2, 2]))
    """
    tensors = [x for x in (mean, std) if isinstance(x, Tensor)]
    _check_std(op.name, std)
    if not tensors:
        if size is None:
            raise SignatureError("normal(mean: float, std: float) needs a size")
        out = _new(_size(op.name, (size,)), _float_dtype(op.name, dtype), device)
        return _finish(draw(out, "normal", generator, a=float(mean), b=float(std)), requires_grad)
    if size is not None:
        raise SignatureError("normal: size is only accepted with float mean and std")
    d = tensors[0].dtype if len(tensors) == 1 else _dt.promote_types(mean.dtype, std.dtype)
    d = _float_dtype(op.name, d if dtype is None else dtype)
    if len(tensors) == 2 and mean.device != std.device:
        raise DeviceError(f"normal: mean is on {mean.device} but std is on {std.device}")
    if device is not None and as_device(device) != tensors[0].device:  # never a silent draw elsewhere
        raise DeviceError(f"normal: mean/std are on {tensors[0].device} but device={as_device(device)} was asked; "
                          f"move them there first")
    shape = broadcast_shapes(*(t.shape for t in tensors))
    out = _new(shape, d, tensors[0].device)
    params = {"p": mean} if isinstance(mean, Tensor) else {"a": float(mean)}
    params.update({"q": std} if isinstance(std, Tensor) else {"b": float(std)})
    return _finish(draw(out, "normal", generator, **params), requires_grad)


def _check_float_self(name: str, x) -> Tensor:
    x = _as_param(name, x)
    if not x.dtype.is_floating_point:
        raise DTypeError(f"{name} is only implemented for floating point tensors, got {x.dtype.name}")
    return x


def _target(input: Tensor, out: Tensor | None) -> Tensor:
    """Where a fill op writes: ``out`` (the in-place method passes ``out=input``), else a new tensor
    shaped like ``input``."""
    return out if out is not None else _new(input.shape, input.dtype, input.device)


def uniform(op: Op, input: Tensor, from_: float = 0.0, to: float = 1.0, *, generator=None,
            out: Tensor | None = None) -> Tensor:
    """Uniform samples in [from_, to) shaped like ``input``; ``input.uniform_()`` fills ``input``.

    >>> import neurarust as nr
    >>> nr.zeros(3).uniform_(2.0, 2.0).tolist()
    [2.0, 2.0, 2.0]
    """
    input = _check_float_self(op.name, input)
    if not from_ <= to:
        raise ArgumentError(f"uniform_ expects to return a [from, to) range, but found from={from_} > to={to}")
    return draw(_target(input, out), "uniform", generator, a=float(from_), b=float(to) - float(from_))


def normal_functional(op: Op, input: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None,
                      out: Tensor | None = None) -> Tensor:
    """Normal samples of mean ``mean`` and standard deviation ``std`` shaped like ``input``;
    ``input.normal_()`` fills ``input``.

    >>> import neurarust as nr
    >>> nr.zeros(2).normal_(-1.0, 0.0).tolist()
    [-1.0, -1.0]
    """
    input = _check_float_self(op.name, input)
    _check_std(op.name, std)
    return draw(_target(input, out), "normal", generator, a=float(mean), b=float(std))


def exponential(op: Op, input: Tensor, lambd: float = 1.0, *, generator=None, out: Tensor | None = None) -> Tensor:
    """Exponential samples of rate ``lambd`` shaped like ``input``; ``input.exponential_()`` fills ``input``.

    >>> import neurarust as nr
    >>> nr.zeros(2, dtype=nr.float64).exponential_(3.0).dtype
    neurarust.float64
    """
    input = _check_float_self(op.name, input)
    if not lambd > 0:
        raise ArgumentError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    return draw(_target(input, out), "exponential", generator, a=1.0 / float(lambd))


def random_functional(op: Op, input: Tensor, from_: int = 0, to: int | None = None, *, generator=None,
                      out: Tensor | None = None) -> Tensor:
    """Integers from [from_, to) shaped like ``input`` (``random_(to)``: [0, to); no bounds: [0,
    2**mantissa] for floats, [0, max] for integers); ``input.random_()`` fills ``input``.

    >>> import neurarust as nr
    >>> nr.zeros(3, dtype=nr.int8).random_(4, 5).tolist()
    [4, 4, 4]
    """
    input = _as_param(op.name, input)
    d = input.dtype
    if to is not None:
        low, high = _integer(op.name, "from", from_), _integer(op.name, "to", to)
    elif from_ != 0:  # random_(to): [0, to)
        low, high = 0, _integer(op.name, "to", from_)
    elif d.is_floating_point:
        low, high = 0, (1 << uniform_bits(d)) + 1
    else:
        low, high = 0, 2 if d is _dt.bool_ else _dt.iinfo(d).max + 1
    _int_bounds(op.name, d, low, high)
    return draw(_target(input, out), "randint", generator, low=low, span=high - low)


# ----------------------------------------------------------------------------------------------
# Samples, errors, docs and entries
# ----------------------------------------------------------------------------------------------

def _creation_samples(d: DType):
    yield Sample((3, 5), {"dtype": d}, "2d")
    yield Sample(((2, 0),), {"dtype": d}, "empty")
    yield Sample(((),), {"dtype": d}, "0d")
    yield Sample(([1100],), {"dtype": d}, "two_programs")


def _like_samples(d: DType):
    yield Sample((S.values(d, (3, 4)),), name="same_dtype")
    yield Sample((S.TensorSpec(S.values(d, (2, 3), 1)),), {"dtype": _dt.float64}, "strided_to_float64")


def _randint_samples(d: DType):
    yield Sample((0, 10, (4, 5)), {"dtype": d}, "low_high")
    yield Sample((7, (3,)), {"dtype": d}, "high_only")
    yield Sample((0, 2, (0, 3)), {"dtype": d}, "empty")
    if d.kind != "u":
        yield Sample((-5, 5, [6]), {"dtype": d}, "negative_low")
    if d is _dt.int64:
        yield Sample((3, 9, (2, 2)), {}, "default_dtype")


def _randint_like_samples(d: DType):
    yield Sample((S.values(d, (3, 4)), 5), name="high")
    yield Sample((S.TensorSpec(S.values(d, (2, 3), 1)), 1, 4), name="strided_low_high")


def _randperm_samples(d: DType):
    yield Sample((7,), {"dtype": d}, "small")
    yield Sample((0,), {"dtype": d}, "empty")
    yield Sample((100,), {"dtype": d}, "two_programs")
    if d is _dt.int64:
        yield Sample((5,), {}, "default_dtype")


def _probabilities(d: DType, shape, seed: int = 0) -> np.ndarray:
    return S.values(d, shape, seed, low=0.0, high=1.0)


def _bernoulli_samples(d: DType):
    yield Sample((_probabilities(d, (3, 4)),), name="tensor_p")
    yield Sample((np.array([0.0, 1.0, 0.5, 1.0, 0.0]),), name="certain")
    yield Sample((S.TensorSpec(_probabilities(d, (2, 5), 1)),), name="strided")
    yield Sample((S.values(d, (2, 3), 2), 0.25), name="scalar_p")
    yield Sample((np.zeros((0, 3)),), name="empty")


def _weights(d: DType) -> np.ndarray:
    return np.array([[1.0, 2.0, 0.0, 4.0, 1.0], [0.0, 0.0, 3.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0]])


def _multinomial_samples(d: DType):
    yield Sample((_weights(d), 3), name="without_replacement")
    yield Sample((_weights(d), 6, True), name="with_replacement")
    yield Sample((_weights(d)[2], 5), name="1d_all_ties")
    yield Sample((S.TensorSpec(_weights(d)), 2), {"replacement": True}, name="strided")


def _normal_samples(d: DType):
    mean, std = S.values(d, (3, 4)), S.values(d, (4,), 1, positive=True)
    yield Sample((mean, std), name="tensors_broadcast")
    yield Sample((S.TensorSpec(mean), 2.0), name="tensor_mean")
    yield Sample((0.5, S.TensorSpec(S.values(d, (2, 3), 2, positive=True), "transposed")), name="tensor_std")
    yield Sample((1.0, 2.0, (3, 4)), {"dtype": d}, name="floats_size")
    yield Sample((np.zeros((0, 2)), 1.0), name="empty")


def _fill_samples(*args):
    def samples(d: DType):
        yield Sample((S.values(d, (3, 4)), *args), name="contiguous")
        yield Sample((S.TensorSpec(S.values(d, (2, 5), 1)),), name="strided_defaults")
        yield Sample((S.TensorSpec(S.values(d, (3, 2), 2), "transposed"), *args), name="transposed")
        yield Sample((S.values(d, (0,)), *args), name="empty")
    return samples


def _random_samples(d: DType):
    x = S.values(d, (3, 4), positive=True)
    yield Sample((x, 0, 5), name="from_to")
    yield Sample((S.TensorSpec(x), 7), name="to_strided")
    yield Sample((x,), name="full_range")


def _error(args, error, match, **kwargs) -> ErrorInput:
    return ErrorInput(Sample(tuple(args), kwargs), error, match)


def _rand_errors():
    yield _error([-1, 2], ValueError, "negative dimension")
    yield _error([2], TypeError, "floating point", dtype=_dt.int64)


def _randint_errors():
    yield _error([5, 2, (3,)], ValueError, "less than")
    yield _error([0, 300, (2,)], ValueError, "out of bounds", dtype=_dt.int8)
    yield _error([3], TypeError, r"\(high, size\)")


def _bernoulli_errors():
    yield _error([np.array([0.5, 1.5])], ValueError, "0 <= p <= 1")
    yield _error([np.array([0.5, np.nan])], ValueError, "0 <= p <= 1")
    yield _error([np.ones(2), -0.5], ValueError, "0 <= p <= 1")
    yield _error([np.arange(3)], TypeError, "floating point")


def _multinomial_errors():
    yield _error([np.ones(3), 4], ValueError, "without replacement")
    yield _error([np.array([1.0, -1.0]), 1], ValueError, "element < 0")
    yield _error([np.array([1.0, np.inf]), 1], ValueError, "inf")
    yield _error([np.ones((2, 2, 2)), 1], ValueError, "1 or 2 dim")
    yield _error([np.zeros(3), 1, True], ValueError, "sum of probabilities")
    yield _error([np.array([1.0, 0.0, 0.0]), 2], ValueError, "non-zero probability")
    yield _error([np.arange(3), 1], TypeError, "floating-point")
    yield _error([np.ones(3), 0], ValueError, "n_sample <= 0")


def _normal_errors():
    yield _error([np.zeros(3), np.array([-1.0, 1.0, 1.0])], ValueError, "std >= 0")
    yield _error([0.0, -1.0, (3,)], ValueError, "std >= 0")
    yield _error([0.0, 1.0], TypeError, "needs a size")
    yield _error([np.arange(3), 1.0], TypeError, "floating point")


def _fill_errors(name: str, bad_args):
    def errors():
        yield _error([np.ones(3), *bad_args], ValueError, name)
        yield _error([np.arange(3)], TypeError, "floating point")
    return errors


def _random_errors():
    yield _error([np.ones(3), 5, 2], ValueError, "less than")
    yield _error([np.arange(3).astype(np.int8), 0, 300], ValueError, "out of bounds")


def _like_errors():
    yield _error([np.arange(3)], TypeError, "floating point")


def _randint_like_errors():
    yield _error([np.ones(3), 5, 2], ValueError, "less than")
    yield _error([np.ones(3)], TypeError, r"\(input, high\)")


def _randperm_errors():
    yield _error([-1], ValueError, "non-negative")
    yield _error([300], ValueError, "out of bounds", dtype=_dt.int8)


def _cost(sample: Sample) -> tuple[int, int]:
    """Bytes written (8 per element, a bound) and ~100 integer operations of Philox per element."""
    n = max([S.array_of(a).size for a in sample.args if isinstance(a, (np.ndarray, S.TensorSpec))], default=1)
    return 8 * n, 100 * n


def _doc(signature: str, summary: str, example: str) -> str:
    """An op's docstring: signature, what it draws, and a seeded example whose output is the same on
    every backend."""
    lines = "\n".join(f"    {line}" for line in example.strip().splitlines())
    return (f"{signature}\n\n{summary}\n``generator=`` draws from that :class:`neurarust.Generator` instead of "
            f"the device's default one. The result never requires grad through the sampling.\n\n"
            f"    >>> import neurarust as nr\n    >>> _ = nr.manual_seed(0)\n{lines}\n")


def _fill(inplace: str) -> dict:
    """Entry fields of a fill op: internal functional form (``uniform``, as ATen's), public in-place
    method (``Tensor.uniform_``); PyTorch's dtype comes from the method on a copy."""
    def torch_name(x, *args, **kwargs):
        return getattr(x.clone(), inplace)(*args, **kwargs)
    return {"inplace": inplace, "public": False, "torch_name": torch_name}


# Backends agree within these on ops that call log/sqrt/cos (exactly, in the interpreter).
_TRANSCENDENTAL = {d: (tol, tol) for d, tol in TRANSCENDENTAL_TOLERANCE.items()}


def random_op(name: str, *, frontend, dtypes, samples, errors, doc: str, method: bool = False,
              inplace: str | None = None, public: bool = True, torch_name=None, transcendental: bool = False) -> Op:
    """Register one random op (kind ``"random"``: the harness seeds before each backend's call and
    compares the two backends with each other instead of with PyTorch's values)."""
    return register(Op(
        name=name, kind="random", frontend=frontend, reference=draw_reference, triton=f"{TRITON}:launch_fill",
        dtypes=tuple(dtypes), samples=samples, error_inputs=errors, method=method, inplace=inplace,
        torch_name=torch_name or name, attrs={"public": public}, doc=doc, cost=_cost, differentiable=(),
        tolerances=_TRANSCENDENTAL if transcendental else {},
    ))


random_op("rand", frontend=rand, dtypes=FLOATS, samples=_creation_samples, errors=_rand_errors, doc=_doc(
    "rand(*size, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor",
    "Uniform samples in [0, 1): each value is ``k * 2**-24`` (float32; 53 bits for float64), the same on "
    "every backend.", """
>>> x = nr.rand(2, 3)
>>> x.shape, x.dtype
(neurarust.Size([2, 3]), neurarust.float32)
>>> _ = nr.manual_seed(0); nr.rand(2).tolist()
[0.3990464210510254, 0.9722411632537842]"""))

random_op("randn", frontend=rand, dtypes=FLOATS, samples=_creation_samples, errors=_rand_errors,
          transcendental=True, doc=_doc(
    "randn(*size, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor",
    "Standard normal samples (Box-Muller on Philox uniforms).", """
>>> x = nr.randn(3, 4, dtype=nr.float64)
>>> x.shape, x.dtype
(neurarust.Size([3, 4]), neurarust.float64)"""))

random_op("rand_like", frontend=rand_like, dtypes=FLOATS, samples=_like_samples, errors=_like_errors, doc=_doc(
    "rand_like(input, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor",
    "Uniform samples in [0, 1) with ``input``'s shape, and its dtype and device unless given.", """
>>> nr.rand_like(nr.zeros(2, 2, dtype=nr.float16)).dtype
neurarust.float16"""))

random_op("randn_like", frontend=rand_like, dtypes=FLOATS, samples=_like_samples, errors=_like_errors,
          transcendental=True, doc=_doc(
    "randn_like(input, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor",
    "Standard normal samples with ``input``'s shape, and its dtype and device unless given.", """
>>> nr.randn_like(nr.zeros(4)).shape
neurarust.Size([4])"""))

random_op("randint", frontend=randint, dtypes=NUMBERS, samples=_randint_samples, errors=_randint_errors, doc=_doc(
    "randint(low=0, high, size, *, generator=None, dtype=int64, device=None, requires_grad=False) -> Tensor",
    "Integers drawn uniformly from [low, high), stored in ``dtype``.", """
>>> nr.randint(0, 10, (6,)).tolist()
[9, 3, 4, 6, 4, 8]
>>> nr.randint(5, (2, 2), dtype=nr.int8).dtype
neurarust.int8"""))

random_op("randint_like", frontend=randint_like, dtypes=NUMBERS, samples=_randint_like_samples,
          errors=_randint_like_errors, doc=_doc(
    "randint_like(input, low=0, high, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor",
    "Integers from [low, high) with ``input``'s shape, and its dtype and device unless given.", """
>>> nr.randint_like(nr.zeros(3, dtype=nr.int32), 100).dtype
neurarust.int32"""))

random_op("randperm", frontend=randperm, dtypes=NUMBERS, samples=_randperm_samples, errors=_randperm_errors, doc=_doc(
    "randperm(n, *, generator=None, dtype=int64, device=None, requires_grad=False) -> Tensor",
    "A random permutation of ``0 .. n - 1`` (the ranks of ``n`` Philox keys).", """
>>> nr.randperm(6).tolist()
[2, 0, 5, 3, 4, 1]
>>> sorted(nr.randperm(10).tolist()) == list(range(10))
True"""))

random_op("bernoulli", frontend=bernoulli, dtypes=FLOATS, samples=_bernoulli_samples, errors=_bernoulli_errors,
          method=True, inplace="bernoulli_", doc=_doc(
    "bernoulli(input, p=None, *, generator=None) -> Tensor",
    "0/1 draws in ``input``'s dtype: 1 with probability ``input`` (or ``p``, a float or a tensor). "
    "``x.bernoulli_(p=0.5)`` fills ``x`` in place. Probabilities outside [0, 1] raise ArgumentError.", """
>>> nr.bernoulli(nr.tensor([0.0, 1.0, 0.5, 0.5, 0.5])).tolist()
[0.0, 1.0, 1.0, 0.0, 0.0]
>>> nr.zeros(4, dtype=nr.int64).bernoulli_(1.0).tolist()
[1, 1, 1, 1]"""))

random_op("multinomial", frontend=multinomial, dtypes=FLOATS, samples=_multinomial_samples,
          errors=_multinomial_errors, method=True, doc=_doc(
    "multinomial(input, num_samples, replacement=False, *, generator=None) -> Tensor",
    "``num_samples`` category indices (int64) per row of the non-negative weights ``input`` (1-D or 2-D), "
    "with or without replacement.", """
>>> nr.multinomial(nr.tensor([[1.0, 0.0, 3.0], [0.0, 2.0, 2.0]]), 2).tolist()
[[2, 0], [1, 2]]
>>> nr.multinomial(nr.tensor([0.0, 1.0]), 3, replacement=True).tolist()
[1, 1, 1]"""))

random_op("normal", frontend=normal, dtypes=FLOATS, samples=_normal_samples, errors=_normal_errors,
          transcendental=True, doc=_doc(
    "normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor",
    "Normal samples: tensor ``mean`` and/or ``std`` (broadcast together), or float ``mean`` and ``std`` "
    "with a ``size``. A negative std raises ArgumentError.", """
>>> nr.normal(nr.zeros(2, 3), 2.0).shape
neurarust.Size([2, 3])
>>> nr.normal(1.0, 0.0, (3,)).tolist()
[1.0, 1.0, 1.0]"""))

random_op("uniform", frontend=uniform, dtypes=FLOATS, samples=_fill_samples(-2.0, 3.0),
          errors=_fill_errors("from=3.0 > to=1.0", (3.0, 1.0)), **_fill("uniform_"), doc=_doc(
    "Tensor.uniform_(from_=0.0, to=1.0, *, generator=None) -> Tensor",
    "Fill the tensor in place with uniform samples in [from_, to) (``u * (to - from_) + from_``).", """
>>> x = nr.empty(3).uniform_(-1.0, 1.0)
>>> bool(((x >= -1) & (x < 1)).all())
True"""))

random_op("normal_functional", frontend=normal_functional, dtypes=FLOATS, samples=_fill_samples(1.0, 2.0),
          errors=_fill_errors("std >= 0", (0.0, -1.0)), **_fill("normal_"), transcendental=True, doc=_doc(
    "Tensor.normal_(mean=0.0, std=1.0, *, generator=None) -> Tensor",
    "Fill the tensor in place with normal samples.", """
>>> nr.empty(2, 2).normal_(5.0, 0.0).tolist()
[[5.0, 5.0], [5.0, 5.0]]"""))

random_op("exponential", frontend=exponential, dtypes=FLOATS, samples=_fill_samples(2.0),
          errors=_fill_errors("lambda > 0", (0.0,)), **_fill("exponential_"), transcendental=True, doc=_doc(
    "Tensor.exponential_(lambd=1.0, *, generator=None) -> Tensor",
    "Fill the tensor in place with exponential samples of rate ``lambd`` (``|log(1 - u)| / lambd``).", """
>>> bool((nr.empty(5).exponential_(2.0) >= 0).all())
True"""))

random_op("random_functional", frontend=random_functional, dtypes=NUMBERS, samples=_random_samples,
          errors=_random_errors, **_fill("random_"), doc=_doc(
    "Tensor.random_(from_=0, to=None, *, generator=None) -> Tensor",
    "Fill the tensor in place with integers from [from_, to); ``random_(to)`` draws from [0, to); with no "
    "bounds, from [0, 2**digits] (floats) or [0, max] (integers).", """
>>> nr.zeros(5, dtype=nr.int32).random_(3, 6).tolist()
[3, 4, 3, 4, 3]"""))
