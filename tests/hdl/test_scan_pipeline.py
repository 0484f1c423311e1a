"""The scan unit's pipeline: register points change the latency by one cycle each and never a
value (the Verilator bench against the golden model), the state loop waits for its own update
when d_inner * N/P is shorter than the loop, params and CLI carry the pipeline."""
import json

import pytest

from nlihw.cli import main
from nlihw.errors import ParamsError
from nlihw.hdl.scan.generate import manifest
from nlihw.hdl.scan.params import PIPELINE, ScanParams, preset
from nlihw.hdl.scan.timing import needs_forwarding
from nlihw.hdl.scan.unit import hazard_free, latency, loop_depth
from nlihw.sim.common.runner import first_failure
from nlihw.sim.scan import bench as sb

STATE_POINTS = {"state_read", "state_in", "state_mult", "state_add"}
POINTS = {
    # d_inner * N/P = 1 < 5 loop stages: every item reads the word the one before it updates
    # ... with every register point of the three NLI engines too
    "hazard-all": ("int8", dict(d_inner=1, d_state=4, lanes=4, pipeline="all", engine_pipeline="all")),
    # d_inner * N/P = 5 = the loop's 5 stages: the tightest schedule that never waits
    "tight-all": ("int8", dict(d_inner=5, d_state=4, lanes=4, pipeline="all")),
    # the state section never stalls; a channel in two steps (only its last one takes a credit)
    "credit-steps": ("int8", dict(d_inner=3, d_state=4, lanes=2, pipeline="all",
                                  engine_pipeline="all", backpressure="credit")),
    # P = N with 5 items a token against a 47-cycle pipeline: B and C of 9 tokens in their queues
    "queued-tokens": ("int8", dict(d_inner=5, d_state=4, lanes=4, pipeline="all")),
}
SLOW_POINTS = {
    **{f"depth{n}": ("int8", dict(d_inner=3, d_state=4, lanes=2, pipeline=n)) for n in range(1, 9)},
    "mamba2-nogate-all": ("int16", dict(d_inner=4, d_state=4, lanes=2, mode="mamba2", headdim=2,
                                        gate=False, pipeline="all")),
    "hazard-state-mult": ("int8", dict(d_inner=1, d_state=4, lanes=2, pipeline="state_mult,out_mult")),
    "credit-hazard": ("int8", dict(d_inner=1, d_state=4, lanes=4, pipeline="all", backpressure="credit")),
    "credit-none": ("int16", dict(d_inner=4, d_state=4, lanes=4, backpressure="credit")),
}
def built(name, build_once):
    """A pipelined scan unit generated and verilated once per session: (params, simulator)."""
    def make(outdir):
        pre, kw = {**POINTS, **SLOW_POINTS}[name]
        p = preset(pre, **kw)
        return p, sb.build_scan(p, outdir)
    return build_once(name, make)


def check(sim, cfg, tmp_path, test="test_stream"):
    r = sb.run_bench(sim, cfg, tmp_path, test, timeout=300)
    assert r.tests == 1, f"the cocotb test did not run (see {r.log})"
    assert r.failures == 0, f"bench failed: {first_failure(r.log)} (log {r.log})"
    return r


def stimulus(p, tokens, seed):
    return sb.draw(p, tokens, seed=seed, starts=(0, tokens // 2 + 1))


def bench_all(name, build_once, tmp_path):
    p, sim = built(name, build_once)
    check(sim, sb.bench_config(stimulus(p, 24, 4)), tmp_path / "exact")             # latency, values
    check(sim, sb.bench_config(stimulus(p, 24, 7), stall=0.5, seed=3), tmp_path / "stall")
    # inputs at full rate into a mostly stalled output: a credit queue must fill, never overflow
    check(sim, sb.bench_config(stimulus(p, 24, 6), sink_stall=0.8, seed=7), tmp_path / "backpressure")
    check(sim, sb.chunked_config(stimulus(p, 10, 9), 4, stall=0.3), tmp_path / "chunk", "test_chunked")
    sat = sb.draw(p, 24, seed=11, saturating=True)      # the state and output past both ends
    events = sat.result.stages["events"]
    assert (events["h"] & ~events["dBu"]).sum() > 0 and events["out"].sum() > 0
    check(sim, sb.bench_config(sat, stall=0.3, seed=5), tmp_path / "saturate")
    return p, sim


# tight-all (a build of its own) runs in `make test-all`; hazard-all keeps every point in the fast suite
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "tight-all" else n
                                  for n in POINTS])
def test_bench_passes(name, build_once, tmp_path):
    p, sim = bench_all(name, build_once, tmp_path)
    assert hazard_free(p) == (name != "hazard-all")
    assert ("credit" in name) == (p.backpressure == "credit")
    check(sim, sb.bench_config(stimulus(p, 8, 5), stall=0.3), tmp_path / "reset", "test_reset_midrun")


def test_a_wrong_latency_fails(build_once, tmp_path):
    """The first beat's latency is still checked exactly where later beats may wait."""
    p, sim = built("hazard-all", build_once)
    r = sb.run_bench(sim, sb.bench_config(stimulus(p, 6, 4), latency_offset=-1), tmp_path, timeout=300)
    assert r.tests == 1 and r.failures == 1
    assert first_failure(r.log).startswith("beat 0: input accepted in cycle")


def test_waiting_costs_rate_not_values(build_once, tmp_path):
    """With one state word and a 5-stage loop, a (token, channel) leaves every 5 clocks."""
    p, sim = built("hazard-all", build_once)
    r = check(sim, sb.bench_config(stimulus(p, 40, 2)), tmp_path)
    assert "(0.20" in r.log.read_text()                           # 40 outputs in ~200 cycles


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW_POINTS))
def test_bench_passes_at_every_depth(name, build_once, tmp_path):
    bench_all(name, build_once, tmp_path)


# --- without simulation -------------------------------------------------------------------------
def test_each_point_adds_one_cycle():
    base = preset("int8", d_inner=8, d_state=4, lanes=2)
    assert latency(base) == 30                  # the unpipelined unit (as before pipelines existed)
    for n in range(len(PIPELINE.points) + 1):
        p = base.replace(pipeline=n)
        assert latency(p) == 30 + n and p.pipeline.depth == n
        assert loop_depth(p) == 1 + len(STATE_POINTS & set(p.pipeline.enabled))
    for name in PIPELINE.points:
        assert latency(base.replace(pipeline=name)) == 31, name
    assert latency(base.replace(pipeline="all", gate=False)) == latency(base.replace(gate=False)) + 17


@pytest.mark.parametrize("d_inner,d_state,lanes,spec,free", [
    (1, 4, 4, "none", True), (1, 4, 4, "state_in", False), (2, 4, 4, "state_in", True),
    (1, 4, 1, "all", False), (1, 4, 2, "all", False), (4, 4, 4, "all", False), (5, 4, 4, "all", True),
    (1, 4, 1, "state_in,state_mult,state_add", True),
    (1, 4, 4, "dta_in,dta_mult,dot_mult,du_in,du_mult,out_mult", True),
])
def test_hazard_free_when_the_loop_fits(d_inner, d_state, lanes, spec, free):
    """Same word read again after d_inner * N/P items; the loop holds 1 + (state points) of them."""
    p = preset("int8", d_inner=d_inner, d_state=d_state, lanes=lanes, pipeline=spec)
    assert hazard_free(p) is free


@pytest.mark.parametrize("d_inner,d_state,lanes,spec,forward", [
    (1, 4, 4, "none", True), (2, 4, 4, "none", False), (1, 4, 1, "all", True),
    (2, 4, 1, "all", False), (1, 4, 4, "state_in", True), (64, 16, 16, "all", False),
])
def test_state_ports_forward_only_where_a_read_can_meet_its_write(d_inner, d_state, lanes, spec, forward):
    """d_inner * N/P items between two reads of a word against the loop's 1 + (state points)
    stages: only when the items do not outnumber the stages can a read meet the word's write."""
    p = preset("int8", d_inner=d_inner, d_state=d_state, lanes=lanes, pipeline=spec)
    assert needs_forwarding(p) is forward


@pytest.mark.parametrize("d_inner,lanes,spec", [(2, 4, "none"), (1, 4, "none"), (1, 1, "all"), (8, 2, "all")])
def test_state_memories_leave_collisions_undefined_only_where_none_happens(d_inner, lanes, spec):
    """Without forwarding no read meets its word's write, so the state memories carry yosys'
    no_rw_check (no collision logic behind the block RAM); with forwarding they must not."""
    from amaranth.back import verilog
    from nlihw.hdl.scan.config_port import ConfigPort
    p = preset("int8", d_inner=d_inner, d_state=4, lanes=lanes, pipeline=spec)
    text = verilog.convert(ConfigPort(p), name="c", emit_src=False)
    assert text.count("no_rw_check") == (0 if needs_forwarding(p) else lanes)


def test_engine_points_add_their_cycles():
    """The engines' register points: each engine on the path (softplus, exp, SiLU when gated) gets
    them; the state loop does not change."""
    from nlihw.hdl.nli.params import ENGINE_PIPELINE
    n = len(ENGINE_PIPELINE.points)
    for gate, engines in ((True, 3), (False, 2)):
        base = preset("int8", d_inner=8, d_state=4, lanes=2, gate=gate)
        p = base.replace(engine_pipeline="all")
        assert latency(p) == latency(base) + engines * n and loop_depth(p) == loop_depth(base)
        assert latency(base.replace(engine_pipeline="mul_in")) == latency(base) + engines
    p = preset("int8", d_inner=2, d_state=4, lanes=2, engine_pipeline="search_base,mul_in")
    assert p.to_dict()["engine_pipeline"] == ["search_base", "mul_in"]
    assert ScanParams.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    assert "engine_pipeline" not in preset("int8", d_inner=2, d_state=4, lanes=2).to_dict()
    with pytest.raises(ParamsError, match="unknown pipeline point 'dta_in'"):
        p.replace(engine_pipeline="dta_in")


def test_params_carry_the_pipeline():
    none = preset("int8", d_inner=2, d_state=4, lanes=2)
    assert "pipeline" not in none.to_dict()                  # earlier digests stay valid
    p = none.replace(pipeline="state_mult,dta_in")
    assert p.to_dict()["pipeline"] == ["dta_in", "state_mult"] and p.digest() != none.digest()
    q = ScanParams.from_dict(json.loads(json.dumps(p.to_dict())))
    assert q == p and hash(q) == hash(p) and q.pipeline == p.pipeline
    assert ScanParams.from_dict(none.to_dict()) == none
    m = manifest(p)
    assert m["latency"] == sum(m["pipeline"].values()) == 32 and m["params"]["pipeline"] == ["dta_in", "state_mult"]
    with pytest.raises(ParamsError, match="unknown pipeline point 'x'"):
        none.replace(pipeline="x")


def test_cli_pipeline(tmp_path, capsys):
    args = ["scan", "gen", "--preset", "int8", "--d-inner", "1", "--d-state", "4", "--lanes", "4"]
    assert main([*args, "--pipeline", "3", "-o", str(tmp_path / "a")]) == 0
    out, err = capsys.readouterr()
    assert "latency 33 cycles, pipeline dta_in,dta_mult,state_in" in out
    assert "waits for its own state updates" in err
    assert main([*args, "--pipeline", "18", "-o", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: pipeline depth must be 0..17, got 18") and len(err.strip().splitlines()) == 1
    assert main([*args, "--engine-pipeline", "all", "-o", str(tmp_path / "c")]) == 0
    out, _ = capsys.readouterr()
    assert "latency 51 cycles, pipeline none, engine pipeline search_compare," in out       # 30 + 3 x 7


def test_credit_backpressure_costs_three_cycles_and_keeps_digests():
    """The credit queue adds its 3 cycles (write register, FIFO); a stall unit's params (and digest) do not mention it;
    the queue holds one word per channel in flight, one for the credit on its way back and one more."""
    from nlihw.hdl.common.credit_queue import CREDIT_RETURN, LATENCY
    from nlihw.hdl.scan.timing import credit_depth, pipeline_depths
    for spec in ("none", "all"):
        stall = preset("int16", d_inner=8, d_state=4, lanes=4, pipeline=spec, engine_pipeline=spec)
        credit = stall.replace(backpressure="credit")
        assert latency(credit) == latency(stall) + LATENCY == latency(stall) + 3
        assert "backpressure" not in stall.to_dict() and credit.to_dict()["backpressure"] == "credit"
        assert ScanParams.from_dict(credit.to_dict()) == credit and credit.digest() != stall.digest()
        # the queue sits at the unit's output: every channel between the front's issue and the
        # queue's output (the whole latency), the read whose credit is returning, and one more
        assert credit_depth(credit) == sum(pipeline_depths(credit).values()) + 1 + CREDIT_RETURN == latency(credit) + 2
        assert pipeline_depths(credit)["credit"] == LATENCY and "credit" not in pipeline_depths(stall)
    with pytest.raises(ParamsError, match="backpressure must be one of stall, credit, got 'none'"):
        preset("int8", backpressure="none")


def test_credit_unit_is_lint_clean(tmp_path):
    from nlihw.hdl.scan.generate import generate
    from nlihw.sim.common.lint import lint
    p = preset("int8", d_inner=3, d_state=4, lanes=2, pipeline="all", backpressure="credit",
               top_name="credit_unit")
    generate(p, tmp_path)
    assert lint(tmp_path / "credit_unit.v", "credit_unit") == []
    assert lint(tmp_path / "credit_unit.sv", "credit_unit") == []
