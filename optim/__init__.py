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
from . import lr_scheduler
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .optimizers import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, Lion, NAdam, RAdam, RMSprop

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
           "Lion", "LBFGS", "lr_scheduler"]
