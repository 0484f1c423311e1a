"""A short plain-text table of synthesis reports: one row per design and target, units in the cells.

Targets count different resources, so the columns are roles (logic, flip-flops, arithmetic
blocks, memory, timing) and each cell names its unit: ``1,234 GE``, ``56 LUT``, ``2 DSP48E2``.
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
        where = f"in {f['sram_macros']} SRAM macros" if "sram_macros" in f else "in gates"
        mem = f"{_n(f['memory_bits'])} bits {where}" if f.get("memory_bits") else "-"
        return [logic, _n(f["flip_flops"]), "-", mem, f"depth {f['logic_depth']}"]
    if tgt == "xcup":
        carry = f["carry4"] + f["carry8"]
        logic = f"{_n(f['lut'])} LUT" + (f", {_n(carry)} CARRY" if carry else "")
        mem = f"{f['ramb36']} RAMB36, {f['ramb18']} RAMB18, {f['lutram']} LUTRAM"
        return [logic, _n(f["ff"]), f"{f['dsp48e2']} DSP48E2", mem, "-"]
    fmax = rep["figures"].get("fmax_mhz")
    timing = f"{fmax:.1f} MHz" if fmax is not None else "Fmax n/a"
    if tgt == "ecp5":
        return [f"{_n(f['lut4'])} LUT4", _n(f["ff"]), f"{f['mult18']} MULT18", f"{f['ebr']} EBR", timing]
    if tgt == "ice40":
        return [f"{_n(f['lut4'])} LUT4", _n(f["ff"]), f"{f['mac16']} MAC16",
                f"{f['ram4k']} RAM4K", timing]
    return ["?"] * 5


def format_table(reports: list[dict], title: str | None = None, width: int = 120) -> str:
    """Render ``reports`` (as returned by ``run_synth`` or read back from JSON) as text."""
    table = Table(*COLUMNS, title=title, box=box.SIMPLE_HEAD, title_justify="left")
    for rep in reports:
        table.add_row(rep["top"], rep["target"], *_row(rep))
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None, force_terminal=False).print(table)
    notes = [f"{rep['target']}: {rep['flow']['pnr']['note']}" for rep in reports
             if (rep.get("flow") or {}).get("pnr") and rep["flow"]["pnr"].get("note")]
    lines = [line.rstrip() for line in buf.getvalue().splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "".join(f"{line}\n" for line in lines + [f"  {n}" for n in notes])
