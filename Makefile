# Common tasks. Run them inside an environment that has the project installed:
#   pip install -e ".[dev,docs]"      (CI does this from scratch: make ci)
# Override the interpreter with `make test PYTHON=.venv/bin/python`.

PYTHON ?= python3
SUITE ?= all
ARCH ?= 80 90
SOURCES := neurarust kernels autograd nn optim data bench examples tests tools

.PHONY: help install test test-interpreter ci docs docs-serve bench compile-check compile-table coverage check lint clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

install:  ## the project with its dev and docs extras, editable
	$(PYTHON) -m pip install -e ".[dev,docs]"

test:  ## the whole test suite, as CI runs it (K=expr selects tests: make test K=hypot)
	$(PYTHON) -m pytest -n 2 --timeout=900 -q tests $(if $(K),-k "$(K)")

test-interpreter:  ## the kernel harnesses only: every kernel in Triton's interpreter vs its NumPy reference
	TRITON_INTERPRET=1 $(PYTHON) -m pytest -n 2 -q tests/test_ops.py tests/test_autograd_ops.py $(if $(K),-k "$(K)")

ci:  ## what CI runs: fresh environments, the suite, the triton-3.6 stage, the strict docs build
	bash .ci/run

docs:  ## build the documentation site into site/, failing on any warning
	$(PYTHON) -m mkdocs build --strict -d site

docs-serve:  ## preview the documentation at http://127.0.0.1:8000, rebuilt on every edit
	$(PYTHON) -m mkdocs serve

bench:  ## NeuraRust vs PyTorch (SUITE=ops|models|data|nn|optim|autograd|distributed|all)
	$(PYTHON) -m bench --suite $(SUITE)

compile-check:  ## every Triton kernel compiled for sm_80 and sm_90 without a GPU; fails on spills
	$(PYTHON) -m pytest -q -p no:xdist tests/test_compile.py

compile-table:  ## recompile every kernel (ARCH="80 90") and rewrite docs/kernels-compile.md
	$(PYTHON) -m neurarust.kernels.aot --arch $(ARCH) --table docs/kernels-compile.md

coverage:  ## regenerate the op coverage table, docs/ops.md, from the registry
	$(PYTHON) -m neurarust.kernels.coverage

check:  ## neurarust check: every registry kernel against its reference, as a table
	$(PYTHON) -m neurarust check

lint:  ## pyflakes over the sources (not the __init__.py re-export facades), when pyflakes is installed
	@if $(PYTHON) -c "import pyflakes" 2>/dev/null; then \
		find $(SOURCES) -name '*.py' ! -name __init__.py -print0 | xargs -0 $(PYTHON) -m pyflakes; \
	else echo "lint: pyflakes is not installed (pip install pyflakes); skipped"; fi

clean:  ## remove build outputs (site/, build/, caches)
	rm -rf site build .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
