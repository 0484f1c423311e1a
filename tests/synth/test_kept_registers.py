"""Register copies the RTL marks keep (``Signal(attrs={"keep": 1})``, the scan unit's
``state_copy``) survive the place-and-route targets' yosys flow (``driver.with_kept_registers``):
without the step, yosys merges registers with the same input into one."""
from __future__ import annotations

import json

from amaranth.back import verilog
from amaranth.hdl import Module, Signal

from nlihw.synth import tools
from nlihw.synth.driver import KEEP_STEP, with_kept_registers
from nlihw.synth.targets import TARGETS


def _copies_design(keep: bool) -> str:
    """Two 8-bit registers loaded from the same input, each read by its own product."""
    m = Module()
    a, b, c = Signal(8), Signal(8), Signal(8)
    p, q = Signal(16), Signal(16)
    attrs = {"keep": 1} if keep else {}
    x0, x1 = Signal(8, attrs=attrs), Signal(8, attrs=attrs)
    m.d.sync += [x0.eq(a), x1.eq(a)]
    m.d.comb += [p.eq(x0 * b), q.eq(x1 * c)]
    return verilog.convert(m, ports=[a, b, c, p, q], emit_src=False)


def _flip_flops(tmp_path, verilog_text: str, script: str) -> int:
    (tmp_path / "t.v").write_text(verilog_text)
    text = (script.replace("{verilog}", "t.v").replace("{top}", "top").replace("{json}", "t.json")
            .replace("{stat}", "stat.json"))
    (tmp_path / "s.ys").write_text(text)
    fail = tools.run("yosys", ["-q", "-s", "s.ys"], tmp_path, tmp_path / "yosys.log")
    assert fail is None, (tmp_path / "yosys.log").read_text()[-2000:]
    cells = json.loads((tmp_path / "stat.json").read_text())["modules"]["\\top"]["num_cells_by_type"]
    return cells.get("TRELLIS_FF", 0)


def test_keep_marked_copies_stay_two_registers_on_ecp5(tmp_path):
    script = TARGETS["ecp5"].script_text()
    kept = _copies_design(keep=True)
    assert with_kept_registers(script, kept.encode()) != script
    assert _flip_flops(tmp_path, kept, with_kept_registers(script, kept.encode())) == 16
    assert _flip_flops(tmp_path, kept, script) == 8              # what the step prevents


def test_designs_without_the_mark_keep_their_script():
    script = TARGETS["ecp5"].script_text()
    plain = _copies_design(keep=False).encode()
    assert with_kept_registers(script, plain) == script
    assert KEEP_STEP in with_kept_registers(script, _copies_design(keep=True).encode())
