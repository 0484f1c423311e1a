"""The fitting metrics have one definition (nlihw.luts.fit_metrics): names, kernel codes and the key
of each in the error figures. The kernels are compiled here from their current source (no numba
cache), and their errors checked against hand formulas for each metric name."""
import numpy as np
import pytest
from numba import njit

from nlihw.errors import ParamsError
from nlihw.formats import fp16
from nlihw.luts import fit_metrics as fm
from nlihw.luts import fitter, float_fit
from nlihw.luts import float_segment_error as fse
from nlihw.luts import segment_error as se
from nlihw.luts.layout import TableLayout
from nlihw.luts import table_errors as reference

fixed_error = njit(se._code_error.py_func)
float_error = njit(fse.code_error.py_func)
clamp_errors = njit(se.clamp_errors.py_func)


def test_one_list_everywhere():
    assert fm.METRICS[:len(fm.FIXED_METRICS)] == fm.FIXED_METRICS == ("max-abs", "mean-rel", "mse")
    for mod in (fse, reference, se):                       # no second list left anywhere
        assert not hasattr(mod, "METRICS") and not hasattr(mod, "METRIC_KEY"), mod.__name__
    assert set(fm.METRIC_KEY) == set(fm.METRICS) == set(fm.METRIC_CODE)
    assert set(fm.MINMAX) <= set(fm.METRICS)
    assert not hasattr(se, "METRICS") and not hasattr(se, "METRIC_CODE")


def test_fixed_fitter_refuses_the_float_only_metric():
    p = fitter.make_problem("tanh", TableLayout("s3.5", "s2.6", 3, 1))
    with pytest.raises(ParamsError, match="choose one of max-abs, mean-rel, mse$"):
        fitter.place_cutpoints(p, "max-ulp")


def test_float_fitter_lists_every_metric():
    with pytest.raises(ParamsError, match="^unknown metric 'rms'; choose one of max-abs, mean-rel, mse, "
                                          "max-ulp$"):
        float_fit.fit("tanh", TableLayout("fp16", "fp16", 4, 2), metric="rms")


# y = 3 codes of 1/8, f = 0.25: d = 0.125, |f| = 0.25 (above the floor 0.01)
@pytest.mark.parametrize("metric,want", [("max-abs", 0.125), ("mean-rel", 0.5), ("mse", 0.015625)])
def test_fixed_kernel_error_follows_the_metric_name(metric, want):
    assert fixed_error(np.int64(3), 0.25, 0.125, np.int64(fm.METRIC_CODE[metric]), 0.01) == want


# y = 0.375, f = 0.25, weight 4: d = 0.125
@pytest.mark.parametrize("metric,want", [("max-abs", 0.125), ("mean-rel", 0.5), ("mse", 0.015625),
                                         ("max-ulp", 0.5)])
def test_float_kernel_error_follows_the_metric_name(metric, want):
    assert float_error(0.375, 0.25, np.int64(fm.METRIC_CODE[metric]), 4.0) == want


@pytest.mark.parametrize("metric", fm.FIXED_METRICS)
def test_clamp_errors_take_a_max_for_minmax_metrics_and_a_sum_otherwise(metric):
    # codes 0..3, clamp value vq[1] = 2 (x lsb 0.5 = 1.0); f = 1.5, 1.0, 0.0, 3.0: d = .5, 0, 1, 2
    fx = np.array([1.5, 1.0, 0.0, 3.0])
    xs = np.arange(4, dtype=np.int64)
    vq = np.array([0, 2, 0, 0], dtype=np.int64)
    left, right = clamp_errors(np.array([1], dtype=np.int64), np.array([1], dtype=np.int64), xs, fx,
                               vq, np.int64(0), np.int64(1), 0.5, np.int64(fm.METRIC_CODE[metric]), 1.0)
    d = [0.5, 0.0, 1.0, 2.0]
    per_code = {"max-abs": d, "mean-rel": [0.5 / 1.5, 0.0, 1.0, 2.0 / 3.0], "mse": [x * x for x in d]}
    e = per_code[metric]
    agg = max if metric in fm.MINMAX else sum
    assert left[0] == pytest.approx(agg(e[:1])) and right[0] == pytest.approx(agg(e[1:]))


def test_metric_keys_name_the_error_figures():
    # y = 1, f = 1 + 2^-10 and 1 - 2^-11 (fp16 ulps 2^-10 and 2^-11): d = 2^-10, 2^-11 = one ulp each
    f = np.array([1 + 2.0 ** -10, 1 - 2.0 ** -11])
    got = reference.error_summary(np.ones(2), f, np.arange(2), 1.0, 1.0, rel_floor=2.0 ** -14,
                                  out_fmt=fp16)
    want = {"max-abs": 2.0 ** -10, "max-ulp": 1.0, "mse": (2.0 ** -20 + 2.0 ** -22) / 2,
            "mean-rel": (2.0 ** -10 / f[0] + 2.0 ** -11 / f[1]) / 2}
    for metric, value in want.items():
        assert got[fm.METRIC_KEY[metric]] == pytest.approx(value, rel=1e-12), metric
