"""Fitter: optimality against brute force over every placement, and the kernel against the golden model."""
import itertools

import numpy as np
import pytest

from nlihw.errors import FunctionError, ParamsError
from nlihw.luts import fitter
from nlihw.luts.layout import TableLayout
from nlihw.sim.reference import METRIC_KEY, table_errors


def brute_force(problem, metric, cand):
    """Best objective over every placement of M cutpoints among ``cand``, each evaluated whole by
    the golden model (no decomposition assumed)."""
    best = np.inf
    n = problem.xs.shape[0]
    for combo in itertools.combinations(cand.tolist(), problem.layout.M):
        try:
            table = fitter.build_table(problem, combo)
        except ValueError:          # pow2 lengths that are not K*2^s
            continue
        e = table_errors(table, problem.xs)[METRIC_KEY[metric]]
        best = min(best, e if metric == "max-abs" else e * n)
    return best


CASES = [  # (func, in, out, M, K, micro_step, metric)
    ("silu", "s3.2", "s3.3", 4, 1, "mul", "max-abs"),
    ("silu", "s3.2", "s3.3", 4, 2, "mul", "mean-rel"),
    ("tanh", "s3.2", "s1.5", 4, 4, "mul", "mse"),
    ("exp", "s3.3", "u3.3", 3, 2, "mul", "max-abs"),
    ("sigmoid", "s3.3", "u0.6", 3, 4, "pow2", "mean-rel"),
    ("gelu", "s4.4", "s4.4", 2, 4, "mul", "max-abs"),
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


@pytest.mark.parametrize("metric", ["max-abs", "mean-rel", "mse"])
@pytest.mark.parametrize("step", ["mul", "pow2"])
def test_dp_objective_equals_golden_model_error(metric, step):
    """The compiled kernel and the golden model agree on the error of the chosen table."""
    layout = TableLayout("s4.6", "s2.10", 9, 8, step)
    r = fitter.fit("silu", layout, metric=metric)
    n = r.table.meta["errors"]["eval_codes"]
    golden = table_errors(r.table)[METRIC_KEY[metric]]
    assert r.objective == pytest.approx(golden if metric == "max-abs" else golden * n, rel=1e-9)
    assert r.table.meta["errors"] == table_errors(r.table)


def test_pruning_keeps_the_optimum():
    layout = TableLayout("s4.10", "s4.12", 6, 4)
    p = fitter.make_problem("gelu", layout, (-4, 4))
    for metric in ("max-abs", "mean-rel"):
        _, pruned, stats = fitter.place_cutpoints(p, metric, grid=400, prune=True)
        _, full, _ = fitter.place_cutpoints(p, metric, grid=400, prune=False)
        assert np.isfinite(stats["bound"])
        assert pruned == full


def test_more_segments_never_worse():
    errs = []
    for M in (3, 5, 9, 17):
        r = fitter.fit("tanh", TableLayout("s3.7", "s1.11", M, 2))
        errs.append(r.table.meta["errors"]["max_abs"])
    assert errs == sorted(errs, reverse=True)
    assert errs[-1] < errs[0] / 4


def test_refinement_never_worse():
    layout = TableLayout("s4.6", "s4.8", 5, 4)
    for metric in ("max-abs", "mean-rel"):
        r = fitter.fit("silu", layout, metric=metric, refine=True)
        key = METRIC_KEY[metric]
        assert r.table.meta["errors"][key] <= r.table.meta["errors_unrefined"][key]
        assert r.table.meta["errors"] == table_errors(r.table)


def test_refinement_lowers_mean_error():
    r = fitter.fit("gelu", TableLayout("s4.6", "s4.8", 5, 2), metric="mse", refine=True)
    assert r.table.meta["errors"]["mse"] < r.table.meta["errors_unrefined"]["mse"]


def test_domain_and_clamps():
    """exp fitted on x <= 0 clamps above the domain to exp(0) = 1 and never wraps."""
    layout = TableLayout("s4.6", "u1.15", 9, 4)
    r = fitter.fit("exp", layout, domain=(-8, 0))
    t = r.table
    assert t.cutpoints[-1] <= 0 and t.domain == (-8.0, 0.0)
    from nlihw.sim.golden import nli_eval
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
