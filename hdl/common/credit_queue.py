"""CreditQueue: the output queue of a pipeline section that never stalls.

A section whose every register advances on its output's ``ready`` has one clock-enable net that
reaches all of its flip-flops: on a wide datapath that net's fan-out, not the logic, sets the
clock. With this queue at its output the section runs free instead (its output ``ready`` is a
constant 1, so the enables fold away): an item may enter the section only while the queue holds a
word for it (a credit), so nothing that leaves the section can find the queue full.
"""
from __future__ import annotations

from amaranth.hdl import Module, Shape, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from nlihw.errors import ParamsError
from .occupancy import Occupancy

# a word written to the empty queue memory is on its output this many cycles later (SyncFIFOBuffered)
FIFO_LATENCY = 2
# a word on ``i`` is on ``o`` this many cycles later: one for the write register, then the FIFO's
LATENCY = 1 + FIFO_LATENCY
# a word read out of ``o`` returns its credit this many cycles later: the read is registered, so the
# count may sit beside the section's front (which spends the credits) rather than beside the
# queue (at P = 4 on an ECP5 the loop count -> credit -> front's issue -> count crossed the die
# twice, 9.4 ns); a section of L cycles keeps one item a clock with depth >= L + LATENCY + 1 +
# CREDIT_RETURN
CREDIT_RETURN = 1


class CreditQueue(wiring.Component):
    """A first-in first-out queue of ``depth`` words with credits for the section in front of it.

    Parameters: ``shape``, the payload; ``depth`` (>= 2), the words it holds, so also the items
    that may be in the section and the queue at once.

    Members: ``i`` (in stream): the section's output; ``i.ready`` is always 1 (the credits make
    room). ``o`` (out stream): the words in order, ``LATENCY`` cycles after they enter an empty
    queue; ``o.payload`` comes straight from the queue memory's registered read. ``take`` (In(1)):
    an item that will leave the section as one word enters it this cycle (a credit is used).
    ``credit`` (Out(1)): fewer than ``depth`` words are owed or held, so one more item may enter;
    it is a flip-flop (``Occupancy``: ``take`` only selects among flags computed from the count).
    """

    def __init__(self, shape, depth: int):
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 2:
            self._MustUse__silence = True          # refused: never to be elaborated
            raise ParamsError(f"credit queue depth must be an integer >= 2, got {depth!r}")
        self.shape, self.depth = shape, depth
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape)),
                          "take": In(1), "credit": Out(1)})

    def elaborate(self, platform):
        m = Module()
        # one word more than the credits: SyncFIFOBuffered takes a word only while its memory
        # (its output register not counted) has room, and a word spends a cycle there on its way
        # out even when the output register is free
        width = Shape.cast(self.shape).width
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=width, depth=self.depth + 1)
        # the section's word registered before the queue memory, so the write has a clock period
        # to cross from the section's last register (far away at P >= 4) to the queue
        w_en, w_data = Signal(name="w_en_r"), Signal(width, name="w_data_r", reset_less=True)
        m.d.sync += [w_en.eq(self.i.valid), w_data.eq(self.i.payload)]
        m.d.comb += [self.i.ready.eq(1),
                     fifo.w_en.eq(w_en), fifo.w_data.eq(w_data),
                     self.o.valid.eq(fifo.r_rdy), self.o.payload.eq(fifo.r_data),
                     fifo.r_en.eq(self.o.ready)]
        # words taken and not yet read out of ``o`` (a read counted CREDIT_RETURN cycles late)
        m.submodules.owed = owed = Occupancy(self.depth)
        read = Signal(name="read_r")
        m.d.sync += read.eq(self.o.valid & self.o.ready)
        m.d.comb += [owed.inc.eq(self.take), owed.dec.eq(read), self.credit.eq(owed.room)]
        return m
