"""``nlihw fit``: fit one NLI table and write it (JSON, optional $readmemh hex and plot)."""
from __future__ import annotations

from pathlib import Path

import click

from nlihw.errors import ParamsError
from nlihw.luts.fitter import DEFAULT_GRID, fit
from nlihw.luts.layout import TableLayout
from nlihw.luts.segment_error import METRICS
from .table import print_summary


def parse_domain(text: str | None):
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise ParamsError(f"--domain must be LO:HI (e.g. -8:0), got {text!r}") from None
    return lo, hi


@click.command("fit")
@click.option("--func", required=True, help="Function name (silu, gelu, exp, ...) or module:function.")
@click.option("--in", "in_fmt", default="s4.12", show_default=True, help="Input format, e.g. s4.12.")
@click.option("--out", "out_fmt", default="s4.12", show_default=True, help="Output format.")
@click.option("-M", "M", type=int, default=11, show_default=True, help="Macro cutpoints.")
@click.option("-K", "K", type=int, default=32, show_default=True, help="Uniform micro bins per macro interval.")
@click.option("--metric", type=click.Choice(METRICS), default="max-abs", show_default=True,
              help="Objective on the quantized hardware output.")
@click.option("--micro-step", type=click.Choice(["mul", "pow2"]), default="mul", show_default=True,
              help="Micro-bin index by per-interval multiplier, or by shift (intervals K*2^s codes).")
@click.option("--t-bits", type=int, default=12, show_default=True, help="Fraction bits of t.")
@click.option("--mul-bits", type=int, default=18, show_default=True, help="Multiplier mantissa width.")
@click.option("--rounding", type=click.Choice(["nearest-even", "nearest-away", "toward-zero", "floor"]),
              default="nearest-even", show_default=True, help="Rounding of the interpolation result.")
@click.option("--domain", help="Real input range LO:HI to fit (default: the function's, else the whole input format).")
@click.option("--grid", type=int, default=None,
              help=f"Candidate cutpoints (default: every code up to 4096 codes, else {DEFAULT_GRID}).")
@click.option("--refine", is_flag=True, help="Re-optimize the stored values after placement.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Table JSON to write.")
@click.option("--hex", "hex_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the values as a $readmemh file.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw f, the approximation, the error and the cutpoints (PNG).")
def command(func, in_fmt, out_fmt, M, K, metric, micro_step, t_bits, mul_bits, rounding, domain,
            grid, refine, output, hex_path, plot):
    """Fit the optimal NLI table for a function and print its error summary.

    Example: nlihw fit --func silu --in s4.12 --out s4.12 -M 11 -K 32 -o silu.json
    """
    if grid is not None and grid < 2:
        raise ParamsError(f"--grid must be >= 2, got {grid}")
    layout = TableLayout(in_fmt, out_fmt, M, K, micro_step, t_bits, mul_bits, rounding)
    result = fit(func, layout, metric=metric, grid=grid, domain=parse_domain(domain),
                 refine=refine, progress=lambda msg: click.echo(f"  {msg}", err=True))
    table = result.table
    table.save(output)
    if hex_path:
        table.save_hex(hex_path)
    if plot:
        from nlihw.luts.plot import plot_fit
        plot_fit(table, plot)
    print_summary(table)
    click.echo(f"fit: {result.grid} candidate cutpoints, {result.seconds:.1f} s -> {output}")
