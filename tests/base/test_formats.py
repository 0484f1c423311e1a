"""Number formats against exact rational arithmetic (Python fractions)."""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from nlihw.errors import FormatError
from nlihw.formats import Q, Rounding, shift_round
from tests.support.rounding import ref_round

formats = st.builds(lambda i, f, s: Q(i + (1 if s else 0), f, s),
                    st.integers(0, 12), st.integers(1, 16), st.booleans())
modes = st.sampled_from([r.value for r in Rounding])


@settings(max_examples=300, deadline=None)
@given(fmt=formats, x=st.floats(-5000, 5000, allow_nan=False), mode=modes)
def test_quantize_matches_fractions(fmt, x, mode):
    expect = ref_round(Fraction(x) * 2 ** fmt.frac_bits, mode)
    expect = min(max(expect, fmt.min_raw), fmt.max_raw)
    assert int(fmt.quantize(x, mode)) == expect


@settings(max_examples=300, deadline=None)
@given(v=st.integers(-(2 ** 40), 2 ** 40), s=st.integers(0, 20), mode=modes)
def test_shift_round_matches_fractions(v, s, mode):
    assert int(shift_round(v, s, mode)) == ref_round(Fraction(v, 2 ** s), mode)


@settings(max_examples=200, deadline=None)
@given(fmt=formats, data=st.data())
def test_raw_real_and_bits_round_trip(fmt, data):
    raw = data.draw(st.integers(fmt.min_raw, fmt.max_raw))
    assert int(fmt.quantize(fmt.to_real(raw))) == raw
    assert Fraction(float(fmt.to_real(raw))) == Fraction(raw, 2 ** fmt.frac_bits)
    bits = int(fmt.to_bits(raw))
    assert 0 <= bits < 2 ** fmt.width
    assert int(fmt.from_bits(bits)) == raw


def test_ties_are_exact():
    q = Q.parse("s4.0")
    xs = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])
    assert q.quantize(xs, "nearest-even").tolist() == [-2, -2, 0, 0, 2, 2]
    assert q.quantize(xs, "nearest-away").tolist() == [-3, -2, -1, 1, 2, 3]
    assert q.quantize(xs, "toward-zero").tolist() == [-2, -1, 0, 0, 1, 2]
    assert q.quantize(xs, "floor").tolist() == [-3, -2, -1, 0, 1, 2]
    # the largest double below 0.5 must not round up (a classic x + 0.5 bug)
    assert int(q.quantize(np.nextafter(0.5, 0), "nearest-away")) == 0


def test_parse_print_and_range():
    q = Q.parse("s4.12")
    assert (q.width, q.min, q.max, str(q)) == (16, -8.0, 8 - 2 ** -12, "s4.12")
    u = Q.parse("u0.16")
    assert (u.width, u.min_raw, u.max_raw, str(u)) == (16, 0, 65535, "u0.16")
    assert Q.parse(" u1.15 ") == Q(1, 15, False)
    assert len(Q.parse("s3.5").codes()) == 256


@pytest.mark.parametrize("text", ["s4", "x4.12", "s0.8", "u20.20", "s-1.4", "", "s4.12.1"])
def test_bad_formats_raise(text):
    with pytest.raises(FormatError):
        Q.parse(text)


def test_overflow_modes():
    q = Q.parse("u1.3")
    assert q.quantize([5.0, -1.0]).tolist() == [15, 0]
    with pytest.raises(FormatError, match="overflows"):
        q.quantize(5.0, overflow="error")
    with pytest.raises(FormatError, match="non-finite"):
        q.quantize(np.nan)


@settings(max_examples=300, deadline=None)
@given(fmt=formats, x=st.floats(-5000, 5000, allow_nan=False), mode=modes)
def test_overflow_error_matches_fractions(fmt, x, mode):
    """overflow="error" raises exactly when the rounded value leaves the format, on either side."""
    expect = ref_round(Fraction(x) * 2 ** fmt.frac_bits, mode)
    if fmt.min_raw <= expect <= fmt.max_raw:
        assert int(fmt.quantize(x, mode, overflow="error")) == expect
    else:
        with pytest.raises(FormatError, match="overflows"):
            fmt.quantize(x, mode, overflow="error")


@pytest.mark.parametrize("text, below, lowest", [
    ("u1.3", -1.0, 0.0),                 # unsigned: anything that rounds below 0
    ("u1.3", -0.0625 - 2 ** -20, 0.0),   # just over half an LSB below 0: rounds to -1 LSB
    ("s2.2", -2.25, -2.0),               # signed: one LSB below the minimum
    ("s2.2", -1e300, -2.0),              # far below (clipped before scaling, still refused)
])
def test_overflow_error_below_the_range(text, below, lowest):
    q = Q.parse(text)
    with pytest.raises(FormatError, match="overflows"):
        q.quantize(below, overflow="error")
    with pytest.raises(FormatError, match="overflows"):
        q.quantize([lowest, below], overflow="error")
    assert int(q.quantize(lowest, overflow="error")) == round(lowest * 2 ** q.frac_bits)
    assert int(q.quantize(below)) == q.min_raw            # saturate clamps it instead
