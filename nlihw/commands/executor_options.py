"""The -j / --scheduler options shared by the commands that run sweeps (sweep, compare)."""
from __future__ import annotations

import re

import click

from nlihw.errors import ParamsError
from nlihw.explore.executor import CONNECT_TIMEOUT

_ADDRESS = re.compile(r"(tcp|tls)://[^\s/:]+:\d{1,5}/?")


def executor_options(f):
    """Add ``-j/--jobs`` and ``--scheduler`` to a click command."""
    f = click.option("--scheduler", metavar="tcp://HOST:PORT",
                     help="Run the points on this Dask distributed scheduler instead of a local pool "
                          f"(it must answer within {CONNECT_TIMEOUT:g} s; nothing is written when it "
                          "does not).")(f)
    return click.option("-j", "--jobs", type=int, default=None,
                        help="Local worker processes (default: one per core).")(f)


def check_executor(jobs: int | None, scheduler: str | None) -> None:
    """One-line errors for a bad pool size or scheduler address."""
    if jobs is not None and jobs < 1:
        raise ParamsError(f"-j must be >= 1, got {jobs}")
    if jobs is not None and scheduler:
        raise ParamsError("-j sets the local pool; with --scheduler the cluster's workers run the points")
    if scheduler is not None and not _ADDRESS.fullmatch(scheduler):
        raise ParamsError(f"--scheduler must be a Dask scheduler address such as "
                          f"tcp://HOST:PORT, got {scheduler!r}")
