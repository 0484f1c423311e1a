"""nlihw sweep / report / best / compare given hostile input: a symlinked or odd lock file, specs
and results that are FIFOs, devices, huge or nested past the recursion limit, record paths that
are directories, a --scheduler that is closed or not Dask, a killed or interrupted sweep. Each
gives one line (or a quiet, prompt exit) and writes nothing it should not."""
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nlihw.explore import cache, executor, results_io, sweep as sw
from nlihw.explore.spec import load_spec
from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
TINY = ('[sweep]\nstages = ["fit"]\n[[nli]]\nfunc = "silu"\nin_fmt = "s2.6"\nout_fmt = "s2.6"\n'
        'M = [3, 4]\n')
# long enough (fit and gen of 12 points) that a sweep is still running when it is killed
LONG = ('[sweep]\nstages = ["fit", "gen"]\n[[nli]]\nfunc = ["silu", "gelu"]\nin_fmt = "s2.6"\n'
        'out_fmt = "s2.6"\nM = [3, 4, 5, 6, 7, 8]\n')


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def spec(tmp_path) -> Path:
    p = tmp_path / "spec.toml"
    p.write_text(TINY)
    return p


@pytest.fixture
def no_workers(monkeypatch):
    """Fail the test if the sweep starts any work."""
    calls = []

    def refuse(*a, **kw):
        calls.append(a)
        raise AssertionError("the sweep started its workers")
    monkeypatch.setattr(sw, "run_tasks", refuse)
    return calls


# --- the lock file ------------------------------------------------------------------------------
@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["symlink", "fifo", "directory"])
def test_lock_that_is_not_a_regular_file_is_refused(tmp_path, spec, no_workers, kind):
    d = tmp_path / "r"
    d.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    lock = d / ".lock"
    if kind == "symlink":
        lock.symlink_to(victim)
    elif kind == "fifo":
        os.mkfifo(lock)
    else:
        lock.mkdir()
    rc, _, err = run_cli(["sweep", str(spec), "-o", str(d), "-j", "1", "--quiet"])
    assert rc == 2 and ".lock" in one_error_line(err)
    assert victim.read_text() == "precious\n"           # not truncated through the link
    assert sorted(p.name for p in d.iterdir()) == [".lock"] and no_workers == []


def test_lock_file_is_never_truncated(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / ".lock").write_text("a note someone left\n")
    with cache.locked(d):
        pass
    assert (d / ".lock").read_text() == "a note someone left\n"


# --- the spec -----------------------------------------------------------------------------------
def _cli(args, timeout=60, **kw) -> subprocess.CompletedProcess:
    """nlihw in a subprocess of its own session, killed (with anything it started) on timeout."""
    proc = subprocess.Popen([sys.executable, "-m", "nlihw", *args], cwd=ROOT, text=True,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            **kw)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"nlihw {' '.join(args)} still running after {timeout} s")
    finally:
        _kill_session(proc.pid)
        proc.wait()
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_spec_that_is_not_a_regular_file_is_refused_without_reading(tmp_path, kind):
    if kind == "fifo":
        path = tmp_path / "spec.toml"
        os.mkfifo(path)
    else:
        path = Path(kind)
    t0 = time.monotonic()
    r = _cli(["sweep", str(path), "-o", str(tmp_path / "r")], timeout=30)
    assert time.monotonic() - t0 < 25
    assert r.returncode == 2 and "not a regular file" in one_error_line(r.stderr)
    assert not (tmp_path / "r").exists()


def test_oversized_spec_is_refused(tmp_path):
    big = tmp_path / "big.toml"
    with open(big, "wb") as f:
        f.truncate(5 * 2**20)            # sparse: 5 MiB of zero bytes, more than the 4 MiB limit
    rc, _, err = run_cli(["sweep", str(big), "-o", str(tmp_path / "r")])
    assert rc == 2 and "limit" in one_error_line(err) and str(big) in err


def test_spec_nested_100000_deep_is_one_line(tmp_path):
    deep = tmp_path / "deep.toml"
    deep.write_text("[sweep]\nstages = " + "[" * 100_000 + "]" * 100_000 + "\n")
    rc, _, err = run_cli(["sweep", str(deep), "-o", str(tmp_path / "r")])
    assert rc == 2 and "nested too deeply" in one_error_line(err)


# --- record and table paths in the way ----------------------------------------------------------
def test_record_path_that_is_a_directory_stops_before_any_work(tmp_path, spec, no_workers):
    d = tmp_path / "r"
    pid = load_spec(spec).points[1].point_id
    (d / "points" / f"{pid}.json").mkdir(parents=True)
    rc, _, err = run_cli(["sweep", str(spec), "-o", str(d), "-j", "2", "--quiet"])
    assert rc == 2 and f"{pid}.json" in one_error_line(err) and "directory" in err
    assert no_workers == [] and not (d / "spec.toml").exists()


@pytest.mark.parametrize("name", ["results.csv", "results.parquet", "spec.toml"])
def test_output_path_that_is_a_directory_stops_before_anything(tmp_path, spec, no_workers, name):
    d = tmp_path / "r"
    (d / name).mkdir(parents=True)
    rc, _, err = run_cli(["sweep", str(spec), "-o", str(d), "-j", "2", "--quiet"])
    assert rc == 2 and name in one_error_line(err)
    assert no_workers == [] and sorted(p.name for p in d.iterdir()) == [name]


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "directory", "deep"])
def test_unreadable_record_counts_as_missing_without_blocking(tmp_path, kind):
    d = tmp_path / "r"
    (d / "points").mkdir(parents=True)
    path = cache.point_path(d, "p")
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "/dev/zero":
        path.symlink_to(kind)
    elif kind == "directory":
        path.mkdir()
    else:
        path.write_text("[" * 100_000 + "]" * 100_000)
    got = []
    t = threading.Thread(target=lambda: got.append(cache.read_point(d, "p")), daemon=True)
    t.start()
    t.join(20)
    if t.is_alive():              # unblock a reader stuck on the FIFO, then fail
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("read_point blocked")
    assert got == [None]


def test_oversized_record_is_not_trusted(tmp_path, monkeypatch):
    """A valid record read with a limit just below, then at, its size."""
    from nlihw.explore.results import COLUMNS
    d = tmp_path / "r"
    rec = {**{c: None for c in COLUMNS}, "point_id": "p", "status": "ok"}
    path = cache.write_point(d, rec)
    size = path.stat().st_size
    monkeypatch.setattr(cache, "MAX_RECORD_BYTES", size - 1)
    assert cache.read_point(d, "p") is None
    monkeypatch.setattr(cache, "MAX_RECORD_BYTES", size)
    assert cache.read_point(d, "p")["point_id"] == "p"


# --- results tables read by report and best -----------------------------------------------------
@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "directory"])
def test_results_table_that_is_not_a_regular_file(tmp_path, kind):
    d = tmp_path / "r"
    d.mkdir()
    if kind == "fifo":
        os.mkfifo(d / "results.csv")
        target = d / "results.csv"
    elif kind == "directory":
        (d / "results.csv").mkdir()
        target = d / "results.csv"
    else:
        target = d / "results.csv"
        target.symlink_to("/dev/zero")
    for args in (["report", str(target)], ["best", "--func", "silu", "--max-err", "1",
                                           "--target", "generic", "--results", str(target)]):
        r = _cli(args, timeout=30)
        assert r.returncode == 2, r.stderr
        assert str(target) in one_error_line(r.stderr)


def test_results_table_over_the_limit_is_refused(tmp_path, monkeypatch):
    header = ",".join(results_io.REQUIRED)
    row = ",".join("ok" if c == "status" else "x" if results_io.COLUMNS[c] is str else "1"
                   for c in results_io.REQUIRED)
    text = header + "\n" + row + "\n"
    f = tmp_path / "results.csv"
    f.write_text(text)
    monkeypatch.setattr(results_io, "MAX_TABLE_BYTES", len(text) - 1)
    rc, _, err = run_cli(["report", str(f), "--out", str(tmp_path / "rep")])
    assert rc == 2 and "limit" in one_error_line(err)
    monkeypatch.setattr(results_io, "MAX_TABLE_BYTES", len(text))
    assert len(results_io.load_results(f)[1]) == 1


# --- --scheduler --------------------------------------------------------------------------------
class SilentServer:
    """A TCP server on 127.0.0.1 that accepts connections and never says anything (not Dask)."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self.conns = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            self.accepted.set()

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def silent():
    s = SilentServer()
    yield s
    s.close()


def closed_port() -> int:
    s = socket.create_server(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                   # nothing listens there now: connections are refused
    return port


@pytest.mark.timeout(120)
@pytest.mark.parametrize("server", ["silent", "closed"])
def test_unreachable_scheduler_is_one_line_and_writes_nothing(tmp_path, spec, monkeypatch, silent,
                                                              server):
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT", 1.0)
    port = silent.port if server == "silent" else closed_port()
    d = tmp_path / "r"
    t0 = time.monotonic()
    rc, _, err = run_cli(["sweep", str(spec), "-o", str(d), "--scheduler", f"tcp://127.0.0.1:{port}",
                          "--quiet"])
    assert time.monotonic() - t0 < 15             # 1 s to connect, the rest importing distributed
    assert rc == 2 and one_error_line(err).startswith(f"error: --scheduler tcp://127.0.0.1:{port}")
    assert not d.exists()                          # no RESULTS/.lock, no spec.toml
    if server == "silent":
        assert silent.accepted.is_set() and "no answer within 1 s" in err


@pytest.mark.timeout(120)
def test_compare_with_unreachable_scheduler_writes_no_plan(tmp_path, monkeypatch, silent):
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT", 1.0)
    out = tmp_path / "cmp"
    rc, _, err = run_cli(["compare", "--func", "silu", "--in", "s2.6", "--out", "s2.6", "--max-err", "2",
                          "-o", str(out), "--scheduler", f"tcp://127.0.0.1:{silent.port}"])
    assert rc == 2 and "--scheduler" in one_error_line(err)
    assert not out.exists()


@pytest.mark.timeout(120)
def test_ctrl_c_while_connecting_to_a_silent_scheduler_is_prompt_and_quiet(tmp_path, spec, silent):
    proc = subprocess.Popen([sys.executable, "-m", "nlihw", "sweep", str(spec), "-o",
                             str(tmp_path / "r"), "--scheduler", f"tcp://127.0.0.1:{silent.port}"],
                            cwd=ROOT, start_new_session=True, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert silent.accepted.wait(30), "the sweep never connected"
        time.sleep(0.5)                            # inside the (10 s) wait for an answer
        os.killpg(proc.pid, signal.SIGINT)
        t0 = time.monotonic()
        _, err = proc.communicate(timeout=10)
        assert time.monotonic() - t0 < 3
    finally:
        _kill_session(proc.pid)
        proc.wait()
    # click writes a newline after the terminal's ^C; then the one line
    assert proc.returncode == 130 and one_error_line(err.lstrip("\n")).startswith("error: interrupted")
    assert not (tmp_path / "r").exists()


@pytest.mark.timeout(120)
def test_scheduler_probe_accepts_a_real_scheduler():
    from distributed import LocalCluster
    with LocalCluster(n_workers=0, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as c:
        assert c.scheduler_address.startswith("tcp://127.0.0.1:")
        executor.check_scheduler(c.scheduler_address, timeout=5)


# --- a killed or interrupted sweep leaves no process behind -------------------------------------
def _session(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid``."""
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()      # after "pid (comm) "
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append(int(p.name))
    return out


def _kill_session(sid: int) -> None:
    for pid in _session(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _start_long_sweep(tmp_path) -> subprocess.Popen:
    spec = tmp_path / "long.toml"
    spec.write_text(LONG)
    return subprocess.Popen([sys.executable, "-m", "nlihw", "sweep", str(spec), "-o",
                             str(tmp_path / "r"), "-j", "2", "--quiet"], cwd=ROOT, text=True,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_workers(proc, tmp_path, timeout=60) -> None:
    """Until both workers run (main, resource tracker, fork server and 2 workers: 5 processes)
    and the first point is stored."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_session(proc.pid)) >= 5 and list((tmp_path / "r" / "points").glob("*.json")):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    pytest.fail("the sweep's workers did not start")


def test_kill_9_of_the_main_process_leaves_no_process(tmp_path):
    proc = _start_long_sweep(tmp_path)
    try:
        _wait_for_workers(proc, tmp_path)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 15
        while _session(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _session(proc.pid) == [], "processes of the killed sweep live on"
    finally:
        _kill_session(proc.pid)
        proc.communicate()


def test_ctrl_c_of_a_running_sweep_is_prompt_and_quiet(tmp_path):
    proc = _start_long_sweep(tmp_path)
    try:
        _wait_for_workers(proc, tmp_path)
        os.killpg(proc.pid, signal.SIGINT)
        t0 = time.monotonic()
        _, err = proc.communicate(timeout=20)
        assert time.monotonic() - t0 < 4          # ~3 s, with room for a loaded machine
        assert proc.returncode == 130 and "Traceback" not in err, err
        assert err.splitlines()[-1].startswith("error: interrupted")
        deadline = time.monotonic() + 5
        while _session(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _session(proc.pid) == []
    finally:
        _kill_session(proc.pid)
        proc.wait()


# --- the trust boundary is stated ---------------------------------------------------------------
@pytest.mark.parametrize("command", ["sweep", "compare"])
def test_help_says_module_function_runs_code(command):
    rc, out, _ = run_cli([command, "--help"])
    text = " ".join(out.split())
    assert rc == 0 and "module:function" in text
    assert "imports and runs that Python module" in text and "trust" in text
