"""The options both generators (``nlihw gen`` and ``nlihw scan gen``) take for what they write."""
from __future__ import annotations

from pathlib import Path

import click


def gen_outputs(f):
    """``-o/--outdir`` (required) and ``--testbench``."""
    f = click.option("--testbench", is_flag=True,
                     help="Also write <top>_tb.sv, a self-checking SystemVerilog testbench with $readmemh "
                          "vectors from the golden model (runs in Icarus -g2012, Verilator --binary "
                          "--timing, ...), and a 'sim' target in the FuseSoC core that runs it.")(f)
    return click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path),
                        required=True, help="Output directory.")(f)
