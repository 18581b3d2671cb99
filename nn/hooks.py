"""Full backward hooks of modules, built as PyTorch builds them: an identity ``autograd.Function``
around the module's tensor inputs and another around its outputs. The output identity's backward
sees ``grad_output``; the input identity's backward sees ``grad_input`` and calls the hooks::

    >>> import neurarust as nr
    >>> lin = nr.nn.Linear(2, 1)
    >>> seen = []
    >>> h = lin.register_full_backward_hook(lambda m, gin, gout: seen.append((gin[0].shape, gout[0].shape)))
    >>> lin(nr.ones(3, 2, requires_grad=True)).sum().backward()
    >>> seen
    [(neurarust.Size([3, 2]), neurarust.Size([3, 1]))]
"""
from __future__ import annotations

from typing import Any

from neurarust.autograd.function import Function
from neurarust.tensor import Tensor


class BackwardHookState:
    """One forward call's bookkeeping: the module, how many tensor inputs it had, and the output
    gradients once backward reaches them."""

    def __init__(self, module):
        self.module = module
        self.n_inputs = 0
        self.inputs_need_grad = False
        self.grad_outputs: tuple | None = None

    def wrap_inputs(self, args: tuple) -> tuple:
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.n_inputs = len(positions)
        self.inputs_need_grad = any(args[i].requires_grad for i in positions)
        if not self.inputs_need_grad:
            return args
        wrapped = _InputIdentity.apply(self, *(args[i] for i in positions))
        out = list(args)
        for i, t in zip(positions, wrapped):
            out[i] = t
        return tuple(out)

    def wrap_outputs(self, output: Any) -> Any:
        single = isinstance(output, Tensor)
        outs = (output,) if single else output
        if not isinstance(outs, (tuple, list)) or not all(isinstance(o, Tensor) for o in outs):
            return output  # outputs of other kinds are not hooked (as PyTorch)
        if not any(o.requires_grad for o in outs):
            return output
        wrapped = _OutputIdentity.apply(self, *outs)
        return wrapped[0] if single else type(output)(wrapped)

    def run_hooks(self, grad_input: tuple) -> tuple:
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, self.grad_outputs)
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != len(grad_input):
                    raise ValueError(f"backward hook returned {len(result)} gradients, expected {len(grad_input)}")
                grad_input = result
        return grad_input


def _aliases(tensors: tuple) -> tuple:
    return tuple(t.view_as(t) for t in tensors)


class _InputIdentity(Function):
    @staticmethod
    def forward(ctx, state: BackwardHookState, *inputs: Tensor):
        ctx.state = state
        ctx.set_materialize_grads(False)
        ctx.input_meta = [(i.shape, i.dtype, i.device) for i in inputs]
        outs = _aliases(inputs)
        ctx.mark_non_differentiable(*(o for o, i in zip(outs, inputs) if not i.requires_grad))
        return outs

    @staticmethod
    def backward(ctx, *grads):
        from neurarust.creation import zeros

        # The hooks see zeros where no gradient flowed (an input without requires_grad, or one that
        # forward did not use), as PyTorch's materialised grads; inputs that need none get None back.
        grads = tuple(zeros(*shape, dtype=dtype, device=device) if g is None else g
                      for g, (shape, dtype, device) in zip(grads, ctx.input_meta))
        grads = ctx.state.run_hooks(grads)
        return (None,) + tuple(g if need else None for g, need in zip(grads, ctx.needs_input_grad[1:]))


class _OutputIdentity(Function):
    @staticmethod
    def forward(ctx, state: BackwardHookState, *outputs: Tensor):
        ctx.state = state
        ctx.set_materialize_grads(False)
        return _aliases(outputs)

    @staticmethod
    def backward(ctx, *grads):
        state = ctx.state
        module = state.module
        for hook in list(module._backward_pre_hooks.values()):
            result = hook(module, grads)
            if result is not None:
                grads = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        state.grad_outputs = grads
        if not state.inputs_need_grad:  # no input gradient will come: call the hooks now, as PyTorch
            state.run_hooks((None,) * state.n_inputs)
        return (None,) + tuple(grads)
