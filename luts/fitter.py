"""Optimal NLI cutpoint placement: the paper's Bellman DP on the hardware's own quantized output.

D[0, k]   = left-clamp error with c_0 = cand[k]
D[l, k]   = min_{i<k} D[l-1, i] (+ or max) E[i, k]          l = 1 .. M-1
optimum   = min_k D[M-1, k] (+ or max) right-clamp error(k)

E[i, k] is the error of the hardware output (every input code in [cand[i], cand[k])). Sum form for
mean metrics, min-max form for max-abs. The DP is globally optimal over the candidate set. Exact
pruning keeps it fast: a DP over a coarse sub-grid gives an achievable bound B, and any interval whose
error exceeds B is skipped while it is being measured, since it cannot appear in an optimum.

Tie-break for max-abs: many placements usually reach the optimal max error B*; a second, exact DP
picks among them the one with the least total squared error (sum form over the intervals and clamps
whose max error is <= B*, which the pruned matrix already marks), so cutpoints are not wasted where
f is a straight line. The error matrix is computed in row blocks of ~0.2 s each, so that Ctrl-C
and progress reports get through.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable

import mpmath
import numpy as np

from nlihw.errors import FunctionError, ParamsError
from nlihw.formats import Q, rounding_code
from nlihw.luts.table_errors import TAU, evaluation_codes, table_errors
from . import float_fit, segment_error as se
from .fit_metrics import FIXED_METRICS, METRIC_CODE, check_metric
# DEFAULT_GRID, FitResult, FITTER_VERSION, MAX_GRID, check_grid and dp_smallest_m are also read from
# here by callers
from .fit_settings import (ALL_CODES_CANDIDATES, DEFAULT_GRID, FITTER_VERSION,  # noqa: F401
                           FIXED_BLOCK_SECONDS, FitResult, resolve_rel_floor, resolve_tails)
from .functions import Function, get_function
from .layout import MicroStep, TableLayout
from .placement_dp import MAX_GRID, bellman, check_grid, dp_optimum, dp_smallest_m  # noqa: F401
from .refine import refine_values
from .stored_values import stored_codes
from .table import NLITable
from .tails import Tail, tail_gain, tail_offset


@dataclass(frozen=True)
class FitProblem:
    """Everything the DP needs: evaluation codes, exact f, quantized f on the 1/K fine grid."""
    layout: TableLayout
    function: Function
    lo: int                          # first raw code of the domain
    hi: int                          # last raw code of the domain
    xs: np.ndarray                   # raw evaluation codes (every code, or a stated sample)
    fx: np.ndarray                   # f(xs), float64
    vq: np.ndarray                   # quantized f at lo + n/K, n = 0 .. (hi-lo)*K
    rel_floor: float = TAU           # floor of |f| in the mean-rel metric
    tails: tuple[Tail, Tail] = (Tail(), Tail())     # below the first / from the last cutpoint

    @property
    def sampled(self) -> bool:
        return self.xs.shape[0] < self.hi - self.lo + 1


def make_problem(func: "str | Function", layout: TableLayout,
                 domain: tuple[float, float] | None = None,
                 rel_floor: float | None = None, tails=None) -> FitProblem:
    """Resolve the domain, check f is defined, finite and representable there, quantize f.

    Refused (one clear error): a domain reaching outside the input format (it may end at the
    format's open upper end, e.g. [1, 2] in u1.15), a user function that fails or is not
    vectorized, and an output format that cannot hold f's range on the domain: f may reach half
    an LSB below the lowest code and up to the format's open upper end (one LSB above the highest
    code, as tanh -> 1 in s1.15), never further.
    """
    fn = get_function(func) if isinstance(func, str) else func
    fin: Q = layout.in_fmt
    fout: Q = layout.out_fmt
    given = domain is not None
    if domain is None:
        domain = fn.default_domain or (fin.min, fin.max)
    dlo, dhi = float(domain[0]), float(domain[1])
    if not dlo < dhi:
        raise ParamsError(f"domain must have lo < hi, got [{dlo:g}, {dhi:g}]")
    if dlo < fin.min or dhi > fin.max + fin.lsb:
        what = "--domain" if given else f"the default domain of {fn.name}"
        raise ParamsError(f"{what} [{dlo:g}, {dhi:g}] reaches outside {fin}'s range "
                          f"[{fin.min:g}, {fin.max:g}]" + ("" if given else "; pass --domain"))
    lo = int(np.ceil(dlo / fin.lsb))
    hi = int(min(fin.max_raw, np.floor(dhi / fin.lsb)))
    tails = resolve_tails(fn.name, tails, lo == fin.min_raw, hi == fin.max_raw)
    if hi - lo + 1 < layout.M:
        raise ParamsError(f"the domain [{dlo:g}, {dhi:g}] holds {max(0, hi - lo + 1)} codes of "
                          f"{fin}, fewer than M={layout.M} cutpoints")
    fn.check_domain(lo * fin.lsb, hi * fin.lsb)
    fn.probe(lo * fin.lsb, hi * fin.lsb)
    span = hi - lo
    if span * layout.K + 1 > (1 << 25):
        raise ParamsError(f"domain of {span + 1} codes with K={layout.K} is too large to fit "
                          f"(limit 2^25 fine-grid points); narrow --domain or lower K")
    rel_floor = resolve_rel_floor(rel_floor, fout)
    xs = evaluation_codes(fin, lo, hi)
    fine = lo + np.arange(span * layout.K + 1, dtype=np.float64) / layout.K
    with np.errstate(all="ignore"):
        fx = fn(xs * fin.lsb)
        ffine = fn(fine * fin.lsb)
    if not (np.all(np.isfinite(fx)) and np.all(np.isfinite(ffine))):
        raise FunctionError(f"{fn.name} is not finite everywhere on [{lo * fin.lsb:g}, "
                            f"{hi * fin.lsb:g}]; narrow --domain")
    fmin, fmax = float(ffine.min()), float(ffine.max())
    # allowed: down to the rounding of the lowest code, up to the format's open end (max + 1 LSB,
    # e.g. tanh -> 1 in s1.15): saturation then costs at most one LSB
    if fmin < fout.min - fout.lsb / 2 or fmax > fout.max + fout.lsb:
        raise ParamsError(f"{fn.name} on [{lo * fin.lsb:g}, {hi * fin.lsb:g}] spans "
                          f"[{fmin:g}, {fmax:g}], outside {fout}'s range [{fout.min:g}, "
                          f"{fout.max:g}]; choose a wider --out or a narrower --domain")
    lsb_in, K = mpmath.mpf(fin.lsb), layout.K
    vq = stored_codes(fn, ffine, fout, lambda n: mpmath.mpf(lo * K + n) / K * lsb_in)
    return FitProblem(layout, fn, lo, hi, xs, fx, vq, float(rel_floor), tails)


def candidate_grid(problem: FitProblem, grid: int | None = None) -> np.ndarray:
    """Candidate cutpoints: ``grid`` evenly spaced codes; ``None`` (auto) means every code for
    domains up to 4,096 codes, else ``DEFAULT_GRID``.

    In pow2 mode intervals must be K*2^s codes, so the grid is aligned to a power-of-two step from
    both ends of the domain.
    """
    lo, hi = problem.lo, problem.hi
    n_codes = hi - lo + 1
    if grid is None:
        grid = n_codes if n_codes <= ALL_CODES_CANDIDATES else DEFAULT_GRID
    if problem.layout.micro_step is MicroStep.POW2:
        step = 1
        while grid < n_codes and (n_codes + step - 1) // step > max(grid, 2) // 2:
            step *= 2
        c = np.concatenate([np.arange(lo, hi + 1, step), np.arange(hi, lo - 1, -step)])
        return np.unique(c).astype(np.int64)
    if grid >= n_codes:
        return np.arange(lo, hi + 1, dtype=np.int64)
    # exact integer positions: a grid of (N-1)*m + 1 points contains the grid of N points
    i = np.arange(grid, dtype=np.int64)
    return np.unique(lo + (i * (hi - lo)) // (grid - 1))


def _kernel_args(p: FitProblem):
    lay = p.layout
    return (p.xs, p.fx, p.vq, np.int64(p.lo), np.int64(lay.K), np.int64(lay.t_bits),
            np.int64(lay.mul_bits), lay.micro_step is MicroStep.POW2,
            np.int64(rounding_code(lay.rounding)), np.int64(lay.out_fmt.min_raw),
            np.int64(lay.out_fmt.max_raw), lay.out_fmt.lsb)


def _floor(p: FitProblem, metric: str) -> np.ndarray:
    lay = p.layout
    return se.code_floor(p.fx, np.int64(lay.out_fmt.min_raw), np.int64(lay.out_fmt.max_raw),
                         lay.out_fmt.lsb, np.int64(METRIC_CODE[metric]), p.rel_floor)


def _slack(p: FitProblem, metric: str, bound: float, floor: np.ndarray) -> float:
    """Kernel bound: the max itself for max-abs, else the slack of the sum over the code floors,
    widened a little so float summation order can never prune an optimum."""
    if not np.isfinite(bound):
        return float(bound)
    if metric == "max-abs":
        return bound * (1 + 1e-9) + 1e-12
    return (bound - float(floor.sum())) * (1 + 1e-6) + 1e-9 * bound


def _fill(p: FitProblem, cand: np.ndarray, metric: str, kbound: float, floor: np.ndarray,
          gate: np.ndarray | None = None, gate_limit: float = np.inf,
          progress: Callable[[str], None] | None = None, label: str = "") -> np.ndarray:
    """The error matrix, row block by row block (each compiled call ~FIXED_BLOCK_SECONDS)."""
    xs, fx, vq, lo, K, tb, mb, pow2, mode, omin, omax, lsb = _kernel_args(p)
    mcode = np.int64(METRIC_CODE[metric])
    idx = np.searchsorted(xs, cand, side="left").astype(np.int64)
    N = cand.shape[0]
    E = np.full((N, N), np.inf)
    g = np.zeros((1, 1)) if gate is None else gate
    row, rows = 0, 1
    while row < N:
        stop = min(N, row + rows)
        t0 = time.perf_counter()
        se.error_rows(E, np.int64(row), np.int64(stop), cand, idx, xs, fx, floor, vq, lo, K, tb,
                      mb, pow2, mode, omin, omax, lsb, mcode, p.rel_floor, float(kbound), g,
                      float(gate_limit))
        dt = time.perf_counter() - t0
        row = stop
        # later rows hold shorter intervals (cheaper): grow the block, at most 4x per step
        rows = max(1, min(4 * rows, int(rows * FIXED_BLOCK_SECONDS / max(dt, 1e-6))))
        if progress:
            progress(f"{label}error matrix: {row:,}/{N:,} rows")
    return E


def error_matrix(p: FitProblem, cand: np.ndarray, metric: str, bound: float = np.inf,
                 gate: np.ndarray | None = None, gate_limit: float = np.inf,
                 progress: Callable[[str], None] | None = None, label: str = "") -> np.ndarray:
    """Interval errors; with a finite ``bound`` (an achievable objective) prune exactly; with
    ``gate`` only where gate <= gate_limit."""
    floor = _floor(p, metric)
    return _fill(p, cand, metric, _slack(p, metric, bound, floor), floor, gate, gate_limit,
                 progress=progress, label=label)


def tail_offsets(p: FitProblem, tail: Tail, cand: np.ndarray) -> np.ndarray:
    """The offset b each candidate end cutpoint gives a tail (see ``tails.tail_offset``)."""
    y_at = p.vq[(np.minimum(cand, p.hi) - p.lo) * p.layout.K]
    return np.array([tail_offset(tail, p.layout, int(c), int(y)) for c, y in zip(cand, y_at)],
                    dtype=np.int64)


def clamp_errors(p: FitProblem, cand: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Errors of the codes below each candidate (left tail) and from it on (right tail)."""
    lay = p.layout
    idx = np.searchsorted(p.xs, cand, side="left").astype(np.int64)
    (tl, th) = p.tails
    return se.tail_errors(idx, tail_gain(tl, lay, p.xs), tail_offsets(p, tl, cand),
                          tail_gain(th, lay, p.xs), tail_offsets(p, th, cand), p.fx,
                          np.int64(lay.out_fmt.min_raw), np.int64(lay.out_fmt.max_raw),
                          lay.out_fmt.lsb, np.int64(METRIC_CODE[metric]), p.rel_floor)


def place_cutpoints(p: FitProblem, metric: str, grid: int | None = None, *, prune: bool = True,
                    progress: Callable[[str], None] | None = None) -> tuple[np.ndarray, float, dict]:
    """Globally optimal cutpoints over the candidate grid; returns (cutpoints, objective, stats).

    For max-abs the placement is, among all that reach the optimal max error, the one with the
    least total squared error (stats: "max_abs" and "sse" / "mse" of the chosen placement).
    """
    check_metric(metric, FIXED_METRICS)
    check_grid(grid)
    cand = candidate_grid(p, grid)
    if cand.shape[0] < p.layout.M:
        raise ParamsError(f"only {cand.shape[0]} candidate cutpoints for M={p.layout.M}; raise --grid")
    stats = {"candidates": int(cand.shape[0])}
    bound = _coarse_bound(p, cand, metric, progress) if prune else np.inf
    stats["bound"] = bound
    path, best, more = dp_optimum(p, cand, metric, metric == "max-abs", bound, error_matrix,
                                  clamp_errors, progress)
    stats.update(more)
    return cand[path], best, stats


def smallest_m(p: FitProblem, max_abs: float, grid: int | None = None, m_max: int = 1024) -> int | None:
    """Fewest cutpoints whose optimal max-abs error is <= ``max_abs`` (real units), or None."""
    if not (np.isfinite(max_abs) and max_abs > 0):
        raise ParamsError(f"the error bound must be finite and > 0, got {max_abs}")
    check_grid(grid)
    return dp_smallest_m(p, candidate_grid(p, grid), "max-abs", True, max_abs, error_matrix,
                         clamp_errors, m_max)


def _coarse_bound(p: FitProblem, cand: np.ndarray, metric: str, progress) -> float:
    """Achievable objective from nested sub-grids (every 4th candidate, both ends kept), each level
    pruned by the level below it; inf when the grid is already small."""
    M, minmax = p.layout.M, metric == "max-abs"
    levels = [cand]
    while levels[-1].shape[0] // 4 >= max(2 * M, 16):
        c = levels[-1]
        levels.append(np.unique(np.concatenate([c[::4], c[-1:]])))
    bound = np.inf
    for sub in reversed(levels[1:]):
        left, right = clamp_errors(p, sub, metric)
        try:
            E = error_matrix(p, sub, metric, bound, progress=progress,
                             label=f"bound from {sub.shape[0]} candidates: ")
            bound, _ = bellman(E, left, right, M, minmax)
        except ParamsError:        # pow2 sub-grids can be infeasible; then no bound
            bound = np.inf
        if progress:
            progress(f"bound from {sub.shape[0]} candidates: {bound:.6g}")
    return bound


def build_table(p: FitProblem, cutpoints, meta: dict | None = None) -> NLITable:
    """Table for given cutpoints: f quantized at every micro-bin edge; clamps at the end cutpoints."""
    lay, K = p.layout, p.layout.K
    c = np.asarray(cutpoints, dtype=np.int64)
    values = [int(p.vq[(c[0] - p.lo) * K])]
    for a, b in zip(c[:-1], c[1:]):
        L = int(b - a)
        values += [int(p.vq[(a - p.lo) * K + j * L]) for j in range(1, K + 1)]
    domain = (p.lo * lay.in_fmt.lsb, p.hi * lay.in_fmt.lsb)
    tl, th = p.tails
    return NLITable(layout=lay, function=p.function.name, cutpoints=tuple(int(x) for x in c),
                    values=tuple(values), clamp_lo=tail_offset(tl, lay, int(c[0]), values[0]),
                    clamp_hi=tail_offset(th, lay, int(c[-1]), values[-1]), domain=domain,
                    tail_lo=tl, tail_hi=th, meta=meta or {})


def fit(func: "str | Function", layout: TableLayout, *, metric: str | None = None,
        grid: int | None = None, domain: tuple[float, float] | None = None, refine: bool = False,
        rel_floor: float | None = None, tails=None,
        progress: Callable[[str], None] | None = None) -> FitResult:
    """Fit one table: optimal cutpoints, values f at the bin edges, optional value refinement.

    ``tails`` (left, right): Tail objects or names (``luts/tails.py``); default per function.
    ``metric`` defaults to max-abs, or mean-rel for a float output. Layouts with a float side are
    fitted by ``float_fit`` (same DP on float codes).
    """
    if layout.in_float or layout.out_float:
        return float_fit.fit(func, layout, metric=metric, grid=grid, domain=domain, refine=refine,
                             rel_floor=rel_floor, tails=tails, progress=progress)
    metric = "max-abs" if metric is None else metric
    t0 = time.perf_counter()
    p = make_problem(func, layout, domain, rel_floor, tails)
    cut, objective, stats = place_cutpoints(p, metric, grid, progress=progress)
    table = build_table(p, cut)
    # statistics over every domain code (up to MAX_EVAL_CODES), even where the DP saw a sample
    errors = table_errors(table, rel_floor=p.rel_floor)
    meta = {"fitter_version": FITTER_VERSION, "metric": metric, "candidates": stats["candidates"],
            "refined": bool(refine), "sampled_eval": errors["eval_codes"] < p.hi - p.lo + 1,
            "rel_floor": repr(p.rel_floor), "errors": errors}
    if p.sampled:
        meta["fit_sample_codes"] = int(p.xs.shape[0])
    if metric == "max-abs":
        meta["placement"] = {"max_abs": stats["max_abs"], "mse": stats["mse"],
                             "tie_break": "least mse among the max-abs optima"}
    if refine:
        table = refine_values(table, p, metric)
        meta["errors_unrefined"] = errors
        meta["errors"] = table_errors(table, rel_floor=p.rel_floor)
    table = dataclasses.replace(table, meta=meta)
    return FitResult(table, objective, stats["candidates"], time.perf_counter() - t0, stats)
