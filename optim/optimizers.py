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

from neurarust.autograd.grad_mode import no_grad
from neurarust.errors import ArgumentError, LayoutError
from neurarust.tensor import Tensor

from .optimizer import FusedOptimizer, Optimizer, check


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
    _counter_keys = ("mu_product",)

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


def _scalar(lr) -> float:
    return float(lr.item()) if isinstance(lr, Tensor) else float(lr)


class Rprop(FusedOptimizer):
    """Resilient backpropagation (Riedmiller & Braun), as ``torch.optim.Rprop``: every element has its
    own step size, which grows while the gradient keeps its sign and shrinks when it flips; the
    update uses only the gradient's sign. The update of each element::

        input: lr, (eta-, eta+) = etas, (step_min, step_max) = step_sizes
        initialize: prev <- 0, step_size <- lr
        for t = 1, 2, ...:
            g <- grad (-grad with maximize)
            if g * prev > 0:   step_size <- min(step_size * eta+, step_max)
            elif g * prev < 0: step_size <- max(step_size * eta-, step_min); g <- 0
            param <- param - sign(g) * step_size
            prev <- g

    State (PyTorch's names): ``step``, ``prev``, ``step_size``. One fused launch per param group and
    dtype, whatever the step counts.

    Args:
        params: the tensors to optimize, or parameter groups (dicts).
        lr: the first step size of every element (a one-element tensor too). Default: 1e-2.
        etas: ``(etaminus, etaplus)``, the factors that shrink and grow the step sizes
            (``0 < etaminus < 1 < etaplus``). Default: (0.5, 1.2).
        step_sizes: ``(min, max)``, the bounds of the step sizes. Default: (1e-6, 50).
        capturable: keep the step counts and the found-inf flag on the device (no host sync; see
            docs/optim.md). Default: False.
        foreach: accepted for PyTorch compatibility (every update is one fused launch already).
        maximize: maximize the objective (ascend the gradient). Default: False.
        differentiable: True is not supported (updates run outside autograd).

    >>> import neurarust as nr
    >>> w = nr.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = nr.optim.Rprop([w], lr=0.1)
    >>> for g in ([1.0, 1.0], [1.0, -1.0]):
    ...     w.grad = nr.tensor(g); opt.step()
    >>> [round(v, 4) for v in w.tolist()], [round(v, 4) for v in opt.state[w]["step_size"].tolist()]
    ([0.78, -1.1], [0.12, 0.05])
    """

    _rule, _keys = "rprop", ("prev", "step_size")

    def __init__(self, params: Iterable, lr: float = 1e-2, etas: tuple = (0.5, 1.2), step_sizes: tuple = (1e-6, 50),
                 *, capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False):
        flags = _torch_flags(foreach, maximize, capturable, differentiable, lr=lr)
        check(0.0 <= lr, f"Invalid learning rate: {lr}")
        check(0.0 < etas[0] < 1.0 < etas[1], f"Invalid eta values: {etas[0]}, {etas[1]}")
        flags.pop("fused")
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), **flags))

    def _options(self, group):
        (etaminus, etaplus), (step_min, step_max) = group["etas"], group["step_sizes"]
        return dict(lr=group["lr"], etaminus=etaminus, etaplus=etaplus, step_size_min=step_min,
                    step_size_max=step_max, maximize=group["maximize"])

    def _new_state(self, p, group):
        from neurarust.creation import full_like, zeros_like

        return {"step": 0.0, "prev": zeros_like(p), "step_size": full_like(p, _scalar(group["lr"]))}

    def _bucket(self, state):
        return None   # the rule never reads the step count: one launch for the whole group

    def _advance(self, states, hyper):
        for s in states:
            s["step"] = s["step"] + 1.0


class ASGD(FusedOptimizer):
    """Averaged stochastic gradient descent (Polyak & Juditsky), as ``torch.optim.ASGD``: SGD with a
    decay term and a step size that decays with the step count, plus a running average of the params
    (``state["ax"]``) that starts averaging after step ``t0``. The update of step t::

        input: lr, lambd, alpha, t0, weight_decay
        initialize: eta <- lr, mu <- 1, ax <- 0
        g <- grad (-grad with maximize) + weight_decay * param
        param <- param * (1 - lambd * eta) - eta * g
        ax <- ax + (param - ax) * mu     (ax <- param while mu = 1)
        eta <- lr / (1 + lambd * lr * t) ** alpha
        mu <- 1 / max(1, t - t0)

    State (PyTorch's names): ``step``, ``eta``, ``mu`` (host numbers rounded to float32 as PyTorch's
    float32 state tensors hold them, so the trajectories match; 0-d float32 device tensors in a
    capturable group), ``ax``.

    Args:
        params: the tensors to optimize, or parameter groups (dicts).
        lr: learning rate, the first eta (a one-element tensor too). Default: 1e-2.
        lambd: decay term. Default: 1e-4.
        alpha: power of the eta schedule. Default: 0.75.
        t0: the step at which averaging starts. Default: 1e6.
        weight_decay: L2 penalty added to the gradient. Default: 0.
        foreach: accepted for PyTorch compatibility (every update is one fused launch already).
        maximize: maximize the objective. Default: False.
        differentiable: True is not supported (updates run outside autograd).
        capturable: keep step, eta, mu, lr and the found-inf flag on the device (no host sync).
            Default: False.

    >>> import neurarust as nr
    >>> w = nr.tensor([1.0], requires_grad=True)
    >>> opt = nr.optim.ASGD([w], lr=0.5, lambd=0.0, t0=0)
    >>> for _ in range(3):
    ...     w.grad = nr.tensor([1.0]); opt.step()
    >>> w.item(), opt.state[w]["ax"].item(), round(opt.state[w]["mu"], 4)
    (-0.5, -0.25, 0.3333)
    """

    _rule, _keys = "asgd", ("ax",)
    _option_keys = ("lr", "lambd", "alpha", "t0", "weight_decay", "maximize")
    _counter_keys = ("eta", "mu")

    def __init__(self, params: Iterable, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6,
                 weight_decay: float = 0, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False,
                 capturable: bool = False):
        flags = _torch_flags(foreach, maximize, capturable, differentiable, lr=lr)
        check(0.0 <= lr, f"Invalid learning rate: {lr}")
        check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        flags.pop("fused")
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, **flags))

    def _new_state(self, p, group):
        from neurarust.creation import zeros_like
        from neurarust.kernels.optim import scalar_state

        return {"step": 0.0, "eta": scalar_state(_scalar(group["lr"])), "mu": 1.0, "ax": zeros_like(p)}

    def _bucket(self, state):
        return state["step"], state["eta"], state["mu"]

    def _hyper_for(self, group, state):
        return {"step": int(state["step"]) + 1, "eta": state["eta"], "mu": state["mu"]}

    def _advance(self, states, hyper):
        from neurarust.kernels.optim import asgd_schedule

        step = hyper["step"]
        eta, mu = asgd_schedule(hyper["lr"], hyper["lambd"], hyper["alpha"], hyper["t0"], step)
        for s in states:
            s["step"], s["eta"], s["mu"] = float(step), eta, mu


class Adafactor(FusedOptimizer):
    """Adafactor (Shazeer & Stern), as ``torch.optim.Adafactor``: a second moment kept factored for
    params of two or more dims (a row and a column mean of ``g * g`` over the last two dims, so
    O(n + m) memory for an n x m matrix), a relative step size and update clipping; no first moment.
    The update of step t (PyTorch's variant: ``lr`` caps the relative step and scales the decoupled
    weight decay; eps1 is applied to the estimate and the update)::

        input: lr, beta2_decay, (eps1, eps2) = eps, d, weight_decay
        initialize: R <- 0 (row_var), C <- 0 (col_var), V <- 0 (variance, for vectors)
        G <- grad (-grad with maximize)
        beta2_t <- 1 - t ** beta2_decay
        rho_t <- min(lr, 1 / sqrt(t))
        alpha_t <- max(eps2, RMS(param)) * rho_t
        param <- param * (1 - lr * weight_decay)
        if dim(G) > 1:
            R <- beta2_t * R + (1 - beta2_t) * mean(G * G, dim=-1)
            C <- beta2_t * C + (1 - beta2_t) * mean(G * G, dim=-2)
            V_hat <- R * C / max(mean(R, dim=-2), eps1)
        else:
            V <- beta2_t * V + (1 - beta2_t) * G * G;  V_hat <- V
        U <- G / max(sqrt(V_hat), eps1)
        param <- param - alpha_t * U / max(1, RMS(U) / d)

    eps1 = None means the param dtype's machine epsilon. The reductions are registry ops on the
    device (the two RMS values never come back to the host, unlike PyTorch's ``.item()`` calls), and
    the last line for all params of a group, dtype and step count is one fused launch. An empty param
    is left as it is (PyTorch's divides by zero there). State (PyTorch's names): ``step``, and
    ``row_var`` and ``col_var`` (params of 2+ dims) or ``variance``.

    Args:
        params: the tensors to optimize, or parameter groups (dicts).
        lr: the cap of the relative step size and the weight decay's factor (a one-element tensor
            too). Default: 1e-2.
        beta2_decay: the exponent of the second moment's decay rate (``<= 0``). Default: -0.8.
        eps: ``(eps1, eps2)``: the floor of the estimate (None: the dtype's epsilon) and of the
            param RMS. Default: (None, 1e-3).
        d: the clipping threshold of the update's RMS (``>= 1``). Default: 1.0.
        weight_decay: decoupled weight decay coefficient. Default: 0.0.
        foreach: accepted for PyTorch compatibility.
        maximize: maximize the objective. Default: False.

    >>> import neurarust as nr
    >>> w = nr.ones(2, 3, requires_grad=True)
    >>> opt = nr.optim.Adafactor([w])
    >>> w.grad = nr.ones(2, 3); opt.step()
    >>> round(w[0, 0].item(), 4), tuple(opt.state[w]["row_var"].shape), tuple(opt.state[w]["col_var"].shape)
    (0.99, (2, 1), (1, 3))
    """

    _rule = "adafactor"

    def __init__(self, params: Iterable, lr: float = 1e-2, beta2_decay: float = -0.8, eps: tuple = (None, 1e-3),
                 d: float = 1.0, weight_decay: float = 0.0, *, foreach: bool | None = None,
                 maximize: bool = False):
        if isinstance(lr, Tensor):
            check(lr.numel() == 1, "Tensor lr must be 1-element")
        check(0.0 <= lr, f"Learning rate should be >= 0 but is: {lr}")
        check(0.0 >= beta2_decay, f"beta2_decay should be <= 0 but is: {beta2_decay}")
        check(eps[0] is None or 0.0 <= eps[0], f"epsilon1 should be >= 0 but is: {eps[0]}")
        check(0.0 <= eps[1], f"epsilon2 should be >= 0 but is: {eps[1]}")
        check(1.0 <= d, f"Clipping threshold d should be >= 1 but is: {d}")
        check(0.0 <= weight_decay, f"weight_decay should be >= 0 but is: {weight_decay}")
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=tuple(eps), d=d, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize))

    def _new_state(self, p, group):
        from neurarust.creation import zeros, zeros_like

        if p.ndim > 1:
            shape = tuple(p.shape)
            return {"step": 0.0, "row_var": zeros(shape[:-1] + (1,), dtype=p.dtype, device=p.device),
                    "col_var": zeros(shape[:-2] + (1,) + shape[-1:], dtype=p.dtype, device=p.device)}
        return {"step": 0.0, "variance": zeros_like(p)}

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss, if any."""
        from neurarust import guards
        from neurarust.registry import get

        loss = self._closure_loss(closure)
        guards.guard(self._hyperparameters)
        op = get("adafactor_step")
        for group in self.param_groups:
            buckets: dict = {}
            for p in group["params"]:
                if p.grad is not None:
                    state = self._state_for(p, group)
                    buckets.setdefault((p.dtype, p.device, state["step"]), []).append((p, state))
            eps1, eps2 = group["eps"]
            for members in buckets.values():
                params, states = [p for p, _ in members], [s for _, s in members]
                step = int(states[0]["step"]) + 1
                op(params, [p.grad for p in params], [s.get("row_var") for s in states],
                   [s.get("col_var") for s in states], [s.get("variance") for s in states], step=step,
                   lr=_scalar(group["lr"]), beta2_decay=group["beta2_decay"], eps1=eps1, eps2=eps2, d=group["d"],
                   weight_decay=group["weight_decay"], maximize=group["maximize"])
                for s in states:
                    s["step"] = float(step)
        return loss


class SparseAdam(Optimizer):
    """``torch.optim.SparseAdam``'s constructor and checks. PyTorch's SparseAdam updates only the
    elements a *sparse* gradient holds (``nn.Embedding(sparse=True)``), and its ``step`` refuses a
    dense gradient with a RuntimeError. NeuraRust tensors have no sparse layout, so every gradient
    is dense and ``step`` raises :class:`neurarust.errors.LayoutError` (a RuntimeError) with
    PyTorch's message as soon as a parameter has a gradient; use ``Adam`` (lazy-update semantics
    aside, the same rule).

    Args:
        params: the tensors to optimize, or parameter groups (dicts).
        lr: learning rate (``> 0``). Default: 1e-3.
        betas: the moments' decay rates. Default: (0.9, 0.999).
        eps: term added to the denominator (``> 0``). Default: 1e-8.
        maximize: maximize the objective. Default: False.

    >>> import neurarust as nr
    >>> w = nr.zeros(2, requires_grad=True)
    >>> opt = nr.optim.SparseAdam([w])
    >>> w.grad = nr.ones(2)
    >>> try:
    ...     opt.step()
    ... except RuntimeError as e:
    ...     print(e)
    SparseAdam does not support dense gradients, please consider Adam instead
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 maximize: bool = False):
        if isinstance(lr, Tensor):
            check(lr.numel() == 1, "Tensor lr must be 1-element")
        check(0.0 < lr, f"Invalid learning rate: {lr}")
        check(0.0 < eps, f"Invalid epsilon value: {eps}")
        check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, maximize=maximize))

    @no_grad()
    def step(self, closure=None):
        """Raises LayoutError if any parameter has a gradient (all NeuraRust gradients are dense)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            if any(p.grad is not None for p in group["params"]):
                raise LayoutError("SparseAdam does not support dense gradients, please consider Adam instead")
        return loss


__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "Lion", "Rprop",
           "ASGD", "Adafactor", "SparseAdam"]
