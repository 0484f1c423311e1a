"""Selective-scan benchmark: accuracy against float64 with the error budget (targets: relative RMS
< 0.25 % for int16, < 8 % for int8) and against the I/O quantization floor on two input families,
golden-model speed, throughput measured in simulation (target 1.0 (token, channel) per clock at
P = N), synthesis of N = 16 at P in {1, 4, 16} on generic-sram (gate equivalents of the logic,
memories as SRAM macros), xcup and ecp5, the pipeline table (depth vs latency vs ECP5 Fmax, median
[min..max] of 3 seeds, grades 6 and 8, vs area at P = 1), and last the issue's target table:
configuration | goal | measured | met/MISSED, each miss with its margin.

``NLIHW_BENCH_FULL=1`` adds every pipeline depth to the pipeline table. ``NLIHW_BENCH_SCAN_QUICK=1``
is a smoke check of this module only (not a benchmark): D_inner = 8, short sequences, one nextpnr
seed, the P = 16 targets and the pipeline table skipped (their rows say "not measured").
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.markup import escape
from rich.table import Table

from nlihw.benchmarks.section_output import markdown_table, publish, rich_markdown
from nlihw.hdl.scan.generate import generate
from nlihw.hdl.scan.params import PIPELINE, preset
from nlihw.hdl.scan.unit import loop_depth
from nlihw.sim.scan import bench as sb
from nlihw.sim.scan.accuracy import budget_table, error_budget, path_rows, path_table, quantize_inputs
from nlihw.sim.scan.calibrate import calibrate
from nlihw.sim.scan.golden import scan_eval
from nlihw.sim.scan.stimulus import heavy_tailed_inputs, mamba_inputs
from nlihw.synth.driver import format_table, run_synth
from nlihw.synth.report_table import fmax_text
from nlihw.synth.targets import TARGETS as SYNTH_TARGETS

TARGETS = {"int16": 0.0025, "int8": 0.08}
QUICK = os.environ.get("NLIHW_BENCH_SCAN_QUICK") == "1"
L, D_INNER, N = (128, 8, 16) if QUICK else (1024, 64, 16)
L_HEAVY = 256 if QUICK else 4096             # the second input family's sequence length
SEEDS = (1,) if QUICK else None              # nextpnr seeds (None: the target's 3)
FLOOR_RATIO = {"int16": 1.1, "int8": 1.05}   # error / I/O quantization floor, both families
# the issue's FPGA goals: devices' capacities and clocks (ECP5 grade 6)
LFE5U_25F = {"mult18": 28, "lut4": 24_000}
LFE5UM_85F = {"mult18": 156, "lut4": 83_640, "ebr": 208}
P4_MHZ, P16_MHZ, P1_MHZ = 125.0, 100.0, 125.0
P16_MULT18, P16_DSP48E2, P16_GE, P16_MINUTES = 128, 112, 250_000, 10.0
THROUGHPUT_MIN = 0.995       # results per clock at P = N (the measured run includes its fill)
FASTEST = dict(pipeline="all", engine_pipeline="all")    # every register point (best Fmax)
ECP5_85K = "ecp5-85k"        # the 85F place-and-route target, when synth/targets.py has one
# products on ECP5 (hdl/common/multipliers.py): one MULT18 each (ecp5 = 18x18u: unsigned 18 x 18
# in one block too), the rest in the fabric as product terms (P = 4: 27 of the 25F's 28; with /12,
# the exp interpolation in the fabric, 23, but 76.7 against 81.3 MHz at an older commit)
MULTIPLIERS = {4: "ecp5", 16: "ecp5", 1: "ecp5"}
# back-pressure (hdl/scan/params.py), the faster one measured: at P = 16 the stall enable's fan-out
# across the 85F set the clock (45.8 MHz; credit 55.8); P = 4 credit 82.4 (stall 81.3 before the
# product terms); P = 1 credit 121.0 (stall 111.2, medians of 3 seeds, at 2150723)
BACKPRESSURE = {4: "credit", 16: "credit", 1: "credit"}
TABLES = ("accuracy", "throughput", "pipeline", "targets")      # published (section_output)


def accuracy_markdown(budgets: dict) -> str:
    """Per preset: the golden model's max abs and relative RMS error against float64, the target,
    and the I/O quantization floor (the first and last rows of each error budget)."""
    rows = []
    for name, budget in budgets.items():
        got, floor, target = budget[0], budget[-1], TARGETS[name]
        rows.append([name, f"{got['max_abs']:.2g}", f"{100 * got['rel_rms']:.3g} %",
                     f"< {100 * target:g} % ({'met' if got['rel_rms'] < target else 'MISSED'})",
                     f"{100 * floor['rel_rms']:.3g} %"])
    return markdown_table(["preset", "max abs error", "relative RMS error", "target",
                           "I/O quantization alone (the floor)"], rows)


def accuracy(console) -> dict:
    figures, budgets = {}, {}
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
        budgets[name] = rows
    publish("accuracy", accuracy_markdown(budgets))
    return figures


def families() -> dict:
    """The two input families: the bench's Mamba-like draws and the heavy-tailed set the presets
    were not tuned on (Student-t(3) u and z, S4D-real A, dt log-uniform [1e-3, 1e-1])."""
    return {"bench": mamba_inputs(D_INNER, N, L, np.random.default_rng(0)),
            "heavy-tailed": heavy_tailed_inputs(D_INNER, N, L_HEAVY, np.random.default_rng(5))}


def floor_accuracy(console) -> dict:
    """Full output and scan path alone against their own I/O floor, per preset and family, and
    the int16 formats ``scan calibrate`` chooses for the heavy-tailed family."""
    figures, xs = {}, families()
    for name in TARGETS:
        for fam, x in xs.items():
            rows = path_rows(preset(name, d_inner=D_INNER, d_state=N), x)
            console.print(path_table(rows, f"{name}, {fam} inputs (D_inner={D_INNER}, N={N})"))
            figures[f"{name}/{fam}"] = rows
    cal = calibrate(xs["heavy-tailed"], "int16", progress=lambda m: console.print(f"  {m}"))
    rows = path_rows(cal.params, xs["heavy-tailed"])
    console.print(path_table(rows, "int16 calibrated on the heavy-tailed inputs"))
    figures["int16-calibrated/heavy-tailed"] = rows
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
        m = re.search(r"\(([\d.]+) per clock\)", r.log.read_text())
        rate = float(m.group(1)) if m and r.failures == 0 else float("nan")
        t.add_row(str(P), str(p.steps), str(_latency(work / f"p{P}", p)), f"{rate:.3f}",
                  f"{1 / p.steps:.3f}", f"{time.perf_counter() - t0:.0f}")
        figures[P] = rate
    console.print(t)
    publish("throughput", rich_markdown(t))
    return figures


def _latency(outdir: Path, p) -> int:
    """The unit's latency as its generated manifest states it."""
    return json.loads((outdir / f"{p.top_name}.manifest.json").read_text())["latency"]


def _synth(console, work: Path, p, target: str, **kw) -> dict:
    """``p`` generated under ``work`` and synthesized on ``target`` (cached by content); the
    report, with ``latency`` from the manifest."""
    d = work / f"{p.top_name}_{p.digest()[:12]}"
    v = generate(p, d)["verilog"]
    rep = run_synth(v, p.top_name, target, params={"lanes": p.lanes, "pipeline": str(p.pipeline),
                                                   "engine_pipeline": str(p.engine_pipeline)},
                    progress=lambda msg: console.print(f"  {p.top_name}: {msg}"), **kw)
    rep["latency"], rep["multipliers"] = _latency(d, p), str(p.multipliers)
    return rep


def synthesis(console, work: Path) -> dict:
    """int16 at P in {1, 4, 16} on generic-sram (logic in gate equivalents, the state memories as
    SRAM macros: mapping them to gates takes ABC in WebAssembly hours), xcup and ecp5; reports
    by ``P<lanes>/<target>``."""
    reports = {}
    for P in ((1, 4) if QUICK else (1, 4, 16)):
        p = preset("int16", d_inner=D_INNER, d_state=N, lanes=P, top_name=f"scan_p{P}")
        for target in ("generic-sram", "xcup", "ecp5"):
            reports[f"P{P}/{target}"] = _synth(console, work, p, target,
                                               **({"seeds": SEEDS} if target.startswith("ecp5") else {}))
    console.print(format_table(list(reports.values())))
    return reports


# depths of the pipeline table (PIPELINE.prefer order); every depth with NLIHW_BENCH_FULL=1.
# One depth is 6 nextpnr runs of ~15 min each in WebAssembly on a shared core (then cached).
PIPELINE_DEPTHS = ("none", "2", "all")
FMAX_TARGET_MHZ = 100.0


def pipeline_table(console, work: Path) -> dict:
    """Depth vs latency vs ECP5 Fmax vs area for int16, D_inner = 64, N = 16, P = 1."""
    full = os.environ.get("NLIHW_BENCH_FULL") == "1"
    depths = [str(n) for n in range(len(PIPELINE.points) + 1)] if full else PIPELINE_DEPTHS
    t = Table(title=escape(f"Scan unit pipeline (int16, D_inner={D_INNER}, N={N}, P=1) on ECP5 "
                           f"LFE5U-25F: Fmax median [min..max] of 3 nextpnr seeds (target >= "
                           f"{FMAX_TARGET_MHZ:g} MHz at grade 6)"))
    for col in ("pipeline", "latency", "loop stages", "LUT4", "FF", "MULT18", "EBR", "Fmax grade 6",
                "Fmax grade 8") + (("generic-sram GE",) if full else ()):
        t.add_column(col, justify="right")
    figures = {}
    for spec in depths:
        p = preset("int16", d_inner=D_INNER, d_state=N, lanes=1, top_name="scan_p1", pipeline=spec)
        reps = {g: _synth(console, work, p, "ecp5", speed=g) for g in (6, 8)}
        f = reps[6]["figures"]
        row = [str(p.pipeline), str(reps[6]["latency"]), str(loop_depth(p)), f"{f['lut4']:,}",
               f"{f['ff']:,}", str(f["mult18"]), str(f["ebr"]), fmax_text(f),
               fmax_text(reps[8]["figures"])]
        if full:
            gs = _synth(console, work, p, "generic-sram")
            row.append(f"{gs['figures']['gate_equivalents']:,.0f}")
        t.add_row(*row)
        figures[str(p.pipeline)] = {"latency": reps[6]["latency"],
                                    **{f"grade{g}": r["figures"] for g, r in reps.items()}}
    console.print(t)
    publish("pipeline", rich_markdown(t))
    return figures


def fpga_targets(console, work: Path) -> dict:
    """The issue's ECP5 configurations with every register point (the fastest): P = 4 and P = 1
    on the LFE5U-25F, P = 16 on the 85F (``ECP5_85K`` when that target exists; else its resources
    from the 25F mapping, which does not depend on the device, and no Fmax)."""
    out = {}
    for P, target in ((4, "ecp5"), (1, "ecp5"), (16, ECP5_85K)):
        if QUICK and P == 16:
            continue
        p = preset("int16", d_inner=D_INNER, d_state=N, lanes=P, top_name=f"scan_p{P}_fast",
                   multipliers=MULTIPLIERS[P], backpressure=BACKPRESSURE[P], **FASTEST)
        have = target in SYNTH_TARGETS
        out[f"P{P}/{target}"] = _synth(console, work, p, target if have else "ecp5",
                                       seeds=SEEDS if have else (1,))
        out[f"P{P}/{target}"]["measured_on"] = target if have else "ecp5"
    return out


def synth_minutes(rep: dict) -> "tuple[float | None, str]":
    """(minutes, what they count) behind a generic-target report: the run's wall time, or for a
    cached report the yosys steps' own times from its kept logs ("End of script ... time: 12.3s")."""
    run = rep.get("run", {})
    if not run.get("cached", True):
        return run["seconds"] / 60, "synthesis"
    total, found = 0.0, False
    for path in run.get("logs", {}).values():
        try:
            text = Path(path).read_text(errors="replace")
        except OSError:
            continue
        for m in re.finditer(r"End of script\..*?time: ([\d.]+)s", text):
            total, found = total + float(m.group(1)), True
    return (total / 60 if found else None), "yosys"


def critical_path(rep: dict) -> "str | None":
    """The median seed's critical path from its kept nextpnr log: first source -> last sink and
    its delay (what limits the clock), or None."""
    pnr = (rep.get("flow") or {}).get("pnr") or {}
    med = rep["figures"].get("fmax_mhz")
    seed = next((r["seed"] for r in pnr.get("runs", []) if med is not None and r["fmax_mhz"] == med), None)
    log = rep.get("run", {}).get("logs", {}).get(f"nextpnr_seed{seed}")
    try:
        text = Path(log).read_text(errors="replace") if log else ""
    except OSError:
        return None
    blocks = re.findall(r"Critical path report for clock [^\n]*\n(.*?)\n\n", text, re.S)
    if not blocks:
        return None
    names = [re.sub(r"^dut\.|\.[A-Z0-9]+$", "", n)
             for n in re.findall(r"(?:Source|Sink) (\S+)", blocks[-1])]
    ns = re.search(r"([\d.]+) ns logic, ([\d.]+) ns routing", blocks[-1])
    delay = f" ({float(ns[1]) + float(ns[2]):.1f} ns, {ns[2]} of it routing)" if ns else ""
    return f"{names[0]} -> {names[-1]}{delay}" if names else None


def _fpga(rep: "dict | None") -> "dict | None":
    """A report's ECP5 figures for the target table: resources, Fmax, latency, limiter."""
    if rep is None:
        return None
    f = rep["figures"]
    note = ((rep.get("flow") or {}).get("pnr") or {}).get("note")
    keys = ("mult18", "lut4", "ebr", "fmax_mhz", "fmax_min_mhz", "fmax_max_mhz")
    return {k: f.get(k) for k in keys} | {"latency": rep.get("latency"), "note": note,
                                          "multipliers": rep.get("multipliers", "infer"),
                                          "path": critical_path(rep),
                                          "measured_on": rep.get("measured_on", rep["target"])}


def target_figures(res: dict) -> dict:
    """The measured figures the target table reads, out of ``run``'s results (a missing section
    or configuration becomes None: "not measured")."""
    syn, fpga, acc = res.get("synthesis") or {}, res.get("targets") or {}, res.get("floor") or {}
    gates = syn.get("P16/generic-sram")
    cal = acc.get("int16-calibrated/heavy-tailed")
    return {
        "p4": _fpga(fpga.get("P4/ecp5")), "p1": _fpga(fpga.get("P1/ecp5")),
        "p16_85f": _fpga(fpga.get(f"P16/{ECP5_85K}")),
        "p16_xcup": syn["P16/xcup"]["figures"]["dsp48e2"] if "P16/xcup" in syn else None,
        "p16_gates": None if gates is None else dict(zip(("minutes", "of"), synth_minutes(gates)),
                                                     ge=gates["figures"]["gate_equivalents"]),
        "throughput": res.get("throughput"),
        "accuracy": {k: tuple(r["ratio"] for r in rows) for k, rows in acc.items()
                     if not k.startswith("int16-calibrated")},
        "calibrated": None if cal is None else {"saturated": max(r["sat_any"] for r in cal),
                                                "ratios": tuple(r["ratio"] for r in cal)},
    }


def _over(got, cap, what: str) -> str:
    """'' when ``got <= cap``, else the miss and its margin."""
    return "" if got <= cap else f"{got:,} {what} > {cap:,} (+{100 * (got / cap - 1):.0f} %)"


def _verdict(misses, limiter: "str | None" = None) -> str:
    misses = [m for m in misses if m]
    if not misses:
        return "met"
    return "MISSED: " + "; ".join(misses) + (f"; limited by {limiter}" if limiter else "")


def _fmax(f: dict) -> str:
    if f["fmax_mhz"] is None:
        return "no Fmax"
    lo, hi = f.get("fmax_min_mhz"), f.get("fmax_max_mhz")
    spread = f" [{lo:.1f}..{hi:.1f}]" if lo is not None and hi is not None else ""
    return f"{f['fmax_mhz']:.1f} MHz{spread}"


def fpga_row(config: str, goal: str, f: "dict | None", *, caps: dict, mhz: float,
             mult18: "int | None" = None, device: str = "ecp5") -> tuple[str, str, str, str]:
    """One ECP5 row: MULT18 at most ``mult18``, within the device's ``caps`` ({figure: limit}),
    Fmax >= ``mhz`` (measured on ``device``; else not measured)."""
    if f is None:
        return config, goal, "not measured", "n/a"
    pnr = f["measured_on"] == device
    measured = (f"{f['mult18']} MULT18, {f['lut4']:,} LUT4 (multipliers {f.get('multipliers', 'infer')}), "
                f"latency {f['latency']}: "
                + (_fmax(f) if pnr else f"Fmax not measured (no {device} target)"))
    names = {"mult18": "MULT18", "lut4": "LUT4", "ebr": "EBR"}
    misses = [_over(f["mult18"], mult18, "MULT18") if mult18 is not None else ""]
    misses += [_over(f[k], cap, names[k] + " (does not fit)") for k, cap in caps.items()]
    limiter = None
    if pnr and f["fmax_mhz"] is None:
        misses.append(f"no Fmax ({f['note'] or 'not placed'})")
    elif pnr and f["fmax_mhz"] < mhz:
        short = 100 * (1 - f["fmax_mhz"] / mhz)
        misses.append(f"{f['fmax_mhz']:.1f} MHz is {short:.0f} % short of {mhz:g}")
        limiter = f["path"]
    verdict = _verdict(misses, limiter)
    if verdict == "met" and not pnr:
        verdict = "n/a (resources within the goal; Fmax not measured)"
    return config, goal, measured, verdict


def accuracy_rows(acc: dict) -> list[tuple[str, str, str, str]]:
    """Per preset and input family: error / floor of the full output and of the scan path alone."""
    rows = []
    for name, limit in FLOOR_RATIO.items():
        for fam in ("bench", "heavy-tailed"):
            config = f"accuracy {name}, {fam} inputs"
            goal = f"<= {limit:g}x floor, full output and scan path alone"
            r = acc.get(f"{name}/{fam}")
            if r is None:
                rows.append((config, goal, "not measured", "n/a"))
                continue
            worst = max(r)
            rows.append((config, goal, f"full {r[0]:.3f}x, scan path {r[1]:.3f}x",
                         "met" if worst <= limit else
                         f"MISSED: {worst:.3f}x, {100 * (worst / limit - 1):.1f} % over {limit:g}x"))
    return rows


def _resource_row(config: str, goal: str, measured: "str | None", misses) -> tuple[str, str, str, str]:
    if measured is None:
        return config, goal, "not measured", "n/a"
    return config, goal, measured, _verdict(misses)


def target_rows(f: dict) -> list[tuple[str, str, str, str]]:
    """The issue's target table from ``target_figures``: configuration, goal, measured, verdict
    ("met", or "MISSED: " with by how much and, for a clock, the critical path)."""
    xcup = f["p16_xcup"]
    return [
        fpga_row("int16 P=4 on LFE5U-25F", "fits (<= 28 MULT18, <= 24,000 LUT4), >= 125 MHz",
                 f["p4"], caps=LFE5U_25F, mhz=P4_MHZ),
        fpga_row("int16 P=16 on LFE5UM-85F", f"<= {P16_MULT18} MULT18, fits, >= {P16_MHZ:g} MHz",
                 f["p16_85f"], caps=LFE5UM_85F, mhz=P16_MHZ, mult18=P16_MULT18, device=ECP5_85K),
        fpga_row("int16 P=1 on LFE5U-25F", f">= {P1_MHZ:g} MHz", f["p1"], caps={}, mhz=P1_MHZ),
        _resource_row("int16 P=16 xcup", f"<= {P16_DSP48E2} DSP48E2",
                      None if xcup is None else f"{xcup} DSP48E2",
                      [_over(xcup or 0, P16_DSP48E2, "DSP48E2")]),
        _gates_row(f["p16_gates"]), _throughput_row(f["throughput"]),
        *accuracy_rows(f["accuracy"]), _calibrated_row(f["calibrated"])]


def _gates_row(g: "dict | None") -> tuple[str, str, str, str]:
    config, goal = "int16 P=16 generic-sram logic", f"<= {P16_GE:,} GE, synthesis < {P16_MINUTES:g} min"
    if g is None:
        return _resource_row(config, goal, None, [])
    mins = g["minutes"]
    took = "synthesis time unknown" if mins is None else f"{mins:.1f} min of {g.get('of', 'synthesis')}"
    slow = "" if mins is not None and mins < P16_MINUTES else f"{took} (goal < {P16_MINUTES:g})"
    return _resource_row(config, goal, f"{g['ge']:,.0f} GE, {took}",
                         [_over(round(g["ge"]), P16_GE, "GE"), slow])


def _calibrated_row(cal: "dict | None") -> tuple[str, str, str, str]:
    config = "calibrated int16 formats, heavy-tailed inputs"
    goal = "no saturated beat; <= 1.1x own floor, full output and scan path alone"
    if cal is None:
        return _resource_row(config, goal, None, [])
    sat, (full, path) = cal["saturated"], cal["ratios"]
    sats = "no saturated beat" if sat == 0 else f"{100 * sat:.4f} % saturated beats"
    return _resource_row(config, goal, f"{sats}; full {full:.3f}x, scan path {path:.3f}x",
                         ["" if sat == 0 else f"{100 * sat:.4f} % of beats saturated",
                          "" if max(full, path) <= 1.1 else f"{max(full, path):.3f}x > 1.1x"])


def _throughput_row(tp: "dict | None") -> tuple[str, str, str, str]:
    config, goal = "throughput", "1 (token, channel)/clock at P=N, II=1"
    if not tp:
        return _resource_row(config, goal, None, [])
    rate = tp.get(16, float("nan"))
    others = ", ".join(f"{tp[P]:.3f} at P={P}" for P in sorted(tp, reverse=True) if P != 16)
    ok = rate >= THROUGHPUT_MIN            # NaN (a failed bench) never is
    return _resource_row(config, goal, f"{rate:.3f} at P=16" + (f" ({others})" if others else ""),
                         ["" if ok else f"{rate:.3f} per clock at P=16"])


def target_table(rows) -> Table:
    t = Table(title=escape(f"Scan unit targets (int16, N={N}, D_inner={D_INNER}; ECP5 grade 6, Fmax "
                           f"median [min..max] of {len(SEEDS) if SEEDS else 3} nextpnr seeds, every "
                           f"register point)"))
    for col in ("configuration", "goal", "measured", "met/MISSED"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(*map(escape, r))
    return t


def run(console) -> dict:
    work = Path(tempfile.mkdtemp(prefix="nlihw-bench-scan-"))
    try:
        res = {"accuracy": accuracy(console), "floor": floor_accuracy(console),
               "golden": golden_speed(console), "throughput": throughput(console, work),
               "synthesis": synthesis(console, work),
               "pipeline": {} if QUICK else pipeline_table(console, work),
               "targets": fpga_targets(console, work)}
        res["target_table"] = target_rows(target_figures(res))     # reads the logs under work
        console.print(target_table(res["target_table"]))
        publish("targets", markdown_table(["configuration", "goal", "measured", "met/MISSED"],
                                          res["target_table"]))
        return res
    finally:
        shutil.rmtree(work, ignore_errors=True)
