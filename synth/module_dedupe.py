"""Merge structurally identical modules of a yosys RTLIL dump, so each is mapped to gates once.

Amaranth emits P identical lanes as P modules with different names (``engine.mac0`` ..
``engine.mac15``); yosys has no pass that merges them. Two modules are identical here when their
dumps are equal after dropping ``src`` attributes, renaming every declared name that is not a
port (wires, memories, cells, processes) in order of first appearance (a bijective renaming), and
replacing the ``PRIORITY`` of memory init and write cells (a design-wide counter; only the order
counts) by its rank: so equal texts are the same circuit. The test is exact in that direction;
modules it fails to match are only mapped more than once. Every instance of a merged module then
names the one kept (the first by name), and the process repeats until no parent changes (lanes
of lanes). Black boxes (library cells) are never merged.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\S+')
_DECL = ("wire ", "memory ", "cell ", "process ")
_PORT = re.compile(r"\s(?:input|output|inout)\s\d+\s")
_PRIORITY = re.compile(r"parameter \\PRIORITY (-?\d+)$")


@dataclass
class _Module:
    name: str
    head: list[str]            # attribute lines before "module"
    body: list[str]            # from "module NAME" to "end"

    @property
    def blackbox(self) -> bool:
        """A cell library's module (``read_liberty -lib``) or a user's black box: never merged."""
        return any(h.startswith(("attribute \\blackbox ", "attribute \\whitebox ")) for h in self.head)

    def declared(self) -> set[str]:
        """Names of the module's wires (ports excepted), memories, cells and processes."""
        names = set()
        for line in self.body[1:]:
            s = line.strip()
            if s.startswith(_DECL) and not (s.startswith("wire ") and _PORT.search(f" {s} ")):
                names.add(s.rsplit(" ", 1)[1])
        return names

    def shape(self) -> str:
        """The module's text without its name and ``src`` attributes, internal names renamed."""
        declared, rename = self.declared(), {}

        def canon(tok: str) -> str:
            if tok.startswith('"'):
                inner = tok[1:-1].replace("\\\\", "\\")
                return canon(inner) if inner in declared else tok
            if tok in declared:
                if tok not in rename:
                    rename[tok] = f"\0{len(rename)}"
                return rename[tok]
            return tok
        found = [_PRIORITY.match(s.strip()) for s in self.body]
        ranks = {p: f"#{i}" for i, p in enumerate(sorted({int(m.group(1)) for m in found if m}))}
        out = []
        for line in self.head + self.body[1:]:
            s = line.strip()
            if s.startswith("attribute \\src "):
                continue
            m = _PRIORITY.match(s)
            if m:
                line = f"parameter \\PRIORITY {ranks[int(m.group(1))]}"
            out.append(" ".join(canon(t) for t in _TOKEN.findall(line)))
        return "\n".join(out)


def _split(text: str) -> tuple[list[str], list[_Module]]:
    """(lines before the first module, modules) of an RTLIL dump."""
    preamble, modules, pending, current = [], [], [], None
    for line in text.splitlines():
        if current is not None:
            current.body.append(line)
            if line == "end":
                modules.append(current)
                current = None
        elif line.startswith("module "):
            current = _Module(line.split(" ", 1)[1], pending, [line])
            pending = []
        elif line.startswith("attribute "):
            pending.append(line)
        else:
            preamble.append(line)
    if current is not None or pending:
        raise ValueError("truncated RTLIL dump")
    return preamble, modules


def _retype(module: _Module, kept: dict[str, str]) -> None:
    """Instances of merged modules in ``module`` name the module kept instead."""
    for i, line in enumerate(module.body):
        s = line.lstrip()
        if s.startswith("cell "):
            _, typ, name = s.split(" ", 2)
            if typ in kept:
                module.body[i] = f"{line[:len(line) - len(s)]}cell {kept[typ]} {name}"


def dedupe(text: str) -> tuple[str, dict[str, list[str]]]:
    """(RTLIL text with identical modules merged, {module kept: [modules merged into it]})."""
    preamble, modules = _split(text)
    merged: dict[str, list[str]] = {}
    while True:
        first: dict[str, str] = {}
        kept: dict[str, str] = {}
        for m in sorted(modules, key=lambda m: m.name):
            if m.blackbox:
                continue
            rep = first.setdefault(m.shape(), m.name)
            if rep != m.name:
                kept[m.name] = rep
        if not kept:
            break
        modules = [m for m in modules if m.name not in kept]
        for m in modules:
            _retype(m, kept)
        for name, rep in kept.items():
            merged.setdefault(rep, []).extend([name, *merged.pop(name, [])])
    lines = preamble + [line for m in modules for line in m.head + m.body]
    return "\n".join(lines) + "\n", {k: sorted(v) for k, v in sorted(merged.items())}


def instance_counts(children: dict[str, dict[str, int]], top: str) -> dict[str, int]:
    """{module: instances of it under ``top``} (``top``: 1), from {module: {child module: count}}
    (types that are not keys are leaf cells); a module reached twice adds up."""
    order, seen = [], set()

    def visit(m: str) -> None:              # depth-first postorder: parents after children
        seen.add(m)
        for c in children.get(m, {}):
            if c in children and c not in seen:
                visit(c)
        order.append(m)
    visit(top)
    counts = dict.fromkeys(order, 0)
    counts[top] = 1
    for m in reversed(order):              # every parent before its children
        for c, n in children[m].items():
            if c in counts:
                counts[c] += counts[m] * n
    return counts


def children_of(text: str) -> dict[str, dict[str, int]]:
    """{module: {cell type: count}} of an RTLIL dump (black boxes left out)."""
    out = {}
    for m in _split(text)[1]:
        if not m.blackbox:
            types: dict[str, int] = {}
            for line in m.body:
                s = line.lstrip()
                if s.startswith("cell "):
                    t = s.split(" ")[1]
                    types[t] = types.get(t, 0) + 1
            out[m.name] = types
    return out
