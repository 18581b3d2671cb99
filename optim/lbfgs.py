"""L-BFGS, as ``torch.optim.LBFGS``: a limited-memory quasi-Newton method over all parameters
flattened into one vector, with an optional strong-Wolfe line search.

It is composed of registry ops (cat, mul, sum, ...) rather than a fused kernel: each iteration
needs scalar decisions (curvature tests, line-search conditions) on the host anyway, so it reads
a few dot products back per iteration, as PyTorch's does.

    >>> import neurarust as nr
    >>> w = nr.tensor([3.0, -2.0], requires_grad=True)
    >>> opt = nr.optim.LBFGS([w], line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad(); loss = ((w - 1.0) ** 2).sum(); loss.backward(); return loss
    >>> _ = opt.step(closure)
    >>> [round(v, 4) for v in w.tolist()]
    [1.0, 1.0]
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

from neurarust.autograd.grad_mode import enable_grad, no_grad
from neurarust.errors import ArgumentError
from neurarust.registry import call
from neurarust.tensor import Tensor

from .optimizer import Optimizer


def _dot(a: Tensor, b: Tensor) -> float:
    return (a * b).sum().item()


def _absmax(a: Tensor) -> float:
    return a.abs().max().item()


def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to ``bounds`` (the
    interval by default); the bounds' midpoint when the cubic has no real minimiser."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(disc)
    if x1 <= x2:
        t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        t = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(t, lo), hi)


def _strong_wolfe(evaluate: Callable, t: float, d: Tensor, f: float, g: Tensor, gtd: float, c1: float = 1e-4,
                  c2: float = 0.9, tolerance_change: float = 1e-9, max_ls: int = 25):
    """A step ``t`` along ``d`` meeting the strong Wolfe conditions: bracket it (growing the step by
    cubic extrapolation), then zoom in by safeguarded cubic interpolation. Returns the loss, flat
    gradient and step found, and the number of function evaluations."""
    d_norm = _absmax(d)
    f_new, g_new = evaluate(t)
    evals, gtd_new = 1, _dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done, it = False, 0
    bracket = None
    while it < max_ls:
        worse = f_new > f + c1 * t * gtd or (it > 1 and f_new >= f_prev)
        if not worse and abs(gtd_new) <= -c2 * gtd:
            bracket, done = [[t, f_new, g_new, gtd_new]], True
            break
        if worse or gtd_new >= 0:
            bracket = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        grow = _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = grow
        f_new, g_new = evaluate(t)
        evals, gtd_new, it = evals + 1, _dot(g_new, d), it + 1
    if it == max_ls:
        bracket = [[0.0, f, g, gtd], [t, f_new, g_new, gtd_new]]

    # Zoom: shrink the bracket; ``low`` is the end with the lower loss.
    stalled = False
    low, high = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
    while not done and it < max_ls:
        (a, fa, _, ga), (b, fb, _, gb) = bracket
        if abs(b - a) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(a, fa, ga, b, fb, gb)
        top, bottom = max(a, b), min(a, b)
        eps = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < eps:
            # Too close to an end: after a second time (or outside) move eps inside.
            if stalled or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        f_new, g_new = evaluate(t)
        evals, gtd_new, it = evals + 1, _dot(g_new, d), it + 1
        if f_new > f + c1 * t * gtd or f_new >= bracket[low][1]:
            bracket[high] = [t, f_new, g_new, gtd_new]
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = [t, f_new, g_new, gtd_new]
    t, f_new, g_new, _ = bracket[low] if len(bracket) > 1 else bracket[0]
    return f_new, g_new, t, evals


class LBFGS(Optimizer):
    """L-BFGS with PyTorch's options: one parameter group; ``step(closure)`` runs up to ``max_iter``
    iterations, re-evaluating ``closure`` (which must recompute the loss and its gradients).

    >>> import neurarust as nr
    >>> nr.optim.LBFGS([nr.zeros(1, requires_grad=True)]).defaults["history_size"]
    100
    """

    def __init__(self, params: Iterable, lr: float = 1.0, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None):
        if lr < 0.0:
            raise ArgumentError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise ArgumentError("only 'strong_wolfe' is supported")
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ArgumentError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _flat_grad(self) -> Tensor:
        from neurarust.creation import zeros

        return call("cat", [p.grad.reshape(-1) if p.grad is not None else zeros(p.numel(), dtype=p.dtype,
                                                                                 device=p.device)
                            for p in self._params])

    def _move(self, t: float, d: Tensor) -> None:
        offset = 0
        for p in self._params:
            n = p.numel()
            p.copy_(p + d[offset:offset + n].reshape(p.shape) * t)
            offset += n

    def _evaluate(self, closure: Callable, start: list, d: Tensor, t: float):
        """Loss and flat gradient at ``start + t * d``; the parameters go back to ``start``."""
        self._move(t, d)
        with enable_grad():
            loss = float(closure())
        g = self._flat_grad()
        for p, x in zip(self._params, start):
            p.copy_(x)
        return loss, g

    def _direction(self, g: Tensor, state: dict) -> Tensor:
        """The two-loop recursion: ``-H g`` with the stored curvature pairs (y, s)."""
        ys_, ss_, rho = state["old_dirs"], state["old_stps"], state["ro"]
        alphas = [0.0] * len(ys_)
        q = -g
        for i in range(len(ys_) - 1, -1, -1):
            alphas[i] = _dot(ss_[i], q) * rho[i]
            q = q - ys_[i] * alphas[i]
        r = q * state["H_diag"]
        for i in range(len(ys_)):
            beta = _dot(ys_[i], r) * rho[i]
            r = r + ss_[i] * (alphas[i] - beta)
        return r

    @no_grad()
    def step(self, closure: Callable):
        """Run the iterations; returns the closure's first loss."""
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change, history = group["tolerance_grad"], group["tolerance_change"], group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if _absmax(g) <= tol_grad:
            return orig_loss
        d, t = state.get("d"), state.get("t")
        prev_g, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -g
                state.update(old_dirs=[], old_stps=[], ro=[], H_diag=1.0)
            else:
                y, s = g - prev_g, d * t
                ys = _dot(y, s)
                if ys > 1e-10:
                    if len(state["old_dirs"]) == history:
                        for k in ("old_dirs", "old_stps", "ro"):
                            state[k].pop(0)
                    state["old_dirs"].append(y)
                    state["old_stps"].append(s)
                    state["ro"].append(1.0 / ys)
                    state["H_diag"] = ys / _dot(y, y)
                d = self._direction(g, state)
            prev_g, prev_loss = g, loss
            t = min(1.0, 1.0 / g.abs().sum().item()) * lr if state["n_iter"] == 1 else lr
            gtd = _dot(g, d)
            if gtd > -tol_change:
                break
            if group["line_search_fn"] == "strong_wolfe":
                start = [p.clone() for p in self._params]
                loss, g, t, ls_evals = _strong_wolfe(lambda step: self._evaluate(closure, start, d, step),
                                                     t, d, loss, g, gtd)
                self._move(t, d)
            else:
                self._move(t, d)
                ls_evals = 0
                if n_iter != max_iter:
                    with enable_grad():
                        loss = float(closure())
                    g = self._flat_grad()
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals
            if n_iter == max_iter or evals >= max_eval or _absmax(g) <= tol_grad:
                break
            if _absmax(d) * abs(t) <= tol_change or abs(loss - prev_loss) < tol_change:
                break
        state.update(d=d, t=t, prev_flat_grad=prev_g, prev_loss=prev_loss)
        return orig_loss
