"""The optimizer base class (``torch.optim.Optimizer``'s interface) and the shared fused step.

Parameters live in ``param_groups`` (dicts with ``params`` and per-group options); per-parameter
state lives in ``state[param]``. :meth:`Optimizer.state_dict` has PyTorch's structure (state keyed
by the parameter's index over all groups, groups with ``params`` index lists) and saves with
``neurarust.save``. Step counters are host numbers, so a step never waits for the device.

    >>> import neurarust as nr
    >>> w = nr.ones(2, requires_grad=True)
    >>> opt = nr.optim.SGD([w], lr=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step(); w.tolist()
    [0.0, 0.0]
"""
from __future__ import annotations

import functools
import itertools
from collections import OrderedDict, defaultdict
from typing import Any, Callable, Iterable

from neurarust import guards
from neurarust.autograd.grad_mode import enable_grad, no_grad
from neurarust.errors import ArgumentError, SignatureError
from neurarust.tensor import Tensor


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


class _Handle:
    """Returned by ``register_step_*_hook``: ``remove()`` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks: dict):
        self.id, self._hooks = next(_Handle._ids), hooks

    def remove(self) -> None:
        self._hooks.pop(self.id, None)


def _with_hooks(step: Callable) -> Callable:
    """Wrap a subclass's ``step`` with the pre/post step hooks (a pre hook may replace the arguments)."""
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        for hook in list(self._step_pre_hooks.values()):
            out = hook(self, args, kwargs)
            if out is not None:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise SignatureError("a step pre hook must return None or (args, kwargs)")
                args, kwargs = out
        result = step(self, *args, **kwargs)
        for hook in list(self._step_post_hooks.values()):
            hook(self, args, kwargs)
        return result
    wrapper._with_hooks = True
    return wrapper


class Optimizer:
    """Base class of all optimizers: ``Optimizer(params, defaults)``.

    ``params`` is an iterable of tensors or of dicts (parameter groups, each with its own options);
    ``defaults`` fills the options a group leaves out.

    >>> import neurarust as nr
    >>> a, b = nr.zeros(1, requires_grad=True), nr.zeros(1, requires_grad=True)
    >>> opt = nr.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.1}], lr=1.0)
    >>> [g["lr"] for g in opt.param_groups]
    [1.0, 0.1]
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_with_hooks", False):
            cls.step = _with_hooks(step)

    def __init__(self, params: Iterable, defaults: dict):
        self.defaults = dict(defaults)
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        self._step_pre_hooks: OrderedDict = OrderedDict()
        self._step_post_hooks: OrderedDict = OrderedDict()
        if isinstance(params, Tensor):
            raise SignatureError("params argument given to the optimizer should be an iterable of Tensors "
                                 f"or dicts, but got {type(params).__name__}")
        if isinstance(params, set):
            raise SignatureError("optimizer parameters need to be organized in ordered collections, but the "
                                 "ordering of tensors in sets will change between runs. Please use a list instead.")
        groups = list(params)
        if not groups:
            raise ArgumentError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (others taken from ``defaults``).

        >>> import neurarust as nr
        >>> opt = nr.optim.Adam([nr.zeros(1, requires_grad=True)])
        >>> opt.add_param_group({"params": [nr.zeros(2, requires_grad=True)], "lr": 0.1})
        >>> len(opt.param_groups), opt.param_groups[1]["betas"]
        (2, (0.9, 0.999))
        """
        if not isinstance(param_group, dict):
            raise SignatureError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise SignatureError("optimizer parameters need to be organized in ordered collections, but the "
                                 "ordering of tensors in sets will change between runs. Please use a list instead.")
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise SignatureError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ArgumentError("can't optimize a non-leaf Tensor")
        group = dict(param_group, params=params)
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ArgumentError(f"parameter group didn't specify a value of required optimization parameter {name}")
            group.setdefault(name, default)
        if len({id(p) for p in params}) != len(params):
            raise ArgumentError("optimizer contains a parameter group with duplicate parameters")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ArgumentError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None (default) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_().zero_()

    def step(self, closure: Callable | None = None):
        raise NotImplementedError

    def _closure_loss(self, closure: Callable | None):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # -- hooks ------------------------------------------------------------------------------------
    def register_step_pre_hook(self, hook: Callable) -> _Handle:
        """``hook(optimizer, args, kwargs)`` runs before each ``step``; it may return new (args, kwargs)."""
        handle = _Handle(self._step_pre_hooks)
        self._step_pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook: Callable) -> _Handle:
        """``hook(optimizer, args, kwargs)`` runs after each ``step``.

        >>> import neurarust as nr
        >>> opt = nr.optim.SGD([nr.zeros(1, requires_grad=True)])
        >>> calls = []
        >>> h = opt.register_step_post_hook(lambda o, a, k: calls.append(1))
        >>> opt.step(); h.remove(); opt.step(); calls
        [1]
        """
        handle = _Handle(self._step_post_hooks)
        self._step_post_hooks[handle.id] = hook
        return handle

    # -- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``, as PyTorch's;
        the state's tensors are the live buffers (``neurarust.save`` copies them out).

        >>> import neurarust as nr
        >>> w = nr.zeros(2, requires_grad=True)
        >>> opt = nr.optim.Adam([w]); w.grad = nr.ones(2); opt.step()
        >>> sd = opt.state_dict(); sorted(sd["state"][0]), sd["param_groups"][0]["params"]
        (['exp_avg', 'exp_avg_sq', 'step'], [0])
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: s for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a :meth:`state_dict` (state tensors copied to each parameter's dtype and device).
        A ``torch.optim`` state dict loads too: its torch tensors are converted, as
        :meth:`neurarust.nn.Module.load_state_dict` converts a model's."""
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise ArgumentError("loaded state dict has a different number of parameter groups")
        if any(len(s["params"]) != len(g["params"]) for s, g in zip(saved, self.param_groups)):
            raise ArgumentError("loaded state dict contains a parameter group that doesn't match the size of "
                                "optimizer's group")
        by_index = {i: (p, s) for s, g in zip(saved, self.param_groups) for i, p in zip(s["params"], g["params"])}
        self.state = defaultdict(dict)
        for key, values in state_dict["state"].items():
            p, group = by_index.get(int(key), (None, None))
            if p is not None:
                self.state[p] = {k: self._restore(k, _native(v), p, bool(group.get("capturable")))
                                 for k, v in values.items()}
        self.param_groups = [dict({k: _native(v) for k, v in s.items()}, params=g["params"])
                             for s, g in zip(saved, self.param_groups)]
        for group in self.param_groups:   # pairs and triples a JSON checkpoint turned into lists
            for key in ("betas", "etas", "step_sizes", "eps", "ns_coefficients"):
                if isinstance(group.get(key), list):
                    group[key] = tuple(group[key])

    @staticmethod
    def _restore(key: str, value: Any, p: Tensor, capturable: bool = False) -> Any:
        """A saved state value: buffers become copies in the param's dtype and device; scalar counters
        (steps, NAdam's mu_product, ASGD's eta and mu) host numbers, or, in a capturable group, fp32
        tensors on the param's device (as PyTorch keeps them)."""
        if key in _COUNTERS and (not isinstance(value, Tensor) or value.ndim == 0):
            return _counter(value, p, capturable)
        if isinstance(value, Tensor):
            return value.to(device=p.device, dtype=p.dtype).clone()
        return value


class FusedOptimizer(Optimizer):
    """An optimizer whose update is a registry rule of ``neurarust.kernels.optim``: per group, one
    call (one kernel launch on the Triton backend) per dtype and device (and step count).

    Subclasses set ``_rule`` (the entry ``<rule>_step``), ``_keys`` (their state names, one per state
    list of the rule) and ``_option_keys`` (the group options the rule takes), and implement
    ``_new_state``."""

    _rule = ""
    _keys: tuple[str, ...] = ()
    _option_keys: tuple[str, ...] = ()
    _counter_keys: tuple[str, ...] = ()   # per-param scalars besides the step (capturable: device tensors)
    _RULE_NAMES = {"decoupled_weight_decay": "decoupled"}  # group option -> the rule's keyword

    def _options(self, group: dict) -> dict:
        """The rule's keywords from ``group``: ``_option_keys`` by name, ``betas`` as beta1/beta2."""
        options = {}
        for key in self._option_keys:
            if key == "betas":
                options["beta1"], options["beta2"] = group["betas"]
            else:
                options[self._RULE_NAMES.get(key, key)] = group[key]
        return options

    def _new_state(self, p: Tensor, group: dict) -> dict:
        from neurarust.creation import zeros_like

        state = {"step": 0.0}
        state.update({k: zeros_like(p) for k in self._keys if self._uses(k, group)})
        return state

    def _uses(self, key: str, group: dict) -> bool:
        return True

    def _bucket(self, state: dict):
        return state["step"]

    def _hyper_for(self, group: dict, state: dict) -> dict:
        """The per-step keywords that depend on the state (the step count)."""
        return {"step": int(state["step"]) + 1}

    def _advance(self, states: list[dict], hyper: dict) -> None:
        for s in states:
            s["step"] = float(hyper["step"])

    @no_grad()
    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss, if any.

        In a ``capturable`` group, step counts, the learning rate and the GradScaler's found-inf flag
        (``self.found_inf``, set by :meth:`neurarust.amp.GradScaler.step`) are device tensors that the
        kernels read: the step never waits for the device, and with found_inf set it changes nothing."""
        from neurarust.registry import get

        loss = self._closure_loss(closure)
        guards.guard(self._hyperparameters)   # a compiled step captures again when the lr changes
        op = get(f"{self._rule}_step")
        for group in self.param_groups:
            capturable = bool(group.get("capturable", False))
            buckets: dict = {}
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._state_for(p, group)
                if capturable:
                    _counters_on_device(state, p)
                key = None if capturable else self._bucket(state)
                buckets.setdefault((p.dtype, p.device, key), []).append((p, state))
            options = self._options(group)
            for members in buckets.values():
                params, states = [p for p, _ in members], [s for _, s in members]
                lists = [[s[k] for s in states] if self._uses(k, group) else [] for k in self._keys]
                grads = [p.grad for p in params]
                if capturable:
                    device = params[0].device
                    counters = ([s["step"] for s in states], [s[k] for k in self._counter_keys for s in states],
                                self._device_lr(group["lr"], device), self._found_inf_on(device))
                    op(params, grads, *lists, capturable=counters, **dict(options, lr=0.0))
                    continue
                hyper = dict(options, **self._hyper_for(group, states[0]))
                if isinstance(hyper["lr"], Tensor):
                    hyper["lr"] = float(hyper["lr"].item())  # a tensor lr outside capturable mode: read once
                op(params, grads, *lists, **hyper)  # through the registry hook: graph capture sees it
                self._advance(states, hyper)
        return loss

    def _state_for(self, p: Tensor, group: dict) -> dict:
        """``p``'s state, created on its first step. A parameter whose rule keeps none (SGD without
        momentum) gets no entry, so ``state_dict()["state"]`` stays ``{}`` as in PyTorch (indexing
        the defaultdict would add an empty one)."""
        state = self.state.get(p)
        if not state:
            state = self._new_state(p, group)
            if state:
                self.state[p] = state
        return state

    def _hyperparameters(self) -> tuple:
        """Every group's numbers (lr, betas, ...): what a captured step bakes in."""
        return tuple(tuple((k, v) for k, v in sorted(g.items()) if isinstance(v, (bool, int, float, tuple)))
                     for g in self.param_groups)

    def _device_lr(self, lr, device) -> Tensor:
        """The learning rate as a one-element fp32 tensor on ``device`` (a host number is copied there
        once per value, no sync)."""
        from neurarust import dtype as _dt
        from neurarust.creation import full

        if isinstance(lr, Tensor):
            return lr if lr.dtype is _dt.float32 and lr.device == device else lr.to(device=device, dtype=_dt.float32)
        cache = self.__dict__.setdefault("_lr_tensors", {})
        key = (float(lr), str(device))
        if key not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[key] = full((), float(lr), dtype=_dt.float32, device=device)
        return cache[key]

    def _found_inf_on(self, device) -> Tensor:
        """The GradScaler's found-inf flag for this step (on ``device``), or a device zero."""
        from neurarust import dtype as _dt
        from neurarust.creation import zeros

        found = getattr(self, "found_inf", None)
        if found is not None:
            if found.device != device or found.dtype is not _dt.float32:
                found = found.to(device=device, dtype=_dt.float32)
            return found
        cache = self.__dict__.setdefault("_no_inf", {})
        if str(device) not in cache:
            cache[str(device)] = zeros((), dtype=_dt.float32, device=device)
        return cache[str(device)]


def _native(value: Any) -> Any:
    """``value`` with each foreign tensor (a torch.optim state dict's, any DLPack array) converted to
    a NeuraRust tensor, inside lists too (LBFGS's history); torch itself is never imported here."""
    if isinstance(value, (list, tuple)):
        return type(value)(_native(v) for v in value)
    if isinstance(value, Tensor) or not hasattr(value, "__dlpack__"):
        return value
    from neurarust.interop import from_dlpack

    return from_dlpack(value.detach() if hasattr(value, "detach") else value)


# The per-param scalar state kept as host numbers (0-d fp32 device tensors in a capturable group).
_COUNTERS = ("step", "mu_product", "eta", "mu")


def _counter(value: Any, p: Tensor, capturable: bool) -> Any:
    """A step count or another scalar counter (NAdam's mu_product, ASGD's eta and mu): a host float,
    or a 0-d fp32 tensor on ``p``'s device."""
    from neurarust import dtype as _dt
    from neurarust.creation import full

    if capturable:
        if isinstance(value, Tensor):
            return value.to(device=p.device, dtype=_dt.float32).reshape(()).clone()
        return full((), float(value), dtype=_dt.float32, device=p.device)
    return float(value.item()) if isinstance(value, Tensor) else value


def _counters_on_device(state: dict, p: Tensor) -> None:
    for key in _COUNTERS:
        value = state.get(key)
        if value is not None and not isinstance(value, Tensor):
            state[key] = _counter(value, p, True)


def check(condition: bool, message: str) -> None:
    """Raise ArgumentError (a ValueError, as PyTorch's) when an option is out of range."""
    if not condition:
        raise ArgumentError(message)
