"""``nlihw compare`` with float formats: each architecture sized to the bound with the fewest
resources (checked against fits one size smaller), errors recomputed, one-line refusals."""
from __future__ import annotations

import json

import pytest

from nlihw.explore import float_comparison as fc
from nlihw.luts.float_fit import fit, make_problem
from nlihw.luts.layout import TableLayout
from tests.support.cli import run_cli

FMT, DOM = "fp8e4m3", (-6.0, 6.0)


@pytest.mark.parametrize("metric, limit, K", [("mean-rel", 0.06, 2), ("max-ulp", 1.0, 1)])
def test_smallest_m_is_the_fewest_that_meet_the_bound(metric, limit, K):
    p = make_problem("silu", TableLayout(FMT, FMT, 2, K), DOM)
    M = fc.smallest_m(p, metric, limit)
    assert M is not None and M > 2
    key = fc.METRIC_KEY[metric]
    at = fit("silu", TableLayout(FMT, FMT, M, K), metric=metric, domain=DOM).table
    below = fit("silu", TableLayout(FMT, FMT, M - 1, K), metric=metric, domain=DOM).table
    assert at.meta["errors"][key] <= limit < below.meta["errors"][key]


def test_float_compare_command(tmp_path):
    rc, out, err = run_cli(["compare", "--func", "silu", "--in", FMT, "--out", FMT, "--domain",
                            "-6:6", "--max-mean-rel", "0.06", "-o", str(tmp_path), "--target",
                            "generic"])
    assert rc == 0, err
    for name in ("NLI", "NN-LUT (NLI K=1)", "exponent-indexed PWL", "full LUT"):
        assert name in out
    res = json.loads((tmp_path / f"silu_{FMT}_{FMT}" / "compare.json").read_text())
    col = res["header"].index("mean rel err")
    area = res["header"].index("generic gate_equivalents")
    rows = {r[0]: r for r in res["rows"]}
    for name in ("NLI", "NN-LUT (NLI K=1)", "exponent-indexed PWL"):
        assert float(rows[name][col]) <= 0.06
    assert float(rows["NLI"][area].replace(",", "")) > 0
    assert float(rows["NN-LUT (NLI K=1)"][area].replace(",", "")) > 0
    assert float(rows["full LUT"][area].replace(",", "")) > 0          # 256 entries: synthesized


@pytest.mark.parametrize("extra, msg", [
    (["--max-err", "2"], "--max-err (LSB) bounds a fixed-point"),
    (["--max-mean-rel", "0.1", "--max-ulp", "2"], "give one bound"),
    (["--max-ulp", "-1"], "finite and > 0"),
    (["--target", "ice40"], "synthesizes for"),
])
def test_float_compare_refusals(tmp_path, extra, msg):
    rc, out, err = run_cli(["compare", "--func", "silu", "--in", FMT, "--out", FMT, "-o",
                            str(tmp_path)] + extra)
    assert rc == 2 and msg in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("extra", [["--max-ulp", "0.5"], ["--metric", "max-ulp"]])
def test_float_compare_refuses_max_ulp_of_a_fixed_point_output(tmp_path, extra):
    """A fixed-point output has no ulp figure: one line and 2, not an internal error."""
    rc, out, err = run_cli(["compare", "--func", "silu", "--in", FMT, "--out", "s3.5", "-o",
                            str(tmp_path)] + extra)
    msg = "max-ulp needs a float output; s3.5 is fixed point"
    assert rc == 2 and msg in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


# ------------------------------------------------------------- no design meets the bound: exit 3

def fp8e4m3(code: int) -> float:
    """The value of an fp8e4m3 code, decoded by hand (OCP: bias 7, no infinities, S.1111.111 is
    NaN)."""
    s, e, m = code >> 7, (code >> 3) & 15, code & 7
    mag = m / 8 * 2.0 ** -6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7)
    return -mag if s else mag


def correctly_rounded_errors(lo: float, hi: float) -> tuple[float, float]:
    """(mean relative error, max error in ulps) of silu rounded to the nearest fp8e4m3 value at
    every fp8e4m3 code in [lo, hi]: no design with an fp8e4m3 output does better at any code."""
    import math
    values = sorted({fp8e4m3(c) for c in range(256) if c & 0x7F != 0x7F})
    xs = [fp8e4m3(c) for c in range(256) if c & 0x7F != 0x7F and lo <= fp8e4m3(c) <= hi]
    rel, ulps = [], []
    for x in xs:
        f = x / (1 + math.exp(-x))
        y = min(values, key=lambda v: abs(v - f))
        rel.append(abs(y - f) / max(abs(f), 2.0 ** -14))
        ulp = 2.0 ** (max(math.floor(math.log2(abs(f))), -6) - 3) if f else 2.0 ** -9
        ulps.append(abs(y - f) / ulp)
    return sum(rel) / len(rel), max(ulps)


def test_correctly_rounded_floor_is_what_the_reasoning_says():
    mean_rel, max_ulp = correctly_rounded_errors(*DOM)
    # rounding to 3 mantissa bits: at most half an ulp, 2^-4 relative, at every code
    assert 0.01 < mean_rel < 2.0 ** -4 and 0.25 < max_ulp <= 0.5


OPTION = {"mean-rel": "--max-mean-rel", "max-ulp": "--max-ulp"}


@pytest.mark.parametrize("metric, which", [("mean-rel", 0), ("max-ulp", 1)])
def test_float_compare_exits_3_below_the_correctly_rounded_floor(tmp_path, metric, which):
    """Half the error of f correctly rounded at every code: no fp8e4m3 output can meet it."""
    floor = correctly_rounded_errors(*DOM)[which]
    rc, out, err = run_cli(["compare", "--func", "silu", "--in", FMT, "--out", FMT, "--domain", "-6:6",
                            OPTION[metric], f"{floor / 2:.6g}", "-o", str(tmp_path), "-q"])
    assert rc == 3 and out == "" and "Traceback" not in err, err
    assert len(err.splitlines()) == 1
    assert err.startswith(f"error: no design of any architecture meets {metric} <= "
                          f"{floor / 2:.4g} (")
    for name in ("NLI: ", "NN-LUT (NLI K=1): ", "exponent-indexed PWL: least ", "full LUT: "):
        assert name in err
    full = float(err.split("full LUT: ")[1].split()[0])
    assert full == pytest.approx(floor, rel=0.02)              # the floor: the least reached
    work = tmp_path / f"silu_{FMT}_{FMT}"
    assert not (work / "compare.json").exists() and not (work / "rtl").exists()


@pytest.mark.parametrize("metric, which", [("mean-rel", 0), ("max-ulp", 1)])
def test_float_compare_exits_0_just_above_the_correctly_rounded_floor(tmp_path, monkeypatch,
                                                                     metric, which):
    """10 % above the error of f correctly rounded at every code: the full LUT meets it, so a
    design does (exit 0; synthesis, checked above, left out for speed)."""
    floor = correctly_rounded_errors(*DOM)[which]
    monkeypatch.setattr(fc, "synthesize", lambda *a, **k: None)
    rc, out, err = run_cli(["compare", "--func", "silu", "--in", FMT, "--out", FMT, "--domain", "-6:6",
                            OPTION[metric], f"{floor * 1.1:.6g}", "-o", str(tmp_path), "-q"])
    assert rc == 0, err
    res = json.loads((tmp_path / f"silu_{FMT}_{FMT}" / "compare.json").read_text())
    col = res["header"].index({"mean-rel": "mean rel err", "max-ulp": "max ulp"}[metric])
    full = next(r for r in res["rows"] if r[0] == "full LUT")
    assert float(full[col]) <= floor * 1.1


def test_best_on_float_points_exits_3_when_none_meets_and_says_ulp(tmp_path, capsys):
    """``nlihw best`` over a float sweep: the same exit 3 and one line as fixed point, in ulps."""
    from nlihw.explore.results import COLUMNS, csv_text
    given = [dict(point_id="a", max_err_lsb=0.8, area=90.0), dict(point_id="b", max_err_lsb=2.0,
                                                                  area=40.0)]
    rows = [{**dict.fromkeys(COLUMNS), "design": "nli", "status": "ok", "func": "silu",
             "target": "generic", "in_fmt": "fp16", "out_fmt": "fp16", **r} for r in given]
    (tmp_path / "results.csv").write_text(csv_text(rows))
    base = ["best", "--func", "silu", "--target", "generic", "--results", str(tmp_path)]
    rc, out, err = run_cli(base + ["--max-err", "0.5"])
    assert rc == 3 and out == "" and len(err.splitlines()) == 1, err
    assert err.startswith("error: no ok point of silu on generic meets max_err_lsb <= 0.5 ulp; the "
                          "least reached is 0.8 ulp (point a")
    rc, out, err = run_cli(base + ["--max-err", "1"])
    assert rc == 0 and "best: point a " in out, err
    rc, out, err = run_cli(base + ["--max-err", "2"])
    assert rc == 0 and "best: point b " in out, err
