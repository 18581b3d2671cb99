"""Value identities for work a reference forward keeps for its backward (conv's patches, attention's
probabilities): kept work may serve a later call only if that call sees the same values.

    >>> import neurarust as nr
    >>> from neurarust.kernels.kept import identity, same
    >>> t = nr.ones(3)
    >>> before = identity(t)
    >>> same(before, identity(t)), same(before, identity(t[1:]))
    (True, False)
    >>> _ = t.add_(1)
    >>> same(before, identity(t))
    False
"""
from __future__ import annotations

import weakref

from neurarust.tensor import Tensor


def identity(t: Tensor | None) -> tuple | None:
    """What makes two calls see the same values of ``t``: the same storage, unwritten since (its
    version), the same view and dtype. None for None."""
    if t is None:
        return None
    return weakref.ref(t._storage), (t._storage.version, t._offset, tuple(t._shape), tuple(t._strides), t._dtype.name)


def same(a: tuple | None, b: tuple | None) -> bool:
    """Whether two identities name the same values (the storage still alive, the same one)."""
    if a is None or b is None:
        return a is b
    return a[1] == b[1] and a[0]() is not None and a[0]() is b[0]()
