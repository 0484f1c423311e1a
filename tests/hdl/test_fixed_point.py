"""``hdl/common/fixed_point``'s round_shift and saturate against the integer model
(``nlihw.formats.shift_round`` / ``Q.saturate``) on every input code of small widths, both
signednesses, every rounding mode."""
import itertools

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from nlihw.formats import Q, Rounding, shift_round

ROUNDINGS = [r.value for r in Rounding]
from nlihw.hdl.common.fixed_point import round_shift, saturate


def _eval(width, is_signed, build):
    """Every code of a ``width``-bit input through the combinational ``build(v)``; the outputs."""
    v = Signal(signed(width) if is_signed else unsigned(width))
    outs = build(v)
    sigs = [Signal.like(o) if hasattr(o, "shape") else o for o in outs]
    m = Module()
    m.d.comb += [s.eq(o) for s, o in zip(sigs, outs)]
    codes = range(-(1 << (width - 1)), 1 << (width - 1)) if is_signed else range(1 << width)
    got = []

    async def tb(ctx):
        for c in codes:
            ctx.set(v, c)
            await ctx.delay(1e-9)
            got.append(tuple(ctx.get(s) for s in sigs))

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()
    return np.array(list(codes)), got


@pytest.mark.parametrize("width, is_signed, s", [(7, True, 3), (6, False, 2), (8, True, 1), (5, True, 5),
                                                 (6, False, 6)])
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_round_shift_every_code(width, is_signed, s, rounding):
    codes, got = _eval(width, is_signed, lambda v: [round_shift(v, s, rounding)])
    want = shift_round(codes, s, rounding)
    assert [g[0] for g in got] == want.tolist()


FORMATS = [Q(2, 2, True), Q(1, 3, False), Q(1, 3, True), Q(3, 0, False), Q(1, 0, True), Q(4, 4, True)]


@pytest.mark.parametrize("fmt, width, is_signed", [(f, w, sg) for f, (w, sg) in
                                                   itertools.product(FORMATS, [(8, True), (7, False), (4, True), (3, False)])])
def test_saturate_every_code(fmt, width, is_signed):
    codes, got = _eval(width, is_signed, lambda v: list(saturate(v, fmt)))
    want = fmt.saturate(codes)
    assert [g[0] for g in got] == want.tolist()
    assert [g[1] for g in got] == (want != codes).astype(int).tolist()
