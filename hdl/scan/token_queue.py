"""TokenQueue: the B (or C) vectors of the tokens in flight, so that no item carries them.

B and C belong to a token and every one of its d_inner channels reads them. Carried beside each
item through the softplus engine, the dt stage and the exp engine they were P words per register
stage (at P = 16 about half of the unit's flip-flops); queued once per token they are one memory
word per token in flight, read where they are used.
"""
from __future__ import annotations

from amaranth.hdl import Module, Shape, Signal
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from nlihw.errors import ParamsError
from nlihw.hdl.common import credit_queue
from nlihw.hdl.common.occupancy import Occupancy

__all__ = ["TokenQueue", "LATENCY"]

# a vector pushed into the empty queue is on ``head`` this many cycles later: one for the push
# register, then the FIFO's (as CreditQueue's write register and FIFO)
LATENCY = 1 + credit_queue.FIFO_LATENCY


class TokenQueue(wiring.Component):
    """A first-in first-out queue of per-token vectors of ``count`` words of ``shape``.

    Members: ``push`` (In(1)) with ``data``: the front issues a token's first item (needs
    ``room``); both are registered before they reach the memory, which may sit far from the
    front. ``room`` (Out(1)): fewer than ``depth`` vectors are held or being pushed; a flip-flop.
    ``head`` (Out): the
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
        width = Shape.cast(self.layout).width
        # one word more than ``room`` admits, as in CreditQueue: a word spends a cycle in the
        # memory on its way to the output register
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=width, depth=self.depth + 1)
        push, data = Signal(name="push_r"), Signal(width, name="data_r", reset_less=True)
        m.submodules.held = held = Occupancy(self.depth)   # pushed (the push register too), not popped
        m.d.sync += [push.eq(self.push), data.eq(self.data)]
        m.d.comb += [held.inc.eq(self.push), held.dec.eq(self.pop),
                     self.room.eq(held.room), fifo.w_en.eq(push), fifo.w_data.eq(data),
                     self.head.eq(fifo.r_data), fifo.r_en.eq(self.pop)]
        return m
