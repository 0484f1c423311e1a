"""Shipped tables by name: ``--table silu_M11_K32`` works from an installed CLI, not only a checkout.

A value naming an existing file is that file; a bare name (no directory part) that is not a file is
the shipped table of that name (``.json`` optional); anything else is left for the loader to report.
"""
from __future__ import annotations

import difflib
from pathlib import Path

from nlihw.errors import ParamsError
from nlihw.luts.default_tables import shipped_dir


def shipped_names() -> list[str]:
    """The shipped tables' names (file stems), sorted."""
    return sorted(p.stem for p in shipped_dir().glob("*.json"))


def shipped_path(name: str, lead: "str | None" = None) -> Path:
    """The installed file of the shipped table ``name`` (``.json`` optional); an unknown name is a
    one-line error (``lead`` starts it) listing the closest shipped names."""
    stem = name[:-5] if name.endswith(".json") else name
    path = shipped_dir() / f"{stem}.json"
    if stem and "/" not in stem and path.is_file():
        return path
    close = difflib.get_close_matches(stem, shipped_names(), n=4, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ParamsError(f"{lead or f'no shipped table {name!r}'}; {hint}see 'nlihw tables list'")


def resolve_table(ref: str, option: str = "--table") -> str:
    """``ref`` if it is an existing file or has a directory part, else the shipped table's path.
    A missing ``NAME.json`` that is no shipped table is left for the loader (a file not found)."""
    if Path(ref).exists() or "/" in ref:
        return ref
    if ref.endswith(".json") and not (shipped_dir() / ref).is_file():
        return ref
    return str(shipped_path(ref, f"{option} {ref}: no such file and no shipped table of that name"))


def resolve_tables(refs, option: str = "--table") -> tuple[str, ...]:
    return tuple(resolve_table(r, option) for r in refs)
