"""The comparison users ask for: for one function and error bound, the cheapest design point of each
architecture (NLI K=1, NLI K>1, uniform PWL, full LUT), synthesized side by side.

For NLI, each K (and K=1 for the piecewise-linear row) and both micro steps (multiplier, shift)
gives a candidate with the fewest cutpoints M meeting the bound; the candidate with the smallest
synthesized area on the selection target (the first target) is chosen. Uniform PWL takes the
largest segments and the full LUT is unique.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nlihw.luts import baselines

ARCH_OF = {"nli_k1": "parallel", "nli": "parallel", "uniform_pwl": "uniform", "full_lut": "direct"}
NAMES = {"nli": "NLI (K>1)", "nli_k1": "NLI K=1 (PWL)", "uniform_pwl": "uniform PWL", "full_lut": "full LUT"}
AREA_KEY = {"generic": "gate_equivalents", "xcup": "lut", "ecp5": "lut4", "ice40": "lut4"}
# columns besides the area key: memories and DSPs (a full LUT is cheap in LUTs, not in block RAM)
EXTRA = {"generic": (), "xcup": ("dsp48e2", "ramb18", "ramb36"), "ecp5": ("mult18", "ebr", "fmax_mhz"),
         "ice40": ("mac16", "ram4k", "fmax_mhz")}
FULL_LUT_SYNTH_LIMIT = 1 << 14     # larger full LUTs are only mapped to xcup block RAM
NLI_KS = (2, 4, 8, 16, 32)
MICRO_STEPS = ("mul", "pow2")


@dataclass
class Row:
    architecture: str
    choice: baselines.Choice | None
    params: "NLIEngineParams | None" = None  # noqa: F821
    reports: dict = field(default_factory=dict)      # target -> synthesis report (or None: skipped)
    note: str = ""


def _params(func, arch_key, table) -> "NLIEngineParams":  # noqa: F821
    from nlihw.hdl.nli.params import NLIEngineParams
    return NLIEngineParams((table,), arch=ARCH_OF[arch_key], top_name=f"{func.replace(':', '_')}_{arch_key}")


def _cheapest(func, arch_key, candidates, select_target, workdir, progress):
    """The candidate with the smallest synthesized area on ``select_target``."""
    from nlihw.hdl.nli.generate import generate
    from nlihw.synth.driver import run_synth
    best, best_area = None, None
    for c in candidates:
        p = _params(func, arch_key, c.table)
        d = workdir / "candidates" / f"{arch_key}_M{c.table.layout.M}_K{c.table.layout.K}_{c.table.layout.micro_step.value}"
        if progress:
            progress(f"sizing {c.label} on {select_target}")
        rep = run_synth(generate(p, d)["verilog"], p.top_name, select_target, report_dir=d / "synth")
        a = rep["figures"][AREA_KEY[select_target]]
        if best is None or a < best_area:
            best, best_area = c, a
    return best


def choose(func, in_fmt, out_fmt, max_err_lsb, domain=None, grid=None, progress=None,
           select_target: str = "generic", workdir: Path = Path("build/compare")) -> list[Row]:
    """The cheapest configuration of each architecture that meets ``max_err_lsb``."""
    def nli(Ks, m_max):
        return [c for K in Ks for step in MICRO_STEPS
                if (c := baselines.smallest_nli(func, in_fmt, out_fmt, max_err_lsb, K, domain, grid,
                                                m_max=m_max, progress=progress, micro_step=step))]

    rows = [Row("nli_k1", _cheapest(func, "nli_k1", nli((1,), 1024), select_target, workdir, progress)),
            Row("nli", _cheapest(func, "nli", nli(NLI_KS, 257), select_target, workdir, progress))]
    if progress:
        progress("uniform PWL and full LUT")
    rows.append(Row("uniform_pwl", baselines.smallest_uniform(func, in_fmt, out_fmt, max_err_lsb, domain)))
    rows.append(Row("full_lut", baselines.smallest_full_lut(func, in_fmt, out_fmt, max_err_lsb, domain)))
    for r in rows:
        if r.choice is None:
            r.note = "no configuration meets the bound"
        else:
            r.params = _params(func, r.architecture, r.choice.table)
    return rows


def synthesize(rows: list[Row], targets, outdir: Path,
               progress: Callable[[str], None] | None = None) -> None:
    from nlihw.hdl.nli.generate import generate
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


def summary_markdown(rows: list[Row], targets) -> str:
    """The side-by-side comparison as a markdown table (for reports and the README)."""
    head, lines = summary(rows, targets)
    out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    out += ["| " + " | ".join(line) + " |" for line in lines]
    return "\n".join(out) + "\n"
