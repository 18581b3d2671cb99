"""Image transforms in NumPy, with torchvision's names and parameters.

Layout follows the type, as in torchvision: a NeuraRust ``Tensor`` is ``... x C x H x W`` (or ``H x W``),
a NumPy array is an image as read from a file, ``H x W x C`` (or ``H x W``). Every transform returns
the type it was given (``ToTensor`` excepted). Random transforms draw from NeuraRust's generator
(``generator=``, default the global one, which each DataLoader worker seeds with its own seed), so
augmentations repeat for a seed and differ across workers.

    >>> import numpy as np, neurarust as nr
    >>> from neurarust.data import transforms as T
    >>> img = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)          # H x W x C
    >>> pipeline = T.Compose([T.ToTensor(), T.CenterCrop(2), T.Normalize([0.5] * 3, [0.5] * 3)])
    >>> pipeline(img).shape
    neurarust.Size([3, 2, 2])
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Sequence

import numpy as np

from neurarust.errors import ArgumentError, ShapeError

__all__ = ["Compose", "ToTensor", "Normalize", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomCrop",
           "CenterCrop", "Resize", "RandomResizedCrop", "RandomRotation", "ColorJitter", "Lambda"]


# ----------------------------------------------------------------------------------------------
# Helpers: a common channels-first float view, and the way back
# ----------------------------------------------------------------------------------------------

def _is_tensor(x: Any) -> bool:
    from neurarust.tensor import Tensor

    return isinstance(x, Tensor)


def _to_chw(img: Any) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """The image as a ``... x C x H x W`` (or ``H x W``) array, and a function giving the result back in
    the input's type and layout."""
    import neurarust as nr

    if _is_tensor(img):
        if img.ndim < 2:
            raise ShapeError(f"expected an image tensor of shape [..., H, W], got {list(img.shape)}")
        dtype = img.dtype
        return img.numpy(force=True), lambda a: nr.from_numpy(np.ascontiguousarray(a).astype(dtype.np, copy=False))
    arr = np.asarray(img)
    if arr.ndim == 2:
        return arr, lambda a: np.ascontiguousarray(a).astype(arr.dtype, copy=False)
    if arr.ndim == 3:
        return np.moveaxis(arr, -1, 0), lambda a: np.ascontiguousarray(np.moveaxis(a, 0, -1)).astype(arr.dtype, copy=False)
    raise ShapeError(f"expected an image array of shape [H, W] or [H, W, C], got {list(arr.shape)}")


def _size_pair(size: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    if len(size) == 1:
        return int(size[0]), int(size[0])
    if len(size) != 2:
        raise ArgumentError(f"{name}: size must be an int or a sequence of 1 or 2 ints, got {size}")
    return int(size[0]), int(size[1])


def _uniform(generator: Any, low: float = 0.0, high: float = 1.0, n: int = 1) -> np.ndarray:
    import neurarust as nr

    return low + (high - low) * nr.rand(n, generator=generator, dtype=nr.float64).numpy()


def _randint(generator: Any, high: int) -> int:
    """An integer in [0, high)."""
    import neurarust as nr

    return int(nr.randint(0, high, (1,), generator=generator).item())


def _max_value(a: np.ndarray) -> float:
    return 255.0 if a.dtype == np.uint8 else (float(np.iinfo(a.dtype).max) if a.dtype.kind in "iu" else 1.0)


def _pad(a: np.ndarray, padding: Sequence[int], fill: float, mode: str) -> np.ndarray:
    """Pad the last two dims by (left, top, right, bottom)."""
    left, top, right, bottom = padding
    width = [(0, 0)] * (a.ndim - 2) + [(top, bottom), (left, right)]
    if mode == "constant":
        return np.pad(a, width, mode="constant", constant_values=fill)
    return np.pad(a, width, mode={"edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}[mode])


def _padding4(padding: int | Sequence[int]) -> tuple[int, int, int, int]:
    if isinstance(padding, numbers.Integral):
        return (int(padding),) * 4
    if len(padding) == 2:
        return int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1])
    if len(padding) == 4:
        return tuple(int(p) for p in padding)  # type: ignore[return-value]
    raise ArgumentError(f"padding must be an int or a sequence of 2 or 4 ints, got {padding}")


def _resize(a: np.ndarray, size: tuple[int, int], interpolation: str) -> np.ndarray:
    """Resize the last two dims: 'nearest' (PyTorch's legacy nearest: floor(i * in / out)) or 'bilinear'
    (half-pixel centres, ``align_corners=False``, no antialiasing), computed in float64."""
    h, w = a.shape[-2:]
    oh, ow = size
    if interpolation == "nearest":
        ys = np.minimum((np.arange(oh) * (h / oh)).astype(np.int64), h - 1)
        xs = np.minimum((np.arange(ow) * (w / ow)).astype(np.int64), w - 1)
        return a[..., ys[:, None], xs[None, :]]
    if interpolation != "bilinear":
        raise ArgumentError(f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")

    def axis(n_in: int, n_out: int):
        src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
        lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, src - lo

    y0, y1, fy = axis(h, oh)
    x0, x1, fx = axis(w, ow)
    f = a.astype(np.float64)
    top = f[..., y0, :] * (1 - fy)[:, None] + f[..., y1, :] * fy[:, None]
    out = top[..., x0] * (1 - fx) + top[..., x1] * fx
    return np.round(out) if a.dtype.kind in "iu" else out


class _Transform:
    """Transforms are callables; ``repr`` shows their parameters."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "generator")
        return f"{type(self).__name__}({args})"


# ----------------------------------------------------------------------------------------------
# Transforms
# ----------------------------------------------------------------------------------------------

class Compose(_Transform):
    """Apply transforms in order.

    >>> from neurarust.data import transforms as T
    >>> T.Compose([T.Lambda(lambda x: x + 1), T.Lambda(lambda x: x * 2)])(3)
    8
    """

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img: Any) -> Any:
        for t in self.transforms:
            img = t(img)
        return img


class Lambda(_Transform):
    """Wrap a function as a transform.

    >>> from neurarust.data import transforms as T
    >>> T.Lambda(abs)(-2)
    2
    """

    def __init__(self, lambd: Callable[[Any], Any]) -> None:
        if not callable(lambd):
            raise ArgumentError(f"Lambda needs a callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img: Any) -> Any:
        return self.lambd(img)


class ToTensor(_Transform):
    """An ``H x W x C`` (or ``H x W``) image (NumPy array, or a PIL image) -> float32 ``C x H x W``
    tensor; ``uint8`` values are scaled to [0, 1], other dtypes are kept as they are (torchvision's rule).

    >>> import numpy as np
    >>> from neurarust.data import transforms as T
    >>> t = T.ToTensor()(np.full((2, 3, 3), 255, np.uint8))
    >>> t.shape, t.dtype, t.max().item()
    (neurarust.Size([3, 2, 3]), neurarust.float32, 1.0)
    """

    def __call__(self, pic: Any) -> Any:
        import neurarust as nr

        arr = np.asarray(pic)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3:
            raise ShapeError(f"ToTensor expects an H x W or H x W x C image, got shape {list(arr.shape)}")
        chw = np.ascontiguousarray(arr.transpose(2, 0, 1))
        if arr.dtype == np.uint8:
            return nr.from_numpy(chw.astype(np.float32) / np.float32(255))
        if arr.dtype == np.bool_:
            chw = chw.astype(np.uint8)
        return nr.from_numpy(chw)


class Normalize(_Transform):
    """``(x - mean[c]) / std[c]`` per channel of a float ``C x H x W`` tensor (or ``H x W x C`` array).

    >>> import neurarust as nr
    >>> from neurarust.data import transforms as T
    >>> T.Normalize([1.0], [2.0])(nr.full((1, 1, 2), 5.0)).tolist()
    [[[2.0, 2.0]]]
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean, self.std, self.inplace = list(mean), list(std), inplace
        if any(s == 0 for s in self.std):
            raise ArgumentError(f"std evaluated to zero after conversion to float, leading to division by zero: {std}")

    def __call__(self, img: Any) -> Any:
        a, back = _to_chw(img)
        if a.dtype.kind != "f":
            raise ArgumentError(f"Normalize expects a floating-point image, got {a.dtype}")
        if a.ndim < 3:
            raise ShapeError(f"Normalize expects a C x H x W image, got shape {list(a.shape)}")
        mean = np.asarray(self.mean, dtype=a.dtype)[:, None, None]
        std = np.asarray(self.std, dtype=a.dtype)[:, None, None]
        if self.inplace and a.flags.writeable:
            a -= mean
            a /= std
            return img
        return back((a - mean) / std)


class _RandomFlip(_Transform):
    _axis = -1

    def __init__(self, p: float = 0.5, generator: Any = None) -> None:
        self.p, self.generator = p, generator

    def __call__(self, img: Any) -> Any:
        if _uniform(self.generator)[0] >= self.p:
            return img
        a, back = _to_chw(img)
        return back(np.flip(a, axis=self._axis))


class RandomHorizontalFlip(_RandomFlip):
    """Mirror left-right with probability ``p``.

    >>> import numpy as np
    >>> from neurarust.data import transforms as T
    >>> T.RandomHorizontalFlip(p=1.0)(np.array([[1, 2, 3]])).tolist()
    [[3, 2, 1]]
    """

    _axis = -1


class RandomVerticalFlip(_RandomFlip):
    """Mirror top-bottom with probability ``p``.

    >>> import numpy as np
    >>> from neurarust.data import transforms as T
    >>> T.RandomVerticalFlip(p=1.0)(np.array([[1], [2]])).tolist()
    [[2], [1]]
    """

    _axis = -2


class CenterCrop(_Transform):
    """The central ``size`` (int or (h, w)) region; zero-padded first if the image is smaller.

    >>> import numpy as np
    >>> from neurarust.data import transforms as T
    >>> T.CenterCrop(2)(np.arange(16).reshape(4, 4)).tolist()
    [[5, 6], [9, 10]]
    """

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _size_pair(size, "CenterCrop")

    def __call__(self, img: Any) -> Any:
        a, back = _to_chw(img)
        th, tw = self.size
        h, w = a.shape[-2:]
        if th > h or tw > w:
            ph, pw = max(th - h, 0), max(tw - w, 0)
            a = _pad(a, (pw // 2, ph // 2, (pw + 1) // 2, (ph + 1) // 2), 0, "constant")
            h, w = a.shape[-2:]
        top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
        return back(a[..., top:top + th, left:left + tw])


class RandomCrop(_Transform):
    """A random ``size`` region, after optional ``padding`` (int, (lr, tb) or (l, t, r, b);
    ``padding_mode`` constant/edge/reflect/symmetric); ``pad_if_needed`` pads images smaller than ``size``.

    >>> import numpy as np, neurarust as nr
    >>> from neurarust.data import transforms as T
    >>> T.RandomCrop(3, padding=1, generator=nr.Generator().manual_seed(0))(np.ones((3, 3))).shape
    (3, 3)
    """

    def __init__(self, size: int | Sequence[int], padding: int | Sequence[int] | None = None,
                 pad_if_needed: bool = False, fill: float = 0, padding_mode: str = "constant",
                 generator: Any = None) -> None:
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ArgumentError(f"padding_mode must be constant, edge, reflect or symmetric, got {padding_mode!r}")
        self.size = _size_pair(size, "RandomCrop")
        self.padding = None if padding is None else _padding4(padding)
        self.pad_if_needed, self.fill, self.padding_mode, self.generator = pad_if_needed, fill, padding_mode, generator

    def __call__(self, img: Any) -> Any:
        a, back = _to_chw(img)
        if self.padding is not None:
            a = _pad(a, self.padding, self.fill, self.padding_mode)
        th, tw = self.size
        h, w = a.shape[-2:]
        if self.pad_if_needed and (h < th or w < tw):
            a = _pad(a, (max(tw - w, 0), max(th - h, 0)) * 2, self.fill, self.padding_mode)
            h, w = a.shape[-2:]
        if h < th or w < tw:
            raise ShapeError(f"RandomCrop: required crop size {(th, tw)} is larger than the input image size {(h, w)}")
        top = _randint(self.generator, h - th + 1)
        left = _randint(self.generator, w - tw + 1)
        return back(a[..., top:top + th, left:left + tw])


def _resize_size(size: int | Sequence[int], h: int, w: int) -> tuple[int, int]:
    if isinstance(size, numbers.Integral):  # the smaller edge becomes ``size``, keeping the aspect ratio
        return (int(size), int(size * w / h)) if h <= w else (int(size * h / w), int(size))
    return _size_pair(size, "Resize")


class Resize(_Transform):
    """Resize to ``size`` ((h, w), or an int for the smaller edge) with ``interpolation`` 'bilinear'
    (half-pixel centres, as PyTorch's ``interpolate(align_corners=False)``) or 'nearest'.

    >>> import numpy as np
    >>> from neurarust.data import transforms as T
    >>> T.Resize((2, 4), interpolation="nearest")(np.array([[1, 2], [3, 4]])).tolist()
    [[1, 1, 2, 2], [3, 3, 4, 4]]
    """

    def __init__(self, size: int | Sequence[int], interpolation: str = "bilinear") -> None:
        if interpolation not in ("nearest", "bilinear"):
            raise ArgumentError(f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
        self.size, self.interpolation = size, interpolation

    def __call__(self, img: Any) -> Any:
        a, back = _to_chw(img)
        return back(_resize(a, _resize_size(self.size, *a.shape[-2:]), self.interpolation))


class RandomResizedCrop(_Transform):
    """A random crop of random area (``scale``) and aspect ratio (``ratio``), resized to ``size``
    (torchvision's sampling: 10 tries, then a central crop).

    >>> import numpy as np, neurarust as nr
    >>> from neurarust.data import transforms as T
    >>> T.RandomResizedCrop(4, generator=nr.Generator().manual_seed(0))(np.ones((8, 10, 3))).shape
    (4, 4, 3)
    """

    def __init__(self, size: int | Sequence[int], scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3 / 4, 4 / 3), interpolation: str = "bilinear",
                 generator: Any = None) -> None:
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ArgumentError(f"scale and ratio should be of kind (min, max), got {scale}, {ratio}")
        self.size = _size_pair(size, "RandomResizedCrop")
        self.scale, self.ratio, self.interpolation, self.generator = scale, ratio, interpolation, generator

    def get_params(self, h: int, w: int) -> tuple[int, int, int, int]:
        """(top, left, height, width) of the crop for an ``h x w`` image.

        >>> import neurarust as nr
        >>> from neurarust.data import transforms as T
        >>> top, left, h, w = T.RandomResizedCrop(4, generator=nr.Generator().manual_seed(0)).get_params(10, 10)
        >>> 0 <= top <= 10 - h and 0 <= left <= 10 - w
        True
        """
        area = h * w
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * _uniform(self.generator, *self.scale)[0]
            aspect = math.exp(_uniform(self.generator, *log_ratio)[0])
            cw, ch = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                return _randint(self.generator, h - ch + 1), _randint(self.generator, w - cw + 1), ch, cw
        in_ratio = w / h
        if in_ratio < min(self.ratio):
            cw, ch = w, int(round(w / min(self.ratio)))
        elif in_ratio > max(self.ratio):
            ch, cw = h, int(round(h * max(self.ratio)))
        else:
            cw, ch = w, h
        return (h - ch) // 2, (w - cw) // 2, ch, cw

    def __call__(self, img: Any) -> Any:
        a, back = _to_chw(img)
        top, left, ch, cw = self.get_params(*a.shape[-2:])
        return back(_resize(a[..., top:top + ch, left:left + cw], self.size, self.interpolation))


class RandomRotation(_Transform):
    """Rotate counter-clockwise by an angle drawn from ``degrees`` (d -> [-d, d], or (min, max)) about
    the centre (or ``center`` = (x, y)), sampling 'nearest' or 'bilinear'; outside pixels get ``fill``.

    >>> import numpy as np, neurarust as nr
    >>> from neurarust.data import transforms as T
    >>> a = np.arange(9).reshape(3, 3)
    >>> (T.RandomRotation((90, 90))(a) == np.rot90(a)).all()
    np.True_
    """

    def __init__(self, degrees: float | Sequence[float], interpolation: str = "nearest", expand: bool = False,
                 center: Sequence[float] | None = None, fill: float = 0, generator: Any = None) -> None:
        if isinstance(degrees, numbers.Number):
            if degrees < 0:
                raise ArgumentError(f"If degrees is a single number, it must be positive, got {degrees}")
            degrees = (-float(degrees), float(degrees))
        if interpolation not in ("nearest", "bilinear"):
            raise ArgumentError(f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
        if expand:
            raise ArgumentError("RandomRotation(expand=True) is not supported")
        self.degrees = (float(degrees[0]), float(degrees[1]))
        self.interpolation, self.center, self.fill, self.generator = interpolation, center, fill, generator

    def __call__(self, img: Any) -> Any:
        a, back = _to_chw(img)
        angle = math.radians(_uniform(self.generator, *self.degrees)[0])
        h, w = a.shape[-2:]
        cx, cy = (w / 2, h / 2) if self.center is None else (self.center[0] + 0.5, self.center[1] + 0.5)
        ys, xs = np.meshgrid(np.arange(h) + 0.5 - cy, np.arange(w) + 0.5 - cx, indexing="ij")
        c, s = math.cos(angle), math.sin(angle)
        # Inverse map: the source of output pixel (x, y) for a counter-clockwise turn with y pointing down.
        sx = c * xs - s * ys + cx - 0.5
        sy = s * xs + c * ys + cy - 0.5
        return back(_sample(a, sy, sx, self.interpolation, self.fill))


def _sample(a: np.ndarray, sy: np.ndarray, sx: np.ndarray, interpolation: str, fill: float) -> np.ndarray:
    """``a[..., sy, sx]`` at real coordinates; points outside the image get ``fill``."""
    h, w = a.shape[-2:]
    if interpolation == "nearest":
        iy, ix = np.floor(sy + 0.5).astype(np.int64), np.floor(sx + 0.5).astype(np.int64)
        inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
        out = a[..., np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1)]
        return np.where(inside, out, np.asarray(fill, dtype=a.dtype))
    y0, x0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
    fy, fx = sy - y0, sx - x0
    padded = np.pad(a.astype(np.float64), [(0, 0)] * (a.ndim - 2) + [(1, 1), (1, 1)], constant_values=fill)
    y0, x0 = np.clip(y0 + 1, 0, h + 1), np.clip(x0 + 1, 0, w + 1)
    y1, x1 = np.clip(y0 + 1, 0, h + 1), np.clip(x0 + 1, 0, w + 1)
    out = (padded[..., y0, x0] * (1 - fy) * (1 - fx) + padded[..., y0, x1] * (1 - fy) * fx
           + padded[..., y1, x0] * fy * (1 - fx) + padded[..., y1, x1] * fy * fx)
    outside = (sy < -1) | (sy > h) | (sx < -1) | (sx > w)
    out = np.where(outside, fill, out)
    return np.round(out) if a.dtype.kind in "iu" else out


def _gray(a: np.ndarray) -> np.ndarray:
    """Luma (ITU-R 601) of a ``3 x H x W`` float array, keeping the channel axis."""
    return (0.299 * a[..., 0, :, :] + 0.587 * a[..., 1, :, :] + 0.114 * a[..., 2, :, :])[..., None, :, :]


def _rgb_to_hsv(a: np.ndarray) -> np.ndarray:
    r, g, b = a[..., 0, :, :], a[..., 1, :, :], a[..., 2, :, :]
    maxc, minc = a.max(axis=-3), a.min(axis=-3)
    delta = maxc - minc
    safe = np.where(delta == 0, 1.0, delta)
    h = np.where(maxc == r, (g - b) / safe % 6, np.where(maxc == g, (b - r) / safe + 2, (r - g) / safe + 4)) / 6
    h = np.where(delta == 0, 0.0, h)
    s = np.where(maxc == 0, 0.0, delta / np.where(maxc == 0, 1.0, maxc))
    return np.stack([h, s, maxc], axis=-3)


def _hsv_to_rgb(a: np.ndarray) -> np.ndarray:
    h, s, v = a[..., 0, :, :], a[..., 1, :, :], a[..., 2, :, :]
    i = np.floor(h * 6) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    rgb = [np.select([i == k for k in range(6)], [row[c] for row in table]) for c in range(3)]
    return np.stack(rgb, axis=-3)


class ColorJitter(_Transform):
    """Random brightness, contrast, saturation and hue changes, applied in a random order (torchvision's
    factors: brightness/contrast/saturation b -> uniform [max(0, 1 - b), 1 + b], hue h -> [-h, h] turns).
    Works on 1- or 3-channel images; saturation and hue need 3 channels.

    >>> import neurarust as nr
    >>> from neurarust.data import transforms as T
    >>> out = T.ColorJitter(0.5, 0.5, 0.5, 0.1, generator=nr.Generator().manual_seed(0))(nr.rand(3, 4, 4))
    >>> out.shape, 0.0 <= out.min().item() and out.max().item() <= 1.0
    (neurarust.Size([3, 4, 4]), True)
    """

    def __init__(self, brightness: float | tuple = 0, contrast: float | tuple = 0, saturation: float | tuple = 0,
                 hue: float | tuple = 0, generator: Any = None) -> None:
        self.brightness = self._range("brightness", brightness, 1.0, (0, float("inf")))
        self.contrast = self._range("contrast", contrast, 1.0, (0, float("inf")))
        self.saturation = self._range("saturation", saturation, 1.0, (0, float("inf")))
        self.hue = self._range("hue", hue, 0.0, (-0.5, 0.5))
        self.generator = generator

    @staticmethod
    def _range(name: str, value: float | tuple, center: float, bound: tuple) -> tuple[float, float] | None:
        if isinstance(value, numbers.Number):
            if value < 0:
                raise ArgumentError(f"If {name} is a single number, it must be non negative, got {value}")
            value = (center - value, center + value)
            if center == 1.0:
                value = (max(value[0], 0.0), value[1])
        lo, hi = float(value[0]), float(value[1])
        if not bound[0] <= lo <= hi <= bound[1]:
            raise ArgumentError(f"{name} values should be between {bound}, got {(lo, hi)}")
        return None if lo == hi == center else (lo, hi)

    def __call__(self, img: Any) -> Any:
        import neurarust as nr

        a, back = _to_chw(img)
        top = _max_value(a)
        x = a.astype(np.float64) / top
        order = nr.randperm(4, generator=self.generator).tolist()
        for k in order:
            rng = (self.brightness, self.contrast, self.saturation, self.hue)[k]
            if rng is None:
                continue
            f = _uniform(self.generator, *rng)[0]
            if k == 0:
                x = np.clip(x * f, 0, 1)
            elif k == 1:
                mean = (_gray(x) if x.shape[-3] == 3 else x).mean(axis=(-3, -2, -1), keepdims=True)
                x = np.clip(f * x + (1 - f) * mean, 0, 1)
            elif x.ndim >= 3 and x.shape[-3] == 3 and k == 2:
                x = np.clip(f * x + (1 - f) * _gray(x), 0, 1)
            elif x.ndim >= 3 and x.shape[-3] == 3 and k == 3:
                hsv = _rgb_to_hsv(x)
                hsv[..., 0, :, :] = (hsv[..., 0, :, :] + f) % 1.0
                x = _hsv_to_rgb(hsv)
        out = x * top
        return back(np.round(out) if a.dtype.kind in "iu" else out)
