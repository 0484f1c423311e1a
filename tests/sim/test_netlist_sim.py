"""The netlists whose figures the reports give, simulated against the golden model: the ECP5
netlist after DSP / block-RAM register packing (synth/ecp5_dsp.py) and the generic target's netlist
of nand2_ge.lib cells, with the engine benches of the RTL (sim/nli/bench_cocotb.py) unchanged."""
from __future__ import annotations

import pytest

from nlihw.hdl.nli.generate import emit_verilog
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.luts.default_tables import shipped_table
from nlihw.sim.common import runner
from nlihw.sim.nli import bench as eb
from nlihw.synth import gate_netlist
from tests.support.engine_points import check_bench, table

pytestmark = pytest.mark.timeout(1200)

# name -> (table, target, pipeline); the 8-bit engine runs every input code
DESIGNS = {
    "s8-ecp5-all": ("s8", "ecp5", "all"),
    "s8-ecp5-none": ("s8", "ecp5", "none"),
    "s8-generic-all": ("s8", "generic", "all"),
    "s8-generic-none": ("s8", "generic", "none"),
    "s16-ecp5-all": ("s16", "ecp5", "all"),           # the default silu engine: MULT18X18D and DP16KD
    "s16-ecp5-none": ("s16", "ecp5", "none"),
}
FAST = {"s8-ecp5-all"}


def marked(names):
    return [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in names]


def engine(kind: str, pipeline: str) -> NLIEngineParams:
    t = shipped_table("silu_M11_K32") if kind == "s16" else table("silu", "s4.4", "s4.4", 9, 8)
    return NLIEngineParams((t,), pipeline=pipeline)


def built(name, build_once):
    """(params, simulator, netlist text) of a design point's netlist, once per session."""
    def make(d):
        kind, target, pipeline = DESIGNS[name]
        p = engine(kind, pipeline)
        v = emit_verilog(p)
        text = gate_netlist.netlist_verilog(v, p.top_name, target, timeout=600)
        f = gate_netlist.write_sim_verilog(v, p.top_name, target, d / f"{p.top_name}.v", timeout=600)
        return p, runner.build(f, p.top_name, timeout=900), text
    return build_once(name, make)


def inputs(p: NLIEngineParams, beats: int, seed: int):
    """Every code of an 8-bit engine, else ``beats`` random codes."""
    return eb.exhaustive_inputs(p) if p.in_width <= 8 else eb.random_inputs(p, beats, seed=seed)


@pytest.mark.parametrize("name", marked(DESIGNS))
def test_every_code_exact_latency(name, build_once, tmp_path):
    p, sim, _ = built(name, build_once)
    x, func = inputs(p, 4000, seed=1)
    check_bench(sim, eb.bench_config(p, x, func), tmp_path)


@pytest.mark.parametrize("name", marked(DESIGNS))
def test_random_back_pressure(name, build_once, tmp_path):
    p, sim, _ = built(name, build_once)
    x, func = eb.random_inputs(p, 2000, seed=5)
    check_bench(sim, eb.bench_config(p, x, func, in_stall=0.5, out_stall=0.5, seed=11), tmp_path)


@pytest.mark.parametrize("name", marked(DESIGNS))
def test_reset_midstream(name, build_once, tmp_path):
    p, sim, _ = built(name, build_once)
    x, func = eb.random_inputs(p, 400, seed=3)
    check_bench(sim, eb.bench_config(p, x, func, in_stall=0.2, out_stall=0.3), tmp_path,
                "test_reset_midstream")


@pytest.mark.parametrize("name", marked([n for n in DESIGNS if DESIGNS[n][1] == "ecp5"]))
def test_the_simulated_netlist_is_the_packed_one(name, build_once):
    """The ECP5 netlist simulated has registered MULT18X18D blocks (and DP16KD output registers
    where the engine has block RAM): the pass' work is what runs."""
    _, _, text = built(name, build_once)
    if DESIGNS[name][2] == "all":
        assert text.count('.REG_OUTPUT_CLK("CLK0")') == text.count("MULT18X18D #(") == 2
        assert text.count('.REG_INPUTA_CLK("CLK0")') == 2
    if DESIGNS[name][0] == "s16" and DESIGNS[name][2] == "all":
        assert text.count('.REGMODE_A("OUTREG")') == text.count("DP16KD #(") == 2


@pytest.mark.slow
def test_a_bench_failure_on_the_netlist_names_the_beat(build_once, tmp_path):
    """The netlist bench can fail: a corrupted expectation is reported."""
    p, sim, _ = built("s8-ecp5-all", build_once)
    x, func = eb.exhaustive_inputs(p)
    r = eb.run_bench(sim, eb.bench_config(p, x, func, corrupt_beat=9), tmp_path)
    assert (r.tests, r.failures) == (1, 1) and "beat 9:" in eb.first_failure(r.log)


def test_unsupported_target_is_a_params_error():
    from nlihw.errors import ParamsError
    with pytest.raises(ParamsError, match="xcup"):
        gate_netlist.netlist_verilog("module t; endmodule", "t", "xcup")


ROM = """
module r(input clk, input en, input en2, input [9:0] addr, output [15:0] q);
  reg [15:0] mem [0:1023];
  reg [15:0] d, dr;
  integer i;
  initial for (i = 0; i < 1024; i = i + 1) mem[i] = (i * 40503) ^ (i >> 3);
  always @(posedge clk) if (en) d <= mem[addr];
  always @(posedge clk) if (en2) dr <= d;
  assign q = dr;
endmodule
"""


def rom_model(steps: list[dict]) -> list[list[int]]:
    """The ROM above, cycle by cycle (read register on en, output register on en2)."""
    mem = [((i * 40503) ^ (i >> 3)) & 0xffff for i in range(1024)]
    d = dr = 0
    out = []
    for s in steps:
        out.append([dr])
        d, dr = (mem[s["addr"]] if s["en"] else d), (d if s["en2"] else dr)
    return out


@pytest.mark.parametrize("pack", [True, pytest.param(False, marks=pytest.mark.slow)],
                         ids=["packed", "unpacked"])
def test_block_ram_output_register_simulated(pack, tmp_path):
    """A DP16KD read with a separately enabled data register behind it: the packed netlist (OUTREG,
    OCE from the register's enable) and yosys' own (NOREG, the register in the fabric) on a random
    stimulus equal a Python model of the RTL every cycle (DP16KD model: contents, read latch,
    output register)."""
    import random

    from nlihw.sim.netlist.trace import run_trace
    rng = random.Random(4)
    steps = [{"en": int(rng.random() < 0.7), "en2": int(rng.random() < 0.6),
              "addr": rng.randrange(1024)} for _ in range(500)]
    want = rom_model(steps)
    text = gate_netlist.netlist_verilog(ROM, "r", "ecp5", pack=pack, timeout=300)
    assert text.count("DP16KD #(") == 1 and (text.count('.REGMODE_A("OUTREG")') == 1) is pack
    f = gate_netlist.write_sim_verilog(ROM, "r", "ecp5", tmp_path / "r.v", pack=pack, timeout=300)
    got = run_trace(runner.build(f, "r", timeout=600), steps, ["q"], tmp_path / "run")
    assert len({w[0] for w in want}) > 200
    bad = next((k for k, (g, w) in enumerate(zip(got, want)) if g != w), None)
    assert bad is None, f"cycle {bad}: got {got[bad]}, expected {want[bad]} ({steps[bad]})"
