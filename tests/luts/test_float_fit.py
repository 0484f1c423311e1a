"""The fitter with a floating-point side (luts/float_fit.py): the compiled kernel against the golden
model code for code, DP optimality against every placement on tiny fp8 problems, block exponents
against their definition, and the recorded errors against independent float64 / fractions math."""
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from nlihw.errors import ParamsError
from nlihw.formats import FP
from nlihw.luts import float_fit as ff, float_segment_error as fse
from nlihw.luts.fitter import fit
from nlihw.luts.golden import nli_eval
from nlihw.luts.layout import TableLayout
from tests.support.float_fractions import decode

MATH_F = {
    "silu": lambda x: x / (1 + math.exp(-x)) if x > -700 else 0.0,
    "tanh": math.tanh,
    "exp": math.exp,
    "gelu": lambda x: 0.5 * x * (1 + math.erf(x / math.sqrt(2))),
    "sigmoid": lambda x: 1 / (1 + math.exp(-x)) if x > -700 else 0.0,
}
SPEC = {"fp8e4m3": (4, 3, True), "fp8e5m2": (5, 2, False), "fp16": (5, 10, False)}


def real_in(lay, x):
    """An input code's value from the independent decoder (fixed point: raw * 2^-frac)."""
    if lay.in_float:
        kind, v = decode(int(x), *SPEC[str(lay.in_fmt)])
        return float(v)
    return int(x) / 2 ** lay.in_fmt.frac_bits


def real_out(lay, y):
    if lay.out_float:
        return float(decode(int(y), *SPEC[str(lay.out_fmt)])[1])
    return int(y) / 2 ** lay.out_fmt.frac_bits


def ulp_of(fmt_name, v):
    """Spacing of a float format's codes at |v| (subnormal spacing below the normal range)."""
    e_bits, m_bits, _ = SPEC[fmt_name]
    bias = (1 << (e_bits - 1)) - 1
    e = math.floor(math.log2(abs(v))) if v != 0 else -10 ** 6
    return 2.0 ** (max(e, 1 - bias) - m_bits)


KERNEL_CASES = [  # in, out, func, M, K, domain
    ("fp16", "fp16", "silu", 5, 8, (-12.0, 12.0)),
    ("fp8e4m3", "fp8e4m3", "tanh", 4, 4, (-4.0, 4.0)),
    ("s3.5", "fp16", "exp", 4, 4, (-4.0, 0.0)),
    ("fp16", "s4.12", "silu", 4, 8, (-6.0, 6.0)),
    ("fp8e5m2", "fp8e5m2", "gelu", 5, 2, (-50.0, 50.0)),
]


@pytest.mark.parametrize("case", KERNEL_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}")
def test_kernel_equals_golden_code_for_code(case):
    """A fitted table: the kernel's outputs from interval_values (what the DP measured) equal the
    golden model's for every domain code, and its interval errors sum to the golden errors."""
    fin, fout, func, M, K, dom = case
    lay = TableLayout(fin, fout, M, K)
    res = fit(func, lay, domain=dom, grid=64, metric="mean-rel")
    t = res.table
    p = ff.make_problem(func, lay, dom)
    y = lay.out_fmt.to_real(nli_eval(t, p.xs))
    cpos = lay.position(np.array(t.cutpoints))
    idx = np.searchsorted(lay.key(p.xs), lay.key(np.array(t.cutpoints)), side="left")
    V, E = ff.interval_values(p, cpos[:-1], np.diff(cpos))
    fa = ff._fmt_args(lay)
    for i in range(M - 1):
        yk = fse.interval_outputs(cpos[i], cpos[i + 1] - cpos[i], V[i], E[i],
                                  p.xpos[idx[i]:idx[i + 1]], np.int64(K), np.int64(lay.t_bits),
                                  np.int64(lay.mul_bits), *fa)
        assert np.array_equal(yk, y[idx[i]:idx[i + 1]]), f"interval {i}"
    # the DP's objective is the golden model's total error (intervals and tails)
    w = 1.0 / np.maximum(np.abs(p.fx), p.rel_floor)
    assert res.objective == pytest.approx(float(np.sum(np.abs(y - p.fx) * w)), rel=1e-9)


def independent_table_output(t, x):
    """The float datapath for one code from its definition with Fractions (no numpy, own decode)."""
    lay = t.layout
    v = Fraction(real_in(lay, x))
    F, K, T = lay.x_frac_bits, lay.K, lay.t_bits
    cuts = [Fraction(real_in(lay, c)) for c in t.cutpoints]
    if v < cuts[0] or v >= cuts[-1]:
        return None
    i = max(k for k in range(len(cuts) - 1) if cuts[k] <= v)
    P = lambda r: math.floor(r * 2 ** F)            # noqa: E731
    L = P(cuts[i + 1]) - P(cuts[i])
    dx = P(v) - P(cuts[i])
    shift = max(s for s in range(64) if (K << (T + s)) // L < 1 << lay.mul_bits)
    u = (dx * ((K << (T + shift)) // L)) >> shift
    j, tt = u >> T, u & ((1 << T) - 1)
    if lay.out_float:
        m0, m1 = t.values[i * (K + 1) + j], t.values[i * (K + 1) + j + 1]
        return (Fraction(m0) + Fraction(tt, 1 << T) * (m1 - m0)) * Fraction(2) ** t.exponents[i]
    y0, y1 = t.values[i * K + j], t.values[i * K + j + 1]
    return Fraction(round(Fraction((y0 << T) + tt * (y1 - y0), 1 << T)), 2 ** lay.out_fmt.frac_bits)


def test_block_exponent_is_the_least_that_fits():
    """Every interval's mantissas are f at C_a + j L / K (exact positions) rounded at 2^E, within
    one unit (ties), E the least exponent of the layout's range at which all of them fit."""
    lay = TableLayout("fp16", "fp16", 6, 4)
    t = fit("silu", lay, domain=(-10.0, 10.0), grid=48).table
    B, (elo, _) = lay.value_bits, lay.exp_range
    F = lay.x_frac_bits
    for i in range(lay.M - 1):
        a = Fraction(real_in(lay, t.cutpoints[i])) * 2 ** F
        L = Fraction(real_in(lay, t.cutpoints[i + 1])) * 2 ** F - a
        f = [MATH_F["silu"](float((a + j * L / lay.K) / 2 ** F)) for j in range(lay.K + 1)]
        E = t.exponents[i]
        fits = lambda e: all(-(1 << (B - 1)) <= round(v / 2.0 ** e) < 1 << (B - 1) for v in f)  # noqa: E731
        assert fits(E) and (E == elo or not fits(E - 1))
        for j, v in enumerate(f):
            assert abs(t.values[i * (lay.K + 1) + j] - v / 2.0 ** E) <= 0.5 + 1e-9


def test_interpolation_matches_fractions_model():
    """Interior codes of a fitted fp16 table: the golden output is the Fractions datapath value
    rounded to nearest fp16 (the rounding checked by distance: no fp16 value is closer)."""
    lay = TableLayout("fp16", "fp16", 5, 8)
    t = fit("silu", lay, domain=(-12.0, 12.0), grid=48).table
    rng = np.random.default_rng(0)
    xs = ff.make_problem("silu", lay, (-12.0, 12.0)).xs
    for x in rng.choice(xs, 300, replace=False):
        exact = independent_table_output(t, x)
        if exact is None:
            continue
        y = Fraction(real_out(lay, nli_eval(t, [x])[0]))
        assert abs(y - exact) <= Fraction(ulp_of("fp16", float(exact) or 2.0 ** -30)) / 2


def brute_force(p, cand, metric):
    """(objective, mse) of the best placement among every M-subset of ``cand``, each table built
    and evaluated whole by the golden model, errors in plain float64 against the problem's f."""
    best = []
    for combo in itertools.combinations(cand.tolist(), p.layout.M):
        try:
            t = ff.build_table(p, combo)
        except ValueError:
            continue
        y = p.layout.out_fmt.to_real(nli_eval(t, p.xs))
        d = np.abs(y - p.fx)
        if metric == "mean-rel":
            obj = float(np.sum(d / np.maximum(np.abs(p.fx), p.rel_floor)))
        elif metric == "mse":
            obj = float(np.sum(d * d))
        elif metric == "max-ulp":
            obj = float(np.max(d / p.ulp))
        else:
            obj = float(np.max(d))
        best.append((obj, float(np.sum(d * d)), combo))
    return best


@pytest.mark.parametrize("metric", ["mean-rel", "max-abs", "max-ulp", "mse"])
def test_dp_is_optimal_against_every_placement_fp8(metric):
    """fp8e4m3 -> fp8e4m3, tanh, M=4 among 14 candidates: the DP optimum equals the best of all
    1,001 placements; for the max metrics the chosen placement has the least squared error among
    every placement reaching the optimum."""
    lay = TableLayout("fp8e4m3", "fp8e4m3", 4, 2)
    p = ff.make_problem("tanh", lay, (-3.0, 3.0))
    cand = ff.candidate_grid(p, 14)
    cut, obj, stats = ff.place_cutpoints(p, metric, 14)
    allp = brute_force(p, cand, metric)
    opt = min(a[0] for a in allp)
    assert obj == pytest.approx(opt, rel=1e-12, abs=1e-15)
    if metric in ("max-abs", "max-ulp"):
        least = min(a[1] for a in allp if a[0] <= opt * (1 + 1e-12))
        assert stats["sse"] == pytest.approx(least, rel=1e-9)


def test_dp_with_every_code_a_candidate_and_tails_fp8():
    """silu on fp8e4m3 [1, 4] with default tails (zero left, identity right) and every valid
    code a candidate: the optimum equals the brute force over all placements."""
    lay = TableLayout("fp8e4m3", "fp8e4m3", 3, 2)
    p = ff.make_problem("silu", lay, (1.0, 4.0))
    assert [str(t) for t in p.tails] == ["zero", "identity"]
    cand = ff.candidate_grid(p)
    assert np.array_equal(cand, p.valid) and cand.shape[0] == 8 + 8 + 1
    _, obj, _ = ff.place_cutpoints(p, "mean-rel")
    assert obj == pytest.approx(min(a[0] for a in brute_force(p, cand, "mean-rel")), rel=1e-12)


@pytest.mark.parametrize("out, metric", [("fp8e4m3", "mean-rel"), ("fp8e4m3", "max-abs"),
                                         ("s4.4", "mean-rel")])
def test_dp_with_linear_tails_fp8(out, metric):
    """Linear tails on both sides (slopes 2^-3 and 1, each offset through f at its end cutpoint):
    the kernel's tail errors give the optimum of the brute force over every placement, each table
    evaluated whole by the golden model."""
    lay = TableLayout("fp8e4m3", out, 3, 2)
    p = ff.make_problem("silu", lay, (1.0, 4.0), tails=("linear:-3", "linear"))
    cand = ff.candidate_grid(p)
    _, obj, _ = ff.place_cutpoints(p, metric)
    assert obj == pytest.approx(min(a[0] for a in brute_force(p, cand, metric)), rel=1e-12)


@pytest.mark.parametrize("fmts, dom", [(("fp8e4m3", "fp8e4m3"), (-4.0, 4.0)),
                                       (("fp16", "fp16"), (-6.0, 6.0)),
                                       (("fp8e5m2", "s4.4"), (-4.0, 4.0)),
                                       (("s4.4", "bf16"), (-4.0, 4.0))])
def test_linear_tail_errors_equal_golden(fmts, dom):
    """The kernel's linear-tail errors for every candidate end cutpoint equal those of the golden
    tail (``linear_output``, checked against fractions) with that candidate's offset."""
    from nlihw.luts.tails import Tail, linear_output, tail_offset
    lay = TableLayout(*fmts, 3, 2)
    tl, th = Tail.parse("linear:-3"), Tail.parse("linear:1")
    p = ff.make_problem("silu", lay, dom, tails=(tl, th))
    cand = ff.candidate_grid(p, 40)
    fout, q = lay.out_fmt, ff.quantized_f(p, cand)
    for metric in ("mean-rel", "max-abs"):
        left, right = ff.tail_errors(p, cand, metric)
        for k, c in enumerate(cand):
            below = lay.key(p.xs) < lay.key(c)
            for tail, sel, got in ((tl, below, left[k]), (th, ~below, right[k])):
                b = tail_offset(tail, lay, int(c), int(q[k]))
                d = np.abs(fout.to_real(linear_output(tail, lay, p.xs[sel], b)) - p.fx[sel])
                if metric == "mean-rel":
                    want = float(np.sum(d / np.maximum(np.abs(p.fx[sel]), p.rel_floor)))
                else:
                    want = float(np.max(d, initial=0.0))
                assert got == pytest.approx(want, rel=1e-9, abs=1e-300), (metric, k)


def test_recorded_errors_equal_independent_float64():
    """meta errors (domain and all codes) from an independent decode and math f."""
    lay = TableLayout("fp8e4m3", "fp8e4m3", 5, 4)
    t = fit("silu", lay, domain=(-6.0, 6.0)).table
    assert t.meta["metric"] == "mean-rel" and t.meta["rel_floor"] == repr(2.0 ** -14)

    def errors(codes):
        ys = nli_eval(t, np.array(codes))
        d, rel, ulp = [], [], []
        for x, y in zip(codes, ys):
            f = MATH_F["silu"](real_in(lay, x))
            e = abs(real_out(lay, y) - f)
            d.append(e)
            rel.append(e / max(abs(f), 2.0 ** -14))
            ulp.append(e / ulp_of("fp8e4m3", min(max(f, -448.0), 448.0)))
        return {"max_abs": max(d), "mean_rel": sum(rel) / len(rel), "max_ulp": max(ulp),
                "eval_codes": len(codes)}

    finite = [c for c in range(256) if decode(c, *SPEC["fp8e4m3"])[0] in ("num", "negzero")]
    dom = [c for c in finite if -6.0 <= real_in(lay, c) <= 6.0]
    for key, codes in (("errors", dom), ("errors_all_codes", finite)):
        want, got = errors(codes), t.meta[key]
        assert got["eval_codes"] == want["eval_codes"]
        for k in ("max_abs", "mean_rel", "max_ulp"):
            assert got[k] == pytest.approx(want[k], rel=1e-5), (key, k)


def test_float_tails_count_and_are_stored():
    """fp16 silu on [-8, 8]: the default tails are zero / identity, the codes beyond the last
    cutpoint get x itself, and -Inf / +Inf / NaN follow the tails and the NaN path."""
    lay = TableLayout("fp16", "fp16", 4, 4)
    t = fit("silu", lay, domain=(-8.0, 8.0), grid=32).table
    assert (str(t.tail_lo), str(t.tail_hi)) == ("zero", "identity")
    f16 = FP(5, 10)
    y = nli_eval(t, np.array([0xFC00, 0x7C00, 0x7E00, int(f16.quantize(100.0))]))
    assert list(y) == [0, 0x7C00, 0x7E00, int(f16.quantize(100.0))]
    clamp = fit("tanh", lay, domain=(-3.0, 3.0), grid=32).table
    assert (str(clamp.tail_lo), str(clamp.tail_hi)) == ("clamp", "clamp")
    assert clamp.clamp_hi == int(f16.quantize(math.tanh(real_in(lay, clamp.cutpoints[-1]))))


@pytest.mark.parametrize("kw, msg", [
    (dict(domain=(-1e6, 0.0)), "outside fp16"),
    (dict(metric="max-rel"), "unknown metric"),
    (dict(refine=True), "--refine"),
])
def test_float_fit_refusals(kw, msg):
    kw = {"domain": (-4.0, 4.0), **kw}
    with pytest.raises(ParamsError, match=msg):
        fit("silu", TableLayout("fp16", "fp16", 4, 2), **kw)
    with pytest.raises(ParamsError, match="pow2"):
        fit("silu", TableLayout("fp16", "fp16", 4, 2, micro_step="pow2"), domain=(-4.0, 4.0))


def test_candidates_are_valid_cutpoints_and_log_spaced():
    """bf16 [-150, 150]: candidates are codes on the 2^-24 grid, never -0, and an even grid in code
    order (so as many per binade near 1 as near 100)."""
    lay = TableLayout("bf16", "bf16", 11, 32)
    p = ff.make_problem("silu", lay, (-150.0, 150.0))
    cand = ff.candidate_grid(p)
    v = lay.in_fmt.to_real(cand)
    assert cand.shape[0] == 1024 and 0x8000 not in cand.tolist()
    assert np.all(np.ldexp(v, 24) == np.floor(np.ldexp(v, 24))) and np.all(np.diff(v) > 0)
    n1 = np.sum((v >= 1) & (v < 2))
    n64 = np.sum((v >= 64) & (v < 128))
    assert abs(int(n1) - int(n64)) <= 2


@pytest.mark.slow          # about a minute on the loaded 2-core machine
@pytest.mark.parametrize("metric", ["mean-rel", "max-ulp"])
def test_pruning_keeps_the_optimum(metric):
    """The pruned DP (coarse bound, local search, prefix pruning) against the textbook DP (every
    interval measured in full) on grids large enough for the pruning to act."""
    for func, fmt, dom, M, K, grid in (("silu", "fp16", (-8.0, 8.0), 6, 4, 160),
                                       ("sigmoid", "fp8e5m2", (-20.0, 20.0), 5, 2, None)):
        lay = TableLayout(fmt, fmt, M, K)
        p = ff.make_problem(func, lay, dom)
        assert ff.candidate_grid(p, grid).shape[0] >= 64           # a coarse level exists
        cut, obj, _ = ff.place_cutpoints(p, metric, grid)
        cut0, obj0, _ = ff.place_cutpoints(p, metric, grid, prune=False)
        assert obj == pytest.approx(obj0, rel=1e-12) and list(cut) == list(cut0)


def test_kernel_linear_tail_rounds_the_exact_sum_once():
    """bf16 output: 2^S x on a tie and b far below it (the float64 sum drops b): the kernel rounds
    the exact sum, away from the tie, as the golden model does."""
    b16 = FP(8, 7)
    kbase, p2 = fse.pow2_table(b16)
    args = (np.int64(b16.man_bits), np.int64(1 - b16.bias), float(b16.max), np.int64(kbase), p2,
            0.0, 0.0, 1.0)
    tie = 1 + 2.0 ** -8
    assert fse.tail_value(fse.TAIL_LINEAR_FLOAT, tie, 2.0 ** -60, *args) == 1 + 2.0 ** -7
    assert fse.tail_value(fse.TAIL_LINEAR_FLOAT, tie, -(2.0 ** -60), *args) == 1.0
    assert fse.tail_value(fse.TAIL_LINEAR_FLOAT, -tie, 2.0 ** -60, *args) == -1.0
