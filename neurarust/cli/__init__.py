"""The ``neurarust`` command: ``train``, ``check`` and ``tune`` (see docs/cli.md).

Each subcommand lives in its own module (``neurarust/cli/<name>.py``) defining
``add_arguments(parser)`` and ``run(args) -> int`` (the exit status); it is imported only when
chosen, so ``neurarust train`` on a CPU never imports torch or Triton.

    >>> from neurarust.cli import COMMANDS
    >>> sorted(COMMANDS)
    ['check', 'train', 'tune']
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

COMMANDS: dict[str, str] = {
    "train": "train a model (a small CNN on the bundled digits by default)",
    "check": "check every kernel against the NumPy reference",
    "tune": "autotune kernels and keep the best configs in the persistent cache",
}


def _module(name: str):
    return importlib.import_module(f"neurarust.cli.{name}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="neurarust", description="NeuraRust: train, check kernels, tune kernels.")
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")
    chosen = next((a for a in argv if a in COMMANDS), None)
    for name, summary in COMMANDS.items():
        p = sub.add_parser(name, help=summary, description=summary)
        if name == chosen:  # only the chosen command's module is imported
            _module(name).add_arguments(p)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(_module(args.command).run(args) or 0)
