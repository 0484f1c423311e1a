"""Content-addressed cache of synthesis results: same inputs, same key, no tool run.

The key hashes everything a result depends on (design bytes, yosys script, liberty bytes, tool
versions, target and place-and-route options). An entry is a directory ``<root>/<key>/`` with
``result.json`` and the tool logs; it is built under a temporary name and renamed into place, so
a reader never sees a half-written entry and an interrupted run leaves none behind.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

RESULT = "result.json"


def default_root() -> Path:
    """``$NLIHW_CACHE/synth``, else ``~/.cache/nlihw/synth``."""
    base = os.environ.get("NLIHW_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "nlihw") / "synth"


def key_of(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def lookup(root: Path, key: str) -> tuple[dict, Path] | None:
    """(result, entry directory) of a complete entry, else None (a damaged entry counts as a miss)."""
    entry = root / key
    try:
        return json.loads((entry / RESULT).read_text()), entry
    except (OSError, ValueError):
        return None


def new_workdir(root: Path, key: str) -> Path:
    """A fresh work directory ``.<key>-<pid>-*`` in ``root``; removes those of dead processes."""
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_workdirs(root)
    return Path(tempfile.mkdtemp(dir=root, prefix=f".{key[:16]}-{os.getpid()}-"))


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
        if d.is_dir() and len(parts) >= 3 and parts[1].isdigit() and not _alive(int(parts[1])):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def commit(root: Path, key: str, work: Path, result: dict) -> Path:
    """Write ``result`` into ``work`` and move it to ``<root>/<key>``; returns the entry."""
    (work / RESULT).write_text(json.dumps(result, sort_keys=True, indent=1) + "\n")
    entry = root / key
    try:
        os.replace(work, entry)        # atomic when the entry is missing (or an empty directory)
    except OSError:
        if (entry / RESULT).is_file():         # a concurrent run finished first: keep its entry
            shutil.rmtree(work, ignore_errors=True)
            return entry
        shutil.rmtree(entry, ignore_errors=True)   # a damaged entry
        os.replace(work, entry)
    return entry


def keep_failed(root: Path, key: str, work: Path) -> Path:
    """Move a failed run to ``<root>/<key>.failed`` (replacing an older one) so its logs stay."""
    failed = root / f"{key}.failed"
    shutil.rmtree(failed, ignore_errors=True)
    try:
        os.replace(work, failed)
    except OSError:
        return work
    return failed
