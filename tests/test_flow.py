"""nlihw flow: the step bookkeeping (a failed step is reported and the others still run), the
summary, options; the whole flow end to end is the slow test (and `make` itself)."""
import json

import pytest

from nlihw import flow
from nlihw.cli import main


def test_failed_step_is_reported_and_the_rest_runs(tmp_path, monkeypatch, capsys):
    calls = []

    def tables(out, jobs, step):
        calls.append("tables")
        step.figures = "fake tables"

    def engine(out, step):
        calls.append("engine")
        raise flow.FlowError("engine verification FAILED: beat 3")

    def scan(out, step):
        calls.append("scan")
        return type("P", (), {"top_name": "selective_scan"})(), tmp_path / "s.v"

    def synth_all(jobs, say):
        return lambda args: {"figures": {"gate_equivalents": 1.0}, "target": args[2], "top": args[1],
                             "run": {"report": str(tmp_path / f"{args[2]}.json")}}

    def sweep(out, jobs, step, console):
        calls.append("sweep")

    monkeypatch.setattr(flow, "_tables", tables)
    monkeypatch.setattr(flow, "_engine", engine)
    monkeypatch.setattr(flow, "_scan", scan)
    monkeypatch.setattr(flow, "_synth_all", synth_all)
    monkeypatch.setattr(flow, "_area", lambda rep: f"{rep['top']} {rep['target']}")
    monkeypatch.setattr(flow, "_sweep", sweep)
    steps = flow.run_flow(tmp_path, jobs=1)
    assert calls == ["tables", "engine", "scan", "sweep"]
    status = {s.name: s.status for s in steps}
    assert status["NLI engine: generate + verify"] == "FAILED"
    assert all(v == "ok" for k, v in status.items() if not k.startswith("NLI"))
    synth = next(s for s in steps if s.name == "synthesis")
    assert synth.figures == "selective_scan ecp5"        # no generic-sram by default; no engine
    recorded = json.loads((tmp_path / "flow.json").read_text())
    assert [r["status"] for r in recorded] == [s.status for s in steps]
    assert "beat 3" in recorded[1]["figures"]


def test_cli_exit_code_and_bad_options(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(flow, "run_flow",
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
    assert [s.status for s in steps] == ["ok"] * 5, [(s.name, s.figures) for s in steps]
    assert (tmp_path / "build" / "nli" / "rtl" / "nli_engine.v").is_file()
    assert (tmp_path / "build" / "sweep" / "report.md").is_file()


def test_engine_tables_are_refitted_when_the_question_changes(tmp_path, monkeypatch):
    """A table left by an earlier run is reused only for the same function, layout and domain."""
    fitted = []

    import nlihw.luts.fitter as fitter_mod
    from nlihw.luts.layout import TableLayout
    small = dict(in_fmt="s3.5", out_fmt="s3.5", M=4, K=2)
    monkeypatch.setattr(flow, "ENGINE_LAYOUT", small)
    monkeypatch.setattr(flow, "ENGINE_FUNCS", {"silu": None, "exp": (-4.0, 1.0)})
    orig = fitter_mod.fit

    def counting_fit(func, layout, **kw):
        fitted.append(func)
        return orig(func, layout, **kw)
    monkeypatch.setattr(fitter_mod, "fit", counting_fit)
    t1 = flow._engine_tables(tmp_path)
    assert fitted == ["silu", "exp"] and t1[1].domain == (-4.0, 1.0)
    flow._engine_tables(tmp_path)
    assert fitted == ["silu", "exp"]                      # reused
    monkeypatch.setattr(flow, "ENGINE_FUNCS", {"silu": None, "exp": (-4.0, 0.5)})
    t3 = flow._engine_tables(tmp_path)
    assert fitted == ["silu", "exp", "exp"] and t3[1].domain == (-4.0, 0.5)
    assert t3[0].layout == TableLayout(**small)
