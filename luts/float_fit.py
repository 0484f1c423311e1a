"""Optimal NLI tables with a floating-point side (fp16, bf16, fp8; any pairing with fixed point).

The same exact Bellman DP and pruning as ``fitter`` (see its docstring), stated on internal
positions: inputs are every finite code of the input format in the domain (both zeros), at their
position P(x) = floor(x 2^F); candidates are the valid cutpoint codes in the domain (finite, not -0,
multiples of 2^-F), every one up to 4,096, else an evenly spaced grid in code order (log-spaced in
value). Each candidate interval's stored values are f at its micro-bin edges C_a + j L/K, built by
``interval_values``, the one construction shared by the error kernel and ``build_table``: for a
float output the block exponent is the least E in ``layout.exp_range`` whose rounded mantissas all
fit ``value_bits`` signed bits.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable

import mpmath
import numpy as np

from nlihw.errors import FunctionError, ParamsError
from nlihw.formats import rounding_code
from nlihw.luts.table_errors import TAU, evaluation_codes, table_errors, ulp_at
from . import float_segment_error as fse
from .fit_metrics import METRIC_CODE, MINMAX, check_metric
from .fit_settings import (ALL_CODES_CANDIDATES, DEFAULT_GRID, FITTER_VERSION, FLOAT_BLOCK_SECONDS,
                           FitResult, resolve_rel_floor, resolve_tails)
from .float_domains import check_position, check_reach, derive_domain, derives, saturated
from .functions import Function, get_function
from .placement_dp import bellman, check_grid, dp_optimum
from .layout import MAX_POSITION, MicroStep, TableLayout
from .stored_values import DIGITS, MARGIN, TIE
from .table import NLITable
from .tails import (Tail, TailMode, linear_fixed_gain, scaled_input, convert, linear_offsets,
                    tail_offset)

MAX_BLOCK_VALUES = 1 << 22        # stored values precomputed per row block (32 MiB of int64)


def default_metric(layout: TableLayout) -> str:
    """The paper's mean relative error for a float output, max-abs otherwise."""
    return "mean-rel" if layout.out_float else "max-abs"




@dataclass(frozen=True)
class FloatProblem:
    """Evaluation codes (key order), their positions and f, the candidates, the tails."""
    layout: TableLayout
    function: Function
    domain: tuple[float, float]
    xs: np.ndarray                   # eval codes in increasing key order (-0 before +0)
    xpos: np.ndarray                 # their positions P(x) (raw value for a fixed input)
    fx: np.ndarray                   # f(xs), float64
    ulp: np.ndarray                  # output ulp at f (max-ulp metric)
    valid: np.ndarray                # every valid cutpoint code in the domain, increasing
    rel_floor: float = TAU
    tails: tuple[Tail, Tail] = (Tail(), Tail())
    sampled: bool = False
    limits: tuple = (None, None)     # a clamp side's fixed code (derived domains); None: f(c)
    cache: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def real(self, codes) -> np.ndarray:
        return self.layout.in_fmt.to_real(np.asarray(codes, dtype=np.int64))


def _covers(fin, dlo: float, dhi: float) -> tuple[bool, bool]:
    return dlo <= fin.min, dhi >= fin.max


def make_problem(func: "str | Function", layout: TableLayout,
                 domain: tuple[float, float] | None = None, rel_floor: float | None = None,
                 tails=None) -> FloatProblem:
    """Resolve domain and tails, check f there, list eval codes and candidate cutpoints."""
    fn = get_function(func) if isinstance(func, str) else func
    lay, fin, fout = layout, layout.in_fmt, layout.out_fmt
    if lay.micro_step is MicroStep.POW2:
        raise ParamsError(f"micro_step=pow2 needs fixed-point formats; {fin} -> {fout} uses mul")
    given, limits = domain is not None, (None, None)
    if domain is None and derives(fn, lay):
        derived = derive_domain(fn, lay, tails)
        domain, tails, fn = derived.domain, derived.tails, saturated(fn, lay)
        limits = derived.limits
    elif domain is None:
        domain = fn.default_domain or (fin.min, fin.max)
    dlo, dhi = float(domain[0]), float(domain[1])
    if not (np.isfinite(dlo) and np.isfinite(dhi)):
        raise ParamsError(f"domain must be finite, got [{dlo:g}, {dhi:g}]")
    if not dlo < dhi:
        raise ParamsError(f"domain must have lo < hi, got [{dlo:g}, {dhi:g}]")
    if dlo < fin.min or dhi > fin.max + (0.0 if fin.is_float else fin.lsb):
        what = "--domain" if given else f"the default domain of {fn.name}"
        raise ParamsError(f"{what} [{dlo:g}, {dhi:g}] reaches outside {fin}'s range "
                          f"[{fin.min:g}, {fin.max:g}]" + ("" if given else "; pass --domain"))
    sampled = False
    if lay.in_float:
        what = "--domain" if given else f"the default domain of {fn.name}"
        check_position(lay, (dlo, dhi), what)
        if derives(fn, lay) and not given:
            check_reach(lay, (dlo, dhi), what)
        xs = evaluation_codes(fin, dlo, dhi)
        covers = _covers(fin, dlo, dhi)
    else:
        lo = int(np.ceil(dlo / fin.lsb))
        hi = int(min(fin.max_raw, np.floor(dhi / fin.lsb)))
        xs = evaluation_codes(fin, lo, hi) if lo <= hi else np.zeros(0, dtype=np.int64)
        sampled = xs.shape[0] < hi - lo + 1
        covers = (lo == fin.min_raw, hi == fin.max_raw)
        dlo, dhi = lo * fin.lsb, hi * fin.lsb
    tl, th = resolve_tails(fn.name, tails, *covers)
    rel_floor = resolve_rel_floor(rel_floor, fout)
    x_real = fin.to_real(xs)
    if xs.shape[0] == 0:
        raise ParamsError(f"the domain [{dlo:g}, {dhi:g}] holds no code of {fin}")
    fn.check_domain(float(x_real[0]), float(x_real[-1]))
    fn.probe(float(x_real[0]), float(x_real[-1]))
    with np.errstate(all="ignore"):
        fx = fn(x_real)
    if not np.all(np.isfinite(fx)):
        raise FunctionError(f"{fn.name} is not finite everywhere on [{dlo:g}, {dhi:g}]; "
                            f"narrow --domain")
    top = fout.max if fout.is_float else max(-fout.min, fout.max)
    if fout.is_float and float(np.max(np.abs(fx))) > fout.max:
        raise ParamsError(f"{fn.name} on [{dlo:g}, {dhi:g}] reaches {float(np.max(np.abs(fx))):g}, "
                          f"beyond {fout}'s largest value {top:g}; narrow --domain")
    if not fout.is_float and (fx.min() < fout.min - fout.lsb / 2 or fx.max() > fout.max + fout.lsb):
        raise ParamsError(f"{fn.name} on [{dlo:g}, {dhi:g}] spans [{fx.min():g}, {fx.max():g}], "
                          f"outside {fout}'s range [{fout.min:g}, {fout.max:g}]; choose a wider "
                          f"--out or a narrower --domain")
    xpos = lay.position(xs)
    if lay.in_float:
        v = np.ldexp(x_real, lay.x_frac_bits)
        ok = (xs != (1 << (fin.width - 1))) & (v == np.floor(v)) & (np.abs(v) < MAX_POSITION)
        valid = xs[ok]
    else:
        valid = np.arange(int(xs[0]), int(xs[-1]) + 1, dtype=np.int64)
    if valid.shape[0] < lay.M:
        raise ParamsError(f"the domain [{dlo:g}, {dhi:g}] holds {valid.shape[0]} valid cutpoint "
                          f"codes of {fin}, fewer than M={lay.M}; lower -M or widen --domain")
    ulp = ulp_at(fout, np.clip(fx, fout.min, fout.max))
    return FloatProblem(lay, fn, (dlo, dhi), xs, xpos, fx, ulp, valid, float(rel_floor),
                        (tl, th), sampled, limits)


def candidate_grid(p: FloatProblem, grid: int | None = None) -> np.ndarray:
    """Candidate cutpoint codes: every valid one up to 4,096 (or ``grid``), else ``grid`` evenly
    spaced in code order (a grid of (N-1) m + 1 points contains the grid of N points)."""
    n = p.valid.shape[0]
    if grid is None:
        grid = n if n <= ALL_CODES_CANDIDATES else DEFAULT_GRID
    if grid >= n:
        return p.valid.copy()
    i = np.arange(grid, dtype=np.int64)
    return p.valid[np.unique((i * (n - 1)) // (grid - 1))]


# --- stored values: the one construction (kernel and build_table) ----------------------------
def edge_reals(layout: TableLayout, ca: np.ndarray, L: np.ndarray) -> np.ndarray:
    """x at the micro-bin edges C_a + j L / K (j = 0..K) of intervals at internal positions:
    (C_a K + j L) / K 2^-F, one rounding (exact when K is a power of two)."""
    K = layout.K
    j = np.arange(K + 1, dtype=np.float64)
    num = ca[:, None].astype(np.float64) * K + j * L[:, None].astype(np.float64)
    F = layout.x_frac_bits
    return np.ldexp(num / K, -F)


def _exact_x(layout: TableLayout, ca: int, L: int, j: int):
    K, F = layout.K, layout.x_frac_bits
    return mpmath.ldexp(mpmath.mpf(ca * K + j * L) / K, -F)


def _round_exact(fn: Function, f: np.ndarray, s: np.ndarray, x_exact: Callable) -> np.ndarray:
    """rint(f 2^s) (nearest even) as int64. A float64 value within MARGIN of a tie but not on it
    is decided by f's mpmath form at 60 digits (machine-independent, as
    stored_values.stored_codes); a float64 value exactly on a tie goes to even: those are
    structural (silu(x) = x in float64 for x > 37, x/2 near 0), the same on every libm, and
    thousands per fit (mpmath for each would cost more than the fit)."""
    scaled = np.ldexp(f, s)
    r = np.rint(scaled)
    mp_fn = getattr(fn, "mp", None)
    if mp_fn is not None:
        rem = np.abs(scaled - np.floor(scaled) - 0.5)
        near = np.flatnonzero((rem <= MARGIN * np.maximum(np.abs(scaled), 1.0)) & (rem != 0))
        for k in near:
            with mpmath.workdps(DIGITS):
                v = mpmath.ldexp(mp_fn(x_exact(int(k))), int(s.flat[k]))
                fl = int(mpmath.floor(v))
                d = v - fl - mpmath.mpf(0.5)
                if abs(d) <= TIE * max(abs(v), 1):
                    r.flat[k] = fl + (fl & 1)
                else:
                    r.flat[k] = fl + 1 if d > 0 else fl
    return r.astype(np.int64)


def block_exponents(layout: TableLayout, f: np.ndarray) -> np.ndarray:
    """Per row of ``f`` (the K+1 edge values of an interval): the least E in exp_range such that
    every rint(f 2^-E) fits value_bits signed bits (the greatest E if none does)."""
    B = layout.value_bits
    elo, ehi = layout.exp_range
    amax = np.max(np.abs(f), axis=1)
    E = np.clip(np.frexp(amax)[1].astype(np.int64) - B, elo, ehi)
    lo, hi = -(1 << (B - 1)), (1 << (B - 1)) - 1
    for _ in range(3):
        m = np.rint(np.ldexp(f, -E[:, None]))
        fits = np.all((m >= lo) & (m <= hi), axis=1)
        E = np.where(fits | (E >= ehi), E, E + 1)
    return E


def interval_values(p: FloatProblem, ca: np.ndarray, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stored values (R, K+1) and exponents (R,) of intervals at positions ``ca`` of lengths ``L``:
    block-float mantissas of f at the edges for a float output, else f rounded to the output
    format's codes (nearest even, saturating); exponents 0 then."""
    lay, fout = p.layout, p.layout.out_fmt
    ca = np.asarray(ca, dtype=np.int64)
    L = np.asarray(L, dtype=np.int64)
    x = edge_reals(lay, ca, L)
    with np.errstate(all="ignore"):
        f = p.function(x.ravel()).reshape(x.shape)
    K1 = lay.K + 1

    def x_exact(k):
        r, j = divmod(k, K1)
        return _exact_x(lay, int(ca[r]), int(L[r]), j)

    if lay.out_float:
        E = block_exponents(lay, f)
        s = np.broadcast_to(-E[:, None], f.shape)
        B = lay.value_bits
        m = _round_exact(p.function, f, s, x_exact)
        return np.clip(m, -(1 << (B - 1)), (1 << (B - 1)) - 1), E
    s = np.full(f.shape, fout.frac_bits)
    v = _round_exact(p.function, np.clip(f, fout.min - 1.0, fout.max + 1.0), s, x_exact)
    return fout.saturate(v), np.zeros(ca.shape, dtype=np.int64)


def quantized_f(p: FloatProblem, codes) -> np.ndarray:
    """Output codes of f at input codes (nearest even, saturating; near ties by mpmath): the value a
    clamp tail stores. The sign of zero is f's: a negative f that rounds to 0 gives -0, as the
    interpolation's rounding does (``luts/golden.py``)."""
    fout = p.layout.out_fmt
    codes = np.asarray(codes, dtype=np.int64)
    xr = p.real(codes)
    with np.errstate(all="ignore"):
        f = p.function(xr)
    if fout.is_float:
        e = np.frexp(np.where(f == 0, 1.0, np.abs(f)))[1] - 1
        k = np.maximum(e, 1 - fout.bias) - fout.man_bits
        s = -k.astype(np.int64)
    else:
        s = np.full(f.shape, fout.frac_bits, dtype=np.int64)
    r = _round_exact(p.function, f, s, lambda i: mpmath.mpf(float(xr[i])))
    return fout.quantize(np.copysign(np.ldexp(r.astype(np.float64), (-s).astype(np.int32)), f))


# --- the DP ------------------------------------------------------------------------------------
def _weights(p: FloatProblem, metric: str) -> np.ndarray:
    """Per-code factor of |y - f| in the kernel: 1/max(|f|, floor) (mean-rel), 1/ulp (max-ulp)."""
    key = ("weights", metric)
    if key not in p.cache:
        p.cache[key] = _weights_of(p, metric)
    return p.cache[key]


def _weights_of(p: FloatProblem, metric: str) -> np.ndarray:
    if metric == "mean-rel":
        return 1.0 / np.maximum(np.abs(p.fx), p.rel_floor)
    if metric == "max-ulp":
        return 1.0 / p.ulp
    return np.ones(p.fx.shape)


def _floor(p: FloatProblem, metric: str) -> np.ndarray:
    """Each code's least possible error: f rounded to the nearest output code."""
    key = ("floor", metric)
    if key in p.cache:
        return p.cache[key]
    fout = p.layout.out_fmt
    y = fout.to_real(fout.quantize(p.fx if fout.is_float else
                                   np.clip(p.fx, fout.min - 1.0, fout.max + 1.0)))
    d = np.abs(y - p.fx)
    p.cache[key] = d * d if metric == "mse" else d * _weights(p, metric)
    return p.cache[key]


def _slack(metric: str, bound: float, floor: np.ndarray) -> float:
    if not np.isfinite(bound):
        return float(bound)
    if metric in MINMAX:
        return bound * (1 + 1e-9) + 1e-300
    return (bound - float(floor.sum())) * (1 + 1e-6) + 1e-9 * bound


def _fmt_args(lay: TableLayout):
    fout = lay.out_fmt
    if lay.out_float:
        kbase, p2 = fse.pow2_table(fout)
        return (True, np.int64(fout.man_bits), np.int64(1 - fout.bias), float(fout.max),
                np.int64(kbase), p2, np.int64(0), np.int64(0), 1.0, np.int64(0))
    return (False, np.int64(0), np.int64(0), 0.0, np.int64(0), np.zeros(1), np.int64(fout.min_raw),
            np.int64(fout.max_raw), fout.lsb, np.int64(rounding_code(lay.rounding)))


def error_matrix(p: FloatProblem, cand: np.ndarray, metric: str, bound: float = np.inf,
                 gate: np.ndarray | None = None, gate_limit: float = np.inf,
                 progress: Callable[[str], None] | None = None, label: str = "") -> np.ndarray:
    """Interval errors E[p, q] of [cand[p], cand[q]); with a finite ``bound`` (an achievable
    objective) pruned exactly; with ``gate`` only where gate <= gate_limit. Row blocks of about
    FLOAT_BLOCK_SECONDS: stored values in numpy, errors in numba."""
    lay = p.layout
    floor = _floor(p, metric)
    w = _weights(p, metric)
    kbound = _slack(metric, bound, floor)
    cpos = lay.position(cand)
    idx = np.searchsorted(lay.key(p.xs), lay.key(cand), side="left").astype(np.int64)
    N = cand.shape[0]
    max_len = np.int64(1) << np.int64(lay.dx_bits)
    E = np.full((N, N), np.inf)
    mcode = np.int64(METRIC_CODE[metric])
    fargs = _fmt_args(lay)
    K1 = lay.K + 1
    # prefix pruning (sum metrics, a finite bound, no gate): see float_segment_error.error_rows
    if metric not in MINMAX and np.isfinite(kbound) and gate is None:
        D = np.full((lay.M - 1, N), np.inf)
        D[0] = tail_errors(p, cand, metric)[0]
        fpre = np.concatenate([[0.0], np.cumsum(floor)])[idx]
        # (a hair below the tail errors: float sums in another order than the bound's)
        D *= 1 - 1e-9
    else:
        D, fpre = np.zeros((0, N)), np.zeros(N)
    row, rows = 0, 1
    while row < N:
        stop = min(N, row + rows)
        t0 = time.perf_counter()
        r = np.arange(row, stop)
        q = np.arange(N)
        L = cpos[None, :] - cpos[r, None]
        have = (q[None, :] > r[:, None]) & (L < max_len)
        if gate is not None:
            have &= gate[row:stop] <= gate_limit
        pr, qq = np.nonzero(have)
        V = np.zeros((stop - row, N, K1), dtype=np.int64)
        EX = np.zeros((stop - row, N), dtype=np.int64)
        if pr.size:
            v, e = interval_values(p, cpos[pr + row], L[pr, qq])
            V[pr, qq] = v
            EX[pr, qq] = e
        fse.error_rows(E, np.int64(row), np.int64(stop), cpos, idx, V, EX, have, p.xpos, p.fx,
                       floor, w, np.int64(lay.K), np.int64(lay.t_bits), np.int64(lay.mul_bits),
                       max_len, *fargs, mcode, float(kbound), D, fpre)
        dt = time.perf_counter() - t0
        row = stop
        grow = int(rows * FLOAT_BLOCK_SECONDS / max(dt, 1e-6))
        rows = max(1, min(4 * rows, grow, MAX_BLOCK_VALUES // max(1, N * K1)))
        if progress:
            progress(f"{label}error matrix: {row:,}/{N:,} rows")
    return E


def tail_errors(p: FloatProblem, cand: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Errors of the domain codes below each candidate (left tail) and from it on (right)."""
    lay, fout = p.layout, p.layout.out_fmt
    idx = np.searchsorted(lay.key(p.xs), lay.key(cand), side="left").astype(np.int64)
    args = []
    for t, limit in zip(p.tails, p.limits):
        if t.mode is TailMode.CLAMP:
            q = quantized_f(p, cand) if limit is None else np.full(cand.shape, np.int64(limit))
            mode, y, c = fse.TAIL_CONST, np.zeros(p.xs.shape), fout.to_real(q)
        elif t.mode is TailMode.LINEAR:
            # per candidate the offset b through f(c); per code 2^S x (float out) or its rounding
            b = linear_offsets(t, lay, cand, quantized_f(p, cand))
            if fout.is_float:
                mode, y, c = fse.TAIL_LINEAR_FLOAT, scaled_input(t, lay, p.xs), fout.to_real(b)
            else:
                mode = fse.TAIL_LINEAR_FIXED
                y, c = linear_fixed_gain(t, lay, p.xs).astype(np.float64), b.astype(np.float64)
        else:
            mode, c = fse.TAIL_PER_CODE, np.zeros(cand.shape)
            y = fout.to_real(convert(lay, p.xs)) if t.mode is TailMode.IDENTITY else np.zeros(p.xs.shape)
        args += [np.int64(mode), y, c]
    q = _fmt_args(lay)[1:9]             # the output format's rounding, as the interval kernel's
    return fse.tail_errors(idx, *args, p.fx, _weights(p, metric), np.int64(METRIC_CODE[metric]), *q)


def pair_errors(p: FloatProblem, cand: np.ndarray, pairs: np.ndarray, metric: str) -> np.ndarray:
    """Errors of the intervals [cand[a], cand[b]) for rows (a, b) of ``pairs``, unpruned."""
    lay = p.layout
    cpos = lay.position(cand)
    idx = np.searchsorted(lay.key(p.xs), lay.key(cand), side="left").astype(np.int64)
    a, b = pairs[:, 0], pairs[:, 1]
    V, EX = interval_values(p, cpos[a], cpos[b] - cpos[a])
    floor, w = _floor(p, metric), _weights(p, metric)
    max_len = np.int64(1) << np.int64(lay.dx_bits)
    fargs = _fmt_args(lay)
    mcode = np.int64(METRIC_CODE[metric])
    return np.array([fse.interval_error(cpos[i], cpos[j] - cpos[i], V[k], EX[k], p.xpos, p.fx,
                                        floor, w, idx[i], idx[j], np.int64(lay.K),
                                        np.int64(lay.t_bits), np.int64(lay.mul_bits), max_len,
                                        *fargs, mcode, np.inf)
                     for k, (i, j) in enumerate(zip(a, b))])


def _local_search(p: FloatProblem, cand: np.ndarray, path: list[int], metric: str,
                  left: np.ndarray, right: np.ndarray, reach: int = 8, passes: int = 3) -> float:
    """An achievable objective near a coarse optimum: move one cutpoint at a time to the best of
    the candidates within ``reach`` of it (a heuristic; it only tightens the pruning bound)."""
    minmax = metric in MINMAX
    comb = max if minmax else (lambda u, v: u + v)
    path = list(path)
    M = len(path)

    def cost(pt):
        e = pair_errors(p, cand, np.array(list(zip(pt[:-1], pt[1:]))), metric)
        tot = comb(left[pt[0]], right[pt[-1]])
        for v in e:
            tot = comb(tot, v)
        return tot

    best = cost(path)
    for _ in range(passes):
        improved = False
        for i in range(M):
            lo = path[i - 1] + 1 if i > 0 else 0
            hi = path[i + 1] - 1 if i < M - 1 else cand.shape[0] - 1
            for k in range(max(lo, path[i] - reach), min(hi, path[i] + reach) + 1):
                if k == path[i]:
                    continue
                trial = path[:i] + [k] + path[i + 1:]
                c = cost(trial)
                if c < best:
                    best, path, improved = c, trial, True
        if not improved:
            break
    return float(best)


def _coarse_bound(p: FloatProblem, cand: np.ndarray, metric: str, progress) -> float:
    """Achievable objective: the optimum on nested sub-grids (every 4th candidate), each pruned
    by the one below it, then improved by a local search on the full grid."""
    M, minmax = p.layout.M, metric in MINMAX
    levels = [cand]
    while levels[-1].shape[0] // 4 >= max(2 * M, 16):
        c = levels[-1]
        levels.append(np.unique(np.concatenate([c[::4], c[-1:]])))
    bound, path, sub = np.inf, None, None
    for sub in reversed(levels[1:]):
        sub = sub[np.argsort(p.layout.key(sub), kind="stable")]
        left, right = tail_errors(p, sub, metric)
        try:
            E = error_matrix(p, sub, metric, bound, progress=progress,
                             label=f"bound from {sub.shape[0]} candidates: ")
            bound, path = bellman(E, left, right, M, minmax)
        except ParamsError:
            bound, path = np.inf, None
    if path is not None and np.isfinite(bound):
        full = np.searchsorted(p.layout.key(cand), p.layout.key(sub[path]))
        left, right = tail_errors(p, cand, metric)
        bound = min(bound, _local_search(p, cand, [int(k) for k in full], metric, left, right))
    return bound


def place_cutpoints(p: FloatProblem, metric: str, grid: int | None = None, *, prune: bool = True,
                    progress=None) -> tuple[np.ndarray, float, dict]:
    """Globally optimal cutpoints over the candidate grid: (codes, objective, stats). For the max
    metrics, the least total squared error among all placements reaching the optimum (the
    fixed-point fitter's DP, ``fitter.dp_optimum``, on this problem's kernels)."""
    check_metric(metric)
    check_grid(grid)
    cand = candidate_grid(p, grid)
    if cand.shape[0] < p.layout.M:
        raise ParamsError(f"only {cand.shape[0]} candidate cutpoints for M={p.layout.M}; raise --grid")
    stats = {"candidates": int(cand.shape[0])}
    bound = _coarse_bound(p, cand, metric, progress) if prune else np.inf
    try:
        path, best, more = dp_optimum(p, cand, metric, metric in MINMAX, bound, error_matrix,
                                      tail_errors, progress)
    except ParamsError as e:        # no chain of M cutpoints with every interval short enough
        if "no feasible placement" not in str(e):
            raise
        raise ParamsError(f"{e}: lower -M, raise --grid or narrow --domain") from None
    stats.update(more)
    return cand[path], best, stats


def build_table(p: FloatProblem, cutpoints, meta: dict | None = None) -> NLITable:
    """Table for given cutpoint codes: ``interval_values`` per macro interval, clamps f(c)."""
    lay = p.layout
    c = np.asarray(cutpoints, dtype=np.int64)
    pos = lay.position(c)
    V, E = interval_values(p, pos[:-1], np.diff(pos))
    if lay.out_float:
        values, exps = V.ravel(), tuple(int(e) for e in E)
    else:
        values, exps = np.concatenate([V[:1, 0], V[:, 1:].ravel()]), ()
    tl, th = p.tails
    q = [int(v) if lim is None else int(lim)
         for v, lim in zip(quantized_f(p, c[[0, -1]]), p.limits)]
    cl = [tail_offset(tl, lay, int(c[0]), int(q[0])), tail_offset(th, lay, int(c[-1]), int(q[1]))]
    return NLITable(layout=lay, function=p.function.name, cutpoints=tuple(int(x) for x in c),
                    values=tuple(int(v) for v in values), clamp_lo=cl[0], clamp_hi=cl[1],
                    domain=p.domain, tail_lo=tl, tail_hi=th, exponents=exps, meta=meta or {})


def all_codes_errors(table: NLITable, rel_floor: float) -> dict:
    """Errors over every finite code of the input format (every code of a fixed one, sampled
    beyond 65,536) where f is finite and inside the output format's range (|f| <= its largest
    value: beyond it no output code can follow f, e.g. e^x above 11.09 in fp16)."""
    fin, fout = table.layout.in_fmt, table.layout.out_fmt
    xs = fin.finite_codes() if fin.is_float else evaluation_codes(fin, fin.min_raw, fin.max_raw)
    with np.errstate(all="ignore"):
        f = get_function(table.function)(fin.to_real(xs))
        keep = np.isfinite(f) & (f >= fout.min) & (f <= fout.max)
    return table_errors(table, xs[keep], rel_floor=rel_floor)


def fit(func, layout: TableLayout, *, metric: str | None = None, grid: int | None = None,
        domain=None, refine: bool = False, rel_floor: float | None = None, tails=None,
        progress=None):
    """Fit one table with a float side (see ``fitter.fit``); returns a ``fitter.FitResult``."""
    if refine:
        raise ParamsError("--refine supports fixed-point formats only")
    metric = default_metric(layout) if metric is None else metric
    check_metric(metric)
    t0 = time.perf_counter()
    p = make_problem(func, layout, domain, rel_floor, tails)
    cut, objective, stats = place_cutpoints(p, metric, grid, progress=progress)
    table = build_table(p, cut)
    seconds = time.perf_counter() - t0
    meta = {"fitter_version": FITTER_VERSION, "metric": metric, "candidates": stats["candidates"],
            "refined": False, "sampled_eval": bool(p.sampled), "rel_floor": repr(p.rel_floor),
            "errors": table_errors(table, p.xs, rel_floor=p.rel_floor),
            "errors_all_codes": all_codes_errors(table, p.rel_floor)}
    if metric in MINMAX:
        key = metric.replace("-", "_")
        meta["placement"] = {key: stats[key], "mse": stats["mse"],
                             "tie_break": f"least mse among the {metric} optima"}
    table = dataclasses.replace(table, meta=meta)
    return FitResult(table, objective, stats["candidates"], seconds, stats)
