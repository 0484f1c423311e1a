"""The emitted self-checking Verilog testbench of the selective-scan unit (sim/scan/verilog_testbench.py):
its vectors against a hand unpacking and the golden model, PASS on the generated unit in Icarus and
Verilator (no register point, every register point, a unit whose state loop needs bubbles), and FAIL
(non-zero exit, the first mismatch named) for each planted fault: a flipped expected word, a DUT one
cycle late, a DUT that drops an output beat under back-pressure, a DUT that ignores reset."""
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from nlihw.cli import main
from nlihw.hdl.common.deliverables import waivers_text
from nlihw.hdl.scan.generate import generate
from nlihw.hdl.scan.params import PIPELINE, preset
from nlihw.hdl.scan.unit import hazard_free, latency
from nlihw.sim.scan import verilog_testbench as vtb
from nlihw.sim.scan.golden import scan_eval
from nlihw.toolchain import setup_verilator_env
from tests.support.sv_tools import IVERILOG, corrupt, icarus, needs_icarus, run

TOKENS = 8                      # x d_inner 2 = 16 beats a run
# every register point but state_read: its fifth state-loop stage would make these units
# (d_inner 2 x N/P 2 = 4 items between reads of a word) wait for their own updates, and the
# testbench's exact-rate phase needs the full rate
ALL = ",".join(n for n in PIPELINE.points if n != "state_read")


def small(pipeline="none", lanes=2, top="scan", backpressure="stall"):
    return preset("int8", d_inner=2, d_state=4, lanes=lanes, pipeline=pipeline, top_name=top,
                  backpressure=backpressure)


def write_design(p, out: Path) -> dict:
    return generate(p, out, testbench=vtb.testbench(p, tokens=TOKENS))


def fault_wrapper(p, sv: Path) -> Path:
    """Rename the emitted top to <top>_dut and wrap it in <top> with faults chosen by +fault=N:
    1 one more output register (a stream register slice: latency + 1, values right), 2 the unit's
    o__ready held high (an output offered while o__ready is low is lost), 3 reset not passed on,
    4 i offered to the unit every other cycle only (half the input rate, latency right)."""
    top = p.top_name
    text, n = re.subn(rf"^module {top}\(", f"module {top}_dut(", sv.read_text(), count=1, flags=re.M)
    assert n == 1
    sv.with_name(f"{top}_dut.sv").write_text(text)
    w = {q: int(re.search(rf"(?:input|output)\s+(?:wire\s+)?\[(\d+):0\]\s+{q}__payload", text).group(1)) + 1
         for q in ("i", "bc", "cfg", "o", "rdata")}
    wrapper = sv.with_name(f"{top}_fault.sv")
    wrapper.write_text(f"""\
module {top}(input clk, input rst,
    input i__valid, output i__ready, input [{w['i'] - 1}:0] i__payload,
    input bc__valid, output bc__ready, input [{w['bc'] - 1}:0] bc__payload,
    input cfg__valid, output cfg__ready, input [{w['cfg'] - 1}:0] cfg__payload,
    output o__valid, input o__ready, output [{w['o'] - 1}:0] o__payload,
    output rdata__valid, input rdata__ready, output [{w['rdata'] - 1}:0] rdata__payload);
  integer fault;
  initial if (!$value$plusargs("fault=%d", fault)) fault = 0;
  wire out_valid, out_ready;
  wire [{w['o'] - 1}:0] out_payload;
  reg slice_valid;
  reg [{w['o'] - 1}:0] slice_payload;
  reg throttle = 1'b0;
  wire in_ready;
  always @(posedge clk) throttle <= !throttle;
  {top}_dut dut(.clk(clk), .rst(fault == 3 ? 1'b0 : rst),
      .i__valid(i__valid && !(fault == 4 && throttle)), .i__ready(in_ready), .i__payload(i__payload),
      .bc__valid(bc__valid), .bc__ready(bc__ready), .bc__payload(bc__payload),
      .cfg__valid(cfg__valid), .cfg__ready(cfg__ready), .cfg__payload(cfg__payload),
      .o__valid(out_valid), .o__ready(out_ready), .o__payload(out_payload),
      .rdata__valid(rdata__valid), .rdata__ready(rdata__ready), .rdata__payload(rdata__payload));
  assign out_ready = fault == 1 ? (!slice_valid || o__ready) : fault == 2 ? 1'b1 : o__ready;
  always @(posedge clk)
    if (rst) slice_valid <= 1'b0;
    else if (out_ready) begin
      slice_valid <= out_valid;
      slice_payload <= out_payload;
    end
  assign i__ready = in_ready && !(fault == 4 && throttle);
  assign o__valid = fault == 1 ? slice_valid : out_valid;
  assign o__payload = fault == 1 ? slice_payload : out_payload;
endmodule
""")
    return wrapper




def copy_vectors(src: Path, dst: Path) -> None:
    for f in src.glob("*_tb_*.hex"):
        shutil.copy(f, dst)


# --- the vectors, checked without the generator's packing ------------------------------------

def test_vectors_are_the_golden_run_with_sticky_flags():
    p = small()
    files = vtb.testbench_files(p, tokens=TOKENS)
    words = {k: [int(w, 16) for w in files[k][1].split()] for k in files if k != "testbench"}
    n = TOKENS * 2
    assert (len(words["tb_bc"]), len(words["tb_inputs"]), len(words["tb_expected"])) == (TOKENS, n, 2 * n)
    # cfg {addr [0+:5], data [5+:24], write [29]}: A (2 x 4), then D (2), then bias (2), all writes
    cfg = [(w & 31, (w >> 5) & ((1 << 24) - 1), w >> 29) for w in words["tb_cfg"]]
    regions = p.config_regions()
    want = [regions["A"][0] + k for k in range(8)] + [regions["D"][0] + k for k in range(2)] \
        + [regions["bias"][0] + k for k in range(2)]
    assert [a for a, _, _ in cfg] == want and {w for _, _, w in cfg} == {1}
    # i {u, delta, z [8 bits each, two's complement], first [24]}, token-major; first on token 0
    s8 = lambda v: (v & 0xff) - ((v & 0x80) << 1)                                  # noqa: E731
    i = np.array([[s8(w), s8(w >> 8), s8(w >> 16), w >> 24] for w in words["tb_inputs"]])
    assert list(i[:, 3]) == [1, 1] + [0] * (n - 2)
    s = vtb.stimulus(p, TOKENS)
    assert np.array_equal(i[:, 0], s.run.u.reshape(-1)) and np.array_equal(i[:, 1], s.run.delta.reshape(-1))
    bc = words["tb_bc"]                                     # B: 4 x s8 in the low 32 bits, then C
    assert [[s8(w >> (8 * k)) for k in range(4)] for w in bc] == s.run.B.tolist()
    assert [[s8(w >> (32 + 8 * k)) for k in range(4)] for w in bc] == s.run.C.tolist()
    # o {out [0+:8], overflow [8], clamped [9]}: the golden outputs, then the same with flags held
    out = np.array([s8(w) for w in words["tb_expected"]])
    ovf = np.array([(w >> 8) & 1 for w in words["tb_expected"]])
    clamp = np.array([w >> 9 for w in words["tb_expected"]])
    res = scan_eval(p, s.cfg, s.run)
    assert np.array_equal(out[:n], res.out.reshape(-1)) and np.array_equal(out[n:], out[:n])
    # the saturating token (4 of 8): channel 0's delta at its lowest is clamped (beat 8), and its
    # dt ~ 0 keeps dt * u small; channel 1 (beat 9) saturates. Sticky from there, all set after
    assert list(clamp[:n]) == [0] * 8 + [1] * 8 and list(ovf[:n]) == [0] * 9 + [1] * 7
    assert list(clamp[n:]) == list(ovf[n:]) == [1] * n
    assert vtb.testbench_files(p, tokens=TOKENS) == files                # deterministic


def test_cli_writes_the_testbench_and_the_core_sim_target(tmp_path, capsys):
    args = ["scan", "gen", "--preset", "int8", "--d-inner", "2", "--d-state", "4", "--lanes", "2"]
    assert main([*args, "-o", str(tmp_path / "a"), "--testbench"]) == 0
    names = {q.name for q in (tmp_path / "a").iterdir()}
    tb = {f"selective_scan_tb{x}" for x in (".sv", "_cfg.hex", "_bc.hex", "_in.hex", "_out.hex")}
    assert tb <= names
    core = (tmp_path / "a" / "selective_scan.core").read_text()
    assert "  sim:" in core and 'toplevel: "selective_scan_tb"' in core
    assert main([*args, "-o", str(tmp_path / "b")]) == 0
    assert not {q.name for q in (tmp_path / "b").iterdir()} & tb
    assert "  sim:" not in (tmp_path / "b" / "selective_scan.core").read_text()


# --- Icarus ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def icarus_design(tmp_path_factory):
    out = tmp_path_factory.mktemp("icarus")
    p = small()
    paths = write_design(p, out)
    fault_wrapper(p, paths["systemverilog"])
    r = run([IVERILOG, "-g2012", "-o", "fault.vvp", "-s", "scan_tb", "scan_tb.sv", "scan_fault.sv",
             "scan_dut.sv"], out)
    assert r.returncode == 0, r.stderr[-3000:]
    return p, out


@needs_icarus
@pytest.mark.parametrize("pipeline, lanes, backpressure", [
    ("none", 2, "stall"), (ALL, 2, "stall"), (ALL, 4, "stall"), ("all", 2, "credit")])
def test_icarus_passes_on_the_generated_unit(tmp_path, pipeline, lanes, backpressure):
    p = small(pipeline, lanes, top="unit", backpressure=backpressure)
    # lanes 4, or every point: the state loop needs bubbles
    assert hazard_free(p) == (lanes == 2 and pipeline != "all")
    write_design(p, tmp_path)
    r = icarus(tmp_path, "unit", "unit_tb.sv", "unit.sv")
    assert r.returncode == 0 and "PASS: unit" in r.stdout, r.stdout[-3000:]
    assert "MISMATCH" not in r.stdout
    # latency, random and post-reset runs are whole; the cut run adds its first few outputs
    assert int(re.search(r"PASS: unit: (\d+) outputs", r.stdout).group(1)) >= 3 * 2 * TOKENS


@needs_icarus
def test_icarus_fails_on_a_flipped_expected_word(icarus_design, tmp_path):
    p, out = icarus_design
    shutil.copy(out / "scan_tb.sv", tmp_path)
    shutil.copy(out / "scan.sv", tmp_path)
    copy_vectors(out, tmp_path)
    got = corrupt(tmp_path / "scan_tb_out.hex", 5)           # beat 5 of the run from reset
    r = icarus(tmp_path, "scan", "scan_tb.sv", "scan.sv")
    assert r.returncode != 0 and "FAIL: scan" in r.stdout, r.stdout[-3000:]
    m = re.search(r"MISMATCH latency beat 5 \(token 2, channel 1\): input 0x[0-9a-f]+ expected "
                  r"0x([0-9a-f]+) actual 0x([0-9a-f]+)", r.stdout)
    assert m, r.stdout[-3000:]
    assert int(m.group(1), 16) == got and int(m.group(2), 16) == got ^ 1
    assert "MISMATCH random" not in r.stdout              # the continued run has its own words


@needs_icarus
def test_icarus_fault_wrapper_without_a_fault_passes(icarus_design):
    p, out = icarus_design
    r = run(["vvp", "-n", "fault.vvp"], out)
    assert r.returncode == 0 and "PASS: scan" in r.stdout, r.stdout[-3000:]


@needs_icarus
@pytest.mark.parametrize("fault, message", [
    (1, r"MISMATCH latency beat 0: input 0x[0-9a-f]+ answered after (\d+) cycles, latency is (\d+)"),
    (2, r"MISMATCH random beat \d+ \(token \d+, channel \d+\): input 0x[0-9a-f]+ expected 0x[0-9a-f]+ actual"),
    (3, r"MISMATCH reset beat \d+"),
    (4, r"MISMATCH latency beat 1: input accepted (\d+) cycles after the previous one, expected (\d+)"),
])
def test_icarus_fails_on_a_faulty_dut(icarus_design, fault, message):
    p, out = icarus_design
    r = run(["vvp", "-n", "fault.vvp", f"+fault={fault}"], out)
    assert r.returncode != 0 and "FAIL: scan" in r.stdout, r.stdout[-3000:]
    m = re.search(message, r.stdout)
    assert m, r.stdout[-3000:]
    if fault == 1:
        assert (int(m.group(1)), int(m.group(2))) == (latency(p) + 1, latency(p))
    if fault == 2:
        assert "MISMATCH latency" not in r.stdout      # no back-pressure there: nothing is lost
    if fault == 4:
        assert (int(m.group(1)), int(m.group(2))) == (2 * p.steps, p.steps)
        assert "answered after" not in r.stdout        # the latency itself is right
    if fault == 3:
        assert not re.search(r"MISMATCH (latency|random)", r.stdout)


# --- Verilator (--binary --timing: no C++ of ours) -------------------------------------------

def verilate(p, out: Path, *sources) -> str:
    (out / f"{p.top_name}.vlt").write_text(waivers_text(sources[-1].removesuffix(".sv")))
    env = setup_verilator_env(dict(os.environ))
    r = run(["verilator", "--binary", "--timing", "-CFLAGS", "-std=c++20", "--Mdir", "obj",
             "--top-module", f"{p.top_name}_tb", f"{p.top_name}.vlt", *sources], out, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return str(out / "obj" / f"V{p.top_name}_tb")


@pytest.fixture(scope="module")
def verilated(tmp_path_factory):
    """One Verilator build of the testbench on the fault wrapper of the unit with every register
    point (+fault=0 is the emitted unit)."""
    out = tmp_path_factory.mktemp("verilator")
    p = small(ALL)
    paths = write_design(p, out)
    fault_wrapper(p, paths["systemverilog"])
    return p, out, verilate(p, out, "scan_tb.sv", "scan_fault.sv", "scan_dut.sv")


def test_verilator_passes_and_fails_on_each_fault(verilated, tmp_path):
    p, out, exe = verilated
    r = run([exe], out)
    assert r.returncode == 0 and "PASS: scan" in r.stdout, r.stdout[-3000:]
    for fault, phase in ((1, "latency"), (2, "random"), (3, "reset"), (4, "latency")):
        r = run([exe, f"+fault={fault}"], out)
        assert r.returncode != 0 and "FAIL: scan" in r.stdout, (fault, r.stdout[-3000:])
        assert f"MISMATCH {phase} beat" in r.stdout, (fault, r.stdout[-3000:])
    copy_vectors(out, tmp_path)
    got = corrupt(tmp_path / "scan_tb_out.hex", 2 * TOKENS + 3)    # beat 3 of the continued run
    r = run([exe], tmp_path)
    assert r.returncode != 0 and "FAIL: scan" in r.stdout, r.stdout[-3000:]
    assert re.search(rf"MISMATCH random beat 3 \(token 1, channel 1\): input 0x[0-9a-f]+ expected "
                     rf"0x{got:03x} actual 0x{got ^ 1:03x}", r.stdout), r.stdout[-3000:]


@pytest.mark.slow
def test_verilator_passes_without_register_points(tmp_path):
    p = small()
    write_design(p, tmp_path)
    exe = verilate(p, tmp_path, "scan_tb.sv", "scan.sv")
    r = run([exe], tmp_path)
    assert r.returncode == 0 and "PASS: scan" in r.stdout, r.stdout[-3000:]


def test_testbench_is_lint_clean(icarus_design):
    """Verilator -Wall on the testbench with the design's scoped waivers: nothing of the testbench
    is waived."""
    p, out = icarus_design
    r = run(["verilator", "--lint-only", "-Wall", "--timing", "--top-module", "scan_tb", "scan.vlt",
             "scan_tb.sv", "scan.sv"], out, env=setup_verilator_env(dict(os.environ)))
    assert r.returncode == 0, r.stderr[-3000:]
