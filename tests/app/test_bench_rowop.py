"""The row units' bench section (nlihw/benchmarks/rowop.py): its tables from hand-made reports and
figures (no synthesis), the section's published tables, its accuracy figures on a few rows against
float64 recomputed here (the units through ``nlihw.approx``, the references and the I/O floor in
plain numpy), and its place in ``make bench``."""
import numpy as np
import pytest
from rich.console import Console

from nlihw import approx, bench
from nlihw.benchmarks import rowop
from nlihw.benchmarks.section_output import collect
from nlihw.sim.rowop import accuracy

SOFTMAX_CYCLES = {"row_cycles": "3*n+20", "row_cycles_const": 20, "row_cycles_per_element": 3,
                  "first_out_latency": "n+21"}
NORM_CYCLES = {"row_cycles": "2*n+22", "row_cycles_const": 22, "row_cycles_per_element": 2,
               "first_out_latency": "23"}


def reports():
    return {
        "generic-sram": {"target": "generic-sram",
                         "figures": {"gate_equivalents": 12345.6, "memory_bits": 143360}},
        "xcup": {"target": "xcup", "figures": {"lut": 1674, "ff": 712, "dsp48e2": 7, "ramb36": 4,
                                               "ramb18": 1}},
        "ecp5": {"target": "ecp5", "figures": {"lut4": 2501, "ff": 1003, "mult18": 6, "ebr": 8,
                                               "fmax_mhz": 94.1, "fmax_min_mhz": 92.0,
                                               "fmax_max_mhz": 97.3}},
    }


def test_bench_lists_the_section():
    assert ("rowop", "nlihw.benchmarks.rowop") in bench.SECTIONS
    assert rowop.TABLES == ("accuracy", "resources")


def test_throughput_from_the_cycle_formula():
    tp = rowop.throughput(SOFTMAX_CYCLES)
    assert tp[1024] == (3092, pytest.approx(1024 / 3092)) and tp[4096][0] == 12308
    assert rowop.throughput(NORM_CYCLES)[4096] == (8214, pytest.approx(4096 / 8214))


def test_resource_row_from_canned_reports():
    row = rowop.resource_row("softmax int16", {"n_max": 4096, "cycles": SOFTMAX_CYCLES,
                                               "reports": reports()})
    assert row == ["softmax int16", "4,096", "12,346 GE + 143,360 bits in SRAM macros",
                   "1,674 / 712 / 7 / 4 RAMB36 + 1 RAMB18", "2,501 / 1,003 / 6 / 8",
                   "94.1 MHz [92.0..97.3]", "n+21", "3n+20: 3,092 / 12,308", "0.331 / 0.333"]
    assert len(row) == len(rowop.RESOURCES_HEAD)


def test_resource_row_failed_and_missing_targets():
    reps = reports()
    reps["ecp5"] = {"target": "ecp5", "error": "nextpnr-ecp5 failed (exit 1)"}
    del reps["xcup"]
    row = rowop.resource_row("rmsnorm int8", {"n_max": 4096, "cycles": NORM_CYCLES, "reports": reps})
    assert row[3] == "not measured"
    assert row[4] == row[5] == "failed: nextpnr-ecp5 failed (exit 1)"
    assert row[6:] == ["23", "2n+22: 2,070 / 8,214", "0.495 / 0.499"]


def test_fmax_cell_gives_nextpnr_s_note_when_there_is_no_fmax():
    reps = reports()
    reps["ecp5"]["figures"].update(mult18=33, fmax_mhz=None, fmax_min_mhz=None, fmax_max_mhz=None)
    reps["ecp5"]["flow"] = {"pnr": {"note": "does not fit LFE5U-25F (MULT18X18D 33/28)"}}
    row = rowop.resource_row("layernorm int16", {"n_max": 4096, "cycles": NORM_CYCLES,
                                                 "reports": reps})
    assert row[4:6] == ["2,501 / 1,003 / 33 / 8",
                        "Fmax n/a (does not fit LFE5U-25F (MULT18X18D 33/28))"]


def test_resource_figures_keep_every_target_and_the_throughput():
    reps = reports()
    reps["xcup"] = {"target": "xcup", "error": "boom"}
    reps["generic-sram"]["figures"]["timing"] = {"critical": {"path": [1, 2]}}
    figs = rowop.resource_figures({"softmax int16": {"n_max": 4096, "cycles": SOFTMAX_CYCLES,
                                                     "reports": reps}})["softmax int16"]
    assert figs["ecp5"]["fmax_mhz"] == 94.1 and figs["xcup"] == {"error": "boom"}
    assert figs["generic-sram"] == {"gate_equivalents": 12345.6, "memory_bits": 143360}
    assert figs["throughput"][4096] == {"clocks_per_row": 12308,
                                        "elements_per_clock": pytest.approx(4096 / 12308)}


def fig(max_rel, mean_rel, max_abs, floor, *, elements=10, sat=0.0, dominant="out"):
    return {"max_rel": max_rel, "mean_rel": mean_rel, "max_abs_lsb": max_abs, "sat_rows": sat,
            "rel_elements": elements, "dominant": dominant, "emulation_matches": True,
            "floor": dict(zip(("max_rel", "mean_rel", "max_abs_lsb"), floor))}


def test_accuracy_rows_put_each_figure_beside_its_floor():
    rows = rowop.accuracy_rows({
        "softmax int16": {"plain": fig(0.03, 0.0059, 0.93, (0.029, 0.0058, 0.9))},
        "rmsnorm int8": {"hidden": fig(0.48, 0.14, 116.8, (0.47, 0.13, 116.0), sat=0.25,
                                       dominant="in"),
                         "tiny": fig(0.0, 0.0, 0.55, (0.0, 0.0, 0.5), elements=0)}})
    assert rows == [
        ["softmax int16", "plain", "3.00e-02", "2.90e-02", "5.90e-03", "5.80e-03", "0.93", "0.90",
         "0 %", "out"],
        ["rmsnorm int8", "hidden", "4.80e-01", "4.70e-01", "1.40e-01", "1.30e-01", "116.80",
         "116.00", "25 %", "in"],
        ["rmsnorm int8", "tiny", "-", "-", "-", "-", "0.55", "0.50", "0 %", "out"]]
    assert all(len(r) == len(rowop.ACCURACY_HEAD) for r in rows)


def test_run_prints_and_publishes_both_tables(monkeypatch):
    monkeypatch.setattr(rowop, "accuracy_figures",
                        lambda: {"layernorm int16": {"hidden": fig(0.06, 0.008, 1.2, (0.05, 0.007, 1.1))}})
    monkeypatch.setattr(rowop, "resource_reports", lambda console, work: {
        "layernorm int16": {"n_max": 4096, "cycles": NORM_CYCLES, "reports": reports()}})
    console = Console(width=400, record=True)
    with collect() as tables:
        res = rowop.run(console)
    assert set(tables) == set(rowop.TABLES)
    assert "| layernorm int16 | hidden | 6.00e-02 | 5.00e-02 |" in tables["accuracy"]
    assert "| 94.1 MHz [92.0..97.3] | 23 | 2n+22: 2,070 / 8,214 | 0.495 / 0.499 |" in tables["resources"]
    text = console.export_text()
    assert "layernorm int16" in text and "2n+22: 2,070 / 8,214" in text and "6.00e-02" in text
    assert res["resources"]["layernorm int16"]["generic-sram"]["memory_bits"] == 143360


# --- the accuracy figures against float64 recomputed here -------------------------------------
def q(fmt, a):
    """``a`` rounded to nearest even into ``fmt``, saturating, as a real."""
    scale = 2.0 ** fmt.frac_bits
    return np.clip(np.rint(np.asarray(a) * scale), fmt.min_raw, fmt.max_raw) / scale


def np_softmax(x, mask):
    x = np.where(mask, -np.inf, x) if mask is not None else x
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def np_norm(kind, x, w, b, eps):
    c = x - x.mean(axis=1, keepdims=True) if kind == "layer" else x
    y = c / np.sqrt((c * c).mean(axis=1, keepdims=True) + eps) * w
    return y + b if kind == "layer" else y


def figures(y, ref, lsb):
    d = np.abs(y - ref)
    big = np.abs(ref) >= 16 * lsb
    rel = d[big] / np.abs(ref[big])
    return {"max_rel": rel.max() if rel.size else 0.0, "mean_rel": rel.mean() if rel.size else 0.0,
            "max_abs_lsb": d.max() / lsb}


def expected(p, args) -> tuple[dict, dict]:
    """(golden figures, floor figures) of one captured case, from scratch."""
    preset = "int16" if p.in_fmt.width == 16 else "int8"
    lsb = p.out_fmt.lsb
    if hasattr(p, "exp"):
        x, mask = args
        ref = np_softmax(x, mask)
        y = approx.softmax(x, preset, mask=mask)
        floor = q(p.out_fmt, np_softmax(q(p.in_fmt, x), mask))
    else:
        x, w, b = args
        bb = b if p.kind == "layer" else 0.0
        ref = np_norm(p.kind, x, w, bb, p.eps)
        y = (approx.rmsnorm(x, w, preset) if p.kind == "rms" else approx.layernorm(x, w, b, preset))
        bq = q(p.b_fmt, b) if p.kind == "layer" else 0.0
        floor = q(p.out_fmt, np_norm(p.kind, q(p.in_fmt, x), q(p.w_fmt, w), bq, p.eps))
    return figures(y, ref, lsb), figures(floor, ref, lsb)


def test_accuracy_figures_match_float64_recomputed_independently(monkeypatch):
    seen = []
    for name in ("softmax_case", "norm_case"):
        real = getattr(accuracy, name)
        monkeypatch.setattr(accuracy, name,
                            lambda p, *a, real=real: seen.append((p, a)) or real(p, *a))
    figs = rowop.accuracy_figures({"softmax": 2, "norm": 2})
    assert list(figs) == [f"{u} {p}" for p in ("int16", "int8")
                          for u in ("softmax", "rmsnorm", "layernorm")]
    cases = [f for fams in figs.values() for f in fams.values()]
    assert len(cases) == len(seen) == 2 * (8 + 2 + 2)
    for (p, args), got in zip(seen, cases):
        want, floor = expected(p, args)
        assert {k: got[k] for k in want} == pytest.approx(want, rel=1e-9, abs=1e-12), p.top_name
        assert got["floor"] == pytest.approx(floor, rel=1e-9, abs=1e-12), p.top_name
        assert got["emulation_matches"]
    assert any(c["rel_elements"] == 0 for c in cases)        # int8 plain logits: all below 16 LSB
    rows = rowop.accuracy_rows(figs)
    assert rows[0][:2] == ["softmax int16", "attn d=64 plain n=1024"]
    first = cases[0]
    assert rows[0][2] == f"{first['max_rel']:.2e}"
    assert rows[0][7] == f"{first['floor']['max_abs_lsb']:.2f}"


# --- the baselines beside the NLI units --------------------------------------------------------
def test_synth_plan_puts_each_baseline_after_its_nli_unit():
    """int8: every unit, then its full-LUT baseline (the uniform PWL meets the NLI error only with
    1-code segments there, so it is left out); baselines on generic-sram and xcup only."""
    plan = rowop.synth_plan(presets=("int8",), baseline_presets=("int8",))
    assert [label for label, _, _ in plan] == [
        "softmax int8", "softmax int8 (full-LUT baseline)", "rmsnorm int8",
        "rmsnorm int8 (full-LUT baseline)", "layernorm int8", "layernorm int8 (full-LUT baseline)"]
    for label, p, targets in plan:
        base = "baseline" in label
        assert p.engine_arch == ("direct" if base else "parallel")
        assert targets == (rowop.BASELINE_TARGETS if base else rowop.SYNTH_TARGETS)
        assert p.top_name.endswith("_direct") == base and p.n_max == rowop.N_MAX
    assert len({p.top_name for _, p, _ in plan}) == len(plan)
    assert "ecp5" not in rowop.BASELINE_TARGETS and "generic-sram" in rowop.BASELINE_TARGETS


def test_uniform_baseline_synthesized_only_where_it_differs_from_the_full_lut():
    assert not rowop.distinct_baseline(rowop.units("int8", engine_arch="uniform")["softmax"])
    assert rowop.distinct_baseline(rowop.units("int8", engine_arch="direct")["rmsnorm"])
    assert rowop.distinct_baseline(rowop.units("int16", engine_arch="uniform")["rmsnorm"])
    assert rowop.baseline_label("softmax int16", "direct") == "softmax int16 (full-LUT baseline)"
    assert rowop.baseline_label("rmsnorm int16", "uniform") == "rmsnorm int16 (uniform-PWL baseline)"


def test_baseline_row_without_ecp5_reads_not_measured():
    reps = {t: r for t, r in reports().items() if t != "ecp5"}
    cyc = dict(SOFTMAX_CYCLES, row_cycles="3*n+18", row_cycles_const=18, first_out_latency="n+19")
    row = rowop.resource_row("softmax int16 (full-LUT baseline)",
                             {"n_max": 4096, "cycles": cyc, "reports": reps})
    assert row == ["softmax int16 (full-LUT baseline)", "4,096",
                   "12,346 GE + 143,360 bits in SRAM macros", "1,674 / 712 / 7 / 4 RAMB36 + 1 RAMB18",
                   "not measured", "not measured", "n+19", "3n+18: 3,090 / 12,306", "0.331 / 0.333"]


def test_run_publishes_the_baseline_beside_its_nli_unit(monkeypatch):
    monkeypatch.setattr(rowop, "accuracy_figures", lambda: {})
    base = {t: r for t, r in reports().items() if t != "ecp5"}
    monkeypatch.setattr(rowop, "resource_reports", lambda console, work: {
        "softmax int16": {"n_max": 4096, "cycles": SOFTMAX_CYCLES, "reports": reports()},
        "softmax int16 (full-LUT baseline)": {"n_max": 4096, "cycles": SOFTMAX_CYCLES,
                                              "reports": base}})
    with collect() as tables:
        res = rowop.run(Console(width=400, record=True))
    lines = [ln for ln in tables["resources"].splitlines() if ln.startswith("| softmax int16")]
    assert [ln.split(" | ")[0] for ln in lines] == ["| softmax int16",
                                                     "| softmax int16 (full-LUT baseline)"]
    assert "| not measured | not measured |" in lines[1]
    assert set(res["resources"]["softmax int16 (full-LUT baseline)"]) == {
        "n_max", "cycles", "throughput", "generic-sram", "xcup"}
