"""Every docstring example in the package runs and prints what it says."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import neurarust

# Modules whose import has side effects a doctest run must not repeat, or that need a GPU.
SKIP = {"neurarust.kernels.aot"}


# Modules whose public API is documented by examples: they must have at least one.
MUST_HAVE_EXAMPLES = {"neurarust.tensor", "neurarust.creation", "neurarust.printing", "neurarust.interop",
                      "neurarust.dtype", "neurarust.device", "neurarust.shape", "neurarust.cuda",
                      "neurarust.kernels.creation"}

# Sibling folders installed as subpackages (package-dir mapping): not under neurarust/ on disk.
MAPPED = ("kernels", "autograd", "nn", "optim", "data")


def _modules() -> list[str]:
    names = ["neurarust"]
    roots = [(neurarust.__path__, "neurarust.")]
    roots += [(importlib.import_module(f"neurarust.{sub}").__path__, f"neurarust.{sub}.") for sub in MAPPED]
    names += [f"neurarust.{sub}" for sub in MAPPED]
    for path, prefix in roots:
        for info in pkgutil.walk_packages(path, prefix):
            if info.name not in SKIP and not info.name.endswith("__main__"):
                names.append(info.name)
    return sorted(set(names))


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
    assert result.attempted > 0 or name not in MUST_HAVE_EXAMPLES, f"{name} has no examples"


def _public_ops():
    from neurarust.registry import all_ops

    return [op for op in all_ops() if op.attrs.get("public", True)]


@pytest.mark.parametrize("op", _public_ops(), ids=lambda op: op.name)
def test_every_public_op_documents_a_runnable_example(op):
    assert ">>>" in (op.__doc__ or ""), f"{op.name} has no example"
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(parser.get_doctest(op.__doc__, {}, op.name, None, 0))
    assert runner.failures == 0, f"the example of {op.name} fails"
