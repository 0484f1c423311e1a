"""The conversion stage of a float input (one register stage, advancing on ``en``): from the code
x, the order key the comparators compare (``layout.key``: -0 as +0; the cutpoints' keys are
constants), the position X = floor(x 2^F) mod 2^W that dx is formed on (``layout.position``,
W = dx_bits), and the NaN flag that travels with the beat to the output mux.
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from nlihw.hdl.common.data_register import data_register

from .float_to_fixed import FloatToFixed, is_nan


def order_key(code, fmt):
    """FP.order_key of a code Value with -0 mapped to +0: negatives inverted, positives with the
    sign bit set, so that an unsigned compare orders the values."""
    sb = 1 << (fmt.width - 1)
    neg = code[fmt.width - 1] & (code != sb)
    return Mux(neg, ~code, code | sb)[:fmt.width]


class FloatInput(wiring.Component):
    """The float input ``x`` converted for the search, registered (advances on ``en``).

    Parameters: ``layout`` (``TableLayout`` with a float input format).

    Members: ``en``: In(1), advance the register. ``x``: In(in width), the float code.
    ``key``: Out(in width), its order key (``order_key``). ``pos``: Out(dx_bits), its position
    floor(x 2^x_frac_bits) mod 2^dx_bits. ``nan``: Out(1), x is a NaN.
    """

    def __init__(self, layout):
        self.layout = layout
        w = layout.in_fmt.width
        super().__init__({"en": In(1), "x": In(w), "key": Out(w), "pos": Out(layout.dx_bits),
                          "nan": Out(1)})

    def elaborate(self, platform):
        m = Module()
        lay = self.layout
        fin = lay.in_fmt
        m.submodules.position = conv = FloatToFixed(fin, lay.x_frac_bits, lay.dx_bits, "floor")
        m.d.comb += conv.x.eq(self.x)
        key, pos, nan = (data_register(m, s) for s in (self.key, self.pos, self.nan))
        with m.If(self.en):
            m.d.sync += [key.eq(order_key(self.x, fin)), pos.eq(conv.y), nan.eq(is_nan(self.x, fin))]
        return m
