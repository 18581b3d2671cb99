"""Horizontal fusion: independent ops, with no path between them, launched as one kernel.

Three kinds of op group this way (one kind or several in one kernel), each split into *pieces* (one
strided walk of a source tensor each):

* **copies**: a ``clone`` is one piece, a ``cat`` one piece per input. A cat input that views a clone
  nobody else reads walks the clone's source directly (the clone goes): attention's ``dq``, ``dk``,
  ``dv`` are copied once, into the cat, rather than twice;
* **column sums**: ``sum(x, all dims but the last)``, the bias gradients of a training step (up to
  :data:`MAX_SUM_ROWS` rows). A sum of a ``cat`` of its columns that only sums and products read
  sums each cat input into its columns: a packed QKV projection's bias gradient reads ``dq``,
  ``dk``, ``dv`` where attention wrote them, and the cat goes;
* **products**: 2-D float32 ``matmul`` (the weight gradients of a training step) as one grouped
  GEMM: each program computes one tile of one problem, its operands read with their own strides
  (up to :data:`MAX_PRODUCT_WORK` multiply-adds). An operand that views a clone nobody else reads is
  read from the clone's source (the clone goes): a weight gradient ``dy.T @ x`` over tokens that
  ``x`` holds batch-first and ``dy`` sequence-first walks the summed dim as two. A product whose A
  rows (or B columns) are a ``cat`` is one problem per cat input, each writing its block of the
  result (the packed projection's weight gradient).

A copy that only sums and products read (through views) is read through by all of them, and a
*scaled copy* (``x / c``, see :mod:`neurarust.graph.scales`) too: each piece that reads through it
multiplies its result by the scale (a mean's backward division goes).

A group becomes one :class:`GroupKernel`: a NumPy reference (each piece as eager computes it), a
Triton kernel generated with the pieces' sizes and strides as literals (shapes are static), one
program row per piece (``program_id(1)``), and a registry entry (``fused.<hash>``) for the kernel
checks, as the other generated kernels. The group's node goes where all its sources exist and
before any reader of its outputs; members that cannot all be placed so form separate groups.

    >>> import neurarust as nr
    >>> from neurarust.graph import capture
    >>> from neurarust.graph.horizontal import fuse_horizontally
    >>> g = capture(lambda a, b: (a.sum(0), (a * b).sum(0)), nr.ones(3, 4), nr.ones(3, 4)).graph
    >>> fuse_horizontally(g, []), [n.name.split(".")[0] for n in g.nodes]
    (1, ['mul', 'fused'])
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from neurarust import backends
from neurarust import dtype as _dt
from neurarust.shape import contiguous_strides, dense_order, numel
from neurarust.tensor import Tensor

from .copies import is_view, layout, permuted_reshape, plain_clone, refine, view_through_copy
from .fusion import GeneratedKernel, bound_call
from .ir import Graph, Node, Value
from .scales import scaled_copy

MAX_PIECES = 32
# One program walks all the rows of a column block, and a product's tiles are fixed (no autotuning):
# past these sizes the eager kernels, which spread the work wider, are the faster choice.
MAX_SUM_ROWS = 4096
MAX_PRODUCT_WORK = 2 ** 24      # M * N * K
BLOCK = 1024
SUM_DTYPES = ("float32", "float16", "bfloat16")


@dataclass
class Piece:
    """``src`` (an input index) walked over ``dims`` (``[size, src stride, dst stride]``, outermost
    first) from ``src_offset``, into output ``out`` from ``dst_offset``. A column sum's last dim is
    its columns (dst stride 1) and the others are summed (dst stride 0)."""

    out: int
    src: int
    dims: list
    src_offset: int
    dst_offset: int = 0
    src2: int = -1          # a product's B; its dims are [[M, a, 0], *K, [N, 0, b]] strides, where K is
                            # one [size, a, b] or more (the summed dim walked as several, outermost
                            # first), and dst_offset is B's offset
    kind: str = "copies"    # "copies", "column_sums" or "products"
    out_offset: int = 0     # a product's first output element, and its output row stride (0: its N):
    out_stride: int = 0     # a part of a product read through a cat writes a block of the whole
    scale: float = 1.0      # a sum's or product's result times this (read through a scaled copy)

    @property
    def size(self) -> int:
        return numel(d[0] for d in self.dims)


# -- candidates ------------------------------------------------------------------------------------

@dataclass
class Candidate:
    """One node as pieces: ``sources`` are the Values the pieces read (in piece order)."""

    kind: str
    node: Node
    sources: list
    pieces: list      # Piece with src = index into sources, out = 0
    absorbed: tuple = ()   # clones a cat reads through (they go once the cat no longer reads them)


def _contiguous_root(v: Value, written: set) -> bool:
    """A root whose elements lie densely from its offset (contiguous, or a permutation of contiguous:
    attention's output in its query's layout): pieces walk its memory with its own strides."""
    return v.id not in written and dense_order(v.shape, v.strides) is not None


def _collapse(dims: list) -> list:
    """Adjacent dims walked contiguously by both sides merge; size-1 dims go."""
    out: list = []
    for size, s, d in dims:
        if size == 1:
            continue
        if out and out[-1][1] == size * s and out[-1][2] == size * d:
            out[-1] = [out[-1][0] * size, s, d]
        else:
            out.append([size, s, d])
    return out


def _clone_candidate(n: Node, written: set, inside: set) -> Candidate | None:
    if not plain_clone(n):
        return None
    root, shape, strides, offset = layout(n.args[0], inside)
    if not _contiguous_root(root, written):
        return None
    dims = _collapse([[s, st, d] for s, st, d in zip(shape, strides, contiguous_strides(shape))])
    return Candidate("copies", n, [root], [Piece(0, 0, dims, offset, kind="copies")])


def _cat_candidate(n: Node, users: dict, written: set, pinned: set, inside: set) -> Candidate | None:
    if n.op is None or n.op.name != "cat" or n.effects or not n.args or set(n.kwargs) - {"dim"}:
        return None
    tensors = n.args[0]
    dim = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim", 0)
    out = n.outputs[0]
    if not isinstance(tensors, (list, tuple)) or not isinstance(dim, int) or len(n.args) > 2 or out is None:
        return None
    if not all(isinstance(t, Value) and t.dtype is out.dtype and len(t.shape) == len(out.shape) and numel(t.shape)
               for t in tensors):
        return None
    dim %= len(out.shape)
    ostrides = contiguous_strides(out.shape)
    sources, pieces, absorbed, start = [], [], [], 0
    for t in tensors:
        walk = _through_copy(t, n, users, written, pinned, inside, scaled=False) \
            or _own_walk(t, ostrides, written, inside)
        if walk is None:
            return None
        root, dims, offset = walk[:3]
        if isinstance(dims, tuple):       # (chunks, order): a walk of a copy's source
            absorbed.append(walk[4])
            dims = _chunk_dims(*dims, ostrides)
        pieces.append(Piece(0, len(sources), _collapse(dims), offset, start * ostrides[dim]))
        sources.append(root)
        start += t.shape[dim]
    return Candidate("copies", n, sources, pieces, tuple(absorbed))


def _own_walk(t: Value, ostrides: tuple, written: set, inside: set):
    root, shape, strides, offset = layout(t, inside)
    if not _contiguous_root(root, written):
        return None
    return root, [[s, st, o] for s, st, o in zip(shape, strides, ostrides)], offset


def _through_copy(t: Value, reader: Node, users: dict, written: set, pinned: set, inside: set,
                  scaled: bool = True):
    """``t`` a clone, a scaled copy (``x * s``, see :mod:`neurarust.graph.scales`) or a view of one,
    read (through views) by ``reader`` or by other sums and products only: the walk of what it
    copies, ``(root, (chunks, order), offset, scale, the copying node)``; else None."""
    p = t.producer
    if p is not None and id(p) in inside and is_view(p):
        copy, view = p.args[0], p.view[:3]
        if p.view[3] is not copy.dtype:
            return None
    else:
        copy, view = t, (tuple(t.shape), contiguous_strides(t.shape), 0)
    c = copy.producer
    if c is None or id(c) not in inside or copy.id in pinned or copy.id in written \
            or tuple(copy.strides) != contiguous_strides(copy.shape):
        return None
    src, scale = (c.args[0], 1.0) if plain_clone(c) else (scaled_copy(c) if scaled else None) or (None, None)
    if src is None or src.id in written:
        return None
    for v in users.get(copy.id, ()):
        if is_view(v) and v.outputs[0].id in pinned:
            return None
        readers = users.get(v.outputs[0].id, ()) if is_view(v) else [v]
        if any(u is not reader and not _reducer(u) for u in readers):
            return None     # other sums and products may read it too: candidates() checks they all do
    root, shape, strides, offset = layout(src, inside)
    order = permuted_reshape(view, shape)
    if order is None or not _contiguous_root(root, written):
        return None
    chunks = refine(shape, strides, [view[0][d] for d in order])
    return None if chunks is None else (root, (chunks, order), offset, scale, c)


def _chunk_dims(chunks: list, order: list, ostrides: tuple) -> list:
    """Each chunk ``(size, src stride, k)`` of the view's ``order[k]`` dim, with its output stride."""
    dims, inner = [], {}
    for size, s, k in reversed(chunks):
        d = order[k]
        dims.append([size, s, ostrides[d] * inner.get(d, 1)])
        inner[d] = inner.get(d, 1) * size
    return dims[::-1]


def _sum_candidate(n: Node, users: dict, written: set, pinned: set, inside: set) -> Candidate | None:
    bound = bound_call(n, ("sum",))
    if bound is None or len(n.outputs) != 1:
        return None
    x, out = bound.get("input"), n.outputs[0]
    if not isinstance(x, Value) or x.dtype.name not in SUM_DTYPES or bound.get("dtype") is not None or \
            bound.get("keepdim") or out is None or len(x.shape) < 2 or out.dtype is not x.dtype:
        return None
    dims = bound.get("dim")
    dims = dims if isinstance(dims, (list, tuple)) else (dims,)
    lead = list(range(len(x.shape) - 1))
    if not all(isinstance(d, int) for d in dims) or sorted(d % len(x.shape) for d in dims) != lead:
        return None
    if not numel(x.shape) or numel(x.shape[:-1]) > MAX_SUM_ROWS:
        return None
    cat, parts = _cat_parts(x, users, written, pinned, inside)
    if parts and parts[0][1] == len(x.shape) - 1:                   # the cat lays out the columns
        return _sum_of_layouts(n, [(walk, start) for walk, _, start in parts], cat)
    through = _through_copy(x, n, users, written, pinned, inside)
    if through is not None:
        root, (chunks, order), offset, scale, copier = through
        last = len(x.shape) - 1
        rows = [(size, stride) for size, stride, k in chunks if order[k] != last]
        cols = [(size, stride) for size, stride, k in chunks if order[k] == last]
        if len(cols) == 1:
            shape, strides = zip(*rows, *cols)
            return _sum_of_layouts(n, [((root, shape, strides, offset), 0)], copier, scale)
    return _sum_of_layouts(n, [(layout(x, inside), 0)]) if _contiguous_root(layout(x, inside)[0], written) else None


def _sum_of_layouts(n: Node, walks: list, absorbed: Node | None = None, scale: float = 1.0) -> Candidate:
    """A column sum reading each ``(root, shape, strides, offset)`` walk into its columns from
    ``start``, times ``scale``."""
    sources, pieces = [], []
    for (root, shape, strides, offset), start in walks:
        rows = _collapse([[s, st, 0] for s, st in zip(shape[:-1], strides[:-1])]) or [[1, 0, 0]]
        pieces.append(Piece(0, len(sources), rows + [[shape[-1], strides[-1], 1]], offset, start, kind="column_sums",
                            scale=scale))
        sources.append(root)
    return Candidate("column_sums", n, sources, pieces, () if absorbed is None else (absorbed,))


def _cat_parts(x: Value, users: dict, written: set, pinned: set, inside: set) -> tuple:
    """``x`` a dense view of the output of a ``cat`` that only sums and products read (through views):
    ``(the cat, parts)``, per cat input ``((root, shape, strides, offset), j, start)``, the walk of the part of ``x`` that
    input fills, whose dim ``j`` (the cat's dim, in ``x``) starts at ``start`` of the whole. A sum or a
    product then reads the cat's inputs, not the cat: it need not wait for the cat's copies.
    ``(None, None)`` otherwise."""
    root, shape, strides, offset = layout(x, inside)
    c = root.producer
    if c is None or id(c) not in inside or c.op is None or c.op.name != "cat" or c.effects or c.kwargs \
            or len(c.args) != 2 or root.id in pinned or root.id in written or not _only_reducers_read(root, users):
        return None, None
    tensors, d = c.args
    if not isinstance(tensors, (list, tuple)) or not isinstance(d, int) or len(tensors) < 2 or \
            not all(isinstance(t, Value) and t.dtype is root.dtype for t in tensors):
        return None, None
    d %= len(root.shape)
    cs = contiguous_strides(root.shape)
    order = permuted_reshape((shape, strides, offset), root.shape)
    js = [j for j in range(len(shape)) if shape[j] == root.shape[d] and strides[j] == cs[d] and shape[j] > 1]
    if order is None or len(js) != 1:
        return None, None
    j, outer, parts, start = js[0], cs[d] * root.shape[d], [], 0
    for t in tensors:
        n_t = t.shape[d]
        size = tuple(n_t if k == j else s for k, s in enumerate(shape))
        view = tuple(cs[d] if k == j else (s // root.shape[d] * n_t if s >= outer else s) for k, s in enumerate(strides))
        placed = view_through_copy(t, (size, view, 0), inside)
        t_root = layout(t, inside)[0]
        if placed is None or not _contiguous_root(t_root, written):
            return None, None
        parts.append(((t_root, size, placed[0], placed[1]), j, start))
        start += n_t
    return c, parts


def _reducer(n: Node) -> bool:
    return n.op is not None and n.fused is None and n.op.name in ("sum", "matmul")


def _only_reducers_read(v: Value, users: dict) -> bool:
    """Every reader of ``v``, directly or through views, is a sum or a product."""
    for u in users.get(v.id, ()):
        if is_view(u):
            if not _only_reducers_read(u.outputs[0], users):
                return False
        elif not _reducer(u):
            return False
    return True


PRODUCT_DTYPES = ("float32",)


def _product_candidate(n: Node, users: dict, written: set, pinned: set, inside: set) -> Candidate | None:
    if n.op is None or n.fused is not None or n.op.name != "matmul" or n.kwargs or n.effects or len(n.args) != 2:
        return None
    a, b = n.args
    out = n.outputs[0]
    if not all(isinstance(x, Value) and len(x.shape) == 2 and x.dtype is out.dtype for x in (a, b)) \
            or out.dtype.name not in PRODUCT_DTYPES or not numel(out.shape) or not a.shape[1] \
            or numel(out.shape) * a.shape[1] > MAX_PRODUCT_WORK:
        return None
    N = out.shape[1]
    for x, other, kept in ((a, b, 0), (b, a, 1)):     # a cat along A's rows or B's columns: one part each
        cat, parts = _cat_parts(x, users, written, pinned, inside)
        if not parts or parts[0][1] != kept:
            continue
        walk = _operand_walk(other, n, users, written, pinned, inside)
        if walk is None:
            return None
        problems = []
        for (root, shape, strides, offset), _, start in parts:
            part = (root, tuple([(size, stride)] for size, stride in zip(shape, strides)), offset, None, 1.0)
            problems.append((part, walk, start * N, 0) if kept == 0 else (walk, part, start, N))
        return _products(n, problems, cat)
    walks = [_operand_walk(x, n, users, written, pinned, inside) for x in (a, b)]
    return None if None in walks else _products(n, [(*walks, 0, 0)])


def _products(n: Node, problems: list, cat: Node | None = None) -> Candidate | None:
    """A product candidate of ``(A walk, B walk, out_offset, out_stride)`` problems (one, or one per
    part of a cat an operand reads through)."""
    sources, pieces, absorbed = [], [], [] if cat is None else [cat]
    for (ra, (rows, ka), oa, ca, sa), (rb, (kb, cols), ob, cb, sb), out_offset, out_stride in problems:
        ks = _common_chunks(ka, kb)
        if len(rows) != 1 or len(cols) != 1 or ks is None:
            return None
        dims = [[rows[0][0], rows[0][1], 0], *[list(k) for k in ks], [cols[0][0], 0, cols[0][1]]]
        sources += [r for r in (ra, rb) if r not in sources]
        pieces.append(Piece(0, sources.index(ra), dims, oa, ob, sources.index(rb), "products", out_offset, out_stride,
                            sa * sb))
        absorbed += [c for c in (ca, cb) if c is not None and c not in absorbed]
    return Candidate("products", n, sources, pieces, tuple(absorbed))


def _operand_walk(x: Value, reader: Node, users: dict, written: set, pinned: set, inside: set):
    """``(root, (dim 0 chunks, dim 1 chunks), offset, absorbed copy or None, scale)`` of a 2-D
    operand: each dim as ``[(size, stride), ...]`` over the root, outermost first (several when ``x``
    views a copy whose source lays that dim out in pieces)."""
    through = _through_copy(x, reader, users, written, pinned, inside)
    if through is not None:
        root, (chunks, order), offset, scale, copier = through
        per_dim = [[(size, stride) for size, stride, k in chunks if order[k] == d] or [(1, 0)] for d in (0, 1)]
        return root, tuple(per_dim), offset, copier, scale
    root, shape, strides, offset = layout(x, inside)
    if not _contiguous_root(root, written):
        return None
    return root, ([(shape[0], strides[0])], [(shape[1], strides[1])]), offset, None, 1.0


def _common_chunks(a: list, b: list) -> list | None:
    """The summed dim as ``[(size, a stride, b stride), ...]`` split where either operand's walk splits
    it (None when a chunk of one straddles two of the other)."""
    a, b = [list(c) for c in a if c[0] != 1], [list(c) for c in b if c[0] != 1]
    out = []
    while a and b:
        (sa, ta), (sb, tb) = a[0], b[0]
        m = min(sa, sb)
        if max(sa, sb) % m:
            return None
        out.append((m, ta * (sa // m), tb * (sb // m)))
        a[0][0], b[0][0] = sa // m, sb // m
        if a[0][0] == 1:
            a.pop(0)
        if b[0][0] == 1:
            b.pop(0)
    return None if a or b else (out or [(1, 0, 0)])


def candidates(graph: Graph, keep: list) -> list[Candidate]:
    users = graph.users()
    written = {old.id for n in graph.nodes for old, _ in n.effects}
    pinned = {v.id for v in graph.outputs if v is not None} | {v.id for v in keep}
    inside = {id(n) for n in graph.nodes}
    while True:
        out = []
        for n in graph.nodes:
            c = _clone_candidate(n, written, inside) or _cat_candidate(n, users, written, pinned, inside) \
                or _sum_candidate(n, users, written, pinned, inside) \
                or _product_candidate(n, users, written, pinned, inside)
            if c is not None and all(v.device == n.outputs[0].device for v in c.sources):
                out.append(c)
        stranded = _stranded_copies(out, users)
        if not stranded:
            break
        pinned |= stranded      # a reader still needs the copy: nobody reads through it
    absorbed = {id(a) for c in out for a in c.absorbed}
    return [c for c in out if id(c.node) not in absorbed]


def _stranded_copies(out: list, users: dict) -> set:
    """The outputs of absorbed clones that some reader (through views) does not read through."""
    through: dict = {}
    for c in out:
        for a in c.absorbed:
            through.setdefault(id(a), (a, set()))[1].add(id(c.node))
    stranded = set()
    for a, readers in through.values():
        if not plain_clone(a) and scaled_copy(a) is None:
            continue
        copy = a.outputs[0]
        direct = [u for v in users.get(copy.id, ()) for u in ([v] if not is_view(v) else users.get(v.outputs[0].id, ()))]
        if any(id(u) not in readers for u in direct):
            stranded.add(copy.id)
    return stranded


# -- grouping ----------------------------------------------------------------------------------------

def fuse_horizontally(graph: Graph, keep) -> int:
    """Replace each group of independent copies (and each cat that walks through its inputs' clones),
    and each group of two or more column sums, by one :class:`GroupKernel`; returns the group count."""
    from .passes import eliminate_dead_code

    keep = keep if isinstance(keep, list) else list(keep)   # the caller's list sees replacements
    done = 0
    while True:
        group = _first_group(graph, keep)
        if group is None:
            return done
        _replace(graph, *group)
        eliminate_dead_code(graph, keep)     # the copies a cat walked through are no candidates now
        done += 1


def _first_group(graph: Graph, keep: list):
    position = {id(n): i for i, n in enumerate(graph.nodes)}
    users = graph.users()
    writes = [(i, {old.id for old, _ in n.effects}) for i, n in enumerate(graph.nodes) if n.effects]
    groups: list[tuple[list, int]] = []
    for c in candidates(graph, keep):
        for k, (members, _) in enumerate(groups):
            if sum(len(m.pieces) for m in members) + len(c.pieces) > MAX_PIECES:
                continue
            at = _placement(members + [c], position, users, writes)
            if at is not None:
                groups[k] = (members + [c], at)
                break
        else:
            at = _placement([c], position, users, writes)
            if at is not None:
                groups.append(([c], at))
    for members, at in groups:
        if len(members) > 1 or _saves_launches(members[0]):
            return members, at
    return None


def _saves_launches(c: Candidate) -> bool:
    """A cat alone is worth replacing when one of its inputs no longer needs its own copy."""
    return bool(c.absorbed)


def _placement(members: list, position: dict, users: dict, writes: list) -> int | None:
    """Where the group's node can go: after every source, before every reader of an output, with no
    write to a source between there and any member; None when there is no such place."""
    outputs = {v.id for m in members for v in m.node.outputs if v is not None}
    if any(s.id in outputs for m in members for s in m.sources):
        return None
    mine = {id(m.node) for m in members}
    at = 1 + max((position.get(id(s.producer), -1) for m in members for s in m.sources), default=-1)
    for v in outputs:
        if any(id(u) not in mine and position[id(u)] < at for u in users.get(v, ())):
            return None
    roots = {s.id for m in members for s in m.sources}
    for m in members:
        lo, hi = sorted((at, position[id(m.node)]))
        if any(lo <= i < hi and ids & roots for i, ids in writes):
            return None
    return at


def _replace(graph: Graph, members: list, at: int) -> None:
    sources: list[Value] = []
    pieces: list[Piece] = []
    for k, m in enumerate(members):
        for p in m.pieces:
            v = m.sources[p.src]
            if v not in sources:
                sources.append(v)
            src2 = -1
            if p.src2 >= 0:
                w = m.sources[p.src2]
                if w not in sources:
                    sources.append(w)
                src2 = sources.index(w)
            pieces.append(Piece(k, sources.index(v), p.dims, p.src_offset, p.dst_offset, src2, p.kind,
                                p.out_offset, p.out_stride, p.scale))
    outs = [m.node.outputs[0] for m in members]
    kinds = {m.kind for m in members}
    inputs = _input_shapes(sources, pieces)
    layouts = [tuple(v.strides) if shape == tuple(v.shape) and tuple(v.strides) != contiguous_strides(v.shape)
               else None for v, (shape, _) in zip(sources, inputs)]
    kernel = GroupKernel(kinds.pop() if len(kinds) == 1 else "mixed", inputs,
                         [(tuple(v.shape), v.dtype) for v in outs], pieces, outs[0].device, layouts)
    kernel.write()
    node = Node(None, tuple(sources), {}, outs, fused=kernel)
    for v in outs:
        v.producer = node
    mine = {id(m.node) for m in members}
    anchor = next((n for n in graph.nodes[at:] if id(n) not in mine), None)
    graph.nodes[:] = [n for n in graph.nodes if id(n) not in mine]
    graph.nodes.insert(len(graph.nodes) if anchor is None else graph.nodes.index(anchor), node)


def _reach(p: Piece) -> dict[int, int]:
    """Input index -> one past the last element the piece reads (from the input's own offset)."""
    if p.kind == "products":
        (M, am, _), *ks, (N, _, bn) = p.dims
        a = p.src_offset + (M - 1) * am + sum((k - 1) * ak for k, ak, _ in ks) + 1
        b = p.dst_offset + sum((k - 1) * bk for k, _, bk in ks) + (N - 1) * bn + 1
        return {p.src: a, p.src2: b} if p.src != p.src2 else {p.src: max(a, b)}
    return {p.src: p.src_offset + sum((d[0] - 1) * d[1] for d in p.dims) + 1}


def _input_shapes(sources: list, pieces: list) -> list:
    """Each source's shape, or ``(elements,)`` when a piece reads past it: a view can reach beyond the
    tensor it views (two results an op returns as views of one buffer)."""
    reach = [numel(v.shape) for v in sources]
    for p in pieces:
        for i, r in _reach(p).items():
            reach[i] = max(reach[i], r)
    return [(tuple(v.shape) if r == numel(v.shape) else (r,), v.dtype) for v, r in zip(sources, reach)]


# -- the kernel ------------------------------------------------------------------------------------

class GroupKernel(GeneratedKernel):
    """Independent copies or column sums as one callable: ``kernel(inputs) -> tuple of outputs``."""

    def __init__(self, kind: str, inputs: list, outputs: list, pieces: list, device, layouts: list | None = None):
        self.kind, self.inputs, self.outputs, self.pieces, self.device = kind, inputs, outputs, pieces, device
        # Per input: the strides of a dense but permuted layout the pieces walk, or None (contiguous).
        self.layouts = [None if x is None else tuple(x) for x in (layouts or [None] * len(inputs))]
        self.signature = self._signature()
        self.hash = hashlib.sha256(self.signature.encode()).hexdigest()[:16]
        self.name = f"fused.{self.hash}"
        self.multi = True
        self._source = self._module = self._op = None

    def _signature(self) -> str:
        lines = [f"{self.kind}"]
        lines += [f"in {i}: {d.name}{list(s)}" + ("" if lay is None else f" strides {list(lay)}")
                  for i, ((s, d), lay) in enumerate(zip(self.inputs, self.layouts))]
        lines += [f"out {i}: {d.name}{list(s)}" for i, (s, d) in enumerate(self.outputs)]
        lines += [f"{p.kind}: out{p.out}+{p.dst_offset} <- x{p.src}+{p.src_offset} over {p.dims}"
                  + (f" times x{p.src2}" if p.src2 >= 0 else "")
                  + (f" at +{p.out_offset} rows {p.out_stride}" if p.out_offset or p.out_stride else "")
                  + (f" scaled {p.scale!r}" if p.scale != 1 else "") for p in self.pieces]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"GroupKernel({self.name}: {self.kind}, {len(self.pieces)} pieces)"

    def op_names(self) -> list[str]:
        return [p.kind for p in self.pieces]

    def spec(self) -> dict:
        layouts = {} if not any(self.layouts) else {"layouts": [None if x is None else list(x) for x in self.layouts]}
        return {"kind": self.kind, "inputs": [[list(s), d.name] for s, d in self.inputs], **layouts,
                "outputs": [[list(s), d.name] for s, d in self.outputs], "device": str(self.device),
                "pieces": [[p.out, p.src, p.dims, p.src_offset, p.dst_offset, p.src2, p.kind]
                           + ([p.out_offset, p.out_stride] if p.out_offset or p.out_stride or p.scale != 1 else [])
                           + ([p.scale] if p.scale != 1 else []) for p in self.pieces]}

    @classmethod
    def from_spec(cls, spec: dict) -> "GroupKernel":
        from neurarust.device import as_device

        return cls(spec["kind"], [(tuple(s), _dt.as_dtype(d)) for s, d in spec["inputs"]],
                   [(tuple(s), _dt.as_dtype(d)) for s, d in spec["outputs"]],
                   [Piece(*p) for p in spec["pieces"]], as_device(spec["device"]), spec.get("layouts"))

    def __call__(self, tensors: list[Tensor]) -> tuple:
        tensors = [_readable(t, shape, lay) for t, (shape, _), lay in zip(tensors, self.inputs, self.layouts)]
        if backends.for_device(tensors[0]._storage.device) == "reference":
            arrays = [t._np() if t.shape == shape else t._storage.numpy(t.dtype)[t._offset:t._offset + shape[0]]
                      for t, (shape, _) in zip(tensors, self.inputs)]
            return tuple(Tensor._from_array(a, d) for a, (_, d) in zip(self.reference(*arrays), self.outputs))
        device = tensors[0]._storage.device
        outs = [Tensor._empty(s, d, device) for s, d in self.outputs]
        self.launcher()(outs, tensors)
        return tuple(outs)

    # -- NumPy ------------------------------------------------------------------------------------
    def reference(self, *arrays: np.ndarray) -> tuple:
        """Each piece as eager computes it: a copy, or a float32-accumulated sum (float32 NumPy for
        float32) cast back, over the inputs' contiguous layouts."""
        flat = [np.ascontiguousarray(a if lay is None else a.transpose(dense_order(a.shape, lay))).reshape(-1)
                for a, lay in zip(arrays, self.layouts)]   # each input's memory, as the kernel walks it
        outs = [np.zeros(s, d.np) for s, d in self.outputs]
        for p in self.pieces:
            src = flat[p.src]
            walk = None if p.kind == "products" else np.lib.stride_tricks.as_strided(
                src[p.src_offset:], [d[0] for d in p.dims], [d[1] * src.itemsize for d in p.dims], writeable=False)
            out = outs[p.out].reshape(-1)
            if p.kind == "products":
                M, N = p.dims[0][0], p.dims[-1][0]
                np.lib.stride_tricks.as_strided(out[p.out_offset:], (M, N), ((p.out_stride or N) * out.itemsize,
                                                out.itemsize))[...] = _scaled(_product_reference(p, src, flat[p.src2]), p)
            elif p.kind == "copies":
                np.lib.stride_tricks.as_strided(out[p.dst_offset:], [d[0] for d in p.dims],
                                                [d[2] * out.itemsize for d in p.dims])[...] = walk
            else:
                acc = walk if walk.dtype == np.float32 else walk.astype(np.float32)
                out[p.dst_offset:p.dst_offset + p.dims[-1][0]] = \
                    _scaled(np.add.reduce(acc, axis=tuple(range(len(p.dims) - 1))), p).astype(out.dtype)
        return tuple(outs)

    # -- Triton -----------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        if self._source is None:
            self._source = generate_group_source(self)
        return self._source

    def of_kind(self, kind: str) -> list[Piece]:
        return [p for p in self.pieces if p.kind == kind]

    def blocks(self, p: Piece) -> int:
        """Programs along ``program_id(0)`` that piece ``p`` needs."""
        if p.kind == "products":
            bm, bn, _ = _product_blocks(self)
            return -(-p.dims[0][0] // bm) * -(-p.dims[-1][0] // bn)
        if p.kind == "copies":
            return -(-p.size // BLOCK)
        return -(-p.dims[-1][0] // _sum_blocks(self)[0])

    def grid(self) -> tuple[int, int]:
        return max(self.blocks(p) for p in self.pieces), len(self.pieces)

    def as_op(self):
        return _as_op(self)


def _scaled(result: np.ndarray, p: Piece) -> np.ndarray:
    return result if p.scale == 1 else result * p.scale     # a Python float keeps the array's dtype


def _product_reference(p: Piece, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One problem of a grouped product, as eager's reference computes it."""
    from neurarust.kernels.matmul import _ref_matmul

    (M, am, _), *ks, (N, _, bn) = p.dims
    size, K = a.itemsize, numel(k[0] for k in ks)
    aa = np.lib.stride_tricks.as_strided(a[p.src_offset:], (M, *(k[0] for k in ks)),
                                         (am * size, *(k[1] * size for k in ks)), writeable=False)
    bb = np.lib.stride_tricks.as_strided(b[p.dst_offset:], (*(k[0] for k in ks), N),
                                         (*(k[2] * size for k in ks), bn * size), writeable=False)
    return _ref_matmul(aa.reshape(M, K), bb.reshape(K, N))


def _product_blocks(k: GroupKernel) -> tuple[int, int, int]:
    """Tile sizes of a grouped product: powers of two from 16 (``tl.dot``'s least) to 64 (32 for K)."""
    def fit(size, top):
        return min(top, max(16, _pow2(max(size(p) for p in k.of_kind("products")))))

    return (fit(lambda p: p.dims[0][0], 64), fit(lambda p: p.dims[-1][0], 64),
            fit(lambda p: numel(d[0] for d in p.dims[1:-1]), 32))


def _readable(t: Tensor, shape: tuple, layout: tuple | None = None) -> Tensor:
    """``t`` laid out as the kernel reads it: densely in ``layout`` (contiguous when None), with
    ``prod(shape)`` elements from its offset."""
    if t.shape == tuple(shape) and layout is not None:
        return t._in_layout(layout)
    if t.shape == tuple(shape):
        return t if t.is_contiguous() else t.contiguous()
    if not t.is_contiguous() or t._storage.nbytes // t.dtype.itemsize - t._offset < shape[0]:
        raise RuntimeError(f"a horizontal kernel reads {shape[0]} elements from a tensor of shape {tuple(t.shape)} "
                           f"and strides {t.stride()}: its layout changed since the capture")
    return t


def _sum_blocks(k: GroupKernel) -> tuple[int, int]:
    """Column and row tile sizes of a column-sum group (at most 2048 elements a tile)."""
    sums = k.of_kind("column_sums")
    cols = min(64, _pow2(max(p.dims[-1][0] for p in sums)))
    rows = min(2048 // cols, _pow2(max(numel(d[0] for d in p.dims[:-1]) for p in sums)))
    return cols, rows


def _pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _wide(k: GroupKernel) -> bool:
    """Whether an offset may pass 2**31 - 1 (the kernel then computes offsets in int64)."""
    reach = [p.src_offset + sum((d[0] - 1) * d[1] for d in p.dims) for p in k.pieces]
    reach += [numel(s) for s, _ in k.inputs + k.outputs]
    return max(reach) >= 2 ** 31


# -- source generation -----------------------------------------------------------------------------

def generate_group_source(k: GroupKernel) -> str:
    outs = [f"out{i}_ptr" for i in range(len(k.outputs))]
    ins = [f"x{i}_ptr" for i in range(len(k.inputs))]
    body = []
    for kind, lines in (("copies", _copy_body), ("column_sums", _sum_body), ("products", _product_body)):
        if k.of_kind(kind):
            body += lines(k)
    products = bool(k.of_kind("products"))
    params = outs + ins + (["PRECISION: tl.constexpr"] if products else [])
    return "\n".join([
        f'"""Generated by neurarust.compile: {k!r}.', "", *[f"    {line}" for line in k.signature.splitlines()], '"""',
        "from neurarust.launch import tl, triton", "",
        f"SPEC = {k.spec()!r}  # rebuilds the kernel and its reference (neurarust.graph.cached)", "",
        "from neurarust.kernels.fused_launch import group_aot_specs, launch_group", "", "",
        "@triton.jit",
        f"def group_kernel({', '.join(params)}):",
        "    piece = tl.program_id(1)",
        "    block = tl.program_id(0)",
        *body, "", "",
        "def launch(outs, inputs):",
        f"    launch_group(group_kernel, outs, inputs, {k.grid()!r}{', product=True' if products else ''})",
        "", "",
        "def aot_specs():",
        f"    return group_aot_specs(group_kernel, {[d.name for _, d in k.outputs]!r}, "
        f"{[d.name for _, d in k.inputs]!r})", ""])


def _unravel(dims: list, var: str, prefix: str, indent: str) -> tuple[list[str], list[str]]:
    """Lines splitting ``var`` over ``dims`` (outermost first) into ``{prefix}J``; and the index names."""
    r = f"{prefix}_rest"
    lines, names = [f"{indent}{r} = {var}"], []
    for j in range(len(dims) - 1, -1, -1):
        name = f"{prefix}{j}"
        names.append(name)
        if j:
            lines += [f"{indent}{name} = {r} % {dims[j][0]}", f"{indent}{r} = {r} // {dims[j][0]}"]
        else:
            lines.append(f"{indent}{name} = {r}")
    return lines, names[::-1]


def _offset(base: int, names: list, strides: list, lanes: str) -> str:
    """``base + sum(index * stride)``, a block of offsets even when every stride is 0."""
    terms = [f"{n} * {s}" for n, s in zip(names, strides) if s] or [f"{lanes} * 0"]
    return " + ".join([str(base)] + terms)


def _copy_body(k: GroupKernel) -> list[str]:
    index = "(block * {b} + tl.arange(0, {b})){cast}".format(b=BLOCK, cast=".to(tl.int64)" if _wide(k) else "")
    lines = [f"    idx = {index}"]
    for i, p in enumerate(k.pieces):
        if p.kind != "copies":
            continue
        lines += [f"    if piece == {i}:", f"        mask = idx < {p.size}"]
        unravel, names = _unravel(p.dims, "idx", "i", "        ")
        lines += unravel if p.dims else []
        src = _offset(p.src_offset, names, [d[1] for d in p.dims], "idx")
        dst = _offset(p.dst_offset, names, [d[2] for d in p.dims], "idx")
        lines += [f"        v{i} = tl.load(x{p.src}_ptr + ({src}), mask=mask)",
                  f"        tl.store(out{p.out}_ptr + ({dst}), v{i}, mask=mask)"]
    return lines


def _sum_body(k: GroupKernel) -> list[str]:
    cols, rows = _sum_blocks(k)
    cast = ".to(tl.int64)" if _wide(k) else ""
    lines = [f"    s_cols = (block * {cols} + tl.arange(0, {cols})){cast}", f"    s_lanes = tl.arange(0, {rows}){cast}"]
    for i, p in enumerate(k.pieces):
        if p.kind != "column_sums":
            continue
        n_cols, col_stride = p.dims[-1][0], p.dims[-1][1]
        n_rows = numel(d[0] for d in p.dims[:-1])
        unravel, names = _unravel(p.dims[:-1], "r_idx", "j", "            ")
        row_off = _offset(p.src_offset, names, [d[1] for d in p.dims[:-1]], "r_idx")
        lines += [f"    if piece == {i}:",
                  f"        if block * {cols} < {n_cols}:",
                  f"            cmask = s_cols < {n_cols}",
                  f"            s_acc = tl.zeros([{rows}, {cols}], tl.float32)",
                  f"            for start in range(0, {n_rows}, {rows}):",
                  "                r_idx = start + s_lanes",
                  *[f"    {line}" for line in unravel],
                  f"                rmask = r_idx < {n_rows}",
                  f"                ptrs = x{p.src}_ptr + ({row_off})[:, None] + s_cols[None, :] * {col_stride}",
                  f"                x{i} = tl.load(ptrs, mask=rmask[:, None] & cmask[None, :], other=0.0)",
                  f"                s_acc += x{i}.to(tl.float32)",
                  f"            total = tl.sum(s_acc, axis=0){_times(p)}",
                  f"            out = out{p.out}_ptr + {p.dst_offset} + s_cols",
                  f"            tl.store(out, total.to(out{p.out}_ptr.dtype.element_ty), mask=cmask)"]
    return lines


def _product_body(k: GroupKernel) -> list[str]:
    bm, bn, bk = _product_blocks(k)
    cast = ".to(tl.int64)" if _wide(k) else ""
    lines = [f"    lanes_m = tl.arange(0, {bm}){cast}", f"    lanes_n = tl.arange(0, {bn}){cast}",
             f"    lanes_k = tl.arange(0, {bk}){cast}"]
    for i, p in enumerate(k.pieces):
        if p.kind != "products":
            continue
        (M, am, _), *ks, (N, _, bn_) = p.dims
        K = numel(k[0] for k in ks)
        tiles_n = -(-N // bn)
        lines += [f"    if piece == {i}:",
                  f"        if block < {-(-M // bm) * tiles_n}:",
                  f"            p_rows = (block // {tiles_n}) * {bm} + lanes_m",
                  f"            p_cols = (block % {tiles_n}) * {bn} + lanes_n",
                  f"            p_acc = tl.zeros([{bm}, {bn}], tl.float32)",
                  f"            for start in range(0, {K}, {bk}):",
                  "                ks = start + lanes_k",
                  f"                a = tl.load(x{p.src}_ptr + ({p.src_offset} + p_rows[:, None] * {am}"
                  f" + {_k_offset(ks, 1, '[None, :]')}),",
                  f"                            mask=(p_rows[:, None] < {M}) & (ks[None, :] < {K}), other=0.0)",
                  f"                b = tl.load(x{p.src2}_ptr + ({p.dst_offset} + {_k_offset(ks, 2, '[:, None]')}"
                  f" + p_cols[None, :] * {bn_}),",
                  f"                            mask=(ks[:, None] < {K}) & (p_cols[None, :] < {N}), other=0.0)",
                  "                p_acc = tl.dot(a, b, p_acc, input_precision=PRECISION, out_dtype=tl.float32)",
                  f"            out = out{p.out}_ptr + {p.out_offset} + p_rows[:, None] * {p.out_stride or N}"
                  " + p_cols[None, :]",
                  f"            tl.store(out, (p_acc{_times(p)}).to(out{p.out}_ptr.dtype.element_ty),",
                  f"                     mask=(p_rows[:, None] < {M}) & (p_cols[None, :] < {N}))"]
    return lines


def _times(p: Piece) -> str:
    return f" * {p.scale!r}" if p.scale != 1 else ""


def _k_offset(ks: list, side: int, expand: str) -> str:
    """The offset of summed index ``ks`` in one operand (``side`` 1: A, 2: B) walking the chunks ``ks``."""
    terms, inner = [], 1
    for size, *strides in reversed(ks):
        index = f"(ks // {inner})" if inner > 1 else "ks"
        index = f"({index} % {size})" if inner * size < numel(k[0] for k in ks) else index
        terms.append(f"{index}{expand} * {strides[side - 1]}")
        inner *= size
    return " + ".join(reversed(terms))


def _as_op(k: GroupKernel):
    """A registry entry for a group kernel: its sample is the captured shapes with random values."""
    from neurarust.registry import Op, Sample

    def frontend(op, *tensors):
        return k(list(tensors))

    def samples(dtype):
        rng = np.random.default_rng(0)
        yield Sample(tuple(rng.uniform(0.5, 1.5, size=s).astype(d.np) for s, d in k.inputs), {},
                     name="captured shapes")

    return Op(name=k.name, kind="fused", frontend=frontend, reference=k.reference,
              triton=f"{k.module_name}:launch", dtypes=(k.outputs[0][1],), samples=samples, method=False,
              doc=f"A horizontally fused kernel generated by neurarust.compile:\n\n{k.signature}\n")
