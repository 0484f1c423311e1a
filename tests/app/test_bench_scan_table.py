"""The scan bench's target table (nlihw/benchmarks/scan_unit.py): verdicts and margins from hand-made
figures (the issue's "now" column and boundary cases), the critical path and yosys time read from
hand-written tool logs, and the table rendered end to end from fake synthesis reports."""
import math

import pytest

from nlihw.benchmarks import scan_unit as bs


def fpga(mult18, lut4, fmax, *, ebr=8, latency=61, note=None, path=None, on="ecp5", lo=None, hi=None):
    return {"mult18": mult18, "lut4": lut4, "ebr": ebr, "fmax_mhz": fmax, "fmax_min_mhz": lo,
            "fmax_max_mhz": hi, "latency": latency, "note": note, "path": path, "measured_on": on}


def figures(**over):
    """Every goal met exactly at its limit (the boundaries count as met)."""
    f = {"p4": fpga(28, 24_000, 125.0), "p1": fpga(3, 4_000, 125.0, lo=120.0, hi=130.0),
         "p16_85f": fpga(128, 83_640, 100.0, ebr=208, on="ecp5-85k"), "p16_xcup": 112,
         "p16_gates": {"ge": 250_000.4, "minutes": 9.99, "of": "yosys"},
         "throughput": {16: 0.995, 4: 0.251, 1: 0.063},
         "accuracy": {"int16/bench": (1.1, 1.02), "int16/heavy-tailed": (1.0, 1.0),
                      "int8/bench": (1.05, 1.0), "int8/heavy-tailed": (1.0, 1.01)},
         "calibrated": {"saturated": 0.0, "ratios": (1.0, 1.1)}}
    f.update(over)
    return f


def verdicts(f):
    return {r[0]: r[3] for r in bs.target_rows(f)}


def test_every_goal_at_its_limit_is_met():
    rows = bs.target_rows(figures())
    assert len(rows) == 11 and len({r[0] for r in rows}) == 11
    assert [r[3] for r in rows] == ["met"] * 11, rows
    measured = {r[0]: r[2] for r in rows}
    assert measured["int16 P=1 on LFE5U-25F"] == "3 MULT18, 4,000 LUT4 (multipliers infer), latency 61: 125.0 MHz [120.0..130.0]"
    assert measured["throughput"] == "0.995 at P=16 (0.251 at P=4, 0.063 at P=1)"


def test_the_issue_s_now_column_is_missed_by_the_stated_margins():
    v = verdicts(figures(
        p4=fpga(69, 8_622, None, note="Fmax unavailable: does not fit LFE5U-25F (MULT18X18D 69/28)"),
        p1=fpga(27, 4_556, 75.8, path="front.x -> lane.y (13.2 ns, 6.0 of it routing)"),
        p16_85f=fpga(237, 25_432, None, ebr=52, on="ecp5"), p16_xcup=200,
        p16_gates={"ge": 533_689.0, "minutes": 58.0, "of": "synthesis"}))
    # 69/28 = 2.464; 75.8/125 = 0.606; 237/128 = 1.852, 237/156 = 1.519; 200/112 = 1.786; 533,689/250,000 = 2.135
    assert v["int16 P=4 on LFE5U-25F"] == ("MISSED: 69 MULT18 (does not fit) > 28 (+146 %); no Fmax "
                                           "(Fmax unavailable: does not fit LFE5U-25F (MULT18X18D 69/28))")
    assert v["int16 P=1 on LFE5U-25F"] == ("MISSED: 75.8 MHz is 39 % short of 125; limited by "
                                           "front.x -> lane.y (13.2 ns, 6.0 of it routing)")
    assert v["int16 P=16 on LFE5UM-85F"] == ("MISSED: 237 MULT18 > 128 (+85 %); "
                                             "237 MULT18 (does not fit) > 156 (+52 %)")
    assert v["int16 P=16 xcup"] == "MISSED: 200 DSP48E2 > 112 (+79 %)"
    assert v["int16 P=16 generic-sram logic"] == ("MISSED: 533,689 GE > 250,000 (+113 %); "
                                                  "58.0 min of synthesis (goal < 10)")


def test_just_past_each_limit_is_missed():
    v = verdicts(figures(
        p4=fpga(28, 24_001, 124.9), p16_xcup=113, p16_gates={"ge": 250_001.0, "minutes": 10.0, "of": "yosys"},
        throughput={16: 0.994}, calibrated={"saturated": 1e-6, "ratios": (1.0, 1.1001)},
        accuracy={"int16/bench": (1.1001, 1.0), "int16/heavy-tailed": (1.0, 1.0),
                  "int8/bench": (1.0, 1.06), "int8/heavy-tailed": (1.0, 1.0)}))
    assert v["int16 P=4 on LFE5U-25F"] == ("MISSED: 24,001 LUT4 (does not fit) > 24,000 (+0 %); "
                                           "124.9 MHz is 0 % short of 125")
    assert v["int16 P=16 xcup"].startswith("MISSED: 113 DSP48E2")
    assert v["int16 P=16 generic-sram logic"] == ("MISSED: 250,001 GE > 250,000 (+0 %); "
                                                  "10.0 min of yosys (goal < 10)")
    assert v["throughput"] == "MISSED: 0.994 per clock at P=16"
    assert v["accuracy int16, bench inputs"] == "MISSED: 1.100x, 0.0 % over 1.1x"
    assert v["accuracy int8, bench inputs"] == "MISSED: 1.060x, 1.0 % over 1.05x"    # 1.06/1.05 = 1.0095
    assert v["accuracy int16, heavy-tailed inputs"] == "met"
    assert v["calibrated int16 formats, heavy-tailed inputs"] == ("MISSED: 0.0001 % of beats saturated; "
                                                                  "1.100x > 1.1x")


def test_unmeasured_parts_say_so():
    f = figures(p4=None, p16_xcup=None, p16_gates=None, throughput=None, calibrated=None,
                accuracy={}, p16_85f=fpga(119, 20_000, None, on="ecp5"))
    rows = {r[0]: r[2:] for r in bs.target_rows(f)}
    for config in ("int16 P=4 on LFE5U-25F", "int16 P=16 xcup", "int16 P=16 generic-sram logic",
                   "throughput", "accuracy int8, heavy-tailed inputs",
                   "calibrated int16 formats, heavy-tailed inputs"):
        assert rows[config] == ("not measured", "n/a"), config
    # the 85F's resources from the 25F mapping: within the goal, its clock not measured
    assert rows["int16 P=16 on LFE5UM-85F"] == (
        "119 MULT18, 20,000 LUT4 (multipliers infer), latency 61: Fmax not measured (no ecp5-85k "
            "target)",
        "n/a (resources within the goal; Fmax not measured)")
    assert verdicts(figures(throughput={16: math.nan}))["throughput"] == "MISSED: nan per clock at P=16"


NEXTPNR_LOG = """\
Info: Critical path report for clock 'clk' (posedge -> posedge):
Info:       type curr  total name
Info:   clk-to-q  0.52  0.52 Source dut.early_TRELLIS_FF_Q.Q
Info: 1.00 ns logic, 1.00 ns routing

Info: Critical path report for clock '$glbnet$clk$TRELLIS_IO_IN' (posedge -> posedge):
Info:       type curr  total name
Info:   clk-to-q  0.52  0.52 Source dut.front.bias_TRELLIS_FF_Q.Q
Info:    routing  0.79  1.32 Net dut.front.bias (15,34) -> (18,34)
Info:                          Sink dut.lane.mult_LUT4_C.C
Info:      setup  0.20  9.70 Source dut.lane.acc_TRELLIS_FF_Q.DI
Info: 4.25 ns logic, 5.45 ns routing

Info: Critical path report for cross-domain path '<async>' -> 'posedge clk':
Info:     source  0.00  0.00 Source sin$tr_io.O
Info: 0.00 ns logic, 2.29 ns routing

"""


def test_critical_path_and_synthesis_minutes_from_the_kept_logs(tmp_path):
    for seed, text in ((1, "Info: nothing\n"), (2, NEXTPNR_LOG)):
        (tmp_path / f"s{seed}.log").write_text(text)
    rep = {"figures": {"fmax_mhz": 97.1},
           "flow": {"pnr": {"runs": [{"seed": 1, "fmax_mhz": 99.0}, {"seed": 2, "fmax_mhz": 97.1},
                                     {"seed": 3, "fmax_mhz": 90.0}]}},
           "run": {"logs": {"nextpnr_seed1": str(tmp_path / "s1.log"),
                            "nextpnr_seed2": str(tmp_path / "s2.log")}}}
    # the last clock report of the median seed (2): first source, last node; 4.25 + 5.45 ns
    assert bs.critical_path(rep) == "front.bias_TRELLIS_FF_Q -> lane.acc_TRELLIS_FF_Q (9.7 ns, 5.45 of it routing)"
    rep["figures"]["fmax_mhz"] = None
    assert bs.critical_path(rep) is None
    (tmp_path / "prep.log").write_text("End of script. Logfile hash: 1, time: 30.50s, user: 30s\n")
    (tmp_path / "map.log").write_text("x\nEnd of script. Logfile hash: 2, time: 89.5s, user: 89s\n")
    gates = {"run": {"cached": True, "seconds": 0.1,
                     "logs": {"prep": str(tmp_path / "prep.log"), "yosys": str(tmp_path / "map.log")}}}
    assert bs.synth_minutes(gates) == (pytest.approx(2.0), "yosys")        # (30.5 + 89.5) / 60
    # a run that was not cached: its own wall time (yosys, the merge and STA in Python)
    assert bs.synth_minutes({"run": {"cached": False, "seconds": 300.0, "logs": gates["run"]["logs"]}}) == (
        pytest.approx(5.0), "synthesis")
    assert bs.synth_minutes({"run": {"cached": True, "seconds": 0.1, "logs": {}}}) == (None, "yosys")


def _report(target, figures, latency=None, runs=(), note=None):
    return {"target": target, "figures": figures, "latency": latency,
            "flow": {"pnr": {"runs": list(runs), "note": note}}, "run": {"cached": True, "logs": {}}}


def test_table_from_reports_end_to_end():
    """``run``'s results (fake reports) -> figures -> rows -> a rendered table."""
    ecp5 = {"mult18": 20, "lut4": 9_000, "ebr": 4, "fmax_mhz": 130.0, "fmax_min_mhz": 128.0,
            "fmax_max_mhz": 131.0}
    res = {"synthesis": {"P16/xcup": _report("xcup", {"dsp48e2": 119}),
                         "P16/generic-sram": {**_report("generic-sram", {"gate_equivalents": 240_000.0}),
                                              "run": {"cached": False, "seconds": 540.0, "logs": {}}}},
           "targets": {"P4/ecp5": _report("ecp5", ecp5, 60), "P1/ecp5": _report("ecp5", ecp5, 61),
                       "P16/ecp5-85k": {**_report("ecp5", dict(ecp5, mult18=200, fmax_mhz=None), 62,
                                                  note="does not fit"), "measured_on": "ecp5"}},
           "throughput": {16: 1.0, 4: 0.251, 1: 0.063},
           "floor": {f"{n}/{fam}": [{"ratio": 1.0, "sat_any": 0.0}, {"ratio": 1.01, "sat_any": 0.0}]
                     for n in ("int16", "int8") for fam in ("bench", "heavy-tailed")}
           | {"int16-calibrated/heavy-tailed": [{"ratio": 1.0, "sat_any": 0.0}, {"ratio": 1.0, "sat_any": 2e-5}]}}
    rows = bs.target_rows(bs.target_figures(res))
    v = {r[0]: r[3] for r in rows}
    assert v["int16 P=16 xcup"] == "MISSED: 119 DSP48E2 > 112 (+6 %)"
    assert v["int16 P=16 generic-sram logic"] == "met"                       # 240,000 GE in 9 min
    assert v["int16 P=16 on LFE5UM-85F"] == "MISSED: 200 MULT18 > 128 (+56 %); 200 MULT18 (does not fit) > 156 (+28 %)"
    assert v["int16 P=4 on LFE5U-25F"] == "met" and v["throughput"] == "met"
    assert v["calibrated int16 formats, heavy-tailed inputs"] == "MISSED: 0.0020 % of beats saturated"
    from rich.console import Console
    console = Console(width=300, record=True)
    console.print(bs.target_table(rows))
    text = console.export_text()
    assert "configuration" in text and "met/MISSED" in text and "240,000 GE, 9.0 min of synthesis" in text
    assert "Fmax median [min..max] of 3 nextpnr seeds" in text and "130.0 MHz [128.0..131.0]" in text
