"""Graph passes. Each takes a Graph, rewrites it in place and returns how many nodes it changed.

* :func:`eliminate_views`: a view with its root's own layout is the root;
* :func:`fold_constants`: a pure node whose inputs are all constants runs now (creation ops, ...);
* :func:`eliminate_common_subexpressions`: two pure nodes with the same op and arguments are one;
* :func:`eliminate_dead_code`: a pure node nobody reads is dropped;
* :func:`neurarust.graph.copies.eliminate_copies`: copies read only through views by strided readers go;
  :func:`neurarust.graph.copies.read_copied_rows`: a product over a copy's merged rows reads them in place;
* :func:`neurarust.graph.losses.merge_losses`: a cross entropy and its loss's backward, one kernel;
* :func:`neurarust.graph.scales.move_scales_into_products`: a product's scaled operand, its epilogue;
* :func:`neurarust.graph.fusion.fuse_elementwise`: chains of elementwise ops become one kernel;
* :func:`neurarust.graph.norms.fuse_norms`: a layer_norm or rms_norm of a product joins its kernel;
* :func:`neurarust.graph.horizontal.fuse_horizontally`: independent copies, sums and products, one kernel.

    >>> import neurarust as nr
    >>> from neurarust.graph import capture, passes
    >>> g = capture(lambda x: x.exp() + x.exp(), nr.ones(3)).graph
    >>> passes.eliminate_common_subexpressions(g), [n.name for n in g.nodes]
    (1, ['exp', 'add'])
"""
from __future__ import annotations

from typing import Iterable

from neurarust.autograd import grad_mode
from neurarust.shape import contiguous_strides

from .ir import Graph, Node, Value, iter_values, substitute


def optimize(graph: Graph, keep: Iterable[Value] = ()) -> dict[str, int]:
    """Run every pass in order; ``keep`` lists Values that must survive (read by another graph). A
    list is updated in place where a pass replaces one of its Values by an equal one (common
    subexpressions, views of a root's own layout), position for position. Returns the number of
    changes per pass."""
    from .copies import eliminate_copies, read_copied_rows
    from .fusion import fuse_elementwise
    from .horizontal import fuse_horizontally
    from .losses import merge_losses
    from .norms import fuse_norm_backwards, fuse_norms
    from .scales import move_scales_into_products

    keep = keep if isinstance(keep, list) else list(keep)   # the caller's list sees replacements
    report = {"views": eliminate_views(graph, keep), "copies": eliminate_copies(graph, keep),
              "constants": fold_constants(graph, keep),
              "cse": eliminate_common_subexpressions(graph, keep), "dead": eliminate_dead_code(graph, keep)}
    report["copies"] += read_copied_rows(graph, keep)
    report["losses"] = merge_losses(graph, keep)
    report["scales"] = move_scales_into_products(graph, keep)
    report["fused"] = fuse_elementwise(graph, keep)
    report["norms"] = fuse_norms(graph, keep) + fuse_norm_backwards(graph, keep)
    report["horizontal"] = fuse_horizontally(graph, keep)
    report["dead"] += eliminate_dead_code(graph, keep)
    return report


def replace_uses(graph: Graph, old: Value, new: Value, keep: list | None = None) -> None:
    """Every read of ``old`` reads ``new`` instead (outputs and ``keep`` included)."""
    swap = lambda v: new if v is old else v  # noqa: E731
    for n in graph.nodes:
        n.args, n.kwargs = substitute(n.args, swap), substitute(n.kwargs, swap)
        n.effects = [(swap(a), b) for a, b in n.effects]
    graph.outputs = [swap(v) for v in graph.outputs]
    if keep is not None:
        keep[:] = [swap(v) for v in keep]


def eliminate_views(graph: Graph, keep: list) -> int:
    """Views with their root's own layout, and copies of temporaries nobody else reads (the clone
    autograd makes of each incoming gradient), are replaced by what they view or copy."""
    changed = 0
    users = graph.users()
    written = _mutated(graph)
    pinned = {v.id for v in graph.outputs if v is not None} | {v.id for v in keep}
    for n in list(graph.nodes):
        if n.op is None and n.fused is None:
            src, (shape, strides, offset, dtype) = n.args[0], n.view
            if shape == src.shape and strides == src.strides and offset == 0 and dtype is src.dtype:
                replace_uses(graph, n.outputs[0], src, keep)
                graph.nodes.remove(n)
                changed += 1
        elif _needless_copy(n, users, written, pinned):
            replace_uses(graph, n.outputs[0], n.args[0], keep)
            graph.nodes.remove(n)
            changed += 1
        elif _transposed_product(n, users, written, pinned):
            _swap_product(graph, n, keep)
            changed += 1
    return changed


def _transposed_product(n: Node, users: dict, written: set, pinned: set) -> bool:
    """``clone(p.t())`` of a 2-D product ``p = a @ b`` read by nothing else: autograd's weight
    gradients. ``b.t() @ a.t()`` is the same matrix, made contiguous by the product itself."""
    if not _plain_clone(n):
        return False
    view = n.args[0].producer if isinstance(n.args[0], Value) else None
    if view is None or view.op is not None or view.fused is not None:
        return False
    p = view.args[0].producer
    if p is None or p.op is None or p.op.name not in ("matmul", "mm") or p.kwargs or p.effects:
        return False
    out = p.outputs[0]
    shape, strides, offset, dtype = view.view
    m, k = out.shape if len(out.shape) == 2 else (None, None)
    if m is None or len(p.args) != 2 or not all(isinstance(a, Value) and len(a.shape) == 2 for a in p.args):
        return False
    return (shape == (k, m) and strides == (1, k) and offset == 0 and dtype is out.dtype
            and out.strides == (k, 1) and len(users.get(out.id, ())) == 1 and len(users.get(n.args[0].id, ())) == 1
            and out.id not in written and out.id not in pinned and n.args[0].id not in pinned)


def _swap_product(graph: Graph, n: Node, keep: list) -> None:
    view = n.args[0].producer
    p = view.args[0].producer
    a, b = p.args
    operands = [_transposed(graph, x) for x in (b, a)]
    out = n.outputs[0]
    product = Node(p.op, tuple(v for v, _ in operands), {}, [out], out_spec=p.out_spec)
    out.producer = product
    at = graph.nodes.index(n)
    graph.nodes[at:at + 1] = [node for _, node in operands if node is not None] + [product]


def _transposed(graph: Graph, x: Value) -> tuple[Value, Node]:
    """A view node giving ``x.t()`` over ``x``'s root."""
    if x.producer is not None and x.producer.op is None and x.producer.fused is None:
        root = x.producer.args[0]
        shape, strides, offset, dtype = x.producer.view
    else:
        root, shape, strides, offset, dtype = x, x.shape, x.strides, 0, x.dtype
    t = graph.new_value(None, "node", shape=tuple(reversed(shape)), dtype=dtype, device=x.device,
                        strides=tuple(reversed(strides)))
    node = Node(None, (root,), {}, [t], view=(t.shape, t.strides, offset, dtype))
    t.producer = node
    return t, node


def _plain_clone(n: Node) -> bool:
    return n.op is not None and n.op.name == "clone" and not n.kwargs and len(n.args) == 1 and not n.effects


def _needless_copy(n: Node, users: dict, written: set, pinned: set) -> bool:
    if not _plain_clone(n):
        return False
    src = n.args[0]
    if not isinstance(src, Value) or src.kind != "node" or src.producer is None or src.producer.op is None:
        return False    # an input, a parameter or a view: the copy is the caller's own memory
    return (src.strides == contiguous_strides(src.shape) and len(users.get(src.id, ())) == 1
            and src.id not in written and src.id not in pinned)


def _mutated(graph: Graph) -> set[int]:
    return {old.id for n in graph.nodes for old, _ in n.effects}


def _foldable(n: Node, written: set[int], outputs: set[int]) -> bool:
    if n.op is None or n.fused is not None or not n.pure or n.kind_is_random():
        return False
    if any(v is None or v.id in written or v.id in outputs for v in n.outputs):
        return False   # a constant written in place, or handed to the caller, must be fresh each run
    return all(v.kind == "constant" for v in n.inputs())


def _foldable_write(n: Node, users: dict, written: set[int], outputs: set[int]) -> bool:
    """A write into constants nothing else reads (``nr.zeros(3)`` inside the call is ``empty`` and a
    recorded ``fill_``), from constants, whose result is neither written again nor handed out."""
    if n.op is None or n.fused is not None or not n.effects or n.kind_is_random() or any(n.outputs):
        return False
    if not all(v.kind == "constant" for v in n.inputs()):
        return False
    return all(old.kind == "constant" and users.get(old.id, []) == [n] and new.id not in written
               and new.id not in outputs for old, new in n.effects)


def fold_constants(graph: Graph, keep: list) -> int:
    written, outputs = _mutated(graph), {v.id for v in graph.outputs if v is not None} | {v.id for v in keep}
    users = graph.users()
    changed = 0
    for n in list(graph.nodes):
        if _foldable_write(n, users, written, outputs):
            with grad_mode.no_grad():
                n.op.frontend(n.op, *substitute(n.args, lambda v: v.tensor), **substitute(n.kwargs, lambda v: v.tensor))
            for old, new in n.effects:
                new.kind, new.tensor, new.producer = "constant", old.tensor, None
            graph.nodes.remove(n)
            changed += 1
            continue
        if not _foldable(n, written, outputs):
            continue
        env = {v.id: v.tensor for v in n.inputs()}
        with grad_mode.no_grad():
            result = n.op.frontend(n.op, *substitute(n.args, lambda v: env[v.id]),
                                   **substitute(n.kwargs, lambda v: env[v.id]))
        from .ir import flatten

        for v, t in zip(n.outputs, flatten(result)[0]):
            v.kind, v.tensor, v.producer = "constant", t, None
        graph.nodes.remove(n)
        changed += 1
    return changed


def _key(template):
    if isinstance(template, Value):
        return ("%", template.id)
    if isinstance(template, (list, tuple)):
        return (type(template).__name__, tuple(_key(x) for x in template))
    if isinstance(template, dict):
        return ("dict", tuple((k, _key(v)) for k, v in template.items()))
    if isinstance(template, float):
        return ("float", repr(template))     # 0.0 and -0.0, nan: told apart
    hash(template)
    return (type(template).__name__, template)


def eliminate_common_subexpressions(graph: Graph, keep: list | None = None) -> int:
    keep = [] if keep is None else keep
    seen: dict = {}
    changed = 0
    for n in list(graph.nodes):
        if not n.pure or n.fused is not None or n.kind_is_random() or any(v is None for v in n.outputs):
            continue
        try:
            key = (id(n.op), n.view, _key(n.args), _key(n.kwargs))
            hash(key)
        except TypeError:
            continue
        first = seen.get(key)
        if first is None:
            seen[key] = n
            continue
        for old, new in zip(n.outputs, first.outputs):
            replace_uses(graph, old, new, keep)
        graph.nodes.remove(n)
        changed += 1
    return changed


def eliminate_dead_code(graph: Graph, keep: Iterable[Value] = ()) -> int:
    live = {v.id for v in graph.outputs if v is not None} | {v.id for v in keep}
    kept: list[Node] = []
    for n in reversed(graph.nodes):
        made = [v.id for v in n.outputs if v is not None] + [new.id for _, new in n.effects]
        if n.effects or n.kind_is_random() or any(i in live for i in made):
            kept.append(n)
            live.update(v.id for v in iter_values((n.args, n.kwargs)))
            live.update(old.id for old, _ in n.effects)
    removed = len(graph.nodes) - len(kept)
    graph.nodes[:] = reversed(kept)
    return removed
