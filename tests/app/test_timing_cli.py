"""--target-mhz / --latency on the command line: the chosen register points reach the goal in the
target's delay model with no fewer points doing so (brute force over every subset), the goal is
in the manifest, nlihw synth reports it met or missed, and misuse is one line with exit code 2."""
from __future__ import annotations

import itertools
import json

import pytest

from nlihw.cli import main
from nlihw.commands.synth import timing_lines
from nlihw.hdl.nli.params import ENGINE_PIPELINE, NLIEngineParams
from nlihw.hdl.nli.stage_delays import stages
from nlihw.luts.default_tables import shipped_dir
from nlihw.luts.table import NLITable
from nlihw.synth.delay_model import load

TABLE = str(shipped_dir() / "silu_M11_K32.json")


def predicted(p, model) -> float:
    """Fmax from the stage sums, written out here (not the model's own predict)."""
    worst = max(model.reg + sum(getattr(model, k) * v for k, v in s.cost.items()) for s in stages(p))
    return 1000.0 / worst


@pytest.mark.parametrize("mhz, target, speed", [(110, "ecp5", None), (130, "ecp5", None),
                                                (170, "ecp5", 8), (45, "ice40", None)])
def test_target_mhz_picks_the_least_latency(tmp_path, capsys, mhz, target, speed):
    args = ["gen", "--table", TABLE, "--target-mhz", str(mhz), "--target", target, "-o", str(tmp_path)]
    assert main(args + (["--speed", str(speed)] if speed else [])) == 0
    man = json.loads((tmp_path / "nli_engine.manifest.json").read_text())
    p = NLIEngineParams.from_dict(man["params"])
    model = load(target, speed)
    assert man["latency"] == p.latency == 7 + p.pipeline.depth
    assert man["timing_goal"]["goal_mhz"] == mhz and man["timing_goal"]["target"] == target
    assert predicted(p, model) >= mhz
    base = NLIEngineParams(p.tables)
    for n in range(p.pipeline.depth):
        for pts in itertools.combinations(ENGINE_PIPELINE.points, n):
            q = NLIEngineParams(base.tables, pipeline=list(pts))
            assert predicted(q, model) < mhz, pts
    assert f"needs pipeline {p.pipeline}" in capsys.readouterr().out


def test_latency_fixes_the_depth(tmp_path):
    assert main(["gen", "--table", TABLE, "--latency", "10", "-o", str(tmp_path)]) == 0
    man = json.loads((tmp_path / "nli_engine.manifest.json").read_text())
    assert man["latency"] == 10 and len(man["params"]["pipeline"]) == 3


def test_plain_gen_manifest_has_no_goal(tmp_path):
    assert main(["gen", "--table", TABLE, "-o", str(tmp_path)]) == 0
    assert "timing_goal" not in json.loads((tmp_path / "nli_engine.manifest.json").read_text())


@pytest.mark.parametrize("extra, msg", [
    (["--target-mhz", "100", "--pipeline", "all"], "--pipeline names the register points"),
    (["--target-mhz", "100", "--latency", "9"], "not both"),
    (["--latency", "30"], "takes 7 to 14 cycles"),
    (["--target-mhz", "0"], "target clock must be in"),
    (["--speed", "8"], "--speed selects the delay model"),
    (["--target-mhz", "100", "--speed", "7"], "no delay model for ecp5 at speed grade 7"),
])
def test_misuse_is_one_line(tmp_path, capsys, extra, msg):
    assert main(["gen", "--table", TABLE, *extra, "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and msg in err and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_synth_reports_the_goal(tmp_path):
    (tmp_path / "e.manifest.json").write_text(json.dumps(
        {"latency": 11, "timing_goal": {"goal_mhz": 130, "target": "ecp5", "speed": 6,
                                        "predicted_mhz": 138.3, "latency": 11}}))
    reps = [{"target": "ecp5", "speed_grade": 6, "figures": {"fmax_mhz": 129.5}},
            {"target": "ecp5", "speed_grade": 8, "figures": {"fmax_mhz": 180.1}},
            {"target": "generic", "figures": {"gate_equivalents": 1.0}}]
    assert timing_lines(tmp_path, "e", reps) == [
        "ecp5 -6: 129.5 MHz at latency 11 cycles; goal 130 MHz (model 138.3): missed by 0.4%",
        "ecp5 -8: 180.1 MHz at latency 11 cycles"]
    reps[0]["figures"]["fmax_mhz"] = 131.0
    assert timing_lines(tmp_path, "e", reps[:1])[0].endswith("goal 130 MHz (model 138.3): met")


@pytest.mark.parametrize("depth", [1, 3, 4])
def test_goal_just_above_a_pipeline_needs_more(tmp_path, depth):
    """A goal a hair above what the depth-``depth`` prefer pipeline reaches in the model: the
    choice must reach the goal itself (a choice that rounds the goal down would not)."""
    model = load("ecp5")
    tables = (NLITable.load(TABLE),)
    level = predicted(NLIEngineParams(tables, pipeline=list(ENGINE_PIPELINE.prefer[:depth])), model)
    goal = round(level + 0.05, 2)
    assert main(["gen", "--table", TABLE, "--target-mhz", str(goal), "-o", str(tmp_path)]) == 0
    p = NLIEngineParams.from_dict(json.loads((tmp_path / "nli_engine.manifest.json").read_text())["params"])
    assert predicted(p, model) >= goal


def test_synth_prints_unbuffered_high_fanout_nets_beside_the_estimate():
    """The estimate assumes buffer trees; a net yosys left unbuffered is shown with its delay as
    written, and nothing is shown when the netlist as written is no slower than the estimate."""
    from nlihw.commands.synth import sta_lines
    t = {"unit": "ns", "clock_estimate_mhz": 400.0, "fanout_model": {"max_fanout": 8},
         "critical": {"delay": 2.3, "from": "a", "to": "b"},
         "stages": [{"register": "b", "delay": 2.3, "from": "a"}],
         "critical_as_written": {"delay": 7.5, "from": "o__valid", "to": "r"},
         "high_fanout": [{"net": "en", "cell": "INV", "driver": "u1", "fanout": 508,
                          "as_written": 7.5, "from": "o__valid", "estimate": 2.0}]}
    rep = {"figures": {"timing": t}, "target": "generic", "liberty": None}
    text = "\n".join(sta_lines(rep))
    assert "as written (no buffers): 7.500 ns, o__valid -> r" in text
    assert "en (INV u1): 508 loads, 7.500 ns as written (from o__valid), 2.000 ns with the tree" in text
    t["critical_as_written"]["delay"] = 2.3
    assert "as written" not in "\n".join(sta_lines(rep))
