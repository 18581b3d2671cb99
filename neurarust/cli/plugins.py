"""``--plugin``: import a module (or a ``.py`` file) that registers extra registry entries.

This is how your own kernels join ``neurarust check`` and ``neurarust tune``: a module that calls
:func:`neurarust.registry.register` with an :class:`~neurarust.registry.Op` whose ``triton`` names
your launcher (see examples/custom_kernel.py)::

    neurarust check --plugin my_kernels --ops my_op
    neurarust check --plugin ./my_kernels.py --ops my_op

    >>> load("neurarust.kernels.samples").__name__
    'neurarust.kernels.samples'
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType

from neurarust import registry

from .usage import UsageError


def load(spec: str) -> ModuleType:
    """Import ``spec``: a path ending in ``.py`` or a dotted module name (after the registry's own
    entries, so a plugin may build on them). Failures are :class:`UsageError`."""
    registry.load()
    try:
        if spec.endswith(".py"):
            return _load_file(spec)
        return importlib.import_module(spec)
    except UsageError:
        raise
    except Exception as e:  # noqa: BLE001 - any import failure is the plugin's, reported as such
        raise UsageError(f"cannot load plugin {spec!r}: {type(e).__name__}: {e}") from e


def _load_file(path: str) -> ModuleType:
    if not os.path.isfile(path):
        raise UsageError(f"cannot load plugin {path!r}: no such file")
    # Importable by its own name afterwards (launchers are named "module:function", and the compile
    # workers of --compile import the module again): its folder goes on sys.path.
    folder, name = os.path.split(os.path.abspath(path))
    name = os.path.splitext(name)[0]
    if name in sys.modules:
        raise UsageError(f"cannot load plugin {path!r}: a module named {name!r} is already imported")
    sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, os.path.join(folder, os.path.basename(path)))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_all(specs: list[str] | None) -> None:
    for spec in specs or ():
        load(spec)
