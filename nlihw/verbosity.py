"""How much a command prints: the level set by ``-q`` / ``-v`` (one place for every command), and
progress lines on stderr that a log can follow (plain lines when stderr is not a terminal).

Levels: -1 quiet (results and errors only), 0 normal, 1 verbose (more detail where there is any).
"""
from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console

QUIET, NORMAL, VERBOSE = -1, 0, 1

_level = NORMAL
_debug = False
# the last line printed, and the last progress message with its time (for the heartbeat)
_last = {"time": time.monotonic(), "msg": "", "msg_time": time.monotonic()}
# held while a progress line is written and around a fork, so a forked child never inherits
# stderr's lock in the middle of a heartbeat's write
_lock = threading.RLock()


def _renew_lock() -> None:
    global _lock
    _lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=lambda: _lock.acquire(), after_in_parent=lambda: _lock.release(),
                        after_in_child=_renew_lock)


def set_level(level: int, debug: bool = False) -> None:
    """Set by ``nlihw.cli`` from the global flags before a command runs."""
    global _level, _debug
    if level not in (QUIET, NORMAL, VERBOSE):
        raise ValueError(f"verbosity level must be -1, 0 or 1, got {level}")
    _level, _debug = level, debug
    now = time.monotonic()
    _last.update(time=now, msg="", msg_time=now)


def level() -> int:
    return _level


def quiet() -> bool:
    return _level <= QUIET


def verbose() -> bool:
    return _level >= VERBOSE


def debug() -> bool:
    """``--debug`` or NLIHW_DEBUG set (not empty, not 0): show the traceback of an error."""
    return _debug or os.environ.get("NLIHW_DEBUG", "") not in ("", "0")


def plain() -> bool:
    """Whether progress is shown as plain lines: stderr is not a terminal (a CI log, a pipe).
    Decided as rich decides whether a spinner or bar can animate, so exactly one of the two shows."""
    return not Console(stderr=True).is_terminal


def _write(msg: str, console=None, beat: bool = False) -> None:
    with _lock:
        if console is None:
            print(msg, file=sys.stderr, flush=True)
        else:
            console.print(msg, markup=False, highlight=False, soft_wrap=True)
        now = time.monotonic()
        _last["time"] = now
        if not beat:
            _last.update(msg=msg, msg_time=now)


def progress(msg: str, console=None, beat: bool = False) -> None:
    """A progress line on stderr (or ``console``), unless quiet. ``beat``: a heartbeat line,
    not remembered as the last message."""
    if not quiet():
        _write(msg, console, beat)


def detail(msg: str, console=None) -> None:
    """A line shown only with ``-v``."""
    if verbose():
        _write(msg, console)


def since_last() -> tuple[float, str, float]:
    """(seconds since the last line, the last progress message, seconds since that message)."""
    now = time.monotonic()
    return now - _last["time"], _last["msg"], now - _last["msg_time"]


@contextmanager
def status(console, first: str, prefix: str = "", announce: bool = True
           ) -> Iterator[Callable[[str], None]]:
    """A status that a step updates with one-line messages: a spinner on a terminal, a plain
    line per message in a log (``prefix`` before each; ``first`` too if ``announce``), nothing
    when quiet."""
    if quiet():
        yield lambda msg: None
    elif plain() or verbose():
        if announce:
            progress(prefix + first)
        yield lambda msg: progress(prefix + msg)
    else:
        with console.status(first) as st:
            yield st.update
