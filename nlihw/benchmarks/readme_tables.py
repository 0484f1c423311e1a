"""The README's result tables, generated from ``make bench`` output: every block between
``<!-- bench:SECTION/TABLE -->`` and ``<!-- /bench -->`` is replaced by table TABLE of section
SECTION (``build/bench/SECTION.json``, see ``section_output``) under a line naming the commit and
date it was measured on.

``python -m nlihw.benchmarks.readme_tables`` rewrites README.md (atomically, only if a block
changed); ``--section NAME`` rewrites only that section's blocks; ``--check`` only checks the
markers (balanced, naming a section of ``nlihw.bench.SECTIONS`` and a table in its ``TABLES``)
and needs no bench output. An unknown or malformed marker, or a missing bench output, is a
one-line error (exit 2) and the README is left as it was.
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from nlihw.atomic import atomic_write_text
from nlihw.bench import SECTIONS
from nlihw.benchmarks.section_output import RESULTS_DIR, stamp
from nlihw.errors import NlihwError

OPEN = re.compile(r"<!-- bench:([A-Za-z0-9_-]+)/([A-Za-z0-9_.-]+) -->")
CLOSE = "<!-- /bench -->"
_MARKERISH = re.compile(r"\s*<!--\s*/?\s*bench\b")


class ReadmeTablesError(NlihwError):
    """A marker or a bench output the README's tables cannot be generated from."""


@dataclass(frozen=True)
class Block:
    """A marked block: the marker lines' indices (0-based) and what they name."""
    section: str
    table: str
    open_line: int
    close_line: int


def find_blocks(text: str, where: str = "README.md") -> list[Block]:
    """The marked blocks of ``text`` in order; unbalanced, nested or malformed markers raise."""
    blocks, current = [], None
    for i, line in enumerate(text.split("\n")):
        s = line.strip()
        m = OPEN.fullmatch(s)
        if m:
            if current:
                raise ReadmeTablesError(f"{where}:{i + 1}: marker inside the block opened on "
                                        f"line {current[2] + 1} (missing {CLOSE})")
            current = (m.group(1), m.group(2), i)
        elif s == CLOSE:
            if not current:
                raise ReadmeTablesError(f"{where}:{i + 1}: {CLOSE} without an opening marker")
            blocks.append(Block(current[0], current[1], current[2], i))
            current = None
        elif _MARKERISH.match(s):
            raise ReadmeTablesError(f"{where}:{i + 1}: malformed marker {s!r} (expected "
                                    f"'<!-- bench:SECTION/TABLE -->' or '{CLOSE}')")
    if current:
        raise ReadmeTablesError(f"{where}:{current[2] + 1}: block bench:{current[0]}/{current[1]} "
                                f"is never closed ({CLOSE})")
    return blocks


def module_tables(module: str) -> tuple[str, ...]:
    """The ``TABLES`` tuple a section module declares, read from its source (not imported)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        raise ReadmeTablesError(f"{module}: no such bench module")
    tree = ast.parse(Path(spec.origin).read_text(), spec.origin)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "TABLES" for t in node.targets):
            try:
                names = ast.literal_eval(node.value)
            except ValueError:
                break
            if isinstance(names, tuple) and all(isinstance(n, str) for n in names):
                return names
    raise ReadmeTablesError(f"{module}: no TABLES tuple of table names")


def declared_tables(sections=None) -> dict[str, tuple[str, ...]]:
    """Section name -> the table names it declares, for every section of ``nlihw.bench``."""
    if sections is None:
        sections = SECTIONS
    return {name: module_tables(module) for name, module in sections}


def check_blocks(blocks: list[Block], declared: dict, where: str = "README.md") -> None:
    """Every block names a bench section that exists and a table that section declares."""
    for b in blocks:
        if b.section not in declared:
            raise ReadmeTablesError(f"{where}:{b.open_line + 1}: bench:{b.section}/{b.table}: no "
                                    f"bench section {b.section!r} (sections: {', '.join(declared)})")
        if b.table not in declared[b.section]:
            raise ReadmeTablesError(f"{where}:{b.open_line + 1}: bench:{b.section}/{b.table}: section "
                                    f"{b.section} has no table {b.table!r} (tables: "
                                    f"{', '.join(declared[b.section])})")


def load_output(results_dir: Path, section: str) -> dict:
    """A section's bench output (``<section>.json``: commit, date, tables)."""
    path = Path(results_dir) / f"{section}.json"
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ReadmeTablesError(f"{path}: no bench output for section {section} (run `python -m "
                                f"nlihw.bench {section}`)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReadmeTablesError(f"{path}: unreadable bench output: {e}") from None
    if not (isinstance(doc, dict) and isinstance(doc.get("tables"), dict)
            and isinstance(doc.get("commit"), str) and isinstance(doc.get("date"), str)):
        raise ReadmeTablesError(f"{path}: not a bench output (commit, date and tables expected)")
    return doc


def block_lines(section: str, table: str, doc: dict, where: str) -> list[str]:
    """The generated body of one block: the stamp line, then the table."""
    text = doc["tables"].get(table)
    if not isinstance(text, str):
        raise ReadmeTablesError(f"{where}: bench output of section {section} has no table {table!r} "
                                f"(it has: {', '.join(doc['tables']) or 'none'})")
    return ["", stamp(section, doc["commit"], doc["date"]), "", *text.strip().split("\n"), ""]


def rewrite(text: str, outputs: dict, sections=None, where: str = "README.md") -> str:
    """``text`` with every block of ``sections`` (default: all) replaced from ``outputs``
    (section -> bench output); a block whose section has no output raises."""
    lines = text.split("\n")
    out, pos = [], 0
    for b in find_blocks(text, where):
        if sections is not None and b.section not in sections:
            continue
        if b.section not in outputs:
            raise ReadmeTablesError(f"{where}:{b.open_line + 1}: no bench output for section {b.section}")
        out += lines[pos:b.open_line + 1]
        out += block_lines(b.section, b.table, outputs[b.section], f"{where}:{b.open_line + 1}")
        pos = b.close_line
    return "\n".join(out + lines[pos:])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nlihw.benchmarks.readme_tables",
                                 description="Rewrite the README's marked result tables from "
                                             "`make bench` output.")
    ap.add_argument("--check", action="store_true",
                    help="only check the markers (no bench output needed); write nothing")
    ap.add_argument("--section", action="append", metavar="NAME",
                    help="rewrite only this section's blocks (repeatable; default: all)")
    ap.add_argument("--readme", type=Path, default=Path("README.md"))
    ap.add_argument("--results", type=Path, default=RESULTS_DIR,
                    help="the bench output directory (default: %(default)s)")
    args = ap.parse_args(argv)
    try:
        text = args.readme.read_text()
        blocks = find_blocks(text, str(args.readme))
        declared = declared_tables()
        check_blocks(blocks, declared, str(args.readme))
        for s in args.section or ():
            if s not in declared:
                raise ReadmeTablesError(f"--section {s}: no bench section {s!r} "
                                        f"(sections: {', '.join(declared)})")
        if args.check:
            print(f"{args.readme}: {len(blocks)} marked tables, every one names a bench table")
            return 0
        wanted = {b.section for b in blocks if not args.section or b.section in args.section}
        outputs = {s: load_output(args.results, s) for s in sorted(wanted)}
        new = rewrite(text, outputs, set(wanted), str(args.readme))
        if new != text:
            atomic_write_text(args.readme, new)
        n = sum(b.section in wanted for b in blocks)
        print(f"{args.readme}: {n} tables {'rewritten' if new != text else 'already up to date'}")
        return 0
    except (OSError, UnicodeDecodeError) as e:
        print(f"error: {getattr(e, 'filename', None) or args.readme}: {getattr(e, 'strerror', None) or e}",
              file=sys.stderr)
        return 2
    except NlihwError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
