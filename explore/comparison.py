"""The comparison users ask for (``nlihw compare``) as a small sweep: for one function and error
bound, the cheapest design point of each architecture (NLI K=1, NLI K>1, uniform PWL, full LUT),
synthesized side by side.

A pre-step decides which points exist: for NLI, the fewest cutpoints M meeting the bound for each
K (K=1 for the piecewise-linear row) and micro step (multiplier, shift); for uniform PWL, the
largest segments meeting the bound; the full LUT is unique. The points run through ``run_sweep``
(the cache, executor and tidy table of ``nlihw sweep``) into one results directory, and each
architecture's cheapest ok point meeting the bound is selected from that table by
``query.ranked``: the NLI candidates are sized on the first target, then only the winners are
synthesized on the other targets (same directory, so the first stage is cached).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rich.table import Table
from rich.text import Text

from nlihw.atomic import atomic_write_text
from nlihw.errors import ParamsError
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.luts import baselines
from nlihw.luts.fitter import FITTER_VERSION, make_problem
from nlihw.luts.layout import TableLayout
from . import cache
from .executor import check_scheduler
from .input_files import MAX_PLAN_BYTES, read_input
from .points import _dist
from .query import ranked
from .results_io import load_results
from .spec import FULL_LUT_SYNTH_LIMIT, NLI_KEYS, parse_spec
from .sweep import run_sweep
from .tasks import AREA_KEY

ARCHS = ("nli_k1", "nli", "uniform_pwl", "full_lut")
ARCH_OF = {"nli_k1": "parallel", "nli": "parallel", "uniform_pwl": "uniform", "full_lut": "direct"}
NAMES = {"nli": "NLI (K>1)", "nli_k1": "NLI K=1 (PWL)", "uniform_pwl": "uniform PWL", "full_lut": "full LUT"}
TARGETS = tuple(AREA_KEY)          # the targets whose area the sweep reports
# columns besides the area key: memories and DSPs (a full LUT is cheap in LUTs, not in block RAM)
EXTRA = {"generic": (), "generic-sram": ("memory_bits",), "xcup": ("dsp48e2", "ramb18", "ramb36"), "ecp5": ("mult18", "ebr", "fmax_mhz"),
         "ice40": ("mac16", "ram4k", "fmax_mhz")}
NLI_KS = (2, 4, 8, 16, 32)
MICRO_STEPS = ("mul", "pow2")
M_MAX = {"nli_k1": 1024, "nli": 257}   # largest M the search for the fewest M tries
PLANS_DIR = "plans"                    # RESULTS/plans: the pre-step's decisions, by content
PLAN_VERSION = 1


def _arch_key(K: int) -> str:
    return "nli_k1" if K == 1 else "nli"


# --- the pre-step: which points exist -----------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """The candidate points of one comparison: NLI (K, micro step, fewest M) triples, the uniform
    PWL cutpoint count (None: no segment size meets the bound) and the full LUT's entry count."""
    nli: tuple[tuple[int, str, int], ...]
    uniform_M: int | None
    full_lut_codes: int
    in_width: int


def _plan_key(func, in_fmt, out_fmt, max_err_lsb, domain, grid) -> str:
    return hashlib.sha256(json.dumps(
        [PLAN_VERSION, func, in_fmt, out_fmt, repr(float(max_err_lsb)),
         None if domain is None else [repr(float(d)) for d in domain], grid, NLI_KS, MICRO_STEPS,
         M_MAX, FITTER_VERSION, _dist("nlihw")]).encode()).hexdigest()[:24]


def plan(func, in_fmt, out_fmt, max_err_lsb, domain=None, grid=None, progress=None,
         results: Path | None = None) -> Plan:
    """Decide the candidate points (from RESULTS/plans when this question was planned before)."""
    path = None if results is None else Path(results) / PLANS_DIR / \
        f"{_plan_key(func, in_fmt, out_fmt, max_err_lsb, domain, grid)}.json"
    if path is not None and path.is_file():
        try:
            d = json.loads(read_input(path, MAX_PLAN_BYTES, "compare plan"))
            return Plan(tuple((int(K), str(s), int(M)) for K, s, M in d["nli"]),
                        None if d["uniform_M"] is None else int(d["uniform_M"]),
                        int(d["full_lut_codes"]), int(d["in_width"]))
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            pass                    # unreadable: plan again and replace it
    p = _plan(func, in_fmt, out_fmt, max_err_lsb, domain, grid, progress)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"nli": [list(c) for c in p.nli], "uniform_M": p.uniform_M,
                                            "full_lut_codes": p.full_lut_codes,
                                            "in_width": p.in_width}) + "\n")
    return p


def _plan(func, in_fmt, out_fmt, max_err_lsb, domain, grid, progress) -> Plan:
    nli = []
    for K in (1,) + NLI_KS:
        for step in MICRO_STEPS:
            M = baselines.smallest_nli_m(func, in_fmt, out_fmt, max_err_lsb, K, step, domain, grid,
                                         M_MAX[_arch_key(K)], progress)
            if M is not None:
                nli.append((K, step, M))
    if progress:
        progress("uniform PWL: largest segments meeting the bound")
    u = baselines.smallest_uniform(func, in_fmt, out_fmt, max_err_lsb, domain)
    prob = make_problem(func, TableLayout(in_fmt, out_fmt, 2, 1), domain)
    return Plan(tuple(nli), None if u is None else u.table.layout.M, prob.hi - prob.lo + 1,
                prob.layout.in_fmt.width)


# --- the sweep spec of a plan -------------------------------------------------------------------
def full_lut_targets(p: Plan, targets) -> list[str]:
    """The targets a full LUT is synthesized for (larger ones on xcup block RAM only)."""
    big = (1 << p.in_width) > FULL_LUT_SYNTH_LIMIT
    return [t for t in targets if not big or t == "xcup"]


def _block(common: dict, arch_key: str, targets, M=None, K=1, step="mul") -> dict:
    b = {**common, "arch": [ARCH_OF[arch_key]], "K": [K], "target": list(targets)}
    if arch_key != "full_lut":
        b["M"] = [M]
    if arch_key in ("nli", "nli_k1"):
        b["micro_step"] = [step]
    else:
        b.pop("grid", None)
    return b


def blocks(p: Plan, common: dict, targets, winners: dict | None = None) -> list[dict]:
    """[[nli]] blocks: every NLI candidate on the first target, uniform PWL and the full LUT on
    every target they are synthesized for, and the ``winners`` (arch key -> (K, step, M)) on all."""
    out = [_block(common, _arch_key(K), targets[:1], M, K, step) for K, step, M in p.nli]
    if p.uniform_M is not None:
        out.append(_block(common, "uniform_pwl", targets, p.uniform_M))
    if full_lut_targets(p, targets):
        out.append(_block(common, "full_lut", full_lut_targets(p, targets)))
    for key, (K, step, M) in (winners or {}).items():
        if len(targets) > 1:
            out.append(_block(common, key, targets[1:], M, K, step))
    return out


def check_domain(domain) -> None:
    """Refuse a domain the sweep's design points cannot carry (they have no domain field yet)."""
    if domain is not None and "domain" not in NLI_KEYS:
        raise ParamsError("--domain: sweep design points do not carry an input domain yet, so "
                          "compare runs on the function's default domain only")


def spec_of(func, in_fmt, out_fmt, p: Plan, targets, domain=None, grid=None, winners=None):
    """The sweep spec (fit, gen, synth) of a plan."""
    common = {"func": func, "in_fmt": in_fmt, "out_fmt": out_fmt}
    if grid is not None:
        common["grid"] = grid
    if domain is not None:
        check_domain(domain)
        common["domain"] = f"{float(domain[0])!r}:{float(domain[1])!r}"
    return parse_spec({"sweep": {"stages": ["fit", "gen", "synth"]},
                       "nli": blocks(p, common, targets, winners)})


# --- selection from the results -----------------------------------------------------------------
@dataclass
class Row:
    """One architecture's selected point: its results row per target, params, raw reports."""
    architecture: str
    results: dict = field(default_factory=dict)      # target -> results row (selected point)
    reports: dict = field(default_factory=dict)      # target -> raw synthesis report (or None)
    params: "NLIEngineParams | None" = None  # noqa: F821
    max_err_lsb: float | None = None
    note: str = ""
    context: tuple | None = None                     # what ``choose`` asked (for ``synthesize``)

    @property
    def label(self) -> str:
        lay = self.params.layout
        if self.architecture == "uniform_pwl":
            return f"uniform PWL, {lay.M - 1} segments"
        if self.architecture == "full_lut":
            return f"full LUT, {lay.n_values} entries"
        return f"NLI M={lay.M} K={lay.K} {lay.micro_step.value}"

    @property
    def stored_values(self) -> int:
        return self.params.layout.n_values


def _of_arch(row: dict, key: str) -> bool:
    if row.get("arch") != ARCH_OF[key]:
        return False
    return key not in ("nli", "nli_k1") or (row.get("K") == 1) == (key == "nli_k1")


def select(rows: list[dict], targets, bound: float) -> dict[str, tuple[dict | None, str]]:
    """Per architecture: the cheapest ok row meeting ``max_err_lsb <= bound`` on the first target
    it was synthesized for (``query.ranked``), or None and why not."""
    out = {}
    for key in ARCHS:
        mine = [r for r in rows if _of_arch(r, key)]
        tgt = next((t for t in targets if any(r.get("target") == t for r in mine)), None)
        if tgt is None:
            out[key] = (None, "no configuration meets the bound")
            continue
        cand = [r for r in mine if r.get("target") == tgt]
        meeting, closest, _ = ranked(cand, "max_err_lsb", bound)
        if meeting:
            out[key] = (meeting[0], "")
        elif closest is not None:
            out[key] = (None, f"no configuration meets the bound (least {closest['max_err_lsb']:.3f} "
                              f"LSB on {tgt})")
        else:
            failed = [r for r in cand if r.get("status") == "failed"]
            out[key] = (None, f"failed: {failed[0]['error']}" if failed else
                        "no configuration meets the bound")
    return out


def _same_config(a: dict, b: dict) -> bool:
    return all(a.get(k) == b.get(k) for k in ("arch", "M", "K", "micro_step"))


def _rows(results: Path, table: list[dict], chosen: dict, targets) -> list[Row]:
    out = []
    for key in ARCHS:
        best, note = chosen[key]
        r = Row(key, note=note)
        if best is not None:
            for t in targets:
                hit = next((x for x in table if x.get("target") == t and x.get("status") == "ok"
                            and _same_config(x, best)), None)
                rec = None if hit is None else cache.read_point(results, hit["point_id"])
                r.results[t] = hit
                r.reports[t] = None if rec is None else rec.get("reports", {}).get(t)
                if rec is not None and r.params is None:
                    r.params = NLIEngineParams.from_dict(rec["params"])
            r.max_err_lsb = best["max_err_lsb"]
            if key == "full_lut" and any(r.results[t] is None for t in targets):
                r.note = f"{r.stored_values}-entry table synthesized for xcup (block RAM) only"
        out.append(r)
    return out


def _full_lut_unsynthesized(row: Row, func, in_fmt, out_fmt, bound, domain) -> None:
    """A full LUT no requested target can hold: its figures without synthesis (as before)."""
    c = baselines.smallest_full_lut(func, in_fmt, out_fmt, bound, domain)
    if c is None:
        return
    row.params = NLIEngineParams((c.table,), arch="direct")
    row.max_err_lsb = c.max_err_lsb
    row.note = f"{c.stored_values}-entry table synthesized for xcup (block RAM) only"


# --- the comparison -----------------------------------------------------------------------------
@dataclass
class Comparison:
    """A finished comparison: the selected rows, the results directory and the sweep summaries."""
    rows: list[Row]
    results: Path
    targets: tuple[str, ...]
    sweeps: list = field(default_factory=list)

    @property
    def computed(self) -> int:
        return sum(s.computed for s in self.sweeps)


def compare(func, in_fmt, out_fmt, max_err_lsb, targets=("generic",), results="build/compare",
            domain=None, grid=None, *, jobs=None, scheduler=None, quiet=True, console=None,
            progress: Callable[[str], None] | None = None,
            sweep_progress: Callable[[str], None] | None = None,
            sweep_detail: Callable[[str], None] | None = None) -> Comparison:
    """Plan the candidate points, sweep them into ``results``, select each architecture's
    cheapest point meeting the bound, sweep the NLI winners on the other targets.
    ``sweep_progress`` / ``sweep_detail``: the sweeps' log lines (``run_sweep``'s)."""
    targets = tuple(dict.fromkeys(targets))
    for t in targets:
        if t not in TARGETS:
            raise ParamsError(f"--target {t}: compare reports areas for {', '.join(TARGETS)} only")
    check_domain(domain)
    results = Path(results)
    if scheduler:
        check_scheduler(scheduler)          # before plans/ is written
    p = plan(func, in_fmt, out_fmt, max_err_lsb, domain, grid, progress, results)
    kw = dict(jobs=jobs, scheduler=scheduler, quiet=quiet, console=console, progress=sweep_progress,
              detail=sweep_detail)
    sweeps = [run_sweep(spec_of(func, in_fmt, out_fmt, p, targets, domain, grid), results, **kw)]
    chosen = select(load_results(results)[1], targets, max_err_lsb)
    winners = {k: (r["K"], r["micro_step"], r["M"]) for k, (r, _) in chosen.items()
               if r is not None and k in ("nli", "nli_k1")}
    if winners and len(targets) > 1:
        spec = spec_of(func, in_fmt, out_fmt, p, targets, domain, grid, winners)
        sweeps.append(run_sweep(spec, results, **kw))
    rows = _rows(results, load_results(results)[1], chosen, targets)
    full = rows[ARCHS.index("full_lut")]
    if full.params is None and not full_lut_targets(p, targets):
        _full_lut_unsynthesized(full, func, in_fmt, out_fmt, max_err_lsb, domain)
    return Comparison(rows, results, targets, sweeps)


# --- compatibility with the former two-step interface (nlihw/benchmarks/synthesis.py) --------------------
def choose(func, in_fmt, out_fmt, max_err_lsb, domain=None, grid=None, progress=None,
           select_target: str = "generic", workdir: Path = Path("build/compare")) -> list[Row]:
    """The cheapest configuration of each architecture meeting ``max_err_lsb``, sized on
    ``select_target`` (a comparison on that target alone, in ``workdir``)."""
    rows = compare(func, in_fmt, out_fmt, max_err_lsb, (select_target,), workdir, domain, grid,
                   progress=progress).rows
    for r in rows:
        r.context = (func, in_fmt, out_fmt, max_err_lsb, select_target, workdir, domain, grid)
    return rows


def synthesize(rows: list[Row], targets, outdir: Path | None = None,
               progress: Callable[[str], None] | None = None) -> None:
    """The rows of ``choose`` on every target (the same comparison with more targets, in the
    same results directory: what ``choose`` computed is cached)."""
    func, fi, fo, bound, select_target, workdir, domain, grid = rows[0].context
    tg = (select_target,) + tuple(t for t in targets if t != select_target)
    done = compare(func, fi, fo, bound, tg, workdir, domain, grid, progress=progress).rows
    rows[:] = done


def area(r: Row, target: str):
    res = r.results.get(target)
    return None if res is None else res.get("area")


def summary(rows: list[Row], targets) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the side-by-side table, with area ratios to NLI (K>1)."""
    ref = next((r for r in rows if r.architecture == "nli" and r.params), None)
    head = ["architecture", "configuration", "stored values", "max err (LSB)", "latency"]
    for tgt in targets:
        head += [f"{tgt} {AREA_KEY[tgt]}", f"{tgt} x NLI"] + [f"{tgt} {k}" for k in EXTRA[tgt]]
    out = []
    for r in rows:
        if r.params is None:
            out.append([NAMES[r.architecture], r.note] + ["-"] * (len(head) - 2))
            continue
        line = [NAMES[r.architecture], r.label, f"{r.stored_values:,}",
                f"{r.max_err_lsb:.3f}", str(r.params.latency)]
        for tgt in targets:
            a, a_ref = area(r, tgt), (area(ref, tgt) if ref else None)
            line += [f"{a:,.0f}" if a is not None else "-",
                     f"{a / a_ref:.2f}" if a is not None and a_ref else "-"]
            rep = r.reports.get(tgt)
            for k in EXTRA[tgt]:
                v = rep["figures"].get(k) if rep else None
                line.append("-" if v is None else f"{v:.1f}" if isinstance(v, float) else str(v))
        out.append(line)
    return head, out


def summary_table(rows: list[Row], targets, title: str):
    """The side-by-side comparison as a rich table (CLI and benchmark)."""
    head, lines = summary(rows, targets)
    t = Table(title=Text(title))
    for h in head:
        t.add_column(h, justify="left" if h in ("architecture", "configuration") else "right")
    for line in lines:
        t.add_row(*[Text(c) for c in line])
    return t


def summary_markdown(rows: list[Row], targets) -> str:
    """The side-by-side comparison as a markdown table (for reports and the README)."""
    head, lines = summary(rows, targets)
    out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    out += ["| " + " | ".join(line) + " |" for line in lines]
    return "\n".join(out) + "\n"
