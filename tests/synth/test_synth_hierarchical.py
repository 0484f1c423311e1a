"""Hierarchical gate-level synthesis (generic targets): identical modules merged exactly, each unique
module mapped once, the area summed over instances; flat and hierarchical figures agree.

The expected figures come from yosys runs written here (one module at a time, the liberty areas
read with a regular expression), not from the driver. The scan-unit cross-check is marked slow.
"""
import json
import re

import pytest

from nlihw.errors import ParamsError
from nlihw.synth import driver, tools
from nlihw.synth.module_dedupe import children_of, dedupe, instance_counts

# ---------------------------------------------------------------- merging identical modules ----

_ADD = """  cell {typ} {cell}
    parameter \\A_SIGNED 0
    parameter \\A_WIDTH 8
    parameter \\B_SIGNED 0
    parameter \\B_WIDTH 8
    parameter \\Y_WIDTH 8
    connect \\A \\{port}
    connect \\B 8'{const}
    connect \\Y {tmp}
  end
"""


def _leaf(name, *, tmp="$t$5", cell="$add$x.v:3$5", typ="$add", const="00000001", port="i",
          src="x.v:1", head=""):
    return (f"{head}attribute \\src \"{src}\"\nmodule \\{name}\n  attribute \\src \"{src}\"\n"
            f"  wire width 8 input 1 \\{port}\n  wire width 8 output 2 \\o\n  wire width 8 {tmp}\n"
            + _ADD.format(typ=typ, cell=cell, port=port, const=const, tmp=tmp)
            + f"  connect \\o {tmp}\nend\n")


def _mem(name, prio, data):
    """A 2-word memory initialised twice at address 0: the higher PRIORITY init wins."""
    inits = "".join(f"""  cell $meminit_v2 $meminit$x${name}{p}
    parameter \\MEMID "$mem$7"
    parameter \\ABITS 32
    parameter \\WIDTH 8
    parameter \\WORDS 1
    parameter \\PRIORITY {p}
    connect \\ADDR 0
    connect \\DATA 8'{d}
    connect \\EN 8'11111111
  end
""" for p, d in zip(prio, data))
    return (f"module \\{name}\n  wire width 8 output 1 \\o\n  memory width 8 size 2 $mem$7\n" + inits
            + f"""  cell $memrd $memrd$x${name}
    parameter \\MEMID "$mem$7"
    parameter \\ABITS 1
    parameter \\WIDTH 8
    parameter \\CLK_ENABLE 0
    parameter \\CLK_POLARITY 0
    parameter \\TRANSPARENT 0
    connect \\ADDR 1'0
    connect \\CLK 1'x
    connect \\EN 1'1
    connect \\DATA \\o
  end
end
""")


def _top(types):
    cells = "".join(f"  cell \\{t} \\u{i}\n    connect \\i \\i\n  end\n" for i, t in enumerate(types))
    return f"attribute \\top 1\nmodule \\top\n  wire width 8 input 1 \\i\n{cells}end\n"


def test_dedupe_merges_renamed_copies_only():
    bb = "attribute \\blackbox 1\n"
    text = "autoidx 99\n" + "".join([
        _leaf("a0"),
        _leaf("a1", tmp="$t$9", cell="$add$x.v:7$9", src="x.v:40"),      # renamed copy: merged
        _leaf("a2", typ="$sub"),                                        # another operation
        _leaf("a3", const="00000010"),                                  # another constant
        _leaf("a4", port="j"),                                          # another port name
        _leaf("b0", head=bb), _leaf("b1", head=bb),                     # black boxes: never merged
        _mem("m0", (3, 4), ("00000001", "00000010")),
        _mem("m1", (17, 30), ("00000001", "00000010")),                 # same order: merged
        _mem("m2", (30, 17), ("00000001", "00000010")),                 # other init wins
        _top(["a0", "a1", "a2", "a3", "a4", "b0", "b1", "m0", "m1", "m2"]),
    ])
    out, merged = dedupe(text)
    assert merged == {"\\a0": ["\\a1"], "\\m0": ["\\m1"]}
    mods = re.findall(r"^module (\S+)$", out, re.M)
    assert sorted(mods) == sorted(["\\a0", "\\a2", "\\a3", "\\a4", "\\b0", "\\b1", "\\m0", "\\m2", "\\top"])
    assert re.findall(r"cell \\(\w+) \\u1$", out, re.M) == ["a0"]          # the copy's instance
    assert re.findall(r"cell \\(\w+) \\u8$", out, re.M) == ["m0"]
    assert out.startswith("autoidx 99\n") and "attribute \\top 1\nmodule \\top" in out
    assert children_of(out)["\\top"] == {"\\a0": 2, "\\a2": 1, "\\a3": 1, "\\a4": 1, "\\b0": 1,
                                         "\\b1": 1, "\\m0": 2, "\\m2": 1}


def test_dedupe_merges_parents_of_merged_copies():
    """Lanes of lanes: once the leaves are one module, their two parents become equal too."""
    def mid(n, leaf):
        return f"module \\{n}\n  wire width 8 input 1 \\i\n  cell \\{leaf} \\x\n    connect \\i \\i\n  end\nend\n"
    text = _leaf("a0") + _leaf("a1", tmp="$t$2") + mid("p0", "a0") + mid("p1", "a1") + _top(["p0", "p1"])
    out, merged = dedupe(text)
    assert merged == {"\\a0": ["\\a1"], "\\p0": ["\\p1"]}
    assert instance_counts(children_of(out), "\\top") == {"\\top": 1, "\\p0": 2, "\\a0": 2}


def test_instance_counts_multiply_along_paths():
    children = {"top": {"mid": 2, "leaf": 1, "AND2": 5}, "mid": {"leaf": 3}, "leaf": {"$add": 1},
                "unused": {"leaf": 4}}
    assert instance_counts(children, "top") == {"top": 1, "mid": 2, "leaf": 7}


# ------------------------------------------------------------------------ mapped to gates ----

LANE = """module {name}(input clk, input [7:0] a, input [7:0] b, output reg [15:0] y);
  reg [7:0] ra, rb;
  reg [7:0] mem [0:7];
  always @(posedge clk) begin
    ra <= a; rb <= b;
    if (a[7]) mem[a[2:0]] <= b;
    y <= ra * rb + (y >> 3) + mem[rb[2:0]];
  end
endmodule
"""
TOP = """module quad(input clk, input [31:0] a, input [31:0] b, output reg [15:0] y);
  wire [15:0] y0, y1, y2, y3;
{insts}
  always @(posedge clk) y <= (y0 ^ y1) + (y2 ^ y3);
endmodule
"""
PORTS = "(input clk, input [7:0] a, input [7:0] b, output [15:0] y);"


def quad_verilog(lanes):
    """Four lanes (``lanes``: their module names, as Amaranth names copies) under a small top."""
    insts = "\n".join(f"  {m} l{i}(clk, a[{8 * i + 7}:{8 * i}], b[{8 * i + 7}:{8 * i}], y{i});"
                      for i, m in enumerate(lanes))
    return TOP.format(insts=insts) + "".join(LANE.format(name=m) for m in sorted(set(lanes)))


def liberty_areas():
    text = driver.SHIPPED_LIBERTY.read_text()
    return {c: float(a) for c, a in re.findall(r"cell\((\w+)\)\s*\{\s*area:\s*([\d.]+)", text)}


MAP = {"generic": "synth -booth -top {top}\n",
       "generic-sram": "synth -booth -top {top} -run begin:fine\n"
                       "opt -fast -full\ntechmap\nopt -fast\nabc\nopt -fast\n"}


def mapped_area(tmp_path, name, verilog, top, target):
    """Area of ``top`` alone (its submodules black boxes) mapped with a plain yosys script."""
    work = tmp_path / name
    work.mkdir()
    (work / "d.v").write_text(verilog)
    (work / "cells.lib").write_bytes(driver.SHIPPED_LIBERTY.read_bytes())
    (work / "s.ys").write_text(
        "read_verilog -sv d.v\nread_liberty -lib cells.lib\n" + MAP[target].format(top=top)
        + "dfflibmap -prepare -liberty cells.lib\nabc -liberty cells.lib\nopt_clean\n"
          "dfflibmap -liberty cells.lib\nopt_clean -purge\ntee -q -o stat.json stat -json\n")
    assert tools.run("yosys", ["-q", "-s", "s.ys"], work, work / "console.log") is None
    cells = json.loads((work / "stat.json").read_text())["modules"]["\\" + top]["num_cells_by_type"]
    areas = liberty_areas()
    return sum(n * areas[c] for c, n in cells.items() if c in areas), cells


@pytest.fixture(scope="module")
def quad(tmp_path_factory):
    """Reports of the four-lane design: {(target, hierarchy): report}, Amaranth-style copies."""
    root = tmp_path_factory.mktemp("quad")
    (root / "quad.v").write_text(quad_verilog([f"lane{i}" for i in range(4)]))
    cache = root / "cache"
    return {(t, h): driver.run_synth(root / "quad.v", "quad", t, cache_dir=cache, hierarchy=h,
                                     report_dir=root / f"{t}-{h}")
            for t in ("generic", "generic-sram") for h in ("keep", "flat", "auto")}


@pytest.mark.parametrize("target", ["generic", "generic-sram"])
def test_area_is_the_sum_over_instances(quad, tmp_path, target):
    """4 x the lane's mapped area + the top's own, each mapped alone, is the hierarchical area;
    the lane copies are one module with 4 instances, and the flat area is within 5 %."""
    hier, flat = quad[target, "keep"], quad[target, "flat"]
    lane, _ = mapped_area(tmp_path, "lane", LANE.format(name="lane0"), "lane0", target)
    stubs = "".join(f"(* blackbox *) module lane{i}{PORTS} endmodule\n" for i in range(4))
    top, top_cells = mapped_area(tmp_path, "top", quad_verilog([f"lane{i}" for i in range(4)]).split(
        "module lane0")[0] + stubs, "quad", target)
    assert top_cells.get("lane0") == 1 and lane > 300 and top > 100
    ge = hier["figures"]["gate_equivalents"]
    assert ge == pytest.approx(4 * lane + top, rel=0.002), (ge, lane, top)
    assert ge == pytest.approx(flat["figures"]["gate_equivalents"], rel=0.05)
    flow = hier["flow"]
    assert flow["hierarchical"] is True and flow["script"].endswith("_hier.ys")
    assert flow["modules"]["lane0"]["instances"] == 4 and flow["modules"]["lane0"]["merged"] == 3
    assert flow["modules"]["quad"]["instances"] == 1 and set(flow["modules"]) == {"lane0", "quad"}
    assert flow["modules"]["lane0"]["area"] == pytest.approx(lane, rel=0.002)
    assert flow["modules"]["quad"]["area"] == pytest.approx(top, rel=0.002)
    assert flat["flow"]["hierarchical"] is False and flat["flow"]["modules"] is None
    # figures of the whole: flip-flops, memories and depth count every instance
    for key in ("flip_flops", "memories", "memory_bits", "logic_depth"):
        assert hier["figures"][key] == flat["figures"][key], key
    assert hier["figures"]["memory_bits"] == 4 * 64
    if target == "generic-sram":
        assert hier["figures"]["sram_macros"] == 4 and hier["figures"]["flip_flops"] == 4 * 32 + 16
    else:
        assert hier["figures"]["flip_flops"] == 4 * (32 + 64) + 16


def test_auto_keeps_repeated_modules_only(quad, tmp_path):
    """auto: hierarchical for the four lanes; flat, with the flat flow's very figures, for one."""
    for target in ("generic", "generic-sram"):
        assert quad[target, "auto"]["figures"] == quad[target, "keep"]["figures"]
        assert quad[target, "auto"]["flow"]["hierarchical"] is True
    (tmp_path / "one.v").write_text(LANE.format(name="one"))
    reps = {h: driver.run_synth(tmp_path / "one.v", "one", "generic", cache_dir=tmp_path / "c",
                                hierarchy=h, report_dir=tmp_path / h) for h in ("auto", "flat")}
    assert reps["auto"]["flow"]["hierarchical"] is False and reps["auto"]["flow"]["script"] == "generic.ys"
    assert reps["auto"]["figures"] == reps["flat"]["figures"]
    assert reps["auto"]["logs"]["yosys_prep"].endswith("generic.prep.yosys.log")      # the elaboration


def test_hierarchy_mode_is_checked(tmp_path):
    (tmp_path / "one.v").write_text(LANE.format(name="one"))
    with pytest.raises(ParamsError, match="hierarchy must be one of auto, keep, flat"):
        driver.run_synth(tmp_path / "one.v", "one", "generic", cache_dir=tmp_path / "c", hierarchy="yes")
    with pytest.raises(ParamsError, match="generic targets only"):
        driver.run_synth(tmp_path / "one.v", "one", "xcup", cache_dir=tmp_path / "c", hierarchy="keep")


# ------------------------------------------------------------------------------ scan unit ----

@pytest.mark.slow
def test_scan_unit_flat_and_hierarchical_agree(tmp_path):
    """int8 scan unit, 4 state lanes (its exp engine: 4 identical lanes): generic-sram GE of the
    flattened and of the hierarchical flow within 5 %; every memory bit counted in both."""
    from nlihw.hdl.scan.generate import generate
    from nlihw.hdl.scan.params import preset
    p = preset("int8", d_inner=4, d_state=4, lanes=4)
    v = generate(p, tmp_path / "scan")["verilog"]
    reps = {h: driver.run_synth(v, p.top_name, "generic-sram", cache_dir=tmp_path / "cache",
                                hierarchy=h, report_dir=tmp_path / h) for h in ("flat", "keep")}
    hier, flat = reps["keep"]["figures"], reps["flat"]["figures"]
    assert hier["gate_equivalents"] == pytest.approx(flat["gate_equivalents"], rel=0.05)
    for key in ("memories", "memory_bits", "sram_macros"):
        assert hier[key] == flat[key], key
    modules = reps["keep"]["flow"]["modules"]
    assert max(m["instances"] for m in modules.values()) >= 4
    assert sum(m["area"] * m["instances"] for m in modules.values()) == pytest.approx(hier["area"], abs=0.1)


def test_cli_hierarchy_option_reaches_the_driver_and_is_refused_off_generic(tmp_path, monkeypatch):
    """--hierarchy flat|keep is passed to run_synth for a generic target; with no generic target
    it is a one-line error before any tool runs."""
    from nlihw.cli import main
    from nlihw.commands import synth as cmd
    from nlihw.errors import ParamsError
    d = tmp_path / "d"
    d.mkdir()
    (d / "top.v").write_text("module top(input a, output b); assign b = a; endmodule\n")
    seen = {}

    def fake(verilog, top, target, **kw):
        seen[target] = kw["hierarchy"]
        raise ParamsError("stop here")
    monkeypatch.setattr(cmd, "run_synth", fake)
    assert main(["synth", str(d), "-t", "generic", "--hierarchy", "flat"]) == 2
    assert seen == {"generic": "flat"}
    seen.clear()
    assert main(["synth", str(d), "-t", "xcup", "--hierarchy", "keep"]) == 2
    assert seen == {}
