"""What ``nlihw fit`` / ``nlihw compare`` refuse, and how they write and stop: user functions that
misbehave, domains and output formats that cannot hold the fit, bad numbers, outputs that clash,
Ctrl-C during a long fit."""
import math
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from nlihw.cli import main
from nlihw.errors import ParamsError
from nlihw.luts import fitter
from nlihw.luts.default_tables import DEFAULT_SPECS
from nlihw.luts.functions import Function
from nlihw.luts.layout import TableLayout

USER_MODULE = '''
import math
import numpy as np
def raises(x): raise RuntimeError("boom")
def short(x): return x[:-1]
def scalar(x): return 1.0
def twod(x): return np.stack([x, x])
def mathexp(x): return math.exp(x)
def branch(x):
    if x > 0:
        return x
    return -x
def cplx(x): return x + 0j
def good(x): return np.sin(x)
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    mod = tmp_path / "mods"
    mod.mkdir()
    name = f"ufn_{os.getpid()}_{id(tmp_path)}"
    (mod / f"{name}.py").write_text(USER_MODULE)
    (mod / f"{name}_bad.py").write_text("def f(x) return x\n")
    monkeypatch.syspath_prepend(str(mod))
    return name


def run_fit(tmp_path, capsys, *args):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    rc = main(["fit", "--in", "s3.5", "--out", "s3.5", "-M", "5", "-K", "4", *args,
               "-o", str(out / "t.json")])
    cap = capsys.readouterr()
    return rc, cap.err.strip(), sorted(p.name for p in out.iterdir())


@pytest.mark.parametrize("attr, msg", [
    ("raises", "raised RuntimeError: boom"),
    ("short", "returned shape (6,) for an input of shape (7,)"),
    ("scalar", "returned shape ()"),
    ("twod", "returned shape (2, 7)"),
    ("mathexp", "raised TypeError"),
    ("branch", "raised ValueError"),
    ("cplx", "returned complex128 values"),
])
def test_bad_user_function_is_one_error_naming_it(tmp_path, capsys, user_module, attr, msg):
    rc, err, files = run_fit(tmp_path, capsys, "--func", f"{user_module}:{attr}")
    assert rc == 2 and files == []
    assert err.startswith(f"error: user function '{user_module}:{attr}'") and msg in err
    assert "\n" not in err


def test_user_module_with_syntax_error(tmp_path, capsys, user_module):
    rc, err, files = run_fit(tmp_path, capsys, "--func", f"{user_module}_bad:f")
    assert rc == 2 and files == [] and "\n" not in err
    assert err.startswith(f"error: cannot load user function '{user_module}_bad:f': SyntaxError")


def test_good_user_function_fits(tmp_path, capsys, user_module):
    rc, err, files = run_fit(tmp_path, capsys, "--func", f"{user_module}:good")
    assert rc == 0 and files == ["t.json"]


def test_domain_outside_the_input_format_is_refused(tmp_path, capsys):
    rc, err, files = run_fit(tmp_path, capsys, "--func", "silu", "--in", "s4.12", "--out", "s4.12",
                             "--domain", "-10:10")
    assert rc == 2 and files == []
    assert err == "error: --domain [-10, 10] reaches outside s4.12's range [-8, 7.99976]"
    lay = TableLayout("s4.12", "s4.12", 5, 1)
    with pytest.raises(ParamsError, match="reaches outside"):
        fitter.make_problem("silu", lay, (-8.0001, 0))
    # the format's open upper end is allowed (a [1, 2) mantissa in u1.15), inside is kept as given
    p = fitter.make_problem("reciprocal", TableLayout("u1.15", "u1.15", 5, 1), (1.0, 2.0))
    assert (p.lo, p.hi) == (1 << 15, (1 << 16) - 1)
    p = fitter.make_problem("silu", lay, (-8, 7.99976))
    assert (p.lo, p.hi) == (-(1 << 15), math.floor(7.99976 * 4096))


@pytest.mark.parametrize("func, out, span", [("exp", "s2.6", "[0.000335463, 2980.23]"),
                                             ("tanh", "u1.7", "[-1, 1]")])
def test_output_format_too_narrow_is_refused(tmp_path, capsys, func, out, span):
    rc, err, files = run_fit(tmp_path, capsys, "--func", func, "--in", "s4.12", "--out", out)
    assert rc == 2 and files == []
    assert f"spans {span}, outside {out}'s range" in err


def _const(c):
    return Function(f"const{c!r}", lambda x: np.full_like(x, c))


def test_output_range_allows_the_rounding_of_the_low_end_and_the_open_high_end():
    lay = TableLayout("s3.3", "s2.6", 3, 1)       # s2.6: [-2, 1.984375], LSB 1/64, open end 2
    for c in (2.0, -2 - 1 / 128):
        fitter.make_problem(_const(c), lay)                 # saturates by <= 1 LSB: accepted
    for c in (np.nextafter(2.0, 9), np.nextafter(-2 - 1 / 128, -9)):
        with pytest.raises(ParamsError, match="outside s2.6's range"):
            fitter.make_problem(_const(c), lay)


def test_shipped_default_specs_are_accepted():
    seen = set()
    for s in DEFAULT_SPECS:
        key = (s.func, s.in_fmt, s.out_fmt, s.domain)
        if key not in seen:
            seen.add(key)
            fitter.make_problem(s.func, TableLayout(s.in_fmt, s.out_fmt, 2, 1), s.domain)


@pytest.mark.parametrize("args, msg", [
    (["--max-err", "nan"], "--max-err must be finite and > 0"),
    (["--max-err", "inf"], "--max-err must be finite and > 0"),
    (["--max-err", "-1"], "--max-err must be finite and > 0"),
    (["--max-err", "2", "--grid", "1"], "--grid must be 2..8,192"),
    (["--max-err", "2", "--grid", "8193"], "--grid must be 2..8,192"),
])
def test_compare_refuses_bad_numbers(tmp_path, capsys, args, msg):
    rc = main(["compare", "--func", "silu", "--in", "s3.5", "--out", "s3.5", *args, "-o",
               str(tmp_path / "c")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: ") and msg in err and "\n" not in err
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("args, msg", [
    (["--grid", "1"], "--grid must be 2..8,192"),
    (["--grid", "8193"], "--grid must be 2..8,192"),
    (["--rel-floor", "nan"], "--rel-floor must be finite and > 0"),
    (["--rel-floor", "0"], "--rel-floor must be finite and > 0"),
    (["--domain", "nan:1"], "--domain must be finite"),
])
def test_fit_refuses_bad_numbers(tmp_path, capsys, args, msg):
    rc, err, files = run_fit(tmp_path, capsys, "--func", "silu", *args)
    assert rc == 2 and files == [] and msg in err and "\n" not in err


def test_smallest_m_refuses_a_nan_bound():
    p = fitter.make_problem("silu", TableLayout("s3.5", "s3.5", 2, 1))
    with pytest.raises(ParamsError, match="finite"):
        fitter.smallest_m(p, float("nan"))


def test_outputs_are_written_together_or_not_at_all(tmp_path, capsys):
    base = ["fit", "--func", "silu", "--in", "s3.5", "--out", "s3.5", "-M", "5", "-K", "4"]
    (tmp_path / "blocker").write_text("a file, not a directory")
    t = tmp_path / "t.json"
    assert main(base + ["-o", str(t), "--hex", str(tmp_path / "blocker" / "x.hex")]) == 2
    assert "not a directory" in capsys.readouterr().err.lower()
    assert not t.exists()
    for opt in ("--hex", "--plot"):
        assert main(base + ["-o", str(t), opt, str(t)]) == 2
        assert f"named twice as an output (-o and {opt})" in capsys.readouterr().err
        assert not t.exists()
    assert main(base + ["-o", str(t), "--hex", str(tmp_path / "a"), "--plot",
                        str(tmp_path / "." / "a")]) == 2
    assert "named twice" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]
    assert main(base + ["-o", str(t), "--hex", str(tmp_path / "t.hex"), "--plot",
                        str(tmp_path / "t.png")]) == 0
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "t.hex", "t.json", "t.png"]


def test_progress_reports_matrix_rows():
    msgs = []
    lay = TableLayout("s3.6", "s3.6", 5, 4)
    n = fitter.candidate_grid(fitter.make_problem("silu", lay)).shape[0]
    fitter.fit("silu", lay, progress=msgs.append)
    rows = [m for m in msgs if m.startswith("error matrix:")]
    assert rows[-1] == f"error matrix: {n:,}/{n:,} rows"


# slow: in the full fresh-clone suite (two workers) this fit did not stop within 60 s of SIGINT,
# twice, while it passes alone and under -n 2 on its own: an open defect being investigated
@pytest.mark.slow
def test_ctrl_c_stops_a_long_fit_within_seconds(tmp_path):
    """SIGINT once the error matrix is being computed: exit within a few seconds, non-zero, one
    line, no output file (the compiled kernel returns to Python every block of rows)."""
    out = tmp_path / "t.json"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "nlihw", "fit", "--func", "gelu", "--metric",
                             "mean-rel", "--grid", "6000", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=tmp_path)
    lines: "queue.Queue[str]" = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr], daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while True:      # the first progress line: the fit has run 2 s and is in a matrix
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if "error matrix" in line:
                break
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        rc = proc.wait(timeout=60)
        waited = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    rest = []
    time.sleep(0.2)
    while not lines.empty():
        rest.append(lines.get())
    msg = [x.strip() for x in rest if x.strip() and "rows" not in x]
    assert waited < 3.0, f"took {waited:.1f} s to stop"
    assert rc != 0 and len(msg) == 1 and msg[0].startswith("error: "), (rc, rest)
    assert list(tmp_path.iterdir()) == []


def test_a_late_failure_writes_nothing(tmp_path, capsys, monkeypatch):
    """If the last output (the plot) fails, the table and hex are not written either."""
    import nlihw.commands.fit as fit_command

    def broken(table):
        raise OSError("no space left for the plot")
    monkeypatch.setattr(fit_command, "plot_png", broken)
    rc = main(["fit", "--func", "silu", "--in", "s3.5", "--out", "s3.5", "-M", "5", "-K", "4",
               "-o", str(tmp_path / "t.json"), "--hex", str(tmp_path / "t.hex"), "--plot",
               str(tmp_path / "t.png")])
    assert rc == 2 and "no space left for the plot" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
