"""LeadingOne: the leading-one detector msb(v) = floor(log2 v) of the row-operation units
(``sim/rowop/golden.py``'s ``msb``), a combinational priority encoder."""
from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from nlihw.luts.layout import clog2


class LeadingOne(wiring.Component):
    """``v`` (unsigned, ``width`` bits) -> ``pos`` = msb(v) and ``zero`` = (v == 0); ``pos`` is 0
    when ``zero`` is set. Combinational (no clock)."""

    def __init__(self, width: int):
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be an integer >= 1, got {width!r}")
        self.width = width
        super().__init__({
            "v": In(width),
            "pos": Out(max(1, clog2(width))),
            "zero": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.zero.eq(~self.v.any())
        for b in range(self.width):          # the last assignment wins: the highest set bit
            with m.If(self.v[b]):
                m.d.comb += self.pos.eq(b)
        return m
