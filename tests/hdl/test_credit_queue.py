"""CreditQueue in the Amaranth simulator behind a model of a section that never stalls (a delay
line of L cycles, where only some items leave as a word): every word out once and in order under
random offers and back-pressure, the section's rate and latency kept when the depth covers it,
and ``credit`` from registers only."""
import random
from collections import deque

import pytest
from amaranth.sim import Simulator

from nlihw.errors import ParamsError
from nlihw.hdl.common.credit_queue import CREDIT_RETURN, LATENCY, CreditQueue


def run(depth, section, p_in, p_out, n_items=300, every=1, seed=0):
    """Items 1..n_items offered with probability p_in; item k leaves the section as a word when
    k % every == 0, ``section`` cycles after it entered. Returns (words out, {word: cycle in},
    {word: cycle out}, cycles)."""
    dut = CreditQueue(16, depth)
    items = list(range(1, n_items + 1))
    words = [k for k in items if k % every == 0]
    got, t_in, t_out = [], {}, {}
    line = deque([0] * section)            # the section: what reaches the queue each cycle
    result = {}

    async def tb(ctx):
        rng = random.Random(seed)
        k, cycle = 0, 0
        while len(got) < len(words):
            offer = k < len(items) and rng.random() < p_in
            credit = ctx.get(dut.credit)
            ctx.set(dut.o.ready, 1)
            assert ctx.get(dut.credit) == credit            # not from this cycle's o.ready
            ctx.set(dut.o.ready, rng.random() < p_out)
            enter = offer and credit
            item = items[k] if enter else 0
            word = item if item and item % every == 0 else 0
            ctx.set(dut.take, bool(word))
            line.append(word)
            arriving = line.popleft()
            ctx.set(dut.i.valid, bool(arriving))
            ctx.set(dut.i.payload, arriving)
            assert ctx.get(dut.i.ready) == 1
            if enter:
                t_in[item] = cycle
                k += 1
            _, _, ov, ordy, op = await ctx.tick().sample(dut.o.valid, dut.o.ready, dut.o.payload)
            if ov and ordy:
                got.append(op)
                t_out[op] = cycle
            cycle += 1
            assert cycle < 50 * len(items), "stopped"
        result["cycles"] = cycle

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return words, got, t_in, t_out, result["cycles"]


@pytest.mark.parametrize("depth, section, p_in, p_out, every", [
    (4, 1, 1.0, 1.0, 1), (4, 9, 0.8, 0.5, 1), (13, 9, 1.0, 0.3, 1), (2, 5, 0.5, 0.9, 3),
    (16, 12, 1.0, 1.0, 4), (3, 0, 0.9, 0.7, 2)])
def test_every_word_once_in_order(depth, section, p_in, p_out, every):
    words, got, _, _, _ = run(depth, section, p_in, p_out, every=every, seed=depth + section)
    assert got == words


def test_a_deep_enough_queue_keeps_the_rate_and_the_latency():
    """depth = section + LATENCY + 1 + CREDIT_RETURN: one word a clock, each LATENCY cycles after
    the section."""
    section = 10
    words, got, t_in, t_out, cycles = run(section + LATENCY + 1 + CREDIT_RETURN, section, 1.0, 1.0)
    assert got == words
    assert {t_out[w] - t_in[w] for w in words} == {section + LATENCY}
    assert cycles == len(words) + section + LATENCY


def test_credits_bound_what_is_in_flight():
    """A queue of 2 words behind a 10-cycle section lets 2 items in per 13 cycles, not more."""
    words, got, _, _, cycles = run(2, 10, 1.0, 1.0, n_items=40)
    assert got == words and cycles >= 40 // 2 * (10 + LATENCY)


def test_depth_is_checked():
    for bad in (1, 0, 2.0, True):
        with pytest.raises(ParamsError, match="depth must be an integer >= 2"):
            CreditQueue(8, bad)


def test_one_word_less_costs_the_rate():
    """The depth rule is tight: a word less than it and the section no longer runs at one a clock."""
    section = 10
    words, got, _, _, cycles = run(section + LATENCY + CREDIT_RETURN, section, 1.0, 1.0)
    assert got == words and cycles > len(words) + section + LATENCY
