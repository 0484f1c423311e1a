"""``nlihw best``: the cheapest design point of a sweep that meets an error bound."""
from __future__ import annotations

import math
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from nlihw.errors import ParamsError
from nlihw.exit_codes import NotMetError
from nlihw.formats import parse_format
from nlihw.explore.query import (
    METRICS,
    UNITS,
    NoPointError,
    describe,
    gen_commands,
    point_settings,
    ranked,
    select,
)
from nlihw.explore.report import arch_label, fmt
from nlihw.explore.results_io import load_results

RUNNERS_UP = 4


def _table(rows: list[dict], metric: str, title: str) -> Table:
    t = Table(title=escape(title))
    cols = [("", None), ("point", "point_id"), ("architecture", "arch"), ("M", "M"), ("K", "K"),
            ("step", "micro_step"), ("lanes", "lanes"), ("storage", "storage"),
            ("in", "in_fmt"), ("out", "out_fmt"), (metric, metric), ("area", "area"),
            ("table bits", "table_bits"), ("latency", "latency")]
    if rows and rows[0].get("design") == "scan":
        cols = [c for c in cols if c[1] not in ("M", "K", "micro_step", "in_fmt", "out_fmt")]
        cols[3:3] = [("preset", "preset"), ("N", "d_state"), ("lanes", "lanes")]
    for head, key in cols:
        t.add_column(head, justify="left" if key in (None, "point_id", "arch", "micro_step",
                                                     "storage", "in_fmt", "out_fmt", "preset")
                     else "right")
    for i, r in enumerate(rows):           # Text: values from the file are never rich markup
        t.add_row(*[Text("best" if key is None and i == 0 else f"#{i + 1}" if key is None
                         else arch_label(r) if key == "arch" else fmt(r.get(key)).replace("\\|", "|"))
                    for _, key in cols])
    return t


def _float_out(row: dict) -> bool:
    try:
        return parse_format(row.get("out_fmt") or "").is_float
    except ValueError:
        return False


@click.command("best")
@click.option("--func", help="Function name, as in the sweep (required for --design nli).")
@click.option("--max-err", "max_err", type=float, required=True,
              help="Error bound, in the unit of --metric (output LSBs by default).")
@click.option("--metric", type=click.Choice(METRICS), default="max_err_lsb", show_default=True,
              help="Error figure the bound applies to (max_err is in real units; rms_err is the "
                   "relative RMS error of scan points).")
@click.option("--target", required=True,
              help="Synthesis target whose area is compared (generic, xcup, ecp5, ice40).")
@click.option("--in-fmt", help="Only points with this input format (e.g. s4.12).")
@click.option("--out-fmt", help="Only points with this output format.")
@click.option("--design", type=click.Choice(["nli", "scan"]), default="nli", show_default=True,
              help="Kind of design point.")
@click.option("--results", type=click.Path(path_type=Path), default=Path("build/sweep"),
              show_default=True, help="Sweep results directory (or its results.parquet/.csv).")
def command(func, max_err, metric, target, in_fmt, out_fmt, design, results):
    """Print the cheapest ok design point of a sweep whose error meets --max-err, its parameters,
    the commands that build it, and the runners-up.

    Cheapest is the least headline area on --target (gate equivalents for generic, LUTs for xcup,
    LUT4s for ecp5 and ice40), then fewer table bits, then lower latency. Failed points and
    points without the error figure or an area are never chosen. When no point meets the bound
    the command prints one line naming the least error the sweep reached and exits with 3
    (2 for bad input: no points, or none of the selected function, target or formats).

    \b
    Examples:
      nlihw best --func silu --max-err 1 --target ecp5
      nlihw best --func gelu --max-err 0.002 --metric max_err --target generic --in-fmt s4.12
      nlihw best --design scan --max-err 0.0003 --metric rms_err --target xcup --results build/scan-sweep
    """
    if not (math.isfinite(max_err) and max_err >= 0):
        raise ParamsError(f"--max-err must be finite and >= 0, got {max_err}")
    if design == "nli" and not func:
        raise ParamsError("--func is required for --design nli")
    source, rows = load_results(results)
    if not rows:
        raise NoPointError(f"{source}: the results table has no points")
    rows = select(rows, func=func if design == "nli" else None, target=target, design=design,
                  in_fmt=in_fmt, out_fmt=out_fmt)
    meeting, closest, missing = ranked(rows, metric, max_err)
    unit = UNITS[metric]
    if unit == "LSB" and rows and all(_float_out(r) for r in rows):
        unit = "ulp"                        # a float output's "LSB" is its ulp at f
    what = f"{func + ' ' if design == 'nli' else 'scan '}on {target}"
    bound = f"{metric} <= {max_err:g}{' ' + unit if unit else ''}"
    if not meeting:
        if closest is None:
            raise NotMetError(f"no ok point of {what} has both {metric} and an area "
                               f"({len(rows)} points in {source})")
        raise NotMetError(f"no ok point of {what} meets {bound}; the least reached is "
                           f"{closest[metric]:.6g}{' ' + unit if unit else ''} "
                           f"(point {closest['point_id']}, {describe(closest)}, area "
                           f"{fmt(closest.get('area'))})")
    shown = meeting[:1 + RUNNERS_UP]
    Console(width=200).print(_table(shown, metric, f"cheapest {what} with {bound}: "
                                    f"{len(meeting)} of {len(rows)} points qualify"))
    best = meeting[0]
    click.echo(f"best: point {best['point_id']} ({describe(best)}), area {fmt(best.get('area'))} "
               f"on {target}; build it with:")
    settings = point_settings(source.parent, best["point_id"])
    for line in gen_commands(best, f"build/best/{best['point_id']}", settings):
        click.echo(f"  {line}")
    if missing:
        click.echo(f"note: {missing} ok point{'s' if missing > 1 else ''} without {metric} or an "
                   f"area {'were' if missing > 1 else 'was'} not considered")
