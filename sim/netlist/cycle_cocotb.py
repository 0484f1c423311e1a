"""cocotb test that drives a design cycle by cycle and records its outputs: the netlist and cell
model checks compare such traces (two netlists, or a netlist and a Python model) cycle by cycle.

Configuration (JSON named by NLIHW_BENCH_CONFIG): ``inputs``, one {port: value} per cycle, applied
at the falling clock edge; ``outputs``, the ports sampled right after (asynchronous effects of
that cycle's inputs included, before the next rising edge); ``trace``, the file the samples go to.
"""
from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly


@cocotb.test()
async def test_trace(dut):
    with open(os.environ["NLIHW_BENCH_CONFIG"]) as f:
        cfg = json.load(f)
    clk = getattr(dut, cfg.get("clock", "clk"))
    Clock(clk, 10, unit="ns").start(start_high=False)
    trace = []
    for step in cfg["inputs"]:
        await FallingEdge(clk)
        for port, value in step.items():
            getattr(dut, port).value = value
        await ReadOnly()
        trace.append([int(getattr(dut, port).value) for port in cfg["outputs"]])
    with open(cfg["trace"], "w") as f:
        json.dump(trace, f)
