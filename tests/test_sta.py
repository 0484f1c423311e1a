"""Static timing estimate on the generic targets: the Liberty reader (tables, units, errors), the
STA on small hand-written netlists with delays worked out here from the library's formulas (every
table of tests/data/nldm_linear.lib is linear in slew and load, so interpolation is exact), unit
delays agreeing with yosys' ltp on a real engine, and the CLI (synth's estimate, gen's choice of
register points by measurement, refusals)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from nlihw.cli import main
from nlihw.errors import ParamsError
from nlihw.hdl.nli.generate import emit_verilog
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.luts.default_tables import shipped_dir, shipped_table
from nlihw.synth import driver, liberty

LIB = Path(__file__).parent / "data" / "nldm_linear.lib"
TABLE = str(shipped_dir() / "silu_M11_K32.json")

# the library's formulas (its header comment): (delay, slew) of one arc at input slew s, load c
CAP = {"INV": 0.002, "BUF": 0.002, "NAND2": 0.003, "NOR2": 0.003, "XOR2": 0.004, "DFF": 0.002}


def inv(s, c):
    return max(0.02 + 0.5 * s + 2 * c, 0.01 + 0.4 * s + 3 * c), max(0.01 + 0.2 * s + 4 * c, 0.02 + 0.1 * s + 3 * c)


def buf(s, c):
    return max(0.04 + 0.3 * s + 2 * c, 0.05 + 0.2 * s + 2 * c), max(0.02 + 0.1 * s + 3 * c, 0.02 + 0.1 * s + 2 * c)


def nand2(s, c):
    return max(0.03 + 0.5 * s + 3 * c, 0.02 + 0.6 * s + 2 * c), max(0.02 + 0.2 * s + 5 * c, 0.01 + 0.3 * s + 4 * c)


def clk_q(c):
    return max(0.10 + 1.0 * c, 0.12 + 0.5 * c), max(0.03 + 2 * c, 0.02 + 3 * c)


def setup(s):
    return max(0.05 + 0.2 * s, 0.04 + 0.3 * s)


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
        assert a.delay(s, c) == pytest.approx(inv(s, c)[0], abs=1e-12)
        assert a.slew(s, c) == pytest.approx(inv(s, c)[1], abs=1e-12)
        for arc in lib.cells["NAND2"].arcs:                       # load x slew template
            assert (arc.delay(s, c), arc.slew(s, c)) == pytest.approx(nand2(s, c), abs=1e-12)
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
    assert (q.delay(0.0, 0.02), q.slew(0.0, 0.02)) == pytest.approx(clk_q(0.02), abs=1e-12)
    for s in (0.0, 0.2, 0.4):
        assert su.constraint(s) == pytest.approx(setup(s), abs=1e-12)
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
    """(kind, name) -> (delay, start) per endpoint, worked out from the formulas. Registers are
    named by their output net: r1 and r2 drive ports y and z only (yosys purges the internal
    names q1, q2), so they take the port names."""
    out = {}
    # a -> u0 -> r0.D (input-to-register: ideal input, slew 0)
    d, s = inv(0.0, CAP["DFF"])
    out["register", "q0"] = (d + setup(s), "a")
    # r0.Q drives u1.A
    t_q0, s_q0 = clk_q(CAP["INV"])
    # n1: a fanout of 2 (u2.A, u4.A)
    d, s_n1 = inv(s_q0, CAP["INV"] + CAP["NAND2"])
    t_n1 = t_q0 + d
    d, s_n2 = inv(s_n1, CAP["INV"])
    t_n2 = t_n1 + d
    d, s_n3 = inv(s_n2, CAP["DFF"])
    out["register", "y"] = (t_n2 + d + setup(s_n3), "q0")        # the chain of three inverters
    # n4 = NAND2(n1, a): the later of its two arcs (from q0), the worse slew (that one's too)
    (da, sa), (db, sb) = nand2(s_n1, CAP["DFF"]), nand2(0.0, CAP["DFF"])
    assert t_n1 + da > db and sa > sb + 0.005
    out["register", "z"] = (max(t_n1 + da, db) + setup(max(sa, sb)), "q0")
    # a -> r3.D directly
    out["register", "q3"] = (setup(0.0), "a")
    # outputs: y, z unloaded register outputs
    out["output", "y"] = (clk_q(0.0)[0], "y")
    out["output", "z"] = (clk_q(0.0)[0], "z")
    # q3 drives 20 inverters: a buffer tree of ceil(20 / 8) = 3 BUFs; each drives a third of the load
    t, s = clk_q(3 * CAP["BUF"])
    d, s = buf(s, 20 * CAP["INV"] / 3)
    d2, _ = inv(s, 0.0)
    out["output", "w"] = (t + d + d2, "q3")
    return out


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
