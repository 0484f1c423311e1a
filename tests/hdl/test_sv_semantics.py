"""The generated HDL is right from time zero under both Verilog-2005 and SystemVerilog semantics.

yosys prints Amaranth's combinational processes as ``always @*`` blocks, which only run on an input
event. ``<top>.v`` gets that event at time zero from a register initializer (a Verilog-2005 event,
which SystemVerilog runs before any process starts: no event, the block's outputs stay X until an
input changes; Icarus 11 ``-g2012`` shows the ram engine's outputs X forever). ``<top>.sv`` prints
the same netlist with ``always_comb`` (which IEEE 1800 runs once at time zero) and ``always_ff``.

Verilator settles all combinational logic at start-up under either file, so it cannot show the
missing event itself; these tests check the property structurally on the text, and run the ``.sv``
on Verilator from power-up (no reset pulse) with every variable that has no initializer randomized
(``--x-initial unique``, ``--x-assign unique``, ``+verilator+rand+reset+2``), against the golden model.
"""
import re

import pytest

from nlihw.hdl.nli.generate import generate
from nlihw.sim.common.lint import lint
from nlihw.sim.nli import bench as eb
from tests.support.engine_points import POINTS, params
from tests.support.sv_tools import RAND_RESET, X_ARGS

TRIGGER = "$auto$verilog_backend"


def always_blocks(text):
    """(keyword, event control or '', first statement) of every always* block."""
    pat = re.compile(r"\b(always(?:_comb|_ff|_latch)?)\b\s*(@\s*(?:\*|\([^)]*\)))?\s*(begin\s*\n)?\s*([^\n]*)")
    return [(m.group(1), re.sub(r"\s+", "", m.group(2) or ""), m.group(4).strip()) for m in pat.finditer(text)]


@pytest.mark.parametrize("name", list(POINTS))
def test_sv_twin_has_no_event_dependent_logic(name, tmp_path):
    paths = generate(params(name), tmp_path)
    v, sv = paths["verilog"].read_text(), paths["systemverilog"].read_text()
    comb_v = [b for b in always_blocks(v) if b[1] == "@*"]
    assert comb_v, "the design point should have combinational processes"
    # Verilog-2005 file: every always @* block reads the time-zero trigger first
    assert all(TRIGGER in first for _, _, first in comb_v)
    assert all(b[1] in ("@*", "@(posedgeclk)") for b in always_blocks(v))
    # SystemVerilog file: the same blocks as always_comb, registers as always_ff on the clock
    blocks = always_blocks(sv)
    assert [b for b in blocks if b[0] == "always_comb"] and TRIGGER not in sv
    assert sum(b[0] == "always_comb" for b in blocks) == len(comb_v)
    for kind, event, _ in blocks:
        assert (kind, event) in (("always_comb", ""), ("always_ff", "@(posedgeclk)")), (kind, event)
    # the two files declare the same module and ports
    heads = [re.findall(r"^module .*$", t, re.M) for t in (v, sv)]
    assert heads[0] == heads[1]


# each a Verilator build of the .sv twin of its own: `make test-all` (the fast suite keeps the
# static check that the twin has no event-dependent logic)
@pytest.mark.slow
@pytest.mark.parametrize("name", ["s8-M9-K8-binary-ram-2func",      # the case Icarus -g2012 shows X
                                  "s8-M9-K8-parallel-3func-tozero"])
def test_sv_twin_from_power_up_on_verilator(name, tmp_path):
    p = params(name)
    sim = eb.build_engine(p, tmp_path / "rtl", hdl="systemverilog", extra_args=X_ARGS)
    assert lint(tmp_path / "rtl" / f"{p.top_name}.sv", p.top_name) == []
    x, func = eb.exhaustive_inputs(p, seed=4)
    for test in ("test_power_up", "test_stream"):
        r = eb.run_bench(sim, eb.bench_config(p, x, func, out_stall=0.2, seed=3), tmp_path / test, test,
                         plusargs=RAND_RESET, timeout=300)
        assert r.tests == 1, f"the cocotb test did not run (see {r.log})"
        assert r.failures == 0, f"{test}: {eb.first_failure(r.log)} (log {r.log})"
