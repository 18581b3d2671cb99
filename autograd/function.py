"""Custom differentiable functions: ``autograd.Function``, as in PyTorch.

Subclass it with static ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` and call
``apply``. ``forward`` runs with recording off, so it may call anything, a hand-written Triton kernel
included; ``backward`` returns one gradient per ``forward`` argument (None for non-tensors and inputs
that need none) and, when written with NeuraRust ops, is itself differentiable.

    >>> import neurarust as nr
    >>> class Cube(nr.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x * x
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_tensors
    ...         return grad * 3 * x * x
    >>> x = nr.tensor([2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward(); x.grad.tolist()
    [12.0]
"""
from __future__ import annotations

from typing import Any

from neurarust.errors import AutogradError
from neurarust.tensor import Tensor

from . import grad_mode
from .graph import CustomFunctionNode, SavedTensor, _detached, _input_meta, attach, edge_of, requires_grad


class FunctionCtx:
    """What ``forward`` leaves for ``backward``: saved tensors, flags, and any attribute you set."""

    def __init__(self, needs_input_grad: tuple):
        self.needs_input_grad = needs_input_grad
        self.materialize_grads = True
        self._to_save: tuple = ()
        self._saved: list | None = None
        self._non_differentiable: set = set()
        self._dirty: set = set()
        self._node = None

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep tensors for ``backward`` (checked there for in-place changes since)."""
        self._to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward``, as they were then."""
        if self._saved is None:
            return tuple(self._to_save)
        return tuple(s.unpack(self._node) if isinstance(s, SavedTensor) else s for s in self._saved)

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        """Outputs that never require grad (indices, masks)."""
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors: Tensor) -> None:
        """Inputs that ``forward`` modified in place (and returns)."""
        self._dirty.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool) -> None:
        """Whether ``backward`` gets zeros (True, the default) or None for outputs with no gradient."""
        self.materialize_grads = bool(value)

    def _release(self) -> None:
        for s in self._saved or ():
            if isinstance(s, SavedTensor):
                s.release()


class Function:
    """Base class of user-defined differentiable operations (see the module docstring)."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("a Function subclass must define forward(ctx, ...)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Tensor) -> Any:
        raise NotImplementedError("a Function subclass must define backward(ctx, ...) to be differentiated")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` and, if an input requires grad, record ``backward`` in the graph."""
        ctx = FunctionCtx(tuple(requires_grad(a) for a in args))
        with grad_mode.no_grad():
            result = cls.forward(ctx, *args, **kwargs)
        if not (grad_mode.is_grad_enabled() and any(ctx.needs_input_grad)):
            return result
        return _record(cls, ctx, args, result)


def _record(cls, ctx: FunctionCtx, args: tuple, result):
    outputs = list(result) if isinstance(result, tuple) else [result]
    inputs_by_id = {id(a): a for a in args if isinstance(a, Tensor)}
    for i, out in enumerate(outputs):
        if isinstance(out, Tensor) and id(out) in inputs_by_id:
            if id(out) in ctx._dirty:
                _check_dirty(out)
            else:  # an input returned unchanged: give back an alias so the input's history stays its own
                outputs[i] = _detached(out)
    edges = [edge_of(a) if isinstance(a, Tensor) else None for a in args]
    metas = [_input_meta(a) if isinstance(a, Tensor) else None for a in args]
    shapes = [(o._shape, o._dtype, o.device) if isinstance(o, Tensor) else None for o in outputs]
    node = CustomFunctionNode(f"{cls.__name__}Backward", None, edges, metas, len(outputs), ctx._release)
    node.backward = _backward_of(cls, ctx, len(args), shapes)
    ctx._node = node
    ctx._saved = [_save(t, outputs, cls.__name__) for t in ctx._to_save]
    attach([o if id(o) not in ctx._non_differentiable else None for o in outputs], node)
    return tuple(outputs) if isinstance(result, tuple) else outputs[0]


def _check_dirty(t: Tensor) -> None:
    m = t._autograd
    if m is not None and m.requires_grad and m.grad_fn is None:
        raise AutogradError(f"a leaf Variable that requires grad (shape {list(t.shape)}) has been used in an "
                            f"in-place operation (mark_dirty)")


def _save(t, outputs: list, name: str):
    if t is None:
        return None
    for i, out in enumerate(outputs):
        if t is out:
            return SavedTensor(t, name, f"output {i}", i)
    return SavedTensor(t, name, "saved tensor")


def _backward_of(cls, ctx: FunctionCtx, n_inputs: int, shapes: list):
    def backward(*grads):
        if ctx.materialize_grads:
            from neurarust.creation import zeros

            grads = [zeros(s[0], dtype=s[1], device=s[2]) if g is None and s is not None else g
                     for g, s in zip(grads, shapes)]
        out = cls.backward(ctx, *grads)
        out = list(out) if isinstance(out, (tuple, list)) else [out]
        if len(out) < n_inputs or any(g is not None for g in out[n_inputs:]):
            raise AutogradError(f"function {cls.__name__}Backward returned an incorrect number of gradients "
                                f"(expected {n_inputs}, got {len(out)})")
        return out[:n_inputs]

    return backward
