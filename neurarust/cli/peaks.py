"""Peak figures of common GPUs, for the "fraction of peak" column of ``neurarust tune``.

Dense (no sparsity) tensor-core throughput per dtype in TFLOP/s and memory bandwidth in GB/s, from
NVIDIA's data sheets (SXM parts unless named); a GPU is found by a substring of its name::

    >>> peak_for("NVIDIA H100 80GB HBM3").bandwidth_gbs
    3350.0
    >>> peak_for("NVIDIA GeForce GTX 680") is None
    True
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Peak:
    """One GPU's peak throughput per dtype (TFLOP/s) and its memory bandwidth (GB/s)."""

    tflops: dict
    bandwidth_gbs: float


def _peak(fp16: float, fp32: float, fp64: float, bandwidth: float) -> Peak:
    return Peak({"float16": fp16, "bfloat16": fp16, "float32": fp32, "float64": fp64}, bandwidth)


# Longest names first: "H100 PCIe" must win over "H100".
PEAKS: dict[str, Peak] = {
    "H200": _peak(989.0, 67.0, 67.0, 4800.0),
    "H100 PCIe": _peak(756.0, 51.0, 51.0, 2000.0),
    "H100 NVL": _peak(835.0, 60.0, 60.0, 3900.0),
    "H100": _peak(989.0, 67.0, 67.0, 3350.0),
    "A100-PCIE-40GB": _peak(312.0, 19.5, 19.5, 1555.0),
    "A100-SXM4-40GB": _peak(312.0, 19.5, 19.5, 1555.0),
    "A100": _peak(312.0, 19.5, 19.5, 2039.0),
    "L40S": _peak(362.0, 91.6, 1.4, 864.0),
    "L4": _peak(121.0, 30.3, 0.5, 300.0),
    "A10": _peak(125.0, 31.2, 1.0, 600.0),
    "RTX 4090": _peak(165.0, 82.6, 1.3, 1008.0),
    "RTX 3090": _peak(71.0, 35.6, 0.6, 936.0),
    "V100": _peak(125.0, 15.7, 7.8, 900.0),
    "T4": _peak(65.0, 8.1, 0.3, 320.0),
}


def peak_for(gpu_name: str) -> Peak | None:
    """The peak figures of the GPU called ``gpu_name`` (``None`` if it is not in :data:`PEAKS`)."""
    for key in sorted(PEAKS, key=len, reverse=True):
        if key.lower() in gpu_name.lower():
            return PEAKS[key]
    return None


def throughput(ms: float, bytes_moved: int, flops: int, dtype: str, peak: Peak | None) -> tuple[str, float | None]:
    """``("312 TFLOP/s" or "1800 GB/s", fraction of peak)`` of one timed call: the bound that is
    closest to its peak (the roofline's binding one); FLOP/s without a known peak when ``flops``.

    >>> throughput(1.0, 2_000_000_000, 0, "float32", peak_for("A100"))
    ('2000 GB/s', 0.98)
    """
    seconds = ms / 1e3
    gbs = bytes_moved / seconds / 1e9
    tflops = flops / seconds / 1e12
    if peak is None:
        return (f"{tflops:.3g} TFLOP/s", None) if flops else (f"{gbs:.4g} GB/s", None)
    mem = gbs / peak.bandwidth_gbs
    compute = tflops / peak.tflops.get(dtype, peak.tflops["float32"]) if flops else 0.0
    if compute >= mem:
        return f"{tflops:.3g} TFLOP/s", round(compute, 2)
    return f"{gbs:.4g} GB/s", round(mem, 2)
