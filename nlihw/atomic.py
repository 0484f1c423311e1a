"""Safe output files: all of a command's outputs appear together or none do.

Every file is written to a temporary file beside its destination, fsynced, given the mode a plain
``open()`` would give it under the user's umask, and renamed into place only after every output of
the command was written. Destinations that exist but are not regular files (``/dev/null``, a
directory, a FIFO) are refused instead of being replaced.
"""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import NlihwError


class OutputError(NlihwError):
    """An output path cannot be written safely."""


def _umask() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)        # no /proc: read by setting (not thread-safe, only a fallback)
    os.umask(old)
    return old


def new_file_mode() -> int:
    """The mode ``open(path, 'w')`` gives a new file: 0666 under the process umask."""
    return 0o666 & ~_umask()


def check_destination(path: Path) -> None:
    """Refuse a destination that exists but is not a regular file (never rename over it)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except NotADirectoryError:
        parent = next((q for q in path.parents if q.exists() and not q.is_dir()), path.parent)
        raise OutputError(f"{path}: {parent} is not a directory") from None
    except OSError as e:
        raise OutputError(f"{path}: cannot write: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise OutputError(f"{path}: is {kind}; refusing to replace it")


class OutputSet:
    """Collects a command's outputs and writes them all at once on ``commit()``.

    >>> out = OutputSet(); out.add_text("t.json", "{}"); out.add_text("t.hex", "00\\n")
    >>> out.commit()      # both appear, or neither (and no temporary file is left)
    """

    def __init__(self):
        self._files: dict[Path, bytes] = {}
        self._labels: dict[Path, str] = {}

    def add_bytes(self, path: "str | Path", data: bytes, label: str = "") -> Path:
        path = Path(path)
        key = Path(os.path.abspath(path))
        if key in self._files:
            other = self._labels[key]
            raise OutputError(f"{path}: named twice as an output"
                              + (f" ({other} and {label})" if other and label else ""))
        check_destination(path)
        self._files[key] = bytes(data)
        self._labels[key] = label
        return path

    def add_text(self, path: "str | Path", text: str, label: str = "") -> Path:
        return self.add_bytes(path, text.encode(), label)

    def __contains__(self, path) -> bool:
        return Path(os.path.abspath(path)) in self._files

    def commit(self) -> list[Path]:
        """Write every output to a temporary file, then rename them all into place."""
        made_dirs: list[Path] = []
        temps: list[tuple[str, Path]] = []
        mode = new_file_mode()
        try:
            for path in self._files:
                check_destination(path)
                for parent in reversed(path.parents):
                    if not parent.exists():
                        try:
                            parent.mkdir()
                        except FileExistsError:
                            continue
                        except OSError as e:
                            raise OutputError(f"{parent}: cannot create directory: {e.strerror}") from None
                        made_dirs.append(parent)
                    elif not parent.is_dir():
                        raise OutputError(f"{path}: {parent} is not a directory")
            for path, data in self._files.items():
                try:
                    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
                except OSError as e:
                    raise OutputError(f"{path}: cannot write: {e.strerror}") from None
                temps.append((tmp, path))
                try:
                    with os.fdopen(fd, "wb") as f:
                        f.write(data)
                        f.flush()
                        os.fsync(f.fileno())
                    os.chmod(tmp, mode)
                except OSError as e:
                    raise OutputError(f"{path}: cannot write: {e.strerror}") from None
            for tmp, path in temps:
                os.replace(tmp, path)
        except BaseException:
            for tmp, _ in temps:
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
            for d in reversed(made_dirs):
                try:
                    d.rmdir()
                except OSError:
                    pass
            raise
        return list(self._files)


def atomic_write_bytes(path: "str | Path", data: bytes) -> Path:
    """Write one file atomically (see ``OutputSet`` for several files that belong together)."""
    out = OutputSet()
    p = out.add_bytes(path, data)
    out.commit()
    return p


def atomic_write_text(path: "str | Path", text: str) -> Path:
    return atomic_write_bytes(path, text.encode())
