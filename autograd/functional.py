"""``neurarust.autograd.functional``: derivatives of a whole function (PyTorch's
``torch.autograd.functional``).

Each function takes ``func`` and its ``inputs`` (a tensor or a tuple of tensors), runs ``func`` on
fresh copies of the inputs that require grad, and differentiates with :func:`neurarust.autograd.grad`.
Results mirror the inputs' and outputs' structure exactly as PyTorch's do: a single tensor where
``func`` took or returned a single tensor, a tuple where it took or returned a tuple. Forward-mode
products (``jvp``, ``hvp``, ``jacobian(strategy="forward-mode")``) use the double-vjp trick: the
gradient of the inputs is linear in the output gradient ``u``, so differentiating it with respect to
``u`` along ``v`` gives ``J v``.

    >>> import neurarust as nr
    >>> from neurarust.autograd.functional import jacobian
    >>> jacobian(lambda x: x ** 2, nr.tensor([1.0, 3.0])).tolist()
    [[2.0, 0.0], [0.0, 6.0]]
"""
from __future__ import annotations

from typing import Any, Callable

from neurarust.errors import AutogradError, ShapeError, SignatureError
from neurarust.tensor import Tensor

from . import engine, grad_mode

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]

_STRATEGIES = ("reverse-mode", "forward-mode")


# ----------------------------------------------------------------------------------------------
# Arguments in, results out
# ----------------------------------------------------------------------------------------------

def _as_tensors(value: Any, what: str, fn: str) -> tuple[bool, tuple]:
    """(whether ``value`` is a tuple, ``value`` as a tuple of tensors). Lists are refused as PyTorch
    refuses them: only a tensor or a tuple of tensors has an unambiguous structure to mirror."""
    is_tuple = isinstance(value, tuple)
    items = value if is_tuple else (value,)
    for i, item in enumerate(items):
        if not isinstance(item, Tensor):
            where = f"the value at index {i}" if is_tuple else f"the given {what}"
            raise SignatureError(f"The {what} given to {fn} must be either a Tensor or a tuple of Tensors but "
                                 f"{where} has type {type(item).__name__}.")
    return is_tuple, items


def _fresh(tensors: tuple, create_graph: bool, need_graph: bool) -> tuple:
    """New tensor objects for ``tensors``: a view (still connected to the caller's graph) when the
    caller wants a graph through them, else detached copies that require grad as ``need_graph`` says.
    Always new objects, so what ``func`` captures from outside is told apart from its inputs."""
    return tuple(t.view_as(t) if create_graph and t.requires_grad else t.detach().requires_grad_(need_graph)
                 for t in tensors)


def _check_v(v: Any, refs: tuple, refs_is_tuple: bool, fn: str, create_graph: bool, what: str) -> tuple | None:
    """``v`` as a tuple matching ``refs`` in number and shapes, or None when omitted (allowed only
    when ``refs`` is one single-element tensor)."""
    if v is None:
        if len(refs) != 1 or refs[0].numel() != 1:
            raise AutogradError(f"{fn}: the vector v can only be None if the {what} of the user-provided function "
                                f"is a single Tensor with a single element (got shapes "
                                f"{[list(r.shape) for r in refs]})")
        return None
    _, vs = _as_tensors(v, "v", fn)
    vs = _fresh(vs, create_graph, need_graph=False)
    if len(vs) != len(refs):
        raise ShapeError(f"{fn}: v is a tuple of invalid length: should be {len(refs)} but got {len(vs)}"
                         if refs_is_tuple else f"{fn}: the given v should contain a single Tensor, got {len(vs)}")
    for i, (a, b) in enumerate(zip(vs, refs)):
        if a.shape != b.shape:
            where = f"entry {i} in v" if refs_is_tuple else "v"
            raise ShapeError(f"{fn}: {where} has invalid size: should be {list(b.shape)} but got {list(a.shape)}")
    return vs


def _finish(result: Any, create_graph: bool) -> Any:
    """Results without history unless the caller asked for a graph (nested tuples kept)."""
    if isinstance(result, tuple):
        return tuple(_finish(r, create_graph) for r in result)
    return result if create_graph else result.detach()


def _unpack(result: tuple, is_tuple: bool) -> Any:
    return result if is_tuple else result[0]


def _unpack2(result: tuple, outer_is_tuple: bool, inner_is_tuple: bool) -> Any:
    return _unpack(tuple(_unpack(r, inner_is_tuple) for r in result), outer_is_tuple)


def _call(func: Callable, inputs: tuple, fn: str, strict: bool) -> tuple[bool, tuple]:
    """Run ``func`` with recording on; its outputs as (is_tuple, tuple), checked in strict mode."""
    with grad_mode.enable_grad():
        is_tuple, outputs = _as_tensors(func(*inputs), "outputs of the user-provided function", fn)
    if strict:
        for i, out in enumerate(outputs):
            if not out.requires_grad:
                raise AutogradError(f"{fn}: output {i} (shape {list(out.shape)}) of the user-provided function does "
                                    f"not require gradients. The outputs must be computed in a differentiable "
                                    f"manner from the input when running in strict mode.")
    return is_tuple, outputs


def _single_output(outputs: tuple, is_tuple: bool, fn: str) -> Tensor:
    if is_tuple:
        raise AutogradError(f"The function given to {fn} should return a single Tensor, got a tuple of {len(outputs)}")
    if outputs[0].numel() != 1:
        raise AutogradError(f"The Tensor returned by the function given to {fn} should contain a single element, "
                            f"got shape {list(outputs[0].shape)}")
    return outputs[0]


# ----------------------------------------------------------------------------------------------
# Gradients that tolerate independence
# ----------------------------------------------------------------------------------------------

def _grad(outputs: tuple, inputs: tuple, grad_outputs: tuple | None = None, create_graph: bool = False,
          retain_graph: bool | None = None) -> tuple:
    """``autograd.grad`` over the outputs that require grad (None entries and constants skipped);
    None for an input nothing depends on."""
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else grad_outputs
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return engine.grad([o for o, _ in pairs], inputs, [g for _, g in pairs], retain_graph=retain_graph,
                       create_graph=create_graph, allow_unused=True)


def _zeros_where_none(grads: tuple, refs: tuple, strict: bool, create_graph: bool, independent: str) -> tuple:
    """``grads`` with zeros (shaped as ``refs``) for None. In strict mode a None raises
    ``independent`` (formatted with ``i``), and so does, with ``create_graph``, a gradient that is
    constant in the inputs."""
    from neurarust.creation import zeros_like

    out = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise AutogradError(independent.format(i=i, shape=list(ref.shape)) +
                                    " This is not allowed in strict mode.")
            g = zeros_like(ref)
        elif strict and create_graph and not g.requires_grad:
            raise AutogradError(f"The derivative with respect to input {i} (shape {list(ref.shape)}) is independent "
                                f"of the inputs. This is not allowed in strict mode when create_graph=True.")
        out.append(g)
    return tuple(out)


def _check_differentiable(grads: tuple, strict: bool, fn: str, what: str) -> None:
    """In strict mode, every intermediate gradient must itself depend on the inputs (a linear function's
    jacobian does not, so its hessian is independent of them)."""
    if not strict:
        return
    for i, g in enumerate(grads):
        if g is None:
            raise AutogradError(f"{fn}: the output of the user-provided function is independent of input {i}. "
                                f"This is not allowed in strict mode.")
        if not g.requires_grad:
            raise AutogradError(f"{fn}: the {what} of the user-provided function with respect to input {i} (shape "
                                f"{list(g.shape)}) is independent of the input. This is not allowed in strict mode.")


# ----------------------------------------------------------------------------------------------
# Vector products
# ----------------------------------------------------------------------------------------------

def vjp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """``(func(inputs), v^T J)``: the vector-Jacobian product of ``func`` at ``inputs``.

    ``v`` has the outputs' structure (omit it for a single-element output); the product has the
    inputs' structure. ``create_graph`` makes both results differentiable; ``strict`` raises
    ``AutogradError`` where an output does not depend on an input instead of returning zeros.

    >>> import neurarust as nr
    >>> from neurarust.autograd.functional import vjp
    >>> out, g = vjp(lambda x: x ** 2, nr.tensor([1.0, 2.0]), nr.tensor([1.0, 10.0]))
    >>> out.tolist(), g.tolist()
    ([1.0, 4.0], [2.0, 40.0])
    """
    inputs_is_tuple, inputs = _as_tensors(inputs, "inputs", "vjp")
    inputs = _fresh(inputs, create_graph, need_graph=True)
    outputs_is_tuple, outputs = _call(func, inputs, "vjp", strict)
    v = _check_v(v, outputs, outputs_is_tuple, "vjp", create_graph, "output")
    grads = _grad(outputs, inputs, v, create_graph=create_graph)
    product = _zeros_where_none(grads, inputs, strict, create_graph,
                                "The output of the user-provided function is independent of input {i} (shape {shape}).")
    return _unpack(_finish(outputs, create_graph), outputs_is_tuple), _unpack(_finish(product, create_graph),
                                                                             inputs_is_tuple)


def _double_vjp(outputs: tuple, inputs: tuple, strict: bool, fn: str) -> tuple[tuple, tuple]:
    """(dummy output gradients ``u``, ``u^T J`` recorded as a function of ``u``): differentiating the
    second with respect to ``u`` along ``v`` gives ``J v``. ``u``'s value never shows (the product is
    linear in it); zeros keep inf and NaN out."""
    from neurarust.creation import zeros_like

    u = tuple(zeros_like(o, requires_grad=True) for o in outputs)
    with grad_mode.enable_grad():
        grad_inputs = _grad(outputs, inputs, u, create_graph=True)
    if strict:
        for i, g in enumerate(grad_inputs):
            if g is None or not g.requires_grad:
                raise AutogradError(f"{fn}: the gradient with respect to input {i} (shape {list(inputs[i].shape)}) is "
                                    f"independent of the inputs of the user-provided function. This is not allowed "
                                    f"in strict mode.")
    return u, grad_inputs


def jvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """``(func(inputs), J v)``: the Jacobian-vector product of ``func`` at ``inputs``, computed by
    the double-vjp trick (two reverse passes).

    ``v`` has the inputs' structure (omit it for a single-element input); the product has the
    outputs'.

    >>> import neurarust as nr
    >>> from neurarust.autograd.functional import jvp
    >>> out, t = jvp(lambda x: x ** 3, nr.tensor([1.0, 2.0]), nr.tensor([1.0, 1.0]))
    >>> out.tolist(), t.tolist()
    ([1.0, 8.0], [3.0, 12.0])
    """
    inputs_is_tuple, inputs = _as_tensors(inputs, "inputs", "jvp")
    inputs = _fresh(inputs, create_graph, need_graph=True)
    v = _check_v(v, inputs, inputs_is_tuple, "jvp", create_graph, "input")
    outputs_is_tuple, outputs = _call(func, inputs, "jvp", strict)
    u, grad_inputs = _double_vjp(outputs, inputs, strict, "jvp")
    grads = _grad(grad_inputs, u, v, create_graph=create_graph)
    product = _zeros_where_none(grads, outputs, strict, create_graph,
                                "The gradient with respect to the input is independent of entry {i} (shape {shape}) "
                                "in the grad_outputs when using the double backward trick to compute forward mode "
                                "gradients.")
    return _unpack(_finish(outputs, create_graph), outputs_is_tuple), _unpack(_finish(product, create_graph),
                                                                             outputs_is_tuple)


def vhp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """``(func(inputs), v^T H)``: the vector-Hessian product of a scalar ``func`` at ``inputs``.

    >>> import neurarust as nr
    >>> from neurarust.autograd.functional import vhp
    >>> out, p = vhp(lambda x: (x ** 3).sum(), nr.tensor([1.0, 2.0]), nr.tensor([1.0, 1.0]))
    >>> out.item(), p.tolist()
    (9.0, [6.0, 12.0])
    """
    inputs_is_tuple, inputs, v, output, jac = _hessian_setup(func, inputs, v, create_graph, strict, "vhp")
    grads = _grad(jac, inputs, v, create_graph=create_graph)
    product = _zeros_where_none(grads, inputs, strict, create_graph,
                                "The jacobian of the user-provided function is independent of input {i} "
                                "(shape {shape}).")
    return _finish(output, create_graph), _unpack(_finish(product, create_graph), inputs_is_tuple)


def hvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """``(func(inputs), H v)``: the Hessian-vector product of a scalar ``func`` at ``inputs``, by the
    double-vjp trick on its gradient (for a twice-differentiable ``func``, equal to :func:`vhp`).

    >>> import neurarust as nr
    >>> from neurarust.autograd.functional import hvp
    >>> out, p = hvp(lambda x, y: (x * x * y).sum(), (nr.tensor([1.0]), nr.tensor([2.0])),
    ...              (nr.tensor([1.0]), nr.tensor([0.0])))
    >>> out.item(), [t.tolist() for t in p]
    (2.0, [[4.0], [2.0]])
    """
    inputs_is_tuple, inputs, v, output, jac = _hessian_setup(func, inputs, v, create_graph, strict, "hvp")
    u, double_back = _double_vjp(jac, inputs, False, "hvp")
    grads = _grad(double_back, u, v, create_graph=create_graph)
    product = _zeros_where_none(grads, inputs, strict, create_graph,
                                "The hessian of the user-provided function is independent of entry {i} (shape "
                                "{shape}) in the grad_jacobian.")
    return _finish(output, create_graph), _unpack(_finish(product, create_graph), inputs_is_tuple)


def _hessian_setup(func: Callable, inputs: Any, v: Any, create_graph: bool, strict: bool, fn: str) -> tuple:
    """(inputs_is_tuple, inputs, v, the scalar output, its gradient recorded for a second pass)."""
    inputs_is_tuple, inputs = _as_tensors(inputs, "inputs", fn)
    inputs = _fresh(inputs, create_graph, need_graph=True)
    v = _check_v(v, inputs, inputs_is_tuple, fn, create_graph, "input")
    outputs_is_tuple, outputs = _call(func, inputs, fn, strict)
    output = _single_output(outputs, outputs_is_tuple, fn)
    with grad_mode.enable_grad():
        jac = _grad((output,), inputs, create_graph=True)
    _check_differentiable(jac, strict, fn, "jacobian")
    return inputs_is_tuple, inputs, v, output, jac


# ----------------------------------------------------------------------------------------------
# Full matrices
# ----------------------------------------------------------------------------------------------

def jacobian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """The Jacobian of ``func`` at ``inputs``: for output ``i`` and input ``j``, a tensor of shape
    ``outputs[i].shape + inputs[j].shape``.

    A single tensor for one input and one output, a tuple over inputs (or over outputs) when one side
    is a tuple, a tuple of tuples ``[i][j]`` when both are. ``strategy="reverse-mode"`` computes one
    row per output element, ``"forward-mode"`` one column per input element (by the double-vjp
    trick); both give the same matrix. ``vectorize`` is accepted and changes nothing: rows are
    computed one by one either way (PyTorch's forward mode needs ``vectorize=True``; this one does not).

    >>> import neurarust as nr
    >>> from neurarust.autograd.functional import jacobian
    >>> jx, jy = jacobian(lambda x, y: x * y, (nr.tensor([1.0, 2.0]), nr.tensor([3.0, 4.0])))
    >>> jx.tolist(), jy.tolist()
    ([[3.0, 0.0], [0.0, 4.0]], [[1.0, 0.0], [0.0, 2.0]])
    """
    if strategy not in _STRATEGIES:
        raise SignatureError(f"jacobian: expected strategy to be either \"forward-mode\" or \"reverse-mode\", "
                             f"got {strategy!r}")
    inputs_is_tuple, inputs = _as_tensors(inputs, "inputs", "jacobian")
    inputs = _fresh(inputs, create_graph, need_graph=True)
    outputs_is_tuple, outputs = _call(func, inputs, "jacobian", strict)
    blocks = (_jacobian_by_rows if strategy == "reverse-mode" else _jacobian_by_columns)(outputs, inputs,
                                                                                         create_graph, strict)
    return _unpack2(_finish(blocks, create_graph), outputs_is_tuple, inputs_is_tuple)


def _one_hot(ref: Tensor, k: int) -> Tensor:
    from neurarust.creation import zeros_like

    e = zeros_like(ref)
    e.view(-1)[k] = 1.0
    return e


def _checked_entry(g: Tensor | None, ref: Tensor, i: int, j: int, out: Tensor, strict: bool,
                   create_graph: bool) -> Tensor:
    """Entry of the block (output ``i``, input ``j``): zeros (shaped as ``ref``) where the output
    does not depend on the input, an error in strict mode."""
    from neurarust.creation import zeros_like

    if g is None:
        if strict:
            raise AutogradError(f"Output {i} (shape {list(out.shape)}) of the user-provided function is independent "
                                f"of input {j}. This is not allowed in strict mode.")
        return zeros_like(ref)
    if strict and create_graph and not g.requires_grad:
        raise AutogradError(f"The jacobian of the user-provided function is independent of input {j}. This is not "
                            f"allowed in strict mode when create_graph=True.")
    return g


def _stack(parts: list, dim: int) -> Tensor:
    """``stack``, but one part is unsqueezed: differentiating a one-part stack twice reaches
    ``unbind``'s backward with a single output, which the engine hands over unwrapped."""
    from neurarust import stack

    return parts[0].unsqueeze(dim) if len(parts) == 1 else stack(parts, dim)


def _jacobian_by_rows(outputs: tuple, inputs: tuple, create_graph: bool, strict: bool) -> tuple:
    """Reverse mode: one backward pass per output element gives a row of every input's block."""
    from neurarust.creation import zeros

    blocks = []
    for i, out in enumerate(outputs):
        rows: list[list] = [[] for _ in inputs]
        for k in range(out.numel()):
            grads = _grad((out,), inputs, (_one_hot(out, k),), create_graph=create_graph, retain_graph=True)
            for j, g in enumerate(grads):
                rows[j].append(_checked_entry(g, inputs[j], i, j, out, strict, create_graph))
        blocks.append(tuple(_stack(r, 0).view(*out.shape, *x.shape) if r else
                            zeros(*out.shape, *x.shape, dtype=x.dtype, device=x.device)
                            for r, x in zip(rows, inputs)))
    return tuple(blocks)


def _jacobian_by_columns(outputs: tuple, inputs: tuple, create_graph: bool, strict: bool) -> tuple:
    """Forward mode: one Jacobian-vector product per input element (a basis tangent) gives a column
    of every output's block."""
    from neurarust.creation import zeros

    u, grad_inputs = _double_vjp(outputs, inputs, False, "jacobian")
    columns: list[list[list]] = [[[] for _ in inputs] for _ in outputs]   # [output][input][element]
    for j, x in enumerate(inputs):
        for k in range(x.numel()):
            tangents = _grad((grad_inputs[j],), u, (_one_hot(x, k),), create_graph=create_graph, retain_graph=True)
            for i, t in enumerate(tangents):
                columns[i][j].append(_checked_entry(t, outputs[i], i, j, outputs[i], strict, create_graph))
    return tuple(tuple(_stack(c, out.ndim).view(*out.shape, *x.shape) if c else
                       zeros(*out.shape, *x.shape, dtype=x.dtype, device=x.device)
                       for c, x in zip(columns[i], inputs))
                 for i, out in enumerate(outputs))


def hessian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """The Hessian of a scalar ``func`` at ``inputs``: the Jacobian of its gradient. Block ``[i][j]``
    has shape ``inputs[i].shape + inputs[j].shape``; a single tensor for a single input.

    >>> import neurarust as nr
    >>> from neurarust.autograd.functional import hessian
    >>> hessian(lambda x: (x[0] ** 2 * x[1]), nr.tensor([1.0, 3.0])).tolist()
    [[6.0, 2.0], [2.0, 0.0]]
    """
    inputs_is_tuple, inputs = _as_tensors(inputs, "inputs", "hessian")

    def scalar(*xs: Tensor) -> Tensor:
        outputs_is_tuple, outputs = _call(func, xs, "hessian", strict)
        return _single_output(outputs, outputs_is_tuple, "hessian").squeeze()

    def gradient(*xs: Tensor) -> tuple:
        jac = jacobian(scalar, xs, create_graph=True)
        _check_differentiable(jac, strict, "hessian", "jacobian")
        return jac

    blocks = jacobian(gradient, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                      strategy=outer_jacobian_strategy)
    return _unpack2(blocks, inputs_is_tuple, inputs_is_tuple)
