"""The emitted self-checking Verilog testbench (sim/nli/verilog_testbench.py): its vectors against an
independent unpacking and the golden model, PASS on a good engine in Icarus and Verilator, and FAIL
(non-zero exit, the first mismatch named) for each planted fault: a wrong vector, a DUT one cycle
late, a DUT that drops a beat under back-pressure, a DUT that ignores reset, a reload that loads
the wrong table."""
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from nlihw.hdl.nli.generate import generate
from nlihw.luts.golden import nli_eval
from nlihw.sim.nli import verilog_testbench as vtb
from nlihw.toolchain import setup_verilator_env
from tests.support.engine_points import params
from tests.support.sv_tools import corrupt, icarus, needs_icarus, run

RAM_POINT = "s8-M9-K8-binary-ram-2func"       # 8-bit input: every code; two functions; reload


def write_design(p, out: Path) -> dict:
    paths = generate(p, out)
    for kind, name, text in vtb.testbench(p).files:
        paths[kind] = out / name
        paths[kind].write_text(text)
    return paths


def fault_wrapper(p, sv: Path) -> Path:
    """Rename the emitted top to <top>_dut and wrap it in <top> with faults chosen by +fault=N:
    1 one more output register (a stream register slice: latency + 1, values right), 2 i__ready
    held high (a beat offered while the engine stalls is lost), 3 reset not passed on, 4 no output
    ever valid."""
    top, in_w, out_w = p.top_name, p.in_width * p.lanes + p.func_bits, p.out_width * p.lanes
    text, n = re.subn(rf"^module {top}\(", f"module {top}_dut(", sv.read_text(), count=1, flags=re.M)
    assert n == 1
    sv.with_name(f"{top}_dut.sv").write_text(text)
    ram = p.storage == "ram"
    w_w = p.config_addr_bits + p.config_data_bits
    w_ports = (f", input w__valid, output w__ready, input [{w_w - 1}:0] w__payload" if ram else "")
    w_conn = ", .w__valid(w__valid), .w__ready(w__ready), .w__payload(w__payload)" if ram else ""
    wrapper = sv.with_name(f"{top}_fault.sv")
    wrapper.write_text(f"""\
module {top}(input clk, input rst, input i__valid, output i__ready, input [{in_w - 1}:0] i__payload,
             output o__valid, input o__ready, output [{out_w - 1}:0] o__payload{w_ports});
  integer fault;
  initial if (!$value$plusargs("fault=%d", fault)) fault = 0;
  wire in_ready, out_valid, out_ready;
  wire [{out_w - 1}:0] out_payload;
  reg slice_valid;
  reg [{out_w - 1}:0] slice_payload;
  {top}_dut dut(.clk(clk), .rst(fault == 3 ? 1'b0 : rst), .i__valid(i__valid), .i__ready(in_ready),
      .i__payload(i__payload), .o__valid(out_valid), .o__ready(out_ready),
      .o__payload(out_payload){w_conn});
  assign out_ready = fault == 1 ? (!slice_valid || o__ready) : o__ready;
  always @(posedge clk)
    if (rst) slice_valid <= 1'b0;
    else if (out_ready) begin
      slice_valid <= out_valid;
      slice_payload <= out_payload;
    end
  assign o__valid = fault == 4 ? 1'b0 : fault == 1 ? slice_valid : out_valid;
  assign o__payload = fault == 1 ? slice_payload : out_payload;
  assign i__ready = fault == 2 ? 1'b1 : in_ready;
endmodule
""")
    return wrapper




# --- the vectors, checked without the generator's packing ------------------------------------

def test_vectors_are_every_code_and_the_golden_outputs():
    p = params(RAM_POINT, top="act")
    files = vtb.testbench_files(p)
    ins = [int(w, 16) for w in files["tb_inputs"][1].split()]
    outs = [int(w, 16) for w in files["tb_expected"][1].split()]
    n = 256                                          # s3.5: 8-bit codes, one lane
    assert len(ins) == len(outs) == 2 * n            # main beats, then the reload beats
    x = np.array([(w & 0xff) - ((w & 0x80) << 1) for w in ins])        # two's complement, by hand
    func = np.array([w >> 8 for w in ins])
    assert sorted(x[:n]) == list(range(-128, 128))
    assert set(func[:n]) == {0, 1} and set(func[n:]) == {1}
    y = np.array([(w & 0xff) - ((w & 0x80) << 1) for w in outs])
    for f, t in enumerate(p.tables):
        sel = func[:n] == f
        assert np.array_equal(y[:n][sel], nli_eval(t, x[:n][sel]))
    # reload: slot 1 holds the values reversed, which changes some outputs
    slot, table = vtb.reload_table(p)
    assert slot == 1 and table.values == p.tables[1].values[::-1]
    assert np.array_equal(y[n:], nli_eval(table, x[n:]))
    assert np.count_nonzero(y[n:] != nli_eval(p.tables[1], x[n:])) > 50
    words = [int(w, 16) for w in files["tb_load"][1].split()]
    assert [(w & ((1 << p.config_addr_bits) - 1), w >> p.config_addr_bits) for w in words] \
        == p.config_writes(slot, table)


def test_wide_inputs_take_a_stated_random_sample():
    from types import SimpleNamespace

    from nlihw.formats import Q
    p = SimpleNamespace(layout=SimpleNamespace(in_fmt=Q.parse("s8.12")), lanes=2, func_bits=1)
    x, func, what = vtb.stimulus(p, seed=3)                 # 20-bit input codes
    assert x.shape == (vtb.SAMPLE_BEATS, 2) and "random" in what and "default_rng(3)" in what
    assert x.min() >= -(1 << 19) and x.max() < (1 << 19) and len(np.unique(x)) > 100000
    assert x.min() < -(1 << 18) and x.max() > (1 << 18) and set(func) == {0, 1}


def test_testbench_is_deterministic_and_lint_clean(tmp_path):
    p = params(RAM_POINT, top="act")
    assert vtb.testbench_files(p) == vtb.testbench_files(p)
    paths = write_design(p, tmp_path)
    env = setup_verilator_env(dict(os.environ))
    from nlihw.hdl.common.deliverables import waivers_text
    (tmp_path / "act.vlt").write_text(waivers_text("act"))      # scoped: the testbench is not waived
    r = run(["verilator", "--lint-only", "-Wall", "--timing", "--top-module", "act_tb", "act.vlt",
             paths["testbench"].name, "act.sv"], tmp_path, env=env)
    assert r.returncode == 0, r.stderr[-3000:]


# --- Icarus ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def icarus_design(tmp_path_factory):
    out = tmp_path_factory.mktemp("icarus")
    p = params(RAM_POINT, top="act")
    paths = write_design(p, out)
    fault_wrapper(p, paths["systemverilog"])
    return p, out


@needs_icarus
@pytest.mark.parametrize("point", [RAM_POINT, "u8-M33-K1-binary-4lane-floor"])
def test_icarus_passes_on_the_generated_engine(tmp_path, point):
    p = params(point, top="eng")
    write_design(p, tmp_path)
    r = icarus(tmp_path, "eng", "eng_tb.sv", "eng.sv")
    assert r.returncode == 0 and "PASS: eng" in r.stdout, r.stdout[-3000:]
    assert "MISMATCH" not in r.stdout


@needs_icarus
def test_icarus_fails_on_a_wrong_vector(icarus_design, tmp_path):
    p, out = icarus_design
    for f in out.iterdir():
        shutil.copy(f, tmp_path)
    got = corrupt(tmp_path / "act_tb_out.hex", 100)
    r = icarus(tmp_path, "act", "act_tb.sv", "act.sv")
    assert r.returncode != 0 and "FAIL: act" in r.stdout, r.stdout[-3000:]
    # beat 100 of the main vectors is checked in the latency, random and both reset phases
    m = re.search(r"MISMATCH random beat 100: input 0x([0-9a-f]+) expected 0x([0-9a-f]+) "
                  r"actual 0x([0-9a-f]+)", r.stdout)
    assert m, r.stdout[-3000:]
    assert int(m.group(2), 16) == got and int(m.group(3), 16) == got ^ 1


@needs_icarus
@pytest.mark.parametrize("fault, message", [
    (1, r"MISMATCH latency beat 0: input 0x[0-9a-f]+ answered after (\d+) cycles, latency is (\d+)"),
    (2, r"MISMATCH random beat \d+: input 0x[0-9a-f]+ expected 0x[0-9a-f]+ actual"),
    (3, r"MISMATCH reset beat \d+: output 0x[0-9a-f]+ with no input left to answer"),
    (4, r"MISMATCH latency: timeout after \d+ cycles: \d+/256 inputs accepted, 0/256 outputs"),
])
def test_icarus_fails_on_a_faulty_dut(icarus_design, fault, message):
    p, out = icarus_design
    r = icarus(out, "act", "act_tb.sv", "act_fault.sv", "act_dut.sv", plusargs=[f"+fault={fault}"])
    assert r.returncode != 0 and "FAIL: act" in r.stdout, r.stdout[-3000:]
    m = re.search(message, r.stdout)
    assert m, r.stdout[-3000:]
    if fault == 1:
        assert (int(m.group(1)), int(m.group(2))) == (p.latency + 1, p.latency)
    if fault == 2:
        assert "MISMATCH latency" not in r.stdout      # no back-pressure there: nothing is lost


@needs_icarus
def test_icarus_fault_wrapper_without_a_fault_passes(icarus_design):
    p, out = icarus_design
    r = icarus(out, "act", "act_tb.sv", "act_fault.sv", "act_dut.sv")
    assert r.returncode == 0 and "PASS: act" in r.stdout, r.stdout[-3000:]


@needs_icarus
def test_icarus_fails_when_the_reload_loads_the_old_table(icarus_design, tmp_path):
    p, out = icarus_design
    for f in out.iterdir():
        shutil.copy(f, tmp_path)
    old = [(d << p.config_addr_bits) | a for a, d in p.config_writes(1, p.tables[1])]
    digits = (p.config_addr_bits + p.config_data_bits + 3) // 4
    (tmp_path / "act_tb_load.hex").write_text("".join(f"{w:0{digits}x}\n" for w in old))
    r = icarus(tmp_path, "act", "act_tb.sv", "act.sv")
    assert r.returncode != 0, r.stdout[-3000:]
    phases = set(re.findall(r"MISMATCH (\w+) beat", r.stdout))
    assert phases == {"reload"}, r.stdout[-3000:]


# --- Verilator (--binary --timing: no C++ of ours) -------------------------------------------

@pytest.fixture(scope="module")
def verilated(tmp_path_factory):
    """One Verilator build of the testbench on the fault wrapper (+fault=0 is the emitted engine)."""
    out = tmp_path_factory.mktemp("verilator")
    p = params(RAM_POINT, top="act")
    paths = write_design(p, out)
    fault_wrapper(p, paths["systemverilog"])
    from nlihw.hdl.common.deliverables import waivers_text
    (out / "act.vlt").write_text(waivers_text("act_dut"))
    env = setup_verilator_env(dict(os.environ))
    r = run(["verilator", "--binary", "--timing", "-CFLAGS", "-std=c++20", "--Mdir", "obj",
             "--top-module", "act_tb", "act.vlt", "act_tb.sv", "act_fault.sv", "act_dut.sv"],
            out, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return p, out


def test_verilator_passes_and_fails_on_each_fault(verilated, tmp_path):
    p, out = verilated
    exe = str(out / "obj" / "Vact_tb")
    r = run([exe], out)
    assert r.returncode == 0 and "PASS: act" in r.stdout, r.stdout[-3000:]
    for fault, phase in ((1, "latency"), (2, "random"), (3, "reset")):
        r = run([exe, f"+fault={fault}"], out)
        assert r.returncode != 0 and "FAIL: act" in r.stdout, (fault, r.stdout[-3000:])
        assert f"MISMATCH {phase} beat" in r.stdout, (fault, r.stdout[-3000:])
    for f in out.glob("act_tb_*.hex"):
        shutil.copy(f, tmp_path)
    got = corrupt(tmp_path / "act_tb_out.hex", 300)            # a reload beat (300 - 256 = 44)
    r = run([exe], tmp_path)
    assert r.returncode != 0 and "FAIL: act" in r.stdout, r.stdout[-3000:]
    assert re.search(rf"MISMATCH reload beat 44: input 0x[0-9a-f]+ expected 0x{got:02x} "
                     rf"actual 0x{got ^ 1:02x}", r.stdout), r.stdout[-3000:]
