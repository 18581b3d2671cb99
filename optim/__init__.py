"""``neurarust.optim``: optimizers and learning-rate schedulers, with ``torch.optim``'s API.

    >>> import neurarust as nr
    >>> w = nr.tensor([2.0], requires_grad=True)
    >>> opt = nr.optim.SGD([w], lr=0.25)
    >>> sched = nr.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    >>> for _ in range(2):
    ...     opt.zero_grad(); (w * w).sum().backward(); opt.step(); sched.step()
    >>> w.item(), sched.get_last_lr()
    (0.75, [0.0625])
"""
import importlib

from . import lr_scheduler
from .lbfgs import LBFGS
from .muon import Muon
from .optimizer import Optimizer
from .optimizers import (ASGD, SGD, Adadelta, Adafactor, Adagrad, Adam, Adamax, AdamW, Lion, NAdam, RAdam, RMSprop,
                         Rprop, SparseAdam)

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
           "Rprop", "ASGD", "Adafactor", "SparseAdam", "Muon", "Lion", "LBFGS", "lr_scheduler", "swa_utils"]


def __getattr__(name: str):
    # swa_utils needs neurarust.nn: imported on first use, so importing optim stays light
    if name == "swa_utils":
        return importlib.import_module(".swa_utils", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
