"""The exponent-indexed search (hdl/nli/exponent_search.py) in the Amaranth simulator: the
interval index from bit fields equals the golden model's I = #{c_j <= x} on every fp8 code and a
sample of fp16 codes, and dx 2^T >> r equals the golden model's fraction t."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from amaranth.sim import Simulator

from nlihw.errors import ParamsError
from nlihw.hdl.nli.exponent_search import ExponentSearch, segments
from nlihw.luts.float_baselines import exponent_pwl_table
from nlihw.sim.nli.golden import nli_stages


def stub(table):
    return SimpleNamespace(tables=(table,), layout=table.layout, func_bits=1)


def run(table, codes):
    lay = table.layout
    dut = ExponentSearch(stub(table))
    keys = lay.key(codes)
    got = []

    async def tb(ctx):
        ctx.set(dut.en, 1)
        for k in keys:
            ctx.set(dut.x, int(k))
            await ctx.tick()
            got.append((ctx.get(dut.index), ctx.get(dut.dx)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return np.array(got), dut.low_bits


@pytest.mark.parametrize("fmt, lead, dom, n", [("fp8e4m3", 1, (-6.0, 6.0), None),
                                               ("fp8e5m2", 0, (-3.0, 100.0), None),
                                               ("fp16", 5, (-150.0, 150.0), 3000)])
def test_index_and_fraction_match_the_golden_model(fmt, lead, dom, n):
    t = exponent_pwl_table("silu", fmt, fmt, lead, dom)
    fin = t.layout.in_fmt
    codes = np.arange(1 << fin.width, dtype=np.int64)
    codes = codes[~fin.is_nan(codes)]
    if n is not None:
        rng = np.random.default_rng(1)
        codes = np.unique(np.concatenate([rng.choice(codes, n, replace=False), t.cutpoints,
                                          np.array(t.cutpoints) - 1, [0, 0x8000, 0x7C00, 0xFC00]]))
        codes = codes[(codes >= 0) & (codes < 1 << fin.width) & ~fin.is_nan(codes)]
    got, r = run(t, codes)
    st = nli_stages(t, codes)
    T = t.layout.t_bits
    bad = np.nonzero(got[:, 0] != st["index"])[0]
    assert bad.size == 0, f"index differs at {[hex(int(codes[i])) for i in bad[:5]]}"
    inside = (st["index"] > 0) & (st["index"] < t.layout.M)
    frac = (got[:, 1] << T) >> r
    bad = np.nonzero(inside & (frac != st["t"]))[0]
    assert bad.size == 0, f"t differs at {[hex(int(codes[i])) for i in bad[:5]]}"


def test_tables_that_are_not_exponent_indexed_are_refused():
    from nlihw.luts.float_fit import fit
    from nlihw.luts.layout import TableLayout
    t = fit("silu", TableLayout("fp8e4m3", "fp8e4m3", 5, 1), domain=(-6.0, 6.0)).table
    with pytest.raises(ParamsError, match="aligned|equally spaced"):
        segments(t)
