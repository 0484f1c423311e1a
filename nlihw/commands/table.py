"""``nlihw table show FILE``: summarize a table file."""
from __future__ import annotations

from pathlib import Path

import click

from nlihw.luts.table import NLITable


def print_summary(table: NLITable) -> None:
    lay = table.layout
    click.echo(f"{table.function}: {lay.in_fmt} -> {lay.out_fmt}, M={lay.M}, K={lay.K}, "
               f"micro_step={lay.micro_step.value}, t_bits={lay.t_bits}, rounding={lay.rounding.value}")
    click.echo(f"  domain [{table.domain[0]:g}, {table.domain[1]:g}], {lay.n_values} stored values, "
               f"cutpoints {', '.join(f'{c * lay.in_fmt.lsb:g}' for c in table.cutpoints)}")
    for key, label in (("errors_unrefined", "unrefined"), ("errors", "errors")):
        e = table.meta.get(key)
        if e:
            click.echo(f"  {label}: max-abs {e['max_abs']:.3g} ({e['max_abs_lsb']:.3f} LSB) at "
                       f"x={e['worst_input']:g}, mean-rel {e['mean_rel']:.3g}, rms {e['rms_lsb']:.3f} LSB"
                       f" over {e['eval_codes']} codes")
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
