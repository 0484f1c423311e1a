"""Tails: names, validation, the table file field, and what a ram engine may reload."""
import json

import pytest

from nlihw.errors import ParamsError, TableError
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.luts import fitter
from nlihw.luts.layout import TableLayout
from nlihw.luts.table import NLITable
from nlihw.luts.tails import Tail, TailMode


@pytest.mark.parametrize("text", ["clamp", "zero", "identity", "linear", "linear:-3", "linear:2"])
def test_names_round_trip(text):
    assert str(Tail.parse(text)) == ("linear" if text == "linear" else text)


@pytest.mark.parametrize("text", ["", "ident", "linear:x", "linear:99", "clamp:1", "zero:-1"])
def test_bad_names(text):
    with pytest.raises(ParamsError):
        Tail.parse(text)


def test_mode_properties():
    assert [Tail.parse(t).gain for t in ("clamp", "zero", "identity", "linear:1")] == [False, False, True, True]
    assert Tail(TailMode.LINEAR, -2).exponent(TableLayout("s4.4", "s2.6", 2, 1)) == -2 + 6 - 4


@pytest.fixture(scope="module")
def tailed():
    lay = TableLayout("s4.4", "s4.4", 4, 2, t_bits=4, mul_bits=10)
    return fitter.fit("silu", lay, domain=(-3, 3), tails=("zero", "linear:-1")).table


def test_table_file_round_trip(tailed, tmp_path):
    d = json.loads(tailed.to_json())
    assert d["tails"] == ["zero", "linear:-1"]
    back = NLITable.load(tailed.save(tmp_path / "t.json"))
    assert back == tailed and (back.tail_lo, back.tail_hi) == (tailed.tail_lo, tailed.tail_hi)


def test_clamp_only_tables_have_no_tails_field():
    lay = TableLayout("s4.4", "s4.4", 4, 2, t_bits=4, mul_bits=10)
    t = fitter.fit("tanh", lay).table
    assert "tails" not in json.loads(t.to_json())


def test_bad_tails_field_names_the_field(tailed):
    d = tailed.content()
    for bad in ("zero", ["zero"], ["zero", 3], ["zero", "sideways"]):
        d["tails"] = bad
        with pytest.raises(TableError, match="tails"):
            NLITable.from_dict(d, verify=False)
    d["tails"] = ["zero", "linear:-1"]
    d["clamp"] = [5, d["clamp"][1]]                  # a zero tail has offset 0
    with pytest.raises(TableError, match="offset 0"):
        NLITable.from_dict(d, verify=False)


def test_ram_reload_keeps_tail_modes(tailed):
    lay = tailed.layout
    other = fitter.fit("silu", lay, domain=(-3, 3), tails=("zero", "identity")).table
    p = NLIEngineParams((tailed,), storage="ram")
    assert p.config_writes(0, tailed)
    with pytest.raises(ParamsError, match="fixed when the engine is generated"):
        p.config_writes(0, other)


def test_full_lut_refuses_tails(tailed):
    from nlihw.luts.baselines import full_lut_table
    import dataclasses
    t = full_lut_table("silu", "s4.4", "s4.4", None)
    with pytest.raises(ParamsError, match="full-LUT"):
        NLIEngineParams((dataclasses.replace(t, tail_hi=Tail.parse("identity"), clamp_hi=0),), arch="direct")


def test_float_clamp_tail_keeps_the_sign_of_a_negative_zero():
    """A clamp tail whose f(c) is negative and rounds to zero stores and outputs -0 (0x8000 in
    fp16), as IEEE rounding (numpy's float16) and the interpolation's rounding give; a zero tail
    gives +0. Pinned against numpy, not the fitter."""
    import math
    import numpy as np
    from nlihw.luts import float_fit
    from nlihw.luts.golden import nli_eval
    lay = TableLayout("fp16", "fp16", 4, 2)
    p = float_fit.make_problem("silu", lay, (-30.0, 4.0), tails=("clamp", "zero"))
    c = np.array([0xCF80, 0xC000, 0x0000, 0x4400], dtype=np.int64)   # -30, -2, 0, 4
    assert lay.in_fmt.to_real(c).tolist() == [-30.0, -2.0, 0.0, 4.0]
    t = float_fit.build_table(p, c)
    silu_m30 = -30.0 / (1.0 + math.exp(30.0))
    expect = int(np.array([silu_m30], dtype=np.float16).view(np.uint16)[0])
    assert expect == 0x8000 and t.clamp_lo == expect
    x = np.array([0xD000, 0xFBFF, 0x4500, 0x7BFF], dtype=np.int64)     # -32, -65504, 5, 65504
    assert nli_eval(t, x).tolist() == [0x8000, 0x8000, 0x0000, 0x0000]
