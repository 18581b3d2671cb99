"""Stochastic weight averaging and EMA, as ``torch.optim.swa_utils``: :class:`AveragedModel` (a copy
of a model whose parameters, and optionally buffers, are a running average of the model's),
the averaging functions (``get_swa_avg_fn``, ``get_ema_avg_fn`` and their multi-tensor forms),
:func:`update_bn` (recompute BatchNorm statistics for the averaged weights) and the :class:`SWALR`
learning-rate scheduler.

    >>> import neurarust as nr
    >>> from neurarust.optim.swa_utils import AveragedModel
    >>> net = nr.nn.Linear(1, 1, bias=False)
    >>> swa = AveragedModel(net)
    >>> for value in (1.0, 2.0, 6.0):
    ...     with nr.no_grad():
    ...         _ = net.weight.fill_(value)
    ...     swa.update_parameters(net)
    >>> swa.module.weight.item(), swa.n_averaged.item()
    (3.0, 3)
"""
from __future__ import annotations

import copy
import itertools
import math
from typing import Any, Callable, Iterable

from neurarust import dtype as _dt
from neurarust.autograd.grad_mode import no_grad
from neurarust.errors import ArgumentError
from neurarust.nn.module import Module
from neurarust.tensor import Tensor

from .lr_scheduler import LRScheduler, _per_group
from .optimizer import Optimizer

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn", "get_ema_avg_fn",
           "get_swa_avg_fn"]


def _check_decay(decay: float) -> None:
    if decay < 0.0 or decay > 1.0:
        raise ArgumentError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable:
    """The in-place EMA of lists of tensors: ``ema <- decay * ema + (1 - decay) * current`` (a lerp
    with weight ``1 - decay`` for floating tensors), for ``AveragedModel(multi_avg_fn=...)``.

    >>> import neurarust as nr
    >>> ema, cur = [nr.zeros(2)], [nr.ones(2)]
    >>> get_ema_multi_avg_fn(0.75)(ema, cur, 1); ema[0].tolist()
    [0.25, 0.25]
    """
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_param_list, current_param_list, _num_averaged) -> None:
        for p_ema, p_model in zip(ema_param_list, current_param_list):
            if p_ema.dtype.is_floating_point:
                p_ema.lerp_(p_model, 1 - decay)
            else:
                p_ema.copy_(p_ema * decay + p_model * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn() -> Callable:
    """The in-place equal-weight average of lists of tensors: ``avg <- avg + (cur - avg) / (n + 1)``
    (a lerp with weight ``1 / (n + 1)`` for floating tensors; ``n`` may be a tensor, read on the device).

    >>> import neurarust as nr
    >>> avg, cur = [nr.tensor([1.0])], [nr.tensor([4.0])]
    >>> get_swa_multi_avg_fn()(avg, cur, 2); avg[0].item()
    2.0
    """
    @no_grad()
    def swa_update(averaged_param_list, current_param_list, num_averaged) -> None:
        for p_avg, p_model in zip(averaged_param_list, current_param_list):
            if p_avg.dtype.is_floating_point:
                p_avg.lerp_(p_model, 1 / (num_averaged + 1))
            else:
                p_avg.add_((p_model - p_avg) / (num_averaged + 1))

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable:
    """The EMA of one tensor: ``decay * ema + (1 - decay) * current`` (returns a new tensor), for
    ``AveragedModel(avg_fn=...)``.

    >>> import neurarust as nr
    >>> get_ema_avg_fn(0.5)(nr.tensor([0.0]), nr.tensor([2.0]), 3).tolist()
    [1.0]
    """
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn() -> Callable:
    """The equal-weight running average of one tensor: ``avg + (current - avg) / (n + 1)``.

    >>> import neurarust as nr
    >>> get_swa_avg_fn()(nr.tensor([1.0]), nr.tensor([4.0]), 2).tolist()
    [2.0]
    """
    @no_grad()
    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` (``copy.deepcopy``) whose parameters are a running average of ``model``'s:
    Stochastic Weight Averaging (Izmailov et al., equal weights: the default) or an exponential
    moving average (``get_ema_multi_avg_fn(decay)``), as ``torch.optim.swa_utils.AveragedModel``.

    The first :meth:`update_parameters` copies the model's parameters; each later one applies
    ``multi_avg_fn(averaged_list, model_list, n_averaged)`` or, per tensor,
    ``averaged <- avg_fn(averaged, model_param, n_averaged)`` (the equal-weight average when neither
    is given: on CUDA the multi-tensor lerp, elsewhere ``avg + (cur - avg) / (n + 1)``, as PyTorch
    picks). ``n_averaged`` is an int64 buffer counting the updates. Calling the averaged model runs
    the copy.

    Args:
        model: the module to average.
        device: where the copy lives (default: the model's device).
        avg_fn: ``avg_fn(averaged, current, n_averaged) -> Tensor``, one tensor at a time.
        multi_avg_fn: ``multi_avg_fn(averaged_list, current_list, n_averaged)``, in place; at most
            one of ``avg_fn`` and ``multi_avg_fn``.
        use_buffers: average the buffers too (BatchNorm statistics) instead of copying them from the
            model at each update. Default: False.

    >>> import neurarust as nr
    >>> from neurarust.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
    >>> net = nr.nn.Linear(1, 1, bias=False)
    >>> ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.5))
    >>> for value in (4.0, 0.0):
    ...     with nr.no_grad():
    ...         _ = net.weight.fill_(value)
    ...     ema.update_parameters(net)
    >>> ema.module.weight.item()
    2.0
    """

    def __init__(self, model: Module, device: Any = None, avg_fn: Callable | None = None,
                 multi_avg_fn: Callable | None = None, use_buffers: bool = False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ArgumentError("Only one of avg_fn and multi_avg_fn should be provided")
        from neurarust.creation import tensor

        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, dtype=_dt.int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    @no_grad()
    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current parameters (and buffers, with ``use_buffers``) into the average."""
        if self.use_buffers:
            mine = list(itertools.chain(self.module.parameters(), self.module.buffers()))
            theirs = list(itertools.chain(model.parameters(), model.buffers()))
        else:
            mine, theirs = list(self.parameters()), list(model.parameters())
        pairs = [(a.detach(), b.detach().to(a.device)) for a, b in zip(mine, theirs)]
        n = self.n_averaged
        if bool(n == 0):
            for a, b in pairs:
                a.copy_(b)
        else:
            averaged, current = [a for a, _ in pairs], [b for _, b in pairs]
            if self.multi_avg_fn is not None or self.avg_fn is None:
                for device in dict.fromkeys(a.device for a in averaged):   # by device, as PyTorch groups
                    group = [i for i, a in enumerate(averaged) if a.device == device]
                    mine_d, theirs_d = [averaged[i] for i in group], [current[i] for i in group]
                    if self.multi_avg_fn is not None:
                        self.multi_avg_fn(mine_d, theirs_d, n.to(device))
                    elif device.type == "cuda":
                        get_swa_multi_avg_fn()(mine_d, theirs_d, n.to(device))
                    else:
                        avg = get_swa_avg_fn()
                        for a, b in zip(mine_d, theirs_d):
                            a.copy_(avg(a, b, n.to(device)))
            else:
                for a, b in pairs:
                    a.copy_(self.avg_fn(a, b, n.to(a.device)))
        if not self.use_buffers:
            # the buffers are not averaged: keep them in sync with the model's
            for mine_b, theirs_b in zip(self.module.buffers(), model.buffers()):
                mine_b.detach().copy_(theirs_b.detach().to(mine_b.device))
        self.n_averaged.add_(1)


@no_grad()
def update_bn(loader: Iterable[Any], model: Module, device: Any = None) -> None:
    """Recompute the running mean and variance of every BatchNorm layer of ``model`` in one pass over
    ``loader`` (a ``neurarust.data.DataLoader`` or any iterable of batches: a tensor, or a list or
    tuple whose first element is the input), as ``torch.optim.swa_utils.update_bn``: the statistics
    are reset and accumulated as a cumulative average (momentum None) in training mode; the
    momenta and the model's mode are restored afterwards.

    Args:
        loader: the batches.
        model: the model (an :class:`AveragedModel` too).
        device: if given, each batch is moved there first.

    >>> import neurarust as nr
    >>> from neurarust.optim.swa_utils import update_bn
    >>> net = nr.nn.BatchNorm1d(1).eval()
    >>> update_bn([nr.tensor([[1.0], [3.0]]), (nr.tensor([[5.0], [7.0]]),)], net)
    >>> net.running_mean.item(), net.training
    (4.0, False)
    """
    from neurarust.nn.normalization import _BatchNorm

    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    for batch in loader:
        if isinstance(batch, (list, tuple)):
            batch = batch[0]
        if device is not None:
            batch = batch.to(device)
        model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's learning rate to a fixed ``swa_lr`` over ``anneal_epochs`` steps, then hold
    it, as ``torch.optim.swa_utils.SWALR`` (meant for the SWA phase of training). With ``t`` the
    step's fraction of the annealing (clipped to [0, 1]) and ``f(t)`` the annealing function
    (``"cos"``: ``(1 - cos(pi t)) / 2``, ``"linear"``: ``t``), each step sets::

        lr <- swa_lr * f(t) + lr_0 * (1 - f(t))

    where ``lr_0`` is recovered from the group's current lr and the previous step's ``f``. Each
    group's ``swa_lr`` is stored in the group (``group["swa_lr"]``).

    Args:
        optimizer: the wrapped optimizer.
        swa_lr: the final learning rate: one for all groups or a list with one per group.
        anneal_epochs: steps of the annealing phase (an int ``>= 0``). Default: 10.
        anneal_strategy: ``"cos"`` or ``"linear"``. Default: ``"cos"``.
        last_epoch: the index of the last epoch. Default: -1.

    >>> import neurarust as nr
    >>> from neurarust.optim.swa_utils import SWALR
    >>> opt = nr.optim.SGD([nr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = SWALR(opt, swa_lr=0.5, anneal_epochs=2, anneal_strategy="linear")
    >>> lrs = []
    >>> for _ in range(3):
    ...     opt.step(); sched.step(); lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [0.75, 0.5, 0.5]
    """

    def __init__(self, optimizer: Optimizer, swa_lr: float | list, anneal_epochs: int = 10,
                 anneal_strategy: str = "cos", last_epoch: int = -1):
        for lr, group in zip(_per_group(swa_lr, optimizer, "swa_lr"), optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ArgumentError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ArgumentError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t: float) -> float:
        return t

    @staticmethod
    def _cosine_anneal(t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def _set_anneal_func(self, anneal_strategy: str) -> None:
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal

    def get_lr(self) -> list:
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(self.optimizer.param_groups, prev_lrs)]

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self._set_anneal_func(self._anneal_strategy)
