"""The architect's question: the cheapest design point of a sweep that meets an error bound.

Cheapest means least headline area, then fewer table bits, then lower latency (then point id, so
the answer never depends on row order). Only ok points with both figures take part.
"""
from __future__ import annotations

import json
import math
import shlex
from pathlib import Path

from nlihw.errors import ParamsError
from .input_files import MAX_RECORD_BYTES, read_input
from .pareto import usable
from .points import ROWOP_DESIGNS

METRICS = ("max_err_lsb", "max_err", "mean_err_lsb", "rms_err")
UNITS = {"max_err_lsb": "LSB", "mean_err_lsb": "LSB", "max_err": "", "rms_err": ""}


class NoPointError(ParamsError):
    """No design point answers the question (none matches, or none meets the bound)."""


def _last(v):
    return v if usable(v) else math.inf


def cost_key(row: dict) -> tuple:
    return (_last(row.get("area")), _last(row.get("table_bits")), _last(row.get("latency")),
            row.get("point_id") or "")


def select(rows: list[dict], *, func: str | None, target: str, design: str = "nli",
           in_fmt: str | None = None, out_fmt: str | None = None) -> list[dict]:
    """The rows (any status) of one design, function, target and, if given, formats; an error
    naming what the results do hold when nothing matches."""
    def present(key, rs):
        vals = sorted({r.get(key) or "" for r in rs})
        return ", ".join(repr(v) for v in vals) or "none"

    if not rows:
        raise NoPointError("the results table has no points")
    rs = [r for r in rows if r.get("design") == design]
    if not rs:
        raise NoPointError(f"no {design} points in the results (designs present: "
                           f"{present('design', rows)})")
    for key, want, what in (("func", func, "--func"), ("target", target, "--target"),
                            ("in_fmt", in_fmt, "--in-fmt"), ("out_fmt", out_fmt, "--out-fmt")):
        if want is None:
            continue
        sub = [r for r in rs if (r.get(key) or "") == want]
        if not sub:
            raise NoPointError(f"no {design} points with {what} {want} among those selected "
                               f"(present: {present(key, rs)})")
        rs = sub
    return rs


def ranked(rows: list[dict], metric: str, bound: float) -> tuple[list[dict], dict | None, int]:
    """(ok rows meeting ``metric <= bound`` with an area, cheapest first; the ok row with the
    least error, for the message when none meets the bound; ok rows lacking a figure)."""
    if metric not in METRICS:
        raise ParamsError(f"--metric must be one of {', '.join(METRICS)}, got {metric!r}")
    ok = [r for r in rows if r.get("status") == "ok"]
    usable_rows = [r for r in ok if usable(r.get(metric)) and usable(r.get("area"))]
    meeting = sorted((r for r in usable_rows if r[metric] <= bound), key=cost_key)
    closest = min(usable_rows, key=lambda r: (r[metric], cost_key(r)), default=None)
    return meeting, closest, len(ok) - len(usable_rows)


def describe(row: dict) -> str:
    """A point's parameters in one short phrase (for messages)."""
    if row.get("design") == "scan":
        return f"scan {row.get('preset')} N={row.get('d_state')} P={row.get('lanes')}"
    if row.get("design") in ROWOP_DESIGNS:
        return (f"{row.get('func') or row['design']} {row.get('preset')} n_max={row.get('n_max')} "
                f"{row.get('output_mode') or ''}").rstrip()
    parts = [row.get("arch") or "?"]
    for k in ("M", "K"):
        if row.get(k) is not None:
            parts.append(f"{k}={row[k]}")
    if row.get("micro_step"):
        parts.append(row["micro_step"])
    return " ".join(parts)


def point_settings(results_dir: Path, point_id: str) -> dict:
    """The fit settings (metric, grid, domain) of a point from its record RESULTS/points/<id>.json, which
    the results table does not hold; {} when the record is absent or unreadable (a hint only)."""
    if not point_id or any(c in point_id for c in "/\\\0") or point_id.startswith("."):
        return {}                   # from the table: never a path out of points/
    try:
        rec = json.loads(read_input(results_dir / "points" / f"{point_id}.json", MAX_RECORD_BYTES,
                                    "point record"))
        point = rec["point"]
        return {k: point[k] for k in ("metric", "grid", "domain") if point.get(k) not in (None, "")}
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return {}


def gen_commands(row: dict, outdir: str = "build/best", settings: dict | None = None) -> list[str]:
    """Shell commands that build the point with the nlihw CLI. ``settings`` (metric, grid) comes
    from the point's record; what neither records (t_bits, rounding) takes the fit defaults."""
    q = shlex.quote
    target = row.get("target") or ""
    synth = [f"nlihw synth {q(outdir)} -t {q(target)}"] if target else []
    if row.get("design") == "scan":
        cmd = f"nlihw scan gen --preset {q(row.get('preset') or 'int16')}"
        if row.get("d_state") is not None:
            cmd += f" --d-state {row['d_state']}"
        if row.get("lanes") is not None:
            cmd += f" --lanes {row['lanes']}"
        return [f"{cmd} -o {q(outdir)}"] + synth
    if row.get("design") in ROWOP_DESIGNS:
        return [f"{rowop_gen_command(row)} -o {q(outdir)}"] + synth
    func = row.get("func") or "?"
    fmts = f"--in {q(row.get('in_fmt') or 's4.12')} --out {q(row.get('out_fmt') or 's4.12')}"
    arch = row.get("arch") or ""
    if arch in ("uniform", "direct"):
        # no command fits a baseline table alone; compare builds the smallest one meeting a bound
        bound = row.get("max_err_lsb")
        b = f"{bound:.6g}" if usable(bound) else "1"
        return [f"nlihw compare --func {q(func)} {fmts} --max-err {b}"
                + (f" --target {q(target)}" if target else "")
                + f" -o {q(outdir)}"]
    table = f"{outdir}/{func.replace(':', '_')}.json"
    fit = f"nlihw fit --func {q(func)} {fmts} -M {row.get('M')} -K {row.get('K')}"
    if row.get("micro_step"):
        fit += f" --micro-step {q(row['micro_step'])}"
    settings = settings or {}
    if settings.get("metric"):
        fit += f" --metric {q(str(settings['metric']))}"
    if settings.get("grid") is not None:
        fit += f" --grid {settings['grid']}"
    if settings.get("domain"):
        fit += f" --domain={q(str(settings['domain']))}"      # '=': LO may be negative
    gen = f"nlihw gen --table {q(table)} --arch {q(arch or 'parallel')}"
    if row.get("lanes") is not None:
        gen += f" --lanes {row['lanes']}"
    if row.get("storage"):
        gen += f" --storage {q(row['storage'])}"
    return [f"{fit} -o {q(table)}", f"{gen} -o {q(outdir)}"] + synth


def rowop_gen_command(row: dict) -> str:
    """``nlihw softmax gen`` / ``nlihw norm gen`` with the row unit's preset, kind, n_max and
    output mode (without ``-o``)."""
    q = shlex.quote
    func = row.get("func") or ""
    if row.get("design") == "norm":
        cmd = f"nlihw norm gen --kind {q(func.removesuffix('norm') or 'rms')}"
    else:
        cmd = "nlihw softmax gen"
    cmd += f" --preset {q(row.get('preset') or 'int16')}"
    if row.get("n_max") is not None:
        cmd += f" --n-max {row['n_max']}"
    if row.get("output_mode"):
        cmd += f" --output-mode {q(row['output_mode'])}"
    return cmd
