"""Finite-difference checks of gradients: ``gradcheck`` and ``gradgradcheck``.

``gradcheck`` compares, for every input element and every output element, the derivative backward
computes with the central difference ``(f(x + eps) - f(x - eps)) / (2 eps)``; use float64 inputs.
A mismatch raises :class:`GradcheckError` naming the input, the worst element, both values and the
error, so a wrong formula points at itself. ``gradgradcheck`` applies the same check to the
gradient function (second derivatives, as ``create_graph=True`` computes them).

    >>> import neurarust as nr
    >>> x = nr.tensor([0.5, 1.5], dtype=nr.float64, requires_grad=True)
    >>> nr.autograd.gradcheck(lambda t: (t * t.exp()).sum(), (x,))
    True
    >>> nr.autograd.gradgradcheck(lambda t: t.sin(), (x,))
    True
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from neurarust.errors import AutogradError
from neurarust.tensor import Tensor

from . import grad_mode
from .engine import grad as _grad


class GradcheckError(AutogradError):
    """A gradient that disagrees with its finite-difference estimate."""


def _outputs(func: Callable, inputs: Sequence) -> list[Tensor]:
    out = func(*inputs)
    return [out] if isinstance(out, Tensor) else [o for o in out if isinstance(o, Tensor)]


def _numerical(func: Callable, inputs: list, i: int, eps: float) -> list[np.ndarray]:
    """d outputs / d inputs[i] by central differences: one (numel_out, numel_in) matrix per output."""
    x = inputs[i]
    base = x.detach().clone().numpy().astype(np.float64).reshape(-1)
    columns = []
    for k in range(base.size):
        values = []
        for step in (eps, -eps):
            moved = base.copy()
            moved[k] += step
            trial = list(inputs)
            trial[i] = _like(x, moved)
            values.append([o.detach().numpy().astype(np.float64).reshape(-1) for o in _outputs(func, trial)])
        columns.append([(p - m) / (2 * eps) for p, m in zip(*values)])
    n_out = len(columns[0]) if columns else len(_outputs(func, inputs))
    return [np.stack([c[j] for c in columns], axis=1) if columns else np.zeros((0, 0)) for j in range(n_out)]


def _like(x: Tensor, flat: np.ndarray) -> Tensor:
    from neurarust.creation import tensor

    return tensor(flat.reshape(x.shape), dtype=x.dtype, device=x.device)


def _analytical(outputs: list[Tensor], inputs: list, i: int) -> list[np.ndarray]:
    """d outputs / d inputs[i] from backward, one output element at a time."""
    from neurarust.creation import zeros

    x = inputs[i]
    rows_per_output = []
    for out in outputs:
        rows = []
        for j in range(out.numel()):
            if not out.requires_grad:
                rows.append(np.zeros(x.numel()))
                continue
            seed = np.zeros(out.numel())
            seed[j] = 1.0
            g = zeros(out.shape, dtype=out.dtype, device=out.device)
            g.view(-1).copy_(_like(g.view(-1), seed))
            (gx,) = _grad(out, x, g, retain_graph=True, allow_unused=True)
            rows.append(np.zeros(x.numel()) if gx is None else gx.detach().numpy().astype(np.float64).reshape(-1))
        rows_per_output.append(np.stack(rows) if rows else np.zeros((0, x.numel())))
    return rows_per_output


def gradcheck(func: Callable, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """True when backward's gradients of ``func`` match central differences at ``inputs``.

    Every input that requires grad is checked (use float64 ones); outputs may be a tensor or a tuple.

    >>> import neurarust as nr
    >>> a = nr.tensor([[1.0, 2.0]], dtype=nr.float64, requires_grad=True)
    >>> nr.autograd.gradcheck(lambda t: t.exp(), (a,))
    True
    """
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    outputs = _outputs(func, inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad and x.numel()]
    # every analytical Jacobian first: the finite-difference calls may write into tensors the graph
    # of ``outputs`` reads (a function made of in-place ops)
    analytic = {i: _analytical(outputs, inputs, i) for i in checked}
    for i in checked:
        x = inputs[i]
        numeric = _numerical(func, inputs, i, eps)
        for j, (a, n) in enumerate(zip(analytic[i], numeric)):
            bad = np.abs(a - n) > atol + rtol * np.abs(n)
            if bad.any():
                if not raise_exception:
                    return False
                raise GradcheckError(_report(i, j, x, a, n))
    return True


def _report(i: int, j: int, x: Tensor, analytic: np.ndarray, numeric: np.ndarray) -> str:
    err = np.abs(analytic - numeric)
    r, c = np.unravel_index(np.argmax(err), err.shape)
    return (f"Jacobian mismatch for output {j} with respect to input {i} (shape {list(x.shape)}, {x.dtype}): "
            f"worst at output element {r}, input element {c}: analytical {float(analytic[r, c])!r}, "
            f"numerical {float(numeric[r, c])!r} (error {float(err[r, c]):.3g})")


def gradgradcheck(func: Callable, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """``gradcheck`` of the gradient of ``func`` (second derivatives through ``create_graph=True``).

    ``grad_outputs`` default to fixed pseudo-random tensors that also require grad.

    >>> import neurarust as nr
    >>> x = nr.tensor([0.3, -1.2], dtype=nr.float64, requires_grad=True)
    >>> nr.autograd.gradgradcheck(lambda t: t.tanh() * t, (x,))
    True
    """
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    outputs = _outputs(func, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [_like(o, rng.uniform(-1, 1, o.numel())).requires_grad_() for o in outputs]
    grad_outputs = list(grad_outputs) if isinstance(grad_outputs, (list, tuple)) else [grad_outputs]
    diff = [k for k, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    n = len(inputs)

    def first_derivatives(*args):
        xs, gs = list(args[:n]), list(args[n:])
        for k in diff:  # the finite-difference calls pass plain tensors: differentiate at them too
            if not xs[k].requires_grad:
                xs[k] = xs[k].detach().requires_grad_()
        with grad_mode.enable_grad():
            outs = [o for o in _outputs(func, xs) if o.requires_grad]
            grads = _grad(outs, [xs[k] for k in diff], gs[:len(outs)], create_graph=True, allow_unused=True,
                          materialize_grads=True)
        return tuple(grads)

    return gradcheck(first_derivatives, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
