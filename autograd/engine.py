"""The backward engine: walks the graph from the outputs to the leaves in dependency order.

No recursion (a 10,000-op chain is a loop, not a stack): the engine counts, for every node it must
run, how many edges point at it, keeps the nodes whose count reached zero in a heap (latest-created
first, as PyTorch orders them), and sums each node's incoming gradients in a buffer until it runs.
A node's gradients for its inputs are summed over broadcast dims and cast to the input's dtype here,
so backward formulas never do it. Unless ``retain_graph``, each node drops its saved tensors once it
has run.

    >>> import neurarust as nr
    >>> x = nr.tensor([3.0], requires_grad=True)
    >>> y = x * x
    >>> nr.autograd.grad(y.sum(), x)[0].tolist()
    [6.0]
"""
from __future__ import annotations

import heapq
import itertools
import threading
from typing import Callable, Sequence

from neurarust.errors import AutogradError, DeviceError, ShapeError, SignatureError
from neurarust.tensor import Tensor

from . import anomaly, grad_mode
from .graph import AccumulateGrad, Node, accumulate_into, edge_of, run_hooks
from .views import sum_to_shape


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None, create_graph: bool = False,
             inputs=None) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves (or of ``inputs``).

    ``grad_tensors`` weights each output (needed for non-scalar outputs); ``retain_graph`` keeps saved
    tensors for another backward (default: ``create_graph``); ``create_graph`` records the backward
    pass itself, for gradients of gradients.

    >>> import neurarust as nr
    >>> x = nr.tensor([1.0, 2.0], requires_grad=True)
    >>> nr.autograd.backward(x * 3, nr.tensor([1.0, 10.0]))
    >>> x.grad.tolist()
    [3.0, 30.0]
    """
    roots = _as_tuple(tensors)
    grads = _root_grads(roots, grad_tensors, create_graph)
    targets = None if inputs is None else _unique(_as_tuple(inputs))
    if targets is not None and not targets:
        raise AutogradError("backward(): 'inputs' argument to backward() cannot be empty")
    # Leaf inputs accumulate during the walk, through their AccumulateGrad (hooks included); a
    # non-leaf input's gradient is captured and becomes its .grad afterwards, as in PyTorch.
    captured = run(roots, grads, create_graph if retain_graph is None else retain_graph, create_graph, targets,
                   accumulate_targets=True)
    if targets is not None:
        for t, g in zip(targets, captured):
            if g is not None and not t.retains_grad:   # retain_grad() already stored it in the walk
                accumulate_into(t, g, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused: bool | None = None, materialize_grads: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, returned (the inputs' ``.grad`` is not
    touched; non-leaves that ``retain_grad()`` on the way get theirs, as in PyTorch). An input listed
    twice gets its gradient at both positions. ``only_inputs`` is PyTorch's deprecated keyword,
    accepted and ignored.

    >>> import neurarust as nr
    >>> x = nr.tensor([2.0], requires_grad=True)
    >>> (g,) = nr.autograd.grad((x ** 3).sum(), x, create_graph=True)
    >>> g.tolist(), nr.autograd.grad(g.sum(), x)[0].tolist()      # 3x^2 and 6x
    ([12.0], [12.0])
    """
    roots = _as_tuple(outputs)
    targets = _as_tuple(inputs)
    grads = _root_grads(roots, grad_outputs, create_graph)
    captured = run(roots, grads, create_graph if retain_graph is None else retain_graph, create_graph, targets)
    result = []
    for i, (t, g) in enumerate(zip(targets, captured)):
        if g is None:
            if materialize_grads:
                from neurarust.creation import zeros_like

                g = zeros_like(t)
            elif not (allow_unused or materialize_grads):
                raise AutogradError(f"One of the differentiated Tensors (input {i}, shape {list(t.shape)}) appears "
                                    f"to not have been used in the graph. Set allow_unused=True if this is the "
                                    f"desired behavior.")
        result.append(g)
    return tuple(result)


def _as_tuple(x) -> tuple:
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _unique(tensors: tuple) -> tuple:
    """``tensors`` without repeats (by identity): backward(inputs=[x, x]) accumulates into x once."""
    seen: set = set()
    return tuple(t for t in tensors if not (id(t) in seen or seen.add(id(t))))


def _root_grads(roots: tuple, grads, create_graph: bool) -> list:
    grads = [None] * len(roots) if grads is None else list(_as_tuple(grads) if not isinstance(grads, (list, tuple)) else grads)
    if len(grads) != len(roots):
        raise ShapeError(f"got {len(grads)} gradients for {len(roots)} outputs")
    out = []
    for i, (t, g) in enumerate(zip(roots, grads)):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise AutogradError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        g = _root_grad(i, t, g)
        out.append(g if create_graph else g.detach())
    return out


def _root_grad(i: int, t: Tensor, g) -> Tensor:
    """The gradient of output ``i`` in ``t``'s shape, dtype and device: given (cast to ``t``'s dtype,
    as PyTorch's validate_outputs does, so formulas and ``.grad`` see the output's dtype), a number,
    or ones for a scalar output."""
    if g is None:
        if t.numel() != 1:
            raise AutogradError(f"grad can be implicitly created only for scalar outputs (output {i} has "
                                f"shape {list(t.shape)}); pass a gradient")
        from neurarust.creation import ones_like

        return ones_like(t)
    if isinstance(g, (bool, int, float)):
        from neurarust.creation import full_like

        return full_like(t, g)
    if not isinstance(g, Tensor):
        raise SignatureError(f"gradients can be either Tensors or None, but got {type(g).__name__} "
                             f"(grad_output[{i}])")
    if g._shape != t._shape:
        raise ShapeError(f"Mismatch in shape: grad_output[{i}] has a shape of {list(g.shape)} and output[{i}] "
                         f"has a shape of {list(t.shape)}")
    if g.device != t.device:
        if g.ndim:
            raise DeviceError(f"invalid gradient at index {i} - expected device {t.device} but got {g.device}")
        g = g.to(t.device)
    return g if g._dtype is t._dtype else g.to(t._dtype)


# ----------------------------------------------------------------------------------------------
# The walk
# ----------------------------------------------------------------------------------------------

def run(roots: Sequence[Tensor], root_grads: list, retain_graph: bool, create_graph: bool,
        targets: Sequence[Tensor] | None = None, accumulate_targets: bool = False) -> list:
    """Run backward from ``roots``. Without ``targets`` gradients accumulate into leaves; with them,
    only what leads to a target runs and the targets' gradients are returned, except those of leaf
    targets when ``accumulate_targets`` (``backward(inputs=...)``): they accumulate into ``.grad``."""
    buffers: dict[Node, list] = {}
    owned = Ownership()
    for t, g in zip(roots, root_grads):
        node, nr = edge_of(t)
        owned.disown(g)                          # the caller's tensor
        _add(buffers, node, nr, g, owned)
    capture = _capture_slots(targets)
    needed, runs = _needed(list(buffers), capture)
    deps = _dependencies(needed)
    captured = [None] * (len(targets) if targets is not None else 0)
    order = itertools.count()
    ready = [(-n.sequence_nr, next(order), n) for n in buffers if n in needed and deps.get(n, 0) == 0]
    heapq.heapify(ready)
    _callbacks.stack.append([])
    try:
        with grad_mode.set_grad_enabled(create_graph):
            _walk(ready, buffers, needed, deps, order, capture, captured, targets is None or accumulate_targets,
                  retain_graph, create_graph, runs, owned)
        _run_callbacks(_callbacks.stack[-1])
    finally:
        _callbacks.stack.pop()
    return captured


def _walk(ready: list, buffers: dict, needed: set, deps: dict, order, capture: dict, captured: list,
          accumulate: bool, retain_graph: bool, create_graph: bool, runs: set, owned: "Ownership") -> None:
    """Pop ready nodes (latest-created first), run them and pass their gradients on."""
    while ready:
        node = heapq.heappop(ready)[2]
        in_grads = _run_node(node, buffers.pop(node, None) or [None] * node.n_outputs, capture, captured,
                             accumulate, retain_graph, create_graph, node in runs, owned)
        for edge, g, meta in zip(node.next_edges, in_grads, node.input_meta):
            if edge is None or edge[0] not in needed:
                continue
            if g is not None:
                if not node.owns_results:
                    owned.disown(g)
                _add(buffers, edge[0], edge[1], _conform(g, meta, node), owned)
            deps[edge[0]] -= 1
            if deps[edge[0]] == 0:
                heapq.heappush(ready, (-edge[0].sequence_nr, next(order), edge[0]))


class _CallbackStack(threading.local):
    def __init__(self) -> None:
        self.stack: list[list[Callable[[], None]]] = []


_callbacks = _CallbackStack()


def queue_callback(fn: Callable[[], None]) -> None:
    """Run ``fn()`` once the backward pass now running on this thread has finished (from a hook).

    Callbacks run in the order queued, after every gradient has been accumulated, and may queue
    more; a backward that raises runs none. DistributedDataParallel uses it to wait for its
    gradient all-reduces at the end of backward (PyTorch's ``Variable._execution_engine.queue_callback``).

    >>> import neurarust as nr
    >>> from neurarust.autograd.engine import queue_callback
    >>> w = nr.ones(2, requires_grad=True)
    >>> _ = w.register_post_accumulate_grad_hook(lambda t: queue_callback(lambda: print("done", t.grad.tolist())))
    >>> (w * 3).sum().backward()
    done [3.0, 3.0]
    """
    if not _callbacks.stack:
        raise AutogradError("queue_callback() can only be called while a backward pass runs (from a hook)")
    _callbacks.stack[-1].append(fn)


def _run_callbacks(queue: list) -> None:
    i = 0
    while i < len(queue):   # a callback may queue another
        queue[i]()
        i += 1


def _run_node(node: Node, grads: list, capture: dict, captured: list, accumulate: bool, retain_graph: bool,
              create_graph: bool, runs: bool, owned: "Ownership") -> Sequence:
    for nr, hooks in node.pre_hooks.items():
        if grads[nr] is not None and hooks:
            owned.take(grads[nr])
            owned.disown(grads[nr])              # a hook may keep what it sees, or what it returns
            grads[nr] = run_hooks(hooks, grads[nr])
            owned.disown(grads[nr])
            owned.place(grads[nr])
    exclusive = isinstance(node, AccumulateGrad) and grads[0] is not None and owned.exclusive(grads[0])
    for g in grads:                              # the node consumes its buffer
        if g is not None:
            owned.take(g)
    for nr, ref in node.retained.items():       # retain_grad(): in autograd.grad too, as in PyTorch
        t = ref()
        if t is not None and grads[nr] is not None:
            accumulate_into(t, grads[nr], create_graph)
    if isinstance(node, AccumulateGrad):
        if grads[0] is not None:
            if accumulate:   # every leaf (backward()), or a leaf target (backward(inputs=...))
                if not capture or (node, 0) in capture:
                    node.accumulate(grads[0], create_graph, exclusive)
            elif (node, 0) in capture:
                leaf = node.variable()
                g = run_hooks(leaf._autograd.hooks, grads[0]) if leaf is not None else grads[0]
                for slot in capture[(node, 0)]:
                    captured[slot] = g
        return ()
    for nr in range(node.n_outputs):
        slots = capture.get((node, nr))
        if slots is not None:
            for slot in slots:
                captured[slot] = grads[nr]
    if not runs or all(g is None for g in grads):
        return [None] * len(node.next_edges)
    in_grads = node.apply(grads)
    if len(in_grads) != len(node.next_edges):
        raise AutogradError(f"function {node.name()} returned an incorrect number of gradients "
                            f"(expected {len(node.next_edges)}, got {len(in_grads)})")
    if anomaly.checks_gradients():
        anomaly.check_gradients(node, in_grads)
    if not retain_graph:
        node.release()
    return in_grads


def _add(buffers: dict, node: Node, nr: int, g: Tensor, owned: "Ownership") -> None:
    slots = buffers.get(node)
    if slots is None:
        slots = buffers[node] = [None] * node.n_outputs
    if slots[nr] is not None:
        owned.take(slots[nr])
        g = slots[nr] + g
    slots[nr] = g
    owned.place(g)


class Ownership:
    """Which gradients backward may make a leaf's ``.grad`` without copying them (as PyTorch's
    AccumulateGrad takes an unshared gradient): a storage counts the pending buffer slots that hold
    a view of it, and is handed over only when one slot does and nothing outside the walk may hold
    it (foreign: the caller's gradients, what a hook saw or returned, a custom Function's results).
    A formula's gradient is fresh, or a view of its incoming gradient, whose slot it consumed."""

    __slots__ = ("placed", "foreign")

    def __init__(self) -> None:
        self.placed: dict[int, int] = {}
        self.foreign: set[int] = set()

    def place(self, g: Tensor) -> None:
        k = id(g._storage)
        self.placed[k] = self.placed.get(k, 0) + 1

    def take(self, g: Tensor) -> None:
        k = id(g._storage)
        left = self.placed.get(k, 0) - 1
        if left > 0:
            self.placed[k] = left
        else:
            self.placed.pop(k, None)

    def disown(self, g: Tensor) -> None:
        self.foreign.add(id(g._storage))

    def exclusive(self, g: Tensor) -> bool:
        k = id(g._storage)
        return self.placed.get(k, 0) == 1 and k not in self.foreign


def _conform(g: Tensor, meta, node: Node) -> Tensor:
    """The gradient in its input's shape (summed over broadcast dims), dtype and device."""
    shape, dtype, device = meta
    if not isinstance(g, Tensor):
        raise AutogradError(f"function {node.name()} returned a {type(g).__name__} as a gradient, not a Tensor")
    if g._shape != shape:
        reduced = sum_to_shape(g, shape) if len(g._shape) >= len(shape) else g
        if reduced.shape != shape:
            raise AutogradError(f"function {node.name()} returned an invalid gradient - got shape "
                                f"{list(g._shape)} but expected shape compatible with {list(shape)}")
        g = reduced
    if g._dtype is not dtype:
        g = g.to(dtype)
    if g.device != device:
        g = g.to(device)
    return g


def _capture_slots(targets) -> dict:
    if targets is None:
        return {}
    slots: dict = {}
    for i, t in enumerate(targets):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise AutogradError(f"One of the differentiated Tensors (input {i}) does not require grad")
        edge = edge_of(t)
        slots[edge] = slots.get(edge, ()) + (i,)   # a tensor listed twice gets its gradient twice
    return slots


def _needed(seeds: list, capture: dict) -> tuple[set, set]:
    """(the nodes backward visits, those it runs): all reachable ones, or with targets only those
    leading to one."""
    reachable, parents, stack = set(seeds), {}, list(seeds)
    while stack:
        node = stack.pop()
        for edge in node.next_edges:
            if edge is None:
                continue
            parents.setdefault(edge[0], []).append(node)
            if edge[0] not in reachable:
                reachable.add(edge[0])
                stack.append(edge[0])
    if not capture:
        return reachable, reachable
    # Strict ancestors of the targets' nodes run; a target's own node only has its gradient read
    # (it runs only if it also leads to another target), as in PyTorch.
    targets = {node for node, _ in capture if node in reachable}
    ancestors: set = set()
    stack = list(targets)
    while stack:
        for parent in parents.get(stack.pop(), ()):
            if parent not in ancestors:
                ancestors.add(parent)
                stack.append(parent)
    return ancestors | targets, ancestors


def _dependencies(needed: set) -> dict:
    deps = dict.fromkeys(needed, 0)
    for node in needed:
        for edge in node.next_edges:
            if edge is not None and edge[0] in needed:
                deps[edge[0]] += 1
    return deps
