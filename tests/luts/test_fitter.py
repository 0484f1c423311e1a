"""Fitter: optimality and the least-squares tie-break against brute force over every placement, the
compiled kernel against the golden model for every rounding mode and metric, and the recorded
errors against an independent scalar datapath (Python ints and fractions, f from ``math``)."""
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from nlihw.errors import FunctionError, ParamsError
from nlihw.luts import fitter
from nlihw.luts.functions import Function
from nlihw.luts.layout import TableLayout
from nlihw.luts.golden import nli_eval
from nlihw.luts.table_errors import table_errors

ROUNDINGS = ("nearest-even", "nearest-away", "toward-zero", "floor")
METRICS = ("max-abs", "mean-rel", "mse")

# f in plain float64 math, independent of the registry's numpy forms
MATH_F = {
    "silu": lambda x: x / (1 + math.exp(-x)),
    "gelu": lambda x: 0.5 * x * (1 + math.erf(x / math.sqrt(2))),
    "tanh": math.tanh,
    "exp": math.exp,
    "sigmoid": lambda x: 1 / (1 + math.exp(-x)),
    "softplus": lambda x: math.log1p(math.exp(x)),
}


def scalar_scale(lay, L):
    """(mul, shift) from the README: pow2 -> (2^T, log2(L/K)); mul -> the largest shift with
    floor(K 2^(T+shift) / L) < 2^mul_bits, found by search."""
    K, T = lay.K, lay.t_bits
    if lay.micro_step.value == "pow2":
        return 1 << T, (L // K).bit_length() - 1
    shift = 0
    while (K << (T + shift + 1)) // L < (1 << lay.mul_bits):
        shift += 1
    return (K << (T + shift)) // L, shift


def scalar_round(acc, T, mode):
    fr = Fraction(acc, 1 << T)
    if mode == "floor":
        return math.floor(fr)
    if mode == "toward-zero":
        return math.trunc(fr)
    if mode == "nearest-away":
        r = math.floor(abs(fr) + Fraction(1, 2))
        return r if fr >= 0 else -r
    return round(fr)                      # Python rounds a Fraction half to even


def scalar_tail(table, x, right):
    """A tail's output from its definition: b, or clamp(round(x * slope in output LSBs) + b)."""
    lay = table.layout
    tail, b = (table.tail_hi, table.clamp_hi) if right else (table.tail_lo, table.clamp_lo)
    if tail.mode.value in ("clamp", "zero"):
        return b
    slope = Fraction(2) ** tail.shift                       # identity: shift 0
    scaled = Fraction(x) * slope * Fraction(2) ** (lay.out_fmt.frac_bits - lay.in_fmt.frac_bits)
    y = scalar_round(scaled.numerator * (1 << 20) // scaled.denominator, 20, lay.rounding.value) \
        if scaled.denominator <= (1 << 20) else None
    return min(max(y + b, lay.out_fmt.min_raw), lay.out_fmt.max_raw)


def scalar_output(table, x):
    """The hardware output for one raw input code, in Python ints."""
    lay, c = table.layout, table.cutpoints
    if x < c[0]:
        return scalar_tail(table, x, right=False)
    if x >= c[-1]:
        return scalar_tail(table, x, right=True)
    i = max(k for k in range(len(c) - 1) if c[k] <= x)
    mul, shift = scalar_scale(lay, c[i + 1] - c[i])
    u = ((x - c[i]) * mul) >> shift
    j, t = u >> lay.t_bits, u & ((1 << lay.t_bits) - 1)
    y0, y1 = table.values[i * lay.K + j], table.values[i * lay.K + j + 1]
    y = scalar_round((y0 << lay.t_bits) + t * (y1 - y0), lay.t_bits, lay.rounding.value)
    return min(max(y, lay.out_fmt.min_raw), lay.out_fmt.max_raw)


def independent_errors(table, func, rel_floor):
    """max-abs, mean-rel and mse over every domain code, from the scalar datapath and math f."""
    lay = table.layout
    lo = round(table.domain[0] / lay.in_fmt.lsb)
    hi = round(table.domain[1] / lay.in_fmt.lsb)
    d, rel = [], []
    for x in range(lo, hi + 1):
        f = MATH_F[func](x * lay.in_fmt.lsb)
        e = abs(scalar_output(table, x) * lay.out_fmt.lsb - f)
        d.append(e)
        rel.append(e / max(abs(f), rel_floor))
    return {"max_abs": max(d), "mean_rel": sum(rel) / len(d), "mse": sum(e * e for e in d) / len(d)}


def golden_code_errors(table, xs, fx, metric, rel_floor):
    d = np.abs(nli_eval(table, xs) * table.layout.out_fmt.lsb - fx)
    return d / np.maximum(np.abs(fx), rel_floor) if metric == "mean-rel" else \
        d * d if metric == "mse" else d


def all_placements(problem, cand):
    """(max-abs, mse, sum of the metric, cutpoints) of every placement of M cutpoints among
    ``cand``, each table evaluated whole by the golden model (no decomposition assumed)."""
    for combo in itertools.combinations(cand.tolist(), problem.layout.M):
        try:
            table = fitter.build_table(problem, combo)
        except ValueError:          # pow2 lengths that are not K*2^s
            continue
        yield table, combo


def brute_force(problem, metric, cand):
    best = np.inf
    for table, _ in all_placements(problem, cand):
        e = golden_code_errors(table, problem.xs, problem.fx, metric, problem.rel_floor)
        best = min(best, e.max() if metric == "max-abs" else e.sum())
    return best


CASES = [  # (func, in, out, M, K, micro_step, metric); one per metric in the fast suite
    ("silu", "s3.2", "s3.3", 4, 1, "mul", "max-abs"),
    pytest.param(("silu", "s3.2", "s3.3", 4, 2, "mul", "mean-rel"), marks=pytest.mark.slow),
    ("tanh", "s3.2", "s1.5", 4, 4, "mul", "mse"),
    pytest.param(("exp", "s3.3", "u6.3", 3, 2, "mul", "max-abs"), marks=pytest.mark.slow),
    ("sigmoid", "s3.3", "u0.6", 3, 4, "pow2", "mean-rel"),
    pytest.param(("gelu", "s4.4", "s4.4", 2, 4, "mul", "max-abs"), marks=pytest.mark.slow),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c)))
def test_dp_is_optimal_against_brute_force(case):
    func, fin, fout, M, K, step, metric = case
    layout = TableLayout(fin, fout, M, K, step, t_bits=6, mul_bits=12)
    p = fitter.make_problem(func, layout)
    cut, objective, _ = fitter.place_cutpoints(p, metric)
    cand = fitter.candidate_grid(p, fitter.DEFAULT_GRID)
    assert cand.shape[0] == p.hi - p.lo + 1, "small domains use every code as a candidate"
    assert objective == pytest.approx(brute_force(p, metric, cand), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("case", [("silu", "s3.2", "s3.2", 4, 1), ("gelu", "s3.2", "s3.4", 3, 1),
                                  ("tanh", "s3.2", "s3.2", 3, 1)],
                         ids=lambda c: "-".join(map(str, c)))
def test_max_abs_tie_break_is_least_mse_among_all_optima(case):
    """Among every placement reaching the least max error, the fit has the least mse (brute force
    over every placement; these cases have several optima with different mse)."""
    func, fin, fout, M, K = case
    p = fitter.make_problem(func, TableLayout(fin, fout, M, K, t_bits=6, mul_bits=12))
    figures = []
    for table, combo in all_placements(p, fitter.candidate_grid(p)):
        d = golden_code_errors(table, p.xs, p.fx, "max-abs", p.rel_floor)
        figures.append((float(d.max()), float(np.mean(d * d)), combo))
    best_max = min(f[0] for f in figures)
    optima = [f for f in figures if f[0] == best_max]
    assert max(f[1] for f in optima) > min(f[1] for f in optima) * 1.01, "the case must have a choice"
    r = fitter.fit(func, p.layout)
    d = golden_code_errors(r.table, p.xs, p.fx, "max-abs", p.rel_floor)
    assert float(d.max()) == best_max
    assert float(np.mean(d * d)) == pytest.approx(min(f[1] for f in optima), rel=1e-12)
    assert r.table.meta["placement"]["max_abs"] == best_max
    assert r.table.meta["placement"]["mse"] == pytest.approx(min(f[1] for f in optima), rel=1e-12)


def _random_problem(rounding, seed=1):
    """A problem with arbitrary signed stored values (not f): ties of every kind occur in the
    interpolation (t_bits=3), so the four roundings give different outputs."""
    rng = np.random.default_rng(seed)
    lay = TableLayout("s3.2", "s3.3", 2, 2, t_bits=3, mul_bits=8, rounding=rounding)
    lo, hi = lay.in_fmt.min_raw, lay.in_fmt.max_raw
    xs = np.arange(lo, hi + 1, dtype=np.int64)
    vq = rng.integers(lay.out_fmt.min_raw, lay.out_fmt.max_raw + 1, (hi - lo) * lay.K + 1)
    fx = rng.uniform(lay.out_fmt.min, lay.out_fmt.max, xs.shape[0])
    fx[::7] = 0.0                             # |f| below the relative floor
    fn = Function("random", lambda x: x)
    return fitter.FitProblem(lay, fn, int(lo), int(hi), xs, fx, vq.astype(np.int64), 2.0 ** -3)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_kernel_interval_errors_equal_the_golden_model(rounding, metric):
    """Every interval's error (and both clamp errors) from the compiled kernel equals the golden
    model's on the same stored values, for every rounding mode and metric."""
    p = _random_problem(rounding)
    cand = fitter.candidate_grid(p)
    E = fitter.error_matrix(p, cand, metric)
    left, right = fitter.clamp_errors(p, cand, metric)
    agg = np.max if metric == "max-abs" else np.sum
    for i, a in enumerate(cand.tolist()):
        y = p.vq[(a - p.lo) * p.layout.K] * p.layout.out_fmt.lsb
        d = np.abs(y - p.fx)
        e = d / np.maximum(np.abs(p.fx), p.rel_floor) if metric == "mean-rel" else \
            d * d if metric == "mse" else d
        below = p.xs < a
        assert left[i] == pytest.approx(agg(e[below]) if below.any() else 0.0, rel=1e-12)
        assert right[i] == pytest.approx(agg(e[~below]), rel=1e-12)
        for k in range(i + 1, cand.shape[0]):
            b = int(cand[k])
            table = fitter.build_table(p, [a, b])
            sel = (p.xs >= a) & (p.xs < b)
            want = agg(golden_code_errors(table, p.xs[sel], p.fx[sel], metric, p.rel_floor))
            assert E[i, k] == pytest.approx(want, rel=1e-12, abs=1e-300), (a, b)


def test_roundings_differ_on_the_random_problem():
    """The kernel check above is only meaningful if the modes give different outputs there."""
    outs = set()
    for r in ROUNDINGS:
        p = _random_problem(r)
        t = fitter.build_table(p, [p.lo, p.hi])
        outs.add(tuple(nli_eval(t, p.xs).tolist()))
    assert len(outs) == 4


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_dp_objective_and_recorded_errors_equal_an_independent_datapath(rounding, metric):
    """The DP objective and meta["errors"] of a fitted table equal the error recomputed by a
    scalar datapath in Python ints and f from math, for every rounding mode and metric."""
    layout = TableLayout("s3.5", "s3.4", 5, 4, t_bits=4, mul_bits=10, rounding=rounding)
    r = fitter.fit("silu", layout, metric=metric)
    rf = float(r.table.meta["rel_floor"])
    ind = independent_errors(r.table, "silu", rf)
    n = r.table.meta["errors"]["eval_codes"]
    key = {"max-abs": "max_abs", "mean-rel": "mean_rel", "mse": "mse"}[metric]
    assert r.objective == pytest.approx(ind[key] * (1 if metric == "max-abs" else n), rel=1e-9)
    for k in ("max_abs", "mean_rel", "mse"):
        assert r.table.meta["errors"][k] == pytest.approx(ind[k], rel=1e-9)


TAIL_CASES = [("zero", "identity"), ("linear:-1", "clamp"), ("identity", "linear:1"),
              ("clamp", "linear:-2")]


@pytest.mark.parametrize("tails", TAIL_CASES, ids="/".join)
def test_dp_with_tails_is_optimal_against_brute_force(tails):
    """Tails are part of the objective: the DP's optimum equals brute force over every placement,
    each table evaluated whole by the golden model (tails included)."""
    layout = TableLayout("s3.2", "s3.3", 3, 2, t_bits=6, mul_bits=12)
    p = fitter.make_problem("silu", layout, tails=tails)
    assert (str(p.tails[0]), str(p.tails[1])) == tails
    cut, objective, _ = fitter.place_cutpoints(p, "max-abs")
    assert objective == pytest.approx(brute_force(p, "max-abs", fitter.candidate_grid(p)), rel=1e-12)


@pytest.mark.parametrize("tails", TAIL_CASES, ids="/".join)
def test_tails_recorded_errors_equal_an_independent_datapath(tails):
    """Fitted with tails on a domain narrower than the format: the recorded errors equal the
    scalar datapath's (tails from their definition), and the tail rule holds past the domain."""
    layout = TableLayout("s4.4", "s4.4", 4, 4, t_bits=4, mul_bits=10)
    r = fitter.fit("silu", layout, domain=(-3, 3), tails=tails)
    t = r.table
    assert (str(t.tail_lo), str(t.tail_hi)) == tails
    ind = independent_errors(t, "silu", float(t.meta["rel_floor"]))
    for k in ("max_abs", "mean_rel", "mse"):
        assert t.meta["errors"][k] == pytest.approx(ind[k], rel=1e-9)
    xs = np.arange(layout.in_fmt.min_raw, layout.in_fmt.max_raw + 1)
    assert nli_eval(t, xs).tolist() == [scalar_output(t, int(x)) for x in xs]


def test_default_tails_follow_the_function_where_the_domain_stops_short():
    """silu on a narrow domain: zero left, identity right; a side the domain covers stays a clamp."""
    layout = TableLayout("s4.4", "s4.4", 4, 2, t_bits=4, mul_bits=10)
    t = fitter.fit("silu", layout, domain=(-3, 3)).table
    assert (str(t.tail_lo), str(t.tail_hi)) == ("zero", "identity")
    assert nli_eval(t, [layout.in_fmt.max_raw]).tolist() == [layout.in_fmt.max_raw]   # y = x
    assert nli_eval(t, [layout.in_fmt.min_raw]).tolist() == [0]
    t = fitter.fit("silu", layout, domain=(-8, 3)).table
    assert (str(t.tail_lo), str(t.tail_hi)) == ("clamp", "identity")
    assert fitter.fit("tanh", layout, domain=(-3, 3)).table.tail_hi.mode.value == "clamp"


def test_relative_floor_default_option_and_record():
    """mean-rel divides by max(|f|, floor): default max(2^-14, one output LSB), or --rel-floor;
    the DP and the recorded errors use it, and it is recorded in meta."""
    for out, floor in (("s3.4", 2.0 ** -4), ("s3.16", 2.0 ** -14)):
        r = fitter.fit("silu", TableLayout("s3.5", out, 5, 2), metric="mean-rel")
        assert r.table.meta["rel_floor"] == repr(floor)          # exact, not rounded to 6 digits
        ind = independent_errors(r.table, "silu", floor)
        assert r.table.meta["errors"]["mean_rel"] == pytest.approx(ind["mean_rel"], rel=1e-9)
        assert r.objective == pytest.approx(ind["mean_rel"] * 256, rel=1e-9)
    r = fitter.fit("silu", TableLayout("s3.5", "s3.4", 5, 2), metric="mean-rel", rel_floor=0.5)
    assert r.table.meta["rel_floor"] == "0.5"
    ind = independent_errors(r.table, "silu", 0.5)
    assert r.objective == pytest.approx(ind["mean_rel"] * 256, rel=1e-9)
    # an existing table: its recorded floor, else the paper's 2^-14
    assert table_errors(r.table)["mean_rel"] == pytest.approx(ind["mean_rel"], rel=1e-9)
    import dataclasses
    old = dataclasses.replace(r.table, meta={})
    assert table_errors(old)["mean_rel"] == pytest.approx(
        independent_errors(old, "silu", 2.0 ** -14)["mean_rel"], rel=1e-9)


def test_pruning_keeps_the_optimum():
    layout = TableLayout("s4.10", "s4.12", 6, 4)
    p = fitter.make_problem("gelu", layout, (-4, 4))
    for metric in ("max-abs", "mean-rel"):
        pc, pruned, stats = fitter.place_cutpoints(p, metric, grid=400, prune=True)
        fc, full, fstats = fitter.place_cutpoints(p, metric, grid=400, prune=False)
        assert np.isfinite(stats["bound"])
        assert pruned == full
        if metric == "max-abs":        # the tie-break is exact too: the same least squares
            assert stats["sse"] == pytest.approx(fstats["sse"], rel=1e-12)


def test_more_segments_never_worse():
    errs = []
    for M in (3, 5, 9, 17):
        r = fitter.fit("tanh", TableLayout("s3.7", "s1.11", M, 2))
        errs.append(r.table.meta["errors"]["max_abs"])
    assert errs == sorted(errs, reverse=True)
    assert errs[-1] < errs[0] / 4


def test_refinement_never_worse():
    layout = TableLayout("s4.4", "s4.8", 5, 4)
    for metric in ("max-abs", "mean-rel"):
        r = fitter.fit("silu", layout, metric=metric, refine=True)
        key = {"max-abs": "max_abs", "mean-rel": "mean_rel"}[metric]
        assert r.table.meta["errors"][key] <= r.table.meta["errors_unrefined"][key]
        ind = independent_errors(r.table, "silu", float(r.table.meta["rel_floor"]))
        assert r.table.meta["errors"][key] == pytest.approx(ind[key], rel=1e-9)


def test_refinement_lowers_mean_error():
    r = fitter.fit("gelu", TableLayout("s4.6", "s4.8", 5, 2), metric="mse", refine=True)
    assert r.table.meta["errors"]["mse"] < r.table.meta["errors_unrefined"]["mse"]


def test_domain_and_clamps():
    """exp fitted on x <= 0 clamps above the domain to exp(0) = 1 and never wraps."""
    layout = TableLayout("s4.6", "u1.15", 9, 4)
    r = fitter.fit("exp", layout, domain=(-8, 0))
    t = r.table
    assert t.cutpoints[-1] <= 0 and t.domain == (-8.0, 0.0)
    y = nli_eval(t, np.arange(1, 512))
    assert np.all(y == t.clamp_hi) and t.clamp_hi == 1 << 15


def test_errors_are_clear():
    lay = TableLayout("s4.8", "s4.8", 5, 4)
    with pytest.raises(FunctionError, match="undefined for x <= 0"):
        fitter.fit("rsqrt", lay, domain=(-1, 2))
    with pytest.raises(FunctionError, match="unknown function"):
        fitter.fit("nope", lay)
    with pytest.raises(ParamsError, match="fewer than M"):
        fitter.fit("silu", lay, domain=(0, 0.01))
    with pytest.raises(ParamsError, match="metric"):
        fitter.fit("silu", lay, metric="l7")
    with pytest.raises(ParamsError, match="K must be a power of two"):
        TableLayout("s4.8", "s4.8", 5, 3, "pow2")
    with pytest.raises(ParamsError, match="M must be"):
        TableLayout("s2.2", "s4.8", 17, 1)
