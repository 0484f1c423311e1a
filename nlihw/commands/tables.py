"""``nlihw tables``: the default (shipped) table set: fit it, list it, check it reproduces."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from nlihw.errors import ParamsError
from nlihw.luts.default_tables import (DEFAULT_SPECS, FLOAT_SPECS, SHIPPED_SPECS, build_defaults, check_jobs, compare_with_shipped,
                                      comparison_report, shipped_dir)
from nlihw.luts.table import NLITable
from .output_dir import check_writable_dir
from .table_names import shipped_path


def _num(e: dict, key: str, spec: str) -> str:
    """``e[key]`` formatted with ``spec``; a magnitude of 1e6 or more (a float table's max ulp
    can reach 1e30) in exponent form, so a fixed-point spec never spells out 30 digits."""
    v = e.get(key)
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return "-"
    return format(v, ".3e") if spec.endswith("f") and abs(v) >= 1e6 else format(v, spec)


def summary_table(paths, title) -> Table:
    t = Table(title=title)
    for col in ("table", "in -> out", "domain", "values", "max err (LSB)", "max ulp", "mean rel",
                "rms (LSB)"):
        t.add_column(col, justify="right" if col not in ("table", "in -> out") else "left")
    for p in paths:
        tab = NLITable.load(p)
        e, lay = tab.meta.get("errors"), tab.layout
        e = e if isinstance(e, dict) else {}          # meta is free-form: show what is there
        t.add_row(Path(p).stem, f"{lay.in_fmt} -> {lay.out_fmt}",
                  f"[{tab.domain[0]:g}, {tab.domain[1]:g}]", str(lay.n_values),
                  "-" if lay.out_float else _num(e, "max_abs_lsb", ".3f"),
                  _num(e, "max_ulp", ".3f"), _num(e, "mean_rel", ".2e"),
                  "-" if lay.out_float else _num(e, "rms_lsb", ".3f"))
    return t


@click.group("tables")
def command():
    """The table sets shipped with nlihw: 8 functions x 3 layouts at 16-bit fixed point, and
    7 functions x 3 layouts in fp16 and bf16. gen and sim take their names (--table
    silu_M11_K32), as does 'nlihw table show'; 'nlihw tables path NAME' prints the file."""


@command.command("build")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("build/tables"),
              show_default=True, help="Directory for the fitted tables.")
@click.option("--only", multiple=True, help="Fit only these (file stems such as silu_M11_K32).")
@click.option("--jobs", type=int, default=None, help="Parallel fits (default: one per core; >= 1).")
@click.option("--set", "which", type=click.Choice(["all", "fixed", "float"]), default="all",
              show_default=True, help="Which shipped set: the 24 fixed-point tables, the 42 "
              "fp16/bf16 tables, or both.")
def build(out, only, jobs, which):
    """Fit the default tables into --out (all written, or none), print their errors, and compare them
    with the shipped ones: identical hardware (layout, cutpoints, values, scales, clamps, domain)
    and identical files (the statistics in meta may differ in their last digits between CPUs)."""
    check_jobs(jobs)
    check_writable_dir(out)
    pool = {"all": SHIPPED_SPECS, "fixed": DEFAULT_SPECS, "float": FLOAT_SPECS}[which]
    specs = [s for s in pool if not only or s.filename[:-5] in only]
    unknown = set(only) - {s.filename[:-5] for s in pool}
    if unknown:
        raise ParamsError(f"unknown table(s) {', '.join(sorted(unknown))}; see 'nlihw tables list'")
    console = Console(stderr=True)
    shipped = shipped_dir()
    # compare with the shipped copies as they were before this build (--out may be the shipped dir)
    with tempfile.TemporaryDirectory(prefix="nlihw-shipped-") as before:
        for s in specs:
            if (shipped / s.filename).is_file():
                shutil.copyfile(shipped / s.filename, Path(before) / s.filename)
        with Progress(console=console, transient=True) as prog:
            task = prog.add_task(f"fitting {len(specs)} tables", total=len(specs))
            paths = build_defaults(out, specs, jobs, on_done=lambda p: prog.advance(task))
        comparisons = compare_with_shipped(paths, Path(before))
    Console(width=140).print(summary_table(paths, f"NLI tables fitted into {out}"))
    click.echo(comparison_report(comparisons, shipped))


@command.command("list")
def list_():
    """Summarize the shipped tables."""
    paths = sorted(shipped_dir().glob("*.json"))
    if not paths:
        raise ParamsError(f"no shipped tables in {shipped_dir()}")
    Console(width=140).print(summary_table(paths, f"shipped tables ({shipped_dir()})"))


@command.command("path")
@click.argument("name")
def path(name):
    """Print the installed file of the shipped table NAME (e.g. silu_M11_K32), to copy or to pass
    to tools outside nlihw.

    \b
    Example:
      nlihw tables path silu_M11_K32
    """
    click.echo(shipped_path(name))
