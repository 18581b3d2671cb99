"""The graph: what ops record as they run, and what backward walks.

A tensor that requires grad carries an :class:`AutogradMeta` (``tensor._autograd``): its ``.grad``,
the :class:`Node` that made it (``grad_fn``; None for a leaf) and which output of that node it is.
Every recorded call makes one Node holding

* ``next_edges``: per differentiable input, the ``(node, output_nr)`` its gradient goes to (a leaf's
  :class:`AccumulateGrad`), or None where the input does not require grad;
* the values the backward formula asked for by name (inputs, parameters, ``result``), tensors wrapped
  in :class:`SavedTensor` so in-place changes are caught and memory is freed after backward;
* the shape, dtype and device of each input, so gradients are summed over broadcast dims and cast.

Ops reach :func:`dispatch` through the registry; view ops and custom Functions build nodes through
:func:`record`. The engine that runs the nodes is :mod:`neurarust.autograd.engine`.

    >>> import neurarust as nr
    >>> x = nr.tensor([1.0, 2.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.grad_fn.name(), [fn.name() for fn, _ in y.grad_fn.next_functions]
    ('SumBackward', ['MulBackward'])
"""
from __future__ import annotations

import inspect
import itertools
import threading
import weakref
from typing import Any, Callable, Sequence

from neurarust import registry
from neurarust.errors import AutogradError, DerivativeNotImplementedError
from neurarust.tensor import Tensor

from . import anomaly, grad_mode

_sequence = itertools.count()


class AutogradMeta:
    """Autograd state of one tensor (absent on tensors that never took part in a graph)."""

    __slots__ = ("requires_grad", "grad", "grad_fn", "output_nr", "retains_grad", "grad_acc", "hooks",
                 "post_accumulate_hooks", "__weakref__")

    def __init__(self, requires_grad: bool = False, grad_fn: "Node | None" = None, output_nr: int = 0):
        self.requires_grad = requires_grad
        self.grad = None
        self.grad_fn = grad_fn
        self.output_nr = output_nr
        self.retains_grad = False
        self.grad_acc = None      # the leaf's AccumulateGrad, made when a node first points at it
        # A leaf's tensor hooks (a non-leaf's live on its grad_fn); empty tuples until a hook is
        # registered, as almost no tensor gets one (autograd/hooks.py makes the lists).
        self.hooks: list | tuple = ()
        self.post_accumulate_hooks: list | tuple = ()


class ViewMeta(AutogradMeta):
    """The AutogradMeta of a view of a tensor that requires grad: it remembers its base and the
    storage version its ``grad_fn`` was made at. An in-place op on the base (or on another view of
    it) bumps the version and gives the base a new history; reading ``grad_fn`` then rebuilds it as
    an AsStrided view of the base's new node, as PyTorch regenerates a view's grad_fn, so the view's
    gradient follows the values it now holds. Plain tensors keep the plain slot read."""

    __slots__ = ("base", "version", "geometry", "_grad_fn")

    def __init__(self, node: "Node", base: Tensor, view: Tensor):
        self.base = base                     # the root base (``view._base``), kept alive as PyTorch does
        self.geometry = (view._shape, view._strides, view._offset)
        super().__init__(True, node, 0)      # the grad_fn setter below records the version

    @property
    def grad_fn(self) -> "Node | None":
        if self.base._version != self.version:   # the view shares its base's storage
            self._rebase()
        return self._grad_fn

    @grad_fn.setter
    def grad_fn(self, node: "Node | None") -> None:
        self._grad_fn = node
        self.version = self.base._version

    def _rebase(self) -> None:
        from .views import rebase_view

        self.grad_fn = rebase_view(self.base, self.geometry)
        self.output_nr = 0


class LatentViewMeta(ViewMeta):
    """The AutogradMeta of a view taken, in grad mode, of a base that did not require grad then. As
    PyTorch's views, it follows its base: once the base requires grad (``requires_grad_()``, or an
    in-place op that gives it a history) the view requires grad too, its grad_fn an AsStrided of the
    base's current node. Until then ``requires_grad_()`` makes the view a leaf of its own (``own``)."""

    __slots__ = ("own",)

    def __init__(self, base: Tensor, view: Tensor):
        super().__init__(None, base, view)   # sets requires_grad (to True): reset below
        self.own = False

    def _follows_base(self) -> bool:
        m = self.base._autograd
        return m is not None and m.requires_grad

    @property
    def requires_grad(self) -> bool:
        return self.own or self._follows_base()

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.own = bool(value)

    @property
    def grad_fn(self) -> "Node | None":
        if self._follows_base() and (self._grad_fn is None or self.base._version != self.version):
            self._rebase()
        return self._grad_fn

    @grad_fn.setter
    def grad_fn(self, node: "Node | None") -> None:
        ViewMeta.grad_fn.fset(self, node)


def meta(t: Tensor) -> AutogradMeta:
    """The tensor's AutogradMeta, made on first use."""
    m = t._autograd
    if m is None:
        m = t._autograd = AutogradMeta()
    return m


def requires_grad(x: Any) -> bool:
    return isinstance(x, Tensor) and x._autograd is not None and x._autograd.requires_grad


# ----------------------------------------------------------------------------------------------
# Nodes
# ----------------------------------------------------------------------------------------------

_NONE: dict = {}  # shared empty mapping: most nodes never get hooks (never written to)


class Node:
    """One recorded call: turns the gradients of its outputs into gradients of its inputs."""

    __slots__ = ("_name", "next_edges", "input_meta", "n_outputs", "sequence_nr", "pre_hooks", "retained",
                 "trace", "__weakref__")
    # The gradients ``apply`` returns are fresh, or views of its incoming ones: nothing else keeps them.
    owns_results = True

    def __init__(self, name: str, next_edges: list, input_meta: list, n_outputs: int):
        self._name = name
        self.next_edges = next_edges
        self.input_meta = input_meta          # (shape, dtype, device) per edge
        self.n_outputs = n_outputs
        self.sequence_nr = next(_sequence)    # later nodes run first among the ready ones, as in PyTorch
        self.pre_hooks: dict[int, list] = _NONE  # output_nr -> tensor hooks of that output
        self.retained: dict[int, weakref.ref] = _NONE  # output_nr -> non-leaf tensor that retains its grad
        self.trace = anomaly.forward_trace() if anomaly._state.enabled else None

    def hooks_of(self, output_nr: int) -> list:
        """The (mutable) list of tensor hooks of output ``output_nr``."""
        if self.pre_hooks is _NONE:
            self.pre_hooks = {}
        return self.pre_hooks.setdefault(output_nr, [])

    def retain(self, output_nr: int, t: Tensor) -> None:
        """Store output ``output_nr``'s gradient into ``t.grad`` when backward passes."""
        if self.retained is _NONE:
            self.retained = {}
        self.retained[output_nr] = weakref.ref(t)

    def name(self) -> str:
        """``"MulBackward"`` for the node ``mul`` made (PyTorch's would be ``MulBackward0``)."""
        return self._name

    @property
    def next_functions(self) -> tuple:
        """``((node, output_nr), ...)`` per input, ``(None, 0)`` where no gradient flows."""
        return tuple(e if e is not None else (None, 0) for e in self.next_edges)

    def apply(self, grads: list) -> Sequence:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def release(self) -> None:
        """Drop saved tensors (after a backward that does not retain the graph)."""

    def __repr__(self) -> str:
        return f"<{self._name} object>"


class OpNode(Node):
    """The node of a registry op: calls the op's declared backward formula."""

    __slots__ = ("op", "saved", "layout", "many")

    def __init__(self, op, name: str, saved: dict, next_edges, input_meta, n_outputs, layout: list,
                 many: bool = False):
        # Node.__init__ inlined: one node per recorded op makes this the hottest constructor.
        self._name, self.next_edges, self.input_meta, self.n_outputs = name, next_edges, input_meta, n_outputs
        self.sequence_nr = next(_sequence)
        self.pre_hooks = self.retained = _NONE
        self.trace = anomaly.forward_trace() if anomaly._state.enabled else None
        self.op = op
        self.saved = saved
        self.layout = layout  # per differentiable argument: None, or the length of a tensor list (cat)
        self.many = many      # the op returned a sequence (its backward takes a tuple, even of one)

    def apply(self, grads: list) -> Sequence:
        values = {name: unpack(v, self) for name, v in self.saved.items()}
        grad = tuple(grads) if self.many else grads[0]
        out = self.op.backward(grad, **values)
        out = out if isinstance(out, (tuple, list)) else (out,)
        if len(out) != len(self.layout):
            raise AutogradError(f"the backward of {self.op.name} returned {len(out)} gradients for "
                                f"{len(self.layout)} differentiable arguments {self.op.differentiable}")
        flat = []
        for g, n in zip(out, self.layout):
            if n is None:
                flat.append(g)
            else:
                flat.extend([None] * n if g is None else g)
        return flat

    def release(self) -> None:
        for v in self.saved.values():
            if isinstance(v, (SavedTensor, _ResultTuple)):
                v.release()
            elif isinstance(v, list):
                for item in v:
                    if isinstance(item, SavedTensor):
                        item.release()


class FunctionNode(Node):
    """A node whose backward is a plain callable ``grads -> input gradients`` (views, custom
    Functions)."""

    __slots__ = ("backward", "on_release")

    def __init__(self, name: str, backward: Callable, next_edges, input_meta, n_outputs, on_release=None):
        super().__init__(name, next_edges, input_meta, n_outputs)
        self.backward = backward
        self.on_release = on_release

    def apply(self, grads: list) -> Sequence:
        out = self.backward(*grads)
        return out if isinstance(out, (tuple, list)) else (out,)

    def release(self) -> None:
        if self.on_release is not None:
            self.on_release()


class CustomFunctionNode(FunctionNode):
    """The node of a custom :class:`~neurarust.autograd.Function`: its user-written backward may keep
    the gradients it returns."""

    __slots__ = ()
    owns_results = False


class AccumulateGrad(Node):
    """The sink of a leaf: adds the incoming gradient into ``leaf.grad``."""

    __slots__ = ("variable",)

    def __init__(self, leaf: Tensor):
        super().__init__("AccumulateGrad", [], [], 1)
        self.variable = weakref.ref(leaf)

    def accumulate(self, grad: Tensor, create_graph: bool, exclusive: bool = False) -> None:
        """Add ``grad`` into the leaf's ``.grad``; ``exclusive``: nothing else holds ``grad``'s memory
        (the engine's :class:`~neurarust.autograd.engine.Ownership`), so it may become ``.grad``."""
        leaf = self.variable()
        if leaf is None:
            return
        hooks = leaf._autograd.hooks
        accumulate_into(leaf, run_hooks(hooks, grad) if hooks else grad, create_graph, exclusive and not hooks)
        for hook in leaf._autograd.post_accumulate_hooks:
            hook(leaf)


def accumulate_into(t: Tensor, grad: Tensor, create_graph: bool, exclusive: bool = False) -> None:
    """``t.grad += grad``: in place into an exclusive buffer, or recorded when ``create_graph``.
    The first gradient becomes ``.grad`` itself when it is ``exclusive`` and laid out as ``t`` is
    (exactly covering its memory), else a copy of it does."""
    m = meta(t)
    if m.grad is None:
        # a buffer of its own: the incoming gradient may be shared with another leaf or the caller
        if create_graph:
            m.grad = grad
        elif exclusive and _fits(grad, t):
            m.grad = _detached(grad)
        else:
            with grad_mode.no_grad():
                m.grad = _detached(grad).clone()
    elif create_graph or m.grad._autograd is not None and m.grad._autograd.requires_grad:
        m.grad = m.grad + grad
    else:
        with grad_mode.no_grad():
            m.grad.add_(grad)


def _fits(grad: Tensor, t: Tensor) -> bool:
    """``grad`` has ``t``'s strides, from the start of memory it exactly fills (it keeps no other bytes alive)."""
    return grad._strides == t._strides and grad._offset == 0 and \
        grad._storage.nbytes == grad.numel() * grad._dtype.itemsize


def _node_name(op_name: str) -> str:
    return "".join(part.capitalize() for part in op_name.rstrip("_").replace(".", "_").split("_")) + "Backward"


def run_hooks(hooks: list, grad):
    """Run tensor hooks in order; a returned tensor replaces the gradient. A replacement must match
    it in shape, dtype and device (as PyTorch checks), or it would land in ``.grad`` or reach a
    formula that assumes the tensor's layout."""
    for hook in hooks:
        replaced = hook(grad)
        if replaced is not None:
            _check_hook_result(hook, grad, replaced)
            grad = replaced
    return grad


def _check_hook_result(hook: Callable, grad: Tensor, replaced) -> None:
    name = getattr(hook, "__name__", type(hook).__name__)
    if not isinstance(replaced, Tensor):
        from neurarust.errors import SignatureError

        raise SignatureError(f"expected Tensor or None, but hook '{name}' returned '{type(replaced).__name__}'")
    if replaced._shape != grad._shape:
        raise AutogradError(f"hook '{name}' has changed the size of value (was {list(grad._shape)}, "
                            f"got {list(replaced._shape)})")
    if replaced._dtype is not grad._dtype or replaced.device != grad.device:
        raise AutogradError(f"hook '{name}' has changed the type of value (was {grad._dtype} on {grad.device}, "
                            f"got {replaced._dtype} on {replaced.device})")


def _detached(t: Tensor) -> Tensor:
    """An alias of ``t`` outside any graph (slots copied directly: this runs for every saved output)."""
    a = object.__new__(Tensor)
    a._storage, a._shape, a._strides, a._offset, a._dtype = t._storage, t._shape, t._strides, t._offset, t._dtype
    a._array, a._autograd, a._base = t._array, None, None
    return a


# ----------------------------------------------------------------------------------------------
# Saved tensors
# ----------------------------------------------------------------------------------------------

class SavedTensor:
    """A tensor a backward formula needs, with the version it had when saved.

    An op's own output is kept as a plain alias (no ``grad_fn``), so the graph holds no cycle; it is
    given back attached to the node again, so ``create_graph`` differentiates through it.
    """

    __slots__ = ("data", "version", "output_nr", "op_name", "arg_name")

    def __init__(self, t: Tensor, op_name: str, arg_name: str, output_nr: int | None = None):
        if _saved_hooks_open and _saved_hooks.stack:   # saved_tensors_hooks: keep what pack returns
            self.data = _Packed(t, _saved_hooks.stack[-1])
        else:
            self.data = _detached(t) if output_nr is not None else t
        self.version = t._version
        self.output_nr = output_nr
        self.op_name = op_name
        self.arg_name = arg_name

    def unpack(self, node: Node) -> Tensor:
        t = self.data
        if t is None:
            raise AutogradError(
                "Trying to backward through the graph a second time (or directly access saved tensors "
                "after they have already been freed). Saved intermediate values of the graph are freed "
                "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
                "backward through the graph a second time.")
        if t.__class__ is _Packed:
            t = t.unpack()                   # versions cannot be tracked through hooks (as PyTorch)
        elif t._version != self.version:
            raise AutogradError(
                f"one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: argument '{self.arg_name}' of {self.op_name} (shape {list(t._shape)}, "
                f"{t._dtype}) is at version {t._version}; expected version {self.version} instead.")
        if self.output_nr is None:
            return t
        out = _detached(t)
        out._autograd = AutogradMeta(True, node, self.output_nr)
        return out

    def release(self) -> None:
        self.data = None


class _SavedHooks(threading.local):
    def __init__(self) -> None:
        self.stack: list[tuple] = []         # (pack, unpack) pairs, innermost last


_saved_hooks = _SavedHooks()
# Blocks open on any thread: a plain global read keeps the check off the per-op cost when there are none.
_saved_hooks_open = 0
_saved_hooks_lock = threading.Lock()


class _Packed:
    """What a pack hook returned for a saved tensor, with the unpack hook that turns it back."""

    __slots__ = ("value", "unpack_hook")

    def __init__(self, t: Tensor, hooks: tuple):
        pack, self.unpack_hook = hooks
        self.value = pack(t)

    def unpack(self) -> Tensor:
        t = self.unpack_hook(self.value)
        if not isinstance(t, Tensor):
            raise AutogradError(f"saved tensor unpack hook must return a Tensor, got {type(t).__name__}")
        return t


class saved_tensors_hooks:
    """Inside the block, each tensor a recorded op saves for backward goes through ``pack_hook(t)``,
    and backward gets ``unpack_hook(packed)`` back instead (PyTorch's
    ``torch.autograd.graph.saved_tensors_hooks``): offload to another device, compress, or recompute
    (non-reentrant checkpointing). Hooks are per thread; the innermost block wins. A saved tensor that
    went through hooks is not checked for in-place changes.

    >>> import neurarust as nr
    >>> x = nr.tensor([3.0], requires_grad=True)
    >>> with nr.autograd.graph.saved_tensors_hooks(lambda t: t.tolist(), lambda v: nr.tensor(v)):
    ...     y = x * x
    >>> y.backward(); x.grad.tolist()
    [6.0]
    """

    def __init__(self, pack_hook: Callable[[Tensor], Any], unpack_hook: Callable[[Any], Tensor]):
        self.hooks = (pack_hook, unpack_hook)

    def __enter__(self) -> None:
        global _saved_hooks_open
        _saved_hooks.stack.append(self.hooks)
        with _saved_hooks_lock:
            _saved_hooks_open += 1

    def __exit__(self, *exc: Any) -> None:
        global _saved_hooks_open
        _saved_hooks.stack.pop()
        with _saved_hooks_lock:
            _saved_hooks_open -= 1


def unpack(value, node: Node):
    if isinstance(value, (SavedTensor, _ResultTuple)):
        return value.unpack(node)
    if isinstance(value, list) and value and isinstance(value[0], SavedTensor):
        return [v.unpack(node) for v in value]
    return value


# ----------------------------------------------------------------------------------------------
# Recording
# ----------------------------------------------------------------------------------------------

def edge_of(t: Tensor):
    """Where the gradient of ``t`` goes: its grad_fn output, or its leaf accumulator."""
    m = t._autograd
    if m is None or not m.requires_grad:
        return None
    if m.grad_fn is not None:
        return (m.grad_fn, m.output_nr)
    if m.grad_acc is None or m.grad_acc.variable() is None:
        m.grad_acc = AccumulateGrad(t)
    return (m.grad_acc, 0)


def _input_meta(t: Tensor) -> tuple:
    return (t._shape, t._dtype, t._storage.device)


def _tensor_outputs(result) -> list:
    if isinstance(result, Tensor):
        return [result]
    if isinstance(result, (tuple, list)):
        return list(result)
    return []


def attach(outputs: list, node: Node) -> None:
    """Make every floating output of ``node`` require grad, with ``node`` as its grad_fn."""
    for i, t in enumerate(outputs):
        if isinstance(t, Tensor) and t._dtype.is_floating_point:
            m = t._autograd
            if m is None:
                t._autograd = AutogradMeta(True, node, i)
            else:
                m.requires_grad, m.grad_fn, m.output_nr = True, node, i


def record(name: str, inputs: Sequence, outputs: list, backward: Callable, on_release=None) -> Node | None:
    """Record a call whose backward is ``backward(*output_grads) -> input grads`` (views, custom
    Functions). Does nothing when grad mode is off or no input requires grad."""
    if not grad_mode.is_grad_enabled():
        return None
    edges = [edge_of(t) if isinstance(t, Tensor) else None for t in inputs]
    if not any(edges):
        return None
    node = FunctionNode(name, backward, edges,
                        [_input_meta(t) if isinstance(t, Tensor) else None for t in inputs], len(outputs),
                        on_release)
    attach(outputs, node)
    return node


# ---- registry ops --------------------------------------------------------------------------

class _OpPlan:
    """What recording an op needs, worked out once per op: the binder and the saved names."""

    __slots__ = ("bind", "saved_names", "node_name", "saves_result", "writes_first")

    def __init__(self, op):
        self.bind = op.bind or (lambda args, kwargs: registry.signature_bind(op, args, kwargs))
        names = [] if op.backward is None else list(inspect.signature(op.backward).parameters)[1:]
        self.saves_result = "result" in names
        self.saved_names = [n for n in names if n != "result"]
        self.node_name = _node_name(op.name)
        self.writes_first = bool(op.attrs.get("writes_first"))


_plans: dict = {}


def _plan(op) -> _OpPlan:
    plan = _plans.get(op)
    if plan is None:
        plan = _plans[op] = _OpPlan(op)
    return plan


def _any_requires_grad(args, kwargs) -> bool:
    for x in (itertools.chain(args, kwargs.values()) if kwargs else args):
        if isinstance(x, Tensor):
            if x._autograd is not None and x._autograd.requires_grad:
                return True
        elif isinstance(x, (list, tuple)):
            for y in x:
                if isinstance(y, Tensor) and y._autograd is not None and y._autograd.requires_grad:
                    return True
    return False


def _writes_into_a_graph(op, args, kwargs) -> bool:
    """An in-place write into a view whose base is recorded (``y[0] = 0``) changes the base's history."""
    target = args[0] if op.attrs.get("writes_first") and args else kwargs.get("out")
    base = getattr(target, "_base", None)
    return base is not None and base._autograd is not None and base._autograd.requires_grad


def dispatch(op, args: tuple, kwargs: dict):
    """Run a registry op; record it when grad mode is on and an input requires grad.

    The registry calls this for every op once autograd is loaded.
    """
    if not grad_mode._state.enabled:
        return op.frontend(op, *args, **kwargs)
    plan = _plans.get(op) or _plan(op)
    # Only a call with keywords (``out=``) or an op writing its first argument can write in place.
    writes = bool(kwargs) or plan.writes_first
    if not (_any_requires_grad(args, kwargs) or writes and _writes_into_a_graph(op, args, kwargs)):
        return op.frontend(op, *args, **kwargs)
    if op.differentiable == ():
        return _run_nondifferentiable(op, args, kwargs)
    if op.differentiable is None:
        raise DerivativeNotImplementedError(f"the derivative of '{op.name}' is not implemented")
    target = _inplace_target(op, args, kwargs) if writes else None
    if target is not None and target._base is not None:
        from .views import record_inplace_on_view

        return record_inplace_on_view(op, args, kwargs, target)
    return _record_op(op, args, kwargs, target, plan=plan)


def _run_nondifferentiable(op, args, kwargs):
    """An op whose results never require grad. Written in place into a recorded tensor
    (``y.uniform_()``, ``y[0].bernoulli_()``) it cuts that tensor's history: no gradient flows
    through the values it overwrote, as in PyTorch."""
    out = kwargs.get("out")
    target = None
    if op.attrs.get("writes_first") or (out is not None and args and out is args[0]):
        target = _inplace_target(op, args, kwargs)
    if target is not None and target._base is not None and _writes_into_a_graph(op, args, {"out": target}):
        from .views import record_inplace_on_view

        return record_inplace_on_view(op, args, kwargs, target)
    with grad_mode.no_grad():
        result = op.frontend(op, *args, **kwargs)
    if target is not None and target._autograd is not None and target._autograd.requires_grad:
        attach([target], FunctionNode(f"{_node_name(op.name)}", lambda grad: (), [], [], 1))
    return result


def _inplace_target(op, args, kwargs) -> Tensor | None:
    """The tensor an in-place call writes (``x.add_(y)`` passes ``out=x``); out= into another tensor
    cannot be differentiated, as in PyTorch."""
    out = kwargs.get("out")
    if op.attrs.get("writes_first"):
        out = args[0]
    elif out is None:
        return None
    elif not (args and out is args[0]):
        raise AutogradError(f"{op.name}(): functions with out=... arguments don't support automatic "
                            f"differentiation, but one of the arguments requires grad")
    for written in (out,) if out._base is None else (out, out._base):   # a view made a leaf is one too
        m = written._autograd
        if m is None or not m.requires_grad or m.grad_fn is not None:
            continue
        what = "a leaf Variable" if written is out else "a view of a leaf Variable"
        raise AutogradError(f"{op.name}: {what} that requires grad is being used in an in-place operation "
                            f"(shape {list(out._shape)}); wrap it in nr.no_grad() if you mean to update it")
    return out


def _record_op(op, args, kwargs, target: Tensor | None, protect: Tensor | None = None, plan=None):
    """Run and record ``op``; ``target`` is the tensor an in-place call writes, ``protect`` one that is
    about to be written (saved tensors sharing its memory are copied first)."""
    plan = plan or _plan(op)
    protect = target if protect is None else protect
    call_kwargs = kwargs
    if target is not None and "out" in kwargs:
        kwargs = {k: v for k, v in kwargs.items() if k != "out"}
    try:
        bound = plan.bind(args, kwargs)
    except TypeError:
        op.frontend(op, *args, **kwargs)  # the op's own error for a bad call (SignatureError ...)
        raise
    edges, metas, layout = [], [], []
    for name in op.differentiable:
        value = bound.get(name)
        if isinstance(value, Tensor):
            layout.append(None)
            m = value._autograd  # edge_of(value), its common cases inlined
            if m is None or not m.requires_grad:
                edges.append(None)
            elif m.grad_fn is not None:
                edges.append((m.grad_fn, m.output_nr))
            else:
                edges.append(edge_of(value))
            metas.append((value._shape, value._dtype, value._storage.device))
            continue
        many = isinstance(value, (list, tuple))
        layout.append(len(value) if many else None)
        for t in (value if many else (value,)):
            is_t = isinstance(t, Tensor)
            edges.append(edge_of(t) if is_t else None)
            metas.append(_input_meta(t) if is_t else None)
    saved = {}
    for name in plan.saved_names:
        if name == "needs_input_grad":  # as ctx.needs_input_grad: skip gradients no input needs
            saved[name] = _needs(edges, layout)
        else:
            value = bound.get(name)
            saved[name] = (SavedTensor(value, op.name, name) if protect is None and isinstance(value, Tensor)
                           else _save(value, op.name, name, protect))
    state = grad_mode._state
    state.enabled = False  # the op's own calls record nothing (a cheaper no_grad())
    try:
        result = op.frontend(op, *args, **call_kwargs)
    finally:
        state.enabled = True
    if target is not None:
        result = target
    if isinstance(result, Tensor):  # the common single output, attach() inlined
        if plan.saves_result:
            saved["result"] = SavedTensor(result, op.name, "result", 0)
        node = OpNode(op, plan.node_name, saved, edges, metas, 1, layout)
        if result._dtype.kind == "f":
            m = result._autograd
            if m is None:
                result._autograd = AutogradMeta(True, node, 0)
            else:
                m.requires_grad, m.grad_fn, m.output_nr = True, node, 0
        return result
    outputs = _tensor_outputs(result)
    if plan.saves_result:
        saved["result"] = _save_outputs(result, outputs, op.name)
    node = OpNode(op, plan.node_name, saved, edges, metas, len(outputs), layout, many=True)
    attach(outputs, node)
    return result


def _needs(edges: list, layout: list) -> tuple[bool, ...]:
    if len(edges) == len(layout):
        return tuple(e is not None for e in edges)
    needs, i = [], 0
    for n in layout:
        group = edges[i:i + (1 if n is None else n)]
        needs.append(any(e is not None for e in group))
        i += len(group)
    return tuple(needs)


def _save(value, op_name: str, arg_name: str, target: Tensor | None):
    if isinstance(value, Tensor):
        if target is not None and value._storage is target._storage:
            with grad_mode.no_grad():
                value = value.clone()  # the in-place write would overwrite what backward needs
        return SavedTensor(value, op_name, arg_name)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Tensor) for v in value):
        return [SavedTensor(v, op_name, arg_name) for v in value]
    return value


def _save_outputs(result, outputs: list, op_name: str):
    if isinstance(result, Tensor):
        return SavedTensor(result, op_name, "result", 0)
    saved = [SavedTensor(t, op_name, "result", i) if isinstance(t, Tensor) else t for i, t in enumerate(outputs)]
    if isinstance(result, Tensor):
        return saved[0]
    return _ResultTuple(result, saved)


class _ResultTuple:
    """A saved multi-output result; unpacks to the same tuple type (named tuples keep their names)."""

    def __init__(self, result, saved: list):
        self.kind = type(result)
        self.saved = saved

    def unpack(self, node: Node):
        items = [s.unpack(node) if isinstance(s, SavedTensor) else s for s in self.saved]
        if self.kind in (tuple, list):
            return self.kind(items)
        return self.kind(*items)

    def release(self) -> None:
        for s in self.saved:
            if isinstance(s, SavedTensor):
                s.release()


# ----------------------------------------------------------------------------------------------
# Graphviz
# ----------------------------------------------------------------------------------------------

def to_dot(tensor: Tensor) -> str:
    """The graph that produced ``tensor``, as Graphviz DOT text (render it with ``dot -Tsvg``).

    >>> import neurarust as nr
    >>> x = nr.ones(2, requires_grad=True)
    >>> dot = nr.autograd.graph.to_dot((x.exp() * 2).sum())
    >>> dot.splitlines()[0], "ExpBackward" in dot, "AccumulateGrad" in dot
    ('digraph autograd {', True, True)
    """
    lines = ["digraph autograd {", "  node [shape=box, fontname=monospace];",
             f'  out [label="tensor {list(tensor._shape)} {tensor._dtype.name}", shape=ellipse];']
    root = tensor.grad_fn
    if root is not None:
        ids: dict[int, str] = {}
        pending = [root]

        def ident(fn: Node) -> str:
            if id(fn) not in ids:
                ids[id(fn)] = f"n{len(ids)}"
                lines.append(f'  {ids[id(fn)]} [label="{_dot_label(fn)}"];')
                pending.append(fn)
            return ids[id(fn)]

        lines.append(f"  {ident(root)} -> out;")
        while pending:
            fn = pending.pop()
            for edge in fn.next_edges:
                if edge is not None:
                    lines.append(f"  {ident(edge[0])} -> {ident(fn)};")
    lines.append("}")
    return "\n".join(lines)


def _dot_label(fn: Node) -> str:
    leaf = fn.variable() if isinstance(fn, AccumulateGrad) else None
    return fn.name() if leaf is None else f"{fn.name()}\\n{list(leaf._shape)} {leaf._dtype.name}"


def _install() -> None:
    registry.set_grad_hook(dispatch)


_install()
