"""Normalization: layer_norm, rms_norm, group_norm and batch_norm as fused Triton kernels, forward and
backward (``norm_triton.py``). instance_norm is group_norm with one channel per group.

Each forward entry returns ``(output, mean, rstd)`` (rms_norm: ``(output, rstd)``), as PyTorch's
``native_layer_norm``/``native_batch_norm``: the statistics (fp32, fp64 for fp64 inputs) are what
the backward needs, so it never recomputes them. The backward entries (``layer_norm_backward``,
``set_norm_backward``, internal) run one fused kernel that writes ``grad_input`` and per-program
partial sums of ``grad_weight``/``grad_bias``, reduced afterwards by ``sum``. Their own derivative
(double backward) is that of the same formula written with public ops. ``neurarust.nn.functional``
exposes PyTorch's ``layer_norm``, ``rms_norm``, ``group_norm``, ``batch_norm``, ``instance_norm``.

    >>> import neurarust as nr
    >>> from neurarust.registry import call
    >>> out, mean, rstd = call("native_layer_norm", nr.tensor([[1.0, 3.0]]), [2])
    >>> [round(v, 4) for v in out[0].tolist()], mean.tolist()
    ([-1.0, 1.0], [[2.0]])
"""
from __future__ import annotations

import inspect
import math

import numpy as np

from neurarust import backends
from neurarust import dtype as _dt
from neurarust.errors import ArgumentError, DeviceError, DTypeError, ShapeError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, autocast_class, call, register
from neurarust.tensor import Tensor

from . import samples as S

TRITON = "neurarust.kernels.norm_triton:"
FLOATS = _dt.FLOAT_DTYPES
TOLERANCES = {_dt.float16: (4e-3, 4e-3), _dt.bfloat16: (3e-2, 3e-2), _dt.float32: (1e-5, 1e-5)}


def _acc(d: _dt.DType) -> _dt.DType:
    return _dt.float64 if d is _dt.float64 else _dt.float32


def _is_reference(t: Tensor) -> bool:
    return backends.for_device(t._storage.device) == "reference"


def _wrap(a: np.ndarray, d: _dt.DType, shape: tuple | None = None) -> Tensor:
    """A reference result as a tensor (of ``shape``, if given): adopted when it is a fresh C-contiguous
    array of the dtype (it owns its memory, so it is no input's view), else copied once."""
    a = np.asarray(a)
    if not (a.flags.owndata and a.flags.c_contiguous and a.dtype == d.np):
        a = np.array(a, dtype=d.np, order="C")
    return Tensor._wrap(a if shape is None else a.reshape(shape), d)


def _check(name: str, input, tensors: dict) -> None:
    if not isinstance(input, Tensor):
        raise SignatureError(f"{name}(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if not input.dtype.is_floating_point:
        raise DTypeError(f"{name}(): expected a floating point input, got {input.dtype}")
    for what, t in tensors.items():
        if t is not None and not isinstance(t, Tensor):
            raise SignatureError(f"{name}(): argument '{what}' must be a Tensor or None, not {type(t).__name__}")
        if t is not None and t.device != input.device:
            raise DeviceError(f"{name}(): '{what}' is on {t.device}, the input on {input.device}")


def _flat(t, shape) -> Tensor | None:
    return None if t is None else t.contiguous().reshape(shape)


def _np(t, acc) -> np.ndarray | None:
    return None if t is None else t._np().astype(acc.np, copy=False)   # read only: no copy when already wide


# ----------------------------------------------------------------------------------------------
# Row norms: layer_norm and rms_norm
# ----------------------------------------------------------------------------------------------

def _normalized(name: str, input: Tensor, normalized_shape, tensors: dict) -> tuple[int, tuple]:
    """(number of trailing dims, normalized shape), checked against the input, weight and bias."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(int(s) for s in normalized_shape)
    k = len(shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != shape or k > input.ndim:
        raise ShapeError(f"{name}(): normalized_shape {list(shape)} does not match the trailing dims of an input "
                         f"of shape {list(input.shape)}")
    for what, t in tensors.items():
        if t is not None and tuple(t.shape) != shape:
            raise ShapeError(f"{name}(): expected {what} of shape {list(shape)}, got {list(t.shape)}")
    return k, shape


def _ref_row_norm(x, w, b, eps, rms):
    """(y, mean or None, rstd) of rows ``x`` (M, N) in the compute dtype: row sums as einsum, the
    output built in place in one new array."""
    N = x.shape[1]
    if not N:
        nan = np.full(x.shape[0], np.nan, x.dtype)
        return x + (0 if b is None else b), None if rms else nan.copy(), nan
    mean = None if rms else np.einsum("ij->i", x) / N
    y = x.copy() if rms else x - mean[:, None]
    rstd = np.einsum("ij,ij->i", y, y)
    rstd /= N
    rstd += eps
    np.sqrt(rstd, out=rstd)
    np.divide(1, rstd, out=rstd)
    y *= rstd[:, None]
    if w is not None:
        y *= w
    if b is not None:
        y += b
    return y, mean, rstd


def _row_norm(op: Op, input, normalized_shape, weight, bias, eps, rms: bool):
    _check(op.name, input, {"weight": weight, "bias": bias})
    k, shape = _normalized(op.name, input, normalized_shape, {"weight": weight, "bias": bias})
    if eps is None:
        eps = _dt.finfo(input.dtype).eps
    N = math.prod(shape)
    M = input.numel() // N if N else math.prod(input.shape[:input.ndim - k])
    stat_shape = tuple(input.shape[:input.ndim - k]) + (1,) * k
    acc = _acc(input.dtype)
    if _is_reference(input):
        x = _np(input, acc).reshape(M, N)
        w, b = (None if t is None else _np(t, acc).reshape(N) for t in (weight, bias))
        y, mean, rstd = backends.run_reference(op.reference, x, w, b, eps, rms)
        y = _wrap(y, input.dtype, tuple(input.shape))
        mean = None if mean is None else _wrap(mean, acc, stat_shape)
        rstd = _wrap(rstd, acc, stat_shape)
    else:
        y, mean, rstd = op.launcher()(input.contiguous().reshape((M, N)), _flat(weight, (N,)), _flat(bias, (N,)),
                                      eps, rms)
        y = y.reshape(tuple(input.shape))
        mean = None if mean is None else mean.reshape(stat_shape)
        rstd = rstd.reshape(stat_shape)
    return (y, rstd) if rms else (y, mean, rstd)


def native_layer_norm(op: Op, input: Tensor, normalized_shape, weight: Tensor | None = None,
                      bias: Tensor | None = None, eps: float = 1e-5) -> tuple[Tensor, Tensor, Tensor]:
    """``(output, mean, rstd)`` of layer normalization over the trailing ``normalized_shape`` dims,
    as ``torch.native_layer_norm``; ``mean``/``rstd`` keep the normalized dims as size 1.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> out, mean, rstd = call("native_layer_norm", nr.tensor([[0.0, 2.0], [1.0, 1.0]]), [2], eps=0.0)
        >>> out[0].tolist(), rstd[0, 0].item()
        ([-1.0, 1.0], 1.0)
    """
    return _row_norm(op, input, normalized_shape, weight, bias, eps, False)


def native_rms_norm(op: Op, input: Tensor, normalized_shape, weight: Tensor | None = None,
                    eps: float | None = None) -> tuple[Tensor, Tensor]:
    """``(output, rstd)`` of RMS normalization ``x / sqrt(mean(x**2) + eps) * weight`` over the
    trailing ``normalized_shape`` dims (``eps`` None: the dtype's machine epsilon, as ``torch.rms_norm``).

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> out, rstd = call("native_rms_norm", nr.tensor([[3.0, 4.0]]), [2], eps=0.0)
        >>> [round(v, 4) for v in out[0].tolist()]
        [0.8485, 1.1314]
    """
    return _row_norm(op, input, normalized_shape, weight, None, eps, True)


def layer_norm_backward(op: Op, grad_output: Tensor, input: Tensor, normalized_shape, mean: Tensor | None,
                        rstd: Tensor, weight: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """``(grad_input, grad_weight, grad_bias)`` of layer_norm (rms_norm when ``mean`` is None) from the
    forward's saved ``mean``/``rstd``: one fused kernel, the weight and bias sums from per-program
    partial rows.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> x = nr.tensor([[0.0, 2.0]])
        >>> gi, gw, gb = call("layer_norm_backward", nr.tensor([[1.0, 0.0]]), x, [2], nr.tensor([[1.0]]),
        ...                   nr.tensor([[1.0]]))
        >>> gi.tolist(), gw.tolist(), gb.tolist()
        ([[0.0, 0.0]], [-1.0, 0.0], [1.0, 0.0])
    """
    _check(op.name, input, {"grad_output": grad_output, "mean": mean, "rstd": rstd, "weight": weight})
    k, shape = _normalized(op.name, input, normalized_shape, {"weight": weight})
    if tuple(grad_output.shape) != tuple(input.shape):
        raise ShapeError(f"{op.name}(): grad_output of shape {list(grad_output.shape)} for an input of shape "
                         f"{list(input.shape)}")
    N = math.prod(shape)
    M = input.numel() // N if N else math.prod(input.shape[:input.ndim - k])
    acc = _acc(input.dtype)
    if _is_reference(input):
        r = backends.run_reference(op.reference, _np(grad_output, acc).reshape(M, N), _np(input, acc).reshape(M, N),
                                   None if mean is None else _np(mean, acc).reshape(M),
                                   _np(rstd, acc).reshape(M), None if weight is None else _np(weight, acc).reshape(N))
        return (_wrap(r[0], input.dtype, tuple(input.shape)), _wrap(r[1], input.dtype, shape),
                _wrap(r[2], input.dtype, shape))
    dx, partials = op.launcher()(grad_output.contiguous().reshape((M, N)), input.contiguous().reshape((M, N)),
                                 _flat(mean, (M,)), _flat(rstd, (M,)), _flat(weight, (N,)))
    # Both partial sums in one reduction; one program's partial row is already the sum.
    sums = partials[:, 0] if partials.shape[1] == 1 else call("sum", partials, 1)
    dw, db = sums.to(input.dtype)
    return dx.reshape(tuple(input.shape)), dw.reshape(shape), db.reshape(shape)


def _ref_row_norm_backward(dy, x, mean, rstd, w):
    """dx = rstd (w dy - c1) - rstd c2 xhat, with the row means ``c1`` of ``w dy`` (0 for rms_norm) and
    ``c2`` of ``w dy xhat``; dw, db the column sums of ``dy xhat`` and ``dy``."""
    N = x.shape[1]
    xhat = x * rstd[:, None] if mean is None else x - mean[:, None]
    if mean is not None:
        xhat *= rstd[:, None]
    dw, db = np.einsum("ij,ij->j", dy, xhat), np.einsum("ij->j", dy)
    if not N:
        return xhat, dw, db
    dx = dy * w if w is not None else dy.copy()       # w dy, turned into dx in place
    c2 = np.einsum("ij,ij->i", dx, xhat)
    c2 *= rstd / N
    xhat *= c2[:, None]
    if mean is not None:
        dx -= (np.einsum("ij->i", dx) / N)[:, None]
    dx *= rstd[:, None]
    dx -= xhat
    return dx, dw, db


# ----------------------------------------------------------------------------------------------
# Set norms: group_norm and batch_norm, on the input seen as (N, C, S)
# ----------------------------------------------------------------------------------------------

def _ncs(name: str, input: Tensor) -> tuple[int, int, int]:
    if input.ndim < 2:
        raise ShapeError(f"{name}(): expected an input of at least 2 dims (N, C, ...), got shape {list(input.shape)}")
    N, C = input.shape[0], input.shape[1]
    return N, C, math.prod(input.shape[2:])


def _channel_tensors(name: str, C: int, tensors: dict) -> None:
    for what, t in tensors.items():
        if t is not None and tuple(t.shape) != (C,):
            raise ShapeError(f"{name}(): expected {what} of shape [{C}] (one per channel), got {list(t.shape)}")


def _ref_set_stats(x3, groups):
    """mean and rstd-less variance per set: (N, G) for groups, (C,) for batch norm (groups None)."""
    if groups is None:
        return np.mean(x3, axis=(0, 2)), np.var(x3, axis=(0, 2))
    g = x3.reshape(x3.shape[0], groups, -1)
    return np.mean(g, axis=2), np.var(g, axis=2)


def _per_element(stat, x3, groups):
    """A per-set statistic broadcast to (N, C, S)."""
    N, C, _ = x3.shape
    if groups is None:
        return stat.reshape(1, C, 1)
    return np.repeat(stat, C // groups, axis=1).reshape(N, C, 1)


def _ref_set_norm(x3, w, b, mean, rstd, eps, groups):
    if mean is None:
        mean, var = _ref_set_stats(x3, groups)
        rstd = 1 / np.sqrt(var + eps)
    y = (x3 - _per_element(mean, x3, groups)) * _per_element(rstd, x3, groups)
    y = y * w.reshape(1, -1, 1) if w is not None else y
    return (y + b.reshape(1, -1, 1) if b is not None else y), mean, rstd


def _set_forward(op: Op, input, weight, bias, mean, rstd, eps, groups):
    """(y, mean, rstd) with statistics computed (``mean`` None) or given (one per set)."""
    N, C, S_ = _ncs(op.name, input)
    acc = _acc(input.dtype)
    if _is_reference(input):
        x3 = _np(input, acc).reshape(N, C, S_)
        y, mean_a, rstd_a = backends.run_reference(op.reference, x3, _np(weight, acc), _np(bias, acc),
                                                   _np(mean, acc), _np(rstd, acc), eps, groups)
        return _wrap(y.reshape(tuple(input.shape)), input.dtype), _wrap(mean_a, acc), _wrap(rstd_a, acc)
    if mean is not None:
        mean, rstd = (call("cast", t, acc).contiguous() for t in (mean, rstd))
    y, mean, rstd = op.launcher()(input.contiguous().reshape((N, C, S_)), _flat(weight, (C,)), _flat(bias, (C,)),
                                  mean, rstd, eps, groups)
    stat = (N, groups) if groups is not None else (C,)
    return y.reshape(tuple(input.shape)), mean.reshape(stat), rstd.reshape(stat)


def native_group_norm(op: Op, input: Tensor, num_groups: int, weight: Tensor | None = None,
                      bias: Tensor | None = None, eps: float = 1e-5) -> tuple[Tensor, Tensor, Tensor]:
    """``(output, mean, rstd)`` of group normalization of ``input`` ``(N, C, ...)`` over ``num_groups``
    groups of channels, with a per-channel affine; ``mean``/``rstd`` are ``(N, num_groups)``.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> out, mean, rstd = call("native_group_norm", nr.tensor([[[0.0, 2.0], [4.0, 6.0]]]), 2, eps=0.0)
        >>> out.tolist(), mean.tolist()
        ([[[-1.0, 1.0], [-1.0, 1.0]]], [[1.0, 5.0]])
    """
    _check(op.name, input, {"weight": weight, "bias": bias})
    N, C, _ = _ncs(op.name, input)
    if not isinstance(num_groups, int) or num_groups <= 0 or C % num_groups:
        raise ArgumentError(f"{op.name}(): expected the {C} channels to divide into num_groups={num_groups} groups")
    _channel_tensors(op.name, C, {"weight": weight, "bias": bias})
    return _set_forward(op, input, weight, bias, None, None, eps, num_groups)


def native_batch_norm(op: Op, input: Tensor, weight: Tensor | None, bias: Tensor | None,
                      running_mean: Tensor | None, running_var: Tensor | None, training: bool, momentum: float,
                      eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """``(output, save_mean, save_rstd)`` of batch normalization of ``input`` ``(N, C, ...)`` per
    channel. Training: batch statistics, and ``running_mean``/``running_var`` (when given) updated in
    place with ``momentum`` (the running variance unbiased, as PyTorch). Eval: the running statistics
    (returned as the saved ones).

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> rm, rv = nr.zeros(1), nr.ones(1)
        >>> out, mean, rstd = call("native_batch_norm", nr.tensor([[1.0], [3.0]]), None, None, rm, rv, True, 0.5, 0.0)
        >>> out.tolist(), rm.tolist(), rv.tolist()
        ([[-1.0], [1.0]], [1.0], [1.5])
    """
    _check(op.name, input, {"weight": weight, "bias": bias, "running_mean": running_mean, "running_var": running_var})
    N, C, S_ = _ncs(op.name, input)
    _channel_tensors(op.name, C, {"weight": weight, "bias": bias, "running_mean": running_mean,
                                  "running_var": running_var})
    if not training:
        if running_mean is None or running_var is None:
            raise ArgumentError(f"{op.name}(): running_mean and running_var must be given when not training")
        rstd = call("rsqrt", call("cast", running_var, _acc(input.dtype)) + eps)
        return _set_forward(op, input, weight, bias, running_mean, rstd, eps, None)
    if N * S_ <= 1:
        raise ArgumentError(f"{op.name}(): expected more than 1 value per channel when training, got input of "
                            f"shape {list(input.shape)}")
    y, mean, rstd = _set_forward(op, input, weight, bias, None, None, eps, None)
    _update_running(running_mean, running_var, mean, rstd, eps, momentum, N * S_)
    return y, mean, rstd


def _update_running(running_mean, running_var, mean, rstd, eps, momentum, count) -> None:
    """PyTorch's running-statistics update: an exponential average with ``momentum``, the variance
    unbiased by ``count / (count - 1)``."""
    from neurarust.autograd import grad_mode

    with grad_mode.no_grad():
        if running_mean is not None:
            running_mean.copy_(call("cast", running_mean * (1 - momentum) + mean * momentum, running_mean.dtype))
        if running_var is not None:
            var = (call("reciprocal", rstd * rstd) - eps) * (count / (count - 1))
            running_var.copy_(call("cast", running_var * (1 - momentum) + var * momentum, running_var.dtype))


def set_norm_backward(op: Op, grad_output: Tensor, input: Tensor, mean: Tensor, rstd: Tensor,
                      weight: Tensor | None = None, num_groups: int | None = None,
                      training: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """``(grad_input, grad_weight, grad_bias)`` of group_norm (``num_groups``) or batch_norm
    (``num_groups`` None; ``training`` False: fixed running statistics) from the saved ``mean``/``rstd``.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> x = nr.tensor([[1.0], [3.0]])
        >>> gi, gw, gb = call("set_norm_backward", nr.tensor([[1.0], [0.0]]), x, nr.tensor([2.0]), nr.tensor([1.0]))
        >>> gi.tolist(), gw.tolist(), gb.tolist()
        ([[0.0], [0.0]], [-1.0], [1.0])
    """
    _check(op.name, input, {"grad_output": grad_output, "mean": mean, "rstd": rstd, "weight": weight})
    N, C, S_ = _ncs(op.name, input)
    _channel_tensors(op.name, C, {"weight": weight})
    if tuple(grad_output.shape) != tuple(input.shape):
        raise ShapeError(f"{op.name}(): grad_output of shape {list(grad_output.shape)} for an input of shape "
                         f"{list(input.shape)}")
    acc = _acc(input.dtype)
    if _is_reference(input):
        r = backends.run_reference(op.reference, _np(grad_output, acc).reshape(N, C, S_),
                                   _np(input, acc).reshape(N, C, S_), _np(mean, acc), _np(rstd, acc),
                                   _np(weight, acc), num_groups, training)
        dx, dw, db = (_wrap(a, input.dtype) for a in r)
    else:
        dx, pw, pb = op.launcher()(grad_output.contiguous().reshape((N, C, S_)),
                                   input.contiguous().reshape((N, C, S_)), call("cast", mean, acc).contiguous(),
                                   call("cast", rstd, acc).contiguous(), _flat(weight, (C,)), num_groups, training)
        dw, db = (call("sum", p, 0).to(input.dtype) for p in (pw, pb))
    return dx.reshape(tuple(input.shape)), dw, db


def _ref_set_norm_backward(dy, x3, mean, rstd, w, groups, training):
    m, r = _per_element(mean, x3, groups), _per_element(rstd, x3, groups)
    xhat = (x3 - m) * r
    wdy = dy if w is None else dy * w.reshape(1, -1, 1)
    dw, db = np.sum(dy * xhat, axis=(0, 2)), np.sum(dy, axis=(0, 2))
    if not training:
        return wdy * r, dw, db
    N, C, S_ = x3.shape
    if groups is None:
        c1, c2 = np.mean(wdy, axis=(0, 2)), np.mean(wdy * xhat, axis=(0, 2))
    else:
        c1 = np.mean(wdy.reshape(N, groups, -1), axis=2)
        c2 = np.mean((wdy * xhat).reshape(N, groups, -1), axis=2)
    return (wdy - xhat * _per_element(c2, x3, groups) - _per_element(c1, x3, groups)) * r, dw, db


# ----------------------------------------------------------------------------------------------
# Derivatives. The forwards' backward runs the fused backward entry, plus the terms of gradients
# that reach the returned mean/rstd. The backward entries' derivative differentiates the same
# formula written with public ops (so it can be differentiated again).
# ----------------------------------------------------------------------------------------------

def _stat_terms(dx, grad, input, mean, rstd, count, view):
    """Add to ``dx`` what gradients of the returned ``mean``/``rstd`` contribute: d mean/dx = 1/n,
    d rstd/dx = -rstd**3 (x - mean) / n. ``view`` maps a statistic onto the input's shape."""
    g_mean, g_rstd = grad
    x = view(input, None)
    extra = None
    if g_mean is not None:
        extra = view(g_mean, "stat") / count
    if g_rstd is not None:
        r = view(rstd, "stat")
        centred = x if mean is None else x - view(mean, "stat")
        term = view(g_rstd, "stat") * (r * r * r) * centred * (-1.0 / count)
        extra = term if extra is None else extra + term
    if extra is None:
        return dx
    extra = extra.expand(tuple(x.shape)).contiguous().reshape(tuple(input.shape))
    return extra if dx is None else dx + extra


def _row_view(t, kind):
    return t


def _layer_norm_forward_backward(grad, input, normalized_shape, weight, bias, result, rms=False):
    shape = _shape_of(normalized_shape)
    mean = None if rms else result[1]
    rstd = result[-1]
    dx = dw = db = None
    if grad[0] is not None:
        dx, dw, db = call("layer_norm_backward", grad[0], input, list(shape), mean, rstd, weight)
    stat_grads = (None, grad[1]) if rms else (grad[1], grad[2])
    dx = _stat_terms(dx, stat_grads, input, mean, rstd, math.prod(shape), _row_view)
    return dx, (dw if weight is not None else None), (db if bias is not None else None)


def _shape_of(normalized_shape) -> tuple:
    return (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)


def _native_layer_norm_backward(grad, input, normalized_shape, weight, bias, result):
    return _layer_norm_forward_backward(grad, input, normalized_shape, weight, bias, result)


def _native_rms_norm_backward(grad, input, normalized_shape, weight, result):
    return _layer_norm_forward_backward(grad, input, normalized_shape, weight, None, result, rms=True)[:2]


def _set_view(input, groups):
    """A statistic ``(N, G)``/``(C,)`` (kind "stat") or the input (None) as a 4-d ``(N, G, C/G, S)``."""
    N, C = input.shape[0], input.shape[1]
    G = groups or 1

    def view(t, kind):
        if kind is None:
            return t.reshape((N, G, C // G, -1))
        return t.reshape((N, G, 1, 1)) if groups else t.reshape((1, 1, C, 1))
    return view


def _set_count(input, groups) -> int:
    N, C = input.shape[0], input.shape[1]
    S_ = math.prod(input.shape[2:])
    return (C // groups) * S_ if groups else N * S_


def _native_group_norm_backward(grad, input, num_groups, weight, bias, result):
    _, mean, rstd = result
    dx = dw = db = None
    if grad[0] is not None:
        dx, dw, db = call("set_norm_backward", grad[0], input, mean, rstd, weight, num_groups, True)
    dx = _stat_terms(dx, grad[1:], input, mean, rstd, _set_count(input, num_groups), _set_view(input, num_groups))
    return dx, (dw if weight is not None else None), (db if bias is not None else None)


def _native_batch_norm_backward(grad, input, weight, bias, training, result):
    _, mean, rstd = result
    dx = dw = db = None
    if grad[0] is not None:
        dx, dw, db = call("set_norm_backward", grad[0], input, mean, rstd, weight, None, bool(training))
    if training:
        dx = _stat_terms(dx, grad[1:], input, mean, rstd, _set_count(input, None), _set_view(input, None))
    return dx, (dw if weight is not None else None), (db if bias is not None else None)


def _row_backward_formula(grad_output, input, normalized_shape, mean, rstd, weight=None):
    """layer_norm_backward written with public ops (its derivative is this formula's)."""
    k = len(_shape_of(normalized_shape))
    dims = tuple(range(input.ndim - k, input.ndim))
    batch = tuple(range(input.ndim - k))
    xhat = (input if mean is None else input - mean) * rstd
    wdy = grad_output if weight is None else grad_output * weight
    dx = wdy - xhat * (wdy * xhat).mean(dims, keepdim=True)
    if mean is not None:
        dx = dx - wdy.mean(dims, keepdim=True)
    dw, db = grad_output * xhat, grad_output
    if batch:
        dw, db = dw.sum(batch), db.sum(batch)
    return dx * rstd, dw, db


def _set_backward_formula(grad_output, input, mean, rstd, weight=None, num_groups=None, training=True):
    """set_norm_backward written with public ops, on ``(N, G, C/G, S)`` views."""
    view = _set_view(input, num_groups)
    x, dy = view(input, None), view(grad_output, None)
    m, r = view(mean, "stat"), view(rstd, "stat")
    xhat = (x - m) * r
    wdy = dy if weight is None else dy * weight.reshape((1,) + tuple(x.shape[1:3]) + (1,))
    C = input.shape[1]
    dw = (dy * xhat).sum((0, 3)).reshape((C,))
    db = dy.sum((0, 3)).reshape((C,))
    if not training:
        return (wdy * r).reshape(tuple(input.shape)), dw, db
    red = (2, 3) if num_groups else (0, 3)
    dx = (wdy - xhat * (wdy * xhat).mean(red, keepdim=True) - wdy.mean(red, keepdim=True)) * r
    return dx.reshape(tuple(input.shape)), dw, db


def _formula_derivative(formula, differentiable, params):
    """The derivative of a backward entry: its formula re-run on public ops with recording on, then
    differentiated (``create_graph`` when this backward is itself being recorded)."""
    def backward(grad, needs_input_grad, **bound):
        from neurarust import autograd

        wanted = [(i, bound[n]) for i, n in enumerate(differentiable)
                  if needs_input_grad[i] and isinstance(bound.get(n), Tensor)]
        grads = [None] * len(differentiable)
        pairs = [(o, g) for o, g in zip(range(3), grad) if g is not None]
        if not wanted or not pairs:
            return tuple(grads)
        create = autograd.grad_mode.is_grad_enabled()
        with autograd.grad_mode.enable_grad():
            # Fresh nodes standing for the arguments: mean/rstd are functions of input (the forward's
            # outputs), and the derivative wanted here treats each argument on its own.
            proxies = [(i, t * 1.0) for i, t in wanted]
            args = {n: bound[n] for n in params}
            args.update({differentiable[i]: p for i, p in proxies})
            outs = formula(**args)
            # an output that reads none of the proxies (the bias gradient, a sum of grad_output)
            # contributes nothing here
            pairs = [(o, g) for o, g in pairs if outs[o].requires_grad]
            if not pairs:
                return tuple(grads)
            got = autograd.grad([outs[o] for o, _ in pairs], [p for _, p in proxies], [g for _, g in pairs],
                                create_graph=create, allow_unused=True)
        for (i, _), g in zip(wanted, got):
            grads[i] = g
        return tuple(grads)

    backward.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in ["grad", "needs_input_grad", *params]])
    return backward


# ----------------------------------------------------------------------------------------------
# PyTorch oracles: PyTorch's own forward, the statistics by their definition
# ----------------------------------------------------------------------------------------------

def _torch_acc(x):
    import torch

    return x.to(torch.float64 if x.dtype == torch.float64 else torch.float32)


def _torch_layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    import torch

    shape = _shape_of(normalized_shape)
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    x = _torch_acc(input)
    mean = x.mean(dims, keepdim=True)
    rstd = torch.rsqrt(((x - mean) ** 2).mean(dims, keepdim=True) + eps)
    return torch.nn.functional.layer_norm(input, list(shape), weight, bias, eps), mean, rstd


def _torch_rms_norm(input, normalized_shape, weight=None, eps=None):
    import torch

    shape = _shape_of(normalized_shape)
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    e = torch.finfo(input.dtype).eps if eps is None else eps
    rstd = torch.rsqrt((_torch_acc(input) ** 2).mean(dims, keepdim=True) + e)
    return torch.nn.functional.rms_norm(input, list(shape), weight, eps), rstd


def _torch_group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    import torch

    g = _torch_acc(input).reshape(input.shape[0], num_groups, -1)
    mean = g.mean(2)
    rstd = torch.rsqrt(g.var(2, unbiased=False) + eps)
    return torch.nn.functional.group_norm(input, num_groups, weight, bias, eps), mean, rstd


def _torch_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    import torch

    out = torch.nn.functional.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    x = _torch_acc(input).transpose(0, 1).reshape(input.shape[1], -1)
    if training:
        return out, x.mean(1), torch.rsqrt(x.var(1, unbiased=False) + eps)
    return out, _torch_acc(running_mean), torch.rsqrt(_torch_acc(running_var) + eps)


def _torch_row_backward(grad_output, input, normalized_shape, mean, rstd, weight=None):
    out = _row_backward_formula(_torch_acc(grad_output), _torch_acc(input), normalized_shape, mean, rstd,
                                None if weight is None else _torch_acc(weight))
    return tuple(t.to(input.dtype) for t in out)


def _torch_set_backward(grad_output, input, mean, rstd, weight=None, num_groups=None, training=True):
    out = _set_backward_formula(_torch_acc(grad_output), _torch_acc(input), mean, rstd,
                                None if weight is None else _torch_acc(weight), num_groups, training)
    return tuple(t.to(input.dtype) for t in out)


# ----------------------------------------------------------------------------------------------
# Samples and errors (small: every program runs in the interpreter)
# ----------------------------------------------------------------------------------------------

def _v(d, shape, seed=0, **kw):
    return S.values(d, shape, seed, **kw)


def _layer_samples(d):
    yield Sample((_v(d, (3, 5)), [5], _v(d, (5,), 1), _v(d, (5,), 2)), name="affine")
    yield Sample((_v(d, (2, 2, 3), 3), (2, 3)), {"eps": 1e-3}, name="two_dims_no_affine")
    yield Sample((S.TensorSpec(_v(d, (3, 4), 4), "transposed"), 4, _v(d, (4,), 5)), name="transposed_weight_only")
    yield Sample((_v(d, (2, 4100), 6), [4100], _v(d, (4100,), 7), _v(d, (4100,), 8)), name="looped_long_rows")
    yield Sample((_v(d, (0, 4), 9), [4]), name="empty")


def _rms_samples(d):
    yield Sample((_v(d, (3, 5)), [5], _v(d, (5,), 1)), {"eps": 1e-6}, name="weight")
    yield Sample((S.TensorSpec(_v(d, (2, 6), 3), "strided"), [6]), {"eps": 1e-5}, name="strided")
    yield Sample((_v(d, (2, 4100), 6), [4100], _v(d, (4100,), 7)), {"eps": 1e-5}, name="looped_long_rows")


def _group_samples(d):
    yield Sample((_v(d, (2, 4, 3)), 2, _v(d, (4,), 1), _v(d, (4,), 2)), name="affine")
    yield Sample((_v(d, (2, 3, 2, 2), 3), 3), {"eps": 1e-3}, name="instance_like_4d")
    yield Sample((S.TensorSpec(_v(d, (3, 2), 4), "transposed"), 1, _v(d, (2,), 5)), name="transposed_2d")


def _batch_samples(d):
    rm, rv = _v(d, (3,), 10), _v(d, (3,), 11, positive=True)
    yield Sample((_v(d, (4, 3)), _v(d, (3,), 1), _v(d, (3,), 2), rm, rv, True, 0.1, 1e-5), name="train_1d")
    yield Sample((_v(d, (2, 3, 2, 2), 3), None, None, None, None, True, 0.1, 1e-5), name="train_no_running_4d")
    yield Sample((_v(d, (2, 3, 3), 4), _v(d, (3,), 5), _v(d, (3,), 6), rm, rv, False, 0.1, 1e-5), name="eval")
    yield Sample((S.TensorSpec(_v(d, (4, 3), 7), "transposed"), None, None, rm, rv, True, 0.3, 1e-3),
                 name="train_transposed")


def _row_backward_samples(d):
    x = _v(d, (3, 5), 1)
    mean = x.mean(1, keepdims=True)
    rstd = 1 / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    yield Sample((_v(d, (3, 5)), x, [5], mean, rstd, _v(d, (5,), 2)), name="layer")
    yield Sample((_v(d, (3, 5), 3), x, [5], None, 1 / np.sqrt((x * x).mean(1, keepdims=True) + 1e-5)),
                 name="rms_no_weight")


def _set_backward_samples(d):
    x = _v(d, (2, 4, 3), 1)
    g = x.reshape(2, 2, -1)
    yield Sample((_v(d, (2, 4, 3)), x, g.mean(2), 1 / np.sqrt(g.var(2) + 1e-5), _v(d, (4,), 2), 2), name="group")
    xb = _v(d, (4, 3), 3)
    yield Sample((_v(d, (4, 3), 4), xb, xb.mean(0), 1 / np.sqrt(xb.var(0) + 1e-5)), name="batch_no_weight")
    yield Sample((_v(d, (4, 3), 5), xb, xb.mean(0), 1 / np.sqrt(xb.var(0) + 1e-5), _v(d, (3,), 6)),
                 {"training": False}, name="batch_eval")


def _layer_errors():
    yield ErrorInput(Sample((np.ones((2, 3)), [4])), ShapeError, "normalized_shape")
    yield ErrorInput(Sample((np.ones((2, 3)), [3], np.ones(2))), ShapeError, "weight")
    yield ErrorInput(Sample((np.arange(6).reshape(2, 3), [3])), DTypeError, "floating point")


def _rms_errors():
    yield ErrorInput(Sample((np.ones((2, 3)), [2, 3, 1])), ShapeError, "normalized_shape")


def _group_errors():
    yield ErrorInput(Sample((np.ones((2, 3, 2)), 2)), ArgumentError, "num_groups")
    yield ErrorInput(Sample((np.ones((2, 4)), 2, np.ones(3))), ShapeError, "weight")
    yield ErrorInput(Sample((np.ones(4), 2)), ShapeError, "at least 2 dims")


def _batch_errors():
    yield ErrorInput(Sample((np.ones((1, 3)), None, None, None, None, True, 0.1, 1e-5)), ArgumentError,
                     "more than 1 value")
    yield ErrorInput(Sample((np.ones((2, 3)), None, None, None, None, False, 0.1, 1e-5)), ArgumentError, "running")
    yield ErrorInput(Sample((np.ones((2, 3)), np.ones(2), None, None, None, True, 0.1, 1e-5)), ShapeError, "weight")


def _backward_errors():
    yield ErrorInput(Sample((np.ones((2, 4)), np.ones((2, 3)), [3], np.zeros((2, 1)), np.ones((2, 1)))),
                     ShapeError, "grad_output")


def _set_backward_errors():
    yield ErrorInput(Sample((np.ones((2, 4)), np.ones((2, 3)), np.zeros(3), np.ones(3))), ShapeError, "grad_output")


def _cost(sample: Sample) -> tuple[int, int]:
    """The input read three times (mean, variance, normalize) and the output written once."""
    x = S.array_of(sample.args[0])
    return 4 * x.nbytes, 8 * x.size


def _backward_cost(sample: Sample) -> tuple[int, int]:
    x = S.array_of(sample.args[1])
    return 5 * x.nbytes, 12 * x.size


# ----------------------------------------------------------------------------------------------
# Registration
# ----------------------------------------------------------------------------------------------

def _entry(name, frontend, reference, launcher, samples, errors, torch_fn, differentiable, backward, cost=_cost):
    return register(Op(
        name=name, kind="norm", frontend=frontend, reference=reference, triton=TRITON + launcher, dtypes=FLOATS,
        samples=samples, error_inputs=errors, tolerances=dict(TOLERANCES), cost=cost, method=False,
        torch_name=torch_fn, attrs={"public": False}, differentiable=differentiable, backward=backward))


_entry("native_layer_norm", native_layer_norm, _ref_row_norm, "launch_row_norm", _layer_samples, _layer_errors,
       _torch_layer_norm, ("input", "weight", "bias"), _native_layer_norm_backward)
_entry("native_rms_norm", native_rms_norm, _ref_row_norm, "launch_row_norm", _rms_samples, _rms_errors,
       _torch_rms_norm, ("input", "weight"), _native_rms_norm_backward)
_entry("native_group_norm", native_group_norm, _ref_set_norm, "launch_set_norm", _group_samples, _group_errors,
       _torch_group_norm, ("input", "weight", "bias"), _native_group_norm_backward)
_entry("native_batch_norm", native_batch_norm, _ref_set_norm, "launch_set_norm", _batch_samples, _batch_errors,
       _torch_batch_norm, ("input", "weight", "bias"), _native_batch_norm_backward)
_ROW_PARAMS = ["grad_output", "input", "normalized_shape", "mean", "rstd", "weight"]
_ROW_DIFF = ("grad_output", "input", "mean", "rstd", "weight")
_entry("layer_norm_backward", layer_norm_backward, _ref_row_norm_backward, "launch_row_norm_backward",
       _row_backward_samples, _backward_errors, _torch_row_backward, _ROW_DIFF,
       _formula_derivative(_row_backward_formula, _ROW_DIFF, _ROW_PARAMS), cost=_backward_cost)
_SET_PARAMS = ["grad_output", "input", "mean", "rstd", "weight", "num_groups", "training"]
_SET_DIFF = ("grad_output", "input", "mean", "rstd", "weight")
_entry("set_norm_backward", set_norm_backward, _ref_set_norm_backward, "launch_set_norm_backward",
       _set_backward_samples, _set_backward_errors, _torch_set_backward, _SET_DIFF,
       _formula_derivative(_set_backward_formula, _SET_DIFF, _SET_PARAMS), cost=_backward_cost)

# Autocast classes per device type: PyTorch's lists (docs/amp.md, tests/test_amp_autocast.py).
autocast_class(("native_layer_norm", "native_group_norm"), cuda="fp32")
