"""A progress bar for one epoch: steps done, rate, running loss and ETA, redrawn in place on a
terminal; on anything else (a log file, a pipe) a plain line every ``interval`` seconds instead.

    >>> import io
    >>> out = io.StringIO()
    >>> bar = Progress("epoch 1/2", total=4, stream=out, interval=0.0)
    >>> bar.update(loss=0.5); bar.close()
    >>> out.getvalue().startswith("epoch 1/2 step 1/4")
    True
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 24


def format_seconds(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a duration.

    >>> format_seconds(75.4), format_seconds(3725)
    ('1:15', '1:02:05')
    """
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Progress through ``total`` steps labelled ``label``; call :meth:`update` once per step with that
    step's loss and :meth:`close` at the end. ``tty`` defaults to ``stream.isatty()``."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None, tty: bool | None = None,
                 interval: float = 10.0) -> None:
        self.label, self.total = label, max(total, 1)
        self.stream = stream if stream is not None else sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = interval if not self.tty else 0.1
        self.done, self.loss_sum = 0, 0.0
        self.start = self._last = time.perf_counter()
        self._drawn = False

    def update(self, loss: float, steps: int = 1) -> None:
        """Count ``steps`` more steps whose (mean) loss was ``loss``."""
        self.done += steps
        self.loss_sum += loss * steps
        now = time.perf_counter()
        if now - self._last >= self.interval or (self.tty and self.done == self.total):
            self._last = now
            self._emit(now)

    def status(self, now: float | None = None) -> str:
        """The current line: steps, rate, mean loss so far, elapsed and ETA.

        >>> Progress("e", total=10, interval=1e9).status().split()[:3]
        ['e', 'step', '0/10']
        """
        elapsed = (now if now is not None else time.perf_counter()) - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        loss = self.loss_sum / self.done if self.done else float("nan")
        return (f"{self.label} step {self.done}/{self.total} {rate:.1f} it/s loss {loss:.4f} "
                f"{format_seconds(elapsed)}<{format_seconds(eta)}")

    def _emit(self, now: float) -> None:
        if self.tty:
            filled = int(WIDTH * self.done / self.total)
            bar = "#" * filled + "." * (WIDTH - filled)
            self.stream.write(f"\r\x1b[2K[{bar}] {self.status(now)}")
            self._drawn = True
        else:
            self.stream.write(self.status(now) + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the bar: on a terminal the bar's line is cleared (the epoch summary line replaces it)."""
        if self.tty and self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
