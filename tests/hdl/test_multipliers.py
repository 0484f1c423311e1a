"""``multipliers``: with a DSP block given, every multiplier the scan unit (its three NLI engines
included) hands to synthesis fits that block, one per product, and products with a narrow operand
have none; counted in the elaborated netlist (RTLIL ``$mul`` cells with a non-constant operand).
Values are the RTL benches' (``tests/hdl/test_scan_rtl.py`` runs a unit built this way bit-exact)."""
from __future__ import annotations

import re

import pytest
from amaranth.back import rtlil

from nlihw.errors import ParamsError
from nlihw.hdl.common.multipliers import Multipliers
from nlihw.hdl.nli.engine import NLIEngine
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.hdl.scan.datapath import engine_params
from nlihw.hdl.scan.params import ScanParams, preset
from nlihw.hdl.scan.unit import SelectiveScan

_CELL = re.compile(r"cell \$mul \S+\n((?:\s+(?:parameter|connect) .*\n)+)")


def multipliers(design, unsigned_mode=False) -> list[tuple[int, int]]:
    """(signed width of A, of B) of every $mul whose operands are both signals; with
    ``unsigned_mode`` (a block that takes unsigned operands) an unsigned x unsigned product's
    own widths."""
    out = []
    for body in _CELL.findall(rtlil.convert(design, emit_src=False)):
        par = dict(re.findall(r"parameter \\(\w+) (\S+)", body))
        ports = dict(re.findall(r"connect \\([AB]) (.+)", body))
        if any(re.fullmatch(r"\d+'[01x]+", v.strip()) for v in ports.values()):
            continue                                  # an index times a constant stride
        both_unsigned = par["A_SIGNED"] == par["B_SIGNED"] == "0"
        out.append(tuple(int(par[f"{x}_WIDTH"]) + (0 if par[f"{x}_SIGNED"] == "1"
                                                    or (unsigned_mode and both_unsigned) else 1)
                         for x in "AB"))
    return out


def _unit(name="int16", **kw):
    return preset(name, d_inner=8, d_state=16, lanes=4, **kw)


# By hand, int16 at P = 4: per state lane dt*A, the exp engine's interpolation (its micro bin is
# a shift: a pow2 table), dtu*B, dA*h and C*h (5 x 4 = 20); once: dt*u, D*u, yd*g and the softplus
# and SiLU engines' two each (7). Inferred, 5 of them are wider than 18 x 18 (dt*A 25 x 16, ...).
INT16_P4 = 27
EXP_INTERP_LANES = 4          # t is 11 bits (12 signed): with /12 these four go to the fabric


@pytest.mark.parametrize("spec, block, count", [
    ("18x18", (18, 18), INT16_P4), ("ecp5", (18, 18), INT16_P4),
    ("18x18/12", (18, 18), INT16_P4 - EXP_INTERP_LANES), ("27x18", (27, 18), INT16_P4),
    ("16x16", (16, 16), INT16_P4), ("16x16u", (16, 16), INT16_P4)])
def test_every_multiplier_fits_the_block(spec, block, count):
    muls = multipliers(SelectiveScan(_unit(multipliers=spec)), Multipliers.parse(spec).unsigned)
    too_wide = [w for w in muls if max(w) > block[0] or min(w) > block[1]]
    assert not too_wide, f"{spec}: {too_wide}"
    assert len(muls) == count


def test_inferred_products_are_left_whole():
    """By hand: wider than 18 x 18 are per lane dt*A (25 x 16), dtu*B (27 x 16), dA*h (27 x 18),
    C*h (27 x 16) (the exp interpolation: t 12 signed bits x the table's widest step, 11); once
    dt*u (25 x 16), yd*g (20 x 18), the softplus and SiLU micro-bin multiplies (16-bit dx x 18-bit
    scale, both unsigned: 17 x 19) and the softplus interpolation (t 13 x a 19-bit step)."""
    muls = multipliers(SelectiveScan(_unit()))
    wide = sorted(tuple(sorted(w, reverse=True)) for w in muls if max(w) > 18)
    assert len(muls) == INT16_P4
    assert wide == sorted([(25, 16)] * 5 + [(27, 16)] * 8 + [(27, 18)] * 4
                          + [(20, 18), (19, 17), (19, 17), (19, 13)])


def test_fabric_width_leaves_no_narrow_multiplier():
    muls = multipliers(SelectiveScan(_unit("int8", multipliers="18x18/8")))
    assert muls and min(min(w) for w in muls) > 8


def test_the_engines_take_the_units_policy():
    p = _unit(multipliers="18x18/12")
    for which in ("softplus", "exp", "silu"):
        assert str(engine_params(p, which).multipliers) == "18x18/12"
    e = NLIEngineParams(p.softplus, multipliers="18x18")
    assert all(max(w) <= 18 for w in multipliers(NLIEngine(e)))
    assert any(max(w) > 18 for w in multipliers(NLIEngine(NLIEngineParams(p.softplus))))


def test_params_round_trip_and_digest():
    p = _unit(multipliers="ecp5/12")
    assert p.to_dict()["multipliers"] == "18x18u/12"
    assert ScanParams.from_dict(p.to_dict()) == p
    assert "multipliers" not in _unit().to_dict()          # earlier digests stay valid
    assert p.digest() != _unit().digest()
    e = NLIEngineParams(p.exp, multipliers="27x18")
    assert NLIEngineParams.from_dict(e.to_dict()) == e and "multipliers" not in NLIEngineParams(p.exp).to_dict()
    with pytest.raises(ParamsError, match="multipliers"):
        _unit(multipliers="18y18")


def test_the_unsigned_mode_keeps_the_micro_bin_product_whole():
    """ecp5 (18x18u): the softplus and SiLU engines' micro-bin products (16-bit dx x 18-bit scale,
    both unsigned) are one 16 x 18 multiply each; with 18x18 (signed only) they are split, their
    block's part 17 bits of the scale."""
    whole = sorted(multipliers(SelectiveScan(_unit(multipliers="ecp5")), True))
    split = sorted(multipliers(SelectiveScan(_unit(multipliers="18x18"))))
    assert whole.count((16, 18)) == 2 and (16, 18) not in split
