"""Occupancy in the Amaranth simulator against a Python count: random inc / dec within its
range, ``count`` and the registered ``room`` (count < limit) right on every cycle; a bad limit is
one ParamsError."""
import random

import pytest
from amaranth.sim import Simulator

from nlihw.errors import ParamsError
from nlihw.hdl.common.occupancy import Occupancy


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 8])
def test_count_and_room_follow_a_python_count(limit):
    dut = Occupancy(limit)
    seen = set()

    async def tb(ctx):
        rng = random.Random(limit)
        n = 0
        for cycle in range(800):
            assert ctx.get(dut.count) == n, f"cycle {cycle}: count {ctx.get(dut.count)}, want {n}"
            assert ctx.get(dut.room) == (n < limit), f"cycle {cycle}: room {ctx.get(dut.room)} at {n}"
            inc = n < limit and rng.random() < 0.5
            dec = n > 0 and rng.random() < 0.5
            ctx.set(dut.inc, inc)
            ctx.set(dut.dec, dec)
            seen.add((n, inc, dec))
            n += inc - dec
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    # every count with every move it allows was seen
    assert {(n, i, d) for n in range(limit + 1) for i in (0, 1) for d in (0, 1)
            if (not i or n < limit) and (not d or n > 0)} <= seen


def test_bad_limit_is_one_error():
    with pytest.raises(ParamsError, match="occupancy limit must be an integer >= 1, got 0"):
        Occupancy(0)
