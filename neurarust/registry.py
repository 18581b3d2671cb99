"""The op registry: every op is declared once, as one :class:`Op` entry.

An entry binds an op's name and public signature to its NumPy reference, its Triton launcher, the
dtypes it supports, its sample and error inputs, tolerances, cost model and autotune configs. The
test harnesses, ``neurarust check``, the autotuner and the benchmarks all iterate over
:data:`OPS`; adding an op means adding one entry in ``kernels/``.

    >>> from neurarust.registry import get
    >>> op = get("add")
    >>> op.kind, "float16" in [d.name for d in op.dtypes]
    ('elementwise', True)
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .dtype import DType
from .errors import ArgumentError

OPS: dict[str, "Op"] = {}
_METHODS: dict[str, Callable] = {}
_loaded = False
# Set by neurarust.autograd when it loads: ``hook(op, args, kwargs)`` runs the op and records the graph.
# Until then (CPU inference, scripts that never ask for gradients) ops call their front end directly.
_grad_hook: Callable | None = None


def set_grad_hook(hook: Callable | None) -> None:
    """Route every op call through ``hook(op, args, kwargs)`` (autograd's recorder)."""
    global _grad_hook
    _grad_hook = hook


_capturing = False


def set_capturing(on: bool) -> None:
    """Mark that a graph capture (``neurarust.compile``, ONNX export) records op calls now."""
    global _capturing
    _capturing = bool(on)


def capturing() -> bool:
    """Whether a graph capture records op calls now: an op that hands its backward state it keeps
    outside the graph must not while one does (a replay would read the captured values).

    >>> capturing()
    False
    """
    return _capturing


@dataclass
class Sample:
    """One call of an op for the harnesses: NumPy arrays stand for tensors (their layout is kept)."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    name: str = ""


@dataclass
class ErrorInput:
    """A call that must raise ``error`` with a message matching ``match``."""

    sample: Sample
    error: type
    match: str = ""


@dataclass
class TuneSpec:
    """Autotune configs of one kernel: the default is used wherever no GPU can time the others."""

    configs: list[dict]
    default: dict
    key: Callable[..., tuple] | None = None  # shape bucket from the call's tensors


@dataclass(eq=False)
class Op:
    """One op, declared once. See the module docstring."""

    name: str
    kind: str
    frontend: Callable[..., Any]                 # frontend(op, *args, **kwargs): the public call
    reference: Callable[..., Any]                # NumPy implementation (CPU, and the oracle)
    triton: str | None                           # "module:function" of the Triton launcher
    dtypes: tuple[DType, ...]
    samples: Callable[[DType], Iterable[Sample]]
    error_inputs: Callable[[], Iterable[ErrorInput]] = lambda: ()
    tolerances: dict = field(default_factory=dict)   # DType -> (rtol, atol); defaults from the harness
    cost: Callable[[Sample], tuple[int, int]] | None = None  # (bytes moved, FLOPs) of a call
    tune: TuneSpec | None = None
    method: bool = True                          # also a Tensor method
    inplace: str | None = None                   # name of the in-place method (``add_``)
    torch_name: str | None = None                # the PyTorch function the oracle calls
    attrs: dict = field(default_factory=dict)    # kind-specific data (scalar function, promotion rule)
    doc: str = ""                                # the public docstring (else the front end's)
    # The derivative (see neurarust.autograd): ``backward(grad, <names>) -> gradients``. The names
    # after ``grad`` pick what the graph saves: the op's own argument names, or ``result``. It returns
    # one gradient (or None) per name in ``differentiable``, the tensor arguments gradients flow to.
    # ``differentiable=None`` means no derivative is declared yet (recording raises); ``()`` means the
    # result never requires grad (comparisons, argmax, integer results).
    backward: Callable | None = None
    differentiable: tuple[str, ...] | None = None
    bind: Callable[[tuple, dict], dict] | None = None  # (args, kwargs) -> {argument name: value}
    # Slots filled by later layers. ``autocast``: the op's class per device type inside an autocast
    # region (``{"cuda": "lower", "cpu": "fp32"}``, set with :func:`autocast_class`; docs/amp.md); ONNX mapping.
    autocast: dict[str, str | AutocastWhen] | None = None
    onnx: Any = None
    _launcher: Callable | None = field(default=None, repr=False)

    def __post_init__(self):
        # ``help(nr.add)`` and ``nr.add.__doc__`` show the op's own documentation.
        self.__doc__ = self.doc or self.frontend.__doc__

    def __call__(self, *args, **kwargs):
        if _grad_hook is not None:
            return _grad_hook(self, args, kwargs)
        return self.frontend(self, *args, **kwargs)

    def launcher(self) -> Callable:
        """The Triton launcher, imported on first use (this is where Triton gets imported)."""
        if self._launcher is None:
            if self.triton is None:
                raise ArgumentError(f"op {self.name!r} has no Triton implementation")
            module, _, fn = self.triton.partition(":")
            self._launcher = getattr(importlib.import_module(module), fn)
        return self._launcher


def register(op: Op) -> Op:
    """Add an entry; its public function and Tensor methods appear at once.

    Entries are registered when their ``kernels/<family>.py`` module is imported, each with a call
    such as ``register(elementwise_op("exp", ...))``; a name registered twice raises ArgumentError.
    Registration cannot be undone, so see :func:`get` and :func:`all_ops` for examples of what an
    entry looks like once registered.
    """
    if op.name in OPS:
        raise ArgumentError(f"op {op.name!r} is registered twice")
    OPS[op.name] = op
    if op.method:
        _install_method(op.name, _as_method(op))
    if op.inplace:
        _install_method(op.inplace, _as_inplace_method(op))
    return op


def signature_bind(op: Op, args: tuple, kwargs: dict) -> dict:
    """``{argument name: value}`` of a call, bound to the front end's signature (defaults filled in).

    >>> from neurarust.registry import get, signature_bind
    >>> signature_bind(get("sum"), ("x", 1), {"keepdim": True})["dim"]
    1
    """
    binder = op.attrs.get("_binder")
    if binder is None:
        binder = op.attrs["_binder"] = _make_binder(op.frontend)
    return binder(args, kwargs)


def _make_binder(frontend: Callable) -> Callable[[tuple, dict], dict]:
    """A binder for ``frontend``'s signature (minus ``op``): plain dict work for the usual call, and
    ``inspect`` (with its exact errors) for anything unusual."""
    params = list(inspect.signature(frontend).parameters.values())[1:]
    sig = inspect.Signature(params)
    kinds = inspect.Parameter
    positional = [p.name for p in params if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)]
    keywords = {p.name for p in params if p.kind is not kinds.POSITIONAL_ONLY}
    defaults = {p.name: p.default for p in params if p.default is not p.empty}
    required = [p.name for p in params if p.default is p.empty and p.kind in (kinds.POSITIONAL_OR_KEYWORD,
                                                                           kinds.KEYWORD_ONLY, kinds.POSITIONAL_ONLY)]
    simple = all(p.kind not in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD) for p in params)

    def slow(args, kwargs):
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)

    def bind(args, kwargs):
        if not simple or len(args) > len(positional) or kwargs and any(k not in keywords for k in kwargs):
            return slow(args, kwargs)
        bound = dict(defaults)
        bound.update(zip(positional, args))
        bound.update(kwargs)
        if len(bound) < len(defaults) + len(required) and any(n not in bound for n in required):
            return slow(args, kwargs)
        return bound

    return bind


def derivative(name: str, differentiable: tuple[str, ...], backward: Callable | None = None) -> None:
    """Declare the derivative of the registered op ``name`` (for entries made in a loop; other entries
    pass ``backward=``/``differentiable=`` to ``Op``). ``differentiable=()`` marks a result that never
    requires grad.

    >>> from neurarust.registry import get
    >>> get("exp").differentiable, get("eq").differentiable
    (('input',), ())
    """
    op = OPS[name]
    op.differentiable, op.backward = tuple(differentiable), backward


AUTOCAST_CLASSES = ("lower", "fp32", "promote", "banned")


@dataclass(frozen=True)
class AutocastWhen:
    """An autocast class that applies only to some calls: ``when(bound arguments)`` says which
    (``pad`` is float32 on the CPU in its reflect and replicate modes only, as in PyTorch)."""

    cls: str
    when: Callable[[dict], bool]


def autocast_class(names: Iterable[str], **classes: "str | AutocastWhen") -> None:
    """Declare the autocast class of the registered ops ``names`` per device type (``cuda=``, ``cpu=``):
    ``"lower"`` runs in the region's low-precision dtype, ``"fp32"`` in float32, ``"promote"`` in the
    widest floating input dtype, ``"banned"`` raises inside a region. Devices left out: the op runs in
    the dtypes its inputs have (see docs/amp.md).

    >>> from neurarust.registry import get
    >>> get("mm").autocast, get("exp").autocast
    ({'cuda': 'lower', 'cpu': 'lower'}, {'cuda': 'fp32'})
    """
    bad = {k: v for k, v in classes.items() if getattr(v, "cls", v) not in AUTOCAST_CLASSES}
    if bad:
        raise ArgumentError(f"autocast classes must be one of {AUTOCAST_CLASSES}, got {bad}")
    for name in names:
        op = OPS[name]
        op.autocast = {**(op.autocast or {}), **classes}


def _install_method(name: str, method: Callable) -> None:
    """Make ``method`` a real attribute of Tensor (a plain lookup is much cheaper than __getattr__);
    methods Tensor defines itself are never replaced."""
    from .tensor import Tensor

    _METHODS[name] = method
    if name not in vars(Tensor):
        setattr(Tensor, name, method)


def _as_method(op: Op) -> Callable:
    def method(self, *args, **kwargs):
        if _grad_hook is not None:
            return _grad_hook(op, (self, *args), kwargs)
        return op.frontend(op, self, *args, **kwargs)

    method.__name__ = op.name
    method.__doc__ = op.__doc__
    return method


def _as_inplace_method(op: Op) -> Callable:
    def method(self, *args, **kwargs):
        if _grad_hook is not None:
            return _grad_hook(op, (self, *args), {**kwargs, "out": self})
        return op.frontend(op, self, *args, out=self, **kwargs)

    method.__name__ = op.inplace
    return method


def load() -> None:
    """Import every entry (cheap: entries import NumPy only, never Triton)."""
    global _loaded
    if not _loaded:
        _loaded = True
        importlib.import_module("neurarust.kernels")


def get(name: str) -> Op:
    """The entry called ``name`` (ArgumentError if there is none).

    >>> from neurarust.registry import get
    >>> get("mul").name, get("mul").inplace
    ('mul', 'mul_')
    """
    op = OPS.get(name)
    if op is None:
        load()
        op = OPS.get(name)
        if op is None:
            raise ArgumentError(f"no op named {name!r} in the registry")
    return op


def call(name: str, *args, **kwargs):
    """Run op ``name`` as its public function would.

    >>> import neurarust as nr
    >>> from neurarust.registry import call
    >>> call("add", nr.tensor([1, 2]), 3).tolist()
    [4, 5]
    """
    op = OPS.get(name) or get(name)
    if _grad_hook is not None:
        return _grad_hook(op, args, kwargs)
    return op.frontend(op, *args, **kwargs)


def all_ops(generated: bool = False) -> list[Op]:
    """Every entry, in registration order; ``generated=True`` adds the kernels ``neurarust.compile``
    generated and registered in this process (kind ``fused``), which are no part of the op set.

    >>> from neurarust.registry import all_ops
    >>> "add" in [op.name for op in all_ops()]
    True
    """
    load()
    return [op for op in OPS.values() if generated or op.kind != "fused"]


def tensor_method(name: str) -> Callable | None:
    """The Tensor method ``name`` made from an entry, if there is one."""
    if name not in _METHODS:
        load()
    return _METHODS.get(name)
