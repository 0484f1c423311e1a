"""nlihw sweep with [[softmax]] and [[norm]] blocks (the row units): spec validation (one error
naming the block and key), the points a block expands into, and small sweeps whose error figures
are recomputed here with float64 numpy from the golden model's outputs, whose cycle counts are the
RTL's own, and whose best-point command regenerates the same unit."""
import itertools
import json
import shlex
import tomllib

import numpy as np
import pytest

from nlihw.cli import main
from nlihw.explore import query, rowop_task, sweep as sw
from nlihw.explore.points import Point
from nlihw.explore.report import build_report
from nlihw.explore.results_io import read_table
from nlihw.explore.spec import SpecError, parse_spec
from nlihw.hdl.rowop.generate import component
from nlihw.hdl.rowop.params import NormParams, SoftmaxParams
from nlihw.sim.rowop.golden import norm_eval, softmax_eval

SYNTH = {"stages": ["fit", "gen", "synth"]}


def error_of(data) -> str:
    with pytest.raises(SpecError) as e:
        parse_spec(data)
    return str(e.value)


# --- spec ---------------------------------------------------------------------------------------
def test_softmax_block_expands_into_its_product():
    s = parse_spec({"softmax": {"preset": ["int8", "int16"], "n_max": [16, 64],
                                "output_mode": ["normalized", "deferred"]}})
    got = sorted((p.design, p.func, p.preset, p.n_max, p.output_mode, p.target) for p in s.points)
    want = sorted(("softmax", "softmax", pr, n, m, "") for pr, n, m in itertools.product(
        ("int8", "int16"), (16, 64), ("normalized", "deferred")))
    assert got == want
    assert len({p.point_id for p in s.points}) == 8


def test_norm_block_defaults_and_kinds():
    s = parse_spec({"norm": {"preset": "int16", "kind": ["rms", "layer"]}})
    assert sorted((p.design, p.func, p.n_max, p.output_mode) for p in s.points) == [
        ("norm", "layernorm", 4096, "normalized"), ("norm", "rmsnorm", 4096, "normalized")]
    one = parse_spec({"norm": {"preset": "int8"}}).points
    assert [(p.func, p.n_max, p.output_mode) for p in one] == [("rmsnorm", 4096, "normalized")]


def test_targets_expand_and_blocks_mix():
    s = parse_spec({"sweep": SYNTH,
                    "softmax": {"preset": "int8", "n_max": 16, "target": ["generic-sram", "xcup"]},
                    "norm": [{"preset": "int8", "n_max": 16, "target": "ecp5"},
                             {"preset": "int16", "kind": "layer", "n_max": 32,
                              "target": "generic-sram"}]})
    assert sorted((p.func, p.preset, p.n_max, p.target) for p in s.points) == [
        ("layernorm", "int16", 32, "generic-sram"), ("rmsnorm", "int8", 16, "ecp5"),
        ("softmax", "int8", 16, "generic-sram"), ("softmax", "int8", 16, "xcup")]


def test_shared_overrides_apply_only_to_keys_a_row_unit_has():
    """--target applies to every block; --lanes and --pipeline (not a row unit's) leave it alone."""
    s = parse_spec({"sweep": SYNTH, "softmax": {"preset": "int8", "n_max": 16}},
                   {"all": {"target": ["xcup"], "lanes": [2], "pipeline": ["all"]}})
    assert [(p.design, p.target, p.lanes, p.pipeline) for p in s.points] == [
        ("softmax", "xcup", None, "")]


def test_normalized_spec_round_trips():
    s = parse_spec({"softmax": {"preset": ["int8", "int16"], "n_max": [16, 64]},
                    "norm": {"preset": "int8", "kind": ["rms", "layer"],
                             "output_mode": "deferred"}})
    again = parse_spec(tomllib.loads(s.to_toml()))
    assert [p.point_id for p in again.points] == [p.point_id for p in s.points]
    assert "[[softmax]]" in s.to_toml() and "[[norm]]" in s.to_toml()


def test_row_unit_fields_change_the_id_and_leave_other_designs_alone():
    base = Point("softmax", ("fit",), func="softmax", preset="int8", n_max=16,
                 output_mode="normalized")
    for field, value in (("n_max", 32), ("output_mode", "deferred"), ("preset", "int16"),
                         ("design", "norm"), ("func", "rmsnorm")):
        assert Point(**{**base.__dict__, field: value}).point_id != base.point_id
    nli = Point("nli", ("fit",), func="silu", in_fmt="s2.6", out_fmt="s2.6", M=3, K=1)
    assert "n_max" not in nli.to_dict() and "output_mode" not in nli.to_dict()
    assert Point.from_dict(base.to_dict()) == base


@pytest.mark.parametrize("data, msg", [
    ({"softmax": {"preset": "int8", "kind": "rms"}}, "softmax.kind: unknown key"),
    ({"norm": {"preset": "int8", "lanes": 2}}, "norm.lanes: unknown key"),
    ({"softmax": {"preset": "int8", "nmax": 16}}, "softmax.nmax: unknown key"),
    ({"softmax": {"n_max": 16}}, "softmax.preset: missing (required)"),
    ({"softmax": {"preset": []}}, "softmax.preset: empty range"),
    ({"softmax": {"preset": "int8", "n_max": []}}, "softmax.n_max: empty range"),
    ({"norm": {"preset": "int8", "kind": []}}, "norm.kind: empty range"),
    ({"norm": {"preset": "int8", "output_mode": []}}, "norm.output_mode: empty range"),
    ({"sweep": SYNTH, "softmax": {"preset": "int8", "target": []}}, "softmax.target: empty range"),
    ({"softmax": {"preset": "int4"}}, "softmax.preset: unknown value 'int4'"),
    ({"norm": {"preset": "int8", "kind": "batch"}}, "norm.kind: unknown value 'batch'"),
    ({"softmax": {"preset": "int8", "output_mode": "lazy"}}, "softmax.output_mode: unknown value"),
    ({"softmax": {"preset": "int8", "n_max": 0}}, "softmax.n_max: 0 is out of range 1..65536"),
    ({"softmax": {"preset": "int8", "n_max": 70000}}, "softmax.n_max: 70000 is out of range"),
    ({"softmax": {"preset": "int8", "n_max": "big"}}, "softmax.n_max: expected an integer"),
    ({"norm": {"preset": "int8", "n_max": [16, 8192]}}, "norm.n_max: n_max=8192 is not exact"),
    ({"norm": {"preset": "int16", "kind": "layer", "n_max": 65536}},
     "norm.n_max: the product (x - mean) * scale * w needs"),
    ({"softmax": {"preset": "int8", "target": "xcup"}},
     "softmax.target: targets given but sweep.stages has no \"synth\""),
    ({"sweep": SYNTH, "norm": {"preset": "int8"}}, "norm.target: missing"),
    ({"sweep": SYNTH, "softmax": {"preset": "int8", "target": "generic"}},
     "softmax.target: row units are synthesized on generic-sram, xcup, ecp5, not 'generic'"),
    ({"sweep": SYNTH, "norm": [{"preset": "int8", "target": "xcup"},
                               {"preset": "int8", "target": "ice40"}]},
     "norm[1].target: row units are synthesized on"),
])
def test_bad_blocks_are_named(data, msg):
    err = error_of(data)
    assert err.startswith(msg) and "\n" not in err


# --- running ------------------------------------------------------------------------------------
def softmax64(x, mask):
    """float64 softmax over the unmasked entries of each row (masked entries 0)."""
    xm = np.where(mask, -np.inf, x)
    e = np.exp(xm - xm.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def norm64(x, w, b, eps, layer):
    """float64 RMSNorm / LayerNorm (biased variance) of each row."""
    if layer:
        c = x - x.mean(axis=1, keepdims=True)
        return c / np.sqrt((c * c).mean(axis=1, keepdims=True) + eps) * w + b
    return x / np.sqrt((x * x).mean(axis=1, keepdims=True) + eps) * w


def unit_outputs(p):
    """(outputs as reals, float64 reference) on the sweep's rows, from the golden model; a
    deferred unit's scale applied here."""
    if isinstance(p, SoftmaxParams):
        x, mask = rowop_task.softmax_rows(p)
        res = softmax_eval(p, p.in_fmt.quantize(x), mask=mask)
        if p.output_mode == "deferred":
            y = res.out * 2.0 ** -p.e_fmt.frac_bits * res.r[:, None] \
                * 2.0 ** -(p.r_fmt.frac_bits + res.k[:, None])
        else:
            y = res.out * 2.0 ** -p.out_fmt.frac_bits
        return y, softmax64(x, mask)
    x, w, b = rowop_task.norm_rows(p)
    layer = p.kind == "layer"
    xc = p.in_fmt.quantize(x)
    res = norm_eval(p, xc, p.w_fmt.quantize(w), p.b_fmt.quantize(b) if layer else None)
    if p.output_mode == "deferred":
        xq = xc * 2.0 ** -p.in_fmt.frac_bits
        if layer:
            xq = xq - res.mean[:, None] * 2.0 ** -p.mean_fmt.frac_bits
        y = xq * (res.scale * 2.0 ** -(p.rs_fmt.frac_bits + res.k))[:, None] * w \
            + (b if layer else 0)
    else:
        y = res.out * 2.0 ** -p.out_fmt.frac_bits
    return y, norm64(x, w, b, p.eps, layer)


@pytest.fixture(scope="module")
def gen_run(tmp_path_factory):
    """The error stage ("fit") of 10 small row units (n_max 16) on the local pool."""
    d = tmp_path_factory.mktemp("rowop")
    spec = parse_spec({"sweep": {"stages": ["fit"]},
                       "softmax": {"preset": "int8", "n_max": 16,
                                   "output_mode": ["normalized", "deferred"]},
                       "norm": {"preset": ["int8", "int16"], "kind": ["rms", "layer"],
                                "n_max": 16, "output_mode": ["deferred", "normalized"]}})
    s = sw.run_sweep(spec, d, jobs=2, quiet=True)
    return d, s, read_table(d / "results.csv")


def test_rows_carry_the_points(gen_run):
    d, s, rows = gen_run
    assert (s.total, s.computed, s.failed) == (10, 10, 0)
    got = sorted((r["design"], r["func"], r["preset"], r["n_max"], r["output_mode"]) for r in rows)
    want = sorted([("softmax", "softmax", "int8", 16, m) for m in ("normalized", "deferred")]
                  + [("norm", f"{k}norm", pr, 16, m) for k in ("rms", "layer")
                     for pr in ("int8", "int16") for m in ("normalized", "deferred")])
    assert got == want
    for r in rows:
        assert r["status"] == "ok" and r["error"] == "" and r["gen_s"] is None and r["fit_s"] > 0
        assert r["area"] is None and r["target"] == "" and r["verified"] == "skipped"
        assert r["table_bits"] > 0


def params_of(d, row):
    rec = json.loads((d / "points" / f"{row['point_id']}.json").read_text())
    cls = SoftmaxParams if row["design"] == "softmax" else NormParams
    return cls.from_dict(rec["params"])


def test_error_figures_are_float64_truth(gen_run):
    d, _, rows = gen_run
    for r in rows:
        p = params_of(d, r)
        assert (p.n_max, p.output_mode) == (r["n_max"], r["output_mode"])
        assert r["func"] == ("softmax" if r["design"] == "softmax" else f"{p.kind}norm")
        assert str(p.out_fmt) == {"int8": {"softmax": "u0.8"}.get(r["func"], "s5.3"),
                             "int16": "s8.8"}[r["preset"]]
        y, ref = unit_outputs(p)
        err = np.abs(y - ref)
        lsb = 2.0 ** -p.out_fmt.frac_bits
        assert r["max_err"] == pytest.approx(err.max(), rel=1e-9)
        assert r["max_err_lsb"] == pytest.approx(err.max() / lsb, rel=1e-9)
        assert r["mean_err_lsb"] == pytest.approx(err.mean() / lsb, rel=1e-9)
        rel = np.sqrt((err ** 2).sum() / (ref ** 2).sum())
        assert r["rms_err"] == pytest.approx(rel, rel=1e-9)
        assert 0 < r["rms_err"] < (0.5 if r["preset"] == "int8" else 0.01)


def test_cycles_are_the_rtl_s(gen_run):
    d, _, rows = gen_run
    for r in rows:
        dut = component(params_of(d, r))
        dut._MustUse__silence = True
        assert r["row_cycles"] == dut.row_cycles(16)
        assert r["latency"] == dut.first_out_latency(16)
    assert {r["row_cycles"] for r in rows if r["design"] == "softmax"} == {3 * 16 + 20}


def test_report_and_best_command(gen_run, tmp_path):
    """The report has a group per unit and preset; best's command rebuilds the swept unit."""
    d, _, rows = gen_run
    rep = build_report(rows, d / "results.csv", tmp_path)
    assert rep.groups == 5 and rep.points == 10 and rep.failed == 0
    rep.outputs.commit()
    md = rep.markdown.read_text()
    for title in ("softmax int8", "rmsnorm int8", "rmsnorm int16", "layernorm int8",
                  "layernorm int16"):
        assert f"## {title} on no synthesis" in md
    assert "clocks per row" in md and "n_max" in md
    r = next(r for r in rows if r["func"] == "layernorm" and r["output_mode"] == "deferred"
             and r["preset"] == "int8")
    cmds = query.gen_commands(r, str(tmp_path / "unit"))
    assert len(cmds) == 1 and cmds[0].startswith("nlihw norm gen --kind layer")
    assert main(shlex.split(cmds[0])[1:]) == 0
    man = json.loads((tmp_path / "unit" / "layernorm_unit.manifest.json").read_text())
    assert man["params_digest"] == params_of(d, r).digest()
    assert "module layernorm_unit" in (tmp_path / "unit" / "layernorm_unit.v").read_text()


def test_gen_stage(tmp_path):
    """A norm unit through the gen stage: its figures as without it, and a gen time."""
    spec = parse_spec({"sweep": {"stages": ["fit", "gen"]},
                       "norm": {"preset": "int8", "kind": "layer", "n_max": 16,
                                "output_mode": "deferred"}})
    s = sw.run_sweep(spec, tmp_path, jobs=1, quiet=True)
    [r] = read_table(tmp_path / "results.csv")
    assert (s.total, s.failed, r["status"]) == (1, 0, "ok") and r["gen_s"] > 0
    y, ref = unit_outputs(params_of(tmp_path, r))
    assert r["max_err"] == pytest.approx(np.abs(y - ref).max(), rel=1e-9)


def test_synthesis_of_the_smallest_unit(tmp_path):
    """softmax int8 at n_max 16 through gen and generic-sram synthesis (~15 s)."""
    spec = parse_spec({"sweep": SYNTH, "softmax": {"preset": "int8", "n_max": 16,
                                                   "target": "generic-sram"}})
    s = sw.run_sweep(spec, tmp_path / "res", jobs=1, quiet=True, synth_cache=tmp_path / "synth")
    assert (s.total, s.failed) == (1, 0)
    [r] = read_table(tmp_path / "res" / "results.csv")
    rec = json.loads((tmp_path / "res" / "points" / f"{r['point_id']}.json").read_text())
    rep = rec["reports"]["generic-sram"]
    assert rep["top"] == "softmax_unit" and rep["target"] == "generic-sram"
    assert r["area"] == rep["figures"]["gate_equivalents"] == r["gate_equivalents"] > 0
    assert r["ff"] == rep["figures"]["flip_flops"] > 0 and r["synth_s"] > 0
    assert rep["figures"]["memory_bits"] > 0            # the row buffers are SRAM macros


def test_shipped_example_parses():
    from nlihw.explore.examples import resolve_spec
    from nlihw.explore.spec import load_spec
    s = load_spec(resolve_spec("rowop"))
    assert sorted((p.func, p.preset, p.n_max, p.target) for p in s.points) == sorted(
        (f, pr, 1024, "generic-sram") for f in ("softmax", "rmsnorm", "layernorm")
        for pr in ("int8", "int16"))
    assert s.stages == ("fit", "gen", "synth")
