"""Row-operation benchmark (issue [J]): the softmax, RMSNorm and LayerNorm units, int16 and int8.

- ``accuracy``: per unit, preset and input family of ``sim/rowop/accuracy.py`` (attention logits
  d = 64 / 128: plain, sharp, outliers, causal; hidden rows with outlier channels 20-100x at
  n = 1,024 and 4,096), the bit-exact golden model against float64 (torch semantics): max and
  mean element relative error (elements whose reference is at least 16 output LSBs), max absolute
  error in output LSBs, each beside the I/O quantization floor (only the inputs and outputs
  rounded, every approximation exact: the cases' "in+out only" budget row), the share of rows
  with a saturated output and the step that costs the most. The error math is accuracy.py's.
- ``resources``: each unit at n_max = 4,096 synthesized on generic-sram (logic in NAND2 gate
  equivalents; the row / e / weight buffers and the NLI tables as SRAM macros, their bits
  given), xcup (LUT / FF / DSP48E2 / block RAM) and ecp5 (LFE5U-25F grade 6: LUT4 / FF / MULT18 /
  EBR, Fmax median [min..max] of 3 nextpnr seeds), with the latency (clocks from a row's last
  input to its first output) and the throughput (clocks per row of n, ``row_cycles(n)``, and
  elements per clock at n = 1,024 and 4,096; one lane, a row's passes not overlapped) from the
  RTL's own cycle formulas (``cycles`` in ``hdl/rowop/generate.py``).

Baselines (the issue's "against a baseline of the same unit with its exp / reciprocal / rsqrt as
full LUTs or uniform PWL"): beside each NLI unit, the same unit with ``engine_arch`` ``direct``
(full LUTs) and, where it differs, ``uniform`` (uniform PWL), rows labelled e.g. "softmax int16
(full-LUT baseline)". Their tables (``hdl/rowop/engine_tables.py``) meet the NLI tables' max error,
which a uniform PWL of rounded edge values only meets with 1-code segments (a full LUT plus one
value) except int16 rsqrt (2^7-code segments, 1,537 values), so ``uniform`` is synthesized only for
the units with such a table (the norms int16). Baselines run on generic-sram and xcup only: at
int16 a full LUT of 1/x or 1/sqrt(x) holds 131,072 or 196,608 values of 18 bits (2.4 / 3.5 Mbit),
beyond the LFE5U-25F's 56 EBR (1,008 kbit), so nextpnr cannot place them, and three seeds per
baseline would double the ecp5 time for int8's; their ecp5 cells read "not measured".

Left out: the ``generic`` target (memories mapped to gates): each unit holds 67-208 kbit of
buffers and tables at n_max = 4,096, which ABC in WebAssembly maps for hours and which would
swamp the logic's figure (generic-sram gives the logic and the bits apart). Runtime: the accuracy
table takes seconds; the 18 NLI syntheses (54 nextpnr runs) about 35 min on a busy 2-core machine
with an empty cache, a minute once cached; the 22 baseline syntheses come on top (not yet timed:
the int16 full LUTs are 4 MB of Verilog each). ``NLIHW_BENCH_ROWOP_QUICK=1`` is a smoke check of this
module only: fewer accuracy rows, int16 only and one nextpnr seed, and the full-LUT
baselines of int8 only (the int16 full LUTs' 4 MB of Verilog take minutes to read) on
generic-sram only.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from nlihw.benchmarks.section_output import markdown_table, publish
from nlihw.errors import ToolError
from nlihw.hdl.rowop.engine_tables import BASELINE_LABELS
from nlihw.hdl.rowop.generate import cycles, generate
from nlihw.hdl.rowop.params import norm_preset, softmax_preset
from nlihw.sim.rowop.accuracy import norm_cases, softmax_cases
from nlihw.synth.driver import run_synth
from nlihw.synth.report_table import fmax_text

QUICK = os.environ.get("NLIHW_BENCH_ROWOP_QUICK") == "1"
PRESETS = ("int16", "int8")
UNITS = {"softmax": None, "rmsnorm": "rms", "layernorm": "layer"}      # unit -> norm kind
ROWS = {"softmax": 16, "norm": 8} if QUICK else {"softmax": 64, "norm": 32}   # accuracy.py's
N_MAX = 4096
SYNTH_PRESETS = ("int16",) if QUICK else ("int16", "int8")
SYNTH_TARGETS = ("generic-sram", "xcup", "ecp5")
SEEDS = (1,) if QUICK else None              # nextpnr seeds (None: the target's 3)
BASELINE_ARCHS = ("direct", "uniform")     # engine_arch of each baseline, in row order
BASELINE_PRESETS = ("int8",) if QUICK else ("int16", "int8")
BASELINE_TARGETS = ("generic-sram",) if QUICK else ("generic-sram", "xcup")
THROUGHPUT_N = (1024, 4096)
TABLES = ("accuracy", "resources")          # published (section_output)


# --- accuracy ---------------------------------------------------------------------------------
def unit_cases(unit: str, preset: str, rows: "dict | None" = None) -> dict:
    """accuracy.py's cases of one unit and preset: {family: case}."""
    rows = ROWS if rows is None else rows
    if unit == "softmax":
        return softmax_cases(preset, rows=rows["softmax"])
    return norm_cases(preset, UNITS[unit], rows=rows["norm"])


def case_figures(case: dict) -> dict:
    """The table's figures of one case: the golden model's and the I/O floor's, the dominant
    step, and whether the float emulation matched the golden model bit for bit."""
    g, floor = case["golden"], case["budget"]["in+out only"]
    keys = ("max_rel", "mean_rel", "max_abs_lsb")
    return {**{k: g[k] for k in keys}, "sat_rows": g["sat_rows"], "rel_elements": g["rel_elements"],
            "floor": {k: floor[k] for k in keys}, "dominant": case["dominant"],
            "emulation_matches": case["emulation_matches"]}


def accuracy_figures(rows: "dict | None" = None, presets=PRESETS) -> dict:
    """{"<unit> <preset>": {family: case_figures}} for every unit and preset."""
    return {f"{unit} {preset}": {fam: case_figures(c)
                                 for fam, c in unit_cases(unit, preset, rows).items()}
            for preset in presets for unit in UNITS}


ACCURACY_HEAD = ("unit", "input family", "max rel", "floor max rel", "mean rel", "floor mean rel",
                 "max abs (LSB)", "floor max abs (LSB)", "saturated rows", "dominant step")


def _rel(f: dict, key: str) -> str:
    """A relative error, or "-" when no element's reference reaches 16 output LSBs."""
    return f"{f[key]:.2e}" if f["rel_elements"] else "-"


def accuracy_rows(figs: dict) -> list[list[str]]:
    """One row per unit and family: each error figure beside its I/O quantization floor."""
    rows = []
    for unit, fams in figs.items():
        for fam, f in fams.items():
            fl = f["floor"]
            rows.append([unit, fam, _rel(f, "max_rel"), _rel(f | fl, "max_rel"),
                         _rel(f, "mean_rel"), _rel(f | fl, "mean_rel"),
                         f"{f['max_abs_lsb']:.2f}", f"{fl['max_abs_lsb']:.2f}",
                         f"{100 * f['sat_rows']:.0f} %", f["dominant"]])
    return rows


# --- resources, latency and throughput --------------------------------------------------------
def units(preset: str, n_max: int = N_MAX, engine_arch: str = "parallel") -> dict:
    """{unit: params} of one preset at ``n_max`` (and ``engine_arch``), each with its own top
    name (a baseline's ends in its arch)."""
    tail = "" if engine_arch == "parallel" else f"_{engine_arch}"
    top = lambda u: f"{u}_{preset}_n{n_max}{tail}"            # noqa: E731
    kw = {"n_max": n_max, "engine_arch": engine_arch}
    return {u: (softmax_preset(preset, top_name=top(u), **kw) if kind is None else
                norm_preset(preset, kind, top_name=top(u), **kw))
            for u, kind in UNITS.items()}


def baseline_label(label: str, arch: str) -> str:
    """"softmax int16" -> "softmax int16 (full-LUT baseline)"."""
    return f"{label} ({BASELINE_LABELS[arch]})"


def distinct_baseline(p) -> bool:
    """A uniform baseline is worth its synthesis only if some table has segments longer than one
    code (else it is the full LUT plus one value); a full LUT always is."""
    if p.engine_arch != "uniform":
        return True
    steps = ("exp", "reciprocal") if hasattr(p, "exp") else ("reciprocal", "rsqrt")
    return any(p.engine_table(f).meta.get("segment_log2", 0) > 0 for f in steps)


def synth_plan(presets=None, baseline_presets=None) -> list[tuple[str, object, tuple]]:
    """(label, params, targets) in table order: each NLI unit, then its distinct baselines."""
    presets = SYNTH_PRESETS if presets is None else presets
    baseline_presets = BASELINE_PRESETS if baseline_presets is None else baseline_presets
    plan = []
    for preset in dict.fromkeys((*presets, *baseline_presets)):
        archs = [a for a in BASELINE_ARCHS if preset in baseline_presets]
        variants = {a: units(preset, engine_arch=a) for a in archs}
        for unit, p in units(preset).items():
            label = f"{unit} {preset}"
            if preset in presets:
                plan.append((label, p, SYNTH_TARGETS))
            plan += [(baseline_label(label, a), variants[a][unit], BASELINE_TARGETS)
                     for a in archs if distinct_baseline(variants[a][unit])]
    return plan


def throughput(cyc: dict, ns=THROUGHPUT_N) -> dict:
    """{n: (clocks per row, elements per clock)} from ``cycles``' row_cycles = a n + b."""
    a, b = cyc["row_cycles_per_element"], cyc["row_cycles_const"]
    return {n: (a * n + b, n / (a * n + b)) for n in ns}


def _synth(console, work: Path, p, target: str) -> dict:
    """``p`` generated under ``work`` and synthesized on ``target`` (cached by content); a tool
    failure becomes ``{"error": ...}`` so the other configurations still run."""
    v = generate(p, work / p.top_name)["verilog"]
    kw = {"seeds": SEEDS} if target.startswith("ecp5") else {}
    try:
        return run_synth(v, p.top_name, target, params={"n_max": p.n_max},
                         progress=lambda msg: console.print(f"  {p.top_name}: {escape(msg)}"), **kw)
    except ToolError as e:
        console.print(f"  {p.top_name} {target}: [red]failed[/red]: {escape(str(e))}")
        return {"target": target, "error": str(e).splitlines()[0]}


def resource_reports(console, work: Path) -> dict:
    """{label: {"n_max", "cycles", "reports": {target: report}}}, labels "<unit> <preset>" and
    "<unit> <preset> (<baseline>)" in ``synth_plan`` order (a baseline lacks ecp5)."""
    return {label: {"n_max": p.n_max, "cycles": cycles(p),
                    "reports": {t: _synth(console, work, p, t) for t in targets}}
            for label, p, targets in synth_plan()}


def _n(v) -> str:
    return "-" if v is None else f"{v:,}"


def _cell(rep: "dict | None", text) -> str:
    """``text(figures)``, or why there are none."""
    if rep is None:
        return "not measured"
    if "error" in rep:
        return f"failed: {rep['error']}"
    return text(rep["figures"])


def _generic(f: dict) -> str:
    return f"{f['gate_equivalents']:,.0f} GE + {_n(f.get('memory_bits'))} bits in SRAM macros"


def _xcup(f: dict) -> str:
    bram = f"{f['ramb36']} RAMB36 + {f['ramb18']} RAMB18"
    return f"{_n(f['lut'])} / {_n(f['ff'])} / {f['dsp48e2']} / {bram}"


def _ecp5(f: dict) -> str:
    return f"{_n(f['lut4'])} / {_n(f['ff'])} / {f['mult18']} / {f['ebr']}"


def _fmax(rep: "dict | None") -> str:
    """The median Fmax [min..max], or nextpnr's note when there is none (e.g. does not fit)."""
    note = (((rep or {}).get("flow") or {}).get("pnr") or {}).get("note")
    text = _cell(rep, fmax_text)
    return f"{text} ({note})" if note and text == "Fmax n/a" else text


RESOURCES_HEAD = ("unit", "n_max", "generic-sram logic + memories", "xcup LUT / FF / DSP / BRAM",
                  "ecp5 LUT4 / FF / MULT18 / EBR", "ecp5 Fmax (grade 6)",
                  "latency (clocks, last in -> first out)",
                  "clocks per row (n = 1,024 / 4,096)", "elements per clock (n = 1,024 / 4,096)")


def resource_row(label: str, res: dict) -> list[str]:
    """One unit: its three targets' figures, latency and throughput."""
    reps, cyc = res["reports"], res["cycles"]
    tp = throughput(cyc)
    per_row = " / ".join(f"{tp[n][0]:,}" for n in THROUGHPUT_N)
    rate = " / ".join(f"{tp[n][1]:.3f}" for n in THROUGHPUT_N)
    return [label, f"{res['n_max']:,}", _cell(reps.get("generic-sram"), _generic),
            _cell(reps.get("xcup"), _xcup), _cell(reps.get("ecp5"), _ecp5),
            _fmax(reps.get("ecp5")), cyc["first_out_latency"].replace("*", ""),
            f"{cyc['row_cycles'].replace('*', '')}: {per_row}", rate]


def _scalars(rep: dict) -> dict:
    """A report's figures without the nested ones (generic's timing paths), or its error."""
    if "error" in rep:
        return {"error": rep["error"]}
    return {k: v for k, v in rep["figures"].items() if not isinstance(v, (dict, list))}


def resource_figures(res: dict) -> dict:
    """The JSON figures of ``resource_reports``: per unit the cycles, throughput and each
    target's figures (or its error)."""
    return {label: {"n_max": r["n_max"], "cycles": r["cycles"],
                    "throughput": {n: {"clocks_per_row": c, "elements_per_clock": e}
                                   for n, (c, e) in throughput(r["cycles"]).items()},
                    **{t: _scalars(rep) for t, rep in r["reports"].items()}}
            for label, r in res.items()}


# --- the section ------------------------------------------------------------------------------
def show(console, name: str, title: str, head, rows) -> None:
    """Print ``rows`` as a rich table titled ``title`` and publish them as table ``name``."""
    t = Table(title=escape(title))
    for i, col in enumerate(head):
        t.add_column(escape(col), justify="left" if i < 2 else "right", overflow="fold")
    for r in rows:
        t.add_row(*map(escape, r))
    console.print(t)
    publish(name, markdown_table(head, rows))


def run(console) -> dict:
    figs = accuracy_figures()
    show(console, "accuracy", "Row units against float64 (golden model, bit-exact with the RTL) "
         "beside the I/O quantization floor; relative error where |ref| >= 16 output LSB",
         ACCURACY_HEAD, accuracy_rows(figs))
    work = Path(tempfile.mkdtemp(prefix="nlihw-bench-rowop-"))
    try:
        res = resource_reports(console, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seeds = len(SEEDS) if SEEDS else 3
    show(console, "resources", f"Row units (one lane) on generic-sram, xcup and ecp5 (LFE5U-25F "
         f"grade 6, Fmax median [min..max] of {seeds} nextpnr seeds), each beside its baselines "
         f"(exp / 1/x / 1/sqrt(x) as full LUTs or uniform PWL of no larger error; generic-sram "
         f"and xcup only); cycles from the RTL",
         RESOURCES_HEAD, [resource_row(label, r) for label, r in res.items()])
    return {"accuracy": figs, "resources": resource_figures(res)}
