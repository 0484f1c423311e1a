"""ReadAhead: the address of a parameter memory's next word, from counters alone.

Items pass a reader in a fixed order (channel by channel, step by step), so the word the next
item needs follows from the one the item in hand needs. Counting that order in registers, rather
than deriving it from the item's side band, puts no logic between the reader's registers and the
memories' address pins, which at P = 16 fan out to sixteen A memories across the die.
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config_port import read_bus


class ReadAhead(wiring.Component):
    """Drives a ``read_bus`` for items that use ``words`` addresses in turn, ``group`` items each
    (0, 0, .., 1, 1, .., words - 1, then 0 again).

    Members: ``take`` (In(1)): the item in hand is taken, so the next one's word is read (and the
    bus's ``data`` holds it from the next cycle). ``rd``: the memory's ``read_bus``; on ``reissue``
    the word of the item expected next is read again (after reset: address 0).
    """

    def __init__(self, words: int, group: int, data_shape):
        self.words, self.group = words, group
        super().__init__({"take": In(1), "rd": Out(read_bus(max(2, words), data_shape))})

    def elaborate(self, platform):
        m = Module()
        addr_shape = range(max(2, self.words))
        cur, nxt = Signal(addr_shape), Signal(addr_shape, init=1 % self.words if self.group == 1 else 0)
        pos = Signal(range(self.group + 1), init=1 % self.group)   # the next item's place in its group
        m.d.comb += [self.rd.addr.eq(Mux(self.rd.reissue, cur, nxt)),
                     self.rd.en.eq(self.rd.reissue | self.take)]
        with m.If(self.take):
            last_in_group = pos == self.group - 1
            m.d.sync += [cur.eq(nxt), pos.eq(Mux(last_in_group, 0, pos + 1))]
            with m.If(last_in_group):
                m.d.sync += nxt.eq(Mux(nxt == self.words - 1, 0, nxt + 1))
        return m
