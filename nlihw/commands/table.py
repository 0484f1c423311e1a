"""``nlihw table show FILE``: summarize a table file."""
from __future__ import annotations

import json
from pathlib import Path

import click

from nlihw.luts.table import NLITable
from nlihw.luts.table_errors import domain_code_count
from .table_names import resolve_table


def _code_text(fmt, raw: int) -> str:
    """A float code as its value and hex pattern, e.g. ``1.5 (0x3e00)``."""
    digits = (fmt.width + 3) // 4
    return f"{float(fmt.to_real(raw)):g} (0x{raw:0{digits}x})"


def float_clamp_lines(table: NLITable) -> list[str]:
    """The tails of a table with a float side: values and codes, Inf and NaN included."""
    lay, fin, fout = table.layout, table.layout.in_fmt, table.layout.out_fmt
    c = table.cutpoints

    def x_text(raw):
        return _code_text(fin, raw) if lay.in_float else f"{raw * fin.lsb:g} (raw {raw})"

    def out(tail, b):
        mode = tail.mode.value
        if mode == "zero":
            return "zero (+0)" if fout.is_float else "zero"
        if mode == "identity":
            inf = ", +-Inf stay +-Inf" if fout.is_float and fout.has_inf else ""
            return f"identity: y = x rounded to nearest even into {fout}, saturating{inf}"
        if mode == "linear":
            slope = "x" if tail.shift == 0 else f"2^{tail.shift} x"
            b_text = _code_text(fout, b) if fout.is_float else f"{b * fout.lsb:g} (raw {b})"
            how = ("the exact sum rounded once to nearest even" if fout.is_float else
                   f"{slope} rounded to nearest even, plus b")
            inf = ", +-Inf stay +-Inf" if fout.is_float and fout.has_inf else ""
            return f"linear: y = {slope} + b, b = {b_text}: {how} into {fout}, saturating{inf}"
        return f"clamp to {_code_text(fout, b) if fout.is_float else f'{b * fout.lsb:g} (raw {b})'}"

    below = "x < " + x_text(c[0]) + (" and -Inf" if lay.in_float and fin.has_inf else "")
    above = "x >= " + x_text(c[-1]) + (" and +Inf" if lay.in_float and fin.has_inf else "")
    lines = [f"{below}: {out(table.tail_lo, table.clamp_lo)}",
             f"{above}: {out(table.tail_hi, table.clamp_hi)}"]
    if lay.in_float:
        nan = _code_text(fout, fout.canonical_nan) if fout.is_float else "0"
        lines.append(f"NaN: {'the canonical NaN ' + nan if fout.is_float else nan}")
    return lines


def clamp_lines(table: NLITable) -> list[str]:
    """What the engine outputs left of the first cutpoint and from the last one on (real and raw)."""
    fin, fout = table.layout.in_fmt, table.layout.out_fmt
    if fin.is_float or fout.is_float:
        return float_clamp_lines(table)
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


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def error_line(e) -> str:
    """One line of recorded errors; meta is free-form, so anything else is shown as it is."""
    if isinstance(e, dict) and all(_is_num(e.get(k)) for k in ERROR_KEYS):
        if _is_num(e.get("max_ulp")):          # a float output: ulps of the output format
            return (f"max-abs {e['max_abs']:.3g} at x={e['worst_input']:g}, max {e['max_ulp']:.3f} "
                    f"ulp, mean-rel {e['mean_rel']:.3g} over {e['eval_codes']} codes")
        return (f"max-abs {e['max_abs']:.3g} ({e['max_abs_lsb']:.3f} LSB) at x={e['worst_input']:g}, "
                f"mean-rel {e['mean_rel']:.3g}, rms {e['rms_lsb']:.3f} LSB over {e['eval_codes']} codes")
    text = json.dumps(e, sort_keys=True)
    return f"(not in the usual form) {text[:200]}{'...' if len(text) > 200 else ''}"


def cutpoint_text(table: NLITable) -> str:
    """The cutpoints as input values (codes in hex for a float input)."""
    fin = table.layout.in_fmt
    if fin.is_float:
        return ", ".join(_code_text(fin, c) for c in table.cutpoints)
    return ", ".join(f"{c * fin.lsb:g}" for c in table.cutpoints)


def print_summary(table: NLITable) -> None:
    lay = table.layout
    click.echo(f"{table.function}: {lay.in_fmt} -> {lay.out_fmt}, M={lay.M}, K={lay.K}, "
               f"micro_step={lay.micro_step.value}, t_bits={lay.t_bits}, rounding={lay.rounding.value}")
    if lay.in_float:
        click.echo(f"  float input: positions floor(x 2^{lay.x_frac_bits}), dx {lay.dx_bits} bits")
    if lay.out_float:
        click.echo(f"  float output: {lay.value_bits}-bit mantissas, block exponents "
                   f"{', '.join(str(e) for e in table.exponents)} (range {lay.exp_range[0]}.."
                   f"{lay.exp_range[1]}, {lay.exp_bits} bits)")
    click.echo(f"  domain [{table.domain[0]:g}, {table.domain[1]:g}], {lay.n_values} stored values, "
               f"cutpoints {cutpoint_text(table)}")
    first, *rest = clamp_lines(table)
    click.echo(f"  outside the cutpoints: {first}")
    for line in rest:
        click.echo(f"                         {line}")
    for key, label in (("errors_unrefined", "unrefined"), ("errors", "errors"),
                       ("errors_all_codes", "all codes")):
        if key in table.meta:
            click.echo(f"  {label}: {error_line(table.meta[key])}")
    for line in sample_lines(table):
        click.echo(f"  {line}")
    click.echo(f"  sha256 {table.sha256}")


def sample_lines(table: NLITable) -> list[str]:
    """Where the fit or its statistics saw only a sample of the domain's codes, say so."""
    meta, lines = table.meta, []
    total = domain_code_count(table)
    errors = meta.get("errors")
    n = errors.get("eval_codes") if isinstance(errors, dict) else None
    if meta.get("sampled_eval") is True:
        of = f"{n:,} of {total:,}" if _is_num(n) else f"the {total:,}"
        lines.append(f"statistics from a sample of {of} codes")
    if _is_num(meta.get("fit_sample_codes")):
        lines.append(f"cutpoints placed on a sample of {meta['fit_sample_codes']:,} of {total:,} codes")
    return lines


@click.group("table")
def command():
    """Inspect NLI table files."""


@command.command("show")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-verify", is_flag=True,
              help="Load a table whose sha256 is missing or stale (every other check still applies).")
def show(file, no_verify):
    """Validate a table file (or a shipped table by name, e.g. silu_M11_K32) and print its
    layout, cutpoints, clamps and errors."""
    print_summary(NLITable.load(resolve_table(str(file), "table show"), verify=not no_verify))
