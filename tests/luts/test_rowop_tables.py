"""The shipped row-op tables (luts/tables/rowop/): they load, match their specs, have the
properties the units' range reductions rely on, are accurate to about one output LSB, and the
int8 ones refit to identical hardware."""
import math

import numpy as np
import pytest

from nlihw.errors import ParamsError
from nlihw.formats import Q
from nlihw.luts.functions import get_function
from nlihw.luts.golden import nli_eval
from nlihw.luts.rowop_tables import SPECS, rowop_spec, rowop_table, rowop_tables_dir

IDS = [s.filename for s in SPECS]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_shipped_table_matches_spec(spec):
    t = rowop_table(spec.preset, spec.func)
    lay = t.layout
    assert t.function == spec.func
    assert (str(lay.in_fmt), str(lay.out_fmt), lay.M, lay.K) == \
        (spec.in_fmt, spec.out_fmt, spec.M, spec.K)
    assert (rowop_tables_dir() / spec.filename).is_file()


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_table_properties_for_range_reduction(spec):
    t = rowop_table(spec.preset, spec.func)
    fin, fout = t.layout.in_fmt, t.layout.out_fmt
    one = 1 << fout.frac_bits
    if spec.func == "exp":
        lo = fin.quantize(spec.domain[0])
        below = np.arange(fin.min_raw, lo, dtype=np.int64)
        assert not nli_eval(t, below).any(), "every code below -R must give exactly 0"
        assert int(nli_eval(t, np.array([0]))[0]) == one, "e^0 must be exactly 1"
        y = nli_eval(t, np.arange(fin.min_raw, 1, dtype=np.int64))
        assert np.all(np.diff(y) >= 0), "exp must be non-decreasing"
        # -R: e^-R below half an output LSB, so the left edge costs nothing the format shows
        assert math.exp(spec.domain[0]) < fout.lsb / 2
    else:
        hi = 2 if spec.func == "reciprocal" else 4
        codes = np.arange(1 << fin.frac_bits, hi << fin.frac_bits, dtype=np.int64)
        y = nli_eval(t, codes)
        assert int(y[0]) == one, "f(1) must be exactly 1 (powers of two are exact)"
        assert np.all((y >= one // 2) & (y <= one))
        assert np.all(np.diff(y) <= 0), f"{spec.func} must be non-increasing"


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_table_accuracy_about_one_lsb(spec):
    """max |NLI - f| over every code of the domain: the fitter's max-abs result; these layouts
    reach it within 1.5 output LSBs (int16, K = 32) and 1 LSB (int8, K = 8)."""
    t = rowop_table(spec.preset, spec.func)
    fin, fout = t.layout.in_fmt, t.layout.out_fmt
    lo, hi = fin.quantize(spec.domain[0]), fin.quantize(spec.domain[1])
    codes = np.arange(lo, min(hi, fin.max_raw) + 1, dtype=np.int64)
    err = np.abs(fout.to_real(nli_eval(t, codes)) - get_function(spec.func)(fin.to_real(codes)))
    limit = 1.5 if spec.preset == "int16" else 1.0
    assert err.max() <= limit * fout.lsb


@pytest.mark.parametrize("spec", [s for s in SPECS if s.preset == "int8"],
                         ids=[s.filename for s in SPECS if s.preset == "int8"])
def test_int8_tables_refit_identically(spec):
    assert spec.fit().hardware() == rowop_table(spec.preset, spec.func).hardware()


def test_loader_errors():
    with pytest.raises(ParamsError) as ei:
        rowop_table("int4", "exp")
    assert "int4" in str(ei.value) and "\n" not in str(ei.value)
    with pytest.raises(ParamsError):
        rowop_spec("int16", "silu")
    assert rowop_spec("int8", "rsqrt").in_fmt == "u2.10"
    assert isinstance(rowop_table("int8", "exp").layout.in_fmt, Q)
