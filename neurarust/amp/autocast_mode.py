"""``autocast`` regions: ops run in a lower-precision dtype where that is safe, as ``torch.autocast``.

Inside ``with nr.autocast("cpu"):`` (or ``"cuda"``) every op call is looked up in the registry: its
entry's ``autocast`` slot gives the op's class for that device type (declared beside the entries in
``kernels/*.py`` with :func:`neurarust.registry.autocast_class`):

- ``"lower"``: floating tensor arguments are cast to the region's dtype (float16 on CUDA and bfloat16
  on the CPU by default); matmuls, convolutions, attention.
- ``"fp32"``: they are cast to float32; ops that need range or accuracy (exp, log, softmax on CUDA,
  the losses, norms and reductions).
- ``"promote"``: they are cast to the widest floating dtype among them (``cat`` on the CPU).
- ``"banned"``: the call raises :class:`~neurarust.errors.AutocastError` (``binary_cross_entropy`` on
  CUDA).

Ops with no class for the device run in the dtypes their inputs have. Only tensors on the region's
device type are cast; float64 and integer tensors never are; in-place and ``out=`` calls, and calls
that pass ``dtype=``, are left alone, as in PyTorch. Casts go through the ``cast`` op, so gradients
flow back to each parameter in its own dtype.

Cost: nothing when no region is open. The first region (in any thread) wraps the registry's op hook
(``registry._grad_hook``, autograd's recorder) with :func:`_hook`; the last one to close puts the
recorder back. The hook reads this thread's state, so other threads run unchanged.

    >>> import neurarust as nr
    >>> a, b = nr.ones(2, 2), nr.ones(2, 2)
    >>> with nr.autocast("cpu"):
    ...     c = a @ b
    ...     d = nr.cat([c, a])           # "promote" on the CPU: the widest input dtype
    >>> c.dtype, d.dtype, nr.amp.is_autocast_enabled("cpu")
    (neurarust.bfloat16, neurarust.float32, False)
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import threading
import warnings
from typing import Any, Callable

from neurarust import registry
from neurarust.autograd import grad_mode
from neurarust.dtype import DType, as_dtype, bfloat16, float16, float32, float64, promote_types
from neurarust.errors import ArgumentError, AutocastError, SignatureError
from neurarust.tensor import Tensor

# The region dtype when none is given, and the dtypes a region accepts, per device type (PyTorch's).
_DEFAULT_DTYPES: dict[str, DType] = {"cuda": float16, "cpu": bfloat16}
_SUPPORTED: dict[str, tuple[DType, ...]] = {"cuda": (float16, bfloat16), "cpu": (bfloat16, float16)}

# Functions of ``neurarust.nn.functional`` that are no registry entry but that PyTorch autocasts as one
# op (``linear``): name -> classes per device type, filled by :func:`autocast_composite`.
COMPOSITES: dict[str, dict[str, str]] = {}


class _State(threading.local):
    """This thread's autocast state."""

    def __init__(self):
        self.enabled: dict[str, bool] = {}
        self.dtypes: dict[str, DType] = dict(_DEFAULT_DTYPES)
        self.active: tuple[tuple[str, DType], ...] = ()   # (device type, dtype) of enabled regions
        self.cache_enabled = True
        self.nesting = 0          # open regions, enabled or not: the cast cache lives as long as they do
        self.cache: dict[tuple[int, DType], tuple[Tensor, Tensor]] = {}
        self.busy = False         # inside an autocast op: the ops it calls are not autocast again


_state = _State()
_lock = threading.Lock()
_regions = 0                      # open regions over all threads; the hook is installed while > 0
_previous: Callable | None = None  # the hook ours wraps (autograd's recorder)


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """Whether an enabled autocast region for ``device_type`` is open in this thread.

    >>> import neurarust as nr
    >>> with nr.autocast("cpu"):
    ...     inside = nr.amp.is_autocast_enabled("cpu")
    >>> inside, nr.amp.is_autocast_enabled("cpu")
    (True, False)
    """
    return _state.enabled.get(_check_device(device_type), False)


def get_autocast_dtype(device_type: str) -> DType:
    """The dtype ``"lower"`` ops run in for ``device_type`` in this thread (the default outside regions).

    >>> import neurarust as nr
    >>> nr.amp.get_autocast_dtype("cuda"), nr.amp.get_autocast_dtype("cpu")
    (neurarust.float16, neurarust.bfloat16)
    """
    return _state.dtypes[_check_device(device_type)]


class autocast:  # noqa: N801 - named as torch.autocast
    """A region (context manager or decorator) where ops run in the dtypes of their autocast class.

    ``dtype`` defaults to this thread's current one (float16 on CUDA, bfloat16 on the CPU); other
    dtypes, or ``"cuda"`` without a GPU, warn and disable the region, as in PyTorch. Regions nest: the
    innermost one (``enabled=False`` too) decides, and leaving it restores the outer state.
    ``cache_enabled`` keeps the low-precision copy of each float32 leaf parameter for the region's
    life, so a weight used twice is cast once.

    >>> import neurarust as nr
    >>> w = nr.ones(2, 2, requires_grad=True)
    >>> @nr.autocast("cpu")
    ... def forward(x):
    ...     return x @ w
    >>> y = forward(nr.ones(1, 2))
    >>> with nr.autocast("cpu", enabled=False):
    ...     z = nr.ones(1, 2) @ w
    >>> y.sum().backward()
    >>> y.dtype, z.dtype, w.grad.dtype
    (neurarust.bfloat16, neurarust.float32, neurarust.float32)
    """

    def __init__(self, device_type: str, dtype: Any = None, enabled: bool = True, cache_enabled: bool | None = None):
        self.device = _check_device(device_type)
        self.fast_dtype = get_autocast_dtype(self.device) if dtype is None else as_dtype(dtype)
        self._enabled = bool(enabled)
        self._cache_enabled = cache_enabled
        self._local = threading.local()  # per thread: the state each entry replaced (a decorator re-enters)
        if self._enabled and self.fast_dtype not in _SUPPORTED[self.device]:
            names = ", ".join(d.name for d in _SUPPORTED[self.device])
            warnings.warn(f"In {self.device} autocast, but the target dtype {self.fast_dtype} is not supported; "
                          f"disabling autocast ({self.device} autocast supports {names})", stacklevel=2)
            self._enabled = False
        if self._enabled and self.device == "cuda":
            from neurarust import cuda

            if not cuda.is_available():
                warnings.warn("device_type 'cuda' was given but CUDA is not available; disabling autocast",
                              stacklevel=2)
                self._enabled = False

    def __enter__(self) -> "autocast":
        state = _state
        saved = self._local.__dict__.setdefault("saved", [])
        saved.append((state.enabled.get(self.device, False), state.dtypes[self.device], state.cache_enabled,
                      state.active))
        state.enabled[self.device] = self._enabled
        state.dtypes[self.device] = self.fast_dtype
        if self._cache_enabled is not None:
            state.cache_enabled = bool(self._cache_enabled)
        state.active = tuple((d, state.dtypes[d]) for d, on in state.enabled.items() if on)
        state.nesting += 1
        _acquire()
        return self

    def __exit__(self, *exc) -> None:
        state = _state
        enabled, dtype, cache_enabled, active = self._local.saved.pop()
        state.enabled[self.device], state.dtypes[self.device] = enabled, dtype
        state.cache_enabled, state.active = cache_enabled, active
        state.nesting -= 1
        if state.nesting == 0:
            state.cache.clear()
        _release()

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def run(*args, **kwargs):
            with self:
                return func(*args, **kwargs)

        return run


@contextlib.contextmanager
def fresh_cast_cache():
    """Within: this thread's casts of parameters are cached afresh, then the region's cache comes back.
    A graph capture runs in it, so that every cast it sees is one it records (a cast cached before
    the capture would enter the graph as a constant, stale once the parameter changes).

    >>> import neurarust as nr
    >>> w = nr.ones(2, requires_grad=True)
    >>> with nr.autocast("cpu"):
    ...     before = w.to(nr.bfloat16)
    ...     with fresh_cast_cache():
    ...         inside = _state.cache
    >>> inside
    {}
    """
    state = _state
    saved, state.cache = state.cache, {}
    try:
        yield
    finally:
        state.cache = saved


def autocast_composite(name: str, **classes: str) -> Callable[[Callable], Callable]:
    """Give a function made of several ops (``nn.functional.linear``) an autocast class of its own, as
    PyTorch has for it: its arguments are cast once and the ops inside run as they are. Outside
    regions the call costs one integer test.

    >>> from neurarust.amp.autocast_mode import COMPOSITES
    >>> import neurarust.nn.functional
    >>> COMPOSITES["linear"]
    {'cuda': 'lower', 'cpu': 'lower'}
    """
    def wrap(fn: Callable) -> Callable:
        COMPOSITES[name] = dict(classes)

        @functools.wraps(fn)
        def run(*args, **kwargs):
            if _regions:
                state = _state
                if state.active and not state.busy:
                    cast = _cast_arguments(name, classes, args, kwargs, state, explicit_dtype=False)
                    if cast is not None:
                        return _run_busy(state, lambda args, kwargs: fn(*args, **kwargs), *cast)
            return fn(*args, **kwargs)

        return run

    return wrap


# -- the hook ---------------------------------------------------------------------------------------
def _hook(op, args: tuple, kwargs: dict):
    """Every op call while some region is open: cast per the op's class, then run it as before."""
    classes = op.autocast
    if classes is not None:
        state = _state
        if state.active and not state.busy and kwargs.get("out") is None and not op.attrs.get("writes_first"):
            cast = _cast_arguments(op.name, classes, args, kwargs, state, _explicit_dtype(op, args, kwargs), op)
            if cast is not None:
                return _run_busy(state, _run, op, *cast)
    return _run(op, args, kwargs)


def _run(op, args: tuple, kwargs: dict):
    previous = _previous
    if previous is None:
        return op.frontend(op, *args, **kwargs)
    return previous(op, args, kwargs)


def _run_busy(state: _State, fn: Callable, *args):
    state.busy = True
    try:
        return fn(*args)
    finally:
        state.busy = False


def _cast_arguments(name: str, classes: dict, args: tuple, kwargs: dict, state: _State,
                    explicit_dtype: bool, op=None) -> tuple | None:
    """``(args, kwargs)`` cast for the first open region whose device has a class, else None."""
    for device_type, low in state.active:
        cls = classes.get(device_type)
        if cls is not None and type(cls) is not str:  # an AutocastWhen: this call's arguments decide
            bound = op.bind(args, kwargs) if op.bind is not None else registry.signature_bind(op, args, kwargs)
            cls = cls.cls if cls.when(bound) else None
        if cls is None:
            continue
        if cls == "banned":
            raise AutocastError(_BANNED.get(name, f"{name} is unsafe to autocast on {device_type}"))
        if explicit_dtype:
            return None
        if cls == "fp32":
            target = float32
        elif cls == "lower":
            target = low
        else:
            target = _widest(low, device_type, (*args, *kwargs.values()))
        cast = functools.partial(_cast, target=target, device_type=device_type, low=low, state=state)
        return tuple(map(cast, args)), {k: cast(v) for k, v in kwargs.items()}
    return None


def _cast(value: Any, target: DType, device_type: str, low: DType, state: _State) -> Any:
    """``value`` in ``target`` when it is a floating, non-float64 tensor on ``device_type`` (lists and
    tuples of tensors element by element)."""
    if isinstance(value, Tensor):
        dt = value._dtype
        if dt is target or not dt.is_floating_point or dt is float64 or value._storage.device.type != device_type:
            return value
        # A cast made with grad mode off has no history: cached, it would cut the weight's gradient
        # from every later use in the region (PyTorch does not cache it either).
        if (target is low and dt is float32 and state.cache_enabled and value._base is None
                and value.requires_grad and value.is_leaf and grad_mode._state.enabled):
            hit = state.cache.get((id(value), target))
            if hit is None or hit[0] is not value:
                hit = state.cache[(id(value), target)] = (value, value.to(target))
            return hit[1]
        return value.to(target)
    if type(value) in (list, tuple) and any(isinstance(v, Tensor) for v in value):
        return type(value)(_cast(v, target, device_type, low, state) for v in value)
    return value


def _widest(low: DType, device_type: str, values: tuple) -> DType:
    """The widest floating dtype among the tensors on ``device_type`` in ``values``, at least ``low``."""
    widest = low
    for value in values:
        items = value if type(value) in (list, tuple) else (value,)
        for v in items:
            if isinstance(v, Tensor) and v._dtype.is_floating_point and v._storage.device.type == device_type:
                widest = promote_types(widest, v._dtype)
    return widest


_DTYPE_AT: dict[str, int] = {}  # op name -> position of its ``dtype`` argument (-1: it has none)


def _explicit_dtype(op, args: tuple, kwargs: dict) -> bool:
    """Whether the call names its result dtype (``sum(x, dtype=...)``): then it is not autocast."""
    at = _DTYPE_AT.get(op.name)
    if at is None:
        names = list(inspect.signature(op.frontend).parameters)[1:]
        at = _DTYPE_AT[op.name] = names.index("dtype") if "dtype" in names else -1
    if at < 0:
        return False
    return kwargs.get("dtype") is not None or (len(args) > at and args[at] is not None)


_BANNED = {
    "binary_cross_entropy": (
        "binary_cross_entropy and BCELoss are unsafe to autocast: their backward can produce gradients "
        "float16 cannot represent. Use binary_cross_entropy_with_logits (BCEWithLogitsLoss), which "
        "combines the sigmoid and the loss and is safe to autocast, or leave the region "
        "(nr.autocast(..., enabled=False)) and cast the inputs to float32."),
}


# -- installing the hook ----------------------------------------------------------------------------
def _acquire() -> None:
    global _regions, _previous
    with _lock:
        if _regions == 0:
            import neurarust.autograd  # noqa: F401 - its recorder goes in first, so ours wraps it

            if registry._grad_hook is not _hook:
                _previous = registry._grad_hook
                registry.set_grad_hook(_hook)
        _regions += 1


def _release() -> None:
    global _regions
    with _lock:
        _regions -= 1
        if _regions == 0 and registry._grad_hook is _hook:
            registry.set_grad_hook(_previous)


def _check_device(device_type: Any) -> str:
    if not isinstance(device_type, str):
        raise SignatureError(f"autocast: device_type must be a string such as 'cuda' or 'cpu', "
                             f"got {type(device_type).__name__}")
    if device_type not in _DEFAULT_DTYPES:
        raise ArgumentError(f"autocast: unsupported device_type {device_type!r}; expected 'cuda' or 'cpu'")
    return device_type
