"""Stream testbench (cocotbext-axi style): clock, a source on ``i__*``, a sink on ``o__*``, pause
generators for idles and back-pressure, and a record of every transfer with its cycle number.

Pause generators are iterables consumed once per cycle; a truthy value means "idle this cycle"
(the source offers nothing new, the sink deasserts ready). A beat once offered is held until it is
taken (stream rule 2), so a source pause only starts between beats.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from nlihw.sim.common.streams import no_pauses, random_pauses  # noqa: F401  (shared pause patterns)


@dataclass
class Transfers:
    inputs: list[tuple[int, int]] = field(default_factory=list)    # (cycle, payload)
    outputs: list[tuple[int, int]] = field(default_factory=list)


class StreamTB:
    def __init__(self, dut, in_pause=None, out_pause=None, period_ns: int = 10):
        self.dut = dut
        self.in_pause = iter(in_pause if in_pause is not None else no_pauses())
        self.out_pause = iter(out_pause if out_pause is not None else no_pauses())
        self.cycle = 0
        self.log = Transfers()
        Clock(dut.clk, period_ns, unit="ns").start()
        dut.i__valid.value = 0
        dut.o__ready.value = 0

    async def reset(self, cycles: int = 2):
        self.dut.rst.value = 1
        self.dut.i__valid.value = 0
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def run(self, payloads: list[int], expect_outputs: int, max_cycles: int,
                  stop=None) -> Transfers:
        """Offer ``payloads`` in order and collect outputs until ``expect_outputs`` arrived.

        ``stop(tb)``, if given, is checked every cycle and ends the run early when true.
        """
        dut, k, holding = self.dut, 0, False
        start_in, start_out = len(self.log.inputs), len(self.log.outputs)
        while len(self.log.outputs) - start_out < expect_outputs:
            if stop is not None and stop(self):
                break
            if not holding:
                holding = k < len(payloads) and not next(self.in_pause)
            dut.i__valid.value = int(holding)
            if holding:
                dut.i__payload.value = payloads[k]
            dut.o__ready.value = 0 if next(self.out_pause) else 1
            await ReadOnly()
            if int(dut.i__valid.value) and int(dut.i__ready.value):
                self.log.inputs.append((self.cycle, payloads[k]))
                k += 1
                holding = False
            if int(dut.o__valid.value) and int(dut.o__ready.value):
                self.log.outputs.append((self.cycle, int(dut.o__payload.value)))
            await RisingEdge(dut.clk)
            self.cycle += 1
            if self.cycle > max_cycles:
                raise AssertionError(f"timeout after {max_cycles} cycles: {k}/{len(payloads)} beats "
                                     f"accepted, {len(self.log.outputs) - start_out}/{expect_outputs} "
                                     f"outputs")
        dut.i__valid.value = 0
        return Transfers(self.log.inputs[start_in:], self.log.outputs[start_out:])


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
