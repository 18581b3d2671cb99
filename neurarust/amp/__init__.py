"""Automatic mixed precision: ``autocast`` regions and the ``GradScaler``.

``neurarust.amp`` mirrors ``torch.amp``; see docs/amp.md.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "autocast": "neurarust.amp.autocast_mode",
    "is_autocast_enabled": "neurarust.amp.autocast_mode",
    "get_autocast_dtype": "neurarust.amp.autocast_mode",
    "GradScaler": "neurarust.amp.grad_scaler",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'neurarust.amp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
