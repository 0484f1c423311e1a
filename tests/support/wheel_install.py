"""A built wheel installed into a fresh virtualenv with its base dependencies only, offline and in
seconds: pip installs the wheel itself (no dependencies); each distribution its metadata requires
without an extra, followed transitively (extras such as amaranth[builtin-yosys] included), is
linked from this interpreter's environment (`make` installed it from constraints.txt) instead of
downloaded again (about 850 MB). Nothing else is on the new environment's path, so a dependency
the wheel fails to declare, or an extra's module, cannot be imported there.
"""
from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import zipfile
from email.parser import Parser
from importlib.metadata import Distribution, distribution, distributions
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def base_requirements(wheel: Path) -> list[Requirement]:
    """The wheel's Requires-Dist entries that apply without an extra, in this environment."""
    z = zipfile.ZipFile(wheel)
    meta = Parser().parsestr(z.read(next(n for n in z.namelist()
                                         if n.endswith(".dist-info/METADATA"))).decode())
    env = {**default_environment(), "extra": ""}
    reqs = [Requirement(r) for r in meta.get_all("Requires-Dist") or ()]
    return [r for r in reqs if r.marker is None or r.marker.evaluate(env)]


def dependency_closure(reqs: list[Requirement]) -> dict[str, Distribution]:
    """Canonical name -> this environment's distribution, for ``reqs`` and everything they require
    (a requirement's extras add that distribution's requirements marked with those extras)."""
    env = default_environment()
    dists: dict[str, Distribution] = {}
    extras: dict[str, set[str]] = {}
    todo = list(reqs)
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in dists and set(req.extras) <= extras[name]:
            continue
        dist = dists.get(name) or distribution(name)
        assert req.specifier.contains(dist.version, prereleases=True), \
            f"{req}: this environment has {dist.version}"
        dists[name] = dist
        extras.setdefault(name, set()).update(req.extras)
        for text in dist.requires or ():
            r = Requirement(text)
            if r.marker is None or any(r.marker.evaluate({**env, "extra": e})
                                       for e in ("", *extras[name])):
                todo.append(r)
    return dists


LAUNCHER = "#!{python}\nimport sys\nfrom {module} import {head}\nsys.exit({attr}())\n"


def top_level_owners() -> dict[str, set[str]]:
    """Top-level site-packages entry -> the distributions here with files in it."""
    owners: dict[str, set[str]] = {}
    for d in distributions():
        name = canonicalize_name(d.metadata["Name"])
        for top in {f.parts[0] for f in d.files or ()}:
            owners.setdefault(top, set()).add(name)
    return owners


def link_distribution(dist: Distribution, venv: Path, site: Path,
                      owners: dict[str, set[str]], allowed: set[str]) -> None:
    """Make ``dist`` (installed here) installed in ``venv`` too: its top-level entries in
    site-packages as symbolic links (none shared with a distribution outside ``allowed``), its
    console scripts as launchers run by the venv's interpreter, its other files outside
    site-packages (headers, data) linked in place."""
    assert dist.files, f"{dist.metadata['Name']}: no RECORD, cannot tell its files"
    src_site = Path(dist.locate_file(""))
    scripts = {ep.name: ep for ep in dist.entry_points if ep.group == "console_scripts"}
    for top in {f.parts[0] for f in dist.files} - {"..", "__pycache__"}:
        assert owners[top] <= allowed, f"{top} also holds {sorted(owners[top] - allowed)}"
        _symlink(src_site / top, site / top)
    for f in (f for f in dist.files if f.parts[0] == ".."):
        dest = Path(os.path.normpath(site / f))
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.parent == venv / "bin" and dest.name in scripts:
            ep = scripts[dest.name]
            dest.write_text(LAUNCHER.format(python=venv / "bin" / "python", module=ep.module,
                                            head=ep.attr.split(".")[0], attr=ep.attr))
            dest.chmod(0o755)
        else:
            _symlink(Path(os.path.normpath(src_site / f)), dest)


def _symlink(src: Path, dest: Path) -> None:
    if dest.is_symlink():
        assert dest.readlink() == src, f"{dest}: claimed by {dest.readlink()} and {src}"
        return
    dest.symlink_to(src)


def venv_with_base_install(wheel: Path, venv: Path) -> dict[str, Distribution]:
    """Create ``venv`` (no pip), pip-install ``wheel`` into it without dependencies, link its base
    dependency closure; returns that closure (canonical name -> distribution)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    site = next((venv / "lib").glob("python3*/site-packages"))
    closure = dependency_closure(base_requirements(wheel))
    owners = top_level_owners()
    for dist in closure.values():
        link_distribution(dist, venv, site, owners, set(closure))
    r = pip(venv, "install", "--no-deps", "--no-index", "--no-compile", str(wheel))
    assert r.returncode == 0, r.stderr[-2000:]
    return closure


def pip(venv: Path, *args: str) -> subprocess.CompletedProcess:
    """This interpreter's pip acting on ``venv``."""
    return subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                           "--quiet", *args], capture_output=True, text=True, timeout=300)


def clean_env(venv: Path) -> dict[str, str]:
    """os.environ for a process of ``venv``: its bin/ first on PATH, no PYTHONPATH, no virtualenv
    and no PATH entry inside the checkout (its .venv/bin)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    keep = [p for p in env.get("PATH", "").split(os.pathsep)
            if p and not Path(p).resolve().is_relative_to(ROOT)]
    env["PATH"] = os.pathsep.join([str(venv / "bin"), *keep])
    return env


def run_nlihw(venv: Path, cwd: Path, *args: str, env: "dict[str, str] | None" = None,
              timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "nlihw"), *args], cwd=cwd,
                          env={**clean_env(venv), **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)


def run_python(venv: Path, cwd: Path, code: str) -> str:
    """stdout of ``code`` run by the venv's interpreter in ``cwd`` (asserts it succeeds)."""
    r = subprocess.run([str(venv / "bin" / "python"), "-c", code], cwd=cwd, env=clean_env(venv),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def help_examples(cli) -> list[tuple[str, list[str]]]:
    """(command path, argv) of every 'nlihw ...' example line in the help texts under ``cli``.
    Self-contained (its imports inside): installed_help_examples runs its source in a venv."""
    import re
    import shlex

    import click
    ctx = click.Context(cli)
    found = []

    def walk(cmd, path):
        for line in (cmd.help or "").splitlines():
            line = re.sub(r"^\s*Examples?:\s*", "", line).strip()
            if line.startswith("nlihw "):
                line = re.split(r";|\s{2,}\(", line)[0]
                found.append((" ".join(path), shlex.split(line)[1:]))
        if isinstance(cmd, click.Group):
            for n in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, n), [*path, n])
    walk(cli, [])
    return found


def installed_help_examples(venv: Path, cwd: Path) -> list[tuple[str, list[str]]]:
    """help_examples() of the nlihw installed in ``venv``, as that interpreter reads them."""
    code = (inspect.getsource(help_examples) + "\nimport json\nfrom nlihw.cli import cli\n"
            "print(json.dumps(help_examples(cli)))\n")
    return [(where, argv) for where, argv in json.loads(run_python(venv, cwd, code))]
