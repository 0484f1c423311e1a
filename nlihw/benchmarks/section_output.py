"""What a ``make bench`` section leaves behind: its tables as markdown and its figures as JSON in
``build/bench/<section>.json`` (and ``<section>.md`` to read), stamped with the commit and date
they were measured on, so that the README's tables are generated from them (``readme_tables``).

A section module declares the names of the tables it publishes in a module-level ``TABLES``
tuple and calls ``publish(name, markdown)`` for each while it runs; ``nlihw.bench`` collects
them (``collect``) and writes them (``write_section``). Outside a collection ``publish`` does
nothing, so a section still runs on its own.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import subprocess
from pathlib import Path

from rich.text import Text

from nlihw.atomic import OutputSet

RESULTS_DIR = Path("build/bench")
_collecting: "list[dict[str, str]]" = []


def publish(name: str, markdown: str) -> None:
    """Hand the table ``name`` (markdown) to the collection in progress, if any."""
    if _collecting:
        tables = _collecting[-1]
        if name in tables:
            raise ValueError(f"bench table {name!r} published twice")
        tables[name] = markdown.strip() + "\n"


@contextlib.contextmanager
def collect():
    """Collect the tables ``publish``ed inside the block into the dict it yields."""
    tables: dict[str, str] = {}
    _collecting.append(tables)
    try:
        yield tables
    finally:
        _collecting.pop()


def _cell(value) -> str:
    return str(value).replace("\n", " ").replace("|", "\\|")


def markdown_table(head, rows) -> str:
    """A markdown table of plain-text cells (pipes are escaped)."""
    lines = ["| " + " | ".join(map(_cell, head)) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(map(_cell, row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _plain(cell) -> str:
    return cell.plain if isinstance(cell, Text) else Text.from_markup(str(cell)).plain


def rich_markdown(table) -> str:
    """A rich ``Table`` (cells in rich markup) as a markdown table, its title left out."""
    head = [_plain(c.header) for c in table.columns]
    rows = list(zip(*[[_plain(x) for x in c.cells] for c in table.columns])) if table.columns else []
    return markdown_table(head, rows)


def measured_commit(where: "Path | None" = None) -> str:
    """``git rev-parse --short HEAD`` of the checkout holding ``where`` (default: this package),
    with ``-dirty`` when a tracked file differs from it; ``unknown`` outside git."""
    where = Path(__file__).resolve().parent if where is None else Path(where)

    def git(*args):
        return subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True,
                              timeout=30)
    try:
        head = git("rev-parse", "--short", "HEAD")
        if head.returncode != 0 or not head.stdout.strip():
            return "unknown"
        status = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    dirty = status.returncode != 0 or bool(status.stdout.strip())
    return head.stdout.strip() + ("-dirty" if dirty else "")


def today() -> str:
    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()


def stamp(section: str, commit: str, date: str) -> str:
    """The line under every generated table: where its figures come from."""
    return f"measured on commit {commit}, {date}, `make bench` section {section}"


def _jsonable(value):
    """A section's figures as JSON values: keys as text, tuples as lists, numpy scalars as
    numbers, anything else unknown as its text."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    tolist = getattr(value, "tolist", None)          # numpy scalars and arrays
    return _jsonable(tolist()) if callable(tolist) else str(value)


def write_section(section: str, tables: dict, figures, *, commit: str, date: str,
                  seconds: "float | None" = None, results_dir: Path = RESULTS_DIR) -> list[Path]:
    """Write ``<section>.json`` (stamp, tables, figures) and ``<section>.md``, both or neither."""
    results_dir = Path(results_dir)
    doc = {"section": section, "commit": commit, "date": date, "seconds": seconds,
           "tables": dict(tables), "figures": _jsonable(figures)}
    md = [f"# `make bench` section {section}", "", stamp(section, commit, date)]
    for name, text in tables.items():
        md += ["", f"## {name}", "", text.strip()]
    out = OutputSet()
    out.add_text(results_dir / f"{section}.json",
                 json.dumps(doc, indent=1) + "\n")
    out.add_text(results_dir / f"{section}.md", "\n".join(md) + "\n")
    return out.commit()
