"""ECP5 register packing (synth/ecp5_dsp.py) on small designs mapped by yosys synth_ecp5: the
registers around a MULT18X18D and behind a DP16KD read port move into the blocks exactly when they
are the blocks' own registers (same clock, enable, reset; nothing else reading them), and the
rewired pins reach the same nets the fabric registers read and drove."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlihw.synth import tools
from nlihw.synth.ecp5_dsp import pack_dsp_registers

MUL = """
module t(input clk, input rst, input en, input [15:0] a, input [11:0] b, output reg [27:0] p,
         output [27:0] q);
  reg [15:0] ar; reg [11:0] br;
  always @(posedge clk)
    if (rst) begin ar <= 0; br <= 0; p <= 0; end
    else if (en) begin ar <= a; br <= b; p <= ar * br; end
  assign q = {QEXPR};
endmodule
"""

RAM = """
module t(input clk, input rst, input en, input [9:0] addr, output [15:0] q);
  reg [15:0] mem [0:1023];
  reg [15:0] d, dr;
  integer i;
  initial for (i = 0; i < 1024; i = i + 1) mem[i] = i * 7;
  always @(posedge clk) if (en) d <= mem[addr];
  always @(posedge clk) {RESET} if (en) dr <= d;
  assign q = dr;
endmodule
"""


def mapped(tmp_path: Path, verilog: str) -> dict:
    (tmp_path / "t.v").write_text(verilog)
    (tmp_path / "s.ys").write_text("read_verilog t.v\nsynth_ecp5 -top t -json t.json\n")
    fail = tools.run("yosys", ["-q", "-s", "s.ys"], tmp_path, tmp_path / "yosys.log")
    assert fail is None, (tmp_path / "yosys.log").read_text()[-2000:]
    return json.loads((tmp_path / "t.json").read_text())


def cells_of(netlist, kind):
    return [c for c in netlist["modules"]["t"]["cells"].values() if c["type"] == kind]


def port_bits(netlist, name):
    return netlist["modules"]["t"]["ports"][name]["bits"]      # ints: nets; strings: constants


def test_registered_multiplier_is_packed(tmp_path):
    n = mapped(tmp_path, MUL.replace("{QEXPR}", "28'd0"))
    assert len(cells_of(n, "TRELLIS_FF")) == 16 + 12 + 28
    st = pack_dsp_registers(n, "t")
    assert (st.blocks, st.inputs, st.outputs, st.flip_flops) == (1, 1, 1, 56)
    assert cells_of(n, "TRELLIS_FF") == []
    (dsp,) = cells_of(n, "MULT18X18D")
    for reg in ("INPUTA", "INPUTB", "OUTPUT"):
        assert dsp["parameters"][f"REG_{reg}_CLK"] == "CLK0"
    c = dsp["connections"]
    assert c["CLK0"] == port_bits(n, "clk") and c["RST0"] == port_bits(n, "rst")
    # the enable may reach CE0 through logic; it must not be a constant
    assert not isinstance(c["CE0"][0], str)
    # the block's inputs are now the registers' D nets: the module's a and b pins
    pins = {b for i in range(18) for b in c[f"A{i}"] + c[f"B{i}"] if isinstance(b, int)}
    assert pins == set(port_bits(n, "a")) | set(port_bits(n, "b"))
    outs = {b for i in range(36) for b in c[f"P{i}"] if isinstance(b, int)}
    assert set(port_bits(n, "p")) <= outs


def test_a_product_read_elsewhere_keeps_its_register(tmp_path):
    """The unregistered product also drives an output: P cannot be registered in the block."""
    n = mapped(tmp_path, MUL.replace("{QEXPR}", "ar * br"))
    before = len(cells_of(n, "TRELLIS_FF"))
    st = pack_dsp_registers(n, "t")
    assert st.outputs == 0
    dsps = cells_of(n, "MULT18X18D")
    assert all("REG_OUTPUT_CLK" not in d["parameters"] for d in dsps)
    assert len(cells_of(n, "TRELLIS_FF")) == before - st.flip_flops


def test_an_inverted_enable_is_not_packed(tmp_path):
    """The same registers with an inverted clock enable (CEMUX INV, which the DSP's CE cannot
    express) stay in the fabric."""
    n = mapped(tmp_path, MUL.replace("{QEXPR}", "28'd0"))
    ffs = cells_of(n, "TRELLIS_FF")
    for f in ffs:
        f["parameters"]["CEMUX"] = "INV"
    assert pack_dsp_registers(n, "t").flip_flops == 0
    assert len(cells_of(n, "TRELLIS_FF")) == len(ffs)
    (dsp,) = cells_of(n, "MULT18X18D")
    assert not any(k.startswith("REG_") for k in dsp["parameters"])


@pytest.mark.parametrize("reset,packed", [("", True), ("if (rst) dr <= 0; else", False)])
def test_block_ram_output_register(tmp_path, reset, packed):
    """A reset-less data register behind a DP16KD read becomes its OUTREG; one with a reset stays
    (the block's RST would also clear its read latch)."""
    n = mapped(tmp_path, RAM.replace("{RESET}", reset))
    (ram,) = cells_of(n, "DP16KD")
    st = pack_dsp_registers(n, "t")
    assert (st.bram_ports == 1) is packed
    regmodes = {ram["parameters"].get("REGMODE_A"), ram["parameters"].get("REGMODE_B")}
    assert ("OUTREG" in regmodes) is packed
    if packed:
        x = "A" if ram["parameters"].get("REGMODE_A") == "OUTREG" else "B"
        outs = {b for i in range(18) for b in ram["connections"].get(f"DO{x}{i}", [])}
        assert {b for b in port_bits(n, "q") if isinstance(b, int)} <= outs
        assert not isinstance(ram["connections"][f"OCE{x}"][0], str)


ODD_RESET = """
module t(input clk, input k, input [15:0] a, input [11:0] b, output reg [27:0] p);
  reg [15:0] ar; reg [11:0] br;
  always @(posedge clk) begin
    ar[15:1] <= a[15:1]; ar[0] <= k ? 1'b0 : a[0]; br <= b; p <= ar * br;
  end
endmodule
"""


def test_an_odd_reset_moves_in_front_of_the_block(tmp_path):
    """One input bit cleared by k (yosys gives that flip-flop k as its synchronous reset) among
    bits without reset: the reset becomes a LUT4 a[0] & ~k and the group is absorbed."""
    n = mapped(tmp_path, ODD_RESET)
    resets = {c["connections"]["LSR"][0] for c in cells_of(n, "TRELLIS_FF")}
    assert resets == {"0", port_bits(n, "k")[0]}          # the case this guards arises
    st = pack_dsp_registers(n, "t")
    assert (st.inputs, st.outputs) == (1, 1)
    assert cells_of(n, "TRELLIS_FF") == []
    (dsp,) = cells_of(n, "MULT18X18D")
    c = dsp["connections"]
    a0, k = port_bits(n, "a")[0], port_bits(n, "k")[0]
    pin = next(f"A{i}" for i in range(18) if c[f"A{i}"][0] not in port_bits(n, "a") + ["0", "x"])
    (lut,) = [x for x in cells_of(n, "LUT4") if x["connections"]["Z"] == c[pin]]
    init = int(lut["parameters"]["INIT"], 2)
    lc = lut["connections"]
    for av in (0, 1):
        for kv in (0, 1):
            env = {a0: av, k: kv, "0": 0, "1": 1}
            idx = sum(env[lc[p][0]] << j for j, p in enumerate("ABCD"))
            assert (init >> idx) & 1 == (av and not kv), (av, kv)


def test_an_unsigned_18x18_product_is_one_block_with_its_registers(tmp_path):
    """``Multipliers`` ``ecp5`` (18x18u) leaves an unsigned 18 x 17 product whole: yosys maps it to
    one MULT18X18D in its unsigned mode and the pass absorbs all three registers, as for a signed
    product of the block's width."""
    v = (MUL.replace("[15:0]", "[17:0]").replace("[11:0]", "[16:0]").replace("[27:0]", "[34:0]")
         .replace("{QEXPR}", "35'd0"))
    n = mapped(tmp_path, v)
    (dsp,) = cells_of(n, "MULT18X18D")
    assert dsp["connections"]["SIGNEDA"] == ["0"] and dsp["connections"]["SIGNEDB"] == ["0"]
    st = pack_dsp_registers(n, "t")
    assert (st.blocks, st.inputs, st.outputs, st.flip_flops) == (1, 1, 1, 18 + 17 + 35)


def test_a_register_marked_keep_stays_in_the_fabric(tmp_path):
    """An operand register the RTL marks keep (a fan-out copy, flagged on its cell by the flow's
    ``KEEP_STEP``) is not absorbed: neither operand group is (A and B go together); the product
    register still is."""
    from nlihw.synth.driver import KEEP_STEP
    (tmp_path / "t.v").write_text(MUL.replace("reg [15:0] ar;", "(* keep *) reg [15:0] ar;")
                                  .replace("{QEXPR}", "28'd0"))
    (tmp_path / "s.ys").write_text("read_verilog t.v\nhierarchy -check -top t\n" + KEEP_STEP
                                   + "synth_ecp5 -top t -json t.json\n")
    fail = tools.run("yosys", ["-q", "-s", "s.ys"], tmp_path, tmp_path / "yosys.log")
    assert fail is None, (tmp_path / "yosys.log").read_text()[-2000:]
    n = json.loads((tmp_path / "t.json").read_text())
    assert sum(1 for c in cells_of(n, "TRELLIS_FF") if c.get("attributes", {}).get("keep")) == 16
    st = pack_dsp_registers(n, "t")
    assert (st.blocks, st.inputs, st.outputs, st.flip_flops) == (1, 0, 1, 28)
