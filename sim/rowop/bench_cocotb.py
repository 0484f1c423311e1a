"""cocotb tests of a row unit's emitted Verilog (softmax, RMSNorm, LayerNorm). Inputs, weights,
golden expectations, stall probabilities and cycle counts come from the JSON file named by
NLIHW_BENCH_CONFIG (``sim/rowop/bench.py``).

The ``i`` and ``cfg`` sources idle at random, the ``o`` sink applies random back-pressure; every
output beat is compared with the golden model, and a mismatch names the beat (row, element), its
input and the expected and actual payloads in hex, with the fields that differ.
"""
from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from nlihw.sim.common.streams import Cycles, Sink, Source, no_pauses, random_pauses


def load() -> dict:
    with open(os.environ["NLIHW_BENCH_CONFIG"]) as f:
        return json.load(f)


def decode(table: dict, word: int) -> str:
    """``name=value`` for each field of a payload (signed fields as signed)."""
    parts = []
    for name, (lsb, width, signed) in table.items():
        v = (word >> lsb) & ((1 << width) - 1)
        if signed and v >> (width - 1):
            v -= 1 << width
        parts.append(f"{name}={v}")
    return " ".join(parts)


def hexw(word: int, width: int) -> str:
    return f"0x{word:0{(width + 3) // 4}x}"


class TB:
    """The clock, the sources of ``i`` (and ``cfg``), the sink of ``o``, reset and checks."""

    def __init__(self, dut, cfg):
        self.dut, self.cfg = dut, cfg
        Clock(dut.clk, 10, unit="ns").start()
        self.cycles = Cycles(dut.clk)
        s, k, seed = cfg["stall"], cfg["sink_stall"], cfg["seed"]
        pauses = (lambda n: random_pauses(s, seed + n)) if s else (lambda n: no_pauses())
        self.src = {"i": Source(dut, "i", self.cycles, pauses(0))}
        if cfg["has_cfg"]:
            self.src["cfg"] = Source(dut, "cfg", self.cycles, pauses(1))
        self.o = Sink(dut, "o", self.cycles, random_pauses(k, seed + 2) if k else no_pauses())
        self.where = [(r, j) for r, n in enumerate(cfg["lengths"]) for j in range(n)]
        self.inputs = [w for port, words in cfg["items"] if port == "i" for w in words]

    async def reset(self):
        for src in self.src.values():
            src.stop()
        self.dut.rst.value = 1
        for _ in range(3):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    def max_cycles(self) -> int:
        """A bound no correct run reaches: every row's cycles, slowed by the stalls, three times."""
        c = self.cfg
        slow = 1.0 / max(0.05, (1 - c["stall"]) * (1 - c["sink_stall"]))
        beats = sum(len(words) for port, words in c["items"] if port == "cfg")
        return int(3 * slow * (sum(c["row_cycles"]) + beats)) + 2000

    async def send(self, items):
        """Each item's payloads on its port, the next item once the unit has taken them all."""
        for port, words in items:
            src = self.src[port]
            target = len(src.sent) + len(words)
            src.send(words)
            start = self.cycles.now
            while len(src.sent) < target:
                assert self.cycles.now - start < self.max_cycles(), (
                    f"timeout: {len(src.sent)}/{target} {port} beats taken")
                await RisingEdge(self.dut.clk)

    def describe(self, n: int, want: int, got: int) -> str:
        f = self.cfg["fields"]
        wi, wo = (sum(v[1] for v in f[s].values()) for s in ("i", "o"))
        row, j = self.where[n]
        diff = [name for name, (lsb, width, _) in f["o"].items()
                if (want ^ got) >> lsb & ((1 << width) - 1)]
        return (f"beat {n} (row {row}, element {j}): input {hexw(self.inputs[n], wi)} "
                f"[{decode(f['i'], self.inputs[n])}] expected {hexw(want, wo)} got {hexw(got, wo)}"
                f" (fields {', '.join(diff)}: expected [{decode(f['o'], want)}] got "
                f"[{decode(f['o'], got)}])")

    def compare(self, got, first: int = 0):
        """``got`` ((cycle, payload) transfers) against the expected beats from ``first`` on."""
        exp = self.cfg["expected"][first:first + len(got)]
        for k, ((_, g), e) in enumerate(zip(got, exp)):
            if g != e:
                raise AssertionError(self.describe(first + k, e, g))

    async def collect(self, start: int, n: int) -> list:
        """The ``n`` transfers on ``o`` after the first ``start``; then, for ``drain`` cycles,
        none more (nothing duplicated or extra)."""
        got = await self.o.wait_for(start + n, self.max_cycles())
        for _ in range(self.cfg["drain"]):
            await RisingEdge(self.dut.clk)
        extra = len(self.o.got) - start - n
        assert extra == 0, f"{extra} output beats beyond the {n} expected"
        return got[start:]


def check_timing(tb: TB, got):
    """No gaps, no back-pressure: one element per clock in and out, each row's first output
    ``first_out_latency(n)`` after its last input, the next row ``row_cycles(n)`` after its first
    (rows of one group, sent back to back)."""
    c = tb.cfg
    t_in = [cyc for cyc, _ in tb.src["i"].sent]
    t_out = [cyc for cyc, _ in got]
    a = 0
    for r, n in enumerate(c["lengths"]):
        e = a + n
        assert t_in[e - 1] - t_in[a] == n - 1, f"row {r} (n={n}): input not one per clock"
        lat = t_out[a] - t_in[e - 1]
        assert lat == c["first_out"][r], (
            f"row {r} (n={n}): last input in cycle {t_in[e - 1]}, first output in cycle {t_out[a]}"
            f": latency {lat}, expected first_out_latency {c['first_out'][r]}")
        assert t_out[e - 1] - t_out[a] == n - 1, f"row {r} (n={n}): output not one per clock"
        if r + 1 < len(c["lengths"]) and c["group"][r + 1] == c["group"][r]:
            per = t_in[e] - t_in[a]
            assert per == c["row_cycles"][r], (
                f"row {r} (n={n}): next row's first input {per} cycles after this row's, "
                f"expected row_cycles {c['row_cycles'][r]}")
        a = e


@cocotb.test()
async def test_stream(dut):
    """Every row (weights loaded and reloaded between rows for normalized norms), every output beat
    compared; unstalled, the exact cycle counts of every row."""
    c = load()
    tb = TB(dut, c)
    await tb.reset()
    await tb.send(c["items"])
    got = await tb.collect(0, len(c["expected"]))
    tb.compare(got)
    if c["check_timing"]:
        check_timing(tb, got)


@cocotb.test()
async def test_reset_midrow(dut):
    """Reset in the middle of a row's input and in the middle of a row's output, then the full run:
    each phase's outputs until its reset and the full run's are exact; nothing leaks across."""
    c = load()
    tb = TB(dut, c)
    await tb.reset()
    for k, phase in enumerate(c["resets"]):
        start = len(tb.o.got)
        await tb.send(phase["items"])
        got = await tb.o.wait_for(start + phase["wait_out"], tb.max_cycles(), f"phase {k} outputs")
        tb.compare(got[start:])
        await tb.reset()
    start = len(tb.o.got)
    await tb.send(c["items"])
    tb.compare(await tb.collect(start, len(c["expected"])))
