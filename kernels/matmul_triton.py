"""The matmul Triton kernel (blocked, as in Triton's matmul tutorial), its launcher and AOT specs.

Each program computes one ``BLOCK_M x BLOCK_N`` tile of ``C = A @ B`` for one batch entry:

1. ``program_id(0)`` picks the tile, in *grouped* order: ``GROUP_M`` consecutive programs walk down
   a column of tiles before moving right, so the A rows and B columns they share stay in L2;
2. ``program_id(1)`` picks the batch entry (a broadcast batch dim has stride 0);
3. the K loop loads ``BLOCK_K``-wide slabs of A and B (masked at every edge, zeros beyond), and
   accumulates ``tl.dot`` products in fp32 (fp64 for fp64 inputs);
4. the tile is stored converted to C's dtype; ``addmm``-style calls first scale it, ``alpha * acc``,
   and add ``beta * X`` (``X`` broadcast to C through stride-0 views; skipped when ``beta == 0``, so
   NaN in X does not leak, as in PyTorch). ``alpha``/``beta`` are read from 0-d tensors of the
   accumulator's dtype: runtime values, exact in fp64, no recompile per value;
5. a *fused epilogue* (``neurarust.compile`` generates it: bias, activation, residual, cast) is a
   ``@jit`` function ``EPILOGUE(acc, e0, e1, e2, e3)`` applied to the tile before the store, with up
   to four more tiles loaded from tensors broadcast to C (``NUM_E`` of them);
6. when one tile spans whole rows of C (``BLOCK_N >= N``), ``NORM`` also normalizes them as a
   following ``layer_norm`` (1) or ``rms_norm`` (2) would read C, writing the output and the per-row
   mean and rstd (``neurarust.compile`` fuses a norm of a product this way: C is written once, never
   read back); or (-1, -2) takes the tile as the incoming gradient of that norm's backward: C
   receives the norm's input gradient instead, and each program writes its row of the weight and
   bias gradients' partial sums (the product's result is never written at all).

Strides are arbitrary, so transposed and sliced operands need no copy. Offsets are int64 when some
operand reaches past 2**31 elements (``IDX``). Under the interpreter, fp16/bf16 tiles are widened to
fp32 before ``tl.dot`` (``UPCAST``): the interpreter's bf16 dot multiplies raw bits.
"""
from __future__ import annotations

import inspect
import itertools

import neurarust.launch as L
from neurarust import autotune
from neurarust import dtype as _dt
from neurarust import shape as _sh
from neurarust.kernels.norm_triton import norm_backward_rows, normalize_rows
from neurarust.launch import tl, triton
from neurarust.registry import TuneSpec


@triton.jit
def no_epilogue(acc, e0, e1, e2, e3):
    return acc


@triton.jit
def _tile(ptr, batch, stride_b, stride_m, stride_n, offs_m, offs_n, mask):
    return tl.load(ptr + batch * stride_b + offs_m[:, None] * stride_m + offs_n[None, :] * stride_n, mask=mask)


@triton.jit
def matmul_kernel(a_ptr, b_ptr, c_ptr, M, N, K,
                  stride_ab, stride_am, stride_ak,
                  stride_bb, stride_bk, stride_bn,
                  stride_cb, stride_cm, stride_cn,
                  x_ptr, alpha_ptr, beta_ptr, stride_xb, stride_xm, stride_xn,
                  e0_ptr, e1_ptr, e2_ptr, e3_ptr, e0_b, e0_m, e0_n, e1_b, e1_m, e1_n, e2_b, e2_m, e2_n,
                  e3_b, e3_m, e3_n,
                  y_ptr, nw_ptr, nb_ptr, mean_ptr, rstd_ptr, stride_yb, stride_ym, stride_yn, stride_sb, stride_sm,
                  stride_pb, stride_pm, eps,
                  BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                  GROUP_M: tl.constexpr, PRECISION: tl.constexpr, ACC: tl.constexpr,
                  UPCAST: tl.constexpr, IDX: tl.constexpr, SCALE: tl.constexpr, HAS_INPUT: tl.constexpr,
                  EPILOGUE: tl.constexpr = no_epilogue, NUM_E: tl.constexpr = -1, NORM: tl.constexpr = 0,
                  HAS_NW: tl.constexpr = False, HAS_NB: tl.constexpr = False):
    pid = tl.program_id(0)
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    num_pid_in_group = GROUP_M * num_pid_n
    first_pid_m = (pid // num_pid_in_group) * GROUP_M
    # The last group may be shorter than GROUP_M.
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
    pid_m = first_pid_m + (pid % num_pid_in_group) % group_size_m
    pid_n = (pid % num_pid_in_group) // group_size_m
    batch = tl.program_id(1).to(IDX)

    offs_m = pid_m.to(IDX) * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n.to(IDX) * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a_ptrs = a_ptr + batch * stride_ab + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak
    b_ptrs = b_ptr + batch * stride_bb + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn
    # The K step is IDX-typed: BLOCK_K * stride may pass int32 even where each offset does not.
    k_step = tl.full([], BLOCK_K, IDX)

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for k in range(0, tl.cdiv(K, BLOCK_K)):
        k_left = K - k * BLOCK_K
        a = tl.load(a_ptrs, mask=(offs_m[:, None] < M) & (offs_k[None, :] < k_left), other=0.0)
        b = tl.load(b_ptrs, mask=(offs_k[:, None] < k_left) & (offs_n[None, :] < N), other=0.0)
        if UPCAST:
            a = a.to(tl.float32)
            b = b.to(tl.float32)
        acc = tl.dot(a, b, acc, input_precision=PRECISION, out_dtype=ACC)
        a_ptrs += k_step * stride_ak
        b_ptrs += k_step * stride_bk

    c_ptrs = c_ptr + batch * stride_cb + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn
    c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    if SCALE:
        acc = acc * tl.load(alpha_ptr)
        if HAS_INPUT:
            x_ptrs = x_ptr + batch * stride_xb + offs_m[:, None] * stride_xm + offs_n[None, :] * stride_xn
            x = tl.load(x_ptrs, mask=c_mask, other=0.0).to(ACC)
            acc += tl.load(beta_ptr) * x
    if NUM_E >= 0:
        e0 = acc
        e1 = acc
        e2 = acc
        e3 = acc
        if NUM_E >= 1:
            e0 = _tile(e0_ptr, batch, e0_b, e0_m, e0_n, offs_m, offs_n, c_mask)
        if NUM_E >= 2:
            e1 = _tile(e1_ptr, batch, e1_b, e1_m, e1_n, offs_m, offs_n, c_mask)
        if NUM_E >= 3:
            e2 = _tile(e2_ptr, batch, e2_b, e2_m, e2_n, offs_m, offs_n, c_mask)
        if NUM_E >= 4:
            e3 = _tile(e3_ptr, batch, e3_b, e3_m, e3_n, offs_m, offs_n, c_mask)
        acc = EPILOGUE(acc, e0, e1, e2, e3)
    if NORM < 0:  # whole rows of the gradient a norm's backward (-1 layer_norm, -2 rms_norm) reads
        x = _tile(y_ptr, batch, stride_yb, stride_ym, stride_yn, offs_m, offs_n, c_mask).to(tl.float32)
        stats = batch * stride_sb + offs_m * stride_sm
        acc, dw, db = norm_backward_rows(acc.to(c_ptr.dtype.element_ty).to(tl.float32), x, c_mask, N, nw_ptr,
                                         mean_ptr + stats, rstd_ptr + stats, offs_m < M, offs_n, NORM == -2, HAS_NW)
        partial = nb_ptr + batch * stride_pb + pid_m * stride_pm + offs_n   # the tile's own row of partials
        tl.store(partial, dw, mask=offs_n < N)
        tl.store(partial + N, db, mask=offs_n < N)
    tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=c_mask)
    if NORM > 0:  # the tile holds whole rows: normalize them as layer_norm (1) or rms_norm (2) reads C
        z = acc.to(c_ptr.dtype.element_ty).to(tl.float32)
        y, mean, rstd = normalize_rows(z, c_mask, N, nw_ptr, nb_ptr, offs_n, eps, NORM == 2, HAS_NW, HAS_NB)
        y_ptrs = y_ptr + batch * stride_yb + offs_m[:, None] * stride_ym + offs_n[None, :] * stride_yn
        tl.store(y_ptrs, y.to(y_ptr.dtype.element_ty), mask=c_mask)
        stats = batch * stride_sb + offs_m * stride_sm
        if NORM == 1:
            tl.store(mean_ptr + stats, mean, mask=offs_m < M)
        tl.store(rstd_ptr + stats, rstd, mask=offs_m < M)


# Part of the autotune key: editing the kernel invalidates its tuned configs.
KERNEL_SOURCE = inspect.getsource(matmul_kernel.fn)

# Under the interpreter every program costs Python time, not the block size: few, small programs
# keep tests fast, and 16-wide blocks make tiny test shapes cross every tile edge.
INTERPRET_CONFIG = {"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 16, "GROUP_M": 2, "num_warps": 4, "num_stages": 1}

MAX_GRID_Y = 65535            # CUDA's limit on grid dim 1: longer batches launch in chunks
SHARED_BUDGET = 160 * 1024    # bytes; A100 allows ~163 KiB per block, H100 ~227 KiB
# 32-bit accumulator registers per thread before spills loom (ptxas-checked for sm_80 and sm_90):
# fp16/bf16 operands pack two to a register, while fp32 (FMA or TF32) and fp64 operand slabs need
# many registers of their own.
ACC_REGISTERS = {2: 128, 4: 32, 8: 64}
WIDE_BLOCK_K = 32


def fit_config(cfg: dict, itemsize: int, epilogue: bool = False) -> dict:
    """Shrink a config made for 2-byte inputs until it fits wider dtypes: the accumulator and
    operand slabs in registers (halve the larger block, BLOCK_K at most 32), the pipelined slabs in
    shared memory (fewer stages). The addmm ``epilogue`` holds a tile of ``input`` beside the
    accumulator: half the register budget each."""
    cfg = dict(cfg)
    budget = ACC_REGISTERS[itemsize] // (2 if epilogue else 1)
    acc_bytes = 8 if itemsize == 8 else 4
    if itemsize > 2:
        cfg["BLOCK_K"] = min(cfg["BLOCK_K"], WIDE_BLOCK_K)
    threads = 32 * cfg["num_warps"]
    while cfg["BLOCK_M"] * cfg["BLOCK_N"] * acc_bytes // 4 > budget * threads:
        big = "BLOCK_M" if cfg["BLOCK_M"] >= cfg["BLOCK_N"] else "BLOCK_N"
        cfg[big] //= 2

    def shared() -> int:
        return cfg["num_stages"] * (cfg["BLOCK_M"] + cfg["BLOCK_N"]) * cfg["BLOCK_K"] * itemsize

    while shared() > SHARED_BUDGET and cfg["num_stages"] > 1:
        cfg["num_stages"] -= 1
    return cfg


_fitted: dict[tuple, TuneSpec] = {}


def fitted_spec(tune: TuneSpec, itemsize: int, epilogue: bool = False) -> TuneSpec:
    """The entry's configs fitted to a dtype width, duplicates dropped (memoised: a hot path)."""
    spec = _fitted.get((id(tune), itemsize, epilogue))
    if spec is None:
        configs = []
        for cfg in tune.configs:
            if fit_config(cfg, itemsize, epilogue) not in configs:
                configs.append(fit_config(cfg, itemsize, epilogue))
        spec = TuneSpec(configs=configs, default=fit_config(tune.default, itemsize, epilogue), key=tune.key)
        _fitted[(id(tune), itemsize, epilogue)] = spec
    return spec


def _precision(dtype_name: str, allow_tf32: bool, upcast: bool) -> str:
    if dtype_name == "float32" and allow_tf32 and not upcast:
        return "tf32"
    return "ieee"


def _batch_chunks(*views):
    """Yield 3-D versions of ``views`` (``c, a, b`` and maybe the epilogue's ``x``) whose one batch
    dim covers the (broadcast) batch.

    Batch dims that every operand walks evenly merge into one; any left over are looped on the
    host, and batches longer than the grid allows are cut into chunks.
    """
    c = views[0]
    strides = [t.stride()[:-2] for t in views]
    shape, merged = _sh.collapse_dims(c.shape[:-2], *strides)
    if not shape:
        shape, merged = [1], [[0]] * len(views)
    for lead in itertools.product(*(range(s) for s in shape[:-1])):
        for start in range(0, shape[-1], MAX_GRID_Y):
            count = min(MAX_GRID_Y, shape[-1] - start)
            yield tuple(
                t._view((count,) + t.shape[-2:], (st[-1],) + t.stride()[-2:],
                        t._offset + sum(i * s for i, s in zip(lead, st)) + start * st[-1])
                for t, st in zip(views, merged))


def _index_dtype(views):
    big = [L.index_dtype(t.shape, t.stride()) for t in views]
    return tl.int64 if tl.int64 in big else tl.int32


def _run(c, a, b, cfg: dict, precision: str, upcast: bool, epilogue=None, fused=None, norm=None) -> None:
    """Launch the kernel over every batch chunk with one config; ``epilogue`` is ``None`` or
    ``(x, alpha, beta)`` with ``x`` (or None when beta is 0) shaped like ``c`` and 0-d
    ``alpha``/``beta`` tensors; ``fused`` is ``None`` or ``(jit function, tensors shaped like c)``;
    ``norm`` is ``None`` or a :class:`RowNorm` (then ``cfg["BLOCK_N"] >= N``)."""
    M, N, K = c.shape[-2], c.shape[-1], a.shape[-1]
    acc = tl.float64 if c.dtype.name == "float64" else tl.float32
    x, alpha, beta = epilogue or (None, c, c)  # unused pointers: never read when SCALE is off
    fn, extras = fused or (no_epilogue, [])
    outs = norm.outputs() if norm is not None else ()
    views = (c, a, b) + outs + ((x,) if x is not None else ()) + tuple(extras)
    tiles = triton.cdiv(M, cfg["BLOCK_M"]) * triton.cdiv(N, cfg["BLOCK_N"])
    for chunk in _batch_chunks(*views):  # the caller holds L.on_device(c)
        cc, aa, bb = chunk[:3]
        yy, mm, rr = chunk[3:6] if norm is not None else (cc, cc, cc)
        pp = chunk[6] if norm is not None and norm.grad else cc
        xx = chunk[3 + len(outs)] if x is not None else cc
        ee = list(chunk[len(chunk) - len(extras):]) if extras else []
        ee += [cc] * (4 - len(ee))   # unused slots: never read
        nw, nb = (norm.weight, norm.bias) if norm is not None else (None, None)
        c_ptr = L.pointer(cc)        # also every unused pointer slot (made once: launches are a hot path)
        ptr = lambda t: c_ptr if t is cc or t is None else L.pointer(t)  # noqa: E731
        matmul_kernel[(tiles, cc.shape[0])](
            L.pointer(aa), L.pointer(bb), c_ptr, M, N, K,
            *aa.stride(), *bb.stride(), *cc.stride(),
            ptr(xx), L.pointer(alpha), L.pointer(beta), *xx.stride(),
            *[ptr(e) for e in ee], *[s for e in ee for s in e.stride()],
            ptr(yy), ptr(nw), ptr(nb if pp is cc else pp), ptr(mm), ptr(rr), *yy.stride(), *rr.stride()[:2],
            *pp.stride()[:2], float(norm.eps if norm else 0.0),
            NORM=0 if norm is None else norm.mode, HAS_NW=nw is not None, HAS_NB=nb is not None,
            EPILOGUE=fn, NUM_E=len(extras) if fused is not None else -1,
            BLOCK_M=cfg["BLOCK_M"], BLOCK_N=cfg["BLOCK_N"], BLOCK_K=cfg["BLOCK_K"], GROUP_M=cfg["GROUP_M"],
            PRECISION=precision, ACC=acc, UPCAST=upcast, IDX=_index_dtype(chunk),
            SCALE=epilogue is not None, HAS_INPUT=x is not None,
            num_warps=cfg["num_warps"], num_stages=cfg["num_stages"],
        )


class RowNorm:
    """The layer_norm (``rms``: rms_norm) a launch applies to whole rows of C: its ``weight``, ``bias``
    (or None), ``eps``, and where it writes: ``y`` (C's shape), ``mean`` and ``rstd`` (C's shape with a
    last dim of 1, fp32; ``mean`` None for rms_norm)."""

    grad = False

    def __init__(self, y, mean, rstd, weight, bias, eps: float, rms: bool) -> None:
        self.y, self.mean, self.rstd, self.weight, self.bias, self.eps, self.rms = y, mean, rstd, weight, bias, eps, rms

    @property
    def mode(self) -> int:
        return (-1 if self.grad else 1) * (2 if self.rms else 1)

    def outputs(self) -> tuple:
        return (self.y, self.mean if self.mean is not None else self.rstd, self.rstd)


class RowNormGrad(RowNorm):
    """The layer_norm (``rms``: rms_norm) backward a launch applies to whole rows of C, which hold the
    norm's incoming gradient: the norm's input ``x`` (C's shape), its saved ``mean`` and ``rstd`` (C's
    shape with a last dim of 1, fp32; ``mean`` None for rms_norm), its ``weight`` (or None). C
    receives the input gradient; ``partials`` (``(*batch, row tiles, 2 N)``, fp32) a row per program:
    the column sums of ``dy * xhat`` (the weight's gradient) then of ``dy`` (the bias's) over its tile."""

    grad = True

    def __init__(self, x, mean, rstd, weight, partials, rms: bool) -> None:
        super().__init__(x, mean, rstd, weight, None, 0.0, rms)
        self.partials = partials

    def outputs(self) -> tuple:
        return super().outputs() + (self.partials,)


MAX_NORM_N = 256   # widest rows a normalizing launch keeps in one tile


def norm_config(N: int, itemsize: int) -> dict:
    """A config whose tile spans a whole row of ``N`` (at most MAX_NORM_N) elements: BLOCK_M shrinks
    to the register budget instead of BLOCK_N, as no autotuned config is sure to."""
    bn = max(16, triton.next_power_of_2(N))
    # fp32 rows of 256 in 8 warps spill on sm_80 (the norm's tiles beside the accumulator): 16 warps.
    warps = 4 if bn < 128 else 8 if bn < 256 or itemsize < 4 else 16
    bm = 64
    while bm > 16 and bm * bn > (ACC_REGISTERS[itemsize] // 2) * 32 * warps:
        bm //= 2
    return {"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": 32 if itemsize == 2 else 16, "GROUP_M": 8,
            "num_warps": warps, "num_stages": 2}


def norm_grad_tiles(M: int, N: int, itemsize: int) -> int:
    """Row tiles (programs per batch entry) of a launch with a :class:`RowNormGrad` over ``M`` rows of
    ``N``: the rows of its partial sums."""
    return triton.cdiv(M, norm_config(N, itemsize)["BLOCK_M"])


def launch(c, a, b, *, tune, allow_tf32: bool = False, epilogue=None, fused=None, norm=None) -> None:
    """Write ``a @ b`` into ``c``: ``a`` is ``(*batch, M, K)``, ``b`` ``(*batch, K, N)``, ``c``
    ``(*batch, M, N)``, with equal batch shapes (broadcast dims are stride-0 views).

    ``epilogue=(x, alpha, beta)`` writes ``beta * x + alpha * (a @ b)`` instead (``x`` shaped like
    ``c``, Python scalars ``alpha``/``beta``; ``x`` is not read when ``beta == 0``). ``c`` must not
    overlap ``x``: tuning reruns the kernel. ``fused=(fn, tensors)`` applies a generated ``@jit``
    ``fn(acc, e0, e1, e2, e3)`` to each tile, the ``e`` tiles read from up to four ``tensors``
    broadcast to ``c`` (``neurarust.compile``'s epilogue fusion). ``norm`` (a :class:`RowNorm`, rows
    of at most MAX_NORM_N) also normalizes each row of ``c`` into ``norm.y``, one tile a row."""
    if c.numel() == 0:
        return
    dtype = c.dtype
    upcast = L.INTERPRET and dtype.name in ("float16", "bfloat16")
    precision = _precision(dtype.name, allow_tf32, upcast)
    if epilogue is not None:
        from neurarust.creation import scalar_tensor

        x, alpha, beta = epilogue
        scal = _dt.float64 if dtype.name == "float64" else _dt.float32
        epilogue = (None if beta == 0 else x, scalar_tensor(alpha, scal, c.device), scalar_tensor(beta, scal, c.device))
    with L.on_device(c):  # tuning runs launch too
        if norm is not None:
            cfg = norm_config(c.shape[-1], dtype.itemsize)
            if L.INTERPRET:   # a gradient's partials are sized by the config's row tiles: those stay
                cfg = {**INTERPRET_CONFIG, "BLOCK_N": cfg["BLOCK_N"], **({"BLOCK_M": cfg["BLOCK_M"]} if norm.grad else {})}
        elif L.INTERPRET:
            cfg = INTERPRET_CONFIG
        else:
            M, N, K = c.shape[-2], c.shape[-1], a.shape[-1]
            key = tune.key(dtype.name, precision, M, N, K)
            wide = epilogue is not None or fused is not None   # an epilogue holds more tiles in registers
            cfg = autotune.best_config("addmm" if wide else "matmul", fitted_spec(tune, dtype.itemsize, wide), key,
                                       lambda cfg: _run(c, a, b, cfg, precision, upcast, epilogue, fused),
                                       source=KERNEL_SOURCE, device=c._storage.device.index)
        _run(c, a, b, cfg, precision, upcast, epilogue, fused, norm)
    L.count("matmul")


# ----------------------------------------------------------------------------------------------
# Ahead-of-time compile specs
# ----------------------------------------------------------------------------------------------

_ARGS = list(matmul_kernel.arg_names)
# The common call: contiguous row-major batches whose sizes are multiples of 16. The JIT then
# marks pointers and the 16-divisible ints as aligned and makes the unit strides constexpr 1.
_UNIT_STRIDES = ("stride_ak", "stride_bn", "stride_cn")
_ALIGNED_INTS = ("M", "N", "K", "stride_ab", "stride_am", "stride_bb", "stride_bk", "stride_cb", "stride_cm")


def aot_spec(dtype_name: str, cfg: dict, *, tag: str = "", epilogue: bool = False, fused=None) -> "L.AotSpec":
    """One AOT compile job of the kernel for ``dtype_name`` at config ``cfg`` (``epilogue``: the
    ``beta * x + alpha * (a @ b)`` variant of addmm/baddbmm; ``fused=(fn, extra dtypes, out dtype)``:
    a generated epilogue reading tensors of those dtypes and storing ``out dtype``)."""
    ptr = "*" + _dt.as_dtype(dtype_name).triton_name
    scal = "*fp64" if dtype_name == "float64" else "*fp32"
    signature = {name: "i32" for name in _ARGS}
    signature.update({"a_ptr": ptr, "b_ptr": ptr, "c_ptr": ptr, "x_ptr": ptr, "alpha_ptr": scal, "beta_ptr": scal})
    signature.update({f"e{i}_ptr": ptr for i in range(4)})
    signature.update({"y_ptr": ptr, "nw_ptr": ptr, "nb_ptr": ptr, "mean_ptr": "*fp32", "rstd_ptr": "*fp32",
                      "eps": "fp32"})
    constants = {name: cfg[name] for name in ("BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M")}
    constants.update(EPILOGUE=no_epilogue, NUM_E=-1, NORM=0, HAS_NW=False, HAS_NB=False)
    if fused is not None:
        fn, extras, out_dtype = fused[:3]
        constants.update(EPILOGUE=fn, NUM_E=len(extras))
        signature["c_ptr"] = signature["y_ptr"] = "*" + _dt.as_dtype(out_dtype).triton_name
        signature.update({f"e{i}_ptr": "*" + _dt.as_dtype(d).triton_name for i, d in enumerate(extras)})
        if len(fused) > 3 and fused[3]:    # (rms, weight dtype, bias dtype; None: absent) of a norm
            rms, w_dtype, b_dtype = fused[3][:3]
            grad = len(fused[3]) > 3 and fused[3][3]   # its backward: the bias slot takes the fp32 partials
            for name, d in (("nw_ptr", w_dtype), ("nb_ptr", "float32" if grad else b_dtype)):
                if d is not None:
                    signature[name] = "*" + _dt.as_dtype(d).triton_name
            constants.update(NORM=(-1 if grad else 1) * (2 if rms else 1), HAS_NW=w_dtype is not None,
                             HAS_NB=b_dtype is not None and not grad)
    constants.update({name: 1 for name in _UNIT_STRIDES})
    constants.update(PRECISION="ieee", ACC=tl.float64 if dtype_name == "float64" else tl.float32,
                     UPCAST=False, IDX=tl.int32, SCALE=epilogue, HAS_INPUT=epilogue)
    for name in constants:
        signature[name] = "constexpr"
    aligned = tuple(_ARGS.index(n) for n in ("a_ptr", "b_ptr", "c_ptr") + _ALIGNED_INTS)
    name = (f"matmul_{dtype_name}_{cfg['BLOCK_M']}x{cfg['BLOCK_N']}x{cfg['BLOCK_K']}"
            f"_w{cfg['num_warps']}_s{cfg['num_stages']}{tag}{'_addmm' if epilogue else ''}")
    return L.AotSpec(name, matmul_kernel, signature, constants, aligned=aligned,
                     num_warps=cfg["num_warps"], num_stages=cfg["num_stages"])


def aot_specs() -> list:
    """The default config for each dtype (fitted to its width), and every shipped config for fp16;
    the addmm epilogue at the default config for fp16 and fp32."""
    from neurarust.registry import get

    tune = get("matmul").tune
    specs = []
    for name, itemsize in (("float32", 4), ("float16", 2), ("bfloat16", 2), ("float64", 8)):
        specs.append(aot_spec(name, fit_config(tune.default, itemsize), tag="_default"))
    specs += [aot_spec("float16", cfg) for cfg in tune.configs]
    specs += [aot_spec(name, fit_config(tune.default, itemsize, epilogue=True), tag="_default", epilogue=True)
              for name, itemsize in (("float16", 2), ("float32", 4))]
    return specs
