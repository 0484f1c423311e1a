"""An NLI engine that carries a side band (a tag) from each input to its output.

Larger designs need to keep per-item data beside the engine's lookups (the scan unit carries the
channel, u, B and C past its softplus). The engine's contract (``hdl/nli/engine.py``) makes that
exact without touching the engine: every one of its registers advances on
``advance = ~o.valid | o.ready``, and an input reaches the output ``latency`` advances later, so
a ``latency``-deep shift register stepped by the same ``advance`` keeps each tag beside its result.
"""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from nlihw.hdl.nli.engine import NLIEngine
from nlihw.hdl.nli.params import NLIEngineParams


class TaggedEngine(wiring.Component):
    """``i``: {x: lanes x in_width, side}; ``o``: {y: lanes x out_width, side}. Latency and
    back-pressure are the engine's."""

    def __init__(self, params: NLIEngineParams, side_shape):
        self.params = params
        self.side_shape = side_shape
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "x": data.ArrayLayout(params.in_width, params.lanes), "side": side_shape}))),
            "o": Out(stream.Signature(data.StructLayout({
                "y": data.ArrayLayout(params.out_width, params.lanes), "side": side_shape}))),
        })

    @property
    def latency(self) -> int:
        return self.params.latency

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = eng = NLIEngine(self.params)
        advance = Signal()
        m.d.comb += [
            eng.i.valid.eq(self.i.valid), eng.i.payload.x.eq(self.i.payload.x),
            eng.i.payload.func.eq(0), self.i.ready.eq(eng.i.ready),
            self.o.valid.eq(eng.o.valid), self.o.payload.y.eq(eng.o.payload),
            eng.o.ready.eq(self.o.ready),
            advance.eq(~eng.o.valid | eng.o.ready),
        ]
        tags = [Signal(self.side_shape, name=f"tag{k}", reset_less=True) for k in range(self.params.latency)]
        with m.If(advance):
            m.d.sync += tags[0].eq(self.i.payload.side)
            m.d.sync += [tags[k].eq(tags[k - 1]) for k in range(1, len(tags))]
        m.d.comb += self.o.payload.side.eq(tags[-1])
        return m
