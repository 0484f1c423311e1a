"""Selective-scan benchmark: accuracy against float64 with the error budget (targets: relative RMS
< 0.25 % for int16, < 8 % for int8), golden-model speed, throughput measured in simulation
(target 1.0 (token, channel) per clock at P = N) and synthesis of N = 16 at P in {1, 4, 16} on
generic-sram (gate equivalents of the logic, memories as SRAM macros), xcup and ecp5."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.table import Table

from nlihw.hdl.scan.params import preset
from nlihw.hdl.scan.unit import latency
from .accuracy import budget_table, error_budget, quantize_inputs
from .golden import scan_eval
from .stimulus import mamba_inputs

TARGETS = {"int16": 0.0025, "int8": 0.08}
L, D_INNER, N = 1024, 64, 16


def accuracy(console) -> dict:
    figures = {}
    for name, target in TARGETS.items():
        p = preset(name, d_inner=D_INNER, d_state=N)
        x = mamba_inputs(D_INNER, N, L, np.random.default_rng(0))
        rows = error_budget(p, x)
        t = budget_table(rows, f"{name}: out against float64 selective_scan_ref (L={L}, "
                               f"D_inner={D_INNER}, N={N}, Mamba-like inputs)")
        console.print(t)
        got = rows[0]["rel_rms"]
        console.print(f"{name}: relative RMS {100 * got:.4f} % (target < {100 * target:g} %: "
                      f"{'met' if got < target else 'MISSED'}); I/O quantization floor "
                      f"{100 * rows[-1]['rel_rms']:.4f} %; overflow flag {rows[0]['overflow']}")
        figures[name] = {r["run"]: r for r in rows}
    return figures


def golden_speed(console) -> dict:
    p = preset("int16", d_inner=D_INNER, d_state=N)
    x = mamba_inputs(D_INNER, N, L, np.random.default_rng(1))
    cfg, run = quantize_inputs(p, x)
    t0 = time.perf_counter()
    scan_eval(p, cfg, run)
    s = time.perf_counter() - t0
    console.print(f"golden model: {L} tokens x {D_INNER} channels x {N} states in {s:.2f} s "
                  f"({L * D_INNER / s:,.0f} (token, channel) per second)")
    return {"seconds": s}


def throughput(console, work: Path) -> dict:
    """(token, channel) results per clock with no stalls, measured on the emitted Verilog."""
    from . import bench as sb
    t = Table(title="Throughput on Verilator (int8, N=16, D_inner=8, 32 tokens, no stalls)")
    for col in ("lanes P", "clocks per (token, channel)", "latency", "measured results/clock",
                "target", "build + run (s)"):
        t.add_column(col, justify="right")
    figures = {}
    for P in (16, 4, 1):
        p = preset("int8", d_inner=8, d_state=N, lanes=P)
        t0 = time.perf_counter()
        sim = sb.build_scan(p, work / f"p{P}")
        r = sb.run_bench(sim, sb.bench_config(sb.draw(p, 32, seed=2)), work / f"run{P}")
        text = r.log.read_text()
        import re
        m = re.search(r"\(([\d.]+) per clock\)", text)
        rate = float(m.group(1)) if m and r.failures == 0 else float("nan")
        t.add_row(str(P), str(p.steps), str(latency(p)), f"{rate:.3f}",
                  f"{1 / p.steps:.3f}", f"{time.perf_counter() - t0:.0f}")
        figures[P] = rate
    console.print(t)
    return figures


def synthesis(console, work: Path) -> dict:
    from nlihw.hdl.scan.generate import generate
    from nlihw.synth.driver import format_table, run_synth
    reports = []
    for P in (1, 4, 16):
        p = preset("int16", d_inner=D_INNER, d_state=N, lanes=P, top_name=f"scan_p{P}")
        v = generate(p, work / f"syn{P}")["verilog"]
        # generic-sram: logic in gate equivalents, the state memories as SRAM macros (mapping them
        # to gates as the plain generic target does takes ABC in WebAssembly hours). At P = 16 it
        # takes over an hour even so: only with NLIHW_BENCH_FULL=1.
        full = os.environ.get("NLIHW_BENCH_FULL") == "1"
        for target in (("generic-sram",) if P < 16 or full else ()) + ("xcup", "ecp5"):
            reports.append(run_synth(v, p.top_name, target, params={"lanes": P},
                                     progress=lambda msg: console.print(f"  {msg}")))
    console.print(format_table(reports))
    return {f"{r['top']}/{r['target']}": r["figures"] for r in reports}


def run(console) -> dict:
    work = Path(tempfile.mkdtemp(prefix="nlihw-bench-scan-"))
    try:
        return {"accuracy": accuracy(console), "golden": golden_speed(console),
                "throughput": throughput(console, work), "synthesis": synthesis(console, work)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
