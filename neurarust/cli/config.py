"""The options of ``neurarust train``: defaults, a TOML ``--config`` file, the command line, resolved
into one :class:`TrainConfig` (command line over file over defaults; per-model defaults last).

    >>> cfg = resolve({"model": "mlp"}, {"epochs": 3})
    >>> cfg.model, cfg.epochs, cfg.data, cfg.batch_size
    ('mlp', 3, 'digits', 64)
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from neurarust.errors import NeuraRustError


class OptionError(NeuraRustError, ValueError):
    """A bad option or a bad option value of ``neurarust train`` (exit status 2)."""


MODELS = ("mlp", "cnn", "transformer")
OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad",
              "adadelta": "Adadelta", "adamax": "Adamax", "nadam": "NAdam", "radam": "RAdam", "lion": "Lion"}
SCHEDULERS = ("none", "onecycle", "cosine", "step")
AMP = ("off", "fp16", "bf16")

# Defaults that depend on the model: tuned so the no-argument run (cnn on digits) passes 97% quickly.
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "cnn": {"epochs": 8, "batch_size": 64, "lr": 1e-2},
    "mlp": {"epochs": 10, "batch_size": 64, "lr": 1e-2},
    "transformer": {"epochs": 10, "batch_size": 32, "lr": 3e-3},
}


@dataclasses.dataclass
class TrainConfig:
    """Every option of a training run; ``out`` is where its files go.

    >>> TrainConfig(model="cnn", epochs=1, batch_size=8, lr=0.1).optimizer
    'adamw'
    """

    model: str = "cnn"
    data: str = "digits"
    device: str = "auto"
    epochs: int = 8
    batch_size: int = 64
    lr: float = 1e-2
    optimizer: str = "adamw"
    scheduler: str = "onecycle"
    amp: str = "off"
    workers: int = 0
    seed: int = 0
    out: str = ""
    sample_chars: int = 100

    def to_dict(self) -> dict[str, Any]:
        """The options as a plain dict (what ``config.toml`` holds).

        >>> TrainConfig().to_dict()["model"]
        'cnn'
        """
        return dataclasses.asdict(self)


KEYS = tuple(f.name for f in dataclasses.fields(TrainConfig))
_TYPES = {"epochs": int, "batch_size": int, "workers": int, "seed": int, "lr": float, "sample_chars": int}
_CHOICES = {"model": MODELS, "optimizer": tuple(OPTIMIZERS), "scheduler": SCHEDULERS, "amp": AMP}


def _check(key: str, value: Any, origin: str) -> Any:
    """``value`` converted to the option's type, or :class:`OptionError` saying what is wrong."""
    want = _TYPES.get(key, str)
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, want) or isinstance(value, bool):
        raise OptionError(f"{origin}: {key} must be {want.__name__}, got {value!r}")
    if key in _CHOICES:
        value = value.lower()
        if value not in _CHOICES[key]:
            raise OptionError(f"{origin}: {key} must be one of {', '.join(_CHOICES[key])}, got {value!r}")
    minimum = {"epochs": 1, "batch_size": 1, "workers": 0, "sample_chars": 0}.get(key)
    if minimum is not None and value < minimum:
        raise OptionError(f"{origin}: {key} must be at least {minimum}, got {value}")
    if key == "lr" and not value > 0:
        raise OptionError(f"{origin}: lr must be positive, got {value}")
    return value


def default_model(data: str) -> str:
    """The model a data source trains when ``--model`` is not given.

    >>> default_model("digits"), default_model("text:poem.txt")
    ('cnn', 'transformer')
    """
    return "transformer" if data.startswith("text:") else "cnn"


def resolve(cli: dict[str, Any], file: dict[str, Any] | None = None, base: dict[str, Any] | None = None) -> TrainConfig:
    """One config from the command line ``cli`` (options given there), a ``--config`` file's keys and
    ``base`` (a resumed run's config), in that order of precedence; the rest from the defaults.

    >>> resolve({"lr": 0.5}, {"lr": 0.1, "batch-size": 16}).lr, resolve({}, {"batch-size": 16}).batch_size
    (0.5, 16)
    """
    merged: dict[str, Any] = {}
    for origin, source in (("resumed config", base), ("--config", file), ("command line", cli)):
        for key, value in (source or {}).items():
            key = key.replace("-", "_")
            if key not in KEYS:
                raise OptionError(f"{origin}: unknown key {key!r}; the keys are {', '.join(KEYS)}")
            if value is not None:
                merged[key] = _check(key, value, origin)
    merged.setdefault("data", "digits")
    merged.setdefault("model", default_model(merged["data"]))
    for key, value in MODEL_DEFAULTS[merged["model"]].items():
        merged.setdefault(key, value)
    return TrainConfig(**merged)


def load_toml(path: str | os.PathLike) -> dict[str, Any]:
    """The keys of a TOML file (a ``[train]`` table, or top-level keys).

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "run.toml")
    >>> _ = open(p, "w").write('model = "mlp"  # comment\\nepochs = 2\\nlr = 5e-3\\n')
    >>> load_toml(p)
    {'model': 'mlp', 'epochs': 2, 'lr': 0.005}
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise OptionError(f"--config: cannot read {path}: {e.strerror or e}") from None
    try:
        table = _parse_toml(text)
    except ValueError as e:
        raise OptionError(f"--config: {path} is not valid TOML: {e}") from None
    return table.get("train", table) if isinstance(table.get("train"), dict) else table


def _parse_toml(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads(text)
    return parse_flat_toml(text)


_LINE = re.compile(r"""^\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^#]*?)\s*(#.*)?$""")


def parse_flat_toml(text: str) -> dict[str, Any]:
    """The subset of TOML a train config needs, for Python 3.10 (no ``tomllib``): ``key = value`` lines
    with strings, integers, floats and booleans, comments, and an optional ``[train]`` header.

    >>> parse_flat_toml('[train]\\nmodel = "cnn"\\nepochs = 3 # three\\namp = \\'bf16\\'\\n')
    {'train': {'model': 'cnn', 'epochs': 3, 'amp': 'bf16'}}
    """
    root: dict[str, Any] = {}
    table = root
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            table = root.setdefault(stripped[1:-1].strip(), {})
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"line {number}: expected key = value, got {stripped!r}")
        table[match.group(1)] = _scalar(match.group(2), number)
    return root


def _scalar(raw: str, number: int) -> Any:
    if raw[:1] in "\"'":
        return raw[1:-1].encode().decode("unicode_escape") if raw[0] == '"' else raw[1:-1]
    if raw in ("true", "false"):
        return raw == "true"
    for kind in (int, float):
        try:
            return kind(raw.replace("_", ""))
        except ValueError:
            pass
    raise ValueError(f"line {number}: cannot read the value {raw!r} (this Python has no tomllib: use strings, "
                     "numbers and booleans only)")


def to_toml(config: TrainConfig) -> str:
    """``config`` as TOML that ``--config`` reads back.

    >>> print(to_toml(TrainConfig(out="runs/a")).splitlines()[0])
    model = "cnn"
    """
    lines = []
    for key, value in config.to_dict().items():
        text = json.dumps(value) if isinstance(value, str) else repr(value)
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"
