"""Options shared by the commands that build an engine from table files (gen, sim)."""
from __future__ import annotations

import click

from nlihw.errors import ParamsError
from nlihw.hdl.nli.params import (ARCHS, ENGINE_PIPELINE, SHARED_LAYOUT, STORAGES, NLIEngineParams,
                                  layout_difference)
from nlihw.luts.table import NLITable
from nlihw.synth.timing_closure import apply_timing

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
                          "operand widths (ecp5 = 18x18u, xcup = 27x18, or AxB; u: the block also takes unsigned operands of "
                          "those widths): each product one DSP multiply, "
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
                                     timing.get("speed"), timing.get("liberty"),
                                     echo=lambda msg: click.echo(msg, err=True))
        meta[TIMING_NOTE], meta[TIMING_GOAL] = note, goal
    elif timing.get("speed") is not None:
        raise ParamsError("--speed selects the delay model of --target-mhz or --latency; give one")
    elif timing.get("liberty") is not None:
        raise ParamsError("--liberty is the library of --target generic with --target-mhz or "
                          "--latency; give one (or use it with 'nlihw synth')")
    return p
