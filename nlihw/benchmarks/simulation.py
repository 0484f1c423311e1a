"""Simulation benchmark: wall time of the exhaustive 16-bit check of the emitted Verilog on Verilator
(target: under 15 s with the Verilator build cached), and simulated cycles per second, for the
parallel and binary architectures; the same for float engines (random valid tables, every one of
the 65,536 fp16 / bf16 bit patterns, NaNs and infinities included)."""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from rich.table import Table

import numpy as np

from nlihw.benchmarks.section_output import publish, rich_markdown
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.luts.default_tables import shipped_table
from nlihw.hdl.nli.generate import generate
from nlihw.sim.nli import bench as eb
from nlihw.sim.common import runner
from nlihw.sim.nli.random_tables import random_table

TARGET_S = 15.0
TABLES = ("exhaustive",)          # published (section_output)


def run(console) -> dict:
    work = Path(tempfile.mkdtemp(prefix="nlihw-bench-sim-"))
    try:
        return _run(console, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)        # fresh builds each run: nothing to keep


def _run(console, work: Path) -> dict:
    t = Table(title="Exhaustive 16-bit check (silu M=11 K=32, all 65,536 codes; fp16/bf16: random "
                    "M=9 K=8 tables, all 65,536 bit patterns) on Verilator")
    for col in ("arch", "lanes", "latency", "first build (s)", "cached build (s)", "check (s)",
                "total cached (s)", "target", "cycles", "cycles/s (with start-up)", "result"):
        t.add_column(col, justify="left" if col in ("arch", "result", "target") else "right")
    figures = {}
    silu = shipped_table("silu_M11_K32")
    rows = [(arch, lanes, NLIEngineParams((silu,), arch=arch, lanes=lanes))
            for arch, lanes in (("parallel", 1), ("binary", 1), ("parallel", 4))]
    for fmt, arch, seed in (("fp16", "parallel", 35), ("bf16", "binary", 21)):
        table = random_table(np.random.default_rng(seed), fmt, fmt, 9, 8, tails=("identity", "clamp"))
        rows.append((f"{fmt} {arch}", 1, NLIEngineParams((table,), arch=arch)))
    for arch, lanes, p in rows:
        d = work / f"{arch.replace(' ', '_')}{lanes}"
        t0 = time.perf_counter()
        v = generate(p, d / "rtl")["verilog"]
        runner.build(v, p.top_name, build_root=d / "build")          # fresh directory: a real build
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        v = generate(p, d / "rtl")["verilog"]
        sim = runner.build(v, p.top_name, build_root=d / "build")
        cached = time.perf_counter() - t0
        x, func = eb.exhaustive_inputs(p)
        r = eb.run_bench(sim, eb.bench_config(p, x, func), d / "run")
        cycles = eb.simulated_cycles(r.log)
        total = cached + r.seconds
        ok = r.tests == 1 and r.failures == 0
        t.add_row(arch, str(lanes), str(p.latency), f"{first:.1f}", f"{cached:.1f}", f"{r.seconds:.1f}",
                  f"{total:.1f}", "met" if total < TARGET_S else f"MISSED by {total - TARGET_S:.1f} s",
                  f"{cycles:,}", f"{cycles / r.seconds:,.0f}", "PASS" if ok else f"FAIL: {eb.first_failure(r.log)}")
        figures[f"{arch.replace(' ', '_')}x{lanes}"] = {"first_build_s": first, "cached_build_s": cached,
                                      "check_s": r.seconds, "cycles": cycles, "passed": ok}
    console.print(t)
    publish("exhaustive", rich_markdown(t))
    return figures
