"""The int8 Triton kernels of ``kernels/quantized.py``: their launchers and AOT specs.

- ``int8_mm_kernel``: ``C = A @ B`` on int8 tiles with ``tl.dot`` accumulating in int32 (``mma``
  int8 on sm_80, ``wgmma`` on sm_90), and a fused epilogue chosen by ``EPILOGUE``:

  0. the raw int32 accumulator;
  1. dequantize: ``acc * row_scale[m] * col_scale[n] (+ bias[n])`` in float32 (dynamic quantization:
     per-token activation scales, per-output-channel weight scales);
  2. requantize: ``clamp(rint((acc + bias_q[n]) * col_scale[n]) + zero_point)`` to int8, with an int32
     ``bias_q`` (static quantization: the bias and the activation zero point are folded into it on
     the host, and ``col_scale`` is ``in_scale * weight_scale[n] / out_scale``).

- ``quantize_rows_kernel``: dynamic per-token quantization of a ``(M, K)`` float32 matrix, one
  program per row: ``scale = absmax / 127`` (1 for an all-zero row), ``q = rint(x / scale)``.
- ``quantize_kernel`` / ``dequantize_kernel``: affine quantization with per-tensor or per-channel
  ``scale`` and ``zero_point`` over a contiguous ``(outer, C, inner)`` view.

Exactness: every rounding is done as the NumPy reference does it, in float32, with correctly rounded
division (``div_rn``) and a clamp between each product and the rounding, so no fused multiply-add can
change a result: integer outputs match the reference bit for bit.
"""
from __future__ import annotations

import inspect

import neurarust.launch as L
from neurarust import autotune
from neurarust.launch import tl, triton
from neurarust.registry import TuneSpec


@triton.jit
def _rint(x):
    """Round half to even (float32, |x| < 2**22): floor, then the tie goes to the even neighbour."""
    f = tl.floor(x)
    d = x - f
    even = tl.floor(f * 0.5) == f * 0.5
    return tl.where(d > 0.5, f + 1.0, tl.where(d < 0.5, f, tl.where(even, f, f + 1.0)))


@triton.jit
def _to_int(y, zero_point, QMIN: tl.constexpr, QMAX: tl.constexpr):
    """``clamp(rint(y) + zero_point, QMIN, QMAX)`` as int32 (y pre-clamped so the rounding is exact)."""
    y = tl.minimum(tl.maximum(y, -1048576.0), 1048576.0)
    q = _rint(y).to(tl.int32) + zero_point
    return tl.minimum(tl.maximum(q, QMIN), QMAX)


@triton.jit
def int8_mm_kernel(a_ptr, b_ptr, c_ptr, M, N, K,
                   stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
                   row_scale_ptr, stride_rs, col_scale_ptr, stride_cs, bias_ptr, stride_bias, out_zero_point,
                   BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
                   EPILOGUE: tl.constexpr, HAS_BIAS: tl.constexpr):
    pid = tl.program_id(0)
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    num_pid_in_group = GROUP_M * num_pid_n
    first_pid_m = (pid // num_pid_in_group) * GROUP_M
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
    pid_m = first_pid_m + (pid % num_pid_in_group) % group_size_m
    pid_n = (pid % num_pid_in_group) // group_size_m

    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a_ptrs = a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak
    b_ptrs = b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.int32)
    for k in range(0, tl.cdiv(K, BLOCK_K)):
        k_left = K - k * BLOCK_K
        a = tl.load(a_ptrs, mask=(offs_m[:, None] < M) & (offs_k[None, :] < k_left), other=0)
        b = tl.load(b_ptrs, mask=(offs_k[:, None] < k_left) & (offs_n[None, :] < N), other=0)
        acc = tl.dot(a, b, acc, out_dtype=tl.int32)
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk

    c_ptrs = c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn
    c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    if EPILOGUE == 0:
        tl.store(c_ptrs, acc, mask=c_mask)
    elif EPILOGUE == 1:
        rs = tl.load(row_scale_ptr + offs_m * stride_rs, mask=offs_m < M, other=0.0)
        cs = tl.load(col_scale_ptr + offs_n * stride_cs, mask=offs_n < N, other=0.0)
        y = acc.to(tl.float32) * rs[:, None] * cs[None, :]
        if HAS_BIAS:
            y += tl.load(bias_ptr + offs_n * stride_bias, mask=offs_n < N, other=0.0)[None, :]
        tl.store(c_ptrs, y, mask=c_mask)
    else:
        if HAS_BIAS:
            acc += tl.load(bias_ptr + offs_n * stride_bias, mask=offs_n < N, other=0)[None, :]
        cs = tl.load(col_scale_ptr + offs_n * stride_cs, mask=offs_n < N, other=0.0)
        q = _to_int(acc.to(tl.float32) * cs[None, :], out_zero_point, -128, 127)
        tl.store(c_ptrs, q.to(tl.int8), mask=c_mask)


@triton.jit
def quantize_rows_kernel(x_ptr, q_ptr, scale_ptr, K, stride_xm, stride_xk, stride_qm, stride_qk,
                         BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    x_row = x_ptr + row * stride_xm
    q_row = q_ptr + row * stride_qm
    amax = tl.zeros((BLOCK,), tl.float32)
    for start in range(0, K, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        x = tl.load(x_row + offs * stride_xk, mask=offs < K, other=0.0)
        amax = tl.maximum(amax, tl.abs(x))
    absmax = tl.max(amax, axis=0)
    scale = tl.where(absmax > 0.0, tl.math.div_rn(absmax, 127.0), 1.0)
    tl.store(scale_ptr + row, scale)
    for start in range(0, K, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        x = tl.load(x_row + offs * stride_xk, mask=offs < K, other=0.0)
        q = _to_int(tl.math.div_rn(x, scale), 0, -127, 127)
        tl.store(q_row + offs * stride_qk, q.to(tl.int8), mask=offs < K)


@triton.jit
def quantize_kernel(x_ptr, q_ptr, scale_ptr, zp_ptr, n, C, inner,
                    QMIN: tl.constexpr, QMAX: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    c = (offs // inner) % C
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    inv = tl.math.div_rn(1.0, tl.load(scale_ptr + c, mask=mask, other=1.0))
    zp = tl.load(zp_ptr + c, mask=mask, other=0)
    q = _to_int(x * inv, zp, QMIN, QMAX)
    tl.store(q_ptr + offs, q.to(tl.int8), mask=mask)


@triton.jit
def dequantize_kernel(q_ptr, x_ptr, scale_ptr, zp_ptr, n, C, inner, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    c = (offs // inner) % C
    q = tl.load(q_ptr + offs, mask=mask, other=0).to(tl.int32)
    zp = tl.load(zp_ptr + c, mask=mask, other=0)
    s = tl.load(scale_ptr + c, mask=mask, other=1.0)
    tl.store(x_ptr + offs, (q - zp).to(tl.float32) * s, mask=mask)


KERNEL_SOURCE = inspect.getsource(int8_mm_kernel.fn)
INTERPRET_CONFIG = {"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 16, "GROUP_M": 2, "num_warps": 4, "num_stages": 1}
ELEMENTWISE_BLOCK = 1024
ROW_BLOCK = 1024


def _config(m: int, n: int, k: int, group: int, warps: int, stages: int) -> dict:
    return {"BLOCK_M": m, "BLOCK_N": n, "BLOCK_K": k, "GROUP_M": group, "num_warps": warps, "num_stages": stages}


# int8 tiles are half the bytes of fp16 ones, so BLOCK_K 128 fills what 64 does there. Every config
# compiles without spills for sm_80 and sm_90 (128x256 tiles spill on both: the int32 accumulator and
# the int8 operand fragments pass 255 registers).
TUNE = TuneSpec(
    configs=[_config(128, 128, 128, 8, 8, 3), _config(128, 128, 64, 8, 8, 4), _config(64, 128, 128, 8, 4, 4),
             _config(128, 64, 128, 8, 4, 4)],
    default=_config(128, 128, 128, 8, 8, 3),
    key=lambda M, N, K: ("int8", autotune.bucket(M), autotune.bucket(N), autotune.bucket(K)),
)
EPILOGUES = {"int32": 0, "dequantize": 1, "requantize": 2}


def _run_mm(c, a, b, cfg: dict, epilogue: int, row_scale, col_scale, bias, zero_point: int) -> None:
    M, N, K = c.shape[0], c.shape[1], a.shape[1]
    grid = (triton.cdiv(M, cfg["BLOCK_M"]) * triton.cdiv(N, cfg["BLOCK_N"]),)
    dummy = c  # never read when its EPILOGUE/HAS_BIAS branch is off
    rs, cs, bb = (dummy if t is None else t for t in (row_scale, col_scale, bias))
    int8_mm_kernel[grid](
        L.pointer(a), L.pointer(b), L.pointer(c), M, N, K, *a.stride(), *b.stride(), *c.stride(),
        L.pointer(rs), rs.stride(0) if rs.ndim else 0, L.pointer(cs), cs.stride(0) if cs.ndim else 0,
        L.pointer(bb), bb.stride(0) if bb.ndim else 0, zero_point,
        BLOCK_M=cfg["BLOCK_M"], BLOCK_N=cfg["BLOCK_N"], BLOCK_K=cfg["BLOCK_K"], GROUP_M=cfg["GROUP_M"],
        EPILOGUE=epilogue, HAS_BIAS=bias is not None, num_warps=cfg["num_warps"], num_stages=cfg["num_stages"])


def launch_int8_mm(c, a, b, *, epilogue: str = "int32", row_scale=None, col_scale=None, bias=None,
                   zero_point: int = 0) -> None:
    """Write ``a @ b`` (int8 ``(M, K)`` and ``(K, N)``, any strides) into ``c`` ``(M, N)`` through
    ``epilogue`` (see the module docstring); scales and bias are 1-D, stride 0 for one value."""
    if c.numel() == 0:
        return
    mode = EPILOGUES[epilogue]
    with L.on_device(c):
        if L.INTERPRET:
            cfg = INTERPRET_CONFIG
        else:
            M, N, K = c.shape[0], c.shape[1], a.shape[1]
            cfg = autotune.best_config(
                f"int8_mm_{epilogue}", TUNE, TUNE.key(M, N, K),
                lambda cfg: _run_mm(c, a, b, cfg, mode, row_scale, col_scale, bias, zero_point),
                source=KERNEL_SOURCE, device=c._storage.device.index)
        _run_mm(c, a, b, cfg, mode, row_scale, col_scale, bias, zero_point)
    L.count("int8_mm")


def launch_quantize_rows(q, scale, x) -> None:
    """Per-row dynamic quantization of ``x`` ``(M, K)`` into ``q`` (int8) and ``scale`` ``(M,)``."""
    if x.shape[0] == 0:
        return
    block = min(ROW_BLOCK, max(16, triton.next_power_of_2(x.shape[1])))
    with L.on_device(q):
        quantize_rows_kernel[(x.shape[0],)](L.pointer(x), L.pointer(q), L.pointer(scale), x.shape[1], *x.stride(),
                                            *q.stride(), BLOCK=block)
    L.count("quantize_rows")


def launch_quantize(q, x, scale, zero_point, C: int, inner: int, qmin: int, qmax: int) -> None:
    """Affine quantization of contiguous ``x`` into ``q``; channel of element i: ``(i // inner) % C``."""
    n = x.numel()
    if n:
        with L.on_device(q):
            quantize_kernel[(triton.cdiv(n, ELEMENTWISE_BLOCK),)](
                L.pointer(x), L.pointer(q), L.pointer(scale), L.pointer(zero_point), n, C, inner,
                QMIN=qmin, QMAX=qmax, BLOCK=ELEMENTWISE_BLOCK)
    L.count("quantize")


def launch_dequantize(x, q, scale, zero_point, C: int, inner: int) -> None:
    """``(q - zero_point) * scale`` of contiguous int8 ``q`` into float32 ``x``."""
    n = q.numel()
    if n:
        with L.on_device(x):
            dequantize_kernel[(triton.cdiv(n, ELEMENTWISE_BLOCK),)](
                L.pointer(q), L.pointer(x), L.pointer(scale), L.pointer(zero_point), n, C, inner,
                BLOCK=ELEMENTWISE_BLOCK)
    L.count("dequantize")


# ----------------------------------------------------------------------------------------------
# Ahead-of-time compile specs: a handful (the matrix runs twice in CI)
# ----------------------------------------------------------------------------------------------

_MM_ARGS = ["a_ptr", "b_ptr", "c_ptr", "M", "N", "K", "stride_am", "stride_ak", "stride_bk", "stride_bn",
            "stride_cm", "stride_cn", "row_scale_ptr", "stride_rs", "col_scale_ptr", "stride_cs", "bias_ptr",
            "stride_bias", "out_zero_point", "BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M", "EPILOGUE", "HAS_BIAS"]
_MM_OUT = {0: "*i32", 1: "*fp32", 2: "*i8"}


def _mm_spec(cfg: dict, epilogue: int, tag: str) -> "L.AotSpec":
    """Row-major A ``(M, K)``, B read as the transposed weight ``(N, K)`` (``stride_bk`` 1), row-major C."""
    signature = {name: "i32" for name in _MM_ARGS}
    signature.update(a_ptr="*i8", b_ptr="*i8", c_ptr=_MM_OUT[epilogue], row_scale_ptr="*fp32",
                     col_scale_ptr="*fp32", bias_ptr="*i32" if epilogue == 2 else "*fp32")
    constants = {name: cfg[name] for name in ("BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M")}
    constants.update(stride_ak=1, stride_bk=1, stride_cn=1, stride_rs=1, stride_cs=1, stride_bias=1,
                     EPILOGUE=epilogue, HAS_BIAS=epilogue != 0)
    for name in constants:
        signature[name] = "constexpr"
    aligned = tuple(_MM_ARGS.index(n) for n in ("a_ptr", "b_ptr", "c_ptr", "M", "N", "K", "stride_am", "stride_bn",
                                                 "stride_cm"))
    name = (f"int8_mm_{tag}_{cfg['BLOCK_M']}x{cfg['BLOCK_N']}x{cfg['BLOCK_K']}_w{cfg['num_warps']}"
            f"_s{cfg['num_stages']}")
    return L.AotSpec(name, int8_mm_kernel, signature, constants, aligned=aligned, num_warps=cfg["num_warps"],
                     num_stages=cfg["num_stages"])


def _rows_spec() -> "L.AotSpec":
    args = ["x_ptr", "q_ptr", "scale_ptr", "K", "stride_xm", "stride_xk", "stride_qm", "stride_qk", "BLOCK"]
    signature = {name: "i32" for name in args}
    signature.update(x_ptr="*fp32", q_ptr="*i8", scale_ptr="*fp32", stride_xk="constexpr", stride_qk="constexpr",
                     BLOCK="constexpr")
    constants = {"stride_xk": 1, "stride_qk": 1, "BLOCK": ROW_BLOCK}
    aligned = tuple(args.index(n) for n in ("x_ptr", "q_ptr", "K", "stride_xm", "stride_qm"))
    return L.AotSpec("quantize_rows/fp32", quantize_rows_kernel, signature, constants, aligned=aligned)


def _elementwise_spec(kernel, name: str, first: str, second: str) -> "L.AotSpec":
    args = list(inspect.signature(kernel.fn).parameters)
    signature = {a: "i32" for a in args}
    signature.update({args[0]: first, args[1]: second, "scale_ptr": "*fp32", "zp_ptr": "*i32"})
    constants = {"BLOCK": ELEMENTWISE_BLOCK}
    if "QMIN" in args:
        constants.update(QMIN=-128, QMAX=127)
    for a in constants:
        signature[a] = "constexpr"
    aligned = tuple(args.index(a) for a in (args[0], args[1], "n"))
    return L.AotSpec(name, kernel, signature, constants, aligned=aligned)


def aot_specs() -> list:
    """The int8 matmul at its default config in each epilogue, one smaller config, and the three
    quantization kernels."""
    specs = [_mm_spec(TUNE.default, e, tag) for tag, e in EPILOGUES.items()]
    specs.append(_mm_spec(TUNE.configs[1], 1, "dequantize"))
    specs.append(_rows_spec())
    specs.append(_elementwise_spec(quantize_kernel, "quantize/fp32", "*fp32", "*i8"))
    specs.append(_elementwise_spec(dequantize_kernel, "dequantize/fp32", "*i8", "*fp32"))
    return specs
