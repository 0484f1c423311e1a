"""The NLI engine driven in the Amaranth simulator: beats in with back-pressure, outputs and the
cycles they were accepted and emitted."""
import numpy as np
from amaranth.sim import Simulator

from nlihw.hdl.nli.engine import NLIEngine
from nlihw.sim.nli.engine_model import pack_input, unpack_output


def run(p, x, func, in_stall=0.0, out_stall=0.0, seed=0, writes=(), pre_writes=()):
    """Drive beats through the engine; returns (outputs, accept cycles, emit cycles)."""
    dut = NLIEngine(p)
    rng = np.random.default_rng(seed)
    got, t_in, t_out = [], [], []

    async def tb(ctx):
        for addr, data in pre_writes:
            ctx.set(dut.w.valid, 1)
            ctx.set(dut.w.payload.as_value(), data << p.config_addr_bits | addr)
            await ctx.tick()
        if pre_writes:
            ctx.set(dut.w.valid, 0)
        k, cycle = 0, 0
        while len(got) < len(x):
            ctx.set(dut.o.ready, rng.random() >= out_stall)
            offer = k < len(x) and rng.random() >= in_stall
            ctx.set(dut.i.valid, offer)
            if k < len(x):
                ctx.set(dut.i.payload.as_value(), pack_input(p, x[k], func[k]))
            _, _, iv, ir, ov, ordy, op = await ctx.tick().sample(
                dut.i.valid, dut.i.ready, dut.o.valid, dut.o.ready, dut.o.payload.as_value())
            if iv and ir:
                k += 1
                t_in.append(cycle)
            if ov and ordy:
                got.append(unpack_output(p, op))
                t_out.append(cycle)
            cycle += 1
            assert cycle < 20 * len(x) + 100, "engine stopped producing outputs"

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return np.array(got).reshape(-1, p.lanes), np.array(t_in), np.array(t_out)
