"""Tensor hooks: ``register_hook`` (sees, and may replace, a gradient as backward computes it) and
``register_post_accumulate_grad_hook`` (runs after a leaf's ``.grad`` is updated).

    >>> import neurarust as nr
    >>> x = nr.ones(2, requires_grad=True)
    >>> seen = []
    >>> h = x.register_hook(lambda g: seen.append(g.tolist()))
    >>> (x * 3).sum().backward(); h.remove(); (x * 3).sum().backward()
    >>> seen
    [[3.0, 3.0]]
"""
from __future__ import annotations

from typing import Callable

from neurarust.errors import AutogradError
from neurarust.tensor import Tensor

from .graph import meta


class RemovableHandle:
    """Returned by hook registration; ``remove()`` takes the hook out (removing twice is harmless)."""

    def __init__(self, hooks: list, hook: Callable):
        self._hooks = hooks
        self._hook = hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def register_tensor_hook(t: Tensor, hook: Callable) -> RemovableHandle:
    if not t.requires_grad:
        raise AutogradError("cannot register a hook on a tensor that doesn't require gradient")
    m = meta(t)
    if m.grad_fn is None and not isinstance(m.hooks, list):
        m.hooks = []
    hooks = m.hooks if m.grad_fn is None else m.grad_fn.hooks_of(m.output_nr)
    hooks.append(hook)
    return RemovableHandle(hooks, hook)


def register_post_accumulate_hook(t: Tensor, hook: Callable) -> RemovableHandle:
    if not t.requires_grad or not t.is_leaf:
        raise AutogradError("post accumulate grad hooks can only be registered on leaf tensors that require grad")
    m = meta(t)
    if not isinstance(m.post_accumulate_hooks, list):
        m.post_accumulate_hooks = []
    m.post_accumulate_hooks.append(hook)
    return RemovableHandle(m.post_accumulate_hooks, hook)
