"""cocotb tests of the selective-scan unit's emitted Verilog. Inputs, golden expectations, stall
probability and latency come from the JSON file named by NLIHW_BENCH_CONFIG (``sim/scan/bench.py``).

Every stream has its own source or sink with its own pause pattern; outputs are compared beat by
beat, and a mismatch names the beat (token, channel), its input and the expected and actual
payloads in hex.
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


class TB:
    def __init__(self, dut, cfg):
        self.dut, self.cfg = dut, cfg
        Clock(dut.clk, 10, unit="ns").start()
        self.cycles = Cycles(dut.clk)
        s, seed = cfg["stall"], cfg["seed"]
        pauses = (lambda k: random_pauses(s, seed + k)) if s else (lambda k: no_pauses())
        self.i = Source(dut, "i", self.cycles, pauses(0))
        self.bc = Source(dut, "bc", self.cycles, pauses(1))
        self.cmd = Source(dut, "cfg", self.cycles, pauses(2))
        sink = cfg.get("sink_stall", s)            # back-pressure alone: the queue filling up
        self.o = Sink(dut, "o", self.cycles, random_pauses(sink, seed + 3) if sink else no_pauses())
        self.rdata = Sink(dut, "rdata", self.cycles, pauses(4))

    async def reset(self):
        self.dut.rst.value = 1
        for _ in range(3):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    def command(self, addr, data=0, write=1) -> int:
        c = self.cfg
        return (addr << c["cfg_addr_lsb"]) | (data << c["cfg_data_lsb"]) | (write << c["cfg_write_lsb"])

    async def configure(self, writes):
        """Send the writes and return once the unit has accepted the last one."""
        target = len(self.cmd.sent) + len(writes)
        self.cmd.send(self.command(a, d) for a, d in writes)
        await self.wait_sent(self.cmd, target)

    async def read(self, addrs) -> list[int]:
        start = len(self.rdata.got)
        self.cmd.send(self.command(a, write=0) for a in addrs)
        got = await self.rdata.wait_for(start + len(addrs), 100 * len(addrs) + 1000, "read responses")
        return [v for _, v in got[start:]]

    async def wait_sent(self, src, n, max_cycles=100_000):
        start = self.cycles.now
        while len(src.sent) < n:
            assert self.cycles.now - start < max_cycles, f"timeout: {len(src.sent)}/{n} {src.name} beats sent"
            await RisingEdge(self.dut.clk)

    def max_cycles(self, n_out):
        worst = max(self.cfg["stall"], self.cfg.get("sink_stall", 0.0))
        slow = 1.0 / max(0.05, (1 - worst) ** 3)
        return int(n_out * self.cfg["steps"] * slow * 4) + 20 * self.cfg["latency"] + 1000

    def compare(self, got, expected, offset=0):
        c, d_inner = self.cfg, self.cfg["d_inner"]
        ho, hi = (c["out_width"] + 3) // 4, (c["in_width"] + 3) // 4
        for k, ((_, g), e) in enumerate(zip(got, expected)):
            if g != e:
                n = offset + k
                raise AssertionError(
                    f"beat {n} (token {n // d_inner}, channel {n % d_inner}): input "
                    f"0x{c['i'][n]:0{hi}x} expected 0x{e:0{ho}x} got 0x{g:0{ho}x}")
        assert len(got) == len(expected), f"{len(got)} outputs for {len(expected)} expected"


async def configured(dut):
    """The test's configuration and a bench whose unit is reset and has A, D and bias loaded."""
    c = load()
    tb = TB(dut, c)
    await tb.reset()
    await tb.configure(c["cfg_writes"])
    return c, tb


@cocotb.test()
async def test_stream(dut):
    """Configure, stream every token, compare every output; exact latency and rate when unstalled."""
    c, tb = await configured(dut)
    tb.bc.send(c["bc"])
    tb.i.send(c["i"])
    got = await tb.o.wait_for(len(c["expected"]), tb.max_cycles(len(c["expected"])))
    tb.compare(got, c["expected"])
    if c["check_latency"]:
        # exact_rate false: the state loop may hold later beats (same values, more cycles)
        beats = list(zip(tb.i.sent, got))[:None if c["exact_rate"] else 1]
        for n, ((ci, _), (co, _)) in enumerate(beats):
            assert co - ci == c["latency"], (
                f"beat {n}: input accepted in cycle {ci}, output in cycle {co}: latency {co - ci}, "
                f"expected {c['latency']}")
        cyc = [ci for ci, _ in tb.i.sent]
        gaps = {b - a for a, b in zip(cyc, cyc[1:])}
        if c["exact_rate"]:
            assert gaps <= {c["steps"]}, f"input beats every {sorted(gaps)} cycles, expected {c['steps']}"
        else:
            assert min(gaps, default=c["steps"]) >= c["steps"], f"input beats every {sorted(gaps)} cycles"
    first, last = got[0][0], got[-1][0]
    dut._log.warning("scan: %d outputs in %d cycles (%.3f per clock)", len(got), last - first + 1,
                     len(got) / (last - first + 1))


@cocotb.test()
async def test_readback(dut):
    """Everything written through the configuration port reads back."""
    c, tb = await configured(dut)
    got = await tb.read(c["reads"])
    for a, g, e in zip(c["reads"], got, c["read_expected"]):
        assert g == e, f"address 0x{a:x}: wrote 0x{e:x}, read 0x{g:x}"


@cocotb.test()
async def test_chunked(dut):
    """Save the state after a chunk, scramble it, restore it, run the rest: same as unchunked."""
    c, tb = await configured(dut)
    si, sb = c["split_i"], c["split_bc"]
    tb.bc.send(c["bc"][:sb])
    tb.i.send(c["i"][:si])
    await tb.o.wait_for(si, tb.max_cycles(si))
    saved = await tb.read(c["state_addrs"])
    for a, g, e in zip(c["state_addrs"], saved, c["state_expected"]):
        assert g == e, f"saved state at 0x{a:x}: expected 0x{e:x} got 0x{g:x}"
    await tb.configure(c["scramble"])
    await tb.configure(list(zip(c["state_addrs"], saved)))
    tb.bc.send(c["bc"][sb:])
    tb.i.send(c["i"][si:])
    got = await tb.o.wait_for(len(c["expected"]), tb.max_cycles(len(c["expected"])))
    tb.compare(got, c["expected"])


@cocotb.test()
async def test_reset_midrun(dut):
    """Reset in the middle of a run, then run again from the start: the configuration survives,
    the pipeline, counters and the sticky flag restart."""
    c, tb = await configured(dut)
    tb.bc.send(c["bc"])
    tb.i.send(c["i"])
    await tb.o.wait_for(len(c["expected"]) // 2, tb.max_cycles(len(c["expected"])))
    tb.i.stop()
    tb.bc.stop()
    await tb.reset()
    done = len(tb.o.got)
    tb.bc.send(c["bc"])
    tb.i.send(c["i"])
    got = await tb.o.wait_for(done + len(c["expected"]), tb.max_cycles(len(c["expected"])))
    tb.compare(got[done:], c["expected"])
