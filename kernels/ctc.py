"""CTC loss: ``ctc_loss`` (``torch.nn.functional.ctc_loss``) and its internal backward
``ctc_loss_backward``, each a Triton kernel (``ctc_triton.py``) with a NumPy reference.

The loss of one element is ``-log p(target | log_probs)``, the sum over every alignment of the
target to the input frames (labels may repeat, separated by blanks), computed by the forward (alpha)
recursion in log space over the extended label sequence ``blank, l1, blank, ..., lS, blank``.

**Gradient convention.** PyTorch's ``ctc_loss`` backward returns ``exp(log_probs) - posterior``: the
gradient with respect to the *logits* under the assumption that ``log_probs`` came out of a
``log_softmax``. It is not the derivative of the loss with respect to ``log_probs`` (gradcheck fails
on it). NeuraRust returns the true derivative, ``-posterior`` (the posterior of class ``c`` at frame
``t`` over all alignments, scaled by the upstream gradient). Through ``log_softmax`` (the normal use)
the two give identical gradients for the logits, because every frame's posterior sums to 1.

Higher derivatives: the first derivative runs the fused backward kernel; when the graph of the
gradient is recorded (``create_graph=True``) it is computed instead by differentiating the same
recursion written with framework ops, which can be differentiated again to any order.

    >>> import neurarust as nr
    >>> from neurarust.registry import call
    >>> lp = nr.full((2, 1, 2), 0.5).log()        # T=2 frames, N=1, C=2 classes, each p = 0.5
    >>> round(call("ctc_loss", lp, nr.tensor([[1]]), [2], [1], reduction="sum").item(), 4)  # 3 alignments
    0.2877
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurarust import backends
from neurarust import dtype as _dt
from neurarust.creation import full, ones_like, zeros_like
from neurarust.errors import ArgumentError, DTypeError, IndexOutOfRangeError, ShapeError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, autocast_class, call, register
from neurarust.tensor import Tensor

from . import samples as S
from .indexing import ix
from .loss import _check_reduction, _check_tensors, _finish, _is_reference

TRITON_FORWARD = "neurarust.kernels.ctc_triton:launch_ctc_forward"
TRITON_BACKWARD = "neurarust.kernels.ctc_triton:launch_ctc_backward"
DTYPES = (_dt.float32, _dt.float64)   # as PyTorch's ctc_loss
NEG = -1e30  # the framework-op recursion's "log 0": finite, so its derivatives never meet inf - inf


# ----------------------------------------------------------------------------------------------
# The parsed call: lengths and targets on the host, one layout for every backend
# ----------------------------------------------------------------------------------------------

@dataclass
class _Ctc:
    """A checked call: ``log_probs`` as ``(T, N, C)``, element ``n``'s labels at
    ``flat[offsets[n]:offsets[n] + target_lengths[n]]``."""

    log_probs: Tensor
    batched: bool
    flat: np.ndarray
    offsets: list
    input_lengths: list
    target_lengths: list
    blank: int

    @property
    def max_target(self) -> int:
        return max(self.target_lengths, default=0)

    def labels(self, n: int) -> np.ndarray:
        o = self.offsets[n]
        return self.flat[o:o + self.target_lengths[n]]


def _lengths(name: str, what: str, value, N: int, batched: bool) -> list:
    if isinstance(value, Tensor):
        if value.dtype.is_floating_point or value.dtype is _dt.bool_:
            raise DTypeError(f"{name}(): {what} must be integers, got {value.dtype}")
        if value.ndim > 1:
            raise ShapeError(f"{name}(): {what} must be 1-D, got shape {tuple(value.shape)}")
        value = value.tolist()
    if isinstance(value, (int, np.integer)):
        value = [int(value)]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, (int, np.integer)) for v in value):
        raise SignatureError(f"{name}(): {what} must be a tensor or a sequence of ints, got {type(value).__name__}")
    if len(value) != N:
        raise ShapeError(f"{name}(): {what} must have one length per batch element ({N}), got {len(value)}")
    if any(v < 0 for v in value):
        raise ArgumentError(f"{name}(): {what} must be non-negative, got {list(value)}")
    return [int(v) for v in value]


def _parse(name: str, log_probs, targets, input_lengths, target_lengths, blank: int) -> _Ctc:
    _check_tensors(name, {"log_probs": log_probs, "targets": targets}, ("log_probs",))
    if log_probs.ndim not in (2, 3):
        raise ShapeError(f"{name}(): expected log_probs of shape (T, N, C) or (T, C), got {tuple(log_probs.shape)}")
    if log_probs.dtype not in DTYPES:
        raise DTypeError(f"{name}(): log_probs must be float32 or float64, got {log_probs.dtype}")
    if targets.dtype.is_floating_point or targets.dtype is _dt.bool_:
        raise DTypeError(f"{name}(): targets must be integers (int64 or int32), got {targets.dtype}")
    batched = log_probs.ndim == 3
    lp = log_probs if batched else log_probs.unsqueeze(1)
    T, N, C = lp.shape
    if not 0 <= blank < C:
        raise IndexOutOfRangeError(f"{name}(): blank={blank} must be a class index in [0, {C}) for log_probs "
                                   f"of shape {tuple(log_probs.shape)}")
    ins = _lengths(name, "input_lengths", input_lengths, N, batched)
    outs = _lengths(name, "target_lengths", target_lengths, N, batched)
    if max(ins, default=0) > T:
        raise ArgumentError(f"{name}(): input_lengths {ins} must be at most T={T} (log_probs of shape "
                            f"{tuple(log_probs.shape)})")
    host = np.asarray(targets.cpu().numpy() if targets.device.type != "cpu" else targets.numpy(), np.int64)
    padded = targets.ndim == 2 or not batched
    if padded:
        if targets.ndim != (2 if batched else 1) or (batched and targets.shape[0] != N):
            want = f"({N}, S) or a 1-D concatenation" if batched else "(S,)"
            raise ShapeError(f"{name}(): expected targets of shape {want} for log_probs of shape "
                             f"{tuple(log_probs.shape)}, got {tuple(targets.shape)}")
        rows = host.reshape(N, -1)
        if max(outs, default=0) > rows.shape[1]:
            raise ShapeError(f"{name}(): target_lengths {outs} exceed the padded targets' length {rows.shape[1]} "
                             f"(targets of shape {tuple(targets.shape)})")
        flat, offsets = rows.reshape(-1), [n * rows.shape[1] for n in range(N)]
    else:
        if targets.ndim != 1:
            raise ShapeError(f"{name}(): expected padded targets (N, S) or a 1-D concatenation, got "
                             f"{tuple(targets.shape)}")
        if sum(outs) > targets.shape[0]:
            raise ShapeError(f"{name}(): target_lengths sum to {sum(outs)} but the concatenated targets hold "
                             f"{targets.shape[0]}")
        flat, offsets = host, [int(v) for v in np.concatenate([[0], np.cumsum(outs)[:-1]])] if N else []
    c = _Ctc(lp, batched, flat, offsets, ins, outs, int(blank))
    used = np.concatenate([c.labels(n) for n in range(N)]) if N else np.zeros(0, np.int64)
    if used.size and (used.min() < 0 or used.max() >= C):
        bad = int(used.min() if used.min() < 0 else used.max())
        raise IndexOutOfRangeError(f"{name}(): target {bad} is out of bounds for {C} classes (log_probs of shape "
                                   f"{tuple(log_probs.shape)})")
    return c


def _device_args(c: _Ctc) -> tuple:
    """Targets, offsets and lengths as int64 tensors on the input's device (what the kernels read)."""
    dev = c.log_probs.device

    def put(values):
        t = Tensor._wrap(np.ascontiguousarray(np.asarray(values, np.int64).reshape(-1)), _dt.int64)
        return t if dev.type == "cpu" else t.to(dev)

    return put(c.flat if c.flat.size else [0]), put(c.offsets), put(c.input_lengths), put(c.target_lengths)


# ----------------------------------------------------------------------------------------------
# NumPy references
# ----------------------------------------------------------------------------------------------

def _extended(labels: np.ndarray, blank: int) -> tuple[np.ndarray, np.ndarray]:
    """The extended label sequence and, per state, whether it may be entered from two states back."""
    ext = np.full(2 * len(labels) + 1, blank, np.int64)
    ext[1::2] = labels
    skip = np.zeros(len(ext), bool)
    skip[3::2] = labels[1:] != labels[:-1]
    return ext, skip


def _shifted(x: np.ndarray, by: int) -> np.ndarray:
    out = np.full_like(x, -np.inf)
    if by > 0:
        out[by:] = x[:-by]
    else:
        out[:by] = x[-by:]
    return out


def _alphas(lp: np.ndarray, ext: np.ndarray, skip: np.ndarray, Tn: int) -> np.ndarray:
    """alpha ``(Tn, 2S + 1)``: log-probability of the prefixes ending in each state at each frame."""
    alpha = np.full((Tn, len(ext)), -np.inf, lp.dtype)
    if Tn == 0:
        return alpha
    alpha[0, :2] = lp[0, ext[:2]]
    for t in range(1, Tn):
        prev = alpha[t - 1]
        two = np.where(skip, _shifted(prev, 2), -np.inf)
        alpha[t] = np.logaddexp(np.logaddexp(prev, _shifted(prev, 1)), two) + lp[t, ext]
    return alpha


def _betas(lp: np.ndarray, ext: np.ndarray, skip: np.ndarray, Tn: int) -> np.ndarray:
    """beta ``(Tn, 2S + 1)``: log-probability of the suffixes from each state (this frame included)."""
    beta = np.full((Tn, len(ext)), -np.inf, lp.dtype)
    if Tn == 0:
        return beta
    beta[Tn - 1, -2:] = lp[Tn - 1, ext[-2:]]
    skip_out = _shifted(skip.astype(float), -2) > 0
    for t in range(Tn - 2, -1, -1):
        nxt = beta[t + 1]
        two = np.where(skip_out, _shifted(nxt, -2), -np.inf)
        beta[t] = np.logaddexp(np.logaddexp(nxt, _shifted(nxt, -1)), two) + lp[t, ext]
    return beta


def _log_likelihood(alpha: np.ndarray, Sn: int) -> float:
    if len(alpha) == 0:
        return 0.0 if Sn == 0 else -np.inf
    return np.logaddexp.reduce(alpha[-1, -2:]) if Sn else alpha[-1, -1]


def _reduce(ns_sum, nll, target_lengths, reduction: str):
    if reduction == "none":
        return nll
    if reduction == "sum":
        return ns_sum(nll)
    return ns_sum(nll / np.maximum(np.asarray(target_lengths, nll.dtype), 1)) / len(nll)


def _reference_nll(lp: np.ndarray, c: _Ctc) -> np.ndarray:
    nll = np.empty(lp.shape[1], lp.dtype)
    for n in range(lp.shape[1]):
        ext, skip = _extended(c.labels(n), c.blank)
        nll[n] = -_log_likelihood(_alphas(lp[:, n], ext, skip, c.input_lengths[n]), c.target_lengths[n])
    return nll


def _reference_ctc(lp: np.ndarray, c: _Ctc, reduction: str, zero_infinity: bool):
    nll = _reference_nll(lp, c)
    if zero_infinity:
        nll = np.where(nll == np.inf, 0, nll).astype(lp.dtype)
    out = _reduce(lambda x: np.asarray(np.sum(x)), nll, c.target_lengths, reduction)
    return out if c.batched or reduction != "none" else out.reshape(())


def _reference_ctc_backward(g: np.ndarray, lp: np.ndarray, c: _Ctc, zero_infinity: bool) -> np.ndarray:
    T, N, C = lp.shape
    out = np.zeros_like(lp)
    for n in range(N):
        Tn = c.input_lengths[n]
        ext, skip = _extended(c.labels(n), c.blank)
        alpha, beta = _alphas(lp[:, n], ext, skip, Tn), _betas(lp[:, n], ext, skip, Tn)
        nll = -_log_likelihood(alpha, c.target_lengths[n])
        if zero_infinity and nll == np.inf:
            continue
        both = alpha + beta
        for k in range(C):
            lse = np.logaddexp.reduce(np.where(ext == k, both, -np.inf), axis=1) if Tn else np.zeros(0)
            grad = -g[n] * np.exp(lse + nll - lp[:Tn, n, k])
            out[:Tn, n, k] = np.where((lse == -np.inf) & (nll < np.inf), 0.0, grad)
    return out


# ----------------------------------------------------------------------------------------------
# The recursion written with framework ops (recorded: differentiable to any order)
# ----------------------------------------------------------------------------------------------

def _states_table(c: _Ctc):
    """Per element and state: class, inside the sequence, enterable from two back, final state."""
    N, width = len(c.offsets), 2 * c.max_target + 1
    ext = np.full((N, width), c.blank, np.int64)
    valid, skip, ends = (np.zeros((N, width), bool) for _ in range(3))
    for n in range(N):
        e, k = _extended(c.labels(n), c.blank)
        ext[n, :len(e)], skip[n, :len(e)], valid[n, :len(e)] = e, k, True
        ends[n, max(len(e) - 2, 0):len(e)] = True
    return ext, valid, skip, ends


def _lse(x: Tensor, dim: int) -> Tensor:
    """log-sum-exp from exp, sum and log (the max is a constant shift), so every order of derivative
    is that of those ops."""
    top = call("amax", x.detach(), dim, True)
    return (call("log", call("sum", call("exp", x - top), dim, True)) + top).squeeze(dim)


def _formula_nll(lp: Tensor, c: _Ctc, zero_infinity: bool) -> Tensor:
    """Per-element negative log-likelihoods ``(N,)`` of ``lp`` ``(T, N, C)``, as recorded ops."""
    T, N, _ = lp.shape
    dev = lp.device
    put = lambda a: Tensor._wrap(np.ascontiguousarray(a), _dt.as_dtype(a.dtype)).to(dev)  # noqa: E731
    ext, valid, skip, ends = (put(a) for a in _states_table(c))
    width = ext.shape[1]
    steps = max(c.input_lengths, default=0)
    neg = full((N, width), NEG, dtype=lp.dtype, device=dev)
    emit = call("clamp", call("gather", lp, 2, ext.unsqueeze(0).expand(T, N, width)), min=NEG) if T else None
    states = np.arange(width)[None, :].repeat(N, 0)
    back1, back2 = put(np.maximum(states - 1, 0)), put(np.maximum(states - 2, 0))
    has1 = put(states >= 1)
    # Shifts and frames are gathered and index_select-ed, never sliced: third derivatives through
    # several views of one non-leaf tensor come out wrong in the autograd engine today.
    alpha = put(np.where(states == 0, 0.0, NEG).astype(lp.dtype.np))  # a virtual frame before the first
    for t in range(steps):
        one = call("where", has1, call("gather", alpha, 1, back1), neg)
        two = call("where", skip, call("gather", alpha, 1, back2), neg)
        frame = call("index_select", emit, 0, put(np.asarray([t]))).reshape((N, width))
        step = _lse(call("stack", [alpha, one, two]), 0) + frame
        live = put(np.asarray([[t < Tn] for Tn in c.input_lengths]))
        alpha = call("where", call("logical_and", valid, live), step, alpha)
    ll = _lse(call("where", ends, alpha, neg), 1)
    no_frames = np.asarray([Tn == 0 for Tn in c.input_lengths])
    if no_frames.any():
        empty = np.where(np.asarray(c.target_lengths) == 0, 0.0, NEG).astype(lp.dtype.np)
        ll = call("where", put(no_frames), put(empty), ll)
    nll = -ll
    impossible = call("lt", ll, NEG / 2)  # an impossible alignment leaves ll near NEG
    if zero_infinity:
        return call("where", impossible, zeros_like(nll), nll)
    # NaN derivatives for an impossible alignment (the kernel and PyTorch make every class NaN; here the
    # classes of its target)
    return nll * call("where", impossible, float("nan"), 1.0)


def _per_element(grad: Tensor, c: _Ctc, reduction: str) -> Tensor:
    """The upstream gradient of each element's loss ``(N,)``."""
    N = len(c.offsets)
    if reduction == "none":
        return grad.reshape((N,))
    if reduction == "sum":
        return grad.reshape(()).expand((N,))
    scale = 1.0 / (N * np.maximum(np.asarray(c.target_lengths, np.float64), 1))
    return grad.reshape(()) * Tensor._wrap(scale.astype(grad.dtype.np), grad.dtype).to(grad.device)


def _leaf(x: Tensor, create: bool) -> Tensor:
    return x if create and x.requires_grad else x.detach().requires_grad_()


# ----------------------------------------------------------------------------------------------
# ctc_loss
# ----------------------------------------------------------------------------------------------

def ctc_loss(op: Op, log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Connectionist Temporal Classification loss, as ``torch.nn.functional.ctc_loss``.

    ``log_probs`` ``(T, N, C)`` or unbatched ``(T, C)`` (log-probabilities, usually from
    ``log_softmax``); ``targets`` padded ``(N, S)`` or the ``N`` label sequences concatenated
    ``(sum(target_lengths),)`` (int64 or int32, never the blank); ``input_lengths`` and
    ``target_lengths`` as tensors or sequences of ints. ``reduction='mean'`` divides each element's
    loss by its target length, then averages over the batch. An impossible alignment (a target too
    long for its input) gives ``inf``, or 0 with a zero gradient under ``zero_infinity=True``.

    The gradient with respect to ``log_probs`` is the true derivative (``-posterior``), where
    PyTorch's is ``exp(log_probs) - posterior``; through ``log_softmax`` both give the same logits
    gradient (see the module docstring).

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> lp = nr.tensor([[0.6, 0.4], [0.3, 0.7], [0.5, 0.5]]).log().unsqueeze(1)   # T=3, N=1, C=2
        >>> round(call("ctc_loss", lp, nr.tensor([[1]]), nr.tensor([3]), nr.tensor([1])).item(), 4)
        0.1625
        >>> call("ctc_loss", lp[:2], nr.tensor([1, 1]), [2], [2], reduction="none").tolist()  # needs 3 frames
        [inf]
    """
    _check_reduction(op.name, reduction)
    c = _parse(op.name, log_probs, targets, input_lengths, target_lengths, blank)
    if _is_reference(log_probs):
        lp = c.log_probs._np().astype(np.float64 if log_probs.dtype is _dt.float64 else np.float32)
        return _finish(backends.run_reference(op.reference, lp, c, reduction, bool(zero_infinity)), log_probs.dtype)
    nll = op.launcher()(c.log_probs, *_device_args(c), c.max_target, c.blank)
    if zero_infinity:
        nll = call("where", call("eq", nll, float("inf")), zeros_like(nll), nll)
    if reduction == "none":
        out = nll if c.batched else nll.reshape(())
    elif reduction == "sum":
        out = call("sum", nll)
    else:
        out = call("sum", nll / _lengths_tensor(c, nll)) / len(c.offsets)
    return _finish(out, log_probs.dtype)


def _lengths_tensor(c: _Ctc, like: Tensor) -> Tensor:
    clamped = np.maximum(np.asarray(c.target_lengths, like.dtype.np), 1)
    return Tensor._wrap(np.ascontiguousarray(clamped), like.dtype).to(like.device)


def _ctc_backward(grad, needs_input_grad, log_probs, targets, input_lengths, target_lengths, blank, reduction,
                  zero_infinity):
    from neurarust.autograd import grad_mode

    c = _parse("ctc_loss", log_probs, targets, input_lengths, target_lengths, blank)
    if grad_mode.is_grad_enabled():  # create_graph: the recorded recursion, differentiable again
        from neurarust import autograd

        lp = _leaf(log_probs, True)
        with grad_mode.enable_grad():
            nll = _formula_nll(lp if c.batched else lp.unsqueeze(1), c, bool(zero_infinity))
            weights = _per_element(grad, c, reduction)
            (got,) = autograd.grad(call("sum", nll * weights), [lp], create_graph=True)
        return (got,)
    weights = _per_element(grad, c, reduction)
    return (call("ctc_loss_backward", weights if c.batched else weights.reshape(()), log_probs, targets,
                 input_lengths, target_lengths, blank, zero_infinity),)


def _torch_ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
                    zero_infinity=False):
    """The oracle: PyTorch's ctc_loss (same values), its gradient turned into the true derivative with
    respect to ``log_probs`` by removing the ``exp(log_probs)`` term of its backward (a term of value 0
    whose gradient is ``-exp(log_probs)`` over each element's frames)."""
    import torch
    import torch.nn.functional as F

    batched = log_probs.dim() == 3
    lp = log_probs if batched else log_probs.unsqueeze(1)
    tg = targets if batched else targets.unsqueeze(0)
    nll = F.ctc_loss(lp, tg, input_lengths, target_lengths, blank, "none", zero_infinity).reshape(-1)
    possible = torch.isfinite(F.ctc_loss(lp.detach(), tg, input_lengths, target_lengths, blank, "none").reshape(-1))
    ins = torch.as_tensor(input_lengths).reshape(-1)
    frames = (torch.arange(lp.shape[0])[:, None] < ins[None, :]) & possible[None, :]
    k = torch.where(frames[:, :, None], lp.exp(), 0).sum((0, 2))
    nll = nll - (k - k.detach())
    if reduction == "none":
        return nll if batched else nll.reshape(())
    if reduction == "sum":
        return nll.sum()
    return (nll / torch.as_tensor(target_lengths).reshape(-1).clamp_min(1).to(nll.dtype)).mean()


# ----------------------------------------------------------------------------------------------
# ctc_loss_backward: the internal op the derivative calls
# ----------------------------------------------------------------------------------------------

def ctc_loss_backward(op: Op, grad_output: Tensor, log_probs: Tensor, targets: Tensor, input_lengths,
                      target_lengths, blank: int = 0, zero_infinity: bool = False) -> Tensor:
    """``d (sum_n grad_output[n] * nll[n]) / d log_probs``: minus each frame's class posterior over all
    alignments, ``-grad_output[n] * exp(log_alpha + log_beta - log_probs + nll)`` summed over the
    states of each class; 0 past an element's input length and, under ``zero_infinity``, for an
    impossible alignment. ``grad_output`` is ``(N,)`` (``()`` for unbatched ``(T, C)`` input).

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> lp = nr.full((1, 1, 2), 0.5).log()
        >>> call("ctc_loss_backward", nr.tensor([1.0]), lp, nr.tensor([[1]]), [1], [1]).tolist()
        [[[0.0, -1.0]]]
    """
    c = _parse(op.name, log_probs, targets, input_lengths, target_lengths, blank)
    _check_tensors(op.name, {"grad_output": grad_output, "log_probs": log_probs}, ("grad_output",))
    want = (len(c.offsets),) if c.batched else ()
    if tuple(grad_output.shape) != want:
        raise ShapeError(f"{op.name}(): grad_output must have shape {want} for log_probs of shape "
                         f"{tuple(log_probs.shape)}, got {tuple(grad_output.shape)}")
    acc = np.float64 if log_probs.dtype is _dt.float64 else np.float32
    if _is_reference(log_probs):
        g = grad_output._np().astype(acc).reshape(-1)
        r = backends.run_reference(op.reference, g, c.log_probs._np().astype(acc), c, bool(zero_infinity))
        return _finish(r if c.batched else r[:, 0], log_probs.dtype)
    out = Tensor._empty(tuple(c.log_probs.shape), log_probs.dtype, log_probs.device)
    g = grad_output.reshape((-1,))
    g = g if g.dtype.np == acc else call("cast", g, _dt.as_dtype(acc))
    op.launcher()(out, g, c.log_probs, *_device_args(c), c.max_target, c.blank, bool(zero_infinity))
    return out if c.batched else out[:, 0]


def _ctc_backward_backward(grad, needs_input_grad, grad_output, log_probs, targets, input_lengths, target_lengths,
                           blank, zero_infinity):
    """The derivative of ``ctc_loss_backward``: a Hessian-vector product of the recorded recursion."""
    from neurarust import autograd
    from neurarust.autograd import grad_mode

    c = _parse("ctc_loss_backward", log_probs, targets, input_lengths, target_lengths, blank)
    args = (targets, input_lengths, target_lengths, blank, zero_infinity)
    d_go = d_lp = None
    if needs_input_grad[0]:  # linear in grad_output: the unit-weight gradient, contracted with grad
        unit = call("ctc_loss_backward", ones_like(grad_output), log_probs, *args)
        d_go = call("sum", grad * unit, (0, 2) if c.batched else (0, 1))
    if needs_input_grad[1]:
        create = grad_mode.is_grad_enabled()
        lp = _leaf(log_probs, create)
        with grad_mode.enable_grad():
            nll = _formula_nll(lp if c.batched else lp.unsqueeze(1), c, bool(zero_infinity))
            (inner,) = autograd.grad(call("sum", nll * grad_output.reshape((-1,))), [lp], create_graph=True)
            (d_lp,) = autograd.grad(inner, [lp], grad, create_graph=create)
    return d_go, d_lp


def _torch_ctc_loss_backward(grad_output, log_probs, targets, input_lengths, target_lengths, blank=0,
                             zero_infinity=False):
    """The oracle: PyTorch's ctc_loss gradient (made the true derivative, see :func:`_torch_ctc_loss`).
    PyTorch cannot differentiate its ctc backward again, so the derivative of this result comes from
    torch autograd through the alpha recursion written in torch ops (its value adds exactly 0)."""
    import torch

    lp = log_probs.detach().requires_grad_()
    with torch.enable_grad():
        nll = _torch_ctc_loss(lp, targets, input_lengths, target_lengths, blank, "none", zero_infinity)
        (got,) = torch.autograd.grad(nll, lp, grad_output.detach())
    if not (log_probs.requires_grad or grad_output.requires_grad):
        return got
    nll = _torch_recursion_nll(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity)
    (smooth,) = torch.autograd.grad(nll, log_probs, grad_output, create_graph=True)
    return got + (smooth - smooth.detach())


def _torch_recursion_nll(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
    """Per-element nll from the alpha recursion in plain torch ops (finite NEG for log 0)."""
    import torch

    batched = log_probs.dim() == 3
    lp = log_probs if batched else log_probs.unsqueeze(1)
    ins = [int(v) for v in torch.as_tensor(input_lengths).reshape(-1)]
    outs = [int(v) for v in torch.as_tensor(target_lengths).reshape(-1)]
    tg = targets if batched else targets.unsqueeze(0)
    starts = [sum(outs[:n]) for n in range(len(outs))]
    losses = []
    for n, (Tn, Sn) in enumerate(zip(ins, outs)):
        labels = tg[n, :Sn] if tg.dim() == 2 else tg[starts[n]:starts[n] + Sn]
        ext, skip = _extended(labels.numpy(), blank)
        ext_t, skip_t = torch.from_numpy(ext), torch.from_numpy(skip)
        neg = torch.full((len(ext),), NEG, dtype=lp.dtype)
        alpha = torch.where(torch.arange(len(ext)) == 0, 0.0, NEG).to(lp.dtype)
        for t in range(Tn):
            one = torch.cat([neg[:1], alpha[:-1]])
            two = torch.where(skip_t, torch.cat([neg[:2], alpha[:-2]])[:len(ext)], neg)
            alpha = torch.logsumexp(torch.stack([alpha, one, two]), 0) + lp[t, n, ext_t].clamp_min(NEG)
        ll = torch.logsumexp(alpha[-2:], 0) if Tn else torch.tensor(0.0 if Sn == 0 else NEG, dtype=lp.dtype)
        losses.append(torch.where(torch.logical_and(ll < NEG / 2, torch.tensor(zero_infinity)), 0.0, -ll))
    nll = torch.stack(losses)
    return nll if batched else nll.reshape(())


# ----------------------------------------------------------------------------------------------
# Samples and errors
# ----------------------------------------------------------------------------------------------

def _log_probs(d, shape, seed):
    x = S.values(d, shape, seed)
    top = x.max(-1, keepdims=True)
    lp = x - top - np.log(np.exp(x - top).sum(-1, keepdims=True))
    return lp.astype(d.np).astype(np.float64)


def _ctc_samples(d):
    """Small alignments (gradcheck takes the first two): padded and concatenated targets, repeated
    labels, each reduction, lengths as tensors and tuples, a strided input, impossible and empty ones."""
    yield Sample((_log_probs(d, (5, 2, 4), 0), ix([[1, 2], [3, 3]]), ix([5, 4]), ix([2, 2])), name="padded_mean")
    yield Sample((_log_probs(d, (4, 2, 3), 1), ix([1, 2, 2]), (4, 3), (2, 1)), {"reduction": "sum", "blank": 0},
                 name="concatenated_sum")
    yield Sample((_log_probs(d, (6, 3, 5), 2), ix([[4, 1, 1], [2, 0, 0], [1, 3, 2]]), (6, 3, 5), (3, 1, 2)),
                 {"reduction": "none", "blank": 0}, name="repeats_none")
    yield Sample((S.TensorSpec(_log_probs(d, (5, 2, 4), 3)), ix([[0, 1], [2, 0]]), (5, 5), (2, 2)),
                 {"blank": 3}, name="blank_last_strided")
    yield Sample((_log_probs(d, (6, 4), 4), ix([1, 2, 1]), (6,), (3,)), {"reduction": "none"}, name="unbatched")
    yield Sample((_log_probs(d, (3, 2, 3), 5), ix([[1, 1, 1], [2, 0, 0]]), (3, 3), (3, 1)), {"reduction": "none"},
                 name="impossible_inf")
    yield Sample((_log_probs(d, (3, 2, 3), 6), ix([[1, 1, 1], [2, 0, 0]]), (3, 3), (3, 1)),
                 {"zero_infinity": True, "reduction": "none"}, name="zero_infinity")
    yield Sample((_log_probs(d, (4, 2, 3), 7), ix([[1, 2], [1, 2]]), (0, 4), (0, 0)), {"reduction": "none"},
                 name="empty_input_and_target")


def _ctc_errors():
    lp = np.log(np.full((4, 2, 3), 1 / 3))
    good = (lp, ix([[1, 2], [1, 1]]), (4, 4), (2, 2))
    yield ErrorInput(Sample((lp[0, 0],) + good[1:]), ShapeError, r"\(T, N, C\) or \(T, C\), got \(3,\)")
    yield ErrorInput(Sample((lp, good[1], (5, 4), good[3])), ArgumentError, "at most T=4")
    yield ErrorInput(Sample((lp, good[1], good[2], (3, 2))), ShapeError, "exceed the padded targets' length 2")
    yield ErrorInput(Sample(good, {"blank": 3}), IndexOutOfRangeError, r"blank=3 .* \[0, 3\)")
    yield ErrorInput(Sample((lp, ix([[1, 5], [1, 1]]), (4, 4), (2, 2))), IndexOutOfRangeError, "target 5")
    yield ErrorInput(Sample((lp, good[1], (4,), good[3])), ShapeError, "one length per batch element")
    yield ErrorInput(Sample((lp, ix([1, 2, 1]), (4, 4), (2, 2))), ShapeError, "sum to 4")
    yield ErrorInput(Sample(good, {"reduction": "avg"}), ArgumentError, "reduction")


def _backward_samples(d):
    for i, s in enumerate(_ctc_samples(d)):
        lp = S.array_of(s.args[0])
        g = S.values(d, lp.shape[1:2] if lp.ndim == 3 else (), 40 + i)
        kw = {k: v for k, v in s.kwargs.items() if k != "reduction"}
        yield Sample((g,) + s.args, kw, s.name)


def _backward_errors():
    lp = np.log(np.full((4, 2, 3), 1 / 3))
    yield ErrorInput(Sample((np.ones(3), lp, ix([[1, 2], [1, 1]]), (4, 4), (2, 2))), ShapeError, "grad_output")


def _cost(sample: Sample) -> tuple[int, int]:
    """log_probs read once (its emissions once per state); ~10 FLOPs per state and frame."""
    arrays = [S.array_of(a) for a in sample.args if isinstance(a, (np.ndarray, S.TensorSpec))]
    lp = next(a for a in arrays if a.ndim >= 2 and a.dtype.kind == "f")
    targets = next(a for a in arrays if a.dtype.kind in "iu")
    T, N = lp.shape[0], (lp.shape[1] if lp.ndim == 3 else 1)
    states = 2 * targets.size // max(N, 1) + 1
    return lp.nbytes + targets.nbytes, 10 * T * N * states


# ----------------------------------------------------------------------------------------------
# Registration
# ----------------------------------------------------------------------------------------------

_TOLERANCES = {_dt.float32: (2e-5, 2e-5)}

register(Op(
    name="ctc_loss", kind="loss", frontend=ctc_loss, reference=_reference_ctc, triton=TRITON_FORWARD,
    dtypes=DTYPES, samples=_ctc_samples, error_inputs=_ctc_errors, tolerances=dict(_TOLERANCES), cost=_cost,
    method=False, torch_name=_torch_ctc_loss, attrs={"public": False}, differentiable=("log_probs",),
    backward=_ctc_backward))
register(Op(
    name="ctc_loss_backward", kind="loss", frontend=ctc_loss_backward, reference=_reference_ctc_backward,
    triton=TRITON_BACKWARD, dtypes=DTYPES, samples=_backward_samples, error_inputs=_backward_errors,
    tolerances=dict(_TOLERANCES), cost=_cost, method=False, torch_name=_torch_ctc_loss_backward,
    attrs={"public": False}, differentiable=("grad_output", "log_probs"), backward=_ctc_backward_backward))
# PyTorch's CPU autocast runs ctc_loss in float32 (its CUDA lists leave it out).
autocast_class(("ctc_loss",), cpu="fp32")
