"""The emitted Verilog of the engine on Verilator against the golden model (cocotb benches)."""
import numpy as np
import pytest

from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.luts.default_tables import shipped_table
from nlihw.luts.golden import nli_eval, nli_stages
from nlihw.sim.common.lint import lint
from nlihw.sim.nli import bench as eb
from nlihw.sim.nli.engine_model import pack_output
from tests.support.engine_points import POINTS, check_bench, params, reload_table


def built(name, build_once):
    """A design point generated and verilated once per session: (params, simulator, its dir)."""
    def make(outdir):
        p = params(name) if name in POINTS else name_16bit(name)
        return p, eb.build_engine(p, outdir), outdir
    return build_once(name, make)


def name_16bit(name):
    arch = name.rsplit("-", 1)[1]
    return NLIEngineParams((shipped_table("silu_M11_K32"),), arch=arch)


# configurations whose Verilator builds run only in `make test-all` (the fast suite keeps the
# other seven: every rounding mode with signed outputs, pow2, lanes, ram, binary and 3 tables)
SLOW = {"s8-M2-K1-parallel-rom", "s12-M17-K32-parallel-4lane-pow2"}


def marked(names):
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in names]


def check(p, sim, cfg, tmp_path, test="test_stream"):
    check_bench(sim, cfg, tmp_path, test)


@pytest.mark.parametrize("name", marked(POINTS))
def test_every_code_exact_latency(name, build_once, tmp_path):
    p, sim, _ = built(name, build_once)
    x, func = eb.exhaustive_inputs(p)
    check(p, sim, eb.bench_config(p, x, func), tmp_path)


@pytest.mark.parametrize("name", marked(POINTS))
def test_random_back_pressure(name, build_once, tmp_path):
    p, sim, _ = built(name, build_once)
    x, func = eb.random_inputs(p, 3000, seed=5)
    check(p, sim, eb.bench_config(p, x, func, in_stall=0.5, out_stall=0.5, seed=11), tmp_path)


@pytest.mark.parametrize("name", marked(["s8-M9-K8-binary-ram-2func", "s12-M17-K32-parallel-4lane-pow2"]))
def test_reset_midstream(name, build_once, tmp_path):
    p, sim, _ = built(name, build_once)
    x, func = eb.random_inputs(p, 400, seed=3)
    check(p, sim, eb.bench_config(p, x, func, in_stall=0.2, out_stall=0.3), tmp_path,
          "test_reset_midstream")


@pytest.mark.parametrize("name", [n for n in POINTS if POINTS[n][3] == "ram"])
def test_ram_reload(name, build_once, tmp_path):
    p, sim, _ = built(name, build_once)
    new = reload_table(name)
    x, func = eb.exhaustive_inputs(p)
    cfg = eb.bench_config(p, x, func, out_stall=0.3, reload=(p.n_funcs - 1, new))
    assert cfg["reload"]["expected"] != eb.bench_config(p, x, func * 0 + p.n_funcs - 1)["expected"]
    check(p, sim, cfg, tmp_path, "test_reload")


@pytest.mark.parametrize("name", marked(POINTS))
def test_lint_clean_with_only_the_listed_waivers(name, build_once):
    p, _, outdir = built(name, build_once)
    assert lint(outdir / f"{p.top_name}.v", p.top_name) == []
    assert lint(outdir / f"{p.top_name}.sv", p.top_name) == []


def test_three_tables_func_past_the_end_selects_the_last(build_once, tmp_path):
    """func 0..3 on a three-table engine: 3 (past the end) gives the last table's outputs."""
    name = "s8-M9-K8-parallel-3func-tozero"
    p, sim, _ = built(name, build_once)
    assert p.n_funcs == 3 and p.func_bits == 2
    codes = p.layout.in_fmt.codes()
    x = np.concatenate([codes] * 4).reshape(-1, 1)
    func = np.repeat(np.arange(4), len(codes))
    cfg = eb.bench_config(p, x, func)
    # expected straight from each table's model (no engine-level func handling)
    cfg["expected"] = [pack_output(p, [int(nli_eval(p.tables[min(f, 2)], np.array([v]))[0])])
                       for v, f in zip(x[:, 0], func)]
    third = cfg["expected"][2 * len(codes):3 * len(codes)]
    assert cfg["expected"][3 * len(codes):] == third
    assert len({tuple(cfg["expected"][k * len(codes):(k + 1) * len(codes)]) for k in range(3)}) == 3
    check(p, sim, cfg, tmp_path)


@pytest.mark.parametrize("rounding", ["nearest-even", "nearest-away", "toward-zero", "floor"])
def test_every_rounding_mode_sees_negative_ties_and_remainders(rounding):
    """Sign-dependent rounding only shows on negative exact sums: every mode needs a design point
    (signed output) whose exhaustive run has negative sums with a remainder of exactly one half
    and negative sums with another nonzero remainder (plain integer arithmetic on the stages)."""
    def covers(name):
        for t in params(name).tables:
            lay = t.layout
            st = nli_stages(t, lay.in_fmt.codes())
            inside = (st["index"] > 0) & (st["index"] < lay.M)
            acc = [int(a) for a, k in zip(st["acc"], inside) if k]
            half = 1 << (lay.t_bits - 1)
            rems = {a % (2 * half) for a in acc if a < 0}
            if lay.out_fmt.signed and half in rems and rems - {0, half}:
                return True
        return False
    assert any(covers(n) for n in POINTS if POINTS[n][0][0][6] == rounding)


# binary: a build of its own; the fast suite runs binary exhaustively on the s12 configurations
@pytest.mark.parametrize("arch", ["parallel", pytest.param("binary", marks=pytest.mark.slow)])
def test_16bit_every_code(arch, build_once, tmp_path):
    p, sim, _ = built(f"s16-silu-M11-K32-{arch}", build_once)
    x, func = eb.exhaustive_inputs(p)
    assert len(x) == 65536
    check(p, sim, eb.bench_config(p, x, func), tmp_path)


@pytest.mark.parametrize("breakage", [{"corrupt_beat": 17}, {"latency_offset": 1},
                                      {"latency_offset": -1}])
def test_the_bench_detects_errors(breakage, build_once, tmp_path):
    """A wrong expected value or a one-cycle latency error must fail the bench, naming the beat."""
    p, sim, _ = built("s8-M9-K8-binary-ram-2func", build_once)
    x, func = eb.exhaustive_inputs(p)
    r = eb.run_bench(sim, eb.bench_config(p, x, func, **breakage), tmp_path)
    assert (r.tests, r.failures) == (1, 1)
    msg = eb.first_failure(r.log)
    assert ("beat 17: input 0x" in msg and "expected 0x" in msg) if "corrupt_beat" in breakage \
        else "latency" in msg


@pytest.mark.slow
def test_100k_beats_heavy_back_pressure(build_once, tmp_path):
    p, sim, _ = built("u8-M33-K1-binary-4lane-floor", build_once)
    x, func = eb.random_inputs(p, 100_000, seed=9)
    check(p, sim, eb.bench_config(p, x, func, in_stall=0.6, out_stall=0.6, seed=2), tmp_path)
