"""SkidBuffer in the Amaranth simulator against a plain queue: random valid and ready, every word
out once and in order, one cycle of latency when unstalled, and i.ready from a register only."""
import random

import pytest
from amaranth.sim import Simulator

from nlihw.hdl.common.skid_buffer import SkidBuffer


@pytest.mark.parametrize("p_in, p_out", [(1.0, 1.0), (0.7, 0.5), (0.3, 0.9), (1.0, 0.2)])
def test_every_word_once_in_order(p_in, p_out):
    dut = SkidBuffer(12)
    words = list(range(1, 400))
    got, t_in, t_out = [], {}, {}

    async def tb(ctx):
        rng = random.Random(int(10 * p_in + 100 * p_out))
        k, cycle = 0, 0
        while len(got) < len(words):
            offer = k < len(words) and rng.random() < p_in
            ctx.set(dut.i.valid, offer)
            ctx.set(dut.i.payload, words[k] if k < len(words) else 0)
            ctx.set(dut.o.ready, rng.random() < p_out)
            # ready must not depend on this cycle's o.ready (it is a flip-flop's output)
            ready_now = ctx.get(dut.i.ready)
            ctx.set(dut.o.ready, 1)
            assert ctx.get(dut.i.ready) == ready_now
            ctx.set(dut.o.ready, rng.random() < p_out)
            _, _, iv, ir, ov, ordy, op = await ctx.tick().sample(
                dut.i.valid, dut.i.ready, dut.o.valid, dut.o.ready, dut.o.payload)
            if iv and ir:
                t_in[words[k]] = cycle
                k += 1
            if ov and ordy:
                got.append(op)
                t_out[op] = cycle
            cycle += 1
            assert cycle < 20 * len(words), "stopped"

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert got == words
    if p_in == p_out == 1.0:
        assert all(t_out[w] - t_in[w] == 1 for w in words)     # one cycle, one word per clock
