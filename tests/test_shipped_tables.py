"""The shipped default tables: all present and valid, accurate, and reproducible byte for byte."""
import numpy as np
import pytest

from nlihw.luts.default_tables import DEFAULT_SPECS, shipped_dir
from nlihw.luts.functions import get_function
from nlihw.luts.table import NLITable
from nlihw.sim.golden import nli_eval
from nlihw.sim.reference import evaluation_codes


@pytest.mark.parametrize("spec", DEFAULT_SPECS, ids=lambda s: s.filename[:-5])
def test_shipped_table_is_valid_and_its_errors_are_true(spec):
    t = NLITable.load(shipped_dir() / spec.filename)
    assert (t.function, str(t.layout.in_fmt), str(t.layout.out_fmt), t.layout.M, t.layout.K) == \
        (spec.func, spec.in_fmt, spec.out_fmt, spec.M, spec.K)
    # recompute the recorded max error independently: float64 f vs the golden model output
    xs = evaluation_codes(t)
    f = get_function(t.function)(xs * t.layout.in_fmt.lsb)
    err = np.abs(t.layout.out_fmt.to_real(nli_eval(t, xs)) - f).max()
    assert err == pytest.approx(t.meta["errors"]["max_abs"], rel=1e-5)     # stored at 6 digits
    assert xs.shape[0] == t.meta["errors"]["eval_codes"]


def test_accuracy_improves_with_the_paper_layout():
    """(11, 32) stores 321 values against 17 for (17, 1): it must be far more accurate."""
    for func in ("silu", "gelu", "tanh", "sigmoid"):
        coarse = NLITable.load(shipped_dir() / f"{func}_M17_K1.json").meta["errors"]["max_abs_lsb"]
        fine = NLITable.load(shipped_dir() / f"{func}_M11_K32.json").meta["errors"]["max_abs_lsb"]
        assert fine < 2.0 and fine < coarse / 8


def test_refit_gives_identical_hardware(tmp_path):
    """Statistics may drift in their last digits between CPUs; the hardware never may."""
    spec = next(s for s in DEFAULT_SPECS if s.filename == "reciprocal_M17_K1.json")
    refit = NLITable.load(spec.fit().save(tmp_path / spec.filename))
    assert refit.hardware() == NLITable.load(shipped_dir() / spec.filename).hardware()
