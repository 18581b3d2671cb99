"""``neurarust train``: train a model; with no options a small CNN on the bundled digits (see docs/cli.md).

    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> parser.parse_args(["--epochs", "2"]).epochs
    2
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Any

from .config import AMP, KEYS, MODELS, OPTIMIZERS, SCHEDULERS, OptionError, TrainConfig, load_toml, resolve, to_toml

EXIT_INTERRUPTED = 130
# Options that fix a run's trajectory: a resumed run must keep them.
FIXED_ON_RESUME = ("model", "data", "batch_size", "lr", "optimizer", "scheduler", "amp", "seed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``neurarust train`` (every one also a key of the ``--config`` TOML file)."""
    add = parser.add_argument
    add("--model", choices=MODELS, help="network (default: cnn; transformer for text data)")
    add("--data", metavar="SPEC", help="digits (default), mnist:DIR, fashion-mnist:DIR or text:FILE")
    add("--device", metavar="DEV", help="auto (default: CUDA if present, else CPU), cpu, cuda or cuda:N")
    add("--epochs", type=int, metavar="N", help="epochs to train (default: 8 for cnn)")
    add("--batch-size", type=int, metavar="N", help="samples per step (default: 64)")
    add("--lr", type=float, metavar="LR", help="learning rate, the peak of onecycle (default: 0.01 for cnn)")
    add("--optimizer", choices=sorted(OPTIMIZERS), help="default: adamw")
    add("--scheduler", choices=SCHEDULERS, help="learning-rate schedule, stepped per batch (default: onecycle)")
    add("--amp", choices=AMP, help="mixed precision: off (default), fp16 (with a GradScaler) or bf16")
    add("--workers", type=int, metavar="N", help="data loader worker processes (default: 0)")
    add("--seed", type=int, metavar="N", help="random seed (default: 0)")
    add("--out", metavar="DIR", help="output folder (default: runs/<model>-<data>-<time>)")
    add("--resume", metavar="DIR", help="continue the run saved in DIR (its config; --epochs may grow)")
    add("--sample-chars", type=int, metavar="N", help="characters a text model generates at the end (default: 100)")
    add("--config", metavar="FILE", help="TOML file with the same keys (command-line options win)")
    add("--nproc", type=int, metavar="N", help="data-parallel processes on this machine (default: 1); "
        "--batch-size is per process")


def _cli_options(args: argparse.Namespace) -> dict[str, Any]:
    return {key: getattr(args, key) for key in KEYS if getattr(args, key, None) is not None}


def _default_out(model: str, data: str) -> str:
    name = data.split(":")[0]
    return os.path.join("runs", f"{model}-{name}-{time.strftime('%Y%m%d-%H%M%S')}")


def _resume_config(path: str, cli: dict, file: dict) -> tuple[TrainConfig, tuple]:
    from .checkpoint import load_checkpoint

    states = load_checkpoint(path)
    base = states[2]["config"]
    config = resolve(cli, file, base)
    for key in FIXED_ON_RESUME:
        if getattr(config, key) != base[key]:
            raise OptionError(f"--resume {path}: cannot change {key} ({base[key]!r} -> {getattr(config, key)!r}); "
                              "start a new run instead")
    if config.epochs != base["epochs"] and config.scheduler in ("onecycle", "cosine"):
        raise OptionError(f"--resume {path}: cannot change epochs with the {config.scheduler} scheduler (its "
                          "schedule spans the whole run); use --scheduler none or step to extend runs")
    done, step = int(states[2]["epoch"]), int(states[2]["step"])
    if config.epochs < done + (1 if step else 0):
        raise OptionError(f"--resume {path}: the run is already past epoch {config.epochs} (at epoch {done + 1}, "
                          f"step {step}); --epochs must be at least {done + (1 if step else 0)}")
    if "out" not in cli:
        config.out = os.path.dirname(os.path.abspath(path)) if os.path.basename(path.rstrip("/")) == "checkpoint" \
            else path
    return config, states


def _configure(args: argparse.Namespace) -> tuple[TrainConfig, tuple | None]:
    cli = _cli_options(args)
    file = load_toml(args.config) if args.config else {}
    if args.resume:
        return _resume_config(args.resume, cli, file)
    config = resolve(cli, file)
    if not config.out:
        config.out = _default_out(config.model, config.data)
    if os.path.exists(os.path.join(config.out, "checkpoint")):
        raise OptionError(f"--out {config.out} already holds a run: continue it with --resume {config.out} "
                          "or choose another --out")
    return config, None


def _check_model_fits(config: TrainConfig, kind: str) -> None:
    if (config.model == "transformer") != (kind == "text"):
        want = "--data text:FILE" if config.model == "transformer" else "image data (digits, mnist:DIR, ...)"
        raise OptionError(f"--model {config.model} needs {want}, got --data {config.data}")


def _header(config: TrainConfig, data: Any, device: str, world: int = 1) -> str:
    epochs = f"{config.epochs} epoch{'s' if config.epochs != 1 else ''}"
    batch = f"batch {config.batch_size}" + (f" per process x {world} processes" if world > 1 else "")
    return (f"neurarust train: {config.model} on {data.name} ({len(data.train)} train / {len(data.val)} val "
            f"samples), device {device}, {epochs}, {batch}, {config.optimizer} lr {config.lr:g}, "
            f"scheduler {config.scheduler}, amp {config.amp}, seed {config.seed}\noutput: {config.out}")


def _finish(trainer: Any, config: TrainConfig, started: float) -> None:
    from .curves import plot_curves
    from .table import render

    history = trainer.history
    rows = [[m["epoch"], round(m["train_loss"], 4), round(100 * m["train_acc"], 2), round(m["val_loss"], 4),
             round(100 * m["val_acc"], 2), round(m["seconds"], 1)] for m in history]
    print()
    print(render(["epoch", "train loss", "train acc %", "val loss", "val acc %", "seconds"], rows))
    best = max(history, key=lambda m: m["val_acc"])
    print(f"\nfinal val accuracy {100 * history[-1]['val_acc']:.2f}% (best {100 * best['val_acc']:.2f}% at epoch "
          f"{best['epoch']}); wall time {time.perf_counter() - started:.1f} s")
    _, note = plot_curves(history, config.out)
    print(f"saved: {config.out}/checkpoint/ (model, optimizer, trainer state), metrics.jsonl, config.toml; {note}")
    if trainer.data.kind == "text" and config.sample_chars:
        print(f"\nsample:\n{trainer.sample(config.sample_chars)}")


def run(args: argparse.Namespace) -> int:
    """Train as ``args`` say; 0 when done, 2 on a bad option or input, 130 when interrupted (Ctrl-C).
    With ``--nproc N`` > 1, start N ranks (``ranks.launch``) that each run this command."""
    from neurarust.serialization import CheckpointError

    from .ranks import check_nproc, join_group, launch

    started = time.perf_counter()
    try:
        nproc = check_nproc(getattr(args, "nproc", None))
        world = join_group()                          # torchrun (or a launched rank): join the group
        config, states = _configure(args) if world == 1 else _configure_rank(args, world)
        if nproc > 1 and world == 1:
            from .device import resolve_device

            resolve_device(config.device)             # a bad --device fails here, before any process starts
    except (OptionError, CheckpointError) as e:
        print(f"neurarust train: error: {e}", file=sys.stderr)
        return 2
    if nproc > 1 and world == 1:
        return launch(_rank_main, nproc, (args, config.out))
    return _train(config, states, world, started)


def _configure_rank(args: argparse.Namespace, world: int) -> tuple[TrainConfig, tuple | None]:
    """Configure one rank of a group: all ranks fail when rank 0 does, and take rank 0's output folder."""
    from neurarust.serialization import CheckpointError

    from .ranks import shared

    try:
        outcome: Any = _configure(args)
    except (OptionError, CheckpointError) as e:
        outcome = e
    ok, out = shared((True, outcome[0].out) if isinstance(outcome, tuple) else (False, str(outcome)), world)
    if not isinstance(outcome, tuple):
        raise outcome
    if not ok:
        raise OptionError(f"rank 0 refused the options: {out}")
    outcome[0].out = out
    return outcome


def _rank_main(args: argparse.Namespace, out: str) -> int:
    """One rank of ``--nproc N``: the same command, in the group ``spawn`` joined, writing to ``out``."""
    args = argparse.Namespace(**{**vars(args), "out": out, "nproc": None})
    return run(args)


def _train(config: TrainConfig, states: tuple | None, world: int, started: float) -> int:
    from neurarust import atomic
    from neurarust.serialization import CheckpointError

    from .ranks import any_rank, is_main, rank_device

    main = is_main()
    error: Exception | None = None
    try:
        from .device import resolve_device
        from .datasets import load_data

        device = rank_device(resolve_device(config.device), world)
        data = load_data(config.data)
        _check_model_fits(config, data.kind)
    except (OptionError, CheckpointError) as e:
        error = e
    if any_rank(error is not None, world):             # no rank waits for one that gave up
        if main or error is not None:
            where = "" if world == 1 else f"rank {os.environ.get('RANK', '0')}: "
            sys.stderr.write(f"neurarust train: error: {where}{error or 'another rank could not start'}\n")
        return 2
    from .trainer import Interrupted, Trainer

    try:
        trainer = Trainer(config, data, device, stream=None if main else open(os.devnull, "w"), world=world)
        if states is not None:
            trainer.restore(*states)
    except (OptionError, CheckpointError) as e:
        print(f"neurarust train: error: {e}", file=sys.stderr)
        return 2
    if main:
        os.makedirs(config.out, exist_ok=True)
        atomic.write_text(os.path.join(config.out, "config.toml"), to_toml(config))
        print(_header(config, data, device, world), flush=True)
        if states is not None:
            print(f"resumed at epoch {trainer.epoch + 1}, step {trainer.step}", flush=True)
    previous = signal.signal(signal.SIGINT, lambda *_: _stop(trainer, previous))
    try:
        trainer.fit()
    except Interrupted as e:
        if main:
            print(f"\ninterrupted ({e}): checkpoint saved; continue with: neurarust train --resume {config.out}"
                  + (f" --nproc {world}" if world > 1 else ""), flush=True)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGINT, previous)
    if main:
        _finish(trainer, config, started)
    return 0


def _stop(trainer: Any, previous: Any) -> None:
    """First Ctrl-C: finish the step, checkpoint, exit 130. A second one interrupts at once."""
    trainer.request_stop()
    signal.signal(signal.SIGINT, previous if callable(previous) else signal.default_int_handler)
