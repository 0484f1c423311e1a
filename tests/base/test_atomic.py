"""Safe outputs: all of a command's files or none, the usual mode under the umask, and never a
rename over something that is not a regular file."""
import os
import stat
import subprocess
import sys

import pytest

from nlihw.atomic import OutputError, OutputSet, atomic_write_text, new_file_mode


def listing(d):
    return sorted(p.name for p in d.iterdir())


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_new_files_get_the_umask_mode(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        open(tmp_path / "plain.txt", "w").close()          # what open() gives, for comparison
        assert new_file_mode() == 0o666 & ~umask
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == \
        stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode)


def test_cli_output_mode_under_umask(tmp_path):
    """A table written by the CLI is readable by the group under umask 027 (mode 0640), not 0600."""
    code = ("import os, sys; os.umask(0o027); from nlihw.cli import main; "
            "sys.exit(main(['fit', '--func', 'silu', '--in', 's3.5', '--out', 's3.5', '-M', '5', "
            "'-K', '2', '-o', sys.argv[1]]))")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "t.json")], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE((tmp_path / "t.json").stat().st_mode) == 0o640


def test_all_or_nothing(tmp_path):
    (tmp_path / "blocker").write_text("a file where a directory is needed")
    out = OutputSet()
    out.add_text(tmp_path / "t.json", "{}")
    with pytest.raises(OutputError, match="blocker.*not a directory"):
        out.add_text(tmp_path / "blocker" / "x.hex", "00\n")
        out.commit()
    assert listing(tmp_path) == ["blocker"]                 # no t.json, no temporary files


def test_new_directories_are_removed_on_failure(tmp_path):
    (tmp_path / "blocker").write_text("x")
    out = OutputSet()
    out.add_text(tmp_path / "new" / "deep" / "a.v", "module a; endmodule\n")
    out.add_text(tmp_path / "new" / "b.v", "module b; endmodule\n")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "deep").write_text("now a file")     # appears between add and commit
    with pytest.raises(OutputError):
        out.commit()
    (tmp_path / "new" / "deep").unlink()
    assert listing(tmp_path / "new") == []
    (tmp_path / "new").rmdir()
    assert listing(tmp_path) == ["blocker"]


def test_existing_files_are_replaced_together(tmp_path):
    (tmp_path / "a").write_text("old a")
    out = OutputSet()
    out.add_text(tmp_path / "a", "new a")
    out.add_text(tmp_path / "b", "new b")
    out.commit()
    assert (tmp_path / "a").read_text() == "new a" and (tmp_path / "b").read_text() == "new b"
    assert listing(tmp_path) == ["a", "b"]


def test_same_path_twice_is_refused(tmp_path):
    out = OutputSet()
    out.add_text(tmp_path / "t.json", "{}", label="-o")
    with pytest.raises(OutputError, match=r"named twice.*-o and --hex"):
        out.add_text(tmp_path / "." / "t.json", "00", label="--hex")


def test_non_regular_destinations_are_never_replaced(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "null"
    link.symlink_to("/dev/null")
    (tmp_path / "dir").mkdir()
    for target in (fifo, link, tmp_path / "dir"):
        with pytest.raises(OutputError, match="refusing to replace"):
            atomic_write_text(target, "data")
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and link.is_symlink() and (tmp_path / "dir").is_dir()
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert listing(tmp_path) == ["dir", "fifo", "null"]


def test_cli_refuses_a_device_as_output(tmp_path):
    link = tmp_path / "out.json"
    link.symlink_to("/dev/null")
    from nlihw.cli import main
    assert main(["fit", "--func", "silu", "--in", "s3.5", "--out", "s3.5", "-M", "5", "-K", "2",
                 "-o", str(link)]) == 2
    assert link.is_symlink() and stat.S_ISCHR(os.stat("/dev/null").st_mode)


# --- commit: all or none after the first rename, directory fsync, symlinks, lock files ----------

def _fail_nth_replace(monkeypatch, n, exc=None):
    """os.replace raising on its n-th call that renames an output's temporary file."""
    real, seen = os.replace, []

    def replace(src, dst, *a, **k):
        if str(src).endswith(".tmp") and ".bak." not in str(src):
            seen.append(dst)
            if len(seen) == n:
                raise exc if exc is not None else OSError(28, "No space left on device")
        return real(src, dst, *a, **k)
    monkeypatch.setattr(os, "replace", replace)
    return seen


@pytest.mark.parametrize("exc", [None, KeyboardInterrupt()])
def test_a_failing_later_rename_undoes_the_earlier_ones(tmp_path, monkeypatch, exc):
    """The second rename fails (a full disk, or Ctrl-C): the first destination, already replaced,
    gets its old file back (the same inode), a new one is removed, no temporary file is left."""
    (tmp_path / "a").write_text("old a")
    (tmp_path / "c").write_text("old c")
    inode = (tmp_path / "a").stat().st_ino
    out = OutputSet()
    for name in ("a", "b", "c", "d"):
        out.add_text(tmp_path / name, f"new {name}")
    seen = _fail_nth_replace(monkeypatch, 3, exc)
    with pytest.raises(OutputError if exc is None else KeyboardInterrupt) as e:
        out.commit()
    assert len(seen) == 3                                  # a and b were renamed, c failed
    if exc is None:
        assert str(e.value).endswith("no output was changed") and "\n" not in str(e.value)
    assert listing(tmp_path) == ["a", "c"]                 # no b, no .tmp, no backup
    assert (tmp_path / "a").read_text() == "old a" and (tmp_path / "c").read_text() == "old c"
    assert (tmp_path / "a").stat().st_ino == inode and (tmp_path / "a").stat().st_nlink == 1


def test_a_failing_rename_in_a_new_directory_leaves_nothing(tmp_path, monkeypatch):
    out = OutputSet()
    out.add_text(tmp_path / "new" / "a", "a")
    out.add_text(tmp_path / "new" / "b", "b")
    _fail_nth_replace(monkeypatch, 2)
    with pytest.raises(OutputError):
        out.commit()
    assert listing(tmp_path) == []


def test_a_failed_restore_names_the_old_contents(tmp_path, monkeypatch):
    """If putting a file back fails too, the error says where its old contents are."""
    (tmp_path / "a").write_text("old a")
    out = OutputSet()
    out.add_text(tmp_path / "a", "new a")
    out.add_text(tmp_path / "b", "new b")
    real = os.replace

    def replace(src, dst, *args, **kw):
        if str(dst).endswith("/b") or ".bak." in str(src):
            raise OSError(5, "Input/output error")
        return real(src, dst, *args, **kw)
    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError, match=r"restoring failed too: .*/a \(Input/output error; old "
                                          r"contents in .*/\.a\.\w+\.bak\.tmp\)") as e:
        out.commit()
    bak = str(e.value).split("old contents in ")[1].rstrip(")")
    assert open(bak).read() == "old a" and not (tmp_path / "b").exists()


def test_commit_fsyncs_each_directory_once(tmp_path, monkeypatch):
    """After the renames, each destination's directory is fsynced (once), so the new names last."""
    (tmp_path / "x").mkdir()
    synced = []
    real = os.fsync

    def fsync(fd):
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            synced.append((st.st_dev, st.st_ino))
        return real(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    out = OutputSet()
    for rel in ("a", "b", "x/c", "x/d"):
        out.add_text(tmp_path / rel, rel)
    out.commit()
    ids = lambda p: (p.stat().st_dev, p.stat().st_ino)       # noqa: E731
    assert sorted(synced) == sorted([ids(tmp_path), ids(tmp_path / "x")])


def test_a_symlink_to_a_file_is_replaced_not_followed(tmp_path):
    """A destination that is a symlink to a regular file: the link is replaced by the new file,
    the file it pointed to keeps its contents."""
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    link = tmp_path / "out.json"
    link.symlink_to(precious)
    atomic_write_text(link, "new")
    assert precious.read_text() == "keep me"
    assert not link.is_symlink() and link.read_text() == "new"


def test_lock_file_is_created_and_never_truncated(tmp_path):
    import fcntl
    from nlihw.atomic import open_lock_file
    old = os.umask(0o027)
    try:
        with open_lock_file(tmp_path / "new.lock") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.lock").stat().st_mode) == 0o640
    (tmp_path / "held.lock").write_text("pid 123")
    with open_lock_file(tmp_path / "held.lock") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert (tmp_path / "held.lock").read_text() == "pid 123"


@pytest.mark.timeout(60)
def test_lock_file_refuses_links_and_special_files(tmp_path):
    """A symlink (to a file, to nothing, to /dev/null), a FIFO or a directory at a lock file's
    path is refused in one line; nothing is created or changed through the link, nothing hangs."""
    from nlihw.atomic import open_lock_file
    precious = tmp_path / "precious"
    precious.write_text("keep me")
    cases = {"to_file": precious, "dangling": tmp_path / "nowhere", "to_null": "/dev/null"}
    for name, target in cases.items():
        (tmp_path / name).symlink_to(target)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    for name, kind in [("to_file", "a symbolic link"), ("dangling", "a symbolic link"),
                       ("to_null", "a symbolic link"), ("fifo", "a FIFO"), ("dir", "a directory")]:
        with pytest.raises(OutputError, match=f"is {kind}; refusing to use it as a lock file") as e:
            open_lock_file(tmp_path / name)
        assert "\n" not in str(e.value)
    assert precious.read_text() == "keep me" and not (tmp_path / "nowhere").exists()
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
