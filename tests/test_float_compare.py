"""``nlihw compare`` with float formats: each architecture sized to the bound with the fewest
resources (checked against fits one size smaller), errors recomputed, one-line refusals."""
from __future__ import annotations

import contextlib
import io
import json

import pytest

from nlihw.cli import main
from nlihw.explore import float_comparison as fc
from nlihw.luts.float_fit import fit, make_problem
from nlihw.luts.layout import TableLayout

FMT, DOM = "fp8e4m3", (-6.0, 6.0)


def run(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(args)
    return rc, out.getvalue(), err.getvalue()


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
    rc, out, err = run(["compare", "--func", "silu", "--in", FMT, "--out", FMT, "--domain",
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
    rc, out, err = run(["compare", "--func", "silu", "--in", FMT, "--out", FMT, "-o",
                        str(tmp_path)] + extra)
    assert rc == 2 and msg in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
