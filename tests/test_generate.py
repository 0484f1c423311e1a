"""Engine params, deterministic generation and the gen / sim commands as a user runs them."""
import json

import pytest

from nlihw.cli import main
from nlihw.errors import ParamsError
from nlihw.hdl.generate import generate
from nlihw.hdl.params import NLIEngineParams
from engine_points import params, table


def test_params_validation_and_serialization():
    p = params("s8-M9-K8-binary-ram-2func")
    back = NLIEngineParams.from_dict(json.loads(json.dumps(p.to_dict())))
    assert back == p and hash(back) == hash(p) and back.digest() == p.digest()
    assert back.latency == 4 + 6        # binary search over M=9: ceil(log2(10)) stages
    assert params("s8-M2-K1-parallel-rom").latency == 7
    t = p.tables[0]
    for kw, msg in [(dict(arch="tree"), "arch"), (dict(lanes=0), "lanes"), (dict(storage="flash"), "storage"),
                    (dict(top_name="a b"), "top_name"), (dict(tables=()), "at least one")]:
        with pytest.raises(ParamsError, match=msg):
            NLIEngineParams(**{"tables": (t,), **kw})
    other = table("silu", "s4.4", "s4.4", 2, 1)
    with pytest.raises(ParamsError, match="in_fmt s4.4 vs s3.5"):
        NLIEngineParams((t, other))


def test_config_writes_cover_every_field_once():
    p = params("s8-M9-K8-binary-ram-2func")
    w = p.config_writes(1, p.tables[1])
    lay = p.layout
    assert len(w) == lay.n_values + lay.M + 2 * (lay.M - 1) + 2
    addrs = [a for a, _ in w]
    assert len(set(addrs)) == len(addrs) and min(addrs) == p.config_stride
    assert max(addrs) < 2 * p.config_stride <= 2 ** p.config_addr_bits
    assert all(0 <= d < 2 ** p.config_data_bits for _, d in w)


@pytest.mark.parametrize("name", ["s8-M9-K8-binary-ram-2func", "s12-M17-K32-parallel-4lane-pow2"])
def test_generation_is_byte_identical(name, tmp_path):
    p = params(name)
    a = generate(p, tmp_path / "a")
    b = generate(params(name), tmp_path / "b")
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].read_bytes() == b[k].read_bytes(), k
    man = json.loads(a["manifest"].read_text())
    assert man["latency"] == p.latency and man["params_digest"] == p.digest()
    assert {q["name"] for q in man["ports"]} >= {"clk", "rst", "i__payload", "o__payload"}
    text = a["verilog"].read_text()
    for port in man["ports"]:
        width = f"[{port['width'] - 1}:0] " if port["width"] > 1 else ""
        assert f"{port['direction']} {width}{port['name']};" in text
    assert str(tmp_path) not in text


def test_gen_and_sim_commands(tmp_path, capsys):
    t = table("silu", "s3.5", "s2.6", 9, 8)
    tp = tmp_path / "silu.json"
    t.save(tp)
    assert main(["gen", "--table", str(tp), "--storage", "ram", "--top", "act", "-o", str(tmp_path / "rtl")]) == 0
    assert (tmp_path / "rtl" / "act.v").exists() and (tmp_path / "rtl" / "act_even.hex").exists()
    assert "latency 7 cycles" in capsys.readouterr().out
    assert main(["sim", "--table", str(tp), "--stall", "0.5", "--workdir", str(tmp_path / "w")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PASS: 256 beats") and "cycles/s" in out


@pytest.mark.parametrize("args, msg", [
    (["--table", "missing.json"], "cannot read"),
    (["--lanes", "0"], "lanes must be"),
    (["--stall", "1.5"], "--stall must be"),
])
def test_sim_and_gen_errors(tmp_path, capsys, args, msg):
    t = table("silu", "s3.5", "s2.6", 9, 8)
    t.save(tmp_path / "t.json")
    base = [] if args[0] == "--table" else ["--table", str(tmp_path / "t.json")]
    cmd = "gen" if "--stall" not in args else "sim"
    extra = ["-o", str(tmp_path / "out")] if cmd == "gen" else []
    assert main([cmd, *base, *args, *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and msg in err
    assert not (tmp_path / "out").exists()
