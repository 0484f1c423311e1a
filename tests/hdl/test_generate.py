"""Engine params, deterministic generation and the gen / sim commands as a user runs them."""
import json
import os
import shlex
import tempfile
from types import SimpleNamespace

import pytest
import yaml

from nlihw.atomic import OutputError
from nlihw.cli import main
from nlihw.errors import ParamsError
from nlihw.hdl.nli import generate as gen_mod
from nlihw.hdl.nli.generate import generate
from nlihw.hdl.nli.params import NLIEngineParams
from nlihw.luts.default_tables import shipped_dir
from nlihw.sim.common import runner
from nlihw.sim.nli import bench as eb
from tests.support.engine_points import params, table

SILU = ("silu", "s3.5", "s2.6", 9, 8)
SILU_KW = dict(domain=(-4, 2))


def exit_code(fn, *args):
    """The command's exit code, returned or raised as SystemExit."""
    try:
        return fn(*args)
    except SystemExit as e:
        return e.code


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


def test_gen_and_sim_commands(tmp_path, capsys, monkeypatch):
    t = table(*SILU, **SILU_KW)
    tp = tmp_path / "silu.json"
    t.save(tp)
    assert main(["gen", "--table", str(tp), "--storage", "ram", "--top", "act", "-o", str(tmp_path / "rtl")]) == 0
    assert (tmp_path / "rtl" / "act.v").exists() and (tmp_path / "rtl" / "act_even.hex").exists()
    assert "latency 7 cycles" in capsys.readouterr().out
    # without --workdir the run directory lives in TMPDIR and is removed afterwards
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    assert main(["sim", "--table", str(tp), "--stall", "0.5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PASS: 256 beats") and "cycles/s" in out
    assert os.listdir(tmp) == []
    # with --workdir it is kept, and the output says where
    assert main(["sim", "--table", str(tp), "--workdir", str(tmp_path / "w")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PASS: 256 beats") and str(tmp_path / "w") in out
    assert (tmp_path / "w" / "run" / "sim.log").exists()
    assert os.listdir(tmp) == []


@pytest.mark.parametrize("waves, ok", [(True, True), (False, False)])
def test_sim_keeps_the_temporary_directory_only_for_waves(tmp_path, capsys, monkeypatch, waves, ok):
    """--waves keeps the run directory and prints it; otherwise it goes, on failure too."""
    t = table(*SILU, **SILU_KW)
    t.save(tmp_path / "t.json")
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    seen = {}

    def fake_build(p, outdir, waves=False, build_root=None):
        seen["work"] = outdir.parent
        outdir.mkdir(parents=True)
        return runner.BuiltSim("nli_engine", outdir, waves, "vcd" if waves else "")

    def fake_run(sim, cfg, workdir, test="test_stream"):
        workdir.mkdir(parents=True)
        (workdir / "sim.log").write_text("")
        return eb.BenchResult(1, 0 if ok else 1, len(cfg["inputs"]), 0.1, workdir / "sim.log")

    monkeypatch.setattr(eb, "build_engine", fake_build)
    monkeypatch.setattr(eb, "run_bench", fake_run)
    args = ["sim", "--table", str(tmp_path / "t.json")] + (["--waves"] if waves else [])
    assert exit_code(main, args) == (0 if ok else 1)
    out = capsys.readouterr().out
    assert seen["work"].parent == tmp
    if waves:
        assert os.listdir(tmp) == [seen["work"].name] and str(seen["work"]) in out
    else:
        assert os.listdir(tmp) == []


@pytest.mark.parametrize("args, msg", [
    (["--table", "missing.json"], "cannot read"),
    (["--lanes", "0"], "lanes must be"),
    (["--stall", "1.5"], "--stall must be"),
])
def test_sim_and_gen_errors(tmp_path, capsys, args, msg):
    t = table(*SILU, **SILU_KW)
    t.save(tmp_path / "t.json")
    base = [] if args[0] == "--table" else ["--table", str(tmp_path / "t.json")]
    cmd = "gen" if "--stall" not in args else "sim"
    extra = ["-o", str(tmp_path / "out")] if cmd == "gen" else []
    assert main([cmd, *base, *args, *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and msg in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["module", "wire", "reg", "input", "output", "logic", "begin", "end",
                                  "always", "assign", "always_comb", "endmodule", "interface", "bit",
                                  "int", "uwire", "config", "unique0", "s_until_with", "nettype"])
def test_top_name_keywords_are_refused(name, tmp_path, capsys):
    t = params("s8-M2-K1-parallel-rom").tables[0]
    with pytest.raises(ParamsError, match="keyword"):
        NLIEngineParams((t,), top_name=name)
    NLIEngineParams((t,), top_name=name.capitalize())      # keywords are case-sensitive
    t.save(tmp_path / "t.json")
    assert main(["gen", "--table", str(tmp_path / "t.json"), "--top", name, "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "keyword" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", ["act\n", "a-b", "1abc", "", "a$b", "\\escaped"])
def test_top_name_must_be_a_plain_identifier(name):
    t = params("s8-M2-K1-parallel-rom").tables[0]
    with pytest.raises(ParamsError, match="identifier"):
        NLIEngineParams((t,), top_name=name)


EVIL = ['x"\nname: evil', "a: b\n  injected: 1", "# comment", "tab\there", "back\\slash",
        "\u00e9\u2028\U0001f600\x85\x7f\x00", "- item", "{a: b}", "'q'"]


def test_core_quotes_every_value_from_params():
    """Function names with newlines, quotes, ': ' or control characters stay inside their scalar."""
    fake = SimpleNamespace(top_name="act", latency=9, digest=lambda: "ab" * 32, storage="ram",
                           tables=[SimpleNamespace(function=f) for f in EVIL])
    names = gen_mod.output_names(fake)
    core = gen_mod._core(fake, names, None, None)
    assert core.isascii()
    doc = yaml.safe_load(core)
    assert set(doc) == {"CAPI=2", "name", "description", "filesets", "targets"}
    assert doc["name"] == f"nlihw:nli:act:{gen_mod.core_version()}.{0xabababab}"
    assert doc["description"].startswith(f"NLI engine ({', '.join(EVIL)}), latency 9")
    assert doc["filesets"]["rtl"] == {"files": ["act.sv"], "file_type": "systemVerilogSource"}
    assert doc["filesets"]["waivers"] == {"files": ["act.vlt"], "file_type": "vlt"}
    assert doc["filesets"]["tables"]["files"] == [
        {"act_even.hex": {"file_type": "user", "copyto": "act_even.hex"}},
        {"act_odd.hex": {"file_type": "user", "copyto": "act_odd.hex"}}]
    assert doc["targets"]["lint"]["toplevel"] == "act" == doc["targets"]["default"]["toplevel"]


def test_yaml_str_round_trips_every_character_class():
    for s in EVIL + ["".join(chr(c) for c in range(0, 0x300)), "\ud7ff\ue000\uffff\U0010ffff"]:
        assert yaml.safe_load(f"k: {gen_mod.yaml_str(s)}\n") == {"k": s}


def test_core_version_is_a_release_version(tmp_path):
    p = params("s8-M2-K1-parallel-rom")
    doc = yaml.safe_load(generate(p, tmp_path)["core"].read_text())
    vendor, lib, name, version = doc["name"].split(":")
    assert (vendor, lib, name) == ("nlihw", "nli", "nli_engine")
    release, tag = version.rsplit(".", 1)
    assert all(part.isdigit() for part in release.split(".")) and len(release.split(".")) == 3
    assert tag == str(int(p.digest()[:8], 16))            # the params digest tells designs apart
    assert p.digest() in doc["description"]


def test_generate_writes_nothing_when_one_output_cannot_be_written(tmp_path, capsys):
    p = params("s8-M9-K8-binary-ram-2func", top="act")
    out = tmp_path / "rtl"
    (out / "act.core").mkdir(parents=True)          # the core's destination is a directory
    with pytest.raises(OutputError, match="act.core"):
        generate(p, out)
    assert os.listdir(out) == ["act.core"]
    t = tmp_path / "t.json"
    p.tables[0].save(t)
    assert main(["gen", "--table", str(t), "--top", "act", "-o", str(out)]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert os.listdir(out) == ["act.core"]


def test_the_help_example_runs_with_the_shipped_tables(tmp_path, capsys, monkeypatch):
    """The exact command in ``nlihw gen --help``, run from a copy of the repository layout."""
    assert exit_code(main, ["gen", "--help"]) in (0, None)
    lines = [ln.strip() for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("nlihw gen ")]
    assert len(lines) == 1
    argv = shlex.split(lines[0])
    assert argv[:2] == ["nlihw", "gen"] and argv.count("--table") >= 2
    monkeypatch.chdir(tmp_path)
    (tmp_path / "luts").mkdir()
    (tmp_path / "luts" / "tables").symlink_to(shipped_dir())
    assert main(argv[1:]) == 0, capsys.readouterr().err
    outdir = tmp_path / argv[argv.index("-o") + 1]
    man = json.loads((outdir / "nli_engine.manifest.json").read_text())
    assert len(man["functions"]) == argv.count("--table")


def test_interpolation_difference_width():
    """rom tables: y1 - y0 gets just the signed bits of the largest adjacent difference (found here
    by brute force over the stored values); reloadable tables keep the format's full width."""
    from nlihw.luts.default_tables import shipped_table
    for names in (("silu_M11_K32",), ("silu_M11_K32", "gelu_M11_K32"), ("silu_M17_K1",)):
        tabs = tuple(shipped_table(n) for n in names)
        big = max(abs(t.values[k + 1] - t.values[k]) for t in tabs for k in range(len(t.values) - 1))
        bits = next(b for b in range(1, 64) if -(1 << (b - 1)) <= -big and big <= (1 << (b - 1)) - 1)
        assert NLIEngineParams(tabs).diff_bits == bits
        assert NLIEngineParams(tabs, storage="ram").diff_bits == tabs[0].layout.out_fmt.width + 1


def test_sim_with_products_split_for_a_small_dsp(tmp_path, capsys):
    """--multipliers 6x5/3: the micro-bin and interpolation products split between a 6 x 5 block
    and the fabric, or all fabric; every input code still equals the golden model."""
    t = table(*SILU, **SILU_KW)
    tp = tmp_path / "silu.json"
    t.save(tp)
    assert main(["gen", "--table", str(tp), "--multipliers", "6x5/3", "-o", str(tmp_path / "rtl")]) == 0
    man = json.loads((tmp_path / "rtl" / "nli_engine.manifest.json").read_text())
    assert man["params"]["multipliers"] == "6x5/3"
    assert main(["sim", "--table", str(tp), "--multipliers", "6x5/3", "--stall", "0.3"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("PASS: 256 beats")
