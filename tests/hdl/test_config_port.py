"""The scan unit's parameter memories (``ConfigPort``) in the Amaranth simulator: every read is
synchronous (block RAM), so a configuration read answers exactly three cycles after acceptance
(one to read, one to register the memories' words, one to select and register the word), a datapath read returns its word one cycle later
and holds it while ``en`` is low, and the front waits one cycle after a command (and after reset)
while the datapath's reads are reissued. Expected values are the words written, drawn at random
here."""
import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from nlihw.hdl.scan.config_port import ConfigPort
from nlihw.hdl.scan.params import preset
from nlihw.hdl.scan.timing import config_read_latency

SEED = 2027
SHAPES = {"mamba1-p2": dict(d_inner=3, d_state=4, lanes=2),
          "mamba2-p1": dict(d_inner=4, d_state=4, lanes=1, mode="mamba2", headdim=2)}


def _params(name):
    return preset("int8", **SHAPES[name])


def _writes(p, seed=SEED):
    """address -> (region, index, value) for every word of every region."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, (base, n, fmt) in p.config_regions().items():
        for i in range(n):
            out[base + i] = (name, i, int(rng.integers(fmt.min_raw, fmt.max_raw + 1)))
    return out


def _run(dut, tb):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


async def _write_all(ctx, dut, p, writes):
    ctx.set(dut.front_idle, 1)
    for addr, (_, _, v) in writes.items():
        ctx.set(dut.cfg.payload, {"addr": addr, "data": v & ((1 << p.config_data_bits) - 1), "write": 1})
        ctx.set(dut.cfg.valid, 1)
        await ctx.tick().until(dut.cfg.ready)
    ctx.set(dut.cfg.valid, 0)


@pytest.mark.parametrize("name", list(SHAPES))
def test_read_back_two_cycles_after_acceptance(name):
    """Reads back to back (the next command waiting on ``cfg`` meanwhile, ``rdata`` stalled at
    random): each word answers two edges after its acceptance when ``rdata`` is ready, and a
    word held by back-pressure stays until taken."""
    p = _params(name)
    dut, writes = ConfigPort(p), _writes(p)
    order = list(writes)
    random.Random(SEED).shuffle(order)
    got, delays = [], []

    async def tb(ctx):
        await _write_all(ctx, dut, p, writes)
        rng = random.Random(SEED)
        pending, cycle, acc_at = list(order), 0, None
        while len(got) < len(order) and cycle < 50 * len(order):
            if pending:
                ctx.set(dut.cfg.payload, {"addr": pending[0], "data": 0, "write": 0})
            ctx.set(dut.cfg.valid, bool(pending))
            ready = rng.random() < 0.6
            ctx.set(dut.rdata.ready, ready)
            _, _, c_v, c_r, r_v, r_d = await ctx.tick().sample(dut.cfg.valid, dut.cfg.ready,
                                                               dut.rdata.valid, dut.rdata.payload)
            cycle += 1
            if r_v and ready:
                got.append(r_d)
            if c_v and c_r:                           # accepted in the cycle before this one
                pending.pop(0)
                acc_at = cycle - 1
            if ctx.get(dut.rdata.valid) and acc_at is not None:
                delays.append(cycle - acc_at)         # cycles from acceptance to rdata.valid
                acc_at = None

    _run(dut, tb)
    regions = p.config_regions()
    want = [writes[a][2] & ((1 << regions[writes[a][0]][2].width) - 1) for a in order]
    assert got == want
    assert delays == [3] * len(order) and config_read_latency(p) == 3


@pytest.mark.parametrize("name", list(SHAPES))
def test_datapath_reads_hold_under_stall(name):
    """A datapath read (``en`` high) gives its word after one edge; with ``en`` low the word
    stays whatever the address does; the next enabled read moves it."""
    p = _params(name)
    dut, writes = ConfigPort(p), _writes(p)
    regions = p.config_regions()
    by = {(n, i): v for n, i, v in writes.values()}
    seen = []

    def word(region, i):
        return by[region, i]

    async def tb(ctx):
        await _write_all(ctx, dut, p, writes)
        await ctx.tick().repeat(3)
        P = p.exp_lanes
        for bus, region, words in ((dut.d_rd, "D", regions["D"][1]),
                                   (dut.bias_rd, "bias", regions["bias"][1]),
                                   (dut.a_rd, "A", regions["A"][1] // P)):
            def value():
                return [ctx.get(bus.data[k]) for k in range(P)] if region == "A" else ctx.get(bus.data)

            def want(i):
                if region != "A":
                    return word(region, i)
                return [word("A", i * P + k) if p.mode == "mamba1" else word("A", i) for k in range(P)]
            a, b = 0, words - 1
            ctx.set(bus.addr, a)
            ctx.set(bus.en, 1)
            await ctx.tick()
            seen.append((region, "read", value(), want(a)))
            ctx.set(bus.en, 0)
            ctx.set(bus.addr, b)
            for _ in range(3):
                await ctx.tick()
                seen.append((region, "held", value(), want(a)))
            ctx.set(bus.en, 1)
            await ctx.tick()
            seen.append((region, "moved", value(), want(b)))
            ctx.set(bus.en, 0)

    _run(dut, tb)
    assert len(seen) == 15
    for region, what, got, want in seen:
        assert got == want, (region, what)
    assert all(w != seen[k + 4][3] for k, (_, _, _, w) in enumerate(seen) if k % 5 == 0)  # a != b


def test_busy_one_cycle_past_a_command_and_reset():
    """``busy`` (and every read bus's ``reissue``): high in the first cycle after reset, then from
    the cycle after a command starts waiting (while idle) to one cycle after the memories are the
    datapath's again."""
    p = _params("mamba1-p2")
    dut = ConfigPort(p)
    trace = []

    reissue = []

    async def tb(ctx):
        ctx.set(dut.front_idle, 1)
        trace.append(ctx.get(dut.busy))                  # cycle 0 (after reset)
        await ctx.tick()
        trace.append(ctx.get(dut.busy))                  # cycle 1: free
        ctx.set(dut.cfg.payload, {"addr": 0, "data": 5, "write": 1})
        ctx.set(dut.cfg.valid, 1)                        # waits from cycle 1
        for _ in range(2):
            await ctx.tick()
            trace.append(ctx.get(dut.busy))              # cycles 2, 3
        ctx.set(dut.cfg.valid, 0)                        # accepted in cycle 2 (ready then); gone
        for _ in range(3):
            await ctx.tick()
            trace.append(ctx.get(dut.busy))              # cycles 4, 5, 6
            reissue.append([ctx.get(b.reissue) for b in (dut.a_rd, dut.bias_rd, dut.d_rd)])

    _run(dut, tb)
    # cycle: 0 reset, 1 free, 2 cfg_mode, 3 cfg_mode (valid still high in 2), 4 the cycle after,
    # 5 and 6 free
    assert trace == [1, 0, 1, 1, 1, 0, 0]
    assert reissue == [[1] * 3, [0] * 3, [0] * 3]
