"""``nlihw sweep``: run a design-space sweep (TOML spec and/or range options) into a results
directory, computing only the points it does not hold yet."""
from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from nlihw import verbosity
from nlihw.errors import ParamsError
from nlihw.explore import cache
from nlihw.explore.examples import resolve_spec
from nlihw.explore.spec import SCALAR_ONLY, SpecError, load_spec_text, parse_spec
from nlihw.explore.sweep import cached_record, run_sweep
from .executor_options import check_executor, executor_options

# option -> (block, key, type)
RANGES = [
    ("--stages", "sweep", "stages", str, "Stages: fit, gen, verify, synth (default fit,gen)."),
    ("--func", "nli", "func", str, "Functions (silu, gelu, exp, ... or module:function)."),
    ("--in", "nli", "in_fmt", str, "Input formats, e.g. s4.12."),
    ("--out", "nli", "out_fmt", str, "Output formats."),
    ("-M", "nli", "M", int, "Macro cutpoints (uniform: at most M cutpoints)."),
    ("-K", "nli", "K", int, "Micro bins per interval."),
    ("--micro-step", "nli", "micro_step", str, "mul, pow2."),
    ("--arch", "nli", "arch", str, "parallel, binary, uniform (PWL), direct (full LUT)."),
    ("--lanes", "all", "lanes", int, "Lanes (every block): the engine's, and the scan unit's state lanes "
                                     "P (default N)."),
    ("--storage", "nli", "storage", str, "rom, ram."),
    ("--metric", "nli", "metric", str, "Fitter objective: max-abs, mean-rel, mse."),
    ("--grid", "nli", "grid", int, "Fitter candidate cutpoints."),
    ("--preset", "scan", "preset", str, "Scan unit presets: int16, int8."),
    ("--d-state", "scan", "d_state", int, "Scan states per channel N."),
    ("--d-inner", "scan", "d_inner", int, "Scan channels (default 8)."),
    ("--tokens", "scan", "tokens", int, "Scan sequence length of the error measurement (one value)."),
    ("--target", "all", "target", str, "Synthesis targets: generic, xcup, ecp5, ice40 (every block)."),
    ("--pipeline", "all", "pipeline", str, "Register points (every block): none, all, a depth, or "
                                           "point names joined by + (e.g. mul_in+round_split)."),
]


def _dest(opt: str) -> str:
    return "r_" + opt.lstrip("-").replace("-", "_")


def range_options(f):
    for opt, _, _, _, help_ in reversed(RANGES):
        f = click.option(opt, _dest(opt), multiple=True, metavar="A,B,..", help=help_)(f)
    return f


def overrides_from(opts: dict) -> dict:
    out: dict = {}
    for opt, block, key, kind, _ in RANGES:
        given = opts.get(_dest(opt)) or ()
        if not given:
            continue
        vals = [v.strip() for item in given for v in item.split(",")]
        if any(not v for v in vals):
            raise SpecError(f"{opt}: empty value in {','.join(given)!r}")
        if kind is int:
            try:
                vals = [int(v) for v in vals]
            except ValueError:
                raise SpecError(f"{opt}: expected integers, got {','.join(given)!r}") from None
        if key in SCALAR_ONLY:
            if len(vals) != 1:
                raise SpecError(f"{opt}: expected one value, got {','.join(map(str, vals))!r}")
            vals = vals[0]
        out.setdefault(block, {})[key] = vals
    return out


@click.command("sweep")
@click.argument("spec", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--results", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Results directory (points/, results.csv, results.parquet, spec.toml); "
                   "points already in it are not recomputed.")
@executor_options
@click.option("--quiet", is_flag=True, help="No progress (the global -q/--quiet, kept here for "
              "older scripts): failures and the summary only.")
@click.option("--retry-failed", is_flag=True, help="Recompute points recorded as failed.")
@click.option("--dry-run", is_flag=True, help="Validate the spec, count the points (and those "
              "already done), run nothing.")
@click.option("--strict", is_flag=True, help="Exit with code 1 when any point failed (for CI); "
              "without it a failed point is a result and the exit code is 0.")
@range_options
def command(spec, results, jobs, scheduler, quiet, retry_failed, dry_run, strict, **ranges):
    """Sweep a design space: every combination of the spec's ranges is a design point (fit, gen,
    verify, synth), cached by a hash of its inputs and the tool versions in RESULTS/points/.
    A failing point is recorded with its error; the others go on. The tidy table goes to
    RESULTS/results.csv and RESULTS/results.parquet.

    SPEC is a TOML file, or the name of a shipped example spec (small, rowop). The range options
    (--func, -M, ...: comma-separated, repeatable) give the ranges without a SPEC file, or
    replace those keys in every block of SPEC. Blocks: [[nli]] (engines), [[scan]] (the
    selective-scan unit), [[softmax]] and [[norm]] (the row units); explore/spec.py documents
    every key.

    A function given as module:function (in SPEC or --func) imports and runs that Python module,
    even with --dry-run: treat a spec like code and sweep only specs you trust.

    Example: nlihw sweep small -o build/sweep -j 2      (a shipped example spec, by name)

    Example: nlihw sweep --func silu,gelu -M 5,9,17 -K 1,8 --stages fit,gen,synth --target generic -o build/sweep
    """
    check_executor(jobs, scheduler)
    over = overrides_from(ranges)
    if spec is not None:
        s, text = load_spec_text(resolve_spec(spec), over)
        text = text if not over else None
    else:
        if "nli" not in over and "scan" not in over:
            raise SpecError("give a SPEC file or the ranges to sweep (at least --func and -M, or "
                            "--preset); see 'nlihw sweep --help'")
        s, text = parse_spec({}, over), None
    if results.exists() and not results.is_dir():
        raise ParamsError(f"{results}: is not a directory")
    err = Console(stderr=True)
    if dry_run:
        done = sum(cached_record(results, p, retry_failed) is not None for p in s.points) \
            if (results / cache.POINTS_DIR).is_dir() else 0
        click.echo(f"sweep: {len(s.points)} points, stages {','.join(s.stages)}; {done} already in "
                   f"{results}, {len(s.points) - done} to compute")
        return
    summary = run_sweep(s, results, jobs=jobs, scheduler=scheduler,
                        quiet=quiet or verbosity.quiet(), console=err,
                        retry_failed=retry_failed, spec_text=text,
                        progress=lambda msg: verbosity.progress(msg, err),
                        detail=lambda msg: verbosity.detail(msg, err))
    click.echo(f"sweep: {summary.total} points ({summary.computed} computed, {summary.cached} cached, "
               f"{summary.failed} failed) in {summary.seconds:.1f} s -> "
               + ", ".join(str(p) for p in summary.tables))
    if strict and summary.failed:
        raise click.exceptions.Exit(1)
