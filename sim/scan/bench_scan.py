"""Selective-scan benchmark: accuracy against float64 with the error budget (targets: relative RMS
< 0.25 % for int16, < 8 % for int8), golden-model speed, throughput measured in simulation
(target 1.0 (token, channel) per clock at P = N), synthesis of N = 16 at P in {1, 4, 16} on
generic-sram (gate equivalents of the logic, memories as SRAM macros), xcup and ecp5, and the
pipeline table: depth vs latency vs ECP5 Fmax (median [min..max] of 3 seeds, grades 6 and 8) vs
area at P = 1 (target: >= 100 MHz at grade 6)."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.table import Table

from nlihw.hdl.scan.params import preset
from nlihw.hdl.scan.unit import latency, loop_depth
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


# depths of the pipeline table (PIPELINE.prefer order); every depth with NLIHW_BENCH_FULL=1.
# One depth is 6 nextpnr runs of ~15 min each in WebAssembly on a shared core (then cached).
PIPELINE_DEPTHS = ("none", "2", "all")
FMAX_TARGET_MHZ = 100.0


def pipeline_table(console, work: Path) -> dict:
    """Depth vs latency vs ECP5 Fmax vs area for int16, D_inner = 64, N = 16, P = 1."""
    from nlihw.hdl.scan.generate import generate
    from nlihw.hdl.scan.params import PIPELINE
    from nlihw.synth.driver import run_synth
    from nlihw.synth.report_table import fmax_text
    full = os.environ.get("NLIHW_BENCH_FULL") == "1"
    depths = [str(n) for n in range(len(PIPELINE.points) + 1)] if full else PIPELINE_DEPTHS
    t = Table(title=f"Scan unit pipeline (int16, D_inner={D_INNER}, N={N}, P=1) on ECP5 LFE5U-25F: "
                    f"Fmax median [min..max] of 3 nextpnr seeds (target >= {FMAX_TARGET_MHZ:g} MHz at grade 6)")
    for col in ("pipeline", "latency", "loop stages", "LUT4", "FF", "MULT18", "EBR", "Fmax grade 6",
                "Fmax grade 8") + (("generic-sram GE",) if full else ()):
        t.add_column(col, justify="right")
    figures = {}
    for spec in depths:
        p = preset("int16", d_inner=D_INNER, d_state=N, lanes=1, top_name="scan_p1", pipeline=spec)
        v = generate(p, work / f"pipe_{spec}")["verilog"]
        reps = {g: run_synth(v, p.top_name, "ecp5", speed=g, params={"lanes": 1, "pipeline": str(p.pipeline)},
                             progress=lambda msg: console.print(f"  {spec}: {msg}")) for g in (6, 8)}
        f = reps[6]["figures"]
        row = [str(p.pipeline), str(latency(p)), str(loop_depth(p)), f"{f['lut4']:,}", f"{f['ff']:,}",
               str(f["mult18"]), str(f["ebr"]), fmax_text(f), fmax_text(reps[8]["figures"])]
        if full:
            gs = run_synth(v, p.top_name, "generic-sram", params={"lanes": 1, "pipeline": str(p.pipeline)})
            row.append(f"{gs['figures']['gate_equivalents']:,.0f}")
        t.add_row(*row)
        figures[str(p.pipeline)] = {"latency": latency(p), **{f"grade{g}": r["figures"] for g, r in reps.items()}}
    console.print(t)
    return figures


def run(console) -> dict:
    work = Path(tempfile.mkdtemp(prefix="nlihw-bench-scan-"))
    try:
        return {"accuracy": accuracy(console), "golden": golden_speed(console),
                "throughput": throughput(console, work), "synthesis": synthesis(console, work),
                "pipeline": pipeline_table(console, work)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
