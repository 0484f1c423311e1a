"""The per-point result cache: RESULTS/points/<point_id>.json, written atomically (temporary file,
fsync, rename) and carrying a checksum of its own content, so an interrupted or corrupted write is
never trusted: a file that is truncated, unparsable, for another point, or fails its checksum
counts as missing and the point is recomputed."""
from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

from nlihw.atomic import atomic_write_text, open_lock_file
from nlihw.errors import NlihwError
from .input_files import MAX_RECORD_BYTES, read_input
from .results import COLUMNS

POINTS_DIR = "points"
LOCK_FILE = ".lock"
RECORD_VERSION = 1


class BusyError(NlihwError):
    """Another sweep is writing the same results directory."""


def _checksum(record: dict) -> str:
    body = {k: v for k, v in record.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def point_path(results: Path, point_id: str) -> Path:
    return Path(results) / POINTS_DIR / f"{point_id}.json"


def write_point(results: Path, record: dict) -> Path:
    """Store one finished point (its row, params, reports, point and versions)."""
    rec = {**record, "record_version": RECORD_VERSION}
    rec["sha256"] = _checksum(rec)
    path = point_path(results, record["point_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(rec, sort_keys=True, indent=1) + "\n")
    return path


def read_point(results: Path, point_id: str) -> dict | None:
    """The stored record of a point, or None when absent or not trustworthy."""
    path = point_path(results, point_id)
    try:
        rec = json.loads(read_input(path, MAX_RECORD_BYTES, "point record"))
    except (OSError, ValueError, RecursionError):     # InputFileError is a ValueError
        return None
    if not isinstance(rec, dict) or rec.get("sha256") != _checksum(rec):
        return None
    if rec.get("record_version") != RECORD_VERSION or rec.get("point_id") != point_id:
        return None
    if rec.get("status") not in ("ok", "failed") or any(c not in rec for c in COLUMNS):
        return None
    return rec


def remove_stale_temporaries(results: Path, work: str = "cache") -> int:
    """Delete temporary files and task scratch directories left by a killed sweep (only ever
    called under the lock)."""
    n = 0
    d = Path(results) / POINTS_DIR
    if d.is_dir():
        for f in d.glob(".*.json.*.tmp"):
            try:
                f.unlink()
                n += 1
            except OSError:
                pass
    w = Path(results) / work
    if w.is_dir():
        for f in w.iterdir():
            if f.is_dir() and re.fullmatch(r"[0-9a-f]{16}-\w+", f.name):
                shutil.rmtree(f, ignore_errors=True)
                n += 1
    return n


@contextmanager
def locked(results: Path):
    """Hold RESULTS/.lock for the duration: two sweeps never write one directory at once."""
    results = Path(results)
    results.mkdir(parents=True, exist_ok=True)
    with open_lock_file(results / LOCK_FILE) as f:   # never truncated; a symlink is refused
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BusyError(f"{results}: another sweep is running in this directory") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
