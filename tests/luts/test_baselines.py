"""Baseline tables and the cheapest-configuration search, checked against independent scans."""
import numpy as np
import pytest

from nlihw.errors import ParamsError
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.luts import baselines, fitter
from nlihw.luts.layout import TableLayout
from nlihw.luts.golden import nli_eval


def test_smallest_m_matches_a_scan_of_fits():
    bound_lsb = 3.0
    layout = TableLayout("s4.6", "s4.6", 2, 2)
    p = fitter.make_problem("gelu", layout)
    M = fitter.smallest_m(p, bound_lsb * layout.out_fmt.lsb)
    errs = {m: fitter.fit("gelu", TableLayout("s4.6", "s4.6", m, 2)).table.meta["errors"]["max_abs_lsb"]
            for m in range(2, M + 1)}
    assert errs[M] <= bound_lsb and all(errs[m] > bound_lsb for m in range(2, M))


def test_full_lut_is_the_rounded_function():
    t = baselines.full_lut_table("tanh", "s3.5", "s2.6")
    xs = t.layout.in_fmt.codes()
    expect = t.layout.out_fmt.quantize(np.tanh(xs / 32))      # no saturation in s2.6
    assert nli_eval(t, xs).tolist() == expect.tolist()
    assert t.meta["errors"]["max_abs_lsb"] <= 0.5


def test_uniform_segments_are_the_top_bits():
    t = baselines.uniform_table("silu", "s4.8", "s4.8", 7)
    assert t.cutpoints[0] == -2048 and t.cutpoints[-1] == 2048 and len(t.cutpoints) == 33
    xs = np.array([-2048, -1921, 100, 2047])
    st = __import__("nlihw.luts.golden", fromlist=["nli_stages"]).nli_stages(t, xs)
    assert st["index"].tolist() == [1, 1, 17, 32]   # (x + 2048) >> 7, plus one


def test_uniform_error_falls_with_segment_size():
    e = [baselines.uniform_table("exp", "s4.8", "u1.11", s, (-8, 0)).meta["errors"]["max_abs_lsb"]
         for s in (9, 7, 5, 3)]
    assert e == sorted(e, reverse=True) and e[-1] < e[0] / 16


def test_choices_meet_the_bound_and_are_minimal():
    c = baselines.smallest_uniform("silu", "s4.6", "s4.6", 1.5)
    assert c.max_err_lsb <= 1.5
    seg = (c.table.cutpoints[1] - c.table.cutpoints[0]).bit_length() - 1
    bigger = baselines.uniform_table("silu", "s4.6", "s4.6", seg + 1)      # the next larger segment
    assert bigger.meta["errors"]["max_abs_lsb"] > 1.5
    assert baselines.smallest_full_lut("silu", "s4.6", "s4.6", 0.3) is None


def test_baseline_archs_check_their_tables():
    u = baselines.uniform_table("silu", "s4.4", "s4.4", 3)
    nli = fitter.fit("silu", TableLayout("s4.4", "s4.4", 5, 1)).table
    with pytest.raises(ParamsError, match="uniform"):
        NLIEngineParams((u,), arch="parallel")
    with pytest.raises(ParamsError, match="not a uniform"):
        NLIEngineParams((nli,), arch="uniform")
    with pytest.raises(ParamsError, match="not a full-LUT"):
        NLIEngineParams((nli,), arch="direct")
    with pytest.raises(ParamsError, match="storage=.rom. only"):
        NLIEngineParams((u,), arch="uniform", storage="ram")
