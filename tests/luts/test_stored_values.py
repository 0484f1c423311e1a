"""Stored values are machine-independent: float64 values on or within a hair of a rounding boundary
are decided by the function's mpmath form; every other value keeps the plain float64 rounding."""
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from nlihw.formats import Q
from nlihw.luts import fitter
from nlihw.luts.functions import REGISTRY, Function
from nlihw.luts.layout import TableLayout
from nlihw.luts.stored_values import near_boundary, stored_codes

FMT = Q(3, 6, True)                      # LSB 1/64; boundary between codes 6 and 7 at 6.5/64
B = 6.5 / 64


def _fn(np_value, mp_value):
    return Function("probe", lambda x: np.full_like(x, np_value), mp=lambda x: mp_value)


@pytest.mark.parametrize("np_value, mp_value, code", [
    (B, mpmath.mpf(B) + mpmath.mpf("1e-17"), 7),           # float64 on the boundary, truly above
    (B, mpmath.mpf(B) - mpmath.mpf("1e-17"), 6),           # ... truly below
    (np.nextafter(B, 1), mpmath.mpf(B) - mpmath.mpf("1e-17"), 6),   # float64 1 ulp on the wrong side
    (np.nextafter(B, 0), mpmath.mpf(B) + mpmath.mpf("1e-17"), 7),
    (B, mpmath.mpf(13) / 128, 6),                          # an exact tie: to even
    (-B, -mpmath.mpf(13) / 128, -6),
])
def test_near_boundary_values_are_decided_by_mpmath(np_value, mp_value, code):
    f = np.full(3, np_value)
    codes = stored_codes(_fn(np_value, mp_value), f, FMT, lambda i: mpmath.mpf(i))
    assert codes.tolist() == [code] * 3


def test_values_off_the_boundary_keep_the_float64_rounding():
    """A value 2^-30 LSB from the boundary is far outside the margin: the mpmath form (made
    deliberately wrong here) is not consulted."""
    v = B + 2.0 ** -30 / 64
    codes = stored_codes(_fn(v, mpmath.mpf(0)), np.array([v]), FMT, lambda i: mpmath.mpf(i))
    assert codes.tolist() == [7]


@pytest.mark.parametrize("name", ["silu", "gelu", "tanh", "exp", "softplus"])
def test_fast_path_is_plain_rounding_everywhere_else(name):
    lay = TableLayout("s4.8", "s4.10", 2, 8)
    dom = (-8.0, 2.0) if name == "exp" else None
    p = fitter.make_problem(name, lay, dom)
    fine = p.lo + np.arange((p.hi - p.lo) * lay.K + 1) / lay.K
    f = REGISTRY[name](fine * lay.in_fmt.lsb)
    near = set(near_boundary(f, lay.out_fmt).tolist())
    for i in near:                       # independently: within 2^-40 (relative) of k + 1/2 LSB
        s = Fraction(float(f[i])) * 2 ** lay.out_fmt.frac_bits
        assert abs(s - math.floor(s) - Fraction(1, 2)) <= Fraction(2.0 ** -40) * max(abs(s), 1)
    plain = np.rint(np.ldexp(f, lay.out_fmt.frac_bits)).astype(np.int64)
    other = np.array([i for i in range(f.shape[0]) if i not in near], dtype=np.int64)
    assert np.array_equal(p.vq[other], plain[other])


def test_softplus_where_float64_sits_exactly_on_the_boundary():
    """softplus(x) = x + log1p(e^-x) is exactly x in float64 for x >= 37; at x = (k + 1/2) LSB of
    the output the true value is just above the boundary, so it must round up (float64 alone
    would round half of them down, to even)."""
    lay = TableLayout("s7.9", "s7.8", 2, 1)
    p = fitter.make_problem("softplus", lay, (37.0, 63.0))
    m = np.arange(p.lo, p.hi + 1)
    x = m / 512
    assert np.array_equal(REGISTRY["softplus"](x), x), "float64 gives x exactly here"
    expected = np.where(m % 2 == 1, (m + 1) // 2, m // 2)   # true value is x + (0, 1e-16)
    assert np.array_equal(p.vq, expected)
