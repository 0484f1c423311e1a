"""The import graph keeps the layers of README "Layout": base -> luts -> hdl -> sim, synth ->
explore -> app, no file imports a layer above its own (sim and synth do not import each other),
and project imports sit at the top of files; only the optional extras are imported where used."""
from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"hdl": "hdl", "sim": "sim", "luts": "luts", "synth": "synth", "explore": "explore"}
APP = {"cli", "flow", "bench", "__main__", "commands", "benchmarks", "approx"}   # nlihw/ files
RANK = {"base": 0, "luts": 1, "hdl": 2, "sim": 3, "synth": 3, "explore": 4, "app": 5}
OPTIONAL = ("distributed", "dask", "pyarrow", "matplotlib")


def layer(module: str) -> str | None:
    """The layer of a dotted module name, None outside the project."""
    parts = module.split(".")
    if parts[0] != "nlihw":
        return None
    if len(parts) < 2:
        return "base"
    if parts[1] in FOLDERS:
        return parts[1]
    return "app" if parts[1] in APP else "base"


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] in FOLDERS:
        parts.insert(0, "nlihw")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    return [ROOT / f for f in out if f.split("/")[0] in (*FOLDERS, "nlihw")]


def imports(path: Path, me: str):
    """(node, target module, inside a function) of every import in ``path`` (module ``me``)."""
    tree = ast.parse(path.read_text())
    inner = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            targets = [a.name for a in n.names]
        elif isinstance(n, ast.ImportFrom):
            if n.level:
                base = me.split(".")[:len(me.split(".")) - n.level + (path.name == "__init__.py")]
                targets = [".".join(base + ([n.module] if n.module else []))]
            else:
                targets = [n.module]
            if targets == ["nlihw"]:               # from nlihw import verbosity: the module named
                targets = [f"nlihw.{a.name}" for a in n.names]
        else:
            continue
        for t in targets:
            yield n, t, id(n) in inner


def wrong_way(path: Path, me: str) -> list[str]:
    mine = layer(me)
    out = []
    for n, target, _ in imports(path, me):
        theirs = layer(target)
        if theirs and (RANK[theirs] > RANK[mine] or (RANK[theirs] == RANK[mine] and theirs != mine)):
            out.append(f"{me}:{n.lineno}: {mine} imports {target} ({theirs})")
    return out


def deferred(path: Path, me: str) -> list[str]:
    lines = path.read_text().splitlines()
    out = []
    for n, target, inside in imports(path, me):
        if not inside:
            continue
        optional = target.split(".")[0] in OPTIONAL
        said = any(lines[k].lstrip().startswith("#") and "optional" in lines[k]
                   for k in range(max(0, n.lineno - 5), n.lineno - 1))
        if not optional:
            out.append(f"{me}:{n.lineno}: {target} imported inside a function")
        elif not said:
            out.append(f"{me}:{n.lineno}: {target} deferred without a comment")
    return out


def test_the_sources_are_found():
    files = sources()
    assert len(files) > 100
    assert {layer(module_of(f)) for f in files} == set(RANK)


@pytest.mark.parametrize("check", [wrong_way, deferred])
def test_import_layers(check):
    problems = [p for f in sources() for p in check(f, module_of(f))]
    assert not problems, "\n".join(problems)


def test_the_checks_see_a_wrong_way_import_and_a_deferred_one(tmp_path):
    """Each check fires on a planted module: luts importing hdl inside a function, and an optional
    extra deferred without saying why."""
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from nlihw.hdl.nli.params import NLIEngineParams\n"
                       "    import matplotlib\n    return NLIEngineParams, matplotlib\n")
    assert wrong_way(planted, "nlihw.luts.planted") == [
        "nlihw.luts.planted:2: luts imports nlihw.hdl.nli.params (hdl)"]
    assert deferred(planted, "nlihw.luts.planted") == [
        "nlihw.luts.planted:2: nlihw.hdl.nli.params imported inside a function",
        "nlihw.luts.planted:3: matplotlib deferred without a comment"]
    assert wrong_way(planted, "nlihw.explore.planted") == []
    assert wrong_way(planted, "nlihw.sim.planted") == []
    planted.write_text("from nlihw.synth import driver\n")
    assert wrong_way(planted, "nlihw.sim.planted") == [
        "nlihw.sim.planted:1: sim imports nlihw.synth (synth)"]
