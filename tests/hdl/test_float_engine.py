"""The engine with floating-point formats: emitted Verilog on Verilator against the golden model,
every one of the 2^width input bit patterns (NaNs, +-Inf, subnormals, both zeros), exact latency
from params, random back-pressure; the Amaranth simulator on small fp8 engines; refusals; the CLI.

Tables are random but valid (sim/nli/random_tables.py), with every tail mode (linear tails: fp16 and
fp8e5m2 in the fast suite, two functions sharing one adder; mixed fixed/float and ram in slow).
"""
from __future__ import annotations

import numpy as np
import pytest

from nlihw.errors import ParamsError
from nlihw.formats import FP, fp16
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.luts.golden import nli_stages
from nlihw.sim.common.lint import lint
from nlihw.sim.nli import bench as eb
from nlihw.sim.nli.random_tables import random_table
from tests.support.engine_points import check_bench

# name -> (in, out, M, K, tails per table, arch, lanes, seed)
CONFIGS = {
    "fp16-fp16-parallel": ("fp16", "fp16", 9, 8, [("identity", "linear:-3")], "parallel", 1, 35),
    "fp16-fp16-binary-2func": ("fp16", "fp16", 6, 4, [("zero", "identity"), ("clamp", "zero")],
                               "binary", 1, 31),
    "bf16-bf16-parallel": ("bf16", "bf16", 9, 4, [("clamp", "identity")], "parallel", 1, 21),
    "fp8e4m3-fp8e4m3-binary": ("fp8e4m3", "fp8e4m3", 7, 4, [("identity", "zero")], "binary", 1, 38),
    "fp8e5m2-fp8e5m2-parallel-2lane": ("fp8e5m2", "fp8e5m2", 5, 2, [("linear:1", "identity"),
                                                                   ("linear:1", "clamp")],
                                       "parallel", 2, 15),
    "fp8e4m3-fp8e5m2-parallel": ("fp8e4m3", "fp8e5m2", 6, 4, [("identity", "identity")],
                                 "parallel", 1, 37),
    "s4.12-fp16-parallel": ("s4.12", "fp16", 9, 8, [("linear:-2", "clamp")], "parallel", 1, 12),
    "fp16-s4.12-binary": ("fp16", "s4.12", 9, 8, [("identity", "linear:-1")], "binary", 1, 35),
    "fp16-fp16-binary-ram": ("fp16", "fp16", 6, 4, [("identity", "linear:2")], "binary", 1, 31,
                             "ram"),
}
# the fast suite runs fp16 -> fp16 and the two fp8 engines; the rest are long (a build each)
# bf16 is in the fast suite: every bf16 code is an acceptance point of issue [F]
SLOW = {"fp16-fp16-binary-2func", "fp8e4m3-fp8e5m2-parallel",
        "s4.12-fp16-parallel", "fp16-s4.12-binary", "fp16-fp16-binary-ram"}


def make_params(name) -> NLIEngineParams:
    fin, fout, M, K, tails, arch, lanes, seed, *storage = CONFIGS[name]
    rng = np.random.default_rng(seed)
    tables = tuple(random_table(rng, fin, fout, M, K, tails=t, function=f"random{k}")
                   for k, t in enumerate(tails))
    return NLIEngineParams(tables, arch=arch, lanes=lanes, storage=(storage or ["rom"])[0])


def reload_table(p: NLIEngineParams, seed: int = 99):
    """Another random table of the engine's layout and last function's tails."""
    lay, last = p.layout, p.tables[-1]
    return random_table(np.random.default_rng(seed), lay.in_fmt, lay.out_fmt, lay.M, lay.K,
                        tails=(str(last.tail_lo), str(last.tail_hi)), function="reloaded")


def built(name, build_once):
    """A float configuration generated and verilated once per session."""
    def make(outdir):
        p = make_params(name)
        return p, eb.build_engine(p, outdir), outdir
    return build_once(name, make)


def marked(names):
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in names]


@pytest.mark.parametrize("name", marked(CONFIGS))
def test_every_bit_pattern_exact_latency(name, build_once, tmp_path):
    p, sim, _ = built(name, build_once)
    x, func = eb.exhaustive_inputs(p)
    fin = p.layout.in_fmt
    assert x.size >= 1 << fin.width and len(np.unique(x)) == (1 << fin.width if fin.is_float
                                                               else len(fin.codes()))
    cfg = eb.bench_config(p, x, func)
    assert cfg["check_latency"] and cfg["latency"] == p.latency
    check_bench(sim, cfg, tmp_path)


@pytest.mark.parametrize("name", marked(["fp16-fp16-binary-2func", "fp8e5m2-fp8e5m2-parallel-2lane",
                                         "fp16-s4.12-binary", "s4.12-fp16-parallel"]))
def test_random_back_pressure(name, build_once, tmp_path):
    p, sim, _ = built(name, build_once)
    x, func = eb.exhaustive_inputs(p, seed=3)
    perm = np.random.default_rng(4).permutation(len(x))
    x, func = x[perm][:20000], func[perm][:20000]
    check_bench(sim, eb.bench_config(p, x, func, in_stall=0.4, out_stall=0.5, seed=9), tmp_path)


def test_reset_midstream_and_power_up(build_once, tmp_path):
    p, sim, _ = built("fp16-fp16-parallel", build_once)
    x, func = eb.random_inputs(p, 400, seed=5)
    check_bench(sim, eb.bench_config(p, x, func, in_stall=0.2, out_stall=0.3), tmp_path / "reset",
          "test_reset_midstream")
    check_bench(sim, eb.bench_config(p, x, func), tmp_path / "power", "test_power_up")


@pytest.mark.parametrize("breakage", [{"corrupt_beat": 0x3C00}, {"latency_offset": 1}])
def test_the_float_bench_detects_errors(breakage, build_once, tmp_path):
    """A wrong expected code (beat 0x3c00: the input 1.0) or a latency off by one fails the
    bench, and the message names the beat, its input, expected and actual codes in hex."""
    p, sim, _ = built("fp16-fp16-parallel", build_once)
    x, func = eb.exhaustive_inputs(p)
    x, func = x[:0x3C40], func[:0x3C40]
    cfg = eb.bench_config(p, x, func, **breakage)
    r = eb.run_bench(sim, cfg, tmp_path)
    assert (r.tests, r.failures) == (1, 1)
    msg = eb.first_failure(r.log)
    if "corrupt_beat" in breakage:
        good = cfg["expected"][0x3C00] ^ 1
        word = cfg["inputs"][0x3C00]                  # func bit above the 16-bit code
        assert word & 0xFFFF == 0x3C00
        assert msg == (f"beat {0x3C00}: input 0x{word:05x} expected "
                       f"0x{cfg['expected'][0x3C00]:04x} got 0x{good:04x} "
                       f"(x 0x3c00, func {word >> 16})"), msg
    else:
        assert "latency" in msg and f"expected {p.latency + 1}" in msg


@pytest.mark.slow
def test_ram_reload_every_code(build_once, tmp_path):
    """Run-time reload of a float engine: values (block mantissas), cutpoint codes, positions,
    scales, block exponents and clamps through the w stream; then every bit pattern follows the
    new table."""
    p, sim, _ = built("fp16-fp16-binary-ram", build_once)
    new = reload_table(p)
    x, func = eb.exhaustive_inputs(p)
    cfg = eb.bench_config(p, x, func, out_stall=0.2, reload=(p.n_funcs - 1, new))
    assert cfg["reload"]["expected"] != eb.bench_config(p, x, func * 0)["expected"]
    check_bench(sim, cfg, tmp_path, "test_reload")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_lint_clean(name, tmp_path):
    from nlihw.hdl.nli.generate import generate
    p = make_params(name)
    paths = generate(p, tmp_path)
    assert lint(paths["verilog"], p.top_name) == []
    assert lint(paths["systemverilog"], p.top_name) == []


# --- what the exhaustive runs cover (from the golden model's stages, plain integer tests) ----
@pytest.mark.parametrize("name", [n for n in CONFIGS if CONFIGS[n][1] != "s4.12"])
def test_stimulus_reaches_every_float_output_class(name):
    """Each float-output table's exhaustive run has, among its interpolated outputs: a saturated
    maximum, a subnormal, an exact +0 from acc = 0 and a -0 from a negative rounding to 0, and
    inputs in both tails and NaNs (float input)."""
    p = make_params(name)
    fout = p.layout.out_fmt
    x = eb.all_input_codes(p.layout.in_fmt)
    sb = 1 << (fout.width - 1)
    seen = set()
    for t in p.tables:
        st = nli_stages(t, x)
        inside = (st["index"] > 0) & (st["index"] < p.layout.M)
        if p.layout.in_float:
            nan = p.layout.in_fmt.is_nan(x)
            inside &= ~nan
            seen |= {"nan"} if nan.any() else set()
        y, acc = st["y"][inside], st["acc"][inside]
        mag = y & (sb - 1)
        seen |= {"max"} if np.any(mag == fout.max_finite_raw) else set()
        seen |= {"subnormal"} if np.any((mag > 0) & (mag < (1 << fout.man_bits))) else set()
        seen |= {"+0"} if np.any((acc == 0) & (y == 0)) else set()
        seen |= {"-0"} if np.any((acc < 0) & (y == sb)) else set()
        seen |= {"lo"} if np.any(st["index"] == 0) else set()
        seen |= {"hi"} if np.any(st["index"] == p.layout.M) else set()
    want = {"max", "subnormal", "+0", "-0", "lo", "hi"} | ({"nan"} if p.layout.in_float else set())
    assert want <= seen, f"missing: {want - seen}"


# --- Amaranth simulator: small engines, every code ------------------------------------------
@pytest.mark.parametrize("fin, fout, arch, step", [("fp8e4m3", "fp8e4m3", "parallel", "mul"),
                                                   ("fp8e5m2", "fp8e5m2", "binary", "pow2"),
                                                   ("fp8e4m3", "s3.5", "binary", "mul"),
                                                   ("s3.5", "fp8e5m2", "parallel", "mul"),
                                                   ("fp8e5m2", "fp8e4m3", "parallel", "mul")])
@pytest.mark.parametrize("seed", [0, 1])
def test_amaranth_every_code_with_back_pressure(fin, fout, arch, step, seed):
    from nlihw.sim.nli.engine_model import engine_eval
    from tests.support.engine_sim import run
    rng = np.random.default_rng(seed)
    tails = [("clamp", "identity"), ("identity", "zero")][seed]
    t = random_table(rng, fin, fout, 6, 4, tails=tails, micro_step=step)
    p = NLIEngineParams((t,), arch=arch)
    x = eb.all_input_codes(p.layout.in_fmt).reshape(-1, 1)
    func = np.zeros(len(x), dtype=np.int64)
    got, t_in, t_out = run(p, x, func, in_stall=0.2, out_stall=0.3, seed=seed)
    np.testing.assert_array_equal(got, engine_eval(p, x, func))
    got, t_in, t_out = run(p, x[:40], func[:40])
    assert np.all(t_out - t_in == p.latency)


def test_latency_adds_one_stage_per_float_side():
    rng = np.random.default_rng(0)
    for fin, fout, extra in (("fp8e4m3", "fp8e4m3", 2), ("s3.5", "fp8e4m3", 1),
                             ("fp8e4m3", "s3.5", 1), ("s3.5", "s3.5", 0)):
        t = random_table(rng, fin, fout, 5, 2, tails=("clamp", "clamp"))
        for arch, search in (("parallel", 1), ("binary", 3)):
            assert NLIEngineParams((t,), arch=arch).latency == search + 6 + extra


@pytest.mark.parametrize("fin, fout", [("fp8e4m3", "fp8e5m2"), ("s3.5", "fp8e4m3"),
                                       ("fp8e5m2", "u1.7")])
def test_amaranth_ram_reload(fin, fout):
    """Reload a float ram engine (2 functions, 2 lanes) in slot 1, then every code follows it."""
    from nlihw.sim.nli.engine_model import engine_eval
    from tests.support.engine_sim import run
    rng = np.random.default_rng(5)
    tails = ("identity", "clamp")
    t0, t1 = (random_table(rng, fin, fout, 5, 2, tails=tails) for _ in range(2))
    p = NLIEngineParams((t0, t1), arch="parallel", lanes=2, storage="ram")
    new = random_table(rng, fin, fout, 5, 2, tails=tails)
    codes = eb.all_input_codes(p.layout.in_fmt)
    x = np.stack([codes, codes[::-1]], axis=1)
    func = np.ones(len(x), dtype=np.int64)
    got, _, _ = run(p, x, func, out_stall=0.3, pre_writes=p.config_writes(1, new))
    want = engine_eval(NLIEngineParams((t0, new), arch="parallel", lanes=2, storage="ram"), x, func)
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(want, engine_eval(p, x, func)), "the reload must change results"


@pytest.mark.parametrize("kw, msg", [(dict(arch="uniform"), "arch 'uniform' with a float input needs "
                                                             "(an exponent-indexed|cutpoints)"),
                                     (dict(arch="direct"), "arch 'direct' supports fixed-point")])
def test_refusals_for_float_formats(kw, msg):
    t = random_table(np.random.default_rng(0), fp16, fp16, 3, 1)
    with pytest.raises(ParamsError, match=msg) as e:
        NLIEngineParams((t,), **kw)
    assert "\n" not in str(e.value)


# --- CLI -------------------------------------------------------------------------------------
def test_cli_gen_takes_float_tables(tmp_path):
    """A float table saved with NLITable.save goes through gen (manifest latency and format)."""
    from nlihw.cli import main
    t = make_params("fp8e4m3-fp8e4m3-binary").tables[0]
    path = t.save(tmp_path / "t.json")
    assert main(["gen", "--table", str(path), "--arch", "binary", "-o", str(tmp_path / "rtl")]) == 0
    import json
    man = json.loads((tmp_path / "rtl" / "nli_engine.manifest.json").read_text())
    assert man["latency"] == NLIEngineParams((t,), arch="binary").latency
    assert man["payload"]["o"]["y"]["format"] == "fp8e4m3"


def test_cli_sim_takes_float_tables(tmp_path):
    """... and through sim: the fp8 binary engine of the benches (the same Verilog, so the
    cached Verilator build is reused; the test once ran the parallel engine, a build of its own)."""
    from nlihw.cli import main
    path = make_params("fp8e4m3-fp8e4m3-binary").tables[0].save(tmp_path / "t.json")
    assert main(["sim", "--table", str(path), "--arch", "binary", "--stall", "0.3"]) == 0


def test_cli_refuses_a_baseline_arch_for_float_tables(tmp_path, capsys):
    from nlihw.cli import main
    t = random_table(np.random.default_rng(3), "fp16", "fp16", 5, 4, tails=("zero", "identity"))
    path = t.save(tmp_path / "t.json")
    assert main(["gen", "--table", str(path), "--arch", "direct", "-o", str(tmp_path / "rtl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: arch 'direct' supports fixed-point formats only, got fp16 -> fp16; "
                   "use arch 'parallel' or 'binary' (or 'uniform' with an exponent-indexed PWL "
                   "table and a float input)"]
    assert main(["gen", "--table", str(path), "--arch", "uniform", "-o", str(tmp_path / "rtl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: arch 'uniform' with a float input needs an exponent-indexed PWL table "
                   "(K=1, aligned cutpoints); random has K=4"]
    assert not (tmp_path / "rtl").exists()
