"""``nlihw compare``: NLI against uniform PWL and a full LUT at equal accuracy, synthesized."""
from __future__ import annotations

import json
import math
from pathlib import Path

import click
from rich.console import Console

from nlihw.atomic import OutputSet
from nlihw.comparison import NAMES, choose, summary, summary_table, synthesize
from nlihw.errors import ParamsError
from nlihw.synth.targets import TARGETS
from nlihw.luts.fitter import MAX_GRID, check_grid
from .fit import check_outputs, parse_domain


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
              default=Path("build/compare"), show_default=True, help="Designs, reports and compare.json.")
def command(func, in_fmt, out_fmt, max_err, domain, grid, targets, outdir):
    """Find each architecture's cheapest design meeting --max-err, synthesize them, print them side
    by side with the area ratios to NLI. NLI candidates (each K, multiplier or shift micro step)
    are sized by synthesis on the first --target.

    Example: nlihw compare --func silu --in s4.12 --out s4.12 --max-err 2 --target generic --target ecp5
    """
    if not (math.isfinite(max_err) and max_err > 0):
        raise ParamsError(f"--max-err must be finite and > 0 LSB, got {max_err}")
    check_grid(grid)
    work = outdir / func.replace(":", "_")
    report = work / "compare.json"
    check_outputs({"compare.json": report})
    console = Console(stderr=True)
    with console.status("choosing design points ...") as status:
        rows = choose(func, in_fmt, out_fmt, max_err, parse_domain(domain), grid=grid,
                      progress=status.update, select_target=targets[0], workdir=work)
        synthesize(rows, targets, work, progress=status.update)
    head, lines = summary(rows, targets)
    Console(width=200).print(summary_table(rows, targets, f"{func} {in_fmt} -> {out_fmt}, "
                                                          f"max error <= {max_err} LSB"))
    for r in rows:
        if r.note and r.choice is not None:
            click.echo(f"note: {NAMES[r.architecture]}: {r.note}")
    outs = OutputSet()
    outs.add_text(report, json.dumps({"function": func, "in": in_fmt, "out": out_fmt,
                                      "max_err_lsb": max_err, "targets": list(targets),
                                      "header": head, "rows": lines},
                                     indent=1, sort_keys=True) + "\n", "compare.json")
    outs.commit()
