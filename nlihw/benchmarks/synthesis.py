"""Synthesis benchmark: the default designs on all four targets (ECP5 at speed grades 6 and 8; Fmax
is the median [min..max] of 3 nextpnr seeds), and the NLI-vs-baselines comparison for silu, gelu
and exp at a 2-LSB bound (the NLI paper claims >= 4x over LUT-based designs), and the generic target's
flattened vs hierarchical mapping (each unique module mapped once) of two of the default designs."""
from __future__ import annotations

import tempfile
from pathlib import Path

from rich.table import Table

from nlihw.atomic import atomic_write_text
from nlihw.benchmarks.section_output import markdown_table, publish, rich_markdown
from nlihw.explore.comparison import NAMES, area, choose, summary_markdown, summary_table, synthesize
from nlihw.hdl.nli.generate import generate
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.luts.default_tables import shipped_table
from nlihw.synth.driver import run_synth
from nlihw.synth.report_table import fmax_text

TARGETS = ("generic", "xcup", "ecp5", "ice40")
DESIGNS = [  # label, table, arch, lanes
    ("silu M17 K1", "silu_M17_K1", "parallel", 1),
    ("silu M11 K8", "silu_M11_K8", "parallel", 1),
    ("silu M11 K32", "silu_M11_K32", "parallel", 1),
    ("silu M11 K32 binary", "silu_M11_K32", "binary", 1),
    ("silu M11 K32 x4 lanes", "silu_M11_K32", "parallel", 4),
]
COMPARE = [("silu", "s4.12", "s4.12", None), ("gelu", "s4.12", "s4.12", None),
           ("exp", "s4.12", "u1.15", (-8.0, 0.0))]
COMPARE_TARGETS = ("generic", "xcup", "ecp5")
HIER_DESIGNS = ("silu M11 K32", "silu M11 K32 x4 lanes")
MAX_ERR_LSB = 2.0
TABLES = ("designs", "default_designs", "hierarchy",                # published (section_output)
          "compare_silu", "compare_gelu", "compare_exp")


def _fig(rep, key):
    if key == "fmax_mhz" and rep:
        return fmax_text(rep["figures"]).replace(" MHz", "")
    v = rep["figures"].get(key) if rep else None
    return "-" if v is None else (f"{v:,.1f}" if isinstance(v, float) else f"{v:,}")


def designs_row(label: str, latency: int, reps: dict) -> list[str]:
    """One design in the README's shape: GE, xcup LUT / FF / DSP, ecp5 LUT4 / EBR / Fmax (and
    grade 8), ice40 LUT4 / Fmax."""
    def f(tgt, key):
        return _fig(reps.get(tgt), key)

    def mhz(tgt):
        text = f(tgt, "fmax_mhz")
        return text if text == "-" else f"{text} MHz"
    ge = (reps.get("generic") or {}).get("figures", {}).get("gate_equivalents")
    return [label, str(latency), "-" if ge is None else f"{ge:,.0f}",
            f"{f('xcup', 'lut')} / {f('xcup', 'ff')} / {f('xcup', 'dsp48e2')}",
            f"{f('ecp5', 'lut4')} / {f('ecp5', 'ebr')} / {mhz('ecp5')} "
            f"(grade 8: {f('ecp5-speed8', 'fmax_mhz')})",
            f"{f('ice40', 'lut4')} / {mhz('ice40')}"]


DESIGNS_HEAD = ("design", "latency", "generic GE", "xcup LUT / FF / DSP", "ecp5 LUT4 / EBR / Fmax",
                "ice40 LUT4 / Fmax")


def run(console) -> dict:
    work = Path(tempfile.mkdtemp(prefix="nlihw-bench-synth-"))
    t = Table(title="Default designs (16-bit in/out), all four targets")
    cols = [("generic", "gate_equivalents"), ("generic", "logic_depth"), ("xcup", "lut"), ("xcup", "ff"),
            ("xcup", "dsp48e2"), ("ecp5", "lut4"), ("ecp5", "ebr"), ("ecp5", "fmax_mhz"),
            ("ecp5-speed8", "fmax_mhz"), ("ice40", "lut4"), ("ice40", "fmax_mhz")]
    t.add_column("design")
    t.add_column("latency", justify="right")
    for tgt, key in cols:
        t.add_column(f"{tgt} {key}", justify="right")
    figures, verilog, readme_rows = {}, {}, []
    for label, name, arch, lanes in DESIGNS:
        p = NLIEngineParams((shipped_table(name),), arch=arch, lanes=lanes, top_name="nli_engine")
        v = verilog[label] = generate(p, work / label.replace(" ", "_"))["verilog"]
        reps = {tgt: run_synth(v, p.top_name, tgt, params=p.to_dict(), report_dir=v.parent / "synth")
                for tgt in TARGETS}
        reps["ecp5-speed8"] = run_synth(v, p.top_name, "ecp5", speed=8, params=p.to_dict(),
                                        report_dir=v.parent / "synth")
        t.add_row(label, str(p.latency), *[_fig(reps[tgt], key) for tgt, key in cols])
        readme_rows.append(designs_row(label, p.latency, reps))
        figures[label] = {tgt: reps[tgt]["figures"] for tgt in reps}
    console.print(t)
    publish("default_designs", rich_markdown(t))
    publish("designs", markdown_table(DESIGNS_HEAD, readme_rows))
    figures["hierarchy"] = hierarchy_table(console, verilog)

    for func, fin, fout, dom in COMPARE:
        rows = choose(func, fin, fout, MAX_ERR_LSB, dom, workdir=work / "compare" / func)
        synthesize(rows, COMPARE_TARGETS, work / "compare" / func)
        text = summary_markdown(rows, COMPARE_TARGETS)
        atomic_write_text(Path("build/bench") / f"compare_{func}.md", text)
        publish(f"compare_{func}", text)
        console.print(summary_table(rows, COMPARE_TARGETS, f"{func} {fin} -> {fout}: cheapest design "
                                                           f"per architecture at <= {MAX_ERR_LSB} LSB"))
        ref = next(r for r in rows if r.architecture == "nli")
        figures[f"compare/{func}"] = {NAMES[r.architecture]: {tgt: area(r, tgt) for tgt in COMPARE_TARGETS}
                                      for r in rows}
        for r in rows:
            if r is not ref and r.params is not None:
                ratio = [f"{tgt} {area(r, tgt) / area(ref, tgt):.2f}x" for tgt in COMPARE_TARGETS
                         if area(r, tgt) and area(ref, tgt)]
                console.print(f"  {func}: {NAMES[r.architecture]} / NLI area: {', '.join(ratio) or '-'}")
    return figures


def hierarchy_table(console, verilog: dict) -> dict:
    """GE and yosys wall time of the generic target, flattened vs hierarchical, per design."""
    t = Table(title="generic: flattened vs hierarchical mapping (hier: each unique module mapped "
                    "once, area summed over instances)")
    for col in ("design", "flat GE", "hier GE", "hier / flat", "flat s", "hier s", "modules (instances)"):
        t.add_column(col, justify="right")
    figures = {}
    for label in HIER_DESIGNS:
        v = verilog[label]
        reps = {h: run_synth(v, "nli_engine", "generic", hierarchy=h, report_dir=v.parent / f"synth-{h}")
                for h in ("flat", "keep")}
        ge = {h: r["figures"]["gate_equivalents"] for h, r in reps.items()}
        secs = {h: "cached" if r["run"]["cached"] else f"{r['run']['seconds']:.0f}" for h, r in reps.items()}
        mods = reps["keep"]["flow"]["modules"]
        t.add_row(label, f"{ge['flat']:,.0f}", f"{ge['keep']:,.0f}", f"{ge['keep'] / ge['flat']:.3f}",
                  secs["flat"], secs["keep"], f"{len(mods)} ({sum(m['instances'] for m in mods.values())})")
        figures[label] = {"flat": ge["flat"], "hier": ge["keep"], "modules": mods}
    console.print(t)
    publish("hierarchy", rich_markdown(t))
    return figures
