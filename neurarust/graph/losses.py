"""Loss merging: a training step's ``cross_entropy`` over class indices and the
``cross_entropy_backward`` of its loss become one ``cross_entropy_and_backward`` node.

The backward a captured step records rebuilds the log-sum-exp from the logits (a replay hands no
state from forward to backward), so it already makes the pass over each row that the forward makes;
the merged kernel writes the loss beside the gradient from that pass. One launch instead of two (on
the Triton backend; three instead of four when the rows take several programs). On the reference
backend the backward reads a ``logsumexp`` node of its own instead, which goes too. The merged node
goes where the backward was, or where the forward was when the loss has a reader in between (a
``'none'`` loss summed) and the backward's row gradient is a view of the seed (moved up with it).

    >>> import neurarust as nr
    >>> from neurarust.graph import capture
    >>> from neurarust.graph.losses import merge_losses
    >>> x = nr.zeros(4, 3, requires_grad=True)
    >>> def step(x, t):
    ...     loss = nr.nn.functional.cross_entropy(x, t)
    ...     loss.backward()
    ...     return loss
    >>> g = capture(step, x, nr.tensor([0, 1, 2, 1])).graph
    >>> merge_losses(g, []), [n.name for n in g.nodes if n.op is not None and "entropy" in n.name]
    (1, ['cross_entropy_and_backward'])
"""
from __future__ import annotations

from neurarust import registry
from neurarust.kernels.loss import _class_dim, legacy_reduction

from .fusion import bound_call
from .ir import Graph, Leaf, Node, Value


def merge_losses(graph: Graph, keep: list) -> int:
    """Merge each cross entropy forward with its loss's backward; returns the number merged."""
    changed = 0
    for b in list(graph.nodes):
        bound = bound_call(b, ("cross_entropy_backward",))
        if bound is None or not (bound.get("recompute_lse") or _logsumexp_of(bound, graph.users())):
            continue
        found = _forward_of(graph, b, bound)
        if found is None:
            continue
        f, reduction = found
        _merge(graph, f, b, bound, reduction)
        changed += 1
    return changed


KEYS = ("input", "target", "weight")


def _logsumexp_of(bb: dict, users: dict) -> bool:
    """The backward's ``lse`` is the logits' own log-sum-exp over classes, read by it alone (the
    reference backend's captured backward): the merged kernel rebuilds it, and it goes."""
    lse, x = bb.get("lse"), bb.get("input")
    p = lse.producer if isinstance(lse, Value) else None
    lb = None if p is None else bound_call(p, ("logsumexp",))
    if lb is None or lb.get("input") is not x or lb.get("keepdim") or len(users.get(lse.id, ())) != 1:
        return False
    dim = lb.get("dim")
    dim = dim[0] if isinstance(dim, (list, tuple)) and len(dim) == 1 else dim
    return isinstance(dim, int) and dim % len(x.shape) == _class_dim(x)


def _forward_of(graph: Graph, b: Node, bb: dict):
    """``(forward node, reduction)``: the cross entropy over the same logits, targets, weights and
    settings as the backward ``b``, whose loss nothing reads before ``b``; else None."""
    position = {id(n): i for i, n in enumerate(graph.nodes)}
    users = graph.users()
    for f in graph.nodes[:position[id(b)]]:
        fb = bound_call(f, ("cross_entropy",))
        if fb is None or len(f.outputs) != 1 or f.outputs[0] is None:
            continue
        if any(fb.get(k) is not bb.get(k) for k in KEYS) or not isinstance(fb["target"], Value) \
                or fb["target"].dtype.is_floating_point or bb.get("grad_output") is f.outputs[0]:
            continue                          # (a backward seeded with the loss itself needs it first)
        reduction = legacy_reduction(fb.get("size_average"), fb.get("reduce"), fb.get("reduction", "mean"))
        same = (fb.get("ignore_index", -100) == bb.get("ignore_index", -100)
                and float(fb.get("label_smoothing", 0.0)) == float(bb.get("label_smoothing", 0.0))
                and bool(bb.get("normalize")) == (reduction == "mean"))
        early = any(position[id(u)] < position[id(b)] for u in users.get(f.outputs[0].id, ()))
        if same and (not early or _views_of_a_root(bb["grad_output"]) is not None):
            return f, reduction
    return None


def _views_of_a_root(v) -> list | None:
    """The view nodes (innermost last) between ``v`` and a Value no node makes (an input, a constant:
    the loss's seed, ones, expanded to the rows); None when a real op makes it."""
    chain = []
    while isinstance(v, Value) and v.producer is not None:
        if v.producer.op is not None or v.producer.fused is not None:
            return None
        chain.append(v.producer)
        v = v.producer.args[0]
    return chain[::-1]


def _merge(graph: Graph, f: Node, b: Node, bb: dict, reduction: str) -> None:
    """One ``cross_entropy_and_backward`` node, at the backward's place, making both results."""
    op = registry.get("cross_entropy_and_backward")
    args = (bb["grad_output"], bb["input"], bb["target"])
    kwargs = {"weight": bb.get("weight"), "ignore_index": bb.get("ignore_index", -100),
              "label_smoothing": float(bb.get("label_smoothing", 0.0)), "reduction": reduction}
    loss, grad = f.outputs[0], b.outputs[0]
    node = Node(op, args, kwargs, [loss, grad], out_spec=(Leaf(0), Leaf(1)))
    loss.producer = grad.producer = node
    users, at = graph.users(), graph.nodes.index(b)
    if any(graph.nodes.index(u) < at for u in users.get(loss.id, ())):   # the loss is read before: merge
        views = _views_of_a_root(bb["grad_output"])                    # at the forward, its seed moved up
        graph.nodes[:] = [n for n in graph.nodes if not any(n is w for w in views)]
        at = graph.nodes.index(f)
        graph.nodes[at:at] = views
        graph.nodes[graph.nodes.index(f)] = node
        graph.nodes.remove(b)
        return
    graph.nodes[at] = node
    graph.nodes.remove(f)
