"""``neurarust.nn.utils.stateless``: call a module with other tensors in place of its parameters and
buffers (``functional_call``), so a function of the weights can be differentiated or evaluated
without touching the module::

    >>> import neurarust as nr
    >>> lin = nr.nn.Linear(2, 1)
    >>> w = nr.ones(1, 2, requires_grad=True)
    >>> out = functional_call(lin, {"weight": w, "bias": nr.zeros(1)}, (nr.tensor([[1.0, 2.0]]),))
    >>> out.backward(); out.item(), w.grad.tolist()
    (3.0, [[1.0, 2.0]])
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

from neurarust.errors import ArgumentError

__all__ = ["functional_call"]


def _owner(module, dotted: str):
    """(the submodule holding ``dotted``'s last part, that part's name)."""
    *path, name = dotted.split(".")
    owner = module
    for part in path:
        owner = owner._modules.get(part) if part in owner._modules else None
        if owner is None:
            raise ArgumentError(f"functional_call: {dotted!r} names no submodule of {type(module).__name__}")
    return owner, name


def _members(module) -> list:
    """Every (dotted name, tensor) of the module's parameters and buffers, a shared tensor under each
    of its names."""
    every = lambda m: list(m._parameters.items()) + list(m._buffers.items())  # noqa: E731
    return list(module._named_members(every, remove_duplicate=False))


def _with_tied(members: list, tensors: dict) -> dict:
    """``tensors``, plus each tensor given for one name of a tied weight under its other names."""
    names_of: dict = {}
    for name, t in members:
        names_of.setdefault(id(t), []).append(name)
    targets = dict(tensors)
    for names in names_of.values():
        given = [n for n in names if n in tensors]
        if len({id(tensors[n]) for n in given}) > 1:
            raise ArgumentError(f"functional_call: the tied weights {given} were given different tensors")
        for n in names:
            if given:
                targets.setdefault(n, tensors[given[0]])
    return targets


@contextlib.contextmanager
def _swapped(module, tensors: dict, tie_weights: bool, strict: bool) -> Iterator[None]:
    """``module`` with ``tensors`` standing in for the parameters and buffers they name (tied weights
    swapped together unless ``tie_weights`` is False); put back whatever happens."""
    members = _members(module)
    targets = _with_tied(members, tensors) if tie_weights else dict(tensors)
    known = {name for name, _ in members}
    if strict and set(targets) != known:
        raise ArgumentError(f"functional_call (strict): missing keys {sorted(known - set(targets))}, unexpected "
                            f"keys {sorted(set(targets) - known)}")
    saved = []
    try:
        for dotted, value in targets.items():
            owner, name = _owner(module, dotted)
            store = owner._parameters if name in owner._parameters else owner._buffers if name in owner._buffers \
                else None
            if store is None:
                raise ArgumentError(f"functional_call: {dotted!r} is not a parameter or buffer of the module")
            saved.append((store, name, store[name]))
            store[name] = value
        yield
    finally:
        for store, name, original in reversed(saved):
            store[name] = original


def functional_call(module, parameters_and_buffers: dict, args: Any = None, kwargs: dict | None = None, *,
                    tie_weights: bool = True, strict: bool = False) -> Any:
    """``module(*args, **kwargs)`` with the tensors of ``parameters_and_buffers`` (keys as in
    ``state_dict``) in place of those it names; the module is left as it was, whatever happens.

    >>> import neurarust as nr
    >>> functional_call(nr.nn.Linear(1, 1), {"weight": nr.ones(1, 1), "bias": nr.ones(1)}, nr.ones(1, 1)).item()
    2.0
    """
    if isinstance(parameters_and_buffers, (list, tuple)):
        merged: dict = {}
        for part in parameters_and_buffers:
            for key in part:
                if key in merged:
                    raise ArgumentError(f"functional_call: {key!r} appears in more than one dictionary")
            merged.update(part)
        parameters_and_buffers = merged
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    with _swapped(module, parameters_and_buffers, tie_weights, strict):
        return module(*args, **(kwargs or {}))
