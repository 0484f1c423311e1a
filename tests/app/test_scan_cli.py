"""``nlihw scan``: generation (deterministic bytes, manifest, core), errors, the error budget, and
params serialization."""
import json

import pytest

from nlihw.cli import main
from nlihw.errors import ParamsError
from nlihw.hdl.scan.params import ScanParams, preset
from nlihw.hdl.scan.unit import latency

SMALL = ["--preset", "int8", "--d-inner", "2", "--d-state", "4", "--lanes", "2"]


def test_gen_is_deterministic_and_complete(tmp_path, capsys):
    assert main(["scan", "gen", *SMALL, "-o", str(tmp_path / "a")]) == 0
    assert main(["scan", "gen", *SMALL, "-o", str(tmp_path / "b")]) == 0
    names = sorted(q.name for q in (tmp_path / "a").iterdir())
    assert names == sorted(["selective_scan.v", "selective_scan.sv", "selective_scan.manifest.json",
                            "selective_scan.f", "selective_scan.vlt", "selective_scan.core"])
    for n in names:
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes(), n
    man = json.loads((tmp_path / "a" / "selective_scan.manifest.json").read_text())
    p = ScanParams.from_dict(man["params"])
    assert p == preset("int8", d_inner=2, d_state=4, lanes=2) and man["params_digest"] == p.digest()
    assert man["latency"] == latency(p) == sum(man["pipeline"].values())
    assert man["cycles_per_channel"] == 2 and str(tmp_path) not in json.dumps(man)
    widths = {q["name"]: q["width"] for q in man["ports"]}
    # u (s4.4) + delta (s4.4) + z (s4.4) + first; B and C: 4 x 8 bits each; out (s5.3), overflow, clamped
    assert widths["i__payload"] == 8 + 8 + 8 + 1 and widths["bc__payload"] == 64 and widths["o__payload"] == 10
    core = (tmp_path / "a" / "selective_scan.core").read_text()
    assert 'name: "nlihw:scan:selective_scan:' in core and "selective_scan.sv" in core
    assert "latency 30" in capsys.readouterr().out


def test_multipliers_are_recorded_and_change_only_the_netlist(tmp_path, capsys):
    assert main(["scan", "gen", *SMALL, "--multipliers", "ecp5/8", "-o", str(tmp_path / "m")]) == 0
    assert main(["scan", "gen", *SMALL, "-o", str(tmp_path / "i")]) == 0
    man = {k: json.loads((tmp_path / k / "selective_scan.manifest.json").read_text()) for k in "mi"}
    assert man["m"]["params"]["multipliers"] == "18x18u/8" and "multipliers" not in man["i"]["params"]
    assert man["m"]["latency"] == man["i"]["latency"] and man["m"]["ports"] == man["i"]["ports"]
    assert "multipliers 18x18u/8" in capsys.readouterr().out
    v = {k: (tmp_path / k / "selective_scan.v").read_text() for k in "mi"}
    assert v["m"] != v["i"]


@pytest.mark.parametrize("args,message", [
    (["--lanes", "3"], "lanes must be a power of two"),
    (["--d-state", "4", "--lanes", "8"], "lanes must divide d_state"),
    (["--d-inner", "0"], "d_inner must be a positive integer"),
    (["--mode", "mamba2", "--d-inner", "6", "--headdim", "4"], "headdim must divide d_inner"),
    (["--headdim", "2"], "--headdim applies to --mode mamba2"),
    (["--format", "state_fmt=q9"], "bad number format"),
    (["--format", "nope=s4.4"], "--format must be FIELD=FMT"),
    (["--format", "state_fmt=u6.10"], "state_fmt must be signed"),
    (["--table", "exp=/nonexistent.json"], "cannot read"),
    (["--top", "module"], "not a keyword"),
    (["--multipliers", "18y18"], "multipliers: expected infer, AxB"),
    (["--multipliers", "18x18/"], "the fabric width after '/' must be an integer"),
])
def test_bad_parameters_give_one_line(args, message, tmp_path, capsys):
    assert main(["scan", "gen", "--preset", "int8", "--d-inner", "2", "--d-state", "4", *args,
                 "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_error_budget_table(capsys):
    assert main(["scan", "error", "--preset", "int8", "--d-inner", "4", "--d-state", "4",
                 "--tokens", "64"]) == 0
    out = capsys.readouterr().out
    for row in ("bit-exact golden model", "exact softplus table", "exact exp table", "exact SiLU table",
                "exact internal precision", "I/O quantization only"):
        assert row in out


def test_params_round_trip_and_validation():
    p = preset("int16", d_inner=4, d_state=4, lanes=2, mode="mamba2", headdim=2)
    assert ScanParams.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    assert hash(p) == hash(ScanParams.from_dict(p.to_dict()))
    assert p.replace(lanes=4).digest() != p.digest()
    assert p.dt_fmt == p.softplus.layout.out_fmt and p.z_fmt == p.silu.layout.in_fmt
    with pytest.raises(ParamsError, match="need unsigned outputs"):
        p.replace(exp=p.silu)
    with pytest.raises(ParamsError, match="scan params"):
        ScanParams.from_dict({"d_inner": 1})


@pytest.mark.slow
def test_synth_works_on_the_scan_output(tmp_path, monkeypatch, capsys):
    """`nlihw synth DIR` reads the scan's manifest like the engine's and reports its resources."""
    monkeypatch.setenv("NLIHW_CACHE", str(tmp_path / "cache"))
    assert main(["scan", "gen", *SMALL, "-o", str(tmp_path / "scan")]) == 0
    assert main(["synth", str(tmp_path / "scan"), "-t", "xcup"]) == 0
    rep = json.loads((tmp_path / "scan" / "synth" / "xcup.json").read_text())
    assert rep["top"] == "selective_scan" and rep["params"]["d_state"] == 4
    f = rep["figures"]
    assert f["dsp48e2"] >= 2 and f["ff"] > 100 and f["lut"] > 100    # multipliers, pipeline, logic
