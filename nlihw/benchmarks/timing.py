"""Timing benchmark: the default engine (silu s4.12, M=11, K=32, parallel) at every pipeline depth:
latency, measured Fmax (median [min..max] of 3 nextpnr seeds) beside the delay model's
prediction on ECP5 grades 6 and 8 and iCE40 UP5K, and what each depth costs in LUT4, FF and gate
equivalents; then the depth ``--target-mhz`` chooses for the issue's clock targets."""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from rich.table import Table

from nlihw.atomic import atomic_write_text
from nlihw.benchmarks.section_output import markdown_table, publish, rich_markdown
from nlihw.hdl.nli.params import ENGINE_PIPELINE, NLIEngineParams
from nlihw.hdl.nli.stage_delays import choose_pipeline, predict
from nlihw.luts.default_tables import shipped_table
from nlihw.synth.calibrate_delays import depth_params, measure
from nlihw.synth.delay_model import load
from nlihw.synth.report_table import fmax_text

TIMING = (("ecp5", 6), ("ecp5", 8), ("ice40", None))
GOALS = (("ecp5", 6, 150.0), ("ecp5", 8, 200.0), ("ice40", None, 60.0))
TABLES = ("depths", "goals", "validation")          # published (section_output)


def validation_params():
    """Engines the models were not calibrated on: binary search, K=8 with gelu, an fp16 engine;
    each at no and at every register point."""
    out = []
    for label, table, arch in (("silu M11 K32 binary", "silu_M11_K32", "binary"),
                               ("gelu M11 K8", "gelu_M11_K8", "parallel"),
                               ("silu fp16 M11 K32", "silu_fp16_M11_K32", "parallel")):
        for pipe in ("none", "all"):
            out.append((f"{label}, pipeline {pipe}",
                        NLIEngineParams((shipped_table(table),), arch=arch, pipeline=pipe)))
    return out


def validate(console, work: Path, targets=TIMING) -> dict:
    """Measured against predicted Fmax on the validation engines."""
    t = Table(title="Delay model on engines outside its calibration: measured / model MHz")
    t.add_column("engine")
    t.add_column("latency", justify="right")
    for k in targets:
        t.add_column(_label(*k), justify="right")
    figures, errors, rows = {}, [], []
    for label, p in validation_params():
        cells = []
        for k in targets:
            got = measure(p, k[0], k[1], work)["figures"]["fmax_mhz"]
            model_mhz, _ = predict(p, load(*k))
            errors.append(model_mhz / got - 1)
            cells.append(f"{got:.1f} / {model_mhz:.0f} ({model_mhz / got - 1:+.0%})")
            figures[f"{label}/{_label(*k)}"] = {"measured": got, "model": model_mhz}
        t.add_row(label, str(p.latency), *cells)
        rows.append([label.replace("pipeline none", "no points").replace("pipeline all", "all points"),
                     str(p.latency), *cells])
    console.print(t)
    publish("validation", markdown_table(
        ["engine", "latency", *[f"{k[0]} grade {k[1]}" if k[1] else k[0] for k in targets]], rows))
    console.print(f"model error on these engines: mean |error| "
                  f"{100 * sum(map(abs, errors)) / len(errors):.1f}%, max {100 * max(map(abs, errors)):.1f}%")
    return figures


def _label(target, speed):
    return f"{target}-{speed}" if speed is not None else target


def run(console) -> dict:
    work = Path(tempfile.mkdtemp(prefix="nlihw-bench-timing-"))
    t = Table(title="Engine pipeline depth vs clock (silu s4.12 M=11 K=32 parallel): measured "
                    "median [min..max] of 3 seeds / delay model")
    for col in ("depth", "points", "latency", *[f"{_label(*k)} MHz" for k in TIMING],
                "ecp5 LUT4", "ecp5 FF", "ice40 LUT4", "GE"):
        t.add_column(col, justify="left" if col == "points" else "right")
    lines = ["| depth | points | latency | " + " | ".join(f"{_label(*k)} MHz (model)" for k in TIMING)
             + " | ECP5 LUT4 | ECP5 FF | iCE40 LUT4 | GE |", "|" + " --- |" * (7 + len(TIMING))]
    figures = {}
    for depth in range(len(ENGINE_PIPELINE.points) + 1):
        p = depth_params(depth)
        reps = {k: measure(p, k[0], k[1], work) for k in TIMING}
        gen = measure(p, "generic", None, work)
        cells = []
        for k in TIMING:
            model_mhz, _ = predict(p, load(*k))
            cells.append(f"{fmax_text(reps[k]['figures']).replace(' MHz', '')} ({model_mhz:.0f})")
        area = [reps[("ecp5", 6)]["figures"]["lut4"], reps[("ecp5", 6)]["figures"]["ff"],
                reps[("ice40", None)]["figures"]["lut4"], gen["figures"]["gate_equivalents"]]
        row = [str(depth), str(p.pipeline), str(p.latency), *cells, *[f"{a:,.0f}" for a in area]]
        t.add_row(*row)
        lines.append("| " + " | ".join(row) + " |")
        figures[str(depth)] = {_label(*k): reps[k]["figures"]["fmax_mhz"] for k in TIMING}
    console.print(t)
    goal = Table(title="--target-mhz: the least latency the model expects to meet each clock target")
    for col in ("target", "goal MHz", "chosen points", "latency", "model MHz", "measured MHz", "met"):
        goal.add_column(col)
    for target, speed, mhz in GOALS:
        base = depth_params(0)
        pipe, f, met = choose_pipeline(base, load(target, speed), mhz)
        p = dataclasses.replace(base, pipeline=pipe)
        rep = measure(p, target, speed, work)
        got = rep["figures"]["fmax_mhz"]
        goal.add_row(_label(target, speed), f"{mhz:g}", str(pipe), str(p.latency), f"{f:.0f}",
                     fmax_text(rep["figures"]), "yes" if got >= mhz else f"no ({got / mhz - 1:+.0%})")
        figures[f"goal/{_label(target, speed)}"] = {"goal": mhz, "model": f, "measured": got}
    console.print(goal)
    publish("goals", rich_markdown(goal))
    figures["validation"] = validate(console, work)
    atomic_write_text(Path("build/bench") / "timing_depths.md", "\n".join(lines) + "\n")
    publish("depths", "\n".join(lines) + "\n")
    return figures
