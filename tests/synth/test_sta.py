"""Static timing estimate on the generic targets: the Liberty reader (tables, units, errors), the
STA on small hand-written netlists with delays worked out here from the library's formulas (every
table of tests/data/nldm_linear.lib and nldm_unate.lib is linear in slew and load, so
interpolation is exact), rising and falling edges followed through each arc by its unateness, the
high-fanout report, unit delays agreeing with yosys' ltp on a real engine, and the CLI (synth's
estimate, gen's choice of register points by measurement, refusals)."""
from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest

from nlihw.cli import main
from nlihw.errors import ParamsError
from nlihw.hdl.nli.generate import emit_verilog
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.luts.default_tables import shipped_dir, shipped_table
from nlihw.synth import driver, liberty, sta

LIB = Path(__file__).parents[1] / "data" / "nldm_linear.lib"
ULIB = Path(__file__).parents[1] / "data" / "nldm_unate.lib"
TABLE = str(shipped_dir() / "silu_M11_K32.json")

# the library's formulas (its header comment): per output edge, ((rise delay, rise slew),
# (fall delay, fall slew)) of one arc at input slew s, load c
CAP = {"INV": 0.002, "BUF": 0.002, "NAND2": 0.003, "NOR2": 0.003, "XOR2": 0.004, "DFF": 0.002}
R, F = 0, 1


def inv(s, c):
    return (0.02 + 0.5 * s + 2 * c, 0.01 + 0.2 * s + 4 * c), (0.01 + 0.4 * s + 3 * c, 0.02 + 0.1 * s + 3 * c)


def buf(s, c):
    return (0.04 + 0.3 * s + 2 * c, 0.02 + 0.1 * s + 3 * c), (0.05 + 0.2 * s + 2 * c, 0.02 + 0.1 * s + 2 * c)


def nand2(s, c):
    return (0.03 + 0.5 * s + 3 * c, 0.02 + 0.2 * s + 5 * c), (0.02 + 0.6 * s + 2 * c, 0.01 + 0.3 * s + 4 * c)


def clk_q(c):
    """The flip-flop's Q as an arrival: {edge: (time, slew)}."""
    return {R: (0.10 + 1.0 * c, 0.03 + 2 * c), F: (0.12 + 0.5 * c, 0.02 + 3 * c)}


def setup(s, edge):
    return 0.05 + 0.2 * s if edge == R else 0.04 + 0.3 * s


def worst(edges):
    """(delay, slew) as the old estimate took them: the worse of rise and fall of each."""
    (dr, sr), (df, sf) = edges
    return max(dr, df), max(sr, sf)


# arrivals {R: (time, slew), F: ...} through one arc of each unateness, and where paths meet
IDEAL = {R: (0.0, 0.0), F: (0.0, 0.0)}


def neg(arr, cell, c):
    return {o: (arr[1 - o][0] + cell(arr[1 - o][1], c)[o][0], cell(arr[1 - o][1], c)[o][1]) for o in (R, F)}


def pos(arr, cell, c):
    return {o: (arr[o][0] + cell(arr[o][1], c)[o][0], cell(arr[o][1], c)[o][1]) for o in (R, F)}


def non(arr, cell, c):
    return merge(pos(arr, cell, c), neg(arr, cell, c))


def merge(*arrs):
    """Where paths meet: the latest arrival and, independently, the worst slew of each edge."""
    return {o: (max(a[o][0] for a in arrs), max(a[o][1] for a in arrs)) for o in (R, F)}


def end(arr, setup_of=setup):
    return max(arr[o][0] + setup_of(arr[o][1], o) for o in (R, F))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("nlihw-cache") / "synth"


# ---------------------------------------------------------------------------------------------
# (a) the Liberty reader


def test_liberty_tables_units_and_pins():
    lib = liberty.load(LIB)
    assert lib.time_unit_ns == 1.0 and lib.capacitive_load_unit == (1.0, "pf") and lib.has_timing
    assert sorted(lib.cells) == ["BUF", "DFF", "INV", "NAND2", "NOR2", "XOR2"]
    for name, cap in CAP.items():
        c = lib.cells[name]
        assert all(c.pins[p].capacitance == cap for p in c.inputs() if not c.pins[p].clock), name
    # interpolation inside the index range and linear extrapolation beyond it, either index order
    for s, c in [(0.2, 0.03), (0.1, 0.01), (0.5, 0.08), (0.0, 0.002)]:
        a = lib.cells["INV"].arcs[0]
        assert (a.delay(s, c), a.slew(s, c)) == pytest.approx(worst(inv(s, c)), abs=1e-12)
        for o in (R, F):
            got = (a.edge("delay", o, s, c), a.edge("slew", o, s, c))
            assert got == pytest.approx(inv(s, c)[o], abs=1e-12)
        for arc in lib.cells["NAND2"].arcs:                       # load x slew template
            assert (arc.delay(s, c), arc.slew(s, c)) == pytest.approx(worst(nand2(s, c)), abs=1e-12)
            assert arc.edge("delay", F, s, c) == pytest.approx(nand2(s, c)[F][0], abs=1e-12)
    assert sorted((a.related, a.pin) for a in lib.cells["NAND2"].arcs) == [("A", "Y"), ("B", "Y")]
    # scalar tables; one timing group naming two related pins gives two arcs
    xor = lib.cells["XOR2"].arcs
    assert sorted(a.related for a in xor) == ["A", "B"]
    assert all(a.delay(0.3, 0.1) == 0.08 and a.slew(0.3, 0.1) == 0.05 for a in xor)
    # the flip-flop: clock pin, clock to Q (1-D in the load), setup (a continued line) on D
    dff = lib.cells["DFF"]
    assert dff.sequential and dff.clocks == ("CK",)
    (q,) = [a for a in dff.arcs if a.kind == "clock"]
    (su,) = [a for a in dff.arcs if a.kind == "setup"]
    assert (q.related, q.pin, su.related, su.pin) == ("CK", "Q", "CK", "D")
    assert (q.delay(0.0, 0.02), q.slew(0.0, 0.02)) == pytest.approx(worst(clk_q(0.02).values()), abs=1e-12)
    for s in (0.0, 0.2, 0.4):
        assert su.constraint(s) == pytest.approx(max(setup(s, R), setup(s, F)), abs=1e-12)
        assert su.edge("constraint", F, s) == pytest.approx(setup(s, F), abs=1e-12)
    # no timing_sense in this library: each arc's comes from its pin's function
    senses = {n: {a.sense for a in c.arcs if a.kind == "comb"} for n, c in lib.cells.items()}
    assert senses == {"INV": {"negative_unate"}, "BUF": {"positive_unate"}, "NAND2": {"negative_unate"},
                      "NOR2": {"negative_unate"}, "XOR2": {"non_unate"}, "DFF": set()}
    assert [c.name for c in lib.cells.values() if c.is_buffer] == ["BUF"]


LIB_PS = """library (ps) {
  time_unit : "1ps" ;
  capacitive_load_unit (1, ff) ;
  /* a comment */ // and another
  lu_table_template (t) { variable_1 : total_output_net_capacitance ;
                          variable_2 : input_net_transition ;
                          index_1 ("1, 3") ; index_2 ("10, 30") ; }
  cell (INV) { area : 1 ;
    pin (A) { direction : input ; capacitance : 1.5 ; }
    pin (Y) { direction : output ; function : "A'" ;
      timing () { related_pin : "A" ;
        cell_rise (t) { values ("100, 200", \\
                                "300, 400") ; } } } }
}
"""


def test_liberty_time_unit_and_swapped_indices():
    """1ps: table values become ns; index_1 is the load here (capacitance), index_2 the slew."""
    lib = liberty.parse(LIB_PS, "ps.lib")
    assert lib.time_unit_ns == 0.001 and lib.capacitive_load_unit == (1.0, "ff")
    a = lib.cells["INV"].arcs[0]
    # values: 100 at (c=1, s=10), 200 at (c=1, s=30), 300 at (c=3, s=10): 50 ps per ff, 5 per ps
    assert a.delay(20.0, 2.0) == pytest.approx((100 + 5 * 10 + 100 * 1) / 1000, abs=1e-12)
    assert a.slew(20.0, 2.0) is None and not lib.cells["INV"].sequential


@pytest.mark.parametrize("text, line, what", [
    ("library (x) {\n  cell (A) {\n    area : 1 ;\n  \n", 2, "not closed"),
    ("library (x) {\n  time_unit : \"1ns\" ;\n  cell (A) { area : 1 ; pin (Y) { direction ; } }\n}\n",
     3, "expected ':' or '('"),
    ("library (x) {\n  lu_table_template (t) { variable_1 : input_net_transition ; index_1 (\"1, 2\") ; }\n"
     "  cell (A) { pin (Y) { timing () { related_pin : \"A\" ;\n"
     "    cell_rise (t) { values (\"1, 2, 3\") ; } } } }\n}\n", 4, "values do not match"),
    ("library (x) {\n  time_unit : \"1 parsec\" ;\n}\n", 2, "time_unit"),
    ("library (x) {\n  cell (A) { area : 1 ; }\n  \"unterminated\n}\n", 3, "unterminated string"),
])
def test_corrupt_liberty_is_one_line_with_the_line_number(tmp_path, text, line, what):
    bad = tmp_path / "bad.lib"
    bad.write_text(text)
    with pytest.raises(ParamsError) as e:
        liberty.load(bad)
    msg = str(e.value)
    assert msg.startswith(f"{bad}:{line}: ") and what in msg and "\n" not in msg


def test_unreadable_liberty(tmp_path):
    with pytest.raises(ParamsError, match="cannot read the liberty file"):
        liberty.load(tmp_path / "missing.lib")


# ---------------------------------------------------------------------------------------------
# (b) the STA on hand-written netlists of the library's cells (yosys keeps them as they are)

TINY = """module tiny(input clk, input a, output y, output z, output [19:0] w);
  wire n0, q0, n1, n2, n3, n4, q1, q2, q3;
  INV u0 (.A(a), .Y(n0));
  DFF r0 (.CK(clk), .D(n0), .Q(q0));
  INV u1 (.A(q0), .Y(n1));
  INV u2 (.A(n1), .Y(n2));
  INV u3 (.A(n2), .Y(n3));
  DFF r1 (.CK(clk), .D(n3), .Q(q1));
  NAND2 u4 (.A(n1), .B(a), .Y(n4));
  DFF r2 (.CK(clk), .D(n4), .Q(q2));
  DFF r3 (.CK(clk), .D(a), .Q(q3));
  genvar k;
  for (k = 0; k < 20; k = k + 1) begin : fan
    INV f (.A(q3), .Y(w[k]));
  end
  assign y = q1;
  assign z = q2;
endmodule
"""


def expected_tiny() -> dict:
    """(kind, name) -> (delay, start) per endpoint, worked out from the formulas, rising and
    falling edges apart (INV and NAND2 are negative unate, BUF positive: nldm_linear.lib gives no
    timing_sense, their functions say so). Registers are named by their output net: r1 and r2
    drive ports y and z only (yosys purges the internal names q1, q2), so they take the port
    names."""
    out = {}
    a = IDEAL
    # a -> u0 -> r0.D (input-to-register: ideal input, slew 0)
    out["register", "q0"] = (end(neg(a, inv, CAP["DFF"])), "a")
    # r0.Q drives u1.A; n1 has a fanout of 2 (u2.A, u4.A)
    q0 = clk_q(CAP["INV"])
    n1 = neg(q0, inv, CAP["INV"] + CAP["NAND2"])
    n3 = neg(neg(n1, inv, CAP["INV"]), inv, CAP["DFF"])
    out["register", "y"] = (end(n3), "q0")                       # the chain of three inverters
    # n4 = NAND2(n1, a): the later arrival of each edge (from q0), the worse slew of each (that one's too)
    from_q0, from_a = neg(n1, nand2, CAP["DFF"]), neg(a, nand2, CAP["DFF"])
    assert all(from_q0[o][0] > from_a[o][0] and from_q0[o][1] > from_a[o][1] + 0.005 for o in (R, F))
    out["register", "z"] = (end(merge(from_q0, from_a)), "q0")
    # a -> r3.D directly
    out["register", "q3"] = (end(a), "a")
    # outputs: y, z unloaded register outputs (the later of a rising and a falling Q)
    out["output", "y"] = (max(t for t, _ in clk_q(0.0).values()), "y")
    out["output", "z"] = out["output", "y"][:1] + ("z",)
    # q3 drives 20 inverters: a buffer tree of ceil(20 / 8) = 3 BUFs; each drives a third of the load
    w = neg(pos(clk_q(3 * CAP["BUF"]), buf, 20 * CAP["INV"] / 3), inv, 0.0)
    out["output", "w"] = (max(w[R][0], w[F][0]), "q3")
    return out


def expected_tiny_worst_of_both() -> dict:
    """The old estimate's answer for y (the worse of rise and fall at every arc), which the unate
    one must differ from: the three-inverter chain pairs a rising input with a rising output."""
    def step(t_s, cell, c):
        d, sl = worst(cell(t_s[1], c))
        return t_s[0] + d, sl
    q0 = worst(clk_q(CAP["INV"]).values())
    n3 = step(step(step(q0, inv, CAP["INV"] + CAP["NAND2"]), inv, CAP["INV"]), inv, CAP["DFF"])
    return {("register", "y"): n3[0] + max(setup(n3[1], R), setup(n3[1], F))}


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory, cache_dir):
    d = tmp_path_factory.mktemp("tiny")
    (d / "tiny.v").write_text(TINY)
    return driver.run_synth(d / "tiny.v", "tiny", "generic", liberty=LIB, cache_dir=cache_dir)


def test_sta_by_hand(tiny_report):
    rep = tiny_report
    assert rep["cells"] == {"DFF": 4, "INV": 24, "NAND2": 1}        # yosys kept the netlist
    t = rep["figures"]["timing"]
    assert t["unit"] == "ns" and t["fanout_model"] == {"max_fanout": 8, "buffer": "BUF"}
    assert t["buffered_nets"] == 1
    want = expected_tiny()
    got = {(s["kind"], s["register"]): (s["delay"], s["from"]) for s in t["stages"]}
    assert sorted(got) == sorted(want)
    for key, (delay, start) in want.items():
        assert got[key][0] == pytest.approx(delay, abs=6e-5), key
        assert got[key][1] == start, key
    old = expected_tiny_worst_of_both()[("register", "y")]
    assert abs(old - want["register", "y"][0]) > 0.005          # the premise: the two answers differ
    worst = max(want.values())[0]
    assert t["critical"]["delay"] == pytest.approx(worst, abs=6e-5)
    assert t["clock_estimate_mhz"] == pytest.approx(1000 / worst, abs=0.06)
    delays = [s["delay"] for s in t["stages"]]
    assert delays == sorted(delays, reverse=True)


def test_critical_path_lists_the_cells(tiny_report):
    crit = tiny_report["figures"]["timing"]["critical"]
    want = expected_tiny()
    key = max(want, key=lambda k: want[k][0])
    assert (crit["kind"], crit["to"]) == key and crit["from"] == want[key][1]
    ats = [p["at"] for p in crit["path"]]
    assert ats == sorted(ats) and crit["path"][0]["cell"] is None
    assert crit["path"][-1]["at"] + crit["setup"] == pytest.approx(crit["delay"], abs=2e-4)


# ---------------------------------------------------------------------------------------------
# (b2) rising and falling edges by unateness, rise/fall pin capacitances, the high-fanout report:
# sta.analyse on hand-built yosys JSON netlists of tests/data/nldm_unate.lib


def invu(s, c):
    return (0.10 + 0.5 * s + 2 * c, 0.05 + 0.2 * s + 4 * c), (0.01 + 0.1 * s + 1 * c, 0.01 + 0.1 * s + 1 * c)


def and2u(s, c):
    return (0.06 + 0.3 * s + 2 * c, 0.04 + 0.2 * s + 3 * c), (0.03 + 0.2 * s + 1 * c, 0.02 + 0.1 * s + 2 * c)


def xor2u(s, c):
    return (0.07 + 0.2 * s + 2 * c, 0.03 + 0.1 * s + 2 * c), (0.05 + 0.4 * s + 1 * c, 0.06 + 0.3 * s + 2 * c)


def bufu(s, c):
    return buf(s, c)                     # the same formulas as nldm_linear's BUF


# pin capacitance per edge (INVU and DFFU.D differ between rise and fall)
UCAP = {"INVU": {R: 0.001, F: 0.004}, "AND2U": {R: 0.003, F: 0.003}, "XOR2U": {R: 0.002, F: 0.002},
        "BUFU": {R: 0.002, F: 0.002}, "DFFU.D": {R: 0.002, F: 0.003}}


def json_netlist(cells: dict, ports: dict, nets: dict) -> dict:
    """A yosys JSON module "t": cells {name: (type, {pin: bit})}, ports {name: (direction, bit)},
    nets {name: bit}."""
    return {"modules": {"t": {
        "ports": {n: {"direction": d, "bits": [b]} for n, (d, b) in ports.items()},
        "cells": {n: {"type": t, "connections": {p: [b] for p, b in c.items()}}
                  for n, (t, c) in cells.items()},
        "netnames": {n: {"hide_name": 0, "bits": [b]} for n, b in nets.items()}}}}


# r0 -> q0 -> INVU u1 -> n1 -> INVU u2 -> n2 -> AND2U u3 (B from q0) -> n3 -> XOR2U u4 (B from n1) -> n4 -> r1
UNATE = json_netlist(
    {"r0": ("DFFU", {"CK": 2, "D": 3, "Q": 4}), "u1": ("INVU", {"A": 4, "Y": 5}),
     "u2": ("INVU", {"A": 5, "Y": 6}), "u3": ("AND2U", {"A": 6, "B": 4, "Y": 7}),
     "u4": ("XOR2U", {"A": 7, "B": 5, "Y": 8}), "r1": ("DFFU", {"CK": 2, "D": 8, "Q": 9})},
    {"clk": ("input", 2), "a": ("input", 3), "y": ("output", 9)},
    {"q0": 4, "n1": 5, "n2": 6, "n3": 7, "n4": 8, "q1": 9})


def load(*pins):
    return {o: sum(UCAP[p][o] for p in pins) for o in (R, F)}


def neg_rf(arr, cell, c):
    """neg() with a load per edge."""
    return {o: (arr[1 - o][0] + cell(arr[1 - o][1], c[o])[o][0], cell(arr[1 - o][1], c[o])[o][1])
            for o in (R, F)}


def pos_rf(arr, cell, c):
    return {o: (arr[o][0] + cell(arr[o][1], c[o])[o][0], cell(arr[o][1], c[o])[o][1]) for o in (R, F)}


def clk_q_rf(c):
    q = {R: clk_q(c[R])[R], F: clk_q(c[F])[F]}
    return q


def expected_unate() -> float:
    """The worst path into r1 (q1), rising and falling edges apart, by hand."""
    q0 = clk_q_rf(load("INVU", "AND2U"))
    n1 = neg_rf(q0, invu, load("INVU", "XOR2U"))
    n2 = neg_rf(n1, invu, load("AND2U"))
    n3 = merge(pos_rf(n2, and2u, load("XOR2U")), pos_rf(q0, and2u, load("XOR2U")))
    c4 = load("DFFU.D")
    n4 = merge(pos_rf(n3, xor2u, c4), neg_rf(n3, xor2u, c4), pos_rf(n1, xor2u, c4), neg_rf(n1, xor2u, c4))
    return end(n4)


def expected_worst_of_both() -> float:
    """What the old estimate said: the worse of rise and fall at every arc, pin ``capacitance``."""
    def step(t_s, cell, c):
        d, sl = worst(cell(t_s[1], c))
        return t_s[0] + d, sl
    q0 = worst(clk_q(0.002 + 0.003).values())
    n1 = step(q0, invu, 0.002 + 0.002)
    n2 = step(n1, invu, 0.003)
    n3a, n3b = step(n2, and2u, 0.002), step(q0, and2u, 0.002)
    n3 = (max(n3a[0], n3b[0]), max(n3a[1], n3b[1]))
    n4a, n4b = step(n3, xor2u, 0.002), step(n1, xor2u, 0.002)
    n4 = (max(n4a[0], n4b[0]), max(n4a[1], n4b[1]))
    return n4[0] + max(setup(n4[1], R), setup(n4[1], F))


def test_unate_timing_by_hand():
    """Each arc's timing_sense (given for INVU, from the function for AND2U, XOR2U) picks the
    input edge of each output edge; the loads are the rise or fall pin capacitances. The old
    worst-of-both answer is far off (the premise that makes this test able to fail)."""
    lib = liberty.load(ULIB)
    assert {n: sorted({a.sense for a in c.arcs if a.kind == "comb"}) for n, c in lib.cells.items()} == {
        "INVU": ["negative_unate"], "AND2U": ["positive_unate"], "XOR2U": ["non_unate"],
        "BUFU": ["positive_unate"], "DFFU": []}
    assert (lib.cells["INVU"].pins["A"].cap(R), lib.cells["INVU"].pins["A"].cap(F)) == (0.001, 0.004)
    t = sta.analyse(UNATE, "t", lib)
    want, old = expected_unate(), expected_worst_of_both()
    assert abs(old - want) / want > 0.10
    st = {(s["kind"], s["register"]): (s["delay"], s["from"]) for s in t["stages"]}
    assert st["register", "q1"][0] == pytest.approx(want, abs=6e-5) and st["register", "q1"][1] == "q0"
    assert st["register", "q0"] == (pytest.approx(0.05, abs=1e-9), "a")          # setup of a rising a
    assert st["output", "y"][0] == pytest.approx(0.12, abs=1e-9)                 # falling Q, no load
    crit = t["critical"]
    assert (crit["from"], crit["to"], crit["delay"]) == ("q0", "q1", pytest.approx(want, abs=6e-5))
    assert t["clock_estimate_mhz"] == pytest.approx(1000 / want, abs=0.06)
    # the path alternates edges through the inverters and keeps them through AND2U
    edges = [(p["net"], p["edge"]) for p in crit["path"]]
    for (n0, e0), (n1, e1) in zip(edges, edges[1:]):
        if n1 in ("n1", "n2"):
            assert e0 != e1, edges
        if n1 == "n3":
            assert e0 == e1, edges
    assert t["high_fanout"] == [] and t["critical_as_written"]["delay"] == crit["delay"]


# r0 -> q0 -> INVU u5 -> en, which drives the D pins of 40 flip-flops (a stall enable)
FANOUT = json_netlist(
    {"r0": ("DFFU", {"CK": 2, "D": 3, "Q": 4}), "u5": ("INVU", {"A": 4, "Y": 5}),
     **{f"r{k}": ("DFFU", {"CK": 2, "D": 5, "Q": 10 + k}) for k in range(1, 41)}},
    {"clk": ("input", 2), "a": ("input", 3)},
    {"q0": 4, "en": 5, **{f"q{k}": 10 + k for k in range(1, 41)}})


def test_high_fanout_net_is_reported_as_written():
    """The estimate times en through an ideal tree of 5 BUFUs (ceil(40 / 8)); the report also
    gives the path as written, the inverter driving all 40 D pins itself."""
    lib = liberty.load(ULIB)
    t = sta.analyse(FANOUT, "t", lib)
    q0 = clk_q_rf(load("INVU"))
    sinks = {o: 40 * UCAP["DFFU.D"][o] for o in (R, F)}
    as_written = end(neg_rf(q0, invu, sinks))
    tree = neg_rf(q0, invu, {o: 5 * UCAP["BUFU"][o] for o in (R, F)})
    estimate = end(pos_rf(tree, bufu, {o: sinks[o] / 5 for o in (R, F)}))
    assert as_written > estimate + 0.02                     # the premise: unbuffered is slower
    assert t["buffered_nets"] == 1 and t["fanout_model"] == {"max_fanout": 8, "buffer": "BUFU"}
    (h,) = t["high_fanout"]
    assert (h["net"], h["driver"], h["cell"], h["fanout"], h["from"]) == ("en", "u5", "INVU", 40, "q0")
    assert h["to"] in {f"q{k}" for k in range(1, 41)}
    assert h["as_written"] == pytest.approx(as_written, abs=6e-5)
    assert h["estimate"] == pytest.approx(estimate, abs=6e-5)
    assert t["critical"]["delay"] == pytest.approx(estimate, abs=6e-5)
    assert t["critical_as_written"]["delay"] == pytest.approx(as_written, abs=6e-5)
    assert t["critical_as_written"]["from"] == "q0"


def slew_cell(name: str, delay: tuple, slew: tuple) -> str:
    """A buffer-like cell whose tables are 1-D in the input slew: values at slew 0 and 1 ns."""
    tables = "".join(f"        {t} (by_slew) {{ values (\"{v[0]}, {v[1]}\"); }}\n"
                     for t, v in (("cell_rise", delay), ("cell_fall", delay),
                                  ("rise_transition", slew), ("fall_transition", slew)))
    return (f"  cell ({name}) {{ pin (A) {{ direction : input; capacitance : 0.001; }}\n"
            f"    pin (Y) {{ direction : output; function : \"A\";\n"
            f"      timing () {{ related_pin : \"A\";\n{tables}      }} }} }}\n")


CLIP_LIB = ("library (clip) {\n  lu_table_template (by_slew) { variable_1 : input_net_transition; "
            "index_1 (\"0, 1\"); }\n"
            + slew_cell("SLOW", (0.1, 0.1), (0.5, 0.5))          # slew 0.5 whatever comes in
            + slew_cell("SHARP", (0.1, 0.1), (0.1, -0.9))        # slew 0.1 - s: -0.4 after SLOW
            + slew_cell("LATE", (0.1, 1.1), (0.1, 0.1))          # delay 0.1 + s
            + "}\n")


def test_negative_slew_is_taken_as_zero():
    """A transition table extrapolated below 0 (far beyond its range, as with a weak cell driving
    hundreds of pins) gives slew 0, as OpenSTA takes it: LATE then costs 0.1 + 0, not 0.1 - 0.4."""
    lib = liberty.parse(CLIP_LIB, "clip.lib")
    chain = json_netlist({"u0": ("SLOW", {"A": 2, "Y": 3}), "u1": ("SHARP", {"A": 3, "Y": 4}),
                          "u2": ("LATE", {"A": 4, "Y": 5})},
                         {"a": ("input", 2), "y": ("output", 5)}, {"n0": 3, "n1": 4})
    t = sta.analyse(chain, "t", lib)
    assert t["critical"]["delay"] == pytest.approx(0.1 + 0.1 + 0.1, abs=1e-9)


MAC = """module mac(input clk, input en, input [7:0] a, b, output reg [15:0] acc);
  reg en_r;
  reg [7:0] ra, rb;
  reg [15:0] p;
  always @(posedge clk) begin
    en_r <= en;
    if (en_r) begin ra <= a; rb <= b; p <= ra * rb; acc <= acc + p; end
  end
endmodule
"""

MAC_YS = """read_verilog mac.v
read_liberty -lib cells.lib
synth -flatten -top mac
dfflibmap -prepare -liberty cells.lib
abc -liberty cells.lib
dfflibmap -liberty cells.lib
opt_clean -purge
rename -enumerate
write_json mapped.json
rename -hide w:* x:* %d
splitnets
opt_clean -purge
write_verilog -noattr -noexpr -nohex -nodec mapped.v
"""

OPENSTA_TCL = """read_liberty cells.lib
read_verilog mapped.v
link_design mac
create_clock -name clk -period 100 [get_ports clk]
set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports clk]]
set_output_delay 0 -clock clk [all_outputs]
report_checks -path_delay max -digits 6
exit
"""


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.skipif(shutil.which("sta") is None, reason="OpenSTA (Debian package opensta) is not installed")
def test_agrees_with_opensta_as_written(tmp_path):
    """Sign-off cross-check: yosys maps a small multiply-accumulate (its registered enable drives
    every data register: a high-fanout net) to nldm_unate.lib; OpenSTA (no wires, ideal clock,
    inputs and outputs at 0) times the netlist as written, which is the estimate's
    critical_as_written: the same delay and the same start and end flip-flops."""
    from nlihw.synth import tools
    (tmp_path / "mac.v").write_text(MAC)
    (tmp_path / "run.ys").write_text(MAC_YS)
    # ABC maps only to cells with a function: give INVU the one its timing_sense stands for
    inv_pin = "pin (Y) {\n      direction : output;\n"
    text = ULIB.read_text()
    assert text.index("cell (INVU)") < text.index(inv_pin) < text.index("cell (AND2U)")
    (tmp_path / "cells.lib").write_text(text.replace(inv_pin, inv_pin + '      function : "A\'";\n', 1))
    assert tools.run("yosys", ["-q", "-s", "run.ys"], tmp_path, tmp_path / "yosys.log") is None
    netlist = json.loads((tmp_path / "mapped.json").read_text())
    t = sta.analyse(netlist, "mac", liberty.load(ULIB))
    (tmp_path / "sta.tcl").write_text(OPENSTA_TCL)
    out = subprocess.run(["sta", "-no_splash", "-exit", "sta.tcl"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300).stdout
    import re
    slack = float(re.findall(r"(-?[\d.]+)\s+slack \(", out)[-1])
    start, end_ = re.search(r"Startpoint: (\S+)", out).group(1), re.search(r"Endpoint: (\S+)", out).group(1)
    aw = t["critical_as_written"]
    assert aw["delay"] == pytest.approx(100 - slack, rel=1e-3), out
    # the registered enable's net (and its inverted copy) drives every data register's mux
    en = [h for h in t["high_fanout"] if h["from"] == "en_r" and h["fanout"] > 40]
    assert en and all(h["as_written"] > h["estimate"] for h in en)
    assert len({h["net"] for h in t["high_fanout"]}) == len(t["high_fanout"])   # bit indices kept
    mod = netlist["modules"]["mac"]
    names = sta._bit_names(mod)

    def flops(reg):                                 # the flip-flop instances of a register name
        return {c for c, cell in mod["cells"].items() if "Q" in cell["connections"]
                and names.get(cell["connections"]["Q"][0]) == reg}
    assert start in flops(aw["from"]) and end_ in flops(aw["to"]), (start, end_, aw)


RF = """module rf(input clk, input we, input [4:0] wa, ra, input [7:0] wd, output reg [7:0] rd,
          output reg [7:0] s);
  reg [7:0] mem [0:31];
  always @(posedge clk) begin
    if (we) mem[wa] <= wd;
    rd <= mem[ra];
    s <= rd + wd;
  end
endmodule
"""


def test_sram_macro_is_a_path_boundary(tmp_path, cache_dir):
    """generic-sram keeps the memory (with its read register) as a macro the library does not
    describe: its inputs end paths, its outputs start them at 0 (its access time is not known)."""
    (tmp_path / "rf.v").write_text(RF)
    rep = driver.run_synth(tmp_path / "rf.v", "rf", "generic-sram", liberty=LIB, cache_dir=cache_dir)
    assert rep["cells"]["$mem_v2"] == 1
    st = {(s["kind"], s["register"]): s for s in rep["figures"]["timing"]["stages"]}
    assert st["macro", "mem"]["delay"] == 0.0                  # address and data straight from ports
    assert st["output", "rd"]["from"] == "mem" and st["output", "rd"]["delay"] == 0.0
    assert st["register", "s"]["delay"] > 0.3                  # an 8-bit adder after the macro


# ---------------------------------------------------------------------------------------------
# (c) unit delays on the shipped nand2_ge.lib agree with yosys' ltp


def test_unit_delay_depth_is_ltp_on_an_engine(tmp_path, cache_dir):
    """Without timing data every cell counts 1 and flip-flops 0. ltp -noff (run on the same
    mapped logic, flip-flops still internal cells) counts the cells of the longest path between
    inputs/flip-flop outputs and flip-flop inputs/outputs: the same number, no offset."""
    p = NLIEngineParams((shipped_table("silu_M11_K32"),))
    v = tmp_path / f"{p.top_name}.v"
    v.write_text(emit_verilog(p))
    f = driver.run_synth(v, p.top_name, "generic", cache_dir=cache_dir)["figures"]
    t = f["timing"]
    assert t["unit"] == "cells" and t["clock_estimate_mhz"] is None and t["fanout_model"] is None
    assert f["logic_depth"] > 20
    assert t["critical"]["delay"] == f["logic_depth"]
    assert len(t["critical"]["path"]) == f["logic_depth"] + 1             # nets: start + one per cell
    regs = [s for s in t["stages"] if s["kind"] == "register"]
    assert len(regs) > 10 and all(isinstance(s["delay"], int) for s in regs)


# ---------------------------------------------------------------------------------------------
# (d) the command line


def test_synth_prints_the_clock_estimate(tmp_path, capsys, monkeypatch, cache_dir):
    monkeypatch.setenv("NLIHW_CACHE", str(cache_dir.parent))
    (tmp_path / "tiny.v").write_text(TINY)
    assert main(["synth", str(tmp_path), "-t", "generic", "--liberty", str(LIB)]) == 0
    out = capsys.readouterr().out
    want = expected_tiny()
    worst = max(v[0] for v in want.values())
    assert f"generic: clock estimate {round(1000 / worst, 1):g} MHz" in out
    lines = out[out.index("generic: clock estimate"):].splitlines()[1:]
    # the register endpoints, slowest first, at most 5
    regs = sorted((k for k in want if k[0] == "register"), key=lambda k: -want[k][0])
    assert [line.split()[0] for line in lines[:len(regs)]] == [name for _, name in regs]
    assert lines[0].endswith(f"from {want[regs[0]][1]}")
    assert float(lines[0].split()[1]) == pytest.approx(want[regs[0]][0], abs=6e-4)


def test_synth_without_timing_reports_cells(tmp_path, capsys, monkeypatch, cache_dir):
    """The shipped library has no timing: the stages are listed in cells, no MHz."""
    monkeypatch.setenv("NLIHW_CACHE", str(cache_dir.parent))
    (tmp_path / "acc.v").write_text(
        "module acc(input clk, input [7:0] a, b, output reg [7:0] q);\n"
        "  reg [7:0] r;\n  always @(posedge clk) begin r <= a & b; q <= q + r; end\nendmodule\n")
    assert main(["synth", str(tmp_path), "-t", "generic"]) == 0
    out = capsys.readouterr().out
    assert "generic: logic depth per stage in cells (nand2_ge.lib has no timing data" in out
    assert "MHz" not in out
    rows = out[out.index("logic depth per stage"):].splitlines()[1:]
    assert [r.split()[0] for r in rows] == ["q", "r"] and rows[1].split()[1:3] == ["1", "cells"]


@pytest.mark.parametrize("extra, msg", [
    (["--target-mhz", "100", "--target", "generic"], "the generic target needs --liberty with timing data"),
    (["--target-mhz", "100", "--target", "generic", "--liberty", str(driver.SHIPPED_LIBERTY)],
     "no timing data"),
    (["--latency", "9", "--target", "generic", "--liberty", str(driver.SHIPPED_LIBERTY)], "no timing data"),
    (["--target-mhz", "100", "--liberty", str(LIB)], "--liberty applies to --target generic"),
    (["--liberty", str(LIB)], "--liberty is the library of --target generic"),
    (["--target-mhz", "100", "--target", "generic", "--liberty", str(LIB), "--speed", "8"],
     "--speed applies to the ecp5 delay model"),
])
def test_generic_goal_refusals(tmp_path, capsys, extra, msg):
    assert main(["gen", "--table", TABLE, *extra, "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and msg in err and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_corrupt_liberty_on_the_command_line(tmp_path, capsys):
    bad = tmp_path / "bad.lib"
    bad.write_text("library (x) {\n  cell (A) {\n")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "tiny.v").write_text(TINY)
    for args in (["synth", str(tmp_path / "d"), "-t", "generic", "--liberty", str(bad)],
                 ["gen", "--table", TABLE, "--target-mhz", "100", "--target", "generic",
                  "--liberty", str(bad), "-o", str(tmp_path / "o")]):
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: {bad}:2: group cell (A) is not closed") and "\n" not in err


@pytest.mark.slow
def test_gen_measures_the_register_points(tmp_path, capsys, monkeypatch, cache_dir):
    """A higher goal needs a deeper pipeline; each choice is the first depth (prefer order) whose
    estimate reaches the goal, measured again here with run_synth; the goal is in the manifest."""
    monkeypatch.setenv("NLIHW_CACHE", str(cache_dir.parent))
    from nlihw.hdl.nli.params import ENGINE_PIPELINE

    def estimate(depth):
        p = NLIEngineParams((shipped_table("silu_M11_K32"),), pipeline=list(ENGINE_PIPELINE.prefer[:depth]))
        v = tmp_path / f"m{depth}" / f"{p.top_name}.v"
        v.parent.mkdir()
        v.write_text(emit_verilog(p))
        return driver.run_synth(v, p.top_name, "generic", liberty=LIB, cache_dir=cache_dir)[
            "figures"]["timing"]["clock_estimate_mhz"]

    e0, e1, e2 = estimate(0), estimate(1), estimate(2)
    assert max(e0, e1) < e2                   # the test's premise: depth 2 is faster than 0 and 1
    chosen = {}
    for goal in (math.floor(e0) - 1, math.floor(e2 * 10) / 10):
        out = tmp_path / f"g{goal}"
        assert main(["gen", "--table", TABLE, "--target-mhz", str(goal), "--target", "generic",
                     "--liberty", str(LIB), "-o", str(out)]) == 0
        err = capsys.readouterr().err
        man = json.loads((out / "nli_engine.manifest.json").read_text())
        q = NLIEngineParams.from_dict(man["params"])
        depth = q.pipeline.depth
        assert q.pipeline == NLIEngineParams(q.tables, pipeline=list(ENGINE_PIPELINE.prefer[:depth])).pipeline
        chosen[goal] = depth
        assert err.count(f"generic ({LIB.name}): pipeline") == depth + 1   # one line per depth tried
        g = man["timing_goal"]
        assert g["target"] == "generic" and g["speed"] is None and g["goal_mhz"] == goal
        assert g["predicted_mhz"] == pytest.approx([e0, e1, e2][depth], abs=0.051)
        assert g["predicted_mhz"] >= goal and g["latency"] == man["latency"]
        assert g["liberty"]["file"] == LIB.name
    assert list(chosen.values()) == [0, 2]
    # a fixed latency: the first latency - base points of the prefer order, measured once
    base = NLIEngineParams((shipped_table("silu_M11_K32"),)).latency
    assert main(["gen", "--table", TABLE, "--latency", str(base + 2), "--target", "generic",
                 "--liberty", str(LIB), "-o", str(tmp_path / "lat")]) == 0
    assert capsys.readouterr().err.count("pipeline") == 1
    man = json.loads((tmp_path / "lat" / "nli_engine.manifest.json").read_text())
    q = NLIEngineParams.from_dict(man["params"])
    assert q.pipeline == NLIEngineParams(q.tables, pipeline=list(ENGINE_PIPELINE.prefer[:2])).pipeline
    assert man["timing_goal"]["goal_mhz"] is None and man["timing_goal"]["predicted_mhz"] == pytest.approx(e2, abs=0.051)
    # nlihw synth on the result reports the goal met, against the same estimate
    capsys.readouterr()
    goal = max(chosen)
    assert main(["synth", str(tmp_path / f"g{goal}"), "-t", "generic", "--liberty", str(LIB)]) == 0
    out = capsys.readouterr().out
    assert f"; goal {goal:g} MHz (estimate at gen " in out and out.rstrip().endswith(": met")


def test_synth_reports_a_generic_goal(tmp_path):
    """nlihw synth compares a generic goal with the report's estimate, on the same liberty only."""
    from nlihw.commands.synth import timing_lines
    goal = {"goal_mhz": 140, "target": "generic", "speed": None, "predicted_mhz": 150.2,
            "latency": 9, "liberty": {"file": "cells.lib", "sha256": "ab"}}
    (tmp_path / "e.manifest.json").write_text(json.dumps({"latency": 9, "timing_goal": goal}))
    rep = {"target": "generic", "speed_grade": None, "liberty": {"file": "cells.lib", "sha256": "ab"},
           "figures": {"timing": {"clock_estimate_mhz": 150.2}}}
    assert timing_lines(tmp_path, "e", [rep]) == [
        "generic: 150.2 MHz (static estimate) at latency 9 cycles; goal 140 MHz (estimate at gen "
        "150.2): met"]
    rep["figures"]["timing"]["clock_estimate_mhz"] = 133.0
    assert timing_lines(tmp_path, "e", [rep])[0].endswith("missed by 5.0%")
    rep["liberty"]["sha256"] = "cd"
    assert timing_lines(tmp_path, "e", [rep])[0].endswith(
        "not comparable (the goal was set with liberty cells.lib)")
    # no generic goal: the estimate is not repeated (sta_lines prints it)
    goal["target"] = "ecp5"
    (tmp_path / "e.manifest.json").write_text(json.dumps({"latency": 9, "timing_goal": goal}))
    assert timing_lines(tmp_path, "e", [rep]) == []
