"""``nlihw compare`` with a floating-point side: NLI against the baselines float designs use, at equal
accuracy, synthesized side by side.

Architectures: NLI (K > 1, the paper's engine), NN-LUT-style non-uniform PWL (an NLI fit with K = 1:
the paper's own baselines, many comparators), the exponent-indexed PWL (segments addressed by the top
bits of the float code: log-spaced, no comparators; ``luts/float_baselines.py``) and the full LUT.

The bound is a mean relative error (floor 2^-14, the paper's metric) or a max-ulp error. Without an
explicit bound the reference is NLI at the paper's layout (M = 11, K = 32) and every other
architecture is sized to at least its accuracy. Sizing: for the NLI rows the fewest M whose optimal
table meets the bound (one pruned error matrix, then one DP level per M: level l is the optimum for
l + 1 cutpoints), for the exponent-indexed PWL the fewest leading mantissa bits. Tables are cached
in the work directory by content key, synthesis reports in the synthesis cache.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nlihw.atomic import atomic_write_text
from nlihw.errors import NlihwError, ParamsError
from nlihw.formats import parse_format
from nlihw.hdl.nli.generate import generate
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.luts.fit_metrics import METRIC_KEY as FIT_METRIC_KEY
from nlihw.luts.fitter import FITTER_VERSION, check_grid, dp_smallest_m
from nlihw.luts.float_baselines import code_lut_table, exponent_pwl_table, full_lut_figures
from nlihw.luts.float_fit import candidate_grid, error_matrix, fit, make_problem, tail_errors
from nlihw.luts.layout import TableLayout
from nlihw.luts.table import NLITable
from nlihw.synth.driver import run_synth
from .spec import FULL_LUT_SYNTH_LIMIT

ARCHS = ("nli", "nn_lut_paper", "nn_lut", "exponent_pwl", "full_lut")
NAMES = {"nli": "NLI", "nn_lut_paper": "NN-LUT, the paper's size", "nn_lut": "NN-LUT (NLI K=1)",
         "exponent_pwl": "exponent-indexed PWL", "full_lut": "full LUT"}
NN_LUT_PAPER_M = 257          # the paper's NN-LUT / RI-LUT baselines: 256 comparators
METRIC_KEY = {m: FIT_METRIC_KEY[m] for m in ("mean-rel", "max-ulp")}
PAPER_LAYOUT = (11, 32)
NLI_KS = (32, 8)
M_MAX = {"nli": 257, "nn_lut": 2048}
# candidates of the K = 1 fits: their many short intervals need finer placement than NLI's (on
# 1,024 candidates fp16 SiLU with K = 1 cannot reach NLI's accuracy at all; on 2,048 it can)
NN_LUT_GRID = 2048
AREA_KEY = {"generic": "gate_equivalents", "xcup": "lut", "ecp5": "lut4"}
EXTRA = {"generic": ("flip_flops",), "xcup": ("ff", "dsp48e2", "ramb18", "ramb36"),
         "ecp5": ("ff", "mult18", "ebr", "fmax_mhz")}
VERSION = 1


@dataclass
class FloatRow:
    """One architecture at the bound: its table (None for the full LUT), engine params when it can
    be generated, errors, storage bits, synthesis reports per target and a note."""
    architecture: str
    label: str
    errors: dict
    bits: int
    table: "object | None" = None
    params: "object | None" = None
    reports: dict = field(default_factory=dict)
    note: str = ""


def storage_bits(table) -> int:
    """Values (block mantissas and exponents), cutpoints and per-interval scales."""
    lay = table.layout
    return (lay.n_values * lay.value_bits + (lay.M - 1) * lay.exp_bits + lay.M * lay.in_fmt.width
            + (lay.M - 1) * (lay.mul_width + lay.shift_bits))


def smallest_m(p, metric: str, limit: float, grid: int | None = None,
               m_max: int = 1024) -> int | None:
    """Fewest cutpoints whose optimal table (over the candidate grid) meets ``limit`` (mean-rel as
    a mean, max-ulp as a max), or None up to ``m_max``: the fitter's ``dp_smallest_m``."""
    check_grid(grid)
    minmax = metric == "max-ulp"
    total = limit if minmax else limit * p.xs.shape[0]
    return dp_smallest_m(p, candidate_grid(p, grid), metric, minmax, total * (1 + 1e-9),
                         error_matrix, tail_errors, m_max)


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps([VERSION, FITTER_VERSION, *parts], sort_keys=True)
                          .encode()).hexdigest()[:16]


def _cached_table(work: Path, key: str, make: Callable):
    path = work / "tables" / f"{key}.json"
    if path.is_file():
        try:
            return NLITable.load(path)
        except NlihwError:
            pass                                    # unreadable: compute it again
    t = make()
    if t is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, t.to_json())
    return t


def size_nli(func, fin, fout, K: int, metric: str, limit: float, domain=None, grid=None,
             m_max: int = 257, progress=None):
    """The optimal NLI table with the fewest M meeting the bound (fit with ``metric``), or None."""
    if progress:
        progress(f"K={K}: fewest M for {metric} <= {limit:.4g}")
    M = smallest_m(make_problem(func, TableLayout(fin, fout, 2, K), domain), metric, limit, grid,
                   m_max)
    if M is None:
        return None
    if progress:
        progress(f"K={K}: fitting M={M}")
    return fit(func, TableLayout(fin, fout, M, K), metric=metric, grid=grid, domain=domain).table


def size_exponent_pwl(func, fin, fout, metric: str, limit: float, domain=None, progress=None):
    """The exponent-indexed PWL with the fewest leading mantissa bits meeting the bound, or None."""
    for lead in range(parse_format(fin).man_bits + 1):
        if progress:
            progress(f"exponent-indexed PWL: {lead} leading bits")
        t = exponent_pwl_table(func, fin, fout, lead, domain)
        if t.meta["errors"][METRIC_KEY[metric]] <= limit:
            return t
    return None


def plan(func, fin, fout, metric: str, limit: float | None, work: Path, domain=None, grid=None,
         progress=None) -> tuple[float, dict]:
    """(the bound, arch -> table or None): the reference NLI at the paper's layout when no
    ``limit`` is given, then each architecture sized to the bound."""
    if metric not in METRIC_KEY:
        raise ParamsError(f"the float comparison bounds mean-rel or max-ulp, got {metric!r}")
    dom = None if domain is None else [float(d) for d in domain]
    tables = {}
    if limit is None:
        M, K = PAPER_LAYOUT
        if progress:
            progress(f"reference: NLI M={M} K={K} fitted for {metric}")
        ref = _cached_table(work, _key("ref", func, fin, fout, metric, dom, grid), lambda: fit(
            func, TableLayout(fin, fout, M, K), metric=metric, grid=grid, domain=domain).table)
        limit = float(ref.meta["errors"][METRIC_KEY[metric]])
        tables["nli"] = ref
    else:
        best = None
        for K in NLI_KS:
            t = _cached_table(work, _key("nli", func, fin, fout, metric, repr(limit), dom, grid, K),
                              lambda K=K: size_nli(func, fin, fout, K, metric, limit, domain, grid,
                                                   M_MAX["nli"], progress))
            if t is not None and (best is None or storage_bits(t) < storage_bits(best)):
                best = t
        tables["nli"] = best
    # the bound is the reference's own error: a hair of slack so it meets itself after rounding
    # of the stored figures
    lim = limit * (1 + 1e-6)
    nn_grid = max(grid or 0, NN_LUT_GRID)
    tables["nn_lut_paper"] = _cached_table(
        work, _key("nn_lut_paper", func, fin, fout, metric, dom, nn_grid), lambda: _fit_or_none(
            func, fin, fout, NN_LUT_PAPER_M, 1, metric, nn_grid, domain, progress))
    tables["nn_lut"] = _cached_table(
        work, _key("nn_lut", func, fin, fout, metric, repr(lim), dom, nn_grid),
        lambda: size_nli(func, fin, fout, 1, metric, lim, domain, nn_grid, M_MAX["nn_lut"],
                         progress))
    tables["exponent_pwl"] = _cached_table(
        work, _key("exponent_pwl", func, fin, fout, metric, repr(lim), dom),
        lambda: size_exponent_pwl(func, fin, fout, metric, lim, domain, progress))
    return limit, tables


def _fit_or_none(func, fin, fout, M, K, metric, grid, domain, progress):
    """An optimal fit, or None when the format or domain holds too few codes for M."""
    if progress:
        progress(f"K={K}: fitting M={M}")
    try:
        return fit(func, TableLayout(fin, fout, M, K), metric=metric, grid=grid,
                   domain=domain).table
    except ParamsError:
        return None


def rows_of(func, fin, fout, metric, limit, tables: dict, domain=None,
            storage: str = "rom") -> list[FloatRow]:
    """Rows with errors, storage and engine params (the full LUT: errors and bits only).

    ``storage="ram"`` makes the NLI and NN-LUT engines reloadable (cutpoints, scales and exponents
    in registers, values in RAM: the paper's programmable units); the exponent-indexed PWL has no
    cutpoints to load and keeps its values in ROM."""
    rows = []
    for key in ("nli", "nn_lut_paper", "nn_lut", "exponent_pwl"):
        t = tables.get(key)
        if t is None:
            cap = {"nn_lut": f" with up to {M_MAX['nn_lut'] - 1} segments",
                   "nn_lut_paper": " (the domain holds too few codes)"}.get(key, "")
            rows.append(FloatRow(key, "-", {}, 0, note=f"no configuration meets {metric} <= "
                                                       f"{limit:.4g}{cap}"))
            continue
        lay = t.layout
        label = (f"{lay.M - 1} segments, {t.meta.get('lead_bits')} leading bits"
                 if key == "exponent_pwl" else f"M={lay.M} K={lay.K}")
        row = FloatRow(key, label, t.meta["errors"], storage_bits(t), table=t)
        arch = "uniform" if key == "exponent_pwl" else "parallel"
        st = "rom" if key == "exponent_pwl" else storage
        try:
            row.params = NLIEngineParams((t,), arch=arch, storage=st, top_name=f"{key}_engine")
        except NlihwError as e:
            row.note = f"not synthesized: {e}"
        rows.append(row)
    full = full_lut_figures(func, fin, fout, domain)
    meets = full["errors"][METRIC_KEY[metric]] <= limit * (1 + 1e-6)
    row = FloatRow("full_lut", f"{full['entries']:,} entries", full["errors"], full["bits"],
                   note="" if meets else "does not meet the bound")
    row.params = NLIEngineParams((code_lut_table(func, fin, fout),), arch="direct",
                                 top_name="full_lut_engine")
    rows.append(row)
    return rows


def full_lut_targets(row: FloatRow, targets) -> tuple:
    """A full LUT larger than FULL_LUT_SYNTH_LIMIT entries is synthesized for xcup (block RAM)
    only: as logic or LUT RAM it is its size, nothing to learn from a day of ABC."""
    if row.params.layout.n_values > FULL_LUT_SYNTH_LIMIT:
        return tuple(t for t in targets if t == "xcup")
    return tuple(targets)


def synthesize(rows: list[FloatRow], targets, work: Path, progress=None) -> None:
    """Generate and synthesize every row that has engine params, on every target (cached)."""
    for r in rows:
        if r.params is None:
            continue
        v = generate(r.params, work / "rtl" / f"{r.architecture}_{r.params.storage}")["verilog"]
        tgts = full_lut_targets(r, targets) if r.architecture == "full_lut" else targets
        if len(tgts) < len(targets):
            r.note = f"{r.params.layout.n_values:,}-entry ROM synthesized for xcup (block RAM) only"
        for tgt in tgts:
            if progress:
                progress(f"{NAMES[r.architecture]}: synthesizing for {tgt}")
            r.reports[tgt] = run_synth(v, r.params.top_name, tgt, params=r.params.to_dict(),
                                       report_dir=v.parent / "synth")


def float_compare(func, fin, fout, metric="mean-rel", limit=None, targets=("generic",),
                  work: "str | Path" = "build/compare", domain=None, grid=None, progress=None,
                  storage: str = "rom") -> tuple[float, list[FloatRow]]:
    """Plan, size, synthesize: (the bound, the rows)."""
    work = Path(work)
    limit, tables = plan(func, fin, fout, metric, limit, work, domain, grid, progress)
    rows = rows_of(func, fin, fout, metric, limit, tables, domain, storage)
    synthesize(rows, targets, work, progress)
    return limit, rows


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.3g}"
    return f"{v:,}"


def summary(rows: list[FloatRow], targets) -> tuple[list[str], list[list[str]]]:
    """Header and rows: errors, storage, latency, per target area, its ratio to NLI, extras."""
    ref = rows[0] if rows and rows[0].architecture == "nli" else None
    head = ["architecture", "configuration", "mean rel err", "max ulp", "storage bits", "latency"]
    for t in targets:
        head += [f"{t} {AREA_KEY[t]}", f"{t} x NLI"] + [f"{t} {k}" for k in EXTRA[t]]
    out = []
    for r in rows:
        line = [NAMES[r.architecture], r.label, _fmt(r.errors.get("mean_rel")),
                _fmt(r.errors.get("max_ulp")), _fmt(r.bits) if r.bits else "-",
                str(r.params.latency) if r.params is not None else "-"]
        for t in targets:
            rep = r.reports.get(t)
            fig = rep["figures"] if rep else {}
            a = fig.get(AREA_KEY[t])
            ra = (ref.reports.get(t) or {}).get("figures", {}).get(AREA_KEY[t]) if ref else None
            line += [_fmt(a), f"{a / ra:.2f}" if a and ra else "-"]
            line += [_fmt(fig.get(k)) for k in EXTRA[t]]
        out.append(line)
    return head, out


def markdown(rows, targets, title: str) -> str:
    head, lines = summary(rows, targets)
    text = [f"**{title}**", "", "| " + " | ".join(head) + " |",
            "| " + " | ".join("---" for _ in head) + " |"]
    text += ["| " + " | ".join(line) + " |" for line in lines]
    notes = [f"- {NAMES[r.architecture]}: {r.note}" for r in rows if r.note]
    return "\n".join(text + ([""] + notes if notes else [])) + "\n"
