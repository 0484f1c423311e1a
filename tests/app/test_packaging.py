"""The distribution: a built wheel holds every module and data file under the nlihw namespace and
the license, declares ranges (the exact pins live in constraints.txt), and the wheel installed
with only its base dependencies runs the CLI and its help examples (gen, sim) from outside the
checkout and refuses sweep in one line naming its extra.
"""
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from importlib.metadata import distribution, version
from pathlib import Path

import click
import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.support import wheel_install
from tests.support.constraints_pins import constraints_text, project_requirements

ROOT = Path(__file__).resolve().parents[2]
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


EXTRA_MODULES = ("dask", "distributed", "pyarrow", "matplotlib")     # explore + plot extras
SWEEP_REFUSAL = ("error: nlihw sweep needs the 'explore' extra: pip install 'nlihw[explore]' (not "
                 "installed: dask, distributed, pyarrow)")
PROBE = """
import importlib.util, json, sys
from importlib.metadata import distributions
import nlihw, nlihw.cli, nlihw.commands.simulate, nlihw.sim.nli.bench_cocotb as bench
print(json.dumps({"files": [m.__file__ for m in (nlihw, nlihw.cli, nlihw.commands.simulate, bench)],
                  "path": [p for p in sys.path if p],
                  "dists": [d.metadata["Name"] for d in distributions()],
                  "extras": [m for m in %r if importlib.util.find_spec(m) is not None]}))
"""


@pytest.fixture(scope="module")
def base_install(wheel, tmp_path_factory):
    """(venv, closure, work): the wheel in a fresh venv with only its base dependencies, and an
    empty working directory outside the checkout."""
    venv = tmp_path_factory.mktemp("base") / "venv"
    closure = wheel_install.venv_with_base_install(wheel, venv)
    work = tmp_path_factory.mktemp("work")
    return venv, closure, work


def test_wheel_holds_every_module_and_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    files = {n for n in names if ".dist-info/" not in n}
    missing = source_files() - files
    assert not missing, f"left out of the wheel: {sorted(missing)}"
    top = {n.split("/")[0] for n in names}
    assert top == {"nlihw", wheel.name.split("-py3")[0] + ".dist-info"}, top   # no bare sim/synth
    for required in ("nlihw/commands/fit.py", "nlihw/sim/nli/bench_cocotb.py",
                     "nlihw/luts/tables/silu_M11_K32.json", "nlihw/synth/nand2_ge.lib",
                     "nlihw/hdl/common/lint_waivers.vlt", "nlihw/explore/examples/small.toml",
                     "nlihw/explore/sweep.py", "nlihw/flow.py"):
        assert required in files
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt")))
    assert b"nlihw = nlihw.cli:main" in entry


def _run(venv, cwd, *args, timeout=300):
    return wheel_install.run_nlihw(venv, cwd, *args, timeout=timeout)


def test_installed_wheel_runs_outside_the_checkout(base_install, tmp_path):
    venv, _, _ = base_install
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


# ---- dependency ranges and the constraints file ------------------------------------------------

APACHE_MD5 = "3b83ef96387f14655fc854ddc3c6bd57"    # apache.org/licenses/LICENSE-2.0.txt, 202 lines


def pins() -> dict[str, Version]:
    """constraints.txt as canonical name -> pinned version; every line is ``name==version``."""
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        r = Requirement(line)
        (spec,) = r.specifier
        assert spec.operator == "==" and not r.marker and not r.extras, line
        name = canonicalize_name(r.name)
        assert name not in out, f"{r.name} pinned twice"
        out[name] = Version(spec.version)
    return out


def test_pyproject_declares_ranges_and_constraints_pin_within_them():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    reqs = project_requirements(tuple(project["optional-dependencies"]))
    assert len(reqs) >= 20
    pinned = pins()
    for r in reqs:
        assert not any(s.operator in ("==", "===") for s in r.specifier), f"{r}: a range, not a pin"
        name = canonicalize_name(r.name)
        assert name in pinned, f"{r.name} is required but not in constraints.txt"
        assert r.specifier.contains(pinned[name], prereleases=True), \
            f"constraints.txt pins {r.name}=={pinned[name]} outside pyproject's {r}"
        lower = [s for s in r.specifier if s.operator == ">="]
        assert lower, f"{r}: no lower bound (the tested version)"
        assert pinned[name] == Version(lower[0].version), \
            f"{r.name}: lower bound {lower[0].version} is not the pinned (tested) {pinned[name]}"


def test_constraints_are_consistent_and_complete():
    """Each pin satisfies what every other pinned distribution requires of it, matches what is
    installed here (the venv make built from it), and nothing the project needs is left out."""
    pinned = pins()
    env = default_environment()
    for name, v in pinned.items():
        dist = distribution(name)
        assert Version(dist.version) == v, f"{name}: installed {dist.version}, pinned {v}"
        for text in dist.requires or ():
            r = Requirement(text)
            dep = canonicalize_name(r.name)
            if (r.marker is None or r.marker.evaluate({**env, "extra": ""})) and dep in pinned:
                assert r.specifier.contains(pinned[dep], prereleases=True), \
                    f"{name}=={v} requires {r}, constraints.txt pins {pinned[dep]}"
    assert (ROOT / "constraints.txt").read_text() == constraints_text(), \
        "constraints.txt is stale: python tests/support/constraints_pins.py > constraints.txt"


def test_make_installs_every_extra_from_the_constraints():
    make = (ROOT / "Makefile").read_text()
    rule = make.split("$(STAMP):", 1)[1].split("\n\n", 1)[0]
    assert rule.startswith(" pyproject.toml constraints.txt\n"), rule
    assert '-m pip install --quiet -c constraints.txt -e ".[test,all]"' in rule


def test_license_file_is_the_apache_text():
    text = (ROOT / "LICENSE").read_bytes()
    assert hashlib.md5(text).hexdigest() == APACHE_MD5
    assert b"Apache License\n                           Version 2.0, January 2004" in text


def test_wheel_metadata_license_classifiers_urls_and_extras(wheel):
    z = zipfile.ZipFile(wheel)
    names = z.namelist()
    lic = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
    assert z.read(lic) == (ROOT / "LICENSE").read_bytes()
    meta_file = next(n for n in names if n.endswith(".dist-info/METADATA"))
    meta = Parser().parsestr(z.read(meta_file).decode())
    assert meta["License-Expression"] == "Apache-2.0" and meta["License-File"] == "LICENSE"
    assert meta["Requires-Python"] == ">=3.11"
    classifiers = meta.get_all("Classifier")
    assert "Topic :: Scientific/Engineering :: Electronic Design Automation (EDA)" in classifiers
    assert not any(c.startswith("License ::") for c in classifiers)      # the expression says it
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert urls["Homepage"] == "https://github.com/nlihw/nlihw"
    assert set(meta.get_all("Provides-Extra")) == {"explore", "plot", "all", "test"}
    base = [Requirement(r) for r in meta.get_all("Requires-Dist") if "extra ==" not in r]
    assert {canonicalize_name(r.name) for r in base}.isdisjoint(
        {"dask", "distributed", "pyarrow", "matplotlib"})
    assert not any(s.operator == "==" for r in base for s in r.specifier)


def test_version_flags():
    want = f"nlihw, version {version('nlihw')}\n"
    for flag in ("-V", "--version"):
        r = subprocess.run([sys.executable, "-m", "nlihw", flag], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0 and r.stdout == want, r.stdout + r.stderr


# ---- help examples ---------------------------------------------------------------------------

def help_examples() -> list[tuple[str, list[str]]]:
    """(command path, argv) of every 'nlihw ...' example line in the commands' help texts."""
    from nlihw.cli import cli
    return wheel_install.help_examples(cli)


CHECKOUT_DIRS = ("luts/", "explore/", "hdl/", "sim/", "synth/", "nlihw/", "tests/", "docs/")


def _parse(argv):
    """Parse ``argv`` as the CLI would, without running the command (UsageError if it cannot)."""
    from nlihw.cli import cli
    ctx = click.Context(cli, info_name="nlihw")
    cmd, args = cli, list(argv)
    while isinstance(cmd, click.Group) and args and not args[0].startswith("-"):
        cmd, name, args = cmd.get_command(ctx, args[0]), args[0], args[1:]
        assert cmd is not None, f"no command {name}"
        ctx = click.Context(cmd, info_name=name, parent=ctx)
    cmd.make_context(ctx.info_name, args, parent=ctx.parent)


def test_help_examples_are_found():
    examples = help_examples()
    commands = {c.split()[0] for c, _ in examples if c}
    assert {"fit", "gen", "sim", "synth", "sweep", "tables"} <= commands, commands
    assert ["tables", "path", "silu_M11_K32"] in [a for _, a in examples]


@pytest.mark.parametrize("where, argv", [pytest.param(c, a, id=" ".join(a)[:60])
                                         for c, a in help_examples()])
def test_help_example_parses_and_names_no_checkout_path(where, argv):
    _parse(argv)
    assert not [a for a in argv if a.startswith(CHECKOUT_DIRS)], f"{where}: checkout path in {argv}"


# ---- a wheel with its base dependencies only (offline: see tests/support/wheel_install.py) -----

def test_base_install_has_no_extra_and_runs_nlihw_from_the_wheel(base_install):
    venv, closure, work = base_install
    pulled = sorted(closure.keys() & set(EXTRA_MODULES))
    assert not pulled, f"the base dependencies pull in {pulled}"
    probe = json.loads(wheel_install.run_python(venv, work, PROBE % (EXTRA_MODULES,)))
    assert probe["extras"] == [], probe["extras"]
    assert {canonicalize_name(d) for d in probe["dists"]} == {"nlihw", *closure}, probe["dists"]
    for f in probe["files"]:         # installed by pip from the wheel, not linked to the checkout
        assert Path(f).resolve().is_relative_to(venv.resolve()), f
    assert not [p for p in probe["path"] if Path(p).resolve().is_relative_to(ROOT)], probe["path"]
    r = wheel_install.pip(venv, "check")
    assert r.returncode == 0, r.stdout + r.stderr         # every declared requirement is there


def test_base_install_runs_the_gen_and_sim_help_examples(base_install, tmp_path):
    """The first help example of gen, sim and tables path, run from an unrelated directory; sim
    verilates afresh (an empty build cache) the Verilog the installed package emits."""
    venv, _, work = base_install
    examples = wheel_install.installed_help_examples(venv, work)
    first = {where: next((argv for w, argv in examples if w == where), None)
             for where in ("gen", "sim", "tables path")}
    assert None not in first.values(), first
    cache = tmp_path / "cache"
    env = {"NLIHW_CACHE": str(cache)}
    r = wheel_install.run_nlihw(venv, work, *first["tables path"], env=env)
    assert r.returncode == 0 and Path(r.stdout.strip()).resolve().is_relative_to(venv.resolve()), \
        r.stdout + r.stderr
    argv = first["gen"]
    r = wheel_install.run_nlihw(venv, work, *argv, env=env)
    assert r.returncode == 0, (argv, r.stderr[-3000:])
    assert list((work / argv[argv.index("-o") + 1]).glob("*.v")), r.stdout
    r = wheel_install.run_nlihw(venv, work, *first["sim"], env=env)
    assert r.returncode == 0 and re.match(r"PASS: [1-9]\d* beats", r.stdout), \
        (first["sim"], r.stdout[-2000:], r.stderr[-3000:])
    assert list((cache / "sim").glob("*/.nlihw-built")), "sim did not build in its own cache"


def test_base_install_refuses_sweep_naming_its_extra(base_install):
    venv, _, work = base_install
    sweeps = [argv for where, argv in wheel_install.installed_help_examples(venv, work)
              if where == "sweep"]
    assert sweeps
    for argv in sweeps:
        r = wheel_install.run_nlihw(venv, work, *argv)
        assert r.returncode == 2 and r.stderr.splitlines() == [SWEEP_REFUSAL], (argv, r.stderr)
        assert r.stdout == "" and not (work / argv[argv.index("-o") + 1]).exists()


# ---- a wheel installed with its dependencies from the index, pinned by constraints.txt ---------

def _pip(venv, *args, timeout=1800):
    r = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "-c", str(ROOT / "constraints.txt"), *args],
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]


def _installed(venv) -> set[str]:
    r = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
                       capture_output=True, text=True, timeout=120)
    return {canonicalize_name(line.split("==")[0]) for line in r.stdout.splitlines()}


@pytest.mark.slow
def test_wheel_with_base_dependencies_runs_the_help_examples(wheel, tmp_path, monkeypatch):
    """The wheel installed from the index against constraints.txt with no extra: the help
    examples of fit, gen, sim, tables, table and scan gen run from an unrelated directory, sweep
    refuses in one line naming its extra; with nlihw[all] added, a sweep and its report run."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    _pip(venv, str(wheel))
    assert _installed(venv).isdisjoint({"dask", "distributed", "pyarrow", "matplotlib"})
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("NLIHW_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NLIHW_SIM_BUILD", raising=False)
    run = {"fit": 1, "gen": 1, "sim": 1, "tables path": 1, "scan gen": 1}
    for where, argv in help_examples():
        if run.get(where, 0) > 0:
            run[where] -= 1
            r = _run(venv, work, *argv, timeout=900)
            assert r.returncode == 0, (argv, r.stdout[-2000:], r.stderr[-3000:])
    assert not any(run.values()), run
    assert (work / "build" / "nli" / "nli_engine.v").is_file() and (work / "silu.json").is_file()
    r = _run(venv, work, "synth", "build/nli", "-t", "generic")
    assert r.returncode == 0, r.stderr[-3000:]
    sweep = ["sweep", "--func", "silu", "-M", "5", "-K", "1,8", "--stages", "fit", "-o", "build/sweep"]
    r = _run(venv, work, *sweep)
    assert r.returncode == 2 and r.stderr.splitlines() == [
        "error: nlihw sweep needs the 'explore' extra: pip install 'nlihw[explore]' (not "
        "installed: dask, distributed, pyarrow)"], r.stderr
    _pip(venv, f"{wheel}[all]")
    assert {"dask", "distributed", "pyarrow", "matplotlib"} <= _installed(venv)
    r = _run(venv, work, *sweep)
    assert r.returncode == 0, r.stderr[-3000:]
    r = _run(venv, work, "report", "build/sweep")
    assert r.returncode == 0 and (work / "build" / "sweep" / "report.md").is_file(), r.stderr[-3000:]
