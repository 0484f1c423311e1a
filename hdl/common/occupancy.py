"""Occupancy: a count of items held (up one on ``inc``, down one on ``dec``) and a registered
``room`` flag, count < limit, in which the late ``inc`` / ``dec`` decisions only select.

A queue that lends credits counts what it owes; the front that spends a credit decides late in
the cycle (its issue logic). Here the candidate counts (count + 1, count - 1) and the candidate
flags (count + d < limit, d in -1, 0, 1) come from the register alone, so the issue decision
drives two small muxes into flip-flops, not an adder and a comparator.
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from nlihw.errors import ParamsError


class Occupancy(wiring.Component):
    """``count`` in 0..``limit`` (Out), ``room`` = count < ``limit`` (Out, a flip-flop, 1 after
    reset); ``inc``, ``dec`` (In(1)) change it by one each (both: unchanged). The caller keeps
    count within 0..limit (no inc without room, no dec at 0)."""

    def __init__(self, limit: int):
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            self._MustUse__silence = True          # refused: never to be elaborated
            raise ParamsError(f"occupancy limit must be an integer >= 1, got {limit!r}")
        self.limit = limit
        super().__init__({"inc": In(1), "dec": In(1), "count": Out(range(limit + 1)),
                          "room": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        count, limit = self.count, self.limit
        up, down = self.inc & ~self.dec, self.dec & ~self.inc
        plus, minus = Signal.like(count, name="plus"), Signal.like(count, name="minus")
        m.d.comb += [plus.eq(count + 1), minus.eq(count - 1)]
        m.d.sync += [count.eq(Mux(up, plus, Mux(down, minus, count))),
                     self.room.eq(Mux(up, count < limit - 1, Mux(down, count < limit + 1, count < limit)))]
        return m
