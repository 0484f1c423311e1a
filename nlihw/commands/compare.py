"""``nlihw compare``: NLI against uniform PWL and a full LUT at equal accuracy, synthesized (a small
sweep: the candidate points run through the sweep machinery into a results directory)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import click
from rich.console import Console

from nlihw.atomic import OutputSet
from nlihw.errors import ParamsError
from nlihw.explore.comparison import NAMES, TARGETS, check_domain, compare, plan, summary, summary_table
from nlihw.luts.fitter import MAX_GRID, check_grid
from .fit import check_outputs, parse_domain
from .executor_options import check_executor, executor_options


@click.command("compare")
@click.option("--func", required=True, help="Function (silu, gelu, exp, ...) or module:function.")
@click.option("--in", "in_fmt", default="s4.12", show_default=True, help="Input format.")
@click.option("--out", "out_fmt", default="s4.12", show_default=True, help="Output format.")
@click.option("--max-err", type=float, required=True, help="Error bound in output LSBs (max-abs), finite and > 0.")
@click.option("--domain", help="Real input range LO:HI (default: the function's, else the whole format).")
@click.option("--grid", type=int, default=None,
              help=f"Candidate cutpoints of the NLI fits, 2..{MAX_GRID} (default: as nlihw fit).")
@click.option("--target", "targets", multiple=True, type=click.Choice(list(TARGETS)),
              default=("generic",), show_default=True, help="Synthesis targets (repeatable).")
@click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("build/compare"), show_default=True,
              help="OUTDIR/<func> holds the sweep results (points/, results.csv, results.parquet, "
                   "spec.toml) and compare.json; points already there are not recomputed.")
@executor_options
def command(func, in_fmt, out_fmt, max_err, domain, grid, targets, outdir, jobs, scheduler):
    """Find each architecture's cheapest design meeting --max-err, synthesize them, print them side
    by side with the area ratios to NLI. NLI candidates (each K, multiplier or shift micro step,
    each with the fewest cutpoints meeting the bound) are sized by synthesis on the first
    --target; the candidates run as a sweep (cached per point, like nlihw sweep).

    Example: nlihw compare --func silu --in s4.12 --out s4.12 --max-err 2 --target generic --target ecp5
    """
    if not (math.isfinite(max_err) and max_err > 0):
        raise ParamsError(f"--max-err must be finite and > 0 LSB, got {max_err}")
    check_grid(grid)
    check_executor(jobs, scheduler)
    dom = parse_domain(domain)
    check_domain(dom)
    targets = tuple(dict.fromkeys(targets))
    work = outdir / func.replace(":", "_")
    report = work / "compare.json"
    check_outputs({"compare.json": report})
    if work.exists() and not work.is_dir():
        raise ParamsError(f"{work}: is not a directory")
    err = Console(stderr=True)
    with err.status("choosing design points ...") as status:
        plan(func, in_fmt, out_fmt, max_err, dom, grid, status.update, work)
    c = compare(func, in_fmt, out_fmt, max_err, targets, work, dom, grid, jobs=jobs,
                scheduler=scheduler, quiet=False, console=err)
    head, lines = summary(c.rows, targets)
    Console(width=200).print(summary_table(c.rows, targets, f"{func} {in_fmt} -> {out_fmt}, "
                                                            f"max error <= {max_err} LSB"))
    for r in c.rows:
        if r.note and r.params is not None:
            click.echo(f"note: {NAMES[r.architecture]}: {r.note}")
    outs = OutputSet()
    outs.add_text(report, json.dumps({"function": func, "in": in_fmt, "out": out_fmt,
                                      "max_err_lsb": max_err, "targets": list(targets),
                                      "header": head, "rows": lines,
                                      "point_ids": {NAMES[r.architecture]: {
                                          t: (r.results.get(t) or {}).get("point_id")
                                          for t in targets} for r in c.rows}},
                                     indent=1, sort_keys=True) + "\n", "compare.json")
    outs.commit()
    total = sum(s.total for s in c.sweeps[-1:])
    click.echo(f"compare: {total} points ({c.computed} computed, {total - c.computed} cached, "
               f"{sum(s.failed for s in c.sweeps[-1:])} failed) -> {work}")
