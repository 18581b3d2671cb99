"""Tensor layouts, as ``torch.layout``: NeuraRust has dense strided tensors only, so ``strided`` is
the one layout (``Tensor.layout`` is always it).

    >>> import neurarust as nr
    >>> nr.zeros(2).layout
    neurarust.strided
    >>> nr.zeros(2).layout is nr.strided
    True
"""
from __future__ import annotations


class layout:
    """A memory layout of tensors (PyTorch's ``torch.layout``); compared by identity.

    >>> import neurarust as nr
    >>> isinstance(nr.strided, nr.layout), str(nr.strided)
    (True, 'neurarust.strided')
    """

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"neurarust.{self.name}"

    __str__ = __repr__

    def __reduce__(self):
        return (_by_name, (self.name,))


strided = layout("strided")

_LAYOUTS = {"strided": strided}


def _by_name(name: str) -> layout:
    return _LAYOUTS[name]
