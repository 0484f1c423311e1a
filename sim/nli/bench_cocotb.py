"""cocotb tests of the NLI engine's emitted Verilog. Configuration (inputs, expected outputs from the
golden model, stall probabilities, latency) comes from the JSON file named by NLIHW_BENCH_CONFIG."""
from __future__ import annotations

import json
import os

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from nlihw.sim.common.streams import random_pauses
from nlihw.sim.nli.stream_tb import StreamTB, compare


def load_config() -> dict:
    with open(os.environ["NLIHW_BENCH_CONFIG"]) as f:
        return json.load(f)


def make_tb(dut, cfg, seed_offset=0):
    seed = cfg["seed"] + seed_offset
    return StreamTB(dut, random_pauses(cfg["in_stall"], seed), random_pauses(cfg["out_stall"], seed + 1))


def _lanes(cfg):
    """(lanes, code width) of the input payload, for failure messages (None in older configs)."""
    return (cfg["lanes"], cfg["x_width"]) if "lanes" in cfg else None


def max_cycles(cfg, n):
    slow = 1.0 / max(0.05, (1 - cfg["in_stall"]) * (1 - cfg["out_stall"]))
    return int(n * slow * 3) + 10 * cfg["latency"] + 100


async def check_stream(tb, cfg, inputs, expected):
    got = await tb.run(inputs, len(expected), max_cycles(cfg, len(inputs)))
    compare([p for _, p in got.outputs], expected, [p for _, p in got.inputs],
            cfg["in_width"], cfg["out_width"], _lanes(cfg))
    if cfg.get("check_latency"):
        for beat, ((ci, pi), (co, _)) in enumerate(zip(got.inputs, got.outputs)):
            assert co - ci == cfg["latency"], (
                f"beat {beat}: input 0x{pi:x} accepted in cycle {ci}, output in cycle {co}: "
                f"latency {co - ci}, expected {cfg['latency']}")
        cycles = [c for c, _ in got.inputs]
        assert all(b - a == 1 for a, b in zip(cycles, cycles[1:])), "initiation interval is not 1"
    return got


@cocotb.test()
async def test_stream(dut):
    """Every beat through, compared with the golden model; exact latency when unstalled."""
    cfg = load_config()
    tb = make_tb(dut, cfg)
    if "w__valid" in dir(dut):
        dut.w__valid.value = 0
    await tb.reset()
    got = await check_stream(tb, cfg, cfg["inputs"], cfg["expected"])
    dut._log.warning("stream: %d beats in %d cycles", len(got.outputs), tb.cycle)


@cocotb.test()
async def test_reload(dut):
    """RAM engine: drain, write a new table through the w stream, then results follow it."""
    cfg = load_config()
    rl = cfg["reload"]
    tb = make_tb(dut, cfg)
    dut.w__valid.value = 0
    await tb.reset()
    await check_stream(tb, cfg, cfg["inputs"][:64], cfg["expected"][:64])
    for addr, data in rl["writes"]:
        dut.w__valid.value = 1
        dut.w__payload.value = (data << rl["addr_bits"]) | addr
        await ReadOnly()
        assert int(dut.w__ready.value) == 1
        await RisingEdge(dut.clk)
    dut.w__valid.value = 0
    await check_stream(tb, cfg, rl["inputs"], rl["expected"])


@cocotb.test()
async def test_reset_midstream(dut):
    """Reset with beats in flight drops them; afterwards the engine runs cleanly from scratch."""
    cfg = load_config()
    tb = make_tb(dut, cfg, seed_offset=7)
    if "w__valid" in dir(dut):
        dut.w__valid.value = 0
    await tb.reset()
    n = min(len(cfg["inputs"]), 200)
    first = await tb.run(cfg["inputs"][:n], n, max_cycles(cfg, n),
                         stop=lambda t: len(t.log.inputs) >= n // 2 + cfg["latency"])
    compare([p for _, p in first.outputs], cfg["expected"][:len(first.outputs)],
            [p for _, p in first.inputs], cfg["in_width"], cfg["out_width"], _lanes(cfg))
    await tb.reset(cycles=3)
    await ReadOnly()
    assert int(dut.o__valid.value) == 0, "output valid after reset"
    await RisingEdge(dut.clk)
    await check_stream(tb, cfg, cfg["inputs"][:n], cfg["expected"][:n])


@cocotb.test()
async def test_power_up(dut):
    """No reset pulse: from power-up (declaration initial values only) every beat is right."""
    cfg = load_config()
    tb = make_tb(dut, cfg)
    dut.rst.value = 0
    if "w__valid" in dir(dut):
        dut.w__valid.value = 0
    await RisingEdge(dut.clk)          # the clock's first edge (at time 0) with nothing offered
    got = await check_stream(tb, cfg, cfg["inputs"], cfg["expected"])
    dut._log.warning("power-up: %d beats in %d cycles", len(got.outputs), tb.cycle)
