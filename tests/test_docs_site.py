"""The documentation site's wiring: mkdocs.yml's nav and docs/ agree, and the two build helpers in
tools/ do their jobs. The strict build itself (`mkdocs build --strict`) runs in .ci/run."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _nav_pages() -> list[str]:
    nav = ROOT.joinpath("mkdocs.yml").read_text().split("\nnav:\n", 1)[1]
    return re.findall(r"^\s+- (?:[^\n]*?: )?([\w./-]+\.md)\s*$", nav, re.M)


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_nav_entry_is_a_page_in_docs():
    missing = [page for page in _nav_pages() if not (DOCS / page).is_file()]
    assert not missing, f"mkdocs.yml's nav names pages docs/ lacks: {missing}"


def test_every_page_in_docs_is_in_the_nav():
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages - set(_nav_pages()) == set(), "add these pages to the nav in mkdocs.yml"


def test_doctest_examples_render_as_fenced_code():
    pytest.importorskip("griffe")
    markdown = _tool("griffe_doctest").rest_to_markdown("Adds.\n>>> nr.add(x, y)[0][1]\n2\n\nThen::\n\n    more")
    assert markdown.splitlines() == ["Adds.", "", "```pycon", ">>> nr.add(x, y)[0][1]", "2", "```", "",
                                     "Then:", "", "    more"]


def test_the_source_tree_places_each_mapped_folder_under_its_package_name(tmp_path):
    pytest.importorskip("mkdocs")
    hooks = _tool("mkdocs_hooks")
    tree = hooks.build_tree(tmp_path / "src", hooks.package_dirs())
    assert (tree / "neurarust" / "tensor.py").is_file()
    assert (tree / "neurarust" / "nn" / "linear.py").is_file()
    assert (tree / "neurarust" / "kernels" / "coverage.py").is_file()
