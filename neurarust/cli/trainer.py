"""The training loop of ``neurarust train``: epochs of optimizer steps with a progress bar, a
validation pass per epoch, ``metrics.jsonl`` and a checkpoint after each epoch, and a checkpoint of
the exact mid-epoch state when :meth:`Trainer.request_stop` is called (Ctrl-C).

A run resumes exactly: the checkpoint keeps the model, the optimizer, the scheduler, the loss
scaler, the default generators' states, the data order's generator as it was when the epoch began
(the resumed epoch replays that order and skips the batches already done) and the running sums of
the half-done epoch. So an interrupted run and an uninterrupted one with the same seed log the same
numbers.

In a data-parallel run (``world`` > 1: ``--nproc N`` or torchrun, see ``ranks``) the model is
wrapped in :class:`~neurarust.parallel.DistributedDataParallel`, each rank trains on its
:class:`~neurarust.data.DistributedSampler` share of every epoch (``--batch-size`` samples per rank
per step) and validates on its share of the validation set; losses, correct predictions and sample
counts are averaged over the ranks, so every rank logs the metrics of all samples; rank 0 alone
writes files.

    >>> import io, tempfile
    >>> from neurarust.cli.config import resolve
    >>> from neurarust.cli.datasets import load_data
    >>> cfg = resolve({"model": "mlp", "epochs": 1, "batch_size": 256, "out": tempfile.mkdtemp()})
    >>> history = Trainer(cfg, load_data("digits"), "cpu", stream=io.StringIO()).fit()
    >>> len(history), sorted(history[0])[:3]
    (1, ['epoch', 'lr', 'seconds'])
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from typing import Any, TextIO

import neurarust as nr
import neurarust.nn.functional as F
from neurarust import atomic
from neurarust.data import DataLoader

from .checkpoint import save_checkpoint
from .config import OPTIMIZERS, OptionError, TrainConfig
from .datasets import TrainData
from .models import build_model
from .progress import Progress
from .ranks import any_rank, average_over_ranks, everyone, is_main

EVAL_BATCH = 256
METRICS = "metrics.jsonl"


class Interrupted(Exception):
    """Training stopped on request after saving a resumable checkpoint."""


def make_optimizer(name: str, params: Any, lr: float) -> nr.optim.Optimizer:
    """The ``--optimizer`` (SGD gets momentum 0.9).

    >>> import neurarust as nr
    >>> type(make_optimizer("adamw", [nr.ones(1, requires_grad=True)], 0.1)).__name__
    'AdamW'
    """
    cls = getattr(nr.optim, OPTIMIZERS[name])
    return cls(params, lr=lr, momentum=0.9) if name == "sgd" else cls(params, lr=lr)


def make_scheduler(name: str, optimizer: nr.optim.Optimizer, lr: float, total_steps: int) -> Any:
    """The ``--scheduler``, stepped once per optimizer step (``None`` for ``none``).

    >>> import neurarust as nr
    >>> opt = nr.optim.SGD([nr.ones(1, requires_grad=True)], lr=0.1)
    >>> type(make_scheduler("cosine", opt, 0.1, 10)).__name__
    'CosineAnnealingLR'
    """
    schedulers = nr.optim.lr_scheduler
    if name == "onecycle":
        return schedulers.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps)
    if name == "cosine":
        return schedulers.CosineAnnealingLR(optimizer, T_max=total_steps)
    if name == "step":
        return schedulers.StepLR(optimizer, step_size=max(1, total_steps // 3), gamma=0.1)
    return None


def make_scaler(amp: str, device: str) -> Any:
    """A GradScaler for ``--amp fp16`` (bf16 and fp32 need none)."""
    if amp != "fp16":
        return None
    return nr.amp.GradScaler(device.split(":")[0])


class Trainer:
    """One training run of ``config`` on ``data`` on ``device``, writing into ``config.out``."""

    def __init__(self, config: TrainConfig, data: TrainData, device: str, stream: TextIO | None = None,
                 world: int = 1) -> None:
        self.config, self.data, self.device, self.world = config, data, device, world
        self.stream = stream if stream is not None else sys.stdout
        nr.manual_seed(config.seed)
        self.model = build_model(config.model, data.input_shape, data.num_classes).to(device)
        self.optimizer = make_optimizer(config.optimizer, self.model.parameters(), config.lr)
        self.order = nr.Generator().manual_seed(config.seed + 1)   # shuffling and worker seeds
        # Not persistent_workers: a persistent pool keeps its first epoch's worker seeds, so its data order
        # would depend on the epoch the process started at; fresh workers each epoch make the order a
        # function of the generator alone (the same with 0 or N workers, resumed or not).
        self.sampler, val_sampler = self._samplers()
        self.loader = DataLoader(data.train, batch_size=config.batch_size, shuffle=self.sampler is None,
                                 sampler=self.sampler, num_workers=config.workers, generator=self.order)
        self.val_loader = DataLoader(data.val, batch_size=EVAL_BATCH, sampler=val_sampler, num_workers=0)
        self.net = self._wrap(self.model)             # what training steps call: the model, or its DDP wrapper
        self.scheduler = make_scheduler(config.scheduler, self.optimizer, config.lr, config.epochs * len(self.loader))
        self.scaler = make_scaler(config.amp, device)
        self.autocast_dtype = {"fp16": nr.float16, "bf16": nr.bfloat16}.get(config.amp)
        self.epoch, self.step = 0, 0                  # completed epochs; steps done in the current one
        self.order_state = self.order.get_state()     # the order generator when the current epoch began
        self.sums = [0.0, 0, 0]                       # loss * samples, correct, samples of the current epoch
        self.history: list[dict[str, Any]] = []
        self._stop = False

    def _samplers(self) -> tuple[Any, Any]:
        """Each rank's shares of the training (shuffled: seed + 1 + epoch) and validation sets."""
        if self.world <= 1:
            return None, None
        from neurarust.data import DistributedSampler

        return (DistributedSampler(self.data.train, seed=self.config.seed + 1),
                DistributedSampler(self.data.val, shuffle=False))

    def _wrap(self, model: Any) -> Any:
        if self.world <= 1:
            return model
        from neurarust.parallel import DistributedDataParallel

        ids = [self.device] if self.device.startswith("cuda") else None
        return DistributedDataParallel(model, device_ids=ids)

    # -- state ---------------------------------------------------------------------------------

    def _rng(self) -> nr.Generator:
        return nr.random.generator_for(nr.device(self.device))

    def trainer_state(self, rank_sums: list | None = None) -> dict[str, Any]:
        """Everything but the model and optimizer a resumed run needs (``rank_sums``: every rank's
        running sums, in a data-parallel run)."""
        return {"config": self.config.to_dict(), "epoch": self.epoch, "step": self.step, "sums": list(self.sums),
                "rank_sums": rank_sums or [list(self.sums)], "world_size": self.world,
                "history": self.history, "order": self.order_state, "cpu_rng": nr.get_rng_state(),
                "device_rng": self._rng().get_state(),
                "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                "scaler": self.scaler.state_dict() if self.scaler is not None else None}

    def restore(self, model: dict, optimizer: dict, trainer: dict) -> None:
        """Continue from a checkpoint's three state dicts."""
        saved_world = int(trainer.get("world_size", 1))
        if int(trainer["step"]) and saved_world != self.world:
            raise OptionError(f"--resume: the checkpoint was saved in the middle of an epoch by {saved_world} "
                              f"process(es); resume it with --nproc {saved_world} (not {self.world})")
        self.model.load_state_dict(model)
        self.optimizer.load_state_dict(optimizer)
        if self.scheduler is not None:
            self.scheduler.load_state_dict(trainer["scheduler"])
        if self.scaler is not None and trainer.get("scaler"):
            self.scaler.load_state_dict(trainer["scaler"])
        self.epoch, self.step = int(trainer["epoch"]), int(trainer["step"])
        sums = trainer["sums"]
        if self.world > 1 and len(trainer.get("rank_sums") or []) == self.world:
            sums = trainer["rank_sums"][int(os.environ.get("RANK", "0"))]
        self.sums = [float(sums[0]), int(sums[1]), int(sums[2])]
        self.history = list(trainer["history"])
        self.order_state = trainer["order"]
        self.order.set_state(self.order_state)
        nr.set_rng_state(trainer["cpu_rng"])
        self._rng().set_state(trainer["device_rng"])

    def save(self) -> None:
        """Write the checkpoint and ``metrics.jsonl`` (one line per completed epoch). In a data-parallel
        run every rank calls it (rank 0 keeps every rank's running sums) and rank 0 writes."""
        rank_sums = everyone(list(self.sums), self.world)
        if not is_main():
            return
        save_checkpoint(self.config.out, self.model.state_dict(), self.optimizer.state_dict(),
                        self.trainer_state(rank_sums))
        atomic.write_text(os.path.join(self.config.out, METRICS), "".join(json.dumps(m) + "\n" for m in self.history))

    def request_stop(self) -> None:
        """Stop after the current step, save a resumable checkpoint and raise :class:`Interrupted`."""
        self._stop = True

    def _should_stop(self) -> bool:
        """Whether any rank was asked to stop (all ranks then stop at the same step)."""
        return any_rank(self._stop, self.world)

    # -- the loop ------------------------------------------------------------------------------

    def _autocast(self) -> Any:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return nr.autocast(self.device.split(":")[0], dtype=self.autocast_dtype)

    def _forward(self, x: Any, y: Any, model: Any) -> tuple[Any, Any]:
        with self._autocast():
            logits = model(x)
            flat = logits.reshape(-1, logits.shape[-1])
            loss = F.cross_entropy(flat.float(), y.reshape(-1))
        return flat, loss

    def _train_step(self, x: Any, y: Any) -> tuple[float, int, int]:
        x, y = x.to(self.device), y.to(self.device)
        logits, loss = self._forward(x, y, self.net)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        self.optimizer.zero_grad()
        if self.scheduler is not None:
            self.scheduler.step()
        correct = int((logits.argmax(-1) == y.reshape(-1)).sum().item())
        return float(loss.item()), correct, int(y.numel())

    def evaluate(self) -> tuple[float, float]:
        """Mean loss and accuracy on the validation set (over every rank's share)."""
        self.model.eval()
        loss_sum, correct, count = 0.0, 0, 0
        with nr.no_grad():
            for x, y in self.val_loader:
                x, y = x.to(self.device), y.to(self.device)
                logits, loss = self._forward(x, y, self.model)
                n = int(y.numel())
                loss_sum += float(loss.item()) * n
                correct += int((logits.argmax(-1) == y.reshape(-1)).sum().item())
                count += n
        loss_sum, correct, count = average_over_ranks([loss_sum, correct, count], self.world)
        return loss_sum / max(count, 1e-12), correct / max(count, 1e-12)

    def _run_epoch(self) -> None:
        self.model.train()
        self.order.set_state(self.order_state)
        if self.sampler is not None:
            self.sampler.set_epoch(self.epoch)
        label = f"epoch {self.epoch + 1}/{self.config.epochs}"
        bar = Progress(label, len(self.loader), stream=self.stream)
        started = time.perf_counter()
        for index, (x, y) in enumerate(self.loader):
            if index < self.step:                     # resumed mid-epoch: these batches are done
                continue
            loss, correct, n = self._train_step(x, y)
            self.sums = [self.sums[0] + loss * n, self.sums[1] + correct, self.sums[2] + n]
            self.step += 1
            bar.update(loss)
            if self._should_stop():
                bar.close()
                self.save()
                raise Interrupted(f"stopped at {label} step {self.step}/{len(self.loader)}")
        bar.close()
        val_loss, val_acc = self.evaluate()
        sums = average_over_ranks(self.sums, self.world)
        seen = max(sums[2], 1e-12)
        record = {"epoch": self.epoch + 1, "train_loss": sums[0] / seen, "train_acc": sums[1] / seen,
                  "val_loss": val_loss, "val_acc": val_acc, "lr": self.optimizer.param_groups[0]["lr"],
                  "seconds": round(time.perf_counter() - started, 3)}
        self.history.append(record)
        self.epoch, self.step, self.sums = self.epoch + 1, 0, [0.0, 0, 0]
        self.order_state = self.order.get_state()
        self.save()
        self.stream.write(epoch_line(record, self.config.epochs) + "\n")
        self.stream.flush()

    def fit(self) -> list[dict[str, Any]]:
        """Train the remaining epochs; returns one metrics dict per epoch (resumed ones included)."""
        os.makedirs(self.config.out, exist_ok=True)
        while self.epoch < self.config.epochs:
            self._run_epoch()
            if self._should_stop():
                raise Interrupted(f"stopped after epoch {self.epoch}/{self.config.epochs}")
        return self.history

    def sample(self, length: int, prompt: str = "") -> str:
        """Text the (character) transformer generates after ``prompt`` (default: the training text's start)."""
        if self.data.decode is None or self.data.encode is None:
            raise OptionError("sampling needs a text model")
        tokens = [int(t) for t in (self.data.encode(prompt) if prompt else self.data.train[0][0][:8])]
        self.model.eval()
        new = self.model.generate(tokens, length, generator=nr.Generator().manual_seed(self.config.seed))
        return self.data.decode(tokens) + self.data.decode(new)


def epoch_line(m: dict[str, Any], epochs: int) -> str:
    """One epoch's result as a log line.

    >>> epoch_line({"epoch": 1, "train_loss": 0.5, "train_acc": 0.8, "val_loss": 0.25, "val_acc": 0.9,
    ...             "lr": 1e-3, "seconds": 2.0}, 3)
    'epoch 1/3  train loss 0.5000 acc 80.00%  val loss 0.2500 acc 90.00%  lr 1.0e-03  2.0 s'
    """
    return (f"epoch {m['epoch']}/{epochs}  train loss {m['train_loss']:.4f} acc {100 * m['train_acc']:.2f}%  "
            f"val loss {m['val_loss']:.4f} acc {100 * m['val_acc']:.2f}%  lr {m['lr']:.1e}  {m['seconds']:.1f} s")
