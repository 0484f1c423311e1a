"""TokenQueue in the Amaranth simulator against a Python deque: head is always the oldest vector
not popped, LATENCY cycles after a push into the empty queue at the latest, it never holds more
than ``depth`` vectors and has room exactly while fewer are held, and a bad depth is one ParamsError."""
import random
from collections import deque

import pytest
from amaranth.sim import Simulator

from nlihw.errors import ParamsError
from nlihw.hdl.scan.token_queue import LATENCY, TokenQueue


@pytest.mark.parametrize("depth, push_rate, pop_rate", [(2, 0.9, 0.9), (3, 0.9, 0.3), (5, 0.3, 0.9)])
def test_head_is_the_oldest_vector(depth, push_rate, pop_rate):
    dut = TokenQueue(8, 3, depth)
    seen = {"full": 0, "pops": 0}

    async def tb(ctx):
        rng = random.Random(depth)
        model, ready_at, cycle, n = deque(), deque(), 0, 0
        for cycle in range(600):
            room = ctx.get(dut.room)
            # room exactly while fewer than depth are held
            assert room == (len(model) < depth), f"cycle {cycle}: room {room} with {len(model)} held"
            seen["full"] += not room
            push = room and rng.random() < push_rate
            vec = [(n * 3 + j) & 0xFF for j in range(3)]
            ctx.set(dut.push, push)
            ctx.set(dut.data, vec)
            # the consumer pops the head once it has been in the queue LATENCY cycles
            pop = bool(model) and ready_at[0] <= cycle and rng.random() < pop_rate
            if pop:
                assert ctx.get(dut.head) == model[0], f"cycle {cycle}: head {ctx.get(dut.head)}, want {model[0]}"
                model.popleft(), ready_at.popleft()
                seen["pops"] += 1
            ctx.set(dut.pop, pop)
            if push:
                model.append(vec)
                ready_at.append(cycle + LATENCY)
                n += 1
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert seen["pops"] > 100 and (seen["full"] > 0) == (push_rate >= pop_rate)


def test_bad_depth_is_one_error():
    with pytest.raises(ParamsError, match="token queue depth must be an integer >= 2, got 1"):
        TokenQueue(8, 3, 1)
