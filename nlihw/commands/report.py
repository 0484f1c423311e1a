"""``nlihw report``: Pareto plots and a Markdown report of a sweep's results."""
from __future__ import annotations

from pathlib import Path

import click

from nlihw.explore.report import build_report
from nlihw.explore.results_io import load_results


@click.command("report")
@click.argument("results", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory for report.md and plots/ (default: the results directory).")
def command(results: Path, out_dir: Path | None):
    """Write Pareto plots and a Markdown report of the sweep results in RESULTS.

    RESULTS is a sweep's results directory (holding results.parquet or results.csv) or one of
    those files. Per function, formats and target (scan: preset and target) one plot of error
    against area (PNG and SVG; log axes when a figure spans more than two decades), colour per
    architecture family (NLI K>1, NLI K=1 (PWL), uniform PWL, full LUT), marker per search
    architecture, the Pareto front as a step line with its points outlined. report.md has the
    counts, the failed points with their errors, and per group the Pareto-optimal points and
    every point by area. Failed points and points without both figures are never on a front.
    All files are written together or not at all; the SVGs are the same bytes on every run.

    \b
    Examples:
      nlihw report build/sweep
      nlihw report build/sweep/results.csv --out build/sweep-report
    """
    source, rows = load_results(results)
    if out_dir is None:
        out_dir = results if results.is_dir() else source.parent
    rep = build_report(rows, source, out_dir)
    rep.outputs.commit()
    click.echo(f"report: {rep.points} points ({rep.ok} ok, {rep.failed} failed), {rep.groups} "
               f"group{'s' if rep.groups != 1 else ''}, {len(rep.images)} images -> {rep.markdown}")
