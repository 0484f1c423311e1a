"""The comparison users ask for: for one function and error bound, the cheapest design point of each
architecture (NLI K=1, NLI K>1, uniform PWL, full LUT), synthesized side by side.

"Cheapest" before synthesis means the fewest stored values (for NLI: the fewest cutpoints M for
each K, then the K with the smallest table); the synthesized figures then give the real cost.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nlihw.hdl.generate import generate
from nlihw.hdl.params import NLIEngineParams
from nlihw.luts import baselines

ARCH_OF = {"nli_k1": "parallel", "nli": "parallel", "uniform_pwl": "uniform", "full_lut": "direct"}
NAMES = {"nli": "NLI (K>1)", "nli_k1": "NLI K=1 (PWL)", "uniform_pwl": "uniform PWL", "full_lut": "full LUT"}
AREA_KEY = {"generic": "gate_equivalents", "xcup": "lut", "ecp5": "lut4", "ice40": "lut4"}
# columns besides the area key: memories and DSPs (a full LUT is cheap in LUTs, not in block RAM)
EXTRA = {"generic": (), "xcup": ("dsp48e2", "ramb18", "ramb36"), "ecp5": ("mult18", "ebr", "fmax_mhz"),
         "ice40": ("mac16", "ram4k", "fmax_mhz")}
FULL_LUT_SYNTH_LIMIT = 1 << 14     # larger full LUTs are only mapped to xcup block RAM
NLI_KS = (2, 4, 8, 16, 32)


@dataclass
class Row:
    architecture: str
    choice: baselines.Choice | None
    params: NLIEngineParams | None = None
    reports: dict = field(default_factory=dict)      # target -> synthesis report (or None: skipped)
    note: str = ""


def choose(func, in_fmt, out_fmt, max_err_lsb, domain=None, grid=None, progress=None) -> list[Row]:
    """The cheapest configuration of each architecture that meets ``max_err_lsb``."""
    rows = [Row("nli_k1", baselines.smallest_nli(func, in_fmt, out_fmt, max_err_lsb, 1, domain, grid,
                                                 progress=progress))]
    best = None
    for K in NLI_KS:
        c = baselines.smallest_nli(func, in_fmt, out_fmt, max_err_lsb, K, domain, grid, m_max=257,
                                   progress=progress)
        if c and (best is None or c.stored_values < best.stored_values):
            best = c
    rows.append(Row("nli", best))
    if progress:
        progress("uniform PWL and full LUT")
    rows.append(Row("uniform_pwl", baselines.smallest_uniform(func, in_fmt, out_fmt, max_err_lsb, domain)))
    rows.append(Row("full_lut", baselines.smallest_full_lut(func, in_fmt, out_fmt, max_err_lsb, domain)))
    for r in rows:
        if r.choice is None:
            r.note = "no configuration meets the bound"
        else:
            r.params = NLIEngineParams((r.choice.table,), arch=ARCH_OF[r.architecture],
                                       top_name=f"{func.replace(':', '_')}_{r.architecture}")
    return rows


def synthesize(rows: list[Row], targets, outdir: Path,
               progress: Callable[[str], None] | None = None) -> None:
    from nlihw.synth.driver import run_synth
    for r in rows:
        if r.params is None:
            continue
        paths = generate(r.params, outdir / r.architecture)
        for tgt in targets:
            if r.architecture == "full_lut" and r.params.layout.n_values > FULL_LUT_SYNTH_LIMIT \
                    and tgt != "xcup":
                r.reports[tgt] = None
                r.note = f"{r.params.layout.n_values}-entry table synthesized for xcup (block RAM) only"
                continue
            if progress:
                progress(f"synthesizing {NAMES[r.architecture]} for {tgt}")
            r.reports[tgt] = run_synth(paths["verilog"], r.params.top_name, tgt,
                                       params=r.params.to_dict(),
                                       report_dir=outdir / r.architecture / "synth")


def area(r: Row, target: str):
    rep = r.reports.get(target)
    return None if rep is None else rep["figures"].get(AREA_KEY[target])


def summary(rows: list[Row], targets) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the side-by-side table, with area ratios to NLI (K>1)."""
    ref = next((r for r in rows if r.architecture == "nli" and r.params), None)
    head = ["architecture", "configuration", "stored values", "max err (LSB)", "latency"]
    for tgt in targets:
        head += [f"{tgt} {AREA_KEY[tgt]}", f"{tgt} x NLI"] + [f"{tgt} {k}" for k in EXTRA[tgt]]
    out = []
    for r in rows:
        if r.choice is None:
            out.append([NAMES[r.architecture], r.note] + ["-"] * (len(head) - 2))
            continue
        line = [NAMES[r.architecture], r.choice.label, f"{r.choice.stored_values:,}",
                f"{r.choice.max_err_lsb:.3f}", str(r.params.latency)]
        for tgt in targets:
            a, a_ref = area(r, tgt), (area(ref, tgt) if ref else None)
            line += [f"{a:,.0f}" if a is not None else "-",
                     f"{a / a_ref:.2f}" if a is not None and a_ref else "-"]
            rep = r.reports.get(tgt)
            for k in EXTRA[tgt]:
                v = rep["figures"].get(k) if rep else None
                line.append("-" if v is None else f"{v:.1f}" if isinstance(v, float) else str(v))
        out.append(line)
    return head, out


def summary_table(rows: list[Row], targets, title: str):
    """The side-by-side comparison as a rich table (CLI and benchmark)."""
    from rich.table import Table
    head, lines = summary(rows, targets)
    t = Table(title=title)
    for h in head:
        t.add_column(h, justify="left" if h in ("architecture", "configuration") else "right")
    for line in lines:
        t.add_row(*line)
    return t
