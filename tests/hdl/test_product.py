"""``hdl/common/product``: every way of building a product (infer, DSP block plus fabric, fabric
alone) gives the exact integer product on every pair of codes of small widths, and the spec
strings parse as documented."""
import itertools

import pytest
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from nlihw.errors import ParamsError
from nlihw.hdl.common.multipliers import Multipliers
from nlihw.hdl.common.fixed_point import round_shift
from nlihw.hdl.common.product import Product, product_terms, round_terms, round_terms_plus, term_count

# small stand-ins for a DSP block, so that every split (high part of one operand, of the other,
# of both, fabric alone) shows on operands of a few bits
POLICIES = ["infer", "4x3", "3x3", "5x2", "4x3/2", "3x3/4", "2x2", "3x3u", "4x3u/2"]
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
    ("18X27/12", (27, 18), 12, "27x18/12"), ("ecp5", (18, 18), 0, "18x18u"),
    ("xcup/9", (27, 18), 9, "27x18/9"), ("16x16U/3", (16, 16), 3, "16x16u/3"), ("ice40", (16, 16), 0, "16x16u")])
def test_spec_strings(spec, dsp, fabric, text):
    m = Multipliers.parse(spec)
    assert (m.dsp, m.fabric_bits, str(m)) == (dsp, fabric, text)
    assert m.unsigned == text.split("/")[0].endswith("u")
    assert Multipliers.parse(str(m)) == m


@pytest.mark.parametrize("spec, a, b, terms", [
    ("18x18u", unsigned(18), unsigned(17), 1),     # the block's unsigned mode: one multiply
    ("18x18", unsigned(18), unsigned(17), 2),      # signed only: 19 x 18 bits, a row and the block
    ("18x18u", signed(18), unsigned(18), 2),       # mixed signs: the signed widths decide
    ("18x18u", unsigned(19), unsigned(17), 3),     # wider than the block: two rows and the block
    ("27x18", signed(27), signed(18), 1)])
def test_unsigned_operands_take_one_block_only_where_it_has_an_unsigned_mode(spec, a, b, terms):
    assert term_count(a, b, Multipliers.parse(spec)) == terms


@pytest.mark.parametrize("spec", ["18", "18x", "x18", "1x18", "18x18/", "18x18/a", "infer/3",
                                  "65x18", "dsp", 18, ""])
def test_bad_specs_are_one_line_errors(spec):
    with pytest.raises(ParamsError) as e:
        Multipliers.parse(spec)
    assert "\n" not in str(e.value) and "multipliers" in str(e.value)


ROUNDINGS = ["nearest-even", "nearest-away", "toward-zero", "floor"]


@pytest.mark.parametrize("policy", POLICIES)
def test_rounded_terms_match_round_shift(policy):
    """A product's terms summed and rounded in one carry chain (``round_terms``) give the value
    ``round_shift`` gives on the product, for every shift and code pair."""
    m = Module()
    a, b = Signal(signed(6)), Signal(unsigned(5))
    pairs = []
    # nearest-even takes the one-chain path (the others, and shifts it cannot take, round_shift's)
    terms = product_terms(m, a, b, Multipliers.parse(policy))     # one product, every rounding of it
    for s, rounding in [*((s, "nearest-even") for s in range(11)), *((3, r) for r in ROUNDINGS[1:])]:
        got, want = Signal(signed(16)), Signal(signed(16))
        m.d.comb += [got.eq(round_terms(m, terms, 12, s, rounding)),
                     want.eq(round_shift(a * b, s, rounding))]
        pairs.append((s, rounding, got, want))
    bad = []

    async def tb(ctx):
        for x, y in itertools.product(_codes(a.shape()), _codes(b.shape())):
            ctx.set(a, x)
            ctx.set(b, y)
            await ctx.delay(1e-9)
            bad.extend((s, r, x, y, ctx.get(g), ctx.get(w)) for s, r, g, w in pairs if ctx.get(g) != ctx.get(w))

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()
    assert not bad, f"{policy}: {len(bad)} wrong (shift, rounding, a, b, got, want), first {bad[:3]}"


def _round_half_even(v: int, s: int) -> int:
    q, r = divmod(v, 1 << s)                       # floor
    half = 1 << (s - 1)
    return q + (r > half or (r == half and q & 1))


@pytest.mark.parametrize("policy", POLICIES[::2])
def test_rounded_terms_plus_an_addend(policy):
    """``round_terms_plus``: round-half-even(a * b / 2**s) + c for every a, b, c, with the terms at
    their own width (one chain per candidate, or the plain form where the width is too small) and
    at a wider one."""
    m = Module()
    a, b, c = Signal(signed(6)), Signal(unsigned(5)), Signal(signed(3))
    mult = Multipliers.parse(policy)
    outs = []
    # the terms' own width is 12: s = 8 needs 13 (the plain form), with 16 it takes two chains
    by_width = {w: product_terms(m, a, b, mult, w) for w in (None, 16)}
    for s, width in [(1, None), (4, None), (7, None), (8, None), (8, 16)]:
        got = Signal(signed(16))
        terms = by_width[width]
        w = max(width or 0, 12)
        m.d.comb += got.eq(round_terms_plus(m, terms, w, s, "nearest-even", c))
        outs.append((s, got))
    bad = []

    async def tb(ctx):
        for x, y, z in itertools.product(_codes(a.shape()), _codes(b.shape()), _codes(c.shape())):
            ctx.set(a, x)
            ctx.set(b, y)
            ctx.set(c, z)
            await ctx.delay(1e-9)
            bad.extend((s, x, y, z, ctx.get(g)) for s, g in outs if ctx.get(g) != _round_half_even(x * y, s) + z)

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()
    assert not bad, f"{policy}: {len(bad)} wrong (shift, a, b, c, got), first {bad[:3]}"
