"""Options shared by the commands that build an engine from table files (gen, sim)."""
from __future__ import annotations

import dataclasses
import hashlib
import tempfile
from pathlib import Path

import click

from nlihw.errors import ParamsError
from nlihw.hdl.nli.params import (ARCHS, ENGINE_PIPELINE, SHARED_LAYOUT, STORAGES, NLIEngineParams,
                                  layout_difference)
from nlihw.luts.table import NLITable
from nlihw.synth.liberty import read_bytes as read_liberty_bytes

_NO_VERIFY = "nlihw.no_verify"      # click context meta key set by --no-verify
_PIPELINE = "nlihw.pipeline"        # ... and by --pipeline
_TABLE_PORTS = "nlihw.table_ports"  # ... and by --table-ports
_MULTIPLIERS = "nlihw.multipliers"  # ... and by --multipliers
TIMING_OPTIONS = "nlihw.timing"     # ... and by --target-mhz, --latency, --target, --speed, --liberty
TIMING_NOTE = "nlihw.timing_note"   # what params_from_options chose, for the command to print
TIMING_GOAL = "nlihw.timing_goal"   # ... and for the manifest
TIMING_TARGETS = ("ecp5", "ice40", "generic")


def _remember_no_verify(ctx, param, value):
    ctx.meta[_NO_VERIFY] = bool(value)


def _remember_pipeline(ctx, param, value):
    ctx.meta[_PIPELINE] = value


def _remember_table_ports(ctx, param, value):
    ctx.meta[_TABLE_PORTS] = value


def _remember_multipliers(ctx, param, value):
    ctx.meta[_MULTIPLIERS] = value


def _remember_timing(ctx, param, value):
    ctx.meta.setdefault(TIMING_OPTIONS, {})[param.name] = value


def engine_options(f):
    for opt in reversed([
        click.option("--table", "tables", multiple=True, required=True,
                     type=click.Path(dir_okay=False),
                     help="Table JSON (repeat for a multi-function engine; func selects by order)."),
        click.option("--arch", type=click.Choice(ARCHS), default="parallel", show_default=True,
                     help="Macro-interval search: parallel comparators or pipelined binary search."),
        click.option("--lanes", type=int, default=1, show_default=True, help="Parallel lanes per beat."),
        click.option("--storage", type=click.Choice(STORAGES), default="rom", show_default=True,
                     help="Tables as constants (rom) or reloadable memories and registers (ram)."),
        click.option("--table-ports", type=click.IntRange(1, 2), default=1, show_default=True,
                     expose_value=False, callback=_remember_table_ports,
                     help="Read ports per copy of the table memories: 2 lets two lanes share one "
                          "true dual-port block RAM (halves the copies; rom only)."),
        click.option("--multipliers", default="infer", show_default=True, metavar="SPEC",
                     expose_value=False, callback=_remember_multipliers,
                     help="How products are built: infer (a * b; the synthesis tool maps them), or the target's DSP "
                          "operand widths (ecp5 = 18x18, xcup = 27x18, or AxB): each product one DSP multiply, "
                          "the high bits' partial products in the fabric; AxB/F: products with an operand of "
                          "at most F bits all in the fabric. Values never change."),
        click.option("--top", "top_name", default="nli_engine", show_default=True,
                     help="Verilog top module name."),
        # not passed to the command function (keeps its signature); params_from_options reads it
        click.option("--no-verify", is_flag=True, expose_value=False, callback=_remember_no_verify,
                     help="Load tables whose sha256 is missing or stale (every other check still "
                          "applies)."),
        click.option("--pipeline", default=None, metavar="SPEC",
                     expose_value=False, callback=_remember_pipeline,
                     help="Optional register points (parallel and binary): none, all, a depth 0.."
                          f"{len(ENGINE_PIPELINE.points)} (enabled in the order "
                          f"{', '.join(ENGINE_PIPELINE.prefer)}), or comma-separated point names. "
                          "Each adds one cycle of latency; values never change. Default: none."),
        click.option("--target-mhz", type=float, default=None, metavar="F", expose_value=False,
                     callback=_remember_timing,
                     help="Choose the register points instead: the least latency the --target's "
                          "delay model expects to reach F MHz (check with 'nlihw synth -t TARGET')."),
        click.option("--latency", type=int, default=None, metavar="N", expose_value=False,
                     callback=_remember_timing,
                     help="Or fix the latency at N cycles: the N - base register points the "
                          "--target's model expects fastest."),
        click.option("--target", type=click.Choice(TIMING_TARGETS), default="ecp5",
                     show_default=True, expose_value=False, callback=_remember_timing,
                     help="Delay model for --target-mhz and --latency; generic: measure each "
                          "pipeline depth with yosys and a static timing estimate on --liberty."),
        click.option("--liberty", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                     expose_value=False, callback=_remember_timing,
                     help="Liberty file with NLDM delay tables for --target generic (your "
                          "standard cells); the estimate ignores wires."),
        click.option("--speed", type=int, default=None, expose_value=False,
                     callback=_remember_timing,
                     help="Speed grade of the --target's model (ecp5: 6 or 8; default 6)."),
    ]):
        f = opt(f)
    return f


def params_from_options(tables, arch, lanes, storage, top_name, verify: bool | None = None,
                        pipeline: str | None = None) -> NLIEngineParams:
    """Engine parameters from the shared options; ``verify=None`` follows the command's --no-verify,
    ``pipeline=None`` its --pipeline."""
    ctx = click.get_current_context(silent=True)
    meta = ctx.meta if ctx is not None else {}
    if verify is None:
        verify = not meta.get(_NO_VERIFY, False)
    if pipeline is None:
        pipeline = meta.get(_PIPELINE)
    loaded = tuple(NLITable.load(t, verify=verify) for t in tables)
    for path, t in zip(tables[1:], loaded[1:]):
        if t.layout != loaded[0].layout:
            raise ParamsError(f"--table {path} and --table {tables[0]} differ in "
                              f"{layout_difference(t.layout, loaded[0].layout)}; {SHARED_LAYOUT}")
    p = NLIEngineParams(loaded, arch=arch, lanes=lanes, storage=storage, top_name=top_name,
                        pipeline=pipeline, table_ports=meta.get(_TABLE_PORTS, 1),
                        multipliers=meta.get(_MULTIPLIERS))
    timing = meta.get(TIMING_OPTIONS, {})
    if timing.get("target_mhz") is not None or timing.get("latency") is not None:
        p, note, goal = apply_timing(p, pipeline is not None, timing.get("target_mhz"),
                                     timing.get("latency"), timing.get("target") or "ecp5",
                                     timing.get("speed"), timing.get("liberty"))
        meta[TIMING_NOTE], meta[TIMING_GOAL] = note, goal
    elif timing.get("speed") is not None:
        raise ParamsError("--speed selects the delay model of --target-mhz or --latency; give one")
    elif timing.get("liberty") is not None:
        raise ParamsError("--liberty is the library of --target generic with --target-mhz or "
                          "--latency; give one (or use it with 'nlihw synth')")
    return p


def apply_timing(p: NLIEngineParams, pipeline_given: bool, target_mhz, latency, target: str,
                 speed, liberty=None) -> tuple[NLIEngineParams, str, dict]:
    """``p`` with the register points a target's delay model chooses for ``target_mhz`` (the
    least latency expected to reach it) or for a fixed ``latency`` (the fastest points of that
    count); a one-line note and the goal for the manifest. ``generic`` measures instead
    (``measure_generic``) with the Liberty file ``liberty``."""
    from nlihw.hdl.nli.stage_delays import choose_pipeline, fastest_of_depth
    from nlihw.synth.delay_model import load
    if target_mhz is not None and latency is not None:
        raise ParamsError("give --target-mhz or --latency, not both")
    if pipeline_given:
        raise ParamsError("--pipeline names the register points, --target-mhz and --latency "
                          "choose them: give one")
    if p.arch not in ("parallel", "binary"):
        raise ParamsError(f"--target-mhz and --latency apply to arch parallel and binary, not "
                          f"{p.arch!r}")
    if target == "generic":
        return measure_generic(p, target_mhz, latency, speed, liberty)
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
                    echo=lambda s: click.echo(s, err=True)) -> tuple[NLIEngineParams, str, dict]:
    """``apply_timing`` for the generic target: no model, a measurement. For pipeline depths 0, 1,
    ... (points in the ``prefer`` order) the engine's Verilog is synthesized on ``liberty``
    (``run_synth``, cached by content) and its static timing estimate taken, until one reaches
    ``target_mhz`` (else every point, not met); a fixed ``latency`` is measured once."""
    from nlihw.hdl.nli.generate import emit_verilog
    from nlihw.hdl.nli.stage_delays import check_clock
    from nlihw.synth.driver import run_synth
    from nlihw.synth.liberty import load as load_liberty
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
            "liberty": {"file": name, "sha256": hashlib.sha256(read_liberty_bytes(liberty)).hexdigest()}}
    return q, note, goal
