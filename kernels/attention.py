"""Scaled dot-product attention as flash attention: two internal registry entries (``attrs["public"]``
False; ``neurarust.nn.functional.scaled_dot_product_attention`` is the public call).

``flash_attention`` returns ``(output, logsumexp)``: the Triton kernel (``attention_triton.py``) walks
the keys block by block with an online softmax and never stores the ``L x S`` probabilities; the
per-row log-sum-exp of the scores (fp32; fp64 for fp64) is all its backward needs. The derivative calls
``flash_attention_backward``, whose kernels rebuild ``P = exp(scale * q k^T + mask - lse)`` tile by
tile, so the backward's memory is linear in the sequence length too: against attention written with
softmax + matmul, which keeps ``P`` (``B * H * L * S`` elements) for its backward, the flash path keeps
``B * H * L`` log-sum-exp values. The CPU path (the NumPy references) trades that for time: a forward
whose inputs need a gradient keeps its ``P`` aside (one entry per thread, not in the graph) for the
backward that follows, which uses it only for the same q, k, v, mask (storage, unwritten since, view),
causal flag, scale and log-sum-exp, and rebuilds ``P`` otherwise.

Masks: a boolean ``attn_mask`` (True = attend) or an additive one of the query's dtype, broadcast to
``(..., L, S)``; ``is_causal`` keeps key ``j <= i`` (top-left aligned, as PyTorch). A row with every
key masked out gives zeros (and a log-sum-exp of -inf), as PyTorch's math path. Dropout is not part of
the kernel (``dropout_p > 0`` raises ArgumentError); the functional composes it from registry ops.

    >>> import neurarust as nr
    >>> from neurarust.registry import call
    >>> q = k = nr.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    >>> out, lse = call("flash_attention", q, k, nr.tensor([[[1.0, 2.0], [3.0, 4.0]]]), scale=0.0)
    >>> out.tolist(), [round(v, 4) for v in lse[0].tolist()]
    ([[[2.0, 3.0], [2.0, 3.0]]], [0.6931, 0.6931])
"""
from __future__ import annotations

import math
import threading

import numpy as np

from neurarust import backends, registry
from neurarust import dtype as _dt
from neurarust.errors import ArgumentError, DeviceError, DTypeError, ShapeError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, autocast_class, call, register
from neurarust.shape import broadcast_shapes
from neurarust.tensor import Tensor

from . import samples as S
from .kept import identity, same
from .formulas import NP, NR

TRITON_FORWARD = "neurarust.kernels.attention_triton:launch_forward"
TRITON_BACKWARD = "neurarust.kernels.attention_triton:launch_backward"
FLOATS = _dt.FLOAT_DTYPES
MAX_HEAD_DIM = 128
TOLERANCES = {_dt.float16: (5e-3, 5e-3), _dt.bfloat16: (4e-2, 4e-2), _dt.float32: (1e-5, 1e-5)}
OPS: dict[str, Op] = {}


def acc_dtype(d: _dt.DType) -> _dt.DType:
    return _dt.float64 if d is _dt.float64 else _dt.float32


# ----------------------------------------------------------------------------------------------
# The plain formulas, written once over a namespace (NumPy, NeuraRust ops or torch)
# ----------------------------------------------------------------------------------------------

class _Torch:
    @staticmethod
    def mm(a, b):
        return a @ b

    @staticmethod
    def exp(x):
        import torch
        return torch.exp(x)

    @staticmethod
    def where(c, a, b):
        import torch
        return torch.where(c, a, b)

    @staticmethod
    def isneginf(x):
        import torch
        return torch.isneginf(x)

    @staticmethod
    def t(x):
        return x.transpose(-1, -2)

    @staticmethod
    def sum_last(x):
        return x.sum(-1)

    @staticmethod
    def causal(L, S, like):
        import torch
        return torch.ones(L, S, dtype=torch.bool).tril()


TORCH = _Torch()


def _is_bool(mask) -> bool:
    return mask is not None and str(mask.dtype) in ("bool", "torch.bool")


def masked_scores(ns, q, k, attn_mask, is_causal, scale):
    """``scale * q k^T`` with the mask applied (-inf where a key is masked out)."""
    s = ns.mm(q, ns.t(k)) * scale
    if is_causal:
        s = ns.where(ns.causal(q.shape[-2], k.shape[-2], s), s, -math.inf)
    if _is_bool(attn_mask):
        s = ns.where(attn_mask, s, -math.inf)
    elif attn_mask is not None:
        s = s + attn_mask
    return s


def _probabilities(ns, s, lse):
    """``exp(s - lse)``: rows whose keys are all masked out (lse = -inf) give 0, not NaN."""
    safe = ns.where(ns.isneginf(lse), 0.0, lse)
    return ns.exp(s - safe[..., None])


def _forward_formula(q, k, v, attn_mask, is_causal, scale, keep: bool = False):
    """Output and log-sum-exp in NumPy; rows with every key masked out give zeros and -inf. With
    ``keep``, also the probabilities, for ``_numpy_backward``."""
    p, centre = _exponentials(q, k, attn_mask, is_causal, scale)
    total = np.einsum("...j->...", p)
    p /= np.where(total == 0, 1.0, total)[..., None]
    lse = np.log(total)
    if centre is not None:
        lse += centre
    return (p @ v, lse, p) if keep else (p @ v, lse)


# Unmasked scores within +-_SAFE give exp() without overflow (nor whole rows underflowing): no row max.
_SAFE = 60.0


def _exponentials(q, k, attn_mask, is_causal, scale):
    """``exp(s - centre)`` of the masked scores ``s`` (a new array), with ``centre`` the rows' max, or
    None when the scores are within +-_SAFE and nothing is added to them (no shift needed)."""
    s = q @ np.swapaxes(k, -1, -2)
    s *= scale
    additive = attn_mask is not None and not _is_bool(attn_mask)
    safe = not additive and (s.size == 0 or -_SAFE < s.min() and s.max() < _SAFE)
    _masked(s, q, k, attn_mask, is_causal)
    centre = None
    if not safe:
        top = np.max(s, axis=-1, initial=-np.inf)
        centre = np.where(np.isneginf(top), 0.0, top)
        s -= centre[..., None]
    np.exp(s, out=s)
    return s, centre


def _masked(s, q, k, attn_mask, is_causal):
    """NumPy scores masked in place: -inf where a key is masked out, an additive mask added."""
    if is_causal:
        s[..., ~NP.causal(q.shape[-2], k.shape[-2], s)] = -np.inf
    if _is_bool(attn_mask):
        np.copyto(s, -np.inf, where=~attn_mask)
    elif attn_mask is not None:
        s += attn_mask
    return s


def _backward_formula(ns, grad_output, q, k, v, logsumexp, delta, attn_mask, is_causal, scale):
    """dq, dk, dv of attention from the saved log-sum-exp and ``delta = rowsum(dO * O) - dlse``."""
    p = _probabilities(ns, masked_scores(ns, q, k, attn_mask, is_causal, scale), logsumexp)
    ds = p * (ns.mm(grad_output, ns.t(v)) - delta[..., None])
    return ns.mm(ds, k) * scale, ns.mm(ns.t(ds), q) * scale, ns.mm(ns.t(p), grad_output)


def _numpy_backward(g, q, k, v, lse, delta, attn_mask, is_causal, scale, p=None):
    """``_backward_formula`` in NumPy with few passes, from the forward's kept probabilities ``p`` or
    with them rebuilt from the log-sum-exp."""
    if p is None:
        p = _masked(q @ np.swapaxes(k, -1, -2) * scale, q, k, attn_mask, is_causal)
        p -= np.where(np.isneginf(lse), 0.0, lse)[..., None]
        np.exp(p, out=p)
    ds = g @ np.swapaxes(v, -1, -2)
    ds -= delta[..., None]
    ds *= p
    ds *= scale
    return ds @ k, np.swapaxes(ds, -1, -2) @ q, np.swapaxes(p, -1, -2) @ g


# ----------------------------------------------------------------------------------------------
# Checks shared by both entries
# ----------------------------------------------------------------------------------------------

def _check_tensors(name: str, tensors: dict) -> None:
    device = None
    for what, t in tensors.items():
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise SignatureError(f"{name}(): argument '{what}' must be a Tensor, not {type(t).__name__}")
        if device is not None and t.device != device:
            raise DeviceError(f"{name}(): expected all tensors on one device, got {device} and {t.device}")
        device = t.device


def _check_qkv(name: str, q: Tensor, k: Tensor, v: Tensor, attn_mask, is_causal: bool) -> None:
    for what, t in (("query", q), ("key", k), ("value", v)):
        if not t.dtype.is_floating_point:
            raise DTypeError(f"{name}(): expected a floating point {what}, got {t.dtype}")
        if t.ndim < 2:
            raise ShapeError(f"{name}(): {what} must have at least 2 dims (..., length, features), "
                             f"got shape {tuple(t.shape)}")
    if not q.dtype is k.dtype is v.dtype:
        raise DTypeError(f"{name}(): expected query, key and value of one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if not tuple(q.shape[:-2]) == tuple(k.shape[:-2]) == tuple(v.shape[:-2]):
        raise ShapeError(f"{name}(): query, key and value must have the same batch dims, got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"{name}(): expected query (..., L, E), key (..., S, E), value (..., S, Ev), got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if max(q.shape[-1], v.shape[-1]) > MAX_HEAD_DIM:
        raise ShapeError(f"{name}(): head dims up to {MAX_HEAD_DIM}, got {q.shape[-1]} and {v.shape[-1]}")
    if attn_mask is not None:
        if is_causal:
            raise ArgumentError(f"{name}(): an explicit attn_mask must not be set when is_causal=True")
        if attn_mask.dtype is not _dt.bool_ and attn_mask.dtype is not q.dtype:
            raise DTypeError(f"{name}(): attn_mask must be bool or the query's dtype {q.dtype}, got {attn_mask.dtype}")
        want = (*q.shape[:-1], k.shape[-2])
        try:
            if broadcast_shapes(tuple(attn_mask.shape), want) != want:
                raise ShapeError("")
        except (ShapeError, ValueError):
            raise ShapeError(f"{name}(): attn_mask of shape {tuple(attn_mask.shape)} does not broadcast to "
                             f"{want}") from None


def _scale(q: Tensor, scale) -> float:
    return 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)


def _reference_inputs(tensors, d: _dt.DType):
    acc = acc_dtype(d).np
    # Read only: already-wide inputs are not copied.
    return [None if t is None else (t._np() if t.dtype is _dt.bool_ else t._np().astype(acc, copy=False))
            for t in tensors]


def _wrap(arr, d: _dt.DType) -> Tensor:
    """A reference result as a tensor: adopted when it is a fresh C-contiguous array of the dtype (it
    owns its memory, so it is no input's view), else copied once."""
    arr = np.asarray(arr)
    if not (arr.flags.owndata and arr.flags.c_contiguous and arr.dtype == d.np):
        arr = np.array(arr, dtype=d.np, order="C")
    return Tensor._wrap(arr, d)


# ----------------------------------------------------------------------------------------------
# The forward's probabilities, kept for the backward that follows it
# ----------------------------------------------------------------------------------------------

class _Kept(threading.local):
    """The probabilities of this thread's last reference forward whose inputs need a gradient: one
    entry ``(key, lse identity, p)``, taken (matching or not) by the next backward."""
    entry: tuple | None = None


_kept = _Kept()


def _keep(key: tuple, lse: Tensor, p: np.ndarray) -> None:
    _kept.entry = (key, identity(lse), p)


def _take_kept(key: tuple, lse: Tensor) -> np.ndarray | None:
    """The kept probabilities if they are of the same q, k, v, mask (storage, unwritten since, view),
    causal flag, scale and log-sum-exp; None otherwise (the backward rebuilds them)."""
    entry, _kept.entry = _kept.entry, None
    if entry is None:
        return None
    kept_key, kept_lse, p = entry
    inputs = kept_key[-2:] == key[-2:] and all(same(a, b) for a, b in zip(kept_key[:-2], key[:-2]))
    return p if inputs and same(kept_lse, identity(lse)) else None


def _key(query, key, value, attn_mask, is_causal, scale) -> tuple:
    return (*(identity(t) for t in (query, key, value, attn_mask)), bool(is_causal), scale)


# ----------------------------------------------------------------------------------------------
# flash_attention: (output, logsumexp)
# ----------------------------------------------------------------------------------------------

def flash_attention(op: Op, query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                    dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None):
    """``softmax(scale * query key^T + mask) value`` and the per-row log-sum-exp of the masked scores,
    without storing the probabilities (query ``(..., L, E)``, key ``(..., S, E)``, value ``(..., S, Ev)``).

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> q, k, v = nr.ones(1, 2, 4), nr.ones(1, 3, 4), nr.tensor([[[1.0], [2.0], [3.0]]])
        >>> out, lse = call("flash_attention", q, k, v, is_causal=True)
        >>> out[0, :, 0].tolist()
        [1.0, 1.5]
    """
    _check_tensors(op.name, {"query": query, "key": key, "value": value, "attn_mask": attn_mask})
    _check_qkv(op.name, query, key, value, attn_mask, is_causal)
    if dropout_p:
        raise ArgumentError(f"{op.name}(): the flash kernel has no dropout (got dropout_p={dropout_p}); "
                            "nn.functional.scaled_dot_product_attention composes it")
    sc, d = _scale(query, scale), query.dtype
    if backends.for_device(query._storage.device) == "reference":
        q, k, v, m = _reference_inputs((query, key, value, attn_mask), d)
        # Not while a capture records: a replay would not run this frontend's keeping.
        keep = (query.requires_grad or key.requires_grad or value.requires_grad) and not registry.capturing()
        out, lse, *p = backends.run_reference(op.reference, q, k, v, m, is_causal, sc, keep=keep)
        out, lse = _wrap(out, d), _wrap(lse, acc_dtype(d))
        if keep:
            _keep(_key(query, key, value, attn_mask, is_causal, sc), lse, p[0])
        return out, lse
    out = _laid_out_like(query, (*query.shape[:-1], value.shape[-1]), d)
    lse = Tensor._empty(tuple(query.shape[:-1]), acc_dtype(d), query.device)
    op.launcher()(out, lse, query, key, value, attn_mask, is_causal, sc)
    return out, lse


def _laid_out_like(like: Tensor, shape: tuple, d) -> Tensor:
    """An empty dense tensor of ``shape`` whose dims lie in memory in the order of ``like``'s strides:
    heads split from a ``(length, batch, embed)`` projection come back in that layout, so merging
    them again (``permute`` + ``reshape``) is a view, not a copy. Contiguous when ``like``'s last dim
    is not its innermost, or its batch dims are not adjacent and in order in memory (the kernel
    writes the output through one ``(batch, heads, rows, cols)`` view of it). The CPU reference
    returns a contiguous output."""
    order = sorted(range(len(shape)), key=lambda i: -like.stride(i))
    lead = [order.index(i) for i in range(len(shape) - 2)]       # where the batch dims lie in memory
    if not order or order[-1] != len(shape) - 1 or lead != list(range(lead[0], lead[0] + len(lead)) if lead else []):
        return Tensor._empty(shape, d, like.device)    # the kernel's (batch, heads, rows, cols) view must stay a view
    return Tensor._empty_in_order(shape, order, d, like.device)


def _reference_forward(q, k, v, attn_mask, is_causal, scale, keep: bool = False):
    return _forward_formula(q, k, v, attn_mask, is_causal, scale, keep)


def _flash_attention_backward(grad, query, key, value, attn_mask, is_causal, scale, result):
    from neurarust import autograd

    g_out, g_lse = grad
    out, lse = result
    if g_out is not None and g_lse is None and not autograd.grad_mode.is_grad_enabled():
        # delta = rowsum(dO * O) inside the backward's kernels (no second derivative will be taken)
        return call("flash_attention_backward", g_out, query, key, value, lse, None, attn_mask, is_causal, scale,
                    output=out)
    delta = _delta(g_out, out, lse.dtype) if g_out is not None else None
    if g_lse is not None:
        delta = -g_lse if delta is None else delta - g_lse
    if g_out is None:
        from neurarust.creation import zeros_like
        g_out = zeros_like(out)
    return call("flash_attention_backward", g_out, query, key, value, lse, delta, attn_mask, is_causal, scale)


def _delta(g_out: Tensor, out: Tensor, wide: _dt.DType) -> Tensor:
    """``rowsum(dO * O)`` in the wide dtype: one NumPy einsum on the reference path when neither
    autograd nor a graph capture records the backward, registry ops otherwise."""
    from neurarust import autograd

    if (autograd.grad_mode.is_grad_enabled() or registry.capturing()
            or backends.for_device(out._storage.device) != "reference"):
        g, o = (t if t.dtype is wide else call("cast", t, wide) for t in (g_out, out))
        return call("sum", g * o, -1)
    g, o = (t._np().astype(wide.np, copy=False) for t in (g_out, out))
    return Tensor._wrap(np.einsum("...i,...i->...", g, o, order="C"), wide)


def _torch_forward(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    import torch

    out = torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal,
                                                           scale=scale)
    wide = torch.float64 if query.dtype == torch.float64 else torch.float32
    m = attn_mask if attn_mask is None or attn_mask.dtype == torch.bool else attn_mask.to(wide)
    s = masked_scores(TORCH, query.to(wide), key.to(wide), m, is_causal, 1 / math.sqrt(query.shape[-1])
                      if scale is None else scale)
    return out, torch.logsumexp(s, -1)


# ----------------------------------------------------------------------------------------------
# flash_attention_backward: (dq, dk, dv), the internal op the derivative calls
# ----------------------------------------------------------------------------------------------

def flash_attention_backward(op: Op, grad_output: Tensor, query: Tensor, key: Tensor, value: Tensor,
                             logsumexp: Tensor, delta: Tensor | None, attn_mask: Tensor | None = None,
                             is_causal: bool = False, scale: float | None = None, *, output: Tensor | None = None):
    """Gradients ``(dq, dk, dv)`` of attention, with ``P = exp(scale * q k^T + mask - logsumexp)``
    rebuilt tile by tile, ``dS = P * (dO v^T - delta)``, ``delta = rowsum(dO * O)`` (minus the
    log-sum-exp's own gradient when it has one). ``delta`` None: computed here from the attention's
    ``output`` (by the dq kernel on Triton, before its loop: no launch of its own).

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> q = k = v = nr.ones(1, 2, 2)
        >>> out, lse = call("flash_attention", q, k, v)
        >>> g = nr.ones(1, 2, 2)
        >>> dq, dk, dv = call("flash_attention_backward", g, q, k, v, lse, (g * out).sum(-1))
        >>> [round(x, 4) for x in dv[0, 0].tolist()], dq.abs().sum().item()
        ([1.0, 1.0], 0.0)
    """
    _check_tensors(op.name, {"grad_output": grad_output, "query": query, "key": key, "value": value,
                             "logsumexp": logsumexp, "delta": delta, "attn_mask": attn_mask, "output": output})
    _check_qkv(op.name, query, key, value, attn_mask, is_causal)
    rows = tuple(query.shape[:-1])
    for what, t in (("grad_output", grad_output), ("output", output)):
        if t is not None and tuple(t.shape) != (*rows, value.shape[-1]):
            raise ShapeError(f"{op.name}(): {what} must have shape {(*rows, value.shape[-1])}, got {tuple(t.shape)}")
    if delta is None and output is None:
        raise ArgumentError(f"{op.name}(): give delta, or the attention's output to compute it from")
    for what, t in (("logsumexp", logsumexp), ("delta", delta)):
        if t is not None and tuple(t.shape) != rows:
            raise ShapeError(f"{op.name}(): {what} must have shape {rows}, got {tuple(t.shape)}")
    sc, d = _scale(query, scale), query.dtype
    if delta is None and backends.for_device(query._storage.device) == "reference":
        delta = _delta(grad_output, output, logsumexp.dtype)
    if backends.for_device(query._storage.device) == "reference":
        arrays = _reference_inputs((grad_output, query, key, value, logsumexp, delta, attn_mask), d)
        p = _take_kept(_key(query, key, value, attn_mask, is_causal, sc), logsumexp)
        grads = backends.run_reference(op.reference, *arrays, is_causal, sc, p=p)
        return tuple(_wrap(g, d) for g in grads)
    if query.shape[-2] == 0 or key.shape[-2] == 0:  # nothing attends: zero gradients
        from neurarust.creation import zeros

        return tuple(zeros(tuple(t.shape), dtype=d, device=query.device) for t in (query, key, value))
    # Each gradient in its input's layout: heads split from a projection merge back as a view.
    grads = tuple(_laid_out_like(t, tuple(t.shape), d) for t in (query, key, value))
    op.launcher()(*grads, grad_output, query, key, value, logsumexp, delta, attn_mask, is_causal, sc,
                  output=output if delta is None else None)
    return grads


def _reference_backward(g, q, k, v, lse, delta, attn_mask, is_causal, scale, p=None):
    return _numpy_backward(g, q, k, v, lse, delta, attn_mask, is_causal, scale, p)


def _torch_backward(grad_output, query, key, value, logsumexp, delta, attn_mask=None, is_causal=False, scale=None):
    wide = logsumexp.dtype
    m = attn_mask if attn_mask is None or _is_bool(attn_mask) else attn_mask.to(wide)
    grads = _backward_formula(TORCH, grad_output.to(wide), query.to(wide), key.to(wide), value.to(wide), logsumexp,
                              delta, m, is_causal, 1 / math.sqrt(query.shape[-1]) if scale is None else scale)
    return tuple(g.to(query.dtype) for g in grads)


def _backward_backward(grad, needs_input_grad, grad_output, query, key, value, logsumexp, delta, attn_mask,
                       is_causal, scale):
    """The backward's own derivative: its plain formula over registry ops, recorded and differentiated.
    Without ``create_graph`` the inputs are detached first, so only the formula's own graph is walked."""
    from neurarust import autograd

    values = [grad_output, query, key, value, logsumexp, delta]
    wanted = [i for i, v in enumerate(values) if needs_input_grad[i] and isinstance(v, Tensor)]
    result = [None] * len(values)
    create = autograd.grad_mode.is_grad_enabled()
    for i in wanted:
        if not create or not values[i].requires_grad:
            values[i] = values[i].detach().requires_grad_()
        else:   # a fresh node standing for it: logsumexp and delta are functions of query, key, value
            values[i] = values[i] * 1.0
    pairs_grad = [g for g in grad if g is not None]
    if not wanted or not pairs_grad:
        return tuple(result)
    with autograd.grad_mode.enable_grad():
        outs = _backward_formula(NR, *values, attn_mask, is_causal, _scale(query, scale))
        pairs = [(o, g) for o, g in zip(outs, grad) if g is not None]
        got = autograd.grad([o for o, _ in pairs], [values[i] for i in wanted], [g for _, g in pairs],
                            create_graph=create, allow_unused=True)
    for i, g in zip(wanted, got):
        result[i] = g
    return tuple(result)


# ----------------------------------------------------------------------------------------------
# Samples, errors, cost
# ----------------------------------------------------------------------------------------------

def _uniform(d, shape, seed):
    return S.values(d, shape, seed, low=-1.0, high=1.0)


def _qkv(d, B, H, L, S_, E, Ev, seed):
    return _uniform(d, (B, H, L, E), seed), _uniform(d, (B, H, S_, E), seed + 1), _uniform(d, (B, H, S_, Ev), seed + 2)


def _mask_values(d, shape, seed):
    return np.round(S.values(d, shape, seed, low=-2.0, high=0.0), 1)


def _forward_samples(d):
    # The first two are small enough for gradcheck (48 elements at most).
    yield Sample(_qkv(d, 1, 1, 2, 3, 4, 4, 40), {"is_causal": True}, name="tiny_causal")
    yield Sample((*_qkv(d, 1, 1, 2, 3, 2, 2, 43), _mask_values(d, (2, 3), 46)), name="tiny_additive_mask")
    q, k, v = _qkv(d, 2, 2, 5, 7, 8, 8, 0)
    yield Sample((q, k, v), name="plain")
    q, k, v = _qkv(d, 1, 2, 16, 16, 16, 8, 3)
    yield Sample((q, k, v), {"is_causal": True}, name="causal_ev_differs")
    q, k, v = _qkv(d, 1, 1, 6, 9, 12, 12, 6)
    yield Sample((q, k, v), {"is_causal": True, "scale": 0.5}, name="causal_long_keys_odd_head_dim")
    keep = np.random.default_rng(7).random((2, 1, 5, 7)) < 0.6
    keep[0, 0, 2] = False  # one row masked out everywhere: zeros, lse -inf
    q, k, v = _qkv(d, 2, 2, 5, 7, 8, 8, 9)
    yield Sample((q, k, v), {"attn_mask": keep}, name="bool_mask_broadcast_dead_row")
    q, k, v = _qkv(d, 1, 2, 4, 6, 8, 8, 12)
    yield Sample((q, k, v, _mask_values(d, (4, 6), 15)), name="additive_mask")
    q, k, v = _qkv(d, 1, 1, 3, 4, 8, 8, 16)
    yield Sample((S.TensorSpec(q[0, 0], "strided"), S.TensorSpec(k[0, 0], "transposed"),
                  v[0, 0]), name="3d_less_strided")
    yield Sample(_qkv(d, 1, 1, 0, 4, 8, 8, 20), name="empty")


def _lse_np(q, k, mask, causal, scale):
    with np.errstate(all="ignore"):
        return _forward_formula(q, k, k[..., :1], mask, causal, scale)[1]


def _backward_samples(d):
    for s in _forward_samples(d):
        if s.name in ("3d_less_strided", "empty", "causal_ev_differs"):
            continue
        q, k, v = [S.array_of(a).astype(np.float64) for a in s.args[:3]]
        mask = s.kwargs.get("attn_mask", s.args[3] if len(s.args) > 3 else None)
        causal, scale = s.kwargs.get("is_causal", False), s.kwargs.get("scale")
        lse = _lse_np(q, k, mask, causal, 1 / math.sqrt(q.shape[-1]) if scale is None else scale)
        lse = np.where(np.isneginf(lse), -np.inf, lse.astype(np.float32).astype(np.float64))
        g = _uniform(d, (*q.shape[:-1], v.shape[-1]), 30)
        delta = _uniform(_dt.float32, q.shape[:-1], 31)
        kw = {"is_causal": causal, "scale": scale}
        if mask is not None:
            kw["attn_mask"] = mask
        yield Sample((g, q, k, v, lse, delta), kw, name=s.name)


def _errors():
    q = np.ones((1, 2, 3, 4))
    yield ErrorInput(Sample((q, q, np.ones((1, 2, 3)))), ShapeError, "query, key and value")
    yield ErrorInput(Sample((q, np.ones((1, 2, 3, 5)), q)), ShapeError, "expected query")
    yield ErrorInput(Sample((q, q, q), {"dropout_p": 0.1}), ArgumentError, "dropout")
    yield ErrorInput(Sample((q, q, q), {"attn_mask": np.ones((3, 3), bool), "is_causal": True}), ArgumentError,
                     "is_causal")
    yield ErrorInput(Sample((q, q, q), {"attn_mask": np.ones((4, 3), bool)}), ShapeError, "broadcast")
    yield ErrorInput(Sample((np.ones(4), np.ones(4), np.ones(4))), ShapeError, "at least 2 dims")
    yield ErrorInput(Sample((np.arange(4).reshape(2, 2),) * 3), DTypeError, "floating point")


def _backward_errors():
    q = np.ones((1, 3, 4))
    rows = np.zeros((1, 3))
    yield ErrorInput(Sample((np.ones((1, 3, 5)), q, q, q, rows, rows)), ShapeError, "grad_output")
    yield ErrorInput(Sample((q, q, q, q, np.zeros((1, 4)), rows)), ShapeError, "logsumexp")


def _cost(sample: Sample) -> tuple[int, int]:
    """Reads every tensor once; ``2 L S (E + Ev)`` FLOPs per head forward, twice that backward."""
    backward = len(sample.args) == 6
    arrays = [S.array_of(a) for a in sample.args]
    q, k, v = arrays[1:4] if backward else arrays[:3]
    flops = 2 * math.prod(q.shape[:-1]) * k.shape[-2] * (q.shape[-1] + v.shape[-1]) * (2 if backward else 1)
    return q.itemsize * sum(a.size for a in arrays if a.ndim), flops


OPS["flash_attention"] = register(Op(
    name="flash_attention", kind="attention", frontend=flash_attention, reference=_reference_forward,
    triton=TRITON_FORWARD, dtypes=FLOATS, samples=_forward_samples, error_inputs=_errors, cost=_cost,
    tolerances=dict(TOLERANCES), method=False, torch_name=_torch_forward, attrs={"public": False},
    differentiable=("query", "key", "value"), backward=_flash_attention_backward))
OPS["flash_attention_backward"] = register(Op(
    name="flash_attention_backward", kind="attention", frontend=flash_attention_backward,
    reference=_reference_backward, triton=TRITON_BACKWARD, dtypes=FLOATS, samples=_backward_samples,
    error_inputs=_backward_errors, cost=_cost, tolerances=dict(TOLERANCES), method=False,
    torch_name=_torch_backward, attrs={"public": False},
    differentiable=("grad_output", "query", "key", "value", "logsumexp", "delta"), backward=_backward_backward))

# Autocast classes per device type: PyTorch's lists (docs/amp.md, tests/test_amp_autocast.py).
autocast_class(("flash_attention",), cuda="lower", cpu="lower")
