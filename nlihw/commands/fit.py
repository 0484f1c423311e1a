"""``nlihw fit``: fit one NLI table and write it (JSON, optional $readmemh hex and plot)."""
from __future__ import annotations

import math
import time
from pathlib import Path

import click

from nlihw import verbosity
from nlihw.atomic import OutputError, OutputSet, check_destination
from nlihw.errors import ParamsError
from nlihw.extras import require
from nlihw.formats import Rounding
from nlihw.luts.fit_metrics import METRICS
from nlihw.luts.fitter import DEFAULT_GRID, MAX_GRID, check_grid, fit
from nlihw.luts.float_domains import RULE, derives
from nlihw.luts.functions import get_function
from nlihw.luts.layout import TableLayout
from nlihw.luts.plot import plot_png
from .table import print_summary


def parse_domain(text: str | None):
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise ParamsError(f"--domain must be LO:HI (e.g. -8:0), got {text!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ParamsError(f"--domain must be finite, got {text!r}")
    return lo, hi


class Progress:
    """Progress lines on stderr, only once an operation has run for ``after`` seconds, then at
    most one every ``every`` seconds (short fits stay quiet)."""

    def __init__(self, after: float = 2.0, every: float = 1.0, echo=None):
        self.t0 = time.monotonic()
        self.last = -math.inf
        self.after, self.every = after, every
        self.echo = echo or (lambda msg: click.echo(msg, err=True))

    def __call__(self, msg: str) -> None:
        now = time.monotonic()
        if now - self.t0 >= self.after and now - self.last >= self.every:
            self.last = now
            self.echo(f"  [{now - self.t0:5.1f} s] {msg}")


def check_outputs(named: dict[str, Path | None]) -> None:
    """Refuse, before any work, outputs named twice or that cannot be written (OutputSet checks
    again when writing)."""
    seen: dict[Path, str] = {}
    for option, path in named.items():
        if path is None:
            continue
        key = Path(path).absolute()
        if key in seen:
            raise OutputError(f"{path}: named twice as an output ({seen[key]} and {option})")
        seen[key] = option
        check_destination(Path(path))
        for parent in Path(path).absolute().parents:
            if parent.exists() and not parent.is_dir():
                raise OutputError(f"{path}: {parent} is not a directory")


@click.command("fit")
@click.option("--func", required=True,
              help="Function name (silu, gelu, exp, ...) or module:function. A module:function "
                   "IMPORTS AND RUNS that module (installed or on PYTHONPATH): name only "
                   "code you trust, as with a pytest conftest or a pickle.")
@click.option("--in", "in_fmt", default="s4.12", show_default=True,
              help="Input format: fixed point (s4.12, u1.15) or float (fp16, bf16, fp8e4m3, fp8e5m2).")
@click.option("--out", "out_fmt", default="s4.12", show_default=True, help="Output format (as --in).")
@click.option("-M", "M", type=int, default=11, show_default=True, help="Macro cutpoints.")
@click.option("-K", "K", type=int, default=32, show_default=True, help="Uniform micro bins per macro interval.")
@click.option("--metric", type=click.Choice(METRICS), default=None,
              help="Objective on the quantized hardware output (default: mean-rel for a float "
                   "output, else max-abs). max-ulp (ulps of the output format at f) needs a float "
                   "side.")
@click.option("--micro-step", type=click.Choice(["mul", "pow2"]), default="mul", show_default=True,
              help="Micro-bin index by per-interval multiplier, or by shift (intervals K*2^s codes).")
@click.option("--t-bits", type=int, default=12, show_default=True, help="Fraction bits of t.")
@click.option("--mul-bits", type=int, default=18, show_default=True, help="Multiplier mantissa width.")
@click.option("--rounding", type=click.Choice([r.value for r in Rounding]),
              default="nearest-even", show_default=True, help="Rounding of the interpolation result.")
@click.option("--domain", help="Real input range LO:HI to fit; a float input is fitted on every "
              "finite code inside it. Default: a float input and a built-in function: the "
              "narrowest range beyond which the tails give f rounded into --out at every code "
              "(printed); else the function's (reciprocal, rsqrt), else the whole input format.")
@click.option("--grid", type=int, default=None,
              help=f"Candidate cutpoints, 2..{MAX_GRID} (default: every code up to 4096 codes, "
                   f"else {DEFAULT_GRID}).")
@click.option("--rel-floor", type=float, default=None,
              help="Floor of |f| in the mean-rel metric and statistics (default: max(2^-14, one "
                   "output LSB); 2^-14 for a float output).")
@click.option("--refine", is_flag=True, help="Re-optimize the stored values after placement.")
@click.option("--tail-lo", default=None, metavar="TAIL",
              help="Output below the first cutpoint: clamp, zero, identity (y = x) or linear:S "
                   "(y = 2^S x + b, meeting f at the cutpoint). Default: the function's (silu, "
                   "gelu, softplus zero; exp zero) where the domain stops short of the input "
                   "format, else clamp.")
@click.option("--tail-hi", default=None, metavar="TAIL",
              help="Output from the last cutpoint on (as --tail-lo). Default: the function's "
                   "(silu, gelu, softplus identity) where the domain stops short, else clamp.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Table JSON to write.")
@click.option("--hex", "hex_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the values as a $readmemh file.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw f, the approximation, the error and the cutpoints (PNG).")
def command(func, in_fmt, out_fmt, M, K, metric, micro_step, t_bits, mul_bits, rounding, domain,
            grid, rel_floor, refine, tail_lo, tail_hi, output, hex_path, plot):
    """Fit the optimal NLI table for a function and print its error summary.

    All outputs (-o, --hex, --plot) are written together or not at all.

    Tails (what the engine outputs outside the cutpoints) are part of the fit: their error on
    the domain's codes counts in the objective.

    \b
    Examples:
      nlihw fit --func silu --in s4.12 --out s4.12 -M 11 -K 32 -o silu.json
      nlihw fit --func silu --domain -6:6 --tail-lo zero --tail-hi identity -M 9 -K 8 -o s.json
      nlihw fit --func silu --in fp16 --out fp16 --domain -150:150 -M 11 -K 32 -o silu16.json
    """
    check_grid(grid)
    if rel_floor is not None and not (math.isfinite(rel_floor) and rel_floor > 0):
        raise ParamsError(f"--rel-floor must be finite and > 0, got {rel_floor}")
    check_outputs({"-o": output, "--hex": hex_path, "--plot": plot})
    if plot:
        require("plot", "nlihw fit")                 # --plot: before the fit, not after it
    layout = TableLayout(in_fmt, out_fmt, M, K, micro_step, t_bits, mul_bits, rounding)
    floats = layout.in_float or layout.out_float
    if metric == "max-ulp" and not floats:
        raise ParamsError("--metric max-ulp needs a floating-point side (use max-abs: one LSB is "
                          "one ulp of a fixed-point output)")
    if plot and floats:
        raise ParamsError("--plot draws fixed-point tables only; use 'nlihw table show' for a "
                          f"{layout.in_fmt} -> {layout.out_fmt} table")
    tails = (tail_lo, tail_hi)              # None: that side's default
    progress = Progress(after=0.0 if verbosity.verbose() else 2.0, echo=verbosity.progress)
    result = fit(func, layout, metric=metric, grid=grid, domain=parse_domain(domain),
                 refine=refine, rel_floor=rel_floor, tails=tails, progress=progress)
    table = result.table
    outs = OutputSet()
    outs.add_text(output, table.to_json(), "-o")
    if hex_path:
        outs.add_text(hex_path, "\n".join(table.hex_lines()) + "\n", "--hex")
    if plot:
        outs.add_bytes(plot, plot_png(table), "--plot")
    outs.commit()
    print_summary(table)
    if domain is None and layout.in_float:
        lo, hi = table.domain
        why = RULE if derives(get_function(func), layout) else "the function's or the whole format"
        click.echo(f"  default domain [{lo:g}, {hi:g}] ({func} {layout.in_fmt} -> "
                   f"{layout.out_fmt}: {why}), tails {table.tail_lo}, {table.tail_hi}")
    if "placement" in table.meta:
        pl = table.meta["placement"]
        key = "max_ulp" if "max_ulp" in pl else "max_abs"
        click.echo(f"  placement: {key.replace('_', '-')} {pl[key]:.3g}, mse {pl['mse']:.3g} (least "
                   f"mse among the {key.replace('_', '-')} optima)")
    click.echo(f"  mean-rel floor {float(table.meta['rel_floor']):.3g}")
    click.echo(f"fit: {result.grid} candidate cutpoints, {result.seconds:.1f} s -> {output}")
    if verbosity.verbose():
        _details(result, metric, grid, domain, rel_floor, tails)


def _given(value) -> str:
    return "" if value is not None else " (default)"


def _details(result, metric, grid, domain, rel_floor, tails) -> None:
    """-v: the fitter's settings (given or defaulted) and every error figure of the result."""
    table, stats = result.table, result.stats
    meta, lay = table.meta, table.layout
    verbosity.detail(
        f"fit: settings: metric {meta.get('metric')}{_given(metric)}, {result.grid} candidate "
        f"cutpoints{_given(grid)}, domain [{table.domain[0]:g}, {table.domain[1]:g}]"
        f"{_given(domain)}, tail-lo {table.tail_lo}{_given(tails[0])}, tail-hi {table.tail_hi}"
        f"{_given(tails[1])}, rel-floor {float(meta['rel_floor']):.4g}{_given(rel_floor)}, refine "
        f"{'on' if meta.get('refined') else 'off'}, micro-step {lay.micro_step.value}, t-bits "
        f"{lay.t_bits}, mul-bits {lay.mul_bits}, rounding {lay.rounding.value}, fitter version "
        f"{meta.get('fitter_version')}")
    how = "max" if meta.get("metric") in ("max-abs", "max-ulp") else "sum"
    bound = stats.get("bound")
    verbosity.detail(
        f"fit: DP optimum {result.objective:.6g} ({meta.get('metric')}, {how} over the codes)"
        + (f", pruning bound {bound:.6g}" if isinstance(bound, float) and math.isfinite(bound)
           else "")
        + (f", error matrix {stats['matrix_seconds']:.2f} s" if "matrix_seconds" in stats else "")
        + f", {result.seconds:.2f} s in all")
    for key in ("errors_unrefined", "errors", "errors_all_codes"):
        e = meta.get(key)
        if isinstance(e, dict):
            verbosity.detail(f"fit: {key.replace('_', ' ')}: " + ", ".join(
                f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}" for k, v in e.items()))
