"""neurarust.autograd: the gradient engine.

Ops record a graph as they run on tensors that require grad (``graph``); ``backward`` and ``grad``
walk it (``engine``) calling the backward formula each registry entry declares, written with
NeuraRust ops so that ``create_graph=True`` differentiates them again. ``Function`` wraps code of
your own (a hand-written Triton kernel) with its gradient; ``functional`` differentiates whole
functions (``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``vhp``, ``hvp``). See docs/autograd.md.

    >>> import neurarust as nr
    >>> w = nr.tensor([1.0, -2.0], requires_grad=True)
    >>> loss = (w * w).sum()
    >>> loss.backward()
    >>> w.grad.tolist()
    [2.0, -4.0]
"""
from __future__ import annotations

from . import graph  # installs the recorder in the registry: ops record from now on
from .anomaly import detect_anomaly
from .engine import backward, grad
from .function import Function, FunctionCtx
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                        set_grad_enabled)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from . import functional  # torch.autograd.functional: jacobian, hessian, vjp, jvp, vhp, hvp

__all__ = ["backward", "grad", "Function", "FunctionCtx", "no_grad", "enable_grad", "set_grad_enabled",
           "inference_mode", "is_grad_enabled", "is_inference_mode_enabled", "gradcheck", "gradgradcheck",
           "GradcheckError", "detect_anomaly", "graph", "functional"]
