"""``nr.linalg``: the linear-algebra namespace, as ``torch.linalg``.

Its functions are registry entries named ``"linalg.<name>"`` (``linalg.qr``, ``linalg.vector_norm``,
the factorizations ``linalg.lu_factor_ex``, ``linalg.cholesky_ex`` and ``linalg.solve_triangular``,
the spectral decompositions ``linalg.eigh`` and ``linalg.svd``) and compositions of registry ops
(``linalg.solve``, ``inv``, ``det``, ``slogdet``, ``cholesky``, ``lu_factor``, ``lu_solve``,
``inv_ex`` in ``neurarust/solvers.py``; ``eigvalsh``, ``svdvals``, ``pinv``, ``matrix_rank``,
``lstsq``, ``cond``, ``matrix_exp`` in ``neurarust/spectral.py``; ``cross``, ``matrix_power``,
``matrix_norm``, ``norm``, ``vecdot``, ``multi_dot``, ``diagonal``, ``matmul`` in
``neurarust/matrices.py``), looked up on first use, so this module imports nothing heavy::

    >>> import neurarust as nr
    >>> Q, R = nr.linalg.qr(nr.tensor([[2.0, 0.0], [0.0, 3.0]]))
    >>> (Q @ R).tolist()
    [[2.0, 0.0], [0.0, 3.0]]
    >>> "qr" in dir(nr.linalg)
    True
"""
from __future__ import annotations

from typing import Any

PREFIX = "linalg."
# Functions that are compositions of registry ops: name -> (module under neurarust, function).
COMPOSITIONS = {
    "cross": ("matrices", "linalg_cross"), "matrix_power": ("matrices", "matrix_power"),
    "vecdot": ("matrices", "vecdot"), "multi_dot": ("matrices", "multi_dot"),
    "diagonal": ("matrices", "linalg_diagonal"), "matmul": ("matrices", "linalg_matmul"),
    "matrix_norm": ("matrices", "matrix_norm"), "norm": ("matrices", "norm"),
    **{name: ("solvers", name) for name in ("lu_factor", "lu_solve", "solve", "inv", "inv_ex", "det", "slogdet",
                                           "cholesky")},
    **{name: ("factor_solvers", name) for name in ("lu", "solve_ex", "tensorinv", "tensorsolve")},
    **{name: ("spectral", name) for name in ("eigvalsh", "svdvals", "pinv", "matrix_rank", "lstsq", "cond",
                                            "matrix_exp")},
}


def __getattr__(name: str) -> Any:
    if name == "LinAlgError":  # torch.linalg.LinAlgError
        from .errors import LinAlgError

        return LinAlgError
    if name in COMPOSITIONS:
        import importlib

        module, function = COMPOSITIONS[name]
        return getattr(importlib.import_module(f"neurarust.{module}"), function)
    if not name.startswith("_"):
        from .registry import OPS, load

        load()
        op = OPS.get(PREFIX + name)
        if op is not None:
            return op
    raise AttributeError(f"module 'neurarust.linalg' has no attribute '{name}'")


def __dir__() -> list[str]:
    from .registry import OPS, load

    load()
    return sorted(set(globals()) | set(COMPOSITIONS) | {"LinAlgError"} | {n[len(PREFIX):] for n in OPS if n.startswith(PREFIX)})
