"""The op-coverage table: every registry entry, what it supports, written from the registry itself.

``python -m neurarust.kernels.coverage`` rewrites ``docs/ops.md``; ``tests/test_coverage_table.py``
fails when the committed page differs from what the registry says, so the page cannot drift.

    >>> from neurarust.kernels.coverage import rows
    >>> row = next(r for r in rows() if r["name"] == "mul")
    >>> row["kind"], row["derivative"], row["kernel"]
    ('elementwise', 'yes', 'elementwise_triton')

The ONNX column shows what an entry's ``onnx`` slot (filled by the ONNX exporter) says: the ONNX
operator name(s) when it is a name or a list of names, ``yes`` for any other mapping, ``—`` when the
slot is empty.
"""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from neurarust import atomic
from neurarust.registry import Op, all_ops

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs" / "ops.md"
_SHORT = {"float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64", "int8": "i8",
          "uint8": "u8", "int16": "i16", "int32": "i32", "int64": "i64", "bool": "bool"}
NO_ONNX = "—"


def _derivative(op: Op) -> str:
    if op.differentiable is None:
        return "missing"
    return "yes" if op.differentiable else "none (result never requires grad)"


def _onnx(mapping: object) -> str:
    """The ONNX column for an entry's ``onnx`` slot.

    >>> _onnx(None), _onnx("Relu"), _onnx(("MatMul", "Add")), _onnx(lambda node: node)
    ('—', '`Relu`', '`MatMul`, `Add`', 'yes')
    """
    if mapping is None:
        return NO_ONNX
    if isinstance(getattr(mapping, "emits", None), str):    # the exporter's Converter (neurarust.onnx.export_ops)
        return mapping.emits
    if isinstance(mapping, str):
        return f"`{mapping}`"
    if isinstance(mapping, (list, tuple)) and mapping and all(isinstance(m, str) for m in mapping):
        return ", ".join(f"`{m}`" for m in mapping)
    return "yes"


def _fill_onnx_slots() -> None:
    """Put the exporter's converters in the ``onnx`` slots first (a NumPy-only import), so the column
    does not depend on whether something imported the exporter before."""
    from neurarust.onnx.export_ops import attach

    attach()


def _public_name(op: Op) -> str:
    if not op.attrs.get("public", True):
        return f"`Tensor.{op.name}`" if op.method else f"`{op.name}` (internal)"
    forms = [f"`nr.{op.name}`"]
    if op.method:
        forms.append(f"`Tensor.{op.name}`")
    if op.inplace:
        forms.append(f"`Tensor.{op.inplace}`")
    return ", ".join(forms)


def rows() -> list[dict]:
    """One dict per registry entry, in registration order."""
    _fill_onnx_slots()
    out = []
    for op in all_ops():
        if op.name.startswith("_"):
            continue
        out.append({"name": op.name, "kind": op.kind, "api": _public_name(op),
                    "dtypes": " ".join(_SHORT.get(d.name, d.name) for d in op.dtypes),
                    "kernel": op.triton.split(":")[0].rsplit(".", 1)[-1] if op.triton else "-",
                    "derivative": _derivative(op), "onnx": _onnx(op.onnx)})
    return out


def render() -> str:
    """The markdown page."""
    table = rows()
    kinds = Counter(r["kind"] for r in table)
    lines = [
        "# Op coverage",
        "",
        "Generated from the op registry by `python -m neurarust.kernels.coverage`; do not edit by hand",
        "(`tests/test_coverage_table.py` checks this page against the registry).",
        "",
        f"{len(table)} ops: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + ". "
        f"{sum(r['derivative'] == 'yes' for r in table)} have a derivative; "
        f"{sum(r['derivative'].startswith('none') for r in table)} return results that never require grad; "
        f"{sum(r['derivative'] == 'missing' for r in table)} declare none yet. "
        f"{sum(r['onnx'] != NO_ONNX for r in table)} map to ONNX operators (the ONNX column; — where none is declared).",
        "",
        "Every op runs as its Triton kernel on CUDA (and through the interpreter on the CPU when the",
        "`triton` backend is chosen) and as its NumPy reference on the CPU; the harnesses in `tests/`",
        "check each against the other and against PyTorch for every dtype listed.",
        "",
        "| op | kind | API | dtypes | Triton kernels | derivative | ONNX |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [f"| `{r['name']}` | {r['kind']} | {r['api']} | {r['dtypes']} | `{r['kernel']}` | {r['derivative']} | {r['onnx']} |"
              for r in table]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m neurarust.kernels.coverage", description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(DEFAULT_OUT), help="where to write the page (default: docs/ops.md)")
    args = p.parse_args(argv)
    atomic.write_text(args.out, render())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
