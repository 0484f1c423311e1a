"""The fixed-point rounding rule has one definition (nlihw.formats.round_shift_code): shift_round,
the per-element shift of FP.quantize and the numba kernels of the fitter all run it. Expected values
come from exact fractions or by hand, never from the rule."""
from fractions import Fraction
import math

import numpy as np
import pytest
from numba import njit

from nlihw.formats import ROUNDING_CODE, Rounding, _round_shift, rounding_code, shift_round
from nlihw.luts import segment_error as se


@njit
def _compiled(vs, s, mode):
    # not cached: compiled from the current source of the rule on every run
    out = np.empty_like(vs)
    for i in range(vs.shape[0]):
        out[i] = se._round_shift(vs[i], s, mode)
    return out


def _exact(v: int, s: int, rounding: Rounding) -> int:
    q = Fraction(v, 1 << s)
    fl, frac = math.floor(q), q - math.floor(q)
    if rounding is Rounding.FLOOR:
        return fl
    if rounding is Rounding.TOWARD_ZERO:
        return fl if v >= 0 else math.ceil(q)
    if frac != Fraction(1, 2):
        return fl + (frac > Fraction(1, 2))
    if rounding is Rounding.NEAREST_AWAY:
        return fl + (v > 0)
    return fl + (fl % 2)                    # nearest-even


# -3..3 / 2 = -1.5, -1, -0.5, 0, 0.5, 1, 1.5, by hand
BY_HAND = {
    Rounding.NEAREST_EVEN: [-2, -1, 0, 0, 0, 1, 2],
    Rounding.NEAREST_AWAY: [-2, -1, -1, 0, 1, 1, 2],
    Rounding.TOWARD_ZERO: [-1, -1, 0, 0, 0, 1, 1],
    Rounding.FLOOR: [-2, -1, -1, 0, 0, 1, 1],
}
BIG = (1 << 62) - 1
TIES = [sign * (m << k) for k in (20, 40, 60, 61) for m in (1, 3) for sign in (1, -1)]
CODES = np.array(sorted({*range(-70, 71), BIG, -BIG - 1, -BIG, BIG - 1, *TIES,
                         (1 << 40) + (1 << 2), -(1 << 40) - (1 << 2)}), dtype=np.int64)

# every way in: the public function (enum and string), the per-element shift, the numba kernel
COPIES = {
    "shift_round": lambda v, s, r: shift_round(v, s, r),
    "shift_round(str)": lambda v, s, r: shift_round(v, s, r.value),
    "per-element": lambda v, s, r: _round_shift(v, np.full(v.shape, s, dtype=np.int64), r),
    "numba": lambda v, s, r: _compiled(v, np.int64(s), np.int64(rounding_code(r))),
}


def test_codes_are_distinct_ints_for_every_rounding():
    assert sorted(ROUNDING_CODE) == sorted(r.value for r in Rounding)
    assert sorted(ROUNDING_CODE.values()) == list(range(len(Rounding)))
    assert all(rounding_code(r) == rounding_code(r.value) == ROUNDING_CODE[r.value] for r in Rounding)


@pytest.mark.parametrize("copy", COPIES)
@pytest.mark.parametrize("rounding", list(Rounding))
def test_by_hand_halves(rounding, copy):
    v = np.arange(-3, 4, dtype=np.int64)
    assert COPIES[copy](v, 1, rounding).tolist() == BY_HAND[rounding]


@pytest.mark.parametrize("copy", COPIES)
@pytest.mark.parametrize("rounding", list(Rounding))
def test_every_copy_runs_the_exact_rule(rounding, copy):
    for s in (1, 2, 3, 5, 21, 41, 61, 62):
        want = [_exact(int(v), s, rounding) for v in CODES]
        assert COPIES[copy](CODES, s, rounding).tolist() == want, s


def test_shift_round_left_shift_and_clamped_per_element_shift():
    assert shift_round(np.array([-3, 5]), 0, "floor").tolist() == [-3, 5]
    assert shift_round(np.array([-3, 5]), -2, "nearest-even").tolist() == [-12, 20]
    # shifts beyond 62 give the shift-62 result for |v| < 2**61: 0 or -1 (floor), 0 (nearest)
    v = np.array([-(1 << 60), (1 << 60), -1, 1], dtype=np.int64)
    assert _round_shift(v, np.full(4, 80), Rounding.FLOOR).tolist() == [-1, 0, -1, 0]
    assert _round_shift(v, np.full(4, 80), Rounding.NEAREST_EVEN).tolist() == [0, 0, 0, 0]
