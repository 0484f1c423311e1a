"""yosys 0.70's abc9 sometimes stops at an internal assertion while reading its mapping back (seen
on the P = 4 scan unit's timing harness); the driver then maps once more with abc for the LUTs and
says so in the report. Other failures are reported as before."""
import json
from pathlib import Path

import pytest

from nlihw.hdl.nli.generate import emit_verilog
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.synth import driver, tools
from nlihw.synth.targets import TARGETS
from tests.support.engine_points import table

CRASH_LOG = """5.46.18.6. Executing AIGER frontend.
Removed 116535 unused cells and 156616 unused wires.

5.46.18.7. Executing ABC_OPS_REINTEGRATE pass (reintegrate ABC mapped design into module).
ERROR: Assert `GetSize(conn.first) == GetSize(conn.second)' failed in kernel/rtlil.cc:3091.
"""
OTHER_LOG = """3. Executing HIERARCHY pass (managing design hierarchy).
ERROR: Module `missing' referenced in module `top' in cell `u' is not part of the design.
"""
SCRIPT = "read_verilog -sv d.v\nhierarchy -check -top top\nproc\nsynth_ecp5 -top top -json d.json\n"


def fake_yosys(monkeypatch, first_log: str, second_ok: bool = True):
    """tools.run stand-in: the first run fails with ``first_log``; later runs succeed (or not)."""
    scripts = []

    def run(tool, args, cwd, console_log):
        tag = args[args.index("-l") + 1][:-len(".log")]
        scripts.append((Path(cwd) / f"{tag}.ys").read_text())
        log = Path(cwd) / f"{tag}.log"
        if len(scripts) == 1:
            log.write_text(first_log)
            return tools.Failure("yosys", 1, log)
        log.write_text("End of script.\n")
        return None if second_ok else tools.Failure("yosys", 1, log)
    monkeypatch.setattr(driver.tools, "run", run)
    return scripts


def test_abc9_crash_is_mapped_again_with_abc(monkeypatch, tmp_path):
    scripts = fake_yosys(monkeypatch, CRASH_LOG)
    driver._yosys(tmp_path, "harness", SCRIPT, "synthesizing the timing harness", None, "ecp5")
    assert len(scripts) == 2
    assert "synth_ecp5 -top top -json d.json -run :map_luts\n" in scripts[1]
    assert "\nabc -lut 4\n" in scripts[1] and "synth_ecp5 -top top -json d.json -run map_cells:\n" in scripts[1]
    assert (tmp_path / "harness.noabc9").is_file()
    assert (tmp_path / "harness.abc9.log").read_text() == CRASH_LOG      # the crash kept to report


def test_other_failures_are_not_retried(monkeypatch, tmp_path):
    scripts = fake_yosys(monkeypatch, OTHER_LOG)
    with pytest.raises(driver._Failed):
        driver._yosys(tmp_path, "yosys", SCRIPT, "synthesizing top", None, "ecp5")
    assert len(scripts) == 1 and not list(tmp_path.glob("*.noabc9"))


def test_a_second_failure_is_reported(monkeypatch, tmp_path):
    scripts = fake_yosys(monkeypatch, CRASH_LOG, second_ok=False)
    with pytest.raises(driver._Failed):
        driver._yosys(tmp_path, "yosys", SCRIPT, "synthesizing top", None, "ecp5")
    assert len(scripts) == 2 and not list(tmp_path.glob("*.noabc9"))


@pytest.mark.parametrize("log, crashed", [(CRASH_LOG, True), (OTHER_LOG, False), ("", False)])
def test_abc9_crashed(tmp_path, log, crashed):
    path = tmp_path / "y.log"
    path.write_text(log)
    assert driver.abc9_crashed(path) is crashed
    assert driver.abc9_crashed(tmp_path / "absent.log") is False


@pytest.mark.timeout(300)
def test_the_abc_script_maps_an_engine(tmp_path):
    """The rewritten ECP5 script runs on yosys: every cell mapped, the multipliers in MULT18X18D."""
    p = NLIEngineParams((table("silu", "s4.4", "s4.4", 9, 8),), pipeline="all")
    (tmp_path / "d.v").write_text(emit_verilog(p))
    script = driver._subst(TARGETS["ecp5"].script_text(), verilog="d.v", top=p.top_name,
                           json="d.json", stat="d.stat.json")
    driver._yosys(tmp_path, "abc", driver._ABC9_FLOW.sub(driver._with_abc, script), "mapping", None, "ecp5")
    cells = json.loads((tmp_path / "d.stat.json").read_text())["design"]["num_cells_by_type"]
    assert cells.get("LUT4", 0) > 50 and cells.get("MULT18X18D") == 2, cells
    assert not [c for c in cells if c.startswith("$") and c != "$scopeinfo"], cells
    log = (tmp_path / "abc.log").read_text()
    assert "Executing ABC pass" in log and "Executing ABC9 pass" not in log
