"""Copies of a module, one per device, whose parameters stay in the original's autograd graph.

A replica shares the module's structure but not its tables: each parameter is the original seen
through a differentiable op (a view on the original's device, a copy on another device), so the
replicas' gradients flow back and add up in the original parameters' ``.grad`` (on the first
device). Buffers of the first replica are the module's own, so in-place updates there (batch-norm
running statistics) are kept; the other replicas get detached copies.

    >>> import neurarust as nr
    >>> from neurarust.parallel.replicate import replicate
    >>> m = nr.nn.Linear(2, 1)
    >>> r0, r1 = replicate(m, ["cpu", "cpu"])
    >>> (r0(nr.ones(1, 2)) + r1(nr.ones(1, 2))).sum().backward()
    >>> m.bias.grad.tolist()
    [2.0]
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Sequence

from neurarust.autograd import grad_mode
from neurarust.device import as_device
from neurarust.nn.module import Module
from neurarust.tensor import Tensor


def replicate(module: Module, devices: Sequence[Any]) -> list[Module]:
    """One replica of ``module`` per entry of ``devices``."""
    return [_replica(module, as_device(d), first=(i == 0)) for i, d in enumerate(devices)]


def _replica(module: Module, device, first: bool) -> Module:
    copies: dict[int, Module] = {}
    for m in module.modules():
        copies[id(m)] = _shallow_copy(m)
    for m in module.modules():
        c = copies[id(m)]
        c.__dict__["_modules"] = OrderedDict((k, None if s is None else copies[id(s)]) for k, s in m._modules.items())
        c.__dict__["_parameters"] = OrderedDict((k, None if p is None else _param_on(p, device))
                                                for k, p in m._parameters.items())
        c.__dict__["_buffers"] = OrderedDict((k, None if b is None else _buffer_on(b, device, first))
                                             for k, b in m._buffers.items())
    return copies[id(module)]


def _shallow_copy(m: Module) -> Module:
    c = object.__new__(type(m))
    c.__dict__.update(m.__dict__)
    return c


def _param_on(p: Tensor, device) -> Tensor:
    """``p`` on ``device`` as a non-leaf whose gradient reaches ``p`` (a detached alias under no_grad)."""
    if p.device != device:
        return p.to(device)
    return p.view(p.shape) if grad_mode.is_grad_enabled() else p.detach()


def _buffer_on(b: Tensor, device, first: bool) -> Tensor:
    if first and b.device == device:
        return b
    return b.detach().to(device, copy=True)
