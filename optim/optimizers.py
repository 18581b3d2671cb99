"""The optimizers of ``torch.optim`` (and Lion), with PyTorch's defaults, options and update rules.

Each is a thin :class:`~neurarust.optim.optimizer.FusedOptimizer`: it checks its options, names its
state buffers as PyTorch does, and hands each group to its registry rule (one multi-tensor kernel
launch per group and dtype on the Triton backend).

    >>> import neurarust as nr
    >>> w = nr.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = nr.optim.Adam([w], lr=0.1)
    >>> w.grad = nr.tensor([0.5, -0.5]); opt.step()
    >>> [round(v, 4) for v in w.tolist()]
    [0.9, -0.9]
"""
from __future__ import annotations

from typing import Iterable

from neurarust.errors import ArgumentError
from neurarust.tensor import Tensor

from .optimizer import FusedOptimizer, check


def _check_common(lr, eps=0.0, weight_decay=0.0, betas=(0.0, 0.0)) -> None:
    check(lr >= 0.0, f"Invalid learning rate: {lr}")
    check(eps >= 0.0, f"Invalid epsilon value: {eps}")
    check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
    check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
    check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")


def _torch_flags(foreach, maximize, capturable=False, differentiable=False, fused=None, lr=None) -> dict:
    """Options PyTorch groups carry. ``foreach`` and ``fused`` change nothing (every update here is
    already one fused multi-tensor launch); ``capturable`` keeps step counts, lr and the found-inf
    flag on the device (see :meth:`FusedOptimizer.step`); ``differentiable=True`` (updates recorded
    by autograd) is not supported and says so. ``lr`` may be a one-element tensor, as in PyTorch
    (Adam and AdamW refuse one with ``foreach=True`` unless ``capturable``, as PyTorch's do)."""
    if differentiable:
        raise ArgumentError("differentiable=True is not supported: NeuraRust's optimizer updates run as fused "
                            "in-place kernels outside autograd")
    if isinstance(lr, Tensor):
        check(lr.numel() == 1, "Tensor lr must be 1-element")
    return {"foreach": foreach, "maximize": maximize, "capturable": capturable, "differentiable": differentiable,
            "fused": fused}


class SGD(FusedOptimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

    >>> import neurarust as nr
    >>> w = nr.tensor([1.0], requires_grad=True)
    >>> opt = nr.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     w.grad = nr.tensor([1.0]); opt.step()
    >>> round(w.item(), 4)
    0.71
    """

    _rule, _keys = "sgd", ("momentum_buffer",)
    _option_keys = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False, foreach=None,
                 differentiable: bool = False, fused=None):
        _check_common(lr, weight_decay=weight_decay)
        check(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        check(not nesterov or (momentum > 0 and dampening == 0), "Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                        **_torch_flags(foreach, maximize, False, differentiable, fused, lr))
        defaults.pop("capturable")
        super().__init__(params, defaults)

    def _uses(self, key, group):
        return group["momentum"] != 0

    def _new_state(self, p, group):
        # PyTorch's SGD state is only the momentum buffer, which the first step sets to the gradient.
        if group["momentum"] == 0:
            return {}
        from neurarust.creation import zeros_like

        return {"momentum_buffer": zeros_like(p), "_first": True}

    def _bucket(self, state):
        return state.get("_first", False)

    def _hyper_for(self, group, state):
        return {"first": state.get("_first", False)}

    def _advance(self, states, hyper):
        for s in states:
            s.pop("_first", None)


class Adam(FusedOptimizer):
    """Adam (Kingma & Ba), with L2 weight decay, AMSGrad and maximize.

    >>> import neurarust as nr
    >>> opt = nr.optim.Adam([nr.zeros(2, requires_grad=True)])
    >>> opt.defaults["lr"], opt.defaults["betas"], opt.defaults["eps"]
    (0.001, (0.9, 0.999), 1e-08)
    """

    _rule, _keys = "adam", ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _option_keys = ("betas", "lr", "eps", "weight_decay", "amsgrad", "decoupled_weight_decay", "maximize")
    _decoupled = False

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, foreach=None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False, fused=None, decoupled_weight_decay=None):
        _check_common(lr, eps, weight_decay, betas)
        check(not (isinstance(lr, Tensor) and foreach and not capturable),
              "lr as a Tensor is not supported for capturable=False and foreach=True")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        **_torch_flags(foreach, maximize, capturable, differentiable, fused, lr))
        defaults["decoupled_weight_decay"] = self._decoupled if decoupled_weight_decay is None else decoupled_weight_decay
        super().__init__(params, defaults)

    def _uses(self, key, group):
        return key != "max_exp_avg_sq" or group["amsgrad"]


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter); ``weight_decay`` defaults to 0.01.

    >>> import neurarust as nr
    >>> nr.optim.AdamW([nr.zeros(1, requires_grad=True)]).defaults["weight_decay"]
    0.01
    """

    _decoupled = True

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False, foreach=None,
                 capturable: bool = False, differentiable: bool = False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused)


class RMSprop(FusedOptimizer):
    """RMSprop (Hinton), optionally centered and with momentum.

    >>> import neurarust as nr
    >>> nr.optim.RMSprop([nr.zeros(1, requires_grad=True)]).defaults["alpha"]
    0.99
    """

    _rule, _keys = "rmsprop", ("square_avg", "momentum_buffer", "grad_avg")
    _option_keys = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize")

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, capturable: bool = False,
                 foreach=None, maximize: bool = False, differentiable: bool = False):
        _check_common(lr, eps, weight_decay)
        check(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        check(alpha >= 0.0, f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered,
                        **_torch_flags(foreach, maximize, capturable, differentiable, lr=lr))
        defaults.pop("fused")
        super().__init__(params, defaults)

    def _uses(self, key, group):
        return {"momentum_buffer": group["momentum"] > 0, "grad_avg": group["centered"]}.get(key, True)


class Adagrad(FusedOptimizer):
    """Adagrad (Duchi et al.), with learning-rate decay; its state exists from construction on.

    >>> import neurarust as nr
    >>> opt = nr.optim.Adagrad([nr.zeros(2, requires_grad=True)], initial_accumulator_value=0.1)
    >>> opt.state_dict()["state"][0]["sum"].tolist()
    [0.10000000149011612, 0.10000000149011612]
    """

    _rule, _keys = "adagrad", ("sum",)
    _option_keys = ("lr", "lr_decay", "weight_decay", "eps", "maximize")

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, foreach=None, *, maximize: bool = False,
                 differentiable: bool = False, fused=None):
        _check_common(lr, eps, weight_decay)
        check(lr_decay >= 0.0, f"Invalid lr_decay value: {lr_decay}")
        check(initial_accumulator_value >= 0.0, f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value,
                        **_torch_flags(foreach, maximize, False, differentiable, fused, lr))
        defaults.pop("capturable")
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = self._new_state(p, group)

    def _new_state(self, p, group):
        from neurarust.creation import full_like

        return {"step": 0.0, "sum": full_like(p, group["initial_accumulator_value"])}


class Adadelta(FusedOptimizer):
    """Adadelta (Zeiler).

    >>> import neurarust as nr
    >>> nr.optim.Adadelta([nr.zeros(1, requires_grad=True)]).defaults["rho"]
    0.9
    """

    _rule, _keys = "adadelta", ("square_avg", "acc_delta")
    _option_keys = ("lr", "rho", "eps", "weight_decay", "maximize")

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, foreach=None, *, capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False):
        _check_common(lr, eps, weight_decay)
        check(0.0 <= rho <= 1.0, f"Invalid rho value: {rho}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                        **_torch_flags(foreach, maximize, capturable, differentiable, lr=lr))
        defaults.pop("fused")
        super().__init__(params, defaults)


class Adamax(FusedOptimizer):
    """Adamax: Adam with the infinity norm.

    >>> import neurarust as nr
    >>> nr.optim.Adamax([nr.zeros(1, requires_grad=True)]).defaults["lr"]
    0.002
    """

    _rule, _keys = "adamax", ("exp_avg", "exp_inf")
    _option_keys = ("betas", "lr", "eps", "weight_decay", "maximize")

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, foreach=None, *, maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False):
        _check_common(lr, eps, weight_decay, betas)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        **_torch_flags(foreach, maximize, capturable, differentiable, lr=lr))
        defaults.pop("fused")
        super().__init__(params, defaults)


class NAdam(FusedOptimizer):
    """NAdam (Dozat): Adam with Nesterov momentum and a momentum schedule (``momentum_decay``).

    >>> import neurarust as nr
    >>> nr.optim.NAdam([nr.zeros(1, requires_grad=True)]).defaults["momentum_decay"]
    0.004
    """

    _rule, _keys = "nadam", ("exp_avg", "exp_avg_sq")
    _option_keys = ("betas", "lr", "eps", "weight_decay", "momentum_decay", "decoupled_weight_decay", "maximize")

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, *,
                 foreach=None, maximize: bool = False, capturable: bool = False, differentiable: bool = False):
        _check_common(lr, eps, weight_decay, betas)
        check(momentum_decay >= 0.0, f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay,
                        **_torch_flags(foreach, maximize, capturable, differentiable, lr=lr))
        defaults.pop("fused")
        super().__init__(params, defaults)

    def _new_state(self, p, group):
        return dict(super()._new_state(p, group), mu_product=1.0)

    def _bucket(self, state):
        return state["step"], state["mu_product"]

    def _hyper_for(self, group, state):
        return {"step": int(state["step"]) + 1, "mu_product": state["mu_product"]}

    def _advance(self, states, hyper):
        b1, decay, step = hyper["beta1"], hyper["momentum_decay"], hyper["step"]
        mu_product = hyper["mu_product"] * b1 * (1.0 - 0.5 * 0.96 ** (step * decay))
        for s in states:
            s["step"], s["mu_product"] = float(step), mu_product


class RAdam(FusedOptimizer):
    """RAdam (Liu et al.): Adam with a rectified variance; plain momentum SGD in the first steps.

    >>> import neurarust as nr
    >>> nr.optim.RAdam([nr.zeros(1, requires_grad=True)]).defaults["lr"]
    0.001
    """

    _rule, _keys = "radam", ("exp_avg", "exp_avg_sq")
    _option_keys = ("betas", "lr", "eps", "weight_decay", "decoupled_weight_decay", "maximize")

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *, foreach=None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False):
        _check_common(lr, eps, weight_decay, betas)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay,
                        **_torch_flags(foreach, maximize, capturable, differentiable, lr=lr))
        defaults.pop("fused")
        super().__init__(params, defaults)


class Lion(FusedOptimizer):
    """Lion (Chen et al., "Symbolic Discovery of Optimization Algorithms"): the sign of an
    interpolated momentum, with decoupled weight decay. Not in torch.optim; defaults from the paper.

    >>> import neurarust as nr
    >>> w = nr.tensor([1.0], requires_grad=True)
    >>> opt = nr.optim.Lion([w], lr=0.1)
    >>> w.grad = nr.tensor([3.0]); opt.step(); round(w.item(), 4)
    0.9
    """

    _rule, _keys = "lion", ("exp_avg",)
    _option_keys = ("betas", "lr", "weight_decay", "maximize")

    def __init__(self, params: Iterable, lr: float = 1e-4, betas: tuple = (0.9, 0.99), weight_decay: float = 0.0,
                 *, maximize: bool = False, foreach=None):
        _check_common(lr, 0.0, weight_decay, betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), weight_decay=weight_decay, maximize=maximize,
                                      foreach=foreach))


__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "Lion"]
