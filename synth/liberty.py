"""The timing of a Liberty (.lib) gate library: pins, combinational arcs with their NLDM delay and
slew tables, flip-flops (clock to Q, setup), and the library's units, for ``nlihw.synth.sta``.

A small reader of Liberty syntax (groups ``name (args) { ... }``, simple attributes ``a : v ;``,
complex attributes ``a (v, ...) ;``, ``/* */`` and ``//`` comments, ``\\`` line continuations);
only what a static timing estimate needs is kept. Tables are looked up with bilinear
interpolation, extrapolating linearly beyond the index range. Times are converted to ns;
capacitances stay in the library's ``capacitive_load_unit`` (pin capacitances and table indices
share it). A file that cannot be read or parsed raises ``ParamsError`` naming the file and line.

Hostile input: only a regular file is read (a FIFO, a device or a directory is refused from its
``stat``, before it is opened), at most ``MAX_BYTES``; groups nest at most ``MAX_DEPTH`` deep.
Each arc keeps its ``timing_sense`` (given, or worked out from the output pin's ``function``) and
each pin its rise and fall capacitance, for a static timing estimate that follows rise and fall.
"""
from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from nlihw.errors import ParamsError
from nlihw.atomic import read_regular

__all__ = ["Table", "Arc", "Pin", "Cell", "Library", "parse", "load", "read_bytes",
           "MAX_BYTES", "MAX_DEPTH"]

MAX_BYTES = 256 * 2**20      # real libraries are up to ~100 MB
MAX_DEPTH = 64               # real libraries nest 5 to 8 groups deep (library, cell, pin, timing, table)

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

    def statement_rest(self, kind: str, line: int, top: bool = False, depth: int = 1):
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
            if depth > MAX_DEPTH:
                self.fail(f"groups nested more than {MAX_DEPTH} deep", line)
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
                st = self.statement_rest(sname, sline, depth=depth + 1)
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
        if len(self.values) == 1:
            return _interp(self.index_2, self.values[0], y)
        k = _segment(self.index_1, x)               # only the two rows around x
        rows = [_interp(self.index_2, self.values[i], y) for i in (k, k + 1)]
        return _interp(self.index_1[k:k + 2], rows, x)


def _segment(xs: tuple[float, ...], x: float) -> int:
    """The index of the segment of ``xs`` that holds ``x`` (the first or last one beyond the ends)."""
    return min(max(bisect.bisect_right(xs, x) - 1, 0), len(xs) - 2)


def _interp(xs: tuple[float, ...], ys, x: float) -> float:
    if len(ys) == 1:
        return ys[0]
    k = _segment(xs, x)
    x0, x1 = xs[k], xs[k + 1]
    return ys[k] + (ys[k + 1] - ys[k]) * (x - x0) / (x1 - x0)


SENSES = ("positive_unate", "negative_unate", "non_unate")
RISE, FALL = 0, 1
_EDGE_TABLES = {"delay": ("cell_rise", "cell_fall"), "slew": ("rise_transition", "fall_transition"),
                "constraint": ("rise_constraint", "fall_constraint")}


@dataclass(frozen=True)
class Arc:
    """A timing arc from ``related`` to ``pin``: ``kind`` is ``comb`` (a delay), ``clock`` (clock
    to Q) or ``setup`` (a constraint on a data pin); tables by name (cell_rise, ...); ``sense``
    is its timing_sense (one of ``SENSES``; clock and setup arcs: non_unate)."""
    related: str
    pin: str
    kind: str
    tables: dict
    sense: str = "non_unate"

    def worst(self, names: tuple[str, ...], slew: float, load: float) -> float | None:
        got = [self.tables[n].lookup(slew, load) for n in names if n in self.tables]
        return max(got) if got else None

    def edge(self, what: str, rf: int, slew: float, load: float = 0.0) -> float | None:
        """The ``what`` (delay, slew or constraint) table of the rising (``rf`` = RISE) or falling
        output (constrained pin) at (slew, load); the other edge's table if this one is missing."""
        names = _EDGE_TABLES[what]
        for n in (names[rf], names[1 - rf]):
            if n in self.tables:
                return self.tables[n].lookup(slew, load)
        return None

    def from_edges(self, rf: int) -> tuple[int, ...]:
        """The input edges (RISE, FALL) that make output edge ``rf`` through this arc."""
        if self.sense == "positive_unate":
            return (rf,)
        return (1 - rf,) if self.sense == "negative_unate" else (RISE, FALL)

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
    rise_capacitance: float | None = None     # None: ``capacitance``
    fall_capacitance: float | None = None

    def cap(self, rf: int) -> float:
        """The pin's capacitance to a rising (``rf`` = RISE) or falling signal."""
        c = self.rise_capacitance if rf == RISE else self.fall_capacitance
        return self.capacitance if c is None else c


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
_FUNC_TOKEN = re.compile(r"\s*(?:([A-Za-z_][\w\[\].]*)|([01])|([!'*&+|^()]))")


def _function(text: str):
    """A Liberty boolean ``function`` as (callable on {pin: bool}, its pins); None if it cannot
    be read. ``'``/``!`` invert, then ``^``, then ``*``/``&``/juxtaposition, then ``+``/``|``."""
    toks, pos, text = [], 0, text.strip()
    while pos < len(text):
        m = _FUNC_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            return None
        toks.append(m.group(1) or m.group(2) or m.group(3))
        pos = m.end()
    toks.append(None)
    i = 0

    def primary():
        nonlocal i
        t, i = toks[i], i + 1
        if t == "!":
            f = primary()
            return lambda e: not f(e)
        if t == "(":
            f = disj()
            if toks[i] != ")":
                raise ValueError
            i += 1
        elif t in ("0", "1"):
            f = (lambda v: lambda e: v)(t == "1")
        elif t is not None and t not in "'*&+|^)":
            f = (lambda n: lambda e: e[n])(t)
        else:
            raise ValueError
        while toks[i] == "'":
            i += 1
            f = (lambda g: lambda e: not g(e))(f)
        return f

    def chain(sub, ops, join, juxtapose=False):
        def parse_chain():
            nonlocal i
            fs = [sub()]
            while toks[i] in ops or (juxtapose and toks[i] is not None and toks[i] not in "'*&+|^)"):
                i += 1 if toks[i] in ops else 0
                fs.append(sub())
            return fs[0] if len(fs) == 1 else (lambda gs: lambda e: join(g(e) for g in gs))(fs)
        return parse_chain

    xor = chain(primary, ("^",), lambda vs: sum(vs) % 2 == 1)
    conj = chain(xor, ("*", "&"), all, juxtapose=True)
    disj = chain(conj, ("+", "|"), any)
    try:
        f = disj()
    except (ValueError, IndexError):
        return None
    if toks[i] is not None:
        return None
    return f, sorted({t for t in toks if t and (t[0].isalpha() or t[0] == "_")})


def _sense_of(function: str | None, pin: str) -> str:
    """The unateness of ``function`` in ``pin`` from its truth table (non_unate if unknown)."""
    got = _function(function) if function and len(function) <= 256 else None
    if got is None or pin not in got[1] or len(got[1]) > 10:
        return "non_unate"
    f, names = got
    others = [n for n in names if n != pin]
    up = down = False
    for vals in itertools.product((False, True), repeat=len(others)):
        env = dict(zip(others, vals))
        lo, hi = f({**env, pin: False}), f({**env, pin: True})
        up, down = up or hi > lo, down or lo > hi
    return "positive_unate" if up and not down else "negative_unate" if down and not up else "non_unate"


def _number(g: _Group, key: str, what: str, where: str, default=0.0) -> float:
    try:
        return float(g.attrs.get(key, default))
    except (ValueError, TypeError):
        raise ParamsError(f"{where}:{g.attr_lines[key]}: {what} {key} {g.attrs[key]!r} "
                          f"is not a number") from None


def _pin_arcs(pg: _Group, pname: str, func: str | None, templates: dict, scale: float,
              where: str) -> list:
    """The timing arcs of pin ``pname`` (its group ``pg``), one per related pin."""
    arcs = []
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
        given = str(tg.attrs.get("timing_sense", "")).strip('"')
        if given and given not in SENSES:
            raise ParamsError(f"{where}:{tg.attr_lines['timing_sense']}: timing_sense {given!r} "
                              f"is not one of {', '.join(SENSES)}")
        tables = {t.kind: _table(t, templates, scale, where) for t in tg.groups if t.kind in names}
        for r in related:
            sense = (given or _sense_of(func, r)) if kind == "comb" else "non_unate"
            arcs.append(Arc(r, pname, kind, tables, sense))
    return arcs


def _cell(cg: _Group, templates: dict, scale: float, where: str) -> Cell:
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
            capv = _number(pg, "capacitance", f"pin {pname}", where)
            rf = [_number(pg, k, f"pin {pname}", where) if k in pg.attrs else None
                  for k in ("rise_capacitance", "fall_capacitance")]
            clk = str(pg.attrs.get("clock", "false")).strip('"') == "true" or pname in clock_names
            func = pg.attrs.get("function")
            func = str(func).strip('"') if func is not None else None
            pins[pname] = Pin(pname, str(pg.attrs.get("direction", "input")).strip('"'), capv, clk,
                              func, *rf)
            arcs += _pin_arcs(pg, pname, func, templates, scale, where)
    clocks = tuple(p for p, v in pins.items() if v.clock)
    area = _number(cg, "area", f"cell {cg.args[0]}", where)
    return Cell(cg.args[0], pins, arcs, bool(seq), clocks if seq else (), area)


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
        c = _cell(cg, templates, scale, where)
        cells[c.name] = c
    return Library(root.args[0] if root.args else "", scale, cap, cells)


def read_bytes(path: "str | Path", limit: int | None = None) -> bytes:
    """The bytes of the liberty file ``path``: a regular file of at most ``limit`` (default
    ``MAX_BYTES``) bytes; a FIFO, a device or a directory is refused from its stat before it is
    opened (``nlihw.atomic.read_regular``). Any refusal is a one-line ``ParamsError``."""
    return read_regular(path, "liberty file", MAX_BYTES if limit is None else limit)


def load(path: "str | Path") -> Library:
    """The timing data of the Liberty file ``path`` (read with ``read_bytes``)."""
    return parse(read_bytes(path).decode(errors="replace"), str(Path(path)))
