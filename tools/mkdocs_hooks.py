"""MkDocs hook: lets mkdocstrings read ``neurarust`` from source, as it is installed.

pyproject.toml maps sibling folders into the package (``nn/`` is ``neurarust.nn``, ``kernels/`` is
``neurarust.kernels``, ...). Griffe, which mkdocstrings uses to read docstrings without importing
anything, only knows the folder layout. So before the build this hook assembles a throwaway tree of
symbolic links shaped like the installed package (``neurarust/`` plus one link per mapped
subpackage, read from ``[tool.setuptools] package-dir``) and points the Python handler at it.
"""
from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parents[1]
_tree: Path | None = None


def package_dirs(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, Path]:
    """``{dotted package: folder}`` from pyproject.toml's ``package-dir`` table (one inline table;
    read with a pattern, as Python 3.10 has no tomllib)."""
    table = re.search(r"^package-dir\s*=\s*\{(.*)\}\s*$", pyproject.read_text(), re.M).group(1)
    pairs = re.findall(r'"([\w.]+)"\s*=\s*"([^"]+)"', table)
    return {name: (pyproject.parent / folder).resolve() for name, folder in pairs}


def build_tree(dest: Path, dirs: dict[str, Path]) -> Path:
    """Link every package folder into ``dest`` at its dotted name's place; return ``dest``."""
    for name in sorted(dirs, key=lambda n: n.count(".")):
        target = dest.joinpath(*name.split("."))
        if name.count(".") == 0:
            target.mkdir(parents=True)
            for child in dirs[name].iterdir():
                if child.name != "__pycache__":
                    (target / child.name).symlink_to(child)
        else:
            if target.is_symlink():
                target.unlink()
            target.symlink_to(dirs[name])
    return dest


@event_priority(100)  # before mkdocstrings' own on_config, which creates the handler
def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Build a fresh tree and make it the first place the Python handler looks for ``neurarust``."""
    global _tree
    on_shutdown()                       # `mkdocs serve` calls on_config again on every rebuild
    _tree = build_tree(Path(tempfile.mkdtemp(prefix="neurarust-docs-")), package_dirs())
    python = config["plugins"]["mkdocstrings"].config["handlers"].setdefault("python", {})
    python["paths"] = [str(_tree)]
    return config


def on_shutdown() -> None:
    """Remove the tree."""
    if _tree is not None:
        shutil.rmtree(_tree, ignore_errors=True)
