"""The delay model behind --target-mhz: the engine's stages follow its registers (one stage per
cycle of latency, for every pipeline), the choice is the least latency meeting the clock (brute
force over every subset of points), and the calibration recovers a known model from its own
critical delays."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from nlihw.errors import ParamsError
from nlihw.hdl.nli.params import ENGINE_PIPELINE, NLIEngineParams
from nlihw.hdl.nli.stage_delays import choose_pipeline, elements, predict, stages
from nlihw.luts.default_tables import shipped_table
from nlihw.sim.nli.random_tables import random_table
from nlihw.synth.delay_model import PRIMITIVES, TargetDelays, calibrate, load, load_all


def engines():
    silu = shipped_table("silu_M11_K32")
    f16 = random_table(np.random.default_rng(1), "fp16", "fp16", 9, 8, tails=("zero", "identity"))
    mixed = random_table(np.random.default_rng(2), "fp16", "s4.12", 6, 4, tails=("zero", "clamp"))
    pow2 = shipped_table("silu_M17_K1")
    return [NLIEngineParams(silu), NLIEngineParams(silu, arch="binary"), NLIEngineParams(f16),
            NLIEngineParams(mixed, arch="binary"), NLIEngineParams(pow2, lanes=2)]


@pytest.mark.parametrize("k", range(5))
def test_one_stage_per_cycle_of_latency(k):
    """For every subset of register points the model has exactly params.latency stages: its
    registers are the RTL's (the latency comes from the RTL's own count)."""
    p = engines()[k]
    names = [e.name for e in elements(p)]
    assert len(set(names)) == len(names)
    for n in range(len(ENGINE_PIPELINE.points) + 1):
        for pts in itertools.combinations(ENGINE_PIPELINE.points, n):
            q = NLIEngineParams(p.tables, arch=p.arch, lanes=p.lanes, pipeline=list(pts))
            assert len(stages(q)) == q.latency, (pts, [s.elements for s in stages(q)])


MODEL = TargetDelays("test", None, reg=1.0, lut=0.8, carry=0.07, chain=0.9, mult=5.0, mem=6.0, mem_in=0.9,
                     mult_r=1.0, mem_r=1.5)


@pytest.mark.parametrize("mhz", [40, 80, 95, 110, 130, 150, 170, 400])
def test_choice_is_the_least_latency_meeting_the_clock(mhz):
    p = NLIEngineParams(shipped_table("silu_M11_K32"))
    pipe, f, met = choose_pipeline(p, MODEL, mhz)
    # brute force: every subset, its predicted Fmax from the stage sums
    best = None
    for n in range(len(ENGINE_PIPELINE.points) + 1):
        for pts in itertools.combinations(ENGINE_PIPELINE.points, n):
            worst = max(MODEL.reg + sum(getattr(MODEL, k) * v for k, v in s.cost.items())
                        for s in stages(p, list(pts)))
            if 1000 / worst >= mhz and best is None:
                best = n
    if best is None:
        assert not met and pipe.depth == len(ENGINE_PIPELINE.points)
    else:
        assert met and pipe.depth == best and f >= mhz
        assert predict(p, MODEL, pipe)[0] == pytest.approx(f)


def test_bad_clock_and_targets_are_one_line_errors():
    p = NLIEngineParams(shipped_table("silu_M11_K32"))
    for bad in (0, -5, float("nan"), True, "fast"):
        with pytest.raises(ParamsError, match="target clock"):
            choose_pipeline(p, MODEL, bad)
    with pytest.raises(ParamsError, match="place-and-route target"):
        load("generic")
    with pytest.raises(ParamsError, match="unknown target"):
        load("virtex2")


def test_calibration_recovers_a_known_model():
    """Critical delays made by a known model (other priors, 30% off) over every depth of two
    engines: the fit predicts each run within 2%."""
    true = TargetDelays("t", None, reg=0.9, lut=0.65, carry=0.05, chain=1.2, mult=4.2, mem=5.5,
                        mult_r=1.1, mem_r=1.6, mem_in=0.7)
    prior = {"reg": 1.2, "lut": 0.85, "carry": 0.07, "chain": 0.8, "mult": 5.5, "mem": 4.0,
             "mult_r": 0.8, "mem_r": 2.1, "mem_in": 1.1}
    runs = []
    for t in ("silu_M11_K32", "gelu_M11_K8"):
        for d in range(len(ENGINE_PIPELINE.points) + 1):
            for arch in ("parallel", "binary"):
                p = NLIEngineParams(shipped_table(t), arch=arch, pipeline=d)
                costs = [s.cost for s in stages(p)]
                runs.append((costs, 1000 / true.predict(costs)[0]))
    fit, _ = calibrate(runs, prior, weight=1e-4)
    model = TargetDelays("fit", None, **fit)
    err = [abs(model.predict(c)[0] * ns / 1000 - 1) for c, ns in runs]
    assert max(err) < 0.02, err


def test_stored_models_are_complete():
    from nlihw.synth.calibrate_delays import calibration_params
    models = load_all()
    assert {"ecp5-6", "ecp5-8", "ice40"} <= set(models)
    for m in models.values():
        assert all(getattr(m, k) > 0 for k in PRIMITIVES)
        runs = m.calibration["runs"]
        assert [r["pipeline"] for r in runs] == [str(p.pipeline) for p in calibration_params()]
        assert all(r["measured_mhz"] > 0 for r in runs)
    assert load("ecp5").speed == 6 and load("ecp5", 8).speed == 8


@pytest.mark.parametrize("point,element,plain,registered", [
    ("mul_in", "dx_mul", "mult", "mult_r"), ("interp_in", "interp_mul", "mult", "mult_r"),
    ("table_out", "table_read", "mem", "mem_r")])
def test_a_block_with_its_register_is_costed_as_registered(point, element, plain, registered):
    """The register the flow moves into the hard block (its input register for a multiplier, its
    output register for a block RAM) turns the block's cost into the registered primitive."""
    def stage_of(pipeline):
        (st,) = [s for s in stages(NLIEngineParams(shipped_table("silu_M11_K32"), pipeline=pipeline))
                 if element in s.elements]
        return st.cost
    assert stage_of("none").get(plain) == 1 and registered not in stage_of("none")
    assert stage_of(point).get(registered) == 1 and plain not in stage_of(point)
