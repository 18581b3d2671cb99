"""The Python examples in docs/**/*.md run: every top-level ```python block (indented blocks inside how-to
lists, and blocks that start ``# (excerpt``, quote source and are not run)."""
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCKS = [(page.relative_to(DOCS).as_posix(), i, code) for page in sorted(DOCS.rglob("*.md"))
          for i, code in enumerate(re.findall(r"^```python\n(.*?)^```", page.read_text(), re.S | re.M))
          if not code.startswith("# (excerpt")]


@pytest.mark.parametrize("page,index,code", BLOCKS, ids=[f"{p}-{i}" for p, i, _ in BLOCKS])
def test_docs_example_runs(page, index, code):
    exec(compile(code, f"{page}[{index}]", "exec"), {"__name__": "__docs__"})
