"""The timing of a Liberty (.lib) gate library: pins, combinational arcs with their NLDM delay and
slew tables, flip-flops (clock to Q, setup), and the library's units, for ``nlihw.synth.sta``.

A small reader of Liberty syntax (groups ``name (args) { ... }``, simple attributes ``a : v ;``,
complex attributes ``a (v, ...) ;``, ``/* */`` and ``//`` comments, ``\\`` line continuations);
only what a static timing estimate needs is kept. Tables are looked up with bilinear
interpolation, extrapolating linearly beyond the index range. Times are converted to ns;
capacitances stay in the library's ``capacitive_load_unit`` (pin capacitances and table indices
share it). A file that cannot be read or parsed raises ``ParamsError`` naming the file and line.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path

from nlihw.errors import ParamsError

__all__ = ["Table", "Arc", "Pin", "Cell", "Library", "parse", "load"]

# ---------------------------------------------------------------------------------------------
# syntax


@dataclass
class _Group:
    kind: str
    args: list[str]
    line: int
    attrs: dict = field(default_factory=dict)      # name -> str (simple) or list[str] (complex)
    attr_lines: dict = field(default_factory=dict)
    groups: list["_Group"] = field(default_factory=list)

    def sub(self, kind: str) -> list["_Group"]:
        return [g for g in self.groups if g.kind == kind]


_LEX = re.compile(r"""
    (?P<ws>(?:\s+ | \\[ \t\r]*\n | //[^\n]* | /\*.*?\*/)+)
  | (?P<s>"(?:[^"\\]|\\.)*")
  | (?P<p>[(){}:;,])
  | (?P<w>(?!/\*)[^\s(){}:;,"]+)
  | (?P<bad>.)
""", re.S | re.X)


def _unquote(s: str) -> str:
    s = s[1:-1]
    return re.sub(r"\\[ \t\r]*\n", "", s) if "\\" in s else s


def _tokens(text: str, where: str) -> list:
    """[(kind, value, line)]: kind 's' string, 'p' punctuation, 'w' word, then one 'eof';
    comments and line continuations removed."""
    nls = [m.start() for m in re.finditer("\n", text)]
    line = bisect.bisect_right
    toks = [(k, _unquote(v) if k == "s" else v, line(nls, pos) + 1)
            for k, v, pos in [(m.lastgroup, m.group(), m.start()) for m in _LEX.finditer(text)]
            if k != "ws"]
    bad = next((t for t in toks if t[0] == "bad"), None)
    if bad is not None:
        k, c, ln = bad
        what = ("unterminated comment" if c == "/" else
                "unterminated string" if c == '"' else f"unexpected character {c!r}")
        raise ParamsError(f"{where}:{ln}: {what}")
    toks.append(("eof", "", len(nls) + 1))
    return toks


class _Parser:
    def __init__(self, text: str, where: str):
        self.where = where
        self.toks = _tokens(text, where)
        self.i = 0

    def fail(self, msg: str, line: int | None = None):
        raise ParamsError(f"{self.where}:{self.toks[self.i][2] if line is None else line}: {msg}")

    def peek(self):
        return self.toks[self.i]

    def take(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, punct: str):
        k, v, _ = self.take()
        if (k, v) != ("p", punct):
            self.i -= 1
            self.fail(f"expected {punct!r}, found {v!r}" if k != "eof" else f"expected {punct!r} before the end of the file")

    def name(self) -> tuple[str, int]:
        k, v, line = self.take()
        if k not in ("w", "s"):
            self.i -= 1
            self.fail(f"expected a name, found {v!r}" if k != "eof" else "unexpected end of the file")
        return v, line

    def top(self) -> _Group:
        kind, line = self.name()
        g = self.statement_rest(kind, line, top=True)
        if not isinstance(g, _Group):
            self.fail("expected a library group", line)
        k, v, _ = self.peek()
        if k != "eof":
            self.fail(f"text after the library group: {v!r}")
        return g

    def args(self) -> list[str]:
        self.expect("(")
        out: list[str] = []
        while True:
            k, v, _ = self.take()
            if (k, v) == ("p", ")"):
                return out
            if k == "eof":
                self.i -= 1
                self.fail("unclosed '(' before the end of the file")
            if (k, v) == ("p", ","):
                continue
            if k == "p":
                self.i -= 1
                self.fail(f"unexpected {v!r} in an argument list")
            # a bare value may span several words (e.g. `1 , pf` or `A B`): keep them apart
            out.append(v)

    def statement_rest(self, kind: str, line: int, top: bool = False):
        k, v, _ = self.peek()
        if (k, v) == ("p", ":"):
            self.take()
            words = []
            while True:
                k, v, l2 = self.peek()
                if (k, v) == ("p", ";"):
                    self.take()
                    break
                if k == "eof" or (k == "p" and v in "{}") or (words and l2 != line):
                    break                          # a missing ';' at the end of a line is tolerated
                if k == "p" and v in "(),:":
                    self.fail(f"unexpected {v!r} in the value of {kind!r}")
                words.append(v)
                self.take()
            if not words:
                self.fail(f"attribute {kind!r} has no value", line)
            return ("simple", kind, " ".join(words), line)
        if (k, v) != ("p", "("):
            self.fail(f"expected ':' or '(' after {kind!r}, found {v!r}" if k != "eof"
                      else f"unexpected end of the file after {kind!r}")
        args = self.args()
        k, v, _ = self.peek()
        if (k, v) == ("p", "{"):
            self.take()
            g = _Group(kind, args, line)
            while True:
                k, v, l2 = self.peek()
                if (k, v) == ("p", "}"):
                    self.take()
                    break
                if k == "eof":
                    self.fail(f"group {kind} ({', '.join(args)}) is not closed before the end of the file", line)
                if (k, v) == ("p", ";"):
                    self.take()
                    continue
                sname, sline = self.name()
                st = self.statement_rest(sname, sline)
                if isinstance(st, _Group):
                    g.groups.append(st)
                else:
                    _, an, av, al = st
                    g.attrs[an] = av
                    g.attr_lines[an] = al
            return g
        if (k, v) == ("p", ";"):
            self.take()
        elif top:
            self.fail(f"expected '{{' after {kind} (...)")
        return ("complex", kind, args, line)


# ---------------------------------------------------------------------------------------------
# timing model

_TIME = {"fs": 1e-6, "ps": 1e-3, "ns": 1.0, "us": 1e3}
SLEW_VARS = ("input_net_transition", "input_transition_time", "constrained_pin_transition")
LOAD_VARS = ("total_output_net_capacitance",)


@dataclass(frozen=True)
class Table:
    """An NLDM table (ns): ``values[i][j]`` at ``index_1[i]``, ``index_2[j]``; the variables say
    which index is the input slew and which the output load."""
    variables: tuple[str, ...]
    index_1: tuple[float, ...]
    index_2: tuple[float, ...]
    values: tuple[tuple[float, ...], ...]

    def lookup(self, slew: float = 0.0, load: float = 0.0, related_slew: float = 0.0) -> float:
        """The value at input slew ``slew`` and load ``load`` (bilinear; linear beyond the ends)."""
        def coord(var: str) -> float:
            if var in SLEW_VARS:
                return slew
            if var in LOAD_VARS:
                return load
            return related_slew if var == "related_pin_transition" else 0.0
        x = coord(self.variables[0]) if self.variables else 0.0
        y = coord(self.variables[1]) if len(self.variables) > 1 else 0.0
        rows = [_interp(self.index_2, row, y) for row in self.values]
        return _interp(self.index_1, rows, x)


def _interp(xs: tuple[float, ...], ys, x: float) -> float:
    if len(ys) == 1:
        return ys[0]
    k = min(max(bisect.bisect_right(xs, x) - 1, 0), len(xs) - 2)
    x0, x1 = xs[k], xs[k + 1]
    return ys[k] + (ys[k + 1] - ys[k]) * (x - x0) / (x1 - x0)


@dataclass(frozen=True)
class Arc:
    """A timing arc from ``related`` to ``pin``: ``kind`` is ``comb`` (a delay), ``clock`` (clock
    to Q) or ``setup`` (a constraint on a data pin); tables by name (cell_rise, ...)."""
    related: str
    pin: str
    kind: str
    tables: dict

    def worst(self, names: tuple[str, ...], slew: float, load: float) -> float | None:
        got = [self.tables[n].lookup(slew, load) for n in names if n in self.tables]
        return max(got) if got else None

    def delay(self, slew: float, load: float) -> float | None:
        """Worst of rise and fall delay (ns)."""
        return self.worst(("cell_rise", "cell_fall"), slew, load)

    def slew(self, slew: float, load: float) -> float | None:
        """Worst of rise and fall output transition (ns)."""
        return self.worst(("rise_transition", "fall_transition"), slew, load)

    def constraint(self, slew: float) -> float | None:
        return self.worst(("rise_constraint", "fall_constraint"), slew, 0.0)


@dataclass(frozen=True)
class Pin:
    name: str
    direction: str
    capacitance: float
    clock: bool = False
    function: str | None = None


@dataclass
class Cell:
    name: str
    pins: dict            # name -> Pin
    arcs: list            # Arc
    sequential: bool      # has an ff or latch group
    clocks: tuple = ()    # clock pins of a flip-flop
    area: float = 0.0

    @property
    def is_buffer(self) -> bool:
        """One input, one output that is that input (a buffer)."""
        i, o = self.inputs(), self.outputs()
        return (not self.sequential and len(i) == 1 and len(o) == 1
                and (self.pins[o[0]].function or "").strip() in (i[0], f"({i[0]})"))

    def inputs(self) -> list[str]:
        return [p for p, v in self.pins.items() if v.direction == "input"]

    def outputs(self) -> list[str]:
        return [p for p, v in self.pins.items() if v.direction in ("output", "inout")]


@dataclass
class Library:
    name: str
    time_unit_ns: float
    capacitive_load_unit: tuple       # (value, unit), e.g. (1.0, "pf")
    cells: dict                       # name -> Cell

    @property
    def has_timing(self) -> bool:
        """Whether any cell has a delay table (the shipped nand2_ge.lib has none)."""
        return any(a.kind in ("comb", "clock") and a.tables for c in self.cells.values() for a in c.arcs)


def _floats(s: str, where: str, line: int) -> list[float]:
    try:
        return [float(x) for x in s.replace(",", " ").split()]
    except ValueError:
        raise ParamsError(f"{where}:{line}: not a list of numbers: {s!r}") from None


def _time_unit(s: str, where: str, line: int) -> float:
    m = re.fullmatch(r'\s*([0-9.]+)\s*([a-z]+)\s*', s.lower())
    if not m or m.group(2) not in _TIME:
        raise ParamsError(f"{where}:{line}: time_unit {s!r} is not like \"1ns\" or \"1ps\"")
    return float(m.group(1)) * _TIME[m.group(2)]


def _table(g: _Group, templates: dict, scale: float, where: str) -> Table:
    tpl = templates.get(g.args[0] if g.args else "scalar", {})
    if g.args and g.args[0] != "scalar" and g.args[0] not in templates:
        raise ParamsError(f"{where}:{g.line}: {g.kind} uses the undefined template {g.args[0]!r}")
    variables = tuple(tpl.get(f"variable_{k}") for k in (1, 2) if tpl.get(f"variable_{k}"))
    idx = []
    for k in (1, 2):
        a = g.attrs.get(f"index_{k}", tpl.get(f"index_{k}"))
        if a is None:
            idx.append(())
        else:
            idx.append(tuple(_floats(" ".join(a) if isinstance(a, list) else a, where, g.line)))
    if "values" not in g.attrs or not isinstance(g.attrs["values"], list):
        raise ParamsError(f"{where}:{g.line}: {g.kind} has no values (...)")
    rows = [tuple(v * scale for v in _floats(r, where, g.attr_lines["values"])) for r in g.attrs["values"]]
    n1, n2 = len(idx[0]) or 1, len(idx[1]) or 1
    if len(variables) == 1 and len(rows) == n1 and all(len(r) == 1 for r in rows) and n1 > 1:
        pass                                              # one row per line
    elif len(variables) == 1 and len(rows) == 1:
        rows = [(v,) for v in rows[0]]                    # the usual 1-D form: one row
    if len(rows) != n1 or any(len(r) != n2 for r in rows) or any(list(i) != sorted(set(i)) for i in idx):
        raise ParamsError(f"{where}:{g.attr_lines['values']}: {g.kind} values do not match its "
                          f"indices ({n1} x {n2} expected, increasing indices)")
    if len(variables) < len([i for i in idx if i]):
        raise ParamsError(f"{where}:{g.line}: {g.kind}: indices without template variables")
    return Table(variables, idx[0], idx[1], tuple(rows))


_DELAY_TABLES = ("cell_rise", "cell_fall", "rise_transition", "fall_transition")
_CONSTRAINT_TABLES = ("rise_constraint", "fall_constraint")


def parse(text: str, where: str = "<liberty>") -> Library:
    """The timing data of a Liberty library given as text."""
    root = _Parser(text, where).top()
    if root.kind != "library":
        raise ParamsError(f"{where}:{root.line}: expected a library group, found {root.kind!r}")
    scale = 1.0
    if "time_unit" in root.attrs:
        scale = _time_unit(str(root.attrs["time_unit"]).strip('"'), where, root.attr_lines["time_unit"])
    cap = (1.0, "pf")
    if "capacitive_load_unit" in root.attrs:
        a = root.attrs["capacitive_load_unit"]
        parts = a if isinstance(a, list) else a.split()
        try:
            cap = (float(parts[0]), str(parts[1]).lower())
        except (ValueError, IndexError):
            raise ParamsError(f"{where}:{root.attr_lines['capacitive_load_unit']}: "
                              f"capacitive_load_unit {a!r} is not like (1, pf)") from None
    templates = {}
    for g in root.groups:
        if g.kind in ("lu_table_template", "power_lut_template") and g.args:
            templates[g.args[0]] = {k: v for k, v in g.attrs.items()}
    cells = {}
    for cg in root.sub("cell"):
        if not cg.args:
            raise ParamsError(f"{where}:{cg.line}: cell without a name")
        pins, arcs = {}, []
        seq = [g for g in cg.groups if g.kind in ("ff", "latch", "ff_bank", "latch_bank")]
        clock_names = set()
        for s in seq:
            for key in ("clocked_on", "enable"):
                clock_names |= set(re.findall(r"\w+", str(s.attrs.get(key, "")).strip('"')))
        for pg in cg.sub("pin"):
            for pname in pg.args:
                try:
                    capv = float(pg.attrs.get("capacitance", 0.0))
                except ValueError:
                    raise ParamsError(f"{where}:{pg.attr_lines['capacitance']}: pin {pname} "
                                      f"capacitance {pg.attrs['capacitance']!r} is not a number") from None
                clk = str(pg.attrs.get("clock", "false")).strip('"') == "true" or pname in clock_names
                func = pg.attrs.get("function")
                pins[pname] = Pin(pname, str(pg.attrs.get("direction", "input")).strip('"'), capv, clk,
                                  str(func) if func is not None else None)
                for tg in pg.sub("timing"):
                    ttype = str(tg.attrs.get("timing_type", "combinational")).strip('"')
                    related = str(tg.attrs.get("related_pin", "")).strip('"').split()
                    if ttype in ("rising_edge", "falling_edge"):
                        kind, names = "clock", _DELAY_TABLES
                    elif ttype in ("setup_rising", "setup_falling"):
                        kind, names = "setup", _CONSTRAINT_TABLES
                    elif ttype.startswith("combinational") or ttype.startswith("three_state"):
                        kind, names = "comb", _DELAY_TABLES
                    else:
                        continue                           # hold, recovery, removal, ...: ignored
                    tables = {t.kind: _table(t, templates, scale, where) for t in tg.groups if t.kind in names}
                    arcs += [Arc(r, pname, kind, tables) for r in related]
        clocks = tuple(p for p, v in pins.items() if v.clock)
        try:
            area = float(cg.attrs.get("area", 0.0))
        except ValueError:
            raise ParamsError(f"{where}:{cg.attr_lines['area']}: cell {cg.args[0]} area "
                              f"{cg.attrs['area']!r} is not a number") from None
        cells[cg.args[0]] = Cell(cg.args[0], pins, arcs, bool(seq), clocks if seq else (), area)
    return Library(root.args[0] if root.args else "", scale, cap, cells)


def load(path: "str | Path") -> Library:
    """The timing data of the Liberty file ``path``."""
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        raise ParamsError(f"{path}: cannot read the liberty file ({e.strerror})") from None
    return parse(text, str(path))
