"""Every product of the scan datapath sized to the DSP blocks: operand widths (from ScanDatapath)
against the DSP48E2 (27 x 18 signed) and ECP5 MULT18 (18 x 18 signed; 18 x 36 as two) limits, the
exact product shapes against brute-force corner products, the dA rounding against a scalar model,
and the presets' accuracy on the I/O quantization floor (bench and heavy-tailed, full output and
scan path alone)."""
from __future__ import annotations

import numpy as np
import pytest

from nlihw.errors import ParamsError
from nlihw.hdl.scan.datapath import ScanDatapath
from nlihw.hdl.scan.params import ScanParams, preset
from nlihw.luts.golden import nli_eval
from nlihw.sim.scan import stimulus
from nlihw.sim.scan.accuracy import path_rows, quantize_inputs
from nlihw.sim.scan.golden import scan_eval

# Device limits (datasheets, not the code): DSP48E2 multiplies 27 x 18 signed; an ECP5 MULT18X18D
# multiplies 18 x 18 signed, and two of them make 18 x 36.
DSP48E2 = (18, 27)
MULT18, MULT18_PAIR = 18, 36

# Signed operand widths by hand from the preset formats (an unsigned format takes one bit more):
# int16 dt u4.20 -> 25, A/u/B/C/D s*.* 16, dtu/state s6.21 27, dA u1.16 -> 18, y s6.12 18,
# g s4.16 20; int8 dt u4.12 -> 17, I/O 8, dtu/state s6.18 24, dA u1.15 -> 17, y s6.10 16, g s4.8 12.
HAND = {"int16": {"dt*A": (25, 16), "dt*u": (25, 16), "dtu*B": (27, 16), "dA*h": (18, 27),
                  "C*h": (16, 27), "D*u": (16, 16), "yd*g": (18, 20)},
        "int8": {"dt*A": (17, 8), "dt*u": (17, 8), "dtu*B": (24, 8), "dA*h": (17, 24),
                 "C*h": (8, 24), "D*u": (8, 8), "yd*g": (16, 12)}}
PRESET_POINTS = [("int16", "mamba1"), ("int8", "mamba1"), ("int16", "mamba2"), ("int8", "mamba2")]


def _p(name, mode="mamba1", **kw):
    return preset(name, d_inner=8, d_state=16, lanes=4, mode=mode,
                  headdim=2 if mode == "mamba2" else 1, **kw)


@pytest.mark.parametrize("name", ["int16", "int8"])
def test_operand_widths_by_hand(name):
    got = {k: v[:2] for k, v in ScanDatapath(_p(name)).products().items()}
    assert got == HAND[name]
    per_lane = {k for k, v in ScanDatapath(_p(name)).products().items() if v[2] == 4}
    assert per_lane == {"dt*A", "dtu*B", "dA*h", "C*h"}


@pytest.mark.parametrize("name, mode", PRESET_POINTS)
def test_every_product_fits_one_dsp48e2_and_two_mult18(name, mode):
    for prod, (a, b, _) in ScanDatapath(_p(name, mode)).products().items():
        lo, hi = sorted((a, b))
        assert lo <= DSP48E2[0] and hi <= DSP48E2[1], f"{name} {prod}: {a} x {b} > 27 x 18"
        assert lo <= MULT18 and hi <= MULT18_PAIR, f"{name} {prod}: {a} x {b} > 2 MULT18"


def _signed_bits(v: int) -> int:
    """Bits of the narrowest two's complement word holding v."""
    return (v.bit_length() if v >= 0 else (-v - 1).bit_length()) + 1


def _corner_bits(fa, fb) -> int:
    """Signed bits of every product of raw codes of formats fa and fb (the extremes suffice)."""
    return max(_signed_bits(x * y) for x in (fa.min_raw, fa.max_raw) for y in (fb.min_raw, fb.max_raw))


@pytest.mark.parametrize("name, mode", PRESET_POINTS)
def test_exact_product_shapes_hold_every_product(name, mode):
    p = _p(name, mode)
    dp = ScanDatapath(p)
    for shape, fa, fb in ((dp.dta_shape, p.dt_fmt, p.a_fmt), (dp.dtu_prod_shape, p.dt_fmt, p.u_fmt),
                          (dp.dbu_shape, p.dtu_fmt, p.b_fmt), (dp.dah_shape, p.dam_fmt, p.state_fmt),
                          (dp.du_shape, p.d_fmt, p.u_fmt), (dp.out_prod_shape, p.y_fmt, p.g_fmt)):
        assert shape.signed and shape.width >= _corner_bits(fa, fb), (fa, fb, shape)


def _rne(v: int, s: int) -> int:
    if s == 0:
        return v
    q, r = divmod(v, 1 << s)
    half = 1 << (s - 1)
    return q + (r > half or (r == half and q % 2 == 1))


def test_da_rounded_once_to_the_multiplier_operand():
    """The golden model's dA is the exp table's output rounded (nearest even) to u1.16: int16."""
    p = preset("int16", d_inner=4, d_state=4)
    x = stimulus.mamba_inputs(4, 4, 16, np.random.default_rng(3))
    cfg, run = quantize_inputs(p, x)
    st = scan_eval(p, cfg, run).stages
    table = nli_eval(p.exp, st["w"])
    drop = p.exp.layout.out_fmt.frac_bits - 16
    want = np.vectorize(lambda v: _rne(int(v), drop))(table)
    assert np.array_equal(st["dA"], want) and str(p.dam_fmt) == "u1.16" and drop >= 1
    assert np.any(table % (1 << drop))                    # the rounding drops non-zero bits


def test_da_mult_fmt_is_validated_and_serialized():
    p = preset("int16", d_inner=2, d_state=4)
    for bad in ("s2.16", "u0.16", "u1.24"):
        with pytest.raises(ParamsError, match="da_mult_fmt"):
            p.replace(da_mult_fmt=bad)
    assert p.to_dict()["da_mult_fmt"] == "u1.16"
    assert ScanParams.from_dict(p.to_dict()).digest() == p.digest()
    q = preset("int8", d_inner=2, d_state=4)
    assert "da_mult_fmt" not in q.to_dict() and q.dam_fmt == q.da_fmt


# The accuracy bar: the golden model's relative RMS error over its I/O quantization floor.
BAR = {"int16": 1.1, "int8": 1.05}
FAMILIES = {"bench": stimulus.mamba_inputs, "heavy-tailed": stimulus.heavy_tailed_inputs}


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("name", ["int16", "int8"])
def test_accuracy_on_the_floor(name, family):
    p = preset(name, d_inner=16, d_state=16)
    x = FAMILIES[family](16, 16, 256, np.random.default_rng(0))
    rows = path_rows(p, x)
    assert len(rows) == 2
    for row in rows:
        assert row["rel_rms"] <= BAR[name] * row["floor_rel_rms"], (row["path"], row["ratio"])


@pytest.mark.parametrize("field, fmt", [("y_fmt", "s6.11"), ("state_fmt", "s6.15"),
                                        ("dtu_fmt", "s6.15")])
def test_the_accuracy_bar_catches_a_too_narrow_format(field, fmt):
    """One fraction bit fewer in y (the format the bar sizes), six fewer in the state or dt*u
    (sized by the DSP, with margin) leave the floor on the bench inputs."""
    p = preset("int16", d_inner=16, d_state=16, **{field: fmt})
    x = stimulus.mamba_inputs(16, 16, 256, np.random.default_rng(0))
    assert max(r["ratio"] for r in path_rows(p, x)) > BAR["int16"]
