"""Hostile input to gen, sim, scan, tables, flow and nlihw.approx: one-line errors that name the
option, checked before any build or fit; documented options that work; Ctrl-C and SIGTERM that end
a parallel fit at once, with its worker processes."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from nlihw import flow
from nlihw.approx import Approx, approx
from nlihw.cli import main
from nlihw.errors import ParamsError, TableError
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.luts.default_tables import shipped_dir, shipped_table
from nlihw.luts.scan_tables import scan_tables_dir
from nlihw.luts.table import NLITable

ROOT = Path(__file__).resolve().parents[2]
FIXED = str(shipped_dir() / "silu_M11_K32.json")          # s4.12 -> s4.12
FIXED_K8 = str(shipped_dir() / "gelu_M11_K8.json")        # the same formats, K = 8
FP16 = str(shipped_dir() / "silu_fp16_M11_K32.json")      # fp16 -> fp16: a float datapath layout
SCAN_SMALL = ["--preset", "int8", "--d-inner", "2", "--d-state", "4", "--lanes", "2"]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.fixture
def no_build(monkeypatch):
    """Every Verilator build and scan stimulus fails the test: validation must come first."""
    from nlihw.sim.nli import bench as nli_bench
    from nlihw.sim.scan import bench as scan_bench, stimulus

    def built(*a, **k):
        raise AssertionError("work started before the options were validated")
    for mod, name in ((nli_bench, "build_engine"), (scan_bench, "build_scan"), (stimulus, "mamba_inputs")):
        monkeypatch.setattr(mod, name, built)


# --- bounded sizes, validated before any build -------------------------------------------------
@pytest.mark.parametrize("args,needle", [
    (["--beats", "99999999999999"], "'--beats': 99999999999999 is not in the range 1<=x<=1000000"),
    (["--beats", "0"], "'--beats'"),
    (["--beats", "1000000", "--lanes", "8"], "--beats 1000000 with --lanes 8: 8,000,000 values, at most 4,194,304"),
    (["--seed", "-1"], "'--seed': -1 is not in the range x>=0"),
])
def test_sim_options_are_bounded_before_the_build(args, needle, no_build, capsys):
    assert main(["sim", "--table", FIXED, *args]) == 2
    assert needle in one_line_error(capsys)


@pytest.mark.parametrize("args,needle", [
    (["error", "--tokens", "100000000000"], "'--tokens': 100000000000 is not in the range 1<=x<=65536"),
    (["error", "--tokens", "65536"],         # 65536 x 64 x 16 = 2^26 states
     "--tokens 65536 with --d-inner 64 and --d-state 16: 67,108,864 state updates, at most 8,388,608"),
    (["error", "--seed", "-1"], "'--seed': -1 is not in the range x>=0"),
    (["sim", "--tokens", "100000000000"], "'--tokens': 100000000000 is not in the range 1<=x<=65536"),
    (["sim", "--tokens", "65536", "--d-inner", "32"], "--tokens 65536 with --d-inner 32: 2,097,152 outputs, at most 1,048,576"),
    (["sim", "--tokens", "4", "--sequences", "5"], "--sequences must be in 1..tokens (4), got 5"),
    (["sim", "--seed", "-1"], "'--seed': -1 is not in the range x>=0"),
])
def test_scan_sizes_are_bounded_before_any_work(args, needle, no_build, capsys):
    assert main(["scan", *args]) == 2
    assert needle in one_line_error(capsys)


def test_help_states_the_bounds(capsys):
    for argv, needle in ((["sim", "--help"], "4,194,304"), (["scan", "error", "--help"], "8,388,608"),
                         (["scan", "sim", "--help"], "1,048,576")):
        assert main(argv) == 0
        assert needle in capsys.readouterr().out


@pytest.mark.parametrize("headdim", ["0", "-2"])
def test_scan_headdim_must_be_positive(headdim, tmp_path, capsys):
    assert main(["scan", "gen", *SCAN_SMALL, "--mode", "mamba2", "--headdim", headdim,
                 "-o", str(tmp_path / "o")]) == 2
    assert f"headdim must be a positive integer, got {headdim}" in one_line_error(capsys)
    assert not (tmp_path / "o").exists()


# --- scan --table: the documented option works ---------------------------------------------------
def test_scan_gen_table_option_replaces_the_preset_table(tmp_path, capsys):
    """The int16 unit with the int8 preset's exp table (another file than its own) and its own
    SiLU table named explicitly: the manifest holds exactly those files' tables."""
    exp_file, silu_file = scan_tables_dir() / "int8_exp.json", scan_tables_dir() / "int16_silu.json"
    assert main(["scan", "gen", "--preset", "int16", "--d-inner", "2", "--d-state", "4", "--table",
                 f"exp={exp_file}", "--table", f"silu={silu_file}", "-o", str(tmp_path / "o")]) == 0
    man = json.loads((tmp_path / "o" / "selective_scan.manifest.json").read_text())
    tables = {k: NLITable.from_dict(v, verify=False) for k, v in man["params"]["tables"].items()}
    assert tables["exp"] == NLITable.load(exp_file)
    assert str(tables["exp"].layout.in_fmt) == "s5.11"           # the int8 table, not int16's s5.16
    assert tables["silu"] == NLITable.load(silu_file)
    assert tables["softplus"] == NLITable.load(scan_tables_dir() / "int16_softplus.json")


def test_scan_sim_and_error_take_table_files(monkeypatch, capsys):
    from nlihw.sim.scan import bench
    exp_file = scan_tables_dir() / "int8_exp.json"
    seen = []

    def build_scan(p, *a, **k):
        seen.append(p)
        raise KeyboardInterrupt             # stop before Verilator; the params are what counts
    monkeypatch.setattr(bench, "build_scan", build_scan)
    assert main(["scan", "sim", *SCAN_SMALL, "--preset", "int16", "--table", f"exp={exp_file}"]) == 130
    assert seen and seen[0].exp == NLITable.load(exp_file)
    assert main(["scan", "error", *SCAN_SMALL, "--tokens", "8", "--table", f"exp={exp_file}"]) == 0
    assert "bit-exact golden model" in capsys.readouterr().out


# --- tables of different layouts --------------------------------------------------------------
@pytest.mark.parametrize("first,second,needle", [
    (FP16, FIXED, "in_fmt s4.12 vs fp16"),
    (FIXED, FP16, "in_fmt fp16 vs s4.12"),
    (FIXED, FIXED_K8, "K 8 vs 32"),
])
@pytest.mark.parametrize("command", ["gen", "sim"])
def test_mixed_table_layouts_give_one_line_naming_both_files(command, first, second, needle,
                                                            no_build, tmp_path, capsys):
    extra = ["-o", str(tmp_path / "o")] if command == "gen" else []
    assert main([command, "--table", first, "--table", second, *extra]) == 2
    line = one_line_error(capsys)
    assert f"--table {second} and --table {first} differ in" in line and needle in line
    assert not (tmp_path / "o").exists()


def test_engine_params_name_the_layout_difference_of_float_and_fixed_tables():
    fixed, fp16 = NLITable.load(FIXED), NLITable.load(FP16)
    for tables, needle in (((fp16, fixed), "x_frac_bits - vs 24"), ((fixed, fp16), "x_frac_bits 24 vs -")):
        with pytest.raises(ParamsError, match="differs from table 0") as e:
            NLIEngineParams(tables)
        assert needle in str(e.value)


# --- names and values -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["silu\n", "silu\n\n", "pkg.mod:fn\n", " silu", "silu "])
def test_function_name_with_trailing_newline_is_refused(name):
    d = shipped_table("silu_M11_K8").content()
    d["function"] = name
    with pytest.raises(TableError, match="is not a function name"):
        NLITable.from_dict(d, verify=False)


@pytest.mark.parametrize("x", [None, "1.5", [1.0, None], True, 1 + 2j, {"a": 1}])
def test_approx_refuses_what_is_not_a_real_number(x):
    f = approx("silu_M11_K8")
    with pytest.raises(TypeError, match="expected real numbers"):
        f(x)
    with pytest.raises(TypeError, match="expected real numbers"):
        f.codes(x)


def test_approx_takes_numbers_and_refuses_a_non_table():
    table = shipped_table("silu_M11_K8")
    f, fin = Approx(table), table.layout.in_fmt
    assert f(10**30) == f(fin.max) and f(-(10**30)) == f(fin.min)     # saturates, beyond int64 too
    assert np.array_equal(f([1, 2.5]), f(np.array([1.0, 2.5])))
    for bad in (None, 3, b"silu_M11_K8"):
        with pytest.raises(TypeError, match="expected an NLITable, a table file path"):
            approx(bad)


# --- flow: an output directory that cannot be written is refused first ---------------------------
@pytest.fixture
def no_flow(monkeypatch):
    def run_flow(*a, **k):
        raise AssertionError("the flow started")
    monkeypatch.setattr(flow, "run_flow", run_flow)


def test_flow_refuses_an_output_below_a_file(tmp_path, no_flow, capsys):
    (tmp_path / "f").write_text("keep")
    assert main(["flow", "-o", str(tmp_path / "f" / "b")]) == 2
    assert f"--out {tmp_path / 'f' / 'b'}: {tmp_path / 'f'} is not a directory" in one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


@pytest.fixture
def read_only_dir(tmp_path):
    """A directory that even root cannot write (immutable), else one without write permission."""
    ro = tmp_path / "ro"
    ro.mkdir()
    root = os.geteuid() == 0
    cmd = ["chattr", "+i", str(ro)] if root else ["chmod", "555", str(ro)]
    if subprocess.run(cmd, capture_output=True).returncode:
        pytest.skip(f"cannot make a read-only directory ({' '.join(cmd[:2])} failed)")
    try:
        yield ro
    finally:
        subprocess.run(["chattr", "-i", str(ro)] if root else ["chmod", "755", str(ro)])


@pytest.fixture
def no_fit(monkeypatch):
    from nlihw.luts import default_tables

    def fit_defaults(*a, **k):
        raise AssertionError("the fits started")
    monkeypatch.setattr(default_tables, "fit_defaults", fit_defaults)


@pytest.mark.parametrize("argv", [["flow", "-o"], ["tables", "build", "--out"], ["scan", "tables", "--out"]])
@pytest.mark.parametrize("sub", ["b", "b/c", ""])
def test_a_read_only_output_is_refused_before_any_work(read_only_dir, sub, argv, no_flow, no_fit, capsys):
    out = read_only_dir / sub if sub else read_only_dir
    assert main([*argv, str(out)]) == 2
    line = one_line_error(capsys)
    assert line.startswith(f"error: --out {out}: cannot be {'created' if sub else 'written'}")
    assert list(read_only_dir.iterdir()) == []


def test_flow_output_check_leaves_nothing_behind(tmp_path, monkeypatch):
    from nlihw.commands.output_dir import check_writable_dir
    (tmp_path / "kept").mkdir()
    check_writable_dir(tmp_path / "new" / "deeper")          # creatable: not created
    check_writable_dir(tmp_path / "kept")                    # writable: left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]
    assert list((tmp_path / "kept").iterdir()) == []


# --- Ctrl-C / SIGTERM during a parallel fit ------------------------------------------------------
def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            pass
    return kids


def _session(sid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid and fields[0] != "Z":
                out.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            pass
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("argv,sig,to_group", [
    (["tables", "build", "--set", "fixed", "--jobs", "2"], signal.SIGINT, False),
    (["tables", "build", "--set", "fixed", "--jobs", "2"], signal.SIGTERM, True),
    (["flow", "-j", "2"], signal.SIGINT, True),
])
def test_interrupt_stops_a_parallel_fit_at_once(argv, sig, to_group, tmp_path):
    """The command runs in its own session; once its two fit workers run, the signal goes to it
    (or its group, as Ctrl-C does): it ends within seconds with one line, and no process of its
    session is left (the fits took 11-48 s to end before)."""
    out = tmp_path / "out"
    opt = "--out" if argv[0] == "tables" else "-o"
    proc = subprocess.Popen([sys.executable, "-m", "nlihw", *argv, opt, str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(_children(proc.pid)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_children(proc.pid)) >= 2, "the fit workers did not start"
        time.sleep(1.0)                                    # the workers are fitting
        t0 = time.monotonic()
        (os.killpg if to_group else os.kill)(proc.pid, sig)
        _, err = proc.communicate(timeout=20)
        took = time.monotonic() - t0
        assert took < 4, f"took {took:.1f} s to stop"
        assert proc.returncode == 128 + sig
        lines = [line for line in err.decode().splitlines() if line.strip()]
        assert lines[-1].startswith("error: interrupted;") and not any(
            "Traceback" in line or "Exception" in line for line in lines), lines
        time.sleep(0.2)
        assert _session(proc.pid) == []
        if argv[0] == "tables":
            assert not out.exists()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def test_flow_synthesis_stops_its_running_tools_on_ctrl_c(tmp_path, monkeypatch):
    """Synthesis runs in threads that wait for their tool processes: Ctrl-C (seen by the main
    thread only) must kill the running tools and cancel the queued ones, not wait for them."""
    started = []

    def fake_synth_all(jobs, say):
        def one(args):
            p = subprocess.Popen(["sleep", "30"], start_new_session=True)   # as synth.tools.run
            started.append(p)
            return {"rc": p.wait()}
        return one
    monkeypatch.setattr(flow, "_synth_all", fake_synth_all)

    def interrupt(signum, frame):
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        timer = threading.Timer(10, lambda: [p.kill() for p in started])   # bounds a failing run
        timer.start()
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            flow._synthesize([("v", "top", t) for t in "abcd"], 2, print)
        took = time.monotonic() - t0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        timer.cancel()
        for p in started:
            p.kill()
            p.wait()
    assert took < 3, f"took {took:.1f} s"
    assert len(started) == 2                          # the two queued runs never started
    assert all(p.returncode == -signal.SIGKILL for p in started)


def _nap(seconds):
    time.sleep(seconds)


def test_stopping_the_workers_settles_every_future_of_their_pool():
    """After the signal handler's ``_stop_workers`` every future of a pool it broke is settled,
    so the unwinding's cancel() cannot race the pool's manager thread (Python 3.11 then prints
    an InvalidStateError traceback from that thread)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from nlihw import cli
    seen = []
    previous, threading.excepthook = threading.excepthook, lambda args: seen.append(args.exc_value)
    pool = ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork"))
    try:
        futures = [pool.submit(_nap, 30) for _ in range(6)]
        deadline = time.monotonic() + 30
        while sum(f.running() for f in futures) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        t0 = time.monotonic()
        cli._stop_workers()
        assert time.monotonic() - t0 < 2.5
        assert all(f.done() for f in futures)
        assert not any(f.cancel() for f in futures)
        pool.shutdown(wait=True)
        assert not seen and not multiprocessing.active_children()
    finally:
        threading.excepthook = previous
        for child in multiprocessing.active_children():
            child.kill()
        pool.shutdown(wait=False, cancel_futures=True)
