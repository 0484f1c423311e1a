"""ECP5 DSP and block-RAM register packing: the fabric registers in front of and behind each
MULT18X18D moved into the block's own input (REG_INPUTA/B) and output (REG_OUTPUT) registers, and
the registers behind a DP16KD read port into its output register (REGMODE OUTREG).

yosys ``synth_ecp5`` maps a product to a combinational MULT18X18D and leaves the registers the
RTL puts around it (``mul_in``, ``interp_in`` and the product registers) in the fabric, so every
multiplier path runs fabric register, routing, 3.9 ns of DSP logic, routing, fabric register.
Vendor synthesis (Diamond, Radiant) absorbs such registers; this pass does the same on the
mapped netlist (yosys JSON) before nextpnr, so the Fmax reported for ECP5 is that of the Verilog
as a vendor flow would build it. nextpnr-ecp5 times a registered MULT18X18D with its
REGS_INPUT / REGS_OUTPUT / REGS_ALL timing.

A register group is absorbed only when it is exactly a DSP register: every non-constant bit of the
port (A, B, or the used bits of P) comes from (goes to) a TRELLIS_FF (an input flip-flop with
other loads stays in the fabric as well, a duplicate; an output flip-flop is fed by P alone), the
flip-flops share clock, clock enable and synchronous reset (reset value 0, reset
over enable, as the DSP's RST with RESETMODE SYNC) and the port's constant bits are 0. A and B are
absorbed together or not at all (nextpnr times a block with one registered input as unregistered).
A DP16KD port's data register is absorbed when every used DO bit of the port feeds exactly one
TRELLIS_FF on the port's clock with no reset (the block's RST would clear its read latch too) and
one enable (which becomes OCE).
"""
from __future__ import annotations

from dataclasses import dataclass

_FF = "TRELLIS_FF"
_DSP = "MULT18X18D"
_BRAM = "DP16KD"


@dataclass(frozen=True)
class PackStats:
    """What ``pack_dsp_registers`` did: blocks seen, input and output groups absorbed, FFs removed."""
    blocks: int = 0
    inputs: int = 0
    outputs: int = 0
    flip_flops: int = 0
    bram_ports: int = 0

    def to_dict(self) -> dict:
        return {"blocks": self.blocks, "registered_inputs": self.inputs,
                "registered_outputs": self.outputs, "flip_flops_absorbed": self.flip_flops,
                "bram_output_registers": self.bram_ports}


def _param(cell: dict, name: str, default: str = "") -> str:
    return str(cell.get("parameters", {}).get(name, default)).strip()


def _control(cell: dict):
    """(clk, ce, rst) bits of a flip-flop the DSP registers can copy, or None."""
    p = lambda n, d="": _param(cell, n, d)
    if p("CLKMUX", "CLK") != "CLK" or p("REGSET", "RESET") != "RESET" or p("GSR", "DISABLED") != "DISABLED":
        return None
    if p("SRMODE", "LSR_OVER_CE") != "LSR_OVER_CE" or p("LSRMUX", "LSR") != "LSR":
        return None
    conn = cell["connections"]
    ce = {"CE": conn.get("CE", ["1"])[0], "1": "1"}.get(p("CEMUX", "CE"))
    if ce is None:                                        # an inverted enable
        return None
    return conn["CLK"][0], ce, conn.get("LSR", ["0"])[0]


def pack_dsp_registers(netlist: dict, top: str) -> PackStats:
    """Absorb the registers around every MULT18X18D of module ``top`` of a yosys JSON netlist (in
    place); returns what was absorbed."""
    mod = netlist["modules"][top]
    cells = mod["cells"]
    driver: dict = {}
    loads: dict = {}
    for name, c in cells.items():
        dirs = c.get("port_directions", {})
        for port, bits in c["connections"].items():
            for b in bits:
                if isinstance(b, str):
                    continue
                if dirs.get(port) == "output":
                    driver[b] = (name, port)
                else:
                    loads.setdefault(b, []).append((name, port))
    for pname, p in mod.get("ports", {}).items():
        for b in p["bits"]:
            if isinstance(b, int) and p["direction"] != "input":
                loads.setdefault(b, []).append(("$port", pname))

    stats = dict(blocks=0, inputs=0, outputs=0, flip_flops=0, bram_ports=0)
    dead: set[str] = set()
    for name in sorted(c for c, v in cells.items() if v["type"] == _DSP):
        dsp = cells[name]
        conn = dsp["connections"]
        stats["blocks"] += 1
        if any(_param(dsp, f"REG_{r}_CLK", "NONE") != "NONE"
               for r in ("INPUTA", "INPUTB", "INPUTC", "PIPELINE", "OUTPUT")):
            continue                                      # registered already

        def input_group(g):
            """{pin: ff name} of port g when all of it can be absorbed, else None."""
            out = {}
            for i in range(18):
                bits = conn.get(f"{g}{i}")
                if not bits:
                    continue
                b = bits[0]
                if isinstance(b, str):
                    if b not in ("0", "x"):
                        return None
                    continue
                d = driver.get(b)
                if d is None or d[1] != "Q" or cells[d[0]]["type"] != _FF or d[0] in dead:
                    return None
                out[f"{g}{i}"] = d[0]
            return out

        def output_group():
            out = {}
            for i in range(36):
                bits = conn.get(f"P{i}")
                if not bits or isinstance(bits[0], str):
                    continue
                ld = loads.get(bits[0], [])
                if not ld:
                    continue
                if len(ld) != 1 or ld[0][1] != "DI" or cells.get(ld[0][0], {}).get("type") != _FF \
                        or ld[0][0] in dead:
                    return None
                out[f"P{i}"] = ld[0][0]
            return out or None

        groups = {}
        a, b = input_group("A"), input_group("B")
        if a is not None and b is not None and (a or b):
            groups["INPUTA"], groups["INPUTB"] = a, b
        o = output_group()
        if o is not None:
            groups["OUTPUT"] = o
        # one control set per block (CLK0, CE0, RST0): every absorbed FF must share it
        ctrl = {_control(cells[ff]) for g in groups.values() for ff in g.values()}
        if not groups or len(ctrl) != 1 or None in ctrl:
            continue
        clk, ce, rst = ctrl.pop()
        for reg, pins in groups.items():
            for pin, ff in pins.items():
                fc = cells[ff]["connections"]
                conn[pin] = list(fc["DI"]) if reg != "OUTPUT" else list(fc["Q"])
                if reg == "OUTPUT" or all(ld[0] == name for ld in loads.get(fc["Q"][0], [])):
                    dead.add(ff)          # else the fabric copy stays for its other loads
            if pins:
                dsp["parameters"].update({f"REG_{reg}_CLK": "CLK0", f"REG_{reg}_CE": "CE0",
                                          f"REG_{reg}_RST": "RST0"})
        stats["inputs"] += "INPUTA" in groups
        stats["outputs"] += "OUTPUT" in groups
        dsp["parameters"].update({"GSR": "DISABLED", "RESETMODE": "SYNC"})
        for port, bit in (("CLK0", clk), ("CE0", ce), ("RST0", rst)):
            conn[port] = [bit]
            dsp.setdefault("port_directions", {})[port] = "input"
    for name in sorted(c for c, v in cells.items() if v["type"] == _BRAM):
        ram = cells[name]
        conn = ram["connections"]
        for x in ("A", "B"):
            if _param(ram, f"REGMODE_{x}", "NOREG") != "NOREG" or not conn.get(f"CLK{x}") \
                    or isinstance(conn[f"CLK{x}"][0], str):
                continue
            pins = {}
            for i in range(18):
                bits = conn.get(f"DO{x}{i}")
                if not bits or isinstance(bits[0], str) or not loads.get(bits[0]):
                    continue
                ld = loads[bits[0]]
                if len(ld) != 1 or ld[0][1] != "DI" or cells.get(ld[0][0], {}).get("type") != _FF \
                        or ld[0][0] in dead:
                    pins = None
                    break
                pins[f"DO{x}{i}"] = ld[0][0]
            ctrl = {_control(cells[ff]) for ff in (pins or {}).values()}
            if not pins or len(ctrl) != 1 or None in ctrl:
                continue
            clk, ce, rst = ctrl.pop()
            if clk != conn[f"CLK{x}"][0] or rst != "0":
                continue
            for pin, ff in pins.items():
                conn[pin] = list(cells[ff]["connections"]["Q"])
                dead.add(ff)
            ram["parameters"][f"REGMODE_{x}"] = "OUTREG"
            conn[f"OCE{x}"] = [ce]
            stats["bram_ports"] += 1
    for ff in dead:
        del cells[ff]
    stats["flip_flops"] = len(dead)
    return PackStats(**stats)
