"""NeuraRust's benchmarks, run from the repository root::

    python -m bench                      # the ops suite on the CPU, writes docs/benchmarks/index.md + charts
    python -m bench --suite all --device cuda --json results.json
    python -m bench --quick --ops add,exp --md ''     # a smoke run, no markdown file

See ``bench/harness.py`` for how cases are timed and ``bench/suites/`` for what is timed.
"""
