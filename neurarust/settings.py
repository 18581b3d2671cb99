"""PyTorch's process-wide switches, for code that sets or reads them: anomaly mode, warn-always,
the float32 matmul precision, the inter-op thread count and the deterministic debug mode.

``set_float32_matmul_precision('high')`` or ``('medium')`` lets the Triton matmul take TF32 for
float32 products on the GPU (it sets ``neurarust.kernels.matmul.allow_tf32``; NeuraRust has no
bfloat16-split mode, so 'medium' is TF32 too); the CPU path (NumPy) always multiplies in full float32,
whatever the setting. ``set_num_interop_threads`` records its number only (as ``set_num_threads``,
see :mod:`neurarust.threads`): NeuraRust runs no inter-op thread pool. ``set_warn_always`` is
recorded too: NeuraRust has no warn-once warnings for it to repeat.

    >>> import neurarust as nr
    >>> nr.set_float32_matmul_precision("high"); nr.get_float32_matmul_precision()
    'high'
    >>> nr.set_float32_matmul_precision("highest")
"""
from __future__ import annotations

from . import threads
from .errors import ArgumentError, SignatureError

_PRECISIONS = ("highest", "high", "medium")
_DEBUG_MODES = ("default", "warn", "error")

_state = {"warn_always": False, "precision": "highest", "interop_threads": threads.get_num_threads()}


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise SignatureError(f"{name}() expects a bool, got {type(value).__name__}")
    return value


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on in this thread (``nr.autograd.detect_anomaly``).

    >>> import neurarust as nr
    >>> nr.is_anomaly_enabled()
    False
    """
    from .autograd import anomaly

    return anomaly.is_enabled()


def set_anomaly_enabled(mode: bool, check_nan: bool = True) -> None:
    """Switch anomaly detection on or off for this thread, as ``detect_anomaly`` does for a block:
    nodes keep their forward call's stack, and with ``check_nan`` backward raises at the first
    gradient with NaN or inf.

    >>> import neurarust as nr
    >>> nr.set_anomaly_enabled(True); nr.is_anomaly_enabled()
    True
    >>> nr.set_anomaly_enabled(False)
    """
    from .autograd import anomaly

    anomaly._state.enabled = _flag("set_anomaly_enabled", mode)
    anomaly._state.check_nan = _flag("set_anomaly_enabled", check_nan)


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly mode checks gradients for NaN and inf in this thread (True at first).

    >>> import neurarust as nr
    >>> nr.is_anomaly_check_nan_enabled()
    True
    """
    from .autograd import anomaly

    return anomaly._state.check_nan


def set_warn_always(b: bool) -> None:
    """Whether warnings that warn once (``neurarust.compile``'s graph breaks and cache limit) warn
    every time, as ``torch.set_warn_always``.

    >>> import neurarust as nr
    >>> nr.set_warn_always(True); nr.is_warn_always_enabled()
    True
    >>> nr.set_warn_always(False)
    """
    _state["warn_always"] = _flag("set_warn_always", b)


def is_warn_always_enabled() -> bool:
    """The flag :func:`set_warn_always` last set (False at first).

    >>> import neurarust as nr
    >>> nr.is_warn_always_enabled()
    False
    """
    return _state["warn_always"]


def set_float32_matmul_precision(precision: str) -> None:
    """'highest' (float32 products in full float32, the default), 'high' or 'medium' (TF32 allowed
    in the Triton matmul on the GPU; no change on the CPU path).

    >>> import neurarust as nr
    >>> nr.set_float32_matmul_precision("fast")
    Traceback (most recent call last):
        ...
    neurarust.errors.ArgumentError: set_float32_matmul_precision: expected 'highest', 'high' or 'medium', got 'fast'
    """
    if precision not in _PRECISIONS:
        raise ArgumentError(f"set_float32_matmul_precision: expected 'highest', 'high' or 'medium', got {precision!r}")
    from .kernels import matmul

    matmul.allow_tf32 = precision != "highest"
    _state["precision"] = precision


def get_float32_matmul_precision() -> str:
    """The precision :func:`set_float32_matmul_precision` set; 'highest' while TF32 is not allowed
    (also when ``kernels.matmul.allow_tf32`` was switched off directly).

    >>> import neurarust as nr
    >>> nr.get_float32_matmul_precision()
    'highest'
    """
    from .kernels import matmul

    return _state["precision"] if matmul.allow_tf32 else "highest"


def set_num_interop_threads(num: int) -> None:
    """Record ``num`` (a positive int) as the inter-op thread count; nothing runs on such threads.

    >>> import neurarust as nr
    >>> nr.set_num_interop_threads(0)
    Traceback (most recent call last):
        ...
    neurarust.errors.ArgumentError: set_num_interop_threads: number of threads must be positive, got 0
    """
    if isinstance(num, bool) or not isinstance(num, int) or num <= 0:
        raise ArgumentError(f"set_num_interop_threads: number of threads must be positive, got {num!r}")
    _state["interop_threads"] = num


def get_num_interop_threads() -> int:
    """The number last given to :func:`set_num_interop_threads` (at first, the CPUs this process may use).

    >>> import neurarust as nr
    >>> nr.get_num_interop_threads() >= 1
    True
    """
    return _state["interop_threads"]


def set_deterministic_debug_mode(debug_mode: str | int) -> None:
    """``torch.set_deterministic_debug_mode``: 'default' (0) turns deterministic mode off, 'warn' (1)
    on with ``warn_only=True``, 'error' (2) on (see :func:`neurarust.use_deterministic_algorithms`).

    >>> import neurarust as nr
    >>> nr.set_deterministic_debug_mode("error"); nr.are_deterministic_algorithms_enabled()
    True
    >>> nr.set_deterministic_debug_mode(0); nr.get_deterministic_debug_mode()
    0
    """
    from . import determinism

    if isinstance(debug_mode, str) and debug_mode in _DEBUG_MODES:
        level = _DEBUG_MODES.index(debug_mode)
    elif isinstance(debug_mode, int) and not isinstance(debug_mode, bool) and 0 <= debug_mode <= 2:
        level = debug_mode
    else:
        raise ArgumentError(f"set_deterministic_debug_mode: expected 'default', 'warn', 'error' or 0, 1, 2, "
                            f"got {debug_mode!r}")
    determinism.use_deterministic_algorithms(level > 0, warn_only=level == 1)


def get_deterministic_debug_mode() -> int:
    """0 when deterministic mode is off, 1 when on with ``warn_only``, 2 when on.

    >>> import neurarust as nr
    >>> nr.get_deterministic_debug_mode()
    0
    """
    from . import determinism

    if not determinism.are_deterministic_algorithms_enabled():
        return 0
    return 1 if determinism.is_deterministic_algorithms_warn_only_enabled() else 2
