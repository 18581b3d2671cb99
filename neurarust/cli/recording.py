"""``neurarust tune --from-model FILE``: the op calls a model's forward and backward make.

FILE is a Python script that defines ``model`` (anything callable: a ``nn.Module``, a function) and
``example_input`` (a tensor, or a tuple of tensors passed as arguments), and optionally
``loss(output) -> scalar tensor`` (default: the sum of the output). The model and its input are
moved to the GPU, one forward and one backward run, and every registry op called on the way is
recorded as a :class:`~neurarust.registry.Sample` (its tensors copied back as NumPy arrays), so
``tune`` times exactly the shapes the model uses. A model file::

    import neurarust as nr
    model = nr.nn.Sequential(nr.nn.Linear(512, 1024), nr.nn.ReLU(), nr.nn.Linear(1024, 10))
    example_input = nr.randn(256, 512)

Recording wraps the registry's dispatch hook (the one autograd installs), so every op is seen:

    >>> import neurarust as nr
    >>> a, b = nr.ones(2, 3), nr.ones(3, 4)
    >>> with recording() as calls:
    ...     _ = a @ b
    >>> [(op.name, sample_shapes(s), dtype.name) for op, s, dtype in calls]
    [('matmul', [(2, 3), (3, 4)], 'float32')]
"""
from __future__ import annotations

import contextlib
import os
import runpy
from typing import Iterator

import numpy as np

from neurarust import registry
from neurarust.registry import Sample

from .usage import UsageError


def _as_sample_arg(x):
    import neurarust as nr

    if isinstance(x, nr.Tensor):
        return np.asarray(x.detach().numpy(force=True)).astype(np.float64) if x.dtype.is_floating_point \
            else np.asarray(x.detach().numpy(force=True))
    if isinstance(x, (list, tuple)) and any(isinstance(v, nr.Tensor) for v in x):
        return [_as_sample_arg(v) for v in x]
    return x


def _dtype_of(values: list):
    import neurarust as nr

    tensors = [v for v in values if isinstance(v, nr.Tensor)]
    floating = [t for t in tensors if t.dtype.is_floating_point]
    return (floating or tensors)[0].dtype if tensors else None


def sample_shapes(sample: Sample) -> list[tuple]:
    return [a.shape for a in sample.args if isinstance(a, np.ndarray)]


@contextlib.contextmanager
def recording() -> Iterator[list[tuple]]:
    """Record ``(op, sample, dtype)`` for every registry op called in the block (outermost calls
    only; ``dtype`` is the first tensor argument's, floating ones first)."""
    import neurarust.autograd  # noqa: F401 - installs its hook first; ours wraps it

    calls: list[tuple[Op, Sample]] = []
    inner = registry._grad_hook
    depth = [0]

    def hook(op, args, kwargs):
        if depth[0] == 0:
            sample = Sample(tuple(_as_sample_arg(a) for a in args),
                            {k: _as_sample_arg(v) for k, v in kwargs.items() if k != "out"}, op.name)
            calls.append((op, sample, _dtype_of(list(args) + list(kwargs.values()))))
        depth[0] += 1
        try:
            return inner(op, args, kwargs) if inner is not None else op.frontend(op, *args, **kwargs)
        finally:
            depth[0] -= 1

    registry.set_grad_hook(hook)
    try:
        yield calls
    finally:
        registry.set_grad_hook(inner)


def _to(x, device):
    if isinstance(x, (list, tuple)):
        return type(x)(_to(v, device) for v in x)
    return x.to(device) if hasattr(x, "to") else x


def record_model(path: str, device: str = "cuda") -> list[tuple]:
    """The ``(op, sample, dtype)`` calls of one forward and backward of the model defined in ``path``."""
    if not os.path.isfile(path):
        raise UsageError(f"--from-model {path!r}: no such file")
    try:
        space = runpy.run_path(path, run_name="neurarust_tune_model")
    except Exception as e:  # noqa: BLE001
        raise UsageError(f"--from-model {path!r} raised {type(e).__name__}: {e}") from e
    missing = [n for n in ("model", "example_input") if n not in space]
    if missing:
        raise UsageError(f"--from-model {path!r} must define 'model' and 'example_input' (missing: {', '.join(missing)})")
    model, inputs = _to(space["model"], device), _to(space["example_input"], device)
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    loss_fn = space.get("loss") or (lambda out: sum(o.sum() for o in (out if isinstance(out, (tuple, list)) else (out,))))
    with recording() as calls:
        out = model(*inputs)
        loss = loss_fn(out)
        if getattr(loss, "requires_grad", False):
            loss.backward()
    return calls
