"""Reading an input file safely: a regular file only, never more than a size limit.

A FIFO would hang a plain ``read()``, ``/dev/zero`` never ends and a directory fails late; so the
path is checked from its ``stat`` before it is opened, opened non-blocking (a FIFO swapped in
meanwhile cannot hang), checked again from the open file, and read no further than the limit.
A symlink to a regular file is read (reading through a link changes nothing).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from .atomic import file_kind
from .errors import ParamsError


def _size(n: int) -> str:
    return f"{n // 2**20} MiB" if n >= 2**20 else f"{n} bytes"


def read_regular(path: "str | Path", what: str, limit: int, follow_symlinks: bool = True) -> bytes:
    """The bytes of ``path``, the ``what`` (e.g. "manifest") of a command; at most ``limit``.
    ``follow_symlinks=False`` refuses a symlink too (files in a cache the program wrote itself).

    Anything else is a ``ParamsError`` of one line naming the path and the ``what``."""
    path = Path(path)

    def check(st):
        if not stat.S_ISREG(st.st_mode):
            raise ParamsError(f"{path}: the {what} is {file_kind(st.st_mode)}, not a regular file")
        if st.st_size > limit:
            raise ParamsError(f"{path}: the {what} is larger than {_size(limit)}, the limit "
                              f"({st.st_size} bytes)")
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        check(os.stat(path) if follow_symlinks else os.lstat(path))
        fd = os.open(path, flags if follow_symlinks else flags | os.O_NOFOLLOW)
    except OSError as e:
        raise ParamsError(f"{path}: cannot read the {what} ({e.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        try:
            check(os.fstat(fd))
            data = f.read(limit + 1)
        except OSError as e:
            raise ParamsError(f"{path}: cannot read the {what} ({e.strerror})") from None
    if len(data) > limit:
        raise ParamsError(f"{path}: the {what} is larger than {_size(limit)}, the limit")
    return data
