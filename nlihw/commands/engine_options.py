"""Options shared by the commands that build an engine from table files (gen, sim)."""
from __future__ import annotations

import click

from nlihw.hdl.nli.params import ARCHS, ENGINE_PIPELINE, STORAGES, NLIEngineParams
from nlihw.luts.table import NLITable

_NO_VERIFY = "nlihw.no_verify"      # click context meta key set by --no-verify
_PIPELINE = "nlihw.pipeline"        # ... and by --pipeline


def _remember_no_verify(ctx, param, value):
    ctx.meta[_NO_VERIFY] = bool(value)


def _remember_pipeline(ctx, param, value):
    ctx.meta[_PIPELINE] = value


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
        click.option("--top", "top_name", default="nli_engine", show_default=True,
                     help="Verilog top module name."),
        # not passed to the command function (keeps its signature); params_from_options reads it
        click.option("--no-verify", is_flag=True, expose_value=False, callback=_remember_no_verify,
                     help="Load tables whose sha256 is missing or stale (every other check still "
                          "applies)."),
        click.option("--pipeline", default="none", show_default=True, metavar="SPEC",
                     expose_value=False, callback=_remember_pipeline,
                     help="Optional register points (parallel and binary): none, all, a depth 0.."
                          f"{len(ENGINE_PIPELINE.points)} (enabled in the order "
                          f"{', '.join(ENGINE_PIPELINE.prefer)}), or comma-separated point names. "
                          "Each adds one cycle of latency; values never change."),
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
    return NLIEngineParams(tuple(NLITable.load(t, verify=verify) for t in tables), arch=arch, lanes=lanes,
                           storage=storage, top_name=top_name, pipeline=pipeline)
