"""``nlihw table show FILE``: summarize a table file."""
from __future__ import annotations

import json
from pathlib import Path

import click

from nlihw.luts.table import NLITable


def clamp_lines(table: NLITable) -> list[str]:
    """What the engine outputs left of the first cutpoint and from the last one on (real and raw)."""
    fin, fout = table.layout.in_fmt, table.layout.out_fmt
    c = table.cutpoints
    first, last = c[0] * fin.lsb, c[-1] * fin.lsb

    def clamp(x, raw, stored, tail):
        mode = tail.mode.value
        if mode == "zero":
            return "zero"
        if tail.gain:
            slope = "x" if tail.shift == 0 else f"2^{tail.shift} x"
            what = "identity: y = x" if mode == "identity" else f"linear: y = {slope} + {raw * fout.lsb:g}"
            return f"{what} (raw offset {raw}), rounded and saturated to {fout}"
        name = f"f({x:g})" if raw == stored else "the clamp value"     # the fitter stores f(c)
        return f"clamp to {name} = {raw * fout.lsb:g} (raw {raw})"

    if c[0] == fin.min_raw:
        left = f"no left clamp region (the first cutpoint {first:g} is the smallest input)"
    else:
        left = f"x < {first:g} (raw {c[0]}): {clamp(first, table.clamp_lo, table.values[0], table.tail_lo)}"
    if c[-1] > fin.max_raw:
        right = (f"no right clamp region (the last cutpoint {last:g} is one past the largest input "
                 f"{fin.max:g})")
    else:
        right = f"x >= {last:g} (raw {c[-1]}): {clamp(last, table.clamp_hi, table.values[-1], table.tail_hi)}"
    return [left, right]


ERROR_KEYS = ("max_abs", "max_abs_lsb", "worst_input", "mean_rel", "rms_lsb", "eval_codes")


def error_line(e) -> str:
    """One line of recorded errors; meta is free-form, so anything else is shown as it is."""
    if isinstance(e, dict) and all(isinstance(e.get(k), (int, float)) and not isinstance(e.get(k), bool)
                                   for k in ERROR_KEYS):
        return (f"max-abs {e['max_abs']:.3g} ({e['max_abs_lsb']:.3f} LSB) at x={e['worst_input']:g}, "
                f"mean-rel {e['mean_rel']:.3g}, rms {e['rms_lsb']:.3f} LSB over {e['eval_codes']} codes")
    text = json.dumps(e, sort_keys=True)
    return f"(not in the usual form) {text[:200]}{'...' if len(text) > 200 else ''}"


def print_summary(table: NLITable) -> None:
    lay = table.layout
    click.echo(f"{table.function}: {lay.in_fmt} -> {lay.out_fmt}, M={lay.M}, K={lay.K}, "
               f"micro_step={lay.micro_step.value}, t_bits={lay.t_bits}, rounding={lay.rounding.value}")
    click.echo(f"  domain [{table.domain[0]:g}, {table.domain[1]:g}], {lay.n_values} stored values, "
               f"cutpoints {', '.join(f'{c * lay.in_fmt.lsb:g}' for c in table.cutpoints)}")
    left, right = clamp_lines(table)
    click.echo(f"  outside the cutpoints: {left}")
    click.echo(f"                         {right}")
    for key, label in (("errors_unrefined", "unrefined"), ("errors", "errors")):
        if key in table.meta:
            click.echo(f"  {label}: {error_line(table.meta[key])}")
    click.echo(f"  sha256 {table.sha256}")


@click.group("table")
def command():
    """Inspect NLI table files."""


@command.command("show")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-verify", is_flag=True,
              help="Load a table whose sha256 is missing or stale (every other check still applies).")
def show(file, no_verify):
    """Validate a table file and print its layout, cutpoints, clamps and errors."""
    print_summary(NLITable.load(file, verify=not no_verify))
