"""SkidBuffer: a stream register whose ``i.ready`` comes from a flip-flop, so the back-pressure
chain of a long pipeline (each stage's advance waiting for the next one's ready) is cut in two,
at the cost of one cycle of latency and a second payload register (the skid word)."""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


class SkidBuffer(wiring.Component):
    """``o`` = ``i`` one cycle later, in order, nothing lost or duplicated, one transfer per clock.

    ``i.ready`` is high while the skid word is empty. A word offered while ``o`` is stalled is
    kept in the skid register and leaves first when ``o`` frees."""

    def __init__(self, shape):
        self.shape = shape
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        # only the valid bits are reset: a payload register is read only beside its valid bit
        skid, skid_valid = Signal(self.shape, name="skid", reset_less=True), Signal(name="skid_valid")
        out = Signal(self.shape, name="out", reset_less=True)
        m.d.comb += [self.i.ready.eq(~skid_valid), self.o.payload.eq(out)]
        with m.If(~self.o.valid | self.o.ready):
            with m.If(skid_valid):
                m.d.sync += [out.eq(skid), self.o.valid.eq(1), skid_valid.eq(0)]
            with m.Else():
                m.d.sync += [out.eq(self.i.payload), self.o.valid.eq(self.i.valid)]
        with m.Elif(self.i.valid & ~skid_valid):
            m.d.sync += [skid.eq(self.i.payload), skid_valid.eq(1)]
        return m
