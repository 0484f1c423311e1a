"""``nlihw synth``: area and timing of a generated design with yosys and nextpnr (PyPI wheels)."""
from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console

from nlihw.errors import ParamsError
from nlihw.synth.driver import run_synth
from nlihw.synth.report_table import synth_table
from nlihw.synth.targets import TARGETS


def design_in(directory: Path, top: str | None) -> tuple[Path, str, dict | None]:
    """(Verilog, top, params) of an ``nlihw gen`` output directory (or a directory with one .v)."""
    if not directory.is_dir():
        raise ParamsError(f"{directory}: not a directory (give the output directory of 'nlihw gen')")
    manifests = sorted(directory.glob("*.manifest.json"))
    if manifests and top is None:
        try:
            man = json.loads(manifests[0].read_text())
            top = man["top"]
        except (json.JSONDecodeError, KeyError) as e:
            raise ParamsError(f"{manifests[0]}: not a valid manifest ({e})") from None
        v = directory / f"{top}.v"
        if not v.exists():
            raise ParamsError(f"{v}: missing (the manifest names top {top!r})")
        return v, top, man.get("params")
    vs = sorted(directory.glob("*.v")) if top is None else [directory / f"{top}.v"]
    if len(vs) != 1 or not vs[0].exists():
        raise ParamsError(f"{directory}: expected one Verilog file (or pass --top), found "
                          f"{', '.join(v.name for v in vs) or 'none'}")
    return vs[0], top or vs[0].stem, None


@click.command("synth")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--target", "targets", multiple=True, type=click.Choice(list(TARGETS)),
              default=("generic",), show_default=True,
              help="generic (gate equivalents), xcup (UltraScale+), ecp5 / ice40 (with nextpnr Fmax). Repeatable.")
@click.option("--liberty", type=click.Path(dir_okay=False, path_type=Path),
              help="Your standard-cell liberty file for the generic target (area in its units).")
@click.option("--top", help="Top module (default: from the manifest, or the single .v file).")
def command(directory, targets, liberty, top):
    """Synthesize a generated design and report area and timing; reports go to DIRECTORY/synth/.

    Results are cached by content (design, script, library, tool versions) in ~/.cache/nlihw
    (override with NLIHW_CACHE), so repeated runs are instant.
    """
    verilog, top, params = design_in(directory, top)
    console = Console(stderr=True)
    rows = []
    for tgt in targets:
        with console.status(f"synthesizing {top} for {tgt} ...") as status:
            res = run_synth(verilog, top, tgt, liberty=liberty, params=params,
                            outdir=directory / "synth", progress=lambda m: status.update(m))
        rows.append((top, res.report))
        click.echo(f"{tgt}: {'cached' if res.cached else 'ran'}; report {directory / 'synth' / (tgt + '.json')}",
                   err=True)
    Console(width=140).print(synth_table(rows, f"synthesis of {verilog}"))
