"""Timing closure of the NLI engine: the register points for a target clock (or a latency), chosen
by the target's delay model (``synth/delay_model.py``: ECP5, iCE40, ...) or, for the generic
target, measured by synthesis on a Liberty library with timing data and its static estimate.
``nlihw gen --target-mhz / --latency`` and the default flow call it; so can a Python user."""
from __future__ import annotations

import dataclasses
import hashlib
import tempfile
from pathlib import Path
from typing import Callable

from nlihw.errors import ParamsError
from nlihw.hdl.nli.generate import emit_verilog
from nlihw.hdl.nli.params import ENGINE_PIPELINE, NLIEngineParams
from nlihw.hdl.nli.stage_delays import check_clock, choose_pipeline, fastest_of_depth
from .delay_model import load
from .driver import run_synth
from .liberty import load as load_liberty, read_bytes


def apply_timing(p: NLIEngineParams, pipeline_given: bool, target_mhz, latency, target: str,
                 speed, liberty=None, echo: "Callable[[str], None] | None" = None
                 ) -> tuple[NLIEngineParams, str, dict]:
    """``p`` with the register points a target's delay model chooses for ``target_mhz`` (the
    least latency expected to reach it) or for a fixed ``latency`` (the fastest points of that
    count); a one-line note and the goal for the manifest. ``generic`` measures instead
    (``measure_generic``) with the Liberty file ``liberty``, each depth's estimate to ``echo``."""
    if target_mhz is not None and latency is not None:
        raise ParamsError("give --target-mhz or --latency, not both")
    if pipeline_given:
        raise ParamsError("--pipeline names the register points, --target-mhz and --latency "
                          "choose them: give one")
    if p.arch not in ("parallel", "binary"):
        raise ParamsError(f"--target-mhz and --latency apply to arch parallel and binary, not "
                          f"{p.arch!r}")
    if target == "generic":
        return measure_generic(p, target_mhz, latency, speed, liberty, echo)
    if liberty is not None:
        raise ParamsError(f"--liberty applies to --target generic, not {target}")
    model = load(target, speed)
    base = dataclasses.replace(p, pipeline=None)
    if target_mhz is not None:
        pipe, mhz, met = choose_pipeline(base, model, target_mhz)
        q = dataclasses.replace(p, pipeline=pipe)
        note = (f"{model.key} delay model: {target_mhz:g} MHz needs pipeline {pipe} (latency "
                f"{q.latency}), predicted {mhz:.0f} MHz" if met else
                f"{model.key} delay model: no pipeline is predicted to reach {target_mhz:g} MHz; "
                f"all points (latency {q.latency}), predicted {mhz:.0f} MHz (the model is "
                f"pessimistic for the deepest pipelines: nlihw synth measures)")
    else:
        pipe, mhz = fastest_of_depth(base, model, _depth_of_latency(base, latency))
        q = dataclasses.replace(p, pipeline=pipe)
        note = f"{model.key} delay model: latency {latency} as pipeline {pipe}, predicted {mhz:.0f} MHz"
    goal = {"target": model.target, "speed": model.speed, "predicted_mhz": round(mhz, 1),
            "goal_mhz": target_mhz, "latency": q.latency}
    return q, note, goal


def _depth_of_latency(base: NLIEngineParams, latency: int) -> int:
    """The number of register points that gives ``base`` (no points) the latency ``latency``."""
    top = base.latency + len(ENGINE_PIPELINE.points)
    if not base.latency <= latency <= top:
        raise ParamsError(f"--latency {latency}: this engine takes {base.latency} to {top} cycles")
    return latency - base.latency


def measure_generic(p: NLIEngineParams, target_mhz, latency, speed, liberty,
                    echo: "Callable[[str], None] | None" = None) -> tuple[NLIEngineParams, str, dict]:
    """``apply_timing`` for the generic target: no model, a measurement. For pipeline depths 0, 1,
    ... (points in the ``prefer`` order) the engine's Verilog is synthesized on ``liberty``
    (``run_synth``, cached by content) and its static timing estimate taken, until one reaches
    ``target_mhz`` (else every point, not met); a fixed ``latency`` is measured once."""
    if speed is not None:
        raise ParamsError("--speed applies to the ecp5 delay model, not --target generic")
    if liberty is None:
        raise ParamsError("the generic target needs --liberty with timing data (a Liberty file "
                          "with NLDM delay tables)")
    lib = load_liberty(liberty)
    if not lib.has_timing:
        raise ParamsError(f"{liberty}: no timing data (no delay tables); the generic target needs "
                          f"--liberty with timing data")
    base = dataclasses.replace(p, pipeline=None)
    points = ENGINE_PIPELINE.prefer
    if target_mhz is not None:
        check_clock(target_mhz)
        depths = range(len(points) + 1)
    else:
        depths = [_depth_of_latency(base, latency)]
    name = Path(liberty).name
    with tempfile.TemporaryDirectory(prefix="nlihw-generic-") as tmp:
        for depth in depths:
            q = dataclasses.replace(p, pipeline=list(points[:depth]))
            v = Path(tmp) / f"d{depth}" / f"{q.top_name}.v"
            v.parent.mkdir()
            v.write_text(emit_verilog(q))
            rep = run_synth(v, q.top_name, "generic", liberty=liberty, report_dir=v.parent / "synth")
            t = rep["figures"]["timing"]
            mhz = t["clock_estimate_mhz"]
            if echo:
                echo(f"generic ({name}): pipeline {q.pipeline} (latency {q.latency}): estimate "
                     f"{mhz:.1f} MHz, slowest {t['critical']['to']}"
                     + (" (cached)" if rep["run"]["cached"] else f" ({rep['run']['seconds']:.1f} s)"))
            if target_mhz is not None and mhz >= target_mhz:
                break
    if target_mhz is not None:
        met = mhz >= target_mhz
        note = (f"generic static estimate on {name}: {target_mhz:g} MHz needs pipeline {q.pipeline} "
                f"(latency {q.latency}), estimated {mhz:.0f} MHz" if met else
                f"generic static estimate on {name}: {target_mhz:g} MHz is beyond every pipeline; "
                f"all points (latency {q.latency}), estimated {mhz:.0f} MHz")
    else:
        note = f"generic static estimate on {name}: latency {latency} as pipeline {q.pipeline}, " \
               f"estimated {mhz:.0f} MHz"
    goal = {"target": "generic", "speed": None, "predicted_mhz": round(mhz, 1),
            "goal_mhz": target_mhz, "latency": q.latency,
            "liberty": {"file": name, "sha256": hashlib.sha256(read_bytes(liberty)).hexdigest()}}
    return q, note, goal
