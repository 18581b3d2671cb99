"""Pytrees for ``neurarust.func``: nested tuples, lists and dicts whose leaves are tensors (or
anything else), flattened to a list of leaves and a :class:`TreeSpec` that rebuilds the structure.

The function transforms take and return pytrees as ``torch.func`` does: ``grad`` of a function of a
dict of parameters is a dict of gradients, ``vmap`` maps over every tensor of a tuple argument.

    >>> from neurarust.func_pytree import tree_flatten, tree_unflatten
    >>> leaves, spec = tree_flatten({"w": 1, "b": (2, [3])})
    >>> leaves, tree_unflatten([10, 20, 30], spec)
    ([1, 2, 3], {'w': 10, 'b': (20, [30])})
"""
from __future__ import annotations

from typing import Any, Callable

from neurarust.errors import ArgumentError

__all__ = ["TreeSpec", "tree_flatten", "tree_unflatten", "tree_map", "broadcast_prefix"]


class TreeSpec:
    """The structure of a pytree: its container type (None for a leaf), the dict keys (or nothing)
    and one spec per child. Two specs are equal when the structures are.

    >>> from neurarust.func_pytree import tree_flatten
    >>> tree_flatten((1, 2))[1] == tree_flatten((3, 4))[1], tree_flatten((1, 2))[1].num_leaves
    (True, 2)
    """

    __slots__ = ("kind", "keys", "children", "num_leaves")

    def __init__(self, kind: type | None, keys: tuple = (), children: tuple = ()):
        self.kind, self.keys, self.children = kind, keys, children
        self.num_leaves = 1 if kind is None else sum(c.num_leaves for c in children)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, TreeSpec) and self.kind is other.kind and self.keys == other.keys
                and self.children == other.children)

    def __hash__(self) -> int:
        return hash((self.kind, self.keys, self.children))

    def __repr__(self) -> str:
        if self.kind is None:
            return "*"
        return f"{self.kind.__name__}({', '.join(map(repr, self.children))})"


def _is_container(tree: Any) -> bool:
    return isinstance(tree, (tuple, list, dict))


def _children(tree: Any) -> tuple[tuple, tuple]:
    """(keys, children) of a container: a dict's keys in insertion order, else no keys."""
    if isinstance(tree, dict):
        return tuple(tree), tuple(tree.values())
    return (), tuple(tree)


def tree_flatten(tree: Any) -> tuple[list, TreeSpec]:
    """The leaves of ``tree`` (depth first, dicts in insertion order) and its structure.

    >>> from neurarust.func_pytree import tree_flatten
    >>> tree_flatten([1, (2, 3)])[0]
    [1, 2, 3]
    """
    leaves: list = []
    return leaves, _flatten_into(tree, leaves)


def _flatten_into(tree: Any, leaves: list) -> TreeSpec:
    if not _is_container(tree):
        leaves.append(tree)
        return TreeSpec(None)
    keys, children = _children(tree)
    return TreeSpec(type(tree), keys, tuple(_flatten_into(c, leaves) for c in children))


def tree_unflatten(leaves: list, spec: TreeSpec) -> Any:
    """The pytree of structure ``spec`` holding ``leaves`` (in :func:`tree_flatten`'s order).

    >>> from neurarust.func_pytree import tree_flatten, tree_unflatten
    >>> tree_unflatten(["a", "b"], tree_flatten({"x": 0, "y": 0})[1])
    {'x': 'a', 'y': 'b'}
    """
    if len(leaves) != spec.num_leaves:
        raise ArgumentError(f"tree_unflatten: the structure holds {spec.num_leaves} leaves, got {len(leaves)}")
    return _build(iter(leaves), spec)


def _build(leaves, spec: TreeSpec) -> Any:
    if spec.kind is None:
        return next(leaves)
    children = [_build(leaves, c) for c in spec.children]
    if spec.kind is dict or issubclass(spec.kind, dict):
        return spec.kind(zip(spec.keys, children))
    if issubclass(spec.kind, tuple) and hasattr(spec.kind, "_fields"):   # a namedtuple
        return spec.kind(*children)
    return spec.kind(children)


def tree_map(fn: Callable[[Any], Any], tree: Any) -> Any:
    """``tree`` with ``fn`` applied to every leaf.

    >>> from neurarust.func_pytree import tree_map
    >>> tree_map(lambda v: v * 2, {"a": (1, 2)})
    {'a': (2, 4)}
    """
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(leaf) for leaf in leaves], spec)


def broadcast_prefix(prefix: Any, tree: Any, what: str) -> list:
    """One value per leaf of ``tree``: ``prefix`` is a pytree matching the top of ``tree``'s
    structure, each of its leaves standing for the whole subtree below it (``vmap``'s ``in_dims``).

    >>> from neurarust.func_pytree import broadcast_prefix
    >>> broadcast_prefix((0, None), ((1, 2), 3), "in_dims")
    [0, 0, None]
    """
    if not _is_container(prefix):
        return [prefix] * tree_flatten(tree)[1].num_leaves
    if type(prefix) is not type(tree):
        raise ArgumentError(f"{what}={prefix!r} does not match the structure of the value it describes "
                            f"({type(tree).__name__})")
    prefix_keys, prefix_children = _children(prefix)
    tree_keys, tree_children = _children(tree)
    if len(prefix_children) != len(tree_children) or (tree_keys and set(prefix_keys) != set(tree_keys)):
        raise ArgumentError(f"{what}={prefix!r} does not match the structure of the value it describes: "
                            f"{len(prefix_children)} entries for {len(tree_children)}")
    if tree_keys:
        prefix_children = tuple(prefix[k] for k in tree_keys)
    out: list = []
    for p, t in zip(prefix_children, tree_children):
        out += broadcast_prefix(p, t, what)
    return out
