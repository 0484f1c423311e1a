"""Helpers the emitted-testbench tests share: running a simulator command, Icarus Verilog (where
installed), and corrupting one vector word (a planted fault the testbench must report)."""
import shutil
import subprocess
from pathlib import Path

import pytest

IVERILOG = shutil.which("iverilog")
needs_icarus = pytest.mark.skipif(IVERILOG is None, reason="Icarus Verilog (iverilog) is not installed "
                                  "(.ci/run installs it with apt-get install -y iverilog)")


def run(cmd, cwd, timeout=300, env=None):
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def corrupt(hex_file: Path, line: int) -> int:
    """Flip bit 0 of one word; returns the new word."""
    words = hex_file.read_text().split()
    words[line] = f"{int(words[line], 16) ^ 1:0{len(words[line])}x}"
    hex_file.write_text("\n".join(words) + "\n")
    return int(words[line], 16)


def icarus(out: Path, top: str, *sources, plusargs=()):
    """Compile ``sources`` in ``out`` with ``iverilog -g2012`` (top ``<top>_tb``) and run them."""
    r = run([IVERILOG, "-g2012", "-o", "tb.vvp", "-s", f"{top}_tb", *sources], out)
    assert r.returncode == 0, r.stderr[-3000:]
    return run(["vvp", "-n", "tb.vvp", *plusargs], out)


# Verilator options that start every variable without an initializer at a random value (a build
# flag and a run-time plusarg): what power-up checks run under
X_ARGS = ("--x-initial", "unique", "--x-assign", "unique")
RAND_RESET = ("+verilator+rand+reset+2",)
