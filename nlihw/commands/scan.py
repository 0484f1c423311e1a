"""``nlihw scan``: the fused Mamba selective-scan unit: generate, verify on Verilator, measure error."""
from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

import click
import numpy as np
from click.core import ParameterSource
from rich.console import Console

from nlihw.atomic import OutputSet, check_destination
from nlihw.errors import ParamsError
from nlihw.hdl.nli.params import ENGINE_PIPELINE
from nlihw.hdl.scan.generate import generate
from nlihw.hdl.scan.params import BACKPRESSURE, FORMAT_FIELDS, MODES, PIPELINE, PRESETS, preset
from nlihw.hdl.scan.params_file import load_params, save_params
from nlihw.hdl.scan.unit import hazard_free, latency, loop_depth
from nlihw.host_tools import require_host_tools
from nlihw.luts.default_tables import build_defaults, check_jobs, compare_with_shipped, comparison_report
from nlihw.luts.scan_tables import SPECS, scan_tables_dir
from nlihw.luts.table import NLITable
from nlihw.sim.common import runner
from nlihw.sim.common.runner import first_failure
from nlihw.sim.scan import bench as sb, stimulus, verilog_testbench
from nlihw.sim.scan.accuracy import budget_table, clipped_inputs, error_budget, path_rows, path_table
from nlihw.sim.scan.activations import load_activations
from nlihw.sim.scan.calibrate import calibrate
from .gen_options import gen_outputs
from .output_dir import check_writable_dir
from .table_names import resolve_table

ROUNDINGS = ["nearest-even", "nearest-away", "toward-zero", "floor"]
MAX_TOKENS = 65536
# bounds that keep a run within memory and the simulation time limit
MAX_SIM_OUTPUTS = 1 << 20        # scan sim: tokens x d_inner
MAX_ERROR_STATES = 1 << 23       # scan error: tokens x d_inner x d_state (about 200 bytes each)


def scan_options(f):
    for opt in reversed([
        click.option("--preset", "preset_name", type=click.Choice(list(PRESETS)), default="int16",
                     show_default=True, help="Formats and tables: int16 (16-bit I/O, 27-bit state) "
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
        click.option("--multipliers", default="infer", show_default=True, metavar="SPEC",
                     help="How products are built: infer (a * b; the synthesis tool maps them), or the target's DSP "
                          "operand widths (ecp5 = 18x18u, xcup = 27x18, or AxB; u: the block also takes unsigned operands of "
                          "those widths): each product one DSP multiply, "
                          "the high bits' partial products in the fabric; AxB/F: products with an operand of "
                          "at most F bits all in the fabric. Values never change."),
        click.option("--backpressure", type=click.Choice(BACKPRESSURE), default="stall",
                     show_default=True,
                     help="stall: every register of a section advances with its output's ready. credit: "
                          "nothing from the front to C . h waits on a ready, so no clock enable spans the "
                          "P lanes; a queue after C . h and credits at the front take the back-pressure "
                          "(2 cycles more latency). Values never change."),
        click.option("--params", "params_file", type=click.Path(dir_okay=False, path_type=Path),
                     default=None, help="A params file (nlihw scan calibrate -o): its formats, "
                     "tables, sizes, mode, gate and rounding replace the preset's; only --lanes, "
                     "--top, the pipelines, --multipliers and --backpressure may be given with it."),
    ]):
        f = opt(f)
    return f


# options a params file fixes (given with --params, they are an error)
FILE_FIXED = {"preset_name": "--preset", "d_inner": "--d-inner", "d_state": "--d-state",
              "mode": "--mode", "headdim": "--headdim", "no_gate": "--no-gate",
              "rounding": "--rounding", "formats": "--format", "tables": "--table"}


def _params_from_file(path, lanes, top_name, pipeline, engine_pipeline, multipliers, backpressure):
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        for name, flag in FILE_FIXED.items():
            if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE:
                raise ParamsError(f"{flag} cannot be given with --params (the params file sets it)")
    p = load_params(path)
    return p.replace(lanes=p.lanes if lanes is None else lanes, top_name=top_name,
                     pipeline=pipeline, engine_pipeline=engine_pipeline, multipliers=multipliers,
                     backpressure=backpressure)


def params_from_options(preset_name, d_inner, d_state, lanes, mode, headdim, no_gate, rounding,
                        formats, tables, top_name, pipeline="none", engine_pipeline="none",
                        params_file=None, multipliers="infer", backpressure="stall"):
    if params_file is not None:
        return _params_from_file(params_file, lanes, top_name, pipeline, engine_pipeline,
                                 multipliers, backpressure)
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
        over[key] = NLITable.load(resolve_table(value))
    if mode == "mamba1" and headdim is not None:
        raise ParamsError("--headdim applies to --mode mamba2 only")
    if headdim is None:
        headdim = d_inner if mode == "mamba2" else 1
    return preset(preset_name, d_inner=d_inner, d_state=d_state, lanes=lanes, mode=mode,
                  headdim=headdim, gate=not no_gate, rounding=rounding, top_name=top_name,
                  pipeline=pipeline, engine_pipeline=engine_pipeline, multipliers=multipliers,
                  backpressure=backpressure, **over)


@click.group("scan")
def command():
    """The fused Mamba selective-scan unit (softplus, exp and SiLU on NLI engines)."""


@command.command("gen")
@scan_options
@gen_outputs
def gen(outdir, testbench, **opts):
    """Generate deterministic Verilog (and SystemVerilog), manifest, filelist, waivers, FuseSoC core.

    Example: nlihw scan gen --preset int16 --d-inner 64 --d-state 16 --lanes 16 -o build/scan
    """
    p = params_from_options(**opts)
    click.echo(f"generating {p.top_name} (this elaborates {p.exp_lanes + 2} NLI engines) ...", err=True)
    paths = generate(p, outdir, testbench=verilog_testbench.testbench(p) if testbench else None)
    click.echo(f"{p.top_name}: {p.mode}, d_inner {p.d_inner}, d_state {p.d_state}, {p.lanes} lane(s) "
               f"({p.steps} clock(s) per (token, channel)), latency {latency(p)} cycles, "
               f"pipeline {p.pipeline}, engine pipeline {p.engine_pipeline}, multipliers {p.multipliers}, "
               f"backpressure {p.backpressure}")
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
    if not 0 <= stall < 1:
        raise ParamsError(f"--stall must be in [0, 1), got {stall}")
    if not 1 <= sequences <= tokens:
        raise ParamsError(f"--sequences must be in 1..tokens ({tokens}), got {sequences}")
    p = params_from_options(**opts)
    if tokens * p.d_inner > MAX_SIM_OUTPUTS:
        raise ParamsError(f"--tokens {tokens} with --d-inner {p.d_inner}: {tokens * p.d_inner:,} "
                          f"outputs, at most {MAX_SIM_OUTPUTS:,} per run")
    require_host_tools("nlihw scan sim")
    keep = workdir is not None or waves
    work = workdir or Path(tempfile.mkdtemp(prefix="nlihw-scan-sim-"))
    try:
        click.echo(f"building {p.top_name} on Verilator (cached by content) ...", err=True)
        built = sb.build_scan(p, work / "rtl", waves=waves, build_root=runner.cache_build_root())
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
            click.echo(f"first failure: {first_failure(r.log)}", err=True)
            raise SystemExit(1)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


INPUT_FAMILIES = ("bench", "heavy-tailed")


def scan_inputs(p, inputs: str, tokens: int, seed: int):
    """The inputs of ``scan error``: a generated family, or a model's activations (.npz)."""
    hd = p.headdim if p.mode == "mamba2" else None
    if inputs in INPUT_FAMILIES:
        draw = stimulus.mamba_inputs if inputs == "bench" else stimulus.heavy_tailed_inputs
        return draw(p.d_inner, p.d_state, tokens, np.random.default_rng(seed), mode=p.mode,
                    headdim=hd)
    if not inputs.endswith(".npz") and not Path(inputs).exists():
        raise ParamsError(f"--inputs must be {', '.join(INPUT_FAMILIES)} or an .npz file, got {inputs!r}")
    x = load_activations(inputs)
    shape = (x.u.shape[-2], x.B.shape[-2], "mamba2" if x.A.ndim == 1 else "mamba1", x.headdim)
    if shape != (p.d_inner, p.d_state, p.mode, hd):
        raise ParamsError(f"{inputs}: the activations are D_inner {shape[0]}, N {shape[1]}, "
                          f"{shape[2]}" + (f" (headdim {shape[3]})" if shape[3] else "")
                          + f"; the unit is D_inner {p.d_inner}, N {p.d_state}, {p.mode}"
                          + (f" (headdim {hd})" if hd else ""))
    if p.gate and x.z is None:
        raise ParamsError(f"{inputs}: the activations have no z; use --no-gate")
    return x


def check_states(tokens: int, p, source: str = "") -> None:
    """Refuse a run whose state updates (tokens x D_inner x N) would not fit in memory; ``source``
    names an activations file (else the sizes came from the options)."""
    states = tokens * p.d_inner * p.d_state
    if states > MAX_ERROR_STATES:
        what = (f"{source}: {tokens:,} tokens with D_inner {p.d_inner} and N {p.d_state}" if source
                else f"--tokens {tokens} with --d-inner {p.d_inner} and --d-state {p.d_state}")
        raise ParamsError(f"{what}: {states:,} state updates, at most {MAX_ERROR_STATES:,}")


def print_error_report(p, x, title: str, budget: bool = True):
    """The full output beside the scan path alone (D = 0), then the full output's error budget."""
    con = Console(width=140)
    rows = path_rows(p, x)
    con.print(path_table(rows, f"{title}: golden model (bit-exact RTL) vs float64 reference"))
    if budget:
        con.print(budget_table(error_budget(p, x), f"{title}: error budget of the full output"))
    if rows[0].get("overflow"):
        click.echo(f"note: the sticky overflow flag is set ({rows[0]['saturated_beats']} of "
                   f"{rows[0]['beats']} beats saturated)")
    if rows[0].get("clamped_beats"):
        click.echo(f"note: the sticky clamped flag is set ({rows[0]['clamped_beats']} of {rows[0]['beats']} "
                   f"beats had delta + bias below {p.delta_fmt}: dt off by at most "
                   f"{math.log1p(math.exp(p.delta_fmt.min_raw * p.delta_fmt.lsb)):.2g})")
    clipped = _clipped_text(clipped_inputs(p, x))
    if clipped:
        click.echo(f"note: inputs clipped by their formats (host-side quantization, no flag): {clipped}")
    return rows


def _clipped_text(clipped: dict) -> str:
    return ", ".join(f"{k} {100 * v:.4g} %" for k, v in clipped.items() if v > 0)


@command.command("error")
@scan_options
@click.option("--tokens", type=click.IntRange(1, MAX_TOKENS), default=1024, show_default=True,
              help=f"Sequence length L of generated inputs (tokens x d_inner x d_state at most "
                   f"{MAX_ERROR_STATES:,}: about 1.6 GB of memory).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Random seed.")
@click.option("--inputs", default="bench", show_default=True, metavar="bench|heavy-tailed|FILE.npz",
              help="bench: Mamba-initialised layer (normal u, z, B, C); heavy-tailed: Student-t(3) "
                   "u and z, A = -(1..N), dt log-uniform in [1e-3, 1e-1]; or a model's "
                   "activations (see scan calibrate; --tokens and --seed then do not apply).")
def error(tokens, seed, inputs, **opts):
    """Error of the unit's output against the float64 selective_scan_ref: the full output and the
    scan path alone (D = 0), each with its own I/O quantization floor and saturated-beat
    fractions; then the error budget (each approximation replaced by exact float64 in turn).

    Example: nlihw scan error --preset int16 --tokens 1024 --inputs heavy-tailed
    """
    p = params_from_options(**opts)
    if inputs in INPUT_FAMILIES:
        check_states(tokens, p)
    x = scan_inputs(p, inputs, tokens, seed)
    check_states(x.u.size // p.d_inner, p, "" if inputs in INPUT_FAMILIES else inputs)
    name = opts["preset_name"] if opts.get("params_file") is None else opts["params_file"].name
    print_error_report(p, x, f"{p.top_name} ({name}, {p.mode}, {inputs}), L={x.u.shape[-1]}, "
                             f"D_inner={p.d_inner}, N={p.d_state}")


@command.command("calibrate")
@click.option("--activations", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="A model's scan activations (.npz, numpy.savez): u, delta, A, B, C and "
                   "optionally z, D, delta_bias, shaped as selective_scan_ref takes them.")
@click.option("--preset", "preset_name", type=click.Choice(list(PRESETS)), default="int16",
              show_default=True, help="Word sizes and (shipped, not refitted) tables to keep.")
@click.option("--max-saturation", type=click.FloatRange(0, 1, max_open=True), default=1e-5,
              show_default=True, help="Largest fraction of beats any format may saturate on.")
@click.option("--headroom", type=click.IntRange(0, 8), default=1, show_default=True,
              help="Integer bits added above the data's range (not to A and D).")
@click.option("--refit/--no-refit", default=True, show_default=True,
              help="Refit the SiLU / softplus table when z / delta + delta_bias exceed the shipped "
                   "table's input format (about 30-150 s per 16-bit table); --no-refit keeps the "
                   "shipped tables and reports the clipping.")
@click.option("--lanes", type=int, default=None, help="State lanes P (default N).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The params file to write (for scan gen|sim|error --params).")
def calibrate_(activations, preset_name, max_saturation, headroom, refit, lanes, output):
    """Choose the unit's fixed-point formats from a model's activations: the fewest integer bits
    that keep saturation under --max-saturation of beats, at the preset's word sizes; print the
    error on that data and write a params file.

    Example: nlihw scan calibrate --activations layer3.npz --preset int16 -o layer3.params.json
    """
    check_destination(output)
    x = load_activations(activations)
    check_states(x.u.size // x.u.shape[-2], preset(preset_name, d_inner=x.u.shape[-2],
                                                   d_state=x.B.shape[-2]), str(activations))
    c = calibrate(x, preset_name, max_saturation=max_saturation, headroom=headroom, lanes=lanes,
                  refit=refit, progress=lambda m: click.echo(m, err=True))
    p = c.params
    click.echo(f"{preset_name} word sizes, {p.mode}, D_inner {p.d_inner}, N {p.d_state}, "
               f"gate {'on' if p.gate else 'off'}:")
    for f in FORMAT_FIELDS:
        click.echo(f"  {f:10s} {str(getattr(p, f)):7s} (preset {PRESETS[preset_name][f]}, "
                   f"|value| up to {c.magnitude[f]:.4g})")
    click.echo(f"  tables     softplus {p.delta_fmt} -> {p.dt_fmt}, exp {p.w_fmt} -> {p.da_fmt}, "
               f"silu {p.z_fmt} -> {p.g_fmt}"
               + (f" (refitted: {', '.join(c.refitted)})" if c.refitted else " (shipped)"))
    if c.widened:
        click.echo(f"widened after the golden-model check: {', '.join(c.widened)}")
    if c.unmet:
        click.echo(f"warning: {', '.join(c.unmet)} saturate(s) on more than --max-saturation of "
                   f"beats even with no fraction bits: the {preset_name} word is too narrow for "
                   f"this data", err=True)
    tables = {"delta + delta_bias": p.delta_fmt, "z": p.z_fmt}
    bad = {k: v for k, v in c.clipped.items() if v > max_saturation}
    if bad:
        click.echo(f"warning: clipped beyond --max-saturation: {_clipped_text(bad)} (table inputs: "
                   f"{', '.join(f'{k} {v}' for k, v in tables.items())}"
                   + ("; --refit widens them)" if not refit else ")"), err=True)
    rows = print_error_report(p, x, f"{activations.name} with the calibrated formats", budget=False)
    note = {"activations": activations.name, "preset": preset_name,
            "max_saturation": max_saturation, "headroom": headroom,
            "figures": {r["path"]: {k: r[k] for k in ("rel_rms", "floor_rel_rms", "sat_output",
                                                       "sat_state", "sat_any")} for r in rows},
            "clipped": c.clipped, "refitted": list(c.refitted)}
    out = OutputSet()
    save_params(p, output, note, outputs=out)
    out.commit()
    click.echo(f"wrote {output}")


@command.command("tables")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("build/tables/scan"),
              show_default=True, help="Directory for the fitted tables.")
@click.option("--jobs", type=int, default=None, help="Parallel fits (default: one per core).")
def tables_(out, jobs):
    """Refit the presets' softplus, exp and SiLU tables and compare them with the shipped ones
    (identical hardware and identical files, reported separately)."""
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
