"""``nlihw flow``: the default end-to-end flow (the main job of ``make``)."""
from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from nlihw.errors import ParamsError
from nlihw.flow import run_flow, summary
from .output_dir import check_writable_dir


@click.command("flow")
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("build"),
              show_default=True, help="Output directory.")
@click.option("-j", "--jobs", type=int, default=None, help="Parallel processes (default: one per core).")
@click.option("--scan-gates", is_flag=True,
              help="Also map the scan unit to gates (generic-sram): about 9 more minutes on 2 cores.")
def command(out: Path, jobs: int | None, scan_gates: bool):
    """Run the default flow end to end and print a summary with the paths of every output.

    Steps: fit the default tables (OUT/tables); generate the NLI engine (silu, exp, softplus;
    s4.12 -> s4.12, M=11, K=32) unpipelined and for 150 MHz on ECP5 (the register points 'gen
    --target-mhz 150 --target ecp5' chooses) and verify every input code of each with random
    stalls (OUT/nli, OUT/nli/pipelined); generate the int16 selective-scan unit (D_inner=16, N=16,
    P=1) unpipelined and with every register point and verify both bit-exact with 50 % stalls
    (OUT/scan, OUT/scan/pipelined); synthesize the unpipelined engine (generic, ecp5), the
    unpipelined scan unit (ecp5; with --scan-gates also generic-sram) and both pipelined designs
    (ecp5), and print their latency and ECP5 Fmax unpipelined beside pipelined; run the small
    sweep (silu and gelu, M in {5, 9, 17}, K in {1, 8}, generic) and write its Pareto report
    (OUT/sweep). Synthesis and fits are cached: a second run takes about a minute (the
    exhaustive engine simulations run again).
    Exit code 1 when a step fails (the others still run), 2 on bad options.

    \b
    Examples:
      nlihw flow
      nlihw flow -o build -j 2 --scan-gates
    """
    if jobs is not None and jobs < 1:
        raise ParamsError(f"--jobs must be >= 1, got {jobs}")
    check_writable_dir(out)
    steps = run_flow(out, jobs=jobs, scan_gates=scan_gates)
    Console(width=160).print(summary(steps))
    if any(s.status != "ok" for s in steps):
        raise click.exceptions.Exit(1)
