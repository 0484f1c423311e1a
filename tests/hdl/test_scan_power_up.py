"""Only valid bits, counters and flags need a reset: the scan unit is right with every other
register at a random power-up value (an ASIC's flip-flops, an FPGA flow that drops initial values).

The emitted Verilog gives every register an initializer; this test deletes them all, so Verilator
(``--x-initial unique``, ``+verilator+rand+reset+2``) starts each register at a random value, and
the bench's reset pulse sets only those that have a reset. The reset-less data registers
(``hdl/common/data_register.py``) must never be read before they are written.
"""
import re

import pytest

from nlihw.hdl.scan.params import preset
from nlihw.sim.common.runner import first_failure
from nlihw.sim.scan import bench as sb
from tests.support.sv_tools import RAND_RESET, X_ARGS

# a register declaration with its initializer; yosys's time-zero trigger for always @* is kept
_INIT = re.compile(r"^(\s*reg\s+(?:\[[^\]]*\]\s*)?(?!\\\$auto\$verilog_backend)\S+)\s*=\s*[^;]+;", re.M)


def strip_initializers(text: str) -> str:
    out, n = _INIT.subn(r"\1 ;", text)   # the space ends an escaped name
    assert n > 100, f"only {n} register initializers found: has the Verilog backend changed?"
    return out


def test_strip_initializers_keeps_declarations():
    text = ("  reg [7:0] a = 8'h05;\n  reg b = 1'h0;\n  reg \\$auto$verilog_backend.cc:1$2 = 0;\n"
            "  reg [3:0] mem [0:7];\n  wire [3:0] w = a[3:0];\n") * 60
    got = _INIT.sub(r"\1 ;", text)
    assert "  reg [7:0] a ;\n  reg b ;\n  reg \\$auto$verilog_backend.cc:1$2 = 0;\n" in got
    assert "wire [3:0] w = a[3:0];" in got and "reg [3:0] mem [0:7];" in got


@pytest.fixture(scope="module")
def random_power_up(tmp_path_factory):
    """int8, P = 2 of N = 4, every register point, credit back-pressure, built from the Verilog
    without initializers."""
    p = preset("int8", d_inner=6, d_state=4, lanes=2, pipeline="all", engine_pipeline="all",
               backpressure="credit", top_name="scan_power_up")
    out = tmp_path_factory.mktemp("power_up")
    return p, sb.build_scan(p, out, edit=strip_initializers, extra_args=X_ARGS)


# a Verilator build of its own (about a minute): `make test-all`
@pytest.mark.slow
@pytest.mark.parametrize("test, stall", [("test_stream", 0.4), ("test_reset_midrun", 0.3)])
def test_random_power_up_values(random_power_up, tmp_path, test, stall):
    p, sim = random_power_up
    s = sb.draw(p, 10, seed=9, starts=(0, 6))
    r = sb.run_bench(sim, sb.bench_config(s, stall=stall, seed=5), tmp_path, test,
                     plusargs=RAND_RESET, timeout=300)
    assert r.tests == 1, f"the cocotb test did not run (see {r.log})"
    assert r.failures == 0, f"{test}: {first_failure(r.log)} (log {r.log})"
