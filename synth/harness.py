"""Timing harness for place and route: the design's inputs come from a shift register fed by one
pin, its outputs are registered and folded by a pipelined XOR tree (one LUT level per stage) into
one pin. Every design bit stays observable, so nothing is optimized away, and any design fits the
pins of a small package; the added paths are one LUT deep, shorter than the design's own.
"""
from __future__ import annotations

import re

HARNESS_TOP = "nlihw_harness"
_PORT = re.compile(r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(?:\[(\d+):(\d+)\]\s+)?([\w$\\.]+)\s*;", re.M)


def top_ports(verilog: str, top: str) -> list[tuple[str, str, int]]:
    """(direction, name, width) of the ports of module ``top`` in Amaranth/yosys-emitted Verilog."""
    m = re.search(rf"^module\s+\\?{re.escape(top)}\s*\(", verilog, re.M)
    if not m:
        raise ValueError(f"module {top!r} not found")
    end = verilog.index("endmodule", m.end())
    ports = []
    for d, hi, lo, name in _PORT.findall(verilog[m.end():end]):
        ports.append((d, name, abs(int(hi) - int(lo)) + 1 if hi else 1))
    return ports


def harness(verilog: str, top: str, clock: str = "clk") -> str:
    ports = top_ports(verilog, top)
    ins = [(n, w) for d, n, w in ports if d == "input" and n != clock]
    outs = [(n, w) for d, n, w in ports if d == "output"]
    n_in = max(1, sum(w for _, w in ins))
    n_out = sum(w for _, w in outs)
    lines = [f"module {HARNESS_TOP}(input {clock}, input sin, output sout);",
             f"  reg [{n_in - 1}:0] shreg;",
             f"  always @(posedge {clock}) shreg <= {{shreg, sin}};" if n_in > 1 else
             f"  always @(posedge {clock}) shreg <= sin;"]
    conns, pos = [f".{clock}({clock})"], 0
    for name, w in ins:
        conns.append(f".{name}(shreg[{pos + w - 1}:{pos}])")
        pos += w
    lines.append(f"  wire [{n_out - 1}:0] o0;")
    pos = 0
    for name, w in outs:
        conns.append(f".{name}(o0[{pos + w - 1}:{pos}])")
        pos += w
    lines.append(f"  {top} dut({', '.join(conns)});")
    level, width = 0, n_out
    lines.append(f"  reg [{width - 1}:0] r0;")
    lines.append(f"  always @(posedge {clock}) r0 <= o0;")
    while width > 1:
        nxt = (width + 3) // 4
        lines.append(f"  reg [{nxt - 1}:0] r{level + 1};")
        for k in range(nxt):
            hi = min(width, 4 * k + 4) - 1
            lines.append(f"  always @(posedge {clock}) r{level + 1}[{k}] <= ^r{level}[{hi}:{4 * k}];")
        level, width = level + 1, nxt
    lines.append(f"  assign sout = r{level}[0];")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"
