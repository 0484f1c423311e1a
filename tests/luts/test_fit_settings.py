"""The fixed-point and the float fitter share one definition of their candidate-grid settings
(luts/fit_settings.py): every code up to 4,096 candidates, else a grid of 1,024, on both sides."""
import pytest

from nlihw.luts import fit_settings, fitter, float_fit
from nlihw.luts.layout import TableLayout


def test_one_definition():
    assert fitter.DEFAULT_GRID is fit_settings.DEFAULT_GRID == 1024
    for name in ("ALL_CODES_CANDIDATES", "DEFAULT_GRID", "BLOCK_SECONDS"):
        assert name not in vars(float_fit) or vars(float_fit)[name] is vars(fit_settings)[name]
    assert "BLOCK_SECONDS" not in vars(fitter)


# s4.8 on [-8, 8 - 2^-8]: 4,096 codes; s5.8 on [-8, 8]: 4,097
@pytest.mark.parametrize("fin,hi,want", [("s4.8", 8 - 2.0 ** -8, 4096), ("s5.8", 8.0, 1024)])
def test_fixed_fitter_auto_grid(fin, hi, want):
    p = fitter.make_problem("tanh", TableLayout(fin, "s1.8", 4, 2), domain=(-8.0, hi))
    assert fitter.candidate_grid(p).shape[0] == want


# fp16 on [0.25, 4): 4 binades of 1,024 codes; to 4.0 inclusive: 4,097 codes
@pytest.mark.parametrize("hi,want", [(4 - 2.0 ** -9, 4096), (4.0, 1024)])
def test_float_fitter_auto_grid(hi, want):
    p = float_fit.make_problem("tanh", TableLayout("fp16", "fp16", 4, 2), domain=(0.25, hi))
    assert float_fit.candidate_grid(p).shape[0] == want
