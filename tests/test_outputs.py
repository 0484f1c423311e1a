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
