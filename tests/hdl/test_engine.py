"""The engine in the Amaranth simulator against the golden model: every input code, back-pressure,
function switching, exact latency, RAM reload. (The Verilator benches check the emitted Verilog.)"""

import numpy as np
import pytest

from nlihw.sim.nli.engine_model import engine_eval
from tests.support.engine_points import POINTS, params, reload_table
from tests.support.engine_sim import run


def all_codes(p, seed=0):
    """Every input code once per lane position, in a shuffled order, with random functions."""
    rng = np.random.default_rng(seed)
    codes = p.layout.in_fmt.codes()
    x = np.stack([rng.permutation(codes) for _ in range(p.lanes)], axis=1)
    func = rng.integers(0, 1 << p.func_bits, len(codes))
    return x, func


@pytest.mark.parametrize("name", [n for n in POINTS if "s12" not in n] + ["s12-M5-K8-parallel-ram-away"])
def test_every_code_with_back_pressure(name):
    p = params(name)
    x, func = all_codes(p)
    if p.in_width > 8:
        x, func = x[::8], func[::8]          # the Verilator bench covers 12/16-bit exhaustively
    got, _, _ = run(p, x, func, in_stall=0.3, out_stall=0.5)
    np.testing.assert_array_equal(got, engine_eval(p, x, func))


@pytest.mark.parametrize("name", ["s8-M2-K1-parallel-rom", "u8-M33-K1-binary-4lane-floor"])
def test_exact_latency_and_full_throughput(name):
    p = params(name)
    x, func = all_codes(p)
    got, t_in, t_out = run(p, x[:200], func[:200])
    np.testing.assert_array_equal(got, engine_eval(p, x[:200], func[:200]))
    assert np.all(np.diff(t_in) == 1), "initiation interval must be 1"
    assert np.all(t_out - t_in == p.latency)


def test_ram_reload_then_results_follow_the_new_table():
    p = params("s8-M9-K8-binary-ram-2func")
    new = reload_table("s8-M9-K8-binary-ram-2func")
    writes = p.config_writes(1, new)
    x, func = all_codes(p)
    func[:] = 1
    got, _, _ = run(p, x, func, out_stall=0.3, pre_writes=writes)
    expect = engine_eval(type(p)(tables=(p.tables[0], new), arch=p.arch, lanes=p.lanes,
                                 storage=p.storage), x, func)
    np.testing.assert_array_equal(got, expect)
    assert not np.array_equal(expect, engine_eval(p, x, func)), "the reload must change results"


@pytest.mark.parametrize("kind, kw", [("uniform", {}), ("uniform", dict(fin="u4.4", fout="u1.7", func="sigmoid", seg_log2=5)),
                                      ("direct", dict(lanes=2)), ("uniform", dict(func="exp", fout="u1.7", seg_log2=3, domain=(-8, 0.5)))])
def test_baselines_every_code(kind, kw):
    from tests.support.engine_points import baseline_params
    p = baseline_params(kind, **kw)
    x, func = all_codes(p)
    got, t_in, t_out = run(p, x, func, out_stall=0.3)
    np.testing.assert_array_equal(got, engine_eval(p, x, func))
    got, t_in, t_out = run(p, x[:64], func[:64])
    assert np.all(t_out - t_in == p.latency)


@pytest.mark.parametrize("name, lanes, pipeline", [
    ("u8-M33-K1-binary-4lane-floor", 4, None),
    ("s8-M9-K8-parallel-3func-tozero", 3, "all"),           # odd lanes: the last copy has one port
    ("s8-M7-K8-binary-2lane-pow2-away", 2, ["table_out"])])
def test_shared_table_ports(name, lanes, pipeline):
    """Lanes sharing a table copy two to a copy (one read port each) read their own addresses:
    every code in each lane, the lanes in different orders, with back-pressure."""
    import dataclasses
    p = dataclasses.replace(params(name), lanes=lanes, table_ports=2, pipeline=pipeline)
    assert p.table_copies == (lanes + 1) // 2
    x, func = all_codes(p, seed=3)
    got, t_in, t_out = run(p, x, func, out_stall=0.3, in_stall=0.2)
    np.testing.assert_array_equal(got, engine_eval(p, x, func))


@pytest.mark.parametrize("mult, pipeline", [("6x4", "all"), ("5x3/2", "none"), ("18x18/4", ["interp_in", "round_split"])])
def test_split_products_every_code(mult, pipeline):
    """The interpolation product split between a small DSP block and fabric rows, registered as
    its terms and summed with y0 behind the register: bit-exact on every code."""
    from nlihw.hdl.nli.params import NLIEngineParams
    from tests.support.engine_points import POINTS, table
    specs, arch, lanes, storage = POINTS["s8-M9-K8-binary-ram-2func"]
    p = NLIEngineParams(tuple(table(*s) for s in specs), arch=arch, lanes=lanes, storage=storage,
                        multipliers=mult, pipeline=pipeline)
    x, func = all_codes(p)
    got, _, _ = run(p, x, func, in_stall=0.3, out_stall=0.5)
    np.testing.assert_array_equal(got, engine_eval(p, x, func))
