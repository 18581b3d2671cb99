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
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .dtype import DType
from .errors import ArgumentError

OPS: dict[str, "Op"] = {}
_METHODS: dict[str, Callable] = {}
_loaded = False


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
    # Slots filled by later layers: autocast class, ONNX mapping.
    autocast: str | None = None
    onnx: Any = None
    _launcher: Callable | None = field(default=None, repr=False)

    def __post_init__(self):
        # ``help(nr.add)`` and ``nr.add.__doc__`` show the op's own documentation.
        self.__doc__ = self.doc or self.frontend.__doc__

    def __call__(self, *args, **kwargs):
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


def _install_method(name: str, method: Callable) -> None:
    """Make ``method`` a real attribute of Tensor (a plain lookup is much cheaper than __getattr__);
    methods Tensor defines itself are never replaced."""
    from .tensor import Tensor

    _METHODS[name] = method
    if name not in vars(Tensor):
        setattr(Tensor, name, method)


def _as_method(op: Op) -> Callable:
    def method(self, *args, **kwargs):
        return op.frontend(op, self, *args, **kwargs)

    method.__name__ = op.name
    method.__doc__ = op.__doc__
    return method


def _as_inplace_method(op: Op) -> Callable:
    def method(self, *args, **kwargs):
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
    return op.frontend(op, *args, **kwargs)


def all_ops() -> list[Op]:
    """Every entry, in registration order.

    >>> from neurarust.registry import all_ops
    >>> "add" in [op.name for op in all_ops()]
    True
    """
    load()
    return list(OPS.values())


def tensor_method(name: str) -> Callable | None:
    """The Tensor method ``name`` made from an entry, if there is one."""
    if name not in _METHODS:
        load()
    return _METHODS.get(name)
