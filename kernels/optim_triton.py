"""The multi-tensor optimizer kernel: one launch updates every parameter of a (group, dtype).

The launcher writes the tensors' addresses into an int64 table with one row per list (params,
grads, up to three state buffers), and two int32 tables over the launch's blocks: which tensor a
program works on, and the first block of each tensor. A program turns its row entries into typed
pointers, loads its block of the param, grad and states, applies the rule (``ALGO``, a constexpr:
each rule is its own specialisation) in fp32 (fp64 for fp64 params) and stores everything back in
place. The per-step numbers ``s0..s7`` and ``first`` are runtime arguments, so a new learning rate
or step never recompiles. The tables depend only on the tensors' addresses and sizes: they are
built once and cached, so a training step does no host work beyond the launch.

Capturable mode (``CAPTURABLE``) adds table rows (each tensor's step count and NAdam's
mu_product, or ASGD's eta and mu: device tensors) and reads lr and the GradScaler's found-inf flag
through pointers: ``advance_kernel`` bumps the step counts unless the flag is set, then the update
derives its per-step numbers on the device and masks everything off when the flag is set (and
``asgd_schedule_kernel`` then computes ASGD's next eta and mu). Adafactor (``ALGO`` 11) uses the
kernel for its elementwise end only: the updates and one scale per tensor come from registry ops.
The GradScaler's own kernels, ``unscale_kernel`` (inf check and unscale, one launch per device and
dtype) and ``update_scale_kernel``, reuse the same tables.
"""
from __future__ import annotations

import torch

import neurarust.launch as L
from neurarust import dtype as _dt
from neurarust.launch import tl, triton

BLOCK = 1024
ROWS = 5   # params, grads, three state buffers
_TABLES: dict = {}
_MAX_TABLES = 64


@triton.jit
def _lerp(a, b, w):
    return a + w * (b - a)


@triton.jit
def _decayed(p, g, wd):
    return tl.where(wd != 0, g + wd * p, g)


@triton.jit
def _sgd(p, g, a_ptr, mask, lr, wd, momentum, dampening, first, HAS_MOMENTUM: tl.constexpr,
         NESTEROV: tl.constexpr, ACC: tl.constexpr):
    g = _decayed(p, g, wd)
    if HAS_MOMENTUM:
        buf = tl.load(a_ptr, mask=mask).to(ACC)
        buf = tl.where(first != 0, g, momentum * buf + (1 - dampening) * g)
        tl.store(a_ptr, buf.to(a_ptr.dtype.element_ty), mask=mask)
        if NESTEROV:
            g = g + momentum * buf
        else:
            g = buf
    return p - lr * g


@triton.jit
def _adam(p, g, a_ptr, b_ptr, c_ptr, mask, lr, beta1, beta2, eps, wd, step_size, bc2_sqrt,
          DECOUPLED: tl.constexpr, AMSGRAD: tl.constexpr, ACC: tl.constexpr):
    if DECOUPLED:
        p = p * (1 - lr * wd)
    else:
        g = _decayed(p, g, wd)
    m = _lerp(tl.load(a_ptr, mask=mask).to(ACC), g, 1 - beta1)
    v = tl.load(b_ptr, mask=mask).to(ACC) * beta2 + (1 - beta2) * g * g
    tl.store(a_ptr, m.to(a_ptr.dtype.element_ty), mask=mask)
    tl.store(b_ptr, v.to(b_ptr.dtype.element_ty), mask=mask)
    if AMSGRAD:
        v = tl.maximum(tl.load(c_ptr, mask=mask).to(ACC), v)
        tl.store(c_ptr, v.to(c_ptr.dtype.element_ty), mask=mask)
    return p - step_size * m / (tl.sqrt(v) / bc2_sqrt + eps)


@triton.jit
def _rmsprop(p, g, a_ptr, b_ptr, c_ptr, mask, lr, alpha, eps, wd, momentum,
             CENTERED: tl.constexpr, HAS_MOMENTUM: tl.constexpr, ACC: tl.constexpr):
    g = _decayed(p, g, wd)
    sq = tl.load(a_ptr, mask=mask).to(ACC) * alpha + (1 - alpha) * g * g
    tl.store(a_ptr, sq.to(a_ptr.dtype.element_ty), mask=mask)
    if CENTERED:
        ga = _lerp(tl.load(c_ptr, mask=mask).to(ACC), g, 1 - alpha)
        tl.store(c_ptr, ga.to(c_ptr.dtype.element_ty), mask=mask)
        avg = tl.sqrt(sq - ga * ga) + eps
    else:
        avg = tl.sqrt(sq) + eps
    if HAS_MOMENTUM:
        buf = tl.load(b_ptr, mask=mask).to(ACC) * momentum + g / avg
        tl.store(b_ptr, buf.to(b_ptr.dtype.element_ty), mask=mask)
        p = p - lr * buf
    else:
        p = p - lr * g / avg
    return p


@triton.jit
def _adagrad(p, g, a_ptr, mask, clr, wd, eps, ACC: tl.constexpr):
    g = _decayed(p, g, wd)
    total = tl.load(a_ptr, mask=mask).to(ACC) + g * g
    tl.store(a_ptr, total.to(a_ptr.dtype.element_ty), mask=mask)
    return p - clr * g / (tl.sqrt(total) + eps)


@triton.jit
def _adadelta(p, g, a_ptr, b_ptr, mask, lr, rho, eps, wd, ACC: tl.constexpr):
    g = _decayed(p, g, wd)
    sq = tl.load(a_ptr, mask=mask).to(ACC) * rho + (1 - rho) * g * g
    acc = tl.load(b_ptr, mask=mask).to(ACC)
    delta = tl.sqrt(acc + eps) / tl.sqrt(sq + eps) * g
    acc = acc * rho + (1 - rho) * delta * delta
    tl.store(a_ptr, sq.to(a_ptr.dtype.element_ty), mask=mask)
    tl.store(b_ptr, acc.to(b_ptr.dtype.element_ty), mask=mask)
    return p - lr * delta


@triton.jit
def _adamax(p, g, a_ptr, b_ptr, mask, clr, beta1, beta2, eps, wd, ACC: tl.constexpr):
    g = _decayed(p, g, wd)
    m = _lerp(tl.load(a_ptr, mask=mask).to(ACC), g, 1 - beta1)
    u = tl.maximum(tl.load(b_ptr, mask=mask).to(ACC) * beta2, tl.abs(g) + eps)
    tl.store(a_ptr, m.to(a_ptr.dtype.element_ty), mask=mask)
    tl.store(b_ptr, u.to(b_ptr.dtype.element_ty), mask=mask)
    return p - clr * m / u


@triton.jit
def _nadam_radam(p, g, a_ptr, b_ptr, mask, lr, beta1, beta2, eps, wd, k5, k6, k7,
                 RADAM: tl.constexpr, DECOUPLED: tl.constexpr, ACC: tl.constexpr):
    """NAdam (k5, k6: the grad and momentum coefficients, k7: bias correction 2) and RAdam (k5: lr
    over bias correction 1, k6: rectification times sqrt(bias correction 2), k7: 1 when the
    variance is tractable): the same moments, different steps."""
    if DECOUPLED:
        p = p * (1 - lr * wd)
    else:
        g = _decayed(p, g, wd)
    m = _lerp(tl.load(a_ptr, mask=mask).to(ACC), g, 1 - beta1)
    v = tl.load(b_ptr, mask=mask).to(ACC) * beta2 + (1 - beta2) * g * g
    tl.store(a_ptr, m.to(a_ptr.dtype.element_ty), mask=mask)
    tl.store(b_ptr, v.to(b_ptr.dtype.element_ty), mask=mask)
    if RADAM:
        scale = tl.where(k7 > 0.5, k6 / (tl.sqrt(v) + eps), 1.0)
        p = p - k5 * m * scale
    else:
        denom = tl.sqrt(v / k7) + eps
        p = p - k5 * g / denom - k6 * m / denom
    return p


@triton.jit
def _lion(p, g, a_ptr, mask, lr, beta1, beta2, wd, ACC: tl.constexpr):
    p = p * (1 - lr * wd)
    m = tl.load(a_ptr, mask=mask).to(ACC)
    c = _lerp(m, g, 1 - beta1)
    p = p - lr * tl.where(c > 0, 1.0, tl.where(c < 0, -1.0, 0.0))
    tl.store(a_ptr, _lerp(m, g, 1 - beta2).to(a_ptr.dtype.element_ty), mask=mask)
    return p


@triton.jit
def _rprop(p, g, a_ptr, b_ptr, mask, etaminus, etaplus, step_min, step_max, ACC: tl.constexpr):
    prev = tl.load(a_ptr, mask=mask).to(ACC)
    s = g * prev
    factor = tl.where(s > 0, etaplus, tl.where(s < 0, etaminus, 1.0))
    size = tl.minimum(tl.maximum(tl.load(b_ptr, mask=mask).to(ACC) * factor, step_min), step_max)
    g = tl.where(s < 0, 0.0, g)
    tl.store(a_ptr, g.to(a_ptr.dtype.element_ty), mask=mask)
    tl.store(b_ptr, size.to(b_ptr.dtype.element_ty), mask=mask)
    return p - tl.where(g > 0, 1.0, tl.where(g < 0, -1.0, 0.0)) * size


@triton.jit
def _asgd(p, g, a_ptr, mask, eta, mu, lambd, wd, ACC: tl.constexpr):
    g = _decayed(p, g, wd)
    p = p * (1 - lambd * eta) - eta * g
    ax = tl.load(a_ptr, mask=mask).to(ACC)
    ax = tl.where(mu != 1, ax + (p - ax) * mu, p)
    tl.store(a_ptr, ax.to(a_ptr.dtype.element_ty), mask=mask)
    return p


@triton.jit
def _adafactor(p, u, scale, lr, wd):
    """Adafactor's elementwise end: decoupled decay, then the update ``u`` (already divided by the
    root of the factored second moment) times this tensor's ``scale`` (alpha over the clipping
    denominator, computed on the device)."""
    p = tl.where(wd != 0, p * (1 - lr * wd), p)
    return p - scale * u


@triton.jit
def _pow(base, exponent):
    """``base ** exponent`` for base in [0, 1] (betas), as PyTorch's capturable updates compute it."""
    return tl.exp2(exponent * tl.log2(base))


@triton.jit
def _device_scalars(step, lr, mu_product, s0, s1, s5, s6, s7, s2, ALGO: tl.constexpr):
    """Capturable mode: the per-step numbers of :func:`kernels.optim` ``*_scalars``, computed from the
    device's step count (already advanced), learning rate and NAdam's ``mu_product`` (this step's
    factor included). The host passes the constant hyperparameters only (NAdam: ``s5`` holds
    ``momentum_decay``)."""
    s0 = lr
    if ALGO == 1 or ALGO == 7:
        bc1 = 1.0 - _pow(s1, step)
        bc2 = 1.0 - _pow(s2, step)
        s5 = lr / bc1
        if ALGO == 1:
            s6 = tl.sqrt(bc2)
        else:
            rho_inf = 2.0 / (1.0 - s2) - 1.0
            rho_t = rho_inf - 2.0 * step * _pow(s2, step) / bc2
            tractable = rho_t > 5.0
            rect = tl.where(tractable, (rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t), 0.0)
            s6 = tl.sqrt(rect) * tl.sqrt(bc2)
            s7 = tl.where(tractable, 1.0, 0.0)
    elif ALGO == 5:
        s0 = lr / (1.0 - _pow(s1, step))
    elif ALGO == 6:
        decay = s5
        mu = s1 * (1.0 - 0.5 * tl.exp2(step * decay * -0.05889368905356857))          # 0.96 ** (step * decay)
        mu_next = s1 * (1.0 - 0.5 * tl.exp2((step + 1.0) * decay * -0.05889368905356857))
        s5 = lr * (1.0 - mu) / (1.0 - mu_product)
        s6 = lr * mu_next / (1.0 - mu_product * mu_next)
        s7 = 1.0 - _pow(s2, step)
    return s0, s5, s6, s7


@triton.jit(do_not_specialize=["T", "first"])  # no second compile for the first step or a one-tensor group
def optim_kernel(table_ptr, numel_ptr, start_ptr, owner_ptr, T, s0, s1, s2, s3, s4, s5, s6, s7, first, lr_ptr,
                 found_ptr, ALGO: tl.constexpr, F1: tl.constexpr, F2: tl.constexpr, MAXIMIZE: tl.constexpr,
                 CAPTURABLE: tl.constexpr, DTYPE: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    t = tl.load(owner_ptr + pid)
    n = tl.load(numel_ptr + t)
    offs = (pid - tl.load(start_ptr + t)).to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    if CAPTURABLE:
        # a found inf/NaN empties every tensor (all loads and stores masked off), so the step leaves
        # params and state as they were, with no host sync
        n = tl.where(tl.load(found_ptr) == 0, n, 0)
    mask = offs < n
    if CAPTURABLE:
        # rows 5, 6 (and 7): each tensor's step count and (NAdam) mu_product or (ASGD) eta and mu
        if ALGO == 10:
            s0 = tl.load(tl.load(table_ptr + 6 * T + t).to(tl.pointer_type(tl.float32)))
            s1 = tl.load(tl.load(table_ptr + 7 * T + t).to(tl.pointer_type(tl.float32)))
        elif ALGO != 9:   # Rprop's update reads neither step nor lr
            step = tl.load(tl.load(table_ptr + 5 * T + t).to(tl.pointer_type(tl.float32)))
            mu_product = 1.0
            if ALGO == 6:
                mu_product = tl.load(tl.load(table_ptr + 6 * T + t).to(tl.pointer_type(tl.float32)))
            s0, s5, s6, s7 = _device_scalars(step, tl.load(lr_ptr), mu_product, s0, s1, s5, s6, s7, s2, ALGO)
    p_ptr = tl.load(table_ptr + t).to(tl.pointer_type(DTYPE)) + offs
    g_ptr = tl.load(table_ptr + T + t).to(tl.pointer_type(DTYPE)) + offs
    a_ptr = tl.load(table_ptr + 2 * T + t).to(tl.pointer_type(DTYPE)) + offs
    b_ptr = tl.load(table_ptr + 3 * T + t).to(tl.pointer_type(DTYPE)) + offs
    c_ptr = tl.load(table_ptr + 4 * T + t).to(tl.pointer_type(DTYPE)) + offs
    p = tl.load(p_ptr, mask=mask).to(ACC)
    g = tl.load(g_ptr, mask=mask).to(ACC)
    if MAXIMIZE:
        g = -g
    if ALGO == 0:
        p = _sgd(p, g, a_ptr, mask, s0, s1, s2, s3, first, F1, F2, ACC)
    elif ALGO == 1:
        p = _adam(p, g, a_ptr, b_ptr, c_ptr, mask, s0, s1, s2, s3, s4, s5, s6, F1, F2, ACC)
    elif ALGO == 2:
        p = _rmsprop(p, g, a_ptr, b_ptr, c_ptr, mask, s0, s1, s2, s3, s4, F1, F2, ACC)
    elif ALGO == 3:
        p = _adagrad(p, g, a_ptr, mask, s0, s1, s2, ACC)
    elif ALGO == 4:
        p = _adadelta(p, g, a_ptr, b_ptr, mask, s0, s1, s2, s3, ACC)
    elif ALGO == 5:
        p = _adamax(p, g, a_ptr, b_ptr, mask, s0, s1, s2, s3, s4, ACC)
    elif ALGO == 6:
        p = _nadam_radam(p, g, a_ptr, b_ptr, mask, s0, s1, s2, s3, s4, s5, s6, s7, False, F1, ACC)
    elif ALGO == 7:
        p = _nadam_radam(p, g, a_ptr, b_ptr, mask, s0, s1, s2, s3, s4, s5, s6, s7, True, F1, ACC)
    elif ALGO == 8:
        p = _lion(p, g, a_ptr, mask, s0, s1, s2, s3, ACC)
    elif ALGO == 9:
        p = _rprop(p, g, a_ptr, b_ptr, mask, s0, s1, s2, s3, ACC)
    elif ALGO == 10:
        p = _asgd(p, g, a_ptr, mask, s0, s1, s2, s3, ACC)
    else:
        # Adafactor: row 1 holds the updates, row 2 one scale per tensor (ACC, one element)
        scale = tl.load(tl.load(table_ptr + 2 * T + t).to(tl.pointer_type(ACC)))
        p = _adafactor(p, g, scale, s0, s1)
    tl.store(p_ptr, p.to(DTYPE), mask=mask)


@triton.jit(do_not_specialize=["T"])
def advance_kernel(table_ptr, T, found_ptr, beta1, momentum_decay, NADAM: tl.constexpr, BLOCK: tl.constexpr):
    """Capturable mode, before the update: every tensor's step count (row 5) grows by one unless the
    found-inf flag is set; NAdam's mu_product (row 6) takes this step's momentum factor."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    live = offs < T
    keep = tl.load(found_ptr) == 0
    step_ptr = tl.load(table_ptr + 5 * T + offs, mask=live, other=0).to(tl.pointer_type(tl.float32))
    step = tl.load(step_ptr, mask=live, other=0.0) + tl.where(keep, 1.0, 0.0)
    tl.store(step_ptr, step, mask=live)
    if NADAM:
        mu_ptr = tl.load(table_ptr + 6 * T + offs, mask=live, other=0).to(tl.pointer_type(tl.float32))
        mu = beta1 * (1.0 - 0.5 * tl.exp2(step * momentum_decay * -0.05889368905356857))
        old = tl.load(mu_ptr, mask=live, other=1.0)
        tl.store(mu_ptr, tl.where(keep, old * mu, old), mask=live)


@triton.jit(do_not_specialize=["T"])
def asgd_schedule_kernel(table_ptr, T, found_ptr, lr_ptr, lambd, alpha, t0, BLOCK: tl.constexpr):
    """Capturable ASGD, after the update: each tensor's next eta (row 6) and mu (row 7) from its
    step count (row 5, already advanced) and the lr, unless the found-inf flag is set."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    live = offs < T
    keep = tl.load(found_ptr) == 0
    step = tl.load(tl.load(table_ptr + 5 * T + offs, mask=live, other=0).to(tl.pointer_type(tl.float32)),
                   mask=live, other=0.0)
    lr = tl.load(lr_ptr)
    eta_ptr = tl.load(table_ptr + 6 * T + offs, mask=live, other=0).to(tl.pointer_type(tl.float32))
    mu_ptr = tl.load(table_ptr + 7 * T + offs, mask=live, other=0).to(tl.pointer_type(tl.float32))
    eta = tl.where(keep, lr / _pow(1.0 + lambd * lr * step, alpha), tl.load(eta_ptr, mask=live, other=0.0))
    mu = tl.where(keep, 1.0 / tl.maximum(step - t0, 1.0), tl.load(mu_ptr, mask=live, other=1.0))
    tl.store(eta_ptr, eta, mask=live)
    tl.store(mu_ptr, mu, mask=live)


def _tables(lists: list, device, nrows: int = ROWS) -> tuple:
    """(address table, numels, first block per tensor, owner per block, tensor count, block count) of
    ``lists``; an unused (empty) list's row repeats the params' addresses (the kernel never touches
    it). Cached on the addresses and sizes, which fully determine the tables."""
    params = lists[0]
    rows = [ls if ls else params for ls in lists] + [params] * (nrows - len(lists))
    key = (device, tuple(tuple(t.data_ptr() for t in r) for r in rows), tuple(p.numel() for p in params))
    hit = _TABLES.get(key)
    if hit is not None:
        return hit
    numels = [p.numel() for p in params]
    blocks = [triton.cdiv(n, BLOCK) for n in numels]
    starts, owner = [], []
    for i, b in enumerate(blocks):
        starts.append(len(owner))
        owner += [i] * b
    dev = "cpu" if device.type == "cpu" else f"cuda:{device.index or 0}"
    table = torch.tensor([t.data_ptr() for r in rows for t in r], dtype=torch.int64).to(dev, non_blocking=True)
    hit = (table, torch.tensor(numels, dtype=torch.int64).to(dev, non_blocking=True),
           torch.tensor(starts, dtype=torch.int32).to(dev, non_blocking=True),
           torch.tensor(owner or [0], dtype=torch.int32).to(dev, non_blocking=True), len(params), len(owner))
    if len(_TABLES) >= _MAX_TABLES:
        _TABLES.pop(next(iter(_TABLES)))
    _TABLES[key] = hit
    return hit


def launch(algo: int, lists: list, scalars: tuple, flags: tuple, first: bool, capturable: tuple | None = None) -> None:
    """One launch for all the tensors of ``lists`` (non-contiguous ones go through contiguous copies).

    ``capturable``: ``(steps, counters, lr, found_inf)``: device tensors (fp32; ``counters`` the
    rule's other per-param scalars list after list: NAdam's mu_products, ASGD's etas then mus, else
    empty). A first launch advances the step counts (unless ``found_inf``), then the update reads
    steps, lr and flag through pointers (and, for ASGD, a last launch computes the next eta and mu):
    nothing comes back to the host."""
    strided = [(i, j) for i, ls in enumerate(lists) for j, t in enumerate(ls) if not t.is_contiguous()]
    if strided:
        work = [[t.contiguous() for t in ls] for ls in lists]
        launch(algo, work, scalars, flags, first, capturable)
        for i, j in strided:
            lists[i][j].copy_(work[i][j])
        return
    p0 = lists[0][0]
    rows, nrows = lists, ROWS
    if capturable is not None:
        n = len(lists[0])
        counters = list(capturable[1])
        extra = [counters[i:i + n] for i in range(0, len(counters), n)] or [[]]
        rows = list(lists) + [[]] * (ROWS - len(lists)) + [capturable[0]] + extra
        nrows = ROWS + 1 + len(extra)
    table, numels, starts, owner, T, nblocks = _tables(rows, p0._storage.device, nrows)
    k = [float(x) for x in scalars] + [0.0] * (8 - len(scalars))
    if capturable is not None:
        steps, mus, lr, found = capturable
        with L.on_device(p0):
            advance_kernel[(triton.cdiv(T, BLOCK),)](table, T, L.pointer(found), k[1], k[5], NADAM=algo == 6,
                                                    BLOCK=BLOCK)
        L.count("optim_advance")
        for t in steps + (mus if algo == 6 else []):
            t._bump_version()
        lr_arg, found_arg = L.pointer(lr), L.pointer(found)
    else:
        lr_arg = found_arg = table
    d = p0.dtype
    if nblocks:
        with L.on_device(p0):
            optim_kernel[(nblocks,)](table, numels, starts, owner, T, *k, int(first), lr_arg, found_arg, ALGO=algo,
                                     F1=flags[0], F2=flags[1], MAXIMIZE=flags[2], CAPTURABLE=capturable is not None,
                                     DTYPE=L.TL_DTYPES[d.name], ACC=tl.float64 if d is _dt.float64 else tl.float32,
                                     BLOCK=BLOCK)
        for ls in lists:
            for t in ls:
                t._bump_version()
        L.count("optim")
    if capturable is not None and algo == 10:
        with L.on_device(p0):
            asgd_schedule_kernel[(triton.cdiv(T, BLOCK),)](table, T, found_arg, lr_arg, k[2], k[5], k[6], BLOCK=BLOCK)
        L.count("optim_advance")
        for t in capturable[1]:
            t._bump_version()


@triton.jit
def norm_partials_kernel(table_ptr, numel_ptr, start_ptr, owner_ptr, out_ptr, p, MODE: tl.constexpr,
                         DTYPE: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr):
    """Per block: the sum of |x|**p (MODE 0: p = 2, 2: p = 1, 3: any p) or the max of |x| (MODE 1,
    NaN if the block holds one); ``launch_norm`` reduces the partials."""
    pid = tl.program_id(0)
    t = tl.load(owner_ptr + pid)
    offs = (pid - tl.load(start_ptr + t)).to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    mask = offs < tl.load(numel_ptr + t)
    x = tl.abs(tl.load(tl.load(table_ptr + t).to(tl.pointer_type(DTYPE)) + offs, mask=mask, other=0.0).to(ACC))
    if MODE == 0:
        part = tl.sum(x * x, axis=0)
    elif MODE == 1:
        part = tl.max(x, axis=0)
        part = tl.where(tl.sum((x != x).to(tl.int32), axis=0) > 0, float("nan"), part)
    elif MODE == 2:
        part = tl.sum(x, axis=0)
    else:
        part = tl.sum(tl.where(x > 0, tl.exp2(p * tl.log2(x)), 0.0), axis=0)
    tl.store(out_ptr + pid, part)


@triton.jit
def scale_kernel(table_ptr, numel_ptr, start_ptr, owner_ptr, scale_ptr, DTYPE: tl.constexpr, ACC: tl.constexpr,
                 BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    t = tl.load(owner_ptr + pid)
    offs = (pid - tl.load(start_ptr + t)).to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    mask = offs < tl.load(numel_ptr + t)
    ptr = tl.load(table_ptr + t).to(tl.pointer_type(DTYPE)) + offs
    s = tl.load(scale_ptr).to(ACC)
    tl.store(ptr, (tl.load(ptr, mask=mask).to(ACC) * s).to(DTYPE), mask=mask)


def _contiguous(tensors: list) -> list:
    return [t if t.is_contiguous() else t.contiguous() for t in tensors]


def launch_norm(tensors: list, ord: float):
    """Partials in one launch, then a tiny reduction of them with registry ops (still on the device)."""
    from neurarust.registry import call
    from neurarust.tensor import Tensor

    tensors = _contiguous(tensors)
    t0 = tensors[0]
    d = t0.dtype
    acc = _dt.float64 if d is _dt.float64 else _dt.float32
    table, numels, starts, owner, _, nblocks = _tables([tensors], t0._storage.device, nrows=1)
    if nblocks == 0:
        return call("zeros", (), dtype=d, device=t0.device)
    mode = 0 if ord == 2 else 1 if ord == float("inf") else 2 if ord == 1 else 3
    partials = Tensor._empty((nblocks,), acc, t0._storage.device)
    with L.on_device(t0):
        norm_partials_kernel[(nblocks,)](table, numels, starts, owner, L.pointer(partials), float(ord), MODE=mode,
                                         DTYPE=L.TL_DTYPES[d.name], ACC=L.TL_DTYPES[acc.name], BLOCK=BLOCK)
    L.count("foreach_norm")
    if mode == 1:
        total = call("amax", partials)
    elif mode == 0:
        total = call("sqrt", call("sum", partials))
    elif mode == 2:
        total = call("sum", partials)
    else:
        total = call("pow", call("sum", partials), 1.0 / ord)
    return total if total.dtype is d else call("cast", total, d)


def launch_mul(tensors: list, scalar) -> None:
    strided = [i for i, t in enumerate(tensors) if not t.is_contiguous()]
    work = _contiguous(tensors)
    t0 = work[0]
    table, numels, starts, owner, _, nblocks = _tables([work], t0._storage.device, nrows=1)
    if nblocks:
        d = t0.dtype
        with L.on_device(t0):
            scale_kernel[(nblocks,)](table, numels, starts, owner, L.pointer(scalar), DTYPE=L.TL_DTYPES[d.name],
                                     ACC=tl.float64 if d is _dt.float64 else tl.float32, BLOCK=BLOCK)
        L.count("foreach_mul_")
    for i in strided:
        tensors[i].copy_(work[i])
    for t in tensors:
        t._bump_version()


@triton.jit
def unscale_kernel(table_ptr, numel_ptr, start_ptr, owner_ptr, found_ptr, inv_scale_ptr, DTYPE: tl.constexpr,
                   ACC: tl.constexpr, BLOCK: tl.constexpr):
    """GradScaler's unscale: every gradient times ``inv_scale`` in place, and ``found_inf`` set to 1
    by any block that holds an inf or NaN (before scaling, as PyTorch checks)."""
    pid = tl.program_id(0)
    t = tl.load(owner_ptr + pid)
    offs = (pid - tl.load(start_ptr + t)).to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    mask = offs < tl.load(numel_ptr + t)
    ptr = tl.load(table_ptr + t).to(tl.pointer_type(DTYPE)) + offs
    x = tl.load(ptr, mask=mask, other=0.0).to(ACC)
    bad = tl.sum(((x - x) != 0).to(tl.int32), axis=0) > 0   # x - x is NaN exactly for inf and NaN
    tl.store(ptr, (x * tl.load(inv_scale_ptr).to(ACC)).to(DTYPE), mask=mask)
    tl.store(found_ptr, tl.full((), 1.0, tl.float32).to(found_ptr.dtype.element_ty), mask=bad)


@triton.jit
def update_scale_kernel(scale_ptr, tracker_ptr, found_ptr, growth_factor, backoff_factor, growth_interval):
    """GradScaler's update (PyTorch's ``_amp_update_scale_``) in one program: back off and reset the
    tracker on inf; else count the clean step and grow (if still finite) after ``growth_interval``."""
    scale = tl.load(scale_ptr).to(tl.float32)
    successful = tl.load(tracker_ptr).to(tl.int32) + 1
    found = tl.load(found_ptr).to(tl.float32) != 0
    grow = successful == growth_interval
    grown = scale * growth_factor
    new_scale = tl.where(found, scale * backoff_factor, tl.where(grow & ((grown - grown) == 0), grown, scale))
    tracker = tl.where(found | grow, 0, successful)
    tl.store(scale_ptr, new_scale.to(scale_ptr.dtype.element_ty))
    tl.store(tracker_ptr, tracker.to(tracker_ptr.dtype.element_ty))


def launch_unscale(grads: list, found_inf, inv_scale) -> None:
    strided = [i for i, t in enumerate(grads) if not t.is_contiguous()]
    work = _contiguous(grads)
    t0 = work[0]
    table, numels, starts, owner, _, nblocks = _tables([work], t0._storage.device, nrows=1)
    if nblocks:
        d = t0.dtype
        with L.on_device(t0):
            unscale_kernel[(nblocks,)](table, numels, starts, owner, L.pointer(found_inf), L.pointer(inv_scale),
                                       DTYPE=L.TL_DTYPES[d.name], ACC=tl.float64 if d is _dt.float64 else tl.float32,
                                       BLOCK=BLOCK)
        L.count("amp_unscale_")
    for i in strided:
        grads[i].copy_(work[i])
    for t in grads:
        t._bump_version()
    found_inf._bump_version()


def launch_update_scale(scale, tracker, found_inf, growth_factor: float, backoff_factor: float,
                        growth_interval: int) -> None:
    with L.on_device(scale):
        update_scale_kernel[(1,)](L.pointer(scale), L.pointer(tracker), L.pointer(found_inf), float(growth_factor),
                                  float(backoff_factor), int(growth_interval))
    scale._bump_version()
    tracker._bump_version()
    L.count("amp_update_scale_")


def aot_specs() -> list:
    """Every rule with the switches its optimizer classes use, for fp32 params; the common rules for
    bf16, fp16 and fp64 (the same code with other load/store types); the capturable variants of the
    rules PyTorch makes capturable and their step-advance kernel; the norm, scale and GradScaler
    kernels."""
    tables = {"table_ptr": "*i64", "numel_ptr": "*i64", "start_ptr": "*i32", "owner_ptr": "*i32"}
    every = [(0, True, True), (0, False, False), (1, False, False), (1, True, True), (2, True, True),
             (2, False, False), (3, False, False), (4, False, False), (5, False, False), (6, True, False),
             (7, False, False), (8, False, False), (9, False, False), (10, False, False), (11, False, False)]
    common = [(0, True, False), (1, False, False), (1, True, False), (8, False, False)]
    capturable = [(1, False, False), (1, True, True), (2, True, True), (4, False, False), (5, False, False),
                  (6, True, False), (7, False, False), (9, False, False), (10, False, False)]
    plan = [(_dt.float32, every, False), (_dt.bfloat16, common, False), (_dt.float16, common[1:2], False),
            (_dt.float64, common[:1], False), (_dt.float32, capturable, True), (_dt.bfloat16, capturable[:2], True)]
    specs = []

    def add(name, kernel, sig, consts):
        sig = dict(sig)
        sig.update({n: "constexpr" for n in consts})
        pointers = tuple(i for i, v in enumerate(sig.values()) if v.startswith("*"))
        specs.append(L.AotSpec(name, kernel, sig, consts, aligned=pointers))

    for d, variants, cap in plan:
        acc = tl.float64 if d is _dt.float64 else tl.float32
        base = {"DTYPE": L.TL_DTYPES[d.name], "ACC": acc, "BLOCK": BLOCK}
        for algo, f1, f2 in variants:
            sig = dict(tables, T="i32", **{f"s{i}": "fp32" for i in range(8)}, first="i32", lr_ptr="*fp32",
                       found_ptr="*fp32")
            add(f"optim_{algo}_{int(f1)}{int(f2)}{'_capturable' if cap else ''}_{d.triton_name}", optim_kernel, sig,
                dict(ALGO=algo, F1=f1, F2=f2, MAXIMIZE=False, CAPTURABLE=cap, **base))
    for nadam in (False, True):
        add(f"advance_steps{'_nadam' if nadam else ''}", advance_kernel,
            dict(table_ptr="*i64", T="i32", found_ptr="*fp32", beta1="fp32", momentum_decay="fp32"),
            dict(NADAM=nadam, BLOCK=BLOCK))
    add("asgd_schedule", asgd_schedule_kernel,
        dict(table_ptr="*i64", T="i32", found_ptr="*fp32", lr_ptr="*fp32", lambd="fp32", alpha="fp32", t0="fp32"),
        dict(BLOCK=BLOCK))
    for d, modes in ((_dt.float32, (0, 1, 3)), (_dt.bfloat16, (0,))):
        base = {"DTYPE": L.TL_DTYPES[d.name], "ACC": tl.float32, "BLOCK": BLOCK}
        for mode in modes:
            add(f"norm_partials_{mode}_{d.triton_name}", norm_partials_kernel, dict(tables, out_ptr="*fp32", p="fp32"),
                dict(MODE=mode, **base))
        add(f"scale_{d.triton_name}", scale_kernel, dict(tables, scale_ptr=f"*{d.triton_name}"), base)
    for d in (_dt.float32, _dt.float16, _dt.bfloat16, _dt.float64):
        acc = tl.float64 if d is _dt.float64 else tl.float32
        add(f"amp_unscale_{d.triton_name}", unscale_kernel, dict(tables, found_ptr="*fp32", inv_scale_ptr="*fp32"),
            {"DTYPE": L.TL_DTYPES[d.name], "ACC": acc, "BLOCK": BLOCK})
    add("amp_update_scale", update_scale_kernel,
        dict(scale_ptr="*fp32", tracker_ptr="*i32", found_ptr="*fp32", growth_factor="fp32", backoff_factor="fp32",
             growth_interval="i32"), {})
    return specs
