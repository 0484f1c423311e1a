"""The MULT18X18D simulation model (synth/models/mult18x18d.v) and the ECP5 register packing
(synth/ecp5_dsp.py), simulated: the model alone against a plain Python model of the block for
register, clock/enable/reset selections and both reset modes; and a registered multiplier design
mapped by synth_ecp5 with and without the packing pass, both netlists on Verilator with the same
random stimulus (enables low, resets), compared cycle by cycle with each other and with a Python
model of the RTL."""
from __future__ import annotations

import random
from importlib import resources
import pytest

from nlihw.sim.common import runner
from nlihw.synth import gate_netlist
from nlihw.sim.netlist.trace import run_trace

pytestmark = pytest.mark.timeout(600)

# one instance per configuration: (reset mode, registers on); CLK0 is held low and every register
# is on CLK1, each with its own enable and reset pin (a wrong selection shows as a wrong trace)
CONFIGS = [("SYNC", "ia ib pp op"), ("ASYNC", "ia ib pp op"), ("SYNC", "ia ib op"), ("SYNC", ""),
           ("ASYNC", "ib pp")]
SEL = {"ia": (1, 2), "ib": (2, 1), "pp": (3, 0), "op": (0, 3)}     # register: (CE n, RST n)
NAMES = {"ia": "INPUTA", "ib": "INPUTB", "pp": "PIPELINE", "op": "OUTPUT"}


def wrapper() -> str:
    ports = ", ".join([f".A{i}(a[{i}])" for i in range(18)] + [f".B{i}(b[{i}])" for i in range(18)])
    insts = []
    for k, (mode, regs) in enumerate(CONFIGS):
        params = ", ".join(f'.REG_{NAMES[r]}_CLK("{"CLK1" if r in regs.split() else "NONE"}"), '
                           f'.REG_{NAMES[r]}_CE("CE{e}"), .REG_{NAMES[r]}_RST("RST{x}")'
                           for r, (e, x) in SEL.items())
        outs = ", ".join(f".P{i}(p{k}[{i}])" for i in range(36))
        insts.append(f"""  wire [35:0] p{k};
  MULT18X18D #({params}, .RESETMODE("{mode}")) m{k} ({ports}, {outs},
    .SIGNEDA(sa), .SIGNEDB(sb), .SOURCEA(1'b0), .SOURCEB(1'b0),
    .CLK0(1'b0), .CLK1(clk), .CLK2(1'b0), .CLK3(1'b0), .CE0(ce[0]), .CE1(ce[1]), .CE2(ce[2]),
    .CE3(ce[3]), .RST0(rst[0]), .RST1(rst[1]), .RST2(rst[2]), .RST3(rst[3]));""")
    outs = ", ".join(f"output [35:0] q{k}" for k in range(len(CONFIGS)))
    assigns = "\n".join(f"  assign q{k} = p{k};" for k in range(len(CONFIGS)))
    return (f"module w(input clk, input [3:0] ce, input [3:0] rst, input [17:0] a, input [17:0] b,\n"
            f"         input sa, input sb, {outs});\n" + "\n".join(insts) + "\n" + assigns
            + "\nendmodule\n")


def block_model(cfg: dict, steps: list[dict]) -> list[int]:
    """A plain Python MULT18X18D: registers (clock, enable, reset as configured), 36-bit product.
    ``cfg``: {reg: (clocked, ce index, rst index)} for ia, ib, pp, op, and ``async``."""
    ra = rb = rp = ro = (0, 0)           # (value, sign bit)
    out = []

    def sx(v, s):
        return v - (1 << 18) if s and v >> 17 else v

    for s in steps:
        ce = [s["ce"] >> k & 1 for k in range(4)]
        rst = [s["rst"] >> k & 1 for k in range(4)]
        if cfg["async"]:                 # an asynchronous reset clears at once
            ra = (0, 0) if cfg["ia"][0] and rst[cfg["ia"][2]] else ra
            rb = (0, 0) if cfg["ib"][0] and rst[cfg["ib"][2]] else rb
            rp = (0, 0) if cfg["pp"][0] and rst[cfg["pp"][2]] else rp
            ro = (0, 0) if cfg["op"][0] and rst[cfg["op"][2]] else ro
        a = ra if cfg["ia"][0] else (s["a"], s["sa"])
        b = rb if cfg["ib"][0] else (s["b"], s["sb"])
        prod = ((sx(*a) * sx(*b)) & ((1 << 36) - 1), a[1] | b[1])
        pipe = rp if cfg["pp"][0] else prod
        outv = ro if cfg["op"][0] else pipe
        out.append(outv[0])

        def step(reg, cur, d):
            clocked, e, r = cfg[reg]
            if not clocked:
                return cur
            return (0, 0) if rst[r] else (d if ce[e] else cur)
        ra, rb, rp, ro = (step("ia", ra, (s["a"], s["sa"])), step("ib", rb, (s["b"], s["sb"])),
                          step("pp", rp, prod), step("op", ro, pipe))
    return out


def stimulus(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [{"ce": rng.randrange(16), "rst": sum(1 << k for k in range(4) if rng.random() < 0.04),
             "a": rng.randrange(1 << 18), "b": rng.randrange(1 << 18),
             "sa": int(rng.random() < 0.5), "sb": int(rng.random() < 0.5)} for _ in range(n)]


@pytest.fixture(scope="module")
def model_trace(tmp_path_factory):
    """Every configuration of CONFIGS driven by one random stimulus (one Verilator build)."""
    d = tmp_path_factory.mktemp("mult_model")
    model = (resources.files("nlihw.synth") / "models" / "mult18x18d.v").read_text()
    (d / "w.v").write_text(wrapper() + model)
    sim = runner.build(d / "w.v", "w", timeout=300)
    steps = stimulus(500, seed=3)
    return steps, run_trace(sim, steps, [f"q{k}" for k in range(len(CONFIGS))], d / "run")


@pytest.mark.parametrize("k", range(len(CONFIGS)), ids=[f"{m}-{r or 'none'}".replace(" ", "+")
                                                        for m, r in CONFIGS])
def test_model_against_python(model_trace, k):
    steps, trace = model_trace
    mode, regs = CONFIGS[k]
    cfg = {r: (r in regs.split(), *SEL[r]) for r in SEL} | {"async": mode == "ASYNC"}
    want = block_model(cfg, steps)
    got = [row[k] for row in trace]
    assert sum(1 for s in steps if s["rst"]) > 40 and len(set(want)) > 40
    bad = next((j for j, (g, w) in enumerate(zip(got, want)) if g != w), None)
    assert bad is None, f"cycle {bad}: got 0x{got[bad]:x}, expected 0x{want[bad]:x} ({steps[bad]})"


MUL = """
module t(input clk, input rst, input en, input signed [15:0] a, input signed [11:0] b,
         input [13:0] c, input [16:0] d, output reg signed [27:0] p, output reg [30:0] q);
  reg signed [15:0] ar; reg signed [11:0] br; reg [13:0] cr; reg [16:0] dr;
  always @(posedge clk)
    if (rst) begin ar <= 0; br <= 0; p <= 0; cr <= 0; dr <= 0; q <= 0; end
    else if (en) begin ar <= a; br <= b; p <= ar * br; cr <= c; dr <= d; q <= cr * dr; end
endmodule
"""


def rtl_model(steps: list[dict]) -> list[list[int]]:
    """The design above, cycle by cycle: [p, q] as unsigned port values."""
    ar = br = cr = dr = p = q = 0
    out = []
    for s in steps:
        out.append([p & ((1 << 28) - 1), q])
        if s["rst"]:
            ar = br = cr = dr = p = q = 0
        elif s["en"]:
            sa = s["a"] - (1 << 16) if s["a"] >> 15 else s["a"]
            sb = s["b"] - (1 << 12) if s["b"] >> 11 else s["b"]
            p, q = ar * br, (cr * dr) & ((1 << 31) - 1)
            ar, br, cr, dr = sa, sb, s["c"], s["d"]
    return out


@pytest.fixture(scope="module")
def mul_traces(tmp_path_factory):
    """The multiplier design's packed and unpacked ECP5 netlists run on one random stimulus."""
    rng = random.Random(7)
    steps = [{"rst": int(rng.random() < 0.06), "en": int(rng.random() < 0.7),
              "a": rng.randrange(1 << 16), "b": rng.randrange(1 << 12),
              "c": rng.randrange(1 << 14), "d": rng.randrange(1 << 17)} for _ in range(600)]
    return (steps, *run_packed_and_unpacked(tmp_path_factory, "mul", MUL, steps, ["p", "q"]))


def run_packed_and_unpacked(tmp_path_factory, name, verilog, steps, ports):
    """({pack: trace}, {pack: netlist text}) of module ``t`` of ``verilog`` mapped for ECP5 with and
    without the register packing, each simulated on ``steps``."""
    traces, texts = {}, {}
    for pack in (True, False):
        d = tmp_path_factory.mktemp(f"{name}_pack{int(pack)}")
        texts[pack] = gate_netlist.netlist_verilog(verilog, "t", "ecp5", pack=pack, timeout=300)
        f = gate_netlist.write_sim_verilog(verilog, "t", "ecp5", d / "t.v", pack=pack, timeout=300)
        sim = runner.build(f, "t", timeout=300)
        traces[pack] = run_trace(sim, steps, ports, d / "run")
    return traces, texts


def test_the_packed_netlist_has_registered_blocks(mul_traces):
    _, _, texts = mul_traces
    assert texts[True].count("MULT18X18D #(") == 2 and texts[True].count('.REG_OUTPUT_CLK("CLK0")') == 2
    assert "REG_INPUTA_CLK" not in texts[False] and "TRELLIS_FF" in texts[False]
    assert "TRELLIS_FF #(" not in texts[True]     # every flip-flop moved into the two blocks


@pytest.mark.parametrize("pack", [True, False], ids=["packed", "unpacked"])
def test_netlist_matches_the_rtl_model(mul_traces, pack):
    steps, traces, _ = mul_traces
    want = rtl_model(steps)
    assert sum(s["rst"] for s in steps) > 20 and sum(1 - s["en"] for s in steps) > 100
    bad = next((k for k, (g, w) in enumerate(zip(traces[pack], want)) if g != w), None)
    assert bad is None, f"cycle {bad}: got {traces[pack][bad]}, expected {want[bad]} ({steps[bad]})"


def test_packed_and_unpacked_agree_cycle_by_cycle(mul_traces):
    _, traces, _ = mul_traces
    assert len(traces[True]) == 600 and traces[True] == traces[False]


# one operand register cleared at a sequence's start (yosys: a flip-flop with a synchronous reset),
# the other and the product register plain: each group keeps its own CE/RST pair in the block
MUL_FIRST = """
module t(input clk, input first, input [15:0] a, input [11:0] b, output reg [27:0] p);
  reg signed [15:0] ar; reg signed [11:0] br;
  always @(posedge clk) begin
    ar <= first ? 16'sd0 : a;
    br <= b;
    p <= ar * br;
  end
endmodule
"""


def first_model(steps: list[dict]) -> list[int]:
    ar = br = p = 0
    out = []
    for s in steps:
        out.append(p & ((1 << 28) - 1))
        sa = s["a"] - (1 << 16) if s["a"] >> 15 else s["a"]
        sb = s["b"] - (1 << 12) if s["b"] >> 11 else s["b"]
        p, ar, br = ar * br, 0 if s["first"] else sa, sb
    return out


@pytest.fixture(scope="module")
def first_traces(tmp_path_factory):
    rng = random.Random(11)
    steps = [{"first": int(rng.random() < 0.2), "a": rng.randrange(1 << 16), "b": rng.randrange(1 << 12)}
             for _ in range(300)]
    traces, texts = run_packed_and_unpacked(tmp_path_factory, "first", MUL_FIRST, steps, ["p"])
    return steps, {pack: [row[0] for row in t] for pack, t in traces.items()}, texts


def test_operand_registers_with_their_own_reset_are_packed(first_traces):
    steps, traces, texts = first_traces
    packed = texts[True]
    assert "TRELLIS_FF #(" not in packed                 # all 16 + 12 + 28 flip-flops absorbed
    rst_a = packed.split('.REG_INPUTA_RST("')[1][:4]
    rst_b = packed.split('.REG_INPUTB_RST("')[1][:4]
    assert rst_a != rst_b and packed.split('.REG_OUTPUT_RST("')[1][:4] == rst_b
    want = first_model(steps)
    assert sum(s["first"] for s in steps) > 30
    for pack in (True, False):
        bad = next((k for k, (g, w) in enumerate(zip(traces[pack], want)) if g != w), None)
        assert bad is None, f"pack={pack} cycle {bad}: got {traces[pack][bad]:#x}, expected {want[bad]:#x}"
