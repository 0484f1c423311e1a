"""Options shared by the commands that build an engine from table files (gen, sim)."""
from __future__ import annotations

import click

from nlihw.hdl.nli.params import ARCHS, STORAGES, NLIEngineParams
from nlihw.luts.table import NLITable

_NO_VERIFY = "nlihw.no_verify"      # click context meta key set by --no-verify


def _remember_no_verify(ctx, param, value):
    ctx.meta[_NO_VERIFY] = bool(value)


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
    ]):
        f = opt(f)
    return f


def params_from_options(tables, arch, lanes, storage, top_name, verify: bool | None = None) -> NLIEngineParams:
    """Engine parameters from the shared options; ``verify=None`` follows the command's --no-verify."""
    if verify is None:
        ctx = click.get_current_context(silent=True)
        verify = not (ctx is not None and ctx.meta.get(_NO_VERIFY, False))
    return NLIEngineParams(tuple(NLITable.load(t, verify=verify) for t in tables), arch=arch, lanes=lanes,
                           storage=storage, top_name=top_name)
