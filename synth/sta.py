"""A static timing estimate of a netlist mapped to a Liberty library (the yosys JSON of the generic
targets): the worst path into each register, its start, the critical path and a clock estimate.

Rising and falling arrivals (and slews) are propagated separately in topological order from
flip-flop outputs (at their clock to Q delay, cell_rise for a rising Q, cell_fall for a falling
one) and primary inputs (at 0) to flip-flop data pins (plus the setup time of that edge:
rise_constraint or fall_constraint) and primary outputs. Each arc follows its timing_sense: a
rising output comes from a rising input through a positive_unate arc, from a falling one through
a negative_unate arc, from the worse of both through a non_unate one; its delay is its cell_rise
(cell_fall) table at (that input's slew, the load), its output slew rise_transition
(fall_transition). The load of a net is the sum of the input pin capacitances it drives, for that
edge (rise_capacitance / fall_capacitance where the library gives them, else capacitance). Cells
the library does not describe (e.g. SRAM macros kept by generic-sram) are path boundaries: their
outputs start paths at 0 (add the macro's access time yourself), their inputs end them. Every
non-clock input of a flip-flop ends a path (asynchronous set/clear too, with no recovery time).
With a library without timing (the shipped nand2_ge.lib) every cell counts 1 and flip-flops 0:
the same report is the logic depth in cells.

High fanout: yosys and ABC map without buffering, so a net such as the pipeline's stall enable
drives hundreds of pins; a placement tool would build a buffer tree. For the clock estimate a net
with more than ``MAX_FANOUT`` sinks is timed as an ideal tree of the library's fastest buffer:
sink-side levels of ceil(n / MAX_FANOUT), ceil(that / MAX_FANOUT), ... buffers until at most
``MAX_FANOUT`` remain for the driver; each level's buffers share the next level's load equally.
Nets driven by primary inputs (ideal drivers) and libraries without a buffer cell are timed with
the whole load. The result lists each such net (``high_fanout``) with the worst path through it
as the netlist is written (no buffers anywhere) next to the estimate's.

A slew extrapolated below 0 (far beyond a table's range) is taken as 0, as OpenSTA does.

Simplifications (an estimate, not sign-off timing): no wire delay or wire load, ideal clock (no
skew, slew 0, which is also the slew of primary inputs), the worst slew of each edge propagated
independently of the worst arrival, no false or multicycle paths, no hold checks, output ports
unloaded and unconstrained (their paths end at the port with no setup). The clock estimate is
1 / the worst path over all endpoints, input and output paths included. Combinational loops (none
in the engines) are left untimed.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict, deque
from dataclasses import dataclass, field

from .liberty import FALL, RISE, Cell, Library

__all__ = ["analyse", "MAX_FANOUT", "buffer_cell"]

MAX_FANOUT = 8
EDGES = (RISE, FALL)


def buffer_cell(lib: Library) -> Cell | None:
    """The library's buffer that drives ``MAX_FANOUT`` copies of itself fastest (None: none)."""
    best = None
    for c in sorted(lib.cells.values(), key=lambda c: c.name):
        arc = next((a for a in c.arcs if a.kind == "comb"), None)
        if not c.is_buffer or arc is None:
            continue
        d = arc.delay(0.0, MAX_FANOUT * c.pins[c.inputs()[0]].capacitance)
        if d is not None and (best is None or d < best[0]):
            best = (d, c)
    return best[1] if best else None


class _Tree:
    """The ideal buffer tree of one high-fanout net: the driver's load and each level's, per edge."""

    def __init__(self, buf: Cell, sinks: int, load: tuple[float, float]):
        self.arc = next(a for a in buf.arcs if a.kind == "comb")
        pin = buf.pins[buf.inputs()[0]]
        counts, m = [], sinks
        while m > MAX_FANOUT:
            m = math.ceil(m / MAX_FANOUT)
            counts.append(m)                    # counts[0]: the buffers driving the sinks
        self.driver_load = tuple(counts[-1] * pin.cap(rf) for rf in EDGES)
        # per-buffer load of each level, from the driver side down to the sinks
        self.loads = [tuple(counts[k - 1] / counts[k] * pin.cap(rf) for rf in EDGES)
                      for k in range(len(counts) - 1, 0, -1)]
        self.loads.append(tuple(load[rf] / counts[0] for rf in EDGES))

    def through(self, rf: int, slew: float) -> tuple[float, float]:
        """(delay, output slew) of the levels for edge ``rf`` (buffers keep it) at slew ``slew``."""
        total = 0.0
        for load in self.loads:
            total += self.arc.edge("delay", rf, slew, load[rf]) or 0.0
            slew = max(self.arc.edge("slew", rf, slew, load[rf]) or 0.0, 0.0)
        return total, slew


def _bit_names(mod: dict, index: bool = False) -> dict:
    """bit -> the most readable net name carrying it: visible names first, internal nets before
    ports (a register driving an output port keeps its own name), then shorter; without its bit
    index (the register's name) unless ``index``."""
    best: dict = {}
    ports = mod.get("ports", {})
    for name, net in mod.get("netnames", {}).items():
        rank = (int(net.get("hide_name", 0)), name.startswith("$"), name in ports, len(name), name)
        for b in net["bits"]:
            if isinstance(b, int) and (b not in best or rank < best[b][0]):
                best[b] = (rank, name)
    if index:
        bits = {n: mod["netnames"][n]["bits"] for _, n in best.values()}
        return {b: n if len(bits[n]) == 1 else f"{n}[{bits[n].index(b)}]" for b, (_, n) in best.items()}
    return {b: re.sub(r"\[\d+\]$", "", n) for b, (_, n) in best.items()}


@dataclass
class _Graph:
    """The timing graph of one module: loads, fanouts, arcs between bits, starts and ends."""
    cap: dict = field(default_factory=lambda: defaultdict(lambda: [0.0, 0.0]))  # bit -> load per edge
    fan: dict = field(default_factory=lambda: defaultdict(int))     # bit -> sink pins
    edges: dict = field(default_factory=lambda: defaultdict(list))  # bit -> [(out bit, cname, type, arc)]
    starts: dict = field(default_factory=dict)   # bit -> start name, or (register, clock arc)
    ends: list = field(default_factory=list)     # (bit, endpoint name, kind, setup arc or None)
    driver: dict = field(default_factory=dict)   # bit -> (instance or port name, cell type)


def _graph(mod: dict, lib: Library, names: dict) -> _Graph:
    g = _Graph()
    for pname, port in mod.get("ports", {}).items():
        for b in (b for b in port["bits"] if isinstance(b, int)):
            if port["direction"] == "input":
                g.starts[b], g.driver[b] = pname, (pname, "input port")
            else:
                g.ends.append((b, pname, "output", None))
                g.fan[b] += 1

    def bits(cell, pin):
        return [b for b in cell["connections"].get(pin, []) if isinstance(b, int)]

    for cname, cell in mod.get("cells", {}).items():
        ctype = cell["type"]
        lc = lib.cells.get(ctype)
        if ctype == "$scopeinfo":
            continue
        if lc is None:                          # a macro: a path boundary
            for pin, d in cell.get("port_directions", {}).items():
                for b in bits(cell, pin):
                    if d == "input":
                        g.ends.append((b, cname, "macro", None))
                        g.fan[b] += 1
                    else:
                        g.starts[b], g.driver[b] = cname, (cname, ctype)
            continue
        for pin, p in lc.pins.items():
            if p.direction == "input":
                for b in bits(cell, pin):
                    g.cap[b][RISE] += p.cap(RISE)
                    g.cap[b][FALL] += p.cap(FALL)
                    g.fan[b] += 1
        if lc.sequential:
            outs = [b for o in lc.outputs() for b in bits(cell, o)]
            reg = names.get(outs[0], cname) if outs else cname
            for o in lc.outputs():
                arc = next((a for a in lc.arcs if a.kind == "clock" and a.pin == o), None)
                for b in bits(cell, o):
                    g.starts[b], g.driver[b] = (reg, arc), (reg, ctype)
            for i in (i for i in lc.inputs() if not lc.pins[i].clock):
                arc = next((a for a in lc.arcs if a.kind == "setup" and a.pin == i), None)
                g.ends += [(b, reg, "register", arc) for b in bits(cell, i)]
            continue
        arcs = [(a.related, a.pin, a) for a in lc.arcs if a.kind == "comb"]
        if not lib.has_timing or not arcs:      # every input to every output
            arcs = [(i, o, None) for i in lc.inputs() for o in lc.outputs()]
        for i, o, arc in arcs:
            for bo in bits(cell, o):
                g.driver[bo] = (cname, ctype)
                for bi in bits(cell, i):
                    g.edges[bi].append((bo, cname, ctype, arc))
    return g


class _Timing:
    """Arrivals of one graph with one drive model: ``at[bit][rf]`` = [arrival, slew, start,
    (previous bit, its edge, cell type, cell name) or None], in topological ``order``."""

    def __init__(self, g: _Graph, timed: bool, trees: dict):
        self.g, self.timed, self.trees = g, timed, trees
        self.at: dict = {}
        self.order: list = []
        self.delays: dict = {}                  # (bit, its k-th arc, out edge, in edge) -> delay
        for b, s in g.starts.items():
            if isinstance(s, tuple):            # a flip-flop output: clock to Q at its load
                reg, arc = s
                self.at[b] = [[*(self.drive(arc, rf, 0.0, b) if timed else (0.0, 0.0)), reg, None]
                              for rf in EDGES]
            else:
                self.at[b] = [[0.0, 0.0, s, None] for _ in EDGES]
        self._propagate()

    def drive(self, arc, rf: int, slew: float, b) -> tuple[float, float]:
        """(delay, slew) of edge ``rf`` of ``arc`` driving net ``b``, through its buffer tree if
        it has one."""
        if not self.timed:
            return 1, 0.0
        if arc is None:
            return 0.0, 0.0
        tree = self.trees.get(b)
        load = tree.driver_load[rf] if tree else self.g.cap[b][rf]
        d = arc.edge("delay", rf, slew, load) or 0.0
        sl = max(arc.edge("slew", rf, slew, load) or 0.0, 0.0)
        if tree:
            dt, sl = tree.through(rf, sl)
            d += dt
        return d, sl

    def inputs(self, arc, rf: int) -> tuple:
        return arc.from_edges(rf) if self.timed and arc is not None else EDGES

    def _propagate(self) -> None:
        indeg = defaultdict(int)
        for outs in self.g.edges.values():
            for v, *_ in outs:
                indeg[v] += 1
        queue = deque(b for b in list(self.g.edges) if indeg[b] == 0)
        while queue:
            u = queue.popleft()
            self.order.append(u)
            src = self.at.get(u)
            for k, (v, cname, ctype, arc) in enumerate(self.g.edges[u]):
                for ro in EDGES if src is not None else ():
                    for ri in self.inputs(arc, ro):
                        d, sl = self.drive(arc, ro, src[ri][1], v)
                        self.delays[u, k, ro, ri] = d
                        t = src[ri][0] + d
                        cur = self.at.setdefault(v, [None, None])
                        if cur[ro] is None:
                            cur[ro] = [t, sl, src[ri][2], (u, ri, ctype, cname)]
                        else:
                            if t > cur[ro][0]:
                                cur[ro][0], cur[ro][2], cur[ro][3] = t, src[ri][2], (u, ri, ctype, cname)
                            cur[ro][1] = max(cur[ro][1], sl)
                indeg[v] -= 1
                if indeg[v] == 0:
                    queue.append(v)

    def setup(self, arc, rf: int, slew: float) -> float:
        return (arc.edge("constraint", rf, slew) or 0.0) if self.timed and arc else 0.0

    def worst_ends(self) -> dict:
        """(kind, name) -> (delay, start, bit, edge, setup): the worst path into each endpoint."""
        worst: dict = {}
        for b, name, kind, arc in self.g.ends:
            for rf, a in enumerate(self.at.get(b) or ()):
                if a is None:
                    continue
                setup = self.setup(arc, rf, a[1])
                t = a[0] + setup
                if (kind, name) not in worst or t > worst[kind, name][0]:
                    worst[kind, name] = (t, a[2], b, rf, setup)
        return worst

    def tails(self) -> dict:
        """bit -> per edge (the longest delay from that bit's edge to an endpoint, setup
        included, endpoint name) or None: the backward half of the worst path through a bit."""
        tail: dict = defaultdict(lambda: [None, None])

        def better(b, rf, t, name):
            if tail[b][rf] is None or t > tail[b][rf][0]:
                tail[b][rf] = (t, name)
        for b, name, kind, arc in self.g.ends:
            for rf, a in enumerate(self.at.get(b) or ()):
                if a is not None:
                    better(b, rf, self.setup(arc, rf, a[1]), name)
        for u in reversed(self.order):
            for k, (v, _, _, arc) in enumerate(self.g.edges[u] if u in self.at else ()):
                for ro in EDGES:
                    if tail[v][ro] is None:
                        continue
                    for ri in self.inputs(arc, ro):
                        better(u, ri, self.delays[u, k, ro, ri] + tail[v][ro][0], tail[v][ro][1])
        return tail

    def through(self, b, tail: dict):
        """(delay, start, end) of the worst path through bit ``b`` (None: no timed path)."""
        got = [(self.at[b][rf][0] + tail[b][rf][0], self.at[b][rf][2], tail[b][rf][1])
               for rf in EDGES if self.at.get(b) and self.at[b][rf] and tail[b][rf]]
        return max(got, key=lambda x: x[0]) if got else None


def _high_fanout(g: _Graph, est: _Timing, written: _Timing, nets_named: dict, fmt) -> list:
    """Each net with more than MAX_FANOUT sinks: its name (with its bit index), driver (instance
    or register, cell type), fanout and the worst path through it as written (no buffers
    anywhere) and in the estimate (buffer trees), slowest as written first."""
    nets = sorted(b for b, n in g.fan.items()
                  if n > MAX_FANOUT and b in g.driver and not isinstance(g.starts.get(b), str))
    if not nets:
        return []
    t_est, t_wr = est.tails(), written.tails()
    out = []
    for b in nets:
        wr, es = written.through(b, t_wr), est.through(b, t_est)
        if wr is None:
            continue
        out.append({"net": nets_named.get(b, str(b)), "driver": g.driver[b][0], "cell": g.driver[b][1],
                    "fanout": g.fan[b], "as_written": fmt(wr[0]), "from": wr[1], "to": wr[2],
                    "estimate": fmt(es[0]) if es else None})
    return sorted(out, key=lambda h: (-h["as_written"], -h["fanout"], h["net"]))


def _critical(tm: _Timing, worst: dict, names: dict, fmt) -> dict:
    (kind, name), (t, start, b, rf, setup) = max(worst.items(), key=lambda kv: (kv[1][0], kv[0]))
    path, x = [], (b, rf)
    while x is not None and tm.at.get(x[0]) and tm.at[x[0]][x[1]] is not None:
        a = tm.at[x[0]][x[1]]
        prev = a[3]
        path.append({"net": names.get(x[0], str(x[0])), "at": fmt(a[0]),
                     "edge": "rise" if x[1] == RISE else "fall", "cell": prev[2] if prev else None})
        x = prev[:2] if prev else None
    return {"delay": fmt(t), "from": start, "to": name, "kind": kind, "setup": fmt(setup),
            "path": path[::-1]}


def analyse(netlist: dict, top: str, lib: Library, top_paths: int | None = None) -> dict:
    """The timing estimate of module ``top`` of a yosys JSON ``netlist`` mapped to ``lib``.

    Returns ``unit`` ("ns", or "cells" for a library without timing), ``critical`` (delay, start,
    end, path), ``clock_estimate_mhz`` (None in cells), ``stages``: per endpoint (a register,
    named by its output net without bit indices, an output port or a macro) the worst arrival,
    setup included, and where that path starts, slowest first; ``high_fanout``: the nets over
    ``MAX_FANOUT`` sinks with the worst path through each as written (``as_written``, ns, no
    buffers) and in the estimate (``estimate``, buffer trees), and ``critical_as_written``.
    """
    mod = netlist["modules"][top]
    timed = lib.has_timing
    names = _bit_names(mod)
    g = _graph(mod, lib, names)
    buf = buffer_cell(lib) if timed else None
    trees = {b: _Tree(buf, n, tuple(g.cap[b])) for b, n in g.fan.items()
             if n > MAX_FANOUT and not isinstance(g.starts.get(b), str)} if buf else {}
    est = _Timing(g, timed, trees)
    worst = est.worst_ends()

    def fmt(x):
        return round(x, 4) if timed else int(x)

    stages = sorted(({"register": name, "kind": kind, "delay": fmt(v[0]), "from": v[1]}
                     for (kind, name), v in worst.items()),
                    key=lambda s: (-s["delay"], s["register"]))
    out = {"unit": "ns" if timed else "cells", "critical": None, "clock_estimate_mhz": None,
           "buffered_nets": len(trees), "high_fanout": [], "critical_as_written": None,
           "fanout_model": {"max_fanout": MAX_FANOUT, "buffer": buf.name} if buf else None,
           "stages": stages if top_paths is None else stages[:top_paths]}
    if worst:
        out["critical"] = _critical(est, worst, names, fmt)
        t = max(v[0] for v in worst.values())
        if timed and t > 0:
            out["clock_estimate_mhz"] = round(1000.0 / t, 1)
    if timed:
        written = _Timing(g, timed, {}) if trees else est
        out["high_fanout"] = _high_fanout(g, est, written, _bit_names(mod, index=True), fmt)
        ww = written.worst_ends()
        if ww:
            (kind, name), (t, start, *_) = max(ww.items(), key=lambda kv: (kv[1][0], kv[0]))
            out["critical_as_written"] = {"delay": fmt(t), "from": start, "to": name, "kind": kind}
    return out
