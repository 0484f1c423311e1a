"""``nlihw sim`` without a host C++ compiler or make: one line that says what to install, before
any build (Verilator compiles the design to C++ with them)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nlihw.host_tools import missing_host_tools


def _bin_with(tmp_path, tools) -> Path:
    """A PATH directory holding only ``tools`` (links to the real ones)."""
    d = tmp_path / "bin"
    d.mkdir()
    for t in tools:
        (d / t).symlink_to(shutil.which(t))
    return d


def test_missing_host_tools_looks_on_the_path(tmp_path):
    assert missing_host_tools(str(_bin_with(tmp_path, ["make"]))) == ["c++", "ar"]
    assert missing_host_tools(str(tmp_path / "bin")) == ["c++", "ar"]
    assert missing_host_tools(str(tmp_path / "nothing")) == ["c++", "ar", "make"]
    assert missing_host_tools() == []          # this machine has them (the suite's sims need them)


@pytest.mark.parametrize("present, missing", [(["ar", "make"], "'c++'"), (["c++", "ar"], "'make'")])
def test_sim_without_a_compiler_or_make_says_so(tmp_path, present, missing):
    bindir = _bin_with(tmp_path, present)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PATH": str(bindir), "NLIHW_CACHE": str(tmp_path / "cache"),
           "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    env.pop("NLIHW_SIM_BUILD", None)
    r = subprocess.run([sys.executable, "-m", "nlihw", "sim", "--table", "silu_M11_K32"], cwd=work,
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.splitlines() == [
        f"error: nlihw sim needs a host C++ compiler and make (Verilator compiles the design to "
        f"C++): {missing} not found on PATH; install them (Debian/Ubuntu: apt install g++ make; "
        f"Fedora: dnf install gcc-c++ make)"], r.stderr
    assert os.listdir(work) == [] and os.listdir(tmp_path / "tmp") == []
    assert not (tmp_path / "cache").exists()
