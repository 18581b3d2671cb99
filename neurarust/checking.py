"""Checking kernels against the oracle: registry samples made tensors, results compared.

The machinery shared by the op test harness (``tests/harness.py``) and ``neurarust check``: a
sample's NumPy arrays become NeuraRust tensors of a dtype (keeping their layout), the reference runs
in float64 on the dtype-rounded inputs, and :func:`compare` measures a result against it with the
entry's tolerance. Nothing here imports torch or Triton::

    >>> import numpy as np
    >>> from neurarust import dtype as dt
    >>> from neurarust.registry import get
    >>> op = get("add")
    >>> sample = next(iter(op.samples(dt.float32)))
    >>> got = nr_call(op, sample, dt.float32, "reference")
    >>> c = compare(got, reference_in_float64(op, sample, dt.float32), *tolerance(op, dt.float32, sample))
    >>> c.ok, c.max_abs < 1e-6
    (True, True)
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import numpy as np

import neurarust as nr
from neurarust import dtype as _dt
from neurarust.kernels.samples import TensorSpec
from neurarust.registry import Op, Sample

# torch.testing.assert_close's defaults.
DEFAULT_TOLERANCES = {
    _dt.float32: (1.3e-6, 1e-5),
    _dt.float64: (1e-7, 1e-7),
    _dt.float16: (1e-3, 1e-5),
    _dt.bfloat16: (1.6e-2, 1e-5),
}


def values_in(arr: np.ndarray, dtype) -> np.ndarray:
    """The sample's values rounded to ``dtype`` (bool arrays stay bool: conditions, masks)."""
    if arr.dtype == bool:
        return arr
    return arr.astype(dtype.np)


def spec_parts(arg) -> tuple:
    """``(values, layout)`` of a sample's tensor argument."""
    if isinstance(arg, TensorSpec):
        return arg.values, arg.layout
    return arg, "contiguous"


def nr_tensor(arg, dtype) -> nr.Tensor:
    """A sample's tensor argument as a NeuraRust CPU tensor of ``dtype``, in the layout it asks for."""
    values, layout = spec_parts(arg)
    arr = values_in(values, dtype)
    if layout == "transposed":
        return nr.from_numpy(np.ascontiguousarray(arr.T)).T
    if layout == "strided":
        wide = np.zeros(arr.shape[:-1] + (arr.shape[-1] * 2,), dtype=arr.dtype)
        wide[..., ::2] = arr
        t = nr.from_numpy(wide)[..., ::2]
        assert not t.is_contiguous() or arr.size <= 1
        return t
    return nr.from_numpy(np.array(arr))


def is_tensor_arg(arg) -> bool:
    return isinstance(arg, (np.ndarray, TensorSpec))


def convert(x, dtype, make: Callable, on_dtype: Callable | None = None):
    """A sample argument made real: arrays through ``make(arg, dtype)`` (lists of them too, for
    cat/stack), DType arguments through ``on_dtype`` when given, anything else as it is."""
    if is_tensor_arg(x):
        return make(x, dtype)
    if isinstance(x, list):
        return [convert(a, dtype, make, on_dtype) for a in x]
    if on_dtype is not None and isinstance(x, _dt.DType):
        return on_dtype(x)
    return x


def maker(device: str = "cpu") -> Callable:
    """``make(arg, dtype)`` for :func:`convert`: NeuraRust tensors on ``device``."""
    if device == "cpu":
        return nr_tensor
    return lambda a, d: nr_tensor(a, d).to(device)


def takes_device(op: Op) -> bool:
    """Whether ``op``'s front end has a ``device=`` argument (creation and random ops).

    >>> from neurarust.registry import get
    >>> takes_device(get("rand")), takes_device(get("add"))
    (True, False)
    """
    return "device" in inspect.signature(op.frontend).parameters


def has_tensor_arg(sample: Sample) -> bool:
    """Whether any argument of ``sample`` becomes a tensor (lists of tensors included).

    >>> has_tensor_arg(Sample((0.0, 1.0, (2,)))), has_tensor_arg(Sample(([np.zeros(2)],)))
    (False, True)
    """
    values = [*sample.args, *sample.kwargs.values()]
    return any(is_tensor_arg(v) or (isinstance(v, list) and any(map(is_tensor_arg, v))) for v in values)


def nr_call(op: Op, sample: Sample, dtype, backend: str, device: str = "cpu"):
    """Run ``op`` on the sample's inputs made ``dtype`` tensors on ``device`` (CUDA always runs Triton).
    A sample with no tensor input (``rand(3, 5)``, ``normal(0.0, 1.0, size)``) gets ``device=`` when the
    op takes one: its result would otherwise be made on the CPU."""
    make = maker(device)
    args = [convert(a, dtype, make) for a in sample.args]
    kwargs = {k: convert(v, dtype, make) for k, v in sample.kwargs.items()}
    if device != "cpu" and not has_tensor_arg(sample) and takes_device(op):
        kwargs.setdefault("device", device)
    if op.kind == "random":  # every backend draws the same numbers from the same seed
        nr.manual_seed(0)
    with nr.backends.using(backend):
        out = op(*args, **kwargs)
    return args[0] if out is None else out


def widened(sample: Sample, dtype) -> Sample:
    """The sample with its floating arrays rounded to ``dtype`` and then held in float64."""
    def up(a):
        if isinstance(a, list):
            return [up(x) for x in a]
        if not is_tensor_arg(a):
            return a
        values, layout = spec_parts(a)
        wide = values if values.dtype == bool else values_in(values, dtype).astype(np.float64)
        return TensorSpec(wide, layout) if layout != "contiguous" else wide

    return Sample(tuple(up(a) for a in sample.args), {k: up(v) for k, v in sample.kwargs.items()}, sample.name)


def reference_in_float64(op: Op, sample: Sample, dtype):
    """The reference evaluated on float64 copies of the (dtype-rounded) inputs: the oracle."""
    if not dtype.is_floating_point or op.kind == "random":  # random ops: the same draws in the same dtype
        return nr_call(op, sample, dtype, "reference")
    return nr_call(op, widened(sample, dtype), _dt.float64, "reference")


def as_numpy(x) -> np.ndarray:
    """A result as a NumPy array (bfloat16 widened to float32; CUDA tensors copied back)."""
    if isinstance(x, nr.Tensor):
        a = x.numpy(force=True)
        return a.astype(np.float32) if x.dtype is _dt.bfloat16 else a
    return np.asarray(x)


def flatten_outputs(x) -> list:
    if isinstance(x, (tuple, list)):
        return [y for item in x for y in flatten_outputs(item)]
    return [x]


def tolerance(op: Op, dtype, sample: Sample, result_dtype=None) -> tuple[float, float]:
    """``(rtol, atol)``: the entry's tolerance for ``dtype``, loosened to the result dtype's default
    when that is coarser (a cast to bfloat16 is judged at bfloat16's precision)."""
    tol = op.tolerances.get(dtype)
    if callable(tol):
        tol = tol(sample)
    tol = tol or DEFAULT_TOLERANCES.get(dtype, (0.0, 0.0))
    out_tol = DEFAULT_TOLERANCES.get(result_dtype)
    if out_tol is not None:
        tol = (max(tol[0], out_tol[0]), max(tol[1], out_tol[1]))
    return tol


def output_tolerance(op: Op, dtype, sample: Sample, actual) -> tuple[float, float]:
    """:func:`tolerance` for the result ``actual`` (its first output's dtype may loosen it)."""
    out_dtype = getattr(flatten_outputs(actual)[0], "dtype", None)
    return tolerance(op, dtype, sample, None if out_dtype is None else _dt.as_dtype(out_dtype))


@dataclass
class Comparison:
    """How far a result is from the oracle: worst absolute and relative errors, and the verdict
    (``problem`` says why it fails; empty when it passes)."""

    max_abs: float = 0.0
    max_rel: float = 0.0
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem

    def worst(self, other: "Comparison") -> "Comparison":
        return Comparison(max(self.max_abs, other.max_abs), max(self.max_rel, other.max_rel),
                          self.problem or other.problem)


def _compare_arrays(a, e, rtol: float, atol: float, to_numpy, signed_zeros: bool) -> Comparison:
    if isinstance(a, bool) or isinstance(e, bool):  # allclose, equal: a Python bool, exactly
        same = type(a) is bool and type(e) is bool and a == e
        return Comparison(problem="" if same else f"{a!r} != {e!r}")
    a_np, e_np = to_numpy(a), to_numpy(e)
    if a_np.shape != e_np.shape:
        return Comparison(problem=f"shape {a_np.shape} != {e_np.shape}")
    if a_np.dtype.kind not in "fc" and e_np.dtype.kind not in "fc":
        wrong = int(np.count_nonzero(a_np != e_np))
        diff = np.abs(a_np.astype(np.float64) - e_np.astype(np.float64)) if a_np.size else np.zeros(0)
        return Comparison(float(diff.max(initial=0.0)), 0.0, f"{wrong} of {a_np.size} values differ" if wrong else "")
    with np.errstate(all="ignore"):
        return _compare_floats(a_np.astype(np.float64), e_np.astype(np.float64), rtol, atol, signed_zeros)


def _compare_floats(a64: np.ndarray, e64: np.ndarray, rtol: float, atol: float, signed_zeros: bool) -> Comparison:
    nan_a, nan_e = np.isnan(a64), np.isnan(e64)
    finite = np.isfinite(a64) & np.isfinite(e64)
    diff = np.abs(a64 - e64, where=finite, out=np.zeros_like(a64))
    rel = np.divide(diff, np.abs(e64), where=finite & (e64 != 0), out=np.zeros_like(a64))
    result = Comparison(float(diff.max(initial=0.0)), float(rel.max(initial=0.0)))
    inf_a, inf_e = np.isinf(a64), np.isinf(e64)
    if np.any(nan_a != nan_e):
        result.problem = f"NaN at {int(np.count_nonzero(nan_a != nan_e))} positions the reference does not have (or misses)"
    elif np.any(inf_a != inf_e) or np.any(a64[inf_a] != e64[inf_e]):
        result.problem = "infinities differ from the reference"
    elif np.any(out := diff > atol + rtol * np.abs(np.where(finite, e64, 0.0))):
        bad = int(np.count_nonzero(out))
        result.problem = f"{bad} of {a64.size} values out of tolerance (rtol={rtol:g}, atol={atol:g})"
    elif signed_zeros:
        zeros = (e64 == 0) & (a64 == 0)  # allclose cannot see the sign of zero
        if np.any(np.signbit(a64[zeros]) != np.signbit(e64[zeros])):
            result.problem = "sign of zero differs from the reference"
    return result


def compare(actual, expected, rtol: float, atol: float, to_numpy: Callable = as_numpy, *,
            signed_zeros: bool = True) -> Comparison:
    """Compare every output of ``actual`` with ``expected`` as ``torch.testing.assert_close`` would
    (NaN where the reference has NaN, equal infinities, ``|a - e| <= atol + rtol * |e|``, and the
    sign of zero unless ``signed_zeros=False``, as for gradients, whose zeros' signs depend on the
    order of accumulation; integer and bool results exactly); errors are measured in float64.

    >>> import neurarust as nr
    >>> c = compare(nr.tensor([1.0, 2.0]), nr.tensor([1.0, 2.5]), 1e-3, 1e-3)
    >>> c.ok, c.max_abs, c.max_rel, c.problem
    (False, 0.5, 0.2, '1 of 2 values out of tolerance (rtol=0.001, atol=0.001)')
    """
    acts, exps = flatten_outputs(actual), flatten_outputs(expected)
    if len(acts) != len(exps):
        return Comparison(problem=f"{len(acts)} outputs vs {len(exps)}")
    result = Comparison()
    for i, (a, e) in enumerate(zip(acts, exps)):
        c = _compare_arrays(a, e, rtol, atol, to_numpy, signed_zeros)
        if c.problem and len(acts) > 1:
            c.problem = f"output {i}: {c.problem}"
        result = result.worst(c)
    return result


class PythonType(str):
    """The "dtype" of a plain Python result (allclose and equal return a bool): its exact type."""

    @property
    def name(self) -> str:
        return str(self)


def result_dtype(x):
    first = flatten_outputs(x)[0]
    if isinstance(first, (bool, int, float)):
        return PythonType(f"python {type(first).__name__}")
    return first.dtype


def result_numel(x) -> int:
    """Elements of the first result; a Python scalar result counts as one."""
    first = flatten_outputs(x)[0]
    return 1 if isinstance(first, (bool, int, float)) else first.numel()


def tensor_args(sample: Sample) -> list:
    """The sample's tensor arguments (inside lists too), in order."""
    args = flatten_outputs(list(sample.args) + list(sample.kwargs.values()))
    return [a for a in args if is_tensor_arg(a)]


def sample_numel(sample: Sample) -> int:
    return max((spec_parts(a)[0].size for a in tensor_args(sample)), default=1)


def sample_shape(sample: Sample) -> str:
    """The shapes of a sample's tensor arguments, as a table shows them: ``[2x3] [3x4]``.

    >>> import numpy as np
    >>> sample_shape(Sample((np.zeros((2, 3)), np.zeros(()), 1.5)))
    '[2x3] []'
    """
    shapes = [spec_parts(a)[0].shape for a in tensor_args(sample)]
    return " ".join("[" + "x".join(map(str, s)) + "]" for s in shapes) or "-"


def grad_inputs(op: Op, args: list, kwargs: dict) -> list:
    """The floating tensors of a call that gradients flow to (named by the entry's ``differentiable``;
    an op that writes its first argument, ``copy_``, differentiates the others)."""
    from neurarust.registry import signature_bind

    bind = op.bind or (lambda a, k: signature_bind(op, a, k))
    bound = bind(tuple(args), dict(kwargs))
    found: list = []
    for name in op.differentiable[1:] if op.attrs.get("writes_first") else op.differentiable or ():
        value = bound.get(name)
        for t in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(t, nr.Tensor) and t.dtype.is_floating_point and all(t is not f for f in found):
                found.append(t)
    return found


def finite(sample: Sample) -> bool:
    """Whether every floating value of the sample is finite (gradients of NaN/inf inputs are moot)."""
    for a in tensor_args(sample):
        values = spec_parts(a)[0]
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            return False
    return True


def output_weights(shapes: list, dtype, seed: int = 0) -> list[np.ndarray]:
    """Random output gradients (uniform in [-1, 1], rounded to ``dtype``, held in float64): the same
    weights for the kernel's backward and the reference's."""
    rng = np.random.default_rng(seed)
    return [values_in(rng.uniform(-1.0, 1.0, tuple(s)), dtype).astype(np.float64) for s in shapes]


def nr_grads(op: Op, sample: Sample, dtype, backend: str, device: str = "cpu", *, weight_dtype=None):
    """Gradients of ``op`` at the sample (inputs made ``dtype`` tensors on ``device``) for the output
    weights of :func:`output_weights`, computed by autograd on ``backend``; ``None`` when the call
    has no floating input or output that gradients flow through."""
    from neurarust import autograd

    make = maker(device)
    args = [convert(a, dtype, make) for a in sample.args]
    kwargs = {k: convert(v, dtype, make) for k, v in sample.kwargs.items()}
    inputs = grad_inputs(op, args, kwargs)
    if not inputs:
        return None
    for t in inputs:
        t.requires_grad_()
    with nr.backends.using(backend):
        out = op(*args, **kwargs)
        outs = [o for o in flatten_outputs(args[0] if out is None else out)
                if isinstance(o, nr.Tensor) and o.dtype.is_floating_point and o.requires_grad]
        if not outs:
            return None
        weights = output_weights([o.shape for o in outs], weight_dtype or dtype)
        weights = [make(w, o.dtype) for w, o in zip(weights, outs)]
        grads = autograd.grad(outs, inputs, weights, allow_unused=True)
    return [g if g is not None else np.zeros(tuple(t.shape)) for g, t in zip(grads, inputs)]


def reference_grads_in_float64(op: Op, sample: Sample, dtype):
    """The oracle's gradients: the reference's backward in float64 on the dtype-rounded inputs."""
    return nr_grads(op, widened(sample, dtype), _dt.float64, "reference", weight_dtype=dtype)
