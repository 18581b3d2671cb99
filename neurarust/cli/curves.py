"""``curves.png``: training and validation loss and accuracy per epoch, drawn with matplotlib when it
is installed (``pip install "neurarust[plot]"``); without it the plot is skipped and the reason said.

    >>> import tempfile
    >>> written, note = plot_curves([{"epoch": 1, "train_loss": 1.0, "val_loss": 0.9, "train_acc": 0.5,
    ...                               "val_acc": 0.6}], tempfile.mkdtemp())
    >>> bool(written) or note.startswith("curves.png skipped")
    True
"""
from __future__ import annotations

import os
from typing import Sequence


def plot_curves(metrics: Sequence[dict], out_dir: str) -> tuple[str | None, str]:
    """Draw ``metrics`` (one dict per epoch) into ``out_dir/curves.png``; returns ``(path or None, note)``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return None, 'curves.png skipped: matplotlib is not installed (pip install "neurarust[plot]")'
    epochs = [m["epoch"] for m in metrics]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    for split in ("train", "val"):
        left.plot(epochs, [m[f"{split}_loss"] for m in metrics], marker="o", label=split)
        right.plot(epochs, [100 * m[f"{split}_acc"] for m in metrics], marker="o", label=split)
    for ax, title in ((left, "loss"), (right, "accuracy (%)")):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path = os.path.join(out_dir, "curves.png")
    tmp = os.path.join(out_dir, ".curves.png.tmp")
    fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    os.replace(tmp, path)
    return path, f"wrote {path}"
