"""Your own op: a Triton kernel, its NumPy reference and its derivative, as one registry entry.

The op is ``softsign(x) = x / (1 + |x|)``. Importing this file registers it, so it is a plugin for
``neurarust check`` (and ``neurarust tune``)::

    neurarust check --plugin examples/custom_kernel.py --ops softsign --grad

Run as a script, it registers the op, uses it, and checks it the same way::

    python examples/custom_kernel.py

Without a GPU the kernel runs in Triton's interpreter on CPU tensors (needs torch and triton:
``pip install -e ".[gpu]"``).
"""
from __future__ import annotations

import sys

import numpy as np

import neurarust as nr
from neurarust import backends, registry
from neurarust import launch  # sets up Triton (the interpreter when there is no GPU); imports it
from neurarust.dtype import bfloat16, float16, float32, float64
from neurarust.errors import DTypeError, SignatureError
from neurarust.kernels.samples import TensorSpec
from neurarust.registry import ErrorInput, Op, Sample
from neurarust.tensor import Tensor

import triton  # noqa: E402  (after neurarust.launch)
import triton.language as tl  # noqa: E402

NAME = "softsign"
BLOCK = 1024


# 1. The kernel: each program loads BLOCK elements, computes in fp32 (fp64 for fp64), stores.
@triton.jit
def softsign_kernel(x_ptr, y_ptr, n, COMPUTE: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(COMPUTE)
    y = x / (1.0 + tl.abs(x))
    tl.store(y_ptr + offs, y.to(y_ptr.dtype.element_ty), mask=mask)


def launch_softsign(out: Tensor, x: Tensor) -> None:
    """Launch the kernel on contiguous ``x`` into ``out`` (same shape and dtype)."""
    n = x.numel()
    if n == 0:
        return
    compute = launch.TL_DTYPES["float64" if x.dtype is float64 else "float32"]
    with launch.on_device(out):
        softsign_kernel[(triton.cdiv(n, BLOCK),)](launch.pointer(x), launch.pointer(out), n, COMPUTE=compute,
                                                  BLOCK=BLOCK)
    launch.count(NAME)


# 2. The NumPy reference: the CPU path, and the oracle the kernel is checked against (in float64).
def softsign_reference(x: np.ndarray) -> np.ndarray:
    return x / (1 + np.abs(x))


# 3. The front end: checks the call, then runs the reference or the kernel.
def softsign(op: Op, input: Tensor) -> Tensor:
    """softsign(input) -> Tensor

    ``input / (1 + |input|)``, elementwise.

        >>> import neurarust as nr
        >>> nr.softsign(nr.tensor([-3.0, 0.0, 1.0])).tolist()
        [-0.75, 0.0, 0.5]
    """
    if not isinstance(input, Tensor):
        raise SignatureError(f"softsign(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if input.dtype not in op.dtypes:
        raise DTypeError(f"softsign: expected a floating tensor, got {input.dtype.name}")
    x = input.contiguous()
    if backends.for_device(x.device) == "reference":
        arr = x.detach().numpy()           # autograd records the call; the front end computes values
        wide = arr.astype(np.float32) if arr.dtype.itemsize == 2 else arr
        result = backends.run_reference(op.reference, wide)
        return nr.from_numpy(np.asarray(result).astype(arr.dtype))   # astype: a new C-contiguous array
    out = nr.empty(tuple(x.shape), dtype=x.dtype, device=x.device)
    op.launcher()(out, x)
    return out


# 4. The derivative, written with NeuraRust ops (so it is differentiable too).
def softsign_backward(grad: Tensor, input: Tensor) -> tuple[Tensor]:
    d = 1 + input.abs()
    return (grad / (d * d),)


# 5. Samples the checks run (a transposed view and edge values included) and calls that must fail.
def samples(dtype):
    rng = np.random.default_rng(0)
    yield Sample((rng.standard_normal((3, 5)) * 4,), name="random")
    yield Sample((TensorSpec(rng.standard_normal((4, 6)), "transposed"),), name="transposed")
    yield Sample((np.array([0.0, -0.0, 1e-3, -1e3, 6e4]),), name="edges")
    yield Sample((rng.standard_normal(3000),), name="several blocks")
    yield Sample((np.array(2.0),), name="0-d")


def error_inputs():
    yield ErrorInput(Sample((np.arange(3),)), DTypeError, "floating")


def register() -> Op:
    """Register the entry once (importing this file twice, as a script and as a plugin, is fine)."""
    if NAME in registry.OPS:
        return registry.OPS[NAME]
    op = Op(name=NAME, kind="elementwise", frontend=softsign, reference=softsign_reference,
            triton=f"{__name__}:launch_softsign", dtypes=(float32, float16, bfloat16, float64), samples=samples,
            error_inputs=error_inputs, method=True, torch_name=lambda x: x / (1 + x.abs()),
            backward=softsign_backward, differentiable=("input",),
            cost=lambda s: (2 * 4 * np.asarray(getattr(s.args[0], "values", s.args[0])).size,
                            3 * np.asarray(getattr(s.args[0], "values", s.args[0])).size))
    op._launcher = launch_softsign        # this module may run as __main__: no import by name
    return registry.register(op)


register()


def main(argv: list[str]) -> int:
    x = nr.tensor([-3.0, 0.0, 1.0], requires_grad=True)
    with nr.backends.using("triton"):      # the kernel (interpreted on CPU tensors without a GPU)
        y = nr.softsign(x)
    y.sum().backward()
    print(f"softsign({x.tolist()}) = {y.tolist()}; gradient {x.grad.tolist()}")
    from neurarust.cli import main as neurarust

    return neurarust(["check", "--ops", NAME, "--grad", *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
