"""Calibrate the delay models (``delays.json``) from nextpnr runs of the default engine (silu,
s4.12, M=11, K=32, parallel) at every pipeline depth, and measure a depth table.

    python -m nlihw.synth.calibrate_delays            # measure (cached), fit, write delays.json

Each depth is synthesized and placed and routed as ``nlihw synth`` does (median of 3 seeds,
cached by content), so a second run only refits. The fit and its residuals are stored with the
models, so the README's figures can be traced to the runs.
"""
from __future__ import annotations

import json
import sys
import tempfile
from importlib import resources
from pathlib import Path

import click

from nlihw.atomic import atomic_write_text
from nlihw.hdl.nli.generate import generate
from nlihw.hdl.nli.params import ENGINE_PIPELINE, NLIEngineParams
from nlihw.hdl.nli.stage_delays import predict, stages
from nlihw.luts.default_tables import shipped_table
from .delay_model import DELAYS_FILE, PRIMITIVES, TargetDelays, calibrate, model_key
from .driver import run_synth

CALIBRATION_TABLE = "silu_M11_K32"
# (target, speed grade): the models stored
MODELS = (("ecp5", 6), ("ecp5", 8), ("ice40", None))
# starting values (ns) per family: typical LUT, carry and block delays of the family in
# nextpnr's timing database, routing included; a primitive no run exercises keeps its prior
PRIORS = {
    "ecp5-6": {"reg": 1.0, "lut": 0.75, "carry": 0.07, "chain": 0.9, "mult": 5.0, "mem": 6.3,
               "mult_r": 1.0, "mem_r": 1.5, "mem_in": 1.0},
    "ecp5-8": {"reg": 0.8, "lut": 0.6, "carry": 0.055, "chain": 0.7, "mult": 4.0, "mem": 5.0,
               "mult_r": 0.8, "mem_r": 1.2, "mem_in": 0.8},
    "ice40": {"reg": 1.6, "lut": 1.4, "carry": 0.13, "chain": 1.5, "mult": 8.0, "mem": 4.0,
              "mult_r": 2.0, "mem_r": 4.0, "mem_in": 1.0},
}


def depth_params(depth: int, table: str = CALIBRATION_TABLE) -> NLIEngineParams:
    """The calibration engine with the first ``depth`` points of ``ENGINE_PIPELINE.prefer``."""
    return NLIEngineParams((shipped_table(table),), pipeline=depth)


def measure(params: NLIEngineParams, target: str, speed: int | None, work: Path,
            progress=None) -> dict:
    """``run_synth`` report of ``params`` on ``target`` (cached by content)."""
    d = work / params.digest()[:16]
    v = generate(params, d)["verilog"]
    return run_synth(v, params.top_name, target, speed=speed, params=params.to_dict(),
                     report_dir=d / "synth", progress=progress)


def calibration_params(table: str = CALIBRATION_TABLE) -> list[NLIEngineParams]:
    """The calibration runs: every depth in the ``prefer`` order, then every point left out of
    ``all`` in turn (so that each stage of the deepest pipeline is the slowest of some run)."""
    out = [depth_params(d, table) for d in range(len(ENGINE_PIPELINE.points) + 1)]
    for x in ENGINE_PIPELINE.points:
        p = NLIEngineParams((shipped_table(table),), pipeline=[y for y in ENGINE_PIPELINE.points if y != x])
        if all(q.pipeline != p.pipeline for q in out):
            out.append(p)
    return out


def fit_models(work: Path, progress=None) -> dict:
    """Measure every calibration run on every stored model's target, fit each, return
    delays.json's body."""
    models, configs = {}, calibration_params()
    for target, speed in MODELS:
        key = model_key(target, speed)
        runs, rows = [], []
        for p in configs:
            rep = measure(p, target, speed, work, progress)
            mhz = rep["figures"]["fmax_mhz"]
            costs = [s.cost for s in stages(p)]
            runs.append((costs, 1000.0 / mhz))
            rows.append({"pipeline": str(p.pipeline), "latency": p.latency, "measured_mhz": mhz})
        t, crit = calibrate(runs, PRIORS[key])
        model = TargetDelays(target, speed, **t)
        for p, row in zip(configs, rows):
            mhz, st = predict(p, model)
            row.update(predicted_mhz=round(mhz, 1), slowest_stage="+".join(st.elements))
        err = [abs(r["predicted_mhz"] / r["measured_mhz"] - 1) for r in rows]
        cal = {"engine": f"{CALIBRATION_TABLE} parallel, depths 0..{len(ENGINE_PIPELINE.points)} "
                         f"in prefer order, then all points but one",
               "seeds": "median of 3 nextpnr seeds", "runs": rows,
               "mean_abs_error": round(sum(err) / len(err), 4), "max_abs_error": round(max(err), 4)}
        models[key] = {**model.to_dict(), "calibration": cal}
    return {"schema": 1, "primitives": list(PRIMITIVES), "models": models}


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Where to write the models (default: the package's delays.json).")
def main(out):
    """Measure the calibration engine at every pipeline depth (ecp5 grades 6 and 8, ice40), fit
    each target's primitive delays, write them with their residuals."""
    work = Path(tempfile.mkdtemp(prefix="nlihw-calibrate-"))
    body = fit_models(work, progress=lambda m: click.echo(m, err=True))
    dest = Path(out) if out else Path(str(resources.files("nlihw.synth") / DELAYS_FILE))
    atomic_write_text(dest, json.dumps(body, indent=1, sort_keys=True) + "\n")
    for key, m in body["models"].items():
        c = m["calibration"]
        click.echo(f"{key}: " + ", ".join(f"{p} {m[p]:.3f}" for p in PRIMITIVES)
                   + f" ns; mean |error| {100 * c['mean_abs_error']:.1f}%, max {100 * c['max_abs_error']:.1f}%")
        for r in c["runs"]:
            click.echo(f"  {r['pipeline']:<60} latency {r['latency']:2d}  measured {r['measured_mhz']:6.1f}"
                       f"  predicted {r['predicted_mhz']:6.1f} MHz  slowest: {r['slowest_stage']}")
    click.echo(f"wrote {dest}")


if __name__ == "__main__":
    sys.exit(main())
