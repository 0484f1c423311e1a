"""nlihw flow: the step bookkeeping (a failed step is reported and the others still run), the
summary, options; the whole flow end to end is the slow test (and `make` itself)."""
import json
from pathlib import Path

import pytest

from nlihw import flow
from nlihw.commands import flow as flow_command
from nlihw.cli import main


def _design(tmp_path, unit, variant, latency):
    top = "nli_engine" if unit == "engine" else "selective_scan"
    how = "target 150 MHz" if unit == "engine" else "every register point"
    return flow.Design(unit, variant, how, tmp_path / unit / variant / f"{top}.v", top, latency)


def _fake_synth(fmax_by_path):
    """A synthesis stand-in: figures carry the Fmax given for the design's Verilog path."""
    def synth_all(jobs, say):
        return lambda args: {"figures": {"gate_equivalents": 1.0,
                                         "fmax_mhz": fmax_by_path.get(str(args[0]))},
                             "target": args[2], "top": args[1],
                             "run": {"report": f"{args[0]}.{args[2]}.json"}}
    return synth_all


def test_failed_step_is_reported_and_the_rest_runs(tmp_path, monkeypatch, capsys):
    calls = []

    def tables(out, jobs, step):
        calls.append("tables")
        step.figures = "fake tables"

    def engine(out, step):
        calls.append("engine")
        raise flow.FlowError("engine verification FAILED: beat 3")

    scan_designs = [_design(tmp_path, "scan", "unpipelined", 30), _design(tmp_path, "scan", "pipelined", 61)]

    def scan(out, step):
        calls.append("scan")
        return scan_designs

    def sweep(out, jobs, step, console):
        calls.append("sweep")

    monkeypatch.setattr(flow, "_tables", tables)
    monkeypatch.setattr(flow, "_engine", engine)
    monkeypatch.setattr(flow, "_scan", scan)
    monkeypatch.setattr(flow, "_synth_all", _fake_synth({str(scan_designs[0].verilog): 40.0,
                                                         str(scan_designs[1].verilog): 99.94}))
    monkeypatch.setattr(flow, "_area", lambda rep: f"{rep['top']} {rep['target']}")
    monkeypatch.setattr(flow, "_sweep", sweep)
    steps = flow.run_flow(tmp_path, jobs=1)
    assert calls == ["tables", "engine", "scan", "sweep"]
    status = {s.name: s.status for s in steps}
    assert status["NLI engine: generate + verify"] == "FAILED"
    assert all(v == "ok" for k, v in status.items() if not k.startswith("NLI"))
    synth = next(s for s in steps if s.name == "synthesis")
    # no generic-sram by default, no engine; the pipelined unit (the longest run) first
    assert synth.figures == "pipelined selective_scan ecp5; selective_scan ecp5"
    clock = steps[-2]
    assert clock.name.startswith("latency and ecp5 Fmax")
    assert clock.figures == ("scan int16 P=1: unpipelined 30 cycles 40.0 MHz | "
                             "every register point: 61 cycles 99.9 MHz")
    recorded = json.loads((tmp_path / "flow.json").read_text())
    assert [r["status"] for r in recorded] == [s.status for s in steps]
    assert "beat 3" in recorded[1]["figures"]
    assert recorded[-2]["data"] == {"scan": {
        "pipelined_how": "every register point",
        "unpipelined": {"latency": 30, "fmax_mhz": 40.0}, "pipelined": {"latency": 61, "fmax_mhz": 99.94}}}


def _fake_units(tmp_path, monkeypatch, fmax, scan_gates=False):
    """run_flow with every step faked: both units verified in both variants, the given Fmax per
    (unit, variant); returns (steps, the synthesis runs asked for)."""
    designs = {(u, v): _design(tmp_path, u, v, lat) for (u, v), lat in {
        ("engine", "unpipelined"): 7, ("engine", "pipelined"): 14,
        ("scan", "unpipelined"): 30, ("scan", "pipelined"): 61}.items()}
    asked = []
    synth = _fake_synth({str(d.verilog): fmax.get(k) for k, d in designs.items()})

    def recording(jobs, say):
        one = synth(jobs, say)
        return lambda args: asked.append(args) or one(args)
    monkeypatch.setattr(flow, "_tables", lambda out, jobs, step: None)
    monkeypatch.setattr(flow, "_engine", lambda out, step: [designs["engine", v] for v in ("unpipelined", "pipelined")])
    monkeypatch.setattr(flow, "_scan", lambda out, step: [designs["scan", v] for v in ("unpipelined", "pipelined")])
    monkeypatch.setattr(flow, "_synth_all", recording)
    monkeypatch.setattr(flow, "_area", lambda rep: f"{rep['top']} {rep['target']}")
    monkeypatch.setattr(flow, "_sweep", lambda out, jobs, step, console: None)
    steps = flow.run_flow(tmp_path, jobs=1, scan_gates=scan_gates)
    return steps, {(Path(v).parent.parent.name, Path(v).parent.name, t) for v, _, t, _ in asked}


def test_summary_shows_latency_and_fmax_unpipelined_beside_pipelined(tmp_path, monkeypatch, capsys):
    fmax = {("engine", "unpipelined"): 67.04, ("engine", "pipelined"): 152.26,
            ("scan", "unpipelined"): 33.5, ("scan", "pipelined"): None}      # None: does not fit
    steps, asked = _fake_units(tmp_path, monkeypatch, fmax)
    clock = next(s for s in steps if s.name.startswith("latency and ecp5 Fmax"))
    assert clock.status == "ok"
    assert clock.figures.splitlines() == [
        "engine silu/exp/softplus: unpipelined 7 cycles 67.0 MHz | target 150 MHz: 14 cycles 152.3 MHz (met)",
        "scan int16 P=1: unpipelined 30 cycles 33.5 MHz | every register point: 61 cycles Fmax n/a"]
    assert clock.data["engine"]["pipelined"] == {"latency": 14, "fmax_mhz": 152.26}
    # pipelined designs on ecp5 only; the unpipelined engine also on generic, the scan unit's
    # generic-sram only with scan_gates
    assert asked == {("engine", "unpipelined", "ecp5"), ("engine", "unpipelined", "generic"),
                     ("engine", "pipelined", "ecp5"), ("scan", "unpipelined", "ecp5"),
                     ("scan", "pipelined", "ecp5")}
    _, asked = _fake_units(tmp_path, monkeypatch, fmax, scan_gates=True)
    assert ("scan", "unpipelined", "generic-sram") in asked and ("scan", "pipelined", "generic-sram") not in asked
    table = flow.summary(steps)
    from rich.console import Console
    Console(width=400, file=None).print(table)
    assert "target 150 MHz: 14 cycles 152.3 MHz (met)" in capsys.readouterr().out


def test_summary_says_when_the_engine_misses_its_clock_goal(tmp_path, monkeypatch):
    fmax = {("engine", "unpipelined"): 90.0, ("engine", "pipelined"): 149.96,
            ("scan", "unpipelined"): 30.0, ("scan", "pipelined"): 97.1}
    steps, _ = _fake_units(tmp_path, monkeypatch, fmax)
    lines = next(s for s in steps if s.name.startswith("latency and")).figures.splitlines()
    assert lines[0].endswith("target 150 MHz: 14 cycles 150.0 MHz (MISSED)")      # 149.96 < 150
    assert lines[1] == "scan int16 P=1: unpipelined 30 cycles 30.0 MHz | every register point: 61 cycles 97.1 MHz"


def test_clock_summary_fails_without_a_report(tmp_path):
    designs = [_design(tmp_path, "scan", v, lat) for v, lat in (("unpipelined", 30), ("pipelined", 61))]
    step = flow.Step("clock")
    with pytest.raises(flow.FlowError, match="no ecp5 synthesis report for the pipelined design"):
        flow.clock_summary(designs, {str(designs[0].verilog): {"figures": {"fmax_mhz": 40.0}}}, step)


def test_engine_pipelined_variant_is_the_timing_choice(tmp_path, monkeypatch):
    """The pipelined engine is what ``nlihw gen --target-mhz 150 --target ecp5`` builds: the
    register points ``apply_timing`` chooses (small tables here, so the fits take a moment)."""
    from nlihw.synth.timing_closure import apply_timing
    from nlihw.hdl.nli.params import NLIEngineParams
    monkeypatch.setattr(flow, "ENGINE_LAYOUT", dict(in_fmt="s3.5", out_fmt="s3.5", M=4, K=2))
    monkeypatch.setattr(flow, "ENGINE_FUNCS", {"silu": None, "exp": (-4.0, 1.0)})
    verified = []

    def verify(p, out):
        verified.append((p, out))
        return out / "rtl" / f"{p.top_name}.v", out / "sim" / "sim.log", 256
    monkeypatch.setattr(flow, "_verify_engine", verify)
    step = flow.Step("engine")
    designs = flow._engine(tmp_path, step)
    (p, out0), (q, out1) = verified
    assert p.pipeline == NLIEngineParams(p.tables, top_name="nli_engine").pipeline    # no points
    want, _, _ = apply_timing(p, False, 150.0, None, "ecp5", None)
    assert q == want and q.latency > p.latency
    assert [(d.variant, d.latency) for d in designs] == [("unpipelined", p.latency), ("pipelined", q.latency)]
    assert out0 != out1


def test_cli_exit_code_and_bad_options(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(flow_command, "run_flow",
                        lambda out, jobs=None, scan_gates=False: [flow.Step("x", "FAILED", 1.0, "boom")])
    assert main(["flow", "-o", str(tmp_path)]) == 1
    assert "boom" in capsys.readouterr().out
    assert main(["flow", "-j", "0", "-o", str(tmp_path)]) == 2
    f = tmp_path / "file"
    f.write_text("")
    assert main(["flow", "-o", str(f)]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert main(["flow", "--help"]) == 0
    assert "nlihw flow -o build -j 2 --scan-gates" in capsys.readouterr().out


@pytest.mark.slow
def test_whole_flow(tmp_path):
    steps = flow.run_flow(tmp_path / "build", jobs=2)
    assert [s.status for s in steps] == ["ok"] * 6, [(s.name, s.figures) for s in steps]
    assert (tmp_path / "build" / "nli" / "rtl" / "nli_engine.v").is_file()
    assert (tmp_path / "build" / "scan" / "pipelined" / "rtl" / "selective_scan.v").is_file()
    clock = json.loads((tmp_path / "build" / "flow.json").read_text())[4]["data"]
    # unpipelined latencies from the README (engine 7, scan 30); each register point adds one
    # cycle: the engine's 7 (150 MHz is beyond the model's reach: all), the scan unit's own and
    # those of its three engines, all on the path
    from nlihw.hdl.nli.params import ENGINE_PIPELINE
    from nlihw.hdl.scan.params import PIPELINE
    engine_points = len(ENGINE_PIPELINE.points)
    assert [clock["engine"][v]["latency"] for v in ("unpipelined", "pipelined")] == [7, 7 + engine_points]
    assert [clock["scan"][v]["latency"] for v in ("unpipelined", "pipelined")] == [
        30, 30 + len(PIPELINE.points) + 3 * engine_points]
    for unit in ("engine", "scan"):
        assert clock[unit]["pipelined"]["fmax_mhz"] > 1.5 * clock[unit]["unpipelined"]["fmax_mhz"]
    assert (tmp_path / "build" / "sweep" / "report.md").is_file()


def test_engine_tables_are_refitted_when_the_question_changes(tmp_path, monkeypatch):
    """A table left by an earlier run is reused only for the same function, layout and domain."""
    fitted = []

    from nlihw.luts.layout import TableLayout
    small = dict(in_fmt="s3.5", out_fmt="s3.5", M=4, K=2)
    monkeypatch.setattr(flow, "ENGINE_LAYOUT", small)
    monkeypatch.setattr(flow, "ENGINE_FUNCS", {"silu": None, "exp": (-4.0, 1.0)})
    orig = flow.fit

    def counting_fit(func, layout, **kw):
        fitted.append(func)
        return orig(func, layout, **kw)
    monkeypatch.setattr(flow, "fit", counting_fit)          # the name flow calls
    t1 = flow._engine_tables(tmp_path)
    assert fitted == ["silu", "exp"] and t1[1].domain == (-4.0, 1.0)
    flow._engine_tables(tmp_path)
    assert fitted == ["silu", "exp"]                      # reused
    monkeypatch.setattr(flow, "ENGINE_FUNCS", {"silu": None, "exp": (-4.0, 0.5)})
    t3 = flow._engine_tables(tmp_path)
    assert fitted == ["silu", "exp", "exp"] and t3[1].domain == (-4.0, 0.5)
    assert t3[0].layout == TableLayout(**small)
