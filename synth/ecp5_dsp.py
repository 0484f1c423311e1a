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
flip-flops of a group share clock enable and synchronous reset (reset value 0, reset over enable,
as the DSP's RST with RESETMODE SYNC), all groups of a block share one clock, and the port's
constant bits are 0. A flip-flop without an enable whose synchronous reset is its group's odd one
out (yosys infers a reset wherever a register's next value is 0 under some condition) has the
reset moved in front of it, DI & ~LSR in a LUT4, so the group shares the others' control set. Each distinct (enable, reset) pair gets one of the block's CE0-3 / RST0-3 (a
multiplier whose one operand register is cleared at a sequence's start, the other not, keeps both
in the block). A and B are
absorbed together or not at all (nextpnr times a block with one registered input as unregistered).
A flip-flop marked keep (a fan-out copy the RTL placed on purpose, e.g. the scan unit's
``state_copy``: absorbed, it would be one more copy per block fed from the register before it)
is never absorbed. A DP16KD port's data register is absorbed when every used DO bit of the port feeds exactly one
TRELLIS_FF on the port's clock with no reset (the block's RST would clear its read latch too) and
one enable (which becomes OCE).
"""
from __future__ import annotations

from dataclasses import dataclass

_FF = "TRELLIS_FF"
_DSP = "MULT18X18D"
_BRAM = "DP16KD"
_LUT = "LUT4"
_AND_NOT = format(sum(1 << i for i in range(16) if i & 1 and not i & 2), "016b")   # Z = A & ~B


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


class _Nets:
    """The cells of one module, each bit's driver and loads, and the flip-flops absorbed so far."""

    def __init__(self, mod: dict):
        self.cells = mod["cells"]
        self.driver: dict = {}                 # bit -> (cell, port)
        self.loads: dict = {}                  # bit -> [(cell or "$port", port)]
        self.dead: set[str] = set()            # absorbed flip-flops, deleted at the end
        self.next_bit = 2 + max((b for c in self.cells.values() for bits in c["connections"].values()
                                 for b in bits if isinstance(b, int)), default=0)
        for name, c in self.cells.items():
            dirs = c.get("port_directions", {})
            for port, bits in c["connections"].items():
                for b in bits:
                    if isinstance(b, str):
                        continue
                    if dirs.get(port) == "output":
                        self.driver[b] = (name, port)
                    else:
                        self.loads.setdefault(b, []).append((name, port))
        for pname, p in mod.get("ports", {}).items():
            for b in p["bits"]:
                if isinstance(b, int) and p["direction"] != "input":
                    self.loads.setdefault(b, []).append(("$port", pname))

    def ff_driver(self, bit):
        """The live flip-flop whose Q drives ``bit``, else None."""
        d = self.driver.get(bit)
        if d is None or d[1] != "Q" or self.cells[d[0]]["type"] != _FF or d[0] in self.dead:
            return None
        return d[0]

    def reset_in_front(self, ff: str):
        """Replace flip-flop ``ff``'s synchronous reset by DI & ~LSR in a new LUT4 (only for a
        flip-flop without an enable, where the two are the same)."""
        fc = self.cells[ff]["connections"]
        d, r, z = fc["DI"][0], fc["LSR"][0], self.next_bit
        self.next_bit += 1
        lut = f"$nlihw_reset_in_front_{z}"
        self.cells[lut] = {"hide_name": 1, "type": _LUT, "parameters": {"INIT": _AND_NOT},
                           "attributes": {},
                           "port_directions": {p: "input" for p in "ABCD"} | {"Z": "output"},
                           "connections": {"A": [d], "B": [r], "C": ["0"], "D": ["0"], "Z": [z]}}
        for bit, port in ((d, "A"), (r, "B")):
            if isinstance(bit, int):
                ld = self.loads.setdefault(bit, [])
                if bit == d:
                    ld.remove((ff, "DI"))
                ld.append((lut, port))
        self.driver[z], self.loads[z] = (lut, "Z"), [(ff, "DI")]
        fc["DI"], fc["LSR"] = [z], ["0"]

    def sole_ff_load(self, ld):
        """The live flip-flop whose DI is the only load in ``ld`` (a bit's loads), else None."""
        if len(ld) != 1 or ld[0][1] != "DI" or self.cells.get(ld[0][0], {}).get("type") != _FF \
                or ld[0][0] in self.dead:
            return None
        return ld[0][0]


def pack_dsp_registers(netlist: dict, top: str) -> PackStats:
    """Absorb the registers around every MULT18X18D of module ``top`` of a yosys JSON netlist (in
    place); returns what was absorbed."""
    nets = _Nets(netlist["modules"][top])
    cells = nets.cells
    stats = dict(blocks=0, inputs=0, outputs=0, flip_flops=0, bram_ports=0)
    for name in sorted(c for c, v in cells.items() if v["type"] == _DSP):
        stats["blocks"] += 1
        groups = _pack_dsp(nets, name)
        stats["inputs"] += "INPUTA" in groups
        stats["outputs"] += "OUTPUT" in groups
    for name in sorted(c for c, v in cells.items() if v["type"] == _BRAM):
        for x in ("A", "B"):
            stats["bram_ports"] += _pack_bram_port(nets, cells[name], x)
    for ff in nets.dead:
        del cells[ff]
    stats["flip_flops"] = len(nets.dead)
    return PackStats(**stats)


def _input_group(nets: _Nets, conn: dict, g: str):
    """{pin: ff name} of DSP input port g (A or B) when all of it can be absorbed, else None."""
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
        ff = nets.ff_driver(b)
        if ff is None or nets.cells[ff].get("attributes", {}).get("keep"):
            return None                    # a register the RTL marks keep stays where it put it
        out[f"{g}{i}"] = ff
    return out


def _output_group(nets: _Nets, conn: dict):
    """{pin: ff name} of the used bits of DSP output P when all can be absorbed, else None."""
    out = {}
    for i in range(36):
        bits = conn.get(f"P{i}")
        if not bits or isinstance(bits[0], str):
            continue
        ld = nets.loads.get(bits[0], [])
        if not ld:
            continue
        ff = nets.sole_ff_load(ld)
        if ff is None:
            return None
        out[f"P{i}"] = ff
    return out or None


def _pack_dsp(nets: _Nets, name: str) -> dict:
    """Absorb the register groups of MULT18X18D ``name`` that qualify; returns them
    ({"INPUTA"/"INPUTB"/"OUTPUT": {pin: ff}}, empty when none)."""
    dsp = nets.cells[name]
    conn = dsp["connections"]
    if any(_param(dsp, f"REG_{r}_CLK", "NONE") != "NONE"
           for r in ("INPUTA", "INPUTB", "INPUTC", "PIPELINE", "OUTPUT")):
        return {}                                         # registered already
    groups = {}
    a, b = _input_group(nets, conn, "A"), _input_group(nets, conn, "B")
    if a is not None and b is not None and (a or b):
        groups["INPUTA"], groups["INPUTB"] = a, b
    o = _output_group(nets, conn)
    if o is not None:
        groups["OUTPUT"] = o
    for reg, pins in groups.items():
        _common_reset(nets, pins)
    # one clock (CLK0) per block; one control set per register group, each (CE, RST) pair on a
    # CEk / RSTk of its own
    ctrl = {reg: {_control(nets.cells[ff]) for ff in pins.values()} for reg, pins in groups.items() if pins}
    if not ctrl or any(len(c) != 1 or None in c for c in ctrl.values()):
        return {}
    ctrl = {reg: c.pop() for reg, c in ctrl.items()}
    if len({clk for clk, _, _ in ctrl.values()}) != 1:
        return {}
    sets = sorted({(ce, rst) for _, ce, rst in ctrl.values()}, key=str)
    index = {s: k for k, s in enumerate(sets)}
    for reg, pins in groups.items():
        for pin, ff in pins.items():
            fc = nets.cells[ff]["connections"]
            conn[pin] = list(fc["DI"]) if reg != "OUTPUT" else list(fc["Q"])
            if reg == "OUTPUT" or all(ld[0] == name for ld in nets.loads.get(fc["Q"][0], [])):
                nets.dead.add(ff)          # else the fabric copy stays for its other loads
        if pins:
            k = index[ctrl[reg][1:]]
            dsp["parameters"].update({f"REG_{reg}_CLK": "CLK0", f"REG_{reg}_CE": f"CE{k}",
                                      f"REG_{reg}_RST": f"RST{k}"})
    dsp["parameters"].update({"GSR": "DISABLED", "RESETMODE": "SYNC"})
    clk = next(iter(ctrl.values()))[0]
    for port, bit in (("CLK0", clk), *((f"{p}{k}", b) for (ce, rst), k in index.items()
                                       for p, b in (("CE", ce), ("RST", rst)))):
        conn[port] = [bit]
        dsp.setdefault("port_directions", {})[port] = "input"
    return groups


def _common_reset(nets: _Nets, pins: dict) -> None:
    """Give a register group without enables one control set: the flip-flops whose synchronous
    reset differs from no reset get it moved in front of them (``_Nets.reset_in_front``)."""
    ctrl = {ff: _control(nets.cells[ff]) for ff in pins.values()}
    if None in ctrl.values() or len({c[:2] for c in ctrl.values()}) != 1 \
            or len({c[2] for c in ctrl.values()}) == 1 or next(iter(ctrl.values()))[1] != "1":
        return
    for ff, (_, _, rst) in sorted(ctrl.items()):
        if rst != "0":
            nets.reset_in_front(ff)


def _pack_bram_port(nets: _Nets, ram: dict, x: str) -> bool:
    """Absorb the data register behind read port ``x`` (A or B) of a DP16KD into its output
    register (REGMODE OUTREG) when it qualifies; returns whether it did."""
    conn = ram["connections"]
    if _param(ram, f"REGMODE_{x}", "NOREG") != "NOREG" or not conn.get(f"CLK{x}") \
            or isinstance(conn[f"CLK{x}"][0], str):
        return False
    pins = {}
    for i in range(18):
        bits = conn.get(f"DO{x}{i}")
        if not bits or isinstance(bits[0], str) or not nets.loads.get(bits[0]):
            continue
        ff = nets.sole_ff_load(nets.loads[bits[0]])
        if ff is None:
            return False
        pins[f"DO{x}{i}"] = ff
    ctrl = {_control(nets.cells[ff]) for ff in pins.values()}
    if not pins or len(ctrl) != 1 or None in ctrl:
        return False
    clk, ce, rst = ctrl.pop()
    if clk != conn[f"CLK{x}"][0] or rst != "0":
        return False
    for pin, ff in pins.items():
        conn[pin] = list(nets.cells[ff]["connections"]["Q"])
        nets.dead.add(ff)
    ram["parameters"][f"REGMODE_{x}"] = "OUTREG"
    conn[f"OCE{x}"] = [ce]
    return True
