"""``nlihw scan``: the fused Mamba selective-scan unit: generate, verify on Verilator, measure error."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click
from rich.console import Console

from nlihw.errors import ParamsError
from nlihw.hdl.scan.params import FORMAT_FIELDS, MODES, PIPELINE, PRESETS, preset
from nlihw.hdl.nli.params import ENGINE_PIPELINE
from nlihw.luts.table import NLITable
from .output_dir import check_writable_dir

ROUNDINGS = ["nearest-even", "nearest-away", "toward-zero", "floor"]
MAX_TOKENS = 65536
# bounds that keep a run within memory and the simulation time limit
MAX_SIM_OUTPUTS = 1 << 20        # scan sim: tokens x d_inner
MAX_ERROR_STATES = 1 << 23       # scan error: tokens x d_inner x d_state (about 200 bytes each)


def scan_options(f):
    for opt in reversed([
        click.option("--preset", "preset_name", type=click.Choice(list(PRESETS)), default="int16",
                     show_default=True, help="Formats and tables: int16 (16-bit I/O, 32-bit state) "
                     "or int8 (8-bit activations, 24-bit state)."),
        click.option("--d-inner", type=int, default=64, show_default=True, help="Channels (D_inner)."),
        click.option("--d-state", type=int, default=16, show_default=True,
                     help="States per channel (N, a power of two)."),
        click.option("--lanes", type=int, default=None,
                     help="State lanes P (a power of two dividing N; default N: one (token, "
                          "channel) per clock; P < N takes N/P clocks)."),
        click.option("--mode", type=click.Choice(MODES), default="mamba1", show_default=True,
                     help="mamba2: A, delta and delta_bias per head of --headdim channels."),
        click.option("--headdim", type=int, default=None, help="Channels per head (mamba2)."),
        click.option("--no-gate", is_flag=True, help="Leave out the y * SiLU(z) gate."),
        click.option("--rounding", type=click.Choice(ROUNDINGS), default="nearest-even",
                     show_default=True, help="Rounding of every product."),
        click.option("--format", "formats", multiple=True, metavar="FIELD=FMT",
                     help=f"Override a format ({', '.join(FORMAT_FIELDS)}), e.g. state_fmt=s6.26."),
        click.option("--table", "tables", multiple=True, metavar="FUNC=FILE",
                     help="Replace a preset table (softplus, exp, silu) by a table file."),
        click.option("--top", "top_name", default="selective_scan", show_default=True,
                     help="Verilog top module name."),
        click.option("--pipeline", default="none", show_default=True, metavar="SPEC",
                     help="Optional register points: none, all, a depth 0.."
                          f"{len(PIPELINE.points)} (enabled in the order {', '.join(PIPELINE.prefer)}), "
                          "or comma-separated point names. Each adds one cycle of latency; "
                          "values never change."),
        click.option("--engine-pipeline", default="none", show_default=True, metavar="SPEC",
                     help="Register points of the unit's three NLI engines (softplus, exp, SiLU), "
                          "as 'nlihw gen --pipeline': none, all, a depth 0.."
                          f"{len(ENGINE_PIPELINE.points)} or point names."),
    ]):
        f = opt(f)
    return f


def params_from_options(preset_name, d_inner, d_state, lanes, mode, headdim, no_gate, rounding,
                        formats, tables, top_name, pipeline="none", engine_pipeline="none"):
    over = {}
    for item in formats:
        key, sep, value = item.partition("=")
        if not sep or key not in FORMAT_FIELDS:
            raise ParamsError(f"--format must be FIELD=FMT with FIELD one of {', '.join(FORMAT_FIELDS)}, "
                              f"got {item!r}")
        over[key] = value
    for item in tables:
        key, sep, value = item.partition("=")
        if not sep or key not in ("softplus", "exp", "silu"):
            raise ParamsError(f"--table must be softplus=FILE, exp=FILE or silu=FILE, got {item!r}")
        over[key] = NLITable.load(value)
    if mode == "mamba1" and headdim is not None:
        raise ParamsError("--headdim applies to --mode mamba2 only")
    if headdim is None:
        headdim = d_inner if mode == "mamba2" else 1
    return preset(preset_name, d_inner=d_inner, d_state=d_state, lanes=lanes, mode=mode,
                  headdim=headdim, gate=not no_gate, rounding=rounding, top_name=top_name,
                  pipeline=pipeline, engine_pipeline=engine_pipeline, **over)


@click.group("scan")
def command():
    """The fused Mamba selective-scan unit (softplus, exp and SiLU on NLI engines)."""


@command.command("gen")
@scan_options
@click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output directory.")
def gen(outdir, **opts):
    """Generate deterministic Verilog (and SystemVerilog), manifest, filelist, waivers, FuseSoC core.

    Example: nlihw scan gen --preset int16 --d-inner 64 --d-state 16 --lanes 16 -o build/scan
    """
    from nlihw.hdl.scan.generate import generate
    from nlihw.hdl.scan.unit import hazard_free, latency, loop_depth
    p = params_from_options(**opts)
    click.echo(f"generating {p.top_name} (this elaborates {p.exp_lanes + 2} NLI engines) ...", err=True)
    paths = generate(p, outdir)
    click.echo(f"{p.top_name}: {p.mode}, d_inner {p.d_inner}, d_state {p.d_state}, {p.lanes} lane(s) "
               f"({p.steps} clock(s) per (token, channel)), latency {latency(p)} cycles, "
               f"pipeline {p.pipeline}, engine pipeline {p.engine_pipeline}")
    if not hazard_free(p):
        click.echo(f"note: d_inner x N/P = {p.d_inner * p.steps} is less than the state loop's "
                   f"{loop_depth(p)} stages: the unit waits for its own state updates (fewer "
                   f"results per clock)", err=True)
    for kind, path in paths.items():
        click.echo(f"  {kind:13s} {path}")


@command.command("sim")
@scan_options
@click.option("--tokens", type=click.IntRange(1, MAX_TOKENS), default=16, show_default=True,
              help=f"Tokens per run (tokens x d_inner at most {MAX_SIM_OUTPUTS:,}).")
@click.option("--sequences", type=int, default=2, show_default=True,
              help="Sequences joined by 'first' within the run.")
@click.option("--stall", type=float, default=0.5, show_default=True,
              help="Probability of an idle cycle on every input stream and of back-pressure on the output.")
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True,
              help="Random seed.")
@click.option("--waves", is_flag=True, help="Dump a waveform (FST, or VCD where the C++ toolchain lacks "
              "lz4/zlib; the work directory is kept and the file printed).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the Verilog, logs and waves here (default: a temporary directory, removed).")
def sim(tokens, sequences, stall, seed, waves, workdir, **opts):
    """Verify the emitted Verilog on Verilator against the golden model: Mamba-like inputs,
    several sequences, random stalls on every stream. Exit 0 on PASS, 1 on FAIL, 2 on bad input.
    """
    from nlihw.sim.scan import bench as sb
    if not 0 <= stall < 1:
        raise ParamsError(f"--stall must be in [0, 1), got {stall}")
    if not 1 <= sequences <= tokens:
        raise ParamsError(f"--sequences must be in 1..tokens ({tokens}), got {sequences}")
    p = params_from_options(**opts)
    if tokens * p.d_inner > MAX_SIM_OUTPUTS:
        raise ParamsError(f"--tokens {tokens} with --d-inner {p.d_inner}: {tokens * p.d_inner:,} "
                          f"outputs, at most {MAX_SIM_OUTPUTS:,} per run")
    keep = workdir is not None or waves
    work = workdir or Path(tempfile.mkdtemp(prefix="nlihw-scan-sim-"))
    try:
        click.echo(f"building {p.top_name} on Verilator (cached by content) ...", err=True)
        built = sb.build_scan(p, work / "rtl", waves=waves)
        starts = sorted({k * tokens // sequences for k in range(sequences)})
        s = sb.draw(p, tokens, seed=seed, starts=starts)
        click.echo(f"simulating {tokens} tokens x {p.d_inner} channels ...", err=True)
        r = sb.run_bench(built, sb.bench_config(s, stall=stall, seed=seed), work / "run")
        ok = r.tests == 1 and r.failures == 0
        click.echo(f"{'PASS' if ok else 'FAIL'}: {tokens * p.d_inner} outputs, {sequences} sequence(s), "
                   f"stall {stall:g} ({r.seconds:.1f} s)" + (f"; log {r.log}" if keep else ""))
        if keep:
            click.echo(f"work directory (kept): {work}")
        if waves:
            click.echo(f"waves: {built.wave_file(work / 'run')}")
        if not ok:
            from nlihw.sim.common.runner import first_failure
            click.echo(f"first failure: {first_failure(r.log)}", err=True)
            raise SystemExit(1)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


@command.command("error")
@scan_options
@click.option("--tokens", type=click.IntRange(1, MAX_TOKENS), default=1024, show_default=True,
              help=f"Sequence length L (tokens x d_inner x d_state at most {MAX_ERROR_STATES:,}: "
                   f"about 1.6 GB of memory).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Random seed.")
def error(tokens, seed, **opts):
    """Error of the unit's output against the float64 selective_scan_ref on Mamba-like inputs,
    with the error budget: each approximation replaced by exact float64 in turn.

    Example: nlihw scan error --preset int16 --tokens 1024
    """
    import numpy as np
    from nlihw.sim.scan.accuracy import budget_table, error_budget
    from nlihw.sim.scan.stimulus import mamba_inputs
    p = params_from_options(**opts)
    states = tokens * p.d_inner * p.d_state
    if states > MAX_ERROR_STATES:
        raise ParamsError(f"--tokens {tokens} with --d-inner {p.d_inner} and --d-state {p.d_state}: "
                          f"{states:,} state updates, at most {MAX_ERROR_STATES:,}")
    x = mamba_inputs(p.d_inner, p.d_state, tokens, np.random.default_rng(seed), mode=p.mode,
                     headdim=p.headdim if p.mode == "mamba2" else None)
    rows = error_budget(p, x)
    Console(width=120).print(budget_table(rows, f"{p.top_name} ({opts['preset_name']}, {p.mode}): out vs "
                                                f"float64 reference, L={tokens}, D_inner={p.d_inner}, N={p.d_state}"))
    if rows[0].get("overflow"):
        click.echo(f"note: the sticky overflow flag is set ({rows[0]['saturated_beats']} beats saturated)")


@command.command("tables")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("build/tables/scan"),
              show_default=True, help="Directory for the fitted tables.")
@click.option("--jobs", type=int, default=None, help="Parallel fits (default: one per core).")
def tables_(out, jobs):
    """Refit the presets' softplus, exp and SiLU tables and compare them with the shipped ones
    (identical hardware and identical files, reported separately)."""
    import tempfile
    from nlihw.luts.default_tables import build_defaults, check_jobs, compare_with_shipped, comparison_report
    from nlihw.luts.scan_tables import SPECS, scan_tables_dir
    check_jobs(jobs)
    check_writable_dir(out)
    shipped = scan_tables_dir()
    with tempfile.TemporaryDirectory(prefix="nlihw-scan-shipped-") as before:
        for s in SPECS:                      # compare with the copies before this build (--out may be them)
            if (shipped / s.filename).is_file():
                shutil.copyfile(shipped / s.filename, Path(before) / s.filename)
        click.echo(f"fitting {len(SPECS)} tables ...", err=True)
        paths = build_defaults(out, SPECS, jobs, on_done=lambda p: click.echo(f"  {p.name}", err=True))
        report = comparison_report(compare_with_shipped(paths, Path(before)), shipped)
    for p in paths:
        t = NLITable.load(p)
        e = t.meta.get("errors", {})
        click.echo(f"{p.stem:18s} {t.layout.in_fmt} -> {t.layout.out_fmt} M={t.layout.M} K={t.layout.K} "
                   f"max err {e.get('max_abs_lsb', float('nan')):.3f} LSB, mean-rel {e.get('mean_rel', float('nan')):.3g}")
    click.echo(report)
