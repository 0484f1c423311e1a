"""``hdl/common/product``: every way of building a product (infer, DSP block plus fabric, fabric
alone) gives the exact integer product on every pair of codes of small widths, and the spec
strings parse as documented."""
import itertools

import pytest
from amaranth.hdl import Module, signed, unsigned
from amaranth.sim import Simulator

from nlihw.errors import ParamsError
from nlihw.hdl.common.multipliers import Multipliers
from nlihw.hdl.common.product import Product

# small stand-ins for a DSP block, so that every split (high part of one operand, of the other,
# of both, fabric alone) shows on operands of a few bits
POLICIES = ["infer", "4x3", "3x3", "5x2", "4x3/2", "3x3/4", "2x2"]
SHAPES = [unsigned(1), signed(1), unsigned(3), signed(3), unsigned(5), signed(5), signed(6), unsigned(6)]


def _codes(shape):
    if shape.signed:
        return range(-(1 << (shape.width - 1)), 1 << (shape.width - 1))
    return range(1 << shape.width)


def _check(policy, pairs):
    """Every code pair of every (a_shape, b_shape) in ``pairs`` through one Product each."""
    mult = Multipliers.parse(policy)
    m = Module()
    duts = []
    for k, (sa, sb) in enumerate(pairs):
        width = sa.width + sb.width
        m.submodules[f"p{k}"] = dut = Product(sa, sb, signed(width + 1), mult)
        duts.append((dut, sa, sb))
    bad = []

    async def tb(ctx):
        for dut, sa, sb in duts:
            for x, y in itertools.product(_codes(sa), _codes(sb)):
                ctx.set(dut.a, x)
                ctx.set(dut.b, y)
                await ctx.delay(1e-9)
                if ctx.get(dut.p) != x * y:
                    bad.append((sa, sb, x, y, ctx.get(dut.p)))

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()
    assert not bad, f"{policy}: {len(bad)} wrong, first {bad[:3]}"


@pytest.mark.parametrize("policy", POLICIES)
def test_every_code_pair_is_the_exact_product(policy):
    _check(policy, list(itertools.combinations_with_replacement(SHAPES, 2)))


@pytest.mark.parametrize("spec, dsp, fabric, text", [
    ("infer", None, 0, "infer"), (None, None, 0, "infer"), ("18x18", (18, 18), 0, "18x18"),
    ("18X27/12", (27, 18), 12, "27x18/12"), ("ecp5", (18, 18), 0, "18x18"),
    ("xcup/9", (27, 18), 9, "27x18/9")])
def test_spec_strings(spec, dsp, fabric, text):
    m = Multipliers.parse(spec)
    assert (m.dsp, m.fabric_bits, str(m)) == (dsp, fabric, text)
    assert Multipliers.parse(str(m)) == m


@pytest.mark.parametrize("spec", ["18", "18x", "x18", "1x18", "18x18/", "18x18/a", "infer/3",
                                  "65x18", "dsp", 18, ""])
def test_bad_specs_are_one_line_errors(spec):
    with pytest.raises(ParamsError) as e:
        Multipliers.parse(spec)
    assert "\n" not in str(e.value) and "multipliers" in str(e.value)
