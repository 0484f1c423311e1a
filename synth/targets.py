"""Synthesis targets: each one's yosys script, device, place-and-route options and figures.

A target turns yosys' cell counts (``stat -json``) into a few named figures, so that reports of
different designs on one target compare key by key. Raw counts stay in the report as ``cells``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Callable

from nlihw.errors import ParamsError
from .ecp5_dsp import pack_dsp_registers


def _sum(cells: dict[str, int], names) -> int:
    return sum(cells.get(n, 0) for n in names)


def _prefixed(cells: dict[str, int], *prefixes: str) -> int:
    return sum(n for c, n in cells.items() if c.startswith(prefixes))


# LUTs taken by each Xilinx distributed-RAM primitive (UG574, "LUT as Memory")
XILINX_LUTRAM_LUTS = {"RAM32X1S": 1, "RAM32X1D": 2, "RAM64X1S": 1, "RAM64X1D": 2, "RAM128X1S": 2,
                      "RAM128X1D": 4, "RAM256X1S": 4, "RAM256X1D": 8, "RAM512X1S": 8, "RAM32M": 4,
                      "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8}


def internal_ffs(cells: dict[str, int]) -> tuple[int, int]:
    """(flip-flops, latches) among yosys' internal gate cells ($_DFF_P_, $_SDFFE_PP0P_, $_DLATCH_P_, ...)."""
    ffs = sum(n for c, n in cells.items() if c.startswith("$_") and "DFF" in c)
    latches = sum(n for c, n in cells.items() if c.startswith("$_") and "LATCH" in c)
    return ffs, latches


def xcup_figures(cells: dict[str, int]) -> dict:
    """LUTs (LUT1..LUT6, INV as a LUT1), FFs (FD*), carry, DSP48E2, block RAM, LUT RAM."""
    return {
        "lut": _sum(cells, [f"LUT{k}" for k in range(1, 7)] + ["INV"]),
        "ff": _prefixed(cells, "FD"),
        # yosys' arith_map emits CARRY4 for every 7-series and UltraScale family; Vivado packs
        # two CARRY4 into one CARRY8 on UltraScale+.
        "carry4": cells.get("CARRY4", 0), "carry8": cells.get("CARRY8", 0),
        "dsp48e2": cells.get("DSP48E2", 0),
        "ramb18": cells.get("RAMB18E2", 0), "ramb36": cells.get("RAMB36E2", 0),
        "uram": cells.get("URAM288", 0),
        "lutram": sum(n * XILINX_LUTRAM_LUTS[c] for c, n in cells.items() if c in XILINX_LUTRAM_LUTS),
        "srl": _sum(cells, ("SRL16E", "SRLC32E")),
        "muxf": _sum(cells, ("MUXF7", "MUXF8", "MUXF9")),
    }


def ecp5_figures(cells: dict[str, int]) -> dict:
    """LUT4 as Lattice counts them (a CCU2C carry cell holds two), FFs, MULT18X18D, DP16KD."""
    return {
        "lut4": cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0),
        "ccu2c": cells.get("CCU2C", 0),
        "ff": cells.get("TRELLIS_FF", 0),
        "mult18": cells.get("MULT18X18D", 0), "alu54": cells.get("ALU54B", 0),
        "ebr": _sum(cells, ("DP16KD", "PDPW16KD")),
        "lutram": cells.get("TRELLIS_DPR16X4", 0),
    }


def ice40_figures(cells: dict[str, int]) -> dict:
    """SB_LUT4, FFs (SB_DFF*), SB_CARRY, SB_MAC16, SB_RAM40_4K, SB_SPRAM256KA."""
    return {
        "lut4": cells.get("SB_LUT4", 0),
        "ff": _prefixed(cells, "SB_DFF"),
        "carry": cells.get("SB_CARRY", 0),
        "mac16": cells.get("SB_MAC16", 0),
        "ram4k": cells.get("SB_RAM40_4K", 0),
        "spram": cells.get("SB_SPRAM256KA", 0),
    }


@dataclass(frozen=True)
class Pnr:
    """nextpnr runs for Fmax: tool, device options, clock constraint, seeds and speed grades.

    Fmax is the median over ``seeds`` (each seed one run, cached on its own); ``speeds`` lists the
    device's speed grades (empty: the device has none to choose), ``default_speed`` the one used
    unless another is asked for.
    """
    tool: str                      # key of tools.TOOLS
    device_args: tuple[str, ...]   # without the speed grade
    freq_mhz: float                # --freq: the clock constraint the placer and router aim at
    allow_unconstrained: str       # flag that lets nextpnr place the harness pins itself
    seeds: tuple[int, ...] = (1, 2, 3)
    speeds: tuple[int, ...] = ()
    default_speed: int | None = None

    def speed_args(self, speed: int | None) -> list[str]:
        return ["--speed", str(speed)] if speed is not None else []

    def args(self, netlist: str, report: str, log: str, seed: int, speed: int | None) -> list[str]:
        return [*self.device_args, *self.speed_args(speed), "--json", netlist, "--report", report,
                "--log", log, "-q", "--freq", f"{self.freq_mhz:g}", "--seed", str(seed),
                self.allow_unconstrained, "--timing-allow-fail"]

    def run_key(self, seed: int, speed: int | None) -> dict:
        """What one seed's result depends on besides the netlist and the tool version."""
        return {"tool": self.tool, "device_args": [*self.device_args, *self.speed_args(speed)],
                "freq_mhz": self.freq_mhz, "seed": seed}

    def key(self, speed: int | None = None) -> dict:
        """Everything of a report's Fmax figures except the netlist (for callers' cache keys)."""
        speed = self.default_speed if speed is None else speed
        return {"tool": self.tool, "device_args": [*self.device_args, *self.speed_args(speed)],
                "freq_mhz": self.freq_mhz, "seeds": list(self.seeds)}


@dataclass(frozen=True)
class NetlistPass:
    """A rewrite of the mapped netlist (yosys JSON) between yosys and nextpnr, applied to the
    design (resource counts) and to its timing harness (Fmax); ``version`` enters the cache key."""
    name: str
    version: str
    run: Callable[[dict, str], object]

    def apply(self, netlist: dict, top: str) -> dict:
        """Rewrite ``netlist`` in place; returns what the pass did (JSON data)."""
        return self.run(netlist, top).to_dict()


def _ecp5_dsp(netlist: dict, top: str):
    return pack_dsp_registers(netlist, top)


@dataclass(frozen=True)
class Target:
    name: str
    script: str                                    # yosys script file in this package
    device: str                                    # "{speed}": the speed grade
    figures: Callable[[dict], dict] | None         # None: the driver computes them (generic)
    pnr: Pnr | None = None
    sram_macros: bool = False                      # memories stay black boxes (generic-sram)
    netlist_pass: NetlistPass | None = None        # between yosys and nextpnr
    hier_script: str | None = None                 # hierarchical flow, after PREP_SCRIPT (generic)

    @property
    def uses_liberty(self) -> bool:
        """The gate-library targets (generic, generic-sram) map to a liberty file."""
        return self.figures is None

    def script_text(self) -> str:
        return (resources.files("nlihw.synth") / self.script).read_text()

    def hier_texts(self) -> tuple[str, str]:
        """(PREP_SCRIPT, ``hier_script``): the two yosys steps of the hierarchical flow."""
        return tuple((resources.files("nlihw.synth") / f).read_text() for f in (PREP_SCRIPT, self.hier_script))

    def speed(self, speed: int | None) -> int | None:
        """The speed grade to use: ``speed`` if the device has it, else the default; a grade
        the device lacks is a ``ParamsError`` (one line)."""
        grades = self.pnr.speeds if self.pnr else ()
        if speed is None:
            return self.pnr.default_speed if self.pnr else None
        if isinstance(speed, bool) or not isinstance(speed, int) or speed not in grades:
            have = (f"speed grades {', '.join(map(str, grades))}" if grades
                    else "no speed grade to choose")
            raise ParamsError(f"target {self.name} ({self.device_name(None)}) has {have}; got speed {speed!r}")
        return speed

    def device_name(self, speed: int | None) -> str:
        return self.device.replace("{speed}", str(self.speed(speed)) if self.pnr and self.pnr.speeds else "")


def _source_digest(module_file: str) -> str:
    """A pass's version for the cache key: the digest of its source, so no edit reuses a stale
    result (a hand-kept version number was one forgotten bump away from that)."""
    return hashlib.sha256(resources.files(__package__).joinpath(module_file).read_bytes()).hexdigest()[:16]


# generic targets, hierarchical flow: step 1 (elaborate, dump RTLIL; then synth/module_dedupe.py)
PREP_SCRIPT = "generic_prep.ys"

# the merge of identical modules between the two steps: its source digest enters the cache key
DEDUPE_VERSION = _source_digest("module_dedupe.py")

TARGETS: dict[str, Target] = {t.name: t for t in [
    Target("generic", "generic.ys", "gate library (default nand2_ge.lib: NAND2 gate equivalents)", None,
           hier_script="generic_hier.ys"),
    Target("generic-sram", "generic_sram.ys", "gate library (default nand2_ge.lib: NAND2 gate "
           "equivalents), memories as SRAM macros (bits reported, area not counted)", None,
           sram_macros=True, hier_script="generic_sram_hier.ys"),
    Target("xcup", "xcup.ys", "Xilinx UltraScale+ (xcup, ZCU102 family), core only", xcup_figures),
    # LFE5U-25F comes in grades 6, 7 and 8 (8 fastest); nextpnr-ecp5 has timing for each
    Target("ecp5", "ecp5.ys", "Lattice LFE5U-25F-{speed}BG256C", ecp5_figures,
           Pnr("nextpnr-ecp5", ("--25k", "--package", "CABGA256"), 100, "--lpf-allow-unconstrained",
               speeds=(6, 7, 8), default_speed=6),
           # registers around each multiplier into MULT18X18D's own, as vendor synthesis does
           netlist_pass=NetlistPass("ecp5 DSP register packing (synth/ecp5_dsp.py)",
                                    _source_digest("ecp5_dsp.py"), _ecp5_dsp)),
    # the largest ECP5 (84k LUT4, 156 MULT18, 208 DP16KD): the same mapping, a bigger device
    Target("ecp5-85k", "ecp5.ys", "Lattice LFE5UM-85F-{speed}BG381C", ecp5_figures,
           # router2: router1 left 56 % of the arcs of the P = 16 scan unit unrouted after 35 min
           Pnr("nextpnr-ecp5", ("--um-85k", "--package", "CABGA381", "--router", "router2"), 100,
               "--lpf-allow-unconstrained", speeds=(6, 7, 8), default_speed=6),
           netlist_pass=NetlistPass("ecp5 DSP register packing (synth/ecp5_dsp.py)",
                                    _source_digest("ecp5_dsp.py"), _ecp5_dsp)),
    Target("ice40", "ice40.ys", "Lattice iCE40UP5K-SG48", ice40_figures,
           Pnr("nextpnr-ice40", ("--up5k", "--package", "sg48"), 50, "--pcf-allow-unconstrained")),
]}
