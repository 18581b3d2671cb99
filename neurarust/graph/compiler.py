"""``neurarust.compile``: capture a function or module once per input signature, optimise the graph,
and replay it with no per-op Python dispatch.

A call first looks up its **guard key**: the shape, strides, dtype, device and ``requires_grad`` of
every tensor argument, which arguments share storage, the other arguments' values, grad mode,
autocast state and a module's ``training`` flag. A miss runs the function eagerly the first time
(so lazy state such as optimizer moments exists) and captures it on the next call with that key;
later calls replay the optimised program. A capture that reads tensor values in Python falls back to eager for that key, with one
warning naming the line.

On CUDA, a call that only computes (no parameter updates, no backward attached: inference) replays
through a CUDA graph (:mod:`neurarust.graph.cuda_graphs`): one launch for the whole program.

Training: when the captured output requires grad, the backward pass is captured too, by running
autograd over the eager graph with the tracer on. The replayed forward returns outputs attached to
one autograd node whose backward replays the captured backward, so ``loss.backward()`` and any
optimizer work unchanged. A function that calls ``backward()`` and ``opt.step()`` itself is captured
whole (the optimizer needs ``capturable=True``).

    >>> import neurarust as nr
    >>> model = nr.nn.Sequential(nr.nn.Linear(4, 8), nr.nn.ReLU(), nr.nn.Linear(8, 1))
    >>> fast = nr.compile(model)
    >>> x = nr.randn(16, 4)
    >>> for _ in range(3):
    ...     loss = fast(x).pow(2).mean()
    ...     loss.backward()
    >>> bool((fast(x) - model(x)).abs().max() < 1e-5), fast.stats["replays"] >= 1
    (True, True)
"""
from __future__ import annotations

import contextlib
import functools
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from neurarust import guards, settings
from neurarust.amp import autocast_mode
from neurarust.autograd import grad_mode
from neurarust.autograd import graph as _autograd_graph
from neurarust.autograd.graph import requires_grad
from neurarust.errors import ArgumentError, AutogradError

from . import cuda_graphs, passes
from .capture import GraphBreak, Tracer, capturing, finish, run_traced
from .executor import Program
from .ir import Graph, Value, flatten, unflatten


CACHE_LIMIT = 64   # guard keys a compiled function keeps (each holds its graphs and programs)


def compile(model: Callable | None = None, *, fullgraph: bool = False, dynamic: bool | None = None,
            debug: bool | None = None, disable: bool = False, passes_enabled: bool = True):
    """Compile ``model`` (a function or an :class:`~neurarust.nn.Module`); usable as a decorator,
    bare or with arguments, as ``torch.compile``.

    Args:
        model: the function or module to compile.
        fullgraph: raise :class:`~neurarust.graph.GraphBreak` instead of falling back to eager.
        dynamic: ``None``/``False`` specialise on shapes (a new shape captures again); ``True``
            (symbolic shapes) is not supported yet and raises.
        debug: print each graph before and after the passes and the generated kernels' source
            (also turned on by ``NEURARUST_COMPILE_DEBUG=1``).
        disable: return ``model`` unchanged.
        passes_enabled: run the graph passes (off: replay the graph as captured).

    >>> import neurarust as nr
    >>> @nr.compile
    ... def gelu_tanh(x):
    ...     return 0.5 * x * (1 + ((x + 0.044715 * x ** 3) * 0.7978845608).tanh())
    >>> x = nr.tensor([-1.0, 0.0, 1.0])
    >>> [round(gelu_tanh(x).tolist()[2], 4) for _ in range(3)]     # eager, capture, replay
    [0.8412, 0.8412, 0.8412]
    """
    if dynamic:
        raise ArgumentError("neurarust.compile(dynamic=True): symbolic shapes are not supported yet; every new "
                            "input shape is captured again (dynamic=False)")
    if debug is None:
        debug = os.environ.get("NEURARUST_COMPILE_DEBUG", "") not in ("", "0")

    def wrap(target):
        if disable:
            return target
        return CompiledFunction(target, fullgraph=fullgraph, debug=debug, passes_enabled=passes_enabled)

    return wrap if model is None else wrap(model)


@dataclass
class _Entry:
    """One guard key's compiled program (or ``eager`` after a graph break)."""

    eager: bool = False
    warmed: bool = False                   # the key's first call ran eagerly: the next one captures
    forward: Program | None = None
    backward: Program | None = None
    externals: list = field(default_factory=list)   # (tensor, shape, dtype, requires_grad) to re-check
    owners: list = field(default_factory=list)       # (a module's parameter or buffer dict, key, tensor it held)
    diff_inputs: list = field(default_factory=list)  # ("input", index) | ("external", tensor) per gradient
    diff_outputs: list = field(default_factory=list)  # output indices attached to the backward
    saved: list = field(default_factory=list)        # forward Values the backward reads
    grad_sinks: list = field(default_factory=list)   # parameters whose .grad a run sets (extra outputs, in order)
    guards: list = field(default_factory=list)       # Python numbers the graph baked in (neurarust.guards)
    out_spec: Any = None
    n_outputs: int = 0
    graph: Graph | None = None
    backward_graph: Graph | None = None


class CompiledFunction:
    """What :func:`compile` returns: call it as the original; ``stats`` counts captures and replays,
    ``graphs()`` lists the optimised graphs, ``reset()`` drops them."""

    def __init__(self, target: Callable, *, fullgraph: bool, debug: bool, passes_enabled: bool) -> None:
        self._target = target
        self._module = target if _is_module(target) else None
        self.fullgraph, self.debug, self.passes_enabled = fullgraph, debug, passes_enabled
        self._cache: dict = {}
        self._warned: set = set()
        self.stats = {"captures": 0, "replays": 0, "eager": 0, "graph_breaks": 0}
        functools.update_wrapper(self, target, updated=())

    # -- the PyTorch-like surface -------------------------------------------------------------
    def __getattr__(self, name):
        if name.startswith("__") or name in ("_target", "_module"):
            raise AttributeError(name)
        return getattr(self._target, name)   # a compiled module still has parameters(), train() ...

    @property
    def _orig_mod(self):
        """The compiled module or function (``torch.compile``'s name)."""
        return self._target

    def reset(self) -> None:
        """Forget every captured graph (the next calls capture again)."""
        self._cache.clear()

    def graphs(self) -> list[Graph]:
        """The optimised forward (and backward) graphs captured so far."""
        out = []
        for e in self._cache.values():
            out += [g for g in (e.graph, e.backward_graph) if g is not None]
        return out

    # -- calls ----------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if capturing():     # inside another capture: run inline so the outer graph records our ops
            return self._target(*args, **kwargs)
        key = self._guard_key(args, kwargs)
        entry = self._cache.get(key)
        if entry is not None and entry.forward is not None and not (_externals_unchanged(entry)
                                                                    and guards.hold(entry.guards)):
            entry = None
        if entry is None:
            if len(self._cache) >= CACHE_LIMIT:
                return self._over_limit(args, kwargs)
            entry = self._cache[key] = _Entry()
        if entry.eager:
            self.stats["eager"] += 1
            return self._target(*args, **kwargs)
        if entry.forward is None:
            if not entry.warmed:
                entry.warmed = True
                self.stats["eager"] += 1
                return self._target(*args, **kwargs)
            return self._capture(entry, key, args, kwargs)
        self.stats["replays"] += 1
        return _replay(entry, args, kwargs)

    def _over_limit(self, args, kwargs):
        """Too many guard keys (shapes that keep changing): run eagerly instead of capturing again, as
        torch.compile does past its cache size limit."""
        self._warn_once("cache limit", f"neurarust.compile: {CACHE_LIMIT} input signatures captured already; new "
                                       f"ones run eagerly (reset() forgets them)")
        self.stats["eager"] += 1
        return self._target(*args, **kwargs)

    def _warn_once(self, key, message: str) -> None:
        """Warn the first time for ``key``, or every time under ``nr.set_warn_always(True)``."""
        if key not in self._warned or settings.is_warn_always_enabled():
            self._warned.add(key)
            warnings.warn(message, stacklevel=4)   # the caller of the compiled function

    def _guard_key(self, args, kwargs) -> tuple:
        leaves, spec = flatten((args, kwargs))
        # Which arguments share storage is guarded too: the capture records an argument that shares
        # another's storage as a view of it, which arguments of their own must not replay.
        first: dict[int, tuple[int, int]] = {}    # storage -> (first argument on it, its offset)
        tensors = tuple((t._shape, t._strides, t._dtype, str(t._storage.device), requires_grad(t),
                         *_sharing(first, i, t)) for i, t in enumerate(leaves))
        training = self._module.training if self._module is not None else None
        return (tensors, _hashable(spec), grad_mode._state.enabled, training, autocast_mode._state.active)

    def _capture(self, entry: _Entry, key, args, kwargs):
        try:
            with autocast_mode.fresh_cast_cache():   # an outer region's cached casts: recorded afresh
                result = _build(entry, self._target, self._names(), args, kwargs, self.passes_enabled, self.debug)
            module = self._owning_module()
            if module is not None:
                entry.owners = _owners(module, (entry.graph, entry.backward_graph))
        except GraphBreak as e:
            return self._graph_break(entry, args, kwargs, e, rerun=True)
        self.stats["captures"] += 1
        return result

    def _graph_break(self, entry, args, kwargs, error: GraphBreak, rerun: bool = False):
        if self.fullgraph:
            raise error
        entry.eager = True
        self.stats["graph_breaks"] += 1
        self._warn_once(error.location, f"neurarust.compile: graph break, running eagerly: {error}")
        # The capture stopped before the function ended: run it again from the start, eagerly.
        return self._target(*args, **kwargs)

    def _owning_module(self):
        """The module compiled, or whose bound method was: its parameters have names."""
        module = self._module or getattr(self._target, "__self__", None)
        return module if module is not None and _is_module(module) else None

    def _names(self) -> dict[int, str]:
        module = self._owning_module()
        if module is None:
            return {}
        names = {id(p): n for n, p in module.named_parameters()}
        names.update({id(b): n for n, b in module.named_buffers()})
        return names


def _is_module(obj) -> bool:
    return hasattr(obj, "named_parameters") and hasattr(obj, "forward")


def _sharing(first: dict, i: int, t) -> tuple[int, int]:
    """``(index of the first argument on t's storage, t's offset past that argument's)``."""
    j, offset = first.setdefault(id(t._storage), (i, t._offset))
    return j, t._offset - offset


def _hashable(spec):
    try:
        hash(spec)
        return spec
    except TypeError:
        return repr(spec)


def _externals_unchanged(entry: _Entry) -> bool:
    return (all(t._shape == shape and t._dtype is dtype and requires_grad(t) == rg
                for t, shape, dtype, rg in entry.externals)
            and all(owner.get(key) is t for owner, key, t in entry.owners))


def _owners(module, graphs) -> list:
    """Where the compiled module holds each parameter and buffer the graphs read: a replay is valid
    only while it still holds that tensor (``lin.weight = Parameter(...)`` captures again)."""
    out = []
    for g in graphs:
        for v in g.externals() if g is not None else ():
            prefix, _, key = (v.name or "").rpartition(".")
            try:
                sub = module.get_submodule(prefix) if prefix else module
            except (AttributeError, LookupError):
                continue
            for owner in (getattr(sub, "_parameters", {}), getattr(sub, "_buffers", {})):
                if owner.get(key) is v.tensor:
                    out.append((owner, key, v.tensor))
    return out


# -- capture ------------------------------------------------------------------------------------

def _build(entry: _Entry, fn: Callable, names: dict, args, kwargs, run_passes: bool, debug: bool):
    """Capture ``fn(*args, **kwargs)`` (forward, and backward when it trains) into ``entry``;
    returns the eager result of the capture run."""
    import itertools

    ids = itertools.count()
    tracer = Tracer(Graph(ids), names)
    leaves, _ = flatten((args, kwargs))
    for t in leaves:
        tracer.add_input(t)
    with guards.collecting() as held:
        result = run_traced(tracer, fn, *args, **kwargs)
    entry.guards = held
    finish(tracer, result)
    forward = tracer.graph
    entry.grad_sinks = _grad_sinks(tracer, forward)
    out_leaves, entry.out_spec = flatten(result)
    entry.n_outputs = len(out_leaves)

    backward = None
    if grad_mode.is_grad_enabled():
        backward = _capture_backward(entry, tracer, ids, leaves, out_leaves)
    _check_writes(tracer)
    if debug:
        _print("captured forward", forward)
        if backward is not None:
            _print("captured backward", backward)
    saved: list[Value] = []
    if backward is not None:
        saved = _saved_values(forward, backward)
    kept = list(saved)      # what the forward returns for them: a pass may replace a Value by an equal one
    if run_passes:
        passes.optimize(forward, keep=kept)
        if backward is not None:
            passes.optimize(backward)
    if debug:
        _print("optimized forward", forward)
        if backward is not None:
            _print("optimized backward", backward)
        for g in (forward, backward):
            for n in (g.nodes if g is not None else ()):
                if n.fused is not None:
                    print(f"# generated kernel {n.fused.name} ({n.fused.path}):\n{n.fused.source}")
    entry.graph, entry.backward_graph, entry.saved = forward, backward, saved
    entry.forward = Program(forward, keep=kept)
    entry.backward = Program(backward) if backward is not None else None
    if backward is None and not entry.grad_sinks and cuda_graphs.eligible(forward):
        entry.forward = cuda_graphs.CudaGraphProgram(entry.forward, leaves)
    entry.externals = [(v.tensor, v.tensor._shape, v.tensor._dtype, requires_grad(v.tensor))
                       for g in (forward, backward) if g is not None for v in g.externals()]
    return result


def _print(title: str, graph: Graph) -> None:
    print(f"# neurarust.compile: {title} ({graph.kernel_count()} kernels)\n{graph}")


def _check_writes(tracer: Tracer) -> None:
    """Every write into a captured tensor must be a recorded op: anything else would not replay."""
    for entry in tracer.by_storage.values():
        value, layout = entry
        if layout._storage.version != value.version:
            raise GraphBreak(f"a tensor ({value.type_str()}) was written outside a recorded op", "capture")


def _grad_sinks(tracer: Tracer, forward: Graph) -> list:
    """Parameters whose ``.grad`` the captured function set to a tensor it computed (a training step
    that calls backward itself): a replay sets ``.grad`` to the replayed value."""
    sinks = []
    for v in forward.externals():
        grad = v.tensor._autograd.grad if v.tensor._autograd is not None else None
        if grad is None:
            continue
        hit = tracer.by_tensor.get(id(grad))
        if hit is not None and hit[0].kind == "node":
            forward.outputs.append(tracer.value_of(grad))
            sinks.append(v.tensor)
    return sinks


def _capture_backward(entry: _Entry, tracer: Tracer, ids, leaves: list, out_leaves: list) -> Graph | None:
    from neurarust.autograd.engine import grad as autograd_grad
    from neurarust.creation import ones_like

    outs = [i for i, t in enumerate(out_leaves) if requires_grad(t)]
    diff = [("input", i, t) for i, t in enumerate(leaves) if requires_grad(t)]
    diff += [("external", v, v.tensor) for v in tracer.graph.externals() if requires_grad(v.tensor)]
    if not outs or not diff:
        return None
    seeds = [ones_like(out_leaves[i]) for i in outs]
    backward = Graph(ids)
    forward = tracer.graph
    tracer.graph, tracer.nodes = backward, backward.nodes
    for s in seeds:
        tracer.add_input(s)
    try:
        with contextlib.ExitStack() as regions:
            # The backward as autograd runs it outside the caller's autocast region (where PyTorch
            # advises calling backward()): its ops in the forward's dtypes.
            for device_type, _ in autocast_mode._state.active:
                regions.enter_context(autocast_mode.autocast(device_type, enabled=False))
            grads = run_traced(tracer, autograd_grad, [out_leaves[i] for i in outs], [t for *_, t in diff],
                               grad_outputs=seeds, retain_graph=True, allow_unused=True)
    except AutogradError:
        # The function ran backward itself (a whole training step): its graph is spent, and so is
        # the outputs' history, as it would be eagerly.
        tracer.graph, tracer.nodes = forward, forward.nodes
        return None
    finish(tracer, list(grads))
    entry.diff_outputs = outs
    entry.diff_inputs = [(kind, where) for kind, where, _ in diff]
    return backward


def _saved_values(forward: Graph, backward: Graph) -> list[Value]:
    """The forward's Values (inputs and node outputs) that the backward reads."""
    made = {v.id for v in forward.inputs} | {v.id for n in forward.nodes for v in n.outputs if v is not None}
    made |= {new.id for n in forward.nodes for _, new in n.effects}
    read = [v for n in backward.nodes for v in n.inputs()] + [v for v in backward.outputs if v is not None]
    seen, saved = set(), []
    for v in read:
        if v.id in made and v.id not in seen:
            seen.add(v.id)
            saved.append(v)
    return saved


# -- replay ---------------------------------------------------------------------------------------

def _replay(entry: _Entry, args, kwargs):
    leaves, _ = flatten((args, kwargs))
    results = entry.forward.run(leaves)
    outs = results[:entry.n_outputs]
    extra = results[entry.n_outputs:len(entry.graph.outputs)]
    saved = results[len(entry.graph.outputs):]
    for param, grad in zip(entry.grad_sinks, extra):
        param.grad = grad
    if entry.backward is not None and grad_mode.is_grad_enabled():
        _attach_backward(entry, leaves, outs, saved)
    return unflatten(entry.out_spec, outs)


def _attach_backward(entry: _Entry, leaves: list, outs: list, saved: list) -> None:
    inputs = [leaves[w] if kind == "input" else w.tensor for kind, w in entry.diff_inputs]
    preset = {v.id: t for v, t in zip(entry.saved, saved)}
    attached = [outs[i] for i in entry.diff_outputs]
    program = entry.backward

    layouts = [tuple(v.strides) for v in program.graph.inputs]

    def backward(*grads):
        from neurarust.creation import zeros_like

        if grad_mode.is_grad_enabled():     # the engine runs with grad on only for create_graph=True
            raise AutogradError("the backward of a compiled call cannot record a graph (create_graph=True): "
                                "higher-order gradients through neurarust.compile are not supported; "
                                "differentiate the uncompiled function")
        seeds = [g if g is not None else zeros_like(o) for g, o in zip(grads, attached)]
        # the kernels read each seed with its captured strides: one may come expanded (``out.sum()``)
        grads = program.run([g._in_layout(lay) for g, lay in zip(seeds, layouts)], preset)
        return tuple(unflatten(program.graph.out_spec, grads))   # None for an input the outputs do not use

    _autograd_graph.record("CompiledFunctionBackward", inputs, attached, backward)
