"""A heartbeat for CI logs: while a command runs with stderr not on a terminal, a line
``nlihw <cmd>: still running, N s elapsed`` whenever no progress line was printed for
``interval()`` seconds (30 by default; NLIHW_HEARTBEAT_S sets it), so a log never goes silent."""
from __future__ import annotations

import os
import threading
import time

from . import verbosity

DEFAULT_INTERVAL_S = 30.0


def interval() -> float:
    """Seconds of silence before a heartbeat line (NLIHW_HEARTBEAT_S, else the default)."""
    try:
        v = float(os.environ.get("NLIHW_HEARTBEAT_S", DEFAULT_INTERVAL_S))
    except ValueError:
        return DEFAULT_INTERVAL_S
    return v if v > 0 else DEFAULT_INTERVAL_S


class Heartbeat:
    """A daemon thread that prints the heartbeat line for ``what`` (e.g. ``nlihw synth``)."""

    def __init__(self, what: str, every: float | None = None):
        self.what, self.every = what, every if every is not None else interval()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="nlihw-heartbeat", daemon=True)
        self._t0 = time.monotonic()

    def __enter__(self):
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5.0)
        return False

    def _beat(self) -> None:
        wait = self.every
        while not self._stop.wait(wait):
            quiet_for, last, last_age = verbosity.since_last()
            if quiet_for + 1e-3 < self.every:          # a progress line came meanwhile
                wait = self.every - quiet_for
                continue
            elapsed = time.monotonic() - self._t0
            line = f"{self.what}: still running, {elapsed:.0f} s elapsed"
            if last:
                line += f" (last: {last.strip()[:120]}, {last_age:.0f} s ago)"
            try:
                verbosity.progress(line, beat=True)
            except (OSError, ValueError):           # stderr closed under us: stop beating
                return
            wait = self.every
