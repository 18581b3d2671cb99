"""A run's resumable checkpoint: the folder ``OUT/checkpoint`` with ``model.safetensors``,
``optimizer.safetensors`` and ``trainer.safetensors`` (epoch, step, scheduler, scaler, random states,
the running sums of a half-done epoch, the config), all written by :func:`neurarust.save`.

The three files change together: a new checkpoint is written into a fresh folder, which then
replaces the old one by two renames. A crash between them leaves ``checkpoint.old``, which
:func:`load_checkpoint` falls back to, so some complete checkpoint always exists.

    >>> import os, tempfile, neurarust as nr
    >>> run = tempfile.mkdtemp()
    >>> save_checkpoint(run, {"w": nr.ones(2)}, {"state": {}, "param_groups": []}, {"epoch": 1})
    >>> sorted(os.listdir(os.path.join(run, "checkpoint")))
    ['model.safetensors', 'optimizer.safetensors', 'trainer.safetensors']
    >>> load_checkpoint(run)[2]["epoch"]
    1
"""
from __future__ import annotations

import os
import shutil
from typing import Any

import neurarust as nr
from neurarust.serialization import CheckpointError

FOLDER = "checkpoint"
FILES = ("model.safetensors", "optimizer.safetensors", "trainer.safetensors")


def save_checkpoint(run_dir: str, model: dict, optimizer: dict, trainer: dict) -> None:
    """Write the three state dicts as ``run_dir/checkpoint``, replacing any previous checkpoint whole."""
    final = os.path.join(run_dir, FOLDER)
    fresh, old = final + ".new", final + ".old"
    shutil.rmtree(fresh, ignore_errors=True)
    os.makedirs(fresh)
    for name, state in zip(FILES, (model, optimizer, trainer)):
        nr.save(state, os.path.join(fresh, name))
    if os.path.isdir(final):
        shutil.rmtree(old, ignore_errors=True)
        os.rename(final, old)
    os.rename(fresh, final)
    shutil.rmtree(old, ignore_errors=True)


def find_checkpoint(path: str) -> str:
    """The checkpoint folder of ``path`` (a run folder or a checkpoint folder itself).

    >>> find_checkpoint("/nonexistent")
    Traceback (most recent call last):
    neurarust.serialization.CheckpointError: --resume /nonexistent: no checkpoint there (expected ...)
    """
    for folder in (os.path.join(path, FOLDER), path, os.path.join(path, FOLDER + ".old")):
        if all(os.path.isfile(os.path.join(folder, name)) for name in FILES):
            return folder
    raise CheckpointError(f"--resume {path}: no checkpoint there (expected "
                          f"{os.path.join(path, FOLDER, FILES[2])})")


def load_checkpoint(path: str, device: Any = None) -> tuple[dict, dict, dict]:
    """``(model state, optimizer state, trainer state)`` from a run or checkpoint folder; the first two
    on ``device``, the trainer state (random states included) on the CPU."""
    folder = find_checkpoint(path)
    model, optimizer, trainer = (os.path.join(folder, name) for name in FILES)
    return nr.load(model, device=device), nr.load(optimizer, device=device), nr.load(trainer)
