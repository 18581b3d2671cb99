"""Gradients of the core's view ops and device copies (they make tensors without a registry op).

``Tensor.view``/``permute``/``narrow``/``__getitem__``... call :func:`record_view` with a backward
closure that captures shapes and arguments, never the base tensor, so a view's node keeps no
activation alive. Views that pick elements (``narrow``, ``diagonal``, basic indexing) send the
gradient back with :func:`embed`, itself differentiable: its backward is the view again.

    >>> import neurarust as nr
    >>> x = nr.arange(6.0).view(2, 3).requires_grad_()
    >>> x[1, 1:].sum().backward()
    >>> x.grad.tolist()
    [[0.0, 0.0, 0.0], [0.0, 1.0, 1.0]]
"""
from __future__ import annotations

from typing import Callable

from neurarust.errors import AutogradError, DerivativeNotImplementedError
from neurarust.tensor import Tensor

from . import grad_mode
from .graph import FunctionNode, LatentViewMeta, ViewMeta, _input_meta, attach, edge_of, record


def record_view(name: str, base: Tensor, out: Tensor, backward: Callable | None, view: bool = True) -> None:
    """Make ``out`` a graph output of ``base`` with ``backward(grad_out) -> grad_base``.

    A view that shares the memory of a base that requires grad gets a :class:`ViewMeta`, so an
    in-place op on the base later rebuilds its grad_fn (its values change with the base's)."""
    if backward is None:
        def backward(grad, _name=name):
            raise DerivativeNotImplementedError(f"the derivative of {_name} with overlapping windows is not implemented")
    if not grad_mode._state.enabled:
        return
    edge = edge_of(base)
    if edge is None:
        return
    node = FunctionNode(f"{name}Backward", backward, [edge], [_input_meta(base)], 1)
    root = out._base
    # The view's history derives from its root base's only if its parent is the root or such a view
    # (a view made a leaf with requires_grad_() has a history of its own).
    if view and root is not None and out._storage is base._storage and (
            root is base or base._autograd.__class__ is ViewMeta or _tracks_root(base._autograd)):
        out._autograd = ViewMeta(node, root, out)
    else:
        attach([out], node)


def _tracks_root(m) -> bool:
    """Whether a view's AutogradMeta follows its root base's history (not a leaf of its own)."""
    return m.__class__ is LatentViewMeta and m._follows_base()


def record_latent_view(out: Tensor) -> None:
    """Give a view of a base that requires no grad a :class:`LatentViewMeta` (in grad mode only, as
    PyTorch tracks no view made under no_grad), so that an in-place op that later gives its base a
    history gives the view one too."""
    if grad_mode._state.enabled and out._autograd is None and out._base is not None \
            and out._storage is out._base._storage:
        out._autograd = LatentViewMeta(out._base, out)


def rebase_view(base: Tensor, geometry: tuple) -> FunctionNode:
    """The grad_fn of a view (``geometry``: its shape, strides and offset) of ``base`` after ``base``
    was modified in place: AsStrided of the base's current history, as PyTorch regenerates it. A view
    that the AsStrided adjoint cannot express (a non-contiguous base, overlapping elements from
    ``expand``) gets a node that raises when a gradient reaches it, never a stale history."""
    shape, strides, _ = geometry
    base_shape = base._shape
    if base.is_contiguous() and not _overlapping(shape, strides):
        region = _region(geometry, base._offset)
        backward = lambda g: embed(g, base_shape, region)  # noqa: E731 - the adjoint of the region
    else:
        def backward(g):
            raise AutogradError(
                f"a view (shape {list(shape)}, strides {list(strides)}) of a tensor (shape {list(base_shape)}, "
                f"strides {list(base._strides)}) that was modified in place after the view was taken cannot be "
                f"differentiated: its gradient cannot be rebuilt from the base's new history. Take the view "
                f"after the in-place op, or use the out-of-place op")
    return FunctionNode("AsStridedBackward", backward, [edge_of(base)], [_input_meta(base)], 1)


def _overlapping(shape: tuple, strides: tuple) -> bool:
    """Whether two indices of the view may address the same element (``expand``, overlapping ``unfold``)."""
    extent = 1
    for stride, size in sorted((abs(st), n) for n, st in zip(shape, strides) if n > 1):
        if stride < extent:
            return True
        extent += stride * (size - 1)
    return False


def embed(grad: Tensor, shape: tuple, replay: Callable[[Tensor], Tensor]) -> Tensor:
    """Zeros of ``shape`` with ``grad`` written into ``replay(zeros)``: the adjoint of a view that
    picks elements. Recorded, so gradients of gradients flow through it."""
    from neurarust.creation import zeros

    with grad_mode.no_grad():
        out = zeros(shape, dtype=grad.dtype, device=grad.device)
        replay(out).copy_(grad)
    record("EmbedBackward", [grad], [out], lambda gg: take(gg, replay))
    return out


def take(t: Tensor, replay: Callable[[Tensor], Tensor]) -> Tensor:
    """``replay(t)``, the view :func:`embed` is the adjoint of, recorded whether or not ``replay``
    records itself (basic indexing and CopySlices' regions make raw views), so gradients of every
    order flow through the pair."""
    out = replay(t)
    m = out._autograd
    if out is not t and (m is None or m.grad_fn is None):
        record("AsStridedBackward", [t], [out], lambda g: embed(g, t._shape, replay))
    return out


def sum_to_shape(grad: Tensor, shape: tuple) -> Tensor:
    """Undo broadcasting: sum ``grad`` over the dims that were added or expanded from size 1.

    >>> import neurarust as nr
    >>> sum_to_shape(nr.ones(2, 3, 4), (3, 1)).tolist()
    [[8.0], [8.0], [8.0]]
    """
    lead = grad.ndim - len(shape)
    if lead > 0:
        grad = grad.sum(tuple(range(lead)))
    dims = tuple(i for i, (want, have) in enumerate(zip(shape, grad.shape)) if want == 1 and have != 1)
    if dims:
        grad = grad.sum(dims, keepdim=True)
    return grad


# ----------------------------------------------------------------------------------------------
# In-place writes into views
# ----------------------------------------------------------------------------------------------

def _region(geometry: tuple, base_offset: int) -> Callable[[Tensor], Tensor]:
    """``region(t)``: the elements of a contiguous tensor shaped like the base (whose first element is
    at ``base_offset``) that a view of ``geometry`` (shape, strides, offset) covers."""
    shape, strides, view_offset = geometry
    offset = view_offset - base_offset
    # A gradient may arrive with any strides; the region's strides are those of a contiguous base.
    def region(t: Tensor) -> Tensor:
        c = t if t.is_contiguous() else t.contiguous()
        return c._view(shape, strides, c._offset + offset)

    return region


def _contiguous_base(base: Tensor, op_name: str) -> None:
    if not base.is_contiguous():
        raise AutogradError(f"{op_name}: in-place write into a view of a non-contiguous tensor (shape "
                            f"{list(base._shape)}, strides {base._strides}) while recording gradients is not "
                            f"supported; use the out-of-place op")


def record_inplace_on_view(op, args: tuple, kwargs: dict, view: Tensor):
    """An in-place op on ``view`` (a view of ``base``): the base's history becomes "``base`` with the
    view's elements replaced by the op's result", as PyTorch's CopySlices.

    The op runs out of place (recorded: its gradient flows to the view's old values, hence to the old
    base, and to its other inputs); the result is written into the view; the base gets a node that
    sends the incoming gradient to the old base with the view's elements zeroed and the view's part
    to the result; the view becomes a view of the new base.
    """
    base = view._base
    _contiguous_base(base, op.name)
    region = _region((view._shape, view._strides, view._offset), base._offset)
    result = _out_of_place(op, args, kwargs, view)
    with grad_mode.no_grad():
        view.copy_(result)
    base_edge = edge_of(base)
    result_edge = edge_of(result) if result._autograd is not None and result._autograd.requires_grad else None
    if base_edge is None and result_edge is None:
        return view
    base_shape = base._shape

    def backward(grad):
        from neurarust.creation import ones

        with grad_mode.no_grad():
            keep = ones(base_shape, dtype=grad.dtype, device=grad.device)
            region(keep).fill_(0)
        return grad * keep, take(grad, region)

    node = FunctionNode("CopySlicesBackward", backward, [base_edge, result_edge],
                        [_input_meta(base), _input_meta(result)], 1)
    attach([base], node)
    view_node = FunctionNode("AsStridedBackward", lambda g: embed(g, base_shape, region), [(node, 0)],
                             [_input_meta(base)], 1)
    view._autograd = ViewMeta(view_node, base, view)   # at the version after the write
    return view


def _out_of_place(op, args: tuple, kwargs: dict, view: Tensor) -> Tensor:
    """What the in-place op writes into ``view``, computed without writing (and recorded)."""
    from . import graph

    if op.attrs.get("writes_first"):  # copy_(dst, src) / fill_(dst, value): the value, in dst's shape and dtype
        value = args[1] if len(args) > 1 else next(iter(kwargs.values()))
        if not isinstance(value, Tensor):
            from neurarust.creation import full

            return full(view._shape, value, dtype=view._dtype, device=view.device)
        return value.to(view._dtype).to(view.device).expand(view._shape)
    rest = {k: v for k, v in kwargs.items() if k != "out"}
    if op.differentiable == ():  # its values carry no gradient: only the base's other elements will
        with grad_mode.no_grad():
            return op.frontend(op, *args, **rest)
    return graph._record_op(op, args, rest, None, protect=view)
