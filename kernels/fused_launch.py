"""The host side of generated kernels (``neurarust.compile``'s fusion).

A generated kernel takes the output pointer, one pointer per input, the element count, the last
three sizes of the (at most 4-D, dims merged where strides allow) iteration space, and 4 strides per
tensor (0 along broadcast dims); it is the one elementwise kernel's strided walk with several scalar
functions in place of one. This module launches such a kernel and describes it for the
ahead-of-time compile check; nothing here knows graphs. A product's group is not a kernel of its
own: it is the ``EPILOGUE`` function the matmul kernel applies to each tile (:func:`launch_product`).
"""
from __future__ import annotations

import neurarust.launch as L
from neurarust import shape as _sh
from neurarust.launch import tl, triton

MAX_DIMS = 4
BLOCK = 1024


def launch_fused(kernel, out, inputs, *, block: int = BLOCK) -> None:
    """Run a generated kernel writing ``out`` from ``inputs`` (broadcastable to ``out.shape``)."""
    n = out.numel()
    if n == 0:
        return
    from .elementwise_triton import collapsed, padded_4d

    shape = out.shape
    cshape, cstrides = collapsed(out, inputs)
    if len(cshape) > MAX_DIMS:   # dims that cannot merge: walk the leading one on the host
        expanded = [t.expand(shape) for t in inputs]
        for i in range(shape[0]):
            launch_fused(kernel, out[i], [t[i] for t in expanded], block=block)
        return
    dims, padded = padded_4d(cshape, cstrides)
    idx = L.index_dtype(dims, *padded)
    flat = [s for st in padded[1:] for s in st]
    with L.on_device(out):
        kernel[(triton.cdiv(n, block),)](
            L.pointer(out), *[L.pointer(t) for t in inputs], n, dims[1], dims[2], dims[3], *padded[0], *flat,
            IDX=idx, BLOCK=block, num_warps=8 if idx == tl.int64 else 4)
    L.count("fused")


def aot_specs(kernel, input_dtypes: list[str], out_dtype: str) -> list[L.AotSpec]:
    """The compile-check jobs of one generated kernel: int32 and int64 offsets."""
    from neurarust import dtype as _dt

    specs = []
    for idx, scalar in ((tl.int32, "i32"), (tl.int64, "i64")):
        pointers = {"out_ptr": "*" + _dt.as_dtype(out_dtype).triton_name}
        pointers.update({f"x{i}_ptr": "*" + _dt.as_dtype(d).triton_name for i, d in enumerate(input_dtypes)})
        constants = {"IDX": idx, "BLOCK": BLOCK}
        signature = {a: "constexpr" if a in constants else pointers.get(a, scalar) for a in kernel.arg_names}
        specs.append(L.AotSpec(f"fused/{scalar}", kernel, signature, constants,
                               aligned=tuple(range(len(pointers))), num_warps=8 if idx == tl.int64 else 4))
    return specs


def launch_product(epilogue, out, inputs, norm=None) -> None:
    """``out = epilogue(inputs[0] @ inputs[1], *inputs[2:])``, one matmul kernel launch: the product's
    operands follow matmul's rules (a stack of matrices times one matrix), the other inputs broadcast
    to ``out``; ``norm`` (a ``RowNorm``) also normalizes ``out``'s rows in the same launch."""
    from neurarust import registry
    from neurarust.kernels import matmul as mm
    from neurarust.kernels.matmul_triton import launch

    a, b, extras = inputs[0], inputs[1], inputs[2:]
    batch, M, K, N, _ = mm.plan("matmul", a.shape, b.shape)
    launch(out, a.expand(*batch, M, K), b.expand(*batch, K, N), tune=registry.get("matmul").tune,
           allow_tf32=mm.allow_tf32, fused=(epilogue, [t.expand(out.shape) for t in extras]), norm=norm)


def launch_product_norm(epilogue, z, y, mean, rstd, inputs, params, norm: dict) -> None:
    """:func:`launch_product` into ``z`` that also normalizes each row of ``z`` (``norm``: ``rms``,
    ``eps``, and whether ``params`` hold a ``weight`` and a ``bias``) into ``y``, ``mean`` (None for
    rms_norm) and ``rstd``: still one matmul kernel launch."""
    from neurarust.kernels.matmul_triton import RowNorm

    weight = params[0] if norm["weight"] else None
    bias = params[-1] if norm["bias"] else None
    launch_product(epilogue, z, inputs, RowNorm(y, mean, rstd, weight, bias, norm["eps"], norm["rms"]))


def launch_product_norm_grad(epilogue, dx, partials, inputs, norm_inputs, norm: dict) -> None:
    """:func:`launch_product` whose result is the incoming gradient of a layer_norm backward
    (``norm["rms"]``: rms_norm), taken in the same launch: ``dx`` receives the norm's input gradient
    and ``partials`` each program's column sums of the weight's and the bias's gradients (see
    ``RowNormGrad``). ``norm_inputs`` are the norm's input, its mean (not for rms_norm), rstd and
    weight (when ``norm["weight"]``)."""
    from neurarust.kernels.matmul_triton import RowNormGrad

    rows = tuple(dx.shape[:-1]) + (1,)
    given = iter(norm_inputs)
    x = next(given)
    mean = None if norm["rms"] else next(given).reshape(rows)
    rstd = next(given).reshape(rows)
    weight = next(given) if norm["weight"] else None
    launch_product(epilogue, dx, inputs, RowNormGrad(x, mean, rstd, weight, partials, norm["rms"]))


def product_aot_specs(epilogue, dtype: str, extras: list[str], out_dtype: str, norm: tuple | None = None,
                      width: int = 0) -> list[L.AotSpec]:
    """The compile-check job of a product's epilogue: the matmul kernel at its default config (with
    ``norm = (rms, weight dtype, bias dtype)``, or ``(rms, weight dtype, None, True)`` for a norm's
    backward: at the config that spans rows of ``width``)."""
    from neurarust import dtype as _dt
    from neurarust import registry
    from neurarust.kernels.matmul_triton import aot_spec, fit_config, norm_config

    itemsize = _dt.as_dtype(dtype).itemsize
    if norm is not None:   # sized as the launch sizes it: by the output's dtype
        cfg = norm_config(width, _dt.as_dtype(out_dtype).itemsize)
        tag = "_fused_norm_grad" if len(norm) > 3 and norm[3] else "_fused_norm"
        return [aot_spec(dtype, cfg, tag=tag, fused=(epilogue, extras, out_dtype, norm))]
    cfg = fit_config(registry.get("matmul").tune.default, itemsize, epilogue=True)
    return [aot_spec(dtype, cfg, tag="_fused", fused=(epilogue, extras, out_dtype))]


def launch_row_reduction(kernel, out, inputs, shape: tuple, *rest) -> None:
    """A generated row reduction: each of the ``prod(shape[:-1])`` rows of the inputs (broadcast to
    ``shape``) is computed and reduced by one program into ``out`` (contiguous, one value per row;
    ``rest`` are further kernel arguments). The row index is split over up to three row dims (merged
    where every input allows), so permuted inputs (attention's heads) are read in place; inputs
    needing more are copied first."""
    shape = tuple(shape)
    n = shape[-1]
    rows = _sh.numel(shape[:-1])
    if rows == 0:
        return
    strides = [_sh.broadcast_strides(t.shape, t.stride(), shape) for t in inputs]
    lead, merged = _sh.collapse_dims(shape[:-1] or (1,), *[st[:-1] or (0,) for st in strides])
    if len(lead) > 3:                          # rows that need more than three strides: make them one
        inputs = [t.expand(shape).contiguous() for t in inputs]
        strides = [t.stride() for t in inputs]
        lead, merged = _sh.collapse_dims(shape[:-1] or (1,), *[st[:-1] or (0,) for st in strides])
    pad = 3 - len(lead)
    lead = [1] * pad + list(lead)
    flat = [s for m, st in zip(merged, strides) for s in [0] * pad + list(m) + [st[-1]]]
    block = min(triton.next_power_of_2(max(n, 1)), 1024)
    idx = L.index_dtype(shape, *[t.stride() for t in inputs]) if inputs else tl.int32
    with L.on_device(out):
        kernel[(rows,)](L.pointer(out), *[L.pointer(t) for t in inputs], rows, n, lead[1], lead[2], *flat,
                        *rest, IDX=idx, BLOCK=block, num_warps=4)
    L.count("fused")


def launch_row_softmax(kernel, out, inputs, shape: tuple) -> None:
    """A generated row softmax: as :func:`launch_row_reduction`, each row written whole into ``out``
    (contiguous, ``shape``)."""
    launch_row_reduction(kernel, out, inputs, shape, shape[-1])


def row_reduction_aot_specs(kernel, input_dtypes: list[str], out_dtype: str) -> list[L.AotSpec]:
    """The compile-check jobs of a generated row reduction: int32 and int64 offsets."""
    from neurarust import dtype as _dt

    specs = []
    for idx, scalar in ((tl.int32, "i32"), (tl.int64, "i64")):
        pointers = {"out_ptr": "*" + _dt.as_dtype(out_dtype).triton_name}
        pointers.update({f"x{i}_ptr": "*" + _dt.as_dtype(d).triton_name for i, d in enumerate(input_dtypes)})
        constants = {"IDX": idx, "BLOCK": 1024}
        signature = {a: "constexpr" if a in constants else pointers.get(a, scalar) for a in kernel.arg_names}
        specs.append(L.AotSpec(f"row_reduction/{scalar}", kernel, signature, constants,
                               aligned=tuple(range(len(pointers))), num_warps=4))
    return specs


def launch_group(kernel, outs, inputs, grid: tuple[int, int], product: bool = False) -> None:
    """A generated horizontal kernel: ``grid = (blocks, pieces)``, one program row per piece; its
    sizes and strides are literals in its source (inputs contiguous, outputs fresh). A grouped
    product takes matmul's precision setting (``PRECISION``: tf32 when allowed)."""
    if not grid[0] or not grid[1]:
        return
    extra = {}
    if product:
        from neurarust.kernels import matmul as mm

        extra["PRECISION"] = "tf32" if mm.allow_tf32 and not L.INTERPRET else "ieee"
    with L.on_device(outs[0]):
        kernel[grid](*[L.pointer(t) for t in outs], *[L.pointer(t) for t in inputs], num_warps=4, **extra)
    L.count("fused")


def group_aot_specs(kernel, out_dtypes: list[str], input_dtypes: list[str]) -> list[L.AotSpec]:
    """The compile-check job of a generated horizontal kernel."""
    from neurarust import dtype as _dt

    names = [f"out{i}_ptr" for i in range(len(out_dtypes))] + [f"x{i}_ptr" for i in range(len(input_dtypes))]
    types = ["*" + _dt.as_dtype(d).triton_name for d in [*out_dtypes, *input_dtypes]]
    signature, constants = dict(zip(names, types)), {}
    if "PRECISION" in kernel.arg_names:
        signature["PRECISION"], constants["PRECISION"] = "constexpr", "ieee"
    return [L.AotSpec("group", kernel, signature, constants, aligned=tuple(range(len(names))), num_warps=4)]
