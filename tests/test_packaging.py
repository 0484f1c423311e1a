"""The distribution: a built wheel holds every module and data file under the nlihw namespace, and
an installed wheel runs the CLI from outside the checkout.
"""
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"nlihw": "nlihw", "hdl": "nlihw/hdl", "sim": "nlihw/sim", "luts": "nlihw/luts",
           "synth": "nlihw/synth"}
DATA = ("*.json", "*.ys", "*.lib", "*.vlt", "*.toml")
SKIP = {".venv", "build", ".git", "__pycache__", ".pytest_cache", ".hypothesis", "sim_build",
        ".nlihw-cache", "dist"}


def source_files() -> set[str]:
    """Every module and data file of the checkout, as the wheel must name it."""
    want = set()
    for folder, ns in FOLDERS.items():
        for path in (ROOT / folder).rglob("*"):
            rel = path.relative_to(ROOT / folder)
            if any(part in SKIP or part.endswith(".egg-info") for part in rel.parts):
                continue
            if path.suffix == ".py" or any(path.match(g) for g in DATA):
                want.add(f"{ns}/{rel.as_posix()}")
    return want


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built (no network, no build isolation) from a copy of the checkout."""
    src = tmp_path_factory.mktemp("src") / "nlihw"
    shutil.copytree(ROOT, src, ignore=lambda d, names: [n for n in names if n in SKIP
                                                        or n.endswith(".egg-info")])
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                        str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    (whl,) = out.glob("nlihw-*.whl")
    return whl


def test_wheel_holds_every_module_and_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    files = {n for n in names if ".dist-info/" not in n}
    missing = source_files() - files
    assert not missing, f"left out of the wheel: {sorted(missing)}"
    top = {n.split("/")[0] for n in names}
    assert top == {"nlihw", wheel.name.split("-py3")[0] + ".dist-info"}, top   # no bare sim/synth
    for required in ("nlihw/commands/fit.py", "nlihw/sim/nli/engine_cocotb.py",
                     "nlihw/luts/tables/silu_M11_K32.json", "nlihw/synth/nand2_ge.lib",
                     "nlihw/sim/common/lint_waivers.vlt", "nlihw/explore/examples/small.toml",
                     "nlihw/explore/sweep.py", "nlihw/flow.py"):
        assert required in files
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt")))
    assert b"nlihw = nlihw.cli:main" in entry


def _venv_with_wheel(tmp_path, wheel) -> Path:
    """A fresh venv outside the checkout: the wheel installed without dependencies, which come
    from this interpreter's site-packages through a .pth file (the editable install's finder is
    not activated there, so nlihw can only come from the wheel)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                        "install", "--no-deps", "--no-index", "--quiet", str(wheel)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return venv


def _run(venv, cwd, *args, timeout=300):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([str(venv / "bin" / "nlihw"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_installed_wheel_runs_outside_the_checkout(wheel, tmp_path):
    venv = _venv_with_wheel(tmp_path, wheel)
    work = tmp_path / "work"
    work.mkdir()
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import nlihw.sim.nli.stream_tb as m; print(m.__file__)"],
                           cwd=work, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0 and where.stdout.startswith(str(venv)), where.stdout + where.stderr
    r = _run(venv, work, "--help")
    assert r.returncode == 0 and "fit" in r.stdout and "synth" in r.stdout, r.stderr
    r = _run(venv, work, "tables", "list")
    assert r.returncode == 0 and "silu_M11_K32" in r.stdout, r.stderr
    r = _run(venv, work, "fit", "--func", "silu", "--in", "s3.5", "--out", "s3.5", "-M", "5",
             "-K", "4", "-o", "t.json")
    assert r.returncode == 0, r.stderr
    assert (work / "t.json").is_file()


@pytest.mark.slow
def test_wheel_installs_with_its_dependencies(wheel, tmp_path):
    """`pip install nlihw-*.whl` into an empty venv (dependencies from the package index)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    r = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
                       capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    r = _run(venv, tmp_path, "tables", "list")
    assert r.returncode == 0 and "silu_M11_K32" in r.stdout, r.stderr
    r = _run(venv, tmp_path, "fit", "--func", "exp", "--in", "s3.5", "--out", "u1.7", "--domain",
             "-4:0", "-M", "5", "-K", "4", "-o", "e.json")
    assert r.returncode == 0 and (tmp_path / "e.json").is_file(), r.stderr
