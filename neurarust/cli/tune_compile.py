"""``neurarust tune --compile-only --target sm_90``: prune autotune configs without a GPU.

Every config of every tunable op is compiled ahead of time for the target; a config that spills
registers, needs more shared memory than the target has, or does not compile is dropped. The kept
configs are written as JSON, which ``neurarust tune --configs FILE`` on the GPU then times alone::

    {"target": "sm_90", "triton": "3.6.0",
     "kept": {"matmul": {"float16": [{"BLOCK_M": 128, ...}, ...]}},
     "dropped": [{"op": "matmul", "dtype": "float32", "config": {...}, "reason": "spills 8 B ..."}]}

Configs are compiled as the launcher would run them (matmul fits its configs to wider dtypes
first). Which ops have a per-config compile spec: :data:`BUILDERS`; the others are listed as not
compiled.

    >>> from neurarust.registry import get
    >>> jobs = config_jobs([get("mm")], ["float16"])
    >>> len(jobs) == len(get("mm").tune.configs), jobs[0][1]
    (True, 'neurarust.cli.tune_compile:matmul_spec')
"""
from __future__ import annotations

import json

from neurarust.registry import Op

# op kind -> the builder a worker calls with (dtype name, config, op name) to get an AotSpec.
BUILDERS = {"matmul": "neurarust.cli.tune_compile:matmul_spec"}
_EPILOGUE = ("addmm", "baddbmm", "addmv", "addbmm")  # ops that run matmul's scaled-add variant


def matmul_spec(dtype_name: str, config: dict, op_name: str):
    """The AOT spec of the matmul kernel at ``config`` as the launcher fits it to ``dtype_name``."""
    from neurarust import dtype as _dt
    from neurarust.kernels import matmul_triton as M

    epilogue = op_name in _EPILOGUE
    fitted = M.fit_config(config, _dt.as_dtype(dtype_name).itemsize, epilogue)
    return M.aot_spec(dtype_name, fitted, epilogue=epilogue)


def fitted(op: Op, dtype_name: str, config: dict) -> dict:
    """The config as the launcher runs it for the dtype (what is compiled and what the JSON keeps)."""
    if op.kind == "matmul":
        from neurarust import dtype as _dt
        from neurarust.kernels.matmul_triton import fit_config

        return fit_config(config, _dt.as_dtype(dtype_name).itemsize, op.name in _EPILOGUE)
    return dict(config)


def config_jobs(ops: list[Op], dtypes: list[str]) -> list[tuple[str, str, tuple]]:
    """``(label, builder, args)`` compile jobs, one per op x dtype x config, for
    :func:`neurarust.kernels.aot.compile_jobs`; the label is ``op|dtype|index``."""
    jobs = []
    for op in ops:
        builder = BUILDERS.get(op.kind)
        if builder is None or op.tune is None:
            continue
        for dtype in dtypes:
            for i, cfg in enumerate(op.tune.configs):
                jobs.append((f"{op.name}|{dtype}|{i}", builder, (dtype, cfg, op.name)))
    return jobs


def prune(ops: list[Op], dtypes: list[str], target: int, workers: int = 2) -> tuple[dict, list, list]:
    """Compile every config; ``(kept, dropped, results)`` where ``kept[op][dtype]`` lists the
    configs (as launched) that compile clean and ``dropped`` says why the others went."""
    from neurarust.kernels import aot

    by_op = {op.name: op for op in ops}
    # ops sharing a kernel (mm, bmm, matmul ...) compile each distinct spec once
    unique: dict[tuple, tuple] = {}
    owners: dict[tuple, list] = {}
    for label, builder, args in config_jobs(ops, dtypes):
        op_name, dtype, i = label.split("|")
        op = by_op[op_name]
        ident = (builder, dtype, json.dumps(fitted(op, dtype, args[1]), sort_keys=True), op_name in _EPILOGUE)
        unique.setdefault(ident, (label, builder, args))
        owners.setdefault(ident, []).append((op, dtype, int(i)))
    results = aot.compile_jobs(list(unique.values()), [target], workers)
    kept: dict = {}
    dropped: list = []
    for ident, r in zip(unique, results):
        for op, dtype, i in owners[ident]:
            cfg = fitted(op, dtype, op.tune.configs[i])
            if r.ok:
                configs = kept.setdefault(op.name, {}).setdefault(dtype, [])
                if cfg not in configs:
                    configs.append(cfg)
            else:
                dropped.append({"op": op.name, "dtype": dtype, "config": cfg, "reason": "; ".join(r.failures)})
    return kept, dropped, results
