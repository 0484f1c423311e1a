"""Optional dependency groups: gen, fit, sim, synth and scan gen run without dask, distributed,
pyarrow and matplotlib; the commands that need them refuse in one line naming the extra.

The extras are hidden from a subprocess (``sys.modules[name] = None`` makes every import of them
fail as if they were not installed), not uninstalled from the shared virtualenv.
"""
import ast
import os
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from nlihw.extras import EXTRAS

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("nlihw", "hdl", "sim", "luts", "synth", "explore")     # what the wheel ships
EXPLORE = ("dask", "distributed", "pyarrow")
PLOT = ("matplotlib",)
ALL = EXPLORE + PLOT
PRELUDE = """\
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None            # import name -> ModuleNotFoundError, as if not installed
del sys.argv[1]
"""
RUN_CLI = PRELUDE + "from nlihw.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def without(blocked, *args, cwd, code=RUN_CLI, timeout=300, env=None):
    """Run the CLI (or ``code``) in a subprocess where the modules ``blocked`` cannot be imported."""
    env = {k: v for k, v in {**os.environ, **(env or {})}.items()
           if v is not None and k != "PYTEST_CURRENT_TEST"}
    return subprocess.run([sys.executable, "-c", code, ",".join(blocked), *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_extras_match_pyproject_and_the_installed_modules():
    """nlihw.extras names the same distributions as pyproject.toml's extras, and each of them
    installs the module of that name."""
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra, modules in EXTRAS.items():
        names = {r.split(">")[0].split("=")[0].split("<")[0].strip() for r in optional[extra]}
        assert names == set(modules), (extra, names)
    provided = packages_distributions()
    for module in ALL:
        assert module in [d.lower() for d in provided.get(module, [])], module
    assert set(EXTRAS) == {"explore", "plot"} and optional["all"] == ["nlihw[explore,plot]"]


def test_the_blocking_hides_the_extras(tmp_path):
    """The harness itself: in the subprocess every extra fails to import and counts as missing."""
    code = PRELUDE + """
from nlihw.extras import missing_modules
for m in sys.argv[1:]:
    try:
        __import__(m)
    except ModuleNotFoundError:
        continue
    raise SystemExit(f"{m} imported")
print(missing_modules("explore"), missing_modules("plot"))
"""
    r = without(ALL, *ALL, "pyarrow.parquet", "matplotlib.pyplot", cwd=tmp_path, code=code)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "['dask', 'distributed', 'pyarrow'] ['matplotlib']"


FIT = ["fit", "--func", "silu", "--in", "s3.5", "--out", "s3.5", "-M", "5", "-K", "4", "-o", "t.json"]


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A working directory holding a small table t.json, caches under tmp_path."""
    monkeypatch.setenv("NLIHW_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NLIHW_SIM_BUILD", raising=False)
    d = tmp_path / "work"
    d.mkdir()
    r = without(ALL, *FIT, cwd=d)
    assert r.returncode == 0, r.stderr[-3000:]
    return d


def test_mandatory_commands_run_without_the_extras(work):
    """fit (above), gen, synth and scan gen complete with no extra importable."""
    for args in (["gen", "--table", "t.json", "-o", "rtl"],
                 ["gen", "--table", "silu_M11_K32", "-o", "rtl16"],
                 ["synth", "rtl", "-t", "generic"],
                 ["scan", "gen", "--preset", "int8", "--d-inner", "4", "--d-state", "2", "-o", "scan"]):
        r = without(ALL, *args, cwd=work)
        assert r.returncode == 0, (args, r.stderr[-3000:])


def test_sim_runs_without_the_extras_and_builds_in_the_cache(work, tmp_path):
    """sim completes with no extra importable, builds in $NLIHW_CACHE/sim and leaves nothing in
    the current directory (no ./build/sim)."""
    r = without(ALL, "sim", "--table", "t.json", "--stall", "0.2", cwd=work, timeout=600)
    assert r.returncode == 0 and r.stdout.startswith("PASS: 256 beats"), r.stdout + r.stderr[-3000:]
    assert sorted(p.name for p in work.iterdir()) == ["t.json"]
    assert len([d for d in (tmp_path / "cache" / "sim").iterdir() if d.is_dir()]) == 1


SWEEP = ["sweep", "--func", "silu", "-M", "5", "-K", "1", "--stages", "fit", "-o", "out"]
COMPARE = ["compare", "--func", "silu", "--in", "s3.5", "--out", "s3.5", "--max-err", "2", "-o", "out"]
BEST = ["best", "--func", "silu", "--max-err", "1", "--target", "ecp5", "--results", "out"]


@pytest.mark.parametrize("args, blocked, extra", [
    (SWEEP, EXPLORE, "explore"),
    (SWEEP, ("pyarrow",), "explore"),
    (COMPARE, EXPLORE, "explore"),
    (BEST, ALL, "explore"),
    (["report", "out"], PLOT, "plot"),
    (["flow", "-o", "out"], PLOT, "plot"),
])
def test_commands_needing_an_extra_refuse_in_one_line(tmp_path, args, blocked, extra):
    r = without(blocked, *args, cwd=tmp_path, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.splitlines() == [
        f"error: nlihw {args[0]} needs the '{extra}' extra: pip install 'nlihw[{extra}]' "
        f"(not installed: {', '.join(m for m in EXTRAS[extra] if m in blocked)})"], r.stderr
    assert not (tmp_path / "out").exists()


def test_help_works_without_the_extras(tmp_path):
    for cmd in ("sweep", "report", "flow"):
        r = without(ALL, cmd, "--help", cwd=tmp_path, timeout=120)
        assert r.returncode == 0 and r.stdout.startswith(f"Usage: nlihw {cmd}"), r.stderr


def test_an_option_needing_an_extra_names_it(tmp_path):
    """fit --plot reaches matplotlib deep in the command: still one line naming the extra, and
    none of the command's outputs is written."""
    r = without(PLOT, "fit", "--func", "silu", "--in", "s3.5", "--out", "s3.5", "-M", "5", "-K", "4",
                "-o", "t.json", "--plot", "t.png", cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.splitlines()[-1] == ("error: nlihw fit needs the 'plot' extra: pip install "
                                         "'nlihw[plot]' (not installed: matplotlib)"), r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "t.json").exists() and not (tmp_path / "t.png").exists()


def test_a_missing_module_of_no_extra_is_a_bug_with_its_traceback(tmp_path):
    """Only the extras' modules get the one-line hint; any other missing module is an internal
    error (exit 70) whose traceback --debug shows."""
    args = ("fit", "--func", "silu", "--in", "s3.5", "--out", "s3.5", "-M", "5", "-K", "4", "-o", "t.json")
    r = without(("numpy",), *args, cwd=tmp_path)
    assert r.returncode == 70 and "numpy" in r.stderr and "--debug" in r.stderr, r.stderr
    r = without(("numpy",), "--debug", *args, cwd=tmp_path)
    assert r.returncode == 70 and "Traceback" in r.stderr and "numpy" in r.stderr


def _imports(path: Path):
    """(top-level module, line, at module level?) of every absolute import in ``path``."""
    tree = ast.parse(path.read_text())
    top_level = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            yield name.split(".")[0], node.lineno, id(node) in top_level


def test_every_third_party_import_is_declared():
    """Each module the shipped code imports comes from a base dependency or an extra (not from
    whatever else happens to be installed), and the extras' modules are imported only inside
    functions, so a base install imports every module."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    provided = packages_distributions()
    extra_modules = {m for mods in EXTRAS.values() for m in mods}
    bad = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for module, line, at_top in _imports(path):
                if module in sys.stdlib_module_names or module == "nlihw":
                    continue
                where = f"{path.relative_to(ROOT)}:{line} imports {module}"
                if module in extra_modules:
                    if at_top:
                        bad.append(f"{where} at module level (an extra: import it where used)")
                elif not base & {canonicalize_name(d) for d in provided.get(module, [])}:
                    bad.append(f"{where}, which no base dependency in pyproject.toml provides")
    assert not bad, "\n".join(bad)
