"""Activation checkpointing: keep a block's inputs, not its activations, and run it again in backward.

Two algorithms, as in PyTorch (``use_reentrant``):

* reentrant (the default): ``checkpoint(fn, *args)`` runs ``fn`` without recording, so none of its
  intermediate tensors stay alive; backward runs ``fn`` a second time with recording on and runs a
  backward of its own through that. Parameters ``fn`` uses get their gradients accumulated by that
  inner backward, so only inputs that require grad connect the block to the graph, ``autograd.grad``
  cannot reach a parameter inside it, and it does not support ``create_graph=True``.
* non-reentrant (``use_reentrant=False``): ``fn`` runs with recording on, so the block's ops are part
  of the graph like any others (its output requires grad when a parameter inside does, and
  ``autograd.grad`` with respect to a parameter or to the input alone works and touches no
  ``.grad``), but every tensor its ops save for backward goes through ``saved_tensors_hooks`` that keep
  only its position: the block's intermediates are freed after the forward pass. The first saved
  tensor backward asks for runs ``fn`` again (recording, on detached inputs) and hands back the
  tensors it saves, by position; a block whose recomputation saves different tensors raises.

Both save the random state of every device involved before the first run and restore it for the
recomputation, so dropout masks match the ones the forward pass used.

    >>> import neurarust as nr
    >>> from neurarust.utils.checkpoint import checkpoint
    >>> w = nr.tensor([2.0], requires_grad=True)
    >>> x = nr.tensor([3.0], requires_grad=True)
    >>> y = checkpoint(lambda t: t * w * t, x)
    >>> y.backward(nr.ones(1)); x.grad.tolist(), w.grad.tolist()
    ([12.0], [9.0])
"""
from __future__ import annotations

from contextlib import ExitStack
from typing import Any, Callable

from neurarust.autograd import Function, backward, enable_grad
from neurarust.autograd.graph import saved_tensors_hooks
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

    ``use_reentrant``: True or None (the default) for the reentrant algorithm, False for the
    non-reentrant one (see the module docstring).

    >>> import neurarust as nr
    >>> from neurarust.utils.checkpoint import checkpoint
    >>> x = nr.tensor([1.0, 2.0], requires_grad=True)
    >>> y = checkpoint(lambda t: t * t, x)
    >>> y.backward(nr.ones(2)); x.grad.tolist()
    [2.0, 4.0]
    """
    run = (lambda *a: function(*a, **kwargs)) if kwargs else function
    if use_reentrant is False:
        return _Recompute(run, args, preserve_rng_state).forward()
    return _Checkpoint.apply(run, preserve_rng_state, *args)


class _Recompute:
    """The non-reentrant algorithm: the saved tensors of one call of the block, by position."""

    def __init__(self, run: Callable, args: tuple, preserve_rng_state: bool):
        self.run = run
        self.args = args
        self.devices = {CPU} | {a.device for a in args if isinstance(a, Tensor)}
        self.rng = _rng_states(self.devices) if preserve_rng_state else None
        self.autocast = _autocast_state()
        self.packed: list[tuple] = []              # (shape, dtype) per tensor the forward saved
        self.recomputed: dict[int, Tensor] = {}    # position -> recomputed tensor, until backward takes it

    def forward(self) -> Any:
        with saved_tensors_hooks(self._pack, self._unpack):
            return self.run(*self.args)

    def _pack(self, t: Tensor) -> int:
        self.packed.append((t._shape, t._dtype))
        return len(self.packed) - 1                # the position only: the tensor itself is let go

    def _unpack(self, position: int) -> Tensor:
        t = self.recomputed.pop(position, None)
        if t is None:                              # the first one backward needs (again, after retain_graph)
            self._recompute()
            t = self.recomputed.pop(position)
        return t

    def _recompute(self) -> None:
        saved: list[Tensor] = []
        inputs = [_detached_input(a) for a in self.args]
        after = _rng_states(self.devices) if self.rng is not None else None
        if self.rng is not None:
            _restore(self.rng)
        try:
            with ExitStack() as stack:
                stack.enter_context(enable_grad())
                for ctx in _autocast_contexts(self.autocast):
                    stack.enter_context(ctx)
                stack.enter_context(saved_tensors_hooks(lambda t: saved.append(t.detach()), _unused))
                self.run(*inputs)
        finally:
            if after is not None:
                _restore(after)
        if [(t._shape, t._dtype) for t in saved] != self.packed:
            raise AutogradError(f"checkpoint (use_reentrant=False): the recomputation of the block saved "
                                f"{len(saved)} tensors for backward, not the {len(self.packed)} the forward pass "
                                f"saved (or of other shapes or dtypes); the block must run the same ops on "
                                f"recomputation")
        self.recomputed = dict(enumerate(saved))


def _detached_input(a: Any) -> Any:
    if not isinstance(a, Tensor):
        return a
    return a.detach().requires_grad_(a.requires_grad) if a.dtype.is_floating_point else a.detach()


def _unused(_: Any) -> Tensor:  # pragma: no cover - the recomputation's graph is never differentiated
    raise AutogradError("checkpoint: the recomputed graph cannot be differentiated")


def _autocast_state() -> dict:
    from neurarust.amp import get_autocast_dtype, is_autocast_enabled

    return {dev: (is_autocast_enabled(dev), get_autocast_dtype(dev)) for dev in ("cpu", "cuda")}


def _autocast_contexts(state: dict) -> list:
    """The autocast regions the forward pass ran in, so the recomputation casts as it did."""
    from neurarust.amp import autocast

    return [autocast(dev, dtype=dtype, enabled=enabled) for dev, (enabled, dtype) in state.items()]
