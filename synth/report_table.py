"""A short plain-text table of synthesis reports: one row per design and target, units in the cells.

Targets count different resources, so the columns are roles (logic, flip-flops, arithmetic
blocks, memory, timing) and each cell names its unit: ``1,234 GE``, ``56 LUT``, ``2 DSP48E2``.
Fmax is the median of the nextpnr seeds with [minimum..maximum]; a note under the table gives
each seed's figure. A target with a speed grade shows it (``ecp5 -6``). A gate-level figure of the
hierarchical flow (each unique module mapped once) is marked ``hier`` and explained in a note.
"""
from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table

COLUMNS = ("design", "target", "logic", "FF", "DSP", "memory", "timing")


def _n(v) -> str:
    return f"{v:,.1f}" if isinstance(v, float) else f"{v:,}"


def _row(rep: dict) -> list[str]:
    f, tgt = rep["figures"], rep["target"]
    if tgt in ("generic", "generic-sram"):
        logic = (f"{_n(f['gate_equivalents'])} GE" if "gate_equivalents" in f
                 else f"{_n(f['area'])} area ({rep['liberty']['file']})")
        logic += " hier" if (rep.get("flow") or {}).get("hierarchical") else ""
        where = f"in {f['sram_macros']} SRAM macros" if "sram_macros" in f else "in gates"
        mem = f"{_n(f['memory_bits'])} bits {where}" if f.get("memory_bits") else "-"
        return [logic, _n(f["flip_flops"]), "-", mem, f"depth {f['logic_depth']}"]
    if tgt == "xcup":
        carry = f["carry4"] + f["carry8"]
        logic = f"{_n(f['lut'])} LUT" + (f", {_n(carry)} CARRY" if carry else "")
        mem = f"{f['ramb36']} RAMB36, {f['ramb18']} RAMB18, {f['lutram']} LUTRAM"
        return [logic, _n(f["ff"]), f"{f['dsp48e2']} DSP48E2", mem, "-"]
    timing = fmax_text(f)
    if tgt.startswith("ecp5"):
        return [f"{_n(f['lut4'])} LUT4", _n(f["ff"]), f"{f['mult18']} MULT18", f"{f['ebr']} EBR", timing]
    if tgt == "ice40":
        return [f"{_n(f['lut4'])} LUT4", _n(f["ff"]), f"{f['mac16']} MAC16",
                f"{f['ram4k']} RAM4K", timing]
    return ["?"] * 5


def fmax_text(figures: dict) -> str:
    """``94.1 MHz [92.0..97.3]``: the median Fmax and its range over the seeds (reports of
    schema 1 have the median only)."""
    fmax = figures.get("fmax_mhz")
    if fmax is None:
        return "Fmax n/a"
    lo, hi = figures.get("fmax_min_mhz"), figures.get("fmax_max_mhz")
    return f"{fmax:.1f} MHz" + (f" [{lo:.1f}..{hi:.1f}]" if lo is not None and hi is not None else "")


def target_text(rep: dict) -> str:
    grade = rep.get("speed_grade")
    return rep["target"] + (f" -{grade}" if grade is not None else "")


def seeds_note(rep: dict) -> str | None:
    """``ecp5 -6: Fmax per seed: 1: 94.1, 2: 92.0, 3: 97.3 MHz (median 94.1)``, if it has seeds."""
    pnr = (rep.get("flow") or {}).get("pnr") or {}
    runs = [r for r in pnr.get("runs", []) if r.get("fmax_mhz") is not None]
    if not runs:
        return None
    each = ", ".join(f"{r['seed']}: {r['fmax_mhz']:.1f}" for r in runs)
    return f"{rep['top']} {target_text(rep)}: Fmax per seed: {each} MHz (median {pnr['fmax_mhz']:.1f})"


def hierarchy_note(rep: dict) -> str | None:
    """``scan generic-sram hier: 12 modules mapped once each for 61 instances (most: lane x16);
    area summed over instances``, for a report of the hierarchical flow."""
    modules = (rep.get("flow") or {}).get("modules") if (rep.get("flow") or {}).get("hierarchical") else None
    if not modules:
        return None
    most = max(sorted(modules), key=lambda m: modules[m]["instances"])
    total = sum(m["instances"] for m in modules.values())
    return (f"{rep['top']} {target_text(rep)} hier: {len(modules)} modules mapped once each for {total} "
            f"instances (most: {most} x{modules[most]['instances']}); area summed over instances")


def format_table(reports: list[dict], title: str | None = None, width: int = 120) -> str:
    """Render ``reports`` (as returned by ``run_synth`` or read back from JSON) as text."""
    table = Table(*COLUMNS, title=title, box=box.SIMPLE_HEAD, title_justify="left")
    for rep in reports:
        table.add_row(rep["top"], target_text(rep), *_row(rep))
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None, force_terminal=False).print(table)
    notes = [f"{target_text(rep)}: {rep['flow']['pnr']['note']}" for rep in reports
             if (rep.get("flow") or {}).get("pnr") and rep["flow"]["pnr"].get("note")]
    notes += [n for n in map(seeds_note, reports) if n]
    notes += [n for n in map(hierarchy_note, reports) if n]
    notes += [f"{rep['top']} {target_text(rep)}: {rep['flow']['mapper_note']}" for rep in reports
              if (rep.get("flow") or {}).get("mapper_note")]
    lines = [line.rstrip() for line in buf.getvalue().splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "".join(f"{line}\n" for line in lines + [f"  {n}" for n in notes])
