"""Scalar scales: ``x / c`` or ``x * c`` (``c`` a Python number) as a *scaled copy* of ``x``.

A mean's backward divides its broadcast gradient by the count it averaged: one elementwise launch
whose readers, in a training step, are the products and column sums that make the gradients of the
layer before. Products and sums are linear, so the scale can go where it costs nothing:

* :func:`move_scales_into_products`: ``matmul(x * c, w)`` becomes ``matmul(x, w) * c``, and the
  elementwise pass then puts the scale in the product's epilogue;
* the horizontal pass (:mod:`neurarust.graph.horizontal`) reads a column sum's or a grouped
  product's operand through a scaled copy and multiplies its result by the scale
  (:func:`scaled_copy` tells it what a node scales).

When no reader is left, the scaling node goes with the dead code.

    >>> import neurarust as nr
    >>> from neurarust.graph import capture, passes
    >>> from neurarust.graph.scales import move_scales_into_products
    >>> g = capture(lambda x, w: (x / 4) @ w, nr.ones(2, 3), nr.ones(3, 2)).graph
    >>> move_scales_into_products(g, []), [n.name for n in g.nodes]
    (1, ['div', 'matmul', 'div'])
    >>> passes.eliminate_dead_code(g), [n.name for n in g.nodes]
    (1, ['matmul', 'div'])
"""
from __future__ import annotations

from numbers import Real

from neurarust.shape import contiguous_strides

from .copies import layout, rewrite_context
from .ir import Graph, Node, Value

# Half precision keeps its scaled copies: ``x * c`` may overflow where a sum or product of ``x``
# scaled afterwards would not, and eager's inf must stay inf.
SCALABLE_DTYPES = ("float32", "float64")


def scaled_copy(n: Node) -> tuple[Value, float] | None:
    """``(x, s)`` when ``n`` computes ``x * s`` elementwise in ``x``'s own dtype (``x / c``: ``s =
    1 / c``), a finite nonzero scale; else None."""
    if n.op is None or n.fused is not None or n.effects or n.kwargs or len(n.args) != 2 or len(n.outputs) != 1:
        return None
    if n.op.name == "div":
        x, c = n.args
        scale = 1 / float(c) if _number(c) else None
    elif n.op.name == "mul":
        x, c = n.args if isinstance(n.args[0], Value) else n.args[::-1]
        scale = float(c) if _number(c) else None
    else:
        return None
    out = n.outputs[0]
    if scale is None or not isinstance(x, Value) or out is None or out.dtype is not x.dtype \
            or x.dtype.name not in SCALABLE_DTYPES or tuple(out.shape) != tuple(x.shape):
        return None
    return x, scale


def _number(c) -> bool:
    """A Python or NumPy number whose reciprocal is as ordinary as itself (no overflow, no subnormal)."""
    return isinstance(c, Real) and not isinstance(c, bool) and 1e-30 <= abs(float(c)) <= 1e30


def move_scales_into_products(graph: Graph, keep: list) -> int:
    """``matmul(scaled, w)`` (or ``matmul(w, scaled)``) becomes ``matmul(x, w)`` times the scale, as
    an elementwise node after the product; returns the number of products moved."""
    _, written, _, inside = rewrite_context(graph, keep)
    changed = 0
    for m in list(graph.nodes):
        found = _scaled_operand(m, written, inside)
        if found is None:
            continue
        k, x, scaler = found
        out = m.outputs[0]
        raw = graph.new_value(None, "node", shape=out.shape, dtype=out.dtype, device=out.device,
                              strides=contiguous_strides(out.shape))
        args = list(m.args)
        args[k] = x
        product = Node(m.op, tuple(args), {}, [raw], out_spec=m.out_spec)
        raw.producer = product
        times = Node(scaler.op, tuple(raw if a is x else a for a in scaler.args), {}, [out], out_spec=scaler.out_spec)
        out.producer, out.strides = times, contiguous_strides(out.shape)
        at = graph.nodes.index(m)
        graph.nodes[at:at + 1] = [product, times]
        changed += 1
    return changed


def _scaled_operand(m: Node, written: set, inside: set):
    """``(operand index, x, scaling node)`` of a plain matmul reading a scaled copy."""
    if m.op is None or m.op.name != "matmul" or m.fused is not None or m.kwargs or m.effects or len(m.args) != 2:
        return None
    out = m.outputs[0]
    if out is None or tuple(out.strides) != contiguous_strides(out.shape):
        return None
    for k, v in enumerate(m.args):
        p = v.producer if isinstance(v, Value) else None
        found = None if p is None or id(p) not in inside else scaled_copy(p)
        if found is None or found[0].dtype is not out.dtype:
            continue
        x = found[0]    # read later than the scaling read it: nothing may write its memory
        if not {x.id, v.id, layout(x, inside)[0].id} & written:
            return k, x, p
    return None
