"""TokenQueue: the B (or C) vectors of the tokens in flight, so that no item carries them.

B and C belong to a token and every one of its d_inner channels reads them. Carried beside each
item through the softplus engine, the dt stage and the exp engine they were P words per register
stage (at P = 16 about half of the unit's flip-flops); queued once per token they are one memory
word per token in flight, read where they are used.
"""
from __future__ import annotations

from amaranth.hdl import Module, Shape
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from nlihw.errors import ParamsError
from nlihw.hdl.common.credit_queue import LATENCY   # the same FIFO: a pushed vector is on ``head`` then

__all__ = ["TokenQueue", "LATENCY"]


class TokenQueue(wiring.Component):
    """A first-in first-out queue of per-token vectors of ``count`` words of ``shape``.

    Members: ``push`` (In(1)) with ``data``: the front issues a token's first item (needs
    ``room``). ``room`` (Out(1)): a vector can be pushed; from registers only. ``head`` (Out): the
    oldest vector not popped, from the queue memory's registered read; it is the token of the
    item at the consumer, as items keep their order and reach it more than ``LATENCY`` cycles
    after their issue. ``pop`` (In(1)): the consumer takes the token's last item.
    """

    def __init__(self, shape, count: int, depth: int):
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 2:
            self._MustUse__silence = True          # refused: never to be elaborated
            raise ParamsError(f"token queue depth must be an integer >= 2, got {depth!r}")
        self.layout, self.depth = data.ArrayLayout(shape, count), depth
        super().__init__({"push": In(1), "data": In(self.layout), "room": Out(1),
                          "head": Out(self.layout), "pop": In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=Shape.cast(self.layout).width, depth=self.depth)
        m.d.comb += [self.room.eq(fifo.w_rdy), fifo.w_en.eq(self.push), fifo.w_data.eq(self.data),
                     self.head.eq(fifo.r_data), fifo.r_en.eq(self.pop)]
        return m
