"""Muon, as ``torch.optim.Muon``: momentum SGD for 2-D parameters whose update is orthogonalized by a
Newton-Schulz iteration (Keller Jordan's quintic, run in bfloat16 as PyTorch runs it).

The iteration is matrix products, so it is composed of registry ops (``matmul``, ``addmm``, ``norm``,
``lerp``, ...) on the parameter's device; nothing is read back to the host.

    >>> import neurarust as nr
    >>> w = nr.zeros(2, 2, requires_grad=True)
    >>> opt = nr.optim.Muon([w], lr=0.1, weight_decay=0.0)
    >>> w.grad = nr.eye(2); opt.step()
    >>> [[round(v, 1) for v in row] for row in w.tolist()]
    [[-0.1, 0.0], [0.0, -0.1]]
"""
from __future__ import annotations

import math
from typing import Iterable

from neurarust import dtype as _dt
from neurarust.autograd.grad_mode import no_grad
from neurarust.errors import ArgumentError, DTypeError
from neurarust.registry import call
from neurarust.tensor import Tensor

from .optimizer import Optimizer, check

# Keller Jordan's constants (https://kellerjordan.github.io/posts/muon/), PyTorch's defaults.
EPS = 1e-7
DEFAULT_A, DEFAULT_B, DEFAULT_C = 3.4445, -4.7750, 2.0315
DEFAULT_NS_STEPS = 5


def zeropower_via_newtonschulz(grad: Tensor, ns_coefficients: tuple = (DEFAULT_A, DEFAULT_B, DEFAULT_C),
                               ns_steps: int = DEFAULT_NS_STEPS, eps: float = EPS) -> Tensor:
    """The Newton-Schulz orthogonalization of a 2-D ``grad`` (PyTorch's
    ``_zeropower_via_newtonschulz``): in bfloat16, the wide side last, ``X = G / max(||G||, eps)``,
    then ``ns_steps`` times ``A = X X^T; B = b A + c A A; X = a X + B X``. The result approximates
    ``U S' V^T`` with ``S'`` near 1 (``G = U S V^T``), in bfloat16.

    >>> import neurarust as nr
    >>> o = zeropower_via_newtonschulz(nr.tensor([[3.0, 0.0], [0.0, 0.5]]))
    >>> o.dtype, [round(v, 2) for v in o.diagonal().float().tolist()]
    (neurarust.bfloat16, [0.73, 1.05])
    """
    if ns_steps >= 100:
        raise ArgumentError("Number of steps must be less than 100 for computational efficiency")
    if grad.ndim != 2:
        raise ArgumentError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ArgumentError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    x = grad.to(_dt.bfloat16)
    tall = grad.shape[0] > grad.shape[1]
    if tall:
        x = x.T
    x = x / x.norm().clamp(min=eps)     # spectral norm at most 1 (a copy: grad is never written)
    for _ in range(ns_steps):
        gram = call("matmul", x, x.T)
        update = call("addmm", gram, gram, gram, beta=b, alpha=c)
        x = call("addmm", x, update, x, beta=a)
    return x.T if tall else x


def _adjust_lr(lr: float, adjust_lr_fn: str | None, shape) -> float:
    """PyTorch's learning-rate adjustment for a ``shape[0] x shape[1]`` matrix: ``"original"`` (None)
    scales by ``sqrt(max(1, A / B))``, ``"match_rms_adamw"`` by ``0.2 * sqrt(max(A, B))``."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(rows, cols))
    return lr


class Muon(Optimizer):
    """Muon (Jordan et al.), as ``torch.optim.Muon``: for the 2-D parameters of hidden layers (use
    AdamW for biases, embeddings and the rest). The update of each matrix::

        input: lr, weight_decay, mu = momentum, nesterov, (a, b, c) = ns_coefficients, eps, k = ns_steps
        initialize: B <- 0 (momentum_buffer)
        g <- grad
        B <- mu * B + (1 - mu) * g                 (B.lerp_(g, 1 - mu))
        B~ <- g + mu * (B - g) if nesterov else B  (g.lerp(B, mu))
        O <- NS_k^(a, b, c)(B~; eps)               (Newton-Schulz, in bfloat16)
        param <- param * (1 - lr * weight_decay)
        param <- param - AdjustLR(lr, shape) * O

    ``AdjustLR`` is ``lr * sqrt(max(1, A / B))`` for ``adjust_lr_fn=None`` or ``"original"`` (Keller
    Jordan's) and ``lr * 0.2 * sqrt(max(A, B))`` for ``"match_rms_adamw"`` (Moonshot's), for an A x B
    param. State (PyTorch's name): ``momentum_buffer``. With bfloat16 params and ``nesterov=False``
    PyTorch's in-place normalization also rescales the momentum buffer (``.bfloat16()`` returns the
    buffer itself); NeuraRust normalizes a copy.

    Args:
        params: the 2-D tensors to optimize, or parameter groups (dicts); another shape raises
            ArgumentError.
        lr: learning rate. Default: 1e-3.
        weight_decay: decoupled weight decay. Default: 0.1.
        momentum: momentum factor. Default: 0.95.
        nesterov: use Nesterov momentum. Default: True.
        ns_coefficients: ``(a, b, c)`` of the quintic Newton-Schulz polynomial. Default:
            (3.4445, -4.7750, 2.0315).
        eps: floor of the norm the iteration starts by dividing by. Default: 1e-7.
        ns_steps: Newton-Schulz iterations (``< 100``). Default: 5.
        adjust_lr_fn: None, ``"original"`` or ``"match_rms_adamw"``. Default: None.

    >>> import neurarust as nr
    >>> w = nr.zeros(4, 2, requires_grad=True)
    >>> opt = nr.optim.Muon([w], lr=0.02)
    >>> w.grad = nr.ones(4, 2); opt.step()
    >>> sorted(opt.state[w]), opt.defaults["momentum"]
    (['momentum_buffer'], 0.95)
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95,
                 nesterov: bool = True, ns_coefficients: tuple = (DEFAULT_A, DEFAULT_B, DEFAULT_C), eps: float = EPS,
                 ns_steps: int = DEFAULT_NS_STEPS, adjust_lr_fn: str | None = None):
        if isinstance(lr, Tensor):
            check(lr.numel() == 1, "Tensor lr must be 1-element")
        check(0.0 <= lr, f"Learning rate should be >= 0 but is: {lr}")
        check(0.0 <= momentum, f"momentum should be >= 0 but is: {momentum}")
        check(0.0 <= weight_decay, f"weight decay should be >= 0 but is: {weight_decay}")
        check(adjust_lr_fn is None or adjust_lr_fn in ("original", "match_rms_adamw"),
              f"Adjust learning rate function {adjust_lr_fn} is not supported")
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                                      ns_coefficients=tuple(ns_coefficients), eps=eps, ns_steps=ns_steps,
                                      adjust_lr_fn=adjust_lr_fn))
        for group in self.param_groups:
            for p in group["params"]:
                check(p.ndim == 2, f"Muon only supports 2D parameters whereas we found a parameter with size: "
                                   f"{list(p.shape)}")

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss, if any."""
        from neurarust.creation import zeros_like

        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr = float(group["lr"].item()) if isinstance(group["lr"], Tensor) else float(group["lr"])
            momentum = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if grad.ndim != 2:
                    raise ArgumentError("Param gradient must be a 2D matrix")
                if not p.dtype.is_floating_point:
                    raise DTypeError(f"Muon needs floating parameters, got {p.dtype}")
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = zeros_like(grad)
                buf = state["momentum_buffer"]
                buf.lerp_(grad, 1 - momentum)
                update = grad.lerp(buf, momentum) if group["nesterov"] else buf
                update = zeropower_via_newtonschulz(update, group["ns_coefficients"], group["ns_steps"], group["eps"])
                p.mul_(1 - lr * group["weight_decay"])
                p.add_(update, alpha=-_adjust_lr(lr, group["adjust_lr_fn"], p.shape))
        return loss


__all__ = ["Muon"]
