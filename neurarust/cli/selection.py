"""Which registry entries and dtypes a ``check`` or ``tune`` run covers (``--ops``, ``--dtypes``).

    >>> [op.name for op in select_ops("add,mm")], [d.name for d in parse_dtypes("float16, bfloat16")]
    (['add', 'mm'], ['float16', 'bfloat16'])
"""
from __future__ import annotations

from neurarust import dtype as _dt
from neurarust.errors import DTypeError
from neurarust.registry import Op, all_ops

from .usage import UsageError, split_list


def select_ops(names: str | None) -> list[Op]:
    """The entries named in the comma list ``names`` (every entry when empty), in the list's order;
    an unknown name is a :class:`UsageError` that names it."""
    ops = {op.name: op for op in all_ops(generated=True)}
    wanted = split_list(names)
    if not wanted:
        return list(ops.values())
    unknown = [n for n in wanted if n not in ops]
    if unknown:
        raise UsageError(f"no op named {', '.join(map(repr, unknown))} in the registry "
                         f"(see docs/ops.md for the {len(ops)} ops, or load yours with --plugin)")
    return [ops[n] for n in dict.fromkeys(wanted)]


def parse_dtypes(names: str | None) -> list[_dt.DType] | None:
    """The dtypes of the comma list ``names`` (``None`` when empty: each op's own dtypes)."""
    try:
        return [_dt.as_dtype(n) for n in split_list(names)] or None
    except DTypeError as e:
        raise UsageError(str(e)) from e
