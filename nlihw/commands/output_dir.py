"""The output directory of a long command, checked before any work starts."""
from __future__ import annotations

import tempfile
from pathlib import Path

from nlihw.errors import ParamsError


def check_writable_dir(out: Path, option: str = "--out") -> None:
    """Refuse ``out`` before any work (a flow or a table build fits for minutes before it writes)
    when it is not a directory or cannot be created or written: a probe directory is made in it,
    or in its nearest existing parent, and removed at once."""
    try:
        base = next(q for q in (out, *out.absolute().parents) if q.exists())
    except (StopIteration, OSError) as e:
        raise ParamsError(f"{option} {out}: cannot be created ({getattr(e, 'strerror', None) or e})") from None
    if not base.is_dir():
        where = "exists and" if base == out else f"{base}"
        raise ParamsError(f"{option} {out}: {where} is not a directory")
    try:
        tempfile.TemporaryDirectory(dir=base, prefix=".nlihw-probe-").cleanup()
    except OSError as e:
        raise ParamsError(f"{option} {out}: cannot be {'written' if base == out else 'created'} "
                          f"({e.strerror or e} in {base})") from None
