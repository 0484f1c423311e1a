"""Hostile --liberty input: a FIFO, a device, a directory, a file over the size limit and groups
nested without end are one-line errors (from the library reader and on the command line), none
hangs, reads without a limit or overflows the stack."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from nlihw.cli import main
from nlihw.errors import ParamsError
from nlihw.luts.default_tables import shipped_dir
from nlihw.synth import liberty

TABLE = str(shipped_dir() / "silu_M11_K32.json")
LIB = Path(__file__).parents[1] / "data" / "nldm_linear.lib"


def one_line(e) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


@pytest.mark.timeout(20)
def test_fifo_is_refused_without_hanging(tmp_path):
    """Opening a FIFO for reading blocks until a writer comes: it is refused from its stat."""
    fifo = tmp_path / "cells.lib"
    os.mkfifo(fifo)
    for read in (liberty.load, liberty.read_bytes):
        with pytest.raises(ParamsError) as e:
            read(fifo)
        assert one_line(e) == f"{fifo}: the liberty file is a FIFO, not a regular file"


@pytest.mark.timeout(20)
def test_device_and_directory_are_refused(tmp_path):
    with pytest.raises(ParamsError) as e:
        liberty.load("/dev/zero")                # would read without end
    assert one_line(e) == "/dev/zero: the liberty file is a device, not a regular file"
    with pytest.raises(ParamsError) as e:
        liberty.load(tmp_path)
    assert one_line(e) == f"{tmp_path}: the liberty file is a directory, not a regular file"
    with pytest.raises(ParamsError, match="cannot read the liberty file"):
        liberty.load(tmp_path / "missing.lib")


@pytest.mark.timeout(20)
def test_size_limit(tmp_path):
    """A file over MAX_BYTES is refused from its size (a sparse file: no disk, no read); the read
    itself stops at the limit too (a /proc file says size 0 and has more)."""
    big = tmp_path / "big.lib"
    with open(big, "wb") as f:
        f.truncate(liberty.MAX_BYTES + 1)
    with pytest.raises(ParamsError) as e:
        liberty.load(big)
    assert one_line(e).startswith(f"{big}: the liberty file is larger than 256 MiB, the limit (")
    assert liberty.MAX_BYTES >= 200 * 2**20                 # real libraries are up to ~100 MB
    small = tmp_path / "small.lib"
    small.write_bytes(b"x" * 100)
    assert liberty.read_bytes(small, limit=100) == b"x" * 100
    with pytest.raises(ParamsError, match="larger than"):
        liberty.read_bytes(small, limit=99)
    proc = Path("/proc/self/maps")
    if proc.is_file() and proc.stat().st_size == 0:
        with pytest.raises(ParamsError, match=r"^/proc/self/maps: the liberty file is larger than 64 bytes, the limit$"):
            liberty.read_bytes(proc, limit=64)


def nested(depth: int) -> str:
    """A library whose one group holds ``depth`` - 1 groups, each inside the last."""
    return "library (x) {\n" + "g () {\n" * (depth - 1) + "}\n" * depth


@pytest.mark.timeout(60)
def test_deep_nesting_is_a_one_line_error(tmp_path):
    """50,000 nested groups: a one-line error at the first group past MAX_DEPTH, not a
    RecursionError; MAX_DEPTH levels (far more than a real library's 5 to 8) still parse."""
    assert liberty.parse(nested(liberty.MAX_DEPTH), "ok.lib").cells == {}
    bad = tmp_path / "deep.lib"
    bad.write_text(nested(50_000))
    with pytest.raises(ParamsError) as e:
        liberty.load(bad)
    line = liberty.MAX_DEPTH + 1                  # the library is on line 1, each group on its own
    assert one_line(e) == f"{bad}:{line}: groups nested more than {liberty.MAX_DEPTH} deep"
    with pytest.raises(ParamsError, match="nested more than"):
        liberty.parse(nested(liberty.MAX_DEPTH + 1), "deep.lib")


@pytest.mark.timeout(60)
def test_gen_refuses_hostile_liberty(tmp_path, capsys):
    """gen --target-mhz with --target generic reads the library first (nlihw.synth.liberty.load):
    one-line errors, exit 2, no output directory."""
    fifo = tmp_path / "fifo.lib"
    os.mkfifo(fifo)
    deep = tmp_path / "deep.lib"
    deep.write_text(nested(50_000))
    for lib, msg in [(fifo, "is a FIFO"), ("/dev/zero", "is a device"), (deep, "nested more than")]:
        out = tmp_path / "o"
        assert main(["gen", "--table", TABLE, "--target-mhz", "100", "--target", "generic",
                     "--liberty", str(lib), "-o", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: {lib}") and msg in err and "\n" not in err
        assert not out.exists()


@pytest.mark.timeout(60)
def test_synth_refuses_hostile_liberty(tmp_path, capsys, monkeypatch):
    """nlihw synth: the same one-line errors before any tool runs (the driver reads the library
    with liberty.read_bytes)."""
    monkeypatch.setenv("NLIHW_CACHE", str(tmp_path / "cache"))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "inv.v").write_text("module inv(input a, output y); assign y = ~a; endmodule\n")
    fifo = tmp_path / "fifo.lib"
    os.mkfifo(fifo)
    deep = tmp_path / "deep.lib"
    deep.write_text(nested(50_000))
    for lib, msg in [(fifo, "is a FIFO"), (deep, "nested more than")]:
        assert main(["synth", str(tmp_path / "d"), "-t", "generic", "--liberty", str(lib)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: {lib}") and msg in err and "\n" not in err
