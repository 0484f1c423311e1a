"""``nlihw compare``: NLI against uniform PWL and a full LUT at equal accuracy, synthesized (a small
sweep: the candidate points run through the sweep machinery into a results directory)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import click
from rich.console import Console

from nlihw import verbosity
from nlihw.atomic import OutputSet
from nlihw.errors import ParamsError
from nlihw.exit_codes import NotMetError
from nlihw.explore import float_comparison as fc
from nlihw.explore.comparison import NAMES, TARGETS, check_domain, compare, plan, summary, summary_table
from nlihw.explore.executor import check_scheduler
from nlihw.formats import parse_format
from nlihw.luts.fitter import MAX_GRID, check_grid
from nlihw.luts.float_baselines import exponent_pwl_table
from .executor_options import check_executor, executor_options
from .fit import check_outputs, parse_domain


@click.command("compare")
@click.option("--func", required=True, help="Function (silu, gelu, exp, ...) or module:function "
              "(imports and runs that Python module: give only code you trust).")
@click.option("--in", "in_fmt", default="s4.12", show_default=True, help="Input format.")
@click.option("--out", "out_fmt", default="s4.12", show_default=True, help="Output format.")
@click.option("--max-err", type=float, default=None,
              help="Fixed-point formats: error bound in output LSBs (max-abs), finite and > 0.")
@click.option("--max-mean-rel", type=float, default=None,
              help="A float side: bound on the mean relative error (floor 2^-14).")
@click.option("--max-ulp", type=float, default=None,
              help="A float side: bound on the max error in output ulps.")
@click.option("--metric", type=click.Choice(["mean-rel", "max-ulp"]), default="mean-rel",
              show_default=True, help="A float side without a bound: the metric of the reference "
                                      "(NLI at the paper's M=11, K=32) every design must match.")
@click.option("--storage", type=click.Choice(["rom", "ram"]), default="rom", show_default=True,
              help="A float side: NLI and NN-LUT tables as constants (rom) or reloadable (ram: "
                   "cutpoints in registers, values in RAM, as the paper's units).")
@click.option("--domain", help="Real input range LO:HI (default: the function's, else the whole format).")
@click.option("--grid", type=int, default=None,
              help=f"Candidate cutpoints of the NLI fits, 2..{MAX_GRID} (default: as nlihw fit).")
@click.option("--target", "targets", multiple=True, type=click.Choice(list(TARGETS)),
              default=("generic",), show_default=True, help="Synthesis targets (repeatable).")
@click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("build/compare"), show_default=True,
              help="OUTDIR/<func> holds the sweep results (points/, results.csv, results.parquet, "
                   "spec.toml) and compare.json; points already there are not recomputed.")
@executor_options
def command(func, in_fmt, out_fmt, max_err, max_mean_rel, max_ulp, metric, storage, domain, grid,
            targets, outdir, jobs, scheduler):
    """Find each architecture's cheapest design meeting --max-err, synthesize them, print them side
    by side with the area ratios to NLI. NLI candidates (each K, multiplier or shift micro step,
    each with the fewest cutpoints meeting the bound) are sized by synthesis on the first
    --target; the candidates run as a sweep (cached per point, like nlihw sweep).

    With a floating-point side (fp16, bf16, fp8...) the baselines are those float designs use:
    NN-LUT-style PWL (NLI with K=1), the exponent-indexed PWL (segments by the code's top bits) and
    the full LUT, at equal --max-mean-rel or --max-ulp; with neither, at the accuracy of NLI at the
    paper's layout (M=11, K=32) in --metric.

    When no architecture has a design meeting the bound the command prints one line with the
    least error each reached and exits with 3 (the sweep results, or with a float side the fitted
    tables, stay in OUTDIR for a rerun); nothing is synthesized and no compare.json is written.

    Examples: nlihw compare --func silu --in s4.12 --out s4.12 --max-err 2 --target generic --target ecp5;
    nlihw compare --func silu --in fp16 --out fp16 --domain -150:150 --target generic --target ecp5
    """
    if parse_format(in_fmt).is_float or parse_format(out_fmt).is_float:
        return _float_command(func, in_fmt, out_fmt, max_err, max_mean_rel, max_ulp, metric,
                              storage, domain, grid, targets, outdir)
    if max_mean_rel is not None or max_ulp is not None or storage != "rom":
        raise ParamsError("--max-mean-rel / --max-ulp / --storage belong to a float comparison; "
                          "fixed-point formats take --max-err (LSB)")
    if max_err is None:
        raise ParamsError("--max-err is required for fixed-point formats (error bound in LSB)")
    if not (math.isfinite(max_err) and max_err > 0):
        raise ParamsError(f"--max-err must be finite and > 0 LSB, got {max_err}")
    check_grid(grid)
    check_executor(jobs, scheduler)
    dom = parse_domain(domain)
    check_domain(dom)
    targets = tuple(dict.fromkeys(targets))
    work = outdir / func.replace(":", "_")
    report = work / "compare.json"
    check_outputs({"compare.json": report})
    if work.exists() and not work.is_dir():
        raise ParamsError(f"{work}: is not a directory")
    if scheduler:
        check_scheduler(scheduler)          # before plans/ is written
    err = Console(stderr=True)
    with verbosity.status(err, "choosing design points ...", prefix="compare: ") as update:
        plan(func, in_fmt, out_fmt, max_err, dom, grid, update, work)
    c = compare(func, in_fmt, out_fmt, max_err, targets, work, dom, grid, jobs=jobs,
                scheduler=scheduler, quiet=verbosity.quiet(), console=err,
                sweep_progress=lambda msg: verbosity.progress(msg, err),
                sweep_detail=lambda msg: verbosity.detail(msg, err))
    if all(r.max_err_lsb is None for r in c.rows):
        why = "; ".join(f"{NAMES[r.architecture]}: {r.note}" for r in c.rows if r.note)
        raise NotMetError(f"no design of any architecture meets max error <= {max_err:g} LSB "
                          f"({why}); the sweep results are in {work}")
    head, lines = summary(c.rows, targets)
    Console(width=200).print(summary_table(c.rows, targets, f"{func} {in_fmt} -> {out_fmt}, "
                                                            f"max error <= {max_err} LSB"))
    for r in c.rows:
        if r.note and r.params is not None:
            click.echo(f"note: {NAMES[r.architecture]}: {r.note}")
    outs = OutputSet()
    outs.add_text(report, json.dumps({"function": func, "in": in_fmt, "out": out_fmt,
                                      "max_err_lsb": max_err, "targets": list(targets),
                                      "header": head, "rows": lines,
                                      "point_ids": {NAMES[r.architecture]: {
                                          t: (r.results.get(t) or {}).get("point_id")
                                          for t in targets} for r in c.rows}},
                                     indent=1, sort_keys=True) + "\n", "compare.json")
    outs.commit()
    total = sum(s.total for s in c.sweeps[-1:])
    click.echo(f"compare: {total} points ({c.computed} computed, {total - c.computed} cached, "
               f"{sum(s.failed for s in c.sweeps[-1:])} failed) -> {work}")


def _float_command(func, in_fmt, out_fmt, max_err, max_mean_rel, max_ulp, metric, storage,
                   domain, grid, targets, outdir):
    """The float comparison (explore/float_comparison.py)."""
    if max_err is not None:
        raise ParamsError("--max-err (LSB) bounds a fixed-point comparison; with a float side use "
                          "--max-mean-rel or --max-ulp")
    if max_mean_rel is not None and max_ulp is not None:
        raise ParamsError("give one bound: --max-mean-rel or --max-ulp")
    limit = max_mean_rel if max_mean_rel is not None else max_ulp
    if max_mean_rel is not None:
        metric = "mean-rel"
    elif max_ulp is not None:
        metric = "max-ulp"
    if limit is not None and not (math.isfinite(limit) and limit > 0):
        raise ParamsError(f"the bound must be finite and > 0, got {limit}")
    if metric == "max-ulp" and not parse_format(out_fmt).is_float:
        raise ParamsError(f"max-ulp needs a float output; {out_fmt} is fixed point (use "
                          f"--max-mean-rel)")
    for t in targets:
        if t not in fc.AREA_KEY:
            raise ParamsError(f"--target {t}: the float comparison synthesizes for "
                              f"{', '.join(fc.AREA_KEY)}")
    check_grid(grid)
    dom = parse_domain(domain)
    targets = tuple(dict.fromkeys(targets))
    work = outdir / f"{func.replace(':', '_')}_{in_fmt}_{out_fmt}"
    report, md = work / "compare.json", work / "compare.md"
    check_outputs({"compare.json": report, "compare.md": md})
    err = Console(stderr=True)
    with verbosity.status(err, "sizing the designs ...", prefix="compare: ") as update:
        bound, tables = fc.plan(func, in_fmt, out_fmt, metric, limit, work, dom, grid, update)
        rows = fc.rows_of(func, in_fmt, out_fmt, metric, bound, tables, dom, storage)
        if limit is not None:                   # the reference (no bound) always meets itself
            _check_met(rows, func, in_fmt, out_fmt, metric, bound, dom, work)
        fc.synthesize(rows, targets, work, update)
    title = f"{func} {in_fmt} -> {out_fmt}, {metric} <= {bound:.4g}, tables in {storage}"
    head, lines = fc.summary(rows, targets)
    text = fc.markdown(rows, targets, title)
    click.echo(text)
    outs = OutputSet()
    outs.add_text(report, json.dumps({"function": func, "in": in_fmt, "out": out_fmt,
                                      "metric": metric, "bound": bound, "targets": list(targets),
                                      "storage": storage,
                                      "header": head, "rows": lines,
                                      "notes": {fc.NAMES[r.architecture]: r.note for r in rows}},
                                     indent=1, sort_keys=True) + "\n", "compare.json")
    outs.add_text(md, text, "compare.md")
    outs.commit()
    click.echo(f"compare: {len(rows)} architectures -> {work}")


def _check_met(rows, func, in_fmt, out_fmt, metric, limit, dom, work) -> None:
    """Raise NotMetError (exit 3) when no float design meets ``metric <= limit``, naming the least
    error each architecture reached (before any synthesis: nothing is worth synthesizing)."""
    key = fc.METRIC_KEY[metric]
    got = {r.architecture: r.errors.get(key) for r in rows}
    if any(e is not None and e <= limit * (1 + 1e-6) for e in got.values()):
        return
    why = []
    for r in rows:
        name, e = fc.NAMES[r.architecture], got[r.architecture]
        if r.architecture == "full_lut" and e is not None:
            why.append(f"{name}: {e:.4g} (f correctly rounded at every code: no design does "
                       f"better)")
        elif r.architecture == "exponent_pwl":
            least, lead = _least_exponent_pwl(func, in_fmt, out_fmt, key, dom)
            why.append(f"{name}: least {least:.4g} (at {lead} leading bits)")
        elif e is not None:
            why.append(f"{name}: {e:.4g} ({r.label})")
        elif r.architecture in fc.M_MAX:
            why.append(f"{name}: none with up to {fc.M_MAX[r.architecture] - 1} segments")
        elif r.architecture == "nn_lut_paper":
            why.append(f"{name}: not fitted (the domain holds fewer than {fc.NN_LUT_PAPER_M} "
                       f"codes)")
        else:
            why.append(f"{name}: no {metric} figure")
    kept = (f"; the fitted tables stay in {work / 'tables'} for a rerun"
            if (work / "tables").is_dir() else "")
    raise NotMetError(f"no design of any architecture meets {metric} <= {limit:.4g} "
                      f"({'; '.join(why)}){kept}")


def _least_exponent_pwl(func, in_fmt, out_fmt, key: str, dom) -> tuple[float, int]:
    """(the least error, its leading mantissa bits) over every exponent-indexed PWL the sizing
    tried (a table each: cheap, unlike an NLI fit at its largest M)."""
    tried = [(exponent_pwl_table(func, in_fmt, out_fmt, lead, dom).meta["errors"][key], lead)
             for lead in range(parse_format(in_fmt).man_bits + 1)]
    return min(tried)
