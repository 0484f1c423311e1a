"""The exact pins of constraints.txt: every distribution that nlihw[all,test] needs, at the version
installed in this environment (``pip freeze`` narrowed to the project's dependency closure).

Regenerate from a working .venv:  .venv/bin/python tests/support/constraints_pins.py > constraints.txt
"""
from __future__ import annotations

import sys
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "nlihw"
EXTRAS = ("all", "test")            # what `make` installs
# Word for word as constraints.txt has it (tests/app/test_packaging.py compares the two), so its
# paths are the old flat ones; when the pins are next regenerated, change them here to
# tests/app/test_packaging.py and tests/support/constraints_pins.py.
HEADER = """\
# Exact versions that `make` installs (pip install -c constraints.txt -e ".[test,all]"), so the
# set-up is reproducible; pyproject.toml declares the ranges a user's environment may hold.
# tests/app/test_packaging.py checks each pin lies within its range and covers every dependency.
# Regenerate from a working .venv:  .venv/bin/python -m tests.support.constraints_pins > constraints.txt
"""


def project_requirements(extras=EXTRAS) -> list[Requirement]:
    """pyproject.toml's requirements for ``extras`` (self-references such as nlihw[explore]
    expanded), markers evaluated in this environment."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = project.get("optional-dependencies", {})
    out, todo, seen = [], list(extras), set()
    reqs = [Requirement(r) for r in project["dependencies"]]
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in optional[extra]:
            r = Requirement(text)
            if canonicalize_name(r.name) == PROJECT:
                todo += sorted(r.extras)
            else:
                reqs.append(r)
    for r in reqs:
        if r.marker is None or r.marker.evaluate({"extra": ""}):
            out.append(r)
    return out


def closure(roots: list[Requirement]) -> dict[str, tuple[str, str]]:
    """canonical name -> (distribution name, installed version) for ``roots`` and everything they
    require (with the extras they ask for), as installed here."""
    found: dict[str, tuple[str, str]] = {}
    done: set[tuple[str, frozenset]] = set()
    todo = [(r.name, frozenset(r.extras)) for r in roots]
    while todo:
        name, extras = todo.pop()
        key = (canonicalize_name(name), extras)
        if key in done:
            continue
        done.add(key)
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            raise SystemExit(f"error: {name} is required but not installed here") from None
        found[key[0]] = (dist.metadata["Name"], dist.version)
        for text in dist.requires or ():
            r = Requirement(text)
            env_extras = [""] + sorted(extras)
            if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in env_extras):
                todo.append((r.name, frozenset(r.extras)))
    return found


def constraints_text() -> str:
    pins = closure(project_requirements())
    lines = sorted(f"{name}=={version}" for name, version in pins.values())
    return HEADER + "\n".join(sorted(lines, key=str.lower)) + "\n"


if __name__ == "__main__":
    sys.stdout.write(constraints_text())
