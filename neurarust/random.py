"""Random number state: :class:`Generator` objects and the per-device default generators.

Every random op in NeuraRust draws from a counter-based Philox4x32-10 generator: element ``i`` of a
draw is a pure function of ``(seed, offset + i)``, so the Triton kernels and the NumPy references
produce the same numbers, whatever the launch grid or block size. A generator's whole state is that
pair: the 64-bit ``seed`` (Philox's key) and the 64-bit ``offset``, the number of Philox counters
consumed so far. Each op takes the counters it needs and advances the offset past them, so
successive calls differ and restoring a saved state replays a sequence exactly::

    >>> import neurarust as nr
    >>> _ = nr.manual_seed(7)
    >>> state = nr.get_rng_state()
    >>> a = nr.randint(0, 100, (4,)).tolist()
    >>> nr.set_rng_state(state)
    >>> nr.randint(0, 100, (4,)).tolist() == a
    True

The state serialises as a ``uint8`` tensor of 16 bytes (seed then offset, little-endian), like the
state of PyTorch's CUDA generators. CPU tensors (on either backend) draw from the CPU default
generator and each CUDA device has its own, as in PyTorch; :func:`manual_seed` seeds them all.
"""
from __future__ import annotations

import secrets
from typing import Any

import numpy as np

from . import dtype as _dt
from .device import CPU, as_device, device
from .errors import ArgumentError, DeviceError, DTypeError, ShapeError

DEFAULT_SEED = 67280421310721  # PyTorch's default CPU seed
_MASK64 = (1 << 64) - 1
STATE_BYTES = 16


def _as_seed(seed: Any) -> int:
    """A seed as PyTorch takes it: any integer in [-2**63, 2**64), negatives wrapped modulo 2**64."""
    if isinstance(seed, bool) or not hasattr(seed, "__index__"):
        raise ArgumentError(f"manual_seed expected an integer seed, got {seed!r} ({type(seed).__name__})")
    s = int(seed)
    if not -(1 << 63) <= s <= _MASK64:
        raise ArgumentError(f"seed {s} is out of range: it must lie in [-2**63, 2**64)")
    return s & _MASK64


class Generator:
    """Philox random state for one device: a 64-bit seed and the offset of the next unused counter.

    Pass one as ``generator=`` to any random op to draw from it instead of the device's default.

    >>> import neurarust as nr
    >>> g = nr.Generator().manual_seed(3)
    >>> first = nr.rand(2, generator=g).tolist()
    >>> g.initial_seed(), nr.rand(2, generator=g.manual_seed(3)).tolist() == first
    (3, True)
    """

    def __init__(self, device: Any = "cpu"):
        self.device: device = as_device(device)
        self._seed = DEFAULT_SEED
        self._offset = 0

    def manual_seed(self, seed: int) -> "Generator":
        """Restart from ``seed`` (offset 0); returns the generator.

        >>> import neurarust as nr
        >>> nr.Generator().manual_seed(-1).initial_seed()
        18446744073709551615
        """
        self._seed = _as_seed(seed)
        self._offset = 0
        return self

    def seed(self) -> int:
        """Restart from a non-deterministic seed (from the OS) and return it.

        >>> import neurarust as nr
        >>> g = nr.Generator()
        >>> g.seed() == g.initial_seed()
        True
        """
        self.manual_seed(secrets.randbits(63))
        return self._seed

    def initial_seed(self) -> int:
        """The seed this generator was last seeded with.

        >>> import neurarust as nr
        >>> nr.Generator().manual_seed(5).initial_seed()
        5
        """
        return self._seed

    def get_state(self):
        """The state as a new ``uint8`` CPU tensor of 16 bytes: seed and offset, little-endian.

        >>> import neurarust as nr
        >>> s = nr.Generator().manual_seed(1).get_state()
        >>> s.dtype, s.shape, s.tolist()[:8]
        (neurarust.uint8, neurarust.Size([16]), [1, 0, 0, 0, 0, 0, 0, 0])
        """
        from .tensor import Tensor

        words = np.array([self._seed, self._offset], dtype="<u8")
        return Tensor._from_array(words.view(np.uint8).copy(), _dt.uint8)

    def set_state(self, new_state) -> "Generator":
        """Restore a state from :meth:`get_state`; returns the generator.

        >>> import neurarust as nr
        >>> g = nr.Generator().manual_seed(9)
        >>> s = g.get_state(); a = nr.rand(3, generator=g).tolist()
        >>> nr.rand(3, generator=g.set_state(s)).tolist() == a
        True
        """
        from .tensor import Tensor

        if not isinstance(new_state, Tensor):
            raise ArgumentError(f"set_state expects a uint8 Tensor, got {type(new_state).__name__}")
        if new_state.dtype is not _dt.uint8:
            raise DTypeError(f"set_state expects a uint8 Tensor, got {new_state.dtype.name}")
        if tuple(new_state.shape) != (STATE_BYTES,):
            raise ShapeError(f"set_state expects a state of {STATE_BYTES} bytes, got shape {list(new_state.shape)}")
        seed, offset = (int(w) for w in np.ascontiguousarray(new_state.numpy(force=True)).view("<u8"))
        if offset >= 1 << 63:
            raise ArgumentError(f"set_state: offset {offset} is out of range (it must be below 2**63)")
        self._seed, self._offset = seed, offset
        return self

    def _consume(self, counters: int) -> tuple[int, int]:
        """Take ``counters`` Philox counters: (seed, first counter); the offset moves past them."""
        start = self._offset
        end = start + int(counters)
        if end >= 1 << 63:
            raise ArgumentError("the generator's offset passed 2**63; reseed it")
        self._offset = end
        return self._seed, start

    def __repr__(self) -> str:
        return f"<neurarust.Generator device={self.device} seed={self._seed} offset={self._offset}>"


default_generator = Generator(CPU)
"""The CPU default generator: CPU tensors draw from it unless a ``generator=`` is passed."""

_defaults: dict[device, Generator] = {CPU: default_generator}


def generator_for(dev: device, generator: Generator | None = None) -> Generator:
    """The generator an op on ``dev`` draws from: ``generator`` (checked against ``dev``), else the
    device's default (created on first use, seeded as the last :func:`manual_seed` asked).

    >>> import neurarust as nr
    >>> generator_for(nr.device("cpu")) is nr.default_generator
    True
    """
    if generator is not None:
        if not isinstance(generator, Generator):
            raise ArgumentError(f"generator must be a neurarust.Generator, got {type(generator).__name__}")
        if generator.device.type != dev.type:
            raise DeviceError(f"expected a '{dev.type}' device type for generator but found '{generator.device.type}'")
        return generator
    g = _defaults.get(dev)
    if g is None:
        g = _defaults[dev] = Generator(dev).manual_seed(default_generator.initial_seed())
    return g


def manual_seed(seed: int) -> Generator:
    """Seed every device's default generator; returns the CPU default generator.

    >>> import neurarust as nr
    >>> _ = nr.manual_seed(0)
    >>> nr.randint(0, 10, (5,)).tolist() == (nr.manual_seed(0), nr.randint(0, 10, (5,)))[1].tolist()
    True
    """
    s = _as_seed(seed)
    for g in _defaults.values():
        g.manual_seed(s)
    return default_generator


def seed() -> int:
    """Seed every default generator with one non-deterministic seed and return it.

    >>> import neurarust as nr
    >>> s = nr.seed()
    >>> s == nr.initial_seed()
    True
    """
    s = default_generator.seed()
    manual_seed(s)
    return s


def initial_seed() -> int:
    """The seed of the CPU default generator.

    >>> import neurarust as nr
    >>> _ = nr.manual_seed(42)
    >>> nr.initial_seed()
    42
    """
    return default_generator.initial_seed()


def get_rng_state():
    """The CPU default generator's state (a ``uint8`` tensor of 16 bytes).

    >>> import neurarust as nr
    >>> _ = nr.manual_seed(2)
    >>> nr.get_rng_state().tolist()
    [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    """
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    """Restore the CPU default generator's state from :func:`get_rng_state`.

    >>> import neurarust as nr
    >>> _ = nr.manual_seed(2)
    >>> s = nr.get_rng_state(); a = nr.randn(3).tolist()
    >>> nr.set_rng_state(s); nr.randn(3).tolist() == a
    True
    """
    default_generator.set_state(new_state)
