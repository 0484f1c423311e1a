"""``nlihw compare`` as a user runs it: four architectures, each meeting the bound, synthesized
through the sweep machinery into a results directory that a second run finds complete."""
import csv
import json
import math

import pytest

from nlihw.cli import main
from nlihw.explore import comparison
from nlihw.explore.results import COLUMNS
from tests.support.cli import run_cli

BOUND = 1.5
ARGS = ["compare", "--func", "tanh", "--in", "s3.5", "--out", "s1.7", "--max-err", str(BOUND),
        "--target", "generic"]
NAMES = ("NLI K=1 (PWL)", "NLI (K>1)", "uniform PWL", "full LUT")


def snapshot(d) -> dict:
    """Every file under the results' points/ and plans/ with its modification time."""
    return {str(f.relative_to(d)): f.stat().st_mtime_ns for sub in ("points", "plans")
            for f in (d / sub).rglob("*") if f.is_file()}


def architecture(row: dict) -> str:
    """Which comparison row a results row belongs to, from its arch and K alone."""
    if row["arch"] == "parallel":
        return "NLI K=1 (PWL)" if row["K"] == "1" else "NLI (K>1)"
    return {"uniform": "uniform PWL", "direct": "full LUT"}[row["arch"]]


def config(row: dict) -> str:
    if row["arch"] == "parallel":
        return f"NLI M={row['M']} K={row['K']} {row['micro_step']}"
    return None        # baselines: one point each, checked by area alone


def check_selection(d, res):
    """Brute force over the tidy table: per architecture, the least generic area among ok rows
    whose max error meets the bound is what compare printed (and its configuration)."""
    rows = list(csv.DictReader(open(d / "results.csv", newline="")))
    head = res["header"]
    by_name = {r[0]: r for r in res["rows"]}
    col_area, col_conf = head.index("generic gate_equivalents"), head.index("configuration")
    for name in NAMES:
        ok = [r for r in rows if architecture(r) == name and r["status"] == "ok"
              and r["target"] == "generic" and float(r["max_err_lsb"]) <= BOUND]
        assert ok, name
        least = min(float(r["area"]) for r in ok)
        assert by_name[name][col_area] == f"{least:,.0f}", name
        if config(ok[0]) is not None:
            assert by_name[name][col_conf] in {config(r) for r in ok if float(r["area"]) == least}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A compare with four NLI candidates (K=1 and K=8, each micro step), run twice."""
    tmp = tmp_path_factory.mktemp("compare")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NLIHW_CACHE", str(tmp / "cache"))
        mp.setattr(comparison, "NLI_KS", (8,))
        args = ARGS + ["-o", str(tmp / "out"), "-j", "2"]
        first = run_cli(args)
        d = tmp / "out" / "tanh"
        before = snapshot(d)
        second = run_cli(args)
        after = snapshot(d)
    return d, first, second, before, after


def test_results_directory_holds_the_tidy_table(small_run):
    d, (rc, out, err), _, before, _ = small_run
    assert rc == 0, err
    for name in NAMES:
        assert name in out
    with open(d / "results.csv", newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == list(COLUMNS)
    points = sorted((d / "points").glob("*.json"))
    # one row per design point: 4 NLI candidates + uniform PWL + full LUT, all synthesized
    assert len(points) == 6 and len(lines) == 1 + 6
    assert sorted(r[0] for r in lines[1:]) == sorted(p.stem for p in points)
    assert all(r[COLUMNS.index("status")] == "ok" and r[COLUMNS.index("target")] == "generic"
               for r in lines[1:])
    assert (d / "results.parquet").is_file() and (d / "spec.toml").is_file()
    check_selection(d, json.loads((d / "compare.json").read_text()))


def test_second_run_computes_nothing(small_run):
    _, (_, out1, _), (rc, out2, err), before, after = small_run
    assert rc == 0, err
    assert before and after == before, "a second run rewrote a point or re-planned"
    assert "(0 computed, 6 cached, 0 failed)" in out2
    table = lambda s: s.split("compare:")[0]    # noqa: E731
    assert table(out2) == table(out1)


@pytest.mark.slow
def test_compare_small_format(tmp_path, monkeypatch, capsys):
    """Every NLI candidate (each K, both micro steps): each meets the bound with the fewest M."""
    monkeypatch.setenv("NLIHW_CACHE", str(tmp_path / "cache"))
    rc = main(ARGS + ["-o", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert name in out
    d = tmp_path / "tanh"
    res = json.loads((d / "compare.json").read_text())
    rows = {r[0]: r for r in res["rows"]}
    col = res["header"].index("max err (LSB)")
    assert all(float(r[col]) <= BOUND for r in rows.values())
    # each ratio is the row's own gate equivalents over NLI's, recomputed here from the columns
    ratio = res["header"].index("generic x NLI")
    area = res["header"].index("generic gate_equivalents")
    ge = {name: float(r[area].replace(",", "")) for name, r in rows.items()}
    assert all(v > 0 for v in ge.values())
    assert len(set(ge.values())) > 1, "the architectures differ in area"
    for name, r in rows.items():
        assert r[ratio] == f"{ge[name] / ge['NLI (K>1)']:.2f}", name
    check_selection(d, res)
    # the candidates: for each K and micro step, M meets the bound and M - 1 does not (an
    # optimal fit with one cutpoint fewer, its error measured here over every input code)
    from nlihw.luts.fitter import fit
    from nlihw.luts.layout import TableLayout
    from nlihw.luts.golden import nli_eval
    cands = [r for r in csv.DictReader(open(d / "results.csv", newline=""))
             if r["arch"] == "parallel"]
    assert {(int(r["K"]), r["micro_step"]) for r in cands} == \
        {(K, s) for K in (1, 2, 4, 8, 16, 32) for s in ("mul", "pow2")}
    xs = list(range(-128, 128))                  # every s3.5 code
    for r in cands:
        M, K, step = int(r["M"]), int(r["K"]), r["micro_step"]
        assert float(r["max_err_lsb"]) <= BOUND
        if M == 2:
            continue
        t = fit("tanh", TableLayout("s3.5", "s1.7", M - 1, K, step)).table
        y = nli_eval(t, xs)
        worst = max(abs(int(v) / 128 - math.tanh(x / 32)) for x, v in zip(xs, y)) * 128
        assert worst > BOUND, (M, K, step, worst)


def test_compare_errors(tmp_path, capsys):
    assert main(["compare", "--func", "silu", "--max-err", "0", "-o", str(tmp_path)]) == 2
    assert "--max-err must be finite and > 0" in capsys.readouterr().err


@pytest.mark.parametrize("args, msg", [
    (["-j", "0"], "-j must be >= 1"),
    (["-j", "2", "--scheduler", "tcp://localhost:1"], "with --scheduler the cluster's workers"),
    (["--scheduler", " "], "--scheduler must be a Dask scheduler address"),
    (["--target", "nowhere"], "Invalid value for '--target'"),
])
def test_compare_refuses_options(tmp_path, capsys, args, msg):
    rc = main(["compare", "--func", "silu", "--in", "s3.5", "--out", "s3.5", "--max-err", "2",
               *args, "-o", str(tmp_path / "c")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: ") and msg in err and "\n" not in err
    assert not (tmp_path / "c").exists()
