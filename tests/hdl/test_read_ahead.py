"""ReadAhead in the Amaranth simulator: each take reads the word of the item after the one taken
(items use the addresses in turn, ``group`` items each), a reissue reads the word of the item
expected next, and nothing is read otherwise."""
import random

import pytest
from amaranth.sim import Simulator

from nlihw.hdl.scan.read_ahead import ReadAhead


@pytest.mark.parametrize("words, group", [(5, 1), (4, 3), (1, 1), (1, 2), (7, 2)])
def test_reads_follow_the_item_order(words, group):
    dut = ReadAhead(words, group, 8)
    reads = []

    async def tb(ctx):
        rng = random.Random(words * 10 + group)
        item = 0                                    # the item in hand (expected next)
        for cycle in range(400):
            take, reissue = rng.random() < 0.6, rng.random() < 0.1
            ctx.set(dut.take, take and not reissue)  # a reissue cycle takes no item (read_bus)
            ctx.set(dut.rd.reissue, reissue)
            if ctx.get(dut.rd.en):
                want = item if reissue else item + 1
                reads.append((cycle, ctx.get(dut.rd.addr), (want // group) % words))
            else:
                assert not take or reissue
            if take and not reissue:
                item += 1
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    bad = [r for r in reads if r[1] != r[2]]
    assert not bad, f"(cycle, address read, expected) first {bad[:3]}"
    assert len(reads) > 200
