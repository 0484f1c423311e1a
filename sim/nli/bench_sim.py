"""Simulation benchmark: wall time of the exhaustive 16-bit check of the emitted Verilog on Verilator
(target: under 15 s with the Verilator build cached), and simulated cycles per second, for the
parallel and binary architectures."""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from rich.table import Table

from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.luts.default_tables import shipped_table
from nlihw.hdl.nli.generate import generate
from nlihw.sim.nli import engine_bench as eb
from nlihw.sim.common import runner

TARGET_S = 15.0


def run(console) -> dict:
    work = Path(tempfile.mkdtemp(prefix="nlihw-bench-sim-"))
    try:
        return _run(console, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)        # fresh builds each run: nothing to keep


def _run(console, work: Path) -> dict:
    t = Table(title="Exhaustive 16-bit check (silu M=11 K=32, all 65,536 codes) on Verilator")
    for col in ("arch", "lanes", "latency", "first build (s)", "cached build (s)", "check (s)",
                "total cached (s)", "target", "cycles", "cycles/s (with start-up)", "result"):
        t.add_column(col, justify="left" if col in ("arch", "result", "target") else "right")
    figures = {}
    for arch, lanes in (("parallel", 1), ("binary", 1), ("parallel", 4)):
        p = NLIEngineParams((shipped_table("silu_M11_K32"),), arch=arch, lanes=lanes)
        d = work / f"{arch}{lanes}"
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
        figures[f"{arch}x{lanes}"] = {"first_build_s": first, "cached_build_s": cached,
                                      "check_s": r.seconds, "cycles": cycles, "passed": ok}
    console.print(t)
    return figures
