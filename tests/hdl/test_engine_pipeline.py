"""The engine's pipeline parameter (``NLIEngineParams.pipeline``, issue 12): latency = base + depth,
digests and serialization, refusals, the CLI option, and the emitted Verilog of every register
point on Verilator against the golden model (exact latency, initiation interval 1, random
back-pressure).

Fast suite: the parameter checks, every depth of the prefer order on an 8-bit engine in the
Amaranth simulator, and the 16-bit silu engine with every point (``all``) on Verilator: every
code with exact latency, random beats under random back-pressure (every code in the slow suite),
reset mid-stream, lint, and a latency off by one detected. Slow: each point alone, ``all`` on the binary search, an fp16 engine (with identity
tails: the tail unit's x delay), two lanes and ram storage (with a reload).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from nlihw import cli
from nlihw.errors import ParamsError
from nlihw.hdl.nli.params import ENGINE_PIPELINE, NLIEngineParams
from nlihw.luts.default_tables import shipped_table
from nlihw.sim.common.lint import lint
from nlihw.sim.nli import bench as eb
from nlihw.sim.nli.random_tables import random_table
from tests.support.engine_points import check_bench

POINTS = ("search_compare", "search_base", "mul_in", "table_addr", "table_out", "interp_in",
          "round_split")


def silu(**kw) -> NLIEngineParams:
    return NLIEngineParams((shipped_table("silu_M11_K32"),), **kw)


def fp16(**kw) -> NLIEngineParams:
    """A random valid fp16 -> fp16 table, identity low tail (a gain tail: the tail unit runs)."""
    t = random_table(np.random.default_rng(35), "fp16", "fp16", 9, 8, tails=("identity", "clamp"))
    return NLIEngineParams((t,), **kw)


# --- (a) the parameter --------------------------------------------------------------------------
def test_the_declared_points():
    """The datapath's points, and prefer: every point once, the comparator split first."""
    assert ENGINE_PIPELINE.points == POINTS
    assert sorted(ENGINE_PIPELINE.prefer) == sorted(POINTS)
    assert ENGINE_PIPELINE.prefer[:2] == ("search_compare", "mul_in")


@pytest.mark.parametrize("make,base", [
    (lambda **kw: silu(**kw), 7),                       # search 1 + 6
    (lambda **kw: silu(arch="binary", **kw), 10),       # ceil(log2(11 + 1)) = 4 search stages + 6
    (lambda **kw: fp16(**kw), 9),                       # float input stage + 7 + float normalize
])
def test_latency_is_base_plus_depth(make, base):
    for n in range(len(POINTS) + 1):
        p = make(pipeline=n)
        assert p.pipeline.depth == n and p.latency == base + n
        assert list(p.pipeline.enabled) == [x for x in POINTS if x in ENGINE_PIPELINE.prefer[:n]]
    for name in POINTS:
        assert make(pipeline=name).latency == base + 1
    assert make(pipeline="all").latency == base + len(POINTS)
    assert make().latency == make(pipeline="none").latency == base


def test_digest_unchanged_without_points():
    """No point enabled: the dict and digest are those of an engine from before the parameter
    (sha256 of the sorted compact JSON of exactly these five fields)."""
    t = shipped_table("silu_M11_K32")
    old = {"tables": [t.content()], "arch": "parallel", "lanes": 1, "storage": "rom",
           "top_name": "nli_engine"}
    want = hashlib.sha256(json.dumps(old, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    for spec in (None, "none", "", 0, [], ()):
        p = silu(pipeline=spec)
        assert p.to_dict() == old and p.digest() == want
    assert silu(pipeline="mul_in").digest() != want
    assert silu(pipeline="mul_in").digest() != silu(pipeline="interp_in").digest()


@pytest.mark.parametrize("spec", ["all", 3, "round_split,search_compare", ["table_out"]])
def test_round_trip(spec):
    p = silu(pipeline=spec, lanes=2)
    d = json.loads(json.dumps(p.to_dict()))
    assert d["pipeline"] == list(p.pipeline.enabled)
    q = NLIEngineParams.from_dict(d)
    assert q == p and q.digest() == p.digest() and q.latency == p.latency
    assert NLIEngineParams.from_dict(silu().to_dict()).pipeline.depth == 0


@pytest.mark.parametrize("kw,needle", [
    ({"pipeline": "bogus"}, "unknown pipeline point 'bogus'"),
    ({"pipeline": "mul_in,mul_in"}, "named twice"),
    ({"pipeline": 8}, "depth must be 0..7"),
    ({"pipeline": -1}, "depth must be 0..7"),
    ({"pipeline": "all,x"}, "unknown pipeline point 'all'"),
    ({"pipeline": 2.5}, "expected none, all"),
])
def test_bad_specs(kw, needle):
    with pytest.raises(ParamsError, match=needle):
        silu(**kw)


@pytest.mark.parametrize("kind", ["uniform", "direct"])
def test_baselines_refuse_register_points(kind):
    from tests.support.engine_points import baseline_params
    base = baseline_params(kind)
    with pytest.raises(ParamsError, match="parallel' and 'binary' only"):
        NLIEngineParams(base.tables, arch=kind, pipeline="mul_in")
    assert NLIEngineParams(base.tables, arch=kind, pipeline="none").latency == base.latency


def test_cli_pipeline_option(tmp_path, capsys):
    path = Path(__file__).resolve().parents[2] / "luts" / "tables" / "silu_M11_K32.json"
    assert cli.main(["gen", "--table", str(path), "--pipeline", "search_compare,round_split",
                     "-o", str(tmp_path / "g")]) == 0
    assert "latency 9 cycles" in capsys.readouterr().out
    man = json.loads((tmp_path / "g" / "nli_engine.manifest.json").read_text())
    assert man["latency"] == 9 and man["params"]["pipeline"] == ["search_compare", "round_split"]
    for cmd in ("gen", "sim"):
        argv = [cmd, "--table", str(path), "--pipeline", "mul_out"]
        assert cli.main(argv + (["-o", str(tmp_path / "bad")] if cmd == "gen" else [])) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "mul_out" in lines[0]
    assert not (tmp_path / "bad").exists()
    assert cli.main(["gen", "--help"]) == 0
    assert "--pipeline SPEC" in capsys.readouterr().out


def test_all_points_fp8_binary_amaranth():
    """fp8 -> fp8 on the binary search with every point (the float search split and the split
    float rounding) in the Amaranth simulator: every bit pattern under back-pressure, then
    exact latency."""
    from nlihw.sim.nli.engine_model import engine_eval
    from tests.support.engine_sim import run
    t = random_table(np.random.default_rng(38), "fp8e4m3", "fp8e4m3", 7, 4, tails=("identity", "zero"))
    p = NLIEngineParams((t,), arch="binary", pipeline="all")
    assert p.latency == 1 + 3 + 6 + 1 + 7           # float in, 3 search stages, base, float out

    def same(got, x, func):
        want = engine_eval(p, x, func)
        assert got.shape == want.shape
        bad = np.flatnonzero((got != want).any(axis=1))
        assert bad.size == 0, (f"beat {bad[0]}: x 0x{int(x[bad[0], 0]):02x} func {func[bad[0]]} "
                               f"expected 0x{int(want[bad[0], 0]):02x} got 0x{int(got[bad[0], 0]):02x}")

    x, func = eb.exhaustive_inputs(p)
    got, _, _ = run(p, x, func, in_stall=0.3, out_stall=0.4, seed=1)
    same(got, x, func)
    got, t_in, t_out = run(p, x[:64], func[:64])
    same(got, x[:64], func[:64])
    assert set((t_out - t_in).tolist()) == {p.latency} and np.all(np.diff(t_in) == 1)


# --- (b) the emitted Verilog on Verilator ----------------------------------------------------------
def built(key, make, build_once):
    """One engine (``make()``'s params) generated and verilated once per session."""
    def build(outdir):
        p = make()
        return p, eb.build_engine(p, outdir), outdir
    return build_once(key, build)


def run_both(p, sim, tmp_path, x, func, seed=11):
    """No stalls (exact latency from params, II 1), then random idles and back-pressure."""
    cfg = eb.bench_config(p, x, func)
    assert cfg["check_latency"] and cfg["latency"] == p.latency
    check_bench(sim, cfg, tmp_path / "exact")
    check_bench(sim, eb.bench_config(p, x, func, in_stall=0.4, out_stall=0.5, seed=seed),
          tmp_path / "stalled")


def silu_all(build_once):
    return built("silu-parallel-all", lambda: silu(pipeline="all"), build_once)


def test_all_points_every_code(build_once, tmp_path):
    """Every code, no stalls: exact latency 14 on every beat, II 1."""
    p, sim, _ = silu_all(build_once)
    assert p.latency == 14
    x, func = eb.exhaustive_inputs(p)
    assert len(x) == 65536
    cfg = eb.bench_config(p, x, func)
    assert cfg["check_latency"] and cfg["latency"] == 14
    check_bench(sim, cfg, tmp_path)


@pytest.mark.parametrize("beats", [pytest.param(None, marks=pytest.mark.slow, id="every-code"),
                                   pytest.param(6000, id="6000")])
def test_all_points_back_pressure(beats, build_once, tmp_path):
    """Random idles and back-pressure: random beats (fast suite), every code (slow)."""
    p, sim, _ = silu_all(build_once)
    x, func = eb.exhaustive_inputs(p) if beats is None else eb.random_inputs(p, beats, seed=2)
    check_bench(sim, eb.bench_config(p, x, func, in_stall=0.4, out_stall=0.5, seed=11), tmp_path)


def test_all_points_reset_midstream_and_lint(build_once, tmp_path):
    p, sim, outdir = silu_all(build_once)
    x, func = eb.random_inputs(p, 400, seed=3)
    check_bench(sim, eb.bench_config(p, x, func, in_stall=0.2, out_stall=0.3), tmp_path,
          "test_reset_midstream")
    assert lint(outdir / f"{p.top_name}.v", p.top_name) == []
    assert lint(outdir / f"{p.top_name}.sv", p.top_name) == []


@pytest.mark.parametrize("offset", [1, pytest.param(-1, marks=pytest.mark.slow)])
def test_a_latency_off_by_one_fails(offset, build_once, tmp_path):
    """The bench's expectation one cycle off the pipelined engine's latency must fail it."""
    p, sim, _ = silu_all(build_once)
    x, func = eb.random_inputs(p, 200, seed=4)
    r = eb.run_bench(sim, eb.bench_config(p, x, func, latency_offset=offset), tmp_path)
    assert (r.tests, r.failures) == (1, 1) and "latency" in eb.first_failure(r.log)


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_each_point_alone(point, build_once, tmp_path):
    p, sim, _ = built(f"silu-parallel-{point}", lambda: silu(pipeline=point), build_once)
    assert p.pipeline.enabled == (point,) and p.latency == 8
    x, func = eb.random_inputs(p, 4000, seed=POINTS.index(point))
    run_both(p, sim, tmp_path, x, func)


@pytest.mark.slow
def test_all_points_binary(build_once, tmp_path):
    p, sim, _ = built("silu-binary-all", lambda: silu(arch="binary", pipeline="all"),
                      build_once)
    assert p.latency == 17
    x, func = eb.exhaustive_inputs(p)
    check_bench(sim, eb.bench_config(p, x, func), tmp_path / "exact")
    x, func = eb.random_inputs(p, 4000, seed=6)
    check_bench(sim, eb.bench_config(p, x, func, in_stall=0.4, out_stall=0.5, seed=6), tmp_path / "stalled")


@pytest.mark.slow
def test_all_points_fp16(build_once, tmp_path):
    p, sim, _ = built("fp16-parallel-all", lambda: fp16(pipeline="all"), build_once)
    assert p.latency == 16
    x, func = eb.random_inputs(p, 4000, seed=7)
    run_both(p, sim, tmp_path, x, func)


@pytest.mark.slow
def test_all_points_two_lanes(build_once, tmp_path):
    p, sim, _ = built("silu-parallel-2lane-all", lambda: silu(lanes=2, pipeline="all"),
                      build_once)
    x, func = eb.random_inputs(p, 3000, seed=8)
    run_both(p, sim, tmp_path, x, func)


@pytest.mark.slow
def test_all_points_ram_reload(build_once, tmp_path):
    p, sim, _ = built("silu-parallel-ram-all", lambda: silu(storage="ram", pipeline="all"),
                      build_once)
    x, func = eb.random_inputs(p, 2000, seed=9)
    run_both(p, sim, tmp_path, x, func)
    new = shipped_table("gelu_M11_K32")
    cfg = eb.bench_config(p, x, func, out_stall=0.3, reload=(0, new))
    assert cfg["reload"]["expected"] != cfg["expected"]
    check_bench(sim, cfg, tmp_path / "reload", "test_reload")


@pytest.mark.parametrize("depth", range(1, len(POINTS) + 1))
def test_every_depth_amaranth(depth):
    """Every depth of the prefer order (the fast suite's Verilator runs cover none and all; each
    point alone is in the slow suite): an 8-bit engine in the Amaranth simulator, every input
    code under random idles and back-pressure against the golden model, then exact latency
    base + depth on a stall-free burst."""
    from nlihw.sim.nli.engine_model import engine_eval
    from tests.support.engine_sim import run
    t = random_table(np.random.default_rng(40 + depth), "s2.6", "s2.6", 6, 4, tails=("clamp", "identity"))
    p = NLIEngineParams((t,), pipeline=depth)
    assert p.latency == 7 + depth
    x, func = eb.exhaustive_inputs(p)
    got, _, _ = run(p, x, func, in_stall=0.3, out_stall=0.4, seed=depth)
    want = engine_eval(p, x, func)
    bad = np.flatnonzero((got != want).any(axis=1))
    assert bad.size == 0, (f"depth {depth} beat {bad[0]}: x 0x{int(x[bad[0], 0]):02x} expected "
                           f"0x{int(want[bad[0], 0]):02x} got 0x{int(got[bad[0], 0]):02x}")
    got, t_in, t_out = run(p, x[:40], func[:40])
    assert set((t_out - t_in).tolist()) == {p.latency} and np.all(np.diff(t_in) == 1)
