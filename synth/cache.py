"""Content-addressed cache of synthesis results: same inputs, same key, no tool run.

The key hashes everything a result depends on (design bytes, yosys script, liberty bytes, tool
versions, target and place-and-route options). An entry is a directory ``<root>/<key>/`` with
``result.json`` and the tool logs; it is built under a temporary name and renamed into place, so
a reader never sees a half-written entry and an interrupted run leaves none behind.

Nothing in the cache is followed through a symlink: an entry or a file in it that is a link (or
not a regular file) counts as damaged, is never read, and is replaced, not written through.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from nlihw.atomic import OutputError
from nlihw.errors import ParamsError
from nlihw.atomic import read_regular

RESULT = "result.json"
MAX_FILE = 1 << 30           # a cached log or result larger than this is damaged


def default_root() -> Path:
    """``$NLIHW_CACHE/synth``, else ``~/.cache/nlihw/synth``."""
    base = os.environ.get("NLIHW_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "nlihw") / "synth"


def key_of(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _is_dir(path: Path) -> bool:
    """A real directory (a symlink to one is not)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def entry_file(entry: Path, name: str) -> bytes | None:
    """The bytes of file ``name`` of a cache entry, or None when it is missing, a symlink or not
    a regular file (never read through a link)."""
    try:
        return read_regular(entry / name, "cached file", MAX_FILE, follow_symlinks=False)
    except ParamsError:
        return None


def lookup(root: Path, key: str) -> tuple[dict, Path] | None:
    """(result, entry directory) of a complete entry, else None (a damaged entry counts as a miss)."""
    entry = root / key
    data = entry_file(entry, RESULT) if _is_dir(entry) else None
    try:
        return (json.loads(data), entry) if data is not None else None
    except ValueError:
        return None


def new_workdir(root: Path, key: str) -> Path:
    """A fresh work directory ``.<key>-<pid>-*`` in ``root``; removes those of dead processes."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        remove_stale_workdirs(root)
        return Path(tempfile.mkdtemp(dir=root, prefix=f".{key[:16]}-{os.getpid()}-"))
    except OSError as e:
        raise OutputError(f"{root}: cannot use as the synthesis cache ({e.strerror}); "
                          f"set NLIHW_CACHE to a writable directory") from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_workdirs(root: Path) -> list[Path]:
    """Delete work directories left by runs that were killed (their process no longer exists)."""
    removed = []
    for d in root.glob(".*-*-*"):
        parts = d.name[1:].split("-")
        if _is_dir(d) and len(parts) >= 3 and parts[1].isdigit() and not _alive(int(parts[1])):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def _remove(path: Path) -> None:
    """Remove a cache entry: a real directory with its contents, anything else (a symlink
    included) by unlinking the name itself."""
    if _is_dir(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def commit(root: Path, key: str, work: Path, result: dict) -> Path:
    """Write ``result`` into ``work`` and move it to ``<root>/<key>``; returns the entry."""
    (work / RESULT).write_text(json.dumps(result, sort_keys=True, indent=1) + "\n")
    entry = root / key
    try:
        os.replace(work, entry)        # atomic when the entry is missing (or an empty directory)
    except OSError:
        if lookup(root, key) is not None:      # a concurrent run finished first: keep its entry
            shutil.rmtree(work, ignore_errors=True)
            return entry
        _remove(entry)                         # a damaged entry (or a planted link)
        os.replace(work, entry)
    return entry


def keep_failed(root: Path, key: str, work: Path) -> Path:
    """Move a failed run to ``<root>/<key>.failed`` (replacing an older one) so its logs stay."""
    failed = root / f"{key}.failed"
    _remove(failed)
    try:
        os.replace(work, failed)
    except OSError:
        return work
    return failed
