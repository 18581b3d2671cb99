"""Quantization: model size on disk, int8 vs float32, and (on CUDA) the int8 matmul against bf16.

- Size: ``state_dict()`` saved as safetensors (``nr.save``), float32 model vs its int8 version: the
  digits CNN after static quantization (``prepare``/``calibrate``/``convert``) and the digits MLP
  after ``quantize_dynamic``. Target: at most 0.3x.
- Speed (CUDA only): ``int8_linear`` (int8 x int8 -> int32 with the dequantize epilogue, float32
  out) against the bf16 ``mm`` at 4096^3, both NeuraRust Triton kernels. Target: int8 at least
  1.6x faster. On the CPU it is skipped with a note (there the reference backend runs NumPy).

    python -m bench --suite quantization
"""
from __future__ import annotations

from bench.harness import Context, Side, SuiteResult, Target, fmt_time, md_table

SIZE_LIMIT = 0.3
SPEEDUP_TARGET = 1.6
MATMUL_N = 4096


def _size_cases(ctx: Context) -> list[dict]:
    import neurarust as nr
    from neurarust import quantization as Q
    from neurarust.cli.models import cnn, mlp

    nr.manual_seed(0)
    conv_net = cnn((1, 8, 8), 10)
    wrapped = Q.QuantWrapper(conv_net)
    wrapped.qconfig = Q.get_default_qconfig()
    prepared = Q.prepare(wrapped)
    Q.calibrate(prepared, [nr.randn(64, 1, 8, 8)])
    static = Q.convert(prepared)
    dense = mlp((1, 8, 8), 10)
    dynamic = Q.quantize_dynamic(dense, {nr.nn.Linear}, dtype=Q.qint8)
    cases = []
    for name, model, qmodel in (("digits CNN, static int8", conv_net, static),
                                ("digits MLP, dynamic int8", dense, dynamic)):
        f32, i8 = Q.size_on_disk(model), Q.size_on_disk(qmodel)
        cases.append({"case": name, "float32_bytes": f32, "int8_bytes": i8, "ratio": i8 / f32})
        ctx.log(f"quantization: {name}: {i8} B vs {f32} B float32 ({i8 / f32:.3f}x)")
    return cases


def _matmul_case(ctx: Context) -> dict:
    import torch

    import neurarust as nr
    from neurarust.registry import call

    n = MATMUL_N
    gen = torch.Generator(device="cuda").manual_seed(0)
    a8 = nr.from_dlpack(torch.randint(-127, 128, (n, n), dtype=torch.int8, device="cuda", generator=gen))
    w8 = nr.from_dlpack(torch.randint(-127, 128, (n, n), dtype=torch.int8, device="cuda", generator=gen))
    sa = nr.from_dlpack(torch.rand(n, device="cuda", generator=gen) * 0.01)
    sw = nr.from_dlpack(torch.rand(n, device="cuda", generator=gen) * 0.01)
    a16 = nr.from_dlpack(torch.randn(n, n, device="cuda", generator=gen, dtype=torch.bfloat16))
    b16 = nr.from_dlpack(torch.randn(n, n, device="cuda", generator=gen, dtype=torch.bfloat16))
    ta, tb = torch.randn(n, n, device="cuda", dtype=torch.bfloat16), torch.randn(n, n, device="cuda",
                                                                                 dtype=torch.bfloat16)
    sync = torch.cuda.synchronize
    stats = ctx.measure([Side("int8", lambda: call("int8_linear", a8, w8, sa, sw), sync=sync),
                         Side("bf16", lambda: nr.mm(a16, b16), sync=sync),
                         Side("torch bf16", lambda: ta @ tb, sync=sync)])
    flops = 2 * n ** 3
    times = {k: v.median_ns for k, v in stats.items()}
    ctx.log(f"quantization: {n}^3 int8 {fmt_time(times['int8'])}, bf16 {fmt_time(times['bf16'])}")
    return {"case": f"matmul {n}^3", "times_ns": times, "speedup": times["bf16"] / times["int8"],
            "tops": {k: flops / t / 1e3 for k, t in times.items()}}


def run(ctx: Context) -> SuiteResult:
    result = SuiteResult("quantization")
    sizes = _size_cases(ctx)
    result.cases = list(sizes)
    result.targets = [Target(f"(v) {c['case']}: size on disk / float32", c["ratio"], SIZE_LIMIT,
                             f"{c['int8_bytes']} B vs {c['float32_bytes']} B").to_json() for c in sizes]
    rows = [(c["case"], str(c["float32_bytes"]), str(c["int8_bytes"]), f"{c['ratio']:.3f}x") for c in sizes]
    result.sections.append(("Model size on disk (safetensors)", md_table(["model", "float32 B", "int8 B", "ratio"],
                                                                        rows)))
    if ctx.device != "cuda":
        note = f"int8 vs bf16 matmul at {MATMUL_N}^3 needs CUDA (the CPU runs the NumPy reference)"
        result.skipped.append({"op": f"matmul {MATMUL_N}^3", "reason": note})
        result.targets.append(Target(f"(w) int8 / bf16 matmul speedup at {MATMUL_N}^3", None, SPEEDUP_TARGET,
                                     f"skipped: {note}", at_least=True).to_json())
        return result
    mm = _matmul_case(ctx)
    result.cases.append(mm)
    result.targets.append(Target(f"(w) int8 / bf16 matmul speedup at {MATMUL_N}^3 (higher is better)", mm["speedup"],
                                 SPEEDUP_TARGET, "int8_linear (dequantize epilogue) vs nr.mm bf16",
                                 at_least=True).to_json())
    rows = [(k, fmt_time(t), f"{mm['tops'][k]:.0f}") for k, t in mm["times_ns"].items()]
    result.sections.append((f"Matmul {MATMUL_N}^3 (GPU)", md_table(["kernel", "time", "TOPS"], rows)))
    return result
