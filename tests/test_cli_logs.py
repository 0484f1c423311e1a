"""Long jobs in CI logs (issue [N] 4): exit codes 0/1/2/3/70, the global -v/-q/--debug flags in
any position, plain progress lines and a heartbeat when stderr is not a terminal."""
from __future__ import annotations

import re
import time

import pytest

from nlihw import cli, verbosity
from nlihw.errors import ParamsError

HINT = "(rerun with --debug or NLIHW_DEBUG=1 for the traceback)"


@pytest.fixture(autouse=True)
def _log_like(monkeypatch):
    """stderr as in a CI log: no terminal forced by the environment, no debug left set."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "NLIHW_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    yield
    verbosity.set_level(verbosity.NORMAL)


def run(argv, capsys):
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def synth_callback(monkeypatch, fn):
    import nlihw.commands.synth as synth
    monkeypatch.setattr(synth.command, "callback", fn)


# ------------------------------------------------------------------------------------ exit codes

def _boom(**kw):
    raise RuntimeError("boom: the second line\nis not shown")


def test_internal_error_is_one_line_with_the_hint(monkeypatch, capsys, tmp_path):
    synth_callback(monkeypatch, _boom)
    rc, out, err = run(["synth", tmp_path], capsys)
    assert rc == 70
    assert err == f"error: internal error: RuntimeError: boom: the second line {HINT}\n"


@pytest.mark.parametrize("how", ["before", "after", "env"])
def test_debug_shows_the_traceback(monkeypatch, capsys, tmp_path, how):
    synth_callback(monkeypatch, _boom)
    argv = {"before": ["--debug", "synth", tmp_path], "after": ["synth", tmp_path, "--debug"],
            "env": ["synth", tmp_path]}[how]
    if how == "env":
        monkeypatch.setenv("NLIHW_DEBUG", "1")
    rc, _out, err = run(argv, capsys)
    assert rc == 70
    assert err.startswith("Traceback (most recent call last):")
    assert "in _boom" in err and "RuntimeError: boom" in err
    assert err.splitlines()[-1].startswith("error: internal error: RuntimeError: boom")


def test_a_missing_module_that_is_no_extra_is_internal(monkeypatch, capsys, tmp_path):
    def missing(**kw):
        import nlihw_no_such_module  # noqa: F401
    synth_callback(monkeypatch, missing)
    rc, _out, err = run(["synth", tmp_path], capsys)
    assert rc == 70 and err.count("\n") == 1
    assert err.startswith("error: internal error: ModuleNotFoundError: No module named "
                          "'nlihw_no_such_module'") and HINT in err


def test_expected_errors_keep_their_one_line_and_code_2(monkeypatch, capsys, tmp_path):
    def bad(**kw):
        raise ParamsError("--seeds must be odd")
    synth_callback(monkeypatch, bad)
    rc, _out, err = run(["synth", tmp_path], capsys)
    assert (rc, err) == (2, "error: --seeds must be odd\n")
    rc, _out, err = run(["synth", tmp_path, "--debug"], capsys)   # --debug: the traceback too
    assert rc == 2 and "Traceback" in err and err.endswith("error: --seeds must be odd\n")
    rc, _out, err = run(["synth", tmp_path, "--no-such-option"], capsys)
    assert rc == 2 and err.startswith("error: No such option '--no-such-option'")


# --------------------------------------------------------------------------- global flags, anywhere

@pytest.mark.parametrize("argv, level, debug, top", [
    (["-q", "synth", "D"], -1, False, None),
    (["synth", "D", "-q"], -1, False, None),
    (["synth", "--quiet", "D"], -1, False, None),
    (["-v", "synth", "D"], 1, False, None),
    (["synth", "D", "--verbose", "--debug"], 1, True, None),
    (["-q", "synth", "D", "-v"], 1, False, None),                 # the last one wins
    (["synth", "D", "--top", "-q"], 0, False, "-q"),              # an option's value stays
    (["synth", "D", "--top=-v", "-q"], -1, False, "-v"),
])
def test_global_flags_in_any_position(monkeypatch, capsys, argv, level, debug, top):
    seen = {}

    def record(**kw):
        seen.update(kw, level=verbosity.level(), debug=verbosity.debug())
    synth_callback(monkeypatch, record)
    rc, _out, err = run(argv, capsys)
    assert rc == 0, err
    assert (seen["level"], seen["debug"], seen["top"]) == (level, debug, top)
    assert str(seen["directory"]) == "D"


def test_flags_after_double_dash_are_arguments():
    assert cli.global_flags(["synth", "--", "-q"]) == (["synth", "--", "-q"], 0, False)


def test_help_lists_the_flags_and_the_exit_codes(capsys):
    rc, out, _ = run(["--help"], capsys)
    assert rc == 0
    for needle in ("-v, --verbose", "-q, --quiet", "--debug", "NLIHW_DEBUG=1",
                   "3   no design meets the bound", "70  internal error"):
        assert needle in out


# ---------------------------------------------------------------------- synth: stages, heartbeat

@pytest.fixture
def slow_yosys(monkeypatch, tmp_path):
    """A design directory and a yosys 'run' that takes 0.7 s then fails (no tool starts), with
    the heartbeat every 0.2 s."""
    from nlihw.synth import tools
    d = tmp_path / "d"
    d.mkdir()
    (d / "inv.v").write_text("module inv(input a, output y); assign y = ~a; endmodule\n")
    monkeypatch.setenv("NLIHW_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NLIHW_HEARTBEAT_S", "0.2")

    def slow(tool, args, cwd, console_log):
        time.sleep(0.7)
        console_log.write_bytes(b"ERROR: planted by the test\n")
        return tools.Failure(tool, 1, console_log)
    monkeypatch.setattr(tools, "run", slow)
    return d


def test_synth_in_a_log_prints_stages_and_heartbeats(slow_yosys, capsys):
    rc, _out, err = run(["synth", slow_yosys], capsys)
    lines = err.splitlines()
    assert rc == 2 and lines[-1].startswith("error: yosys failed for target generic")
    assert re.fullmatch(r"synth generic: yosys, synthesizing inv.*", lines[0])
    beats = [x for x in lines if x.startswith("nlihw synth: still running, ")]
    # 0.7 s of silence with a beat every 0.2 s: three beats (two at least on a loaded machine)
    assert 2 <= len(beats) <= 4, err
    assert re.fullmatch(r"nlihw synth: still running, \d+ s elapsed \(last: synth generic: yosys, "
                        r"synthesizing inv.*, \d+ s ago\)", beats[0])


def test_synth_quiet_prints_only_the_error(slow_yosys, capsys):
    rc, _out, err = run(["synth", slow_yosys, "-q"], capsys)
    assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("error: yosys failed")


# ------------------------------------------------------------------------- sweep: plain lines

SWEEP = ["sweep", "--func", "silu", "-M", "3,4,5", "--in", "s3.5", "--out", "s3.5",
         "--stages", "fit", "-j", "1", "-o"]
LINE = r"sweep: (\d)/3 points done, 0 failed, \d+s elapsed, ETA (\?|\d+s)"


def test_sweep_in_a_log_prints_plain_lines(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("NLIHW_PROGRESS_S", "0")           # every point: a line
    rc, _out, err = run(SWEEP + [tmp_path / "r", "-v"], capsys)
    assert rc == 0, err
    lines = [x for x in err.splitlines() if x.startswith("sweep: ") and "points done" in x]
    assert [re.fullmatch(LINE, x).group(1) for x in lines] == ["0", "1", "2", "3"], err
    assert len([x for x in err.splitlines() if x.startswith("done: ")]) == 3      # -v: each point
    assert "━" not in err                                                          # no bar


def test_sweep_lines_are_throttled_and_quiet_silences_them(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("NLIHW_PROGRESS_S", "600")
    rc, _out, err = run(SWEEP + [tmp_path / "r"], capsys)
    lines = [x for x in err.splitlines() if "points done" in x]
    assert rc == 0 and [re.fullmatch(LINE, x).group(1) for x in lines] == ["0", "3"], err
    assert not [x for x in err.splitlines() if x.startswith("done: ")]
    monkeypatch.setenv("NLIHW_PROGRESS_S", "0")
    rc, _out, err = run(["-q"] + SWEEP + [tmp_path / "q"], capsys)
    assert rc == 0 and "points done" not in err and "━" not in err
    monkeypatch.setenv("TTY_COMPATIBLE", "1")             # as on a terminal: the bar, unless -q
    rc, _out, err = run(SWEEP + [tmp_path / "t", "-q"], capsys)
    assert rc == 0 and "━" not in err and "points done" not in err, err
    rc, _out, err = run(SWEEP + [tmp_path / "u"], capsys)
    assert rc == 0 and "━" in err and "points done" not in err, err


def test_progress_and_detail_follow_the_level(capsys):
    shown = {}
    for lvl in (verbosity.QUIET, verbosity.NORMAL, verbosity.VERBOSE):
        verbosity.set_level(lvl)
        verbosity.progress("p")
        verbosity.detail("d")
        shown[lvl] = capsys.readouterr().err
    assert shown == {-1: "", 0: "p\n", 1: "p\nd\n"}


# ---------------------------------------------------------------- best, compare: not met is 3

def test_best_exit_3_when_no_point_meets_the_bound(capsys, tmp_path):
    from nlihw.explore.results import COLUMNS, csv_text
    d = tmp_path / "res"
    d.mkdir()
    given = [dict(point_id="p1", max_err_lsb=0.75, area=100.0),
             dict(point_id="p2", max_err_lsb=1.5, area=50.0)]
    rows = [{**dict.fromkeys(COLUMNS), "design": "nli", "status": "ok", "func": "silu",
             "target": "generic", "in_fmt": "s4.12", "out_fmt": "s4.12", **r} for r in given]
    (d / "results.csv").write_text(csv_text(rows))
    base = ["best", "--func", "silu", "--target", "generic", "--results", d]
    rc, out, err = run(base + ["--max-err", "0.5"], capsys)
    assert rc == 3 and out == "" and err.count("\n") == 1
    assert err.startswith("error: no ok point of silu on generic meets max_err_lsb <= 0.5 LSB; "
                          "the least reached is 0.75 LSB (point p1")
    rc, out, _ = run(base + ["--max-err", "1"], capsys)
    assert rc == 0 and "best: point p1 " in out
    rc, _out, err = run(base[:-2] + ["--results", tmp_path / "none", "--max-err", "1"], capsys)
    assert rc == 2                                     # bad input stays 2


def test_compare_exit_3_when_no_architecture_meets_the_bound(monkeypatch, capsys, tmp_path):
    import nlihw.commands.compare as cmp
    from nlihw.explore.comparison import ARCHS, Comparison, Row
    note = "no configuration meets the bound (least 0.512 LSB on generic)"
    monkeypatch.setattr(cmp, "plan", lambda *a, **k: None)
    monkeypatch.setattr(cmp, "compare", lambda *a, **k: Comparison(
        [Row(a, note=note) for a in ARCHS], tmp_path, ("generic",)))
    rc, out, err = run(["compare", "--func", "silu", "--in", "s3.5", "--out", "s3.5",
                        "--max-err", "0.25", "-o", tmp_path / "c"], capsys)
    errors = [x for x in err.splitlines() if x.startswith("error")]
    assert rc == 3 and out == "" and len(errors) == 1 and err.endswith(errors[0] + "\n"), err
    assert errors[0].startswith("error: no design of any architecture meets max error <= 0.25 LSB "
                          "(NLI K=1 (PWL): no configuration meets the bound (least 0.512 LSB")
    assert not (tmp_path / "c" / "silu" / "compare.json").exists()
