"""Options shared by the commands that build an engine from table files (gen, sim)."""
from __future__ import annotations

import click

from nlihw.hdl.params import ARCHS, STORAGES, NLIEngineParams
from nlihw.luts.table import NLITable


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
    ]):
        f = opt(f)
    return f


def params_from_options(tables, arch, lanes, storage, top_name) -> NLIEngineParams:
    return NLIEngineParams(tuple(NLITable.load(t) for t in tables), arch=arch, lanes=lanes,
                           storage=storage, top_name=top_name)
