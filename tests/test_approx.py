"""nlihw.approx: the golden model as a float function (quantize, evaluate, dequantize)."""
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from nlihw.approx import Approx, approx
from nlihw.luts.default_tables import shipped_table
from nlihw.sim.nli.golden import nli_eval

README = Path(__file__).resolve().parents[1] / "README.md"


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
