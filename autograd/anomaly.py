"""Anomaly detection: find the forward op whose backward produced NaN or inf.

Inside ``detect_anomaly()`` every recorded node keeps the stack of its forward call, and backward
checks each gradient it computes; the first non-finite one raises an error naming the node and
showing where its forward op was called. It slows backward (a host check per node): debug only.

    >>> import neurarust as nr
    >>> x = nr.tensor([0.0], requires_grad=True)
    >>> with nr.autograd.detect_anomaly():
    ...     y = x.sqrt() * 0          # d sqrt(x)/dx = inf at 0, and inf * 0 = nan
    ...     try:
    ...         y.sum().backward()
    ...     except RuntimeError as e:
    ...         print(str(e).splitlines()[0])
    Function 'SqrtBackward' returned nan values in its 0th output.
"""
from __future__ import annotations

import os
import threading
import traceback



class _State(threading.local):
    enabled = False   # every thread starts with anomaly detection off
    check_nan = True  # with it on, backward checks each gradient (off: forward traces only)


_state = _State()


def is_enabled() -> bool:
    """Whether this thread is inside ``detect_anomaly()``."""
    return _state.enabled


def checks_gradients() -> bool:
    """Whether backward checks each gradient for NaN and inf (anomaly mode with ``check_nan``)."""
    return _state.enabled and _state.check_nan


class detect_anomaly:
    """Context manager (and decorator) switching anomaly detection on, as ``torch.autograd.detect_anomaly``:
    nodes keep their forward call's stack, and with ``check_nan`` (the default) backward raises at the
    first gradient with NaN or inf.

    >>> import neurarust as nr
    >>> with nr.autograd.detect_anomaly():
    ...     print(nr.autograd.anomaly.is_enabled())
    True
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self._previous = (_state.enabled, _state.check_nan)
        _state.enabled, _state.check_nan = True, self.check_nan

    def __exit__(self, *exc) -> None:
        _state.enabled, _state.check_nan = self._previous

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)

        return wrapper


def _package_dirs() -> tuple[str, ...]:
    import neurarust

    root = os.path.dirname(os.path.dirname(os.path.abspath(neurarust.__file__)))
    return tuple(os.path.join(root, name) + os.sep for name in ("neurarust", "autograd", "kernels", "nn", "optim", "data"))


def forward_trace() -> str:
    """The user's call site of the op being recorded (the frames inside NeuraRust left out)."""
    ours = _package_dirs()
    frames = [f for f in traceback.extract_stack()[:-1] if not os.path.abspath(f.filename).startswith(ours)]
    return "".join(traceback.format_list(frames[-4:]))


def check_gradients(node, grads) -> None:
    """Raise if a gradient ``node`` computed has NaN or inf (called by the engine in anomaly mode)."""
    from neurarust.errors import AutogradError

    for i, g in enumerate(grads):
        if g is None:
            continue
        bad = "nan" if g.isnan().sum().item() else "inf" if g.isinf().sum().item() else None
        if bad:
            where = f"\nThe forward call that created it:\n{node.trace}" if node.trace else ""
            raise AutogradError(f"Function '{node.name()}' returned {bad} values in its {i}th output.{where}")
