"""``neurarust.func``: composable function transforms (PyTorch's ``torch.func``).

``grad``, ``grad_and_value``, ``vjp``, ``jacrev``, ``jacfwd`` and ``hessian`` turn a function of
tensors (or of pytrees of tensors: nested tuples, lists, dicts) into a function computing its
derivatives; ``vmap`` maps a function over a batch dim; ``functional_call`` runs a module with other
parameters. They work on plain tensors that do not require grad: each transform runs ``func`` on
fresh tensors that do (the caller's tensors are left as they are) and differentiates with
:func:`neurarust.autograd.grad`. They nest: ``grad(grad(f))`` is the second derivative.

How nesting works: an input that already takes part in a graph (it requires grad, as the fresh
inputs of an enclosing transform do) is passed to ``func`` as a view of itself, so the derivative
this transform computes is recorded (``create_graph``) and the enclosing one can differentiate it.
A result that leads back to no tensor outside the transform is returned detached, as PyTorch's are.

Differences from ``torch.func`` (no functorch levels here): ``jacfwd`` and ``hessian`` compute by
reverse mode, one backward pass per output element (equal results, another cost profile);
``vmap`` runs ``func`` once per sample; a ``no_grad`` block inside ``func`` stops recording there,
where ``torch.func.grad`` ignores it.

    >>> import neurarust as nr
    >>> from neurarust.func import grad
    >>> f = lambda x: (x ** 3).sum()
    >>> grad(f)(nr.tensor([1.0, 2.0])).tolist(), grad(grad(lambda x: x ** 3))(nr.tensor(2.0)).item()
    ([3.0, 12.0], 12.0)
"""
from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any, Callable, Iterator

from neurarust.autograd import engine, grad_mode
from neurarust.autograd.graph import AccumulateGrad
from neurarust.errors import ArgumentError, AutogradError, SignatureError
from neurarust.tensor import Tensor

from .func_pytree import tree_flatten, tree_map, tree_unflatten
from .func_vmap import vmap

__all__ = ["grad", "grad_and_value", "vjp", "jacrev", "jacfwd", "hessian", "functional_call", "vmap"]


# ----------------------------------------------------------------------------------------------
# Inputs, outputs and what leads outside
# ----------------------------------------------------------------------------------------------

def _check_argnums(argnums: Any, fn: str) -> None:
    items = argnums if isinstance(argnums, tuple) else (argnums,)
    if not items or any(isinstance(a, bool) or not isinstance(a, int) for a in items):
        raise SignatureError(f"{fn}: argnums must be an int or a non-empty tuple of ints, got {argnums!r}")
    if len(set(items)) != len(items):
        raise ArgumentError(f"{fn}: argnums must be unique, got {argnums!r}")


def _normalized(argnums: Any, n_args: int, fn: str) -> Any:
    """``argnums`` with negative positions counted from the end, checked against the call."""
    def one(a: int) -> int:
        if not -n_args <= a < n_args:
            raise ArgumentError(f"{fn}: got argnums={a}, but only {n_args} positional inputs")
        return a % n_args
    return tuple(one(a) for a in argnums) if isinstance(argnums, tuple) else one(argnums)


def _selected(args: tuple, argnums: Any) -> Any:
    return args[argnums] if isinstance(argnums, int) else tuple(args[i] for i in argnums)


def _replaced(args: tuple, argnums: Any, tree: Any) -> tuple:
    out = list(args)
    for i, value in ([(argnums, tree)] if isinstance(argnums, int) else zip(argnums, tree)):
        out[i] = value
    return tuple(out)


class _Frames(threading.local):
    def __init__(self) -> None:
        self.stack: list[dict] = []


_frames = _Frames()


@contextlib.contextmanager
def _frame() -> Iterator[dict]:
    """The fresh leaves made while one transform runs, its nested transforms' included (id -> tensor,
    held so ids stay unique): to a transform, a nested transform's inputs are not outside tensors."""
    own: dict = {}
    _frames.stack.append(own)
    try:
        yield own
    finally:
        _frames.stack.pop()


def _track(tree: Any, outer_grad: bool, fn: str) -> tuple[Any, list]:
    """(``tree`` with every tensor replaced by one that requires grad, those tensors). A tensor
    already in a graph becomes a view of itself, so an enclosing transform (or autograd)
    differentiates through; any other becomes a detached leaf, registered in every open frame."""
    leaves, spec = tree_flatten(tree)
    tracked = []
    for leaf in leaves:
        if not isinstance(leaf, Tensor):
            raise SignatureError(f"{fn}: every input being differentiated must be a Tensor, got "
                                 f"{type(leaf).__name__}")
        if outer_grad and leaf.requires_grad:
            tracked.append(leaf.view_as(leaf))
        else:
            tracked.append(leaf.detach().requires_grad_())
            for own in _frames.stack:
                own[id(tracked[-1])] = tracked[-1]
    return tree_unflatten(tracked, spec), tracked


def _reaches_outside(tensors: list, own: dict) -> bool:
    """Whether the graph of any of ``tensors`` leads to a leaf other than this transform's fresh
    inputs: an enclosing transform's input, or a tensor ``func`` captured that requires grad."""
    stack, seen = [], set()
    for t in tensors:
        if isinstance(t, Tensor) and t.requires_grad:
            if t.grad_fn is None:
                if id(t) not in own:
                    return True
            else:
                stack.append(t.grad_fn)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if isinstance(node, AccumulateGrad):
            leaf = node.variable()
            if leaf is None or id(leaf) not in own:
                return True
        else:
            stack.extend(edge[0] for edge in node.next_edges if edge is not None)
    return False


def _released(tree: Any, own: dict, outer_grad: bool) -> Any:
    """``tree``'s tensors detached, but for those an enclosing graph can still differentiate."""
    def one(t: Any) -> Any:
        if isinstance(t, Tensor) and not (outer_grad and _reaches_outside([t], own)):
            return t.detach()
        return t
    return tree_map(one, tree)


def _split_aux(result: Any, has_aux: bool, fn: str) -> tuple[Any, Any]:
    if not has_aux:
        return result, None
    if not (isinstance(result, tuple) and len(result) == 2):
        raise AutogradError(f"{fn}: with has_aux=True, func must return a tuple (output, aux), got "
                            f"{type(result).__name__}")
    return result


def _tensor_leaves(tree: Any, fn: str) -> tuple[list, Any]:
    leaves, spec = tree_flatten(tree)
    for leaf in leaves:
        if not isinstance(leaf, Tensor):
            raise AutogradError(f"{fn}: expected func to return tensors (or a tuple, list or dict of them), got "
                                f"{type(leaf).__name__}")
    return leaves, spec


def _gradients(outputs: list, cotangents: list, inputs: list, keep: bool) -> list:
    """d(sum of cotangent . output)/d input per input (zeros where an input is unused); recorded
    when ``keep``. The graph is retained: vjp functions and Jacobians call this repeatedly."""
    from neurarust.creation import zeros_like

    pairs = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
    grads = engine.grad([o for o, _ in pairs], inputs, [c for _, c in pairs], retain_graph=True,
                        create_graph=keep, allow_unused=True) if pairs else [None] * len(inputs)
    return [zeros_like(x) if g is None else g for g, x in zip(grads, inputs)]


# ----------------------------------------------------------------------------------------------
# Gradients
# ----------------------------------------------------------------------------------------------

def grad_and_value(func: Callable, argnums: Any = 0, has_aux: bool = False) -> Callable:
    """A function returning ``(gradient, value)`` of the scalar ``func`` with respect to the
    positional argument(s) ``argnums`` (each a tensor or a pytree of tensors); with ``has_aux``,
    ``func`` returns ``(value, aux)`` and the result is ``(gradient, (value, aux))``.

    >>> import neurarust as nr
    >>> from neurarust.func import grad_and_value
    >>> g, v = grad_and_value(lambda x, y: (x * y).sum(), argnums=(0, 1))(nr.tensor([2.0]), nr.tensor([5.0]))
    >>> [t.tolist() for t in g], v.item()
    ([[5.0], [2.0]], 10.0)
    """
    _check_argnums(argnums, "grad_and_value")

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> tuple:
        outer = grad_mode.is_grad_enabled()
        nums = _normalized(argnums, len(args), "grad_and_value")
        with _frame() as own, grad_mode.enable_grad():
            tree, leaves = _track(_selected(args, nums), outer, "grad_and_value")
            value, aux = _split_aux(func(*_replaced(args, nums, tree), **kwargs), has_aux, "grad_and_value")
            _check_scalar(value)
            keep = outer and _reaches_outside([value], own)
            aux = _released(aux, own, outer)
        gradient = tree_unflatten(_gradients([value], [None], leaves, keep), tree_flatten(tree)[1])
        if not keep:
            gradient = tree_map(lambda t: t.detach(), gradient)
            value = value.detach()
        return (gradient, (value, aux)) if has_aux else (gradient, value)

    return wrapper


def _check_scalar(value: Any) -> None:
    if not isinstance(value, Tensor):
        raise AutogradError(f"grad_and_value(f)(*args): expected f(*args) to return a Tensor, got "
                            f"{type(value).__name__}")
    if value.ndim != 0:
        raise AutogradError(f"grad_and_value(f)(*args): expected f(*args) to return a scalar Tensor, got a tensor "
                            f"of shape {list(value.shape)}. Maybe you wanted to use the vjp or jacrev APIs instead?")


def grad(func: Callable, argnums: Any = 0, has_aux: bool = False) -> Callable:
    """A function returning the gradient of the scalar ``func`` with respect to its positional
    argument(s) ``argnums``: shaped like that argument (a tuple over ``argnums`` when it is a tuple,
    a dict for a dict of tensors); ``(gradient, aux)`` with ``has_aux``. Nest it for higher orders.

    >>> import neurarust as nr
    >>> from neurarust.func import grad
    >>> grad(lambda p, x: (p["w"] * x).sum())({"w": nr.tensor([1.0, 2.0])}, nr.tensor([3.0, 4.0]))["w"].tolist()
    [3.0, 4.0]
    >>> grad(grad(lambda x: x.sin()))(nr.tensor(0.0)).item()      # -sin(0)
    -0.0
    """
    _check_argnums(argnums, "grad")
    with_value = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        gradient, value = with_value(*args, **kwargs)
        return (gradient, value[1]) if has_aux else gradient

    return wrapper


def vjp(func: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """``(func(*primals), vjp_fn)`` (and ``aux`` with ``has_aux``): ``vjp_fn(cotangents)``, given
    cotangents shaped as the output, returns a tuple with one gradient per primal. ``vjp_fn`` can be
    called any number of times.

    >>> import neurarust as nr
    >>> from neurarust.func import vjp
    >>> out, vjp_fn = vjp(lambda x: x.exp(), nr.tensor([0.0, 1.0]))
    >>> vjp_fn(nr.tensor([1.0, 0.0]))[0].tolist()
    [1.0, 0.0]
    """
    outer = grad_mode.is_grad_enabled()
    with _frame() as own, grad_mode.enable_grad():
        tree, leaves = _track(primals, outer, "vjp")
        output, aux = _split_aux(func(*tree), has_aux, "vjp")
        out_leaves, out_spec = _tensor_leaves(output, "vjp")
        keep_output = outer and _reaches_outside(out_leaves, own)
        aux = _released(aux, own, outer)

    def vjp_fn(cotangents: Any) -> tuple:
        ct_leaves, ct_spec = tree_flatten(cotangents)
        if ct_spec != out_spec:
            raise ArgumentError(f"vjp_fn: expected cotangents with the structure of the outputs ({out_spec}), got "
                                f"{ct_spec}")
        keep = grad_mode.is_grad_enabled() and (keep_output or any(
            isinstance(c, Tensor) and c.requires_grad for c in ct_leaves))
        grads = _gradients(out_leaves, ct_leaves, leaves, keep)
        return tree_unflatten(grads if keep else [g.detach() for g in grads], tree_flatten(tree)[1])

    output = output if keep_output else tree_map(lambda t: t.detach(), output)
    return (output, vjp_fn, aux) if has_aux else (output, vjp_fn)


# ----------------------------------------------------------------------------------------------
# Jacobians
# ----------------------------------------------------------------------------------------------

def _one_hot(ref: Tensor, k: int) -> Tensor:
    from neurarust.creation import zeros_like

    e = zeros_like(ref)
    e.view(-1)[k] = 1.0
    return e


def _blocks(output: Tensor, inputs: list, keep: bool) -> list:
    """d output / d input for every input, shaped ``output.shape + input.shape``: one backward pass
    per output element gives one row of each."""
    from neurarust import stack, zeros

    rows: list[list] = [[] for _ in inputs]
    for k in range(output.numel()):
        for j, g in enumerate(_gradients([output], [_one_hot(output, k)], inputs, keep)):
            rows[j].append(g if keep else g.detach())
    # One row is unsqueezed: a one-part stack differentiated twice reaches unbind's backward with a
    # single output, which the engine hands over unwrapped.
    return [(r[0].unsqueeze(0) if len(r) == 1 else stack(r)).view(*output.shape, *x.shape) if r else
            zeros(*output.shape, *x.shape, dtype=x.dtype, device=x.device) for r, x in zip(rows, inputs)]


def _jacobian_transform(func: Callable, argnums: Any, has_aux: bool, fn: str) -> Callable:
    _check_argnums(argnums, fn)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        outer = grad_mode.is_grad_enabled()
        nums = _normalized(argnums, len(args), fn)
        with _frame() as own, grad_mode.enable_grad():
            tree, leaves = _track(_selected(args, nums), outer, fn)
            output, aux = _split_aux(func(*_replaced(args, nums, tree), **kwargs), has_aux, fn)
            out_leaves, out_spec = _tensor_leaves(output, fn)
            keep = outer and _reaches_outside(out_leaves, own)
            aux = _released(aux, own, outer)
        in_spec = tree_flatten(tree)[1]
        jac = tree_unflatten([tree_unflatten(_blocks(o, leaves, keep), in_spec) for o in out_leaves], out_spec)
        return (jac, aux) if has_aux else jac

    return wrapper


def jacrev(func: Callable, argnums: Any = 0, *, has_aux: bool = False, chunk_size: int | None = None) -> Callable:
    """A function returning the Jacobian of ``func`` with respect to argument(s) ``argnums``, by
    reverse mode: for each output tensor, a block of shape ``output.shape + input.shape`` per input
    (pytrees of blocks mirror the outputs, then the inputs). ``chunk_size`` is accepted; rows are
    computed one at a time.

    >>> import neurarust as nr
    >>> from neurarust.func import jacrev
    >>> jacrev(lambda x: x ** 2)(nr.tensor([1.0, 2.0])).tolist()
    [[2.0, 0.0], [0.0, 4.0]]
    """
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ArgumentError(f"jacrev: chunk_size should be None or a positive integer, got {chunk_size!r}")
    return _jacobian_transform(func, argnums, has_aux, "jacrev")


def jacfwd(func: Callable, argnums: Any = 0, has_aux: bool = False, *, randomness: str = "error") -> Callable:
    """The Jacobian of ``func`` as :func:`jacrev` gives it, with ``torch.func.jacfwd``'s signature.
    Computed by reverse mode (NeuraRust has no forward-mode AD): equal results, one backward pass per
    output element rather than one forward pass per input element. ``randomness`` is checked and
    otherwise unused (``func`` runs once).

    >>> import neurarust as nr
    >>> from neurarust.func import jacfwd
    >>> jacfwd(lambda x, y: x * y, argnums=1)(nr.tensor([3.0]), nr.tensor([2.0])).tolist()
    [[3.0]]
    """
    if randomness not in ("error", "different", "same"):
        raise ArgumentError(f"jacfwd: randomness must be 'error', 'different' or 'same', got {randomness!r}")
    return _jacobian_transform(func, argnums, has_aux, "jacfwd")


def hessian(func: Callable, argnums: Any = 0) -> Callable:
    """A function returning the Hessian of the scalar ``func`` with respect to argument(s)
    ``argnums``: ``jacfwd(jacrev(func, argnums), argnums)``, blocks of shape ``x.shape + x.shape``.

    >>> import neurarust as nr
    >>> from neurarust.func import hessian
    >>> hessian(lambda x: (x ** 3).sum())(nr.tensor([1.0, 2.0])).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    return jacfwd(jacrev(func, argnums), argnums)


def functional_call(module: Any, parameter_and_buffer_dicts: Any, args: Any = None, kwargs: dict | None = None, *,
                    tie_weights: bool = True, strict: bool = False) -> Any:
    """``module(*args, **kwargs)`` with the tensors of ``parameter_and_buffer_dicts`` (a dict, or a
    tuple of dicts, keyed as ``state_dict``) in place of the module's: the way to differentiate a
    module's output with respect to its parameters with :func:`grad` or :func:`jacrev`. The module is
    left as it was (``neurarust.nn.utils.stateless.functional_call``).

    >>> import neurarust as nr
    >>> from neurarust.func import functional_call, grad
    >>> lin = nr.nn.Linear(2, 1)
    >>> params = {k: v.detach() for k, v in lin.named_parameters()}
    >>> loss = lambda p, x: functional_call(lin, p, (x,)).sum()
    >>> grad(loss)(params, nr.tensor([[1.0, 2.0]]))["weight"].tolist()
    [[1.0, 2.0]]
    """
    from neurarust.nn.utils_stateless import functional_call as call

    if isinstance(parameter_and_buffer_dicts, tuple):
        parameter_and_buffer_dicts = list(parameter_and_buffer_dicts)
    return call(module, parameter_and_buffer_dicts, args, kwargs, tie_weights=tie_weights, strict=strict)
