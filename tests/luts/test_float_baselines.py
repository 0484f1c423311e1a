"""Float baselines: the exponent-indexed PWL's intervals are the top-bit segments of the codes,
its error falls with more leading bits, and the full LUT's error is f correctly rounded."""
from __future__ import annotations

import math

import numpy as np
import pytest

from nlihw.formats import FP
from nlihw.luts.float_baselines import exponent_pwl_table, full_lut_figures
from nlihw.luts.golden import nli_stages
from tests.support.float_fractions import E4M3, decode, encoder

E4M3_FMT = FP(4, 3, True)


@pytest.mark.parametrize("fmt, lead", [("fp8e4m3", 1), ("fp8e5m2", 0), ("fp16", 3)])
def test_intervals_are_the_top_bit_segments(fmt, lead):
    t = exponent_pwl_table("silu", fmt, fmt, lead, (-6.0, 6.0))
    fin = t.layout.in_fmt
    r = fin.man_bits - lead
    x = fin.finite_codes()
    v = fin.to_real(x)
    x = x[(v >= -6.0) & (v <= 6.0)]
    idx = nli_stages(t, x)["index"]
    mag = x & ((1 << (fin.width - 1)) - 1)
    neg = (x >> (fin.width - 1)) == 1
    # the segment a code belongs to: its top bits; a negative code of magnitude m lies in
    # [-(a + w), -a) with a < m <= a + w, i.e. segment (m - 1) >> r (-0 goes with +0)
    seg = np.where(neg & (mag > 0), -(((mag - 1) >> r) + 1), mag >> r)
    for s in np.unique(seg):
        assert len(set(idx[seg == s])) == 1, f"segment {s} spans several intervals"
    assert len(set(idx)) == len(set(seg))


def test_error_falls_with_leading_bits_and_reaches_the_full_lut():
    errs = [exponent_pwl_table("silu", "fp8e4m3", "fp8e4m3", p, (-6.0, 6.0)).meta["errors"]
            for p in range(4)]
    mean = [e["mean_rel"] for e in errs]
    assert all(a > b for a, b in zip(mean, mean[1:]))
    # every code a cutpoint: each output is f at that code, stored with 9-bit mantissas and
    # rounded into fp8, within one output rounding of the full LUT's correctly rounded f
    full = full_lut_figures("silu", "fp8e4m3", "fp8e4m3", (-6.0, 6.0))["errors"]
    assert mean[-1] <= full["mean_rel"] * 1.05 + 1e-12


def test_full_lut_error_is_f_correctly_rounded():
    enc = encoder(*E4M3)
    fig = full_lut_figures("silu", "fp8e4m3", "fp8e4m3", (-6.0, 6.0))
    xs = [c for c in range(256) if decode(c, *E4M3)[0] in ("num", "negzero")
          and -6 <= float(decode(c, *E4M3)[1]) <= 6]
    worst, total = 0.0, 0.0
    from fractions import Fraction
    for c in xs:
        xv = float(decode(c, *E4M3)[1])
        f = xv / (1 + math.exp(-xv))
        y = float(decode(enc(Fraction(f)), *E4M3)[1])
        worst = max(worst, abs(y - f))
        total += abs(y - f) / max(abs(f), 2.0 ** -14)
    assert fig["errors"]["max_abs"] == pytest.approx(worst, rel=1e-12)
    assert fig["errors"]["mean_rel"] == pytest.approx(total / len(xs), rel=1e-9)
    assert fig["entries"] == 256 and fig["bits"] == 256 * 8


def test_code_lut_holds_f_correctly_rounded_at_every_code():
    """The full LUT over raw codes: entry x is the fp8 code of silu(x) rounded to nearest even,
    NaN codes hold the canonical NaN, +-Inf (none in e4m3) aside; the direct engine reads it."""
    from fractions import Fraction

    from nlihw.hdl.nli.params import NLIEngineParams
    from nlihw.luts.float_baselines import code_lut_table
    enc = encoder(*E4M3)
    t = code_lut_table("silu", "fp8e4m3", "fp8e4m3")
    got = nli_stages(t, np.arange(256))["y"]
    for c in range(256):
        kind, v = decode(c, *E4M3)
        if kind == "nan":
            want = 0x7F
        elif kind == "negzero":
            want = 0x80                        # silu(-0) = -0 (IEEE), kept by the rounding
        else:
            xv = float(v)
            want = enc(Fraction(xv / (1 + math.exp(-xv))))
        assert got[c] == want, f"code {c:#04x}: want {want:#04x}, got {int(got[c]):#04x}"
    NLIEngineParams((t,), arch="direct")          # the engine takes it as a full LUT
