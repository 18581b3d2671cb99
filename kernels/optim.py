"""Optimizer updates: one internal registry entry per update rule (``sgd_step``, ``adam_step`` ...),
each updating a whole list of parameters (and their state buffers) in place.

On the Triton backend a call is one multi-tensor kernel launch (``optim_triton.py``): the tensors'
addresses go into a device table (one row per list: params, grads, state buffers), and each program
finds its tensor and block through per-block tables, so a group of any number of parameters costs
one launch. The per-step numbers (learning rate, bias corrections, step) are runtime arguments
computed on the host from host-side counters: nothing is read back from the device. The NumPy
reference applies the same math tensor by tensor (CPU backend, and the harness's oracle; the
harness's PyTorch oracle runs ``torch.optim`` itself on the same state).

    >>> import neurarust as nr
    >>> from neurarust.registry import call
    >>> p, g, buf = nr.tensor([1.0, 2.0]), nr.tensor([0.5, -1.0]), nr.zeros(2)
    >>> _ = call("sgd_step", [p], [g], [buf], lr=0.1, momentum=0.9, first=True)
    >>> [round(v, 4) for v in p.tolist()], buf.tolist()
    ([0.95, 2.1], [0.5, -1.0])
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from neurarust import backends
from neurarust import dtype as _dt
from neurarust.errors import ArgumentError, DeviceError, DTypeError, ShapeError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, register
from neurarust.tensor import Tensor

from . import samples as S

FLOATS = (_dt.float32, _dt.float16, _dt.bfloat16, _dt.float64)
TOLERANCES = {_dt.float16: (4e-3, 2e-3), _dt.bfloat16: (4e-2, 2e-2), _dt.float32: (2e-5, 1e-6),
              _dt.float64: (1e-6, 1e-9)}
N_SCALARS = 8


@dataclass
class Rule:
    """One update rule. ``scalars(h)`` turns the hyperparameters of a call into the kernel's runtime
    numbers (at most :data:`N_SCALARS`), ``flags(h)`` into its two compile-time switches (config
    that selects code, never per-step values); ``math(ns, p, g, states, k, flags, first)`` is the
    update itself, written once for NumPy (the reference; ``ns`` is :data:`np`). ``inplace``, where a
    rule has one, is the same math, operation for operation (so bit for bit the same result), done
    in place on fp32/fp64 buffers with reused scratch arrays: the CPU path's fast lane."""

    name: str
    algo: int
    states: tuple[str, ...]
    defaults: dict
    scalars: Callable[[dict], tuple]
    flags: Callable[[dict], tuple]
    math: Callable
    torch_step: Callable | None = None
    inplace: Callable | None = None
    counters: tuple[str, ...] = ()   # capturable mode: per-param device scalars besides the step


def _lerp(a, b, w):
    return a + w * (b - a)


def _decay(p, g, wd):
    """L2 weight decay folded into the gradient (skipped at 0: 0 * inf would be NaN)."""
    return g + wd * p if wd != 0 else g


# -- the update math of each rule, on NumPy arrays ------------------------------------------------
def _sgd(p, g, st, k, f, first):
    lr, wd, momentum, dampening = k[:4]
    has_momentum, nesterov = f
    g = _decay(p, g, wd)
    if has_momentum:
        buf = g.copy() if first else momentum * st[0] + (1 - dampening) * g
        st[0] = buf
        g = g + momentum * buf if nesterov else buf
    return p - lr * g


def _adam(p, g, st, k, f, first):
    lr, beta1, beta2, eps, wd, step_size, bc2_sqrt = k[:7]
    decoupled, amsgrad = f
    if decoupled:
        p = p * (1 - lr * wd)
    else:
        g = _decay(p, g, wd)
    st[0] = _lerp(st[0], g, 1 - beta1)
    st[1] = st[1] * beta2 + (1 - beta2) * g * g
    v = st[1]
    if amsgrad:
        st[2] = np.maximum(st[2], st[1])
        v = st[2]
    return p - step_size * st[0] / (np.sqrt(v) / bc2_sqrt + eps)


def _rmsprop(p, g, st, k, f, first):
    lr, alpha, eps, wd, momentum = k[:5]
    centered, has_momentum = f
    g = _decay(p, g, wd)
    st[0] = st[0] * alpha + (1 - alpha) * g * g
    if centered:
        st[2] = _lerp(st[2], g, 1 - alpha)
        avg = np.sqrt(st[0] - st[2] * st[2]) + eps
    else:
        avg = np.sqrt(st[0]) + eps
    if has_momentum:
        st[1] = st[1] * momentum + g / avg
        return p - lr * st[1]
    return p - lr * g / avg


def _adagrad(p, g, st, k, f, first):
    clr, wd, eps = k[:3]
    g = _decay(p, g, wd)
    st[0] = st[0] + g * g
    return p - clr * g / (np.sqrt(st[0]) + eps)


def _adadelta(p, g, st, k, f, first):
    lr, rho, eps, wd = k[:4]
    g = _decay(p, g, wd)
    st[0] = st[0] * rho + (1 - rho) * g * g
    delta = np.sqrt(st[1] + eps) / np.sqrt(st[0] + eps) * g
    st[1] = st[1] * rho + (1 - rho) * delta * delta
    return p - lr * delta


def _adamax(p, g, st, k, f, first):
    clr, beta1, beta2, eps, wd = k[:5]
    g = _decay(p, g, wd)
    st[0] = _lerp(st[0], g, 1 - beta1)
    st[1] = np.maximum(st[1] * beta2, np.abs(g) + eps)
    return p - clr * st[0] / st[1]


def _nadam(p, g, st, k, f, first):
    lr, beta1, beta2, eps, wd, c_grad, c_avg, bc2 = k[:8]
    decoupled = f[0]
    if decoupled:
        p = p * (1 - lr * wd)
    else:
        g = _decay(p, g, wd)
    st[0] = _lerp(st[0], g, 1 - beta1)
    st[1] = st[1] * beta2 + (1 - beta2) * g * g
    denom = np.sqrt(st[1] / bc2) + eps
    return p - c_grad * g / denom - c_avg * st[0] / denom


def _radam(p, g, st, k, f, first):
    lr, beta1, beta2, eps, wd, a, c, adaptive = k[:8]
    decoupled = f[0]
    if decoupled:
        p = p * (1 - lr * wd)
    else:
        g = _decay(p, g, wd)
    st[0] = _lerp(st[0], g, 1 - beta1)
    st[1] = st[1] * beta2 + (1 - beta2) * g * g
    scale = c / (np.sqrt(st[1]) + eps) if adaptive > 0.5 else 1.0
    return p - a * st[0] * scale


def _lion(p, g, st, k, f, first):
    lr, beta1, beta2, wd = k[:4]
    p = p * (1 - lr * wd)
    p = p - lr * np.sign(_lerp(st[0], g, 1 - beta1))
    st[0] = _lerp(st[0], g, 1 - beta2)
    return p


def _rprop(p, g, st, k, f, first):
    """Rprop: each element's step size grows by etaplus while its gradient keeps its sign and shrinks
    by etaminus when it flips (that element then skips the step and forgets its gradient)."""
    etaminus, etaplus, step_min, step_max = k[:4]
    s = g * st[0]
    factor = np.where(s > 0, etaplus, np.where(s < 0, etaminus, 1.0)).astype(np.result_type(s))
    st[1] = np.minimum(np.maximum(st[1] * factor, step_min), step_max)
    g = np.where(s < 0, np.zeros_like(g), g)
    st[0] = g
    return p - np.sign(g) * st[1]


def _asgd(p, g, st, k, f, first):
    """ASGD: SGD with the decay term lambd and a step size ``eta`` that decays with the step count; the
    average ``ax`` follows the params with weight ``mu`` (a copy while mu is 1)."""
    eta, mu, lambd, wd = k[:4]
    g = _decay(p, g, wd)
    p = p * (1 - lambd * eta) - eta * g
    st[0] = st[0] + (p - st[0]) * mu if mu != 1 else np.array(p, copy=True)
    return p


def scalar_state(value: float) -> float:
    """``value`` as a 0-d tensor of PyTorch's scalar-state dtype holds it (``torch.optim``'s
    ``_get_scalar_dtype``): rounded to float32, unless the default dtype is float64.

    >>> scalar_state(0.1)
    0.10000000149011612
    """
    return float(value) if _dt.get_default_dtype() is _dt.float64 else float(np.float32(value))


def asgd_schedule(lr: float, lambd: float, alpha: float, t0: float, step: float) -> tuple[float, float]:
    """ASGD's ``(eta, mu)`` after step ``step``: ``lr / (1 + lambd * lr * step) ** alpha`` and
    ``1 / max(1, step - t0)``, as ``torch.optim.ASGD`` computes them and keeps them (in float32 state
    tensors: see :func:`scalar_state`).

    >>> asgd_schedule(0.01, 1e-4, 0.75, 1e6, 1)[1]
    1.0
    """
    return scalar_state(lr / ((1 + lambd * lr * step) ** alpha)), scalar_state(1 / max(1, step - t0))


# -- the in-place fast lane of the CPU path: the same operations in the same order as ``_sgd`` and
# ``_adam`` (so the same roundings), with no temporaries: scratch buffers are reused across steps.
_SCRATCH = threading.local()


def _scratch(like: np.ndarray, slot: int) -> np.ndarray:
    """A reusable array shaped like ``like`` (slot 0 or 1), from a per-thread, per-dtype pool."""
    pool = getattr(_SCRATCH, "pool", None)
    if pool is None:
        pool = _SCRATCH.pool = {}
    key = (like.dtype, slot)
    buf = pool.get(key)
    if buf is None or buf.size < like.size:
        buf = pool[key] = np.empty(max(like.size, 1024), like.dtype)
    return buf[:like.size].reshape(like.shape)


def _grad_in(p, g, wd, maximize, t):
    """The gradient after maximize and L2 decay (``_decay``), in scratch ``t`` when it changes."""
    if maximize:
        g = np.negative(g, out=t)
    if wd != 0:
        if g is t:
            t += wd * p
        else:
            np.multiply(p, wd, out=t)
            g = np.add(g, t, out=t)
    return g


def _sgd_(p, g, st, k, f, first, maximize):
    lr, wd, momentum, dampening = k[:4]
    has_momentum, nesterov = f
    t0 = _scratch(p, 0)
    g = _grad_in(p, g, wd, maximize, t0)
    if has_momentum:
        buf = st[0]
        if first:
            buf[...] = g
        else:
            buf *= momentum
            if dampening == 0:        # (1 - 0) * g is g: one pass fewer, the same values
                buf += g
            else:
                t1 = _scratch(p, 1)
                np.multiply(g, 1 - dampening, out=t1)
                buf += t1
        if nesterov:
            t1 = _scratch(p, 1)
            np.multiply(buf, momentum, out=t1)
            np.add(g, t1, out=t0)
            g = t0
        else:
            g = buf
    t1 = _scratch(p, 1)
    np.multiply(g, lr, out=t1)
    p -= t1


def _adam_(p, g, st, k, f, first, maximize):
    lr, beta1, beta2, eps, wd, step_size, bc2_sqrt = k[:7]
    decoupled, amsgrad = f
    t0, t1 = _scratch(p, 0), _scratch(p, 1)
    if decoupled:
        p *= 1 - lr * wd
        g = _grad_in(p, g, 0.0, maximize, t0)
    else:
        g = _grad_in(p, g, wd, maximize, t0)
    m, v = st[0], st[1]
    np.subtract(g, m, out=t1)        # m + (1 - beta1) * (g - m)
    t1 *= 1 - beta1
    m += t1
    v *= beta2                       # v * beta2 + (1 - beta2) * g * g
    np.multiply(g, 1 - beta2, out=t1)
    t1 *= g
    v += t1
    if amsgrad:
        np.maximum(st[2], v, out=st[2])
        v = st[2]
    np.sqrt(v, out=t1)               # p - step_size * m / (sqrt(v) / bc2_sqrt + eps)
    t1 /= bc2_sqrt
    t1 += eps
    np.multiply(m, step_size, out=t0)
    t0 /= t1
    p -= t0


# -- host-side scalars: everything per step is computed here, from host counters ---------------
def _adam_scalars(h):
    step = h["step"]
    bc1, bc2 = 1 - h["beta1"] ** step, 1 - h["beta2"] ** step
    return h["lr"], h["beta1"], h["beta2"], h["eps"], h["weight_decay"], h["lr"] / bc1, math.sqrt(bc2)


def _nadam_mu(h, step):
    return h["beta1"] * (1.0 - 0.5 * 0.96 ** (step * h["momentum_decay"]))


def _nadam_scalars(h):
    """``mu_product`` is the product of the momentum coefficients of the steps before this one."""
    step = h["step"]
    mu, mu_next = _nadam_mu(h, step), _nadam_mu(h, step + 1)
    prod = h["mu_product"] * mu
    return (h["lr"], h["beta1"], h["beta2"], h["eps"], h["weight_decay"], h["lr"] * (1 - mu) / (1 - prod),
            h["lr"] * mu_next / (1 - prod * mu_next), 1 - h["beta2"] ** step)


def _radam_scalars(h):
    step, beta2 = h["step"], h["beta2"]
    bc1, bc2 = 1 - h["beta1"] ** step, 1 - beta2 ** step
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * beta2 ** step / bc2
    rect = 0.0
    if rho_t > 5:
        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    return (h["lr"], h["beta1"], beta2, h["eps"], h["weight_decay"], h["lr"] / bc1, rect * math.sqrt(bc2),
            1.0 if rho_t > 5 else 0.0)


# The rules of the optimizers PyTorch gives a ``capturable`` option (Adam, AdamW, RMSprop, Adadelta,
# Adamax, NAdam, RAdam, Rprop, ASGD; not SGD or Adagrad).
CAPTURABLE = frozenset({"adam", "rmsprop", "adadelta", "adamax", "nadam", "radam", "rprop", "asgd"})
ADAM_DEFAULTS = dict(step=1, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)
RULES = {r.name: r for r in (
    Rule("sgd", 0, ("momentum_buffers",), dict(lr=1e-3, weight_decay=0.0, momentum=0.0, dampening=0.0,
                                                nesterov=False, first=False),
         lambda h: (h["lr"], h["weight_decay"], h["momentum"], h["dampening"]),
         lambda h: (h["momentum"] != 0, bool(h["nesterov"])), _sgd, inplace=_sgd_),
    Rule("adam", 1, ("exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs"),
         dict(ADAM_DEFAULTS, amsgrad=False, decoupled=False), _adam_scalars,
         lambda h: (bool(h["decoupled"]), bool(h["amsgrad"])), _adam, inplace=_adam_),
    Rule("rmsprop", 2, ("square_avgs", "momentum_buffers", "grad_avgs"),
         dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False),
         lambda h: (h["lr"], h["alpha"], h["eps"], h["weight_decay"], h["momentum"]),
         lambda h: (bool(h["centered"]), h["momentum"] > 0), _rmsprop),
    Rule("adagrad", 3, ("state_sums",), dict(step=1, lr=1e-2, lr_decay=0.0, weight_decay=0.0, eps=1e-10),
         lambda h: (h["lr"] / (1 + (h["step"] - 1) * h["lr_decay"]), h["weight_decay"], h["eps"]),
         lambda h: (False, False), _adagrad),
    Rule("adadelta", 4, ("square_avgs", "acc_deltas"), dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0),
         lambda h: (h["lr"], h["rho"], h["eps"], h["weight_decay"]), lambda h: (False, False), _adadelta),
    Rule("adamax", 5, ("exp_avgs", "exp_infs"), dict(ADAM_DEFAULTS, lr=2e-3),
         lambda h: (h["lr"] / (1 - h["beta1"] ** h["step"]), h["beta1"], h["beta2"], h["eps"], h["weight_decay"]),
         lambda h: (False, False), _adamax),
    Rule("nadam", 6, ("exp_avgs", "exp_avg_sqs"),
         dict(ADAM_DEFAULTS, lr=2e-3, momentum_decay=4e-3, mu_product=1.0, decoupled=False), _nadam_scalars,
         lambda h: (bool(h["decoupled"]), False), _nadam, counters=("mu_products",)),
    Rule("radam", 7, ("exp_avgs", "exp_avg_sqs"), dict(ADAM_DEFAULTS, decoupled=False), _radam_scalars,
         lambda h: (bool(h["decoupled"]), False), _radam),
    Rule("lion", 8, ("exp_avgs",), dict(lr=1e-4, beta1=0.9, beta2=0.99, weight_decay=0.0),
         lambda h: (h["lr"], h["beta1"], h["beta2"], h["weight_decay"]), lambda h: (False, False), _lion),
    # lr only sets the step sizes' first value (the optimizer's business): the rule ignores it
    Rule("rprop", 9, ("prevs", "step_sizes"),
         dict(lr=1e-2, etaminus=0.5, etaplus=1.2, step_size_min=1e-6, step_size_max=50.0),
         lambda h: (h["etaminus"], h["etaplus"], h["step_size_min"], h["step_size_max"]),
         lambda h: (False, False), _rprop),
    # eta and mu: this step's values (the state the previous step left); lr, alpha and t0 make the
    # next ones (on the host, or on the device in capturable mode)
    Rule("asgd", 10, ("axs",), dict(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, eta=1e-2, mu=1.0),
         lambda h: (h["eta"], h["mu"], h["lambd"], h["weight_decay"], h["lr"], h["alpha"], h["t0"]),
         lambda h: (False, False), _asgd, counters=("etas", "mus")),
)}


# -- the front end shared by every rule ------------------------------------------------------------
def _check(name: str, lists: dict) -> list[str]:
    """Same-length lists of same-shape floating tensors of one dtype and device; returns the names of
    the state lists that are used (an unused one is empty)."""
    params = lists["params"]
    if not isinstance(params, (list, tuple)) or not all(isinstance(t, Tensor) for t in params):
        raise SignatureError(f"{name}(): 'params' must be a list of Tensors")
    used = []
    for what, ts in lists.items():
        if not isinstance(ts, (list, tuple)) or not all(isinstance(t, Tensor) for t in ts):
            raise SignatureError(f"{name}(): '{what}' must be a list of Tensors")
        if what not in ("params", "grads") and not ts:
            continue
        if len(ts) != len(params):
            raise ShapeError(f"{name}(): '{what}' has {len(ts)} tensors for {len(params)} params")
        used.append(what)
        for p, t in zip(params, ts):   # private fields: this runs for every tensor of every step
            if t._shape != p._shape:
                raise ShapeError(f"{name}(): a tensor of '{what}' has shape {list(t.shape)}, its param {list(p.shape)}")
            if t._dtype is not p._dtype or not p._dtype.is_floating_point:
                raise DTypeError(f"{name}(): '{what}' holds {t.dtype} for a {p.dtype} param (expected one floating dtype)")
            if t._storage.device is not p._storage.device and t.device != p.device:
                raise DeviceError(f"{name}(): '{what}' is on {t.device}, its param on {p.device}")
    if params:
        first = params[0]
        for p in params:
            if p._dtype is not first._dtype or (p._storage.device is not first._storage.device
                                                and p.device != first.device):
                raise DTypeError(f"{name}(): params of one call must share one dtype and device")
    return used


def _acc(d: _dt.DType):
    return np.float64 if d is _dt.float64 else np.float32


def _run_reference(rule: Rule, lists: list[list[Tensor]], k: tuple, flags: tuple, first: bool) -> None:
    """The reference: the rule's NumPy math on each tensor in turn, written back in place (fp32 and
    fp64 rules with an in-place lane update the tensors' own memory, with no copies)."""
    k = tuple(float(x) for x in k)
    d = lists[0][0].dtype
    if rule.inplace is not None and d in (_dt.float32, _dt.float64):
        backends.run_reference(_inplace_all, rule, lists, k, flags, first)
    else:
        for i in range(len(lists[0])):
            _reference_one(rule, [ls[i] if ls else None for ls in lists], k, flags, first)
    for ls in lists:
        for t in ls:
            t._bump_version()


def _inplace_all(rule: Rule, lists, k, flags, first) -> None:
    """The in-place lane over every tensor (each array updated in its own memory)."""
    arrays = [[t._np() for t in ls] if ls else None for ls in lists]
    f, maximize = flags[:2], flags[2]
    for i in range(len(arrays[0])):
        tensor = [a[i] if a else None for a in arrays]
        if tensor[0].size:
            rule.inplace(tensor[0], tensor[1], tensor[2:], k, f, first, maximize)


def _reference_one(rule: Rule, ts: list, k: tuple, flags: tuple, first: bool) -> None:
    acc = _acc(ts[0].dtype)
    arrays = [t._np().astype(acc) if t is not None else None for t in ts]
    st = arrays[2:]
    g = -arrays[1] if flags[2] else arrays[1]
    new_p = backends.run_reference(rule.math, arrays[0], g, st, k, flags[:2], first)
    for t, a in zip(ts, [new_p, None] + st):
        if t is not None and a is not None:
            t._np()[...] = np.asarray(a).astype(t.dtype.np)


def _value(t: Tensor) -> float:
    return float(t._np().reshape(-1)[0])


def _set(t: Tensor, value: float) -> None:
    t._np()[...] = value
    t._bump_version()


def _run_reference_capturable(rule: Rule, lists: list, h: dict, flags: tuple, capturable: tuple) -> None:
    """Capturable mode on the CPU: nothing at all when ``found_inf`` is set; else each tensor's step
    count advances and its scalars come from its own step (and NAdam's mu_product, ASGD's eta and
    mu) and ``lr``."""
    steps, mus, lr, found = capturable
    if _value(found) != 0:
        return
    n = len(steps)
    for i, step_t in enumerate(steps):
        step = _value(step_t) + 1
        hi = dict(h, lr=_value(lr), step=step)
        _set(step_t, step)
        if rule.name == "nadam":
            hi["mu_product"] = _value(mus[i])
            _set(mus[i], hi["mu_product"] * _nadam_mu(hi, step))
        elif rule.name == "asgd":
            hi["eta"], hi["mu"] = _value(mus[i]), _value(mus[n + i])
        _run_reference(rule, [[ls[i]] if ls else [] for ls in lists], tuple(rule.scalars(hi)), flags, False)
        if rule.name == "asgd":   # the next step's eta and mu, from this step's count and lr
            eta, mu = asgd_schedule(hi["lr"], hi["lambd"], hi["alpha"], hi["t0"], step)
            _set(mus[i], eta)
            _set(mus[n + i], mu)


def _check_capturable(name: str, params: list, capturable, counters: tuple = ()) -> tuple:
    """``(steps, counters, lr, found_inf)``: fp32 one-element tensors on the params' device;
    ``counters`` holds the rule's other per-param scalars, list after list (NAdam: mu_product; ASGD:
    eta, then mu), and may be empty for a rule with none."""
    if not (isinstance(capturable, (tuple, list)) and len(capturable) == 4):
        raise SignatureError(f"{name}(): 'capturable' must be (steps, mu_products, lr, found_inf)")
    steps, mus, lr, found = capturable
    steps, mus = list(steps), list(mus)
    if len(steps) != len(params) or (mus and len(mus) != len(params) * max(1, len(counters))):
        raise ShapeError(f"{name}(): capturable mode needs one step (and {', '.join(counters) or 'mu_product'}) "
                         f"tensor per param, got {len(steps)} for {len(params)} params")
    device = params[0].device if params else None
    for t in steps + mus + [lr, found]:
        if not isinstance(t, Tensor) or t.numel() != 1 or t.dtype is not _dt.float32:
            raise DTypeError(f"{name}(): capturable steps, lr and found_inf must be one-element float32 tensors, "
                             f"got {getattr(t, 'dtype', type(t).__name__)}")
        if device is not None and t.device != device:
            raise DeviceError(f"{name}(): a capturable step/lr/found_inf tensor is on {t.device}, the params on {device}")
    return steps, mus, lr, found


def _frontend(op: Op, params, grads, *states, maximize: bool = False, capturable=None, **hyper):
    """``capturable=(steps, mu_products, lr, found_inf)`` (device tensors) switches to the capturable
    update: step counts, learning rate and the GradScaler's found-inf flag are read on the device."""
    rule: Rule = op.attrs["rule"]
    unknown = set(hyper) - set(rule.defaults)
    if unknown:
        raise SignatureError(f"{op.name}() got unexpected keyword arguments {sorted(unknown)}")
    if len(states) != len(rule.states):
        raise SignatureError(f"{op.name}() takes the lists params, grads, {', '.join(rule.states)}")
    h = dict(rule.defaults, **hyper)
    names = ("params", "grads") + rule.states
    lists = [list(x) if isinstance(x, (list, tuple)) else x for x in (params, grads) + states]
    _check(op.name, dict(zip(names, lists)))
    for what, ls in zip(rule.states, lists[2:]):
        if params and not ls and _used(rule, what, h):
            raise ArgumentError(f"{op.name}(): these options need the state list '{what}'")
    if capturable is not None:
        if rule.name not in CAPTURABLE:
            raise ArgumentError(f"{op.name}(): the {rule.name} update has no capturable mode")
        capturable = _check_capturable(op.name, lists[0], capturable, rule.counters)
        if rule.counters and lists[0] and not capturable[1]:
            raise ArgumentError(f"{op.name}(): capturable {rule.name} needs its {' and '.join(rule.counters)} tensors")
    flags = tuple(bool(f) for f in rule.flags(h)) + (bool(maximize),)
    if not params:
        return tuple(lists)
    on_reference = backends.for_device(lists[0][0]._storage.device) == "reference"
    if capturable is not None:
        if on_reference:
            _run_reference_capturable(rule, lists, h, flags, capturable)
        else:
            k = tuple(rule.scalars(dict(h, step=1, mu_product=0.0)))
            if rule.name == "nadam":   # the kernel derives the step's coefficients; it needs the decay
                k = k[:5] + (h["momentum_decay"],) + k[6:]
            op.launcher()(rule.algo, lists, k, flags, False, capturable)
        return tuple(lists)
    k, first = tuple(rule.scalars(h)), bool(h.get("first", False))
    if on_reference:
        _run_reference(rule, lists, k, flags, first)
    else:
        op.launcher()(rule.algo, lists, k, flags, first)
    return tuple(lists)


# -- samples, errors, the PyTorch oracle ------------------------------------------------------------
SHAPES = ((3, 5), (7,), (), (0,))


def _lists(dtype, rule: Rule, h: dict, seed: int) -> list:
    """params, grads and each state list (empty where the call does not use it); positive states
    where the rule takes square roots of them."""
    out = []
    for j, what in enumerate(("params", "grads") + rule.states):
        if not _used(rule, what, h):
            out.append([])
            continue
        positive = what in ("exp_avg_sqs", "max_exp_avg_sqs", "square_avgs", "acc_deltas", "state_sums", "exp_infs",
                            "step_sizes")
        vals = [S.values(_dt.float32, s, seed + 17 * j + i).astype(np.float32) for i, s in enumerate(SHAPES)]
        if positive:
            vals = [np.asarray(np.abs(v) + 0.5, np.float32) for v in vals]
        elif what == "grad_avgs":  # keeps square_avg - grad_avg**2 positive
            vals = [np.asarray(v * 0.1, np.float32) for v in vals]
        elif what == "prevs":      # Rprop: some previous gradients zero (the step size stays)
            vals = [np.where(np.abs(v) < 1.0, np.float32(0.0), v).astype(np.float32) for v in vals]
        out.append(vals)
    return out


def _used(rule: Rule, what: str, h: dict) -> bool:
    flags = rule.flags(h)
    return {"momentum_buffers": rule.name != "rmsprop" and flags[0] or rule.name == "rmsprop" and flags[1],
            "max_exp_avg_sqs": flags[1], "grad_avgs": flags[0]}.get(what, True)


def _samples_of(rule: Rule, variants: list[dict]):
    def samples(dtype):
        for i, v in enumerate(variants):
            h = dict(rule.defaults, **v)
            maximize = h.pop("maximize", False)
            kwargs = {k: val for k, val in h.items()}
            yield Sample(tuple(_lists(dtype, rule, h, 10 * i)), dict(kwargs, maximize=maximize), f"{rule.name}{i}")
    return samples


VARIANTS = {
    "sgd": [dict(lr=0.1), dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01, first=True),
            dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=False, maximize=True),
            dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)],
    "adam": [dict(step=3, lr=0.01, weight_decay=0.1), dict(step=1, lr=0.01, amsgrad=True, maximize=True),
             dict(step=5, lr=0.01, weight_decay=0.1, decoupled=True, amsgrad=True)],
    "rmsprop": [dict(weight_decay=0.1), dict(centered=True, momentum=0.9, maximize=True)],
    "adagrad": [dict(step=4, lr_decay=0.1, weight_decay=0.1), dict(maximize=True)],
    "adadelta": [dict(weight_decay=0.1), dict(maximize=True)],
    "adamax": [dict(step=2, weight_decay=0.1), dict(step=7, maximize=True)],
    "nadam": [dict(step=2, mu_product=0.9, weight_decay=0.1), dict(step=3, mu_product=0.8, decoupled=True,
                                                                  weight_decay=0.1, maximize=True)],
    "radam": [dict(step=2, weight_decay=0.1), dict(step=9, decoupled=True, weight_decay=0.1, maximize=True)],
    "lion": [dict(lr=0.01, weight_decay=0.1), dict(maximize=True)],
    "rprop": [dict(), dict(etaminus=0.25, etaplus=1.5, step_size_min=0.75, step_size_max=2.0, maximize=True)],
    "asgd": [dict(eta=0.0625, lambd=0.01, weight_decay=0.1), dict(eta=0.25, mu=0.5, lambd=0.1, maximize=True),
             dict(step=5, eta=0.125, mu=0.25, weight_decay=0.1)],
}


def _torch_oracle(rule: Rule):
    """PyTorch's own optimizer (``torch.optim``) on the same params, grads and state; Lion, which
    torch lacks, as a few torch ops."""
    def run(params, grads, *states, maximize=False, **hyper):
        import torch

        h = dict(rule.defaults, **hyper)
        dtype = params[0].dtype
        wide = torch.float64 if dtype == torch.float64 else torch.float32  # torch's CPU half math is coarser
        params = [p.to(wide) for p in params]
        grads = [g.to(wide) for g in grads]
        states = [[s.to(wide) for s in ls] for ls in states]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        opt, keys = _torch_optimizer(rule.name, params, h, maximize)
        if opt is None:
            for p, m in zip(params, states[0]):
                g = -p.grad if maximize else p.grad
                p.mul_(1 - h["lr"] * h["weight_decay"])
                p.add_(torch.sign(m.lerp(g, 1 - h["beta1"])), alpha=-h["lr"])
                m.lerp_(g, 1 - h["beta2"])
            return _narrow((params, grads, *states), dtype)
        for i, p in enumerate(params):
            st = opt.state[p]
            st["step"] = torch.tensor(float(h.get("step", 1) - 1))
            if rule.name == "nadam":
                st["mu_product"] = torch.tensor(h["mu_product"])
            if rule.name == "asgd":
                st["eta"], st["mu"] = torch.tensor(h["eta"]), torch.tensor(h["mu"])
            for key, ls in zip(keys, states):
                if ls and key and not (rule.name == "sgd" and h["first"]):
                    st[key] = ls[i]
        with torch.no_grad():
            opt.step()
        for key, ls in zip(keys, states):
            for i, p in enumerate(params):
                if ls and key:
                    ls[i].copy_(opt.state[p][key])
        return _narrow((params, grads, *states), dtype)
    return run


def _narrow(lists, dtype):
    return tuple([t.to(dtype) for t in ls] for ls in lists)


def _torch_optimizer(name: str, params, h: dict, maximize: bool):
    """The torch.optim optimizer for a call, and its state key per state list."""
    import torch.optim as O

    betas = (h.get("beta1"), h.get("beta2"))
    if name == "sgd":
        return O.SGD(params, lr=h["lr"], momentum=h["momentum"], dampening=h["dampening"], nesterov=h["nesterov"],
                     weight_decay=h["weight_decay"], maximize=maximize), ("momentum_buffer",)
    if name == "adam":
        cls = O.AdamW if h["decoupled"] else O.Adam
        return cls(params, lr=h["lr"], betas=betas, eps=h["eps"], weight_decay=h["weight_decay"],
                   amsgrad=h["amsgrad"], maximize=maximize), ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    if name == "rmsprop":
        return O.RMSprop(params, lr=h["lr"], alpha=h["alpha"], eps=h["eps"], weight_decay=h["weight_decay"],
                         momentum=h["momentum"], centered=h["centered"], maximize=maximize), \
            ("square_avg", "momentum_buffer", "grad_avg")
    if name == "adagrad":
        return O.Adagrad(params, lr=h["lr"], lr_decay=h["lr_decay"], weight_decay=h["weight_decay"], eps=h["eps"],
                         maximize=maximize), ("sum",)
    if name == "adadelta":
        return O.Adadelta(params, lr=h["lr"], rho=h["rho"], eps=h["eps"], weight_decay=h["weight_decay"],
                          maximize=maximize), ("square_avg", "acc_delta")
    if name == "adamax":
        return O.Adamax(params, lr=h["lr"], betas=betas, eps=h["eps"], weight_decay=h["weight_decay"],
                        maximize=maximize), ("exp_avg", "exp_inf")
    if name == "nadam":
        return O.NAdam(params, lr=h["lr"], betas=betas, eps=h["eps"], weight_decay=h["weight_decay"],
                       momentum_decay=h["momentum_decay"], decoupled_weight_decay=h["decoupled"],
                       maximize=maximize), ("exp_avg", "exp_avg_sq")
    if name == "radam":
        return O.RAdam(params, lr=h["lr"], betas=betas, eps=h["eps"], weight_decay=h["weight_decay"],
                       decoupled_weight_decay=h["decoupled"], maximize=maximize), ("exp_avg", "exp_avg_sq")
    if name == "rprop":
        return O.Rprop(params, lr=h["lr"], etas=(h["etaminus"], h["etaplus"]),
                       step_sizes=(h["step_size_min"], h["step_size_max"]), maximize=maximize), ("prev", "step_size")
    if name == "asgd":
        return O.ASGD(params, lr=h["lr"], lambd=h["lambd"], alpha=h["alpha"], t0=h["t0"],
                      weight_decay=h["weight_decay"], maximize=maximize), ("ax",)
    return None, ()


def _errors(rule: Rule):
    def errors():
        p = [np.zeros((2, 3), np.float32)]
        nstates = len(rule.states)
        yield ErrorInput(Sample((p, [np.zeros((3,), np.float32)]) + (p,) * nstates), ShapeError, "shape")
        yield ErrorInput(Sample((p, p + p) + (p,) * nstates), ShapeError, "tensors for")
        yield ErrorInput(Sample((p, [np.zeros((2, 3), np.int64)]) + (p,) * nstates), DTypeError, "float")
        yield ErrorInput(Sample((p, p) + (p,) * nstates, {"bogus": 1}), SignatureError, "unexpected")
    return errors


for _rule in RULES.values():
    _rule.defaults.setdefault("step", 1)  # every optimizer passes its step count; some rules ignore it
    register(Op(
        name=f"{_rule.name}_step", kind="optim", frontend=_frontend, reference=_rule.math,
        triton="neurarust.kernels.optim_triton:launch", dtypes=FLOATS,
        samples=_samples_of(_rule, VARIANTS[_rule.name]), error_inputs=_errors(_rule),
        tolerances=dict(TOLERANCES), method=False, torch_name=_torch_oracle(_rule),
        attrs={"public": False, "rule": _rule}, differentiable=(),
        doc=f"One {_rule.name} update of a list of params in place (internal: see neurarust.optim).\n\n"
            f"    >>> import neurarust as nr\n"
            f"    >>> from neurarust.registry import call\n"
            f"    >>> p = nr.ones(2)\n"
            f"    >>> _ = call('{_rule.name}_step', [p], [nr.ones(2)], "
            + ", ".join(["[nr.ones(2)]"] * len(_rule.states)) + ")\n"
            f"    >>> p.shape\n    neurarust.Size([2])\n"))


# ----------------------------------------------------------------------------------------------
# Adafactor: its factored second moment (row and column means of g * g) and its two RMS terms are
# reductions, so the step is composed: registry ops for the reductions and the small state updates,
# then one multi-tensor launch of the shared kernel (ALGO 11) for the elementwise end
# ----------------------------------------------------------------------------------------------

ADAFACTOR_DEFAULTS = dict(step=1, lr=1e-2, beta2_decay=-0.8, eps1=None, eps2=1e-3, d=1.0, weight_decay=0.0)


def _torch_lerp(a, b, w: float):
    """``torch.lerp``'s formula: ``a + w * (b - a)`` below weight 0.5, else ``b - (b - a) * (1 - w)``
    (so weight 1 gives the end point itself)."""
    return a + w * (b - a) if w < 0.5 else b - (b - a) * (1 - w)


def _adafactor_coefficients(h: dict) -> tuple[float, float]:
    """``(1 - beta2_t, rho_t)`` of step ``h["step"]``: ``step ** beta2_decay`` and ``min(lr, step ** -0.5)``."""
    step = float(h["step"])
    return step ** h["beta2_decay"], min(h["lr"], 1 / step ** 0.5)


def _adafactor_one(p, g, row, col, var, h: dict, eps1: float):
    """``torch.optim.Adafactor``'s update of one non-empty param, operation for operation (NumPy
    arrays in the accumulation dtype, ``g`` already negated under maximize); returns the new
    ``(p, row_var, col_var, variance)``. A param of two or more dims factors its second moment over
    its last two dims (``row_var``, ``col_var``); a vector or scalar keeps a full ``variance``."""
    w, rho = _adafactor_coefficients(h)
    n = p.size
    alpha = max(h["eps2"], math.sqrt(float(np.sum(p * p))) / n ** 0.5) * rho
    if h["weight_decay"] != 0:
        p = p * (1 - h["lr"] * h["weight_decay"])
    if p.ndim > 1:
        row = _torch_lerp(row, np.square(np.sqrt(np.sum(g * g, axis=-1, keepdims=True))) / g.shape[-1], w)
        col = _torch_lerp(col, np.square(np.sqrt(np.sum(g * g, axis=-2, keepdims=True))) / g.shape[-2], w)
        estimate = row * col / np.maximum(np.mean(row, axis=-2, keepdims=True), eps1)
    else:
        var = _torch_lerp(var, g * g, w)
        estimate = var
    update = 1 / np.sqrt(np.maximum(estimate, eps1 * eps1)) * g
    denom = max(1.0, math.sqrt(float(np.sum(update * update))) / (n ** 0.5 * h["d"]))
    return p + (-alpha / denom) * update, row, col, var


def _check_adafactor(name: str, params, grads, rows, cols, variances) -> None:
    """One list entry per param: a matrix (or more dims) has ``row_var`` (its shape with the last dim
    1) and ``col_var`` (the second-to-last dim 1); a vector or scalar has ``variance`` (its shape);
    the unused entries are None. One floating dtype and device throughout."""
    lists = dict(params=params, grads=grads, row_vars=rows, col_vars=cols, variances=variances)
    for what, ls in lists.items():
        if not isinstance(ls, list) or not all(t is None or isinstance(t, Tensor) for t in ls) \
                or what in ("params", "grads") and any(t is None for t in ls):
            raise SignatureError(f"{name}(): '{what}' must be a list of Tensors")
        if len(ls) != len(params):
            raise ShapeError(f"{name}(): '{what}' has {len(ls)} tensors for {len(params)} params")
    for i, (p, g) in enumerate(zip(params, grads)):
        shape = tuple(p.shape)
        if len(shape) > 1:
            want = {"row_vars": shape[:-1] + (1,), "col_vars": shape[:-2] + (1,) + shape[-1:]}
        else:
            want = {"variances": shape}
        want["grads"] = shape
        for what, ls in lists.items():
            if what not in want:
                continue
            t = ls[i]
            if t is None:
                raise ArgumentError(f"{name}(): a param of shape {list(shape)} needs its '{what}' entry")
            if tuple(t.shape) != want[what]:
                raise ShapeError(f"{name}(): a tensor of '{what}' has shape {list(t.shape)}, expected "
                                 f"{list(want[what])} for a param of shape {list(shape)}")
            if t.dtype is not p.dtype or not p.dtype.is_floating_point:
                raise DTypeError(f"{name}(): '{what}' holds {t.dtype} for a {p.dtype} param (expected one "
                                 f"floating dtype)")
            if t.device != p.device:
                raise DeviceError(f"{name}(): '{what}' is on {t.device}, its param on {p.device}")
        if p.dtype is not params[0].dtype or p.device != params[0].device:
            raise DTypeError(f"{name}(): params of one call must share one dtype and device")


def _adafactor_frontend(op: Op, params, grads, row_vars, col_vars, variances, *, maximize: bool = False,
                        **hyper):
    """One Adafactor step of a list of params (all at step ``step``) and their state, in place.
    Returns ``(params, row_vars, col_vars, variances)`` with the None entries left out."""
    unknown = set(hyper) - set(ADAFACTOR_DEFAULTS)
    if unknown:
        raise SignatureError(f"{op.name}() got unexpected keyword arguments {sorted(unknown)}")
    h = dict(ADAFACTOR_DEFAULTS, **hyper)
    lists = [list(x) if isinstance(x, (list, tuple)) else x for x in (params, grads, row_vars, col_vars, variances)]
    _check_adafactor(op.name, *lists)
    params, grads, rows, cols, variances = lists
    h["lr"] = float(h["lr"].item()) if isinstance(h["lr"], Tensor) else float(h["lr"])
    live = [i for i, p in enumerate(params) if p.numel()]   # torch divides by zero on an empty param
    result = (params, [t for t in rows if t is not None], [t for t in cols if t is not None],
              [t for t in variances if t is not None])
    if not live:
        return result
    d = params[0].dtype
    eps1 = float(_dt.finfo(d).eps) if h["eps1"] is None else float(h["eps1"])
    if backends.for_device(params[0]._storage.device) == "reference":
        acc = _acc(d)
        for i in live:
            ts = [params[i], grads[i], rows[i], cols[i], variances[i]]
            arrays = [None if t is None else t._np().astype(acc) for t in ts]
            g = -arrays[1] if maximize else arrays[1]
            new = backends.run_reference(_adafactor_one, arrays[0], g, *arrays[2:], h, eps1)
            for t, a in zip(ts[:1] + ts[2:], new):
                if t is not None:
                    t._np()[...] = np.asarray(a).astype(t.dtype.np)
                    t._bump_version()
        return result
    _adafactor_composed(op, [params[i] for i in live], [grads[i] for i in live], [rows[i] for i in live],
                        [cols[i] for i in live], [variances[i] for i in live], h, eps1, maximize)
    return result


def _adafactor_composed(op: Op, params, grads, rows, cols, variances, h: dict, eps1: float, maximize: bool):
    """The device path: per param, registry ops for the RMS of the param, the row and column means of
    ``g * g`` (lerped into the factors), the second-moment estimate, the update and its RMS (all on
    the device, nothing read back: ``alpha / denom`` stays a one-element tensor); then one launch
    applies the decoupled decay and every param's scaled update."""
    w, rho = _adafactor_coefficients(h)
    acc = _dt.float64 if params[0].dtype is _dt.float64 else _dt.float32
    updates, scales = [], []
    for p, g, row, col, var in zip(params, grads, rows, cols, variances):
        if maximize:
            g = g.neg()
        root_n = math.sqrt(p.numel())
        alpha = (p.norm().to(acc) / root_n).clamp(min=h["eps2"]) * rho
        if p.ndim > 1:
            row.lerp_(g.norm(dim=-1, keepdim=True).square() / g.shape[-1], w)
            col.lerp_(g.norm(dim=-2, keepdim=True).square() / g.shape[-2], w)
            estimate = row * col / row.mean(dim=-2, keepdim=True).clamp(min=eps1)
        else:
            var.lerp_(g * g, w)
            estimate = var
        update = estimate.clamp(min=eps1 * eps1).rsqrt() * g
        denom = (update.norm().to(acc) / (root_n * h["d"])).clamp(min=1.0)
        updates.append(update.contiguous())
        scales.append((alpha / denom).contiguous())
    op.launcher()(11, [params, updates, scales], (h["lr"], h["weight_decay"]), (False, False, False), False)


ADAFACTOR_SHAPES = ((3, 5), (7,), (), (2, 3, 4))


def _adafactor_samples(dtype):
    variants = [dict(step=1, eps1=1e-3), dict(step=4, lr=0.5, weight_decay=0.1, eps1=0.5),
                dict(step=3, beta2_decay=-0.5, eps1=1e-6, eps2=0.1, d=2.0, maximize=True)]
    f32 = _dt.float32
    for i, v in enumerate(variants):
        def vals(shape, j, positive=False):
            a = S.values(f32, shape, 10 * i + j)
            return np.asarray(np.abs(a) + 0.5 if positive else a, np.float32)
        params = [vals(s, k) for k, s in enumerate(ADAFACTOR_SHAPES)]
        grads = [vals(s, 20 + k) for k, s in enumerate(ADAFACTOR_SHAPES)]
        rows = [vals(s[:-1] + (1,), 40 + k, True) if len(s) > 1 else None for k, s in enumerate(ADAFACTOR_SHAPES)]
        cols = [vals(s[:-2] + (1,) + s[-1:], 60 + k, True) if len(s) > 1 else None
                for k, s in enumerate(ADAFACTOR_SHAPES)]
        variances = [vals(s, 80 + k, True) if len(s) <= 1 else None for k, s in enumerate(ADAFACTOR_SHAPES)]
        yield Sample((params, grads, rows, cols, variances), dict(v), f"adafactor{i}")


def _adafactor_errors():
    m, v = [np.zeros((2, 3), np.float32)], [np.zeros((3,), np.float32)]
    row, col = [np.zeros((2, 1), np.float32)], [np.zeros((1, 3), np.float32)]
    yield ErrorInput(Sample((m, m, [np.zeros((3, 1), np.float32)], col, [None])), ShapeError, "shape")
    yield ErrorInput(Sample((m, m, [None], col, [None])), ArgumentError, "row_vars")
    yield ErrorInput(Sample((v, [np.zeros((3,), np.int64)], [None], [None], v)), DTypeError, "float")
    yield ErrorInput(Sample((m, m + m, row, col, [None])), ShapeError, "tensors for")
    yield ErrorInput(Sample((m, m, row, col, [None]), {"bogus": 1}), SignatureError, "unexpected")


def _torch_adafactor(params, grads, row_vars, col_vars, variances, *, maximize=False, **hyper):
    """``torch.optim.Adafactor`` (its single-tensor path) stepping the same params, grads and state."""
    import torch

    h = dict(ADAFACTOR_DEFAULTS, **hyper)
    dtype = params[0].dtype
    wide = torch.float64 if dtype == torch.float64 else torch.float32
    up = lambda ls: [None if t is None else t.to(wide) for t in ls]  # noqa: E731
    params, grads, rows, cols, variances = map(up, (params, grads, row_vars, col_vars, variances))
    for p, g in zip(params, grads):
        p.grad = g.clone()
    opt = torch.optim.Adafactor(params, lr=h["lr"], beta2_decay=h["beta2_decay"], eps=(h["eps1"], h["eps2"]),
                                d=h["d"], weight_decay=h["weight_decay"], maximize=maximize, foreach=False)
    for i, p in enumerate(params):
        st = opt.state[p]
        st["step"] = torch.tensor(float(h["step"] - 1))
        if p.ndim > 1:
            st["row_var"], st["col_var"] = rows[i], cols[i]
        else:
            st["variance"] = variances[i]
    with torch.no_grad():
        opt.step()
    keep = lambda ls: [t.to(dtype) for t in ls if t is not None]  # noqa: E731
    return keep(params), keep(rows), keep(cols), keep(variances)


register(Op(
    name="adafactor_step", kind="optim", frontend=_adafactor_frontend, reference=_adafactor_one,
    triton="neurarust.kernels.optim_triton:launch", dtypes=FLOATS, samples=_adafactor_samples,
    error_inputs=_adafactor_errors, tolerances=dict(TOLERANCES), method=False, torch_name=_torch_adafactor,
    attrs={"public": False}, differentiable=(),
    doc="One Adafactor update of a list of params and their factored second moments in place\n"
        "(internal: see neurarust.optim.Adafactor). ``row_vars``/``col_vars`` hold the factors of params\n"
        "of two or more dims, ``variances`` the moment of vectors and scalars (None elsewhere).\n\n"
        "    >>> import neurarust as nr\n"
        "    >>> from neurarust.registry import call\n"
        "    >>> p, v = nr.ones(2), nr.zeros(2)\n"
        "    >>> _ = call('adafactor_step', [p], [nr.ones(2)], [None], [None], [v], step=1)\n"
        "    >>> [round(x, 4) for x in p.tolist()], v.tolist()\n"
        "    ([0.99, 0.99], [1.0, 1.0])\n"))


# ----------------------------------------------------------------------------------------------
# Multi-tensor helpers of nn.utils.clip_grad_norm_: one norm over many tensors, one in-place scale
# ----------------------------------------------------------------------------------------------

def _check_list(name: str, tensors) -> list:
    if not isinstance(tensors, (list, tuple)) or not tensors or not all(isinstance(t, Tensor) for t in tensors):
        raise SignatureError(f"{name}(): expected a non-empty list of Tensors")
    first = tensors[0]
    for t in tensors:
        if t.dtype is not first.dtype or not t.dtype.is_floating_point or t.device != first.device:
            raise DTypeError(f"{name}(): expected floating tensors of one dtype and device, got {t.dtype} on "
                             f"{t.device} beside {first.dtype} on {first.device}")
    return list(tensors)


def _norm_of(arrays: list, ord: float) -> np.ndarray:
    """The ``ord``-norm of all the arrays' elements together (as the norm of their norms)."""
    flat = np.concatenate([np.abs(a).reshape(-1) for a in arrays])
    if flat.size == 0:
        return np.zeros((), flat.dtype)
    if math.isinf(ord):
        return np.max(flat)
    return np.sum(flat ** ord) ** (1.0 / ord)


def _foreach_norm(op: Op, tensors, ord: float = 2.0) -> Tensor:
    """The ``ord``-norm of all elements of ``tensors`` (one launch for all of them, then a tiny
    reduction of the per-block partials): what ``clip_grad_norm_`` measures."""
    tensors = _check_list(op.name, tensors)
    ord = float(ord)
    if not (ord > 0):
        raise ArgumentError(f"{op.name}(): ord must be > 0 or inf, got {ord}")
    d = tensors[0].dtype
    if backends.for_device(tensors[0]._storage.device) == "reference":
        acc = _acc(d)
        total = backends.run_reference(_norm_of, [t._np().astype(acc) for t in tensors], ord)
        return Tensor._wrap(np.array(np.asarray(total).astype(d.np)), d)
    return op.launcher()(tensors, ord)


def _foreach_mul_(op: Op, tensors, scalar: Tensor):
    """Multiply every tensor in place by the 0-d tensor ``scalar`` (read on the device: no sync)."""
    tensors = _check_list(op.name, tensors)
    if not isinstance(scalar, Tensor) or scalar.numel() != 1:
        raise SignatureError(f"{op.name}(): 'scalar' must be a one-element Tensor")
    if scalar.device != tensors[0].device:
        raise DeviceError(f"{op.name}(): scalar on {scalar.device}, tensors on {tensors[0].device}")
    if backends.for_device(tensors[0]._storage.device) == "reference":
        s = scalar._np().reshape(()).astype(_acc(tensors[0].dtype))
        for t in tensors:  # inf * 0 gives NaN silently, as in PyTorch
            t._np()[...] = backends.run_reference(np.multiply, t._np().astype(s.dtype), s).astype(t.dtype.np)
            t._bump_version()
        return tensors
    op.launcher()(tensors, scalar)
    return tensors


def _norm_samples(dtype):
    arrays = [S.values(_dt.float32, s, 3 + i) for i, s in enumerate(SHAPES)]
    for ord in (2.0, math.inf, 1.0, 3.0):
        yield Sample((arrays,), {"ord": ord}, f"ord{ord}")


def _mul_samples(dtype):
    arrays = [S.values(_dt.float32, s, 5 + i) for i, s in enumerate(SHAPES)]
    yield Sample((arrays, np.array(0.25, np.float32)), {}, "scale")


def _list_errors():
    a = [np.zeros((2,), np.float32)]
    yield ErrorInput(Sample((a + [np.zeros((2,), np.int64)],)), DTypeError, "floating")
    yield ErrorInput(Sample(([],)), SignatureError, "non-empty")


def _torch_norm(tensors, ord=2.0):
    import torch

    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t, ord) for t in tensors if t.numel()]), ord)


def _torch_mul(tensors, scalar):
    return [t * scalar.to(t.dtype) for t in tensors]


register(Op(
    name="foreach_norm", kind="optim", frontend=_foreach_norm, reference=_norm_of,
    triton="neurarust.kernels.optim_triton:launch_norm", dtypes=FLOATS, samples=_norm_samples,
    error_inputs=lambda: [*_list_errors(), ErrorInput(Sample(([np.zeros(2, np.float32)],), {"ord": -1.0}),
                                                      ArgumentError, "ord")],
    tolerances=dict(TOLERANCES), method=False, torch_name=_torch_norm, attrs={"public": False}, differentiable=(),
    doc="The norm of all elements of a list of tensors, in one launch (internal: clip_grad_norm_).\n\n"
        "    >>> import neurarust as nr\n    >>> from neurarust.registry import call\n"
        "    >>> call('foreach_norm', [nr.tensor([3.0]), nr.tensor([4.0])]).item()\n    5.0\n"))
register(Op(
    name="foreach_mul_", kind="optim", frontend=_foreach_mul_, reference=lambda ts, s: [t * s for t in ts],
    triton="neurarust.kernels.optim_triton:launch_mul", dtypes=FLOATS, samples=_mul_samples,
    error_inputs=lambda: [ErrorInput(Sample(e.sample.args + (np.array(1.0, np.float32),)), e.error, e.match)
                          for e in _list_errors()],
    tolerances=dict(TOLERANCES), method=False, torch_name=_torch_mul, attrs={"public": False}, differentiable=(),
    doc="Multiply a list of tensors in place by a 0-d tensor, in one launch (internal: clip_grad_norm_).\n\n"
        "    >>> import neurarust as nr\n    >>> from neurarust.registry import call\n"
        "    >>> x = nr.ones(2); _ = call('foreach_mul_', [x], nr.tensor(0.5)); x.tolist()\n    [0.5, 0.5]\n"))


# ----------------------------------------------------------------------------------------------
# GradScaler's two kernels (torch._amp_foreach_non_finite_check_and_unscale_, torch._amp_update_scale_)
# ----------------------------------------------------------------------------------------------

def _one_element(name: str, what: str, t, device) -> None:
    if not isinstance(t, Tensor) or t.numel() != 1:
        raise SignatureError(f"{name}(): '{what}' must be a one-element Tensor")
    if t.device != device:
        raise DeviceError(f"{name}(): '{what}' is on {t.device}, expected {device}")


def _unscale_reference(arrays: list, found: np.ndarray, inv_scale: np.ndarray):
    """Every array times ``inv_scale``; ``found`` becomes 1 if any element was inf or NaN (before
    scaling). Returns the new arrays and flag."""
    bad = any(not np.isfinite(a).all() for a in arrays if a.size)
    return [a * inv_scale.reshape(()) for a in arrays], (np.ones_like(found) if bad else found)


def _amp_unscale_(op: Op, grads, found_inf: Tensor, inv_scale: Tensor):
    """GradScaler's unscale of one device's gradients of one dtype, in one launch: ``grads *= inv_scale``
    in place and ``found_inf`` set to 1.0 if any gradient holds an inf or NaN (it is never reset here:
    one flag collects a whole optimizer). Returns ``(grads, found_inf)``."""
    grads = _check_list(op.name, grads)
    device = grads[0].device
    _one_element(op.name, "found_inf", found_inf, device)
    _one_element(op.name, "inv_scale", inv_scale, device)
    if backends.for_device(grads[0]._storage.device) != "reference":
        op.launcher()(grads, found_inf, inv_scale)
        return grads, found_inf
    acc = _acc(grads[0].dtype)
    new, found = backends.run_reference(_unscale_reference, [g._np().astype(acc) for g in grads],
                                        found_inf._np().astype(acc), inv_scale._np().astype(acc))
    for t, a in zip(grads + [found_inf], new + [found]):
        t._np()[...] = np.asarray(a).reshape(t.shape).astype(t.dtype.np)
        t._bump_version()
    return grads, found_inf


def _update_scale_reference(scale: float, tracker: int, found: float, growth_factor: float,
                            backoff_factor: float, growth_interval: int) -> tuple:
    """PyTorch's scale update: ``(new_scale, new_tracker)``."""
    if found != 0:
        return scale * backoff_factor, 0
    successful = tracker + 1
    if successful == growth_interval:
        grown = float(np.float32(scale) * np.float32(growth_factor))
        return (grown if math.isfinite(grown) else scale), 0
    return scale, successful


def _amp_update_scale_(op: Op, scale: Tensor, growth_tracker: Tensor, found_inf: Tensor, growth_factor: float,
                       backoff_factor: float, growth_interval: int):
    """GradScaler's update of its scale and growth tracker in place, on the device (one tiny launch):
    back off and reset the tracker when ``found_inf``; else count the clean step, and after
    ``growth_interval`` of them grow the scale (if it stays finite). Returns ``scale``."""
    _one_element(op.name, "scale", scale, scale.device)
    _one_element(op.name, "growth_tracker", growth_tracker, scale.device)
    _one_element(op.name, "found_inf", found_inf, scale.device)
    if not scale.dtype.is_floating_point:
        raise DTypeError(f"{op.name}(): 'scale' must be a floating tensor, got {scale.dtype}")
    if backends.for_device(scale._storage.device) != "reference":
        op.launcher()(scale, growth_tracker, found_inf, growth_factor, backoff_factor, growth_interval)
        return scale
    new_scale, tracker = backends.run_reference(_update_scale_reference, _value(scale), int(_value(growth_tracker)),
                                                _value(found_inf), float(growth_factor), float(backoff_factor),
                                                int(growth_interval))
    scale._np()[...] = np.float32(new_scale).astype(scale.dtype.np)
    growth_tracker._np()[...] = tracker
    scale._bump_version()
    growth_tracker._bump_version()
    return scale


def _unscale_samples(dtype):
    arrays = [S.values(_dt.float32, s, 7 + i) for i, s in enumerate(SHAPES)]
    inv = np.array(0.125, np.float32)
    yield Sample((arrays, np.array(0.0, np.float32), inv), {}, "finite")
    bad = [a.copy() for a in arrays]
    bad[1][2] = np.inf
    yield Sample((bad, np.array(0.0, np.float32), inv), {}, "inf")
    nan = [a.copy() for a in arrays]
    nan[0][1, 1] = np.nan
    yield Sample((nan, np.array(0.0, np.float32), inv), {}, "nan")


def _update_samples(dtype):
    for found in (0.0, 1.0):
        for tracker in (0.0, 2.0):
            yield Sample((np.array(1024.0, np.float32), np.array(tracker, np.float32), np.array(found, np.float32),
                          2.0, 0.5, 3), {}, f"found{found}-tracker{tracker}")


def _torch_unscale(grads, found_inf, inv_scale):
    import torch

    found = found_inf.to(torch.float32).clone()
    torch._amp_foreach_non_finite_check_and_unscale_(grads, found, inv_scale.to(torch.float32))
    return grads, found.to(found_inf.dtype)


def _torch_update_scale(scale, tracker, found_inf, growth_factor, backoff_factor, growth_interval):
    import torch

    s, t = scale.to(torch.float32).clone(), tracker.to(torch.int32).clone()
    torch._amp_update_scale_(s, t, found_inf.to(torch.float32), growth_factor, backoff_factor, growth_interval)
    return s.to(scale.dtype)


register(Op(
    name="amp_unscale_", kind="optim", frontend=_amp_unscale_, reference=_unscale_reference,
    triton="neurarust.kernels.optim_triton:launch_unscale", dtypes=FLOATS, samples=_unscale_samples,
    error_inputs=lambda: [ErrorInput(Sample(e.sample.args + (np.array(0.0, np.float32), np.array(1.0, np.float32))),
                                     e.error, e.match) for e in _list_errors()],
    tolerances=dict(TOLERANCES), method=False, torch_name=_torch_unscale, attrs={"public": False},
    differentiable=(),
    doc="GradScaler's fused inf/NaN check and unscale of a list of gradients, in one launch (internal:\n"
        "torch._amp_foreach_non_finite_check_and_unscale_).\n\n"
        "    >>> import neurarust as nr\n    >>> from neurarust.registry import call\n"
        "    >>> g, found = nr.tensor([4.0, float('inf')]), nr.zeros(())\n"
        "    >>> _ = call('amp_unscale_', [g], found, nr.tensor(0.5)); g.tolist(), found.item()\n"
        "    ([2.0, inf], 1.0)\n"))
register(Op(
    name="amp_update_scale_", kind="optim", frontend=_amp_update_scale_, reference=_update_scale_reference,
    triton="neurarust.kernels.optim_triton:launch_update_scale", dtypes=(_dt.float32,), samples=_update_samples,
    error_inputs=lambda: [ErrorInput(Sample((np.zeros(2, np.float32), np.zeros((), np.float32),
                                             np.zeros((), np.float32), 2.0, 0.5, 3)), SignatureError, "one-element")],
    tolerances=dict(TOLERANCES), method=False, torch_name=_torch_update_scale, attrs={"public": False},
    differentiable=(),
    doc="GradScaler's scale update on the device (internal: torch._amp_update_scale_).\n\n"
        "    >>> import neurarust as nr\n    >>> from neurarust.registry import call\n"
        "    >>> scale, tracker = nr.tensor(8.0), nr.tensor(0, dtype=nr.int32)\n"
        "    >>> _ = call('amp_update_scale_', scale, tracker, nr.tensor(1.0), 2.0, 0.5, 100); scale.item()\n"
        "    4.0\n"))
