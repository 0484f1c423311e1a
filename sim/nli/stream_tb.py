"""The engine's stream testbench: its clock, a ``Source`` on ``i__*`` and a ``Sink`` on ``o__*``
(``sim/common/streams.py``, the sources and sinks the scan bench uses too, with their pause
generators), reset, and runs that return every transfer with its cycle number; ``compare`` is the
scoreboard that names the first failing beat in hex.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from nlihw.sim.common.streams import Cycles, Sink, Source


@dataclass
class Transfers:
    inputs: list[tuple[int, int]] = field(default_factory=list)    # (cycle, payload)
    outputs: list[tuple[int, int]] = field(default_factory=list)


class StreamTB:
    """``in_pause`` / ``out_pause``: pause generators of the source and the sink."""

    def __init__(self, dut, in_pause=None, out_pause=None, period_ns: int = 10):
        self.dut = dut
        Clock(dut.clk, period_ns, unit="ns").start()
        self.cycles = Cycles(dut.clk)
        self.source = Source(dut, "i", self.cycles, in_pause)
        self.sink = Sink(dut, "o", self.cycles, out_pause)

    @property
    def cycle(self) -> int:
        return self.cycles.now

    @property
    def log(self) -> Transfers:
        """Every transfer so far, in and out."""
        return Transfers(self.source.sent, self.sink.got)

    async def reset(self, cycles: int = 2):
        self.source.stop()
        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def run(self, payloads: list[int], expect_outputs: int, max_cycles: int,
                  stop=None) -> Transfers:
        """Offer ``payloads`` in order and collect outputs until ``expect_outputs`` arrived.

        ``stop(tb)``, if given, is checked every cycle and ends the run early when true (what was
        not yet accepted is dropped)."""
        start_in, start_out, start = len(self.source.sent), len(self.sink.got), self.cycles.now
        self.source.send(payloads)
        while len(self.sink.got) - start_out < expect_outputs:
            if stop is not None and stop(self):
                break
            await RisingEdge(self.dut.clk)
            if self.cycles.now - start > max_cycles:
                raise AssertionError(f"timeout after {max_cycles} cycles: "
                                     f"{len(self.source.sent) - start_in}/{len(payloads)} beats "
                                     f"accepted, {len(self.sink.got) - start_out}/{expect_outputs} "
                                     f"outputs")
        self.source.stop()
        return Transfers(self.source.sent[start_in:], self.sink.got[start_out:start_out + expect_outputs])


def compare(got: list[int], expected: list[int], inputs: list[int], width_in: int, width_out: int,
            lanes: "tuple[int, int] | None" = None):
    """Scoreboard: raise naming the first failing beat, its input, expected and actual (hex).

    ``lanes`` = (lane count, input code width) adds the input payload split into its codes and
    func: "(x 0x3c00, func 1)"."""
    hi, ho = (width_in + 3) // 4, (width_out + 3) // 4
    for beat, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            word, detail = inputs[beat], ""
            if lanes is not None:
                n, w = lanes
                codes = ", ".join(f"0x{(word >> (k * w)) & ((1 << w) - 1):0{(w + 3) // 4}x}"
                                  for k in range(n))
                detail = f" (x {codes}, func {word >> (n * w)})"
            raise AssertionError(f"beat {beat}: input 0x{word:0{hi}x} expected 0x{e:0{ho}x} "
                                 f"got 0x{g:0{ho}x}{detail}")
    if len(got) != len(expected):
        raise AssertionError(f"{len(got)} outputs for {len(expected)} inputs")
