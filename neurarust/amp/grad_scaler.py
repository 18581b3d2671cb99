"""``GradScaler``: dynamic loss scaling for float16 training, with PyTorch's algorithm and defaults.

Multiply the loss by a large scale so small fp16 gradients do not flush to zero; before the
optimizer step divide the gradients by the scale again (``unscale_``) and skip the step if any of
them overflowed to inf/NaN; then adjust the scale (``update``): halve it after an overflow, double it
after ``growth_interval`` clean steps. The scale and its growth tracker live on the device; the
inf check and unscale of each device's gradients of one dtype run as one fused multi-tensor kernel
(registry entry ``amp_unscale_``), and the scale update as another (``amp_update_scale_``), so
``update()`` never waits for the device. With a ``capturable`` optimizer, ``step()`` hands it the
device flag instead of reading it, so a skipped step needs no host sync either.

    >>> import neurarust as nr
    >>> w = nr.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = nr.optim.SGD([w], lr=0.1)
    >>> scaler = nr.amp.GradScaler("cpu", init_scale=1024.0)
    >>> scaler.scale((w * w).sum()).backward()
    >>> w.grad.tolist()                        # scaled gradients
    [2048.0, 4096.0]
    >>> scaler.step(opt); scaler.update()
    >>> [round(v, 4) for v in w.tolist()], scaler.get_scale()
    ([0.8, 1.6], 1024.0)
"""
from __future__ import annotations

import warnings
from collections import abc, defaultdict
from enum import Enum
from typing import Any, Iterable

from neurarust.errors import ArgumentError, GradScalerError
from neurarust.tensor import Tensor


class OptState(Enum):
    """Where an optimizer is in the current iteration."""

    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _fresh_state() -> dict:
    return {"stage": OptState.READY, "found_inf_per_device": {}}


class _PerDevice:
    """Copies of one device tensor on other devices, made once per iteration."""

    def __init__(self, master: Tensor):
        self.master = master
        self.copies: dict[str, Tensor] = {}

    def get(self, device) -> Tensor:
        if device == self.master.device:
            return self.master
        key = str(device)
        if key not in self.copies:
            self.copies[key] = self.master.to(device=device, non_blocking=True)
        return self.copies[key]


class GradScaler:
    """Dynamic loss scaling (``torch.amp.GradScaler``): ``scale``, ``unscale_``, ``step``, ``update``.

    ``device`` is where the scale lives ("cuda" by default, as PyTorch's; on a machine without CUDA a
    "cuda" scaler warns and disables itself, as PyTorch's does). A disabled scaler passes everything
    through: ``scale`` returns its input and ``step`` just calls ``optimizer.step()``.

    >>> import neurarust as nr
    >>> s = nr.amp.GradScaler("cpu")
    >>> s.get_scale(), s.get_growth_factor(), s.get_backoff_factor(), s.get_growth_interval()
    (65536.0, 2.0, 0.5, 2000)
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        self._device = str(device)
        self._enabled = bool(enabled)
        if self._device.split(":")[0] == "cuda" and self._enabled:
            from neurarust import cuda

            if not cuda.is_available():
                warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.",
                              stacklevel=2)
                self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise ArgumentError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise ArgumentError("The backoff factor must be < 1.0.")
        self._init_scale = float(init_scale)
        self._scale: Tensor | None = None
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._init_growth_tracker = 0
        self._growth_tracker: Tensor | None = None
        self._per_optimizer_states: dict[int, dict] = defaultdict(_fresh_state)

    # -- scale ------------------------------------------------------------------------------------
    def _lazy_init(self, device) -> None:
        from neurarust import dtype as _dt
        from neurarust.creation import full

        self._scale = full((), self._init_scale, dtype=_dt.float32, device=device)
        self._growth_tracker = full((), self._init_growth_tracker, dtype=_dt.int32, device=device)

    def _check_initialized(self, funcname: str) -> tuple[Tensor, Tensor]:
        fix = "This may indicate your script did not use scaler.scale(loss or outputs) earlier in the iteration."
        if self._scale is None:
            raise GradScalerError(f"Attempted {funcname} but _scale is None.  " + fix)
        if self._growth_tracker is None:
            raise GradScalerError(f"Attempted {funcname} but _growth_tracker is None.  " + fix)
        return self._scale, self._growth_tracker

    def scale(self, outputs):
        """``outputs`` times the current scale: a tensor, or (nested) lists/tuples/iterables of them
        (lists and tuples keep their type). Disabled: ``outputs`` unchanged.

        >>> import neurarust as nr
        >>> s = nr.amp.GradScaler("cpu", init_scale=4.0)
        >>> s.scale(nr.tensor(1.5)).item(), [t.item() for t in s.scale([nr.tensor(1.0), nr.tensor(2.0)])]
        (6.0, [4.0, 8.0])
        """
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init(outputs.device)
            return outputs * self._scale.to(device=outputs.device, non_blocking=True)
        copies: list[_PerDevice] = []

        def apply(value):
            if isinstance(value, Tensor):
                if not copies:
                    if self._scale is None:
                        self._lazy_init(value.device)
                    copies.append(_PerDevice(self._scale))
                return value * copies[0].get(value.device)
            if isinstance(value, abc.Iterable):
                scaled = map(apply, value)
                return type(value)(scaled) if isinstance(value, (list, tuple)) else scaled
            raise ArgumentError("outputs must be a Tensor or an iterable of Tensors")

        return apply(outputs)

    # -- unscale ----------------------------------------------------------------------------------
    def _unscale_grads_(self, optimizer, inv_scale: Tensor, found_inf: Tensor, allow_fp16: bool) -> dict:
        """Gradients by device and dtype, each bucket unscaled in one fused launch; the found-inf flag
        of each device."""
        from neurarust import dtype as _dt
        from neurarust.registry import call

        inv, found = _PerDevice(inv_scale), _PerDevice(found_inf)
        buckets: dict = defaultdict(lambda: defaultdict(list))
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if not allow_fp16 and p.grad.dtype is _dt.float16:
                    raise ArgumentError("Attempting to unscale FP16 gradients.")
                buckets[str(p.grad.device)][p.grad.dtype].append(p.grad)
        flags = {}
        for device, by_dtype in buckets.items():
            grads0 = next(iter(by_dtype.values()))[0]
            flags[device] = found.get(grads0.device)
            for grads in by_dtype.values():
                call("amp_unscale_", grads, flags[device], inv.get(grads0.device))
        return flags

    def unscale_(self, optimizer) -> None:
        """Divide ``optimizer``'s gradients by the scale in place (once per iteration), e.g. to clip
        them; records whether any is inf/NaN for :meth:`step`.

        >>> import neurarust as nr
        >>> w = nr.ones(2, requires_grad=True); opt = nr.optim.SGD([w])
        >>> s = nr.amp.GradScaler("cpu", init_scale=8.0)
        >>> s.scale(w.sum()).backward(); s.unscale_(opt); w.grad.tolist()
        [1.0, 1.0]
        """
        if not self._enabled:
            return
        self._check_initialized("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.UNSCALED:
            raise GradScalerError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] is OptState.STEPPED:
            raise GradScalerError("unscale_() is being called after step().")
        from neurarust import dtype as _dt
        from neurarust.creation import zeros

        inv_scale = self._scale.double().reciprocal().float()
        found_inf = zeros((), dtype=_dt.float32, device=self._scale.device)
        state["found_inf_per_device"] = self._unscale_grads_(optimizer, inv_scale, found_inf, False)
        state["stage"] = OptState.UNSCALED

    # -- step and update --------------------------------------------------------------------------
    def step(self, optimizer, *args, **kwargs):
        """Unscale (unless :meth:`unscale_` already did) and run ``optimizer.step(*args, **kwargs)``
        unless a gradient is inf/NaN. A capturable optimizer gets the device flag (it skips the update
        on the device, no sync); any other reads the flag back. Returns ``optimizer.step``'s result
        (None when skipped).

        >>> import neurarust as nr
        >>> w = nr.ones(1, requires_grad=True); opt = nr.optim.SGD([w], lr=1.0)
        >>> s = nr.amp.GradScaler("cpu")
        >>> s.scale(w.sum() * float("inf")).backward()
        >>> s.step(opt); w.tolist()              # an inf gradient: skipped
        [1.0]
        """
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise GradScalerError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_initialized("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.STEPPED:
            raise GradScalerError("step() has already been called since the last update().")
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        flags = list(state["found_inf_per_device"].values())
        if not flags:
            raise GradScalerError("No inf checks were recorded for this optimizer.")
        if _is_capturable(optimizer):
            optimizer.found_inf = _combined(flags, flags[0].device)
            try:
                result = optimizer.step(*args, **kwargs)
            finally:
                del optimizer.found_inf
        else:
            result = None if sum(f.item() for f in flags) else optimizer.step(*args, **kwargs)
        state["stage"] = OptState.STEPPED
        return result

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """Adjust the scale for the next iteration (on the device): halve it (``backoff_factor``) and
        reset the tracker if any optimizer saw an inf/NaN, else double it (``growth_factor``) after
        ``growth_interval`` clean steps in a row; or set it to ``new_scale``.

        >>> import neurarust as nr
        >>> w = nr.ones(1, requires_grad=True); opt = nr.optim.SGD([w])
        >>> s = nr.amp.GradScaler("cpu", init_scale=64.0, growth_interval=1)
        >>> s.scale(w.sum()).backward(); s.step(opt); s.update(); s.get_scale()
        128.0
        >>> s.update(8.0); s.get_scale()
        8.0
        """
        if not self._enabled:
            return
        scale, tracker = self._check_initialized("update")
        if new_scale is not None:
            if isinstance(new_scale, (int, float)) and not isinstance(new_scale, bool):
                scale.fill_(float(new_scale))
            else:
                reason = ("new_scale should be a float or a 1-element torch.cuda.FloatTensor or "
                          "torch.FloatTensor with requires_grad=False.")
                if not isinstance(new_scale, Tensor) or new_scale.device.type != scale.device.type \
                        or new_scale.numel() != 1 or new_scale.requires_grad:
                    raise GradScalerError(reason)
                scale.copy_(new_scale.reshape(()))
        else:
            flags = [f for s in self._per_optimizer_states.values() for f in s["found_inf_per_device"].values()]
            if not flags:
                raise GradScalerError("No inf checks were recorded prior to update.")
            from neurarust.registry import call

            call("amp_update_scale_", scale, tracker, _combined(flags, scale.device), self._growth_factor,
                 self._backoff_factor, self._growth_interval)
        self._per_optimizer_states = defaultdict(_fresh_state)

    # -- settings ---------------------------------------------------------------------------------
    def get_scale(self) -> float:
        """The current scale (a host read of the device value), ``init_scale`` before the first
        :meth:`scale`, 1.0 when disabled."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else float(self._scale.item())

    def get_growth_factor(self) -> float:
        """The factor the scale grows by after ``growth_interval`` clean steps."""
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        """Set the growth factor (taken by the next :meth:`update`)."""
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self) -> float:
        """The factor the scale shrinks by after an inf/NaN gradient."""
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        """Set the backoff factor (taken by the next :meth:`update`)."""
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self) -> int:
        """How many clean steps in a row make the scale grow."""
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        """Set the growth interval (taken by the next :meth:`update`)."""
        self._growth_interval = int(new_interval)

    def _get_growth_tracker(self) -> int:
        """Clean steps since the last growth or backoff (a host read of the device counter)."""
        if not self._enabled:
            return 0
        return self._init_growth_tracker if self._growth_tracker is None else int(self._growth_tracker.item())

    def is_enabled(self) -> bool:
        """Whether this scaler scales at all (False when built disabled, or "cuda" without CUDA)."""
        return self._enabled

    # -- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """PyTorch's keys: ``scale``, ``growth_factor``, ``backoff_factor``, ``growth_interval``,
        ``_growth_tracker``; empty when disabled.

        >>> import neurarust as nr
        >>> sorted(nr.amp.GradScaler("cpu").state_dict())
        ['_growth_tracker', 'backoff_factor', 'growth_factor', 'growth_interval', 'scale']
        """
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (a no-op when disabled)."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise GradScalerError("The source state dict is empty, possibly because it was saved "
                                  "from a disabled instance of GradScaler.")
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale.fill_(self._init_scale)
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._growth_tracker is not None:
            self._growth_tracker.fill_(self._init_growth_tracker)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if self._enabled:
            if len(self._per_optimizer_states) != 0:
                raise GradScalerError("A GradScaler instance may only be pickled at the beginning of an iteration, "
                                      "or at the end after scaler.update().")
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = state["_growth_tracker"] = None
        state["_per_optimizer_states"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._per_optimizer_states = defaultdict(_fresh_state)


def _is_capturable(optimizer) -> bool:
    """A FusedOptimizer whose groups are all capturable reads the found-inf flag on the device."""
    from neurarust.optim.optimizer import FusedOptimizer

    groups: Iterable[dict] = optimizer.param_groups
    return isinstance(optimizer, FusedOptimizer) and all(g.get("capturable", False) for g in groups)


def _combined(flags: list[Tensor], device) -> Tensor:
    """The sum of the per-device found-inf flags, on ``device`` (no host read)."""
    total = flags[0].to(device=device, non_blocking=True)
    for f in flags[1:]:
        total = total + f.to(device=device, non_blocking=True)
    return total


__all__ = ["GradScaler", "OptState"]
