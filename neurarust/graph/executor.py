"""The executor: a Graph turned into a flat list of steps that run with no per-op dispatch.

Each step calls one op's front end directly (no autograd recording, no argument binding, no
registry lookup) or one fused kernel, with its arguments gathered from a slot array by precomputed
positions; views are rebuilt from their root's storage. The same program runs on the CPU (NumPy
references, fused NumPy functions) and on CUDA (Triton kernels).

    >>> import neurarust as nr
    >>> from neurarust.graph import capture, Program
    >>> g = capture(lambda x: x * 2 + 1, nr.ones(2)).graph
    >>> Program(g).run([nr.tensor([1.0, 5.0])])[0].tolist()
    [3.0, 11.0]
"""
from __future__ import annotations

from typing import Callable, Sequence

from neurarust.autograd import grad_mode
from neurarust.tensor import Tensor

from .ir import Graph, Leaf, Node, Value, flatten, iter_values


class Program:
    """A runnable graph: ``run(inputs) -> outputs`` (flat lists of tensors).

    ``keep`` names Values (by id) the run should also return, in order, after the outputs: the
    forward pass of a training graph returns what its backward reads.
    """

    def __init__(self, graph: Graph, keep: Sequence[Value] = ()) -> None:
        self.graph = graph
        size = 1 + max((v.id for v in graph.values()), default=0)
        size = max([size, *(v.id + 1 for v in keep)])
        self.size = size
        self.input_slots = [v.id for v in graph.inputs]
        self.fixed = [(v.id, v.tensor) for v in graph.values() if v.kind in ("external", "constant")]
        self.output_slots = [None if v is None else v.id for v in graph.outputs]
        self.keep_slots = [v.id for v in keep]
        self.steps = _with_frees([_step(n) for n in graph.nodes], graph.nodes,
                                 set(self.output_slots) | set(self.keep_slots))

    def run(self, inputs: Sequence[Tensor], preset: dict[int, Tensor] | None = None) -> list:
        env: list = [None] * self.size
        for slot, t in self.fixed:
            env[slot] = t
        for slot, t in zip(self.input_slots, inputs):
            env[slot] = t
        if preset:
            for slot, t in preset.items():
                env[slot] = t
        state = grad_mode._state
        enabled, state.enabled = state.enabled, False
        try:
            for step in self.steps:
                step(env)
        finally:
            state.enabled = enabled
        outs = [None if s is None else env[s] for s in self.output_slots]
        return outs + [env[s] for s in self.keep_slots]


def _with_frees(steps: list, nodes: list, pinned: set) -> list:
    """Each step followed by dropping the slots it read for the last time: intermediates die as soon
    as eagerly run code would drop them (peak memory, and allocations the allocator can reuse)."""
    last: dict[int, int] = {}
    for i, n in enumerate(nodes):
        for v in iter_values((n.args, n.kwargs)):
            last[v.id] = i
        for old, _ in n.effects:
            last[old.id] = i
    dying: dict[int, list] = {}
    for slot, i in last.items():
        if slot not in pinned:
            dying.setdefault(i, []).append(slot)
    out = []
    for i, step in enumerate(steps):
        slots = dying.get(i)
        if not slots:
            out.append(step)
            continue

        def freeing(env, step=step, slots=tuple(slots)):
            step(env)
            for slot in slots:
                env[slot] = None

        out.append(freeing)
    return out


def _step(node: Node) -> Callable[[list], None]:
    if node.fused is not None:
        return _fused_step(node)
    if node.op is None:
        return _view_step(node)
    return _op_step(node)


def _gather(template) -> Callable[[list], object]:
    """A function ``env -> template with Values replaced`` (flat tuples: a list comprehension)."""
    if isinstance(template, Value):
        slot = template.id
        return lambda env: env[slot]
    if isinstance(template, (list, tuple)) and not any(isinstance(x, (list, tuple, dict)) for x in template):
        parts = [(True, x.id) if isinstance(x, Value) else (False, x) for x in template]
        kind = type(template)
        if not any(is_v for is_v, _ in parts):
            return lambda env: template
        return lambda env: kind(env[x] if is_v else x for is_v, x in parts)
    if isinstance(template, (list, tuple)):
        gathers = [_gather(x) for x in template]
        kind = type(template)
        return lambda env: kind(g(env) for g in gathers)
    if isinstance(template, dict):
        gathers = {k: _gather(x) for k, x in template.items()}
        return lambda env: {k: g(env) for k, g in gathers.items()}
    return lambda env: template


def _op_step(node: Node) -> Callable[[list], None]:
    op, frontend = node.op, node.op.frontend
    args, kwargs = _gather(node.args), _gather(node.kwargs)
    has_kwargs = bool(node.kwargs)
    outs = [None if v is None else v.id for v in node.outputs]
    effects = [(old.id, new.id) for old, new in node.effects]
    single = isinstance(node.out_spec, Leaf) and outs[0] is not None

    def step(env):
        result = frontend(op, *args(env), **kwargs(env)) if has_kwargs else frontend(op, *args(env))
        if single:
            env[outs[0]] = result
        else:
            for slot, t in zip(outs, flatten(result)[0]):
                if slot is not None:
                    env[slot] = t
        for old, new in effects:
            env[new] = env[old]

    return step


def _view_step(node: Node) -> Callable[[list], None]:
    shape, strides, offset, dtype = node.view
    src, out = node.args[0].id, node.outputs[0].id

    def step(env):
        root = env[src]
        t = Tensor(root._storage, shape, strides, root._offset + offset, dtype)
        t._base = root if root._base is None else root._base
        env[out] = t

    return step


def _fused_step(node: Node) -> Callable[[list], None]:
    kernel = node.fused
    ins = [v.id for v in iter_values(node.args)]
    out = node.outputs[0].id
    # A generated kernel writes its results contiguous; eager laid some out as an input was (an
    # elementwise op of a transposed tensor), and the views after them were captured over that layout.
    layouts = [tuple(v.strides) for v in node.outputs]
    if getattr(kernel, "multi", False):     # a horizontal group: one output per member
        outs = [v.id for v in node.outputs]

        def group_step(env):
            for slot, t, layout in zip(outs, kernel([env[i] for i in ins]), layouts):
                env[slot] = t if t._strides == layout else t._in_layout(layout)

        return group_step

    layout = layouts[0]

    def step(env):
        t = kernel([env[i] for i in ins])
        env[out] = t if t._strides == layout else t._in_layout(layout)

    return step
