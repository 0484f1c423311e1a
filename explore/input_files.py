"""The size limits of the files a sweep reads (its spec, results tables, point records, plans),
read through ``nlihw.atomic.read_regular`` (regular files only, checked before they are opened, never
more than the limit), so hostile input gives one line, not a hang or a gigabyte read."""
from __future__ import annotations

from pathlib import Path

from nlihw.errors import NlihwError, ParamsError
from nlihw.atomic import read_regular

MiB = 1 << 20
MAX_SPEC_BYTES = 4 * MiB         # a real spec is a few KB
MAX_RECORD_BYTES = 64 * MiB      # a point record: tables, reports (a synthesis report is ~100 KB)
MAX_TABLE_BYTES = 1024 * MiB     # results.csv/.parquet: MAX_POINTS rows of ~1 KB, with room
MAX_PLAN_BYTES = 16 * MiB        # compare's plans/*.json


class InputFileError(NlihwError, ValueError):
    """An input file is missing, not a regular file, or larger than its limit."""


def read_input(path: "str | Path", limit: int, what: str) -> bytes:
    """The bytes of ``path``, the sweep's ``what`` (e.g. "spec"); one-line InputFileError otherwise."""
    try:
        return read_regular(path, what, limit)
    except ParamsError as e:
        raise InputFileError(str(e)) from None


def read_input_text(path: "str | Path", limit: int, what: str) -> str:
    """``read_input`` decoded as UTF-8 (one line when it is not)."""
    try:
        return read_input(path, limit, what).decode("utf-8")
    except UnicodeDecodeError:
        raise InputFileError(f"{Path(path)}: the {what} is not UTF-8 text") from None
