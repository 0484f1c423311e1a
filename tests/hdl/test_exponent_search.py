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
from nlihw.luts.golden import nli_stages


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


# --- the engine with arch="uniform" on a float input: the exponent-indexed PWL -------------------
def exp_pwl_params(fmt, lead, dom, funcs=("silu",)):
    from nlihw.hdl.nli.params import NLIEngineParams
    return NLIEngineParams(tuple(exponent_pwl_table(f, fmt, fmt, lead, dom) for f in funcs),
                           arch="uniform", top_name="exp_pwl")


def test_amaranth_engine_every_fp8_code():
    """fp8e4m3, two functions (silu, tanh), every bit pattern, through the Amaranth simulator."""
    from nlihw.sim.nli.engine_model import engine_eval
    from tests.support.engine_sim import run
    p = exp_pwl_params("fp8e4m3", 1, (-6.0, 6.0), ("silu", "tanh"))
    x = np.arange(256, dtype=np.int64).reshape(-1, 1)
    func = np.random.default_rng(0).integers(0, 2, 256)
    got, t_in, t_out = run(p, x, func, in_stall=0.2, out_stall=0.3)
    want = engine_eval(p, x, func)
    bad = np.nonzero(got[:, 0] != want[:, 0])[0]
    assert bad.size == 0, f"beat {bad[0]}: x {int(x[bad[0], 0]):#04x} want {int(want[bad[0], 0]):#04x} got {int(got[bad[0], 0]):#04x}"


@pytest.mark.slow            # a baseline's exhaustive fp16 run (a build of its own); fp8 stays fast
@pytest.mark.parametrize("lead", [3])
def test_verilator_every_fp16_code(lead, tmp_path):
    """The emitted Verilog of an fp16 exponent-indexed PWL (fp16 SiLU on [-150, 150]) on every
    one of the 65,536 bit patterns against the golden model, with exact latency."""
    from nlihw.sim.nli import bench as eb
    p = exp_pwl_params("fp16", lead, (-150.0, 150.0))
    sim = eb.build_engine(p, tmp_path / "rtl")
    x, func = eb.exhaustive_inputs(p)
    assert len(np.unique(x)) == 1 << 16
    cfg = eb.bench_config(p, x, func)
    r = eb.run_bench(sim, cfg, tmp_path / "run")
    assert r.tests == 1, f"the cocotb test did not run (see {r.log})"
    assert r.failures == 0, f"bench failed: {eb.first_failure(r.log)}"


def test_uniform_float_refusals():
    from nlihw.hdl.nli.params import NLIEngineParams
    from nlihw.luts.float_fit import fit
    from nlihw.luts.layout import TableLayout
    t = fit("silu", TableLayout("fp8e4m3", "fp8e4m3", 5, 1), domain=(-6.0, 6.0)).table
    with pytest.raises(ParamsError, match="aligned|equally spaced"):
        NLIEngineParams((t,), arch="uniform")
    e = exponent_pwl_table("silu", "fp8e4m3", "fp8e4m3", 1, (-6.0, 6.0))
    with pytest.raises(ParamsError, match="storage='rom' only"):
        NLIEngineParams((e,), arch="uniform", storage="ram")
