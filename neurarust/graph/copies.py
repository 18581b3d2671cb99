"""Copy elimination: a ``clone`` read only through views, by ops that take strided inputs, is dropped.

Splitting attention heads (``qkv[..., :d].clone().view(b, s, h, e).transpose(1, 2)``) copies each
of q, k and v only to view the copy again. When every view of the copy is a reshape (and
permutation) of it that is also one strided view of what it copied, and every reader of those views
takes arbitrary strides without copying inside (the flash attention kernels), the views are rewritten
onto the copied tensor and the copy goes.

A matrix product whose first operand merges the rows of a copy into one dim reads the copied rows
in place instead (:func:`read_copied_rows`).

The layout algebra lives here too: :func:`layout` (a value as ``(root, shape, strides, offset)``) and
:func:`refine` (a strided walk re-split to another shape's dims), which the horizontal copies of
:mod:`neurarust.graph.horizontal` use as well.

    >>> import neurarust as nr
    >>> from neurarust.graph import capture
    >>> from neurarust.graph.copies import eliminate_copies
    >>> f = lambda q: nr.registry.call("flash_attention", *[q[..., :4].clone().view(1, 2, 2, 2).transpose(1, 2)] * 3)[0]
    >>> g = capture(f, nr.ones(1, 2, 8)).graph
    >>> eliminate_copies(g, []), [n.name for n in g.nodes if n.op is not None]
    (1, ['flash_attention'])
"""
from __future__ import annotations

from neurarust.shape import collapse_dims, contiguous_strides, is_contiguous, numel, view_strides

from .ir import Graph, Node, Value, substitute

STRIDED_READERS = ("flash_attention", "flash_attention_backward")   # read any strides, copy nothing


def layout(v: Value, inside: set | None = None) -> tuple[Value, tuple, tuple, int]:
    """``(root, shape, strides, offset)``: ``v`` as a strided view of the storage of ``root``; only
    through view nodes whose ids are in ``inside`` when given (a forward graph's view, read by its
    backward graph, is a root there: the backward has the view, not what it views)."""
    p = v.producer
    if p is not None and p.op is None and p.fused is None and (inside is None or id(p) in inside):
        shape, strides, offset, _ = p.view
        return p.args[0], tuple(shape), tuple(strides), offset
    return v, tuple(v.shape), tuple(v.strides), 0


def is_view(n: Node) -> bool:
    return n.op is None and n.fused is None


def plain_clone(n: Node) -> bool:
    return n.op is not None and n.op.name == "clone" and not n.kwargs and len(n.args) == 1 and not n.effects \
        and isinstance(n.args[0], Value)


def refine(shape, strides, new_shape) -> list[tuple[int, int, int]] | None:
    """The walk of ``(shape, strides)`` in row-major order, split at the dims of ``new_shape`` (same
    element count): ``[(size, stride, new dim), ...]`` outermost first, or None when a dim of one
    straddles two of the other.

        >>> refine((4, 6), (1, 4), (4, 2, 3))
        [(4, 1, 0), (2, 12, 1), (3, 4, 2)]
    """
    merged, (st,) = collapse_dims(shape, strides)
    src = list(zip(merged, st))
    dst = [(d, n) for d, n in enumerate(new_shape) if n != 1]
    if numel(shape) != numel(new_shape) or numel(shape) == 0:
        return None
    out: list[tuple[int, int, int]] = []
    i = j = 0
    ra, rb = (src[0][0] if src else 1), (dst[0][1] if dst else 1)
    while i < len(src) and j < len(dst):
        m = min(ra, rb)
        if max(ra, rb) % m:
            return None
        out.append((m, src[i][1] * (ra // m), dst[j][0]))
        ra, rb = ra // m, rb // m
        if ra == 1:
            i += 1
            ra = src[i][0] if i < len(src) else 1
        if rb == 1:
            j += 1
            rb = dst[j][1] if j < len(dst) else 1
    return out if i == len(src) and j == len(dst) else None


def permuted_reshape(view: tuple, shape: tuple) -> list[int] | None:
    """The dims of ``view`` (size, strides, offset over a contiguous ``shape``) from the outermost in
    memory, when it is a permutation of a reshape of ``shape`` (offset 0, no gaps); else None."""
    size, strides, offset = view[:3]
    if offset != 0 or numel(size) != numel(shape):
        return None
    order = sorted((d for d in range(len(size)) if size[d] != 1), key=lambda d: -strides[d])
    if not is_contiguous([size[d] for d in order], [strides[d] for d in order]):
        return None
    return order


def view_through_copy(src: Value, view: tuple, inside: set | None = None) -> tuple[tuple, int] | None:
    """``(strides, offset)`` over the root of ``src`` showing what ``view`` shows of a contiguous copy
    of ``src``, or None when no single strided view does."""
    root, shape, strides, offset = layout(src, inside)
    order = permuted_reshape(view, shape)
    if order is None:
        return None
    size = view[0]
    new = view_strides(shape, strides, [size[d] for d in order])
    if new is None:
        return None
    out = [1] * len(size)
    for k, d in enumerate(order):
        out[d] = new[k]
    return tuple(out), offset


def _written(graph: Graph) -> set[int]:
    return {old.id for n in graph.nodes for old, _ in n.effects}


def rewrite_context(graph: Graph, keep: list) -> tuple[dict, set, set, set]:
    """What a rewrite checks: each Value's readers, the Values written in place, those that must
    survive (outputs, ``keep``) and the ids of the graph's own nodes."""
    pinned = {v.id for v in graph.outputs if v is not None} | {v.id for v in keep}
    return graph.users(), _written(graph), pinned, {id(n) for n in graph.nodes}


def eliminate_copies(graph: Graph, keep: list) -> int:
    """Drop each clone whose every reader is a view read only by :data:`STRIDED_READERS`, when every
    such view is one strided view of the clone's source; returns the number dropped."""
    users, written, pinned, inside = rewrite_context(graph, keep)
    changed = 0
    for n in list(graph.nodes):
        rewrites = _rewrites(n, users, written, pinned, inside)
        if rewrites is None:
            continue
        root = layout(n.args[0], inside)[0]
        for view_node, (strides, offset) in rewrites:
            shape, _, _, dtype = view_node.view
            view_node.args = (root,)
            view_node.view = (shape, strides, offset, dtype)
            view_node.outputs[0].strides = strides
        graph.nodes.remove(n)
        changed += 1
    return changed


def _rewrites(n: Node, users: dict, written: set, pinned: set, inside: set) -> list | None:
    if not plain_clone(n):
        return None
    copy, src = n.outputs[0], n.args[0]
    root = layout(src, inside)[0]
    if copy.id in pinned or copy.id in written or root.id in written or src.id in written:
        return None
    out = []
    for view_node in users.get(copy.id, ()):
        if not is_view(view_node) or view_node.view[3] is not copy.dtype:
            return None
        w = view_node.outputs[0]
        if w.id in written or (w.id in pinned and root.kind != "node"):
            return None     # a caller's tensor may change before another graph reads the view
        readers = users.get(w.id, ())
        if not readers or any(u.op is None or u.fused is not None or u.op.name not in STRIDED_READERS
                              for u in readers):
            return None
        composed = view_through_copy(src, view_node.view, inside)
        if composed is None:
            return None
        out.append((view_node, composed))
    return out or None


def move_row_views_into_products(graph: Graph, keep: list) -> int:
    """``view(a @ b)`` that only re-orders or re-shapes the product's rows becomes ``view'(a) @ b``:
    the product then has the view's shape, so its elementwise readers (a residual ``add`` after the
    attention output projection, whose rows are (sequence, batch) where the residual's are
    (batch, sequence)) join its epilogue. Returns the number of products moved."""
    users, written, pinned, inside = rewrite_context(graph, keep)
    changed = 0
    while _sink_view(graph, users, written, pinned, inside):   # view(p + bias) is view(p) + bias
        users, inside = graph.users(), {id(n) for n in graph.nodes}
    for n in list(graph.nodes):
        moved = _moved_product(graph, n, users, written, pinned, inside)
        if moved is None:
            continue
        product, a_view, new_product = moved
        at = graph.nodes.index(product)
        graph.nodes[at:at + 1] = [a_view, new_product]
        graph.nodes.remove(n)
        changed += 1
    return changed


def _moved_product(graph: Graph, n: Node, users: dict, written: set, pinned: set, inside: set):
    if not is_view(n):
        return None
    p, out = n.args[0], n.outputs[0]
    prod = p.producer
    if prod is None or id(prod) not in inside or prod.op is None or prod.op.name != "matmul" or prod.kwargs \
            or prod.effects or len(prod.args) != 2:
        return None
    a, b = prod.args
    if not (isinstance(a, Value) and isinstance(b, Value)) or len(b.shape) != 2 or len(a.shape) < 2:
        return None
    shape, strides, offset, dtype = n.view
    N = b.shape[1]
    if dtype is not p.dtype or not _row_view(n.view, p.shape) or tuple(p.strides) != contiguous_strides(p.shape):
        return None
    if [u for u in users.get(p.id, ())] != [n] or p.id in pinned or p.id in written or out.id in written:
        return None
    rows = (tuple(shape[:-1]), tuple(s // N for s in strides[:-1]), offset // N)
    order = permuted_reshape(rows, tuple(a.shape[:-1]))
    if order is None or tuple(shape) == tuple(p.shape):
        return None
    root, ashape, astrides, aoff = layout(a, inside)
    new = view_strides(ashape[:-1], astrides[:-1], [shape[d] for d in order])
    if new is None:
        return None
    row_strides = [0] * (len(shape) - 1)
    for k, d in enumerate(order):
        row_strides[d] = new[k]
    a_shape, a_strides = (*shape[:-1], ashape[-1]), (*row_strides, astrides[-1])
    a2 = graph.new_value(None, "node", shape=a_shape, dtype=a.dtype, device=a.device, strides=a_strides)
    a_view = Node(None, (root,), {}, [a2], view=(a_shape, a_strides, aoff, a.dtype))
    a2.producer = a_view
    product = Node(prod.op, (a2, b), {}, [out], out_spec=prod.out_spec)
    out.producer, out.strides = product, contiguous_strides(shape)
    return prod, a_view, product


def _sink_view(graph: Graph, users: dict, written: set, pinned: set, inside: set) -> bool:
    """Move one row view of an elementwise result above the op, when the op's other operands are
    per-column (a bias) or scalars: ``view(x + bias)`` becomes ``view(x) + bias``."""
    from .fusion import fusible

    for n in graph.nodes:
        if not is_view(n) or n.view[3] is not n.args[0].dtype:
            continue
        x, out = n.args[0], n.outputs[0]
        e = x.producer
        if e is None or id(e) not in inside or not fusible(e) or users.get(x.id, []) != [n] or x.id in pinned \
                or x.id in written or tuple(x.strides) != contiguous_strides(x.shape):
            continue
        if not _row_view(n.view, x.shape):
            continue
        full = [v for v in e.inputs() if tuple(v.shape) == tuple(x.shape)]
        rest = [v for v in e.inputs() if v not in full]
        if len(full) != 1 or full[0].dtype is not x.dtype or tuple(full[0].strides) != tuple(x.strides):
            continue
        y = full[0]
        if (y.producer is not None and is_view(y.producer)) or not all(_per_column(v.shape, x.shape) for v in rest):
            continue
        w = graph.new_value(None, "node", shape=out.shape, dtype=y.dtype, device=y.device, strides=n.view[1])
        view = Node(None, (y,), {}, [w], view=(n.view[0], n.view[1], n.view[2], y.dtype))
        w.producer = view
        swap = lambda v: w if v is y else v  # noqa: E731
        op = Node(e.op, substitute(e.args, swap), substitute(e.kwargs, swap), [out], out_spec=e.out_spec)
        out.producer, out.strides = op, contiguous_strides(out.shape)
        at = graph.nodes.index(n)
        graph.nodes[at:at + 1] = [view, op]
        graph.nodes.remove(e)
        return True
    return False


def _row_view(view: tuple, shape: tuple) -> bool:
    """The view keeps whole rows of a contiguous ``shape``: its last dim is the row, stride 1."""
    size, strides, offset = view[:3]
    n = shape[-1] if shape else 0
    return len(size) >= 2 and bool(n) and size[-1] == n and strides[-1] == 1 and not offset % n \
        and not any(s % n for s in strides[:-1])


def _per_column(shape: tuple, of: tuple) -> bool:
    """A shape that broadcasts along the rows of ``of`` only: a scalar, ``(N,)``, ``(1, N)``..."""
    return not shape or (numel(shape[:-1]) == 1 and shape[-1] in (1, of[-1]))


def read_copied_rows(graph: Graph, keep: list) -> int:
    """``matmul(reshape(clone(x)), w)``, whose A merges the copy's rows into one dim, becomes
    ``reshape(matmul(x, w))``: the product walks ``x``'s rows with their own strides and writes the
    same contiguous result. An attention block's output projection takes its input gradient in
    (sequence, batch) rows that autograd made contiguous by copying; the product no longer waits for
    that copy, which the weight-gradient group can then read through. Returns the products moved."""
    users, written, pinned, inside = rewrite_context(graph, keep)
    changed = 0
    for m in list(graph.nodes):
        src = _copied_rows(m, written, pinned, inside)
        if src is None:
            continue
        out = m.outputs[0]
        rows = graph.new_value(None, "node", shape=(*src.shape[:-1], out.shape[-1]), dtype=out.dtype,
                               device=out.device, strides=contiguous_strides((*src.shape[:-1], out.shape[-1])))
        product = Node(m.op, (src, m.args[1]), {}, [rows], out_spec=m.out_spec)
        rows.producer = product
        reshape = Node(None, (rows,), {}, [out], view=(tuple(out.shape), tuple(out.strides), 0, out.dtype))
        out.producer = reshape
        at = graph.nodes.index(m)
        graph.nodes[at:at + 1] = [product, reshape]
        changed += 1
    return changed


def _copied_rows(m: Node, written: set, pinned: set, inside: set) -> Value | None:
    """What the clone copied, when ``m`` is such a product over a row reshape of a clone; else None."""
    if m.op is None or m.op.name != "matmul" or m.kwargs or m.effects or len(m.args) != 2:
        return None
    a, b = m.args
    if not (isinstance(a, Value) and isinstance(b, Value)) or len(a.shape) != 2 or len(b.shape) != 2:
        return None
    view = a.producer
    if view is None or id(view) not in inside or not is_view(view) or view.view[3] is not a.dtype:
        return None
    copy = view.args[0]
    clone = copy.producer
    if clone is None or id(clone) not in inside or not plain_clone(clone) or len(copy.shape) < 3:
        return None
    src, out = clone.args[0], m.outputs[0]
    size, strides, offset = view.view[:3]
    whole_rows = size[-1] == copy.shape[-1] and offset == 0 and tuple(strides) == contiguous_strides(size) \
        and tuple(copy.strides) == contiguous_strides(copy.shape)
    if not whole_rows or tuple(out.strides) != contiguous_strides(out.shape):
        return None
    if {copy.id, src.id, layout(src, inside)[0].id} & written or copy.id in pinned:
        return None
    return src
