"""Safe files: all of a command's outputs appear together or none do, and inputs are read from
regular files only, within a size limit (``read_regular``).

Every file is written to a temporary file beside its destination, fsynced, given the mode a plain
``open()`` would give it under the user's umask, and renamed into place only after every output of
the command was written; then each destination's directory is fsynced.

Destinations that exist but are not regular files (``/dev/null``, a directory, a FIFO, a symlink
to one of those) are refused instead of being replaced. A symlink to a regular file (or a dangling
one) is replaced by the new file: the rename replaces the link itself and never writes through it,
so the file it pointed to is left as it was. Lock files (``open_lock_file``) are stricter: a
symlink there is refused.

Reading: a FIFO would hang a plain ``read()``, ``/dev/zero`` never ends and a directory fails late;
so ``read_regular`` checks the path from its ``stat`` before it is opened, opens it non-blocking (a
FIFO swapped in meanwhile cannot hang), checks again from the open file, and reads no further
than the limit. A symlink to a regular file is read (reading through a link changes nothing).
"""
from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

from .errors import NlihwError, ParamsError


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


def file_kind(mode: int) -> str:
    """What a non-regular file is, for messages: 'a directory', 'a FIFO', 'a symbolic link', ..."""
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISLNK, "a symbolic link"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return kind
    return "not a regular file"


def check_destination(path: Path) -> None:
    """Refuse a destination that exists but is not a regular file (never rename over it).

    A symlink is judged by what it points to (``os.stat``): to a regular file, or dangling, it is
    accepted, and ``OutputSet`` then replaces the link itself (the target is never written)."""
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


def open_lock_file(path: "str | Path") -> BinaryIO:
    """Open the lock file ``path`` for ``fcntl.flock`` (binary, read-write), creating it (mode
    0666 under the umask) if missing and never truncating it.

    Anything but a regular file at ``path`` is an ``OutputError`` (one line), a symlink included
    (``O_NOFOLLOW``: a lock must not create or touch a file elsewhere); the open does not block
    on a FIFO, and the opened file is checked again (``fstat``) against a swap after the check.
    """
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise OutputError(f"{path}: cannot open the lock file: {e.strerror}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{path}: is {file_kind(st.st_mode)}; refusing to use it as a lock file")
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as e:
        why = "is a symbolic link" if e.errno == errno.ELOOP else f"cannot open the lock file: {e.strerror}"
        raise OutputError(f"{path}: {why}" + ("; refusing to use it as a lock file"
                                                if e.errno == errno.ELOOP else "")) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise OutputError(f"{path}: is {file_kind(st.st_mode)}; refusing to use it as a lock file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "r+b")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:              # some filesystems cannot fsync a directory: nothing more to do
        pass
    finally:
        os.close(fd)


def _backup(path: Path) -> str | None:
    """A hidden second name for the file (or symlink) now at ``path``, so that a commit can put it
    back; None when nothing is there. A hard link where the filesystem has them, else a copy."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    while True:
        bak = str(path.parent / f".{path.name}.{secrets.token_hex(4)}.bak.tmp")
        try:
            os.link(path, bak, follow_symlinks=False)
            return bak
        except FileExistsError:
            continue
        except OSError:
            break
    try:
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(path), bak)
        else:
            shutil.copy2(path, bak, follow_symlinks=False)
    except BaseException:
        _unlink(bak)
        raise
    return bak


def _unlink(name) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass


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
        """Write every output to a temporary file, then rename them all into place.

        All or none: when ``commit`` raises (a full disk, a refused destination, a failing
        rename, Ctrl-C), every destination is as it was before the call: a replaced file is put
        back (the same file, by a hard link kept until the end), a new one is removed, and no
        temporary file or new directory is left. Only if that restoring fails too does the error
        name the hidden copy that still holds the old contents. A crash of the machine (or
        SIGKILL) during the renames can leave some destinations new and others old, each one
        whole (old or new bytes, never a mix), and hidden ``.<name>.*.tmp`` files beside them.
        """
        made_dirs: list[Path] = []
        temps: list[tuple[str, Path]] = []
        mode = new_file_mode()
        try:
            self._make_parents(made_dirs)
            for path, data in self._files.items():
                temps.append((self._write_temp(path, data, mode), path))
            self._rename_all(temps)
        except BaseException:
            for tmp, _ in temps:
                _unlink(tmp)
            for d in reversed(made_dirs):
                try:
                    d.rmdir()
                except OSError:
                    pass
            raise
        for d in {p.parent for p in self._files} | {d.parent for d in made_dirs}:
            _fsync_dir(d)
        return list(self._files)

    def _make_parents(self, made_dirs: list[Path]) -> None:
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

    @staticmethod
    def _write_temp(path: Path, data: bytes, mode: int) -> str:
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as e:
            raise OutputError(f"{path}: cannot write: {e.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
        except BaseException as e:
            _unlink(tmp)
            if isinstance(e, OSError):
                raise OutputError(f"{path}: cannot write: {e.strerror}") from None
            raise
        return tmp

    @staticmethod
    def _rename_all(temps: list[tuple[str, Path]]) -> None:
        """Rename each temporary file onto its destination; on any failure undo the renames done."""
        backups: dict[Path, str | None] = {}
        done: list[Path] = []
        try:
            for tmp, path in temps:
                check_destination(path)
                try:
                    backups[path] = _backup(path)
                    os.replace(tmp, path)
                except OSError as e:
                    raise OutputError(f"{path}: cannot write: {e.strerror}; no output was changed") from None
                done.append(path)
        except BaseException:
            lost = _undo(done, backups)
            if lost:
                raise OutputError("writing the outputs failed and restoring failed too: "
                                  + "; ".join(lost)) from None
            raise
        for bak in backups.values():
            if bak is not None:
                _unlink(bak)


def _undo(done: list[Path], backups: dict[Path, "str | None"]) -> list[str]:
    """Put back what was at each renamed destination (its backup, or nothing); returns what could
    not be restored, naming the backup that keeps the old contents. Unused backups are removed."""
    lost = []
    for path in reversed(done):
        bak = backups.pop(path)
        try:
            if bak is None:
                os.unlink(path)
            else:
                os.replace(bak, path)
        except OSError as e:
            lost.append(f"{path} ({e.strerror}" + (f"; old contents in {bak})" if bak else ")"))
    for bak in backups.values():
        if bak is not None:
            _unlink(bak)
    return lost


def atomic_write_bytes(path: "str | Path", data: bytes) -> Path:
    """Write one file atomically (see ``OutputSet`` for several files that belong together)."""
    out = OutputSet()
    p = out.add_bytes(path, data)
    out.commit()
    return p


def atomic_write_text(path: "str | Path", text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


# --- reading input files -------------------------------------------------------------------
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
