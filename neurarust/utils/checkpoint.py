"""Activation checkpointing: keep a block's inputs, not its activations, and run it again in backward.

``checkpoint(fn, *args)`` runs ``fn`` without recording, so none of its intermediate tensors stay
alive; backward runs ``fn`` a second time with recording on and differentiates that. The random
state of every device involved is saved before the first run and restored for the second, so
dropout masks in the recomputation match the ones the forward pass used. Parameters ``fn`` uses get
their gradients accumulated as usual. (Like PyTorch's reentrant variant, it does not support
``create_graph=True`` through the checkpointed block.)

    >>> import neurarust as nr
    >>> from neurarust.utils.checkpoint import checkpoint
    >>> w = nr.tensor([2.0], requires_grad=True)
    >>> x = nr.tensor([3.0], requires_grad=True)
    >>> y = checkpoint(lambda t: t * w * t, x)
    >>> y.backward(nr.ones(1)); x.grad.tolist(), w.grad.tolist()
    ([12.0], [9.0])
"""
from __future__ import annotations

from typing import Any, Callable

from neurarust.autograd import Function, backward, enable_grad
from neurarust.device import CPU
from neurarust.errors import AutogradError
from neurarust.tensor import Tensor


def _rng_states(devices: set) -> dict:
    from neurarust import random

    return {dev: random.generator_for(dev).get_state() for dev in devices}


def _restore(states: dict) -> None:
    from neurarust import random

    for dev, state in states.items():
        random.generator_for(dev).set_state(state)


class _Checkpoint(Function):
    @staticmethod
    def forward(ctx, run: Callable, preserve_rng_state: bool, *args: Any):
        ctx.run = run
        ctx.devices = {CPU} | {a.device for a in args if isinstance(a, Tensor)}
        ctx.rng = _rng_states(ctx.devices) if preserve_rng_state else None
        ctx.args = [None if isinstance(a, Tensor) else a for a in args]
        ctx.save_for_backward(*(a if isinstance(a, Tensor) else None for a in args))
        return run(*args)

    @staticmethod
    def backward(ctx, *grads):
        saved = ctx.saved_tensors
        inputs = []
        for a, t in zip(ctx.args, saved):
            if t is None:
                inputs.append(a)
            else:
                d = t.detach()
                inputs.append(d.requires_grad_(t.requires_grad) if d.dtype.is_floating_point else d)
        after = _rng_states(ctx.devices) if ctx.rng is not None else None
        if ctx.rng is not None:
            _restore(ctx.rng)
        try:
            with enable_grad():
                outputs = ctx.run(*inputs)
        finally:
            if after is not None:
                _restore(after)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grads) if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if not pairs:
            raise AutogradError("checkpoint: none of the block's outputs requires grad")
        backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None, *(x.grad if isinstance(x, Tensor) and x.requires_grad else None for x in inputs))


def checkpoint(function: Callable, *args: Any, use_reentrant: bool | None = None, preserve_rng_state: bool = True,
               **kwargs: Any) -> Any:
    """Run ``function(*args, **kwargs)`` now without keeping its activations; recompute it in backward.

    ``use_reentrant`` is accepted for PyTorch compatibility (this is the reentrant algorithm).

    >>> import neurarust as nr
    >>> from neurarust.utils.checkpoint import checkpoint
    >>> x = nr.tensor([1.0, 2.0], requires_grad=True)
    >>> y = checkpoint(lambda t: t * t, x)
    >>> y.backward(nr.ones(2)); x.grad.tolist()
    [2.0, 4.0]
    """
    run = (lambda *a: function(*a, **kwargs)) if kwargs else function
    return _Checkpoint.apply(run, preserve_rng_state, *args)
