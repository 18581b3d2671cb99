"""Capture: run a function once on real tensors and record every registry op it calls into a Graph.

Every op reaches the registry's hook (``registry._grad_hook``); while a capture runs, a tracer sits
in front of autograd's hook and records each call made from user code (calls an op's front end makes
inside itself are part of that op and are not recorded). Tensors are matched to Values by identity;
a tensor the tracer has not seen is a view of a recorded storage (a ``view`` node) or a tensor that
existed before the call (an ``external``: parameters, buffers). Writes are found by storage version
counters, so in-place ops and optimizer kernels are recorded with their effects.

Reading a tensor's values in Python (``if x.sum() > 0``, ``.item()``, ``.tolist()``, ``.numpy()``)
cannot be recorded: it raises :class:`GraphBreak` naming the line, and the caller runs eagerly.

    >>> import neurarust as nr
    >>> from neurarust.graph import capture
    >>> c = capture(lambda x: x.t() @ x, nr.ones(2, 3))
    >>> [n.name for n in c.graph.nodes], c.result.shape
    (['view', 'matmul'], neurarust.Size([3, 3]))
"""
from __future__ import annotations

import linecache
import os
import sys
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Callable

from neurarust import registry
from neurarust.autograd.graph import requires_grad
from neurarust.errors import NeuraRustError
from neurarust.storage import Storage
from neurarust.tensor import Tensor

from .ir import Graph, Node, Value, flatten

_HERE = os.path.dirname(os.path.abspath(__file__))
_TENSOR_FILE = os.path.abspath(sys.modules[Tensor.__module__].__file__)
_lock = threading.RLock()
_active: "Tracer | None" = None


class GraphBreak(NeuraRustError, RuntimeError):
    """Python read a tensor's values during capture: the graph cannot hold that decision."""

    def __init__(self, reason: str, location: str) -> None:
        super().__init__(f"{reason} at {location}")
        self.reason, self.location = reason, location


def capturing() -> bool:
    """True while a capture runs in this process (compiled functions then run inline)."""
    return _active is not None


def recorded_count() -> int:
    """How many nodes the running capture has recorded so far (0 when none runs): tools mark where
    in the graph a module's forward starts and ends with it (ONNX export names modules in errors).

    >>> import neurarust as nr
    >>> from neurarust.graph.capture import capture, recorded_count
    >>> def f(x):
    ...     y = x.exp()
    ...     print(recorded_count())
    ...     return y
    >>> _ = capture(f, nr.ones(1))
    1
    """
    tracer = _active
    return len(tracer.nodes) if tracer is not None else 0


@dataclass
class Captured:
    """What :func:`capture` returns: the graph and the eager result of the run it recorded."""

    graph: Graph
    result: Any
    tracer: "Tracer"


class Tracer:
    """Maps tensors to Values and records op calls into ``graph`` (switchable: see ``into``)."""

    def __init__(self, graph: Graph, names: dict[int, str] | None = None) -> None:
        self.graph = graph
        self.nodes = graph.nodes
        self.names = names or {}
        self.depth = 0
        self.keep: list = []                      # every tensor seen (ids stay unique while we run)
        self.by_tensor: dict[int, tuple[Value, Value]] = {}   # id(tensor) -> (value, root version it derives from)
        self.by_storage: dict[int, list] = {}     # id(storage) -> [root Value (latest version), root layout tensor]
        self.internal = weakref.WeakSet()         # storages made inside a recorded op (its temporaries)
        self.born = weakref.WeakSet()             # every storage made during the capture

    # -- values -------------------------------------------------------------------------------
    def add_input(self, t: Tensor) -> Value:
        v = self.graph.new_value(t, "input")
        self.graph.inputs.append(v)
        self._bind_root(t, v)
        return v

    def _bind_root(self, t: Tensor, v: Value) -> None:
        v.version = t._storage.version          # writes not recorded after this are caught (compiler)
        self.keep.append(t)
        self.by_storage[id(t._storage)] = [v, t]
        self.by_tensor[id(t)] = (v, v)

    def value_of(self, t: Tensor) -> Value:
        """The Value standing for ``t`` now (recording a view node or an external when it is new)."""
        root = self.by_storage.get(id(t._storage))
        hit = self.by_tensor.get(id(t))
        if hit is not None and (root is None or hit[1] is root[0]):
            return hit[0]
        if root is None and t._base is not None:     # a view of a parameter: record the parameter
            self.value_of(t._base)
            root = self.by_storage.get(id(t._storage))
        if root is None:
            if t._storage in self.internal:
                raise GraphBreak("a later op reads a tensor that an op made inside itself (state it keeps for its "
                                 "backward): a replay would read the captured value", _user_location())
            # made during the call from Python data (nr.zeros(3): empty, then a recorded fill_): a constant
            kind = "constant" if t._storage in self.born and not requires_grad(t) else "external"
            v = self.graph.new_value(t, kind, tensor=t, name=self.names.get(id(t), ""))
            self._bind_root(t, v)
            return v
        latest, layout = root
        if t is layout or _same_layout(t, layout):
            self.by_tensor[id(t)] = (latest, latest)
            self.keep.append(t)
            return latest
        out = self.graph.new_value(t, "node")
        node = Node(None, (latest,), {}, [out],
                    view=(t._shape, t._strides, t._offset - layout._offset, t._dtype))
        out.producer = node
        self.nodes.append(node)
        self.keep.append(t)
        self.by_tensor[id(t)] = (out, latest)
        return out

    def template(self, obj):
        """``obj`` (call arguments) with every tensor replaced by its Value."""
        if isinstance(obj, Tensor):
            return self.value_of(obj)
        if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
            return type(obj)(self.template(x) for x in obj)
        if isinstance(obj, dict):
            return {k: self.template(x) for k, x in obj.items()}
        return obj

    # -- recording ----------------------------------------------------------------------------
    def record(self, op, args: tuple, kwargs: dict, result, written: list[Tensor]) -> None:
        if op.kind == "optim" and isinstance(kwargs.get("step"), (int, float)):
            raise GraphBreak(f"{op.name}: the optimizer counts steps on the host, so a replay would repeat "
                             f"one step number; create it with capturable=True", _user_location())
        node = Node(op, self.template(args), self.template(kwargs), [])
        for t in written:                       # the write makes a new version of the storage
            entry = self.by_storage[id(t._storage)]
            old, layout = entry
            new = self.graph.new_value(layout, "node", producer=node)
            new.version = t._storage.version
            node.effects.append((old, new))
            entry[0] = new
            self.by_tensor[id(layout)] = (new, new)
        leaves, node.out_spec = flatten(result)
        aliases = []
        for leaf in leaves:
            if id(leaf._storage) in self.by_storage:   # the op returned (a view of) a tensor it was given
                node.outputs.append(None)
                aliases.append(leaf)
                continue
            v = self.graph.new_value(leaf, "node", producer=node)
            node.outputs.append(v)
            self._bind_root(leaf, v)
        self.nodes.append(node)
        for leaf in aliases:
            self.value_of(leaf)

    def hook(self, inner: Callable) -> Callable:
        def traced(op, args, kwargs):
            if self.depth:
                return inner(op, args, kwargs)
            tensors, _ = flatten((args, kwargs))
            versions = [t._storage.version for t in tensors]
            self.depth += 1
            try:
                result = inner(op, args, kwargs)
            finally:
                self.depth -= 1
            written, seen = [], set()
            for t, before in zip(tensors, versions):
                if t._storage.version != before and id(t._storage) not in seen:
                    seen.add(id(t._storage))
                    self.value_of(t)            # a tensor first seen here is read before it is written
                    written.append(t)
            self.record(op, args, kwargs, result, written)
            return result

        return traced


def _same_layout(a: Tensor, b: Tensor) -> bool:
    return a._shape == b._shape and a._strides == b._strides and a._offset == b._offset and a._dtype is b._dtype


# -- reading values in Python breaks the graph ----------------------------------------------------

_VALUE_READS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__", "__array__")


def _framework_dirs() -> tuple[str, ...]:
    """The folders NeuraRust's own code lives in (the core and its mapped subpackages)."""
    names = ("neurarust", "neurarust.kernels", "neurarust.autograd", "neurarust.nn", "neurarust.optim",
             "neurarust.data")
    return tuple(os.path.dirname(os.path.abspath(sys.modules[n].__file__)) + os.sep
                 for n in names if n in sys.modules)


def _user_location() -> str:
    """``file:line: source`` of the innermost frame outside NeuraRust (else outside the tracer)."""
    frames, frame = [], sys._getframe(2)
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    own = _framework_dirs()
    path = lambda f: os.path.abspath(f.f_code.co_filename)  # noqa: E731
    user = [f for f in frames if not path(f).startswith(own)]
    inside = [f for f in frames if not path(f).startswith(_HERE) and path(f) != _TENSOR_FILE]
    for frame in (user or inside)[:1]:
        source = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
        return f"{frame.f_code.co_filename}:{frame.f_lineno}: {source}"
    return "<unknown>"


def _guarded(name: str, method: Callable) -> Callable:
    def read(self, *args, **kwargs):
        tracer = _active
        if tracer is not None and tracer.depth == 0 and threading.get_ident() == _owner:
            raise GraphBreak(f"Tensor.{name}() reads a tensor's values in Python", _user_location())
        return method(self, *args, **kwargs)

    read.__name__ = name
    read.__doc__ = method.__doc__
    return read


_owner: int | None = None


def _patch_allocation(tracer: Tracer) -> Callable:
    """Note each storage made while a recorded op runs (``tracer.internal``); returns what to restore."""
    init = Storage.__init__

    def noted(self, *args, **kwargs):
        init(self, *args, **kwargs)
        if threading.get_ident() == _owner:
            tracer.born.add(self)
            if tracer.depth:
                tracer.internal.add(self)

    Storage.__init__ = noted
    return init


def _patch_value_reads() -> dict:
    saved = {name: Tensor.__dict__[name] for name in _VALUE_READS}
    for name, method in saved.items():
        setattr(Tensor, name, _guarded(name, method))
    return saved


# -- the capture itself ---------------------------------------------------------------------------

def capture(fn: Callable, *args, names: dict[int, str] | None = None, **kwargs) -> Captured:
    """Run ``fn(*args, **kwargs)`` once, recording its ops; raises :class:`GraphBreak` when Python
    reads tensor values. ``names`` maps ``id(tensor)`` to a label for externals (module paths).

    >>> import neurarust as nr
    >>> from neurarust.graph import capture
    >>> g = capture(lambda a, b: (a + b).relu(), nr.ones(2), nr.zeros(2)).graph
    >>> [v.kind for v in g.inputs], [n.name for n in g.nodes]
    (['input', 'input'], ['add', 'relu'])
    """
    tracer = Tracer(Graph(), names)
    leaves, _ = flatten((args, kwargs))
    for t in leaves:
        tracer.add_input(t)
    result = run_traced(tracer, fn, *args, **kwargs)
    finish(tracer, result)
    return Captured(tracer.graph, result, tracer)


def finish(tracer: Tracer, result) -> None:
    """Make ``result``'s tensors the graph's outputs."""
    leaves, spec = flatten(result)
    tracer.graph.outputs = [tracer.value_of(t) for t in leaves]
    tracer.graph.out_spec = spec


def run_traced(tracer: Tracer, fn: Callable, *args, **kwargs):
    """Call ``fn`` with ``tracer`` recording (one capture at a time per process)."""
    global _active, _owner
    registry.load()
    import neurarust.autograd  # noqa: F401  (installs the hook the tracer wraps)

    with _lock:
        if _active is not None:
            raise NeuraRustError("a capture is already running in this process")
        restore = _install(tracer)
        saved = _patch_value_reads()
        init = _patch_allocation(tracer)
        _active, _owner = tracer, threading.get_ident()
        registry.set_capturing(True)
        try:
            return fn(*args, **kwargs)
        finally:
            _active, _owner = None, None
            registry.set_capturing(False)
            Storage.__init__ = init
            for name, method in saved.items():
                setattr(Tensor, name, method)
            restore()


def _install(tracer: Tracer) -> Callable[[], None]:
    """Put the tracer in front of autograd's hook; returns what takes it out again. Where an autocast
    region is already open around the capture, its hook stays in front of the tracer's, so that the
    tracer records the casts it makes and the calls with the cast arguments (a region opened during
    the capture goes in front by itself)."""
    amp = sys.modules.get("neurarust.amp.autocast_mode")
    if amp is not None and registry._grad_hook is amp._hook:
        below = amp._previous
        amp._previous = tracer.hook(below)

        def restore() -> None:
            if registry._grad_hook is amp._previous:   # the region closed meanwhile (another thread)
                registry.set_grad_hook(below)
            amp._previous = below
        return restore
    inner = registry._grad_hook
    registry.set_grad_hook(tracer.hook(inner))
    return lambda: registry.set_grad_hook(inner)
