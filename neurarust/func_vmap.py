"""``neurarust.func.vmap`` (also ``nr.vmap``): map a function over a dimension of its inputs.

This is the honest version of PyTorch's vmap: no batching rules. The batched function slices every
mapped input along its mapped dim, runs ``func`` once per sample, and stacks each output along its
``out_dims`` entry. Results equal ``torch.func.vmap``'s; the cost is ``batch`` calls of ``func``.
Because every sample is a plain call, anything ``func`` does works inside (data-dependent control
flow, ``.item()``, nested ``vmap``, ``grad``), and gradients flow through the slicing and stacking.

    >>> import neurarust as nr
    >>> dot = lambda a, b: (a * b).sum()
    >>> nr.vmap(dot)(nr.tensor([[1.0, 2.0], [3.0, 4.0]]), nr.tensor([[1.0, 1.0], [0.0, 1.0]])).tolist()
    [3.0, 4.0]
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from neurarust.errors import ArgumentError, SignatureError
from neurarust.tensor import Tensor

from .func_pytree import TreeSpec, broadcast_prefix, tree_flatten, tree_unflatten

__all__ = ["vmap"]

_RANDOMNESS = ("error", "different", "same")


def vmap(func: Callable, in_dims: Any = 0, out_dims: Any = 0, randomness: str = "error", *,
         chunk_size: int | None = None) -> Callable:
    """``func`` mapped over a dim of its inputs: ``vmap(f)(x)[i]`` is ``f(x[i])``.

    ``in_dims`` is an int (or None) for every positional argument, or a tuple with one entry per
    argument, each an int, None (not mapped) or a pytree matching that argument's structure.
    ``out_dims`` places the batch dim in each output the same way (a single entry serves every output;
    None returns an output every sample agrees on, unbatched). Keyword arguments are passed unmapped.
    ``randomness``: ``"error"`` raises if ``func`` draws random numbers, ``"different"`` lets each
    sample draw its own, ``"same"`` replays one draw for every sample. ``chunk_size`` is accepted for
    PyTorch compatibility: samples run one at a time anyway.

    >>> import neurarust as nr
    >>> x = nr.arange(6.0).view(2, 3)
    >>> nr.vmap(lambda row, k: row * k, in_dims=(1, None))(x, 10.0).tolist()
    [[0.0, 30.0], [10.0, 40.0], [20.0, 50.0]]
    >>> nr.vmap(nr.vmap(lambda a: a + 1))(nr.zeros(2, 2)).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    if not callable(func):
        raise SignatureError(f"vmap: func must be callable, got {type(func).__name__}")
    if randomness not in _RANDOMNESS:
        raise ArgumentError(f"vmap: randomness must be one of {list(_RANDOMNESS)}, got {randomness!r}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ArgumentError(f"vmap: chunk_size should be None or a positive integer, got {chunk_size!r}")
    if not isinstance(in_dims, (int, tuple)) and in_dims is not None:
        raise ArgumentError(f"vmap: in_dims must be an int, None or a tuple with one entry per argument, "
                            f"got {type(in_dims).__name__}")

    @functools.wraps(func)
    def batched(*args: Any, **kwargs: Any) -> Any:
        leaves, spec = tree_flatten(args)
        dims = _input_dims(in_dims, args, leaves)
        size = _batch_size(leaves, dims)
        outputs = _run_samples(func, leaves, dims, spec, size, kwargs, randomness)
        return _stack_outputs(outputs, out_dims)

    return batched


def _input_dims(in_dims: Any, args: tuple, leaves: list) -> list:
    """The mapped dim of every argument leaf (None where unmapped), normalised to be non-negative."""
    if isinstance(in_dims, tuple) and len(in_dims) != len(args):
        raise ArgumentError(f"vmap: in_dims={in_dims!r} has {len(in_dims)} entries but the function got "
                            f"{len(args)} positional arguments")
    dims = broadcast_prefix(in_dims, args, "in_dims")
    out = []
    for leaf, d in zip(leaves, dims):
        if d is None:
            out.append(None)
            continue
        if isinstance(d, bool) or not isinstance(d, int):
            raise ArgumentError(f"vmap: every in_dims entry must be an int or None, got {d!r}")
        if not isinstance(leaf, Tensor):
            raise ArgumentError(f"vmap: got in_dim={d} for an input of type {type(leaf).__name__}; only tensors "
                                f"can be mapped over (use None for this input)")
        if not -leaf.ndim <= d < leaf.ndim:
            raise ArgumentError(f"vmap: got in_dim={d} for an input of shape {list(leaf.shape)}; it must lie in "
                                f"[{-leaf.ndim}, {leaf.ndim})")
        out.append(d % leaf.ndim)
    return out


def _batch_size(leaves: list, dims: list) -> int:
    sizes = [leaf.shape[d] for leaf, d in zip(leaves, dims) if d is not None]
    if not sizes:
        raise ArgumentError("vmap: at least one input must be mapped over (every in_dims entry is None or no "
                            "argument is a tensor)")
    if len(set(sizes)) != 1:
        raise ArgumentError(f"vmap: expected all tensors to have the same size in the mapped dimension, got "
                            f"sizes {sizes} for the mapped dimension")
    if sizes[0] == 0:   # func never runs, so the outputs' shapes are unknown
        raise ArgumentError("vmap: cannot map over a dimension of size 0 (func runs once per sample)")
    return sizes[0]


def _run_samples(func: Callable, leaves: list, dims: list, spec: TreeSpec, size: int, kwargs: dict,
                 randomness: str) -> list:
    """``func``'s output for each sample, with the random state handled as ``randomness`` says."""
    start = _rng_states()
    outputs = []
    for b in range(size):
        if randomness == "same":
            _restore_rng(start)
        before = _rng_states() if randomness == "error" else None
        sample = [leaf if d is None else leaf.select(d, b) for leaf, d in zip(leaves, dims)]
        outputs.append(func(*tree_unflatten(sample, spec), **kwargs))
        if before is not None and _rng_states() != before:
            raise ArgumentError("vmap: called a random operation while in randomness='error' mode; pass "
                                "randomness='same' or 'different' to vmap, or draw the random numbers outside it")
    return outputs


def _rng_states() -> dict:
    """Every default generator's (seed, offset): what a random op inside ``func`` would change."""
    from neurarust.random import _defaults

    return {dev: g.get_state().tolist() for dev, g in _defaults.items()}


def _restore_rng(states: dict) -> None:
    from neurarust import tensor, uint8
    from neurarust.random import _defaults

    for dev, state in states.items():
        _defaults[dev].set_state(tensor(state, dtype=uint8))


def _stack_outputs(outputs: list, out_dims: Any) -> Any:
    """The per-sample outputs (one pytree each) stacked leaf by leaf along their out dims."""
    per_sample = [tree_flatten(o) for o in outputs]
    spec = per_sample[0][1]
    if any(s != spec for _, s in per_sample):
        raise ArgumentError(f"vmap: func returned outputs of different structures for different samples "
                            f"({spec} and {next(s for _, s in per_sample if s != spec)})")
    dims = _output_dims(out_dims, outputs[0], spec)
    stacked = [_stack_leaf([leaves[i] for leaves, _ in per_sample], d, i) for i, d in enumerate(dims)]
    return tree_unflatten(stacked, spec)


def _output_dims(out_dims: Any, output: Any, spec: TreeSpec) -> list:
    if spec.kind is None:   # a single output: an int, None or a one-entry tuple, as in PyTorch
        if isinstance(out_dims, tuple) and len(out_dims) == 1:
            return list(out_dims)
        if isinstance(out_dims, (tuple, list, dict)):
            raise ArgumentError(f"vmap: out_dims={out_dims!r} does not match func's single output")
        return [out_dims]
    return broadcast_prefix(out_dims, output, "out_dims")


def _stack_leaf(samples: list, dim: Any, index: int) -> Any:
    from neurarust import stack

    if dim is None:   # returned as it is, if every sample agrees
        if not all(_same(s, samples[0]) for s in samples[1:]):
            raise ArgumentError(f"vmap: out_dims=None for output {index}, but it differs between samples; only "
                                f"an output every sample agrees on can be returned unbatched")
        return samples[0]
    if not all(isinstance(s, Tensor) for s in samples):
        kind = next(type(s).__name__ for s in samples if not isinstance(s, Tensor))
        raise ArgumentError(f"vmap: func must return only tensors where out_dims is not None, got {kind} "
                            f"(output {index})")
    ndim = samples[0].ndim + 1
    if isinstance(dim, bool) or not isinstance(dim, int) or not -ndim <= dim < ndim:
        raise ArgumentError(f"vmap: out_dims entry {dim!r} for output {index} of shape "
                            f"{list(samples[0].shape)} must be an int in [{-ndim}, {ndim})")
    # One sample is unsqueezed: a one-part stack differentiated twice reaches unbind's backward with
    # a single output, which the engine hands over unwrapped.
    return samples[0].unsqueeze(dim % ndim) if len(samples) == 1 else stack(samples, dim % ndim)


def _same(a: Any, b: Any) -> bool:
    from neurarust import equal

    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return equal(a, b)
    return not isinstance(a, Tensor) and not isinstance(b, Tensor) and a == b
