"""nlihw.approx: the golden model as a float function (quantize, evaluate, dequantize)."""
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from nlihw.approx import Approx, approx
from nlihw.luts.default_tables import shipped_table
from nlihw.luts.golden import nli_eval

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def table():
    return shipped_table("silu_M11_K8")


def expected(table, x):
    """Round x * 2^frac half to even with Fractions, clamp to the format, then the golden model."""
    fin, fout = table.layout.in_fmt, table.layout.out_fmt
    codes = [min(max(round(Fraction(v) * 2 ** fin.frac_bits), fin.min_raw), fin.max_raw) for v in x]
    return fout.to_real(nli_eval(table, np.array(codes)))


def test_values_equal_quantize_then_golden(table):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-9, 9, 3000), np.arange(-40, 40) / 4096 + 0.5 / 4096])  # ties
    assert np.array_equal(Approx(table)(x), expected(table, x))


def test_saturates_and_propagates_nan(table):
    fin = table.layout.in_fmt
    y = Approx(table)(np.array([1e9, np.inf, -1e9, -np.inf, np.nan]))
    top, bottom = expected(table, [fin.max, fin.min])
    assert y[0] == y[1] == top and y[2] == y[3] == bottom and np.isnan(y[4])
    with pytest.raises(ValueError):                 # the golden model itself keeps refusing
        nli_eval(table, [fin.max_raw + 1])


def test_shape_and_constructors(table, tmp_path):
    x = np.linspace(-3, 3, 12).reshape(3, 4)
    a = Approx(table)
    assert a(x).shape == (3, 4)
    path = table.save(tmp_path / "t.json")
    for other in (approx(path), approx("silu_M11_K8"), approx(table), Approx.load(path)):
        assert np.array_equal(other(x), a(x))
    with pytest.raises(TypeError):
        Approx("silu")


def test_readme_example_runs():
    """The README's MLP example, verbatim; its error must be small but not zero."""
    text = README.read_text()
    code = re.search(r"<!-- approx-example -->\s*```python\n(.*?)```", text, re.S).group(1)
    scope: dict = {}
    exec(compile(code, "README example", "exec"), scope)
    assert 0 < scope["rel_rms"] < 1e-3


@pytest.fixture(scope="module")
def float_table():
    from nlihw.luts.fitter import fit
    from nlihw.luts.layout import TableLayout
    return fit("silu", TableLayout("fp16", "fp16", 5, 4), domain=(-8.0, 8.0), grid=32).table


def test_float_table_values_equal_nearest_even_then_golden(float_table):
    """fp16 in: x rounded to nearest even by a brute-force encoder
    (tests/support/float_fractions.py), then the golden model, then the output code's value."""
    from tests.support.float_fractions import encoder
    enc = encoder(5, 10, False)
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-12, 12, 400), [0.0, -0.0, 1 + 2 ** -11, 65519.0, -70000.0]])
    codes = [enc(Fraction(float(v))) for v in x]
    want = float_table.layout.out_fmt.to_real(nli_eval(float_table, np.array(codes)))
    assert np.array_equal(Approx(float_table)(x), want)


def test_float_nan_and_inf_go_through_the_hardware(float_table):
    """NaN -> the hardware's canonical NaN; +inf -> the Inf code, through the identity tail to +inf;
    -inf -> the zero tail; a format without Inf (fp8e4m3) saturates inf to its largest code."""
    a = Approx(float_table)
    assert list(a.codes(np.array([np.nan, np.inf, -np.inf]))) == [0x7E00, 0x7C00, 0xFC00]
    assert int(nli_eval(float_table, [0x7E00])[0]) == 0x7E00
    y = a(np.array([np.nan, np.inf, -np.inf, 1e6]))
    assert np.isnan(y[0]) and y[1] == np.inf and y[2] == 0.0 and y[3] == 65504.0   # finite: saturates
    from nlihw.luts.fitter import fit
    from nlihw.luts.layout import TableLayout
    t8 = fit("tanh", TableLayout("fp8e4m3", "fp8e4m3", 4, 2), domain=(-3.0, 3.0)).table
    a8 = Approx(t8)
    assert list(a8.codes(np.array([np.inf, -np.inf]))) == [0x7E, 0xFE]
    assert list(a8(np.array([np.inf, -np.inf, np.nan]))[:2]) == [
        float(t8.layout.out_fmt.to_real(t8.clamp_hi)), float(t8.layout.out_fmt.to_real(t8.clamp_lo))]
    assert np.isnan(a8(np.array([np.nan]))[0])
