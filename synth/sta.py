"""A static timing estimate of a netlist mapped to a Liberty library (the yosys JSON of the generic
targets): the worst path into each register, its start, the critical path and a clock estimate.

Arrival times are propagated in topological order from flip-flop outputs (at their clock to Q
delay) and primary inputs (at 0) to flip-flop data pins (plus their setup time) and primary
outputs. A cell arc's delay is its NLDM table at (input slew, load), the load being the sum of the
input pin capacitances the output net drives. Cells the library does not describe (e.g. SRAM
macros kept by generic-sram) are path boundaries: their outputs start paths at 0 (add the
macro's access time yourself), their inputs end them. Every non-clock input of a flip-flop ends a
path (asynchronous set/clear too, with no recovery time). With a library without timing (the shipped nand2_ge.lib) every cell counts 1 and flip-flops
0: the same report is the logic depth in cells.

High fanout: yosys and ABC map without buffering, so a net such as the pipeline's stall enable
drives hundreds of pins; a placement tool would build a buffer tree. A net with more than
``MAX_FANOUT`` sinks is timed as an ideal tree of the library's fastest buffer: sink-side levels
of ceil(n / MAX_FANOUT), ceil(that / MAX_FANOUT), ... buffers until at most ``MAX_FANOUT`` remain
for the driver; each level's buffers share the next level's load equally. Nets driven by primary
inputs (ideal drivers) and libraries without a buffer cell are timed with the whole load.

Simplifications (an estimate, not sign-off timing): no wire delay or wire load, ideal clock (no
skew, slew 0, which is also the slew of primary inputs), the worst of rise and fall at every arc
(no unateness: a rising input may be paired with a falling output's delay), the worst slew
propagated independently of the worst arrival, no false or multicycle paths, no hold checks,
output ports unloaded and unconstrained (their paths end at the port with no setup). The clock
estimate is 1 / the worst path over all endpoints, input and output paths included. Combinational
loops (none in the engines) are left untimed.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict, deque

from .liberty import Cell, Library

__all__ = ["analyse", "MAX_FANOUT", "buffer_cell"]

MAX_FANOUT = 8


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
    """The ideal buffer tree of one high-fanout net: the driver's load and each level's."""

    def __init__(self, buf: Cell, sinks: int, load: float):
        self.arc = next(a for a in buf.arcs if a.kind == "comb")
        cin = buf.pins[buf.inputs()[0]].capacitance
        counts, m = [], sinks
        while m > MAX_FANOUT:
            m = math.ceil(m / MAX_FANOUT)
            counts.append(m)                    # counts[0]: the buffers driving the sinks
        self.driver_load = counts[-1] * cin
        # per-buffer load of each level, from the driver side down to the sinks
        self.loads = [counts[k - 1] / counts[k] * cin for k in range(len(counts) - 1, 0, -1)]
        self.loads.append(load / counts[0])

    def through(self, slew: float) -> tuple[float, float]:
        """(delay, output slew) of the levels for a driver output slew ``slew``."""
        total = 0.0
        for load in self.loads:
            total += self.arc.delay(slew, load) or 0.0
            slew = self.arc.slew(slew, load) or 0.0
        return total, slew


def _bit_names(mod: dict) -> dict:
    """bit -> the most readable net name carrying it: visible names first, internal nets before
    ports (a register driving an output port keeps its own name), then shorter."""
    best: dict = {}
    ports = mod.get("ports", {})
    for name, net in mod.get("netnames", {}).items():
        rank = (int(net.get("hide_name", 0)), name.startswith("$"), name in ports, len(name), name)
        for b in net["bits"]:
            if isinstance(b, int) and (b not in best or rank < best[b][0]):
                best[b] = (rank, name)
    return {b: re.sub(r"\[\d+\]$", "", n) for b, (_, n) in best.items()}


def analyse(netlist: dict, top: str, lib: Library, top_paths: int | None = None) -> dict:
    """The timing estimate of module ``top`` of a yosys JSON ``netlist`` mapped to ``lib``.

    Returns ``unit`` ("ns", or "cells" for a library without timing), ``critical`` (delay, start,
    end, path), ``clock_estimate_mhz`` (None in cells) and ``stages``: per endpoint (a register,
    named by its output net without bit indices, an output port or a macro) the worst arrival,
    setup included, and where that path starts, slowest first.
    """
    mod = netlist["modules"][top]
    timed = lib.has_timing
    names = _bit_names(mod)
    cap = defaultdict(float)                    # bit -> load capacitance
    fan = defaultdict(int)                      # bit -> sink pins
    edges = defaultdict(list)                   # bit -> [(out bit, cell name, type, arc or None)]
    indeg = defaultdict(int)
    starts: dict = {}                           # bit -> (arrival, slew, start name)
    ends: list = []                             # (bit, endpoint name, kind, setup arc or None)
    for pname, port in mod.get("ports", {}).items():
        for b in port["bits"]:
            if not isinstance(b, int):
                continue
            if port["direction"] == "input":
                starts[b] = (0.0, 0.0, pname)
            else:
                ends.append((b, pname, "output", None))
                fan[b] += 1

    def bits(cell, pin):
        return [b for b in cell["connections"].get(pin, []) if isinstance(b, int)]

    for cname, cell in mod.get("cells", {}).items():
        ctype = cell["type"]
        if ctype == "$scopeinfo":
            continue
        lc = lib.cells.get(ctype)
        if lc is None:                          # a macro: a path boundary
            dirs = cell.get("port_directions", {})
            for pin, d in dirs.items():
                for b in bits(cell, pin):
                    if d == "input":
                        ends.append((b, cname, "macro", None))
                        fan[b] += 1
                    else:
                        starts[b] = (0.0, 0.0, cname)
            continue
        for pin, p in lc.pins.items():
            if p.direction == "input":
                for b in bits(cell, pin):
                    cap[b] += p.capacitance
                    fan[b] += 1
        if lc.sequential:
            outs = [b for o in lc.outputs() for b in bits(cell, o)]
            reg = names.get(outs[0], cname) if outs else cname
            for o in lc.outputs():
                arc = next((a for a in lc.arcs if a.kind == "clock" and a.pin == o), None)
                for b in bits(cell, o):
                    starts[b] = (reg, arc)      # resolved once the loads are known
            for i in lc.inputs():
                if lc.pins[i].clock:
                    continue
                arc = next((a for a in lc.arcs if a.kind == "setup" and a.pin == i), None)
                ends += [(b, reg, "register", arc) for b in bits(cell, i)]
            continue
        arcs = [a for a in lc.arcs if a.kind == "comb"]
        if not timed or not arcs:               # every input to every output
            arcs = [(i, o, None) for i in lc.inputs() for o in lc.outputs()]
        else:
            arcs = [(a.related, a.pin, a) for a in arcs]
        for i, o, arc in arcs:
            for bi in bits(cell, i):
                for bo in bits(cell, o):
                    edges[bi].append((bo, cname, ctype, arc))
                    indeg[bo] += 1

    buf = buffer_cell(lib) if timed else None
    trees = {b: _Tree(buf, n, cap[b]) for b, n in fan.items() if n > MAX_FANOUT} if buf else {}

    def drive(arc, slew: float, b) -> tuple[float, float]:
        """(delay, slew) of ``arc`` driving net ``b``, through its buffer tree if it has one."""
        if not timed:
            return 1, 0.0
        if arc is None:
            return 0.0, 0.0
        tree = trees.get(b)
        load = tree.driver_load if tree else cap[b]
        d, sl = arc.delay(slew, load) or 0.0, arc.slew(slew, load) or 0.0
        if tree:
            dt, sl = tree.through(sl)
            d += dt
        return d, sl

    # arrival, slew, start name, (previous bit, cell type) of the worst arrival
    at: dict = {}
    for b, s in starts.items():
        if len(s) == 2:                         # a flip-flop output: clock to Q at its load
            reg, arc = s
            d, sl = drive(arc, 0.0, b) if timed else (0.0, 0.0)
            at[b] = [d, sl, reg, None]
        else:
            at[b] = [s[0], s[1], s[2], None]
    queue = deque(b for b in list(edges) if indeg[b] == 0)
    while queue:
        u = queue.popleft()
        src = at.get(u)
        for v, cname, ctype, arc in edges[u]:
            if src is not None:
                d, sl = drive(arc, src[1], v)
                t = src[0] + d
                cur = at.get(v)
                if cur is None:
                    at[v] = [t, sl, src[2], (u, ctype, cname)]
                else:
                    if t > cur[0]:
                        cur[0], cur[2], cur[3] = t, src[2], (u, ctype, cname)
                    cur[1] = max(cur[1], sl)
            indeg[v] -= 1
            if indeg[v] == 0:
                queue.append(v)

    worst: dict = {}                            # (kind, name) -> (delay, start, bit)
    for b, name, kind, arc in ends:
        a = at.get(b)
        if a is None:
            continue
        setup = (arc.constraint(a[1]) or 0.0) if timed and arc else 0.0
        t = a[0] + setup
        key = (kind, name)
        if key not in worst or t > worst[key][0]:
            worst[key] = (t, a[2], b, setup)

    def fmt(x):
        return round(x, 4) if timed else int(x)

    stages = sorted(({"register": name, "kind": kind, "delay": fmt(t), "from": start}
                     for (kind, name), (t, start, _, _) in worst.items()),
                    key=lambda s: (-s["delay"], s["register"]))
    out = {"unit": "ns" if timed else "cells", "critical": None, "clock_estimate_mhz": None,
           "buffered_nets": len(trees),
           "fanout_model": {"max_fanout": MAX_FANOUT, "buffer": buf.name} if buf else None,
           "stages": stages if top_paths is None else stages[:top_paths]}
    if worst:
        (kind, name), (t, start, b, setup) = max(worst.items(), key=lambda kv: (kv[1][0], kv[0]))
        path, x = [], b
        while x is not None and at.get(x) is not None:
            prev = at[x][3]
            path.append({"net": names.get(x, str(x)), "at": fmt(at[x][0]),
                         "cell": prev[1] if prev else None})
            x = prev[0] if prev else None
        out["critical"] = {"delay": fmt(t), "from": start, "to": name, "kind": kind,
                           "setup": fmt(setup), "path": path[::-1]}
        if timed and t > 0:
            out["clock_estimate_mhz"] = round(1000.0 / t, 1)
    return out
