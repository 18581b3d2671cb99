"""docs/ops.md is the registry, rendered: regenerate it with ``python -m neurarust.kernels.coverage``."""
from pathlib import Path

from neurarust.kernels import coverage
from neurarust.registry import all_ops

DOC = Path(__file__).resolve().parents[1] / "docs" / "ops.md"


def test_the_committed_table_matches_the_registry():
    assert DOC.read_text() == coverage.render(), "docs/ops.md is stale: run python -m neurarust.kernels.coverage"


def test_the_table_lists_every_public_entry_once():
    names = [r["name"] for r in coverage.rows()]
    assert sorted(names) == sorted(op.name for op in all_ops() if not op.name.startswith("_"))
